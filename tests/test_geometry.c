/*
 * test_geometry.c - the geometry search in process: real frames (the bundled
 * sample) and synthetic ones are marked, then cropped, flipped, boxed or
 * rescaled (libswscale) before detection, which is told nothing about it.
 */
#include <criterion/criterion.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <libswscale/swscale.h>

#include "accumulator.h"
#include "detector.h"
#include "embedder.h"
#include "geometry.h"
#include "keys.h"
#include "pattern.h"
#include "payload.h"
#include "testutil.h"
#include "video_io.h"

#define FRAMES 80

static FmKey *key;
static uint8_t message[FM_MESSAGE_BYTES];
static FmPayload payload;

static void setup(void)
{
    key = tu_signed_message(7, 77, 5, &payload, message);
}

static void teardown(void)
{
    fm_key_free(&key);
}

TestSuite(geometry, .init = setup, .fini = teardown, .timeout = 240);

typedef enum { CROP, FLIP_H, FLIP_V, LETTERBOX, SCALE, CROP_SCALE } Transform;

/* Applies a transform to an 8-bit w x h luma plane; returns a new plane. */
static uint8_t *transform(const uint8_t *in, int w, int h, Transform t, int *ow, int *oh)
{
    uint8_t *out = NULL;
    switch (t) {
    case CROP:       /* off-centre, odd offsets, about 70 % of each side */
    case CROP_SCALE: {
        int cw = w * 7 / 10 | 1, ch = h * 7 / 10 | 1, x0 = 37, y0 = 23;
        out = malloc((size_t)cw * ch);
        for (int y = 0; y < ch; y++)
            memcpy(out + (size_t)y * cw, in + (size_t)(y + y0) * w + x0, (size_t)cw);
        *ow = cw;
        *oh = ch;
        if (t == CROP_SCALE) {
            int sw, sh;
            uint8_t *s = transform(out, cw, ch, SCALE, &sw, &sh);
            free(out);
            out = s;
            *ow = sw;
            *oh = sh;
        }
        return out;
    }
    case FLIP_H:
    case FLIP_V:
        out = malloc((size_t)w * h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int sx = t == FLIP_H ? w - 1 - x : x, sy = t == FLIP_V ? h - 1 - y : y;
                out[(size_t)y * w + x] = in[(size_t)sy * w + sx];
            }
        *ow = w;
        *oh = h;
        return out;
    case LETTERBOX: {  /* the picture in a canvas 4/3 as tall, black bars */
        int ch = h * 4 / 3, top = (ch - h) / 2;
        out = calloc((size_t)w * ch, 1);
        memset(out, 16, (size_t)w * ch);
        memcpy(out + (size_t)top * w, in, (size_t)w * h);
        *ow = w;
        *oh = ch;
        return out;
    }
    case SCALE: {      /* down to 3/4 with libswscale (bicubic) */
        int sw = w * 3 / 4, sh = h * 3 / 4;
        struct SwsContext *sws = sws_getContext(w, h, AV_PIX_FMT_GRAY8, sw, sh, AV_PIX_FMT_GRAY8,
                                                SWS_BICUBIC, NULL, NULL, NULL);
        cr_assert(sws);
        out = malloc((size_t)sw * sh);
        const uint8_t *src[4] = { in };
        int ss[4] = { w };
        uint8_t *dst[4] = { out };
        int ds[4] = { sw };
        sws_scale(sws, src, ss, 0, h, dst, ds);
        sws_freeContext(sws);
        *ow = sw;
        *oh = sh;
        return out;
    }
    }
    return NULL;
}

static uint8_t **synthetic_frames(int w, int h)
{
    uint8_t **frames = calloc(FRAMES, sizeof(*frames));
    for (int i = 0; i < FRAMES; i++) {
        frames[i] = malloc((size_t)w * h);
        tu_synth_luma(frames[i], w, w, h, 8, TU_SYNTH_TEXTURED, 1000, i);
    }
    return frames;
}

