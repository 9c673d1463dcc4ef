/*
 * dsp_avx512.c - AVX-512 (F, BW, DQ, VL) versions of the hottest DSP
 * kernels (dsp.h): the mark's add and energy, the tile's and the mask's
 * interpolation across the picture, the area downscales by 2, 3 and 3:2,
 * the mask's column moments (8- and 16-bit), the content tag's sums, the
 * SSIM window and column sums, the box and vertical sums of the
 * detector's whitening and resampling (its division and square root gain
 * nothing at this width: whiten_row stays at AVX2), the tile's low DCTs
 * sixteen blocks at a time and the epoch search's flip sums sixteen words
 * at a time. Sixteen floats a vector; the same operations in the same
 * order per output as the C references (no FMA: compiled with
 * -ffp-contract=off), so the results are identical bit for bit. The other
 * kernels stay at their AVX2 versions.
 *
 * Double sums keep the lanes of the references (FM_DSP_LANES = 8): the 16
 * values of a vector are added as x..x+7 then x+8..x+15, the order in which
 * the 8-wide versions add them.
 */
#include <immintrin.h>
#include <math.h>

#include "dct.h"
#include "dsp.h"
#include "dsp_x86.h"

/* acc (lanes 0..7) += the squares of v's 16 values, x..x+7 first */
static inline __m512d add_squares(__m512d acc, __m512 v)
{
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
    acc = _mm512_add_pd(acc, _mm512_mul_pd(lo, lo));
    return _mm512_add_pd(acc, _mm512_mul_pd(hi, hi));
}

static void mark_row_avx512(const float *gt, const float *gb, float gf, const float *pt,
                            const float *pb, float pf, float alpha, float norm, int n, float *d,
                            double lanes[FM_DSP_LANES])
{
    __m512 vgf = _mm512_set1_ps(gf), vpf = _mm512_set1_ps(pf);
    __m512 va = _mm512_set1_ps(alpha), vn = _mm512_set1_ps(norm);
    __m512d acc = _mm512_loadu_pd(lanes);
    int x = 0;
    for (; x + 16 <= n; x += 16) {
        __m512 a = _mm512_loadu_ps(gt + x), b = _mm512_loadu_ps(gb + x);
        __m512 g = _mm512_add_ps(a, _mm512_mul_ps(vgf, _mm512_sub_ps(b, a)));
        a = _mm512_loadu_ps(pt + x);
        b = _mm512_loadu_ps(pb + x);
        __m512 p = _mm512_mul_ps(vn, _mm512_add_ps(a, _mm512_mul_ps(vpf, _mm512_sub_ps(b, a))));
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(va, g), p);
        if (d)
            _mm512_storeu_ps(d + x, v);
        acc = add_squares(acc, v);
    }
    _mm512_storeu_pd(lanes, acc);
    fm_mark_row_from(gt, gb, gf, pt, pb, pf, alpha, norm, x, n, d, lanes);
}

/*
 * mark_rows and apply_rows: the group's four source rows loaded once per 16
 * columns for up to four of its rows at a time, as dsp_avx2.c does 8.
 */
enum { ROWS_SUMS, ROWS_U8, ROWS_U16 };

