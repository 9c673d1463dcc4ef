#include "mask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fm_error.h"
#include "mask_gain.h"
#include "resample.h"

/* Texture masking: contrast (8-bit levels) at which the gain is 1. */
#define TEXTURE_REF 6.0f
/* Contrast floor: what a perfectly flat area counts as. */
#define TEXTURE_FLOOR 1.5f
#ifndef TEXTURE_EXPONENT
#define TEXTURE_EXPONENT 0.6f
#endif
#define GAIN_MIN 0.3f
#ifndef GAIN_MAX
#define GAIN_MAX 2.0f
#endif
/* Texture gain for a cell's variance (8-bit levels squared). */
static float texture_gain(float var)
{
    float c = sqrtf(var + TEXTURE_FLOOR * TEXTURE_FLOOR) / TEXTURE_REF;
    float g = powf(c, TEXTURE_EXPONENT);
    return g < GAIN_MIN ? GAIN_MIN : g > GAIN_MAX ? GAIN_MAX : g;
}

float fm_mask_gain(float mean, float stddev)
{
    return texture_gain(stddev * stddev) * fm_mask_dark_gain(mean);
}

/*
 * powf per cell was the mask's largest cost, so the texture gain is
 * tabulated over the variance, FM_MASK_LUT_STEPS samples a level squared,
 * up to where it reaches GAIN_MAX, and interpolated linearly: within 1e-4
 * of the formula (tests/test_mask.c), a change of the mark far below a code
 * value.
 */
static int lut_init(FmMask *m)
{
    double top = pow(GAIN_MAX, 1.0 / TEXTURE_EXPONENT) * TEXTURE_REF;
    double vmax = top * top - (double)TEXTURE_FLOOR * TEXTURE_FLOOR;
    m->lut_n = (int)ceil(vmax * FM_MASK_LUT_STEPS) + 2;
    m->lut = malloc(sizeof(float) * (size_t)m->lut_n);
    if (!m->lut)
        return FM_ENOMEM;
    for (int i = 0; i < m->lut_n; i++)
        m->lut[i] = texture_gain((float)i / FM_MASK_LUT_STEPS);
    return 0;
}

float fm_mask_cell_gain(const FmMask *m, double mean, double var)
{
    return fm_mask_gain_of(m->lut, m->lut_n, mean, var);
}

int fm_mask_init(FmMask *m, int w, int h)
{
    memset(m, 0, sizeof(*m));
    int cell = (int)lround(2 * fm_mark_step(h));
    m->cell = cell < 4 ? 4 : cell;
    m->w = w;
    m->h = h;
    m->cw = (w + m->cell - 1) / m->cell;
    m->ch = (h + m->cell - 1) / m->cell;
    size_t nc = (size_t)m->cw * m->ch;
    m->gain = malloc(sizeof(float) * nc);
    m->tmp = malloc(sizeof(float) * nc);
    m->row = malloc(sizeof(float) * w);
    m->xc0 = malloc(sizeof(int) * w);
    m->xc1 = malloc(sizeof(int) * w);
    m->xf = malloc(sizeof(float) * w);
    m->hrow = malloc(sizeof(float) * (size_t)m->ch * w);
    m->yc0 = malloc(sizeof(int) * h);
    m->yc1 = malloc(sizeof(int) * h);
    m->yf = malloc(sizeof(float) * h);
    m->scratch = malloc(fm_mask_scratch_bytes(m));
    if (lut_init(m) < 0 || !m->gain || !m->tmp || !m->row || !m->xc0 || !m->xc1 || !m->xf ||
        !m->hrow || !m->yc0 || !m->yc1 || !m->yf || !m->scratch) {
        fm_mask_free(m);
        return FM_ENOMEM;
    }
    for (int x = 0; x < w; x++) {
        float c = (x + 0.5f) / m->cell - 0.5f;
        int c0 = (int)floorf(c);
        float f = c - c0;
        if (c0 < 0) { c0 = 0; f = 0; }
        if (c0 >= m->cw - 1) { c0 = m->cw - 1; f = 0; }
        m->xc0[x] = c0;
        m->xc1[x] = c0 + 1 < m->cw ? c0 + 1 : c0;
        m->xf[x] = f;
    }
    for (int y = 0; y < h; y++) {
        float c = (y + 0.5f) / m->cell - 0.5f;
        int c0 = (int)floorf(c);
        float fy = c - c0;
        if (c0 < 0) { c0 = 0; fy = 0; }
        if (c0 >= m->ch - 1) { c0 = m->ch - 1; fy = 0; }
        m->yc0[y] = c0;
        m->yc1[y] = c0 + 1 < m->ch ? c0 + 1 : c0;
        m->yf[y] = fy;
    }
    return 0;
}

