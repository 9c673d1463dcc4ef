#include "whiten.h"

#include <stdlib.h>
#include <string.h>

#include "fm_error.h"

/* Mid-grey of the grid's 0..255 scale (every bit depth is scaled to it):
 * the box sums are taken of the samples less this */
#define FM_WHITEN_CENTRE 128.0f

/*
 * How a plane is whitened. Output rows go in slices of whole 8-row blocks,
 * one slice a job. A slice's rows are taken down the plane once: each input
 * row's box means along the row (dsp box_rows) go into a ring of 2r + 2
 * rows just before the first output row that needs them, and the box sums
 * down the columns are either taken afresh from the ring (every 8th row,
 * and where the window or the row above's is clipped by the plane) or moved
 * on by one row from the row above (dsp col_slide), so a row's rounding
 * never depends on the slices. Everything a slice touches stays in cache.
 *
 * The r input rows either side of a slice belong to its neighbours, which
 * may overwrite them with their output (out may equal in): their box means
 * are taken first, by every job for its own slice's edges (the halo), before
 * any job writes.
 */

/* Floats of scratch one job needs: the ring and the halo for both the
 * samples and their squares, the two rows of column sums, and an output
 * row (when only the sum is wanted). */
static size_t job_floats(const FmWhiten *wh)
{
    return (size_t)wh->w * (2 * (2 * wh->r + 2) + 2 * (2 * wh->r) + 3);
}

/* Scratch for `jobs` jobs; keeps what it has if it cannot get more. */
static int reserve_jobs(FmWhiten *wh, int jobs)
{
    if (jobs <= wh->jobs_cap)
        return wh->jobs_cap;
    float *s = realloc(wh->scratch, sizeof(float) * job_floats(wh) * (size_t)jobs);
    if (!s)
        return wh->jobs_cap;
    wh->scratch = s;
    wh->jobs_cap = jobs;
    return jobs;
}

int fm_whiten_init(FmWhiten *wh, int w, int h, int r)
{
    memset(wh, 0, sizeof(*wh));
    wh->w = w;
    wh->h = h;
    wh->r = r;
    if (w <= 0 || h <= 0 || r < 0 || 2 * r + 1 >= 64 || reserve_jobs(wh, 1) < 1) {
        fm_whiten_free(wh);
        return FM_ENOMEM;
    }
    return 0;
}

void fm_whiten_free(FmWhiten *wh)
{
    free(wh->scratch);
    memset(wh, 0, sizeof(*wh));
}

typedef struct Job {
    FmWhiten *wh;
    const FmDsp *dsp;
    const float *in;
    float *out;     /* NULL: only the sum is wanted */
    ptrdiff_t out_stride;
    float *sum;     /* NULL, or a plane each output row is added to */
    float weight;   /* times this */
    int blocks;
} Job;

/* One job's slice [y0, y1) and its scratch. */
typedef struct Slice {
    int y0, y1;
    int top;                /* first row of the upper halo: max(0, y0 - r) */
    int ring_rows;          /* 2 r + 2 */
    float *ring1, *ring2;   /* box means along the rows: samples, squares */
    float *halo1, *halo2;   /* r rows above the slice, then r rows below it */
    float *sum1, *sum2;     /* the current output row's column sums */
    float *row;             /* the output row, when there is no output plane */
} Slice;

static void slice_of(const Job *b, int j, int nj, Slice *s)
{
    const FmWhiten *wh = b->wh;
    int w = wh->w, r = wh->r;
    s->y0 = 8 * (int)((long)b->blocks * j / nj);
    s->y1 = 8 * (int)((long)b->blocks * (j + 1) / nj);
    if (s->y1 > wh->h)
        s->y1 = wh->h;
    s->top = s->y0 - r < 0 ? 0 : s->y0 - r;
    s->ring_rows = 2 * r + 2;
    float *p = wh->scratch + job_floats(wh) * (size_t)j;
    s->ring1 = p;
    s->ring2 = p + (size_t)s->ring_rows * w;
    s->halo1 = s->ring2 + (size_t)s->ring_rows * w;
    s->halo2 = s->halo1 + (size_t)2 * r * w;
    s->sum1 = s->halo2 + (size_t)2 * r * w;
    s->sum2 = s->sum1 + w;
    s->row = s->sum2 + w;
}

/* Halo slot of input row k, which lies outside the slice. */
static int halo_slot(const Slice *s, int r, int k)
{
    if (k < s->y0)
        return k - s->top;
    return r + (k - s->y1);
}

static void box_row(const Job *b, int k, float *o1, float *o2)
{
    const FmWhiten *wh = b->wh;
    b->dsp->box_rows(b->in + (size_t)k * wh->w, wh->w, 1, wh->w, wh->r, FM_WHITEN_CENTRE, o1, o2,
                     wh->w);
}

