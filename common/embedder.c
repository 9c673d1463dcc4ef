#include "embedder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fec.h"
#include "informed.h"
#include "mask.h"
#include "pool.h"
#include "pattern.h"
#include "quality.h"
#include "resample.h"

/* Mark amplitude (8-bit levels) where the mask is 1; see docs/DESIGN.md. */
#define FM_BASE_AMPLITUDE 1.6
/* Per-frame PSNR floor at strength 1. */
#define FM_PSNR_FLOOR_DB 45.0
/*
 * Per-frame luma SSIM floor at strength 1 (1 - SSIM scales with strength^2,
 * as the PSNR cap's mean square does). Held when the quality is measured
 * (wmembed always measures it): a frame that reads below it is marked again
 * at a lower gain, aiming a little inside the floor, at most
 * FM_SSIM_FLOOR_TRIES times. At 720p and above real footage sits above it
 * at the PSNR cap; on small pictures (fewer, coarser windows per mark
 * pixel) the same mark can cost more SSIM than PSNR (docs/DESIGN.md §4).
 */
#define FM_SSIM_FLOOR 0.99
#define FM_SSIM_FLOOR_AIM 0.97
#define FM_SSIM_FLOOR_TRIES 4
/*
 * The fill (on by default where the quality is measured): a frame whose mark
 * stays under the PSNR cap with room in its SSIM is marked more strongly, up
 * to FM_SSIM_FILL_MAX times the amplitude, aiming its SSIM at
 * FM_SSIM_FILL_AIM of the floor's distance from 1 (0.9905 at the default):
 * the picture cost the floor allows, spent where the cap leaves room (dark
 * and flat footage sits 3-4 dB above it). 1 - SSIM grows with the gain's
 * square, so the gain comes from the frame before's (1 - SSIM) / gain^2,
 * never below 1; a frame that reads under the floor all the same (a cut) is
 * marked again as above (docs/DESIGN.md section 4).
 */
#define FM_SSIM_FILL_AIM 0.95
#define FM_SSIM_FILL_MAX 1.41
/*
 * Informed embedding looks at every FM_INFORMED_INTERVAL-th frame (and at the
 * first of each epoch) as the detector will, and the frames between reuse
 * its reweighted tile: the detector's view of a frame (resampling, two
 * whitenings, two folds) costs more than the rest of the mark stage, and the
 * running sums it feeds remember ~100 frames, so a view every few frames
 * gives them nearly the same value (docs/DESIGN.md section 4).
 */
#ifndef FM_INFORMED_INTERVAL
#define FM_INFORMED_INTERVAL 4
#endif

struct FmEmbedder {
    int w, h;
    float alpha;
    double mse_cap;
    double ssim_floor;
    float norm;          /* sampling normalisation of the tile (unit RMS) */
    /* format 7: the cells of the mark grid (pattern.h), the tiles of all of
     * them side by side (sw x sh) and their slot values (cells x FM_SLOTS) */
    FmCells cells;
    int sw, sh;
    float *tile;         /* sw x sh scratch */
    float *cell_values;
    int *col_x0, *col_x1; /* w: each column's left and right tile sample */
    float *col_fx;       /* w: and its interpolation weight */
    int *row_t0, *row_t1; /* h: the tile rows each picture row interpolates */
    float *row_fy;       /* h: and its weight */
    /* the cells' tiles sampled across the picture, each of their sh rows
     * interpolated horizontally (sh x w): rows of the picture are then a
     * vertical interpolation of two of them */
    float *plain_rows;   /* this epoch's plain tile (secret) */
    float *adapted_rows; /* this frame's reweighted tile (secret) */
    float values[FM_SLOTS];
    FmPatternKeys *keys;  /* the key's pattern material (secret) */
    FmSlotMap *map;       /* this epoch's slot map */
    float *plain;         /* FM_SLOTS: this epoch's plain slot values */
    uint8_t coded[FM_CODED_BITS];
    long epoch;           /* the epoch rendered into plain_rows, -1 before the first */
    /* format 4's content tag (content_tag.h): the keyed projections, the
     * region's anchor on the mark grid, the cells of this epoch's frames so
     * far and of the frame being marked */
    FmTagKey *tag_key;
    int tag_ax, tag_ay;
    FmTagCells *epoch_cells, *frame_cells;
    FmInformed *informed;  /* informed embedding (informed.h) */
    int use_informed;      /* 0: the plain tile in every frame */
    int informed_wait;     /* frames until the next informed view (0: this one) */
    int informed_frames;   /* frames since the last informed view */
    int expect_uncapped;   /* the last frame was marked at the fill's gain (no
                            * PSNR cap, no SSIM floor): mark this one in one
                            * pass (fm_embedder_mark) */
    int fill;              /* raise the gain towards the SSIM floor */
    double fill_r;         /* the last measured frame's (1 - SSIM) / gain^2; 0: none */
    uint8_t *original;   /* copy of the input luma for quality measures */
    FmMask mask;
    /* per-frame machinery: kernels, slice threads and their scratch */
    const FmDsp *dsp;
    FmPool *pool;
    int jobs;            /* slices per pass */
    float *job_rows;     /* jobs x 2 w floats: a row of the change, a row of samples */
    uint8_t *job_scratch; /* jobs x scratch_bytes: mask and SSIM column sums */
    size_t scratch_bytes;
    double *row_mse;     /* h: each row's sum of squared change */
    double *band_err;    /* (h + 7) / 8: each SSIM band's squared error */
    double *win_ssim;    /* ((h + 7) / 8) x ((w + 7) / 8): SSIM of each window */
};

