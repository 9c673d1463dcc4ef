/*
 * test_dsp.c - checkasm for the DSP table (common/dsp.h): every optimised
 * kernel against its C reference on the same random input, widths that are
 * not multiples of the vectors (1..67 and 1921), 8-, 10- and 12-bit samples;
 * outputs must be identical bit for bit, and nothing may be written past the
 * end (the output buffers carry a canary there).
 *
 *   test_dsp                 the Criterion tests
 *   test_dsp --bench [W]     times each kernel on rows of W (default 1920)
 *                            for every level this CPU has
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsp.h"
#include "dct.h"
#include "mask.h"
#include "whiten.h"
#include "resample.h"
#include "testutil.h"

#define CANARY 0xA5
#define PAD 64  /* elements of canary past each output */

typedef struct Level {
    const char *name;
    unsigned mask;
} Level;

static const Level levels[] = { { "sse4.1", FM_CPU_SSE41 },
                                { "avx2", FM_CPU_SSE41 | FM_CPU_AVX2 },
                                { "avx512", FM_CPU_SSE41 | FM_CPU_AVX2 | FM_CPU_AVX512 } };

static int widths[] = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 67, 1921 };

/* Random floats around picture values, some negative. */
static void fill_f(TuRng *r, float *p, int n, float lo, float hi)
{
    for (int i = 0; i < n; i++)
        p[i] = (float)(lo + (hi - lo) * tu_rng_uniform(r));
}

static void fill_px(TuRng *r, void *p, int n, int bd)
{
    for (int i = 0; i < n; i++) {
        uint32_t v = tu_rng_below(r, 1u << bd);
        if (bd == 8)
            ((uint8_t *)p)[i] = (uint8_t)v;
        else
            ((uint16_t *)p)[i] = (uint16_t)v;
    }
}

/* Two output buffers of n elements of size sz, canary past the end. */
typedef struct Out {
    unsigned char *a, *b;
    size_t bytes;
} Out;

static Out out_new(size_t n, size_t sz)
{
    Out o = { malloc((n + PAD) * sz), malloc((n + PAD) * sz), (n + PAD) * sz };
    cr_assert(o.a && o.b);
    memset(o.a, CANARY, o.bytes);
    memset(o.b, CANARY, o.bytes);
    return o;
}

static void out_check(Out *o, const char *kernel, const char *level, int w, int bd)
{
    cr_expect(memcmp(o->a, o->b, o->bytes) == 0, "%s (%s): differs from C, width %d, %d-bit",
              kernel, level, w, bd);
    free(o->a);
    free(o->b);
}


/* ---- one driver per kernel: runs ref and opt on the same input ---- */

static void check_cvt(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w, int bd)
{
    void *in = malloc((size_t)w * 2);
    fill_px(r, in, w, bd);
    Out out = out_new(w, sizeof(float));
    if (bd == 8) {
        c->cvt_u8(in, w, (float *)out.a);
        o->cvt_u8(in, w, (float *)out.b);
    } else {
        c->cvt_u16(in, w, (float *)out.a);
        o->cvt_u16(in, w, (float *)out.b);
    }
    out_check(&out, "cvt", lv, w, bd);
    free(in);
}

static void check_hresample(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w,
                            int bd)
{
    int taps = 1 + (int)tu_rng_below(r, 5), n_in = w * 3 + 2;
    float *row = malloc(sizeof(float) * n_in), *wt = malloc(sizeof(float) * taps * w);
    int *idx = malloc(sizeof(int) * taps * w);
    fill_f(r, row, n_in, -40, 300);
    fill_f(r, wt, taps * w, 0, 1);
    for (int i = 0; i < taps * w; i++)
        idx[i] = (int)tu_rng_below(r, n_in);
    float scale = bd > 8 ? 1.0f / (1 << (bd - 8)) : 1.0f;
    Out out = out_new(w, sizeof(float));
    c->hresample(row, idx, wt, taps, w, scale, (float *)out.a);
    o->hresample(row, idx, wt, taps, w, scale, (float *)out.b);
    out_check(&out, "hresample", lv, w, bd);
    free(row);
    free(wt);
    free(idx);
}

/* The area maps the resamplers build (integer downscales by 2, 3 and 6 take
 * a shuffling path in the vector kernels; shifted origins clamp at the
 * borders and break the pattern in places). */
static void check_hresample_maps(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r,
                                 int w, int bd)
{
    static const double steps[] = { 2, 3, 6, 1.5, 3.5 };
    double step = steps[tu_rng_below(r, 5)];
    double origin = tu_rng_below(r, 3) == 0 ? 0 : (double)tu_rng_below(r, 7) - 3;
    int n_in = (int)(w * step) + (int)tu_rng_below(r, 3);
    FmAxisMap m;
    cr_assert(fm_axis_map_init(&m, n_in, w, origin, step) == 0);
    float *row = malloc(sizeof(float) * n_in);
    fill_f(r, row, n_in, -40, 300);
    float scale = bd > 8 ? 1.0f / (1 << (bd - 8)) : 1.0f;
    Out out = out_new(w, sizeof(float));
    c->hresample(row, m.index_t, m.weight_t, m.taps, w, scale, (float *)out.a);
    o->hresample(row, m.index_t, m.weight_t, m.taps, w, scale, (float *)out.b);
    out_check(&out, "hresample (area map)", lv, w, bd);
    fm_axis_map_free(&m);
    free(row);
}

