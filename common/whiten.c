#include "whiten.h"

#include <stdlib.h>
#include <string.h>

#include "fm_error.h"

/* Mid-grey of the grid's 0..255 scale (every bit depth is scaled to it):
 * the box sums are taken of the samples less this */
#define FM_WHITEN_CENTRE 128.0f

int fm_whiten_init(FmWhiten *wh, int w, int h, int r)
{
    memset(wh, 0, sizeof(*wh));
    wh->w = w;
    wh->h = h;
    wh->r = r;
    size_t n = (size_t)w * h;
    wh->rows = malloc(sizeof(float) * n);
    wh->rsq = malloc(sizeof(float) * n);
    wh->sum1 = malloc(sizeof(float) * n);
    wh->sum2 = malloc(sizeof(float) * n);
    if (!wh->rows || !wh->rsq || !wh->sum1 || !wh->sum2 || r < 0 || 2 * r + 1 >= 64) {
        fm_whiten_free(wh);
        return FM_ENOMEM;
    }
    return 0;
}

void fm_whiten_free(FmWhiten *wh)
{
    free(wh->rows);
    free(wh->rsq);
    free(wh->sum1);
    free(wh->sum2);
    memset(wh, 0, sizeof(*wh));
}

typedef struct Job {
    FmWhiten *wh;
    const FmDsp *dsp;
    const float *in;
    float *out;
} Job;

/* Rows: box means of the samples and of their squares along each row. */
static void rows_job(void *arg, int j, int nj)
{
    Job *b = arg;
    FmWhiten *wh = b->wh;
    int w = wh->w;
    int y0 = (int)((long)wh->h * j / nj), y1 = (int)((long)wh->h * (j + 1) / nj);
    b->dsp->box_rows(b->in + (size_t)y0 * w, w, y1 - y0, w, wh->r, FM_WHITEN_CENTRE,
                     wh->rows + (size_t)y0 * w, wh->rsq + (size_t)y0 * w, w);
}

/* Rows whose column sums are taken afresh: every 8th row (slices are whole
 * 8-row blocks, so each starts on one) and those whose window or whose
 * predecessor's is clipped by the plane. The others move the sums of the
 * row above on by one row, so the rounding of a row's sums never depends on
 * the slices, and drifts over at most 7 steps. */
static int fresh_row(int y, int h, int r)
{
    return y % 8 == 0 || y - 1 - r < 0 || y + r > h - 1;
}

/* Blocks of 8 rows: the box sums down the columns of both row results, then
 * the whitening of those rows. */
static void out_job(void *arg, int j, int nj)
{
    Job *b = arg;
    FmWhiten *wh = b->wh;
    const FmDsp *dsp = b->dsp;
    int w = wh->w, h = wh->h, r = wh->r, blocks = (h + 7) / 8;
    int y0 = 8 * (int)((long)blocks * j / nj), y1 = 8 * (int)((long)blocks * (j + 1) / nj);
    if (y1 > h)
        y1 = h;
    const float *p1[64], *p2[64];
    float one[64];
    for (int i = 0; i < 64; i++)
        one[i] = 1.0f;
    for (int y = y0; y < y1; y++) {
        int a = y - r < 0 ? 0 : y - r, e = y + r >= h ? h - 1 : y + r, n = e - a + 1;
        size_t o = (size_t)y * w;
        if (fresh_row(y, h, r)) {
            for (int i = 0; i < n; i++) {
                p1[i] = wh->rows + (size_t)(a + i) * w;
                p2[i] = wh->rsq + (size_t)(a + i) * w;
            }
            dsp->vsum(p1, one, n, w, wh->sum1 + o);
            dsp->vsum(p2, one, n, w, wh->sum2 + o);
        } else {
            size_t in_row = (size_t)(y + r) * w, out_row = (size_t)(y - 1 - r) * w;
            dsp->col_slide(wh->sum1 + o - w, wh->rows + in_row, wh->rows + out_row, w,
                           wh->sum1 + o);
            dsp->col_slide(wh->sum2 + o - w, wh->rsq + in_row, wh->rsq + out_row, w,
                           wh->sum2 + o);
        }
        dsp->whiten_row(b->in + o, FM_WHITEN_CENTRE, wh->sum1 + o, wh->sum2 + o, 1.0f / (float)n,
                        w, b->out + o);
    }
}

void fm_whiten_run(FmWhiten *wh, const FmDsp *dsp, FmPool *pool, const float *in, float *out)
{
    Job b = { wh, dsp, in, out };
    int nt = fm_pool_threads(pool);
    int jobs = nt > 1 ? 4 * nt : 1;
    int blocks = (wh->h + 7) / 8;
    fm_pool_run(pool, rows_job, &b, jobs < wh->h ? jobs : wh->h);
    fm_pool_run(pool, out_job, &b, jobs < blocks ? jobs : blocks);
}
