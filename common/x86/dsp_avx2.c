/*
 * dsp_avx2.c - AVX2 versions of the DSP kernels (dsp.h). Same operations in
 * the same order per output as the C references (AVX2 only, no FMA;
 * compiled with -ffp-contract=off): the results are identical bit for bit.
 */
#include <immintrin.h>
#include <math.h>

#include "dsp.h"
#include "dsp_x86.h"

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

static void hresample_avx2(const float *row, const int *idx, const float *wt, int taps,
                           int n_out, float scale, float *out)
{
    int X = 0;
    __m256 vs = _mm256_set1_ps(scale);
    /* integer downscales by 2, 3 or 6 (the mark grid of 720p, 1080p and 4K
     * pictures, the detector's fine grids) and by 3:2 (1080p to its fine
     * grid) read whole vectors and shuffle */
    int r = taps == 2 || taps == 3 || taps == 6 ? taps : 0;
    for (; X + 8 <= n_out; X += 8) {
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
    for (; X < n_out; X++) {
        float s = 0;
        for (int k = 0; k < taps; k++)
            s += wt[(size_t)k * n_out + X] * row[idx[(size_t)k * n_out + X]];
        out[X] = s * scale;
    }
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

static void lerp_idx_avx2(const float *src, const int *ia, const int *ib, const float *f, int n,
                          float *out)
{
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        const int *a = ia + x, *b = ib + x;
        __m256 va = _mm256_setr_ps(src[a[0]], src[a[1]], src[a[2]], src[a[3]], src[a[4]],
                                   src[a[5]], src[a[6]], src[a[7]]);
        __m256 vb = _mm256_setr_ps(src[b[0]], src[b[1]], src[b[2]], src[b[3]], src[b[4]],
                                   src[b[5]], src[b[6]], src[b[7]]);
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

static inline float mark1(const float *gt, const float *gb, float gf, const float *pt,
                          const float *pb, float pf, float alpha, float norm, int x)
{
    float g = gt[x] + gf * (gb[x] - gt[x]);
    float p = norm * (pt[x] + pf * (pb[x] - pt[x]));
    return (alpha * g) * p;
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
    for (; x < n; x++) {
        float v = mark1(gt, gb, gf, pt, pb, pf, alpha, norm, x);
        if (d)
            d[x] = v;
        lanes[x % FM_DSP_LANES] += (double)v * v;
    }
}

static void apply_u8_avx2(uint8_t *px, const float *gt, const float *gb, float gf,
                          const float *pt, const float *pb, float pf, float alpha, float norm,
                          float gain, int n)
{
    MarkArgs m = { _mm256_set1_ps(gf), _mm256_set1_ps(pf), _mm256_set1_ps(alpha),
                   _mm256_set1_ps(norm) };
    __m256 vg = _mm256_set1_ps(gain);
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
            _mm_loadl_epi64((const __m128i *)(px + x))));
        a = _mm256_add_ps(a, _mm256_mul_ps(vg, mark8(gt, gb, pt, pb, &m, x)));
        __m256i v = _mm256_cvtps_epi32(a);
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64((__m128i *)(px + x), _mm_packus_epi16(w, w));
    }
    for (; x < n; x++) {
        float d = mark1(gt, gb, gf, pt, pb, pf, alpha, norm, x);
        int v = (int)lrintf(px[x] + gain * d);
        px[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

static void apply_u16_avx2(uint16_t *px, const float *gt, const float *gb, float gf,
                           const float *pt, const float *pb, float pf, float alpha, float norm,
                           float gain, float unit, int maxval, int n)
{
    MarkArgs m = { _mm256_set1_ps(gf), _mm256_set1_ps(pf), _mm256_set1_ps(alpha),
                   _mm256_set1_ps(norm) };
    __m256 vg = _mm256_set1_ps(gain), vu = _mm256_set1_ps(unit);
    __m256i zero = _mm256_setzero_si256(), vmax = _mm256_set1_epi32(maxval);
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(
            _mm_loadu_si128((const __m128i *)(px + x))));
        a = _mm256_add_ps(a, _mm256_mul_ps(_mm256_mul_ps(vg, mark8(gt, gb, pt, pb, &m, x)), vu));
        __m256i v = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(a), zero), vmax);
        _mm_storeu_si128((__m128i *)(px + x),
                         _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
    }
    for (; x < n; x++) {
        float d = mark1(gt, gb, gf, pt, pb, pf, alpha, norm, x);
        int v = (int)lrintf(px[x] + gain * d * unit);
        px[x] = (uint16_t)(v < 0 ? 0 : v > maxval ? maxval : v);
    }
}

