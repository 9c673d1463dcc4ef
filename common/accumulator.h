/*
 * accumulator.h - collects the watermark evidence of a clip, frame by frame.
 *
 * Key-independent: every frame's luma is taken to the mark grid, whitened
 * (local mean removed, divided by local contrast, clipped) and summed. The
 * mark is the same in every frame, so it adds up while the picture content,
 * noise and coding errors average out. The sum is kept for the whole clip
 * and per time segment (to tell where in the clip the mark was read).
 *
 * Two grids are kept. The nominal grid has FM_MARK_HEIGHT rows over the
 * clip's height: it is the mark grid itself when the clip shows the whole
 * marked picture at any uniform scale, the common case, read with no search.
 * The fine grid has twice as many rows (at most the clip's own): the
 * geometry search (geometry.h) resamples it for crops, boxes and flips.
 */
#ifndef FM_ACCUMULATOR_H
#define FM_ACCUMULATOR_H

#include <stddef.h>
#include <stdint.h>

#include "fm_error.h"
#include "resample.h"

#define FM_SEGMENT_SECONDS 5.0

typedef struct FmSegment {
    double t_first, t_last;  /* seconds, of the first and last frame in it */
    long frames;
    float *tile;             /* its frames' evidence on the nominal grid, folded */
} FmSegment;

typedef struct FmAccumulator {
    int width, height;       /* clip picture size */
    int gw, gh;              /* nominal grid size */
    double step;             /* clip pixels per nominal grid sample */
    int fw, fh;              /* fine grid size */
    double fine_step;        /* clip pixels per fine grid sample */
    FmAxisMap mx, my;        /* clip -> fine */
    FmAxisMap nx, ny;        /* fine -> nominal */
    float *fine, *grid, *tmp, *work;
    float *total;            /* gw*gh sum over all frames, nominal grid */
    float *fine_total;       /* fw*fh sum over all frames, fine grid */
    long frames;
    double t_first, t_last;
    FmSegment *seg;          /* closed segments, then the open one */
    int nseg, capseg;
} FmAccumulator;

int fm_accumulator_init(FmAccumulator *acc, int width, int height, FmError *err);
void fm_accumulator_free(FmAccumulator *acc);
/* Adds one luma plane (8-bit or uint16 samples) shown at t seconds. */
int fm_accumulator_add(FmAccumulator *acc, const uint8_t *luma, ptrdiff_t stride,
                       int bit_depth, double t, FmError *err);

/* The whitening applied to each frame (exposed for tests). out may equal in. */
void fm_whiten(const float *in, int w, int h, float *out, float *scratch);

#endif
