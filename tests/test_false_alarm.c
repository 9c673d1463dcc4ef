/*
 * test_false_alarm.c - clips that carry no mark of the test key must never
 * be reported as marked (docs/DESIGN.md 6): more than 200 unmarked synthetic
 * and real clips, segments and crops, and clips marked with another key.
 * Each is accumulated and run through fm_detect() with one fixed test key;
 * found and signature_valid must both stay 0.
 *
 * The clips are analysed by a few forked workers (one per core, at most 4):
 * each clip is made from its index alone, the workers send back one record
 * per clip and all the checks are made here, in the test process.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "accumulator.h"
#include "detector.h"
#include "embedder.h"
#include "keys.h"
#include "payload.h"
#include "testutil.h"
#include "video_io.h"

#define SAMPLE FM_SOURCE_DIR "/samples/sample.mkv"

/* A sanitizer build (-O0, instrumented) is 5-10x slower: it runs a quarter
 * of the clips, of the same kinds, to stay well inside ctest's time limit.
 * The false-alarm count itself is the normal build's business. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifdef SANITIZER_BUILD
#define CLIP_SHARE 4
#else
#define CLIP_SHARE 1
#endif
#define MAX_REAL_FRAMES 200

static FmKey *test_key, *other_key;
static uint8_t other_message[FM_MESSAGE_BYTES];

static void setup(void)
{
    FmError err = { { 0 } };
    av_log_set_level(AV_LOG_QUIET);
    cr_assert_eq(fm_init(&err), 0, "%s", err.msg);
    test_key = fm_key_new();
    other_key = fm_key_new();
    cr_assert(test_key && other_key);
    tu_fixed_key(test_key, 1000);
    tu_fixed_key(other_key, 2000);
    FmPayload p = { .version = FM_PAYLOAD_VERSION, .title_id = 77, .recipient_id = 88,
                    .issued_minutes = 28000000 };
    cr_assert_eq(fm_payload_sign(&p, other_key, other_message, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    fm_key_free(&test_key);
    fm_key_free(&other_key);
}

TestSuite(false_alarm, .init = setup, .fini = teardown, .timeout = 600);

/* ---- one clip ---- */

/* What a worker sends back for one clip. */
typedef struct Result {
    int idx;
    int ret;               /* fm_detect's return, or -1000 if the clip could not be made */
    int found, signature_valid;
    long frames, frames_read;
    double z, p;
    int owner_checked, owner_found, owner_signature;  /* marked clips: with their own key */
    double owner_z;
    char what[120];
    char err[200];
} Result;

/* A source of luma frames. get() returns NULL on failure (with r->err set). */
typedef struct Source Source;
struct Source {
    int w, h, bit_depth, frames;
    double fps;
    const uint8_t *(*get)(Source *s, int i, ptrdiff_t *stride, Result *r);
    void *ctx;
};

/* Accumulates the source and detects with key into r (no assertions). */
static void detect_source(Source *s, const FmKey *key, Result *r, double *z, int *found,
                          int *sig)
{
    FmError err = { { 0 } };
    FmAccumulator acc;
    if ((r->ret = fm_accumulator_init(&acc, s->w, s->h, &err)) != 0) {
        snprintf(r->err, sizeof r->err, "fm_accumulator_init: %.150s", err.msg);
        return;
    }
    for (int i = 0; i < s->frames; i++) {
        ptrdiff_t stride;
        const uint8_t *p = s->get(s, i, &stride, r);
        if (!p) {
            r->ret = -1000;
            fm_accumulator_free(&acc);
            return;
        }
        if ((r->ret = fm_accumulator_add(&acc, p, stride, s->bit_depth, i / s->fps, &err)) != 0) {
            snprintf(r->err, sizeof r->err, "fm_accumulator_add: %.150s", err.msg);
            fm_accumulator_free(&acc);
            return;
        }
    }
    FmDetectResult res;
    r->ret = fm_detect(&acc, key, 1, NULL, &res, &err);
    fm_accumulator_free(&acc);
    if (r->ret != 0) {
        snprintf(r->err, sizeof r->err, "fm_detect returned %d (\"%.150s\")", r->ret, err.msg);
        return;
    }
    *z = res.pilot_z;
    *found = res.found;
    *sig = res.signature_valid;
    r->frames_read = res.frames_read;
    if (key == test_key)
        r->p = res.false_alarm_probability;
}