static void col_moments_u8_avx2(const uint8_t *row, int n, uint32_t *s, uint32_t *s2)
{
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + x)));
        _mm256_storeu_si256((__m256i *)(s + x),
                            _mm256_add_epi32(_mm256_loadu_si256((__m256i *)(s + x)), v));
        _mm256_storeu_si256((__m256i *)(s2 + x),
                            _mm256_add_epi32(_mm256_loadu_si256((__m256i *)(s2 + x)),
                                             _mm256_mullo_epi32(v, v)));
    }
    for (; x < n; x++) {
        uint32_t v = row[x];
        s[x] += v;
        s2[x] += v * v;
    }
}

static void col_moments_u16_avx2(const uint16_t *row, int n, uint32_t *s, uint64_t *s2)
{
    int x = 0;
    for (; x + 4 <= n; x += 4) {
        __m128i r = _mm_loadl_epi64((const __m128i *)(row + x));
        __m128i v32 = _mm_cvtepu16_epi32(r);
        _mm_storeu_si128((__m128i *)(s + x), _mm_add_epi32(_mm_loadu_si128((__m128i *)(s + x)), v32));
        __m256i v64 = _mm256_cvtepu16_epi64(r);
        _mm256_storeu_si256((__m256i *)(s2 + x),
                            _mm256_add_epi64(_mm256_loadu_si256((__m256i *)(s2 + x)),
                                             _mm256_mul_epu32(v64, v64)));
    }
    for (; x < n; x++) {
        uint32_t v = row[x];
        s[x] += v;
        s2[x] += (uint64_t)v * v;
    }
}

static void ssim_cols_u8_avx2(const uint8_t *a, ptrdiff_t sa_stride, const uint8_t *b,
                              ptrdiff_t sb_stride, int n, int rows, uint32_t *sums)
{
    uint32_t *sa = sums, *sb = sums + n, *saa = sums + 2 * (size_t)n, *sbb = sums + 3 * (size_t)n,
             *sab = sums + 4 * (size_t)n;
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256i s1 = _mm256_setzero_si256(), s2 = s1, s11 = s1, s22 = s1, s12 = s1;
        for (int y = 0; y < rows; y++) {
            __m256i va = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(a + y * sa_stride + x)));
            __m256i vb = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(b + y * sb_stride + x)));
            s1 = _mm256_add_epi32(s1, va);
            s2 = _mm256_add_epi32(s2, vb);
            s11 = _mm256_add_epi32(s11, _mm256_mullo_epi32(va, va));
            s22 = _mm256_add_epi32(s22, _mm256_mullo_epi32(vb, vb));
            s12 = _mm256_add_epi32(s12, _mm256_mullo_epi32(va, vb));
        }
        _mm256_storeu_si256((__m256i *)(sa + x), s1);
        _mm256_storeu_si256((__m256i *)(sb + x), s2);
        _mm256_storeu_si256((__m256i *)(saa + x), s11);
        _mm256_storeu_si256((__m256i *)(sbb + x), s22);
        _mm256_storeu_si256((__m256i *)(sab + x), s12);
    }
    for (; x < n; x++) {
        uint32_t s1 = 0, s2 = 0, s11 = 0, s22 = 0, s12 = 0;
        for (int y = 0; y < rows; y++) {
            uint32_t va = a[y * sa_stride + x], vb = b[y * sb_stride + x];
            s1 += va;
            s2 += vb;
            s11 += va * va;
            s22 += vb * vb;
            s12 += va * vb;
        }
        sa[x] = s1;
        sb[x] = s2;
        saa[x] = s11;
        sbb[x] = s22;
        sab[x] = s12;
    }
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
    for (; x < n; x++) {
        uint64_t s1 = 0, s2 = 0, s11 = 0, s22 = 0, s12 = 0;
        for (int y = 0; y < rows; y++) {
            uint64_t va = a[y * sa_stride + x], vb = b[y * sb_stride + x];
            s1 += va;
            s2 += vb;
            s11 += va * va;
            s22 += vb * vb;
            s12 += va * vb;
        }
        sa[x] = s1;
        sb[x] = s2;
        saa[x] = s11;
        sbb[x] = s22;
        sab[x] = s12;
    }
}

