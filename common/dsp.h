/*
 * dsp.h - the per-pixel kernels of the mark stage and of the detector's
 * per-frame work, behind one table of function pointers (dav1d style).
 *
 * fm_dsp_get() fills the table once with the plain C references
 * (common/dsp_c.c), then overrides entries with SSE4.1 and AVX2 versions,
 * and the hottest of them with AVX-512 ones (common/x86/), where the CPU
 * has them. FILMMARK_CPU=c in the environment,
 * or fm_dsp_force_c(1), keeps the references (FILMMARK_CPU=sse4.1 or avx2
 * stops at that level). Contexts take the table at
 * set-up and pick the 8-bit or 16-bit entry once per frame, never in the
 * pixel loop.
 *
 * Every optimised kernel gives exactly the bits of its reference: integer
 * kernels trivially; float kernels do the same IEEE operations in the same
 * order per output (no FMA contraction, no reassociation), and the double
 * sum of squares (mark_row) keeps eight partial sums by x mod 8, combined in
 * a fixed order. tests/test_dsp.c checks each one on random input and odd
 * widths, and times them (test_dsp --bench).
 */
#ifndef FM_DSP_H
#define FM_DSP_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Partial sums kept by mark_row: lane x % FM_DSP_LANES. */
#define FM_DSP_LANES 8

/* Most rows in one call of mark_rows. */
#define FM_DSP_GROUP_MAX 8

/* Rows sharing their sources: mask rows gt/gb and tile rows pt/pb, row i
 * weighted gf[i] and pf[i], 1 <= g <= FM_DSP_GROUP_MAX. */
typedef struct FmMarkRows {
    const float *gt, *gb, *pt, *pb;
    const float *gf, *pf;
    int g;
    float alpha, norm;
} FmMarkRows;

