/*
 * dsp_avx2.c - AVX2 versions of the DSP kernels (dsp.h). Same operations in
 * the same order per output as the C references (AVX2 only, no FMA;
 * compiled with -ffp-contract=off): the results are identical bit for bit.
 */
#include <immintrin.h>
#include <math.h>

#include "dct.h"
#include "dsp.h"
#include "dsp_x86.h"
#include "mask_gain.h"
#include "ssim_window.h"

static void cvt_u8_avx2(const uint8_t *in, int n, float *out)
{
    int x = 0;
    for (; x + 8 <= n; x += 8)
        _mm256_storeu_ps(out + x, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
                                      _mm_loadl_epi64((const __m128i *)(in + x)))));
    for (; x < n; x++)
        out[x] = in[x];
}

static void cvt_u16_avx2(const uint16_t *in, int n, float *out)
{
    int x = 0;
    for (; x + 8 <= n; x += 8)
        _mm256_storeu_ps(out + x, _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(
                                      _mm_loadu_si128((const __m128i *)(in + x)))));
    for (; x < n; x++)
        out[x] = in[x];
}

/* The samples of taps 0..2 of a stride-3 block: elements 3X + k of the 24
 * floats a, b, c (each tap's elements sit at distinct lanes of the three
 * vectors, so two blends and one permute gather them). */
static inline void stride3(__m256 a, __m256 b, __m256 c, __m256 t[3])
{
    const __m256i p0 = _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5);
    const __m256i p1 = _mm256_setr_epi32(1, 4, 7, 2, 5, 0, 3, 6);
    const __m256i p2 = _mm256_setr_epi32(2, 5, 0, 3, 6, 1, 4, 7);
    t[0] = _mm256_permutevar8x32_ps(_mm256_blend_ps(_mm256_blend_ps(a, b, 0x92), c, 0x24), p0);
    t[1] = _mm256_permutevar8x32_ps(_mm256_blend_ps(_mm256_blend_ps(a, b, 0x24), c, 0x49), p1);
    t[2] = _mm256_permutevar8x32_ps(_mm256_blend_ps(_mm256_blend_ps(a, b, 0x49), c, 0x92), p2);
}

/* Elements 0, 2, .. 14 (even) or 1, 3, .. 15 of the 16 floats lo, hi. */
static inline __m256 evens(__m256 lo, __m256 hi)
{
    __m256 v = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}

static inline __m256 odds(__m256 lo, __m256 hi)
{
    __m256 v = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* 1 if the 8 outputs at X read taps k = 0..r-1 at idx = base + r X' + k
 * (an area downscale by the integer r, away from the clamped borders). */
static inline int regular_block(const int *idx, int n_out, int X, int r)
{
    /* most irregular maps (e.g. 1.5:1) fail here, before the vector check */
    if (idx[X + 1] - idx[X] != r || idx[X + 7] - idx[X] != 7 * r)
        return 0;
    __m256i i0 = _mm256_loadu_si256((const __m256i *)(idx + X));
    __m256i want = _mm256_add_epi32(_mm256_set1_epi32(idx[X]),
                                    _mm256_mullo_epi32(_mm256_set1_epi32(r),
                                                       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    __m256i bad = _mm256_xor_si256(i0, want);
    for (int k = 1; k < r; k++) {
        __m256i ik = _mm256_loadu_si256((const __m256i *)(idx + (size_t)k * n_out + X));
        bad = _mm256_or_si256(bad, _mm256_xor_si256(ik, _mm256_add_epi32(i0, _mm256_set1_epi32(k))));
    }
    return _mm256_testz_si256(bad, bad);
}

/* 1 if the 8 outputs at X read two taps at idx = base + {0, 1, 3, 4, 6, 7, 9,
 * 10} and one more (an area downscale by 3:2, e.g. 1080p to the detector's
 * fine grid of 720 rows, away from the clamped borders). */
static inline int block_3_2(const int *idx, int n_out, int X)
{
    if (idx[X + 2] - idx[X] != 3 || idx[X + 7] - idx[X] != 10)
        return 0;
    __m256i i0 = _mm256_loadu_si256((const __m256i *)(idx + X));
    __m256i i1 = _mm256_loadu_si256((const __m256i *)(idx + (size_t)n_out + X));
    __m256i want = _mm256_add_epi32(_mm256_set1_epi32(idx[X]),
                                    _mm256_setr_epi32(0, 1, 3, 4, 6, 7, 9, 10));
    __m256i bad = _mm256_or_si256(_mm256_xor_si256(i0, want),
                                  _mm256_xor_si256(i1, _mm256_add_epi32(want,
                                                                        _mm256_set1_epi32(1))));
    return _mm256_testz_si256(bad, bad);
}

/* Its two taps from the 12 floats at p: v[0] = p[0, 1, 3, 4, 6, 7, 9, 10],
 * v[1] = p[1, 2, 4, 5, 7, 8, 10, 11]. */
static inline void taps_3_2(const float *p, __m256 v[2])
{
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 4);
    v[0] = _mm256_blend_ps(_mm256_permutevar8x32_ps(a, _mm256_setr_epi32(0, 1, 3, 4, 6, 7, 0, 0)),
                           _mm256_permutevar8x32_ps(b, _mm256_setr_epi32(0, 0, 0, 0, 0, 0, 5, 6)),
                           0xC0);
    v[1] = _mm256_blend_ps(_mm256_permutevar8x32_ps(a, _mm256_setr_epi32(1, 2, 4, 5, 7, 0, 0, 0)),
                           _mm256_permutevar8x32_ps(b, _mm256_setr_epi32(0, 0, 0, 0, 0, 4, 6, 7)),
                           0xE0);
}

/* The samples of the 8 outputs at X, tap by tap, into v[0..taps) (any table). */
static inline void gather_block(const float *row, const int *idx, int taps, int n_out, int X,
                                __m256 *v)
{
    for (int k = 0; k < taps; k++) {
        /* element loads: gathers are slow where the GDS mitigation is on */
        const int *i = idx + (size_t)k * n_out + X;
        v[k] = _mm256_setr_ps(row[i[0]], row[i[1]], row[i[2]], row[i[3]], row[i[4]], row[i[5]],
                              row[i[6]], row[i[7]]);
    }
}

void fm_hresample_avx2_span(const float *row, const int *idx, const float *wt, int taps,
                            int n_out, float scale, float *out, int x0, int x1)
{
    int X = x0;
    __m256 vs = _mm256_set1_ps(scale);
    /* integer downscales by 2, 3 or 6 (the mark grid of 720p, 1080p and 4K
     * pictures, the detector's fine grids) and by 3:2 (1080p to its fine
     * grid) read whole vectors and shuffle */
    int r = taps == 2 || taps == 3 || taps == 6 ? taps : 0;
    for (; X + 8 <= x1; X += 8) {
        __m256 v[16];
        if (r && regular_block(idx, n_out, X, r)) {
            const float *p = row + idx[X];
            if (r == 2) {
                __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
                v[0] = evens(a, b);
                v[1] = odds(a, b);
            } else if (r == 3) {
                stride3(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _mm256_loadu_ps(p + 16), v);
            } else {
                /* 6 X + k = 3 (2 X) + k, or 3 (2 X + 1) + k - 3 */
                __m256 lo[3], hi[3];
                stride3(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _mm256_loadu_ps(p + 16), lo);
                stride3(_mm256_loadu_ps(p + 24), _mm256_loadu_ps(p + 32),
                        _mm256_loadu_ps(p + 40), hi);
                for (int k = 0; k < 3; k++) {
                    v[k] = evens(lo[k], hi[k]);
                    v[k + 3] = odds(lo[k], hi[k]);
                }
            }
        } else if (taps == 2 && block_3_2(idx, n_out, X)) {
            taps_3_2(row + idx[X], v);
        } else if (taps <= 16) {
            gather_block(row, idx, taps, n_out, X, v);
        } else {
            break;
        }
        __m256 s = _mm256_setzero_ps();
        for (int k = 0; k < taps; k++)
            s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_loadu_ps(wt + (size_t)k * n_out + X), v[k]));
        _mm256_storeu_ps(out + X, _mm256_mul_ps(s, vs));
    }
    for (; X < x1; X++) {
        float s = 0;
        for (int k = 0; k < taps; k++)
            s += wt[(size_t)k * n_out + X] * row[idx[(size_t)k * n_out + X]];
        out[X] = s * scale;
    }
}