static void whiten_row_avx2(const float *in, const float *m, const float *q, int n, float *out)
{
    __m256 zero = _mm256_setzero_ps(), fl = _mm256_set1_ps(0.5f * 0.5f),
           hi = _mm256_set1_ps(3.0f), lo = _mm256_set1_ps(-3.0f);
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256 vm = _mm256_loadu_ps(m + x);
        __m256 var = _mm256_sub_ps(_mm256_loadu_ps(q + x), _mm256_mul_ps(vm, vm));
        __m256 sd = _mm256_sqrt_ps(_mm256_add_ps(_mm256_max_ps(var, zero), fl));
        __m256 v = _mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(in + x), vm), sd);
        _mm256_storeu_ps(out + x, _mm256_max_ps(_mm256_min_ps(v, hi), lo));
    }
    for (; x < n; x++) {
        float var = q[x] - m[x] * m[x];
        float sd = sqrtf((var > 0 ? var : 0) + 0.5f * 0.5f);
        float v = (in[x] - m[x]) / sd;
        out[x] = v > 3.0f ? 3.0f : v < -3.0f ? -3.0f : v;
    }
}

/* Four rows at once, one per double lane: each lane does the reference's
 * additions in the reference's order. */
/* 8x8 transpose: r[l] holds row l on entry, column l on return. */
static inline void transpose8x8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Columns of an 8-row strip, transposed 8 at a time into a ring (a column
 * is 8 floats, row l in lane l); the window needs at most 2r + 1 + 8 < 128
 * of them at once. */
#define BOX_RING 128

typedef struct BoxStrip {
    const float *in;
    ptrdiff_t stride;
    int w, filled;  /* columns [0, filled) transposed so far */
    float *ring;    /* BOX_RING x 8 */
} BoxStrip;

static inline const float *box_col(BoxStrip *b, int c)
{
    while (b->filled <= c) {
        int c0 = b->filled;
        if (c0 + 8 <= b->w) {
            __m256 r[8];
            for (int l = 0; l < 8; l++)
                r[l] = _mm256_loadu_ps(b->in + l * b->stride + c0);
            transpose8x8(r);
            for (int i = 0; i < 8; i++)
                _mm256_store_ps(b->ring + ((c0 + i) & (BOX_RING - 1)) * 8, r[i]);
        } else {
            for (int i = 0; i < 8; i++)
                for (int l = 0; l < 8; l++)
                    b->ring[((c0 + i) & (BOX_RING - 1)) * 8 + l] =
                        c0 + i < b->w ? b->in[l * b->stride + c0 + i] : 0.0f;
        }
        b->filled = c0 + 8;
    }
    return b->ring + (c & (BOX_RING - 1)) * 8;
}