/* Marks the frames, transforms them, detects; returns the result. */
static FmDetectResult mark_transform_detect(uint8_t **frames, int w, int h, Transform t)
{
    FmError err = { { 0 } };
    FmEmbedder *e = NULL;
    FmAccumulator acc;
    FmDetectResult res;
    cr_assert_eq(fm_embedder_new(&e, key->wm_key, message, w, h, 1.0, &err), 0, "%s", err.msg);
    int ow = 0, oh = 0, init = 0;
    for (int i = 0; i < FRAMES; i++) {
        uint8_t *copy = malloc((size_t)w * h);
        memcpy(copy, frames[i], (size_t)w * h);
        cr_assert_eq(fm_embedder_mark(e, copy, w, 8, i / 24.0, NULL, &err), 0, "%s", err.msg);
        uint8_t *out = transform(copy, w, h, t, &ow, &oh);
        if (!init) {
            cr_assert_eq(fm_accumulator_init(&acc, ow, oh, &err), 0, "%s", err.msg);
            init = 1;
        }
        cr_assert_eq(fm_accumulator_add(&acc, out, ow, 8, i / 24.0, &err), 0, "%s", err.msg);
        free(out);
        free(copy);
    }
    cr_assert_eq(fm_detect(&acc, key, 1, NULL, &res, &err), 0, "%s", err.msg);
    fm_accumulator_free(&acc);
    fm_embedder_free(&e);
    return res;
}

static void expect_verified(const FmDetectResult *r, const char *what)
{
    cr_assert(r->found && r->signature_valid,
              "%s: found %d signature %d (pilot z %.1f, raw BER %.3f)", what, r->found,
              r->signature_valid, r->pilot_z, r->raw_ber);
    cr_assert_eq(r->payload.title_id, payload.title_id);
    cr_assert_eq(r->payload.recipient_id, payload.recipient_id);
}

/* What each case must give: verified, at least detected, or only logged
 * (a known weakness, README "Known limits"). */
enum { VERIFY, DETECT, LOG };

static const struct {
    Transform t;
    const char *name;
    int real, synthetic;
} cases[] = {
    /* the synthetic crops keep ~20 % raw errors (its flat shapes hold
     * little mark): detected, not always verified */
    { CROP, "off-centre crop", VERIFY, DETECT },
    { FLIP_H, "horizontal flip", VERIFY, VERIFY },
    { FLIP_V, "vertical flip", VERIFY, VERIFY },
    { LETTERBOX, "letterbox", VERIFY, VERIFY },
    { SCALE, "scale 3/4 (swscale)", VERIFY, VERIFY },
    /* 8 s of a fixed camera cropped to half the area and shrunk: ~16 % raw
     * errors, near the code's limit */
    { CROP_SCALE, "crop + scale", DETECT, DETECT },
};

static void expect(const FmDetectResult *r, int want, const char *what)
{
    if (want == VERIFY)
        expect_verified(r, what);
    else if (want == DETECT)
        cr_assert(r->found, "%s: not detected (pilot z %.1f)", what, r->pilot_z);
}

Test(geometry, real_frames_transformed_are_found_and_verified)
{
    int w, h;
    uint8_t **frames = tu_sample_luma(FRAMES, 0, 0, &w, &h);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FmDetectResult r = mark_transform_detect(frames, w, h, cases[i].t);
        cr_log_info("sample, %s: z %.1f, raw BER %.3f, scale %.3f x %.3f, flip %d%d",
                    cases[i].name, r.pilot_z, r.raw_ber, r.geometry.scale_x,
                    r.geometry.scale_y, r.geometry.flip_h, r.geometry.flip_v);
        expect(&r, cases[i].real, cases[i].name);
        if (cases[i].t == FLIP_H)
            cr_assert(r.geometry.flip_h && !r.geometry.flip_v, "horizontal flip not reported");
        if (cases[i].t == FLIP_V)
            cr_assert(r.geometry.flip_v && !r.geometry.flip_h, "vertical flip not reported");
        if (cases[i].t == CROP)  /* about 1/0.7 of the clip's height is the picture's */
            cr_assert(r.geometry.scale_y > 1.3 && r.geometry.scale_y < 1.5,
                      "crop scale %.3f", r.geometry.scale_y);
    }
    tu_free_planes(frames, FRAMES);
}