static inline __attribute__((always_inline)) void
rows_block(const FmMarkRows *m, void *const *px, int mode, int sums, float gain, float fu,
           int maxval, int r0, int nb, int n, double (*lanes)[FM_DSP_LANES])
{
    __m512 gf[4], pf[4];
    __m512d acc[4];
    __m512 alpha = _mm512_set1_ps(m->alpha), norm = _mm512_set1_ps(m->norm);
    __m512 unit = _mm512_set1_ps(fu), vg = _mm512_set1_ps(gain);
    __m512i zero = _mm512_setzero_si512(), vmax = _mm512_set1_epi32(maxval);
#pragma GCC unroll 4
    for (int i = 0; i < nb; i++) {
        gf[i] = _mm512_set1_ps(m->gf[r0 + i]);
        pf[i] = _mm512_set1_ps(m->pf[r0 + i]);
        if (sums)
            acc[i] = _mm512_loadu_pd(lanes[r0 + i]);
    }
    int x = 0;
    for (; x + 16 <= n; x += 16) {
        __m512 a = _mm512_loadu_ps(m->gt + x);
        __m512 ga = _mm512_sub_ps(_mm512_loadu_ps(m->gb + x), a);
        __m512 c = _mm512_loadu_ps(m->pt + x);
        __m512 pc = _mm512_sub_ps(_mm512_loadu_ps(m->pb + x), c);
#pragma GCC unroll 4
        for (int i = 0; i < nb; i++) {
            __m512 g = _mm512_add_ps(a, _mm512_mul_ps(gf[i], ga));
            __m512 p = _mm512_mul_ps(norm, _mm512_add_ps(c, _mm512_mul_ps(pf[i], pc)));
            __m512 v = _mm512_mul_ps(_mm512_mul_ps(alpha, g), p);
            if (sums)
                acc[i] = add_squares(acc[i], v);
            if (mode == ROWS_U16) {
                uint16_t *row = (uint16_t *)px[r0 + i] + x;
                __m512 s = _mm512_cvtepi32_ps(
                    _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)row)));
                s = _mm512_add_ps(s, _mm512_mul_ps(_mm512_mul_ps(vg, v), unit));
                __m512i q = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(s), zero), vmax);
                _mm256_storeu_si256((__m256i *)row, _mm512_cvtusepi32_epi16(q));
            } else if (mode == ROWS_U8) {
                uint8_t *row = (uint8_t *)px[r0 + i] + x;
                __m512 s = _mm512_cvtepi32_ps(
                    _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)row)));
                __m512i q = _mm512_cvtps_epi32(_mm512_add_ps(s, _mm512_mul_ps(vg, v)));
                /* below 0 (or not a number: INT_MIN) to 0, above 255 to 255 */
                _mm_storeu_si128((__m128i *)row, _mm512_cvtusepi32_epi8(_mm512_max_epi32(q, zero)));
            }
        }
    }
    for (int i = 0; i < nb; i++) {
        if (sums)
            _mm512_storeu_pd(lanes[r0 + i], acc[i]);
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

static void mark_rows_avx512(const FmMarkRows *m, int n, double (*lanes)[FM_DSP_LANES])
{
    rows_any(m, NULL, ROWS_SUMS, 1, 1.0f, 1.0f, 0, n, lanes);
}

static void apply_rows_u8_avx512(const FmMarkRows *m, uint8_t *const *px, float gain, int n,
                                 double (*lanes)[FM_DSP_LANES])
{
    if (lanes)
        rows_any(m, (void *const *)px, ROWS_U8, 1, gain, 1.0f, 255, n, lanes);
    else
        rows_any(m, (void *const *)px, ROWS_U8, 0, gain, 1.0f, 255, n, NULL);
}

static void apply_rows_u16_avx512(const FmMarkRows *m, uint16_t *const *px, float gain,
                                  float unit, int maxval, int n, double (*lanes)[FM_DSP_LANES])
{
    if (lanes)
        rows_any(m, (void *const *)px, ROWS_U16, 1, gain, unit, maxval, n, lanes);
    else
        rows_any(m, (void *const *)px, ROWS_U16, 0, gain, unit, maxval, n, NULL);
}

/*
 * lerp_idx: where the 16 outputs' sources lie within 16 consecutive samples
 * ending at the largest index used, one load and two permutes fetch them
 * (the tile's samples and the mask's cells across the picture: each source
 * feeds one output or more); elsewhere (a wrap of the tile, the first
 * samples) they are fetched one by one.
 */
static inline __m512 fetch16(const float *src, const int *i)
{
    __m256 lo = _mm256_setr_ps(src[i[0]], src[i[1]], src[i[2]], src[i[3]], src[i[4]], src[i[5]],
                               src[i[6]], src[i[7]]);
    __m256 hi = _mm256_setr_ps(src[i[8]], src[i[9]], src[i[10]], src[i[11]], src[i[12]],
                               src[i[13]], src[i[14]], src[i[15]]);
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

static void lerp_idx_avx512(const float *src, const int *ia, const int *ib, const float *f, int n,
                            float *out)
{
    int x = 0;
    for (; x + 16 <= n; x += 16) {
        __m512i ja = _mm512_loadu_si512(ia + x), jb = _mm512_loadu_si512(ib + x);
        int lo = _mm512_reduce_min_epi32(_mm512_min_epi32(ja, jb));
        int hi = _mm512_reduce_max_epi32(_mm512_max_epi32(ja, jb));
        __m512 va, vb;
        if (hi - lo <= 15 && hi >= 15) {
            __m512i base = _mm512_set1_epi32(hi - 15);
            __m512 win = _mm512_loadu_ps(src + hi - 15);
            va = _mm512_permutexvar_ps(_mm512_sub_epi32(ja, base), win);
            vb = _mm512_permutexvar_ps(_mm512_sub_epi32(jb, base), win);
        } else {
            va = fetch16(src, ia + x);
            vb = fetch16(src, ib + x);
        }
        _mm512_storeu_ps(out + x, _mm512_add_ps(va, _mm512_mul_ps(_mm512_loadu_ps(f + x),
                                                                  _mm512_sub_ps(vb, va))));
    }
    for (; x < n; x++)
        out[x] = src[ia[x]] + f[x] * (src[ib[x]] - src[ia[x]]);
}

/* 1 if the 16 outputs at X read taps k = 0..r-1 at idx = base + r X' + k
 * (an area downscale by the integer r, away from the clamped borders). */
static inline int regular16(const int *idx, int n_out, int X, int r)
{
    if (idx[X + 1] - idx[X] != r || idx[X + 15] - idx[X] != 15 * r)
        return 0;
    __m512i i0 = _mm512_loadu_si512(idx + X);
    __m512i want = _mm512_add_epi32(
        _mm512_set1_epi32(idx[X]),
        _mm512_mullo_epi32(_mm512_set1_epi32(r), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                                  10, 11, 12, 13, 14, 15)));
    __mmask16 bad = _mm512_cmpneq_epi32_mask(i0, want);
    for (int k = 1; k < r; k++) {
        __m512i ik = _mm512_loadu_si512(idx + (size_t)k * n_out + X);
        bad |= _mm512_cmpneq_epi32_mask(ik, _mm512_add_epi32(i0, _mm512_set1_epi32(k)));
    }
    return bad == 0;
}

/* The 3:2 offsets of 16 outputs' first taps (two taps each, at p and p + 1). */
static inline __m512i offsets_3_2(void)
{
    return _mm512_setr_epi32(0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16, 18, 19, 21, 22);
}

/* 1 if the 16 outputs at X read two taps at idx = base + offsets_3_2() and
 * one more (an area downscale by 3:2: 1080p to the detector's fine grid of
 * 720 rows), away from the clamped borders. */
static inline int block16_3_2(const int *idx, int n_out, int X)
{
    if (idx[X + 2] - idx[X] != 3 || idx[X + 15] - idx[X] != 22)
        return 0;
    __m512i want = _mm512_add_epi32(_mm512_set1_epi32(idx[X]), offsets_3_2());
    __mmask16 bad = _mm512_cmpneq_epi32_mask(_mm512_loadu_si512(idx + X), want);
    bad |= _mm512_cmpneq_epi32_mask(_mm512_loadu_si512(idx + (size_t)n_out + X),
                                    _mm512_add_epi32(want, _mm512_set1_epi32(1)));
    return bad == 0;
}

/*
 * hresample: the integer downscales by 2 and 3 (the mark grid of 720p and
 * 1080p pictures, the detector's fine grids) and by 3:2 read whole vectors
 * and permute across two of them; other blocks (the clamped borders) and
 * other tables go to the AVX2 version.
 */
static void hresample_avx512(const float *row, const int *idx, const float *wt, int taps,
                             int n_out, float scale, float *out)
{
    if (taps != 2 && taps != 3) {
        fm_hresample_avx2_span(row, idx, wt, taps, n_out, scale, out, 0, n_out);
        return;
    }
    /* tap k of output j: element r j + k of the 16 r floats, from vectors a, b (and c) */
    __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    __m512i one = _mm512_set1_epi32(1);
    __m512i three = _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45);
    __m512 vs = _mm512_set1_ps(scale);
    int X = 0;
    for (; X + 16 <= n_out; X += 16) {
        __m512 v[3];
        if (regular16(idx, n_out, X, taps)) {
            const float *p = row + idx[X];
            __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
            if (taps == 2) {
                v[0] = _mm512_permutex2var_ps(a, even, b);
                v[1] = _mm512_permutex2var_ps(a, _mm512_add_epi32(even, one), b);
            } else {
                __m512 c = _mm512_loadu_ps(p + 32);
                for (int k = 0; k < 3; k++) {
                    /* 3 j + k below 32 from a, b; the rest (16 + 3 j + k - 32) from c */
                    __m512i s = _mm512_add_epi32(three, _mm512_set1_epi32(k));
                    __mmask16 from_c = _mm512_cmpge_epi32_mask(s, _mm512_set1_epi32(32));
                    __m512 ab = _mm512_permutex2var_ps(a, s, b);
                    __m512 cc = _mm512_permutexvar_ps(_mm512_sub_epi32(s, _mm512_set1_epi32(32)), c);
                    v[k] = _mm512_mask_blend_ps(from_c, ab, cc);
                }
            }
        } else if (taps == 2 && block16_3_2(idx, n_out, X)) {
            /* 24 floats: the last 8 of b are not loaded (they may be past the row) */
            const float *p = row + idx[X];
            __m512 a = _mm512_loadu_ps(p), b = _mm512_maskz_loadu_ps(0x00FF, p + 16);
            __m512i o = offsets_3_2();
            v[0] = _mm512_permutex2var_ps(a, o, b);
            v[1] = _mm512_permutex2var_ps(a, _mm512_add_epi32(o, one), b);
        } else {
            fm_hresample_avx2_span(row, idx, wt, taps, n_out, scale, out, X, X + 16);
            continue;
        }
        __m512 s = _mm512_setzero_ps();
        for (int k = 0; k < taps; k++)
            s = _mm512_add_ps(s, _mm512_mul_ps(_mm512_loadu_ps(wt + (size_t)k * n_out + X), v[k]));
        _mm512_storeu_ps(out + X, _mm512_mul_ps(s, vs));
    }
    fm_hresample_avx2_span(row, idx, wt, taps, n_out, scale, out, X, n_out);
}

