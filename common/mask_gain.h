/*
 * mask_gain.h - one cell's mask gain from its sums, the arithmetic shared by
 * the mask (mask.c) and the cell_gains kernels (dsp_c.c, x86/): the SIMD
 * versions do these operations, in this order, four cells at a time.
 */
#ifndef FM_MASK_GAIN_H
#define FM_MASK_GAIN_H

#include <stdint.h>

/* The texture gain's table: FM_MASK_LUT_STEPS samples a level squared. */
#define FM_MASK_LUT_STEPS 16
/* Brightness masking: ramp from FM_DARK_GAIN at FM_DARK_LO to 1 at FM_DARK_HI (8-bit). */
#define FM_DARK_LO 24.0f
#define FM_DARK_HI 72.0f
#define FM_DARK_GAIN 0.35f

/* The texture gain for a variance (8-bit levels squared, >= 0), interpolated
 * in the table lut[0 .. lut_n). */
static inline float fm_mask_lut_gain(const float *lut, int lut_n, double var)
{
    double p = var * FM_MASK_LUT_STEPS;
    if (!(p < lut_n - 1))
        return lut[lut_n - 1];
    int i = (int)p;
    float f = (float)(p - i);
    return lut[i] + f * (lut[i + 1] - lut[i]);
}

/* The brightness gain for a mean (8-bit levels). */
static inline float fm_mask_dark_gain(float mean)
{
    float t = (mean - FM_DARK_LO) / (FM_DARK_HI - FM_DARK_LO);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    t = t * t * (3 - 2 * t);  /* smoothstep */
    return FM_DARK_GAIN + (1 - FM_DARK_GAIN) * t;
}

/* A cell's gain from its mean and variance (8-bit scale). */
static inline float fm_mask_gain_of(const float *lut, int lut_n, double mean, double var)
{
    return fm_mask_lut_gain(lut, lut_n, var > 0 ? var : 0) * fm_mask_dark_gain((float)mean);
}

/* A cell's gain from the sums of its n samples (t) and of their squares
 * (t2), whole code values, scale = 2^(8 - bit depth). */
static inline float fm_mask_gain_of_sums(const float *lut, int lut_n, uint64_t t, uint64_t t2,
                                         double n, double scale)
{
    double sum = (double)t * scale, sum2 = (double)t2 * (scale * scale);
    double mean = sum / n, var = sum2 / n - mean * mean;
    return fm_mask_gain_of(lut, lut_n, mean, var);
}

#endif
