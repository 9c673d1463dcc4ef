#include "accumulator.h"

#include "big_alloc.h"
#include "pattern.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Half-width of the window whose mean and contrast the whitening removes:
 * small windows reject more of the picture (measured on real footage). */
#define WHITEN_RADIUS FM_WHITEN_RADIUS
/* The same window on the fine grid (twice the resolution). */
#define WHITEN_RADIUS_FINE 4
/* fine samples per mark pixel of a 16:9 picture boxed at the frame's width */
#define FINE_PER_BOXED_MARK 1.25
/* The inset search's finest fine grid: two samples a clip pixel. */
#define FINE_STEP_MIN 0.5
/* The contrast floor (0.5, 8-bit levels, so that flat areas are not blown
 * up) and the clip (+/-3 local standard deviations) are in the whiten_row
 * kernel (dsp.h). */

static void accumulator_free_twin(FmAccumulator *acc);

/* Clip pixels per fine grid sample: half a mark pixel of the picture as
 * marked, no finer than finest (clip pixels). */
static double fine_step_of(int width, int height, double finest)
{
    double step = fm_mark_step(height) / 2;
    /* a frame squarer than ~10:9 (square, vertical) may show a 16:9
     * picture boxed at its full width, as a film re-posted in a 9:16 frame:
     * the fine grid must still resolve that picture's mark pixels */
    double boxed = width * 9.0 / 16.0 / FM_MARK_HEIGHT / FINE_PER_BOXED_MARK;
    if (boxed < step)
        step = boxed;
    return step > finest ? step : finest;
}

/* Everything but the threads, with a fine grid of fine_step clip pixels a
 * sample. */
static int accumulator_setup(FmAccumulator *acc, int width, int height, double fine_step,
                             FmError *err)
{
    memset(acc, 0, sizeof(*acc));
    int ret = fm_picture_size_check(width, height, err);
    if (ret < 0)
        return ret;
    acc->width = width;
    acc->height = height;
    acc->dsp = fm_dsp_get();
    acc->step = fm_mark_step(height);
    acc->gw = fm_mark_width(width, height);
    acc->gh = FM_MARK_HEIGHT;
    acc->fine_step = fine_step;
    acc->fh = (int)lround(height / acc->fine_step);
    acc->fw = (int)lround(width / acc->fine_step);
    size_t n = (size_t)acc->gw * acc->gh, nf = (size_t)acc->fw * acc->fh;
    acc->fine = malloc(sizeof(float) * nf);
    acc->grid = malloc(sizeof(float) * n);
    acc->cells = fm_cells_of(acc->gw, acc->gh);
    fm_accumulator_set_max_seconds(acc, FM_DEFAULT_READ_SECONDS);
    acc->nslots = FM_SLOTS * fm_cells_count(acc->cells);
    acc->tile = malloc(sizeof(float) * FM_TILE * FM_TILE * fm_cells_count(acc->cells));
    acc->slots = malloc(sizeof(float) * acc->nslots);
    acc->fine_rest = calloc(nf, sizeof(float));
    acc->cw = (acc->gw + FM_TAG_CELL - 1) / FM_TAG_CELL;
    acc->ch = (acc->gh + FM_TAG_CELL - 1) / FM_TAG_CELL;
    acc->cell_area = calloc((size_t)acc->cw * acc->ch, sizeof(float));
    acc->grid_first = malloc(sizeof(float) * n);
    if (acc->cell_area)
        for (int y = 0; y < acc->gh; y++)
            for (int x = 0; x < acc->gw; x++)
                acc->cell_area[(y / FM_TAG_CELL) * acc->cw + x / FM_TAG_CELL] += 1;
    if (!acc->fine || !acc->grid || !acc->tile || !acc->slots ||
        !acc->fine_rest || !acc->cell_area || !acc->grid_first ||
        fm_axis_map_init(&acc->mx, width, acc->fw, 0, (double)width / acc->fw) < 0 ||
        fm_axis_map_init(&acc->my, height, acc->fh, 0, (double)height / acc->fh) < 0 ||
        fm_axis_map_init(&acc->nx, acc->fw, acc->gw, 0, (double)acc->fw / acc->gw) < 0 ||
        fm_axis_map_init(&acc->ny, acc->fh, acc->gh, 0, (double)acc->fh / acc->gh) < 0 ||
        fm_whiten_init(&acc->white_grid, acc->gw, acc->gh, WHITEN_RADIUS) < 0 ||
        fm_whiten_init(&acc->white_fine, acc->fw, acc->fh, WHITEN_RADIUS_FINE) < 0) {
        fm_accumulator_free(acc);
        return fm_error_set(err, FM_ENOMEM, "out of memory for a %dx%d detector", width, height);
    }
    return 0;
}

