/*
 * mask.h - perceptual masking: how much mark each part of a picture hides.
 *
 * The picture is cut into cells a quarter of a mark block wide; each cell
 * gets a gain from its local contrast (texture masks the mark, after
 * Watson's contrast masking: gain grows as contrast^0.6, floored in flat
 * areas) and from its brightness (less in dark areas, where banding and
 * noise show first). Gains are smoothed over neighbouring cells and
 * interpolated bilinearly to pixels, so the mask has no block edges.
 */
#ifndef FM_MASK_H
#define FM_MASK_H

#include <stddef.h>
#include <stdint.h>

typedef struct FmMask {
    int w, h;        /* picture size */
    int cell;        /* cell size in pixels */
    int cw, ch;      /* cells across, down */
    float *gain;     /* cw*ch smoothed gains */
    float *tmp;      /* cw*ch scratch */
    double *sum, *sum2; /* cw per-row accumulators */
    float *row;      /* w: one row of interpolated gains */
    int *xc0;        /* w: left cell index for each pixel */
    float *xf;       /* w: interpolation weight */
} FmMask;

int fm_mask_init(FmMask *m, int w, int h);
void fm_mask_free(FmMask *m);
/* Computes cell gains from the luma plane (8-bit or uint16 samples). */
void fm_mask_compute(FmMask *m, const uint8_t *luma, ptrdiff_t stride, int bit_depth);
/* Per-pixel gains for row y (valid until the next call). */
const float *fm_mask_row(FmMask *m, int y);
/* The gain of one cell for a local mean and standard deviation (8-bit scale). */
float fm_mask_gain(float mean, float stddev);

#endif