static void check_vacc_lerp(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w,
                            int bd)
{
    float *a = malloc(sizeof(float) * w), *b = malloc(sizeof(float) * w);
    fill_f(r, a, w, -5, 5);
    fill_f(r, b, w, -5, 5);
    float f = (float)tu_rng_uniform(r), s = (float)(0.5 + tu_rng_uniform(r));
    Out out = out_new(w, sizeof(float));
    fill_f(r, (float *)out.a, w, -100, 100);
    memcpy(out.b, out.a, sizeof(float) * w);
    c->vacc((float *)out.a, a, f, w);
    o->vacc((float *)out.b, a, f, w);
    out_check(&out, "vacc", lv, w, bd);
    out = out_new(w, sizeof(float));
    c->lerp(a, b, f, s, w, (float *)out.a);
    o->lerp(a, b, f, s, w, (float *)out.b);
    out_check(&out, "lerp", lv, w, bd);
    free(a);
    free(b);
}

static void check_vsum(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w, int bd)
{
    int taps = 1 + (int)tu_rng_below(r, 7);
    float *rows[7], wt[7];
    for (int k = 0; k < taps; k++) {
        rows[k] = malloc(sizeof(float) * w);
        fill_f(r, rows[k], w, -40, 300);
        wt[k] = (float)tu_rng_uniform(r);
    }
    Out out = out_new(w, sizeof(float));
    c->vsum((const float *const *)rows, wt, taps, w, (float *)out.a);
    o->vsum((const float *const *)rows, wt, taps, w, (float *)out.b);
    out_check(&out, "vsum", lv, w, bd);
    for (int k = 0; k < taps; k++)
        free(rows[k]);
}

static void check_lerp_idx(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w,
                           int bd)
{
    int n_src = 5 + (int)tu_rng_below(r, 200);
    float *src = malloc(sizeof(float) * n_src), *f = malloc(sizeof(float) * w);
    int *ia = malloc(sizeof(int) * w), *ib = malloc(sizeof(int) * w);
    fill_f(r, src, n_src, -3, 3);
    fill_f(r, f, w, 0, 1);
    /* the layouts the callers use: random, the mask's cells (a ramp clipped
     * at the last cell) and the tile's samples (a ramp wrapping around) */
    double step = 0.3 + 6 * tu_rng_uniform(r);
    for (int layout = 0; layout < 3; layout++) {
        for (int i = 0; i < w; i++) {
            int k = (int)(i / step);
            if (layout == 0)
                ia[i] = (int)tu_rng_below(r, n_src);
            else if (layout == 1)
                ia[i] = k < n_src - 1 ? k : n_src - 1;
            else
                ia[i] = k % n_src;
            ib[i] = layout == 1 ? (ia[i] + 1 < n_src ? ia[i] + 1 : ia[i]) : (ia[i] + 1) % n_src;
        }
        Out out = out_new(w, sizeof(float));
        c->lerp_idx(src, ia, ib, f, w, (float *)out.a);
        o->lerp_idx(src, ia, ib, f, w, (float *)out.b);
        out_check(&out, "lerp_idx", lv, w, bd);
    }
    free(src);
    free(f);
    free(ia);
    free(ib);
}

