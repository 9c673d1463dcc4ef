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
#include <jansson.h>
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

/*
 * End to end, through H.264: the sample marked by wmembed (FFV1), then
 * squeezed to 576x576 (x 0.75), letterboxed into 768x768 (x and y 0.75 of
 * the clip's nominal grid), pillarboxed (576 wide in 768) and boxed in a
 * vertical 9:16 frame, each
 * re-encoded by x264 (veryfast, CRF 23, one thread: the same bytes on every
 * host; a fixed issue time, so the same mark), and cut 5 % a side then
 * squeezed to 16:9. On this static, textured
 * picture the autocorrelation ranked the x period's double and half above
 * it, and the search, trying only those, missed marks that read at pilot z
 * 30-33 once aligned (0.7.1: all three absent); the octaves of each period
 * candidate are now tried as well, and the nominal step squeezed or
 * stretched by the common anamorphic ratios (the pillarboxed copy of this
 * issuance had no candidate near its x period at all).
 */
Test(geometry_aspect, reencoded_squeezed_and_boxed_copies_of_a_static_picture_are_found,
     .timeout = 600)
{
    char *dir = tu_mkdtemp(), *skey = tu_path(dir, "k.key"), *dkey = tu_path(dir, "k.dkey"),
         *deliv = tu_path(dir, "d.mkv"), *copy = tu_path(dir, "copy.mp4");
    FmError err;
    FmKey *dk = fm_key_new();
    cr_assert_eq(fm_key_derive(key, FM_KEY_DETECT, dk, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_save(key, skey, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_save(dk, dkey, 0, &err), 0, "%s", err.msg);
    fm_key_free(&dk);
    const char *emb[] = { FM_BUILD_DIR "/wmembed", "-k", skey, "-i",
                          FM_SOURCE_DIR "/samples/sample.mkv", "-o", deliv, "--codec", "ffv1",
                          "--title-id", "43", "--recipient-id", "169",
                          "--issued", "2026-12-01T00:02Z", "--no-verify",
                          "--no-registry", "-q", NULL };
    cr_assert_eq(tu_run(emb, NULL, NULL), 0);
    static const struct { const char *filter, *what; double sx, sy; } cases[] = {
        { "scale=576:576", "squeezed to 576x576", 0.75, 1.0 },
        { "pad=768:768:0:96:black", "letterboxed into 768x768", 0.75, 0.75 },
        { "scale=576:576,pad=768:576:96:0:black", "pillarboxed 576 in 768", 0.75, 1.0 },
        /* cut 5 % a side (692x518 from (38, 29)), then squeezed to 16:9: the
         * master's mark step of 1.6 pixels lands at 1.6 x 1280 / 692 clip
         * pixels across and 1.6 x 720 / 518 down, 1.480 x 1.112 of the
         * nominal grid's; neither the autocorrelation nor the square zoom
         * holds that pair (0.9.13: absent, pilot z 3.9 and 4.8; the
         * anamorphic zoom stage finds them) */
        { "crop=692:518:38:29,scale=1280:720", "cut 5 % a side, squeezed to 1280x720",
          1.6 * 1280 / 692 / 2, 1.6 * 720 / 518 / 2 },
        { "crop=692:518:38:29,scale=640:360", "cut 5 % a side, squeezed to 640x360",
          1.6 * 640 / 692, 1.6 * 360 / 518 },
        /* re-posted in a vertical 9:16 frame, boxed at its full width:
         * the picture is 540 of the frame's 1280 rows (0.7.2: absent, its
         * fine grid, 720 rows over the frame's height, averaged a mark
         * pixel of 1.5 frame rows into less than one sample) */
        { "scale=720:540,pad=720:1280:0:370:black", "boxed in a vertical 720x1280 frame",
          540.0 / 1280, 540.0 / 1280 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(tu_sh("ffmpeg -nostdin -hide_banner -loglevel error -y -i '%s' -vf '%s' "
                           "-c:v libx264 -preset veryfast -crf 23 -threads 1 -pix_fmt yuv420p "
                           "'%s'", deliv, cases[i].filter, copy), 0);
        char *out = NULL;
        const char *det[] = { FM_BUILD_DIR "/wmdetect", "-k", dkey, "--no-registry", "--json",
                              "-q", copy, NULL };
        int rc = tu_run(det, &out, NULL);
        json_error_t jerr;
        json_t *j = json_loads(out ? out : "", 0, &jerr);
        cr_assert(j, "%s: wmdetect --json: %s", cases[i].what, jerr.text);
        json_t *g = json_object_get(j, "geometry");
        double sx = json_number_value(json_object_get(g, "scale_x"));
        double sy = json_number_value(json_object_get(g, "scale_y"));
        cr_log_info("%s: exit %d, pilot z %.1f, scale %.4f x %.4f", cases[i].what, rc,
                    json_number_value(json_object_get(j, "pilot_z")), sx, sy);
        cr_assert_eq(rc, 0, "%s: exit %d: %s", cases[i].what, rc, out);
        cr_assert(json_is_true(json_object_get(j, "signature_valid")), "%s", cases[i].what);
        cr_assert_eq(json_integer_value(json_object_get(j, "recipient_id")), 169);
        cr_assert(fabs(sx / cases[i].sx - 1) < 0.01 && fabs(sy / cases[i].sy - 1) < 0.01,
                  "%s: scale %.4f x %.4f, expected %.2f x %.2f", cases[i].what, sx, sy,
                  cases[i].sx, cases[i].sy);
        json_decref(j);
        free(out);
    }
    tu_rmtree(dir);
    free(skey);
    free(dkey);
    free(deliv);
    free(copy);
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
