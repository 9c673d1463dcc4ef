/*
 * test_geometry_aspect.c - non-uniform scaling found by the geometry search
 * (issue 8): real frames of the bundled sample (a static 4:3 street camera,
 * 768x576) are marked as a 4:3 master and squeezed to 16:9 at 640x360, and
 * a 16:9 crop of them (768x432) is marked as a 16:9 master and stretched to
 * 4:3 at 640x480 (libswscale, bicubic). The detector is told nothing; the
 * pair of steps must come out of the search, the payload must verify, and
 * the same squeeze of unmarked frames must not be found.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <libswscale/swscale.h>

#include "accumulator.h"
#include "detector.h"
#include "embedder.h"
#include "keys.h"
#include "payload.h"
#include "testutil.h"
#include "video_io.h"

#define FRAMES 80
#define FPS 24.0

static FmKey *key;
static uint8_t message[FM_MESSAGE_BYTES];
static FmPayload payload;

static void setup(void)
{
    key = tu_signed_message(11, 43, 169, &payload, message);
}

static void teardown(void)
{
    fm_key_free(&key);
}

TestSuite(geometry_aspect, .init = setup, .fini = teardown, .timeout = 240);

/* The frames (w x h), marked when mark is set, scaled to ow x oh
 * (bicubic) and accumulated; returns the detection. */
static FmDetectResult scale_detect(uint8_t **frames, int w, int h, int ow, int oh, int mark)
{
    FmError err = { { 0 } };
    FmEmbedder *e = NULL;
    FmAccumulator acc;
    FmDetectResult res;
    struct SwsContext *sws = sws_getContext(w, h, AV_PIX_FMT_GRAY8, ow, oh, AV_PIX_FMT_GRAY8,
                                            SWS_BICUBIC, NULL, NULL, NULL);
    cr_assert(sws);
    if (mark)
        cr_assert_eq(fm_embedder_new(&e, key->wm_key, message, w, h, 1.0, &err), 0, "%s",
                     err.msg);
    cr_assert_eq(fm_accumulator_init(&acc, ow, oh, &err), 0, "%s", err.msg);
    uint8_t *copy = malloc((size_t)w * h), *out = malloc((size_t)ow * oh);
    cr_assert(copy && out);
    for (int i = 0; i < FRAMES; i++) {
        memcpy(copy, frames[i], (size_t)w * h);
        if (mark)
            cr_assert_eq(fm_embedder_mark(e, copy, w, 8, i / FPS, NULL, &err), 0, "%s", err.msg);
        const uint8_t *src[4] = { copy };
        int ss[4] = { w };
        uint8_t *dst[4] = { out };
        int ds[4] = { ow };
        sws_scale(sws, src, ss, 0, h, dst, ds);
        cr_assert_eq(fm_accumulator_add(&acc, out, ow, 8, i / FPS, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(fm_detect(&acc, key, 1, NULL, &res, &err), 0, "%s", err.msg);
    free(copy);
    free(out);
    sws_freeContext(sws);
    fm_accumulator_free(&acc);
    fm_embedder_free(&e);
    return res;
}

static void log_result(const char *what, const FmDetectResult *r)
{
    cr_log_info("%s: found %d, verified %d, z %.1f, raw BER %.3f, scale %.4f x %.4f, "
                "searched %d, H %.3g",
                what, r->found, r->signature_valid, r->pilot_z, r->raw_ber, r->geometry.scale_x,
                r->geometry.scale_y, r->geometry.searched, (double)r->hypotheses);
}

/* Verified, with the payload signed, and the expected scales reported. */
static void expect_aspect(const FmDetectResult *r, double sx, double sy, const char *what)
{
    cr_assert(r->found && r->signature_valid, "%s: found %d signature %d (pilot z %.1f, BER %.3f)",
              what, r->found, r->signature_valid, r->pilot_z, r->raw_ber);
    cr_assert_eq(r->payload.title_id, payload.title_id);
    cr_assert_eq(r->payload.recipient_id, payload.recipient_id);
    cr_assert(r->geometry.searched, "%s: not found by the search", what);
    cr_assert(fabs(r->geometry.scale_x / sx - 1) < 0.01 && fabs(r->geometry.scale_y / sy - 1) < 0.01,
              "%s: scale %.4f x %.4f, expected %.4f x %.4f", what, r->geometry.scale_x,
              r->geometry.scale_y, sx, sy);
    /* the search's size is in the false-alarm probability */
    cr_assert(r->hypotheses > (long)FM_EPOCHS * 4 * FM_TILE * FM_TILE, "%s: H %ld", what,
              r->hypotheses);
}

Test(geometry_aspect, four_three_squeezed_to_sixteen_nine_is_found_and_verified)
{
    /* 768x576 -> 640x360: x 0.833, y 0.625. The clip's height is the
     * picture's, so y is the nominal grid and x is 0.833 / 0.625 of it. */
    uint8_t **frames = tu_sample_luma(FRAMES, 768, 576, NULL, NULL);
    FmDetectResult r = scale_detect(frames, 768, 576, 640, 360, 1);
    log_result("4:3 768x576 -> 640x360", &r);
    expect_aspect(&r, 4.0 / 3.0, 1.0, "4:3 squeezed to 640x360");
    tu_free_planes(frames, FRAMES);
}

Test(geometry_aspect, sixteen_nine_stretched_to_four_three_is_found_and_verified)
{
    /* a 16:9 master cut from the sample, 768x432 -> 640x480: x 0.833,
     * y 1.111, so x is 0.75 of the nominal grid */
    uint8_t **frames = tu_sample_luma(FRAMES, 768, 432, NULL, NULL);
    FmDetectResult r = scale_detect(frames, 768, 432, 640, 480, 1);
    log_result("16:9 768x432 -> 640x480", &r);
    expect_aspect(&r, 0.75, 1.0, "16:9 stretched to 640x480");
    tu_free_planes(frames, FRAMES);
}

Test(geometry_aspect, squeezed_unmarked_frames_are_not_found)
{
    uint8_t **frames = tu_sample_luma(FRAMES, 768, 576, NULL, NULL);
    FmDetectResult r = scale_detect(frames, 768, 576, 640, 360, 0);
    log_result("unmarked 4:3 -> 640x360", &r);
    cr_assert(!r.found && !r.signature_valid, "false detection (z %.1f, p %.3g)", r.pilot_z,
              r.false_alarm_probability);
    tu_free_planes(frames, FRAMES);
    frames = tu_sample_luma(FRAMES, 768, 432, NULL, NULL);
    r = scale_detect(frames, 768, 432, 640, 480, 0);
    log_result("unmarked 16:9 -> 640x480", &r);
    cr_assert(!r.found && !r.signature_valid, "false detection (z %.1f, p %.3g)", r.pilot_z,
              r.false_alarm_probability);
    tu_free_planes(frames, FRAMES);
}