int fm_accumulator_init(FmAccumulator *acc, int width, int height, FmError *err)
{
    /* a fine grid no finer than the clip's own pixels */
    int ret = accumulator_setup(acc, width, height, fine_step_of(width, height, 1.0), err);
    if (ret < 0)
        return ret;
    if (fm_accumulator_set_threads(acc, 0) < 0 || !acc->rowbuf) {
        fm_accumulator_free(acc);
        return fm_error_set(err, FM_ENOMEM, "out of memory for a %dx%d detector", width, height);
    }
    return 0;
}

/* The per-frame scratch of jobs row slices (fm_resample_rows). */
static int scratch_alloc(FmAccumulator *acc, int jobs)
{
    free(acc->rowbuf);
    acc->chunk_fine = fm_resample_chunk_floats(&acc->mx, &acc->my);
    acc->job_floats = (size_t)acc->width + acc->chunk_fine +
                      fm_resample_chunk_floats(&acc->nx, &acc->ny);
    acc->rowbuf = malloc(sizeof(float) * acc->job_floats * jobs);
    acc->jobs = acc->rowbuf ? jobs : 0;
    return acc->rowbuf ? 0 : FM_ENOMEM;
}

/* The twin works on its owner's threads, with as many row slices. */
static int twin_share_pool(FmAccumulator *acc)
{
    FmAccumulator *t = acc->twin;
    t->pool = acc->pool;
    return scratch_alloc(t, acc->jobs);
}

int fm_accumulator_search_insets(FmAccumulator *acc, FmError *err)
{
    if (acc->frames)
        return fm_error_set(err, FM_EINVAL, "the inset search must be asked for before any frame");
    double step = fine_step_of(acc->width, acc->height, FINE_STEP_MIN);
    if (acc->twin || step > acc->fine_step * 0.95)
        return 0;   /* the fine grid is already the mark's resolution */
    FmAccumulator *t = malloc(sizeof(*t));
    if (!t)
        return fm_error_set(err, FM_ENOMEM, "out of memory for a %dx%d detector", acc->width,
                            acc->height);
    int ret = accumulator_setup(t, acc->width, acc->height, step, err);
    if (ret < 0) {
        free(t);
        return ret;
    }
    t->max_windows = acc->max_windows;
    t->fine_only = 1;
    acc->twin = t;
    if (twin_share_pool(acc) < 0) {
        accumulator_free_twin(acc);
        return fm_error_set(err, FM_ENOMEM, "out of memory for a %dx%d detector", acc->width,
                            acc->height);
    }
    return 0;
}

/* A window's two fine planes (fine, then fine_raw) live in one mapping
 * whose pages come up front (big_alloc.h): touched page by page instead,
 * 7 MB a window at 1080p cost a page fault every 4 KB, which on a virtual
 * machine took ~15 % of wmdetect's CPU. */
static size_t fine_planes_bytes(const FmAccumulator *acc)
{
    return 2 * sizeof(float) * (size_t)acc->fw * acc->fh;
}

static int fine_planes_alloc(const FmAccumulator *acc, FmWindow *win)
{
    float *m = fm_big_alloc(fine_planes_bytes(acc));
    if (!m)
        return FM_ENOMEM;
    win->fine = m;
    win->fine_raw = win->fine + (size_t)acc->fw * acc->fh;
    return 0;
}