/* Stores columns [x0, x0 + n) (n <= 8) of an 8-row block kept column-wise. */
static inline void box_store(float *o, ptrdiff_t stride, const float *cols, int x0, int n)
{
    if (n == 8) {
        __m256 r[8];
        for (int i = 0; i < 8; i++)
            r[i] = _mm256_load_ps(cols + i * 8);
        transpose8x8(r);
        for (int l = 0; l < 8; l++)
            _mm256_storeu_ps(o + l * stride + x0, r[l]);
        return;
    }
    for (int i = 0; i < n; i++)
        for (int l = 0; l < 8; l++)
            o[l * stride + x0 + i] = cols[i * 8 + l];
}

static void box_rows_avx2(const float *in, ptrdiff_t in_stride, int nrows, int w, int r,
                          float *o1, float *o2, ptrdiff_t out_stride)
{
    float inv[64];
    for (int k = 1; k <= 2 * r + 1 && k < 64; k++)
        inv[k] = 1.0f / (float)k;
    _Alignas(32) float ring[BOX_RING * 8];
    _Alignas(32) float c1[64], c2[64];  /* 8 output columns of each result */
    int j = 0;
    /* eight rows: their columns transposed into vectors (row l in lane l),
     * the running sums of rows 0-3 and 4-7 as two chains of doubles */
    for (; j + 8 <= nrows; j += 8) {
        BoxStrip b = { in + j * in_stride, in_stride, w, 0, ring };
        float *a1 = o1 + j * out_stride, *a2 = o2 + j * out_stride;
        __m256d s1 = _mm256_setzero_pd(), s2 = s1, t1 = s1, t2 = s1;
        int lo = 0, hi = -1;
        for (int x = 0; x < w; x++) {
            int a = x - r < 0 ? 0 : x - r, e = x + r >= w ? w - 1 : x + r;
            while (hi < e) {
                hi++;
                __m256 c = _mm256_load_ps(box_col(&b, hi));
                __m256d v = _mm256_cvtps_pd(_mm256_castps256_ps128(c));
                __m256d u = _mm256_cvtps_pd(_mm256_extractf128_ps(c, 1));
                s1 = _mm256_add_pd(s1, v);
                t1 = _mm256_add_pd(t1, u);
                s2 = _mm256_add_pd(s2, _mm256_mul_pd(v, v));
                t2 = _mm256_add_pd(t2, _mm256_mul_pd(u, u));
            }
            while (lo < a) {
                __m256 c = _mm256_load_ps(box_col(&b, lo));
                __m256d v = _mm256_cvtps_pd(_mm256_castps256_ps128(c));
                __m256d u = _mm256_cvtps_pd(_mm256_extractf128_ps(c, 1));
                s1 = _mm256_sub_pd(s1, v);
                t1 = _mm256_sub_pd(t1, u);
                s2 = _mm256_sub_pd(s2, _mm256_mul_pd(v, v));
                t2 = _mm256_sub_pd(t2, _mm256_mul_pd(u, u));
                lo++;
            }
            __m256 k = _mm256_set1_ps(inv[e - a + 1]);
            _mm256_store_ps(c1 + (x & 7) * 8, _mm256_mul_ps(_mm256_set_m128(_mm256_cvtpd_ps(t1),
                                                           _mm256_cvtpd_ps(s1)), k));
            _mm256_store_ps(c2 + (x & 7) * 8, _mm256_mul_ps(_mm256_set_m128(_mm256_cvtpd_ps(t2),
                                                           _mm256_cvtpd_ps(s2)), k));
            if ((x & 7) == 7 || x == w - 1) {
                box_store(a1, out_stride, c1, x & ~7, (x & 7) + 1);
                box_store(a2, out_stride, c2, x & ~7, (x & 7) + 1);
            }
        }
    }
    for (; j + 4 <= nrows; j += 4) {
        const float *i0 = in + j * in_stride, *i1 = i0 + in_stride, *i2 = i1 + in_stride,
                    *i3 = i2 + in_stride;
        float *a1 = o1 + j * out_stride, *a2 = o2 + j * out_stride;
        __m256d s1 = _mm256_setzero_pd(), s2 = _mm256_setzero_pd();
        int lo = 0, hi = -1;
        for (int x = 0; x < w; x++) {
            int a = x - r < 0 ? 0 : x - r, e = x + r >= w ? w - 1 : x + r;
            while (hi < e) {
                hi++;
                __m256d v = _mm256_setr_pd(i0[hi], i1[hi], i2[hi], i3[hi]);
                s1 = _mm256_add_pd(s1, v);
                s2 = _mm256_add_pd(s2, _mm256_mul_pd(v, v));
            }
            while (lo < a) {
                __m256d v = _mm256_setr_pd(i0[lo], i1[lo], i2[lo], i3[lo]);
                s1 = _mm256_sub_pd(s1, v);
                s2 = _mm256_sub_pd(s2, _mm256_mul_pd(v, v));
                lo++;
            }
            __m128 k = _mm_set1_ps(inv[e - a + 1]);
            float m1[4], m2[4];
            _mm_storeu_ps(m1, _mm_mul_ps(_mm256_cvtpd_ps(s1), k));
            _mm_storeu_ps(m2, _mm_mul_ps(_mm256_cvtpd_ps(s2), k));
            for (int l = 0; l < 4; l++) {
                a1[l * out_stride + x] = m1[l];
                a2[l * out_stride + x] = m2[l];
            }
        }
    }
    for (; j < nrows; j++) {
        const float *i = in + j * in_stride;
        float *a1 = o1 + j * out_stride, *a2 = o2 + j * out_stride;
        double s1 = 0, s2 = 0;
        int lo = 0, hi = -1;
        for (int x = 0; x < w; x++) {
            int a = x - r < 0 ? 0 : x - r, e = x + r >= w ? w - 1 : x + r;
            while (hi < e) {
                hi++;
                s1 += i[hi];
                s2 += (double)i[hi] * i[hi];
            }
            while (lo < a) {
                s1 -= i[lo];
                s2 -= (double)i[lo] * i[lo];
                lo++;
            }
            float k = inv[e - a + 1];
            a1[x] = (float)s1 * k;
            a2[x] = (float)s2 * k;
        }
    }
}