void fm_mask_free(FmMask *m)
{
    free(m->gain);
    free(m->tmp);
    free(m->row);
    free(m->xc0);
    free(m->xc1);
    free(m->xf);
    free(m->hrow);
    free(m->yc0);
    free(m->yc1);
    free(m->yf);
    free(m->scratch);
    free(m->lut);
    memset(m, 0, sizeof(*m));
}

size_t fm_mask_scratch_bytes(const FmMask *m)
{
    /* per column: the sum (uint32) and, 8-byte aligned, the sum of squares
     * (uint64); then per cell the same two sums (uint64) */
    return sizeof(uint32_t) * (((size_t)m->w + 1) & ~(size_t)1) + sizeof(uint64_t) * (size_t)m->w +
           2 * sizeof(uint64_t) * (size_t)m->cw;
}

/*
 * Each cell's column sums of `cell` columns added (the last cell clipped at
 * w), the inner loop unrolled for the cell widths of common heights (4 at
 * 720p, 6 at 1080p, 8 at 1440p, 12 at 2160p). One template for the 8-bit
 * squares (32 bits: every cell's sum fits) and the deeper ones (64 bits).
 */
#define CELL_SUMS(name, sq_t, acc_t)                                                     \
    static inline void name##_n(const uint32_t *s, const sq_t *s2, int cell, int whole,  \
                                uint64_t *t, uint64_t *t2)                               \
    {                                                                                    \
        for (int cx = 0; cx < whole; cx++, s += cell, s2 += cell) {                      \
            acc_t a = 0, a2 = 0;                                                         \
            _Pragma("GCC unroll 12")                                                     \
            for (int k = 0; k < cell; k++) {                                             \
                a += s[k];                                                               \
                a2 += s2[k];                                                             \
            }                                                                            \
            t[cx] = a;                                                                   \
            t2[cx] = a2;                                                                 \
        }                                                                                \
    }                                                                                    \
    static void name(const uint32_t *s, const sq_t *s2, int w, int cell, int cw,         \
                     uint64_t *t, uint64_t *t2)                                          \
    {                                                                                    \
        int whole = w / cell;                                                            \
        switch (cell) {                                                                  \
        case 4: name##_n(s, s2, 4, whole, t, t2); break;                                 \
        case 6: name##_n(s, s2, 6, whole, t, t2); break;                                 \
        case 8: name##_n(s, s2, 8, whole, t, t2); break;                                 \
        case 12: name##_n(s, s2, 12, whole, t, t2); break;                               \
        default: name##_n(s, s2, cell, whole, t, t2); break;                             \
        }                                                                                \
        if (whole < cw) {                                                                \
            uint64_t a = 0, a2 = 0;                                                      \
            for (int x = whole * cell; x < w; x++) {                                     \
                a += s[x];                                                               \
                a2 += s2[x];                                                             \
            }                                                                            \
            t[whole] = a;                                                                \
            t2[whole] = a2;                                                              \
        }                                                                                \
    }

CELL_SUMS(cell_sums_u32, uint32_t, uint32_t)
CELL_SUMS(cell_sums_u64, uint64_t, uint64_t)

/*
 * The cell statistics are sums of whole code values (and of their squares):
 * exact in integers, and exact in the doubles they become (scaled by a power
 * of two for deep pictures), so they equal the double sums of the scaled
 * samples whatever the order of the additions.
 */
