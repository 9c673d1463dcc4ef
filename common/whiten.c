#include "whiten.h"

#include <stdlib.h>
#include <string.h>

#include "fm_error.h"

int fm_whiten_init(FmWhiten *wh, int w, int h, int r)
{
    memset(wh, 0, sizeof(*wh));
    wh->w = w;
    wh->h = h;
    wh->r = r;
    size_t n = (size_t)w * h;
    wh->rows = malloc(sizeof(float) * n);
    wh->rsq = malloc(sizeof(float) * n);
    wh->mean = malloc(sizeof(float) * n);
    wh->sq = malloc(sizeof(float) * n);
    wh->col = malloc(sizeof(double) * 2 * (size_t)w);
    if (!wh->rows || !wh->rsq || !wh->mean || !wh->sq || !wh->col || r < 0 || 2 * r + 1 >= 64) {
        fm_whiten_free(wh);
        return FM_ENOMEM;
    }
    return 0;
}

void fm_whiten_free(FmWhiten *wh)
{
    free(wh->rows);
    free(wh->rsq);
    free(wh->mean);
    free(wh->sq);
    free(wh->col);
    memset(wh, 0, sizeof(*wh));
}

typedef struct Job {
    FmWhiten *wh;
    const FmDsp *dsp;
    const float *in;
    float *out;
} Job;

/* Rows: running sums of the samples and their squares along each row. */
static void rows_job(void *arg, int j, int nj)
{
    Job *b = arg;
    FmWhiten *wh = b->wh;
    int w = wh->w;
    int y0 = (int)((long)wh->h * j / nj), y1 = (int)((long)wh->h * (j + 1) / nj);
    b->dsp->box_rows(b->in + (size_t)y0 * w, w, y1 - y0, w, wh->r, wh->rows + (size_t)y0 * w,
                     wh->rsq + (size_t)y0 * w, w);
}

/* Columns [x0, x1): running sums of both row results down the plane. */
static void cols_job(void *arg, int j, int nj)
{
    Job *b = arg;
    FmWhiten *wh = b->wh;
    const FmDsp *dsp = b->dsp;
    int w = wh->w, h = wh->h, r = wh->r;
    int x0 = (int)((long)w * j / nj), x1 = (int)((long)w * (j + 1) / nj), n = x1 - x0;
    if (n <= 0)
        return;
    double *c1 = wh->col + x0, *c2 = wh->col + w + x0;
    memset(c1, 0, sizeof(double) * (size_t)n);
    memset(c2, 0, sizeof(double) * (size_t)n);
    int lo = 0, hi = -1;
    for (int y = 0; y < h; y++) {
        int a = y - r < 0 ? 0 : y - r, e = y + r >= h ? h - 1 : y + r;
        while (hi < e) {
            hi++;
            dsp->col_add(c1, wh->rows + (size_t)hi * w + x0, n);
            dsp->col_add(c2, wh->rsq + (size_t)hi * w + x0, n);
        }
        while (lo < a) {
            dsp->col_sub(c1, wh->rows + (size_t)lo * w + x0, n);
            dsp->col_sub(c2, wh->rsq + (size_t)lo * w + x0, n);
            lo++;
        }
        float k = 1.0f / (float)(e - a + 1);
        dsp->col_out(c1, k, n, wh->mean + (size_t)y * w + x0);
        dsp->col_out(c2, k, n, wh->sq + (size_t)y * w + x0);
    }
}

static void out_job(void *arg, int j, int nj)
{
    Job *b = arg;
    FmWhiten *wh = b->wh;
    int w = wh->w;
    int y0 = (int)((long)wh->h * j / nj), y1 = (int)((long)wh->h * (j + 1) / nj);
    for (int y = y0; y < y1; y++) {
        size_t o = (size_t)y * w;
        b->dsp->whiten_row(b->in + o, wh->mean + o, wh->sq + o, w, b->out + o);
    }
}

void fm_whiten_run(FmWhiten *wh, const FmDsp *dsp, FmPool *pool, const float *in, float *out)
{
    Job b = { wh, dsp, in, out };
    int nt = fm_pool_threads(pool);
    int jobs = nt > 1 ? 4 * nt : 1;
    fm_pool_run(pool, rows_job, &b, jobs < wh->h ? jobs : wh->h);
    /* column slices a multiple of 8 wide where possible, for the vectors */
    int cj = nt > 1 ? nt : 1;
    if (cj > wh->w / 8)
        cj = wh->w / 8 > 0 ? wh->w / 8 : 1;
    fm_pool_run(pool, cols_job, &b, cj);
    fm_pool_run(pool, out_job, &b, jobs < wh->h ? jobs : wh->h);
}
