/*
 * test_dct.c - the orthonormal 8x8 DCT-II and its inverse (common/dct.c).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "dct.h"
#include "testutil.h"

#define STRIDE 11   /* a stride that is not 8, to catch stride mix-ups */

static void random_block(TuRng *r, float *in, ptrdiff_t stride, double amp)
{
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++)
            in[y * stride + x] = (float)((tu_rng_uniform(r) * 2 - 1) * amp);
}

/* Straight from the definition, in double: X(v,u) = c(v)c(u) sum x(y,x) cos cos. */
static void reference_dct(const float *in, ptrdiff_t stride, double out[64])
{
    for (int v = 0; v < 8; v++)
        for (int u = 0; u < 8; u++) {
            double s = 0;
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++)
                    s += in[y * stride + x] * cos((2 * x + 1) * u * M_PI / 16) *
                         cos((2 * y + 1) * v * M_PI / 16);
            double cu = u ? sqrt(2.0 / 8) : sqrt(1.0 / 8), cv = v ? sqrt(2.0 / 8) : sqrt(1.0 / 8);
            out[v * 8 + u] = cu * cv * s;
        }
}

/* Worst |idct(dct(x)) - x| over many random blocks of the given amplitude. */
static double round_trip_error(uint64_t seed, double amp)
{
    TuRng r;
    tu_rng_seed(&r, seed);
    float in[8 * STRIDE], coef[64], back[8 * STRIDE];
    double worst = 0;
    for (int t = 0; t < 2000; t++) {
        random_block(&r, in, STRIDE, amp);
        fm_dct8x8(in, STRIDE, coef);
        fm_idct8x8(coef, back, STRIDE);
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++)
                worst = fmax(worst, fabs(back[y * STRIDE + x] - in[y * STRIDE + x]));
    }
    return worst;
}

Test(dct, round_trip_random_blocks)
{
    /* unit-scale values (mark tiles, whitened evidence) */
    double e1 = round_trip_error(1, 1.0), e16 = round_trip_error(6, 16.0);
    cr_log_info("dct round trip: max abs error %.3g (amplitude 1), %.3g (amplitude 16)", e1, e16);
    cr_assert_lt(e1, 1e-4, "max abs round-trip error %g", e1);
    cr_assert_lt(e16, 1e-4, "max abs round-trip error %g", e16);
}

Test(dct, round_trip_pixel_range_is_float_accurate)
{
    /* 8-bit-range samples: the transform is in float (24-bit mantissa), so
     * the bound is relative: a few float epsilons of the amplitude. */
    double e = round_trip_error(7, 255.0);
    cr_log_info("dct round trip: max abs error %.3g (amplitude 255)", e);
    cr_assert_lt(e, 255.0 * 2e-6, "max abs round-trip error %g", e);
}

Test(dct, inverse_then_forward_round_trip)
{
    TuRng r;
    tu_rng_seed(&r, 2);
    float coef[64], px[64], back[64];
    double worst = 0;
    for (int t = 0; t < 1000; t++) {
        for (int i = 0; i < 64; i++)
            coef[i] = (float)((tu_rng_uniform(&r) * 2 - 1) * 100);
        fm_idct8x8(coef, px, 8);
        fm_dct8x8(px, 8, back);
        for (int i = 0; i < 64; i++)
            worst = fmax(worst, fabs(back[i] - coef[i]));
    }
    cr_assert_lt(worst, 1e-4, "max abs error %g", worst);
}

Test(dct, matches_textbook_definition)
{
    TuRng r;
    tu_rng_seed(&r, 3);
    float in[8 * STRIDE], coef[64];
    double ref[64], worst = 0;
    for (int t = 0; t < 200; t++) {
        random_block(&r, in, STRIDE, 128);
        fm_dct8x8(in, STRIDE, coef);
        reference_dct(in, STRIDE, ref);
        for (int i = 0; i < 64; i++)
            worst = fmax(worst, fabs(coef[i] - ref[i]));
    }
    cr_assert_lt(worst, 1e-3, "max deviation from the textbook DCT-II: %g", worst);
}