/* Where each picture column falls on the cells' plane (period sw): left
 * sample, weight. */
static void column_taps(int w, int h, int sw, int *x0, int *x1, float *fx)
{
    double step = fm_mark_step(h);
    for (int x = 0; x < w; x++) {
        double c = (x + 0.5) / step - 0.5;
        double f = floor(c);
        fx[x] = (float)(c - f);
        x0[x] = (int)(((long)f % sw + sw) % sw);
        x1[x] = (x0[x] + 1) % sw;
    }
}

/* Where each picture row falls on the cells' plane (period sh): the two
 * rows, weight. */
static void row_taps(int h, int sh, int *t0, int *t1, float *fy)
{
    double step = fm_mark_step(h);
    for (int y = 0; y < h; y++) {
        double c = (y + 0.5) / step - 0.5;
        double f = floor(c);
        fy[y] = (float)(c - f);
        t0[y] = (int)(((long)f % sh + sh) % sh);
        t1[y] = (t0[y] + 1) % sh;
    }
}

static void slice(int h, int j, int n, int *y0, int *y1)
{
    *y0 = (int)((long)h * j / n);
    *y1 = (int)((long)h * (j + 1) / n);
}

typedef struct Frame {
    FmEmbedder *e;
    uint8_t *luma;
    ptrdiff_t stride;
    int bit_depth;
    int quality;
    int original_kept;        /* e->original holds this frame's input */
    const float *tile_rows;   /* the tile being marked or measured */
    const float *tile;        /* the tile to interpolate (tile_rows_job) */
    float gain;
} Frame;

/* Interpolates rows [j] of the cells' plane across the picture: rows of
 * sh x w. */
static void tile_rows_job(void *arg, int j, int n)
{
    Frame *f = arg;
    FmEmbedder *e = f->e;
    int t0, t1;
    slice(e->sh, j, n, &t0, &t1);
    float *out = (float *)f->tile_rows;
    for (int ty = t0; ty < t1; ty++)
        e->dsp->lerp_idx(f->tile + (size_t)ty * e->sw, e->col_x0, e->col_x1, e->col_fx, e->w,
                         out + (size_t)ty * e->w);
}

/* Renders canonical slot values into every cell (with each cell's signs)
 * and samples them across the picture. */
static void tile_rows(FmEmbedder *e, const float *values, float *rows)
{
    for (int i = 0; i < fm_cells_count(e->cells); i++)
        fm_cell_values(e->map, values, fm_cell_id(e->cells, i, 0, 0),
                       e->cell_values + (size_t)i * FM_SLOTS);
    fm_cells_render(e->cell_values, e->cells, e->tile);
    Frame f = { .e = e, .tile = e->tile, .tile_rows = rows };
    fm_pool_run(e->pool, tile_rows_job, &f, e->jobs < e->sh ? e->jobs : e->sh);
}

/* Renders the epoch's plain tile across the picture, finds its unit-RMS
 * normalisation and tells the informed embedder about the new variant. */