typedef struct FmDsp {
    const char *name;  /* "c", "sse4.1" or "avx2": the best level installed */

    /* samples to floats, unscaled */
    void (*cvt_u8)(const uint8_t *in, int n, float *out);
    void (*cvt_u16)(const uint16_t *in, int n, float *out);

    /* area resampling, horizontal: out[X] = scale * sum_k wt[k*n_out+X] * row[idx[k*n_out+X]],
     * k = 0..taps-1 in order (tap-major tables; unused taps have weight 0) */
    void (*hresample)(const float *row, const int *idx, const float *wt, int taps, int n_out,
                      float scale, float *out);
    /* area resampling, vertical: o[x] += w * t[x] */
    void (*vacc)(float *o, const float *t, float w, int n);
    /* a whole output row of it: out[x] = (((0 + w[0] rows[0][x]) + w[1] rows[1][x]) + ...),
     * taps >= 1, the sum vacc gives from a zeroed row */
    void (*vsum)(const float *const *rows, const float *w, int taps, int n, float *out);

    /* out[x] = scale * (a[x] + f * (b[x] - a[x])): bilinear sampling, rows
     * already interpolated horizontally */
    void (*lerp)(const float *a, const float *b, float f, float scale, int n, float *out);

    /* out[x] = src[ia[x]] + f[x] * (src[ib[x]] - src[ia[x]]): a row of cells
     * or tile samples interpolated across the picture */
    void (*lerp_idx)(const float *src, const int *ia, const int *ib, const float *f, int n,
                     float *out);

    /*
     * The mark of one row: g = gt + gf (gb - gt) the mask, p = norm (pt + pf (pb - pt)) the
     * tile, d[x] = (alpha g) p. d may be NULL. lanes[x % 8] += (double)d * d (in x order).
     */
    void (*mark_row)(const float *gt, const float *gb, float gf, const float *pt,
                     const float *pb, float pf, float alpha, float norm, int n, float *d,
                     double lanes[FM_DSP_LANES]);
    /*
     * A group of rows that interpolate the same two mask rows and the same
     * two tile rows (FmMarkRows), each with its own weights: per row, the
     * sums of mark_row (without d). The SIMD version loads the shared
     * sources once for all the rows.
     */
    void (*mark_rows)(const FmMarkRows *m, int n, double (*lanes)[FM_DSP_LANES]);
    /*
     * The same group's mark added: row i's pixels px[i] become
     * clip(lrintf(px + gain d)) (8-bit) or clip(lrintf(px + (gain d) unit),
     * 0, maxval) (deeper), d as mark_row's; and, when lanes is not NULL,
     * lanes[i] get mark_rows' sums (of d, before the gain) in the same pass:
     * the embedder's one-pass mark at gain 1 of a frame expected to stay
     * under the PSNR cap (embedder.c).
     */
    void (*apply_rows_u8)(const FmMarkRows *m, uint8_t *const *px, float gain, int n,
                          double (*lanes)[FM_DSP_LANES]);
    void (*apply_rows_u16)(const FmMarkRows *m, uint16_t *const *px, float gain, float unit,
                           int maxval, int n, double (*lanes)[FM_DSP_LANES]);

    /* the mask gains of a row of cells (mask_gain.h, fm_mask_gain_of_sums):
     * cell k's samples summed t[k], their squares t2[k] (each < 2^52), over
     * `rows` rows of `cell` columns (the last cell clipped at column w);
     * scale = 2^(8 - bit depth); the texture table lut[0 .. lut_n) */
    void (*cell_gains)(const uint64_t *t, const uint64_t *t2, int count, int cell, int w,
                       int rows, double scale, const float *lut, int lut_n, float *out);

    /* the mask's smoothing (mask.c) of a row of cells b between rows a and
     * c, for 1 <= x < n - 1: the nine neighbours summed from 0 row by row,
     * left to right, then out[x] = min(sum / 9, 2 b[x]) (the smaller; the
     * second when they compare equal); out[0] and out[n - 1] untouched */
    void (*smooth_cells)(const float *a, const float *b, const float *c, int n, float *out);

    /* mask statistics: s[x] = sum of v, s2[x] = sum of v * v down the
     * column over `rows` rows (1 <= rows <= 256) from p, rows stride bytes
     * apart (8-bit), and the same of deeper samples (stride in bytes) */
    void (*col_moments_rows_u8)(const uint8_t *p, ptrdiff_t stride, int rows, int n, uint32_t *s,
                                uint32_t *s2);
    void (*col_moments_rows_u16)(const uint16_t *p, ptrdiff_t stride, int rows, int n,
                                 uint32_t *s, uint64_t *s2);

    /* the n samples at p summed (the content tag's cell sums) */
    uint64_t (*sum_u8)(const uint8_t *p, int n);

    /* SSIM statistics of 8-bit pictures over `rows` rows (rows <= 8), per
     * window of 8 columns (the last one narrower when n is not a multiple
     * of 8): sums[5 k + 0..4] = sa, sb, saa, sbb, sab of window k (columns
     * 8 k .. 8 k + 7), for k < (n + 7) / 8, overwritten */
    void (*ssim_win_u8)(const uint8_t *a, ptrdiff_t sa_stride, const uint8_t *b,
                        ptrdiff_t sb_stride, int n, int rows, uint32_t *sums);
    /* the SSIM of those windows (ssim_window.h) into win[k], from
     * ssim_win_u8's sums over `rows` rows of n columns; returns the sum of
     * the squared differences sa a + sbb - 2 sab over the windows */
    uint64_t (*ssim_score_u8)(const uint32_t *sums, int n, int rows, double *win);
    /* and of deeper ones per column: sa, sb, saa, sbb, sab (each n
     * entries, overwritten) */
    void (*ssim_cols_u16)(const uint16_t *a, ptrdiff_t sa_stride, const uint16_t *b,
                          ptrdiff_t sb_stride, int n, int rows, uint64_t *sums);

    /* whitening from box sums of the samples less c: m = s1 k, q = s2 k
     * (their box means and the means of their squares), out = clip(((in - c)
     * - m) / sqrtf(max(q - m m, 0) + 0.25), +/-3) */
    void (*whiten_row)(const float *in, float c, const float *s1, const float *s2, float k,
                       int n, float *out);
    /* box means along rows, window [x - r, x + r] clipped to [0, w), nrows
     * rows: o1 = the samples less c (d = in - c) summed in float from the
     * window's left end, times 1 / count (float); o2 the same for d d. Taking
     * c near the samples keeps the variance q - m m from being a small
     * difference of large floats. */
    void (*box_rows)(const float *in, ptrdiff_t in_stride, int nrows, int w, int r, float c,
                     float *o1, float *o2, ptrdiff_t out_stride);
    /* a box sum down the columns moved one row on: out = (prev + add) - sub
     * (whiten.c; the sums are taken afresh with vsum every 8 rows) */
    void (*col_slide)(const float *prev, const float *add, const float *sub, int n, float *out);

    /* a slot's cells under flip words (cell_view.h): out[i] = the rows x 8
     * floats of x with lane l of row y negated where bit row_shift[y] + l of
     * flip[i] is set (1 <= rows <= 8, row_shift[y] + 7 < 32), summed per lane over the rows
     * from 0, lane l + 4 added to lane l, then ((0 + 1) + (2 + 3)) */
    void (*flip_sums)(const float *x, int rows, const int *row_shift, const uint32_t *flip,
                      int n, float *out);

    /* the low coefficients (u + v <= FM_DCT_LOW) of the 8x8 orthonormal
     * DCT-II of n blocks side by side, coefficient-major, and the inverse
     * of such blocks (dct.h: fm_dct8x8_low, fm_idct8x8_low) */
    void (*dct8x8_low)(const float *in, ptrdiff_t stride, int n, float *out);
    void (*idct8x8_low)(const float *in, int n, float *out, ptrdiff_t stride);
} FmDsp;

