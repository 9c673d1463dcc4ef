/*
 * dsp_sse41.c - SSE4.1 versions of the DSP kernels (dsp.h). Same operations
 * in the same order per output as the C references (no FMA, compiled with
 * -ffp-contract=off): the results are identical bit for bit.
 */
#include <math.h>
#include <smmintrin.h>

#include "dsp.h"
#include "dsp_x86.h"

static void cvt_u8_sse41(const uint8_t *in, int n, float *out)
{
    int x = 0;
    for (; x + 4 <= n; x += 4) {
        int32_t v;
        __builtin_memcpy(&v, in + x, 4);
        _mm_storeu_ps(out + x, _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(v))));
    }
    for (; x < n; x++)
        out[x] = in[x];
}

static void cvt_u16_sse41(const uint16_t *in, int n, float *out)
{
    int x = 0;
    for (; x + 4 <= n; x += 4)
        _mm_storeu_ps(out + x, _mm_cvtepi32_ps(_mm_cvtepu16_epi32(
                                   _mm_loadl_epi64((const __m128i *)(in + x)))));
    for (; x < n; x++)
        out[x] = in[x];
}

static void hresample_sse41(const float *row, const int *idx, const float *wt, int taps,
                            int n_out, float scale, float *out)
{
    int X = 0;
    __m128 vs = _mm_set1_ps(scale);
    for (; X + 4 <= n_out; X += 4) {
        __m128 s = _mm_setzero_ps();
        for (int k = 0; k < taps; k++) {
            const int *i = idx + (size_t)k * n_out + X;
            __m128 v = _mm_setr_ps(row[i[0]], row[i[1]], row[i[2]], row[i[3]]);
            s = _mm_add_ps(s, _mm_mul_ps(_mm_loadu_ps(wt + (size_t)k * n_out + X), v));
        }
        _mm_storeu_ps(out + X, _mm_mul_ps(s, vs));
    }
    for (; X < n_out; X++) {
        float s = 0;
        for (int k = 0; k < taps; k++)
            s += wt[(size_t)k * n_out + X] * row[idx[(size_t)k * n_out + X]];
        out[X] = s * scale;
    }
}

static void vacc_sse41(float *o, const float *t, float w, int n)
{
    int x = 0;
    __m128 vw = _mm_set1_ps(w);
    for (; x + 4 <= n; x += 4)
        _mm_storeu_ps(o + x, _mm_add_ps(_mm_loadu_ps(o + x), _mm_mul_ps(vw, _mm_loadu_ps(t + x))));
    for (; x < n; x++)
        o[x] += w * t[x];
}

static void lerp_sse41(const float *a, const float *b, float f, float scale, int n, float *out)
{
    int x = 0;
    __m128 vf = _mm_set1_ps(f), vs = _mm_set1_ps(scale);
    for (; x + 4 <= n; x += 4) {
        __m128 va = _mm_loadu_ps(a + x), vb = _mm_loadu_ps(b + x);
        _mm_storeu_ps(out + x, _mm_mul_ps(vs, _mm_add_ps(va, _mm_mul_ps(vf, _mm_sub_ps(vb, va)))));
    }
    for (; x < n; x++)
        out[x] = scale * (a[x] + f * (b[x] - a[x]));
}

typedef struct MarkArgs {
    __m128 gf, pf, alpha, norm;
} MarkArgs;

static inline __m128 mark4(const float *gt, const float *gb, const float *pt, const float *pb,
                           const MarkArgs *m, int x)
{
    __m128 a = _mm_loadu_ps(gt + x), b = _mm_loadu_ps(gb + x);
    __m128 g = _mm_add_ps(a, _mm_mul_ps(m->gf, _mm_sub_ps(b, a)));
    a = _mm_loadu_ps(pt + x);
    b = _mm_loadu_ps(pb + x);
    __m128 p = _mm_mul_ps(m->norm, _mm_add_ps(a, _mm_mul_ps(m->pf, _mm_sub_ps(b, a))));
    return _mm_mul_ps(_mm_mul_ps(m->alpha, g), p);
}

static inline __m128d sq_lo(__m128 v)
{
    __m128d d = _mm_cvtps_pd(v);
    return _mm_mul_pd(d, d);
}