static void check_mark(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w, int bd)
{
    float *g[2], *p[2];
    for (int i = 0; i < 2; i++) {
        g[i] = malloc(sizeof(float) * w);
        p[i] = malloc(sizeof(float) * w);
        fill_f(r, g[i], w, 0.1f, 2.0f);
        fill_f(r, p[i], w, -3, 3);
    }
    float gf = (float)tu_rng_uniform(r), pf = (float)tu_rng_uniform(r);
    float alpha = 1.6f, norm = (float)(0.9 + 0.2 * tu_rng_uniform(r));
    float gain = (float)(0.5 + 0.5 * tu_rng_uniform(r));
    double la[FM_DSP_LANES] = { 0 }, lb[FM_DSP_LANES] = { 0 };
    Out out = out_new(w, sizeof(float));
    c->mark_row(g[0], g[1], gf, p[0], p[1], pf, alpha, norm, w, (float *)out.a, la);
    o->mark_row(g[0], g[1], gf, p[0], p[1], pf, alpha, norm, w, (float *)out.b, lb);
    cr_expect(memcmp(la, lb, sizeof la) == 0, "mark_row (%s): sums differ, width %d", lv, w);
    out_check(&out, "mark_row", lv, w, bd);
    /* without the change written, the sums still */
    memset(la, 0, sizeof la);
    memset(lb, 0, sizeof lb);
    c->mark_row(g[0], g[1], gf, p[0], p[1], pf, alpha, norm, w, NULL, la);
    o->mark_row(g[0], g[1], gf, p[0], p[1], pf, alpha, norm, w, NULL, lb);
    cr_expect(memcmp(la, lb, sizeof la) == 0, "mark_row (%s, no output): sums differ", lv);
    /* a group of rows sharing the sources: each row's sums as mark_row's */
    {
        float rgf[FM_DSP_GROUP_MAX], rpf[FM_DSP_GROUP_MAX];
        double ga[FM_DSP_GROUP_MAX][FM_DSP_LANES] = { { 0 } };
        double gb[FM_DSP_GROUP_MAX][FM_DSP_LANES] = { { 0 } };
        FmMarkRows m = { g[0], g[1], p[0], p[1], rgf, rpf, 1 + (int)tu_rng_below(r, FM_DSP_GROUP_MAX),
                         alpha, norm };
        for (int i = 0; i < m.g; i++) {
            rgf[i] = (float)tu_rng_uniform(r);
            rpf[i] = (float)tu_rng_uniform(r);
            ga[i][i % FM_DSP_LANES] = gb[i][i % FM_DSP_LANES] = 0.25 * i;  /* sums carried in */
        }
        c->mark_rows(&m, w, ga);
        o->mark_rows(&m, w, gb);
        cr_expect(memcmp(ga, gb, sizeof ga) == 0, "mark_rows (%s): sums differ, %d rows, width %d",
                  lv, m.g, w);
        double one[FM_DSP_LANES] = { 0 };
        one[(m.g - 1) % FM_DSP_LANES] = 0.25 * (m.g - 1);
        c->mark_row(g[0], g[1], rgf[m.g - 1], p[0], p[1], rpf[m.g - 1], alpha, norm, w, NULL, one);
        cr_expect(memcmp(one, ga[m.g - 1], sizeof one) == 0, "mark_rows (c): not mark_row's sums");

        /* apply_rows near the ends of the range too (clipping): with a gain
         * and no sums; at gain 1 with the sums, which are mark_rows' and
         * leave the pixels as they are without them */
        size_t bps = bd == 8 ? 1 : 2, bytes = (size_t)w * m.g * bps;
        int maxval = (1 << bd) - 1;
        float unit = (float)(1 << (bd - 8));
        unsigned char *input = malloc(bytes), *want = malloc(bytes);
        cr_assert(input && want);
        fill_px(r, input, w * m.g, bd);
        for (int i = 0; i < w * m.g; i += 7) {
            if (bd == 8)
                input[i] = (i & 1) ? 255 : 0;
            else
                ((uint16_t *)input)[i] = (uint16_t)((i & 1) ? maxval : 0);
        }
        for (int pass = 0; pass < 3; pass++) {
            /* 0: gain, no sums; 1: gain 1, no sums (into want); 2: gain 1, sums */
            float pg = pass == 0 ? gain : 1.0f;
            double sa[FM_DSP_GROUP_MAX][FM_DSP_LANES] = { { 0 } };
            double sb[FM_DSP_GROUP_MAX][FM_DSP_LANES] = { { 0 } };
            for (int i = 0; i < m.g; i++)
                sa[i][i % FM_DSP_LANES] = sb[i][i % FM_DSP_LANES] = 0.25 * i;
            Out px = out_new((size_t)w * FM_DSP_GROUP_MAX, bps);
            memcpy(px.a, input, bytes);
            memcpy(px.b, input, bytes);
            if (bd == 8) {
                uint8_t *ra[FM_DSP_GROUP_MAX], *rb[FM_DSP_GROUP_MAX];
                for (int i = 0; i < m.g; i++) {
                    ra[i] = px.a + (size_t)i * w;
                    rb[i] = px.b + (size_t)i * w;
                }
                c->apply_rows_u8(&m, ra, pg, w, pass == 2 ? sa : NULL);
                o->apply_rows_u8(&m, rb, pg, w, pass == 2 ? sb : NULL);
            } else {
                uint16_t *ra[FM_DSP_GROUP_MAX], *rb[FM_DSP_GROUP_MAX];
                for (int i = 0; i < m.g; i++) {
                    ra[i] = (uint16_t *)px.a + (size_t)i * w;
                    rb[i] = (uint16_t *)px.b + (size_t)i * w;
                }
                c->apply_rows_u16(&m, ra, pg, unit, maxval, w, pass == 2 ? sa : NULL);
                o->apply_rows_u16(&m, rb, pg, unit, maxval, w, pass == 2 ? sb : NULL);
            }
            if (pass == 1)
                memcpy(want, px.a, bytes);
            if (pass == 2) {
                cr_expect(memcmp(sa, ga, sizeof sa) == 0, "apply_rows (c): not mark_rows' sums");
                cr_expect(memcmp(sa, sb, sizeof sa) == 0,
                          "apply_rows (%s): sums differ, %d rows, width %d", lv, m.g, w);
                cr_expect(memcmp(want, px.a, bytes) == 0,
                          "apply_rows (c): the sums change the pixels, %d-bit", bd);
            }
            out_check(&px, "apply_rows", lv, w, bd);
        }
        free(input);
        free(want);
    }
    for (int i = 0; i < 2; i++) {
        free(g[i]);
        free(p[i]);
    }
}

static void check_sum_u8(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w,
                         int bd)
{
    uint8_t *p = malloc((size_t)w * 41 + 1);
    cr_assert(p);
    fill_px(r, p, w * 41 + 1, 8);
    for (int n = 0; n <= w * 41; n += w) {  /* up to 41 x the width, all 255 last */
        if (n == w * 41)
            memset(p, 255, (size_t)n);
        uint64_t a = c->sum_u8(p + 1, n), b = o->sum_u8(p + 1, n);
        cr_expect(a == b, "sum_u8 (%s): %llu, not %llu, %d samples", lv, (unsigned long long)b,
                  (unsigned long long)a, n);
    }
    free(p);
}

static void check_moments(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w,
                          int bd)
{
    Out s = out_new(w, sizeof(uint32_t)), s2 = out_new(w, sizeof(uint64_t));
    memset(s.a, 0, sizeof(uint32_t) * w);
    memset(s2.a, 0, sizeof(uint64_t) * w);
    memcpy(s.b, s.a, s.bytes);
    memcpy(s2.b, s2.a, s2.bytes);
    /* a cell's rows at once, up to the 256 the kernel takes, near the top
     * of the range too (16-bit samples for the deeper kernel's limits) */
    int rows = tu_rng_below(r, 4) ? 1 + (int)tu_rng_below(r, 24) : 256;
    int depth = bd > 8 && tu_rng_below(r, 3) == 0 ? 16 : bd;
    ptrdiff_t stride = (w + 5) * (bd > 8 ? 2 : 1);
    uint8_t *p = malloc((size_t)stride * rows);
    fill_px(r, p, (int)(stride * rows / (bd > 8 ? 2 : 1)), depth);
    if (tu_rng_below(r, 2))
        memset(p, 255, (size_t)stride * rows);
    if (bd == 8) {
        c->col_moments_rows_u8(p, stride, rows, w, (uint32_t *)s.a, (uint32_t *)s2.a);
        o->col_moments_rows_u8(p, stride, rows, w, (uint32_t *)s.b, (uint32_t *)s2.b);
    } else {
        c->col_moments_rows_u16((uint16_t *)p, stride, rows, w, (uint32_t *)s.a, (uint64_t *)s2.a);
        o->col_moments_rows_u16((uint16_t *)p, stride, rows, w, (uint32_t *)s.b, (uint64_t *)s2.b);
    }
    free(p);
    out_check(&s, "col_moments (sums)", lv, w, bd);
    out_check(&s2, "col_moments (squares)", lv, w, bd);
}

