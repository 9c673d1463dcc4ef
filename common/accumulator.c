#include "accumulator.h"

#include "pattern.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Half-width of the window whose mean and contrast the whitening removes:
 * small windows reject more of the picture (measured on real footage). */
#define WHITEN_RADIUS 2
/* The same window on the fine grid (twice the resolution). */
#define WHITEN_RADIUS_FINE 4
/* Contrast floor (8-bit levels) so that flat areas are not blown up. */
#define WHITEN_FLOOR 0.5f
/* Whitened samples are clipped to +/- this many local standard deviations. */
#define WHITEN_CLIP 3.0f

int fm_accumulator_init(FmAccumulator *acc, int width, int height, FmError *err)
{
    memset(acc, 0, sizeof(*acc));
    int ret = fm_picture_size_check(width, height, err);
    if (ret < 0)
        return ret;
    acc->width = width;
    acc->height = height;
    acc->step = fm_mark_step(height);
    acc->gw = fm_mark_width(width, height);
    acc->gh = FM_MARK_HEIGHT;
    acc->fine_step = height >= 2 * FM_MARK_HEIGHT ? acc->step / 2 : 1.0;
    acc->fh = (int)lround(height / acc->fine_step);
    acc->fw = (int)lround(width / acc->fine_step);
    size_t n = (size_t)acc->gw * acc->gh, nf = (size_t)acc->fw * acc->fh;
    acc->fine = malloc(sizeof(float) * nf);
    acc->grid = malloc(sizeof(float) * n);
    /* scratch for whitening either grid, and for the two resampling passes
     * (the nominal grid is the larger one for clips under 360 rows) */
    size_t big = n > nf ? n : nf;
    int wide = acc->fw > acc->gw ? acc->fw : acc->gw;
    int tall = height > acc->fh ? height : acc->fh;
    acc->work = malloc(sizeof(float) * big * 3);
    acc->tmp = malloc(sizeof(float) * (size_t)wide * tall);
    acc->tile = malloc(sizeof(float) * FM_TILE * FM_TILE);
    acc->slots = malloc(sizeof(float) * FM_SLOTS);
    acc->fine_total = calloc(nf, sizeof(float));
    if (!acc->fine || !acc->grid || !acc->work || !acc->tmp || !acc->tile || !acc->slots ||
        !acc->fine_total ||
        fm_axis_map_init(&acc->mx, width, acc->fw, 0, (double)width / acc->fw) < 0 ||
        fm_axis_map_init(&acc->my, height, acc->fh, 0, (double)height / acc->fh) < 0 ||
        fm_axis_map_init(&acc->nx, acc->fw, acc->gw, 0, (double)acc->fw / acc->gw) < 0 ||
        fm_axis_map_init(&acc->ny, acc->fh, acc->gh, 0, (double)acc->fh / acc->gh) < 0) {
        fm_accumulator_free(acc);
        return fm_error_set(err, FM_ENOMEM, "out of memory for a %dx%d detector", width, height);
    }
    return 0;
}

void fm_accumulator_free(FmAccumulator *acc)
{
    fm_axis_map_free(&acc->mx);
    fm_axis_map_free(&acc->my);
    fm_axis_map_free(&acc->nx);
    fm_axis_map_free(&acc->ny);
    free(acc->fine);
    free(acc->fine_total);
    free(acc->grid);
    free(acc->work);
    free(acc->tmp);
    free(acc->tile);
    free(acc->slots);
    for (int i = 0; i < acc->nwin; i++) {
        free(acc->win[i].slots);
        free(acc->win[i].fine);
    }
    free(acc->win);
    memset(acc, 0, sizeof(*acc));
}

/*
 * Box means of the plane and of its square over a (2r+1)^2 window clipped to
 * the plane: one pass along the rows (running sums of both), one down the
 * columns. scratch needs 3 w h floats: mean and mean square come back in
 * its first and second thirds.
 */
static void box_moments(const float *in, int w, int h, int r, float *scratch)
{
    size_t n = (size_t)w * h;
    float *mean = scratch, *sq = scratch + n, *rows = scratch + 2 * n;
    float inv[64];  /* 1 / window length; r is small */
    for (int k = 1; k <= 2 * r + 1 && k < 64; k++)
        inv[k] = 1.0f / (float)k;
    /* rows: running sums; the row means go to `rows`, the row mean squares
     * to `mean` (overwritten by the column pass from the top, after use) */
    for (int y = 0; y < h; y++) {
        const float *i = in + (size_t)y * w;
        float *o1 = rows + (size_t)y * w, *o2 = sq + (size_t)y * w;
        double s1 = 0, s2 = 0;
        int lo = 0, hi = -1;
        for (int x = 0; x < w; x++) {
            int a = x - r < 0 ? 0 : x - r, b = x + r >= w ? w - 1 : x + r;
            while (hi < b) {
                hi++;
                s1 += i[hi];
                s2 += (double)i[hi] * i[hi];
            }
            while (lo < a) {
                s1 -= i[lo];
                s2 -= (double)i[lo] * i[lo];
                lo++;
            }
            float k = inv[b - a + 1];
            o1[x] = (float)s1 * k;
            o2[x] = (float)s2 * k;
        }
    }
    /* columns: running sums of both row results, in place for the squares */
    double *c1 = calloc((size_t)w * 2, sizeof(double));
    if (!c1)
        return;
    double *c2 = c1 + w;
    int lo = 0, hi = -1;
    float *sqrow = malloc(sizeof(float) * (size_t)w * (2 * (size_t)r + 2));
    if (!sqrow) {
        free(c1);
        return;
    }
    /* the square rows are read r rows ahead of where they are overwritten:
     * keep a ring of the last 2r+2 input rows of them */
    int ring = 2 * r + 2;
    for (int y = 0; y < h; y++) {
        int a = y - r < 0 ? 0 : y - r, b = y + r >= h ? h - 1 : y + r;
        while (hi < b) {
            hi++;
            const float *p1 = rows + (size_t)hi * w, *p2 = sq + (size_t)hi * w;
            float *keep = sqrow + (size_t)(hi % ring) * w;
            memcpy(keep, p2, sizeof(float) * (size_t)w);
            for (int x = 0; x < w; x++) {
                c1[x] += p1[x];
                c2[x] += keep[x];
            }
        }
        while (lo < a) {
            const float *p1 = rows + (size_t)lo * w, *p2 = sqrow + (size_t)(lo % ring) * w;
            for (int x = 0; x < w; x++) {
                c1[x] -= p1[x];
                c2[x] -= p2[x];
            }
            lo++;
        }
        float k = 1.0f / (float)(b - a + 1);
        float *m = mean + (size_t)y * w, *q = sq + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            m[x] = (float)c1[x] * k;
            q[x] = (float)c2[x] * k;
        }
    }
    free(sqrow);
    free(c1);
}

