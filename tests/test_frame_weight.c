/*
 * test_frame_weight.c - intra-coded frames weigh more in the detector's
 * windows (frame.h fm_frame_evidence_weight, accumulator.h
 * fm_accumulator_add_weighted; issue 8: weight frames by their own
 * reliability):
 *   1. the weight of a frame follows the decoder's picture type (and the
 *      public API's FILMMARK_INTRA_WEIGHT is the tools' default);
 *   2. a weight of 1 is the plain add, bit for bit, and a weight that is not
 *      a number in (0, FM_FRAME_WEIGHT_MAX] is refused;
 *   3. on a codec-like copy, where the mark is whole only in the frames
 *      coded on their own and faint in the predicted ones, weighting the
 *      first reads the message with fewer raw errors, while unmarked frames
 *      weighted the same way still give no mark (the weights are keyless).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accumulator.h"
#include "detector.h"
#include "embedder.h"
#include "filmmark.h"
#include "frame.h"
#include "keys.h"
#include "payload.h"
#include "testutil.h"

#define W 320
#define H 240
#define FPS 24.0
#define FRAMES 240       /* 10 s */
#define GOP 24           /* an I frame a second */

static FmKey *key;
static uint8_t message[FM_MESSAGE_BYTES];

static void setup(void)
{
    FmPayload p;
    key = tu_signed_message(91, 0xF4A3u, 808, &p, message);
}

static void teardown(void)
{
    fm_key_free(&key);
}

TestSuite(frame_weight, .init = setup, .fini = teardown);

Test(frame_weight, follows_the_picture_type)
{
    AVFrame *f = av_frame_alloc();
    cr_assert(f);
    f->pict_type = AV_PICTURE_TYPE_I;
    cr_assert_eq(fm_frame_evidence_weight(f, FM_INTRA_WEIGHT), FM_INTRA_WEIGHT);
    cr_assert_eq(fm_frame_evidence_weight(f, 1.0f), 1.0f);
    f->pict_type = AV_PICTURE_TYPE_P;
    cr_assert_eq(fm_frame_evidence_weight(f, FM_INTRA_WEIGHT), 1.0f);
    f->pict_type = AV_PICTURE_TYPE_B;
    cr_assert_eq(fm_frame_evidence_weight(f, FM_INTRA_WEIGHT), 1.0f);
    f->pict_type = AV_PICTURE_TYPE_NONE;   /* a decoder that does not say */
    cr_assert_eq(fm_frame_evidence_weight(f, FM_INTRA_WEIGHT), 1.0f);
    av_frame_free(&f);
    /* the public API's default is the tools' (api.c asserts the whole part) */
    cr_assert_eq(FILMMARK_INTRA_WEIGHT, FM_INTRA_WEIGHT);
}