/* +1 / -1 for each bit of a byte, low bit first (a row of cell signs,
 * flip_sums): 32-byte aligned rows. */
extern const float fm_dsp_byte_signs[256][8];

/* CPU levels */
#define FM_CPU_SSE41 (1u << 0)
#define FM_CPU_AVX2 (1u << 1)
#define FM_CPU_AVX512 (1u << 2) /* F, BW, DQ and VL */

/* The table for this CPU (honours FILMMARK_CPU=c and fm_dsp_force_c). */
const FmDsp *fm_dsp_get(void);

/* 1: later fm_dsp_get() calls return the C references; 0: back to the CPU's
 * best. For tests and benchmarks; contexts keep the table they took. */
void fm_dsp_force_c(int on);

/* Fills a table with the references, then the levels in cpu_mask (and the CPU has). */
void fm_dsp_init(FmDsp *dsp, unsigned cpu_mask);

/* What the CPU has (FM_CPU_*). */
unsigned fm_dsp_cpu_flags(void);

/* The C references (dsp_c.c), and the x86 overrides (x86/). */
void fm_dsp_init_c(FmDsp *dsp);
void fm_dsp_init_x86(FmDsp *dsp, unsigned cpu_mask);

/* mark_rows row by row with a level's one-row kernel (the reference, and
 * levels without a fused version). */
typedef void (*FmMarkRowFn)(const float *, const float *, float, const float *, const float *,
                            float, float, float, int, float *, double *);

static inline void fm_mark_rows_by_row(FmMarkRowFn f, const FmMarkRows *m, int n,
                                       double (*lanes)[FM_DSP_LANES])
{
    for (int i = 0; i < m->g; i++)
        f(m->gt, m->gb, m->gf[i], m->pt, m->pb, m->pf[i], m->alpha, m->norm, n, NULL, lanes[i]);
}

/* One sample of the mark (mark_row's d[x]): the references' definition,
 * and the SIMD kernels' for the columns after their vectors. */
static inline float fm_mark_at(const float *gt, const float *gb, float gf, const float *pt,
                               const float *pb, float pf, float alpha, float norm, int x)
{
    float g = gt[x] + gf * (gb[x] - gt[x]);
    float p = norm * (pt[x] + pf * (pb[x] - pt[x]));
    return (alpha * g) * p;
}

/* mark_row over columns [x0, n) */
static inline void fm_mark_row_from(const float *gt, const float *gb, float gf, const float *pt,
                                    const float *pb, float pf, float alpha, float norm, int x0,
                                    int n, float *d, double lanes[FM_DSP_LANES])
{
    for (int x = x0; x < n; x++) {
        float v = fm_mark_at(gt, gb, gf, pt, pb, pf, alpha, norm, x);
        if (d)
            d[x] = v;
        lanes[x % FM_DSP_LANES] += (double)v * v;
    }
}

/* Row i of apply_rows_u8 / _u16 over columns [x0, n); lanes: that row's
 * sums, or NULL. */