static void fine_planes_free(const FmAccumulator *acc, FmWindow *win)
{
    fm_big_free(win->fine, fine_planes_bytes(acc), 0);
    win->fine = win->fine_raw = NULL;
}

static void accumulator_free_twin(FmAccumulator *acc)
{
    if (!acc->twin)
        return;
    acc->twin->pool = NULL;   /* the owner's */
    fm_accumulator_free(acc->twin);
    free(acc->twin);
    acc->twin = NULL;
}

void fm_accumulator_free(FmAccumulator *acc)
{
    accumulator_free_twin(acc);
    fm_axis_map_free(&acc->mx);
    fm_axis_map_free(&acc->my);
    fm_axis_map_free(&acc->nx);
    fm_axis_map_free(&acc->ny);
    free(acc->fine);
    free(acc->fine_rest);
    free(acc->grid);
    free(acc->tile);
    free(acc->slots);
    for (int i = 0; i < acc->nwin; i++) {
        free(acc->win[i].slots);
        free(acc->win[i].cells);
        fine_planes_free(acc, &acc->win[i]);
    }
    free(acc->cell_area);
    free(acc->grid_first);
    free(acc->win);
    fm_whiten_free(&acc->white_grid);
    fm_whiten_free(&acc->white_fine);
    fm_pool_free(&acc->pool);
    free(acc->rowbuf);
    memset(acc, 0, sizeof(*acc));
}

void fm_whiten(const float *in, int w, int h, float *out, float *scratch)
{
    FmWhiten wh;
    (void)scratch;
    if (fm_whiten_init(&wh, w, h, WHITEN_RADIUS) < 0)
        return;
    fm_whiten_run(&wh, fm_dsp_get(), NULL, in, out);
    fm_whiten_free(&wh);
}

int fm_accumulator_set_threads(FmAccumulator *acc, int threads)
{
    fm_pool_free(&acc->pool);
    free(acc->rowbuf);
    acc->rowbuf = NULL;
    acc->jobs = 1;
    int ret = fm_pool_new(&acc->pool, threads);
    int nt = fm_pool_threads(acc->pool);
    if (scratch_alloc(acc, nt > 1 ? 4 * nt : 1) < 0) {
        fm_pool_free(&acc->pool);
        scratch_alloc(acc, 1);
        ret = FM_ENOMEM;
    }
    if (acc->twin && twin_share_pool(acc) < 0) {
        accumulator_free_twin(acc);   /* no room: the clip is read without it */
        ret = FM_ENOMEM;
    }
    return ret;
}

void fm_accumulator_set_max_seconds(FmAccumulator *acc, double seconds)
{
    double w = ceil(seconds / FM_WINDOW_SECONDS);
    acc->max_windows = !(w >= 1) ? 1 : w > 1000000 ? 1000000 : (int)w;
    if (acc->twin)
        acc->twin->max_windows = acc->max_windows;
}

/* The window index of clip time t (a frame before the first one, from
 * reordered timestamps, joins window 0). */
static long window_index(const FmAccumulator *acc, double t)
{
    double rel = (t - (acc->frames ? acc->t_origin : t)) / FM_WINDOW_SECONDS;
    return rel > 0 ? (rel > 2e9 ? 2000000000L : (long)floor(rel + 1e-9)) : 0;
}

/* The window of clip time t, created (with the ones before it) if new. */
static FmWindow *window_at(FmAccumulator *acc, double t)
{
    long w = window_index(acc, t);
    if (!acc->frames)
        acc->t_origin = t;
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
    if (acc->fine_only) {   /* a twin: the fine planes alone */
        if (!win->frames) {
            if (w < FM_FINE_WINDOWS && !win->fine && fine_planes_alloc(acc, win) < 0)
                return NULL;
            win->t_first = win->t_last = t;
        }
        return win;
    }
    if (!win->slots) {
        win->slots = calloc((size_t)acc->nslots, sizeof(float));
        if (!win->slots)
            return NULL;
        win->cells = calloc((size_t)acc->cw * acc->ch, sizeof(float));
        if (!win->cells)
            return NULL;
        if (w < FM_FINE_WINDOWS && fine_planes_alloc(acc, win) < 0)
            return NULL;
        win->t_first = win->t_last = t;
    }
    return win;
}