void fm_mask_stats_rows(FmMask *m, const FmDsp *dsp, const uint8_t *luma, ptrdiff_t stride,
                        int bit_depth, int cy0, int cy1, void *scratch)
{
    double scale = bit_depth > 8 ? 1.0 / (double)(1 << (bit_depth - 8)) : 1.0;
    int w = m->w;
    uint32_t *s = scratch;
    uint64_t *s2 = (uint64_t *)(s + ((w + 1) & ~1));
    uint32_t *s2_32 = (uint32_t *)s2;   /* 8-bit: 32-bit squares suffice */
    uint64_t *t = s2 + w, *t2 = t + m->cw;  /* each cell's two sums */
    for (int cy = cy0; cy < cy1; cy++) {
        int y0 = cy * m->cell, y1 = y0 + m->cell < m->h ? y0 + m->cell : m->h;
        if (bit_depth <= 8)
            dsp->col_moments_rows_u8(luma + (ptrdiff_t)y0 * stride, stride, y1 - y0, w, s, s2_32);
        else
            dsp->col_moments_rows_u16((const uint16_t *)(luma + (ptrdiff_t)y0 * stride), stride,
                                      y1 - y0, w, s, s2);
        if (bit_depth <= 8)
            cell_sums_u32(s, s2_32, w, m->cell, m->cw, t, t2);
        else
            cell_sums_u64(s, s2, w, m->cell, m->cw, t, t2);
        dsp->cell_gains(t, t2, m->cw, m->cell, w, y1 - y0, scale, m->lut, m->lut_n,
                        m->tmp + (size_t)cy * m->cw);
    }
}

/* One cell's smoothed gain near the picture's border: the mean of the
 * neighbours inside it. */
static float smooth_border(const FmMask *m, int cy, int cx)
{
    float s = 0;
    int n = 0;
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            int yy = cy + dy, xx = cx + dx;
            if (yy < 0 || yy >= m->ch || xx < 0 || xx >= m->cw)
                continue;
            s += m->tmp[yy * m->cw + xx];
            n++;
        }
    float own = m->tmp[cy * m->cw + cx], avg = s / n;
    return avg < 2 * own ? avg : 2 * own;
}

/* smooth: each cell takes the mean of its 3x3 neighbourhood, but never more
 * than twice its own gain, so that a flat cell next to texture stays quiet */
void fm_mask_smooth_rows(FmMask *m, const FmDsp *dsp, int cy0, int cy1)
{
    for (int cy = cy0; cy < cy1; cy++) {
        float *out = m->gain + (size_t)cy * m->cw;
        if (cy > 0 && cy < m->ch - 1 && m->cw > 2) {
            /* all nine neighbours, summed in the same order for every cell */
            const float *b = m->tmp + (size_t)cy * m->cw;
            dsp->smooth_cells(b - m->cw, b, b + m->cw, m->cw, out);
            out[0] = smooth_border(m, cy, 0);
            out[m->cw - 1] = smooth_border(m, cy, m->cw - 1);
        } else {
            for (int cx = 0; cx < m->cw; cx++)
                out[cx] = smooth_border(m, cy, cx);
        }
        dsp->lerp_idx(out, m->xc0, m->xc1, m->xf, m->w, m->hrow + (size_t)cy * m->w);
    }
}

void fm_mask_compute(FmMask *m, const uint8_t *luma, ptrdiff_t stride, int bit_depth)
{
    fm_mask_stats_rows(m, fm_dsp_get(), luma, stride, bit_depth, 0, m->ch, m->scratch);
    fm_mask_smooth_rows(m, fm_dsp_get(), 0, m->ch);
}

void fm_mask_row_taps(const FmMask *m, int y, const float **top, const float **bot, float *fy)
{
    *top = m->hrow + (size_t)m->yc0[y] * m->w;
    *bot = m->hrow + (size_t)m->yc1[y] * m->w;
    *fy = m->yf[y];
}

const float *fm_mask_row(FmMask *m, int y)
{
    const float *top, *bot;
    float fy;
    fm_mask_row_taps(m, y, &top, &bot, &fy);
    for (int x = 0; x < m->w; x++)
        m->row[x] = top[x] + fy * (bot[x] - top[x]);
    return m->row;
}
