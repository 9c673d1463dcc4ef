/*
 * test_embed_detect.c - the watermark core in process, without a codec:
 * fm_embedder_mark() on synthetic luma planes, then FmAccumulator and
 * fm_detect(). Only behaviour is asserted (found or not, signature, payload,
 * the documented quality floor); no figure that depends on tuning.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accumulator.h"
#include "detector.h"
#include "embedder.h"
#include "pattern.h"
#include "keys.h"
#include "msgcode.h"
#include "payload.h"
#include "quality.h"
#include "testutil.h"

/* Documented: ~45 dB at strength 1, per-frame cap at 45 dB before rounding. */
#define MIN_PSNR_DB 44.0
#define PAD_BYTE 0xA5

static FmKey *key_a, *key_b;
static FmPayload payload_a;
static uint8_t message_a[FM_MESSAGE_BYTES];

static void setup(void)
{
    key_a = tu_signed_message(1, 0xC0FFEE01u, 4242, &payload_a, message_a);
    key_b = fm_key_new();
    cr_assert(key_b);
    tu_fixed_key(key_b, 2);
}

static void teardown(void)
{
    fm_key_free(&key_a);
    fm_key_free(&key_b);
}

TestSuite(embed_detect, .init = setup, .fini = teardown, .timeout = 180);

typedef struct Clip {
    int w, h, bit_depth;
    int extra_stride;   /* bytes of padding after each row */
    int frames;
    int kind;
    uint64_t seed;
    double fps;
    double strength;    /* 0: default */
    int mark_from;      /* frames before this index are left unmarked */
    int plain;          /* 1: no informed embedding (the plain tile in every frame) */
    int deep_passes;    /* 1: also fm_detect_deep_pass with and without the first pass */
} Clip;

typedef struct Outcome {
    FmDetectResult res;
    double worst_psnr, mean_psnr, min_ssim;
    long marked;
    /* Clip.deep_passes: the deep-list pass after the first (its epoch
     * searches from the first's memo) and alone (all searched afresh) */
    FmDetectResult deep_after_first, deep_alone;
} Outcome;

/*
 * Makes the clip's frames, marks them with mark_key (NULL: unmarked),
 * checks each marked frame on the way (quality figures, padding, range),
 * accumulates them and detects with detect_key.
 */
static Outcome run_clip(const Clip *c, const FmKey *mark_key, const uint8_t *message,
                        const FmKey *detect_key, const uint8_t *expected)
{
    FmError err = { { 0 } };
    Outcome o = { .worst_psnr = 1000, .min_ssim = 1 };
    int bps = c->bit_depth > 8 ? 2 : 1;
    ptrdiff_t row = (ptrdiff_t)c->w * bps, stride = row + c->extra_stride;
    size_t size = (size_t)stride * c->h;
    uint8_t *plane = malloc(size), *orig = malloc(size);
    cr_assert(plane && orig);
    FmEmbedder *emb = NULL;
    if (mark_key)
        cr_assert_eq(fm_embedder_new(&emb, mark_key->wm_key, message, c->w, c->h,
                                     c->strength > 0 ? c->strength : FM_DEFAULT_STRENGTH, &err),
                     0, "%s", err.msg);
    if (emb && c->plain)
        fm_embedder_set_informed(emb, 0);
    FmAccumulator acc;
    cr_assert_eq(fm_accumulator_init(&acc, c->w, c->h, &err), 0, "%s", err.msg);
    double psnr_sum = 0;
    int maxval = (1 << c->bit_depth) - 1;
    for (int f = 0; f < c->frames; f++) {
        memset(plane, PAD_BYTE, size);
        tu_synth_luma(plane, stride, c->w, c->h, c->bit_depth, c->kind, c->seed, f);
        if (emb && f >= c->mark_from) {
            memcpy(orig, plane, size);
            FmFrameQuality q = { -1, -1, -1 };
            cr_assert_eq(fm_embedder_mark(emb, plane, stride, c->bit_depth, f / (c->fps > 0 ? c->fps : 24), &q, &err), 0, "%s",
                         err.msg);
            /* the reported MSE is the real one (8-bit scale) */
            double mse = 0;
            for (int y = 0; y < c->h; y++)
                for (int x = 0; x < c->w; x++) {
                    double a, b;
                    if (bps == 1) {
                        a = orig[y * stride + x];
                        b = plane[y * stride + x];
                    } else {
                        a = ((uint16_t *)(orig + y * stride))[x];
                        b = ((uint16_t *)(plane + y * stride))[x];
                        cr_assert_leq(b, maxval, "sample (%d,%d) = %g above %d-bit range", x, y,
                                      b, c->bit_depth);
                    }
                    double d = (a - b) / (1 << (c->bit_depth - 8));
                    mse += d * d;
                }
            mse /= (double)c->w * c->h;
            cr_assert_lt(fabs(q.mse - mse), 1e-6 + 1e-6 * mse, "reported mse %g, measured %g",
                         q.mse, mse);
            cr_assert_gt(mse, 0, "frame %d unchanged by the mark", f);
            cr_assert(q.ssim > 0 && q.ssim <= 1.0, "ssim %g", q.ssim);
            double psnr = fm_psnr_from_mse(q.mse);
            psnr_sum += psnr;
            o.marked++;
            if (psnr < o.worst_psnr)
                o.worst_psnr = psnr;
            if (q.ssim < o.min_ssim)
                o.min_ssim = q.ssim;
            /* the padding after each row is not touched */
            for (int y = 0; y < c->h; y++)
                for (ptrdiff_t x = row; x < stride; x++)
                    cr_assert_eq(plane[y * stride + x], PAD_BYTE,
                                 "frame %d: byte %td of row %d (past the width) changed", f, x, y);
        }
        double fps = c->fps > 0 ? c->fps : 24;
        cr_assert_eq(fm_accumulator_add(&acc, plane, stride, c->bit_depth, f / fps, &err), 0, "%s",
                     err.msg);
    }
    o.mean_psnr = o.marked ? psnr_sum / o.marked : 0;
    cr_assert_eq(fm_detect(&acc, detect_key, 1, expected, &o.res, &err), 0, "%s", err.msg);
    cr_assert_eq(o.res.frames_read, c->frames);
    if (c->deep_passes) {
        cr_assert_eq(fm_detect_deep_pass(&acc, detect_key, 1, expected, 1, &o.deep_after_first,
                                         &err), 0, "%s", err.msg);
        cr_assert_eq(fm_detect_deep_pass(&acc, detect_key, 1, expected, 0, &o.deep_alone, &err),
                     0, "%s", err.msg);
    }
    fm_accumulator_free(&acc);
    fm_embedder_free(&emb);
    cr_assert_null(emb);
    free(plane);
    free(orig);
    return o;
}