/* One frame's slice jobs: job j of n takes rows h j / n .. h (j + 1) / n. */
typedef struct Frame {
    FmAccumulator *acc;
    const uint8_t *luma;
    ptrdiff_t stride;
    int bit_depth;
    FmWindow *win;
} Frame;

static void slice(int h, int j, int n, int *y0, int *y1)
{
    *y0 = (int)((long)h * j / n);
    *y1 = (int)((long)h * (j + 1) / n);
}

/* A job's scratch: a picture row, then the chunks of the two resamplings. */
static float *job_row(const FmAccumulator *acc, int j)
{
    return acc->rowbuf + acc->job_floats * (size_t)j;
}

/* clip -> fine rows, added at once (while they are in cache) to the
 * window's unwhitened sum where it keeps one */
static void fine_job(void *arg, int j, int n)
{
    Frame *f = arg;
    FmAccumulator *acc = f->acc;
    int y0, y1;
    slice(acc->fh, j, n, &y0, &y1);
    float *row = job_row(acc, j), *chunk = row + acc->width;
    fm_resample_rows(acc->dsp, f->luma, f->stride, f->bit_depth, &acc->mx, &acc->my, y0, y1,
                     chunk, row, acc->fine, f->win->fine_raw);
}

/* fine -> nominal rows */
static void grid_job(void *arg, int j, int n)
{
    Frame *f = arg;
    FmAccumulator *acc = f->acc;
    int y0, y1;
    slice(acc->gh, j, n, &y0, &y1);
    float *chunk = job_row(acc, j) + acc->width + acc->chunk_fine;
    fm_resample_rows_float(acc->dsp, acc->fine, &acc->nx, &acc->ny, y0, y1, chunk, acc->grid);
}

int fm_accumulator_add(FmAccumulator *acc, const uint8_t *luma, ptrdiff_t stride,
                       int bit_depth, double t, FmError *err)
{
    return fm_accumulator_add_weighted(acc, luma, stride, bit_depth, t, 1.0f, err);
}

