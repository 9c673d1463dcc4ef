#include "cell_view.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "big_alloc.h"
#include "dsp.h"
#include "resample.h"

_Static_assert(FM_CELLS_X == 8, "a row's signs are one byte of the flip word");

void fm_cell_view_init(FmCellView *cv, FmCells cells, int kx, int ky)
{
    memset(cv, 0, sizeof(*cv));
    cv->cells = cells;
    cv->kx = kx;
    cv->ky = ky;
    cv->nc = fm_cells_count(cells);
    cv->lanes = cells.ny * FM_CELLS_X;
    for (int i = 0; i < cv->nc; i++)
        cv->lane[i] = i / cells.nx * FM_CELLS_X + fm_cell_id(cells, i, kx, ky) % FM_CELLS_X;
    for (int y = 0; y < cells.ny; y++)
        cv->row_shift[y] = (y + ky) % FM_CELLS_Y * FM_CELLS_X;
}

/* Whole k with lo < -(s + FM_TILE k) < hi: the picture's first mark pixel
 * (at plane position -(s + FM_TILE k)) between lo and hi; at most n of them,
 * the ones nearest 0 kept. */
static void offsets_1d(int s, double lo, double hi, int n, int *klo, int *khi)
{
    int a = (int)floor((-hi - s) / FM_TILE) + 1, b = (int)ceil((-lo - s) / FM_TILE) - 1;
    if (b < a)
        a = b = 0;
    while (b - a + 1 > n) {  /* drop the end further from 0 */
        if (-a > b)
            a++;
        else
            b--;
    }
    *klo = a;
    *khi = b;
}

void fm_cells_offsets(int mw, int mh, int sx, int sy, FmCells *c, int *kx_lo, int *kx_hi,
                      int *ky_lo, int *ky_hi)
{
    *c = fm_cells_of(mw + sx, mh + sy);
    /* the picture's first mark pixel X0 = -(s + FM_TILE k): the plane's
     * centre m / 2 lies inside the picture, X0 < m / 2 < X0 + width */
    offsets_1d(sx, mw / 2.0 - FM_CELLS_X * FM_TILE, mw / 2.0, FM_CELLS_X, kx_lo, kx_hi);
    offsets_1d(sy, mh / 2.0 - FM_MARK_HEIGHT, mh / 2.0, FM_CELLS_Y, ky_lo, ky_hi);
}

void fm_cell_view_init_plain(FmCellView *cv, FmCells cells)
{
    fm_cell_view_init(cv, cells, 0, 0);
    cv->plain = 1;
}

/* Slots a pass of fm_cell_view_add: the lanes it writes stay in cache
 * while every cell adds to them (each cell has a lane of its own, so the
 * order changes no sum). */
#define ADD_BLOCK 64
_Static_assert(FM_SLOTS % ADD_BLOCK == 0, "whole blocks of slots");

void fm_cell_view_add(const FmCellView *cv, const float *cells, float scale, float *lanes)
{
    for (int k0 = 0; k0 < FM_SLOTS; k0 += ADD_BLOCK)
        for (int i = 0; i < cv->nc; i++) {
            const float *x = cells + (size_t)i * FM_SLOTS;
            float *u = lanes + cv->lane[i];
            for (int k = k0; k < k0 + ADD_BLOCK; k++)
                u[(size_t)k * cv->lanes] += scale * x[k];
        }
}

void fm_cell_view_load(const FmCellView *cv, const float *cells, float *lanes, float *energy)
{
    memset(lanes, 0, sizeof(float) * (size_t)fm_cell_view_floats(cv));
    fm_cell_view_add(cv, cells, 1.0f, lanes);
    fm_cell_view_normalise(cv, lanes, energy);
}