/* ---- synthetic sources ---- */

typedef struct SynthCtx {
    int kind;
    uint64_t seed;
    uint8_t *buf;
    ptrdiff_t stride;
    FmEmbedder *emb;   /* non-NULL: mark every frame */
} SynthCtx;

static const uint8_t *synth_get(Source *s, int i, ptrdiff_t *stride, Result *r)
{
    SynthCtx *c = s->ctx;
    tu_synth_luma(c->buf, c->stride, s->w, s->h, s->bit_depth, c->kind, c->seed, i);
    FmError err = { { 0 } };
    if (c->emb && fm_embedder_mark(c->emb, c->buf, c->stride, s->bit_depth, i / s->fps, NULL, &err) != 0) {
        snprintf(r->err, sizeof r->err, "fm_embedder_mark: %.150s", err.msg);
        return NULL;
    }
    *stride = c->stride;
    return c->buf;
}

static const int synth_sizes[][2] = {
    { 64, 48 }, { 96, 64 }, { 128, 128 }, { 160, 120 }, { 176, 144 }, { 200, 113 },
    { 256, 144 }, { 320, 180 }, { 321, 241 }, { 352, 288 }, { 48, 200 }, { 400, 100 },
};
#define NSIZES (int)(sizeof synth_sizes / sizeof synth_sizes[0])

static void synth_source(Source *s, SynthCtx *c, int idx, int kind, uint64_t seed, Result *r)
{
    memset(c, 0, sizeof *c);
    s->w = synth_sizes[idx % NSIZES][0];
    s->h = synth_sizes[idx % NSIZES][1];
    s->bit_depth = idx % 4 == 3 ? 10 : 8;
    s->frames = 3 + (int)((seed * 7 + (uint64_t)kind * 3) % 18);
    s->fps = idx % 3 ? 24 : 30;
    s->get = synth_get;
    s->ctx = c;
    c->kind = kind;
    c->seed = seed;
    /* every fifth clip in a buffer wider than the picture */
    c->stride = (ptrdiff_t)s->w * (s->bit_depth > 8 ? 2 : 1) + (idx % 5 == 0 ? 32 : 0);
    c->buf = malloc((size_t)c->stride * s->h);
    snprintf(r->what, sizeof r->what, "synthetic %s seed %llu %dx%d %d-bit %d frames",
             tu_synth_name(kind), (unsigned long long)seed, s->w, s->h, s->bit_depth, s->frames);
}

#define SYNTH_SEEDS (11 / CLIP_SHARE)
#define N_SYNTH (TU_SYNTH_KINDS * SYNTH_SEEDS)

static void synth_job(int i, Result *r)
{
    int kind = i / SYNTH_SEEDS;
    uint64_t seed = (uint64_t)(i % SYNTH_SEEDS + 1) * 101 + (uint64_t)kind;
    Source s;
    SynthCtx c;
    synth_source(&s, &c, i, kind, seed, r);
    r->frames = s.frames;
    detect_source(&s, test_key, r, &r->z, &r->found, &r->signature_valid);
    free(c.buf);
}

/* ---- real footage ---- */

typedef struct Footage {
    int w, h, n;
    uint8_t *frames[MAX_REAL_FRAMES];
} Footage;

static Footage footage;   /* decoded once in the test process, shared with the workers */

static void load_footage(void)
{
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    Footage *f = &footage;
    cr_assert_eq(fm_reader_open(&r, SAMPLE, &err), 0, "%s", err.msg);
    const FmVideoInfo *info = fm_reader_info(r);
    cr_assert_eq(info->bit_depth, 8, "the sample is expected to be 8-bit");
    f->w = info->width;
    f->h = info->height;
    f->n = 0;
    AVFrame *fr;
    int ret = 0;
    while (f->n < MAX_REAL_FRAMES && (ret = fm_reader_next(r, &fr, &err)) == 1) {
        uint8_t *p = malloc((size_t)f->w * f->h);
        cr_assert(p);
        for (int y = 0; y < f->h; y++)
            memcpy(p + (size_t)y * f->w, fr->data[0] + (ptrdiff_t)y * fr->linesize[0], f->w);
        f->frames[f->n++] = p;
    }
    cr_assert_geq(ret, 0, "%s", err.msg);
    fm_reader_close(&r);
    cr_assert_geq(f->n, 40, "the sample has only %d frames", f->n);
    cr_log_info("sample: %dx%d, %d frames", f->w, f->h, f->n);
}