Test(frame_weight, one_is_the_plain_add_and_bad_weights_are_refused)
{
    FmError err = { { 0 } };
    FmAccumulator a, b;
    cr_assert_eq(fm_accumulator_init(&a, W, H, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_accumulator_init(&b, W, H, &err), 0, "%s", err.msg);
    uint8_t *plane = malloc((size_t)W * H);
    cr_assert(plane);
    for (int i = 0; i < 30; i++) {
        tu_synth_luma(plane, W, W, H, 8, TU_SYNTH_TEXTURED, 5, i);
        cr_assert_eq(fm_accumulator_add(&a, plane, W, 8, i / FPS, &err), 0, "%s", err.msg);
        cr_assert_eq(fm_accumulator_add_weighted(&b, plane, W, 8, i / FPS, 1.0f, &err), 0, "%s",
                     err.msg);
    }
    cr_assert_eq(a.nwin, b.nwin);
    size_t fine = (size_t)a.fw * a.fh;
    for (int w = 0; w < a.nwin; w++) {
        cr_assert_eq(a.win[w].frames, b.win[w].frames);
        cr_assert_eq(a.win[w].weight, b.win[w].weight);
        cr_assert_eq(a.win[w].weight, (double)a.win[w].frames);
        if (!a.win[w].frames)
            continue;
        cr_assert_arr_eq(a.win[w].slots, b.win[w].slots, sizeof(float) * (size_t)a.nslots,
                         "window %d: slots differ", w);
        if (a.win[w].fine)
            cr_assert_arr_eq(a.win[w].fine, b.win[w].fine, sizeof(float) * fine,
                             "window %d: fine evidence differs", w);
    }
    const float bad[] = { 0.0f, -1.0f, NAN, INFINITY, FM_FRAME_WEIGHT_MAX * 1.001f, 3e38f };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(fm_accumulator_add_weighted(&b, plane, W, 8, 1.0, bad[i], &err), FM_EINVAL,
                     "weight %g accepted", (double)bad[i]);
    cr_assert_eq(b.frames, 30, "a refused frame was counted");
    free(plane);
    fm_accumulator_free(&a);
    fm_accumulator_free(&b);
}

/*
 * A codec-like copy of a marked picture: every GOP-th frame (the "I" frame)
 * keeps the mark whole; the others keep a fifth of it, and the picture
 * itself moves a little from frame to frame (fresh noise over a fixed
 * texture). Returns the frames (FRAMES of them).
 */
static uint8_t **codec_like_copy(int marked)
{
    FmError err = { { 0 } };
    FmEmbedder *emb = NULL;
    cr_assert_eq(fm_embedder_new(&emb, key->wm_key, message, W, H, FM_DEFAULT_STRENGTH, &err), 0,
                 "%s", err.msg);
    uint8_t **out = calloc(FRAMES, sizeof(*out));
    uint8_t *orig = malloc((size_t)W * H), *noise = malloc((size_t)W * H);
    cr_assert(out && orig && noise);
    for (int i = 0; i < FRAMES; i++) {
        out[i] = malloc((size_t)W * H);
        cr_assert(out[i]);
        tu_synth_luma(orig, W, W, H, 8, TU_SYNTH_TEXTURED, 11, i);
        tu_synth_luma(noise, W, W, H, 8, TU_SYNTH_NOISE, 12, i);
        memcpy(out[i], orig, (size_t)W * H);
        if (marked)
            cr_assert_eq(fm_embedder_mark(emb, out[i], W, 8, i / FPS, NULL, &err), 0, "%s",
                         err.msg);
        double keep = i % GOP == 0 ? 1.0 : 0.2;
        for (int k = 0; k < W * H; k++) {
            double v = orig[k] + keep * (out[i][k] - orig[k]) + 0.25 * (noise[k] - 128);
            out[i][k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
        }
    }
    fm_embedder_free(&emb);
    free(orig);
    free(noise);
    return out;
}

static FmDetectResult detect(uint8_t *const *frames, int weighted)
{
    FmError err = { { 0 } };
    FmAccumulator acc;
    cr_assert_eq(fm_accumulator_init(&acc, W, H, &err), 0, "%s", err.msg);
    for (int i = 0; i < FRAMES; i++) {
        float wt = weighted && i % GOP == 0 ? FM_INTRA_WEIGHT : 1.0f;
        cr_assert_eq(fm_accumulator_add_weighted(&acc, frames[i], W, 8, i / FPS, wt, &err), 0,
                     "%s", err.msg);
    }
    FmDetectResult r;
    cr_assert_eq(fm_detect(&acc, key, 1, NULL, &r, &err), 0, "%s", err.msg);
    fm_accumulator_free(&acc);
    return r;
}

static void free_frames(uint8_t **f)
{
    for (int i = 0; i < FRAMES; i++)
        free(f[i]);
    free(f);
}

Test(frame_weight, intra_frames_weighted_read_a_codec_like_copy_better, .timeout = 120)
{
    uint8_t **copy = codec_like_copy(1);
    FmDetectResult plain = detect(copy, 0), weighted = detect(copy, 1);
    cr_log_info("codec-like copy: unweighted pilot z %.1f, raw BER %.1f%%; intra frames x%g: "
                "z %.1f, %.1f%%", plain.pilot_z, 100 * plain.raw_ber, (double)FM_INTRA_WEIGHT,
                weighted.pilot_z, 100 * weighted.raw_ber);
    cr_assert(weighted.found && weighted.signature_valid, "weighted read: z %.1f, BER %.1f%%",
              weighted.pilot_z, 100 * weighted.raw_ber);
    cr_assert_gt(weighted.pilot_z, plain.pilot_z);
    cr_assert_lt(weighted.raw_ber, plain.raw_ber);
    free_frames(copy);

    /* the same weights on the unmarked copy: nothing found, an honest p */
    uint8_t **clean = codec_like_copy(0);
    FmDetectResult none = detect(clean, 1);
    cr_assert(!none.found, "unmarked, weighted: found with z %.1f", none.pilot_z);
    cr_assert(!none.signature_valid);
    cr_assert_gt(none.false_alarm_log10, -6, "unmarked, weighted: p 10^%.1f",
                 none.false_alarm_log10);
    free_frames(clean);
}