static inline void fm_apply_row_u8_from(const FmMarkRows *m, int i, uint8_t *row, float gain,
                                        int x0, int n, double *lanes)
{
    for (int x = x0; x < n; x++) {
        float d = fm_mark_at(m->gt, m->gb, m->gf[i], m->pt, m->pb, m->pf[i], m->alpha, m->norm, x);
        if (lanes)
            lanes[x % FM_DSP_LANES] += (double)d * d;
        int v = (int)lrintf(row[x] + gain * d);
        row[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

static inline void fm_apply_row_u16_from(const FmMarkRows *m, int i, uint16_t *row, float gain,
                                         float unit, int maxval, int x0, int n, double *lanes)
{
    for (int x = x0; x < n; x++) {
        float d = fm_mark_at(m->gt, m->gb, m->gf[i], m->pt, m->pb, m->pf[i], m->alpha, m->norm, x);
        if (lanes)
            lanes[x % FM_DSP_LANES] += (double)d * d;
        int v = (int)lrintf(row[x] + gain * d * unit);
        row[x] = (uint16_t)(v < 0 ? 0 : v > maxval ? maxval : v);
    }
}

/* flip_sums of one word (the reference; the SIMD versions' calls of a few
 * words) */
static inline float fm_flip_sum_one(const float *x, int rows, const int *row_shift, uint32_t flip)
{
    float a[8] = { 0 };
    for (int y = 0; y < rows; y++)
        for (int l = 0; l < 8; l++)
            a[l] += x[y * 8 + l] * ((flip >> (row_shift[y] + l)) & 1 ? -1.0f : 1.0f);
    for (int l = 0; l < 4; l++)
        a[l] += a[l + 4];
    return (a[0] + a[1]) + (a[2] + a[3]);
}

/* One column of col_moments_rows_u8 / _u16 (the references loop over it;
 * the SIMD versions use it for the columns left after their vectors). */
static inline void fm_col_moments_one_u8(const uint8_t *p, ptrdiff_t stride, int rows, int x,
                                         uint32_t *s, uint32_t *s2)
{
    uint32_t a = 0, a2 = 0;
    for (int y = 0; y < rows; y++) {
        uint32_t v = p[(ptrdiff_t)y * stride + x];
        a += v;
        a2 += v * v;
    }
    s[x] = a;
    s2[x] = a2;
}

static inline void fm_col_moments_one_u16(const uint16_t *p, ptrdiff_t stride, int rows, int x,
                                          uint32_t *s, uint64_t *s2)
{
    uint32_t a = 0;
    uint64_t a2 = 0;
    for (int y = 0; y < rows; y++) {
        uint32_t v = ((const uint16_t *)((const uint8_t *)p + (ptrdiff_t)y * stride))[x];
        a += v;
        a2 += (uint64_t)v * v;
    }
    s[x] = a;
    s2[x] = a2;
}

/* One window of ssim_win_u8 (columns [x0, x1), sums[0..4]) and one column
 * of ssim_cols_u16 (x of each of the five arrays of n): the references
 * loop over them, the SIMD versions use them for what is left after their
 * vectors. */
static inline void fm_ssim_win_one_u8(const uint8_t *a, ptrdiff_t sa_stride, const uint8_t *b,
                                      ptrdiff_t sb_stride, int x0, int x1, int rows,
                                      uint32_t *sums)
{
    uint32_t s1 = 0, s2 = 0, s11 = 0, s22 = 0, s12 = 0;
    for (int y = 0; y < rows; y++)
        for (int x = x0; x < x1; x++) {
            uint32_t va = a[y * sa_stride + x], vb = b[y * sb_stride + x];
            s1 += va;
            s2 += vb;
            s11 += va * va;
            s22 += vb * vb;
            s12 += va * vb;
        }
    sums[0] = s1;
    sums[1] = s2;
    sums[2] = s11;
    sums[3] = s22;
    sums[4] = s12;
}

static inline void fm_ssim_col_one_u16(const uint16_t *a, ptrdiff_t sa_stride, const uint16_t *b,
                                       ptrdiff_t sb_stride, int x, int n, int rows,
                                       uint64_t *sums)
{
    uint64_t s1 = 0, s2 = 0, s11 = 0, s22 = 0, s12 = 0;
    for (int y = 0; y < rows; y++) {
        uint64_t va = a[y * sa_stride + x], vb = b[y * sb_stride + x];
        s1 += va;
        s2 += vb;
        s11 += va * va;
        s22 += vb * vb;
        s12 += va * vb;
    }
    sums[x] = s1;
    sums[n + x] = s2;
    sums[2 * (size_t)n + x] = s11;
    sums[3 * (size_t)n + x] = s22;
    sums[4 * (size_t)n + x] = s12;
}

/* Combines the lanes of mark_row in the fixed order. */
static inline double fm_dsp_lanes_sum(const double lanes[FM_DSP_LANES])
{
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
           ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

/* One output of box_rows: the window [x - r, x + r] clipped to [0, w), the
 * samples less c and their squares summed in float from the left, times
 * inv[count]. The reference loops over it; the SIMD versions use it where
 * the window is clipped and add in the same order elsewhere. */
static inline void fm_box_row_one(const float *in, int w, int r, float c, int x,
                                  const float *inv, float *o1, float *o2)
{
    int a = x - r < 0 ? 0 : x - r, e = x + r >= w ? w - 1 : x + r;
    float d = in[a] - c, s1 = d, s2 = d * d;
    for (int k = a + 1; k <= e; k++) {
        d = in[k] - c;
        s1 += d;
        s2 += d * d;
    }
    o1[x] = s1 * inv[e - a + 1];
    o2[x] = s2 * inv[e - a + 1];
}

#endif