static void hresample_avx2(const float *row, const int *idx, const float *wt, int taps,
                           int n_out, float scale, float *out)
{
    fm_hresample_avx2_span(row, idx, wt, taps, n_out, scale, out, 0, n_out);
}

static void vacc_avx2(float *o, const float *t, float w, int n)
{
    int x = 0;
    __m256 vw = _mm256_set1_ps(w);
    for (; x + 8 <= n; x += 8)
        _mm256_storeu_ps(o + x, _mm256_add_ps(_mm256_loadu_ps(o + x),
                                              _mm256_mul_ps(vw, _mm256_loadu_ps(t + x))));
    for (; x < n; x++)
        o[x] += w * t[x];
}

static void vsum_avx2(const float *const *rows, const float *w, int taps, int n, float *out)
{
    int x = 0;
    for (; x + 16 <= n; x += 16) {
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        for (int k = 0; k < taps; k++) {
            __m256 vw = _mm256_set1_ps(w[k]);
            s0 = _mm256_add_ps(s0, _mm256_mul_ps(vw, _mm256_loadu_ps(rows[k] + x)));
            s1 = _mm256_add_ps(s1, _mm256_mul_ps(vw, _mm256_loadu_ps(rows[k] + x + 8)));
        }
        _mm256_storeu_ps(out + x, s0);
        _mm256_storeu_ps(out + x + 8, s1);
    }
    for (; x + 8 <= n; x += 8) {
        __m256 s0 = _mm256_setzero_ps();
        for (int k = 0; k < taps; k++)
            s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_set1_ps(w[k]),
                                                 _mm256_loadu_ps(rows[k] + x)));
        _mm256_storeu_ps(out + x, s0);
    }
    for (; x < n; x++) {
        float s = 0;
        for (int k = 0; k < taps; k++)
            s += w[k] * rows[k][x];
        out[x] = s;
    }
}

static void lerp_avx2(const float *a, const float *b, float f, float scale, int n, float *out)
{
    int x = 0;
    __m256 vf = _mm256_set1_ps(f), vs = _mm256_set1_ps(scale);
    for (; x + 8 <= n; x += 8) {
        __m256 va = _mm256_loadu_ps(a + x), vb = _mm256_loadu_ps(b + x);
        _mm256_storeu_ps(out + x, _mm256_mul_ps(vs, _mm256_add_ps(va, _mm256_mul_ps(
                                                                      vf, _mm256_sub_ps(vb, va)))));
    }
    for (; x < n; x++)
        out[x] = scale * (a[x] + f * (b[x] - a[x]));
}

static inline int hmin_epi32(__m256i v)
{
    __m128i m = _mm_min_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    m = _mm_min_epi32(m, _mm_shuffle_epi32(m, 0x4E));
    m = _mm_min_epi32(m, _mm_shuffle_epi32(m, 0xB1));
    return _mm_cvtsi128_si32(m);
}

static inline int hmax_epi32(__m256i v)
{
    __m128i m = _mm_max_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0x4E));
    m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0xB1));
    return _mm_cvtsi128_si32(m);
}

/*
 * lerp_idx: where the 8 outputs' sources lie within 8 consecutive samples
 * ending at the largest index used (so inside src), one load and two
 * permutes fetch them; elsewhere (a wrap of the tile, the first samples)
 * they are fetched one by one.
 */
static void lerp_idx_avx2(const float *src, const int *ia, const int *ib, const float *f, int n,
                          float *out)
{
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256i ja = _mm256_loadu_si256((const __m256i *)(ia + x));
        __m256i jb = _mm256_loadu_si256((const __m256i *)(ib + x));
        int lo = hmin_epi32(_mm256_min_epi32(ja, jb)), hi = hmax_epi32(_mm256_max_epi32(ja, jb));
        __m256 va, vb;
        if (hi - lo <= 7 && hi >= 7) {
            __m256i base = _mm256_set1_epi32(hi - 7);
            __m256 win = _mm256_loadu_ps(src + hi - 7);
            va = _mm256_permutevar8x32_ps(win, _mm256_sub_epi32(ja, base));
            vb = _mm256_permutevar8x32_ps(win, _mm256_sub_epi32(jb, base));
        } else {
            const int *a = ia + x, *b = ib + x;
            va = _mm256_setr_ps(src[a[0]], src[a[1]], src[a[2]], src[a[3]], src[a[4]], src[a[5]],
                                src[a[6]], src[a[7]]);
            vb = _mm256_setr_ps(src[b[0]], src[b[1]], src[b[2]], src[b[3]], src[b[4]], src[b[5]],
                                src[b[6]], src[b[7]]);
        }
        _mm256_storeu_ps(out + x, _mm256_add_ps(va, _mm256_mul_ps(_mm256_loadu_ps(f + x),
                                                                  _mm256_sub_ps(vb, va))));
    }
    for (; x < n; x++)
        out[x] = src[ia[x]] + f[x] * (src[ib[x]] - src[ia[x]]);
}

