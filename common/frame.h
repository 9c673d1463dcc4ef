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

/* Copies src (pixels and properties: timestamps, colour tags) into *dst,
 * allocating *dst, or reallocating it if its size or format differ from
 * src's. Returns 0 or FM_ENOMEM; *dst is then left for av_frame_free(). */
int fm_frame_copy_owned(AVFrame **dst, const AVFrame *src, FmError *err);

#endif