static void set_epoch(FmEmbedder *e, uint32_t epoch, const uint8_t *tag)
{
    fm_slot_map_init(e->map, e->keys, epoch);
    fm_slot_map_set_tag(e->map, tag);
    fm_slot_values(e->map, e->coded, e->plain);
    tile_rows(e, e->plain, e->plain_rows);
    /* normalise to unit RMS over the picture (bilinear sampling smooths a
     * little): one sum in picture order */
    size_t n = (size_t)e->w * e->h;
    double ss = 0;
    float *row = e->job_rows;
    for (int y = 0; y < e->h; y++) {
        e->dsp->lerp(e->plain_rows + (size_t)e->row_t0[y] * e->w,
                     e->plain_rows + (size_t)e->row_t1[y] * e->w, e->row_fy[y], 1.0f, e->w, row);
        for (int x = 0; x < e->w; x++)
            ss += (double)row[x] * row[x];
    }
    e->norm = ss > 0 ? (float)sqrt(n / ss) : 1.0f;
    fm_informed_set_pattern(e->informed, e->map, e->plain);
    e->informed_wait = 0;  /* the new variant is reweighted at once */
    e->epoch = epoch;
}

int fm_embedder_set_threads(FmEmbedder *e, int threads)
{
    fm_pool_free(&e->pool);
    free(e->job_rows);
    free(e->job_scratch);
    e->job_rows = NULL;
    e->job_scratch = NULL;
    e->jobs = 0;
    int ret = fm_pool_new(&e->pool, threads);
    int nt = fm_pool_threads(e->pool);
    int jobs = nt > 1 ? 4 * nt : 1;
    for (;;) {
        e->job_rows = malloc(sizeof(float) * 2 * (size_t)e->w * jobs);
        e->job_scratch = malloc(e->scratch_bytes * jobs);
        if (e->job_rows && e->job_scratch)
            break;
        free(e->job_rows);
        free(e->job_scratch);
        e->job_rows = NULL;
        e->job_scratch = NULL;
        if (jobs == 1)
            return FM_ENOMEM;
        fm_pool_free(&e->pool);  /* fall back to one thread */
        jobs = 1;
        ret = FM_ENOMEM;
    }
    e->jobs = jobs;
    fm_informed_set_exec(e->informed, e->dsp, e->pool);
    return ret;
}