static void free_footage(void)
{
    for (int i = 0; i < footage.n; i++)
        free(footage.frames[i]);
    footage.n = 0;
}

typedef struct RealCtx {
    int x0, y0;          /* crop origin (in the footage) */
    int start, step;     /* first frame, frame step (a frame-rate change) */
    int mode;            /* 0 crop, 1 10-bit crop, 2 half-size crop, 3 reversed crop */
    uint8_t *buf;
    FmEmbedder *emb;     /* non-NULL: mark the frames */
} RealCtx;

static const uint8_t *real_get(Source *s, int i, ptrdiff_t *stride, Result *r)
{
    RealCtx *c = s->ctx;
    const Footage *f = &footage;
    int fi = c->mode == 3 ? c->start + (s->frames - 1 - i) * c->step : c->start + i * c->step;
    if (fi < 0 || fi >= f->n) {
        snprintf(r->err, sizeof r->err, "frame %d out of range", fi);
        return NULL;
    }
    const uint8_t *src = f->frames[fi] + (size_t)c->y0 * f->w + c->x0;
    const uint8_t *out = src;
    *stride = f->w;   /* a crop is a sub-rectangle: its stride is the footage's width */
    if (c->mode == 1) {   /* 10-bit: scaled up, the two new bits from a hash */
        for (int y = 0; y < s->h; y++) {
            uint16_t *o = (uint16_t *)(c->buf + (size_t)y * s->w * 2);
            for (int x = 0; x < s->w; x++)
                o[x] = (uint16_t)(src[(size_t)y * f->w + x] * 4 + ((x * 7 + y * 13 + i) & 3));
        }
        out = c->buf;
        *stride = (ptrdiff_t)s->w * 2;
    } else if (c->mode == 2) {   /* box-filtered 2x down */
        for (int y = 0; y < s->h; y++)
            for (int x = 0; x < s->w; x++) {
                const uint8_t *q = src + (size_t)(2 * y) * f->w + 2 * x;
                c->buf[(size_t)y * s->w + x] =
                    (uint8_t)((q[0] + q[1] + q[f->w] + q[f->w + 1] + 2) / 4);
            }
        out = c->buf;
        *stride = s->w;
    }
    if (c->emb) {
        if (out == src) {   /* never mark the shared footage in place */
            for (int y = 0; y < s->h; y++)
                memcpy(c->buf + (size_t)y * s->w, src + (size_t)y * f->w, (size_t)s->w);
            out = c->buf;
            *stride = s->w;
        }
        FmError err = { { 0 } };
        if (fm_embedder_mark(c->emb, c->buf, *stride, s->bit_depth, i / s->fps, NULL, &err) != 0) {
            snprintf(r->err, sizeof r->err, "fm_embedder_mark: %.150s", err.msg);
            return NULL;
        }
    }
    return out;
}

/* Crop rectangles as fractions of the footage: x, y, w, h. */
static const double crops[][4] = {
    { 0, 0, 1, 1 },               /* whole picture */
    { 0, 0, 0.5, 0.5 },           /* quadrants */
    { 0.5, 0.5, 0.5, 0.5 },
    { 0.5, 0, 0.5, 0.5 },
    { 0, 0.125, 1, 0.75 },        /* letterbox */
    { 0.125, 0, 0.75, 1 },        /* pillarbox */
    { 0.13, 0.09, 0.418, 0.422 }, /* odd sizes */
    { 0.3, 0.3, 0.11, 0.11 },     /* tiny */
    { 0.01, 0.01, 0.98, 0.98 },
    { 0.2, 0.1, 0.7, 0.33 },      /* wide strip */
    { 0.6, 0.0, 0.25, 0.95 },     /* tall strip */
};
#define NCROPS (int)(sizeof crops / sizeof crops[0])