static void expect_found(const Outcome *o, const char *what)
{
    const FmDetectResult *r = &o->res;
    if (o->marked)
        cr_log_info("%s: pilot z %.1f, raw BER %.1f%%, PSNR mean %.2f worst %.2f dB, SSIM min %.4f",
                    what, r->pilot_z, 100 * r->raw_ber, o->mean_psnr, o->worst_psnr, o->min_ssim);
    else
        cr_log_info("%s: pilot z %.1f, raw BER %.1f%%", what, r->pilot_z, 100 * r->raw_ber);
    cr_assert(r->found, "%s: mark not found (pilot z %.2f, p %.3g)", what, r->pilot_z,
              r->false_alarm_probability);
    cr_assert(r->signature_valid, "%s: signature does not verify (raw BER %.1f%%, z %.2f)", what,
              100 * r->raw_ber, r->pilot_z);
    cr_assert(r->payload_valid, "%s", what);
    cr_assert_eq(r->payload.version, FM_PAYLOAD_VERSION);
    cr_assert_eq(r->payload.title_id, payload_a.title_id, "%s: title %u", what,
                 r->payload.title_id);
    cr_assert_eq(r->payload.recipient_id, payload_a.recipient_id, "%s", what);
    cr_assert_eq(r->payload.issued_minutes, payload_a.issued_minutes, "%s", what);
    cr_assert_arr_eq(r->message, message_a, FM_MESSAGE_BYTES, "%s", what);
    /* a mark this clean is also clear on the pilot alone */
    cr_assert_leq(r->false_alarm_probability, FM_FALSE_ALARM_THRESHOLD, "%s: p %.3g", what,
                  r->false_alarm_probability);
    cr_assert_gt(r->pilot_z, 0);
    cr_assert_lt(r->raw_ber, 0.5);
    cr_assert_eq(r->geometry.scale_x, 1);
    cr_assert_eq(r->geometry.scale_y, 1);
    cr_assert(!r->geometry.flip_h && !r->geometry.flip_v);
    cr_assert_leq(r->span[0], r->span[1]);
    cr_assert_geq(o->worst_psnr, MIN_PSNR_DB, "%s: worst frame PSNR %.2f dB", what,
                  o->worst_psnr);
}

static void expect_not_found(const Outcome *o, const char *what)
{
    const FmDetectResult *r = &o->res;
    cr_log_info("%s: pilot z %.2f, p %.3g", what, r->pilot_z, r->false_alarm_probability);
    cr_assert(!r->found, "%s: false detection (pilot z %.2f, p %.3g)", what, r->pilot_z,
              r->false_alarm_probability);
    cr_assert(!r->signature_valid, "%s", what);
    cr_assert_gt(r->false_alarm_probability, FM_FALSE_ALARM_THRESHOLD);
    cr_assert(isfinite(r->pilot_z));
}

/* ---- found with the right key ---- */

Test(embed_detect, marked_8bit_320x240)
{
    Clip c = { .w = 320, .h = 240, .bit_depth = 8, .frames = 40, .kind = TU_SYNTH_TEXTURED,
               .seed = 1 };
    Outcome o = run_clip(&c, key_a, message_a, key_a, NULL);
    expect_found(&o, "8-bit 320x240");
    cr_assert_eq(o.res.list_length, FM_MSGCODE_LIST, "a clean read needs no deep list");
    cr_assert_eq(o.res.span[0], 0);
    cr_assert_float_eq(o.res.span[1], 39 / 24.0, 1e-9);
}

Test(embed_detect, marked_8bit_odd_321x243)
{
    Clip c = { .w = 321, .h = 243, .bit_depth = 8, .frames = 40, .kind = TU_SYNTH_TEXTURED,
               .seed = 2 };
    Outcome o = run_clip(&c, key_a, message_a, key_a, NULL);
    expect_found(&o, "8-bit 321x243");
}

Test(embed_detect, marked_8bit_640x360)
{
    Clip c = { .w = 640, .h = 360, .bit_depth = 8, .frames = 30, .kind = TU_SYNTH_TEXTURED,
               .seed = 3 };
    Outcome o = run_clip(&c, key_a, message_a, key_a, NULL);
    expect_found(&o, "8-bit 640x360");
}

Test(embed_detect, marked_10bit_320x240)
{
    Clip c = { .w = 320, .h = 240, .bit_depth = 10, .frames = 40, .kind = TU_SYNTH_TEXTURED,
               .seed = 4 };
    Outcome o = run_clip(&c, key_a, message_a, key_a, NULL);
    expect_found(&o, "10-bit 320x240");
}

Test(embed_detect, marked_10bit_odd_321x243)
{
    Clip c = { .w = 321, .h = 243, .bit_depth = 10, .frames = 40, .kind = TU_SYNTH_TEXTURED,
               .seed = 5 };
    Outcome o = run_clip(&c, key_a, message_a, key_a, NULL);
    expect_found(&o, "10-bit 321x243");
}

Test(embed_detect, marked_10bit_640x360)
{
    Clip c = { .w = 640, .h = 360, .bit_depth = 10, .frames = 30, .kind = TU_SYNTH_TEXTURED,
               .seed = 6 };
    Outcome o = run_clip(&c, key_a, message_a, key_a, NULL);
    expect_found(&o, "10-bit 640x360");
}

