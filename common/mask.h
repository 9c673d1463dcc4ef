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

#include "dsp.h"
#include "mask_gain.h"

typedef struct FmMask {
    int w, h;        /* picture size */
    int cell;        /* cell size in pixels */
    int cw, ch;      /* cells across, down */
    float *gain;     /* cw*ch smoothed gains */
    float *tmp;      /* cw*ch scratch */
    float *row;      /* w: one row of interpolated gains */
    int *xc0, *xc1;  /* w: left and right cell index for each pixel */
    float *xf;       /* w: interpolation weight */
    float *hrow;     /* ch * w: each cell row's gains interpolated across the picture */
    int *yc0, *yc1;  /* h: the cell rows each picture row interpolates */
    float *yf;       /* h: and its weight */
    void *scratch;   /* fm_mask_scratch_bytes(), for fm_mask_compute */
    float *lut;      /* lut_n: texture gain by variance, FM_MASK_LUT_STEPS a level^2 */
    int lut_n;
} FmMask;


int fm_mask_init(FmMask *m, int w, int h);
void fm_mask_free(FmMask *m);
/* Computes cell gains from the luma plane (8-bit or uint16 samples). */
void fm_mask_compute(FmMask *m, const uint8_t *luma, ptrdiff_t stride, int bit_depth);

/*
 * fm_mask_compute in two steps over cell rows, for slice threads: first the
 * raw gains of cell rows [cy0, cy1) (scratch: fm_mask_scratch_bytes() per
 * concurrent call), then, once every cell row has them, the smoothed gains
 * of cell rows [cy0, cy1) and their interpolation across the picture.
 */
size_t fm_mask_scratch_bytes(const FmMask *m);
void fm_mask_stats_rows(FmMask *m, const FmDsp *dsp, const uint8_t *luma, ptrdiff_t stride,
                        int bit_depth, int cy0, int cy1, void *scratch);
void fm_mask_smooth_rows(FmMask *m, const FmDsp *dsp, int cy0, int cy1);
/* Picture row y's gains are top + fy (bot - top) (rows of w floats). */
void fm_mask_row_taps(const FmMask *m, int y, const float **top, const float **bot, float *fy);
/* Per-pixel gains for row y (valid until the next call). */
const float *fm_mask_row(FmMask *m, int y);
/* The gain of one cell for a local mean and standard deviation (8-bit scale):
 * the formula. */
float fm_mask_gain(float mean, float stddev);
/* The same for a mean and variance, as the mask computes it (the texture
 * part interpolated from a table; within 1e-4 of fm_mask_gain). */
float fm_mask_cell_gain(const FmMask *m, double mean, double var);

#endif