static void real_source(Source *s, RealCtx *c, int i, Result *r)
{
    const Footage *f = &footage;
    const double *cr = crops[i % NCROPS];
    memset(c, 0, sizeof *c);
    c->x0 = (int)(cr[0] * f->w);
    c->y0 = (int)(cr[1] * f->h);
    int w = (int)(cr[2] * f->w), h = (int)(cr[3] * f->h);
    if (c->x0 + w > f->w)
        w = f->w - c->x0;
    if (c->y0 + h > f->h)
        h = f->h - c->y0;
    c->mode = (i / NCROPS) % 4;
    c->step = i % 7 == 3 ? 2 : 1;
    c->start = (i * 37) % (f->n - 4);
    int avail = (f->n - c->start + c->step - 1) / c->step;
    int len = 3 + (i * 13) % 30;
    s->frames = len < avail ? len : avail;
    if (c->mode == 2) {
        w /= 2;
        h /= 2;
    }
    s->w = w < 16 ? 16 : w;
    s->h = h < 16 ? 16 : h;
    s->bit_depth = c->mode == 1 ? 10 : 8;
    s->fps = 10.0 / c->step;
    s->get = real_get;
    s->ctx = c;
    c->buf = malloc((size_t)s->w * s->h * 2);
    static const char *const modes[] = { "crop", "10-bit crop", "half-size crop",
                                         "reversed crop" };
    snprintf(r->what, sizeof r->what, "sample %s %dx%d+%d+%d frames %d..+%d step %d",
             modes[c->mode], s->w, s->h, c->x0, c->y0, c->start, s->frames, c->step);
}

#define N_REAL (100 / CLIP_SHARE)
#define N_SEEKS (CLIP_SHARE > 1 ? 3 : 6)

static void real_job(int i, Result *r)
{
    Source s;
    RealCtx c;
    real_source(&s, &c, i, r);
    r->frames = s.frames;
    detect_source(&s, test_key, r, &r->z, &r->found, &r->signature_valid);
    free(c.buf);
}

/* ---- marked with the other key ---- */

#define N_OTHER_SYNTH (12 / (CLIP_SHARE > 1 ? 2 : 1))
#define N_OTHER_REAL (10 / (CLIP_SHARE > 1 ? 2 : 1))

static void other_key_job(int i, Result *r)
{
    FmError err = { { 0 } };
    Source s;
    if (i < N_OTHER_SYNTH) {
        SynthCtx c;
        synth_source(&s, &c, i + 3, i % TU_SYNTH_KINDS, 9000 + (uint64_t)i, r);
        s.frames = 12;
        snprintf(r->what, sizeof r->what, "synthetic %s %dx%d %d-bit 12 frames marked B",
                 tu_synth_name(c.kind), s.w, s.h, s.bit_depth);
        if (fm_embedder_new(&c.emb, other_key->wm_key, other_message, s.w, s.h, 1.0, &err)) {
            r->ret = -1000;
            snprintf(r->err, sizeof r->err, "fm_embedder_new: %.150s", err.msg);
        } else {
            r->frames = s.frames;
            detect_source(&s, test_key, r, &r->z, &r->found, &r->signature_valid);
        }
        fm_embedder_free(&c.emb);
        free(c.buf);
        return;
    }
    /* whole-picture segments of the sample, as delivered: 8-bit, full size, in order */
    RealCtx c;
    real_source(&s, &c, (i - N_OTHER_SYNTH) * NCROPS, r);  /* crop 0: the whole picture */
    c.mode = 0;
    s.w = footage.w;
    s.h = footage.h;
    s.bit_depth = 8;
    free(c.buf);
    c.buf = malloc((size_t)s.w * s.h * 2);
    int avail = (footage.n - c.start) / c.step;
    if (s.frames < 10)
        s.frames = avail < 10 ? avail : 10;
    snprintf(r->what, sizeof r->what, "sample frames %d..+%d step %d marked B", c.start,
             s.frames, c.step);
    r->frames = s.frames;
    if (fm_embedder_new(&c.emb, other_key->wm_key, other_message, s.w, s.h, 1.0, &err)) {
        r->ret = -1000;
        snprintf(r->err, sizeof r->err, "fm_embedder_new: %.150s", err.msg);
    } else {
        detect_source(&s, test_key, r, &r->z, &r->found, &r->signature_valid);
        /* the clip really carries a mark: its own key finds it (on the longer
         * segments, where the pilot has had time to add up) */
        if (r->ret == 0 && s.frames >= 20) {
            Result own = *r;
            r->owner_checked = 1;
            detect_source(&s, other_key, &own, &r->owner_z, &r->owner_found,
                          &r->owner_signature);
            if (own.ret != 0) {
                r->ret = own.ret;
                snprintf(r->err, sizeof r->err, "with its own key: %.150s", own.err);
            }
        }
    }
    fm_embedder_free(&c.emb);
    free(c.buf);
}