Test(embed_detect, stride_larger_than_width_8bit)
{
    Clip c = { .w = 321, .h = 243, .bit_depth = 8, .extra_stride = 59, .frames = 40,
               .kind = TU_SYNTH_TEXTURED, .seed = 7 };
    Outcome o = run_clip(&c, key_a, message_a, key_a, NULL);
    expect_found(&o, "8-bit 321x243, stride +59");
}

Test(embed_detect, stride_larger_than_width_10bit)
{
    Clip c = { .w = 320, .h = 240, .bit_depth = 10, .extra_stride = 128, .frames = 40,
               .kind = TU_SYNTH_TEXTURED, .seed = 8 };
    Outcome o = run_clip(&c, key_a, message_a, key_a, NULL);
    expect_found(&o, "10-bit 320x240, stride +128");
}

Test(embed_detect, stride_does_not_change_the_mark)
{
    /* The same picture marked in a tight and in a padded buffer comes out the same. */
    FmError err = { { 0 } };
    const int w = 200, h = 120;
    for (int bd = 8; bd <= 10; bd += 2) {
        int bps = bd > 8 ? 2 : 1;
        ptrdiff_t s1 = (ptrdiff_t)w * bps, s2 = s1 + 96;
        uint8_t *a = malloc(s1 * h), *b = malloc(s2 * h);
        tu_synth_luma(a, s1, w, h, bd, TU_SYNTH_TEXTURED, 9, 0);
        tu_synth_luma(b, s2, w, h, bd, TU_SYNTH_TEXTURED, 9, 0);
        FmEmbedder *emb = NULL;
        cr_assert_eq(fm_embedder_new(&emb, key_a->wm_key, message_a, w, h, 1.0, &err), 0);
        cr_assert_eq(fm_embedder_mark(emb, a, s1, bd, 0, NULL, &err), 0, "%s", err.msg);
        cr_assert_eq(fm_embedder_mark(emb, b, s2, bd, 0, NULL, &err), 0, "%s", err.msg);
        for (int y = 0; y < h; y++)
            cr_assert_arr_eq(a + y * s1, b + y * s2, (size_t)s1, "%d-bit row %d differs", bd, y);
        fm_embedder_free(&emb);
        free(a);
        free(b);
    }
}

Test(embed_detect, marking_is_deterministic)
{
    FmError err = { { 0 } };
    const int w = 160, h = 96;
    uint8_t *a = malloc(w * h), *b = malloc(w * h);
    tu_synth_luma(a, w, w, h, 8, TU_SYNTH_TEXTURED, 10, 0);
    memcpy(b, a, (size_t)w * h);
    FmEmbedder *e1 = NULL, *e2 = NULL;
    cr_assert_eq(fm_embedder_new(&e1, key_a->wm_key, message_a, w, h, 1.0, &err), 0);
    cr_assert_eq(fm_embedder_new(&e2, key_a->wm_key, message_a, w, h, 1.0, &err), 0);
    cr_assert_eq(fm_embedder_mark(e1, a, w, 8, 0, NULL, &err), 0);
    cr_assert_eq(fm_embedder_mark(e2, b, w, 8, 0, NULL, &err), 0);
    cr_assert_arr_eq(a, b, (size_t)w * h);
    fm_embedder_free(&e1);
    fm_embedder_free(&e2);
    free(a);
    free(b);
}

/* A flat grey picture with a little noise (its mark needs no PSNR cap) or
 * full-range noise (the mask at its top: the cap applies). */
static void cap_picture(uint8_t *p, int w, int h, int bd, int busy, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    int maxval = (1 << bd) - 1;
    for (int i = 0; i < w * h; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int v = busy ? (int)((s >> 33) % (uint64_t)(maxval + 1))
                     : (128 << (bd - 8)) + (int)((s >> 33) % 5) - 2;
        if (bd == 8)
            p[i] = (uint8_t)v;
        else
            ((uint16_t *)p)[i] = (uint16_t)v;
    }
}

Test(embed_detect, one_pass_mark_equals_energy_then_add)
{
    /* After a frame that needed no cap the embedder adds the mark at gain 1
     * while summing its energy, and marks again from a kept copy when the
     * frame turns out over the cap (embedder.c). With the plain tile the
     * output of a frame depends only on the frame and its epoch, so each
     * path must give the pixels of the energy pass followed by the add:
     * flat after flat (one pass) against flat after noise (two passes),
     * noise after flat (put back, marked again) against noise after noise.
     * The fill is off: it makes a measured frame's gain depend on the frame
     * before by design (its one pass adds at that gain with the same
     * kernels; test_bitexact's flat and gradient sequences pin its pixels). */
    FmError err = { { 0 } };
    const int w = 203, h = 117;
    for (int bd = 8; bd <= 10; bd += 2) {
        for (int with_quality = 0; with_quality <= 1; with_quality++) {
            size_t bytes = (size_t)w * h * (bd > 8 ? 2 : 1);
            uint8_t *flat = malloc(bytes), *flat2 = malloc(bytes), *busy = malloc(bytes);
            uint8_t *out[2][4];
            cap_picture(flat, w, h, bd, 0, 1);
            cap_picture(flat2, w, h, bd, 0, 2);
            cap_picture(busy, w, h, bd, 1, 3);
            /* run 0: flat, flat2, busy; run 1: flat, busy, busy, flat2 */
            const uint8_t *seq[2][4] = { { flat, flat2, busy, NULL }, { flat, busy, busy, flat2 } };
            for (int r = 0; r < 2; r++) {
                FmEmbedder *e = NULL;
                cr_assert_eq(fm_embedder_new(&e, key_a->wm_key, message_a, w, h, 1.0, &err), 0);
                fm_embedder_set_informed(e, 0);
                fm_embedder_set_fill(e, 0);
                for (int f = 0; f < 4; f++) {
                    out[r][f] = NULL;
                    if (!seq[r][f])
                        continue;
                    out[r][f] = malloc(bytes);
                    memcpy(out[r][f], seq[r][f], bytes);
                    FmFrameQuality q;
                    cr_assert_eq(fm_embedder_mark(e, out[r][f], (ptrdiff_t)w * (bd > 8 ? 2 : 1), bd,
                                                  f / 24.0, with_quality ? &q : NULL, &err),
                                 0, "%s", err.msg);
                    if (with_quality)
                        cr_assert(q.mse > 0 && q.mse < 2.2, "%d-bit frame %d: mse %g", bd, f,
                                  q.mse);
                }
                fm_embedder_free(&e);
            }
            cr_assert_arr_eq(out[0][1], out[1][3], bytes,
                             "%d-bit: flat after flat differs from flat after noise", bd);
            cr_assert_arr_eq(out[0][2], out[1][2], bytes,
                             "%d-bit: noise after flat differs from noise after noise", bd);
            cr_assert_arr_eq(out[1][1], out[1][2], bytes, "%d-bit: noise marked twice differs", bd);
            cr_assert(memcmp(out[0][1], flat2, bytes) != 0, "%d-bit: flat frame unmarked", bd);
            for (int r = 0; r < 2; r++)
                for (int f = 0; f < 4; f++)
                    free(out[r][f]);
            free(flat);
            free(flat2);
            free(busy);
        }
    }
}