int fm_embedder_new(FmEmbedder **out, const uint8_t wm_key[FM_WMKEY_BYTES],
                    const uint8_t message[FM_MESSAGE_BYTES], int width, int height,
                    double strength, FmError *err)
{
    *out = NULL;
    int size_ok = fm_picture_size_check(width, height, err);
    if (size_ok < 0)
        return size_ok;
    if (!(strength > 0 && strength <= 10))
        return fm_error_set(err, FM_EINVAL, "strength %g is outside (0, 10]", strength);

    FmEmbedder *e = calloc(1, sizeof(*e));
    uint8_t bits[FM_MESSAGE_BITS];
    size_t n = (size_t)width * height;
    int ret = FM_ENOMEM;

    if (!e)
        goto fail;
    e->w = width;
    e->h = height;
    e->epoch = -1;
    e->dsp = fm_dsp_get();
    e->alpha = (float)(FM_BASE_AMPLITUDE * strength);
    e->mse_cap = 255.0 * 255.0 / pow(10, FM_PSNR_FLOOR_DB / 10) * strength * strength;
    e->ssim_floor = 1 - (1 - FM_SSIM_FLOOR) * strength * strength;
    e->cells = fm_cells_of(fm_mark_width(width, height), FM_MARK_HEIGHT);
    e->sw = e->cells.nx * FM_TILE;
    e->sh = e->cells.ny * FM_TILE;
    e->plain_rows = malloc(sizeof(float) * e->sh * (size_t)width);
    e->adapted_rows = malloc(sizeof(float) * e->sh * (size_t)width);
    e->original = malloc(n * 2);
    e->col_x0 = malloc(sizeof(int) * (size_t)width);
    e->col_x1 = malloc(sizeof(int) * (size_t)width);
    e->col_fx = malloc(sizeof(float) * (size_t)width);
    e->row_t0 = malloc(sizeof(int) * (size_t)height);
    e->row_t1 = malloc(sizeof(int) * (size_t)height);
    e->row_fy = malloc(sizeof(float) * (size_t)height);
    e->row_mse = malloc(sizeof(double) * (size_t)height);
    e->band_err = malloc(sizeof(double) * (size_t)((height + 7) / 8));
    e->win_ssim = malloc(sizeof(double) * (size_t)((height + 7) / 8) * ((width + 7) / 8));
    e->tile = malloc(sizeof(float) * e->sw * e->sh);
    e->cell_values = malloc(sizeof(float) * FM_SLOTS * fm_cells_count(e->cells));
    e->plain = malloc(sizeof(float) * FM_SLOTS);
    e->map = malloc(sizeof(*e->map));
    e->keys = malloc(sizeof(*e->keys));
    e->tag_key = malloc(sizeof(*e->tag_key));
    e->epoch_cells = calloc(1, sizeof(*e->epoch_cells));
    e->frame_cells = calloc(1, sizeof(*e->frame_cells));
    if (!e->plain_rows || !e->adapted_rows || !e->original || !e->col_x0 || !e->col_x1 || !e->col_fx ||
        !e->row_t0 || !e->row_t1 || !e->row_fy || !e->row_mse || !e->band_err || !e->win_ssim ||
        !e->tile || !e->cell_values || !e->plain || !e->map || !e->keys || !e->tag_key || !e->epoch_cells ||
        !e->frame_cells ||
        fm_mask_init(&e->mask, width, height) < 0)
        goto fail;
    column_taps(width, height, e->sw, e->col_x0, e->col_x1, e->col_fx);
    row_taps(height, e->sh, e->row_t0, e->row_t1, e->row_fy);
    e->scratch_bytes = fm_mask_scratch_bytes(&e->mask);
    if (fm_ssim_scratch_bytes(width) > e->scratch_bytes)
        e->scratch_bytes = fm_ssim_scratch_bytes(width);
    e->scratch_bytes = (e->scratch_bytes + 63) & ~(size_t)63;

    fm_pattern_keys_init(e->keys, wm_key);
    fm_tag_key_init(e->tag_key, wm_key);
    e->tag_ax = fm_tag_anchor(fm_mark_width(width, height) / 2.0);
    e->tag_ay = fm_tag_anchor(FM_MARK_HEIGHT / 2.0);
    fm_bytes_to_bits(message, FM_MESSAGE_BYTES, bits);
    if (fm_msgcode_encode(bits, e->coded) < 0)
        goto fail;
    {
        /* formats 4-6: the codeword whitened by the public mask */
        uint8_t mask[FM_CODED_BITS];
        fm_format_mask(FM_MARK_FORMAT_TAGGED, mask);
        for (int i = 0; i < FM_CODED_BITS; i++)
            e->coded[i] ^= mask[i];
    }
    fm_slot_map_init(e->map, e->keys, 0);
    fm_slot_values(e->map, e->coded, e->plain);
    if (fm_informed_new(&e->informed, e->map, e->plain, width, height) < 0)
        goto fail;
    e->use_informed = 1;
    e->fill = 1;
    if (fm_embedder_set_threads(e, 0) < 0 && !e->jobs)
        goto fail;
    ret = 0;
    *out = e;
    e = NULL;
fail:
    sodium_memzero(bits, sizeof(bits));
    if (e)
        fm_embedder_free(&e);
    if (ret < 0)
        fm_error_set(err, ret, "out of memory preparing the watermark for %dx%d", width, height);
    return ret;
}

/* The mask's cell statistics (cell rows of slice j). */
static void mask_stats_job(void *arg, int j, int n)
{
    Frame *f = arg;
    FmEmbedder *e = f->e;
    int c0, c1;
    slice(e->mask.ch, j, n, &c0, &c1);
    fm_mask_stats_rows(&e->mask, e->dsp, f->luma, f->stride, f->bit_depth, c0, c1,
                       e->job_scratch + (size_t)j * e->scratch_bytes);
}

static void mask_smooth_job(void *arg, int j, int n)
{
    Frame *f = arg;
    int c0, c1;
    slice(f->e->mask.ch, j, n, &c0, &c1);
    fm_mask_smooth_rows(&f->e->mask, f->e->dsp, c0, c1);
}