Test(geometry, synthetic_frames_transformed_are_found_and_verified)
{
    int w = 641, h = 361;  /* odd sizes */
    uint8_t **frames = synthetic_frames(w, h);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FmDetectResult r = mark_transform_detect(frames, w, h, cases[i].t);
        cr_log_info("synthetic, %s: z %.1f, raw BER %.3f, signature %d", cases[i].name, r.pilot_z,
                    r.raw_ber, r.signature_valid);
        expect(&r, cases[i].synthetic, cases[i].name);
    }
    /* On this synthetic picture the autocorrelation's period peak is biased
     * by 2-4 % (its moving shapes and static texture), beyond the
     * refinement's +/-0.4 %: the scan around each period (geometry.c) is
     * what finds its crops and boxes. */
    tu_free_planes(frames, FRAMES);
}

Test(geometry, transformed_unmarked_frames_are_not_found, .timeout = 600)
{
    /* the search's many hypotheses are counted: no false alarm from it.
     * (Six full searches on unmarked evidence, the rotation estimate's
     * too: under AddressSanitizer this took over the suite's 240 s once
     * 0.7.3's estimate scored the whole period lattice, +10 % in a
     * normal build: 31 -> 34 s here.) */
    int w, h;
    uint8_t **frames = tu_sample_luma(FRAMES, 0, 0, &w, &h);
    FmError err = { { 0 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FmAccumulator acc;
        FmDetectResult r;
        int ow = 0, oh = 0;
        for (int f = 0; f < FRAMES; f++) {
            uint8_t *out = transform(frames[f], w, h, cases[i].t, &ow, &oh);
            if (f == 0)
                cr_assert_eq(fm_accumulator_init(&acc, ow, oh, &err), 0, "%s", err.msg);
            cr_assert_eq(fm_accumulator_add(&acc, out, ow, 8, f / 24.0, &err), 0, "%s", err.msg);
            free(out);
        }
        cr_assert_eq(fm_detect(&acc, key, 1, NULL, &r, &err), 0, "%s", err.msg);
        cr_assert(!r.found && !r.signature_valid, "%s: false detection (z %.1f, p %.3g)",
                  cases[i].name, r.pilot_z, r.false_alarm_probability);
        fm_accumulator_free(&acc);
    }
    tu_free_planes(frames, FRAMES);
}

/*
 * The sync layer of key k alone, laid on a w x h clip at (sx, sy) clip
 * pixels per mark pixel from (-ox, -oy), amp grey levels over its RMS,
 * under noise of 8 levels: 8 frames into acc (initialised here). Returns
 * the sync tile (free it).
 */
/* Key k's sync layer as one tile (malloc'd); its RMS to *rms. */
static float *sync_tile_of(const FmKey *k, double *rms)
{
    FmPatternKeys pk;
    float values[FM_SLOTS];
    float *tile = malloc(sizeof(float) * FM_TILE * FM_TILE);
    cr_assert(tile);
    fm_pattern_keys_init(&pk, k->wm_key);
    fm_sync_values(&pk, values);
    fm_tile_render(values, tile);
    fm_pattern_keys_wipe(&pk);
    double ss = 0;
    for (int i = 0; i < FM_TILE * FM_TILE; i++)
        ss += (double)tile[i] * tile[i];
    *rms = sqrt(ss / (FM_TILE * FM_TILE));
    return tile;
}

static float *sync_layer_clip(const FmKey *k, int w, int h, double sx, double sy, int ox, int oy,
                              double amp, unsigned seed, FmAccumulator *acc)
{
    double rms;
    float *tile = sync_tile_of(k, &rms);
    uint8_t *plane = malloc((size_t)w * h);
    cr_assert(plane);
    FmError err = { { 0 } };
    TuRng rng;
    tu_rng_seed(&rng, seed);
    cr_assert_eq(fm_accumulator_init(acc, w, h, &err), 0, "%s", err.msg);
    for (int f = 0; f < 8; f++) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int tx = (int)floor((x + ox) / sx) % FM_TILE;
                int ty = (int)floor((y + oy) / sy) % FM_TILE;
                double v = 128 + 8 * tu_rng_gauss(&rng) + amp * tile[ty * FM_TILE + tx] / rms;
                plane[(size_t)y * w + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrint(v));
            }
        cr_assert_eq(fm_accumulator_add(acc, plane, w, 8, f / 24.0, &err), 0, "%s", err.msg);
    }
    free(plane);
    return tile;
}