static void check_ssim(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w, int bd)
{
    int rows = 1 + (int)tu_rng_below(r, 8), stride = w + 5;
    void *a = malloc((size_t)stride * rows * 2), *b = malloc((size_t)stride * rows * 2);
    fill_px(r, a, stride * rows, bd);
    fill_px(r, b, stride * rows, bd);
    if (bd == 8) {
        Out out = out_new(5 * (size_t)((w + 7) / 8), sizeof(uint32_t));
        c->ssim_win_u8(a, stride, b, stride, w, rows, (uint32_t *)out.a);
        o->ssim_win_u8(a, stride, b, stride, w, rows, (uint32_t *)out.b);
        /* and their scores, on these sums and on a copy b close to a */
        for (int near = 0; near < 2; near++) {
            if (near) {
                uint8_t *pa = a, *pb = b;
                for (int i = 0; i < stride * rows; i++)
                    pb[i] = (uint8_t)(pa[i] + (int)tu_rng_below(r, 3) > 255 ? 255
                                      : pa[i] + (int)tu_rng_below(r, 3));
                c->ssim_win_u8(a, stride, b, stride, w, rows, (uint32_t *)out.a);
                o->ssim_win_u8(a, stride, b, stride, w, rows, (uint32_t *)out.b);
            }
            Out win = out_new((size_t)(w + 7) / 8, sizeof(double));
            uint64_t ea = c->ssim_score_u8((uint32_t *)out.a, w, rows, (double *)win.a);
            uint64_t eb = o->ssim_score_u8((uint32_t *)out.a, w, rows, (double *)win.b);
            cr_expect_eq(ea, eb, "ssim_score (%s): errors differ, width %d", lv, w);
            out_check(&win, "ssim_score", lv, w, bd);
        }
        out_check(&out, "ssim_win", lv, w, bd);
    } else {
        Out out = out_new(5 * (size_t)w, sizeof(uint64_t));
        c->ssim_cols_u16(a, stride, b, stride, w, rows, (uint64_t *)out.a);
        o->ssim_cols_u16(a, stride, b, stride, w, rows, (uint64_t *)out.b);
        out_check(&out, "ssim_cols", lv, w, bd);
    }
    free(a);
    free(b);
}

static void check_whiten(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w, int bd)
{
    float *in = malloc(sizeof(float) * w), *s1 = malloc(sizeof(float) * w),
          *s2 = malloc(sizeof(float) * w);
    float k = 1.0f / (float)(1 + tu_rng_below(r, 9));
    fill_f(r, in, w, 0, 255);
    fill_f(r, s1, w, 0, 255 / k);
    for (int i = 0; i < w; i++)  /* variances around 0, some negative by rounding */
        s2[i] = (s1[i] * k * s1[i] * k + (float)(tu_rng_uniform(r) * 40 - 5)) / k;
    Out out = out_new(w, sizeof(float));
    c->whiten_row(in, 128.0f, s1, s2, k, w, (float *)out.a);
    o->whiten_row(in, 128.0f, s1, s2, k, w, (float *)out.b);
    out_check(&out, "whiten_row", lv, w, bd);
    /* sliding column sums */
    float *add = malloc(sizeof(float) * w), *sub = malloc(sizeof(float) * w);
    fill_f(r, add, w, 0, 65025);
    fill_f(r, sub, w, 0, 65025);
    Out slid = out_new(w, sizeof(float));
    c->col_slide(s2, add, sub, w, (float *)slid.a);
    o->col_slide(s2, add, sub, w, (float *)slid.b);
    out_check(&slid, "col_slide", lv, w, bd);
    free(in);
    free(s1);
    free(s2);
    free(add);
    free(sub);
}

static void check_box_rows(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w,
                           int bd)
{
    int nrows = 1 + (int)tu_rng_below(r, 20), rad = 1 + (int)tu_rng_below(r, 4);
    int stride = w + 3;
    float *in = malloc(sizeof(float) * stride * nrows);
    fill_f(r, in, stride * nrows, -3, 255);
    Out m = out_new((size_t)stride * nrows, sizeof(float)),
        q = out_new((size_t)stride * nrows, sizeof(float));
    float centre = (float)tu_rng_uniform(r) * 255;
    c->box_rows(in, stride, nrows, w, rad, centre, (float *)m.a, (float *)q.a, stride);
    o->box_rows(in, stride, nrows, w, rad, centre, (float *)m.b, (float *)q.b, stride);
    out_check(&m, "box_rows (means)", lv, w, bd);
    out_check(&q, "box_rows (squares)", lv, w, bd);
    free(in);
}

/* the low DCT of n = 1..37 blocks (every coefficient-major entry it does
 * not write stays canary in both), and the inverse of random coefficients
 * (the ones past the low set must not be read) */
