#include "mask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fm_error.h"
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
/* Brightness masking: ramp from DARK_GAIN at DARK_LO to 1 at DARK_HI (8-bit). */
#define DARK_LO 24.0f
#define DARK_HI 72.0f
#define DARK_GAIN 0.35f

float fm_mask_gain(float mean, float stddev)
{
    float c = sqrtf(stddev * stddev + TEXTURE_FLOOR * TEXTURE_FLOOR) / TEXTURE_REF;
    float g = powf(c, TEXTURE_EXPONENT);
    g = g < GAIN_MIN ? GAIN_MIN : g > GAIN_MAX ? GAIN_MAX : g;
    float t = (mean - DARK_LO) / (DARK_HI - DARK_LO);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    t = t * t * (3 - 2 * t);  /* smoothstep */
    return g * (DARK_GAIN + (1 - DARK_GAIN) * t);
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
    m->sum = malloc(sizeof(double) * m->cw);
    m->sum2 = malloc(sizeof(double) * m->cw);
    m->row = malloc(sizeof(float) * w);
    m->xc0 = malloc(sizeof(int) * w);
    m->xf = malloc(sizeof(float) * w);
    if (!m->gain || !m->tmp || !m->sum || !m->sum2 || !m->row || !m->xc0 || !m->xf) {
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
        m->xf[x] = f;
    }
    return 0;
}

void fm_mask_free(FmMask *m)
{
    free(m->gain);
    free(m->tmp);
    free(m->sum);
    free(m->sum2);
    free(m->row);
    free(m->xc0);
    free(m->xf);
    memset(m, 0, sizeof(*m));
}

void fm_mask_compute(FmMask *m, const uint8_t *luma, ptrdiff_t stride, int bit_depth)
{
    float scale = bit_depth > 8 ? 1.0f / (float)(1 << (bit_depth - 8)) : 1.0f;
    for (int cy = 0; cy < m->ch; cy++) {
        int y0 = cy * m->cell, y1 = y0 + m->cell < m->h ? y0 + m->cell : m->h;
        memset(m->sum, 0, sizeof(double) * m->cw);
        memset(m->sum2, 0, sizeof(double) * m->cw);
        for (int y = y0; y < y1; y++) {
            const uint8_t *row8 = luma + (ptrdiff_t)y * stride;
            const uint16_t *row16 = (const uint16_t *)row8;
            for (int cx = 0; cx < m->cw; cx++) {
                int x0 = cx * m->cell, x1 = x0 + m->cell < m->w ? x0 + m->cell : m->w;
                double s = 0, s2 = 0;
                if (bit_depth <= 8)
                    for (int x = x0; x < x1; x++) { double v = row8[x]; s += v; s2 += v * v; }
                else
                    for (int x = x0; x < x1; x++) { double v = row16[x] * scale; s += v; s2 += v * v; }
                m->sum[cx] += s;
                m->sum2[cx] += s2;
            }
        }
        for (int cx = 0; cx < m->cw; cx++) {
            int x0 = cx * m->cell, x1 = x0 + m->cell < m->w ? x0 + m->cell : m->w;
            double n = (double)(x1 - x0) * (y1 - y0);
            double mean = m->sum[cx] / n, var = m->sum2[cx] / n - mean * mean;
            m->tmp[cy * m->cw + cx] = fm_mask_gain((float)mean, (float)sqrt(var > 0 ? var : 0));
        }
    }
    /* smooth: each cell takes the mean of its 3x3 neighbourhood, but never
     * more than twice its own gain, so that a flat cell next to texture
     * stays quiet */
    for (int cy = 0; cy < m->ch; cy++)
        for (int cx = 0; cx < m->cw; cx++) {
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
            m->gain[cy * m->cw + cx] = avg < 2 * own ? avg : 2 * own;
        }
}

const float *fm_mask_row(FmMask *m, int y)
{
    float c = (y + 0.5f) / m->cell - 0.5f;
    int c0 = (int)floorf(c);
    float fy = c - c0;
    if (c0 < 0) { c0 = 0; fy = 0; }
    if (c0 >= m->ch - 1) { c0 = m->ch - 1; fy = 0; }
    int c1 = c0 + 1 < m->ch ? c0 + 1 : c0;
    const float *g0 = m->gain + (size_t)c0 * m->cw, *g1 = m->gain + (size_t)c1 * m->cw;
    for (int x = 0; x < m->w; x++) {
        int a = m->xc0[x], b = a + 1 < m->cw ? a + 1 : a;
        float top = g0[a] + m->xf[x] * (g0[b] - g0[a]);
        float bot = g1[a] + m->xf[x] * (g1[b] - g1[a]);
        m->row[x] = top + fy * (bot - top);
    }
    return m->row;
}
