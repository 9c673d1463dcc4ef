/*
 * dsp_c.c - the C references of the DSP table (dsp.h), and the table's
 * set-up. The references define the results: the optimised versions give
 * the same bits.
 */
#include "dsp.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dct.h"
#include "mask_gain.h"
#include "ssim_window.h"

static void cvt_u8_c(const uint8_t *in, int n, float *out)
{
    for (int x = 0; x < n; x++)
        out[x] = in[x];
}

static void cvt_u16_c(const uint16_t *in, int n, float *out)
{
    for (int x = 0; x < n; x++)
        out[x] = in[x];
}

static void hresample_c(const float *row, const int *idx, const float *wt, int taps, int n_out,
                        float scale, float *out)
{
    for (int X = 0; X < n_out; X++) {
        float s = 0;
        for (int k = 0; k < taps; k++)
            s += wt[(size_t)k * n_out + X] * row[idx[(size_t)k * n_out + X]];
        out[X] = s * scale;
    }
}

static void vacc_c(float *o, const float *t, float w, int n)
{
    for (int x = 0; x < n; x++)
        o[x] += w * t[x];
}

static void lerp_c(const float *a, const float *b, float f, float scale, int n, float *out)
{
    for (int x = 0; x < n; x++)
        out[x] = scale * (a[x] + f * (b[x] - a[x]));
}

static void lerp_idx_c(const float *src, const int *ia, const int *ib, const float *f, int n,
                       float *out)
{
    for (int x = 0; x < n; x++)
        out[x] = src[ia[x]] + f[x] * (src[ib[x]] - src[ia[x]]);
}

static void mark_row_c(const float *gt, const float *gb, float gf, const float *pt,
                       const float *pb, float pf, float alpha, float norm, int n, float *d,
                       double lanes[FM_DSP_LANES])
{
    fm_mark_row_from(gt, gb, gf, pt, pb, pf, alpha, norm, 0, n, d, lanes);
}

static void mark_rows_c(const FmMarkRows *m, int n, double (*lanes)[FM_DSP_LANES])
{
    fm_mark_rows_by_row(mark_row_c, m, n, lanes);
}

static void apply_rows_u8_c(const FmMarkRows *m, uint8_t *const *px, float gain, int n,
                            double (*lanes)[FM_DSP_LANES])
{
    for (int i = 0; i < m->g; i++)
        fm_apply_row_u8_from(m, i, px[i], gain, 0, n, lanes ? lanes[i] : NULL);
}

static void apply_rows_u16_c(const FmMarkRows *m, uint16_t *const *px, float gain, float unit,
                             int maxval, int n, double (*lanes)[FM_DSP_LANES])
{
    for (int i = 0; i < m->g; i++)
        fm_apply_row_u16_from(m, i, px[i], gain, unit, maxval, 0, n, lanes ? lanes[i] : NULL);
}