typedef struct MarkArgs {
    __m256 gf, pf, alpha, norm;
} MarkArgs;

static inline __m256 mark8(const float *gt, const float *gb, const float *pt, const float *pb,
                           const MarkArgs *m, int x)
{
    __m256 a = _mm256_loadu_ps(gt + x), b = _mm256_loadu_ps(gb + x);
    __m256 g = _mm256_add_ps(a, _mm256_mul_ps(m->gf, _mm256_sub_ps(b, a)));
    a = _mm256_loadu_ps(pt + x);
    b = _mm256_loadu_ps(pb + x);
    __m256 p = _mm256_mul_ps(m->norm, _mm256_add_ps(a, _mm256_mul_ps(m->pf, _mm256_sub_ps(b, a))));
    return _mm256_mul_ps(_mm256_mul_ps(m->alpha, g), p);
}

static void mark_row_avx2(const float *gt, const float *gb, float gf, const float *pt,
                          const float *pb, float pf, float alpha, float norm, int n, float *d,
                          double lanes[FM_DSP_LANES])
{
    MarkArgs m = { _mm256_set1_ps(gf), _mm256_set1_ps(pf), _mm256_set1_ps(alpha),
                   _mm256_set1_ps(norm) };
    __m256d l0 = _mm256_loadu_pd(lanes), l1 = _mm256_loadu_pd(lanes + 4);
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256 v = mark8(gt, gb, pt, pb, &m, x);
        if (d)
            _mm256_storeu_ps(d + x, v);
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        l0 = _mm256_add_pd(l0, _mm256_mul_pd(lo, lo));
        l1 = _mm256_add_pd(l1, _mm256_mul_pd(hi, hi));
    }
    _mm256_storeu_pd(lanes, l0);
    _mm256_storeu_pd(lanes + 4, l1);
    fm_mark_row_from(gt, gb, gf, pt, pb, pf, alpha, norm, x, n, d, lanes);
}



static void smooth_cells_avx2(const float *a, const float *b, const float *c, int n, float *out)
{
    const __m256 nine = _mm256_set1_ps(9.0f), two = _mm256_set1_ps(2.0f);
    int x = 1;
    for (; x + 8 <= n - 1; x += 8) {
        __m256 s = _mm256_add_ps(_mm256_setzero_ps(), _mm256_loadu_ps(a + x - 1));
        s = _mm256_add_ps(s, _mm256_loadu_ps(a + x));
        s = _mm256_add_ps(s, _mm256_loadu_ps(a + x + 1));
        s = _mm256_add_ps(s, _mm256_loadu_ps(b + x - 1));
        __m256 own = _mm256_loadu_ps(b + x);
        s = _mm256_add_ps(s, own);
        s = _mm256_add_ps(s, _mm256_loadu_ps(b + x + 1));
        s = _mm256_add_ps(s, _mm256_loadu_ps(c + x - 1));
        s = _mm256_add_ps(s, _mm256_loadu_ps(c + x));
        s = _mm256_add_ps(s, _mm256_loadu_ps(c + x + 1));
        _mm256_storeu_ps(out + x, _mm256_min_ps(_mm256_div_ps(s, nine), _mm256_mul_ps(two, own)));
    }
    for (; x < n - 1; x++) {
        float s = 0;
        s += a[x - 1];
        s += a[x];
        s += a[x + 1];
        s += b[x - 1];
        s += b[x];
        s += b[x + 1];
        s += c[x - 1];
        s += c[x];
        s += c[x + 1];
        float avg = s / 9, cap = 2 * b[x];
        out[x] = avg < cap ? avg : cap;
    }
}

/*
 * mark_rows and apply_rows: the group's four source rows loaded once per 8
 * columns for up to four of its rows at a time (their sums stay in
 * registers); each row's values, sums and pixels as the one-row kernels give
 * them. mode: ROWS_SUMS the sums alone, ROWS_U8 / ROWS_U16 the add with a
 * gain, and the sums too when `sums` is set.
 */
enum { ROWS_SUMS, ROWS_U8, ROWS_U16 };