static void check_dct(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w, int bd)
{
    int n = 1 + w % 37;
    ptrdiff_t stride = 8 * n + 3;
    float *in = malloc(sizeof(float) * 8 * stride), *coef = malloc(sizeof(float) * 64 * n);
    cr_assert(in && coef);
    fill_f(r, in, 8 * (int)stride, -3, 3);
    Out d = out_new(64 * (size_t)n, sizeof(float));
    c->dct8x8_low(in, stride, n, (float *)d.a);
    o->dct8x8_low(in, stride, n, (float *)d.b);
    out_check(&d, "dct8x8_low", lv, n, bd);
    fill_f(r, coef, 64 * n, -3, 3);
    Out x = out_new(8 * (size_t)stride, sizeof(float));
    c->idct8x8_low(coef, n, (float *)x.a, stride);
    o->idct8x8_low(coef, n, (float *)x.b, stride);
    out_check(&x, "idct8x8_low", lv, n, bd);
    free(in);
    free(coef);
}

/* The low DCTs give fm_dct8x8's own bits: the same coefficients, and the
 * inverse of blocks that are zero past the low set. */
Test(dsp, low_dct_is_the_full_dct_bit_for_bit)
{
    enum { N = 5 };
    TuRng r;
    tu_rng_seed(&r, 17);
    float in[8 * 8 * N], low[64 * N], full[64], back[8 * 8 * N], coef[64];
    for (int rep = 0; rep < 50; rep++) {
        fill_f(&r, in, 8 * 8 * N, -300, 300);
        fm_dct8x8_low(in, 8 * N, N, low);
        for (int i = 0; i < N; i++) {
            fm_dct8x8(in + 8 * i, 8 * N, full);
            for (int k = 0; k < 64; k++)
                if (k % 8 + k / 8 <= FM_DCT_LOW)
                    cr_assert(memcmp(&full[k], &low[k * N + i], sizeof(float)) == 0,
                              "block %d coefficient %d: %g, the full DCT's %g", i, k,
                              low[k * N + i], full[k]);
        }
        fill_f(&r, low, 64 * N, -3, 3);
        fm_idct8x8_low(low, N, back, 8 * N);
        for (int i = 0; i < N; i++) {
            for (int k = 0; k < 64; k++)
                coef[k] = k % 8 + k / 8 <= FM_DCT_LOW ? low[k * N + i] : 0.0f;
            float blk[64];
            fm_idct8x8(coef, blk, 8);
            for (int y = 0; y < 8; y++)
                cr_assert(memcmp(blk + 8 * y, back + y * 8 * N + 8 * i, 8 * sizeof(float)) == 0,
                          "block %d row %d: the inverse differs from the full one", i, y);
        }
    }
}

/* flip_sums: rows of 8 random lanes under random flip words, each row's
 * byte anywhere in the word (w words a call) */
static void check_flip_sums(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w,
                            int bd)
{
    int rows = 1 + (int)tu_rng_below(r, 8), shift[8];
    float x[64];
    fill_f(r, x, 64, -3, 3);
    for (int y = 0; y < rows; y++)
        shift[y] = (int)tu_rng_below(r, 25);
    uint32_t *flip = malloc(sizeof(uint32_t) * (size_t)w);
    cr_assert(flip);
    for (int i = 0; i < w; i++)
        flip[i] = (uint32_t)tu_rng_u64(r);
    Out out = out_new(w, sizeof(float));
    c->flip_sums(x, rows, shift, flip, w, (float *)out.a);
    o->flip_sums(x, rows, shift, flip, w, (float *)out.b);
    out_check(&out, "flip_sums", lv, w, bd);
    free(flip);
}

typedef void (*CheckFn)(const FmDsp *, const FmDsp *, const char *, TuRng *, int, int);

/* cell_gains: sums of real-looking cells (means across the dark ramp,
 * variances across the table and past its end, a few that round below
 * zero), cells 3..14 columns wide with the last one clipped. */
static void check_cell_gains(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w,
                             int bd)
{
    FmMask m;
    cr_assert_eq(fm_mask_init(&m, 64, 64), 0);  /* for its texture table */
    int cell = 3 + (int)tu_rng_below(r, 12), rows = 1 + (int)tu_rng_below(r, cell);
    int count = (w + cell - 1) / cell;
    double unit = (double)(1 << (bd - 8)), scale = 1.0 / unit;
    uint64_t *t = malloc(sizeof(uint64_t) * count), *t2 = malloc(sizeof(uint64_t) * count);
    for (int k = 0; k < count; k++) {
        int bw = w - k * cell < cell ? w - k * cell : cell;
        double n = (double)bw * rows, mean = 255 * tu_rng_uniform(r) * unit;
        double sd = (tu_rng_below(r, 4) ? 30 : 300) * tu_rng_uniform(r) * unit;
        if (mean > 255 * unit - sd)
            sd = 255 * unit - mean;
        t[k] = (uint64_t)llround(mean * n);
        t2[k] = (uint64_t)llround((sd * sd + mean * mean) * n);
        if (tu_rng_below(r, 8) == 0 && t2[k] > 0)
            t2[k] -= 1;  /* a variance a hair below zero */
    }
    Out out = out_new(count, sizeof(float));
    c->cell_gains(t, t2, count, cell, w, rows, scale, m.lut, m.lut_n, (float *)out.a);
    o->cell_gains(t, t2, count, cell, w, rows, scale, m.lut, m.lut_n, (float *)out.b);
    out_check(&out, "cell_gains", lv, w, bd);
    free(t);
    free(t2);
    fm_mask_free(&m);
}

