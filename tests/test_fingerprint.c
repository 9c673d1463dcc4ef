/*
 * test_fingerprint.c - the content fingerprint (common/fingerprint.c) and its
 * place in the receipt.
 *
 * Copies of samples/sample.mkv (real street camera, 768x576, 10 fps, 8 s)
 * must match it: H.264 CRF 30, half size, a 10 % crop per side, a horizontal
 * flip, an excerpt from 2 s. Other content must not: ffmpeg's mandelbrot,
 * testsrc2 and life sources, the sample turned 90 degrees (real-footage
 * statistics, another picture) and synthetic clips. The copies are made once
 * per run with the ffmpeg CLI (directory passed on in FM_FP_MEDIA).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "fingerprint.h"
#include "keys.h"
#include "payload.h"
#include "receipt.h"
#include "testutil.h"
#include "video_io.h"

#define SAMPLE FM_SOURCE_DIR "/samples/sample.mkv"

/* sample.mkv is input 0; lavfi sources follow */
static const char *const inputs =
    "-i '" SAMPLE "' "
    "-t 8 -f lavfi -i mandelbrot=size=768x576:rate=10 "
    "-t 8 -f lavfi -i testsrc2=size=768x576:rate=10 "
    "-t 8 -f lavfi -i life=size=384x288:rate=10:mold=10:ratio=0.3,scale=768:576 "
    "-t 4 -f lavfi -i color=black:size=768x576:rate=10 ";

#define X264 "-c:v libx264 -preset veryfast -pix_fmt yuv420p -an"
static const char *const media[][2] = {
    { "crf30.mp4", "-map 0:v " X264 " -crf 30" },
    { "half.mp4", "-map 0:v -vf scale=384:288 " X264 " -crf 23" },
    { "crop10.mp4", "-map 0:v -vf crop=614:460 " X264 " -crf 23" },
    { "hflip.mp4", "-map 0:v -vf hflip " X264 " -crf 23" },
    { "excerpt2s.mp4", "-map 0:v -ss 2 -t 4 " X264 " -crf 23" },
    { "short.mp4", "-map 0:v -ss 3 -t 1 " X264 " -crf 23" },
    { "turned.mp4", "-map 0:v -vf transpose=1,scale=768:576 " X264 " -crf 23" },
    { "mandelbrot.mp4", "-map 1:v " X264 " -crf 23" },
    { "testsrc2.mp4", "-map 2:v " X264 " -crf 23" },
    { "life.mp4", "-map 3:v " X264 " -crf 23" },
    { "black.mp4", "-map 4:v " X264 " -crf 23" },
};

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    char *dir = tu_mkdtemp();
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd,
                     "timeout 120 ffmpeg -nostdin -hide_banner -loglevel error -y %s", inputs);
    for (size_t i = 0; i < sizeof media / sizeof media[0]; i++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s '%s/%s'", media[i][1], dir,
                      media[i][0]);
    if ((size_t)n >= sizeof cmd || system(cmd) != 0) {
        fprintf(stderr, "failed: %s\n", cmd);
        abort();
    }
    setenv("FM_FP_MEDIA", dir, 1);
    free(dir);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    const char *d = getenv("FM_FP_MEDIA");
    if (d)
        tu_rmtree(strdup(d));
}

static void setup(void)
{
    av_log_set_level(AV_LOG_QUIET);
}

TestSuite(fingerprint, .init = setup, .timeout = 120);