/* ---- workers ---- */

static int workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4 ? 4 : (int)n;
}

static int read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t k = read(fd, (char *)buf + got, len - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

/* Runs job(0..n-1) in forked workers; results[i] gets clip i's record. */
static void run_jobs(int n, void (*job)(int i, Result *r), Result *results)
{
    int nw = workers(), fds[4];
    pid_t pids[4];
    fflush(stdout);
    fflush(stderr);
    for (int w = 0; w < nw; w++) {
        int p[2];
        cr_assert_eq(pipe(p), 0);
        pids[w] = fork();
        cr_assert_geq(pids[w], 0, "fork");
        if (pids[w] == 0) {
            close(p[0]);
            for (int i = w; i < n; i += nw) {
                Result r;
                memset(&r, 0, sizeof r);
                r.idx = i;
                job(i, &r);
                if (write(p[1], &r, sizeof r) != (ssize_t)sizeof r)
                    _exit(3);
            }
            _exit(0);
        }
        close(p[1]);
        fds[w] = p[0];
    }
    static int seen[4096];
    cr_assert_leq(n, 4096);
    memset(seen, 0, sizeof seen);
    for (int w = 0; w < nw; w++) {
        Result r;
        r.idx = -1;
        for (int i = w; i < n; i += nw) {
            if (read_full(fds[w], &r, sizeof r) != 0)
                break;
            if (r.idx >= 0 && r.idx < n) {
                results[r.idx] = r;
                seen[r.idx] = 1;
            }
        }
        close(fds[w]);
        int status;
        waitpid(pids[w], &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "worker %d died (%s %d) after clip %d", w,
                  WIFSIGNALED(status) ? "signal" : "status",
                  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), r.idx);
    }
    for (int i = 0; i < n; i++)
        cr_assert(seen[i], "no result for clip %d", i);
}

/* The checks, over all results: no false alarm; fm_detect errors listed. */
static void check_all(const char *test, const Result *res, int n)
{
    int errors = 0, alarms = 0, best = -1;
    double sum = 0, sum2 = 0, minz = INFINITY;
    const Result *first_error = NULL, *first_alarm = NULL;
    for (int i = 0; i < n; i++) {
        const Result *r = &res[i];
        if (r->ret != 0) {
            if (!errors++)
                first_error = r;
            continue;
        }
        if (r->found || r->signature_valid || r->frames_read != r->frames) {
            if (!alarms++)
                first_alarm = r;
        }
        if (best < 0 || r->z > res[best].z)
            best = i;
        minz = fmin(minz, r->z);
        sum += r->z;
        sum2 += r->z * r->z;
    }
    int ok = n - errors;
    if (ok > 0) {
        double mean = sum / ok, sd = sqrt(fmax(0, sum2 / ok - mean * mean));
        cr_log_info("%s: %d clips analysed, pilot z max %.2f (%s, p %.3g), min %.2f, mean %.2f, "
                    "sd %.2f", test, ok, res[best].z, res[best].what, res[best].p, minz, mean, sd);
    }
    for (int i = 0; i < n && alarms; i++)
        if (res[i].ret == 0 && (res[i].found || res[i].signature_valid))
            cr_log_error("%s: FALSE ALARM on %s: z %.2f, p %.3g, signature %d", test,
                         res[i].what, res[i].z, res[i].p, res[i].signature_valid);
    cr_assert_eq(alarms, 0, "%s: %d false alarm(s); first: %s (z %.2f, p %.3g, signature %d, "
                 "frames %ld/%ld)", test, alarms, first_alarm ? first_alarm->what : "",
                 first_alarm ? first_alarm->z : 0, first_alarm ? first_alarm->p : 0,
                 first_alarm ? first_alarm->signature_valid : 0,
                 first_alarm ? first_alarm->frames_read : 0, first_alarm ? first_alarm->frames : 0);
    cr_assert_eq(errors, 0, "%s: %d of %d clips could not be analysed; first: %s: %s", test,
                 errors, n, first_error ? first_error->what : "",
                 first_error ? first_error->err : "");
}

