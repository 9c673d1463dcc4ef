/*
 * test_cell_weights.c - format 7's cells weighted by what they carry
 * (common/cell_view.c: fm_cell_view_cell_sums, fm_cell_weights,
 * fm_cell_view_collapse_weighted), as the detector's read uses them.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cell_view.h"
#include "keys.h"
#include "pattern.h"
#include "testutil.h"

static FmSlotMap *map;
static FmPatternKeys pk;

static void setup(void)
{
    FmError err = { { 0 } };
    cr_assert_eq(fm_init(&err), 0, "%s", err.msg);
    map = calloc(1, sizeof *map);
    cr_assert(map);
    uint8_t key[FM_WMKEY_BYTES];
    TuRng r;
    tu_rng_seed(&r, 2026);
    for (int i = 0; i < FM_WMKEY_BYTES; i++)
        key[i] = (uint8_t)tu_rng_u64(&r);
    fm_pattern_keys_init(&pk, key);
    fm_slot_map_init(map, &pk, 17);
}

static void teardown(void)
{
    fm_pattern_keys_wipe(&pk);
    free(map);
}

TestSuite(cell_weights, .init = setup, .fini = teardown);

/* A picture of 5 x 3 cells whose first is the mark's cell (3, 1). */
static const FmCells CELLS = { 5, 3 };

/* The identity of stored cell i in a flip word (as fm_cell_view_init
 * lays the lanes out). */
static int identity(int i)
{
    return fm_cell_id(CELLS, i, 3, 1);
}

/* Lanes in which stored cell i carries amp[i] times the epoch's pilots (in
 * its own signs) plus Gaussian noise of sigma[i]. */
static float *marked_lanes(const FmCellView *cv, const double *amp, const double *sigma,
                           uint64_t seed)
{
    float *lanes = calloc((size_t)fm_cell_view_floats(cv), sizeof(float));
    cr_assert(lanes);
    TuRng r;
    tu_rng_seed(&r, seed);
    for (int i = 0; i < cv->nc; i++)
        for (int k = 0; k < FM_SLOTS; k++) {
            double mark = map->bit[k] == FM_SLOT_PILOT
                                  ? map->sign[k] * fm_cell_sign(map->cell_flip[k], identity(i))
                                  : 0;
            lanes[(size_t)k * cv->lanes + cv->lane[i]] =
                    (float)(amp[i] * mark + sigma[i] * tu_rng_gauss(&r));
        }
    return lanes;
}

/* want: the epoch's pilots. */
static void pilot_want(float *want)
{
    for (int k = 0; k < FM_SLOTS; k++)
        want[k] = map->bit[k] == FM_SLOT_PILOT ? map->sign[k] : 0;
}

Test(cell_weights, collapse_with_unit_weights_is_the_collapse)
{
    FmCellView cv;
    fm_cell_view_init(&cv, CELLS, 3, 1);
    double amp[FM_CELLS], sigma[FM_CELLS];
    for (int i = 0; i < cv.nc; i++) {
        amp[i] = 0.1 * i;
        sigma[i] = 1;
    }
    float *lanes = marked_lanes(&cv, amp, sigma, 1);
    float *scratch = malloc(sizeof(float) * (size_t)fm_cell_view_floats(&cv));
    cr_assert(scratch);
    float one[FM_CELLS], a[FM_SLOTS], b[FM_SLOTS], c[FM_SLOTS];
    for (int i = 0; i < FM_CELLS; i++)
        one[i] = 1;
    fm_cell_view_collapse(&cv, lanes, map->cell_flip, a);
    fm_cell_view_collapse_weighted(&cv, lanes, map->cell_flip, one, 1.0f, scratch, b);
    fm_cell_view_collapse_weighted(&cv, lanes, map->cell_flip, one, -1.0f, scratch, c);
    for (int k = 0; k < FM_SLOTS; k++) {
        cr_assert(fabsf(a[k] - b[k]) <= 1e-5f * (1 + fabsf(a[k])), "slot %d: %g vs %g", k, a[k],
                  b[k]);
        cr_assert_eq(b[k], -c[k]);
    }
    free(scratch);
    free(lanes);
}