/* Fingerprints a file; *t_first gets the first frame's time if not NULL. */
static FmFingerprint *fingerprint_file(const char *path, FmFpRole role, double *t_first)
{
    FmError err = { { 0 } };
    FmVideoReader *rd;
    FmFingerprint *fp;
    AVFrame *f;
    int r;
    cr_assert_eq(fm_reader_open(&rd, path, &err), 0, "%s: %s", path, err.msg);
    const FmVideoInfo *info = fm_reader_info(rd);
    cr_assert_eq(fm_fingerprint_new(&fp, role, &err), 0, "%s", err.msg);
    int first = 1;
    while ((r = fm_reader_next(rd, &f, &err)) == 1) {
        double t = f->pts * av_q2d(info->time_base);
        if (first && t_first)
            *t_first = t;
        first = 0;
        cr_assert_eq(fm_fingerprint_add(fp, f->data[0], f->linesize[0], info->bit_depth,
                                        f->width, f->height, t, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(r, 0, "%s: %s", path, err.msg);
    fm_reader_close(&rd);
    return fp;
}

static FmFingerprint *media_fp(const char *name, FmFpRole role, double *t_first)
{
    const char *d = getenv("FM_FP_MEDIA");
    cr_assert(d, "media not generated");
    char *p = tu_path(d, name);
    FmFingerprint *fp = fingerprint_file(p, role, t_first);
    free(p);
    return fp;
}

/* The master as a receipt carries it: through the string form. */
static FmFingerprint *sample_master(void)
{
    FmError err = { { 0 } };
    FmFingerprint *live = fingerprint_file(SAMPLE, FM_FP_REFERENCE, NULL), *m;
    char *s;
    cr_assert_eq(fm_fingerprint_to_string(live, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_fingerprint_from_string(&m, s, &err), 0, "%s", err.msg);
    free(s);
    fm_fingerprint_free(&live);
    return m;
}

static FmFpMatch compare_with_sample(const char *name, double *t_first)
{
    FmError err = { { 0 } };
    FmFingerprint *m = sample_master(), *c = media_fp(name, FM_FP_CLIP, t_first);
    FmFpMatch res;
    cr_assert_eq(fm_fingerprint_compare(m, c, &res, &err), 0, "%s", err.msg);
    cr_log_info("%-15s verdict %d  log10 p %7.1f (best hypothesis %6.1f, 10^%.1f tried)  "
                "score %.3f  bits %ld/%ld  runs %ld/%ld  offset %.2f  flip %d%d  zoom %.2fx%.2f",
                name, res.verdict, res.log10_p, res.log10_p_best, res.log10_hypotheses, res.score,
                res.bits - res.bit_errors, res.bits, res.agreements, res.trials, res.offset,
                res.hflip, res.vflip, res.zoom_x, res.zoom_y);
    fm_fingerprint_free(&m);
    fm_fingerprint_free(&c);
    return res;
}

/* ---------------------------------------------------------------- copies */

typedef struct Copy {
    char name[24];        /* in the struct: Criterion may run tests in a new process */
    int hflip;
    double start;     /* master time of the copy's first frame */
    int cropped;
} Copy;

ParameterizedTestParameters(fingerprint, same_content_matches)
{
    static Copy copies[] = {
        { "crf30.mp4", 0, 0, 0 },
        { "half.mp4", 0, 0, 0 },
        { "crop10.mp4", 0, 0, 1 },
        { "hflip.mp4", 1, 0, 0 },
        { "excerpt2s.mp4", 0, 2, 0 },
    };
    return cr_make_param_array(Copy, copies, sizeof copies / sizeof copies[0]);
}

ParameterizedTest(Copy *c, fingerprint, same_content_matches)
{
    double t_first = 0;
    FmFpMatch r = compare_with_sample(c->name, &t_first);
    cr_assert_eq(r.verdict, FM_FP_MATCH, "%s: log10 p %.1f", c->name, r.log10_p);
    cr_assert(r.match);
    cr_assert_leq(r.log10_p, FM_FP_LOG10_P_MATCH);
    cr_assert_geq(r.score, 0.85, "%s: score %.3f", c->name, r.score);
    cr_assert_eq(r.hflip, c->hflip);
    cr_assert_eq(r.vflip, 0);
    cr_assert_float_eq(r.speed, 1.0, 1e-9);
    /* where the clip's first frame falls in the master */
    cr_assert(fabs(r.offset + r.speed * t_first - c->start) <= 0.3, "%s: starts at %.2f",
              c->name, r.offset + r.speed * t_first);
    if (c->cropped)
        cr_assert_gt(r.zoom_x, 0.6);
    else
        cr_assert_leq(r.zoom_x, 0.66);
}

typedef struct Other {
    char name[24];
} Other;

ParameterizedTestParameters(fingerprint, other_content_does_not_match)
{
    static Other others[] = { { "mandelbrot.mp4" }, { "testsrc2.mp4" }, { "life.mp4" },
                              { "turned.mp4" } };
    return cr_make_param_array(Other, others, sizeof others / sizeof others[0]);
}

ParameterizedTest(Other *o, fingerprint, other_content_does_not_match)
{
    FmFpMatch r = compare_with_sample(o->name, NULL);
    cr_assert_eq(r.verdict, FM_FP_NO_MATCH, "%s: log10 p %.1f", o->name, r.log10_p);
    cr_assert_not(r.match);
    /* far from the threshold, not just beyond it */
    cr_assert_gt(r.log10_p, -2.0, "%s: log10 p %.1f", o->name, r.log10_p);
}

Test(fingerprint, short_or_empty_clip_is_too_short)
{
    const char *names[] = { "short.mp4", "black.mp4" };
    for (int i = 0; i < 2; i++) {
        FmFpMatch r = compare_with_sample(names[i], NULL);
        cr_assert_eq(r.verdict, FM_FP_TOO_SHORT, "%s", names[i]);
        cr_assert_not(r.match);
        cr_assert_float_eq(r.log10_p, 0.0, 1e-12);
    }
}

Test(fingerprint, span_selects_the_frames_compared)
{
    /* the clip: 4 s of the sample, then 4 s of mandelbrot, in clip time */
    FmError err = { { 0 } };
    FmFingerprint *m = sample_master(), *c;
    cr_assert_eq(fm_fingerprint_new(&c, FM_FP_CLIP, &err), 0);
    const char *d = getenv("FM_FP_MEDIA");
    const char *srcs[2] = { SAMPLE, NULL };
    char *mandel = tu_path(d, "mandelbrot.mp4");
    srcs[1] = mandel;
    for (int s = 0; s < 2; s++) {
        FmVideoReader *rd;
        AVFrame *f;
        cr_assert_eq(fm_reader_open(&rd, srcs[s], &err), 0, "%s", err.msg);
        const FmVideoInfo *info = fm_reader_info(rd);
        while (fm_reader_next(rd, &f, &err) == 1) {
            double t = f->pts * av_q2d(info->time_base);
            if (t >= 4)
                break;
            cr_assert_eq(fm_fingerprint_add(c, f->data[0], f->linesize[0], info->bit_depth,
                                            f->width, f->height, t + 4 * s, &err), 0);
        }
        fm_reader_close(&rd);
    }
    free(mandel);
    FmFpMatch r;
    cr_assert_eq(fm_fingerprint_compare_span(m, c, 0, 4, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.verdict, FM_FP_MATCH, "log10 p %.1f", r.log10_p);
    cr_assert_leq(r.clip_to, 4.01);
    cr_assert_eq(fm_fingerprint_compare_span(m, c, 4, 8, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.verdict, FM_FP_NO_MATCH, "log10 p %.1f", r.log10_p);
    cr_assert_eq(fm_fingerprint_compare_span(m, c, 3.5, 4.5, &r, &err), 0);
    cr_assert_eq(r.verdict, FM_FP_TOO_SHORT);
    cr_assert_eq(fm_fingerprint_compare_span(m, c, 5, 4, &r, &err), FM_EINVAL);
    fm_fingerprint_free(&m);
    fm_fingerprint_free(&c);
}

/* ---------------------------------------------------------------- synthetic */

#define SW 192
#define SH 144
#define SFPS 12.0   /* synthetic clips: frames per second */

/*
 * A frame of a synthetic clip from its 8-bit picture (tu_synth_luma): letterboxed
 * (the whole picture squeezed between black bars of `bars` rows top and
 * bottom), mirrored if flip, and widened to bit_depth (samples << (bit_depth - 8)).
 */
static void synth_frame(uint8_t *plane, const uint8_t *pic, int bit_depth, int bars, int flip)
{
    static uint8_t out[SW * SH];
    memset(out, 16, sizeof out);
    int band = SH - 2 * bars;
    for (int y = 0; y < band; y++) {
        double lo = (double)y * SH / band, hi = (double)(y + 1) * SH / band;
        for (int x = 0; x < SW; x++) {
            double s = 0;
            for (int i = (int)lo; i < SH && i < hi; i++)
                s += pic[i * SW + x] * (fmin(hi, i + 1.0) - fmax(lo, (double)i));
            out[(y + bars) * SW + x] = (uint8_t)lrint(s / (hi - lo));
        }
    }
    for (int y = 0; y < SH; y++)
        for (int x = 0; x < SW; x++) {
            int v = out[y * SW + (flip ? SW - 1 - x : x)];
            if (bit_depth == 8)
                plane[y * SW + x] = (uint8_t)v;
            else
                ((uint16_t *)(void *)plane)[y * SW + x] = (uint16_t)(v << (bit_depth - 8));
        }
}

/* frames of one synthetic clip, drawn once (tu_synth_luma is slow) */
static uint8_t *synth_cache;
static int cache_kind = -1, cache_frames;
static uint64_t cache_seed;

static const uint8_t *synth_picture(int kind, uint64_t seed, int frames, int i)
{
    if (!synth_cache || kind != cache_kind || seed != cache_seed || frames != cache_frames) {
        free(synth_cache);
        synth_cache = malloc((size_t)SW * SH * (size_t)frames);
        cr_assert(synth_cache);
        for (int n = 0; n < frames; n++)
            tu_synth_luma(synth_cache + (size_t)n * SW * SH, SW, SW, SH, 8, kind, seed, n);
        cache_kind = kind, cache_seed = seed, cache_frames = frames;
    }
    return synth_cache + (size_t)i * SW * SH;
}

static FmFingerprint *synth_fp(FmFpRole role, int bit_depth, int kind, uint64_t seed, int frames,
                               int bars, int flip, int reverse)
{
    FmError err = { { 0 } };
    FmFingerprint *fp;
    uint8_t *plane = malloc((size_t)SW * SH * 2);
    cr_assert(plane);
    cr_assert_eq(fm_fingerprint_new(&fp, role, &err), 0);
    for (int n = 0; n < frames; n++) {
        int i = reverse ? frames - 1 - n : n;
        synth_frame(plane, synth_picture(kind, seed, frames, i), bit_depth, bars, flip);
        cr_assert_eq(fm_fingerprint_add(fp, plane, SW * (bit_depth > 8 ? 2 : 1), bit_depth, SW,
                                        SH, i / SFPS, &err), 0, "%s", err.msg);
    }
    free(plane);
    cr_assert_eq(fm_fingerprint_frames(fp), frames);
    return fp;
}

static char *fp_string(const FmFingerprint *fp)
{
    char *s;
    cr_assert_eq(fm_fingerprint_to_string(fp, &s, NULL), 0);
    return s;
}

Test(fingerprint, bit_depth_and_frame_order_do_not_matter)
{
    FmFingerprint *a = synth_fp(FM_FP_REFERENCE, 8, TU_SYNTH_TEXTURED, 5, 48, 0, 0, 0);
    FmFingerprint *b = synth_fp(FM_FP_REFERENCE, 10, TU_SYNTH_TEXTURED, 5, 48, 0, 0, 0);
    FmFingerprint *c = synth_fp(FM_FP_REFERENCE, 16, TU_SYNTH_TEXTURED, 5, 48, 0, 0, 1);
    char *sa = fp_string(a), *sb = fp_string(b), *sc = fp_string(c);
    cr_log_info("%s", sa);
    cr_assert_eq(strlen(sa), strlen("fmfp1:0:") + 4 * 16, "%s", sa);
    cr_assert_str_eq(sa, sb);
    cr_assert_str_eq(sa, sc);
    cr_assert_eq(fm_fingerprint_seconds(a), 4);
    free(sa), free(sb), free(sc);
    fm_fingerprint_free(&a), fm_fingerprint_free(&b), fm_fingerprint_free(&c);
}

Test(fingerprint, letterbox_and_mirror_are_seen_through)
{
    FmError err = { { 0 } };
    FmFingerprint *m = synth_fp(FM_FP_REFERENCE, 8, TU_SYNTH_SHAPES, 9, 60, 0, 0, 0);
    FmFingerprint *boxed = synth_fp(FM_FP_CLIP, 8, TU_SYNTH_SHAPES, 9, 60, 18, 0, 0);
    FmFingerprint *mirrored = synth_fp(FM_FP_CLIP, 8, TU_SYNTH_SHAPES, 9, 60, 0, 1, 0);
    FmFpMatch r;
    cr_assert_eq(fm_fingerprint_compare(m, boxed, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.verdict, FM_FP_MATCH, "log10 p %.1f", r.log10_p);
    cr_assert_geq(r.score, 0.9, "%.3f", r.score);
    cr_assert_eq(r.hflip + r.vflip, 0);
    cr_assert_eq(fm_fingerprint_compare(m, mirrored, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.verdict, FM_FP_MATCH, "log10 p %.1f", r.log10_p);
    cr_assert_eq(r.hflip, 1);
    cr_assert_eq(r.vflip, 0);
    cr_assert_geq(r.score, 0.9, "%.3f", r.score);
    fm_fingerprint_free(&m), fm_fingerprint_free(&boxed), fm_fingerprint_free(&mirrored);
}

Test(fingerprint, synthetic_content_of_other_kinds_does_not_match)
{
    FmError err = { { 0 } };
    FmFingerprint *m = sample_master();
    double worst = 0;
    for (int kind = 0; kind < TU_SYNTH_KINDS; kind++) {
        FmFingerprint *c = synth_fp(FM_FP_CLIP, 8, kind, 100 + (uint64_t)kind, 36, 0, 0, 0);
        FmFpMatch r;
        cr_assert_eq(fm_fingerprint_compare(m, c, &r, &err), 0, "%s", err.msg);
        cr_assert_neq(r.verdict, FM_FP_MATCH, "%s: log10 p %.1f", tu_synth_name(kind), r.log10_p);
        cr_log_info("%-12s verdict %d  log10 p %.2f  score %.3f", tu_synth_name(kind), r.verdict,
                    r.log10_p, r.score);
        worst = fmin(worst, r.log10_p);
        fm_fingerprint_free(&c);
    }
    cr_assert_gt(worst, -2.0, "%.1f", worst);
    fm_fingerprint_free(&m);
}

Test(fingerprint, bad_frames_are_refused)
{
    FmError err = { { 0 } };
    FmFingerprint *fp;
    static uint8_t plane[64 * 64 * 2];
    cr_assert_eq(fm_fingerprint_new(&fp, FM_FP_CLIP, &err), 0);
    cr_assert_eq(fm_fingerprint_add(fp, plane, 64, 8, 15, 64, 0, &err), FM_EINVAL);
    cr_assert_eq(fm_fingerprint_add(fp, plane, 64, 8, 64, 16385, 0, &err), FM_EINVAL);
    cr_assert_eq(fm_fingerprint_add(fp, plane, 64, 7, 64, 64, 0, &err), FM_EINVAL);
    cr_assert_eq(fm_fingerprint_add(fp, plane, 64, 10, 64, 64, 0, &err), FM_EINVAL, "stride");
    cr_assert_eq(fm_fingerprint_add(fp, plane, 64, 8, 64, 64, NAN, &err), FM_EINVAL);
    cr_assert_eq(fm_fingerprint_add(fp, NULL, 64, 8, 64, 64, 0, &err), FM_EINVAL);
    cr_assert_eq(fm_fingerprint_add(fp, plane, 64, 8, 64, 64, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_fingerprint_add(fp, plane, 64, 8, 64, 64, FM_FP_MAX_SECONDS + 1.0, &err),
                 FM_EINVAL, "span");
    cr_assert(strstr(err.msg, "seconds"), "%s", err.msg);
    cr_assert_eq(fm_fingerprint_frames(fp), 1);
    cr_assert_eq(fm_fingerprint_seconds(fp), 0, "a flat frame has no picture content");
    fm_fingerprint_free(&fp);
    cr_assert_null(fp);
    fm_fingerprint_free(&fp);
    cr_assert_eq(fm_fingerprint_new(&fp, (FmFpRole)7, &err), FM_EINVAL);
}

/* ---------------------------------------------------------------- string form */

Test(fingerprint, string_form_round_trips)
{
    FmError err = { { 0 } };
    FmFingerprint *live = fingerprint_file(SAMPLE, FM_FP_REFERENCE, NULL), *parsed, *empty;
    char *s = fp_string(live), *s2;
    cr_log_info("sample.mkv: %s", s);
    cr_assert_eq(strncmp(s, "fmfp1:0:", 8), 0, "%s", s);
    cr_assert_eq(strlen(s), 8 + 8 * 16, "%s", s);
    cr_assert_eq(fm_fingerprint_from_string(&parsed, s, &err), 0, "%s", err.msg);
    s2 = fp_string(parsed);
    cr_assert_str_eq(s, s2);
    cr_assert_eq(fm_fingerprint_seconds(parsed), 8);
    /* a parsed fingerprint takes no frames */
    static uint8_t plane[64 * 64];
    cr_assert_eq(fm_fingerprint_add(parsed, plane, 64, 8, 64, 64, 0, &err), FM_EINVAL);
    free(s2);

    /* the same string compares the same whether parsed or live */
    FmFingerprint *clip = media_fp("crf30.mp4", FM_FP_CLIP, NULL);
    FmFpMatch a, b;
    cr_assert_eq(fm_fingerprint_compare(live, clip, &a, &err), 0);
    cr_assert_eq(fm_fingerprint_compare(parsed, clip, &b, &err), 0);
    cr_assert_float_eq(a.log10_p, b.log10_p, 1e-9);
    cr_assert_eq(a.bit_errors, b.bit_errors);
    /* a parsed clip (one phase, one zoom) still matches its master */
    char *cs = fp_string(clip);
    FmFingerprint *pclip;
    cr_assert_eq(fm_fingerprint_from_string(&pclip, cs, &err), 0);
    cr_assert_eq(fm_fingerprint_compare(parsed, pclip, &b, &err), 0);
    cr_assert_eq(b.verdict, FM_FP_MATCH, "log10 p %.1f", b.log10_p);
    free(cs);

    /* seconds without content, negative and empty */
    cr_assert_eq(fm_fingerprint_from_string(&empty, "fmfp1:-3:-0123456789abcdef--fedcba9876543210", &err), 0,
                 "%s", err.msg);
    s2 = fp_string(empty);
    cr_assert_str_eq(s2, "fmfp1:-2:0123456789abcdef--fedcba9876543210");
    cr_assert_eq(fm_fingerprint_seconds(empty), 2);
    free(s2);
    fm_fingerprint_free(&empty);
    cr_assert_eq(fm_fingerprint_from_string(&empty, "fmfp1:0:", &err), 0);
    s2 = fp_string(empty);
    cr_assert_str_eq(s2, "fmfp1:0:");
    cr_assert_eq(fm_fingerprint_compare(empty, clip, &a, &err), 0);
    cr_assert_eq(a.verdict, FM_FP_TOO_SHORT);
    free(s2);
    fm_fingerprint_free(&empty);

    const char *bad[] = {
        "", "fmfp2:0:", "fmfp1", "fmfp1:", "fmfp1:x:", "fmfp1:0", "fmfp1:0:0123",
        "fmfp1:0:0123456789ABCDEF", "fmfp1:0:0123456789abcdeg", "fmfp1:0:0123456789abcdef ",
        "fmfp1:999999999999:",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FmFingerprint *x = (FmFingerprint *)1;
        cr_assert_eq(fm_fingerprint_from_string(&x, bad[i], &err), FM_EFORMAT, "'%s'", bad[i]);
        cr_assert_null(x);
    }
    free(s);
    fm_fingerprint_free(&live), fm_fingerprint_free(&parsed), fm_fingerprint_free(&clip);
    fm_fingerprint_free(&pclip);
}

/* ---------------------------------------------------------------- statistics */

/* A fingerprint string of n seconds from hashes h[0..n). */
static char *hash_string(const uint64_t *h, long n)
{
    char *s = malloc(16 + (size_t)n * 16 + 1);
    cr_assert(s);
    int o = sprintf(s, "fmfp1:0:");
    for (long k = 0; k < n; k++)
        o += sprintf(s + o, "%016llx", (unsigned long long)h[k]);
    return s;
}

static FmFingerprint *hash_fp(const uint64_t *h, long n)
{
    char *s = hash_string(h, n);
    FmFingerprint *fp;
    cr_assert_eq(fm_fingerprint_from_string(&fp, s, NULL), 0);
    free(s);
    return fp;
}

Test(fingerprint, random_hashes_stay_below_chance)
{
    /* 200 random 10 s clips against a random 10-minute master: the
     * probability must behave as one (Bonferroni: no more than its share of
     * small values) and never reach the threshold */
    TuRng rng;
    tu_rng_seed(&rng, 42);
    uint64_t mh[600], ch[10];
    for (int k = 0; k < 600; k++)
        mh[k] = tu_rng_u64(&rng);
    FmFingerprint *m = hash_fp(mh, 600);
    int small = 0;
    double worst = 0;
    for (int i = 0; i < 200; i++) {
        for (int k = 0; k < 10; k++)
            ch[k] = tu_rng_u64(&rng);
        FmFingerprint *c = hash_fp(ch, 10);
        FmFpMatch r;
        cr_assert_eq(fm_fingerprint_compare(m, c, &r, NULL), 0);
        cr_assert_eq(r.verdict, FM_FP_NO_MATCH);
        small += r.log10_p <= -1;
        worst = fmin(worst, r.log10_p);
        fm_fingerprint_free(&c);
    }
    cr_log_info("random clips: %d of 200 with p <= 0.1, smallest log10 p %.2f", small, worst);
    cr_assert_leq(small, 20);
    fm_fingerprint_free(&m);
}

Test(fingerprint, a_still_shot_counts_once)
{
    /* A master with a 60 s still shot (hash H) and an unrelated still clip
     * of 30 s (hash G agreeing with H on 48 of 64 bits: one chance in 25 000
     * for two unrelated hashes). Counted per second that would be 1440 of
     * 1920 bits; counted in runs it is 48 of 64, no match. The same still
     * with 3 bits wrong is the same content and matches. */
    TuRng rng;
    tu_rng_seed(&rng, 7);
    uint64_t mh[300], ch[30];
    for (int k = 0; k < 300; k++)
        mh[k] = tu_rng_u64(&rng);
    uint64_t H = mh[100];
    for (int k = 100; k < 160; k++)
        mh[k] = H;
    uint64_t G = H ^ 0xffff000000000000ull;  /* 16 bits differ */
    for (int k = 0; k < 30; k++)
        ch[k] = G;
    FmFingerprint *m = hash_fp(mh, 300), *c = hash_fp(ch, 30);
    FmFpMatch r;
    cr_assert_eq(fm_fingerprint_compare(m, c, &r, NULL), 0);
    cr_log_info("unrelated still: log10 p %.1f, score %.3f, runs %ld/%ld", r.log10_p, r.score,
                r.agreements, r.trials);
    cr_assert_eq(r.verdict, FM_FP_NO_MATCH, "log10 p %.1f", r.log10_p);
    cr_assert_eq(r.trials, 64);
    fm_fingerprint_free(&c);
    for (int k = 0; k < 30; k++)
        ch[k] = H ^ 0x0000000000010101ull;
    c = hash_fp(ch, 30);
    cr_assert_eq(fm_fingerprint_compare(m, c, &r, NULL), 0);
    cr_log_info("same still: log10 p %.1f, runs %ld/%ld", r.log10_p, r.agreements, r.trials);
    cr_assert_eq(r.verdict, FM_FP_MATCH, "log10 p %.1f", r.log10_p);
    cr_assert_float_eq(r.offset, 100.0, 1e-9);
    fm_fingerprint_free(&c);
    fm_fingerprint_free(&m);
}

Test(fingerprint, a_piece_of_a_longer_clip_is_found)
{
    /* A 48 s clip whose first 6 s are master seconds 50-55 with 12 of 64
     * bits wrong in every second (81 % agreement), the rest unrelated: over
     * the whole clip that is 54 % agreement (10^-5, not a match after the
     * hypotheses); the local alignment finds the 6 s */
    TuRng rng;
    tu_rng_seed(&rng, 11);
    uint64_t mh[300], ch[48];
    for (int k = 0; k < 300; k++)
        mh[k] = tu_rng_u64(&rng);
    for (int k = 0; k < 48; k++)
        ch[k] = tu_rng_u64(&rng);
    for (int k = 0; k < 6; k++) {
        uint64_t wrong = 0;
        while (__builtin_popcountll(wrong) < 12)
            wrong |= (uint64_t)1 << tu_rng_below(&rng, 64);
        ch[k] = mh[50 + k] ^ wrong;
    }
    FmFingerprint *m = hash_fp(mh, 300), *c = hash_fp(ch, 48);
    FmFpMatch r;
    cr_assert_eq(fm_fingerprint_compare(m, c, &r, NULL), 0);
    cr_log_info("piece: log10 p %.1f (10^%.1f tried), windows %d, clip %.3f-%.3f s, master "
                "%.0f-%.0f s, score %.3f, speed %.3f", r.log10_p, r.log10_hypotheses, r.windows, r.clip_from,
                r.clip_to, r.master_from, r.master_to, r.score, r.speed);
    cr_assert_eq(r.verdict, FM_FP_MATCH, "log10 p %.1f", r.log10_p);
    /* the parts tried are halves, quarters, eighths of the clip: a part
     * close to the piece is found, at the piece's place */
    cr_assert_float_eq(r.offset, 50.0, 0.5);
    cr_assert_lt(r.clip_to, 9.0);
    cr_assert_float_eq(r.master_from, 50.0, 1.0);
    fm_fingerprint_free(&c);
    fm_fingerprint_free(&m);
}

/* ---------------------------------------------------------------- near a place */

/* A fingerprint of n seconds from hashes h[0..n), the first at second `first`. */
static FmFingerprint *hash_fp_at(const uint64_t *h, long n, long first)
{
    char *s = hash_string(h, n), *t = malloc(strlen(s) + 32);
    cr_assert(t);
    sprintf(t, "fmfp1:%ld:%s", first, s + strlen("fmfp1:0:"));
    FmFingerprint *fp;
    cr_assert_eq(fm_fingerprint_from_string(&fp, t, NULL), 0, "%s", t);
    free(s), free(t);
    return fp;
}

/* A random 300 s master and a 20 s clip of its seconds 120..139, in clip
 * time 10..29: the true offset (master time at clip time 0) is 110. */
#define NEAR_MASTER 300
#define NEAR_AT 120
#define NEAR_LEN 20
#define NEAR_CLIP_T0 10
#define NEAR_OFFSET ((double)(NEAR_AT - NEAR_CLIP_T0))

static void near_pair(FmFingerprint **m, FmFingerprint **c)
{
    TuRng rng;
    tu_rng_seed(&rng, 23);
    uint64_t mh[NEAR_MASTER];
    for (int k = 0; k < NEAR_MASTER; k++)
        mh[k] = tu_rng_u64(&rng);
    *m = hash_fp(mh, NEAR_MASTER);
    *c = hash_fp_at(mh + NEAR_AT, NEAR_LEN, NEAR_CLIP_T0);
}

static FmFpMatch near(const FmFingerprint *m, const FmFingerprint *c, double lo, double hi)
{
    FmError err = { { 0 } };
    FmFpMatch r;
    cr_assert_eq(fm_fingerprint_compare_near(m, c, -INFINITY, INFINITY, lo, hi, &r, &err), 0,
                 "[%g, %g]: %s", lo, hi, err.msg);
    cr_log_info("near [%g, %g]: verdict %d  log10 p %.1f (best %.1f, 10^%.2f tried)  "
                "offset %.2f  speed %.3f  flip %d%d  clip %.2f-%.2f  master %.0f-%.0f  windows %d  score %.3f",
                lo, hi, r.verdict, r.log10_p, r.log10_p_best, r.log10_hypotheses, r.offset,
                r.speed, r.hflip, r.vflip, r.clip_from, r.clip_to, r.master_from, r.master_to, r.windows, r.score);
    return r;
}

/* Nothing is claimed outside [lo, hi]: no match, and a reported alignment
 * (windows > 0) lies in the window. */
static void assert_nothing_outside(const FmFpMatch *r, double lo, double hi)
{
    cr_assert_neq(r->verdict, FM_FP_MATCH, "[%g, %g]: match at %.2f, log10 p %.1f", lo, hi,
                  r->offset, r->log10_p);
    cr_assert_not(r->match);
    if (r->windows > 0)
        cr_assert(r->offset >= lo - 1e-9 && r->offset <= hi + 1e-9,
                  "[%g, %g]: reported offset %.2f", lo, hi, r->offset);
}

Test(fingerprint, near_finds_the_clip_in_a_window_around_its_place)
{
    FmFingerprint *m, *c;
    near_pair(&m, &c);
    const double win[][2] = { { NEAR_OFFSET - 2, NEAR_OFFSET + 2 },
                              { NEAR_OFFSET, NEAR_OFFSET },  /* one point: not empty */
                              { NEAR_OFFSET - 0.5, NEAR_OFFSET + 0.5 },
                              { NEAR_OFFSET - 40, NEAR_OFFSET + 3 } };
    for (size_t i = 0; i < sizeof win / sizeof win[0]; i++) {
        FmFpMatch r = near(m, c, win[i][0], win[i][1]);
        cr_assert_eq(r.verdict, FM_FP_MATCH, "[%g, %g]: log10 p %.1f", win[i][0], win[i][1],
                     r.log10_p);
        cr_assert(r.match);
        /* a reference clip has one-second windows: the offset is exact */
        cr_assert_float_eq(r.offset, NEAR_OFFSET, 1e-9, "offset %.3f", r.offset);
        cr_assert_float_eq(r.speed, 1.0, 1e-12);
        cr_assert_eq(r.hflip + r.vflip, 0);
        cr_assert_float_eq(r.master_from, NEAR_AT, 1e-9);
        cr_assert_float_eq(r.master_to, NEAR_AT + NEAR_LEN, 1e-9);
        cr_assert_eq(r.windows, NEAR_LEN);
        cr_assert_eq(r.bit_errors, 0);
        cr_assert_float_eq(r.score, 1.0, 1e-12);
    }
    fm_fingerprint_free(&c);
    fm_fingerprint_free(&m);
}

Test(fingerprint, near_does_not_match_with_the_place_outside_the_window)
{
    FmFingerprint *m, *c;
    near_pair(&m, &c);
    /* Windows that leave out the true offset: whatever is reported lies in
     * the window, so not at the true place. Close to it (within 3 s: speeds
     * up to 1.1 drift up to 3 s over the clip's 10..30 s) a retimed
     * alignment crossing the true one may still agree well enough to match
     * (offset 108 at speed 1.1 for [105, 108]); and one second off, the
     * clip's seconds against the master's next ones match with all bits
     * turned (hflip, 10^-20 at 109 and 111, score 0.50): for independent
     * bits x, comparing x[k] with x[k + 1] counts a run where either
     * changes (3/4 of the pairs) and it agrees only where x[k] == x[k + 1]
     * != x[k - 1] (1/4), so the runs agree 1/3, turned 2/3, not 1/2 (a
     * defect of the run count, not of the window). Only the place is
     * checked there. */
    const double beside[][2] = { { NEAR_OFFSET + 1, NEAR_OFFSET + 5 },
                                { NEAR_OFFSET - 5, NEAR_OFFSET - 1 },
                                { NEAR_OFFSET + 2, NEAR_OFFSET + 5 },
                                { NEAR_OFFSET - 5, NEAR_OFFSET - 2 },
                                { NEAR_OFFSET + 0.25, NEAR_OFFSET + 0.75 } };
    for (size_t i = 0; i < sizeof beside / sizeof beside[0]; i++) {
        FmFpMatch r = near(m, c, beside[i][0], beside[i][1]);
        cr_assert_gt(r.windows, 0);
        cr_assert(r.offset >= beside[i][0] - 1e-9 && r.offset <= beside[i][1] + 1e-9,
                  "[%g, %g]: reported offset %.2f", beside[i][0], beside[i][1], r.offset);
    }
    /* farther, where no alignment in the window meets the true one: no
     * match, nothing claimed elsewhere */
    const double distant[][2] = { { NEAR_OFFSET + 4, NEAR_OFFSET + 20 },
                              { NEAR_OFFSET - 20, NEAR_OFFSET - 4 },
                              { 200, 250 },
                              { -30, 20 } };
    for (size_t i = 0; i < sizeof distant / sizeof distant[0]; i++) {
        FmFpMatch r = near(m, c, distant[i][0], distant[i][1]);
        assert_nothing_outside(&r, distant[i][0], distant[i][1]);
        cr_assert_gt(r.log10_p, -3.0, "[%g, %g]: log10 p %.1f", distant[i][0], distant[i][1],
                     r.log10_p);
    }
    fm_fingerprint_free(&c);
    fm_fingerprint_free(&m);
}

Test(fingerprint, near_counts_only_the_hypotheses_in_the_window)
{
    FmError err = { { 0 } };
    FmFingerprint *m, *c;
    near_pair(&m, &c);
    FmFpMatch whole, all, r;
    cr_assert_eq(fm_fingerprint_compare(m, c, &whole, &err), 0, "%s", err.msg);
    cr_assert_eq(whole.verdict, FM_FP_MATCH);
    cr_assert_float_eq(whole.offset, NEAR_OFFSET, 1e-9);
    /* an unbounded window is the whole comparison */
    all = near(m, c, -INFINITY, INFINITY);
    cr_assert_float_eq(all.log10_hypotheses, whole.log10_hypotheses, 1e-12);
    cr_assert_float_eq(all.log10_p, whole.log10_p, 1e-12);
    /* 4 or 5 offsets (5 at speed 1; the other speeds' offsets at clip
     * time 0 are not whole seconds) of the 300-320 at which each part of
     * the clip meets the master: 1/60 to 1/80 of the hypotheses (the zooms, phases, speeds,
     * flips and parts of the clip are the same) */
    r = near(m, c, NEAR_OFFSET - 2, NEAR_OFFSET + 2);
    double fewer = whole.log10_hypotheses - r.log10_hypotheses;
    cr_log_info("whole: 10^%.2f hypotheses, near: 10^%.2f (10^%.2f fewer)",
                whole.log10_hypotheses, r.log10_hypotheses, fewer);
    cr_assert_gt(r.log10_hypotheses, 0.0);
    cr_assert(fewer > log10(300.0 / 5) && fewer < log10(330.0 / 4), "10^%.2f fewer", fewer);
    /* the same best hypothesis, so the same p for it alone; the reported
     * p is that times the hypotheses counted */
    cr_assert_float_eq(r.log10_p_best, whole.log10_p_best, 1e-12);
    cr_assert_float_eq(r.log10_p, r.log10_p_best + r.log10_hypotheses, 1e-9);
    cr_assert_float_eq(whole.log10_p - r.log10_p, fewer, 1e-9);
    /* a wider window counts more, never more than the whole */
    FmFpMatch wider = near(m, c, NEAR_OFFSET - 20, NEAR_OFFSET + 20);
    cr_assert_gt(wider.log10_hypotheses, r.log10_hypotheses);
    cr_assert_lt(wider.log10_hypotheses, whole.log10_hypotheses);
    /* a window partly beyond the master's start counts at most its own width */
    FmFpMatch edge = near(m, c, -1000, NEAR_OFFSET + 2);
    cr_assert_leq(edge.log10_hypotheses, whole.log10_hypotheses + 1e-12);
    fm_fingerprint_free(&c);
    fm_fingerprint_free(&m);
}

Test(fingerprint, near_a_still_shot_matches_at_the_place_given)
{
    /* the use it is for: a still clip ties all along a still shot of the
     * master; the whole comparison reports one end of it, the window the
     * place another source (the mark) gives */
    TuRng rng;
    tu_rng_seed(&rng, 29);
    uint64_t mh[300], ch[10];
    for (int k = 0; k < 300; k++)
        mh[k] = tu_rng_u64(&rng);
    for (int k = 101; k < 160; k++)
        mh[k] = mh[100];
    for (int k = 0; k < 10; k++)
        ch[k] = mh[100];
    FmFingerprint *m = hash_fp(mh, 300), *c = hash_fp(ch, 10);
    FmFpMatch whole, r;
    cr_assert_eq(fm_fingerprint_compare(m, c, &whole, NULL), 0);
    cr_assert_eq(whole.verdict, FM_FP_MATCH);
    cr_assert(whole.offset >= 100 && whole.offset <= 150, "%.1f", whole.offset);
    r = near(m, c, 129, 131);
    cr_assert_eq(r.verdict, FM_FP_MATCH, "log10 p %.1f", r.log10_p);
    cr_assert(r.offset >= 129 && r.offset <= 131, "%.1f", r.offset);
    cr_assert_lt(r.log10_p, whole.log10_p);
    fm_fingerprint_free(&c);
    fm_fingerprint_free(&m);
}

Test(fingerprint, near_window_edges)
{
    FmError err = { { 0 } };
    TuRng rng;
    tu_rng_seed(&rng, 31);
    uint64_t mh[NEAR_MASTER];
    for (int k = 0; k < NEAR_MASTER; k++)
        mh[k] = tu_rng_u64(&rng);
    FmFingerprint *m = hash_fp(mh, NEAR_MASTER);
    /* clips of the master's first and last 20 s, in clip time 0..19 */
    FmFingerprint *head = hash_fp(mh, NEAR_LEN),
                  *tail = hash_fp(mh + NEAR_MASTER - NEAR_LEN, NEAR_LEN);
    FmFpMatch r;

    /* windows partly outside the master: clamped to it */
    r = near(m, head, -1e6, 2);
    cr_assert_eq(r.verdict, FM_FP_MATCH);
    cr_assert_float_eq(r.offset, 0.0, 1e-9);
    r = near(m, tail, NEAR_MASTER - NEAR_LEN - 2, 1e6);
    cr_assert_eq(r.verdict, FM_FP_MATCH);
    cr_assert_float_eq(r.offset, NEAR_MASTER - NEAR_LEN, 1e-9);
    cr_assert_float_eq(r.master_to, NEAR_MASTER, 1e-9);
    /* windows wholly outside the master, where the clip cannot overlap
     * it by two seconds, or at an infinite end: nothing found there */
    const double away[][2] = { { NEAR_MASTER - 1, NEAR_MASTER + 100 },
                               { 1e6, 1e7 },
                               { -1e7, -(NEAR_LEN + 5) },
                               { INFINITY, INFINITY },
                               { -INFINITY, -INFINITY },
                               { 1e30, INFINITY } };
    for (size_t i = 0; i < sizeof away / sizeof away[0]; i++) {
        r = near(m, head, away[i][0], away[i][1]);
        assert_nothing_outside(&r, away[i][0], away[i][1]);
        cr_assert_eq(r.windows, 0, "[%g, %g]", away[i][0], away[i][1]);
        r = near(m, tail, away[i][0], away[i][1]);
        assert_nothing_outside(&r, away[i][0], away[i][1]);
        cr_assert_eq(r.windows, 0, "[%g, %g]", away[i][0], away[i][1]);
    }

    /* huge finite bounds are as good as infinite ones */
    r = near(m, tail, -1e30, 1e30);
    cr_assert_eq(r.verdict, FM_FP_MATCH, "log10 p %.1f", r.log10_p);
    cr_assert_float_eq(r.offset, NEAR_MASTER - NEAR_LEN, 1e-9);
    r = near(m, head, -DBL_MAX, DBL_MAX);
    cr_assert_eq(r.verdict, FM_FP_MATCH, "log10 p %.1f", r.log10_p);
    cr_assert_float_eq(r.offset, 0.0, 1e-9);

    /* an empty or undefined window: FM_EINVAL (as the header says) */
    cr_assert_eq(fm_fingerprint_compare_near(m, head, -INFINITY, INFINITY, 5, 4, &r, &err),
                 FM_EINVAL);
    cr_assert(strstr(err.msg, "offset range"), "%s", err.msg);
    cr_assert_eq(fm_fingerprint_compare_near(m, head, -INFINITY, INFINITY, 1, 1 - 1e-9, &r,
                                             &err), FM_EINVAL);
    cr_assert_eq(fm_fingerprint_compare_near(m, head, -INFINITY, INFINITY, NAN, 4, &r, &err),
                 FM_EINVAL);
    cr_assert_eq(fm_fingerprint_compare_near(m, head, -INFINITY, INFINITY, 0, NAN, &r, &err),
                 FM_EINVAL);
    cr_assert_eq(fm_fingerprint_compare_near(m, head, -INFINITY, INFINITY, INFINITY,
                                             -INFINITY, &r, &err), FM_EINVAL);
    /* and the other arguments as for the span comparison */
    cr_assert_eq(fm_fingerprint_compare_near(m, head, 4, 4, 0, 1, &r, &err), FM_EINVAL);
    cr_assert_eq(fm_fingerprint_compare_near(NULL, head, -INFINITY, INFINITY, 0, 1, &r, &err),
                 FM_EINVAL);
    cr_assert_eq(fm_fingerprint_compare_near(m, head, -INFINITY, INFINITY, 0, 1, NULL, &err),
                 FM_EINVAL);
    fm_fingerprint_free(&head);
    fm_fingerprint_free(&tail);
    fm_fingerprint_free(&m);
}

/* ---------------------------------------------------------------- receipt */

Test(fingerprint, receipt_with_and_without_fingerprint)
{
    FmError err = { { 0 } };
    cr_assert_eq(fm_init(&err), 0, "%s", err.msg);
    FmKey *key = fm_key_new(), *other = fm_key_new();
    cr_assert(key && other);
    tu_fixed_key(key, 31);
    tu_fixed_key(other, 32);
    FmPayload p = { .version = FM_PAYLOAD_VERSION, .title_id = 1042, .recipient_id = 7,
                    .issued_minutes = 29924401 };
    uint8_t msg[FM_MESSAGE_BYTES], back[FM_MESSAGE_BYTES];
    cr_assert_eq(fm_payload_sign(&p, key, msg, &err), 0, "%s", err.msg);

    FmFingerprint *live = fingerprint_file(SAMPLE, FM_FP_REFERENCE, NULL), *fp;
    char *s = fp_string(live), *s2;
    char *dir = tu_mkdtemp(), *with = tu_path(dir, "with.receipt.json"),
         *without = tu_path(dir, "without.receipt.json");
    FmReceiptInfo info = { .output_name = "x.mkv", .output_sha256 = "00", .codec = "ffv1",
                           .crf = -1, .strength = 1.0, .frames = 80, .width = 768,
                           .height = 576, .psnr_y = 44.0, .ssim_y = 0.99 };
    cr_assert_eq(fm_receipt_write(without, key, &p, msg, &info, 0, &err), 0, "%s", err.msg);
    info.content_fingerprint = s;
    cr_assert_eq(fm_receipt_write(with, key, &p, msg, &info, 0, &err), 0, "%s", err.msg);

    /* both read as before */
    cr_assert_eq(fm_receipt_read(without, key, back, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_receipt_read(with, key, back, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(back, msg, sizeof msg), 0);
    /* the fingerprint comes back from one, FM_ENOTFOUND from the other */
    cr_assert_eq(fm_receipt_read_fingerprint(with, key, &fp, &err), 0, "%s", err.msg);
    s2 = fp_string(fp);
    cr_assert_str_eq(s, s2);
    free(s2);
    fm_fingerprint_free(&fp);
    fp = (FmFingerprint *)1;
    cr_assert_eq(fm_receipt_read_fingerprint(without, key, &fp, &err), FM_ENOTFOUND);
    cr_assert_null(fp);
    cr_assert(strstr(err.msg, "no content fingerprint"), "%s", err.msg);
    /* another key: refused */
    cr_assert_eq(fm_receipt_read_fingerprint(with, other, &fp, &err), FM_ECRYPTO);
    cr_assert_null(fp);

    /* the fingerprint is signed: change one hex digit */
    char *text;
    size_t len;
    cr_assert_eq(tu_read_file(with, &text, &len), 0);
    char *at = strstr(text, "\"fmfp1:0:");
    cr_assert(at);
    at[12] = at[12] == '0' ? '1' : '0';
    cr_assert_eq(tu_write_file(with, text, len, 0644), 0);
    free(text);
    cr_assert_eq(fm_receipt_read_fingerprint(with, key, &fp, &err), FM_ECRYPTO);
    cr_assert_eq(fm_receipt_read(with, key, back, &err), FM_ECRYPTO);

    /* a malformed fingerprint is not written */
    info.content_fingerprint = "fmfp1:0:xyz";
    char *bad = tu_path(dir, "bad.receipt.json");
    cr_assert_lt(fm_receipt_write(bad, key, &p, msg, &info, 0, &err), 0);
    cr_assert_eq(access(bad, F_OK), -1);

    free(s), free(with), free(without), free(bad);
    tu_rmtree(dir);
    fm_fingerprint_free(&live);
    fm_key_free(&key), fm_key_free(&other);
}
