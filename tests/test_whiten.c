/*
 * test_whiten.c - the detector's whitening (fm_whiten, common/accumulator.c)
 * against a direct computation: for every sample, the mean and standard
 * deviation of its 5 x 5 window clipped to the plane, then
 * (x - mean) / sqrt(var + 0.5^2), clipped to +/-3.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accumulator.h"
#include "testutil.h"

static float reference(const float *in, int w, int h, int x, int y)
{
    const int r = 2;
    double s1 = 0, s2 = 0;
    int n = 0;
    for (int j = y - r; j <= y + r; j++)
        for (int i = x - r; i <= x + r; i++) {
            if (i < 0 || j < 0 || i >= w || j >= h)
                continue;
            double v = in[(size_t)j * w + i];
            s1 += v;
            s2 += v * v;
            n++;
        }
    double mean = s1 / n, var = s2 / n - mean * mean;
    double v = (in[(size_t)y * w + x] - mean) / sqrt((var > 0 ? var : 0) + 0.25);
    return (float)(v > 3 ? 3 : v < -3 ? -3 : v);
}

static void check(int w, int h, uint64_t seed)
{
    TuRng rng;
    tu_rng_seed(&rng, seed);
    size_t n = (size_t)w * h;
    float *in = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n),
          *scratch = malloc(sizeof(float) * n * 3);
    cr_assert(in && out && scratch);
    /* picture-like: a gradient, flat patches, texture and 8-bit noise */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double v = 40 + 150.0 * x / (w > 1 ? w - 1 : 1);
            if ((x / 13 + y / 11) % 3 == 0)
                v = 128;                                  /* flat */
            else
                v += 20 * sin(x * 0.7) * cos(y * 0.45) + 6 * tu_rng_gauss(&rng);
            in[(size_t)y * w + x] = (float)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    fm_whiten(in, w, h, out, scratch);
    double worst = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double d = fabs(out[(size_t)y * w + x] - reference(in, w, h, x, y));
            if (d > worst)
                worst = d;
        }
    cr_log_info("%dx%d: largest difference from the direct computation %.2g", w, h, worst);
    /* float sums of 8-bit squares: a few 1e-3 where the window is flat */
    cr_assert_lt(worst, 0.02, "%dx%d: whitened sample off by %g", w, h, worst);
    free(in);
    free(out);
    free(scratch);
}

Test(whiten, matches_the_direct_computation)
{
    check(640, 360, 1);
    check(37, 23, 2);   /* odd sizes */
    check(5, 5, 3);     /* every window clipped */
    check(1, 9, 4);
    check(9, 1, 5);
}

Test(whiten, in_place)
{
    enum { W = 64, H = 48 };
    static float a[W * H], b[W * H], scratch[W * H * 3];
    TuRng rng;
    tu_rng_seed(&rng, 9);
    for (int i = 0; i < W * H; i++)
        a[i] = b[i] = (float)(128 + 30 * tu_rng_gauss(&rng));
    fm_whiten(a, W, H, a, scratch);
    static float c[W * H];
    fm_whiten(b, W, H, c, scratch);
    cr_assert_arr_eq(a, c, sizeof a, "in-place whitening differs");
}

/* fm_whiten_run_sum: the same output, and each output sample added to the
 * sum plane, element by element, whatever the number of slice jobs. */
Test(whiten, run_sum_adds_the_output)
{
    enum { W = 131, H = 77 };
    static float in[W * H], out[W * H], ref[W * H], sum[W * H], base[W * H];
    TuRng rng;
    tu_rng_seed(&rng, 17);
    for (int i = 0; i < W * H; i++) {
        in[i] = (float)(128 + 30 * tu_rng_gauss(&rng));
        base[i] = (float)tu_rng_gauss(&rng);
    }
    const FmDsp *dsp = fm_dsp_get();
    FmWhiten wh;
    cr_assert_eq(fm_whiten_init(&wh, W, H, 4), 0);
    fm_whiten_run(&wh, dsp, NULL, in, ref);
    for (int threads = 1; threads <= 3; threads++) {
        FmPool *pool = NULL;
        fm_pool_new(&pool, threads);
        memcpy(sum, base, sizeof sum);
        fm_whiten_run_sum(&wh, dsp, pool, in, out, sum, 1.0f);
        cr_assert_arr_eq(out, ref, sizeof out, "%d threads: output differs", threads);
        for (int i = 0; i < W * H; i++)
            cr_assert_eq(sum[i], base[i] + ref[i], "%d threads: sum[%d] is not base + out", threads,
                         i);
        fm_pool_free(&pool);
    }
    /* a weighted sum (an intra-coded frame's evidence, accumulator.h) */
    FmPool *pool = NULL;
    fm_pool_new(&pool, 2);
    memcpy(sum, base, sizeof sum);
    fm_whiten_run_sum(&wh, dsp, pool, in, NULL, sum, 2.5f);
    for (int i = 0; i < W * H; i++)
        cr_assert_float_eq(sum[i], base[i] + 2.5f * ref[i],
                           1e-5f * (1 + fabsf(base[i]) + 2.5f * fabsf(ref[i])),
                           "weighted sum[%d] is not base + 2.5 out", i);
    fm_pool_free(&pool);
    fm_whiten_free(&wh);
}
