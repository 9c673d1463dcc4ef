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

static void hresample_avx2(const float *row, const int *idx, const float *wt, int taps,
                           int n_out, float scale, float *out)
{
    int X = 0;
    __m256 vs = _mm256_set1_ps(scale);
    for (; X + 8 <= n_out; X += 8) {
        __m256 s = _mm256_setzero_ps();
        for (int k = 0; k < taps; k++) {
            /* element loads: gathers are slow where the GDS mitigation is on */
            const int *i = idx + (size_t)k * n_out + X;
            __m256 v = _mm256_setr_ps(row[i[0]], row[i[1]], row[i[2]], row[i[3]], row[i[4]],
                                      row[i[5]], row[i[6]], row[i[7]]);
            s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_loadu_ps(wt + (size_t)k * n_out + X), v));
        }
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
static void box_rows_avx2(const float *in, ptrdiff_t in_stride, int nrows, int w, int r,
                          float *o1, float *o2, ptrdiff_t out_stride)
{
    float inv[64];
    for (int k = 1; k <= 2 * r + 1 && k < 64; k++)
        inv[k] = 1.0f / (float)k;
    int j = 0;
    /* eight rows: two independent chains of additions in flight */
    for (; j + 8 <= nrows; j += 8) {
        const float *p[8];
        for (int l = 0; l < 8; l++)
            p[l] = in + (j + l) * in_stride;
        float *a1 = o1 + j * out_stride, *a2 = o2 + j * out_stride;
        __m256d s1 = _mm256_setzero_pd(), s2 = s1, t1 = s1, t2 = s1;
        int lo = 0, hi = -1;
        for (int x = 0; x < w; x++) {
            int a = x - r < 0 ? 0 : x - r, e = x + r >= w ? w - 1 : x + r;
            while (hi < e) {
                hi++;
                __m256d v = _mm256_setr_pd(p[0][hi], p[1][hi], p[2][hi], p[3][hi]);
                __m256d u = _mm256_setr_pd(p[4][hi], p[5][hi], p[6][hi], p[7][hi]);
                s1 = _mm256_add_pd(s1, v);
                t1 = _mm256_add_pd(t1, u);
                s2 = _mm256_add_pd(s2, _mm256_mul_pd(v, v));
                t2 = _mm256_add_pd(t2, _mm256_mul_pd(u, u));
            }
            while (lo < a) {
                __m256d v = _mm256_setr_pd(p[0][lo], p[1][lo], p[2][lo], p[3][lo]);
                __m256d u = _mm256_setr_pd(p[4][lo], p[5][lo], p[6][lo], p[7][lo]);
                s1 = _mm256_sub_pd(s1, v);
                t1 = _mm256_sub_pd(t1, u);
                s2 = _mm256_sub_pd(s2, _mm256_mul_pd(v, v));
                t2 = _mm256_sub_pd(t2, _mm256_mul_pd(u, u));
                lo++;
            }
            __m256 k = _mm256_set1_ps(inv[e - a + 1]);
            float m1[8], m2[8];
            _mm256_storeu_ps(m1, _mm256_mul_ps(_mm256_set_m128(_mm256_cvtpd_ps(t1),
                                                               _mm256_cvtpd_ps(s1)), k));
            _mm256_storeu_ps(m2, _mm256_mul_ps(_mm256_set_m128(_mm256_cvtpd_ps(t2),
                                                               _mm256_cvtpd_ps(s2)), k));
            for (int l = 0; l < 8; l++) {
                a1[l * out_stride + x] = m1[l];
                a2[l * out_stride + x] = m2[l];
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