/* ---- the tests ---- */

Test(false_alarm, synthetic_unmarked_clips)
{
    static Result res[N_SYNTH];
    run_jobs(N_SYNTH, synth_job, res);
    check_all("synthetic_unmarked_clips", res, N_SYNTH);
}

Test(false_alarm, real_footage_segments_and_crops)
{
    static Result res[N_REAL];
    load_footage();
    run_jobs(N_REAL, real_job, res);
    free_footage();
    check_all("real_footage_segments_and_crops", res, N_REAL);
}

Test(false_alarm, real_footage_read_after_seek)
{
    /* segments found the way wmdetect --start does: seek, then read */
    FmError err = { { 0 } };
    static const double starts[] = { 0.0, 3.7, 6.1, 1.3, 2.0, 5.0 };
    enum { N = N_SEEKS };
    Result res[N];
    memset(res, 0, sizeof res);
    for (int k = 0; k < N; k++) {
        Result *r = &res[k];
        snprintf(r->what, sizeof r->what, "sample after seek to %.1f s", starts[k]);
        FmVideoReader *rd = NULL;
        cr_assert_eq(fm_reader_open(&rd, SAMPLE, &err), 0, "%s", err.msg);
        const FmVideoInfo *info = fm_reader_info(rd);
        if (starts[k] > 0)
            cr_assert_eq(fm_reader_seek(rd, starts[k], &err), 0, "%s", err.msg);
        FmAccumulator acc;
        cr_assert_eq(fm_accumulator_init(&acc, info->width, info->height, &err), 0);
        AVFrame *fr;
        double tb = av_q2d(info->time_base);
        while (r->frames < 15 && fm_reader_next(rd, &fr, &err) == 1) {
            cr_assert_eq(fm_accumulator_add(&acc, fr->data[0], fr->linesize[0], info->bit_depth,
                                            fr->pts * tb, &err), 0);
            r->frames++;
        }
        cr_assert_gt(r->frames, 0);
        FmDetectResult d;
        r->ret = fm_detect(&acc, test_key, 1, NULL, &d, &err);
        if (r->ret)
            snprintf(r->err, sizeof r->err, "fm_detect returned %d (\"%.150s\")", r->ret, err.msg);
        r->found = d.found;
        r->signature_valid = d.signature_valid;
        r->z = d.pilot_z;
        r->p = d.false_alarm_probability;
        r->frames_read = d.frames_read;
        fm_accumulator_free(&acc);
        fm_reader_close(&rd);
    }
    check_all("real_footage_read_after_seek", res, N);
}

Test(false_alarm, marked_with_another_key)
{
    enum { N = N_OTHER_SYNTH + N_OTHER_REAL };
    static Result res[N];
    load_footage();
    run_jobs(N, other_key_job, res);
    free_footage();
    check_all("marked_with_another_key", res, N);
    int checked = 0, found = 0;
    for (int i = 0; i < N; i++)
        if (res[i].owner_checked) {
            checked++;
            found += res[i].owner_found && res[i].owner_signature;
            cr_log_info("%s: its own key gives z %.1f, found %d, signature %d", res[i].what,
                        res[i].owner_z, res[i].owner_found, res[i].owner_signature);
        }
    cr_assert_gt(checked, 0);
    cr_assert_eq(found, checked, "the marks were not all there: %d of %d found and verified with "
                 "their own key", found, checked);
}

Test(false_alarm, enough_clips)
{
    /* more than 200 unmarked clips in all, plus the other key's */
    if (CLIP_SHARE > 1) {
        cr_log_info("sanitizer build: %d unmarked and %d other-key clips instead of %d and 22",
                    N_SYNTH + N_REAL + N_SEEKS, N_OTHER_SYNTH + N_OTHER_REAL,
                    TU_SYNTH_KINDS * 11 + 100 + 6);
        return;
    }
    cr_assert_gt(N_SYNTH + N_REAL + N_SEEKS, 200);
    cr_assert_geq(N_OTHER_SYNTH + N_OTHER_REAL, 20);
}