/* The group of rows from y on (before y1) sharing row y's sources. */
static int row_group(const FmEmbedder *e, const float *rows, int y, int y1, FmMarkRows *m)
{
    const FmMask *k = &e->mask;
    int n = 1;
    while (n < FM_DSP_GROUP_MAX && y + n < y1 && k->yc0[y + n] == k->yc0[y] &&
           k->yc1[y + n] == k->yc1[y] && e->row_t0[y + n] == e->row_t0[y] &&
           e->row_t1[y + n] == e->row_t1[y])
        n++;
    m->gt = k->hrow + (size_t)k->yc0[y] * e->w;
    m->gb = k->hrow + (size_t)k->yc1[y] * e->w;
    m->gf = k->yf + y;
    m->pt = rows + (size_t)e->row_t0[y] * e->w;
    m->pb = rows + (size_t)e->row_t1[y] * e->w;
    m->pf = e->row_fy + y;
    m->g = n;
    m->alpha = e->alpha;
    m->norm = e->norm;
    return n;
}

/* The plain mark of each row: its energy, and (informed) its view on the
 * mark grid beside the picture's; the input kept for the quality figures. */
static void first_pass_job(void *arg, int j, int n)
{
    Frame *f = arg;
    FmEmbedder *e = f->e;
    int y0, y1, bps = f->bit_depth > 8 ? 2 : 1;
    slice(e->h, j, n, &y0, &y1);
    float *d = e->job_rows + (size_t)j * 2 * e->w, *buf = d + e->w;
    for (int y = y0; y < y1; y++) {
        const uint8_t *row = f->luma + (ptrdiff_t)y * f->stride;
        if (f->quality)  /* then original_kept */
            memcpy(e->original + (size_t)y * e->w * bps, row, (size_t)e->w * bps);
        FmMarkRows m;
        row_group(e, e->plain_rows, y, y + 1, &m);  /* the row alone */
        double lanes[FM_DSP_LANES] = { 0 };
        e->dsp->mark_row(m.gt, m.gb, m.gf[0], m.pt, m.pb, m.pf[0], m.alpha, m.norm, e->w,
                         e->use_informed ? d : NULL, lanes);
        e->row_mse[y] = fm_dsp_lanes_sum(lanes);
        if (e->use_informed)
            fm_informed_rows(e->informed, f->luma, f->stride, f->bit_depth, d, y, y + 1, buf);
    }
}

/*
 * Rows next to each other interpolate the same two mask rows and the same
 * two tile rows (3 rows at 1080p, 6 at 4K): the energy and apply passes take
 * such a group a chunk of columns at a time, so that the four source rows
 * are read from L1 (and the energy kernel, mark_rows, loads them once for
 * all the rows). The kernels see the same values in the same order as row
 * by row over the whole width: a chunk starts at a multiple of
 * FM_DSP_LANES, so each row's lanes get each x's square in the same order.
 */
#define CHUNK 512

/* The group's sources from column x0 on. */
static FmMarkRows chunk_of(const FmMarkRows *m, int x0)
{
    FmMarkRows c = *m;
    c.gt += x0;
    c.gb += x0;
    c.pt += x0;
    c.pb += x0;
    return c;
}

/* The energy of the mark, row by row (and the input kept for the quality
 * figures when the first pass did not keep it). */
static void energy_job(void *arg, int j, int n)
{
    Frame *f = arg;
    FmEmbedder *e = f->e;
    int y0, y1, bps = f->bit_depth > 8 ? 2 : 1;
    slice(e->h, j, n, &y0, &y1);
    for (int y = y0; y < y1;) {
        FmMarkRows m;
        int g = row_group(e, f->tile_rows, y, y1, &m);
        if (f->quality && !f->original_kept)
            for (int i = 0; i < g; i++)
                memcpy(e->original + (size_t)(y + i) * e->w * bps,
                       f->luma + (ptrdiff_t)(y + i) * f->stride, (size_t)e->w * bps);
        double lanes[FM_DSP_GROUP_MAX][FM_DSP_LANES] = { { 0 } };
        for (int x0 = 0; x0 < e->w; x0 += CHUNK) {
            FmMarkRows c = chunk_of(&m, x0);
            e->dsp->mark_rows(&c, e->w - x0 < CHUNK ? e->w - x0 : CHUNK, lanes);
        }
        for (int i = 0; i < g; i++)
            e->row_mse[y + i] = fm_dsp_lanes_sum(lanes[i]);
        y += g;
    }
}

