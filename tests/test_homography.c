/*
 * test_homography.c - the projective map of the perspective search
 * (common/homography.c): fitting recovers a known map from its point pairs
 * (exactly, and in the least-squares sense with noise and a weighted-out
 * outlier), inversion round-trips, and reading through a map samples the
 * source where the map says.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "homography.h"

/* A camcorder-like map: scale ~2, a slight shear and keystone. */
static const double known[9] = { 2.1564, 0.0807, -55.5, 0.0266, 2.1999, -23.9,
                                 2.985e-06, 1.26e-04, 1 };

static void pairs(const double m[9], int n, double *u, double *v, double *x, double *y,
                  double *w)
{
    for (int i = 0; i < n; i++) {
        u[i] = 40 + 560.0 * (i % 7) / 6;
        v[i] = 30 + 300.0 * (i / 7) / 5;
        cr_assert_eq(fm_homography_apply(m, u[i], v[i], &x[i], &y[i]), 0);
        w[i] = 1;
    }
}

Test(homography, a_map_is_recovered_from_its_point_pairs)
{
    double u[42], v[42], x[42], y[42], w[42], m[9];
    pairs(known, 42, u, v, x, y, w);
    cr_assert_eq(fm_homography_fit(u, v, x, y, w, 42, 0, m), 0);
    for (int i = 0; i < 42; i++) {
        double fx, fy;
        cr_assert_eq(fm_homography_apply(m, u[i], v[i], &fx, &fy), 0);
        cr_assert(fabs(fx - x[i]) < 1e-6 && fabs(fy - y[i]) < 1e-6, "pair %d: %g %g", i,
                  fx - x[i], fy - y[i]);
    }
}

Test(homography, noise_averages_out_and_a_zero_weight_drops_an_outlier)
{
    double u[42], v[42], x[42], y[42], w[42], m[9];
    pairs(known, 42, u, v, x, y, w);
    unsigned seed = 7;
    for (int i = 0; i < 42; i++) {
        x[i] += ((double)rand_r(&seed) / RAND_MAX - 0.5) * 0.6;
        y[i] += ((double)rand_r(&seed) / RAND_MAX - 0.5) * 0.6;
    }
    x[5] += 80;  /* a false peak */
    w[5] = 0;
    cr_assert_eq(fm_homography_fit(u, v, x, y, w, 42, 0, m), 0);
    /* within a third of a sample over the area of the pairs */
    for (double uu = 40; uu <= 600; uu += 56)
        for (double vv = 30; vv <= 330; vv += 50) {
            double ex, ey, fx, fy;
            fm_homography_apply(known, uu, vv, &ex, &ey);
            fm_homography_apply(m, uu, vv, &fx, &fy);
            cr_assert(hypot(fx - ex, fy - ey) < 0.33, "(%g, %g): off by %g", uu, vv,
                      hypot(fx - ex, fy - ey));
        }
}

Test(homography, few_pairs_give_an_affine_map_and_collinear_ones_none)
{
    const double affine[9] = { 1.5, 0.1, 3, -0.2, 1.4, 7, 0, 0, 1 };
    double u[5], v[5], x[5], y[5], w[5], m[9];
    pairs(affine, 5, u, v, x, y, w);
    v[3] = 100, v[4] = 200;  /* not all on one row */
    for (int i = 3; i < 5; i++)
        fm_homography_apply(affine, u[i], v[i], &x[i], &y[i]);
    cr_assert_eq(fm_homography_fit(u, v, x, y, w, 5, 0, m), 0);
    cr_assert(m[6] == 0 && m[7] == 0 && m[8] == 1);
    for (int i = 0; i < 9; i++)
        cr_assert(fabs(m[i] - affine[i]) < 1e-9, "m[%d] = %g, not %g", i, m[i], affine[i]);
    double cu[3] = { 0, 1, 2 }, cv[3] = { 0, 1, 2 }, cx[3] = { 0, 1, 2 }, cy[3] = { 0, 1, 2 },
           cw[3] = { 1, 1, 1 };
    cr_assert_eq(fm_homography_fit(cu, cv, cx, cy, cw, 3, 1, m), -1);
}

Test(homography, the_inverse_takes_points_back)
{
    double inv[9];
    cr_assert_eq(fm_homography_invert(known, inv), 0);
    for (double u = -50; u <= 700; u += 75)
        for (double v = -20; v <= 400; v += 60) {
            double x, y, uu, vv;
            cr_assert_eq(fm_homography_apply(known, u, v, &x, &y), 0);
            cr_assert_eq(fm_homography_apply(inv, x, y, &uu, &vv), 0);
            cr_assert(fabs(uu - u) < 1e-7 && fabs(vv - v) < 1e-7);
        }
    const double singular[9] = { 1, 2, 3, 2, 4, 6, 0, 0, 1 };
    cr_assert_eq(fm_homography_invert(singular, inv), -1);
}

Test(homography, reading_through_a_map_samples_where_it_points)
{
    /* a linear ramp reads back exactly under bilinear sampling */
    enum { SW = 64, SH = 48 };
    float src[SW * SH], out[20 * 10];
    for (int y = 0; y < SH; y++)
        for (int x = 0; x < SW; x++)
            src[y * SW + x] = (float)(3 * x + 5 * y);
    const double m[9] = { 2.5, 0.25, 1.5, -0.125, 2, 4, 0, 0, 1 };
    double inside = fm_homography_render(src, SW, SH, 0, m, 0, 0, 20, 10, out);
    cr_assert(inside > 0.5);
    for (int j = 0; j < 10; j++)
        for (int i = 0; i < 20; i++) {
            double x, y;
            fm_homography_apply(m, i, j, &x, &y);
            float want = (x >= 0 && y >= 0 && x < SW - 1 && y < SH - 1) ? (float)(3 * x + 5 * y) : 0;
            cr_assert(fabsf(out[j * 20 + i] - want) < 1e-3, "(%d, %d): %g, not %g", i, j,
                      out[j * 20 + i], want);
        }
    /* the source offset stands for a box filter's shift */
    fm_homography_render(src, SW, SH, 0.5, m, 0, 0, 20, 10, out);
    cr_assert(fabsf(out[3 * 20 + 4] - (float)(3 * (2.5 * 4 + 0.25 * 3 + 1.5 - 0.5) +
                                           5 * (-0.125 * 4 + 2 * 3 + 4 - 0.5))) < 1e-3);
}

Test(homography, the_box_filter_averages_k_by_k)
{
    enum { W = 9, H = 7 };
    float in[W * H], out[W * H], tmp[W * H];
    for (int i = 0; i < W * H; i++)
        in[i] = (float)(i * 37 % 11);
    fm_box_filter(in, W, H, 3, out, tmp);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float s = 0;
            for (int dy = 0; dy < 3; dy++)
                for (int dx = 0; dx < 3; dx++) {
                    int xx = x + dx < W ? x + dx : W - 1, yy = y + dy < H ? y + dy : H - 1;
                    s += in[yy * W + xx];
                }
            cr_assert(fabsf(out[y * W + x] - s / 9) < 1e-4);
        }
    fm_box_filter(in, W, H, 1, out, tmp);
    for (int i = 0; i < W * H; i++)
        cr_assert_eq(out[i], in[i]);
}