/* ---- not found ---- */

Test(embed_detect, other_key_does_not_find_it)
{
    Clip c = { .w = 320, .h = 240, .bit_depth = 8, .frames = 40, .kind = TU_SYNTH_TEXTURED,
               .seed = 11 };
    Outcome o = run_clip(&c, key_a, message_a, key_b, NULL);
    expect_not_found(&o, "8-bit marked with A, detected with B");
    Clip c10 = c;
    c10.bit_depth = 10;
    c10.w = 321;
    c10.h = 243;
    o = run_clip(&c10, key_a, message_a, key_b, NULL);
    expect_not_found(&o, "10-bit marked with A, detected with B");
}

/* Two detections of the same evidence read alike, field by field. */
static void expect_same_reading(const FmDetectResult *a, const FmDetectResult *b)
{
    cr_assert_eq(a->found, b->found);
    cr_assert_eq(a->signature_valid, b->signature_valid);
    cr_assert_eq(a->pilot_z, b->pilot_z, "pilot z %.17g against %.17g", a->pilot_z, b->pilot_z);
    cr_assert_eq(a->false_alarm_log10, b->false_alarm_log10);
    cr_assert_eq(a->hypotheses, b->hypotheses);
    cr_assert_eq(a->raw_ber, b->raw_ber);
    cr_assert_eq(a->list_length, b->list_length);
    cr_assert_eq(a->master_position, b->master_position);
    cr_assert_eq(a->geometry.scale_x, b->geometry.scale_x);
    cr_assert_eq(a->geometry.scale_y, b->geometry.scale_y);
    cr_assert_eq(a->geometry.offset_x, b->geometry.offset_x);
    cr_assert_eq(a->geometry.offset_y, b->geometry.offset_y);
    cr_assert_arr_eq(a->message, b->message, FM_MESSAGE_BYTES);
}

/* A mark whose message carries a signature that does not verify (one bit of
 * it flipped before marking): the pilots find it, no list holds a message
 * that verifies, so the detection runs again with the deep list
 * (fm_detect_trace's last resort), which verifies nothing either; the first
 * pass's answer stands, the message read as marked, the deep list reported
 * tried. A clip without the mark never gets that far. (Three geometry
 * searches, two of them on the marked clip: ~5 s in a normal build,
 * several times that under AddressSanitizer.) */
Test(embed_detect, a_detected_mark_that_no_list_verifies_is_tried_with_the_deep_list, .timeout = 600)
{
    uint8_t forged[FM_MESSAGE_BYTES];
    memcpy(forged, message_a, sizeof forged);
    forged[FM_MESSAGE_BYTES - 1] ^= 0x10;   /* in the signature */
    Clip c = { .w = 320, .h = 240, .bit_depth = 8, .frames = 40, .kind = TU_SYNTH_TEXTURED,
               .seed = 12, .deep_passes = 1 };
    Outcome o = run_clip(&c, key_a, forged, key_a, NULL);
    const FmDetectResult *r = &o.res;
    cr_log_info("bad signature: pilot z %.1f, raw BER %.1f%%, list %d", r->pilot_z,
                100 * r->raw_ber, r->list_length);
    cr_assert(r->found, "pilot z %.2f", r->pilot_z);
    cr_assert_leq(r->false_alarm_probability, FM_FALSE_ALARM_THRESHOLD);
    cr_assert(!r->signature_valid);
    cr_assert_eq(r->list_length, FM_MSGCODE_LIST_DEEP);
    cr_assert_arr_eq(r->message, forged, FM_MESSAGE_BYTES, "the message as marked");

    /* the deep pass takes the first's epoch searches from their memo: the
     * same reading as searching every stretch afresh, bit for bit */
    expect_same_reading(&o.deep_after_first, &o.deep_alone);
    cr_assert(o.deep_alone.found);
    cr_assert_eq(o.deep_alone.list_length, FM_MSGCODE_LIST_DEEP);

    c.deep_passes = 0;
    Outcome u = run_clip(&c, NULL, NULL, key_a, NULL);
    expect_not_found(&u, "unmarked 320x240");
    cr_assert_leq(u.res.list_length, FM_MSGCODE_LIST, "the deep list on an unmarked clip");
}

/* (six full geometry searches on evidence with no mark: ~13 s of CPU in a
 * normal build, ~115 s under AddressSanitizer, over the suite's 180 s on a
 * loaded machine) */