static inline __attribute__((always_inline)) void
rows_block(const FmMarkRows *m, void *const *px, int mode, int sums, float gain, float fu,
           int maxval, int r0, int nb, int n, double (*lanes)[FM_DSP_LANES])
{
    __m256 gf[4], pf[4];
    __m256d acc[4][2];
    __m256 alpha = _mm256_set1_ps(m->alpha), norm = _mm256_set1_ps(m->norm);
    __m256 unit = _mm256_set1_ps(fu), vg = _mm256_set1_ps(gain);
    __m256i zero = _mm256_setzero_si256(), vmax = _mm256_set1_epi32(maxval);
#pragma GCC unroll 4
    for (int i = 0; i < nb; i++) {
        gf[i] = _mm256_set1_ps(m->gf[r0 + i]);
        pf[i] = _mm256_set1_ps(m->pf[r0 + i]);
        if (sums) {
            acc[i][0] = _mm256_loadu_pd(lanes[r0 + i]);
            acc[i][1] = _mm256_loadu_pd(lanes[r0 + i] + 4);
        }
    }
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256 a = _mm256_loadu_ps(m->gt + x);
        __m256 ga = _mm256_sub_ps(_mm256_loadu_ps(m->gb + x), a);
        __m256 c = _mm256_loadu_ps(m->pt + x);
        __m256 pc = _mm256_sub_ps(_mm256_loadu_ps(m->pb + x), c);
#pragma GCC unroll 4
        for (int i = 0; i < nb; i++) {
            __m256 g = _mm256_add_ps(a, _mm256_mul_ps(gf[i], ga));
            __m256 p = _mm256_mul_ps(norm, _mm256_add_ps(c, _mm256_mul_ps(pf[i], pc)));
            __m256 v = _mm256_mul_ps(_mm256_mul_ps(alpha, g), p);
            if (sums) {
                __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
                __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
                acc[i][0] = _mm256_add_pd(acc[i][0], _mm256_mul_pd(lo, lo));
                acc[i][1] = _mm256_add_pd(acc[i][1], _mm256_mul_pd(hi, hi));
            }
            if (mode == ROWS_U16) {
                uint16_t *row = (uint16_t *)px[r0 + i] + x;
                __m256 s = _mm256_cvtepi32_ps(
                    _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)row)));
                s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_mul_ps(vg, v), unit));
                __m256i q = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(s), zero), vmax);
                _mm_storeu_si128((__m128i *)row, _mm_packus_epi32(_mm256_castsi256_si128(q),
                                                                  _mm256_extracti128_si256(q, 1)));
            } else if (mode == ROWS_U8) {
                uint8_t *row = (uint8_t *)px[r0 + i] + x;
                __m256 s = _mm256_cvtepi32_ps(
                    _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)row)));
                __m256i q = _mm256_cvtps_epi32(_mm256_add_ps(s, _mm256_mul_ps(vg, v)));
                __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q),
                                            _mm256_extracti128_si256(q, 1));
                _mm_storel_epi64((__m128i *)row, _mm_packus_epi16(w, w));
            }
        }
    }
    for (int i = 0; i < nb; i++) {
        if (sums) {
            _mm256_storeu_pd(lanes[r0 + i], acc[i][0]);
            _mm256_storeu_pd(lanes[r0 + i] + 4, acc[i][1]);
        }
        double *l = sums ? lanes[r0 + i] : NULL;
        if (mode == ROWS_U16)
            fm_apply_row_u16_from(m, r0 + i, px[r0 + i], gain, fu, maxval, x, n, l);
        else if (mode == ROWS_U8)
            fm_apply_row_u8_from(m, r0 + i, px[r0 + i], gain, x, n, l);
        else
            fm_mark_row_from(m->gt, m->gb, m->gf[r0 + i], m->pt, m->pb, m->pf[r0 + i], m->alpha,
                             m->norm, x, n, NULL, l);
    }
}

static inline __attribute__((always_inline)) void
rows_any(const FmMarkRows *m, void *const *px, int mode, int sums, float gain, float unit,
         int maxval, int n, double (*lanes)[FM_DSP_LANES])
{
    for (int r0 = 0; r0 < m->g; r0 += 4) {
        switch (m->g - r0 < 4 ? m->g - r0 : 4) {
        case 1: rows_block(m, px, mode, sums, gain, unit, maxval, r0, 1, n, lanes); break;
        case 2: rows_block(m, px, mode, sums, gain, unit, maxval, r0, 2, n, lanes); break;
        case 3: rows_block(m, px, mode, sums, gain, unit, maxval, r0, 3, n, lanes); break;
        default: rows_block(m, px, mode, sums, gain, unit, maxval, r0, 4, n, lanes); break;
        }
    }
}

static void mark_rows_avx2(const FmMarkRows *m, int n, double (*lanes)[FM_DSP_LANES])
{
    rows_any(m, NULL, ROWS_SUMS, 1, 1.0f, 1.0f, 0, n, lanes);
}

static void apply_rows_u8_avx2(const FmMarkRows *m, uint8_t *const *px, float gain, int n,
                               double (*lanes)[FM_DSP_LANES])
{
    if (lanes)
        rows_any(m, (void *const *)px, ROWS_U8, 1, gain, 1.0f, 255, n, lanes);
    else
        rows_any(m, (void *const *)px, ROWS_U8, 0, gain, 1.0f, 255, n, NULL);
}

static void apply_rows_u16_avx2(const FmMarkRows *m, uint16_t *const *px, float gain, float unit,
                                int maxval, int n, double (*lanes)[FM_DSP_LANES])
{
    if (lanes)
        rows_any(m, (void *const *)px, ROWS_U16, 1, gain, unit, maxval, n, lanes);
    else
        rows_any(m, (void *const *)px, ROWS_U16, 0, gain, unit, maxval, n, NULL);
}

/*
 * ssim_score_u8: fm_ssim_window four windows at a time (the same double
 * operations in the same order); each window's five sums are picked out of
 * the interleaved array, the squared errors summed in integers.
 */
static uint64_t ssim_score_u8_avx2(const uint32_t *sums, int n, int rows, double *win)
{
    __m256d c1 = _mm256_set1_pd(FM_SSIM_C1), c2 = _mm256_set1_pd(FM_SSIM_C2);
    __m256d two = _mm256_set1_pd(2), vn = _mm256_set1_pd(8.0 * rows);
    /* the k-th window's sum i sits at 5 k + i */
    __m128i idx = _mm_setr_epi32(0, 5, 10, 15);
    __m256i err4 = _mm256_setzero_si256();
    int nw = (n + 7) / 8, full = n / 8, k = 0;
    for (; k + 4 <= full; k += 4) {
        const int *s = (const int *)(sums + 5 * (size_t)k);
        __m128i t0 = _mm_i32gather_epi32(s, idx, 4), t1 = _mm_i32gather_epi32(s + 1, idx, 4);
        __m128i t2 = _mm_i32gather_epi32(s + 2, idx, 4), t3 = _mm_i32gather_epi32(s + 3, idx, 4);
        __m128i t4 = _mm_i32gather_epi32(s + 4, idx, 4);
        /* sums are below 2^31 (64 x 255^2): signed conversions are exact */
        __m256d sa = _mm256_cvtepi32_pd(t0), sb = _mm256_cvtepi32_pd(t1);
        __m256d saa = _mm256_cvtepi32_pd(t2), sbb = _mm256_cvtepi32_pd(t3);
        __m256d sab = _mm256_cvtepi32_pd(t4);
        __m256i e = _mm256_sub_epi64(_mm256_add_epi64(_mm256_cvtepu32_epi64(t2),
                                                      _mm256_cvtepu32_epi64(t3)),
                                     _mm256_slli_epi64(_mm256_cvtepu32_epi64(t4), 1));
        err4 = _mm256_add_epi64(err4, e);
        __m256d ma = _mm256_div_pd(sa, vn), mb = _mm256_div_pd(sb, vn);
        __m256d va = _mm256_sub_pd(_mm256_div_pd(saa, vn), _mm256_mul_pd(ma, ma));
        __m256d vb = _mm256_sub_pd(_mm256_div_pd(sbb, vn), _mm256_mul_pd(mb, mb));
        __m256d cov = _mm256_sub_pd(_mm256_div_pd(sab, vn), _mm256_mul_pd(ma, mb));
        __m256d num = _mm256_mul_pd(_mm256_add_pd(_mm256_mul_pd(_mm256_mul_pd(two, ma), mb), c1),
                                    _mm256_add_pd(_mm256_mul_pd(two, cov), c2));
        __m256d den = _mm256_mul_pd(
            _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(ma, ma), _mm256_mul_pd(mb, mb)), c1),
            _mm256_add_pd(_mm256_add_pd(va, vb), c2));
        _mm256_storeu_pd(win + k, _mm256_div_pd(num, den));
    }
    uint64_t e4[4];
    _mm256_storeu_si256((__m256i *)e4, err4);
    uint64_t err = (e4[0] + e4[1]) + (e4[2] + e4[3]);
    for (; k < nw; k++) {
        const uint32_t *s = sums + 5 * (size_t)k;
        int bw = n - 8 * k < 8 ? n - 8 * k : 8;
        err += (uint64_t)s[2] + s[3] - 2 * (uint64_t)s[4];
        win[k] = fm_ssim_window(s[0], s[1], s[2], s[3], s[4], (double)bw * rows);
    }
    return err;
}

