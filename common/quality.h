/*
 * quality.h - picture quality measures used to report what the mark costs.
 */
#ifndef FM_QUALITY_H
#define FM_QUALITY_H

#include <stddef.h>
#include <stdint.h>

#include "dsp.h"

/*
 * Mean SSIM over non-overlapping 8x8 windows of two planes (8-bit samples if
 * bit_depth == 8, else uint16 host order), computed on the 8-bit scale with
 * the usual constants (K1 = 0.01, K2 = 0.03). Also returns the MSE (8-bit
 * scale) in *mse if mse is not NULL.
 */
double fm_ssim_plane(const uint8_t *a, ptrdiff_t stride_a, const uint8_t *b, ptrdiff_t stride_b,
                     int w, int h, int bit_depth, double *mse);

/*
 * fm_ssim_plane by bands of 8 rows, for slice threads: the band of rows
 * [y0, y0 + 8) (fewer at the bottom) writes the SSIM of each of its
 * (w + 7) / 8 windows to win_ssim and returns its squared error (8-bit
 * scale). scratch: fm_ssim_scratch_bytes(w) per concurrent call. Summing the
 * windows in order and the errors gives fm_ssim_plane's figures exactly
 * (the sums are of whole code values).
 */
size_t fm_ssim_scratch_bytes(int w);
double fm_ssim_band(const FmDsp *dsp, const uint8_t *a, ptrdiff_t stride_a, const uint8_t *b,
                    ptrdiff_t stride_b, int w, int h, int y0, int bit_depth, double *win_ssim,
                    void *scratch);

/* 10 log10(255^2 / mse), capped at 100 dB for identical planes. */
double fm_psnr_from_mse(double mse);

#endif