static void check_smooth(const FmDsp *c, const FmDsp *o, const char *lv, TuRng *r, int w, int bd)
{
    float *rows = malloc(sizeof(float) * 3 * w);
    fill_f(r, rows, 3 * w, 0.3f, 2.0f);
    for (int i = 0; i < w; i += 11)  /* cells held at twice their own gain */
        rows[w + i] = 0.5f * rows[i];
    Out out = out_new(w, sizeof(float));
    c->smooth_cells(rows, rows + w, rows + 2 * w, w, (float *)out.a);
    o->smooth_cells(rows, rows + w, rows + 2 * w, w, (float *)out.b);
    out_check(&out, "smooth_cells", lv, w, bd);
    free(rows);
}

static void check_all(CheckFn fn, uint64_t seed)
{
    FmDsp c;
    fm_dsp_init_c(&c);
    unsigned have = fm_dsp_cpu_flags();
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        if ((have & levels[l].mask) != levels[l].mask) {
            cr_log_info("%s: not on this CPU, not tested", levels[l].name);
            continue;
        }
        FmDsp o;
        fm_dsp_init(&o, levels[l].mask);
        TuRng r;
        tu_rng_seed(&r, seed);
        for (int bd = 8; bd <= 12; bd += 2)
            for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
                for (int rep = 0; rep < 3; rep++)
                    fn(&c, &o, levels[l].name, &r, widths[i], bd);
    }
}

Test(dsp, cvt_matches_c) { check_all(check_cvt, 1); }
Test(dsp, hresample_matches_c) { check_all(check_hresample, 2); }
Test(dsp, vacc_and_lerp_match_c) { check_all(check_vacc_lerp, 3); }
Test(dsp, mark_row_and_apply_match_c) { check_all(check_mark, 4); }
Test(dsp, col_moments_match_c) { check_all(check_moments, 5); }
Test(dsp, sum_u8_matches_c) { check_all(check_sum_u8, 16); }
Test(dsp, ssim_cols_match_c) { check_all(check_ssim, 6); }
Test(dsp, whiten_matches_c) { check_all(check_whiten, 7); }
Test(dsp, dct_matches_c) { check_all(check_dct, 8); }
Test(dsp, box_rows_match_c) { check_all(check_box_rows, 9); }
Test(dsp, lerp_idx_matches_c) { check_all(check_lerp_idx, 10); }
Test(dsp, cell_gains_match_c) { check_all(check_cell_gains, 13); }
Test(dsp, smooth_cells_match_c) { check_all(check_smooth, 15); }
Test(dsp, vsum_matches_c) { check_all(check_vsum, 11); }
Test(dsp, flip_sums_match_c) { check_all(check_flip_sums, 14); }
Test(dsp, hresample_on_area_maps_matches_c) { check_all(check_hresample_maps, 12); }

/* The whitening's float box sums (direct along rows, sliding down columns,
 * of the samples less mid-grey) stay as close to the exact local statistics
 * (double) as the means alone rounded to float, on bright planes with faint
 * texture, where the variance is a small difference of large numbers. */
Test(dsp, whitening_close_to_exact_statistics)
{
    int w = 301, h = 203;
    for (int r = 2; r <= 4; r += 2) {
        float *in = malloc(sizeof(float) * w * h), *out = malloc(sizeof(float) * w * h);
        TuRng g;
        tu_rng_seed(&g, 40 + r);
        for (int i = 0; i < w * h; i++)  /* 235 +- a little, with a ramp */
            in[i] = 200.0f + 35.0f * (float)(i % w) / (float)w + (float)tu_rng_uniform(&g) * 2;
        FmWhiten wh;
        cr_assert_eq(fm_whiten_init(&wh, w, h, r), 0);
        fm_whiten_run(&wh, fm_dsp_get(), NULL, in, out);
        double worst = 0, worst_float = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double s1 = 0, s2 = 0;
                int n = 0;
                for (int v = y - r; v <= y + r; v++)
                    for (int u = x - r; u <= x + r; u++)
                        if (u >= 0 && u < w && v >= 0 && v < h) {
                            double p = in[v * w + u];
                            s1 += p;
                            s2 += p * p;
                            n++;
                        }
                /* the rows' means then the columns' mean: equal weights
                 * within each clipped row, so the same as the 2-D mean */
                double m = s1 / n, var = s2 / n - m * m;
                double e = (in[y * w + x] - m) / sqrt((var > 0 ? var : 0) + 0.25);
                e = e > 3 ? 3 : e < -3 ? -3 : e;
                double d = fabs(e - out[y * w + x]);
                if (d > worst)
                    worst = d;
                /* the same with the two means rounded to float (the
                 * whitening has always formed q - m m in float) */
                float mf = (float)m, qf = (float)(s2 / n), vf = qf - mf * mf;
                double ef = (in[y * w + x] - mf) / sqrtf((vf > 0 ? vf : 0) + 0.25f);
                ef = ef > 3 ? 3 : ef < -3 ? -3 : ef;
                if (fabs(e - ef) > worst_float)
                    worst_float = fabs(e - ef);
            }
        cr_log_info("radius %d: largest difference from the exact whitening %.2e (means "
                    "rounded to float: %.2e)", r, worst, worst_float);
        cr_expect_lt(worst, 2 * worst_float + 1e-4,
                     "radius %d: whitening off by %g, twice the float means' %g", r, worst,
                     worst_float);
        fm_whiten_free(&wh);
        free(in);
        free(out);
    }
}

/* FILMMARK_CPU=c and fm_dsp_force_c give the references. */
Test(dsp, force_c_gives_the_references)
{
    fm_dsp_force_c(1);
    cr_expect_str_eq(fm_dsp_get()->name, "c");
    fm_dsp_force_c(0);
    cr_log_info("this CPU: %s", fm_dsp_get()->name);
}

/* ---- --bench: time each kernel per level ---- */

