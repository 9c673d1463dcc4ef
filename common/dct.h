/*
 * dct.h - orthonormal 8x8 type-II DCT and its inverse, on floats.
 *
 * Orthonormal scaling: the transform preserves energy (Parseval), so a
 * coefficient of amplitude a adds a^2/64 to the block's mean square.
 * Coefficients are stored row-major, coef[v * 8 + u] for vertical frequency v
 * and horizontal frequency u.
 */
#ifndef FM_DCT_H
#define FM_DCT_H

#include <stddef.h>

/* in: 8x8 samples with a stride in floats; out: 64 coefficients. */
void fm_dct8x8(const float *in, ptrdiff_t stride, float out[64]);
/* in: 64 coefficients; out: 8x8 samples written with a stride in floats. */
void fm_idct8x8(const float in[64], float *out, ptrdiff_t stride);

/* The basis both use, basis[k][n] = c(k) cos((2n+1) k pi / 16) (c(0) =
 * sqrt(1/8), else sqrt(2/8)): for the SIMD versions (dsp.h), which do the
 * references' operations in the same order. */
const float (*fm_dct_basis(void))[8];

#endif