Test(embed_detect, unmarked_frames_not_found, .timeout = 600)
{
    static const int sizes[][2] = { { 320, 240 }, { 321, 243 }, { 640, 360 } };
    for (int i = 0; i < 3; i++)
        for (int bd = 8; bd <= 10; bd += 2) {
            Clip c = { .w = sizes[i][0], .h = sizes[i][1], .bit_depth = bd, .frames = 30,
                       .kind = TU_SYNTH_TEXTURED, .seed = 20 + i };
            Outcome o = run_clip(&c, NULL, NULL, key_a, NULL);
            char what[64];
            snprintf(what, sizeof what, "unmarked %dx%d %d-bit", c.w, c.h, bd);
            expect_not_found(&o, what);
        }
}

/* ---- quality ---- */

Test(embed_detect, psnr_floor_on_every_kind_of_content)
{
    /* whatever the content (flat, dark, noisy, sharp edges), at the default
     * strength no frame falls below the documented floor */
    FmError err = { { 0 } };
    const int w = 256, h = 144;
    for (int bd = 8; bd <= 10; bd += 2) {
        int bps = bd > 8 ? 2 : 1;
        uint8_t *p = malloc((size_t)w * h * bps);
        FmEmbedder *emb = NULL;
        cr_assert_eq(fm_embedder_new(&emb, key_a->wm_key, message_a, w, h, 1.0, &err), 0);
        for (int kind = 0; kind < TU_SYNTH_KINDS; kind++)
            for (int f = 0; f < 3; f++) {
                tu_synth_luma(p, (ptrdiff_t)w * bps, w, h, bd, kind, 30 + kind, f);
                FmFrameQuality q;
                cr_assert_eq(fm_embedder_mark(emb, p, (ptrdiff_t)w * bps, bd, f / 24.0, &q, &err), 0);
                double psnr = fm_psnr_from_mse(q.mse);
                cr_assert_geq(psnr, MIN_PSNR_DB, "%s %d-bit frame %d: %.2f dB",
                              tu_synth_name(kind), bd, f, psnr);
                cr_assert_geq(q.ssim, 0.99, "%s %d-bit frame %d: SSIM %.4f", tu_synth_name(kind),
                              bd, f, q.ssim);
            }
        fm_embedder_free(&emb);
        free(p);
    }
}

Test(embed_detect, ssim_floor_holds_where_the_psnr_cap_does_not)
{
    /* Low-contrast texture (grey +-10): the mask gives it a full mark, which
     * the PSNR cap allows but which costs more than 0.01 of SSIM. Measured,
     * the frame is held at the floor and still marked; unmeasured (quality
     * NULL), it is marked at the PSNR cap alone. */
    FmError err = { { 0 } };
    const int w = 320, h = 180;
    for (int bd = 8; bd <= 10; bd += 2) {
        int bps = bd > 8 ? 2 : 1;
        size_t bytes = (size_t)w * h * bps;
        uint8_t *orig = malloc(bytes), *floored = malloc(bytes), *capped = malloc(bytes);
        uint64_t s = 77;
        for (int i = 0; i < w * h; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            int v = (128 + (int)((s >> 33) % 21) - 10) << (bd - 8);
            if (bd == 8)
                orig[i] = (uint8_t)v;
            else
                ((uint16_t *)orig)[i] = (uint16_t)v;
        }
        memcpy(floored, orig, bytes);
        memcpy(capped, orig, bytes);
        FmEmbedder *e1 = NULL, *e2 = NULL;
        cr_assert_eq(fm_embedder_new(&e1, key_a->wm_key, message_a, w, h, 1.0, &err), 0);
        cr_assert_eq(fm_embedder_new(&e2, key_a->wm_key, message_a, w, h, 1.0, &err), 0);
        FmFrameQuality q;
        cr_assert_eq(fm_embedder_mark(e1, floored, (ptrdiff_t)w * bps, bd, 0, &q, &err), 0);
        cr_assert_eq(fm_embedder_mark(e2, capped, (ptrdiff_t)w * bps, bd, 0, NULL, &err), 0);
        double mse_capped, mse_floored;
        double ssim_capped = fm_ssim_plane(orig, (ptrdiff_t)w * bps, capped, (ptrdiff_t)w * bps,
                                           w, h, bd, &mse_capped);
        double ssim_floored = fm_ssim_plane(orig, (ptrdiff_t)w * bps, floored,
                                            (ptrdiff_t)w * bps, w, h, bd, &mse_floored);
        cr_assert_lt(ssim_capped, 0.99, "%d-bit: the picture does not test the floor (%.4f)", bd,
                     ssim_capped);
        cr_assert_geq(q.ssim, 0.99, "%d-bit: SSIM %.4f under the floor", bd, q.ssim);
        cr_assert_float_eq(q.ssim, ssim_floored, 1e-12, "%d-bit: reported %.6f, measured %.6f", bd,
                           q.ssim, ssim_floored);
        cr_assert_lt(q.ssim, 0.9925, "%d-bit: SSIM %.4f: the gain fell too far", bd, q.ssim);
        cr_assert(mse_floored > 0.5 * mse_capped && mse_floored < mse_capped,
                  "%d-bit: mse %.3f floored, %.3f capped", bd, mse_floored, mse_capped);
        fm_embedder_free(&e1);
        fm_embedder_free(&e2);
        free(orig);
        free(floored);
        free(capped);
    }
}