void fm_cell_view_normalise(const FmCellView *cv, float *lanes, float *energy)
{
    int n = cv->lanes;
    double ss[FM_NCOEF] = { 0 };
    for (int k = 0; k < FM_SLOTS; k++)
        for (int l = 0; l < n; l++)
            ss[k % FM_NCOEF] += (double)lanes[(size_t)k * n + l] * lanes[(size_t)k * n + l];
    float f[FM_NCOEF];
    double blocks = (double)FM_TILE_BLOCKS * FM_TILE_BLOCKS * cv->nc;
    for (int c = 0; c < FM_NCOEF; c++)
        f[c] = ss[c] > 0 ? (float)(1 / sqrt(ss[c] / blocks) / sqrt(cv->nc)) : 0;
    for (int k = 0; k < FM_SLOTS; k++) {
        float e = 0, t = 0, s = f[k % FM_NCOEF];
        float *x = lanes + (size_t)k * n;
        for (int l = 0; l < n; l++) {
            x[l] *= s;
            e += x[l] * x[l];
            t += x[l];
        }
        energy[k] = cv->plain ? t * t : e;
    }
}

/*
 * A slot's cells under a flip word: the DSP's flip_sums for one word, the
 * kernel the epoch search uses for many, so the search and the read
 * (collapse) give the same value to the bit.
 */
static inline float signed_cells(const FmCellView *cv, const float *x, uint32_t flip)
{
    float t;
    if (cv->plain)
        flip = 0;
    fm_dsp_get()->flip_sums(x, cv->cells.ny, cv->row_shift, &flip, 1, &t);
    return t;
}

float fm_cell_view_signed(const FmCellView *cv, const float *x, uint32_t flip)
{
    return signed_cells(cv, x, flip);
}

void fm_cell_view_pilot(const FmCellView *cv, const float *lanes, const float *energy,
                        const FmEpochPilot *p, double *s, double *q)
{
    double ss = 0, qq = 0;
    for (int r = 0; r < FM_PILOTS; r++) {
        float t = signed_cells(cv, lanes + (size_t)p->slot[r] * cv->lanes, p->cell_flip[r]);
        ss += t * p->sign[r];
        qq += energy[p->slot[r]];
    }
    *s = ss;
    *q = qq;
}

enum { PILOT_ENTRIES = FM_EPOCHS * FM_PILOTS };

/* The index is a counting sort by slot done in INDEX_JOBS parts: part j
 * counts, then places, the pilots of epochs [FM_EPOCHS j / INDEX_JOBS,
 * FM_EPOCHS (j + 1) / INDEX_JOBS); within a slot part j's entries follow
 * part j - 1's, so the epochs stay ascending whatever thread runs a part. */
enum { INDEX_JOBS = 8 };

typedef struct IndexBuild {
    FmPilotIndex *ix;
    const FmEpochPilot *pilots;
    uint32_t (*next)[FM_SLOTS];   /* a part's count of each slot, then its next entry */
} IndexBuild;

static void epochs_of_part(int j, int *n0, int *n1)
{
    *n0 = FM_EPOCHS * j / INDEX_JOBS;
    *n1 = FM_EPOCHS * (j + 1) / INDEX_JOBS;
}

static void count_job(void *arg, int j, int nj)
{
    IndexBuild *b = arg;
    int n0, n1;
    (void)nj;
    epochs_of_part(j, &n0, &n1);
    uint32_t *count = b->next[j];
    memset(count, 0, sizeof(b->next[j]));
    for (int n = n0; n < n1; n++)
        for (int r = 0; r < FM_PILOTS; r++)
            count[b->pilots[n].slot[r]]++;
}

static void place_job(void *arg, int j, int nj)
{
    IndexBuild *b = arg;
    FmPilotIndex *ix = b->ix;
    int n0, n1;
    (void)nj;
    epochs_of_part(j, &n0, &n1);
    uint32_t *next = b->next[j];
    for (int n = n0; n < n1; n++) {
        const FmEpochPilot *p = &b->pilots[n];
        for (int r = 0; r < FM_PILOTS; r++) {
            uint32_t i = next[p->slot[r]]++;
            ix->flip[i] = p->cell_flip[r];
            ix->epoch[i] = (uint16_t)n;
            ix->sign[i] = p->sign[r];
        }
    }
}

/* The three arrays in one mapping: flip words, epochs, signs. */
static size_t index_bytes(void)
{
    return (sizeof(uint32_t) + sizeof(uint16_t) + sizeof(int8_t)) * (size_t)PILOT_ENTRIES;
}