/*
 * The search's refinement moves a candidate step by up to 0.75 %, so it can
 * try a step a little below MIN_MARK_STEP (0.5 fine samples per mark
 * pixel), whose mark grid is wider than twice the clip: its horizontal
 * resampling pass wrote past the search's scratch (at 640x360 a step of
 * 0.4986 makes the grid 1283 wide: 56 floats too many). A wrong key's
 * search on a marked 640x360 clip went there about once in 300 keys
 * (tests/test_api.c makes a new key each run), and glibc aborted with
 * "free(): invalid next size". Here a key's sync layer alone, laid at
 * 0.4982 x 1.005, leads the refinement there. Big blocks come from the
 * heap, not mmap, so that a plain build's free() notices an overrun too
 * (AddressSanitizer always does).
 */
Test(geometry, refined_steps_below_the_search_range_stay_in_its_scratch)
{
    const double sx = 0.4982, sy = 1.005;
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    FmKey *other = fm_key_new();
    cr_assert_not_null(other);
    tu_fixed_key(other, 2);
    FmAccumulator acc;
    FmError err = { { 0 } };
    float *tile = sync_layer_clip(other, 640, 360, sx, sy, 0, 0, 8, 3, &acc);
    FmAlignment al;
    cr_assert_eq(fm_geometry_search(&acc, tile, &al, &err), 0, "%s", err.msg);
    /* found where it lies, as near as the scratch allows */
    cr_assert(fabs(al.step_x / sx - 1) < 0.005 && fabs(al.step_y / sy - 1) < 0.005,
              "steps %.5f x %.5f, laid at %.4f x %.4f", al.step_x, al.step_y, sx, sy);
    fm_accumulator_free(&acc);
    fm_key_free(&other);
    free(tile);
}

/*
 * fm_geometry_search_zoom tries square steps from the nominal grid's to
 * twice it whatever the autocorrelation shows (a crop scaled back up, whose
 * period a codec can leave without a candidate: 4K elephants cropped,
 * scaled to 1440p and re-encoded at CRF 28). A sync layer laid at 1.3 times
 * the nominal step of a 640x360 clip (a crop of 77 % of the height enlarged
 * to the frame), under noise, is found there, square, unflipped, and its
 * hypotheses add to the uniform search's.
 */
Test(geometry, the_zoom_search_finds_an_enlarged_crop_and_counts_its_hypotheses)
{
    const double step = 1.3;
    FmAccumulator acc;
    FmError err = { { 0 } };
    float *tile = sync_layer_clip(key, 640, 360, step, step, 37, 21, 4, 5, &acc);
    double nominal = acc.step / acc.fine_step, prior = 1e9;
    FmAlignment al;
    cr_assert_eq(fm_geometry_search_zoom(&acc, tile, prior, &al, &err), 0, "%s", err.msg);
    cr_log_info("zoom: steps %.4f x %.4f (laid at %.4f), score %.3f, hypotheses %.3g",
                al.step_x, al.step_y, step * nominal, al.score, al.hypotheses);
    cr_assert(fabs(al.step_x / (step * nominal) - 1) < 0.004 &&
                  fabs(al.step_y / (step * nominal) - 1) < 0.004,
              "steps %.5f x %.5f, laid at %.4f", al.step_x, al.step_y, step * nominal);
    cr_assert(!al.flip_h && !al.flip_v && !al.warp);
    /* ~58 steps x 4 flips and the refinement, each with every shift */
    cr_assert(al.hypotheses > prior + 200.0 * FM_TILE * FM_TILE, "hypotheses %.4g", al.hypotheses);
    fm_accumulator_free(&acc);
    free(tile);
}