/*
 * Adds the mark to rows of slice j, f->gain applied, rounded to whole code
 * values. one_pass: the input rows kept aside first (unless already kept)
 * and the mark's energy (at gain 1) summed in the same pass (row_mse): the
 * frame's output when the energy turns out to be under the cap at that gain.
 */
static void add_rows(Frame *f, int j, int n, int one_pass)
{
    FmEmbedder *e = f->e;
    int y0, y1, bps = f->bit_depth > 8 ? 2 : 1;
    slice(e->h, j, n, &y0, &y1);
    int maxval = (1 << f->bit_depth) - 1;
    float unit = (float)(1 << (f->bit_depth - 8)), gain = f->gain;
    for (int y = y0; y < y1;) {
        FmMarkRows m;
        int g = row_group(e, f->tile_rows, y, y1, &m);
        uint8_t *rows[FM_DSP_GROUP_MAX];
        for (int i = 0; i < g; i++) {
            rows[i] = f->luma + (ptrdiff_t)(y + i) * f->stride;
            if (one_pass && !f->original_kept)
                memcpy(e->original + (size_t)(y + i) * e->w * bps, rows[i], (size_t)e->w * bps);
        }
        double lanes[FM_DSP_GROUP_MAX][FM_DSP_LANES] = { { 0 } };
        double (*sums)[FM_DSP_LANES] = one_pass ? lanes : NULL;
        for (int x0 = 0; x0 < e->w; x0 += CHUNK) {
            FmMarkRows c = chunk_of(&m, x0);
            int len = e->w - x0 < CHUNK ? e->w - x0 : CHUNK;
            if (f->bit_depth <= 8) {
                uint8_t *px[FM_DSP_GROUP_MAX];
                for (int i = 0; i < g; i++)
                    px[i] = rows[i] + x0;
                e->dsp->apply_rows_u8(&c, px, gain, len, sums);
            } else {
                uint16_t *px[FM_DSP_GROUP_MAX];
                for (int i = 0; i < g; i++)
                    px[i] = (uint16_t *)rows[i] + x0;
                e->dsp->apply_rows_u16(&c, px, gain, unit, maxval, len, sums);
            }
        }
        if (one_pass)
            for (int i = 0; i < g; i++)
                e->row_mse[y + i] = fm_dsp_lanes_sum(lanes[i]);
        y += g;
    }
}

static void apply_sum_job(void *arg, int j, int n)
{
    add_rows(arg, j, n, 1);
}

static void apply_job(void *arg, int j, int n)
{
    add_rows(arg, j, n, 0);
}

/* The input rows back from the copy (apply_sum_job's frame over the cap). */
static void restore_job(void *arg, int j, int n)
{
    Frame *f = arg;
    FmEmbedder *e = f->e;
    int y0, y1, bps = f->bit_depth > 8 ? 2 : 1;
    slice(e->h, j, n, &y0, &y1);
    for (int y = y0; y < y1; y++)
        memcpy(f->luma + (ptrdiff_t)y * f->stride, e->original + (size_t)y * e->w * bps,
               (size_t)e->w * bps);
}

static void ssim_job(void *arg, int j, int n)
{
    Frame *f = arg;
    FmEmbedder *e = f->e;
    int bands = (e->h + 7) / 8, b0, b1, nx = (e->w + 7) / 8;
    int bps = f->bit_depth > 8 ? 2 : 1;
    slice(bands, j, n, &b0, &b1);
    for (int b = b0; b < b1; b++)
        e->band_err[b] = fm_ssim_band(e->dsp, e->original, (ptrdiff_t)e->w * bps, f->luma,
                                      f->stride, e->w, e->h, b * 8, f->bit_depth,
                                      e->win_ssim + (size_t)b * nx,
                                      e->job_scratch + (size_t)j * e->scratch_bytes);
}

/* The frame's luma SSIM and mean square change into *q (bands summed in order). */
static void measure_quality(FmEmbedder *e, Frame *f, FmFrameQuality *q)
{
    int bands = (e->h + 7) / 8, nx = (e->w + 7) / 8;
    fm_pool_run(e->pool, ssim_job, f, e->jobs < bands ? e->jobs : bands);
    double ssim_sum = 0, sq = 0;
    for (int b = 0; b < bands; b++) {
        for (int k = 0; k < nx; k++)
            ssim_sum += e->win_ssim[(size_t)b * nx + k];
        sq += e->band_err[b];
    }
    q->ssim = ssim_sum / ((double)bands * nx);
    q->mse = sq / ((double)e->w * e->h);
}