int fm_pilot_index_init(FmPilotIndex *ix, const FmEpochPilot *pilots, FmPool *pool)
{
    memset(ix, 0, sizeof(*ix));
    IndexBuild b = { ix, pilots, malloc(sizeof(uint32_t[FM_SLOTS]) * INDEX_JOBS) };
    uint8_t *m = fm_big_alloc(index_bytes());
    if (!b.next || !m) {
        free(b.next);
        fm_big_free(m, index_bytes(), 0);
        return -1;
    }
    ix->flip = (uint32_t *)m;
    ix->epoch = (uint16_t *)(m + sizeof(uint32_t) * (size_t)PILOT_ENTRIES);
    ix->sign = (int8_t *)(m + (sizeof(uint32_t) + sizeof(uint16_t)) * (size_t)PILOT_ENTRIES);
    fm_pool_run(pool, count_job, &b, INDEX_JOBS);
    uint32_t at = 0;
    for (int k = 0; k < FM_SLOTS; k++) {
        ix->start[k] = at;
        for (int j = 0; j < INDEX_JOBS; j++) {
            uint32_t c = b.next[j][k];
            b.next[j][k] = at;
            at += c;
        }
    }
    ix->start[FM_SLOTS] = at;
    fm_pool_run(pool, place_job, &b, INDEX_JOBS);
    sodium_memzero(b.next, sizeof(uint32_t[FM_SLOTS]) * INDEX_JOBS);
    free(b.next);
    return 0;
}

void fm_pilot_index_free(FmPilotIndex *ix)
{
    fm_big_free(ix->flip, index_bytes(), 1);
    ix->flip = NULL;
    ix->epoch = NULL;
    ix->sign = NULL;
    sodium_memzero(ix->start, sizeof(ix->start));
}

/* Entries a call of the DSP's flip_sums (its results on the stack). */
#define FLIP_CHUNK 256

void fm_cell_view_pilots(const FmCellView *cv, const float *lanes, const float *energy,
                         const FmPilotIndex *ix, double *s, double *q)
{
    const FmDsp *dsp = fm_dsp_get();
    float t[FLIP_CHUNK];
    /* an epoch's two sums side by side, one cache line for an entry's
     * updates (64 KB of stack) */
    double sq[FM_EPOCHS][2];
    memset(sq, 0, sizeof(sq));
    for (int k = 0; k < FM_SLOTS; k++) {
        const float *x = lanes + (size_t)k * cv->lanes;
        double e = energy[k];
        float plain = cv->plain ? signed_cells(cv, x, 0) : 0;
        for (uint32_t i0 = ix->start[k]; i0 < ix->start[k + 1]; i0 += FLIP_CHUNK) {
            uint32_t n = ix->start[k + 1] - i0 < FLIP_CHUNK ? ix->start[k + 1] - i0 : FLIP_CHUNK;
            if (!cv->plain)
                dsp->flip_sums(x, cv->cells.ny, cv->row_shift, ix->flip + i0, (int)n, t);
            for (uint32_t j = 0; j < n; j++) {
                double *a = sq[ix->epoch[i0 + j]];
                a[0] += (cv->plain ? plain : t[j]) * ix->sign[i0 + j];
                a[1] += e;
            }
        }
    }
    for (int n = 0; n < FM_EPOCHS; n++) {
        s[n] = sq[n][0];
        q[n] = sq[n][1];
    }
}

void fm_cell_view_id(const FmCellView *cv, const float *lanes, const float *energy,
                     const FmPatternKeys *pk, double *s, double *q)
{
    double ss = 0, qq = 0;
    for (int r = 0; r < FM_CELL_ID_SLOTS; r++) {
        int k = pk->sync_slot[r];
        ss += signed_cells(cv, lanes + (size_t)k * cv->lanes, pk->cell_id_flip[r]) *
              pk->sync_sign[r];
        qq += energy[k];
    }
    *s = ss;
    *q = qq;
}