Test(embed_detect, fill_raises_the_mark_only_where_the_floor_and_cap_leave_room)
{
    /* Every kind of content, 4 frames each, one after another (each change of
     * kind a cut), marked with the fill (the default) and without it. With
     * it no frame falls under the SSIM floor or the PSNR floor, even right
     * after a cut from content with room to content without; a frame is
     * not marked more weakly than without it (to 0.5 %), nor more than 1.41
     * times as strongly; and where the frame before had room under both
     * floors, the frame is marked more strongly. */
    FmError err = { { 0 } };
    const int w = 256, h = 144;
    for (int bd = 8; bd <= 10; bd += 2) {
        int bps = bd > 8 ? 2 : 1;
        size_t bytes = (size_t)w * h * bps;
        uint8_t *a = malloc(bytes), *b = malloc(bytes);
        FmEmbedder *fill = NULL, *plain = NULL;
        cr_assert_eq(fm_embedder_new(&fill, key_a->wm_key, message_a, w, h, 1.0, &err), 0);
        cr_assert_eq(fm_embedder_new(&plain, key_a->wm_key, message_a, w, h, 1.0, &err), 0);
        fm_embedder_set_fill(plain, 0);
        int raised = 0, room_before = 0;
        for (int kind = 0; kind < TU_SYNTH_KINDS; kind++)
            for (int f = 0; f < 4; f++) {
                tu_synth_luma(a, (ptrdiff_t)w * bps, w, h, bd, kind, 60 + kind, f);
                memcpy(b, a, bytes);
                double t = (kind * 4 + f) / 24.0;
                FmFrameQuality qf, qp;
                cr_assert_eq(fm_embedder_mark(fill, a, (ptrdiff_t)w * bps, bd, t, &qf, &err), 0);
                cr_assert_eq(fm_embedder_mark(plain, b, (ptrdiff_t)w * bps, bd, t, &qp, &err), 0);
                const char *name = tu_synth_name(kind);
                cr_assert_geq(qf.ssim, 0.99, "%s %d-bit frame %d: SSIM %.4f", name, bd, f, qf.ssim);
                cr_assert_geq(fm_psnr_from_mse(qf.mse), MIN_PSNR_DB, "%s %d-bit frame %d: %.2f dB",
                              name, bd, f, fm_psnr_from_mse(qf.mse));
                /* under the cap the gains differ a little: the informed
                 * tile, made every 4th frame at that frame's gain, does */
                cr_assert_geq(qf.gain, qp.gain * 0.995, "%s %d-bit frame %d: gain %.4f < %.4f",
                              name, bd, f, qf.gain, qp.gain);
                cr_assert_leq(qf.gain, 1.41 + 1e-6, "%s %d-bit frame %d: gain %.4f", name, bd, f,
                              qf.gain);
                cr_assert_leq(qp.gain, 1.0, "%s %d-bit frame %d: gain %.4f without the fill",
                              name, bd, f, qp.gain);
                if (room_before && qp.ssim > 0.9915 && fm_psnr_from_mse(qp.mse) > 46) {
                    cr_expect_gt(qf.gain, 1.02, "%s %d-bit frame %d: not raised (gain %.4f; SSIM "
                                 "%.4f without)", name, bd, f, qf.gain, qp.ssim);
                    cr_expect_gt(qf.mse, qp.mse, "%s %d-bit frame %d: mse %.4f, %.4f without",
                                 name, bd, f, qf.mse, qp.mse);
                    raised++;
                }
                room_before = f < 3 && qp.ssim > 0.9915 && fm_psnr_from_mse(qp.mse) > 46;
            }
        cr_log_info("%d-bit: %d frames with room, raised", bd, raised);
        cr_assert_geq(raised, 4, "%d-bit: too few frames with room to test the fill (%d)", bd,
                      raised);
        fm_embedder_free(&fill);
        fm_embedder_free(&plain);
        free(a);
        free(b);
    }
}

Test(embed_detect, extreme_levels_stay_in_range)
{
    /* black and white frames (and 10-bit full scale) are clipped, not wrapped */
    FmError err = { { 0 } };
    const int w = 64, h = 48;
    uint8_t p8[64 * 48];
    uint16_t p16[64 * 48];
    FmEmbedder *emb = NULL;
    cr_assert_eq(fm_embedder_new(&emb, key_a->wm_key, message_a, w, h, 10.0, &err), 0);
    for (int lvl = 0; lvl < 2; lvl++) {
        TuRng r;
        tu_rng_seed(&r, 40 + lvl);
        for (int i = 0; i < w * h; i++) {   /* textured near the limit: large mask gain */
            int v8 = lvl ? 255 - (int)tu_rng_below(&r, 12) : (int)tu_rng_below(&r, 12);
            p8[i] = (uint8_t)v8;
            p16[i] = (uint16_t)(lvl ? 1023 - (int)tu_rng_below(&r, 48) : (int)tu_rng_below(&r, 48));
        }
        uint8_t before8[64 * 48];
        memcpy(before8, p8, sizeof p8);
        cr_assert_eq(fm_embedder_mark(emb, p8, w, 8, 0, NULL, &err), 0);
        cr_assert_eq(fm_embedder_mark(emb, (uint8_t *)p16, w * 2, 10, 0, NULL, &err), 0);
        int moved = 0;
        for (int i = 0; i < w * h; i++) {
            cr_assert_leq(p16[i], 1023, "10-bit sample %d = %u", i, p16[i]);
            /* no wrap-around: a near-black pixel never turns near-white */
            cr_assert_lt(abs((int)p8[i] - (int)before8[i]), 128, "8-bit sample wrapped");
            moved += p8[i] != before8[i];
        }
        cr_assert_gt(moved, 0);
    }
    fm_embedder_free(&emb);
}

/* ---- where and how ---- */

Test(embed_detect, informed_detection_with_the_expected_message)
{
    Clip c = { .w = 320, .h = 240, .bit_depth = 8, .frames = 30, .kind = TU_SYNTH_TEXTURED,
               .seed = 50 };
    Outcome o = run_clip(&c, key_a, message_a, key_a, message_a);
    expect_found(&o, "informed, right message");
    cr_assert(o.res.expected_match);
    cr_assert_gt(o.res.expected_z, 0);

    /* a different (validly signed) message is not what is in the clip */
    uint8_t other[FM_MESSAGE_BYTES];
    FmPayload p = payload_a;
    p.recipient_id++;
    cr_assert_eq(fm_payload_sign(&p, key_a, other, NULL), 0);
    o = run_clip(&c, key_a, message_a, key_a, other);
    cr_assert(o.res.found);
    cr_assert(!o.res.expected_match);
    cr_assert_arr_eq(o.res.message, message_a, FM_MESSAGE_BYTES);
    cr_assert_gt(o.res.raw_ber, 0, "BER against the wrong message should not be 0");
}