/* Exact doubles of integers below 2^52: the bits of 2^52 + v, less 2^52. */
static inline __m256d u52_to_pd(__m256i v)
{
    __m256d magic = _mm256_set1_pd(4503599627370496.0);
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, _mm256_castpd_si256(magic))),
                         magic);
}

/*
 * cell_gains: fm_mask_gain_of_sums four cells at a time, the same double
 * and float operations in the same order; the table's two samples fetched
 * by index, cells past its end taking its last entry.
 */
static void cell_gains_avx2(const uint64_t *t, const uint64_t *t2, int count, int cell, int w,
                            int rows, double scale, const float *lut, int lut_n, float *out)
{
    __m256d vs = _mm256_set1_pd(scale), vs2 = _mm256_set1_pd(scale * scale);
    __m256d zero = _mm256_setzero_pd(), steps = _mm256_set1_pd(FM_MASK_LUT_STEPS);
    __m256d top = _mm256_set1_pd(lut_n - 1);
    __m128 last = _mm_set1_ps(lut[lut_n - 1]);
    __m128 lo = _mm_set1_ps(FM_DARK_LO), span = _mm_set1_ps(FM_DARK_HI - FM_DARK_LO);
    __m128 f0 = _mm_setzero_ps(), f1 = _mm_set1_ps(1), f2 = _mm_set1_ps(2), f3 = _mm_set1_ps(3);
    __m128 dg = _mm_set1_ps(FM_DARK_GAIN), dg1 = _mm_set1_ps(1 - FM_DARK_GAIN);
    __m256i big = _mm256_set1_epi64x((long long)(~0ull << 52));
    int k = 0;
    for (; k + 4 <= count && (k + 4) * cell <= w; k += 4) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(t + k));
        __m256i a2 = _mm256_loadu_si256((const __m256i *)(t2 + k));
        if (!_mm256_testz_si256(_mm256_or_si256(a, a2), big))
            break;  /* beyond the exact conversion: the reference does the rest */
        __m256d n = _mm256_set1_pd((double)cell * rows);
        __m256d sum = _mm256_mul_pd(u52_to_pd(a), vs), sum2 = _mm256_mul_pd(u52_to_pd(a2), vs2);
        __m256d mean = _mm256_div_pd(sum, n);
        __m256d var = _mm256_sub_pd(_mm256_div_pd(sum2, n), _mm256_mul_pd(mean, mean));
        var = _mm256_max_pd(var, zero);  /* var > 0 ? var : +0 */
        /* texture: the table interpolated at var * steps, or its last entry */
        __m256d p = _mm256_mul_pd(var, steps);
        __m256d in = _mm256_cmp_pd(p, top, _CMP_LT_OQ);
        p = _mm256_and_pd(p, in);  /* 0 where the last entry is taken */
        __m128i i = _mm256_cvttpd_epi32(p);
        __m128 f = _mm256_cvtpd_ps(_mm256_sub_pd(p, _mm256_cvtepi32_pd(i)));
        __m128 l0 = _mm_i32gather_ps(lut, i, 4);
        __m128 l1 = _mm_i32gather_ps(lut + 1, i, 4);
        __m128 tex = _mm_add_ps(l0, _mm_mul_ps(f, _mm_sub_ps(l1, l0)));
        tex = _mm_blendv_ps(last, tex, _mm256_cvtpd_ps(in));
        /* brightness: smoothstep of the mean */
        __m128 u = _mm_div_ps(_mm_sub_ps(_mm256_cvtpd_ps(mean), lo), span);
        u = _mm_min_ps(_mm_max_ps(u, f0), f1);
        u = _mm_mul_ps(_mm_mul_ps(u, u), _mm_sub_ps(f3, _mm_mul_ps(f2, u)));
        __m128 dark = _mm_add_ps(dg, _mm_mul_ps(dg1, u));
        _mm_storeu_ps(out + k, _mm_mul_ps(tex, dark));
    }
    if (k < count) {
        for (; k < count; k++) {
            int x0 = k * cell, bw = w - x0 < cell ? w - x0 : cell;
            out[k] = fm_mask_gain_of_sums(lut, lut_n, t[k], t2[k], (double)bw * rows, scale);
        }
    }
}

/* 32 samples a step, summed in groups of 8 by the sum of absolute
 * differences against zero; then 16 and 8 at a time, the rest one by one. */
static uint64_t sum_u8_avx2(const uint8_t *p, int n)
{
    __m256i zero = _mm256_setzero_si256(), acc = zero;
    int i = 0;
    for (; i + 32 <= n; i += 32)
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(p + i)),
                                                    zero));
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    if (i + 16 <= n) {
        h = _mm_add_epi64(h, _mm_sad_epu8(_mm_loadu_si128((const __m128i *)(p + i)),
                                          _mm_setzero_si128()));
        i += 16;
    }
    if (i + 8 <= n) {
        h = _mm_add_epi64(h, _mm_sad_epu8(_mm_loadl_epi64((const __m128i *)(p + i)),
                                          _mm_setzero_si128()));
        i += 8;
    }
    uint64_t s = (uint64_t)_mm_cvtsi128_si64(h) + (uint64_t)_mm_extract_epi64(h, 1);
    for (; i < n; i++)
        s += p[i];
    return s;
}