void fm_cell_view_collapse(const FmCellView *cv, const float *lanes,
                           const uint32_t cell_flip[FM_SLOTS], float out[FM_SLOTS])
{
    for (int k = 0; k < FM_SLOTS; k++)
        out[k] = signed_cells(cv, lanes + (size_t)k * cv->lanes, cell_flip[k]);
}

/* The identity bit of stored cell i in a flip word. */
static int cell_bit(const FmCellView *cv, int i)
{
    int l = cv->lane[i];
    return cv->row_shift[l / FM_CELLS_X] + l % FM_CELLS_X;
}

void fm_cell_view_cell_sums(const FmCellView *cv, const float *lanes,
                            const uint32_t cell_flip[FM_SLOTS], const float want[FM_SLOTS],
                            double *s, double *e, double *w2, double *n)
{
    if (cv->plain)
        return;
    int bit[FM_CELLS];
    double ss[FM_CELLS] = { 0 }, ee[FM_CELLS] = { 0 }, ww = 0, nn = 0;
    for (int i = 0; i < cv->nc; i++)
        bit[i] = cell_bit(cv, i);
    for (int k = 0; k < FM_SLOTS; k++) {
        if (want[k] == 0)
            continue;
        const float *x = lanes + (size_t)k * cv->lanes;
        for (int i = 0; i < cv->nc; i++) {
            float v = x[cv->lane[i]];
            ss[i] += want[k] * fm_cell_sign(cell_flip[k], bit[i]) * v;
            ee[i] += (double)v * v;
        }
        ww += (double)want[k] * want[k];
        nn++;
    }
    for (int i = 0; i < cv->nc; i++) {
        s[i] += ss[i];
        e[i] += ee[i];
        w2[i] += ww;
        n[i] += nn;
    }
}

void fm_cell_view_collapse_weighted(const FmCellView *cv, const float *lanes,
                                    const uint32_t cell_flip[FM_SLOTS], const float *weight,
                                    float sign, float *scratch, float out[FM_SLOTS])
{
    /* each lane times its cell's weight, then the collapse's own kernel */
    float lw[FM_CELLS] = { 0 };
    int n = cv->lanes;
    for (int i = 0; i < cv->nc; i++)
        lw[cv->lane[i]] = sign * weight[i];
    for (int k = 0; k < FM_SLOTS; k++)
        for (int l = 0; l < n; l++)
            scratch[(size_t)k * n + l] = lanes[(size_t)k * n + l] * lw[l];
    fm_cell_view_collapse(cv, scratch, cell_flip, out);
}

int fm_cell_weights(int nc, const double *s, const double *e, const double *w2,
                    const double *n, float *weight)
{
    /* amp[i]: cell i's amplitude, var[i] its variance without a mark */
    double amp[FM_CELLS], var[FM_CELLS], mean = 0, prec = 0;
    if (nc < 2 || nc > FM_CELLS)
        return 0;
    for (int i = 0; i < nc; i++) {
        if (!(w2[i] > 0 && e[i] > 0 && n[i] > 0))
            return 0;
        amp[i] = s[i] / w2[i];
        var[i] = e[i] / (w2[i] * w2[i]);
        mean += amp[i] / var[i];
        prec += 1 / var[i];
    }
    mean /= prec;
    /* the cells' spread about the mean, less what their noise alone gives */
    double spread = 0, noise = 0;
    for (int i = 0; i < nc; i++) {
        spread += (amp[i] - mean) * (amp[i] - mean);
        noise += var[i] * (1 - 1 / (var[i] * prec));
    }
    double tau2 = (spread - noise) / nc;
    if (!(mean > 0) || !(tau2 > 0))
        return 0;
    double before = 0, after = 0;
    for (int i = 0; i < nc; i++) {
        double a = mean + tau2 / (tau2 + var[i]) * (amp[i] - mean);
        /* maximum ratio: amplitude over the slots' variance */
        weight[i] = (float)(a > 0 ? a / (e[i] / n[i]) : 0);
        before += e[i];
        after += (double)weight[i] * weight[i] * e[i];
    }
    if (!(after > 0))
        return 0;
    float scale = (float)sqrt(before / after);
    for (int i = 0; i < nc; i++)
        weight[i] *= scale;
    return 1;
}