static inline __m128d sq_hi(__m128 v)
{
    __m128d d = _mm_cvtps_pd(_mm_movehl_ps(v, v));
    return _mm_mul_pd(d, d);
}

static void mark_row_sse41(const float *gt, const float *gb, float gf, const float *pt,
                           const float *pb, float pf, float alpha, float norm, int n, float *d,
                           double lanes[FM_DSP_LANES])
{
    MarkArgs m = { _mm_set1_ps(gf), _mm_set1_ps(pf), _mm_set1_ps(alpha), _mm_set1_ps(norm) };
    __m128d l0 = _mm_loadu_pd(lanes), l1 = _mm_loadu_pd(lanes + 2), l2 = _mm_loadu_pd(lanes + 4),
            l3 = _mm_loadu_pd(lanes + 6);
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m128 v0 = mark4(gt, gb, pt, pb, &m, x), v1 = mark4(gt, gb, pt, pb, &m, x + 4);
        if (d) {
            _mm_storeu_ps(d + x, v0);
            _mm_storeu_ps(d + x + 4, v1);
        }
        l0 = _mm_add_pd(l0, sq_lo(v0));
        l1 = _mm_add_pd(l1, sq_hi(v0));
        l2 = _mm_add_pd(l2, sq_lo(v1));
        l3 = _mm_add_pd(l3, sq_hi(v1));
    }
    _mm_storeu_pd(lanes, l0);
    _mm_storeu_pd(lanes + 2, l1);
    _mm_storeu_pd(lanes + 4, l2);
    _mm_storeu_pd(lanes + 6, l3);
    fm_mark_row_from(gt, gb, gf, pt, pb, pf, alpha, norm, x, n, d, lanes);
}