/*
 * col_moments_rows_u8: 16 columns at a time down all the rows, the sums in
 * registers: the samples added in 16 bits (at most 256 x 255), their
 * squares (at most 65025, exact in an unsigned 16-bit product) widened and
 * added in 32 bits.
 */
static void col_moments_rows_u8_avx2(const uint8_t *p, ptrdiff_t stride, int rows, int n,
                                     uint32_t *s, uint32_t *s2)
{
    int x = 0;
    for (; x + 16 <= n; x += 16) {
        __m256i a = _mm256_setzero_si256(), lo = a, hi = a;
        const uint8_t *q = p + x;
        for (int y = 0; y < rows; y++, q += stride) {
            __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)q));
            __m256i v2 = _mm256_mullo_epi16(v, v);
            a = _mm256_add_epi16(a, v);
            lo = _mm256_add_epi32(lo, _mm256_cvtepu16_epi32(_mm256_castsi256_si128(v2)));
            hi = _mm256_add_epi32(hi, _mm256_cvtepu16_epi32(_mm256_extracti128_si256(v2, 1)));
        }
        _mm256_storeu_si256((__m256i *)(s + x), _mm256_cvtepu16_epi32(_mm256_castsi256_si128(a)));
        _mm256_storeu_si256((__m256i *)(s + x + 8),
                            _mm256_cvtepu16_epi32(_mm256_extracti128_si256(a, 1)));
        _mm256_storeu_si256((__m256i *)(s2 + x), lo);
        _mm256_storeu_si256((__m256i *)(s2 + x + 8), hi);
    }
    for (; x < n; x++)
        fm_col_moments_one_u8(p, stride, rows, x, s, s2);
}

/* The same for deeper samples, 8 columns at a time: sums in 32 bits,
 * squares (exact in 32 bits) widened and added in 64. */
static void col_moments_rows_u16_avx2(const uint16_t *p, ptrdiff_t stride, int rows, int n,
                                      uint32_t *s, uint64_t *s2)
{
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256i a = _mm256_setzero_si256(), lo = a, hi = a;
        const uint8_t *q = (const uint8_t *)(p + x);
        for (int y = 0; y < rows; y++, q += stride) {
            __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)q));
            __m256i v2 = _mm256_mullo_epi32(v, v);
            a = _mm256_add_epi32(a, v);
            lo = _mm256_add_epi64(lo, _mm256_cvtepu32_epi64(_mm256_castsi256_si128(v2)));
            hi = _mm256_add_epi64(hi, _mm256_cvtepu32_epi64(_mm256_extracti128_si256(v2, 1)));
        }
        _mm256_storeu_si256((__m256i *)(s + x), a);
        _mm256_storeu_si256((__m256i *)(s2 + x), lo);
        _mm256_storeu_si256((__m256i *)(s2 + x + 4), hi);
    }
    for (; x < n; x++)
        fm_col_moments_one_u16(p, stride, rows, x, s, s2);
}

/* Two 8-column windows at a time: 16 pixels widened to 16 bits (a column
 * sum over 8 rows is at most 2040), products summed in pairs of columns by
 * madd (at most 2 x 255^2 a pair), then each 128-bit lane (one window)
 * reduced by horizontal adds. */
static void ssim_win_u8_avx2(const uint8_t *a, ptrdiff_t sa_stride, const uint8_t *b,
                             ptrdiff_t sb_stride, int n, int rows, uint32_t *sums)
{
    const __m256i ones = _mm256_set1_epi16(1);
    int x = 0, k = 0;
    for (; x + 16 <= n; x += 16, k += 2) {
        __m256i s1 = _mm256_setzero_si256(), s2 = s1, s11 = s1, s22 = s1, s12 = s1;
        for (int y = 0; y < rows; y++) {
            __m256i va = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(a + y * sa_stride + x)));
            __m256i vb = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(b + y * sb_stride + x)));
            s1 = _mm256_add_epi16(s1, va);
            s2 = _mm256_add_epi16(s2, vb);
            s11 = _mm256_add_epi32(s11, _mm256_madd_epi16(va, va));
            s22 = _mm256_add_epi32(s22, _mm256_madd_epi16(vb, vb));
            s12 = _mm256_add_epi32(s12, _mm256_madd_epi16(va, vb));
        }
        __m256i h12 = _mm256_hadd_epi32(_mm256_madd_epi16(s1, ones), _mm256_madd_epi16(s2, ones));
        __m256i h = _mm256_hadd_epi32(h12, _mm256_hadd_epi32(s11, s22));  /* sa sb saa sbb */
        __m256i h5 = _mm256_hadd_epi32(s12, s12);
        h5 = _mm256_hadd_epi32(h5, h5);                                    /* sab */
        uint32_t *s = sums + 5 * (size_t)k;
        _mm_storeu_si128((__m128i *)s, _mm256_castsi256_si128(h));
        s[4] = (uint32_t)_mm_cvtsi128_si32(_mm256_castsi256_si128(h5));
        _mm_storeu_si128((__m128i *)(s + 5), _mm256_extracti128_si256(h, 1));
        s[9] = (uint32_t)_mm_cvtsi128_si32(_mm256_extracti128_si256(h5, 1));
    }
    for (; x < n; x += 8, k++)
        fm_ssim_win_one_u8(a, sa_stride, b, sb_stride, x, x + 8 < n ? x + 8 : n, rows,
                           sums + 5 * (size_t)k);
}

static void ssim_cols_u16_avx2(const uint16_t *a, ptrdiff_t sa_stride, const uint16_t *b,
                               ptrdiff_t sb_stride, int n, int rows, uint64_t *sums)
{
    uint64_t *sa = sums, *sb = sums + n, *saa = sums + 2 * (size_t)n, *sbb = sums + 3 * (size_t)n,
             *sab = sums + 4 * (size_t)n;
    int x = 0;
    for (; x + 4 <= n; x += 4) {
        __m256i s1 = _mm256_setzero_si256(), s2 = s1, s11 = s1, s22 = s1, s12 = s1;
        for (int y = 0; y < rows; y++) {
            __m256i va = _mm256_cvtepu16_epi64(_mm_loadl_epi64((const __m128i *)(a + y * sa_stride + x)));
            __m256i vb = _mm256_cvtepu16_epi64(_mm_loadl_epi64((const __m128i *)(b + y * sb_stride + x)));
            s1 = _mm256_add_epi64(s1, va);
            s2 = _mm256_add_epi64(s2, vb);
            s11 = _mm256_add_epi64(s11, _mm256_mul_epu32(va, va));
            s22 = _mm256_add_epi64(s22, _mm256_mul_epu32(vb, vb));
            s12 = _mm256_add_epi64(s12, _mm256_mul_epu32(va, vb));
        }
        _mm256_storeu_si256((__m256i *)(sa + x), s1);
        _mm256_storeu_si256((__m256i *)(sb + x), s2);
        _mm256_storeu_si256((__m256i *)(saa + x), s11);
        _mm256_storeu_si256((__m256i *)(sbb + x), s22);
        _mm256_storeu_si256((__m256i *)(sab + x), s12);
    }
    for (; x < n; x++)
        fm_ssim_col_one_u16(a, sa_stride, b, sb_stride, x, n, rows, sums);
}

