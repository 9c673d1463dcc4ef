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
    m->n_out = n_out;
    m->max_taps = taps;
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
    return 0;
}

void fm_axis_map_free(FmAxisMap *m)
{
    free(m->count);
    free(m->index);
    free(m->weight);
    m->count = m->index = NULL;
    m->weight = NULL;
}

static void vertical_pass(const float *tmp, int nx, const FmAxisMap *my, float *out)
{
    for (int Y = 0; Y < my->n_out; Y++) {
        const float *w = my->weight + (size_t)Y * my->max_taps;
        float *o = out + (size_t)Y * nx;
        for (int X = 0; X < nx; X++)
            o[X] = 0;
        const int *idx = my->index + (size_t)Y * my->max_taps;
        for (int k = 0; k < my->count[Y]; k++) {
            int y = idx[k];
            const float *t = tmp + (size_t)y * nx;
            for (int X = 0; X < nx; X++)
                o[X] += w[k] * t[X];
        }
    }
}

void fm_resample_plane(const uint8_t *in, ptrdiff_t stride, int in_h, int bit_depth,
                       const FmAxisMap *mx, const FmAxisMap *my, float *tmp, float *out)
{
    int nx = mx->n_out;
    float scale = bit_depth > 8 ? 1.0f / (float)(1 << (bit_depth - 8)) : 1.0f;
    /* horizontal pass: every input row -> nx samples */
    for (int y = 0; y < in_h; y++) {
        float *t = tmp + (size_t)y * nx;
        if (bit_depth <= 8) {
            const uint8_t *row = in + (ptrdiff_t)y * stride;
            for (int X = 0; X < nx; X++) {
                const float *w = mx->weight + (size_t)X * mx->max_taps;
                const int *idx = mx->index + (size_t)X * mx->max_taps;
                float s = 0;
                for (int k = 0; k < mx->count[X]; k++)
                    s += w[k] * row[idx[k]];
                t[X] = s;
            }
        } else {
            const uint16_t *row = (const uint16_t *)(in + (ptrdiff_t)y * stride);
            for (int X = 0; X < nx; X++) {
                const float *w = mx->weight + (size_t)X * mx->max_taps;
                const int *idx = mx->index + (size_t)X * mx->max_taps;
                float s = 0;
                for (int k = 0; k < mx->count[X]; k++)
                    s += w[k] * row[idx[k]];
                t[X] = s * scale;
            }
        }
    }
    vertical_pass(tmp, nx, my, out);
}

void fm_resample_float(const float *in, int w, int h, const FmAxisMap *mx, const FmAxisMap *my,
                       float *tmp, float *out)
{
    int nx = mx->n_out;
    (void)w;
    for (int y = 0; y < h; y++) {
        const float *row = in + (size_t)y * w;
        float *t = tmp + (size_t)y * nx;
        for (int X = 0; X < nx; X++) {
            const float *wt = mx->weight + (size_t)X * mx->max_taps;
            const int *idx = mx->index + (size_t)X * mx->max_taps;
            float s = 0;
            for (int k = 0; k < mx->count[X]; k++)
                s += wt[k] * row[idx[k]];
            t[X] = s;
        }
    }
    vertical_pass(tmp, nx, my, out);
}