Test(cell_weights, a_weight_scales_its_cell_alone)
{
    FmCellView cv;
    fm_cell_view_init(&cv, CELLS, 3, 1);
    double amp[FM_CELLS] = { 0 }, sigma[FM_CELLS];
    for (int i = 0; i < cv.nc; i++)
        sigma[i] = 1;
    float *lanes = marked_lanes(&cv, amp, sigma, 2);
    float *scratch = malloc(sizeof(float) * (size_t)fm_cell_view_floats(&cv));
    cr_assert(scratch);
    float w[FM_CELLS] = { 0 }, out[FM_SLOTS];
    w[4] = 2.5f;  /* cell 4 alone, times 2.5 */
    fm_cell_view_collapse_weighted(&cv, lanes, map->cell_flip, w, 1.0f, scratch, out);
    for (int k = 0; k < FM_SLOTS; k++) {
        float x = lanes[(size_t)k * cv.lanes + cv.lane[4]];
        float want = 2.5f * fm_cell_sign(map->cell_flip[k], identity(4)) * x;
        cr_assert(fabsf(out[k] - want) <= 1e-6f * (1 + fabsf(want)));
    }
    free(scratch);
    free(lanes);
}

Test(cell_weights, cell_sums_measure_each_cells_amplitude)
{
    FmCellView cv;
    fm_cell_view_init(&cv, CELLS, 3, 1);
    double amp[FM_CELLS], sigma[FM_CELLS];
    for (int i = 0; i < cv.nc; i++) {
        amp[i] = i % 3 == 0 ? 0.0 : 0.5 * (1 + i % 2);
        sigma[i] = 0.2;
    }
    float *lanes = marked_lanes(&cv, amp, sigma, 3);
    float want[FM_SLOTS];
    pilot_want(want);
    double s[FM_CELLS] = { 0 }, e[FM_CELLS] = { 0 }, w2[FM_CELLS] = { 0 }, n[FM_CELLS] = { 0 };
    fm_cell_view_cell_sums(&cv, lanes, map->cell_flip, want, s, e, w2, n);
    for (int i = 0; i < cv.nc; i++) {
        cr_assert_eq(n[i], FM_PILOTS);
        cr_assert_eq(w2[i], FM_PILOTS);
        /* the estimate's noise: sigma / sqrt(pilots) ~ 0.009 */
        cr_assert(fabs(s[i] / w2[i] - amp[i]) < 0.05, "cell %d: %g for %g", i, s[i] / w2[i],
                  amp[i]);
        double energy = FM_PILOTS * (amp[i] * amp[i] + sigma[i] * sigma[i]);
        cr_assert(fabs(e[i] - energy) < 0.2 * energy, "cell %d: energy %g for %g", i, e[i],
                  energy);
    }
    /* a plain view (formats 2-6) is left alone */
    FmCellView plain;
    fm_cell_view_init_plain(&plain, CELLS);
    double s2[FM_CELLS] = { 0 }, e2[FM_CELLS] = { 0 }, w22[FM_CELLS] = { 0 }, n2[FM_CELLS] = { 0 };
    fm_cell_view_cell_sums(&plain, lanes, map->cell_flip, want, s2, e2, w22, n2);
    for (int i = 0; i < cv.nc; i++)
        cr_assert(s2[i] == 0 && e2[i] == 0 && w22[i] == 0 && n2[i] == 0);
    free(lanes);
}

/* fm_cell_weights of lanes made with amp and sigma (pilots alone). */
static int weights_of(const double *amp, const double *sigma, uint64_t seed, float *w,
                      double *e_out)
{
    FmCellView cv;
    fm_cell_view_init(&cv, CELLS, 3, 1);
    float *lanes = marked_lanes(&cv, amp, sigma, seed);
    float want[FM_SLOTS];
    pilot_want(want);
    double s[FM_CELLS] = { 0 }, e[FM_CELLS] = { 0 }, w2[FM_CELLS] = { 0 }, n[FM_CELLS] = { 0 };
    fm_cell_view_cell_sums(&cv, lanes, map->cell_flip, want, s, e, w2, n);
    free(lanes);
    if (e_out)
        memcpy(e_out, e, sizeof(double) * (size_t)cv.nc);
    return fm_cell_weights(cv.nc, s, e, w2, n, w);
}