static void smooth_cells_c(const float *a, const float *b, const float *c, int n, float *out)
{
    for (int x = 1; x < n - 1; x++) {
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

static void cell_gains_c(const uint64_t *t, const uint64_t *t2, int count, int cell, int w,
                         int rows, double scale, const float *lut, int lut_n, float *out)
{
    for (int k = 0; k < count; k++) {
        int x0 = k * cell, bw = w - x0 < cell ? w - x0 : cell;
        out[k] = fm_mask_gain_of_sums(lut, lut_n, t[k], t2[k], (double)bw * rows, scale);
    }
}

static uint64_t sum_u8_c(const uint8_t *p, int n)
{
    uint64_t s = 0;
    for (int i = 0; i < n; i++)
        s += p[i];
    return s;
}

static void col_moments_rows_u8_c(const uint8_t *p, ptrdiff_t stride, int rows, int n,
                                  uint32_t *s, uint32_t *s2)
{
    for (int x = 0; x < n; x++)
        fm_col_moments_one_u8(p, stride, rows, x, s, s2);
}

static void col_moments_rows_u16_c(const uint16_t *p, ptrdiff_t stride, int rows, int n,
                                   uint32_t *s, uint64_t *s2)
{
    for (int x = 0; x < n; x++)
        fm_col_moments_one_u16(p, stride, rows, x, s, s2);
}

static void ssim_win_u8_c(const uint8_t *a, ptrdiff_t sa_stride, const uint8_t *b,
                          ptrdiff_t sb_stride, int n, int rows, uint32_t *sums)
{
    for (int x0 = 0, k = 0; x0 < n; x0 += 8, k++)
        fm_ssim_win_one_u8(a, sa_stride, b, sb_stride, x0, x0 + 8 < n ? x0 + 8 : n, rows,
                           sums + 5 * (size_t)k);
}

static uint64_t ssim_score_u8_c(const uint32_t *sums, int n, int rows, double *win)
{
    uint64_t err = 0;
    for (int x0 = 0, k = 0; x0 < n; x0 += 8, k++) {
        const uint32_t *s = sums + 5 * (size_t)k;
        int bw = n - x0 < 8 ? n - x0 : 8;
        err += (uint64_t)s[2] + s[3] - 2 * (uint64_t)s[4];
        win[k] = fm_ssim_window(s[0], s[1], s[2], s[3], s[4], (double)bw * rows);
    }
    return err;
}

static void ssim_cols_u16_c(const uint16_t *a, ptrdiff_t sa_stride, const uint16_t *b,
                            ptrdiff_t sb_stride, int n, int rows, uint64_t *sums)
{
    for (int x = 0; x < n; x++)
        fm_ssim_col_one_u16(a, sa_stride, b, sb_stride, x, n, rows, sums);
}

static void whiten_row_c(const float *in, float c, const float *s1, const float *s2, float k,
                         int n, float *out)
{
    for (int x = 0; x < n; x++) {
        float m = s1[x] * k, q = s2[x] * k;
        float var = q - m * m;
        float sd = sqrtf((var > 0 ? var : 0) + 0.5f * 0.5f);
        float v = ((in[x] - c) - m) / sd;
        out[x] = v > 3.0f ? 3.0f : v < -3.0f ? -3.0f : v;
    }
}

static void col_slide_c(const float *prev, const float *add, const float *sub, int n, float *out)
{
    for (int x = 0; x < n; x++)
        out[x] = (prev[x] + add[x]) - sub[x];
}

/* One output's window [x - r, x + r] clipped to [0, w): the samples and
 * their squares, less c, summed in float from the left, times 1 / count. The SIMD
 * versions add in the same order, lane by lane. */
static void box_rows_c(const float *in, ptrdiff_t in_stride, int nrows, int w, int r, float c,
                       float *o1, float *o2, ptrdiff_t out_stride)
{
    float inv[64];  /* 1 / window length; r is small */
    for (int k = 1; k <= 2 * r + 1 && k < 64; k++)
        inv[k] = 1.0f / (float)k;
    for (int j = 0; j < nrows; j++) {
        const float *i = in + j * in_stride;
        float *a1 = o1 + j * out_stride, *a2 = o2 + j * out_stride;
        for (int x = 0; x < w; x++)
            fm_box_row_one(i, w, r, c, x, inv, a1, a2);
    }
}

static void vsum_c(const float *const *rows, const float *w, int taps, int n, float *out)
{
    for (int x = 0; x < n; x++) {
        float s = 0;
        for (int k = 0; k < taps; k++)
            s += w[k] * rows[k][x];
        out[x] = s;
    }
}

#define SG(b, l) (((b) >> (l)) & 1 ? -1.0f : 1.0f)
#define ROW(b) { SG(b, 0), SG(b, 1), SG(b, 2), SG(b, 3), SG(b, 4), SG(b, 5), SG(b, 6), SG(b, 7) }
#define ROW4(b) ROW(b), ROW((b) + 1), ROW((b) + 2), ROW((b) + 3)
#define ROW16(b) ROW4(b), ROW4((b) + 4), ROW4((b) + 8), ROW4((b) + 12)
#define ROW64(b) ROW16(b), ROW16((b) + 16), ROW16((b) + 32), ROW16((b) + 48)
const float fm_dsp_byte_signs[256][8] __attribute__((aligned(32))) = {
    ROW64(0), ROW64(64), ROW64(128), ROW64(192)
};

static void flip_sums_c(const float *x, int rows, const int *row_shift, const uint32_t *flip,
                        int n, float *out)
{
    for (int i = 0; i < n; i++)
        out[i] = fm_flip_sum_one(x, rows, row_shift, flip[i]);
}

void fm_dsp_init_c(FmDsp *d)
{
    memset(d, 0, sizeof(*d));
    d->name = "c";
    d->cvt_u8 = cvt_u8_c;
    d->cvt_u16 = cvt_u16_c;
    d->hresample = hresample_c;
    d->vacc = vacc_c;
    d->vsum = vsum_c;
    d->lerp = lerp_c;
    d->lerp_idx = lerp_idx_c;
    d->mark_row = mark_row_c;
    d->mark_rows = mark_rows_c;
    d->apply_rows_u8 = apply_rows_u8_c;
    d->apply_rows_u16 = apply_rows_u16_c;
    d->smooth_cells = smooth_cells_c;
    d->cell_gains = cell_gains_c;
    d->col_moments_rows_u8 = col_moments_rows_u8_c;
    d->sum_u8 = sum_u8_c;
    d->col_moments_rows_u16 = col_moments_rows_u16_c;
    d->ssim_win_u8 = ssim_win_u8_c;
    d->ssim_score_u8 = ssim_score_u8_c;
    d->ssim_cols_u16 = ssim_cols_u16_c;
    d->whiten_row = whiten_row_c;
    d->box_rows = box_rows_c;
    d->col_slide = col_slide_c;
    d->flip_sums = flip_sums_c;
    d->dct8x8_low = fm_dct8x8_low;
    d->idct8x8_low = fm_idct8x8_low;
}

unsigned fm_dsp_cpu_flags(void)
{
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.1"))
        f |= FM_CPU_SSE41;
    if (__builtin_cpu_supports("avx2"))
        f |= FM_CPU_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        f |= FM_CPU_AVX512;
#endif
    return f;
}

void fm_dsp_init(FmDsp *dsp, unsigned cpu_mask)
{
    fm_dsp_init_c(dsp);
#if defined(__x86_64__) || defined(__i386__)
    fm_dsp_init_x86(dsp, cpu_mask & fm_dsp_cpu_flags());
#else
    (void)cpu_mask;
#endif
}

static FmDsp dsp_c, dsp_best;
static pthread_once_t dsp_once = PTHREAD_ONCE_INIT;
static int force_c;

/* FILMMARK_CPU: the highest level to use (c, sse4.1, avx2); unset or
 * anything else, the CPU's best */
static unsigned env_cpu_mask(void)
{
    const char *env = getenv("FILMMARK_CPU");
    if (!env)
        return ~0u;
    if (!strcmp(env, "c"))
        return 0;
    if (!strcmp(env, "sse4.1"))
        return FM_CPU_SSE41;
    if (!strcmp(env, "avx2"))
        return FM_CPU_SSE41 | FM_CPU_AVX2;
    return ~0u;
}

static void dsp_setup(void)
{
    fm_dsp_init_c(&dsp_c);
    fm_dsp_init(&dsp_best, env_cpu_mask());
}

const FmDsp *fm_dsp_get(void)
{
    pthread_once(&dsp_once, dsp_setup);
    return __atomic_load_n(&force_c, __ATOMIC_RELAXED) ? &dsp_c : &dsp_best;
}

void fm_dsp_force_c(int on)
{
    __atomic_store_n(&force_c, on != 0, __ATOMIC_RELAXED);
}
