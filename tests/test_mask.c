/*
 * test_mask.c - the perceptual mask (common/mask.c): the tabulated texture
 * gain against the formula, and the mask's behaviour on pictures.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"

/* The table gives the formula's gain to within 1e-4 over every variance a
 * cell can have (8-bit: up to 127.5^2) and every brightness. */
Test(mask, tabulated_gain_matches_the_formula)
{
    FmMask m;
    cr_assert_eq(fm_mask_init(&m, 64, 36), 0);
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        double var = i < 100000 ? i * 0.004 : (i - 100000) * 0.17;  /* fine, then up to 17000 */
        for (int mean = 0; mean <= 255; mean += 17) {
            float want = fm_mask_gain((float)mean, (float)sqrt(var));
            float got = fm_mask_cell_gain(&m, mean, var);
            double d = fabs((double)got - want);
            if (d > worst)
                worst = d;
        }
    }
    cr_log_info("worst |table - formula| = %.2e", worst);
    cr_expect_lt(worst, 1e-4);
    /* a negative variance (rounding of a flat cell) counts as flat */
    cr_expect_float_eq(fm_mask_cell_gain(&m, 128, -1e-9), fm_mask_gain(128, 0), 1e-6);
    fm_mask_free(&m);
}

/* Texture takes more mark than a flat area, a dark area less than a bright
 * one; odd sizes and 10-bit samples give the 8-bit gains. */
Test(mask, texture_and_brightness_steer_the_gain)
{
    const int w = 97, h = 61;
    uint8_t *p8 = malloc((size_t)w * h);
    uint16_t *p10 = malloc(sizeof(uint16_t) * (size_t)w * h);
    cr_assert(p8 && p10);
    uint32_t s = 12345;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int v;
            if (x < w / 3)
                v = 128;                                   /* flat, mid grey */
            else if (x < 2 * w / 3) {
                s = s * 1664525u + 1013904223u;
                v = 128 + (int)((s >> 24) % 41) - 20;      /* textured, mid grey */
            } else
                v = 16;                                    /* flat, dark */
            p8[y * w + x] = (uint8_t)v;
            p10[y * w + x] = (uint16_t)(v << 2);
        }
    FmMask m8, m10;
    cr_assert_eq(fm_mask_init(&m8, w, h), 0);
    cr_assert_eq(fm_mask_init(&m10, w, h), 0);
    fm_mask_compute(&m8, p8, w, 8);
    fm_mask_compute(&m10, (const uint8_t *)p10, (ptrdiff_t)w * 2, 10);
    const float *row = fm_mask_row(&m8, h / 2);
    float flat = row[w / 6], tex = row[w / 2], dark = row[5 * w / 6];
    cr_expect_gt(tex, 1.5f * flat, "textured %.3f vs flat %.3f", tex, flat);
    cr_expect_lt(dark, 0.6f * flat, "dark %.3f vs flat %.3f", dark, flat);
    for (int i = 0; i < m8.cw * m8.ch; i++)
        cr_assert_float_eq(m8.gain[i], m10.gain[i], 1e-6, "cell %d", i);
    fm_mask_free(&m8);
    fm_mask_free(&m10);
    free(p8);
    free(p10);
}