/*
 * col_moments_rows_u8: 32 columns at a time down all the rows, as the AVX2
 * version does 16: the samples added in 16 bits (at most 256 x 255), their
 * squares (exact in an unsigned 16-bit product) widened and added in 32.
 */
static void col_moments_rows_u8_avx512(const uint8_t *p, ptrdiff_t stride, int rows, int n,
                                       uint32_t *s, uint32_t *s2)
{
    int x = 0;
    for (; x + 32 <= n; x += 32) {
        __m512i a = _mm512_setzero_si512(), lo = a, hi = a;
        const uint8_t *q = p + x;
        for (int y = 0; y < rows; y++, q += stride) {
            __m512i v = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)q));
            __m512i v2 = _mm512_mullo_epi16(v, v);
            a = _mm512_add_epi16(a, v);
            lo = _mm512_add_epi32(lo, _mm512_cvtepu16_epi32(_mm512_castsi512_si256(v2)));
            hi = _mm512_add_epi32(hi, _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(v2, 1)));
        }
        _mm512_storeu_si512(s + x, _mm512_cvtepu16_epi32(_mm512_castsi512_si256(a)));
        _mm512_storeu_si512(s + x + 16, _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(a, 1)));
        _mm512_storeu_si512(s2 + x, lo);
        _mm512_storeu_si512(s2 + x + 16, hi);
    }
    for (; x < n; x++)
        fm_col_moments_one_u8(p, stride, rows, x, s, s2);
}

