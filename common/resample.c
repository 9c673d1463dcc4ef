#include "resample.h"

#include <math.h>
#include <stdlib.h>

#include "fm_error.h"

int fm_picture_size_check(int w, int h, FmError *err)
{
    if (w < FM_MIN_SIDE || h < FM_MIN_SIDE || w > FM_MAX_SIDE || h > FM_MAX_SIDE)
        return fm_error_set(err, FM_EINVAL, "picture size %dx%d is outside %dx%d..%dx%d", w, h,
                            FM_MIN_SIDE, FM_MIN_SIDE, FM_MAX_SIDE, FM_MAX_SIDE);
    if ((long)w * h > FM_MAX_PIXELS)
        return fm_error_set(err, FM_EINVAL,
                            "picture size %dx%d is above the limit of %ld pixels (8192x4320)", w,
                            h, FM_MAX_PIXELS);
    if (w > (long)h * FM_MAX_ASPECT || h > (long)w * FM_MAX_ASPECT)
        return fm_error_set(err, FM_EINVAL,
                            "picture size %dx%d is outside the aspect ratios 1:%d..%d:1", w, h,
                            FM_MAX_ASPECT, FM_MAX_ASPECT);
    return 0;
}

double fm_mark_step(int picture_height)
{
    return (double)picture_height / FM_MARK_HEIGHT;
}