Test(cell_weights, cells_without_the_mark_weigh_nothing)
{
    /* the bottom row (cells 10-14) lost the mark; the rest carry it */
    int nc = fm_cells_count(CELLS);
    double amp[FM_CELLS], sigma[FM_CELLS], e[FM_CELLS];
    for (int i = 0; i < nc; i++) {
        amp[i] = i < 10 ? 0.3 : 0;
        sigma[i] = 1;
    }
    float w[FM_CELLS];
    cr_assert_eq(weights_of(amp, sigma, 4, w, e), 1);
    double top = 0, bottom = 0, before = 0, after = 0;
    for (int i = 0; i < nc; i++) {
        if (i < 10)
            top += w[i] / 10;
        else
            bottom += w[i] / 5;
        before += e[i];
        after += (double)w[i] * w[i] * e[i];
    }
    cr_assert(bottom < 0.1 * top, "bottom %g, top %g", bottom, top);
    for (int i = 0; i < nc; i++)
        cr_assert_geq(w[i], 0);
    /* the weights keep the slots' energy */
    cr_assert(fabs(after - before) < 1e-3 * before, "%g vs %g", after, before);
}

Test(cell_weights, a_quieter_cell_weighs_more)
{
    /* the same amplitude everywhere, but cells 0-4 with a quarter of the
     * noise variance: maximum-ratio weights are amplitude over variance */
    int nc = fm_cells_count(CELLS);
    double amp[FM_CELLS], sigma[FM_CELLS];
    for (int i = 0; i < nc; i++) {
        amp[i] = 0.2 * (i < 5 ? 0.5 : 1);
        sigma[i] = i < 5 ? 0.5 : 1;
    }
    float w[FM_CELLS];
    cr_assert_eq(weights_of(amp, sigma, 5, w, NULL), 1);
    double quiet = 0, loud = 0;
    for (int i = 0; i < nc; i++) {
        if (i < 5)
            quiet += w[i] / 5;
        else
            loud += w[i] / 10;
    }
    /* (0.1 / 0.25) / (0.2 / 1) = 2 */
    cr_assert(quiet > 1.6 * loud && quiet < 2.5 * loud, "quiet %g, loud %g", quiet, loud);
}

Test(cell_weights, alike_cells_or_no_mark_are_summed_alike)
{
    int nc = fm_cells_count(CELLS);
    double amp[FM_CELLS], sigma[FM_CELLS];
    float w[FM_CELLS];
    /* the same mark in every cell: weighted seldom, and then near alike */
    for (int i = 0; i < nc; i++) {
        amp[i] = 0.2;
        sigma[i] = 1;
    }
    for (uint64_t seed = 40; seed < 60; seed++)
        if (weights_of(amp, sigma, seed, w, NULL)) {
            float lo = w[0], hi = w[0];
            for (int i = 1; i < nc; i++) {
                lo = w[i] < lo ? w[i] : lo;
                hi = w[i] > hi ? w[i] : hi;
            }
            cr_assert(lo > 0.6f * hi, "seed %d: weights %g .. %g", (int)seed, lo, hi);
        }
    /* the mark inverted on the whole (mean amplitude below 0), however the
     * cells differ: none */
    double s[3] = { -5, -50, 1 }, e[3] = { 10, 10, 10 }, w2[3] = { 10, 10, 10 },
           n[3] = { 10, 10, 10 };
    cr_assert_eq(fm_cell_weights(3, s, e, w2, n, w), 0);
    /* cells that differ by no more than their noise: none */
    double s_alike[3] = { 1.0, 1.1, 0.9 };
    cr_assert_eq(fm_cell_weights(3, s_alike, e, w2, n, w), 0);
    /* fewer than two cells, or a cell without evidence: none */
    double e0[2] = { 1, 0 };
    cr_assert_eq(fm_cell_weights(1, s_alike, e, w2, n, w), 0);
    cr_assert_eq(fm_cell_weights(2, s_alike, e0, w2, n, w), 0);
}