Test(embed_detect, informed_embedding_beats_the_plain_tile_on_a_static_shot)
{
    /* A still, grainy shot: the picture's own texture in the slots does not
     * average away over frames. Informed embedding spends the same energy
     * (same PSNR) but leaves fewer raw bit errors than the plain tile. (The
     * correlation with the whole expected message is not the measure: the
     * energy moved to the bits the picture opposes does not add to it.) */
    for (int bd = 8; bd <= 10; bd += 2) {
        Clip c = { .w = 640, .h = 360, .bit_depth = bd, .frames = 12,
                   .kind = TU_SYNTH_STATIC_NOISE, .seed = 60, .strength = 1.0 };
        Outcome inf = run_clip(&c, key_a, message_a, key_a, message_a);
        c.plain = 1;
        Outcome plain = run_clip(&c, key_a, message_a, key_a, message_a);
        cr_log_info("static %d-bit: informed raw BER %.1f%% (z %.1f, %.2f dB), plain %.1f%% "
                    "(z %.1f, %.2f dB)", bd, 100 * inf.res.raw_ber, inf.res.expected_z,
                    inf.mean_psnr, 100 * plain.res.raw_ber, plain.res.expected_z,
                    plain.mean_psnr);
        cr_assert_gt(plain.res.raw_ber, 0, "the plain tile should have errors at this strength");
        cr_assert_lt(inf.res.raw_ber, plain.res.raw_ber, "%d-bit: informed %.3f, plain %.3f", bd,
                     inf.res.raw_ber, plain.res.raw_ber);
        /* the same picture cost: the tile's energy is kept */
        cr_assert_lt(fabs(inf.mean_psnr - plain.mean_psnr), 0.3, "PSNR %.2f vs %.2f dB",
                     inf.mean_psnr, plain.mean_psnr);
    }
}

Test(embed_detect, span_covers_only_the_marked_part)
{
    /* 30 frames at 2 fps = 15 s; the first 10 frames (5 s) are left
     * unmarked. The span is resolved to the epoch (pattern.h): the epoch
     * that holds the mark's first frames may start before them. */
    Clip c = { .w = 320, .h = 240, .bit_depth = 8, .frames = 30, .kind = TU_SYNTH_TEXTURED,
               .seed = 51, .fps = 2, .mark_from = 10 };
    Outcome o = run_clip(&c, key_a, message_a, key_a, NULL);
    expect_found(&o, "marked from 5 s");
    cr_log_info("span %.2f .. %.2f s", o.res.span[0], o.res.span[1]);
    cr_assert_geq(o.res.span[0], 5.0 - FM_EPOCH_SECONDS - 1e-9,
                  "span starts at %.2f s, more than an epoch before the mark", o.res.span[0]);
    cr_assert_leq(o.res.span[0], 5.0 + 1e-9, "span starts at %.2f s, after the mark", o.res.span[0]);
    cr_assert_float_eq(o.res.span[1], 14.5, 1e-9);
}