static void whiten_row_avx2(const float *in, float c, const float *s1, const float *s2, float k,
                            int n, float *out)
{
    __m256 zero = _mm256_setzero_ps(), fl = _mm256_set1_ps(0.5f * 0.5f),
           hi = _mm256_set1_ps(3.0f), lo = _mm256_set1_ps(-3.0f), vk = _mm256_set1_ps(k),
           vc = _mm256_set1_ps(c);
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256 vm = _mm256_mul_ps(_mm256_loadu_ps(s1 + x), vk);
        __m256 vq = _mm256_mul_ps(_mm256_loadu_ps(s2 + x), vk);
        __m256 var = _mm256_sub_ps(vq, _mm256_mul_ps(vm, vm));
        __m256 sd = _mm256_sqrt_ps(_mm256_add_ps(_mm256_max_ps(var, zero), fl));
        __m256 v = _mm256_div_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(in + x), vc), vm),
                                 sd);
        _mm256_storeu_ps(out + x, _mm256_max_ps(_mm256_min_ps(v, hi), lo));
    }
    for (; x < n; x++) {
        float m = s1[x] * k, q = s2[x] * k;
        float var = q - m * m;
        float sd = sqrtf((var > 0 ? var : 0) + 0.5f * 0.5f);
        float v = ((in[x] - c) - m) / sd;
        out[x] = v > 3.0f ? 3.0f : v < -3.0f ? -3.0f : v;
    }
}

static void col_slide_avx2(const float *prev, const float *add, const float *sub, int n,
                           float *out)
{
    int x = 0;
    for (; x + 8 <= n; x += 8)
        _mm256_storeu_ps(out + x, _mm256_sub_ps(_mm256_add_ps(_mm256_loadu_ps(prev + x),
                                                              _mm256_loadu_ps(add + x)),
                                                _mm256_loadu_ps(sub + x)));
    for (; x < n; x++)
        out[x] = (prev[x] + add[x]) - sub[x];
}

/* Eight outputs a vector where the window is whole: the reference's sums,
 * lane by lane in its order. */
static void box_rows_avx2(const float *in, ptrdiff_t in_stride, int nrows, int w, int r,
                          float c, float *o1, float *o2, ptrdiff_t out_stride)
{
    float inv[64];
    for (int k = 1; k <= 2 * r + 1 && k < 64; k++)
        inv[k] = 1.0f / (float)k;
    int n = 2 * r + 1;
    __m256 vk = _mm256_set1_ps(inv[n < 64 ? n : 63]), vc = _mm256_set1_ps(c);
    for (int j = 0; j < nrows; j++) {
        const float *i = in + j * in_stride;
        float *a1 = o1 + j * out_stride, *a2 = o2 + j * out_stride;
        int x = 0;
        for (; x < r && x < w; x++)
            fm_box_row_one(i, w, r, c, x, inv, a1, a2);
        for (; x + 8 <= w - r; x += 8) {
            const float *p = i + x - r;
            __m256 v = _mm256_sub_ps(_mm256_loadu_ps(p), vc);
            __m256 s1 = v, s2 = _mm256_mul_ps(v, v);
            for (int k = 1; k < n; k++) {
                v = _mm256_sub_ps(_mm256_loadu_ps(p + k), vc);
                s1 = _mm256_add_ps(s1, v);
                s2 = _mm256_add_ps(s2, _mm256_mul_ps(v, v));
            }
            _mm256_storeu_ps(a1 + x, _mm256_mul_ps(s1, vk));
            _mm256_storeu_ps(a2 + x, _mm256_mul_ps(s2, vk));
        }
        for (; x < w; x++)
            fm_box_row_one(i, w, r, c, x, inv, a1, a2);
    }
}

/* The sums of eight flip words at once: per word, each row's eight lanes
 * times its byte's signs (fm_dsp_byte_signs) added from 0; then lane l + 4
 * to lane l, and the two pairwise horizontal adds ((0 + 1) + (2 + 3)) for
 * all eight words together (hadd adds a pair in either order: the same
 * bits). */
static inline __m256 flip_lanes(const float *x, int rows, const int *row_shift, uint32_t flip)
{
    __m256 a = _mm256_setzero_ps();
    for (int y = 0; y < rows; y++)
        a = _mm256_add_ps(a, _mm256_mul_ps(_mm256_loadu_ps(x + y * 8),
                                           _mm256_load_ps(fm_dsp_byte_signs[(flip >> row_shift[y]) & 0xFF])));
    return a;
}

static inline __m128 fold_halves(__m256 a)
{
    return _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
}

/* flip_lanes with the rows held in registers (rows <= 4, the cell views') */
static inline __m256 flip_lanes4(const __m256 r[4], const int sh[4], int rows, uint32_t flip)
{
    __m256 a = _mm256_setzero_ps();
    a = _mm256_add_ps(a, _mm256_mul_ps(r[0], _mm256_load_ps(fm_dsp_byte_signs[(flip >> sh[0]) & 0xFF])));
    if (rows > 1)
        a = _mm256_add_ps(a, _mm256_mul_ps(r[1], _mm256_load_ps(fm_dsp_byte_signs[(flip >> sh[1]) & 0xFF])));
    if (rows > 2)
        a = _mm256_add_ps(a, _mm256_mul_ps(r[2], _mm256_load_ps(fm_dsp_byte_signs[(flip >> sh[2]) & 0xFF])));
    if (rows > 3)
        a = _mm256_add_ps(a, _mm256_mul_ps(r[3], _mm256_load_ps(fm_dsp_byte_signs[(flip >> sh[3]) & 0xFF])));
    return a;
}