/* The fill's gain for this frame, from the frame before (1: no fill). */
static double fill_gain(const FmEmbedder *e)
{
    if (!e->fill || e->fill_r <= 0)
        return 1.0;
    double g = sqrt((1 - e->ssim_floor) * FM_SSIM_FILL_AIM / e->fill_r);
    return g < 1 ? 1.0 : g > FM_SSIM_FILL_MAX ? FM_SSIM_FILL_MAX : g;
}

/* The frame's gain: the fill's, or less where the mean square of the change
 * would pass the cap (rows summed in order). */
static float frame_gain(const FmEmbedder *e)
{
    double mse = 0, g = fill_gain(e);
    for (int y = 0; y < e->h; y++)
        mse += e->row_mse[y];
    mse /= (double)e->w * e->h;
    return mse * g * g > e->mse_cap ? (float)sqrt(e->mse_cap / mse) : (float)g;
}

int fm_embedder_mark(FmEmbedder *e, uint8_t *luma, ptrdiff_t stride, int bit_depth,
                     double t, FmFrameQuality *quality, FmError *err)
{
    if (bit_depth < 8 || bit_depth > 16)
        return fm_error_set(err, FM_EINVAL, "unsupported bit depth %d", bit_depth);
    if (!isfinite(t))
        return fm_error_set(err, FM_EINVAL, "frame time is not a number");
    uint32_t epoch = fm_epoch_at(t);
    /* the content tag: this picture's cells, before the mark changes it */
    fm_tag_cells_clear(e->frame_cells);
    fm_tag_cells_add_luma(e->frame_cells, luma, stride, bit_depth, e->w, e->h, e->tag_ax,
                          e->tag_ay);
    if (e->epoch != (long)epoch) {
        /* the new epoch carries the hash of the one before it; the first
         * epoch (or one after a jump in time) that of its first picture */
        float proj[FM_TAG_BITS];
        uint8_t tag[FM_TAG_BITS];
        int follows = e->epoch >= 0 && epoch == (uint32_t)(e->epoch + 1) % FM_EPOCHS;
        if (!(follows && fm_tag_hash(e->tag_key, FM_MARK_FORMAT_TAGGED, epoch, e->epoch_cells, proj)))
            fm_tag_hash(e->tag_key, FM_MARK_FORMAT_TAGGED, epoch, e->frame_cells, proj);
        for (int i = 0; i < FM_TAG_BITS; i++)
            tag[i] = proj[i] > 0;
        set_epoch(e, epoch, tag);
        fm_tag_cells_clear(e->epoch_cells);
        sodium_memzero(proj, sizeof(proj));
        sodium_memzero(tag, sizeof(tag));
    }
    fm_tag_cells_merge(e->epoch_cells, e->frame_cells);
    Frame f = { .e = e, .luma = luma, .stride = stride, .bit_depth = bit_depth,
                .quality = quality != NULL,
                .tile_rows = e->plain_rows };
    int jobs = e->jobs;

    fm_pool_run(e->pool, mask_stats_job, &f, jobs < e->mask.ch ? jobs : e->mask.ch);
    fm_pool_run(e->pool, mask_smooth_job, &f, jobs < e->mask.ch ? jobs : e->mask.ch);
    if (e->use_informed) {
        e->informed_frames++;
        if (e->informed_wait <= 0) {
            /* informed embedding: reweight the tile against this picture's
             * own contribution to the slots, same energy (informed.h) */
            fm_pool_run(e->pool, first_pass_job, &f, jobs < e->h ? jobs : e->h);
            f.original_kept = f.quality;
            fm_informed_finish(e->informed, frame_gain(e), e->informed_frames, e->values);
            tile_rows(e, e->values, e->adapted_rows);
            e->informed_frames = 0;
            e->informed_wait = FM_INFORMED_INTERVAL;
        }
        e->informed_wait--;
        f.tile_rows = e->adapted_rows;
    }
    /*
     * The gain needs the energy of the whole mark before any of it is added.
     * Most pictures of a shot need no cap when the one before needed none:
     * then the mark is added at the fill's gain (1 without it) while its
     * energy is summed (the input kept aside), and only a frame that turns
     * out over the cap is put back and marked again with its gain. Either
     * way the pixels are those of the energy pass followed by the add.
     */
    int rows_jobs = jobs < e->h ? jobs : e->h;
    float wish = (float)fill_gain(e);
    if (e->expect_uncapped) {
        f.gain = wish;
        fm_pool_run(e->pool, apply_sum_job, &f, rows_jobs);
        f.original_kept = 1;
        f.gain = frame_gain(e);
        if (f.gain != wish) {
            fm_pool_run(e->pool, restore_job, &f, rows_jobs);
            fm_pool_run(e->pool, apply_job, &f, rows_jobs);
        }
    } else {
        fm_pool_run(e->pool, energy_job, &f, rows_jobs);
        f.gain = frame_gain(e);
        fm_pool_run(e->pool, apply_job, &f, rows_jobs);
    }
    if (quality) {
        /* the input rows are kept aside whenever the quality is measured */
        measure_quality(e, &f, quality);
        /* the SSIM floor: 1 - SSIM grows a little slower than the gain's
         * square, so scaling the gain by the square root of the ratio lands
         * near the aim, and a second try closes the rest */
        for (int k = 0; k < FM_SSIM_FLOOR_TRIES && quality->ssim < e->ssim_floor; k++) {
            double aim = (1 - e->ssim_floor) * FM_SSIM_FLOOR_AIM;
            f.gain *= (float)sqrt(aim / (1 - quality->ssim));
            fm_pool_run(e->pool, restore_job, &f, rows_jobs);
            fm_pool_run(e->pool, apply_job, &f, rows_jobs);
            measure_quality(e, &f, quality);
        }
    }
    e->expect_uncapped = f.gain == wish;
    if (quality) {
        quality->gain = f.gain;
        if (quality->ssim < 1 && f.gain > 0)
            e->fill_r = (1 - quality->ssim) / ((double)f.gain * f.gain);
    }
    return 0;
}