static void vacc_avx512(float *o, const float *t, float w, int n)
{
    int x = 0;
    __m512 vw = _mm512_set1_ps(w);
    for (; x + 16 <= n; x += 16)
        _mm512_storeu_ps(o + x, _mm512_add_ps(_mm512_loadu_ps(o + x),
                                              _mm512_mul_ps(vw, _mm512_loadu_ps(t + x))));
    for (; x < n; x++)
        o[x] += w * t[x];
}

static void vsum_avx512(const float *const *rows, const float *w, int taps, int n, float *out)
{
    int x = 0;
    for (; x + 32 <= n; x += 32) {
        __m512 s0 = _mm512_setzero_ps(), s1 = s0;
        for (int k = 0; k < taps; k++) {
            __m512 vw = _mm512_set1_ps(w[k]);
            s0 = _mm512_add_ps(s0, _mm512_mul_ps(vw, _mm512_loadu_ps(rows[k] + x)));
            s1 = _mm512_add_ps(s1, _mm512_mul_ps(vw, _mm512_loadu_ps(rows[k] + x + 16)));
        }
        _mm512_storeu_ps(out + x, s0);
        _mm512_storeu_ps(out + x + 16, s1);
    }
    for (; x + 16 <= n; x += 16) {
        __m512 s0 = _mm512_setzero_ps();
        for (int k = 0; k < taps; k++)
            s0 = _mm512_add_ps(s0, _mm512_mul_ps(_mm512_set1_ps(w[k]),
                                                 _mm512_loadu_ps(rows[k] + x)));
        _mm512_storeu_ps(out + x, s0);
    }
    for (; x < n; x++) {
        float s = 0;
        for (int k = 0; k < taps; k++)
            s += w[k] * rows[k][x];
        out[x] = s;
    }
}

