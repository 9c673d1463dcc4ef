#include "informed.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "accumulator.h"
#include "fm_error.h"
#include "resample.h"
#include "whiten.h"

/* How fast the running sums forget: 0.99 a frame is a memory of ~100
 * frames (about 4 s), short enough to follow the shots of a film, long
 * enough for the host sum of a moving shot to average down by itself
 * (0.95 spent energy correcting host terms that a 10-s read averages away:
 * measured with bench/fm_raw on dune and storm). */
#define INFORMED_DECAY 0.99
/* Fraction of the host's running contribution that the amplitude corrects
 * (1 = all of it, before the energy is renormalised). */
#define INFORMED_GAIN 1.0
/* Bounds on a coded bit's amplitude relative to the plain mark, before the
 * energy is renormalised: a bit the host helps keeps some mark, and one the
 * host hopelessly opposes does not take all the energy. */
#define INFORMED_MIN 0.2
#define INFORMED_MAX 3.0

#define NBLOCKS (FM_TILE_BLOCKS * FM_TILE_BLOCKS)

struct FmInformed {
    int w, h, gw, gh;
    FmAxisMap mx, my;         /* picture -> nominal mark grid */
    float *host_grid, *mark_grid;
    float *tmp_host, *tmp_mark;  /* gw x h: the horizontal passes */
    float *rowbuf;               /* w: for fm_informed_update */
    FmWhiten whiten;
    const FmDsp *dsp;
    FmPool *pool;
    FmCells cells;            /* format 7: the grid's cells, their plane and slots */
    float *plane, *cell_slots;
    uint32_t cell_flip[FM_SLOTS];  /* the epoch's cell signs */
    float host[FM_SLOTS], marked[FM_SLOTS];
    float values[FM_SLOTS];   /* the plain message's slot values */
    int16_t bits[FM_SLOTS];   /* the slot map's coded bit per slot, -1 = pilot */
    double host_sum[FM_CODED_BITS];  /* running host contribution per coded bit */
    double mark_sum;                 /* running mean mark response of a coded bit */
};

int fm_informed_new(FmInformed **out, const FmSlotMap *map, const float values[FM_SLOTS],
                    int width, int height)
{
    *out = NULL;
    FmInformed *f = calloc(1, sizeof(*f));
    if (!f)
        return FM_ENOMEM;
    f->w = width;
    f->h = height;
    f->gw = fm_mark_width(width, height);
    f->gh = FM_MARK_HEIGHT;
    size_t n = (size_t)f->gw * f->gh;
    f->host_grid = malloc(sizeof(float) * n);
    f->mark_grid = malloc(sizeof(float) * n);
    f->tmp_host = malloc(sizeof(float) * (size_t)f->gw * height);
    f->tmp_mark = malloc(sizeof(float) * (size_t)f->gw * height);
    f->rowbuf = malloc(sizeof(float) * (size_t)width);
    f->cells = fm_cells_of(f->gw, f->gh);
    /* zero past the grid for good: the whitening writes only the grid's part */
    f->plane = calloc((size_t)FM_TILE * FM_TILE * fm_cells_count(f->cells), sizeof(float));
    f->cell_slots = malloc(sizeof(float) * FM_SLOTS * fm_cells_count(f->cells));
    f->dsp = fm_dsp_get();
    if (!f->host_grid || !f->mark_grid || !f->tmp_host || !f->tmp_mark ||
        !f->rowbuf || !f->plane || !f->cell_slots || fm_whiten_init(&f->whiten, f->gw, f->gh, 2) < 0 ||
        fm_axis_map_init(&f->mx, width, f->gw, 0, (double)width / f->gw) < 0 ||
        fm_axis_map_init(&f->my, height, f->gh, 0, (double)height / f->gh) < 0) {
        fm_informed_free(&f);
        return FM_ENOMEM;
    }
    fm_informed_set_pattern(f, map, values);
    *out = f;
    return 0;
}

void fm_informed_set_pattern(FmInformed *f, const FmSlotMap *map, const float values[FM_SLOTS])
{
    memcpy(f->values, values, sizeof(f->values));
    memcpy(f->bits, map->bit, sizeof(f->bits));
    memcpy(f->cell_flip, map->cell_flip, sizeof(f->cell_flip));
}

/* Whitens a grid plane as the detector does (accumulator.c: the nominal
 * grid, radius 2) straight into its cells' plane (the grid's fold at no
 * offset, zero beyond it), reads their slots and sums them under the
 * epoch's cell signs (the detector's view once it knows the epoch). */
static void detector_view(FmInformed *f, const float *grid, float slots[FM_SLOTS])
{
    fm_whiten_run_to(&f->whiten, f->dsp, f->pool, grid, f->plane,
                     (ptrdiff_t)f->cells.nx * FM_TILE);
    fm_cells_read(f->plane, f->cells, f->cell_slots);
    fm_cells_combine(f->cell_flip, f->cell_slots, f->cells, 0, 0, 1.0f, slots);
}

void fm_informed_set_exec(FmInformed *f, const FmDsp *dsp, FmPool *pool)
{
    f->dsp = dsp;
    f->pool = pool;
}

void fm_informed_rows(FmInformed *f, const uint8_t *luma, ptrdiff_t stride, int bit_depth,
                      const float *delta_rows, int y0, int y1, float *rowbuf)
{
    fm_resample_hrows(f->dsp, luma, stride, bit_depth, &f->mx, y0, y1, f->tmp_host, rowbuf);
    for (int y = y0; y < y1; y++)
        f->dsp->hresample(delta_rows + (size_t)(y - y0) * f->w, f->mx.index_t, f->mx.weight_t,
                          f->mx.taps, f->gw, 1.0f, f->tmp_mark + (size_t)y * f->gw);
}