Test(embed_detect, found_after_uniform_2x_downscale)
{
    /* The mark grid follows the picture height, so a uniformly scaled copy
     * is read with no search (docs/DESIGN.md 3). A 720-row picture is
     * box-filtered 2x down to the mark grid's own 360 rows: the evidence is
     * what the detector sees at full size. (Below 360 rows the top slot band
     * is past Nyquist: not asserted here.) */
    FmError err = { { 0 } };
    const int w = 480, h = 720, n = 20;
    uint8_t *p = malloc((size_t)w * h), *s = malloc((size_t)w * h / 4);
    FmEmbedder *emb = NULL;
    FmAccumulator full, half;
    cr_assert_eq(fm_embedder_new(&emb, key_a->wm_key, message_a, w, h, 1.0, &err), 0);
    cr_assert_eq(fm_accumulator_init(&full, w, h, &err), 0);
    cr_assert_eq(fm_accumulator_init(&half, w / 2, h / 2, &err), 0);
    for (int f = 0; f < n; f++) {
        tu_synth_luma(p, w, w, h, 8, TU_SYNTH_NOISE, 52, f);
        cr_assert_eq(fm_embedder_mark(emb, p, w, 8, f / 24.0, NULL, &err), 0);
        for (int y = 0; y < h / 2; y++)
            for (int x = 0; x < w / 2; x++) {
                const uint8_t *q = p + (2 * y) * w + 2 * x;
                s[y * (w / 2) + x] = (uint8_t)((q[0] + q[1] + q[w] + q[w + 1] + 2) / 4);
            }
        cr_assert_eq(fm_accumulator_add(&full, p, w, 8, f / 24.0, &err), 0);
        cr_assert_eq(fm_accumulator_add(&half, s, w / 2, 8, f / 24.0, &err), 0);
    }
    Outcome o = { .worst_psnr = 100 }, ofull = { .worst_psnr = 100 };
    cr_assert_eq(fm_detect(&full, key_a, 1, NULL, &ofull.res, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_detect(&half, key_a, 1, NULL, &o.res, &err), 0, "%s", err.msg);
    expect_found(&ofull, "480x720 marked and read");
    expect_found(&o, "480x720 marked, read at 240x360");
    cr_assert_lt(fabs(o.res.pilot_z - ofull.res.pilot_z), 0.1 * ofull.res.pilot_z,
                 "z %.2f at half size vs %.2f at full size", o.res.pilot_z, ofull.res.pilot_z);
    fm_accumulator_free(&full);
    fm_accumulator_free(&half);
    fm_embedder_free(&emb);
    free(p);
    free(s);
}

Test(embed_detect, found_after_uniform_2x_upscale)
{
    /* 320x240 marked, pixel-doubled to 640x480 */
    FmError err = { { 0 } };
    const int w = 320, h = 240, n = 30;
    uint8_t *p = malloc((size_t)w * h), *s = malloc((size_t)w * h * 4);
    FmEmbedder *emb = NULL;
    FmAccumulator acc;
    cr_assert_eq(fm_embedder_new(&emb, key_a->wm_key, message_a, w, h, 1.0, &err), 0);
    cr_assert_eq(fm_accumulator_init(&acc, w * 2, h * 2, &err), 0);
    for (int f = 0; f < n; f++) {
        tu_synth_luma(p, w, w, h, 8, TU_SYNTH_TEXTURED, 54, f);
        cr_assert_eq(fm_embedder_mark(emb, p, w, 8, f / 24.0, NULL, &err), 0);
        for (int y = 0; y < 2 * h; y++)
            for (int x = 0; x < 2 * w; x++)
                s[y * 2 * w + x] = p[(y / 2) * w + x / 2];
        cr_assert_eq(fm_accumulator_add(&acc, s, 2 * w, 8, f / 24.0, &err), 0);
    }
    Outcome o = { .worst_psnr = 100 };
    cr_assert_eq(fm_detect(&acc, key_a, 1, NULL, &o.res, &err), 0, "%s", err.msg);
    expect_found(&o, "320x240 marked, read at 640x480");
    fm_accumulator_free(&acc);
    fm_embedder_free(&emb);
    free(p);
    free(s);
}

Test(embed_detect, keys_tried_corrects_the_false_alarm_probability)
{
    FmError err = { { 0 } };
    const int w = 320, h = 240;
    uint8_t *p = malloc((size_t)w * h);
    FmAccumulator unmarked, marked;
    FmEmbedder *emb = NULL;
    cr_assert_eq(fm_embedder_new(&emb, key_a->wm_key, message_a, w, h, 1.0, &err), 0);
    cr_assert_eq(fm_accumulator_init(&unmarked, w, h, &err), 0);
    cr_assert_eq(fm_accumulator_init(&marked, w, h, &err), 0);
    for (int f = 0; f < 20; f++) {
        tu_synth_luma(p, w, w, h, 8, TU_SYNTH_TEXTURED, 53, f);
        cr_assert_eq(fm_accumulator_add(&unmarked, p, w, 8, f / 24.0, &err), 0);
        cr_assert_eq(fm_embedder_mark(emb, p, w, 8, f / 24.0, NULL, &err), 0);
        cr_assert_eq(fm_accumulator_add(&marked, p, w, 8, f / 24.0, &err), 0);
    }
    FmDetectResult r1, r64;
    /* unmarked: more keys tried can only make a chance match less significant */
    cr_assert_eq(fm_detect(&unmarked, key_a, 1, NULL, &r1, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_detect(&unmarked, key_a, 64, NULL, &r64, &err), 0, "%s", err.msg);
    cr_assert(!r1.found && !r64.found);
    cr_assert_geq(r64.hypotheses, 64);
    cr_assert_geq(r64.false_alarm_probability, r1.false_alarm_probability);
    cr_assert(r64.false_alarm_probability <= 1.0 && r1.false_alarm_probability <= 1.0);
    cr_assert_float_eq(r1.false_alarm_probability, pow(10, r1.false_alarm_log10),
                       1e-9 + 1e-6 * r1.false_alarm_probability);
    /* marked: read at the nominal geometry either way; only the correction changes */
    cr_assert_eq(fm_detect(&marked, key_a, 1, NULL, &r1, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_detect(&marked, key_a, 64, NULL, &r64, &err), 0, "%s", err.msg);
    cr_assert(r1.signature_valid && r64.signature_valid);
    cr_assert_float_eq(r1.pilot_z, r64.pilot_z, 1e-9);
    cr_assert_eq(r64.hypotheses, 64 * r1.hypotheses);
    if (r64.false_alarm_log10 < 0)
        cr_assert_float_eq(r64.false_alarm_log10 - r1.false_alarm_log10, log10(64), 1e-9);
    fm_accumulator_free(&unmarked);
    fm_accumulator_free(&marked);
    fm_embedder_free(&emb);
    free(p);
}

/* ---- arguments ---- */

Test(embed_detect, bad_arguments)
{
    FmError err = { { 0 } };
    FmEmbedder *emb = (FmEmbedder *)1;
    cr_assert_eq(fm_embedder_new(&emb, key_a->wm_key, message_a, 15, 100, 1.0, &err), FM_EINVAL);
    cr_assert_null(emb);
    cr_assert_neq(err.msg[0], 0);
    cr_assert_eq(fm_embedder_new(&emb, key_a->wm_key, message_a, 100, 100, 0.0, &err), FM_EINVAL);
    cr_assert_eq(fm_embedder_new(&emb, key_a->wm_key, message_a, 100, 100, 10.5, &err), FM_EINVAL);
    cr_assert_eq(fm_embedder_new(&emb, key_a->wm_key, message_a, 100, 100, NAN, &err), FM_EINVAL);
    cr_assert_eq(fm_embedder_new(&emb, key_a->wm_key, message_a, 100, 100, 1.0, &err), 0);
    uint8_t p[100 * 100 * 2] = { 0 };
    cr_assert_eq(fm_embedder_mark(emb, p, 100, 7, 0, NULL, &err), FM_EINVAL);
    cr_assert_eq(fm_embedder_mark(emb, p, 200, 17, 0, NULL, &err), FM_EINVAL);
    fm_embedder_free(&emb);
    fm_embedder_free(&emb);   /* second free is a no-op */

    FmAccumulator acc;
    cr_assert_eq(fm_accumulator_init(&acc, 100, 15, &err), FM_EINVAL);
    cr_assert_eq(fm_accumulator_init(&acc, 64, 48, &err), 0);
    FmDetectResult r;
    cr_assert_eq(fm_detect(&acc, key_a, 1, NULL, &r, &err), FM_EFORMAT, "no frames: %s", err.msg);
    cr_assert(!r.found);
    fm_accumulator_free(&acc);
}