static void col_slide_avx512(const float *prev, const float *add, const float *sub, int n,
                             float *out)
{
    int x = 0;
    for (; x + 16 <= n; x += 16)
        _mm512_storeu_ps(out + x, _mm512_sub_ps(_mm512_add_ps(_mm512_loadu_ps(prev + x),
                                                              _mm512_loadu_ps(add + x)),
                                                _mm512_loadu_ps(sub + x)));
    for (; x < n; x++)
        out[x] = (prev[x] + add[x]) - sub[x];
}

/* Sixteen outputs a vector where the window is whole: the reference's sums,
 * lane by lane in its order. */
static void box_rows_avx512(const float *in, ptrdiff_t in_stride, int nrows, int w, int r,
                            float c, float *o1, float *o2, ptrdiff_t out_stride)
{
    float inv[64];
    for (int k = 1; k <= 2 * r + 1 && k < 64; k++)
        inv[k] = 1.0f / (float)k;
    int n = 2 * r + 1;
    __m512 vk = _mm512_set1_ps(inv[n < 64 ? n : 63]), vc = _mm512_set1_ps(c);
    for (int j = 0; j < nrows; j++) {
        const float *i = in + j * in_stride;
        float *a1 = o1 + j * out_stride, *a2 = o2 + j * out_stride;
        int x = 0;
        for (; x < r && x < w; x++)
            fm_box_row_one(i, w, r, c, x, inv, a1, a2);
        for (; x + 16 <= w - r; x += 16) {
            const float *p = i + x - r;
            __m512 v = _mm512_sub_ps(_mm512_loadu_ps(p), vc);
            __m512 s1 = v, s2 = _mm512_mul_ps(v, v);
            for (int k = 1; k < n; k++) {
                v = _mm512_sub_ps(_mm512_loadu_ps(p + k), vc);
                s1 = _mm512_add_ps(s1, v);
                s2 = _mm512_add_ps(s2, _mm512_mul_ps(v, v));
            }
            _mm512_storeu_ps(a1 + x, _mm512_mul_ps(s1, vk));
            _mm512_storeu_ps(a2 + x, _mm512_mul_ps(s2, vk));
        }
        for (; x < w; x++)
            fm_box_row_one(i, w, r, c, x, inv, a1, a2);
    }
}

/* The same for deeper samples, 16 columns at a time: sums in 32 bits,
 * squares (exact in 32 bits) widened and added in 64. */
static void col_moments_rows_u16_avx512(const uint16_t *p, ptrdiff_t stride, int rows, int n,
                                        uint32_t *s, uint64_t *s2)
{
    int x = 0;
    for (; x + 16 <= n; x += 16) {
        __m512i a = _mm512_setzero_si512(), lo = a, hi = a;
        const uint8_t *q = (const uint8_t *)(p + x);
        for (int y = 0; y < rows; y++, q += stride) {
            __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)q));
            __m512i v2 = _mm512_mullo_epi32(v, v);
            a = _mm512_add_epi32(a, v);
            lo = _mm512_add_epi64(lo, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(v2)));
            hi = _mm512_add_epi64(hi, _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(v2, 1)));
        }
        _mm512_storeu_si512(s + x, a);
        _mm512_storeu_si512(s2 + x, lo);
        _mm512_storeu_si512(s2 + x + 8, hi);
    }
    for (; x < n; x++)
        fm_col_moments_one_u16(p, stride, rows, x, s, s2);
}