static void col_add_avx2(double *c, const float *p, int n)
{
    int x = 0;
    for (; x + 4 <= n; x += 4)
        _mm256_storeu_pd(c + x, _mm256_add_pd(_mm256_loadu_pd(c + x),
                                              _mm256_cvtps_pd(_mm_loadu_ps(p + x))));
    for (; x < n; x++)
        c[x] += p[x];
}

static void col_sub_avx2(double *c, const float *p, int n)
{
    int x = 0;
    for (; x + 4 <= n; x += 4)
        _mm256_storeu_pd(c + x, _mm256_sub_pd(_mm256_loadu_pd(c + x),
                                              _mm256_cvtps_pd(_mm_loadu_ps(p + x))));
    for (; x < n; x++)
        c[x] -= p[x];
}

static void col_out_avx2(const double *c, float k, int n, float *out)
{
    __m128 vk = _mm_set1_ps(k);
    int x = 0;
    for (; x + 4 <= n; x += 4)
        _mm_storeu_ps(out + x, _mm_mul_ps(_mm256_cvtpd_ps(_mm256_loadu_pd(c + x)), vk));
    for (; x < n; x++)
        out[x] = (float)c[x] * k;
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
    d->apply_u8 = apply_u8_avx2;
    d->apply_u16 = apply_u16_avx2;
    d->col_moments_u8 = col_moments_u8_avx2;
    d->col_moments_u16 = col_moments_u16_avx2;
    d->ssim_cols_u8 = ssim_cols_u8_avx2;
    d->ssim_cols_u16 = ssim_cols_u16_avx2;
    d->whiten_row = whiten_row_avx2;
    d->box_rows = box_rows_avx2;
    d->col_add = col_add_avx2;
    d->col_sub = col_sub_avx2;
    d->col_out = col_out_avx2;
}