void fm_embedder_set_informed(FmEmbedder *e, int on)
{
    e->use_informed = on != 0;
    e->informed_wait = 0;
}

void fm_embedder_set_fill(FmEmbedder *e, int on)
{
    e->fill = on != 0;
    e->fill_r = 0;
}

void fm_embedder_free(FmEmbedder **pe)
{
    FmEmbedder *e = *pe;
    if (!e)
        return;
    fm_pool_free(&e->pool);
    if (e->plain_rows)  /* the pattern reveals the mark: wipe it */
        sodium_memzero(e->plain_rows, sizeof(float) * e->sh * (size_t)e->w);
    free(e->plain_rows);
    if (e->adapted_rows)
        sodium_memzero(e->adapted_rows, sizeof(float) * e->sh * (size_t)e->w);
    free(e->adapted_rows);
    if (e->job_rows)
        sodium_memzero(e->job_rows, sizeof(float) * 2 * (size_t)e->w * (e->jobs ? e->jobs : 1));
    free(e->job_rows);
    free(e->job_scratch);
    if (e->tile)
        sodium_memzero(e->tile, sizeof(float) * e->sw * e->sh);
    free(e->tile);
    if (e->cell_values)
        sodium_memzero(e->cell_values, sizeof(float) * FM_SLOTS * fm_cells_count(e->cells));
    free(e->cell_values);
    sodium_memzero(e->values, sizeof(e->values));
    sodium_memzero(e->coded, sizeof(e->coded));
    if (e->plain)
        sodium_memzero(e->plain, sizeof(float) * FM_SLOTS);
    free(e->plain);
    if (e->map)
        sodium_memzero(e->map, sizeof(*e->map));
    free(e->map);
    if (e->keys)
        fm_pattern_keys_wipe(e->keys);
    free(e->keys);
    if (e->tag_key)
        fm_tag_key_wipe(e->tag_key);
    free(e->tag_key);
    free(e->epoch_cells);
    free(e->frame_cells);
    fm_informed_free(&e->informed);
    free(e->col_x0);
    free(e->col_x1);
    free(e->col_fx);
    free(e->row_t0);
    free(e->row_t1);
    free(e->row_fy);
    free(e->row_mse);
    free(e->band_err);
    free(e->win_ssim);
    free(e->original);
    fm_mask_free(&e->mask);
    free(e);
    *pe = NULL;
}
