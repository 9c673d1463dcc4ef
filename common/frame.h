/*
 * frame.h - what the tools do with a decoded picture, so that they never
 * reach into AVFrame's fields themselves: find its luma plane, and keep a
 * private copy of it (a frame marked in place must not be the decoder's).
 */
#ifndef FM_FRAME_H
#define FM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>

#include "fm_error.h"

/* The frame's luma plane (planar YUV, as the reader hands out): its first
 * sample and its stride in bytes. */
uint8_t *fm_frame_luma(const AVFrame *frame, ptrdiff_t *stride);

/*
 * What a decoded frame's mark evidence is worth against the other frames of
 * its detection window (fm_accumulator_add_weighted): intra_weight for a
 * frame the codec coded on its own (an I frame: the mark is in it as the
 * encoder saw it, at the quality the encoder gives the frames the others are
 * predicted from), 1 for a predicted one (its mark is mostly the reference's,
 * moved with the picture by the motion vectors, plus what the residual adds
 * back). In an intra-only stream (FFV1, ProRes, raw) every frame is I, so all
 * weigh alike. Keyless: it reads only the decoder's picture type.
 * FM_INTRA_WEIGHT is the tools' default (wmdetect --intra-weight;
 * bench/frame_weight.sh measured 1 to 400 on 32 hard copies of four real
 * clips: DESIGN §5 step 3).
 */
#define FM_INTRA_WEIGHT 40.0f
float fm_frame_evidence_weight(const AVFrame *frame, float intra_weight);

/* Copies src (pixels and properties: timestamps, colour tags) into *dst,
 * allocating *dst, or reallocating it if its size or format differ from
 * src's. Returns 0 or FM_ENOMEM; *dst is then left for av_frame_free(). */
int fm_frame_copy_owned(AVFrame **dst, const AVFrame *src, FmError *err);

#endif