/* CPU time of this thread: what the kernel costs, not how busy the machine is */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct BenchData {
    int w;
    float *f[6];
    int *idx, *reg3;
    uint8_t *px8, *px8b;
    uint16_t *px16, *px16b;
    uint32_t *u32a, *u32b;
    uint64_t *u64;
    double *d;
    const float *lut;  /* the mask's texture table */
    int lut_n;
} BenchData;

/* ns per call of kernel k (fastest of 5 batches) */
static double bench_one(const FmDsp *d, BenchData *b, int k, const char **name)
{
    static const char *names[] = { "cvt_u8", "cvt_u16", "hresample(3 taps)", "vacc", "lerp",
                                   "mark_row", "apply_rows_u8(1 row)", "apply_rows_u16(1 row)", "col_moments_rows_u8(6 rows)",
                                   "col_moments_rows_u16(6 rows)", "ssim_win_u8", "ssim_cols_u16",
                                   "whiten_row", "box_rows(8 rows, r=4)", "vsum(9 taps)", "dct8x8_low(16 blocks)",
                                   "idct8x8_low(16 blocks)",
                                   "box_rows(8 rows, r=2)", "lerp_idx", "vsum(3 taps)",
                                   "hresample(area /3)", "mark_rows(3 rows)", "cell_gains(cell 6)",
                                   "ssim_score_u8", "flip_sums(3 rows, w words)",
                                   "apply_rows_u8(3 rows, sums)", "smooth_cells" };
    if (k >= (int)(sizeof names / sizeof names[0]))
        return -1;
    *name = names[k];
    int w = b->w, iters = 2000;
    double best = INFINITY;
    double lanes[FM_DSP_LANES] = { 0 };
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (int i = 0; i < iters; i++) {
            switch (k) {
            case 0: d->cvt_u8(b->px8, w, b->f[0]); break;
            case 1: d->cvt_u16(b->px16, w, b->f[0]); break;
            case 2: d->hresample(b->f[1], b->idx, b->f[2], 3, w / 3, 1.0f, b->f[0]); break;
            case 3: d->vacc(b->f[0], b->f[1], 0.3f, w); break;
            case 4: d->lerp(b->f[1], b->f[2], 0.3f, 1.0f, w, b->f[0]); break;
            case 5: d->mark_row(b->f[1], b->f[2], 0.3f, b->f[3], b->f[4], 0.6f, 1.6f, 1.01f, w,
                                b->f[0], lanes); break;
            case 6: {
                const float gf = 0.3f, pf = 0.6f;
                FmMarkRows m = { b->f[1], b->f[2], b->f[3], b->f[4], &gf, &pf, 1, 1.6f, 1.01f };
                uint8_t *row = b->px8b;
                memcpy(b->px8b, b->px8, w);
                d->apply_rows_u8(&m, &row, 0.9f, w, NULL);
                break;
            }
            case 7: {
                const float gf = 0.3f, pf = 0.6f;
                FmMarkRows m = { b->f[1], b->f[2], b->f[3], b->f[4], &gf, &pf, 1, 1.6f, 1.01f };
                uint16_t *row = b->px16b;
                memcpy(b->px16b, b->px16, 2 * (size_t)w);
                d->apply_rows_u16(&m, &row, 0.9f, 4.0f, 1023, w, NULL);
                break;
            }
            case 8: d->col_moments_rows_u8(b->px8, w, 6, w, b->u32a, b->u32b); break;
            case 9: d->col_moments_rows_u16(b->px16, 2 * (ptrdiff_t)w, 6, w, b->u32a, b->u64); break;
            case 10: d->ssim_win_u8(b->px8, 0, b->px8b, 0, w, 8, b->u32a); break;
            case 11: d->ssim_cols_u16(b->px16, 0, b->px16b, 0, w, 8, b->u64); break;
            case 12: d->whiten_row(b->f[1], 128.0f, b->f[2], b->f[3], 0.2f, w, b->f[0]); break;
            case 13: d->box_rows(b->f[1], 0, 8, w, 4, 128.0f, b->f[0], b->f[2], 0); break;
            case 14: {
                const float *rows[9] = { b->f[1], b->f[2], b->f[3], b->f[4], b->f[5],
                                         b->f[1], b->f[2], b->f[3], b->f[4] };
                const float wt[9] = { 1 / 9.f, 1 / 9.f, 1 / 9.f, 1 / 9.f, 1 / 9.f,
                                      1 / 9.f, 1 / 9.f, 1 / 9.f, 1 / 9.f };
                d->vsum(rows, wt, 9, w, b->f[0]);
                break;
            }
            case 15: d->dct8x8_low(b->f[1], 128, 16, b->f[0]); break;
            case 16: d->idct8x8_low(b->f[1], 16, b->f[0], 128); break;
            case 17: d->box_rows(b->f[1], 0, 8, w, 2, 128.0f, b->f[0], b->f[2], 0); break;
            case 18: d->lerp_idx(b->f[1], b->idx, b->idx + w, b->f[2], w, b->f[0]); break;
            case 20: d->hresample(b->f[1], b->reg3, b->f[2], 3, w / 3, 1.0f, b->f[0]); break;
            case 21: {
                const float gf[3] = { 0.2f, 0.5f, 0.8f }, pf[3] = { 0.1f, 0.4f, 0.7f };
                FmMarkRows m = { b->f[1], b->f[2], b->f[3], b->f[4], gf, pf, 3, 1.6f, 1.01f };
                double l3[3][FM_DSP_LANES] = { { 0 } };
                d->mark_rows(&m, w, l3);
                lanes[0] += l3[2][0];
                break;
            }
            case 22: d->cell_gains(b->u64, b->u64 + w, w / 6, 6, w, 6, 1.0, b->lut, b->lut_n,
                                   b->f[0]); break;
            case 23: d->ssim_score_u8(b->u32a, w, 8, b->d); break;
            case 26: d->smooth_cells(b->f[1], b->f[2], b->f[3], w, b->f[0]); break;
            case 25: {
                const float gf[3] = { 0.2f, 0.5f, 0.8f }, pf[3] = { 0.1f, 0.4f, 0.7f };
                FmMarkRows m = { b->f[1], b->f[2], b->f[3], b->f[4], gf, pf, 3, 1.6f, 1.01f };
                double l3[3][FM_DSP_LANES] = { { 0 } };
                memcpy(b->px8b, b->px8, 3 * (size_t)w);
                uint8_t *rows[3] = { b->px8b, b->px8b + w, b->px8b + 2 * (size_t)w };
                d->apply_rows_u8(&m, rows, 1.0f, w, l3);
                lanes[0] += l3[2][0];
                break;
            }
            case 24: {
                static const int shift[3] = { 0, 8, 16 };
                d->flip_sums(b->f[1], 3, shift, b->u32a, w, b->f[0]);
                break;
            }
            case 19: {
                const float *rows[3] = { b->f[1], b->f[2], b->f[3] };
                const float wt[3] = { 0.25f, 0.5f, 0.25f };
                d->vsum(rows, wt, 3, w, b->f[0]);
                break;
            }
            }
        }
        double t = (now() - t0) / iters * 1e9;
        if (t < best)
            best = t;
    }
    return best;
}

