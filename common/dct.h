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

/*
 * The low coefficients, u + v <= FM_DCT_LOW (those the mark's slots use,
 * pattern.h), of n blocks side by side (block i at in + 8 i), stored
 * coefficient-major: out[(v * 8 + u) * n + i]; the other entries of out are
 * not written. Bit for bit the same values as fm_dct8x8's: each is the
 * same sum in the same order.
 */
#define FM_DCT_LOW 5
void fm_dct8x8_low(const float *in, ptrdiff_t stride, int n, float *out);
/* One block of it, coefficient k at out[k * coef_stride] (the SIMD
 * versions' last blocks). */
void fm_dct8x8_low_block(const float *in, ptrdiff_t stride, float *out, ptrdiff_t coef_stride);
/*
 * The inverse of n blocks whose coefficients past u + v <= FM_DCT_LOW are
 * zero: only the low ones are read (coefficient-major, in[(v * 8 + u) * n +
 * i]); block i written at out + 8 i. The same samples as fm_idct8x8 of the
 * blocks with their zeros: the terms left out are the last of each sum and
 * add only zeros to a sum that starts at +0.
 */
void fm_idct8x8_low(const float *in, int n, float *out, ptrdiff_t stride);
void fm_idct8x8_low_block(const float *in, ptrdiff_t coef_stride, float *out, ptrdiff_t stride);

/* The basis both use, basis[k][n] = c(k) cos((2n+1) k pi / 16) (c(0) =
 * sqrt(1/8), else sqrt(2/8)): for the SIMD versions (dsp.h), which do the
 * references' operations in the same order. */
const float (*fm_dct_basis(void))[8];

#endif