int fm_accumulator_add_weighted(FmAccumulator *acc, const uint8_t *luma, ptrdiff_t stride,
                                int bit_depth, double t, float weight, FmError *err)
{
    if (!isfinite(t))
        return fm_error_set(err, FM_EINVAL, "frame time is not a number");
    if (!(weight > 0 && weight <= FM_FRAME_WEIGHT_MAX))
        return fm_error_set(err, FM_EINVAL, "frame weight %g is not a number in (0, %g]",
                            (double)weight, (double)FM_FRAME_WEIGHT_MAX);
    if (window_index(acc, t) >= acc->max_windows) {
        acc->frames_left_out++;
        return 0;
    }
    FmWindow *win = window_at(acc, t);
    if (!win)
        return fm_error_set(err, FM_ENOMEM, "out of memory for detection windows");
    /* clip -> fine grid -> nominal grid (area averages compose), then each
     * grid is whitened on its own scale */
    Frame fr = { acc, luma, stride, bit_depth, win };
    int jobs = acc->jobs;
    fm_pool_run(acc->pool, fine_job, &fr, jobs);
    if (acc->fine_only) {
        fm_whiten_run_sum(&acc->white_fine, acc->dsp, acc->pool, acc->fine, NULL,
                          win->fine ? win->fine : acc->fine_rest, weight);
        goto counted;
    }
    fm_pool_run(acc->pool, grid_job, &fr, jobs);
    /* the picture's cells, before the grid is whitened in place */
    if (!acc->frames)
        memcpy(acc->grid_first, acc->grid, sizeof(float) * (size_t)acc->gw * acc->gh);
    for (int y = 0; y < acc->gh; y++) {
        const float *row = acc->grid + (size_t)y * acc->gw;
        float *c = win->cells + (size_t)(y / FM_TAG_CELL) * acc->cw;
        for (int x0 = 0, cx = 0; x0 < acc->gw; x0 += FM_TAG_CELL, cx++) {
            int x1 = x0 + FM_TAG_CELL < acc->gw ? x0 + FM_TAG_CELL : acc->gw;
            float sum = c[cx];
            for (int x = x0; x < x1; x++)
                sum += row[x];
            c[cx] = sum;
        }
    }
    fm_whiten_run(&acc->white_grid, acc->dsp, acc->pool, acc->grid, acc->grid);
    /* the whitened fine evidence into the window's sum where it keeps one,
     * else into the rest of the clip's (fm_accumulator_fine_total) */
    fm_whiten_run_sum(&acc->white_fine, acc->dsp, acc->pool, acc->fine, NULL,
                      win->fine ? win->fine : acc->fine_rest, weight);
    /* windows keep only their nominal evidence read as slot values cell by
     * cell (linear, so frames add up there): 20 KB a cell, 300 KB at 16:9 */
    fm_plane_fold(acc->grid, acc->gw, acc->gh, 0, 0, 0, 0, acc->cells.nx * FM_TILE,
                  acc->cells.ny * FM_TILE, acc->tile);
    fm_cells_read(acc->tile, acc->cells, acc->slots);
    for (int k = 0; k < acc->nslots; k++)
        win->slots[k] += weight * acc->slots[k];
counted:
    if (!acc->frames || t < acc->t_first)
        acc->t_first = t;
    if (!acc->frames || t > acc->t_last)
        acc->t_last = t;
    if (t < win->t_first)
        win->t_first = t;
    if (t > win->t_last)
        win->t_last = t;
    win->frames++;
    win->weight += weight;
    acc->frames++;
    return acc->twin ? fm_accumulator_add_weighted(acc->twin, luma, stride, bit_depth, t, weight,
                                                   err)
                     : 0;
}

void fm_accumulator_fine_total(const FmAccumulator *acc, float *out)
{
    int n = acc->fw * acc->fh;
    memcpy(out, acc->fine_rest, sizeof(float) * (size_t)n);
    for (int w = 0; w < acc->nwin; w++)
        if (acc->win[w].fine)
            acc->dsp->vacc(out, acc->win[w].fine, 1.0f, n);
}

int fm_window_predict(const FmAccumulator *acc, float *const *v, int nwin, int len, int w,
                      float *out)
{
    double f = 0;
    memset(out, 0, sizeof(float) * (size_t)len);
    for (int side = -1; side <= 1; side += 2)
        for (int j = FM_PREDICT_GAP; j < FM_PREDICT_GAP + FM_PREDICT_SPAN; j++) {
            int x = w + side * j;
            if (x < 0 || x >= nwin || !v[x] || !acc->win[x].frames)
                continue;
            for (int k = 0; k < len; k++)
                out[k] += v[x][k];
            f += acc->win[x].weight;
        }
    if (!(f > 0))
        return 0;
    float scale = (float)acc->win[w].weight / (float)f;
    for (int k = 0; k < len; k++)
        out[k] *= scale;
    return 1;
}

void fm_window_predict_fit(const FmAccumulator *acc, float *const *v, int nwin, int len,
                           float *scratch, float *beta)
{
    double num[FM_NCOEF] = { 0 }, den[FM_NCOEF] = { 0 };
    for (int w = 0; w < nwin; w++) {
        if (!v[w] || !fm_window_predict(acc, v, nwin, len, w, scratch))
            continue;
        for (int k = 0; k < len; k++) {
            num[k % FM_NCOEF] += (double)v[w][k] * scratch[k];
            den[k % FM_NCOEF] += (double)scratch[k] * scratch[k];
        }
    }
    for (int c = 0; c < FM_NCOEF; c++) {
        double b = den[c] > 0 ? num[c] / den[c] : 0;
        beta[c] = (float)(b < 0 ? 0 : b > 1 ? 1 : b);
    }
}
