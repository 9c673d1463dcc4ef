/*
 * test_window_predict.c - the temporal host prediction of the detector's
 * windows (fm_window_predict, fm_window_predict_fit; common/accumulator.c):
 * never from the window's own epoch, scaled to its frame count, and fitted
 * near 1 on a still picture, near 0 on a moving one.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accumulator.h"
#include "pattern.h"
#include "testutil.h"

#define NWIN 24

typedef struct Clip {
    FmAccumulator acc;
    FmWindow win[NWIN];
    float *v[NWIN];
} Clip;

static Clip *clip_new(void)
{
    Clip *c = calloc(1, sizeof(*c));
    cr_assert(c);
    c->acc.win = c->win;
    c->acc.nwin = NWIN;
    for (int w = 0; w < NWIN; w++) {
        c->v[w] = calloc(FM_SLOTS, sizeof(float));
        cr_assert(c->v[w]);
        c->win[w].frames = 12;
        c->win[w].weight = 12;   /* each frame at weight 1 */
    }
    return c;
}

static void clip_free(Clip *c)
{
    for (int w = 0; w < NWIN; w++)
        free(c->v[w]);
    free(c);
}

Test(window_predict, ignores_the_windows_of_its_own_epoch)
{
    Clip *c = clip_new();
    TuRng rng;
    tu_rng_seed(&rng, 1);
    for (int w = 0; w < NWIN; w++)
        for (int k = 0; k < FM_SLOTS; k++)
            c->v[w][k] = (float)tu_rng_gauss(&rng);
    float *a = malloc(sizeof(float) * FM_SLOTS), *b = malloc(sizeof(float) * FM_SLOTS);
    cr_assert(a && b);
    const int w = 12;
    cr_assert_eq(fm_window_predict(&c->acc, c->v, NWIN, FM_SLOTS, w, a), 1);
    /* an epoch spans 4 windows, 5 with one straddling its start */
    for (int x = w - 4; x <= w + 4; x++)
        for (int k = 0; k < FM_SLOTS; k++)
            c->v[x][k] += 100;
    cr_assert_eq(fm_window_predict(&c->acc, c->v, NWIN, FM_SLOTS, w, b), 1);
    cr_assert_arr_eq(a, b, sizeof(float) * FM_SLOTS, "the prediction used its own epoch");
    free(a);
    free(b);
    clip_free(c);
}

Test(window_predict, scales_to_the_window_frame_count)
{
    Clip *c = clip_new();
    for (int w = 0; w < NWIN; w++)
        for (int k = 0; k < FM_SLOTS; k++)
            c->v[w][k] = 3.0f * c->win[w].frames;  /* 3 per frame everywhere */
    c->win[10].frames = 5;
    c->win[10].weight = 5;
    for (int k = 0; k < FM_SLOTS; k++)
        c->v[10][k] = 15;
    float *p = malloc(sizeof(float) * FM_SLOTS);
    cr_assert(p);
    cr_assert_eq(fm_window_predict(&c->acc, c->v, NWIN, FM_SLOTS, 10, p), 1);
    for (int k = 0; k < FM_SLOTS; k++)
        cr_assert_float_eq(p[k], 15.0f, 1e-4, "slot %d: %g", k, p[k]);
    /* frames added with weights (an I frame counting 40 times: frame.h):
     * the prediction follows the windows' weights, not their frame counts */
    c->win[10].weight = 5 + 39;
    for (int w = 0; w < NWIN; w++)
        if (w != 10 && w % 3 == 0) {
            c->win[w].weight = 12 + 39;
            for (int k = 0; k < FM_SLOTS; k++)
                c->v[w][k] = 3.0f * (float)c->win[w].weight;
        }
    cr_assert_eq(fm_window_predict(&c->acc, c->v, NWIN, FM_SLOTS, 10, p), 1);
    for (int k = 0; k < FM_SLOTS; k++)
        cr_assert_float_eq(p[k], 3.0f * 44, 1e-3, "weighted, slot %d: %g", k, p[k]);
    free(p);
    clip_free(c);
}

Test(window_predict, without_neighbours_predicts_nothing)
{
    Clip *c = clip_new();
    for (int w = 0; w < NWIN; w++)
        if (w < 8 || w > 16) {
            free(c->v[w]);
            c->v[w] = NULL;
            c->win[w].frames = 0;
            c->win[w].weight = 0;
        }
    float *p = malloc(sizeof(float) * FM_SLOTS);
    cr_assert(p);
    cr_assert_eq(fm_window_predict(&c->acc, c->v, NWIN, FM_SLOTS, 12, p), 0);
    for (int k = 0; k < FM_SLOTS; k++)
        cr_assert_eq(p[k], 0.0f);
    free(p);
    clip_free(c);
}

/* host: the same picture in every window (still) or a new one in each
 * (moving); mark: an independent +/-0.3 pattern per epoch of 4 windows;
 * noise: unit, per window. */
static void fit(int still, float *beta)
{
    Clip *c = clip_new();
    TuRng rng;
    tu_rng_seed(&rng, still ? 2 : 3);
    float *host = malloc(sizeof(float) * FM_SLOTS), *mark = malloc(sizeof(float) * FM_SLOTS),
          *scratch = malloc(sizeof(float) * FM_SLOTS);
    cr_assert(host && mark && scratch);
    for (int k = 0; k < FM_SLOTS; k++)
        host[k] = (float)(5 * tu_rng_gauss(&rng));
    for (int w = 0; w < NWIN; w++) {
        if (w % 4 == 0)
            for (int k = 0; k < FM_SLOTS; k++)
                mark[k] = tu_rng_below(&rng, 2) ? 0.3f : -0.3f;
        for (int k = 0; k < FM_SLOTS; k++) {
            float h = still ? host[k] : (float)(5 * tu_rng_gauss(&rng));
            c->v[w][k] = (float)c->win[w].frames * (h + mark[k]) + (float)tu_rng_gauss(&rng);
        }
    }
    fm_window_predict_fit(&c->acc, c->v, NWIN, FM_SLOTS, scratch, beta);
    free(host);
    free(mark);
    free(scratch);
    clip_free(c);
}

Test(window_predict, fits_one_on_a_still_picture)
{
    float beta[FM_NCOEF];
    fit(1, beta);
    for (int c = 0; c < FM_NCOEF; c++)
        cr_assert(beta[c] > 0.95f && beta[c] <= 1.0f, "band %d: beta %g", c, beta[c]);
}

Test(window_predict, fits_zero_on_a_moving_picture)
{
    float beta[FM_NCOEF];
    fit(0, beta);
    for (int c = 0; c < FM_NCOEF; c++)
        cr_assert(beta[c] >= 0.0f && beta[c] < 0.05f, "band %d: beta %g", c, beta[c]);
}