typedef struct Grids {
    FmInformed *f;
    float gain;
} Grids;

/* the frame as the detector sees it, without and with the plain mark (area
 * resampling is linear: the marked grid is host grid + mark grid) */
static void grids_job(void *arg, int j, int nj)
{
    Grids *g = arg;
    FmInformed *f = g->f;
    int y0 = (int)((long)f->gh * j / nj), y1 = (int)((long)f->gh * (j + 1) / nj);
    fm_resample_vrows(f->dsp, f->tmp_host, f->gw, &f->my, y0, y1, f->host_grid);
    fm_resample_vrows(f->dsp, f->tmp_mark, f->gw, &f->my, y0, y1, f->mark_grid);
    for (size_t i = (size_t)y0 * f->gw; i < (size_t)y1 * f->gw; i++)
        f->mark_grid[i] = f->host_grid[i] + g->gain * f->mark_grid[i];
}

void fm_informed_update(FmInformed *f, const uint8_t *luma, ptrdiff_t stride, int bit_depth,
                        const float *delta, float delta_gain, float values[FM_SLOTS])
{
    fm_informed_rows(f, luma, stride, bit_depth, delta, 0, f->h, f->rowbuf);
    fm_informed_finish(f, delta_gain, 1, values);
}

void fm_informed_finish(FmInformed *f, float delta_gain, int frames, float values[FM_SLOTS])
{
    /* this view stands for the `frames` since the last one: the running sums
     * decay over all of them and take the view once for each (a geometric
     * sum of weights), as if every frame had looked like this one */
    double decay = INFORMED_DECAY, times = 1;
    if (frames > 1) {
        decay = pow(INFORMED_DECAY, frames);
        times = (1 - decay) / (1 - INFORMED_DECAY);
    }
    Grids g = { f, delta_gain };
    int nt = fm_pool_threads(f->pool);
    fm_pool_run(f->pool, grids_job, &g, nt > 1 ? 4 * nt : 1);
    detector_view(f, f->host_grid, f->host);
    detector_view(f, f->mark_grid, f->marked);

    /* per band, the detector's unit-variance scaling and its combining
     * weight: the mark's mean response on the pilots of that band */
    float scale[FM_NCOEF], weight[FM_NCOEF];
    for (int c = 0; c < FM_NCOEF; c++) {
        double ss = 0, m = 0;
        int np = 0;
        for (int b = 0; b < NBLOCKS; b++) {
            int k = b * FM_NCOEF + c;
            ss += (double)f->marked[k] * f->marked[k];
            if (f->bits[k] < 0) {
                m += (f->marked[k] - f->host[k]) * f->values[k];
                np++;
            }
        }
        scale[c] = ss > 0 ? (float)(1 / sqrt(ss / NBLOCKS)) : 0;
        m = np ? m / np * scale[c] : 0;
        weight[c] = fm_band_weight(m, FM_BAND_WEIGHT_FLOOR_INFORMED);
    }

    /* each coded bit's share of host and mark, as the detector will weigh
     * them. The pilot is left as it is: the geometry search finds crops by
     * the pilot's correlation, and a pilot bent towards the whole picture's
     * host no longer matches a part of it. */
    for (int u = 0; u < FM_CODED_BITS; u++)
        f->host_sum[u] *= decay;
    double mark = 0;  /* the plain mark's total over all coded bits */
    for (int k = 0; k < FM_SLOTS; k++) {
        int u = f->bits[k];
        if (u < 0)
            continue;
        float wv = weight[k % FM_NCOEF] * scale[k % FM_NCOEF] * f->values[k];
        f->host_sum[u] += times * (wv * f->host[k]);
        mark += wv * (f->marked[k] - f->host[k]);
    }
    f->mark_sum = decay * f->mark_sum + times * (mark / FM_CODED_BITS);

    /* amplitudes: cancel the host's running contribution, then renormalise
     * the data slots to the plain tile's energy */
    double ss = 0;
    for (int k = 0; k < FM_SLOTS; k++) {
        int u = f->bits[k];
        double a = 1;
        if (u >= 0) {
            if (f->mark_sum > 0)
                a = 1 - INFORMED_GAIN * f->host_sum[u] / f->mark_sum;
            a = a < INFORMED_MIN ? INFORMED_MIN : a > INFORMED_MAX ? INFORMED_MAX : a;
            ss += a * a;
        }
        values[k] = (float)a;
    }
    float norm = ss > 0 ? (float)sqrt(FM_DATA_SLOTS / ss) : 1.0f;
    for (int k = 0; k < FM_SLOTS; k++)
        values[k] *= (f->bits[k] >= 0 ? norm : 1.0f) * f->values[k];
}

void fm_informed_free(FmInformed **pf)
{
    FmInformed *f = *pf;
    if (!f)
        return;
    fm_axis_map_free(&f->mx);
    fm_axis_map_free(&f->my);
    free(f->host_grid);
    free(f->mark_grid);
    free(f->tmp_host);
    free(f->tmp_mark);
    free(f->rowbuf);
    if (f->plane)
        sodium_memzero(f->plane, sizeof(float) * FM_TILE * FM_TILE * fm_cells_count(f->cells));
    free(f->plane);
    if (f->cell_slots)
        sodium_memzero(f->cell_slots, sizeof(float) * FM_SLOTS * fm_cells_count(f->cells));
    free(f->cell_slots);
    fm_whiten_free(&f->whiten);
    sodium_memzero(f, sizeof(*f));
    free(f);
    *pf = NULL;
}