/*
 * A small clip's twin (fm_accumulator_search_insets): a fine grid of the
 * mark's own resolution where the clip's fine grid is its pixels, none on a
 * clip of 720 rows; asked for before the first frame only; the clip's own
 * evidence the same bit for bit with it or without. A key's sync layer at
 * half a clip pixel a mark pixel (a marked 640x360 picture shown at half
 * size, rendered at twice the resolution and averaged down) is found on the
 * twin at that step.
 */
Test(geometry, a_small_clips_twin_finds_a_half_size_sync_layer)
{
    FmAccumulator acc, plain;
    FmError err = { { 0 } };
    cr_assert_eq(fm_accumulator_init(&acc, 1280, 720, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_accumulator_search_insets(&acc, &err), 0, "%s", err.msg);
    cr_assert_null(acc.twin, "a 720-row clip's fine grid is the mark's resolution already");
    fm_accumulator_free(&acc);
    cr_assert_eq(fm_accumulator_init(&acc, 768, 576, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_accumulator_search_insets(&acc, &err), 0, "%s", err.msg);
    cr_assert(acc.twin && acc.twin->fh == 2 * FM_MARK_HEIGHT && acc.twin->fw == 960);
    fm_accumulator_free(&acc);

    const int w = 640, h = 360;
    cr_assert_eq(fm_accumulator_init(&acc, w, h, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_accumulator_init(&plain, w, h, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_accumulator_set_threads(&acc, 2), 0);
    cr_assert_eq(fm_accumulator_search_insets(&acc, &err), 0, "%s", err.msg);
    cr_assert(acc.twin);
    cr_assert_float_eq(acc.fine_step, 1.0, 1e-12);
    cr_assert_float_eq(acc.twin->fine_step, 0.5, 1e-12);
    cr_assert_eq(acc.twin->pool, acc.pool);

    double rms;
    float *tile = sync_tile_of(key, &rms);
    uint8_t *plane = malloc((size_t)w * h);
    double *big = malloc(sizeof(double) * 4 * w * h);
    cr_assert(plane && big);
    TuRng rng;
    tu_rng_seed(&rng, 9);
    for (int f = 0; f < 8; f++) {
        /* a mark pixel a sample at twice the resolution, then 2x2 means */
        for (int y = 0; y < 2 * h; y++)
            for (int x = 0; x < 2 * w; x++)
                big[(size_t)y * 2 * w + x] = 8 * tile[((y + 11) % FM_TILE) * FM_TILE +
                                                      (x + 29) % FM_TILE] / rms;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const double *b = big + (size_t)2 * y * 2 * w + 2 * x;
                double v = 128 + 6 * tu_rng_gauss(&rng) + (b[0] + b[1] + b[2 * w] + b[2 * w + 1]) / 4;
                plane[(size_t)y * w + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrint(v));
            }
        cr_assert_eq(fm_accumulator_add(&acc, plane, w, 8, f / 24.0, &err), 0, "%s", err.msg);
        cr_assert_eq(fm_accumulator_add(&plain, plane, w, 8, f / 24.0, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(fm_accumulator_search_insets(&acc, &err), FM_EINVAL);
    cr_assert_eq(acc.twin->frames, acc.frames);
    /* the clip's own evidence is untouched by its twin */
    cr_assert_eq(memcmp(acc.win[0].slots, plain.win[0].slots, sizeof(float) * acc.nslots), 0);
    cr_assert_eq(memcmp(acc.win[0].fine, plain.win[0].fine,
                        sizeof(float) * (size_t)acc.fw * acc.fh), 0);

    FmAlignment al;
    cr_assert_eq(fm_geometry_search(acc.twin, tile, &al, &err), 0, "%s", err.msg);
    double px = al.step_x * acc.twin->fine_step, py = al.step_y * acc.twin->fine_step;
    cr_log_info("twin: %.4f x %.4f clip pixels a mark pixel, score %.3f", px, py, al.score);
    cr_assert(fabs(px / 0.5 - 1) < 0.01 && fabs(py / 0.5 - 1) < 0.01,
              "found at %.4f x %.4f clip pixels a mark pixel, laid at 0.5", px, py);
    cr_assert(!al.flip_h && !al.flip_v && !al.warp);
    fm_accumulator_free(&acc);
    fm_accumulator_free(&plain);
    free(big);
    free(plane);
    free(tile);
}