int fm_mark_width(int w, int h)
{
    int mw = (int)lround(w / fm_mark_step(h));
    return mw < 1 ? 1 : mw;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int fm_axis_map_init(FmAxisMap *m, int n_in, int n_out, double origin, double step)
{
    int taps = step < 1 ? 2 : (int)ceil(step) + 2;
    m->n_in = n_in;
    m->n_out = n_out;
    m->max_taps = taps;
    m->index_t = NULL;
    m->weight_t = NULL;
    m->count = calloc((size_t)n_out, sizeof(*m->count));
    m->index = calloc((size_t)n_out * taps, sizeof(*m->index));
    m->weight = calloc((size_t)n_out * taps, sizeof(*m->weight));
    if (!m->count || !m->index || !m->weight) {
        fm_axis_map_free(m);
        return FM_ENOMEM;
    }
    for (int X = 0; X < n_out; X++) {
        float *w = m->weight + (size_t)X * taps;
        int *idx = m->index + (size_t)X * taps;
        if (step < 1) {
            /* linear interpolation at the centre of the output sample */
            double c = origin + (X + 0.5) * step - 0.5;
            int i0 = (int)floor(c);
            double f = c - i0;
            idx[0] = clampi(i0, 0, n_in - 1);
            idx[1] = clampi(i0 + 1, 0, n_in - 1);
            w[0] = (float)(1 - f);
            w[1] = (float)f;
            m->count[X] = 2;
        } else {
            double a = origin + X * step, b = a + step;
            int n = 0;
            for (int i = (int)floor(a); i < b && n < taps; i++) {
                double lo = fmax(a, i), hi = fmin(b, i + 1.0);
                if (hi <= lo)
                    continue;
                idx[n] = clampi(i, 0, n_in - 1);
                w[n++] = (float)((hi - lo) / step);
            }
            m->count[X] = n;
        }
    }
    /* tap-major copies for the row kernels, as many taps as the widest output */
    m->taps = 0;
    for (int X = 0; X < n_out; X++)
        if (m->count[X] > m->taps)
            m->taps = m->count[X];
    m->index_t = calloc((size_t)n_out * (m->taps ? m->taps : 1), sizeof(*m->index_t));
    m->weight_t = calloc((size_t)n_out * (m->taps ? m->taps : 1), sizeof(*m->weight_t));
    if (!m->index_t || !m->weight_t) {
        fm_axis_map_free(m);
        return FM_ENOMEM;
    }
    for (int X = 0; X < n_out; X++)
        for (int k = 0; k < m->count[X]; k++) {
            m->index_t[(size_t)k * n_out + X] = m->index[(size_t)X * taps + k];
            m->weight_t[(size_t)k * n_out + X] = m->weight[(size_t)X * taps + k];
        }
    return 0;
}

void fm_axis_map_free(FmAxisMap *m)
{
    free(m->count);
    free(m->index);
    free(m->weight);
    free(m->index_t);
    free(m->weight_t);
    m->count = m->index = m->index_t = NULL;
    m->weight = m->weight_t = NULL;
}

/* Input rows [y0, y1) resampled along x to dst, row y0 first. */
static void hrows_to(const FmDsp *dsp, const uint8_t *in, ptrdiff_t stride, int bit_depth,
                     const FmAxisMap *mx, int y0, int y1, float *dst, float *rowbuf)
{
    int nx = mx->n_out;
    float scale = bit_depth > 8 ? 1.0f / (float)(1 << (bit_depth - 8)) : 1.0f;
    for (int y = y0; y < y1; y++) {
        const uint8_t *row = in + (ptrdiff_t)y * stride;
        if (bit_depth <= 8)
            dsp->cvt_u8(row, mx->n_in, rowbuf);
        else
            dsp->cvt_u16((const uint16_t *)row, mx->n_in, rowbuf);
        dsp->hresample(rowbuf, mx->index_t, mx->weight_t, mx->taps, nx, scale,
                       dst + (size_t)(y - y0) * nx);
    }
}

static void hrows_float_to(const FmDsp *dsp, const float *in, const FmAxisMap *mx, int y0,
                           int y1, float *dst)
{
    int nx = mx->n_out;
    for (int y = y0; y < y1; y++)
        dsp->hresample(in + (size_t)y * mx->n_in, mx->index_t, mx->weight_t, mx->taps, nx, 1.0f,
                       dst + (size_t)(y - y0) * nx);
}

/* Output rows [y0, y1) from src, which holds input rows from row0 on. */
static void vrows_from(const FmDsp *dsp, const float *src, int row0, int nx, const FmAxisMap *my,
                       int y0, int y1, float *out)
{
    const float *rows[64];
    for (int Y = y0; Y < y1; Y++) {
        const float *w = my->weight + (size_t)Y * my->max_taps;
        const int *idx = my->index + (size_t)Y * my->max_taps;
        float *o = out + (size_t)Y * nx;
        int taps = my->count[Y];
        if (taps < 1 || taps > 64) {
            /* (no taps: zeros; more than a downscale by 62 ever asks: a tap at a time) */
            for (int X = 0; X < nx; X++)
                o[X] = 0;
            for (int k = 0; k < taps; k++)
                dsp->vacc(o, src + (size_t)(idx[k] - row0) * nx, w[k], nx);
            continue;
        }
        for (int k = 0; k < taps; k++)
            rows[k] = src + (size_t)(idx[k] - row0) * nx;
        dsp->vsum(rows, w, taps, nx, o);
    }
}

void fm_resample_hrows(const FmDsp *dsp, const uint8_t *in, ptrdiff_t stride, int bit_depth,
                       const FmAxisMap *mx, int y0, int y1, float *tmp, float *rowbuf)
{
    hrows_to(dsp, in, stride, bit_depth, mx, y0, y1, tmp + (size_t)y0 * mx->n_out, rowbuf);
}

void fm_resample_hrows_float(const FmDsp *dsp, const float *in, const FmAxisMap *mx, int y0,
                             int y1, float *tmp)
{
    hrows_float_to(dsp, in, mx, y0, y1, tmp + (size_t)y0 * mx->n_out);
}

void fm_resample_vrows(const FmDsp *dsp, const float *tmp, int nx, const FmAxisMap *my, int y0,
                       int y1, float *out)
{
    vrows_from(dsp, tmp, 0, nx, my, y0, y1, out);
}

/* The input rows output rows [Y0, Y1) read: their count, the first in *first. */
static int input_span(const FmAxisMap *my, int Y0, int Y1, int *first)
{
    int lo = my->n_in, hi = -1;
    for (int Y = Y0; Y < Y1; Y++)
        for (int k = 0; k < my->count[Y]; k++) {
            int i = my->index[(size_t)Y * my->max_taps + k];
            lo = i < lo ? i : lo;
            hi = i > hi ? i : hi;
        }
    *first = hi < lo ? 0 : lo;
    return hi < lo ? 0 : hi - lo + 1;
}

size_t fm_resample_chunk_floats(const FmAxisMap *mx, const FmAxisMap *my)
{
    int most = 0, first;
    for (int Y = 0; Y < my->n_out; Y++) {
        int end = Y + FM_RESAMPLE_CHUNK < my->n_out ? Y + FM_RESAMPLE_CHUNK : my->n_out;
        int n = input_span(my, Y, end, &first);
        most = n > most ? n : most;
    }
    return (size_t)(most > 0 ? most : 1) * mx->n_out;
}

void fm_resample_rows(const FmDsp *dsp, const uint8_t *in, ptrdiff_t stride, int bit_depth,
                      const FmAxisMap *mx, const FmAxisMap *my, int y0, int y1, float *chunk,
                      float *rowbuf, float *out, float *sum)
{
    int nx = mx->n_out;
    for (int Y = y0; Y < y1; Y += FM_RESAMPLE_CHUNK) {
        int end = Y + FM_RESAMPLE_CHUNK < y1 ? Y + FM_RESAMPLE_CHUNK : y1, first;
        int n = input_span(my, Y, end, &first);
        hrows_to(dsp, in, stride, bit_depth, mx, first, first + n, chunk, rowbuf);
        vrows_from(dsp, chunk, first, nx, my, Y, end, out);
        if (sum)
            dsp->vacc(sum + (size_t)Y * nx, out + (size_t)Y * nx, 1.0f, (end - Y) * nx);
    }
}

void fm_resample_rows_float(const FmDsp *dsp, const float *in, const FmAxisMap *mx,
                            const FmAxisMap *my, int y0, int y1, float *chunk, float *out)
{
    for (int Y = y0; Y < y1; Y += FM_RESAMPLE_CHUNK) {
        int end = Y + FM_RESAMPLE_CHUNK < y1 ? Y + FM_RESAMPLE_CHUNK : y1, first;
        int n = input_span(my, Y, end, &first);
        hrows_float_to(dsp, in, mx, first, first + n, chunk);
        vrows_from(dsp, chunk, first, mx->n_out, my, Y, end, out);
    }
}

void fm_resample_plane(const uint8_t *in, ptrdiff_t stride, int in_h, int bit_depth,
                       const FmAxisMap *mx, const FmAxisMap *my, float *tmp, float *out)
{
    const FmDsp *dsp = fm_dsp_get();
    float *rowbuf = malloc(sizeof(float) * (size_t)mx->n_in);
    if (!rowbuf)
        return;
    fm_resample_hrows(dsp, in, stride, bit_depth, mx, 0, in_h, tmp, rowbuf);
    free(rowbuf);
    fm_resample_vrows(dsp, tmp, mx->n_out, my, 0, my->n_out, out);
}

void fm_resample_float(const float *in, int w, int h, const FmAxisMap *mx, const FmAxisMap *my,
                       float *tmp, float *out)
{
    const FmDsp *dsp = fm_dsp_get();
    (void)w;
    fm_resample_hrows_float(dsp, in, mx, 0, h, tmp);
    fm_resample_vrows(dsp, tmp, mx->n_out, my, 0, my->n_out, out);
}