/* SSIM column sums of deeper samples, 8 columns at a time in 64 bits. */
static void ssim_cols_u16_avx512(const uint16_t *a, ptrdiff_t sa_stride, const uint16_t *b,
                                 ptrdiff_t sb_stride, int n, int rows, uint64_t *sums)
{
    uint64_t *sa = sums, *sb = sums + n, *saa = sums + 2 * (size_t)n, *sbb = sums + 3 * (size_t)n,
             *sab = sums + 4 * (size_t)n;
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m512i s1 = _mm512_setzero_si512(), s2 = s1, s11 = s1, s22 = s1, s12 = s1;
        for (int y = 0; y < rows; y++) {
            __m512i va = _mm512_cvtepu16_epi64(_mm_loadu_si128((const __m128i *)(a + y * sa_stride + x)));
            __m512i vb = _mm512_cvtepu16_epi64(_mm_loadu_si128((const __m128i *)(b + y * sb_stride + x)));
            s1 = _mm512_add_epi64(s1, va);
            s2 = _mm512_add_epi64(s2, vb);
            s11 = _mm512_add_epi64(s11, _mm512_mul_epu32(va, va));
            s22 = _mm512_add_epi64(s22, _mm512_mul_epu32(vb, vb));
            s12 = _mm512_add_epi64(s12, _mm512_mul_epu32(va, vb));
        }
        _mm512_storeu_si512(sa + x, s1);
        _mm512_storeu_si512(sb + x, s2);
        _mm512_storeu_si512(saa + x, s11);
        _mm512_storeu_si512(sbb + x, s22);
        _mm512_storeu_si512(sab + x, s12);
    }
    for (; x < n; x++)
        fm_ssim_col_one_u16(a, sa_stride, b, sb_stride, x, n, rows, sums);
}

/* Each 128-bit lane's four 32-bit values summed, into all four. */
static inline __m512i lane_sum4(__m512i v)
{
    v = _mm512_add_epi32(v, _mm512_shuffle_epi32(v, _MM_PERM_BADC));
    return _mm512_add_epi32(v, _mm512_shuffle_epi32(v, _MM_PERM_CDAB));
}

/* window w (0..3) of the four in h (sa sb saa sbb) and h12 (sab) to s */
#define STORE_WINDOW(s, h, h12, w)                                                  \
    do {                                                                            \
        _mm_storeu_si128((__m128i *)((s) + 5 * (w)), _mm512_extracti32x4_epi32(h, w)); \
        (s)[5 * (w) + 4] = (uint32_t)_mm_cvtsi128_si32(_mm512_extracti32x4_epi32(h12, w)); \
    } while (0)

/* Four 8-column windows at a time: 32 pixels widened to 16 bits (a column
 * sum over 8 rows is at most 2040), products summed in pairs of columns by
 * madd; a window's 8 columns are one 128-bit lane, reduced in the lane. */
static void ssim_win_u8_avx512(const uint8_t *a, ptrdiff_t sa_stride, const uint8_t *b,
                               ptrdiff_t sb_stride, int n, int rows, uint32_t *sums)
{
    const __m512i ones = _mm512_set1_epi16(1);
    int x = 0, k = 0;
    for (; x + 32 <= n; x += 32, k += 4) {
        __m512i s1 = _mm512_setzero_si512(), s2 = s1, s11 = s1, s22 = s1, s12 = s1;
        for (int y = 0; y < rows; y++) {
            __m512i va = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(a + y * sa_stride + x)));
            __m512i vb = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(b + y * sb_stride + x)));
            s1 = _mm512_add_epi16(s1, va);
            s2 = _mm512_add_epi16(s2, vb);
            s11 = _mm512_add_epi32(s11, _mm512_madd_epi16(va, va));
            s22 = _mm512_add_epi32(s22, _mm512_madd_epi16(vb, vb));
            s12 = _mm512_add_epi32(s12, _mm512_madd_epi16(va, vb));
        }
        __m512i h = lane_sum4(_mm512_madd_epi16(s1, ones));
        h = _mm512_mask_blend_epi32(0x2222, h, lane_sum4(_mm512_madd_epi16(s2, ones)));
        h = _mm512_mask_blend_epi32(0x4444, h, lane_sum4(s11));
        h = _mm512_mask_blend_epi32(0x8888, h, lane_sum4(s22));
        __m512i h12 = lane_sum4(s12);
        uint32_t *s = sums + 5 * (size_t)k;
        STORE_WINDOW(s, h, h12, 0);
        STORE_WINDOW(s, h, h12, 1);
        STORE_WINDOW(s, h, h12, 2);
        STORE_WINDOW(s, h, h12, 3);
    }
    for (; x < n; x += 8, k++)
        fm_ssim_win_one_u8(a, sa_stride, b, sb_stride, x, x + 8 < n ? x + 8 : n, rows,
                           sums + 5 * (size_t)k);
}
#undef STORE_WINDOW