static void whiten_radius(const float *in, int w, int h, int r, float *out, float *scratch)
{
    size_t n = (size_t)w * h;
    const float *mean = scratch, *sq = scratch + n;
    box_moments(in, w, h, r, scratch);
    for (size_t i = 0; i < n; i++) {
        float var = sq[i] - mean[i] * mean[i];
        float sd = sqrtf((var > 0 ? var : 0) + WHITEN_FLOOR * WHITEN_FLOOR);
        float v = (in[i] - mean[i]) / sd;
        out[i] = v > WHITEN_CLIP ? WHITEN_CLIP : v < -WHITEN_CLIP ? -WHITEN_CLIP : v;
    }
}

void fm_whiten(const float *in, int w, int h, float *out, float *scratch)
{
    whiten_radius(in, w, h, WHITEN_RADIUS, out, scratch);
}

/* The window of clip time t, created (with the ones before it) if new. */
static FmWindow *window_at(FmAccumulator *acc, double t)
{
    if (!acc->frames)
        acc->t_origin = t;
    double rel = (t - acc->t_origin) / FM_WINDOW_SECONDS;
    /* a frame before the first one (reordered timestamps) joins window 0;
     * absurd gaps are refused rather than allocated */
    long w = rel > 0 ? (long)floor(rel + 1e-9) : 0;
    if (w > 1000000)
        return NULL;
    if (w >= acc->capwin) {
        long cap = acc->capwin ? acc->capwin : 16;
        while (cap <= w)
            cap *= 2;
        FmWindow *nw = realloc(acc->win, sizeof(*nw) * (size_t)cap);
        if (!nw)
            return NULL;
        memset(nw + acc->capwin, 0, sizeof(*nw) * (size_t)(cap - acc->capwin));
        acc->win = nw;
        acc->capwin = (int)cap;
    }
    if (w >= acc->nwin)
        acc->nwin = (int)w + 1;
    FmWindow *win = &acc->win[w];
    if (!win->slots) {
        win->slots = calloc(FM_SLOTS, sizeof(float));
        if (!win->slots)
            return NULL;
        if (w < FM_FINE_WINDOWS) {
            win->fine = calloc((size_t)acc->fw * acc->fh, sizeof(float));
            if (!win->fine)
                return NULL;
        }
        win->t_first = win->t_last = t;
    }
    return win;
}

int fm_accumulator_add(FmAccumulator *acc, const uint8_t *luma, ptrdiff_t stride,
                       int bit_depth, double t, FmError *err)
{
    if (!isfinite(t))
        return fm_error_set(err, FM_EINVAL, "frame time is not a number");
    FmWindow *win = window_at(acc, t);
    if (!win)
        return fm_error_set(err, FM_ENOMEM, "out of memory for detection windows");
    /* clip -> fine grid -> nominal grid (area averages compose), then each
     * grid is whitened on its own scale */
    fm_resample_plane(luma, stride, acc->height, bit_depth, &acc->mx, &acc->my, acc->tmp,
                      acc->fine);
    fm_resample_float(acc->fine, acc->fw, acc->fh, &acc->nx, &acc->ny, acc->tmp, acc->grid);
    fm_whiten(acc->grid, acc->gw, acc->gh, acc->grid, acc->work);
    whiten_radius(acc->fine, acc->fw, acc->fh, WHITEN_RADIUS_FINE, acc->fine, acc->work);
    size_t nf = (size_t)acc->fw * acc->fh;
    for (size_t i = 0; i < nf; i++)
        acc->fine_total[i] += acc->fine[i];
    if (win->fine)
        for (size_t i = 0; i < nf; i++)
            win->fine[i] += acc->fine[i];
    /* windows keep only their nominal evidence folded and read as slot
     * values (linear, so frames add up there): 20 KB each */
    fm_tile_fold(acc->grid, acc->gw, acc->gh, 0, 0, acc->tile);
    fm_tile_read(acc->tile, acc->slots);
    for (int k = 0; k < FM_SLOTS; k++)
        win->slots[k] += acc->slots[k];
    if (!acc->frames || t < acc->t_first)
        acc->t_first = t;
    if (!acc->frames || t > acc->t_last)
        acc->t_last = t;
    if (t < win->t_first)
        win->t_first = t;
    if (t > win->t_last)
        win->t_last = t;
    win->frames++;
    acc->frames++;
    return 0;
}