static void apply_u8_sse41(uint8_t *px, const float *gt, const float *gb, float gf,
                           const float *pt, const float *pb, float pf, float alpha, float norm,
                           float gain, int n)
{
    MarkArgs m = { _mm_set1_ps(gf), _mm_set1_ps(pf), _mm_set1_ps(alpha), _mm_set1_ps(norm) };
    __m128 vg = _mm_set1_ps(gain);
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m128i p8 = _mm_loadl_epi64((const __m128i *)(px + x));
        __m128 a = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(p8));
        __m128 b = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_srli_si128(p8, 4)));
        a = _mm_add_ps(a, _mm_mul_ps(vg, mark4(gt, gb, pt, pb, &m, x)));
        b = _mm_add_ps(b, _mm_mul_ps(vg, mark4(gt, gb, pt, pb, &m, x + 4)));
        __m128i w = _mm_packs_epi32(_mm_cvtps_epi32(a), _mm_cvtps_epi32(b));
        _mm_storel_epi64((__m128i *)(px + x), _mm_packus_epi16(w, w));
    }
    for (; x < n; x++) {
        float d = fm_mark_at(gt, gb, gf, pt, pb, pf, alpha, norm, x);
        int v = (int)lrintf(px[x] + gain * d);
        px[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

static void apply_u16_sse41(uint16_t *px, const float *gt, const float *gb, float gf,
                            const float *pt, const float *pb, float pf, float alpha, float norm,
                            float gain, float unit, int maxval, int n)
{
    MarkArgs m = { _mm_set1_ps(gf), _mm_set1_ps(pf), _mm_set1_ps(alpha), _mm_set1_ps(norm) };
    __m128 vg = _mm_set1_ps(gain), vu = _mm_set1_ps(unit);
    __m128i zero = _mm_setzero_si128(), vmax = _mm_set1_epi32(maxval);
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m128i p16 = _mm_loadu_si128((const __m128i *)(px + x));
        __m128 a = _mm_cvtepi32_ps(_mm_cvtepu16_epi32(p16));
        __m128 b = _mm_cvtepi32_ps(_mm_cvtepu16_epi32(_mm_srli_si128(p16, 8)));
        a = _mm_add_ps(a, _mm_mul_ps(_mm_mul_ps(vg, mark4(gt, gb, pt, pb, &m, x)), vu));
        b = _mm_add_ps(b, _mm_mul_ps(_mm_mul_ps(vg, mark4(gt, gb, pt, pb, &m, x + 4)), vu));
        __m128i ia = _mm_min_epi32(_mm_max_epi32(_mm_cvtps_epi32(a), zero), vmax);
        __m128i ib = _mm_min_epi32(_mm_max_epi32(_mm_cvtps_epi32(b), zero), vmax);
        _mm_storeu_si128((__m128i *)(px + x), _mm_packus_epi32(ia, ib));
    }
    for (; x < n; x++) {
        float d = fm_mark_at(gt, gb, gf, pt, pb, pf, alpha, norm, x);
        int v = (int)lrintf(px[x] + gain * d * unit);
        px[x] = (uint16_t)(v < 0 ? 0 : v > maxval ? maxval : v);
    }
}

static void whiten_row_sse41(const float *in, float c, const float *s1, const float *s2, float k,
                             int n, float *out)
{
    __m128 zero = _mm_setzero_ps(), fl = _mm_set1_ps(0.5f * 0.5f), hi = _mm_set1_ps(3.0f),
           lo = _mm_set1_ps(-3.0f), vk = _mm_set1_ps(k), vc = _mm_set1_ps(c);
    int x = 0;
    for (; x + 4 <= n; x += 4) {
        __m128 vm = _mm_mul_ps(_mm_loadu_ps(s1 + x), vk);
        __m128 vq = _mm_mul_ps(_mm_loadu_ps(s2 + x), vk);
        __m128 var = _mm_sub_ps(vq, _mm_mul_ps(vm, vm));
        __m128 sd = _mm_sqrt_ps(_mm_add_ps(_mm_max_ps(var, zero), fl));
        __m128 v = _mm_div_ps(_mm_sub_ps(_mm_sub_ps(_mm_loadu_ps(in + x), vc), vm), sd);
        _mm_storeu_ps(out + x, _mm_max_ps(_mm_min_ps(v, hi), lo));
    }
    for (; x < n; x++) {
        float m = s1[x] * k, q = s2[x] * k;
        float var = q - m * m;
        float sd = sqrtf((var > 0 ? var : 0) + 0.5f * 0.5f);
        float v = ((in[x] - c) - m) / sd;
        out[x] = v > 3.0f ? 3.0f : v < -3.0f ? -3.0f : v;
    }
}

static void mark_rows_sse41(const FmMarkRows *m, int n, double (*lanes)[FM_DSP_LANES])
{
    fm_mark_rows_by_row(mark_row_sse41, m, n, lanes);
}

/* The sums and the add in two passes over each row (the one-row kernels). */
static void apply_rows_u8_sse41(const FmMarkRows *m, uint8_t *const *px, float gain, int n,
                                double (*lanes)[FM_DSP_LANES])
{
    if (lanes)
        fm_mark_rows_by_row(mark_row_sse41, m, n, lanes);
    for (int i = 0; i < m->g; i++)
        apply_u8_sse41(px[i], m->gt, m->gb, m->gf[i], m->pt, m->pb, m->pf[i], m->alpha, m->norm,
                       gain, n);
}

static void apply_rows_u16_sse41(const FmMarkRows *m, uint16_t *const *px, float gain, float unit,
                                 int maxval, int n, double (*lanes)[FM_DSP_LANES])
{
    if (lanes)
        fm_mark_rows_by_row(mark_row_sse41, m, n, lanes);
    for (int i = 0; i < m->g; i++)
        apply_u16_sse41(px[i], m->gt, m->gb, m->gf[i], m->pt, m->pb, m->pf[i], m->alpha, m->norm,
                        gain, unit, maxval, n);
}

void fm_dsp_init_sse41(FmDsp *d)
{
    d->name = "sse4.1";
    d->cvt_u8 = cvt_u8_sse41;
    d->cvt_u16 = cvt_u16_sse41;
    d->hresample = hresample_sse41;
    d->vacc = vacc_sse41;
    d->lerp = lerp_sse41;
    d->mark_row = mark_row_sse41;
    d->mark_rows = mark_rows_sse41;
    d->apply_rows_u8 = apply_rows_u8_sse41;
    d->apply_rows_u16 = apply_rows_u16_sse41;
    d->whiten_row = whiten_row_sse41;
}