static int run_bench(int w)
{
    BenchData b = { .w = w };
    TuRng r;
    tu_rng_seed(&r, 42);
    for (int i = 0; i < 6; i++) {
        /* at least the 8 rows of 16 blocks the DCT cases read and write */
        int nf = w + 64 > 8 * 128 ? w + 64 : 8 * 128;
        b.f[i] = malloc(sizeof(float) * nf);
        fill_f(&r, b.f[i], nf, 0.5f, 2.0f);
    }
    b.idx = malloc(sizeof(int) * 3 * w);
    for (int i = 0; i < 3 * w; i++)
        b.idx[i] = (int)tu_rng_below(&r, w);
    b.reg3 = malloc(sizeof(int) * 3 * (w / 3));
    for (int k = 0; k < 3; k++)
        for (int X = 0; X < w / 3; X++)
            b.reg3[k * (w / 3) + X] = 3 * X + k;
    b.px8 = malloc(w * 8 + 64);
    b.px8b = malloc(w * 8 + 64);
    b.px16 = malloc(2 * (size_t)w * 8 + 64);
    b.px16b = malloc(2 * (size_t)w * 8 + 64);
    fill_px(&r, b.px8, w, 8);
    fill_px(&r, b.px8b, w, 8);
    fill_px(&r, b.px16, w, 10);
    fill_px(&r, b.px16b, w, 10);
    b.u32a = calloc(5 * (size_t)w, sizeof(uint32_t));
    b.u32b = calloc(w, sizeof(uint32_t));
    b.u64 = calloc(5 * (size_t)w, sizeof(uint64_t));
    b.d = calloc(w, sizeof(double));
    for (int i = 0; i < w; i++) {  /* cells of 36 samples around 120 +- 15 */
        b.u64[i] = 36 * 120 + tu_rng_below(&r, 200);
        b.u64[w + i] = b.u64[i] * b.u64[i] / 36 + 36 * tu_rng_below(&r, 225);
    }
    for (int k = 0; k < (w + 7) / 8; k++)  /* the sums of windows of 64 samples */
        for (int i = 0; i < 5; i++)
            b.u32a[5 * k + i] = i < 2 ? 64 * 120 + (uint32_t)tu_rng_below(&r, 99)
                                      : 64 * 14400 + (uint32_t)tu_rng_below(&r, 9999);
    FmMask mask;
    if (fm_mask_init(&mask, 64, 64) < 0)
        return 1;
    b.lut = mask.lut;
    b.lut_n = mask.lut_n;
    FmDsp lv[4];
    const char *lname[4] = { "c", "sse4.1", "avx2", "avx512" };
    unsigned masks[4] = { 0, FM_CPU_SSE41, FM_CPU_SSE41 | FM_CPU_AVX2,
                          FM_CPU_SSE41 | FM_CPU_AVX2 | FM_CPU_AVX512 };
    int nl = 0;
    unsigned have = fm_dsp_cpu_flags();
    for (int l = 0; l < 4; l++)
        if ((have & masks[l]) == masks[l])
            fm_dsp_init(&lv[nl++], masks[l]);
    printf("ns per call, rows of %d samples (thread CPU time, fastest of 5 x 2000 calls)\n",
           w);
    printf("%-20s", "kernel");
    for (int l = 0; l < nl; l++)
        printf(" %10s", lname[l]);
    printf("   speed-up\n");
    for (int k = 0;; k++) {
        const char *name = "";
        double t[4] = { -1, -1, -1, -1 };
        for (int l = 0; l < nl; l++)
            t[l] = bench_one(&lv[l], &b, k, &name);
        if (t[0] < 0)
            break;
        printf("%-20s", name);
        for (int l = 0; l < nl; l++)
            printf(" %10.1f", t[l]);
        printf("   %.1fx\n", t[0] / t[nl - 1]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--bench")) {

        int w = argc >= 3 ? atoi(argv[2]) : 1920;
        if (w < 16 || w > 16384) {
            fprintf(stderr, "test_dsp: width %d is outside 16..16384\n", w);
            return 2;
        }
        return run_bench(w);
    }
    struct criterion_test_set *tests = criterion_initialize();
    int result = 0;
    if (criterion_handle_args(argc, argv, true))
        result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return result;
}