Test(dct, orthonormal_energy_preserved)
{
    TuRng r;
    tu_rng_seed(&r, 4);
    float in[64], coef[64];
    for (int t = 0; t < 1000; t++) {
        random_block(&r, in, 8, 200);
        fm_dct8x8(in, 8, coef);
        double ein = 0, eout = 0;
        for (int i = 0; i < 64; i++) {
            ein += (double)in[i] * in[i];
            eout += (double)coef[i] * coef[i];
        }
        cr_assert_lt(fabs(ein - eout), 1e-5 * ein, "energy %g -> %g", ein, eout);
    }
}

Test(dct, basis_functions_are_orthonormal)
{
    /* The 64 inverse transforms of unit coefficients form an orthonormal basis. */
    static float basis[64][64];
    for (int k = 0; k < 64; k++) {
        float coef[64] = { 0 };
        coef[k] = 1;
        fm_idct8x8(coef, basis[k], 8);
    }
    for (int a = 0; a < 64; a++)
        for (int b = a; b < 64; b++) {
            double dot = 0;
            for (int i = 0; i < 64; i++)
                dot += (double)basis[a][i] * basis[b][i];
            cr_assert_lt(fabs(dot - (a == b)), 1e-5, "<basis %d, basis %d> = %g", a, b, dot);
        }
    /* coefficient (v, u) is vertical frequency v, horizontal frequency u:
     * coef[1] = (v 0, u 1) varies along x only */
    for (int y = 1; y < 8; y++)
        for (int x = 0; x < 8; x++)
            cr_assert_float_eq(basis[1][y * 8 + x], basis[1][x], 1e-6);
    for (int y = 0; y < 8; y++)
        for (int x = 1; x < 8; x++)
            cr_assert_float_eq(basis[8][y * 8 + x], basis[8][y * 8], 1e-6);
}

Test(dct, dc_only_block_is_flat)
{
    float coef[64] = { 0 }, out[8 * STRIDE];
    coef[0] = 80.0f;   /* orthonormal: flat value = DC / 8 */
    for (int i = 0; i < 8 * STRIDE; i++)
        out[i] = -999.0f;
    fm_idct8x8(coef, out, STRIDE);
    for (int y = 0; y < 8; y++) {
        for (int x = 0; x < 8; x++)
            cr_assert_float_eq(out[y * STRIDE + x], 10.0f, 1e-5, "(%d,%d) = %g", x, y,
                               out[y * STRIDE + x]);
        for (int x = 8; x < STRIDE; x++)   /* writes only 8 samples a row */
            cr_assert_eq(out[y * STRIDE + x], -999.0f, "wrote outside the block");
    }
}

Test(dct, flat_block_is_dc_only)
{
    float in[64], coef[64];
    for (int i = 0; i < 64; i++)
        in[i] = 37.5f;
    fm_dct8x8(in, 8, coef);
    cr_assert_float_eq(coef[0], 37.5f * 8, 1e-3);
    for (int i = 1; i < 64; i++)
        cr_assert_lt(fabsf(coef[i]), 1e-4f, "coef %d = %g", i, coef[i]);
}

Test(dct, linear)
{
    TuRng r;
    tu_rng_seed(&r, 5);
    float a[64], b[64], s[64], ca[64], cb[64], cs[64];
    random_block(&r, a, 8, 100);
    random_block(&r, b, 8, 100);
    for (int i = 0; i < 64; i++)
        s[i] = 2 * a[i] - b[i];
    fm_dct8x8(a, 8, ca);
    fm_dct8x8(b, 8, cb);
    fm_dct8x8(s, 8, cs);
    for (int i = 0; i < 64; i++)
        cr_assert_float_eq(cs[i], 2 * ca[i] - cb[i], 1e-3);
}