/* 64 samples a step, summed in groups of 8 by the sum of absolute
 * differences against zero; the last (fewer) by a masked load. */
static uint64_t sum_u8_avx512(const uint8_t *p, int n)
{
    __m512i zero = _mm512_setzero_si512(), acc = zero;
    int i = 0;
    for (; i + 64 <= n; i += 64)
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_loadu_si512(p + i), zero));
    if (i < n) {
        __mmask64 m = ~0ull >> (64 - (n - i));
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(m, p + i), zero));
    }
    return (uint64_t)_mm512_reduce_add_epi64(acc);
}

/*
 * flip_sums sixteen words at a time, a word a lane: for each lane l of the
 * rows and each row y, x[y][l] is added to every word's sum, or subtracted
 * (the same as adding -x[y][l], the reference's product by -1) where the
 * word's bit row_shift[y] + l is set, in the reference's order from 0; then
 * lane l + 4 onto lane l and ((0 + 1) + (2 + 3)), all sixteen words at once.
 */
static inline __attribute__((always_inline)) void
flip_sums_rows_avx512(const float *x, int rows, const int *row_shift, const uint32_t *flip, int n,
                      float *out)
{
    uint32_t bit[8][8];  /* [l][y] */
    for (int l = 0; l < 8; l++)
        for (int y = 0; y < rows; y++)
            bit[l][y] = 1u << (row_shift[y] + l);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512i f = _mm512_maskz_loadu_epi32(m, flip + i);
        __m512 a[8];
        for (int l = 0; l < 8; l++) {
            __m512 s = _mm512_setzero_ps();
            for (int y = 0; y < rows; y++) {
                __m512 v = _mm512_set1_ps(x[y * 8 + l]);
                __mmask16 neg = _mm512_test_epi32_mask(f, _mm512_set1_epi32((int)bit[l][y]));
                s = _mm512_mask_sub_ps(_mm512_add_ps(s, v), neg, s, v);
            }
            a[l] = s;
        }
        for (int l = 0; l < 4; l++)
            a[l] = _mm512_add_ps(a[l], a[l + 4]);
        _mm512_mask_storeu_ps(out + i, m, _mm512_add_ps(_mm512_add_ps(a[0], a[1]),
                                                        _mm512_add_ps(a[2], a[3])));
    }
}

static void flip_sums_avx512(const float *x, int rows, const int *row_shift,
                             const uint32_t *flip, int n, float *out)
{
    if (n < 4) {  /* a word or a few (the reads' collapse): not worth a vector */
        for (int i = 0; i < n; i++)
            out[i] = fm_flip_sum_one(x, rows, row_shift, flip[i]);
        return;
    }
    if (rows == 3)  /* the cell views' (FM_MARK_HEIGHT: three rows of cells) */
        flip_sums_rows_avx512(x, 3, row_shift, flip, n, out);
    else
        flip_sums_rows_avx512(x, rows, row_shift, flip, n, out);
}

/* Eight rows of 16 floats, each half an 8x8 of its own, transposed half by
 * half: row k lane j of each half in, row j lane k of that half out (the
 * AVX2 network, its last step across the 128-bit lanes of each half). */
static inline void transpose8_halves(__m512 r[8])
{
    const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    const __m512i hi = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    __m512 t[8], q[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
        q[k] = _mm512_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        q[k + 1] = _mm512_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        q[k + 2] = _mm512_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        q[k + 3] = _mm512_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm512_permutex2var_ps(q[k], lo, q[k + 4]);
        r[k + 4] = _mm512_permutex2var_ps(q[k], hi, q[k + 4]);
    }
}

/* The low DCT and its inverse (dct.h) sixteen blocks at a time, a block a
 * lane (blocks k and k + 8 share a vector before the transposes): every
 * vector operation is one term of the reference's sums, in its order. */