static void flip_sums_avx2(const float *x, int rows, const int *row_shift,
                           const uint32_t *flip, int n, float *out)
{
    int i = 0;
    __m256 r[4];
    int sh[4] = { 0 };
    for (int y = 0; y < 4; y++) {
        r[y] = y < rows ? _mm256_loadu_ps(x + y * 8) : _mm256_setzero_ps();
        sh[y] = y < rows ? row_shift[y] : 0;
    }
    for (; i + 8 <= n; i += 8) {
        __m128 h[8];
        for (int j = 0; j < 8; j++)
            h[j] = fold_halves(rows <= 4 ? flip_lanes4(r, sh, rows, flip[i + j])
                                         : flip_lanes(x, rows, row_shift, flip[i + j]));
        /* words j and j + 4 side by side: one hadd pairs (0 + 1), (2 + 3) of
         * two of them, the next adds those pairs */
        __m256 p0 = _mm256_set_m128(h[4], h[0]), p1 = _mm256_set_m128(h[5], h[1]);
        __m256 p2 = _mm256_set_m128(h[6], h[2]), p3 = _mm256_set_m128(h[7], h[3]);
        __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(p0, p1), _mm256_hadd_ps(p2, p3));
        /* lanes: words 0 1 2 3 | 4 5 6 7 */
        _mm256_storeu_ps(out + i, s);
    }
    for (; i < n; i++) {
        float v[4];
        _mm_storeu_ps(v, fold_halves(flip_lanes(x, rows, row_shift, flip[i])));
        out[i] = (v[0] + v[1]) + (v[2] + v[3]);
    }
}

/* r[k] = the 8 floats of row k in, lane k of every r[x] out (x = 0..7) */
static inline void transpose8_ps(__m256 r[8])
{
    __m256 t[8], q[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
        q[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        q[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        q[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        q[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(q[k], q[k + 4], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(q[k], q[k + 4], 0x31);
    }
}

/* The low DCT and its inverse (dct.h) eight blocks at a time, a block a
 * lane: each row of the eight blocks transposed so that every vector
 * operation is one term of the reference's sums for all eight, in the same
 * order, from 0. */
static void dct8x8_low8_avx2(const float *in, ptrdiff_t stride, int n, float *out)
{
    const float (*b)[8] = fm_dct_basis();
    __m256 tmp[8][FM_DCT_LOW + 1];
    for (int y = 0; y < 8; y++) {
        __m256 x[8];
        for (int k = 0; k < 8; k++)
            x[k] = _mm256_loadu_ps(in + y * stride + 8 * k);
        transpose8_ps(x);
        for (int u = 0; u <= FM_DCT_LOW; u++) {
            __m256 s = _mm256_setzero_ps();
            for (int j = 0; j < 8; j++)
                s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(b[u][j]), x[j]));
            tmp[y][u] = s;
        }
    }
    for (int v = 0; v <= FM_DCT_LOW; v++)
        for (int u = 0; u + v <= FM_DCT_LOW; u++) {
            __m256 s = _mm256_setzero_ps();
            for (int y = 0; y < 8; y++)
                s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(b[v][y]), tmp[y][u]));
            _mm256_storeu_ps(out + (size_t)(v * 8 + u) * n, s);
        }
}

static void dct8x8_low_avx2(const float *in, ptrdiff_t stride, int n, float *out)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        dct8x8_low8_avx2(in + 8 * i, stride, n, out + i);
    for (; i < n; i++)
        fm_dct8x8_low_block(in + 8 * i, stride, out + i, n);
}

static void idct8x8_low8_avx2(const float *in, int n, float *out, ptrdiff_t stride)
{
    const float (*b)[8] = fm_dct_basis();
    for (int y = 0; y < 8; y++) {
        __m256 t[FM_DCT_LOW + 1], o[8];
        for (int u = 0; u <= FM_DCT_LOW; u++) {  /* t[u] = sum_v basis[v][y] in[v][u] */
            __m256 s = _mm256_setzero_ps();
            for (int v = 0; u + v <= FM_DCT_LOW; v++)
                s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(b[v][y]),
                                                   _mm256_loadu_ps(in + (size_t)(v * 8 + u) * n)));
            t[u] = s;
        }
        for (int x = 0; x < 8; x++) {  /* out[y][x] = sum_u basis[u][x] t[u] */
            __m256 s = _mm256_setzero_ps();
            for (int u = 0; u <= FM_DCT_LOW; u++)
                s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(b[u][x]), t[u]));
            o[x] = s;
        }
        transpose8_ps(o);
        for (int k = 0; k < 8; k++)
            _mm256_storeu_ps(out + y * stride + 8 * k, o[k]);
    }
}

static void idct8x8_low_avx2(const float *in, int n, float *out, ptrdiff_t stride)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        idct8x8_low8_avx2(in + i, n, out + 8 * i, stride);
    for (; i < n; i++)
        fm_idct8x8_low_block(in + i, n, out + 8 * i, stride);
}

void fm_dsp_init_avx2(FmDsp *d)
{
    d->name = "avx2";
    d->cvt_u8 = cvt_u8_avx2;
    d->cvt_u16 = cvt_u16_avx2;
    d->hresample = hresample_avx2;
    d->vacc = vacc_avx2;
    d->vsum = vsum_avx2;
    d->lerp = lerp_avx2;
    d->lerp_idx = lerp_idx_avx2;
    d->mark_row = mark_row_avx2;
    d->mark_rows = mark_rows_avx2;
    d->apply_rows_u8 = apply_rows_u8_avx2;
    d->apply_rows_u16 = apply_rows_u16_avx2;
    d->smooth_cells = smooth_cells_avx2;
    d->cell_gains = cell_gains_avx2;
    d->col_moments_rows_u8 = col_moments_rows_u8_avx2;
    d->sum_u8 = sum_u8_avx2;
    d->col_moments_rows_u16 = col_moments_rows_u16_avx2;
    d->ssim_win_u8 = ssim_win_u8_avx2;
    d->ssim_score_u8 = ssim_score_u8_avx2;
    d->ssim_cols_u16 = ssim_cols_u16_avx2;
    d->whiten_row = whiten_row_avx2;
    d->box_rows = box_rows_avx2;
    d->col_slide = col_slide_avx2;
    d->flip_sums = flip_sums_avx2;
    d->dct8x8_low = dct8x8_low_avx2;
    d->idct8x8_low = idct8x8_low_avx2;
}