/* Input rows [k0, k1), outside the slice, into its halo. */
static void halo_rows(const Job *b, const Slice *s, int k0, int k1)
{
    for (int k = k0; k < k1; k++) {
        size_t o = (size_t)halo_slot(s, b->wh->r, k) * b->wh->w;
        box_row(b, k, s->halo1 + o, s->halo2 + o);
    }
}

/* Phase 1: the box means of the input rows next to the slice. */
static void halo_job(void *arg, int j, int nj)
{
    Job *b = arg;
    Slice s;
    slice_of(b, j, nj, &s);
    int h = b->wh->h, below = s.y1 + b->wh->r;
    halo_rows(b, &s, s.top, s.y0);
    halo_rows(b, &s, s.y1, below > h ? h : below);
}

/* Rows whose column sums are taken afresh: every 8th row (so each slice
 * starts on one) and those whose window or whose predecessor's is clipped
 * by the plane. The others move the sums of the row above on by one row,
 * drifting over at most 7 steps. */
static int fresh_row(int y, int h, int r)
{
    return y % 8 == 0 || y - 1 - r < 0 || y + r > h - 1;
}

/* Phase 2: the slice's output rows. */
static void out_job(void *arg, int j, int nj)
{
    Job *b = arg;
    const FmWhiten *wh = b->wh;
    const FmDsp *dsp = b->dsp;
    int w = wh->w, h = wh->h, r = wh->r;
    Slice s;
    slice_of(b, j, nj, &s);
    const float *p1[64], *p2[64];
    float one[64];
    for (int i = 0; i < 64; i++)
        one[i] = 1.0f;
    int next = s.y0;   /* the next slice row whose box means go into the ring */
    for (int y = s.y0; y < s.y1; y++) {
        int a = y - r < 0 ? 0 : y - r, e = y + r >= h ? h - 1 : y + r, n = e - a + 1;
        for (; next <= e && next < s.y1; next++) {
            size_t o = (size_t)(next % s.ring_rows) * w;
            box_row(b, next, s.ring1 + o, s.ring2 + o);
        }
        /* input row k's box means: from the ring in the slice, else the halo */
#define ROW(ring, halo, k)                                                              \
    ((k) >= s.y0 && (k) < s.y1 ? (ring) + (size_t)((k) % s.ring_rows) * w               \
                               : (halo) + (size_t)halo_slot(&s, r, (k)) * w)
        if (fresh_row(y, h, r)) {
            for (int i = 0; i < n; i++) {
                p1[i] = ROW(s.ring1, s.halo1, a + i);
                p2[i] = ROW(s.ring2, s.halo2, a + i);
            }
            dsp->vsum(p1, one, n, w, s.sum1);
            dsp->vsum(p2, one, n, w, s.sum2);
        } else {
            dsp->col_slide(s.sum1, ROW(s.ring1, s.halo1, y + r), ROW(s.ring1, s.halo1, y - 1 - r),
                           w, s.sum1);
            dsp->col_slide(s.sum2, ROW(s.ring2, s.halo2, y + r), ROW(s.ring2, s.halo2, y - 1 - r),
                           w, s.sum2);
        }
#undef ROW
        size_t o = (size_t)y * w;
        float *out = b->out ? b->out + (size_t)y * b->out_stride : s.row;
        dsp->whiten_row(b->in + o, FM_WHITEN_CENTRE, s.sum1, s.sum2, 1.0f / (float)n, w, out);
        if (b->sum)
            dsp->vacc(b->sum + o, out, b->weight, w);
    }
}

static void run(FmWhiten *wh, const FmDsp *dsp, FmPool *pool, const float *in, float *out,
                ptrdiff_t out_stride, float *sum, float weight)
{
    int nt = fm_pool_threads(pool);
    int blocks = (wh->h + 7) / 8;
    int jobs = nt > 1 ? 4 * nt : 1;
    if (jobs > blocks)
        jobs = blocks;
    jobs = reserve_jobs(wh, jobs);
    Job b = { wh, dsp, in, out, out_stride, sum, weight, blocks };
    fm_pool_run(pool, halo_job, &b, jobs);
    fm_pool_run(pool, out_job, &b, jobs);
}

void fm_whiten_run(FmWhiten *wh, const FmDsp *dsp, FmPool *pool, const float *in, float *out)
{
    run(wh, dsp, pool, in, out, wh->w, NULL, 1.0f);
}

void fm_whiten_run_to(FmWhiten *wh, const FmDsp *dsp, FmPool *pool, const float *in, float *out,
                      ptrdiff_t out_stride)
{
    run(wh, dsp, pool, in, out, out_stride, NULL, 1.0f);
}

void fm_whiten_run_sum(FmWhiten *wh, const FmDsp *dsp, FmPool *pool, const float *in, float *out,
                       float *sum, float weight)
{
    run(wh, dsp, pool, in, out, wh->w, sum, weight);
}