static void dct8x8_low16_avx512(const float *in, ptrdiff_t stride, int n, float *out)
{
    const float (*b)[8] = fm_dct_basis();
    __m512 tmp[8][FM_DCT_LOW + 1];
    for (int y = 0; y < 8; y++) {
        const float *row = in + y * stride;
        __m512 x[8];
        for (int k = 0; k < 8; k++)
            x[k] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(row + 8 * k)),
                                      _mm256_loadu_ps(row + 8 * (k + 8)), 1);
        transpose8_halves(x);
        for (int u = 0; u <= FM_DCT_LOW; u++) {
            __m512 s = _mm512_setzero_ps();
            for (int j = 0; j < 8; j++)
                s = _mm512_add_ps(s, _mm512_mul_ps(_mm512_set1_ps(b[u][j]), x[j]));
            tmp[y][u] = s;
        }
    }
    for (int v = 0; v <= FM_DCT_LOW; v++)
        for (int u = 0; u + v <= FM_DCT_LOW; u++) {
            __m512 s = _mm512_setzero_ps();
            for (int y = 0; y < 8; y++)
                s = _mm512_add_ps(s, _mm512_mul_ps(_mm512_set1_ps(b[v][y]), tmp[y][u]));
            _mm512_storeu_ps(out + (size_t)(v * 8 + u) * n, s);
        }
}

static void dct8x8_low_avx512(const float *in, ptrdiff_t stride, int n, float *out)
{
    int i = 0;
    for (; i + 16 <= n; i += 16)
        dct8x8_low16_avx512(in + 8 * i, stride, n, out + i);
    for (; i < n; i++)
        fm_dct8x8_low_block(in + 8 * i, stride, out + i, n);
}

static void idct8x8_low16_avx512(const float *in, int n, float *out, ptrdiff_t stride)
{
    const float (*b)[8] = fm_dct_basis();
    for (int y = 0; y < 8; y++) {
        __m512 t[FM_DCT_LOW + 1], o[8];
        for (int u = 0; u <= FM_DCT_LOW; u++) {  /* t[u] = sum_v basis[v][y] in[v][u] */
            __m512 s = _mm512_setzero_ps();
            for (int v = 0; u + v <= FM_DCT_LOW; v++)
                s = _mm512_add_ps(s, _mm512_mul_ps(_mm512_set1_ps(b[v][y]),
                                                   _mm512_loadu_ps(in + (size_t)(v * 8 + u) * n)));
            t[u] = s;
        }
        for (int x = 0; x < 8; x++) {  /* out[y][x] = sum_u basis[u][x] t[u] */
            __m512 s = _mm512_setzero_ps();
            for (int u = 0; u <= FM_DCT_LOW; u++)
                s = _mm512_add_ps(s, _mm512_mul_ps(_mm512_set1_ps(b[u][x]), t[u]));
            o[x] = s;
        }
        transpose8_halves(o);  /* o[k]: row y of block k, then of block k + 8 */
        float *row = out + y * stride;
        for (int k = 0; k < 8; k++) {
            _mm256_storeu_ps(row + 8 * k, _mm512_castps512_ps256(o[k]));
            _mm256_storeu_ps(row + 8 * (k + 8), _mm512_extractf32x8_ps(o[k], 1));
        }
    }
}

static void idct8x8_low_avx512(const float *in, int n, float *out, ptrdiff_t stride)
{
    int i = 0;
    for (; i + 16 <= n; i += 16)
        idct8x8_low16_avx512(in + i, n, out + 8 * i, stride);
    for (; i < n; i++)
        fm_idct8x8_low_block(in + i, n, out + 8 * i, stride);
}

void fm_dsp_init_avx512(FmDsp *d)
{
    d->name = "avx512";
    d->hresample = hresample_avx512;
    d->lerp_idx = lerp_idx_avx512;
    d->mark_row = mark_row_avx512;
    d->mark_rows = mark_rows_avx512;
    d->apply_rows_u8 = apply_rows_u8_avx512;
    d->apply_rows_u16 = apply_rows_u16_avx512;
    d->col_moments_rows_u8 = col_moments_rows_u8_avx512;
    d->sum_u8 = sum_u8_avx512;
    d->ssim_win_u8 = ssim_win_u8_avx512;
    d->col_moments_rows_u16 = col_moments_rows_u16_avx512;
    d->ssim_cols_u16 = ssim_cols_u16_avx512;
    d->vacc = vacc_avx512;
    d->vsum = vsum_avx512;
    d->col_slide = col_slide_avx512;
    d->box_rows = box_rows_avx512;
    d->flip_sums = flip_sums_avx512;
    d->dct8x8_low = dct8x8_low_avx512;
    d->idct8x8_low = idct8x8_low_avx512;
}
