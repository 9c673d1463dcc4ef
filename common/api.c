/*
 * api.c - the public API (include/filmmark.h) over the library's detection:
 * the key list of keys.h, the accumulator, clip_frames.h for files and
 * detect_keys.h for the multi-key detection wmdetect runs too.
 */
#include "filmmark.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "accumulator.h"
#include "clip_frames.h"
#include "detect_keys.h"
#include "detector.h"
#include "fm_error.h"
#include "frame.h"
#include "keys.h"
#include "payload.h"
#include "version.h"
#include "video_io.h"

_Static_assert(FILMMARK_MESSAGE_BYTES == FM_MESSAGE_BYTES, "message size");
_Static_assert(FILMMARK_FINGERPRINT_CHARS == FM_FINGERPRINT_CHARS, "fingerprint size");
_Static_assert((int)FILMMARK_EINVAL == (int)FM_EINVAL && (int)FILMMARK_EIO == (int)FM_EIO &&
               (int)FILMMARK_EFORMAT == (int)FM_EFORMAT &&
               (int)FILMMARK_ENOMEM == (int)FM_ENOMEM && (int)FILMMARK_ECODEC == (int)FM_ECODEC &&
               (int)FILMMARK_EPERM == (int)FM_EPERM && (int)FILMMARK_ECRYPTO == (int)FM_ECRYPTO &&
               (int)FILMMARK_ENOTFOUND == (int)FM_ENOTFOUND,
               "error codes");
/* Both whole numbers: clang takes floating constants in a static assertion
 * only as the operands of casts (tests/test_frame_weight.c compares them
 * exactly). */
_Static_assert((int)FILMMARK_INTRA_WEIGHT == (int)FM_INTRA_WEIGHT, "intra frame weight");
_Static_assert((int)FILMMARK_MAX_FRAME_WEIGHT == (int)FM_FRAME_WEIGHT_MAX, "largest frame weight");

struct FilmmarkKeys {
    FmKeyList list;
};

struct FilmmarkDetector {
    const FilmmarkKeys *keys;
    FmAccumulator acc;
    int width, height;
};

/* The library's error (code, text) into the caller's. */
static int give(FilmmarkError *out, int code, const FmError *e)
{
    if (out) {
        out->code = code;
        snprintf(out->message, sizeof(out->message), "%s",
                 e && e->msg[0] ? e->msg : filmmark_strerror(code));
    }
    return code;
}

/* A message of our own. */
#define FAIL(out, code, ...)                          \
    do {                                              \
        FmError e_;                                   \
        fm_error_set(&e_, code, __VA_ARGS__);         \
        return give(out, code, &e_);                  \
    } while (0)

static void ok(FilmmarkError *out)
{
    if (out) {
        out->code = 0;
        out->message[0] = 0;
    }
}

FM_API int filmmark_api_version(void)
{
    return FM_API_VERSION;
}

FM_API const char *filmmark_version(void)
{
    return FM_VERSION;
}

FM_API int filmmark_mark_format(void)
{
    return FM_MARK_FORMAT;
}

FM_API const char *filmmark_strerror(int code)
{
    switch (code) {
    case FILMMARK_OK: return "success";
    case FILMMARK_EINVAL: return "bad argument";
    case FILMMARK_EIO: return "input/output error";
    case FILMMARK_EFORMAT: return "not in the expected format";
    case FILMMARK_ENOMEM: return "out of memory";
    case FILMMARK_ECODEC: return "decoder failure";
    case FILMMARK_EPERM: return "unsafe permissions";
    case FILMMARK_ECRYPTO: return "signature or checksum does not verify";
    case FILMMARK_ENOTFOUND: return "not found";
    default: return "unknown error";
    }
}

FM_API int filmmark_keys_new(FilmmarkKeys **keys, FilmmarkError *err)
{
    FmError e = { { 0 } };
    int r;
    if (!keys)
        FAIL(err, FM_EINVAL, "no place for the key set");
    *keys = NULL;
    if ((r = fm_init(&e)) < 0)
        return give(err, r, &e);
    if (!(*keys = calloc(1, sizeof(**keys))))
        FAIL(err, FM_ENOMEM, "out of memory");
    ok(err);
    return 0;
}

/* Index of a key the list already holds, or -1. */
static int find_key(const FmKeyList *l, const FmKey *k)
{
    for (size_t i = 0; i < l->n; i++)
        if (!sodium_memcmp(l->keys[i]->sign_pk, k->sign_pk, sizeof(k->sign_pk)) &&
            !sodium_memcmp(l->keys[i]->wm_key, k->wm_key, sizeof(k->wm_key)))
            return (int)i;
    return -1;
}

FM_API int filmmark_keys_add_file(FilmmarkKeys *keys, const char *path, FilmmarkError *err)
{
    FmError e = { { 0 } };
    if (!keys || !path)
        FAIL(err, FM_EINVAL, "no key set or no key file given");
    FmKeyList *l = &keys->list;
    FmKey *k = fm_key_new();
    if (!k)
        FAIL(err, FM_ENOMEM, "out of secure memory");
    int r = fm_key_load(k, path, FM_KEY_DETECT, &e);
    if (r < 0) {
        fm_key_free(&k);
        return give(err, r, &e);
    }
    if (find_key(l, k) >= 0) {
        fm_key_free(&k);
        ok(err);
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        FmKey **nk = realloc(l->keys, cap * sizeof(*nk));
        if (nk)
            l->keys = nk;
        char **np = nk ? realloc(l->paths, cap * sizeof(*np)) : NULL;
        if (np)
            l->paths = np;
        if (!nk || !np) {
            fm_key_free(&k);
            FAIL(err, FM_ENOMEM, "out of memory");
        }
        l->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy) {
        fm_key_free(&k);
        FAIL(err, FM_ENOMEM, "out of memory");
    }
    l->keys[l->n] = k;
    l->paths[l->n++] = copy;
    ok(err);
    return 0;
}

FM_API int filmmark_keys_add_dir(FilmmarkKeys *keys, const char *dir, FilmmarkSkipFn skipped,
                                 void *ctx, FilmmarkError *err)
{
    FmError e = { { 0 } };
    char def[4096];
    int r;
    if (!keys)
        FAIL(err, FM_EINVAL, "no key set given");
    if (!dir) {
        if ((r = fm_key_dir_default(def, sizeof(def), &e)) < 0)
            return give(err, r, &e);
        dir = def;
    }
    /* FilmmarkSkipFn is FmKeyWarnFn's type */
    if ((r = fm_key_load_dir(dir, &keys->list, skipped, ctx, &e)) < 0)
        return give(err, r, &e);
    ok(err);
    return (int)keys->list.n;
}

FM_API int filmmark_keys_count(const FilmmarkKeys *keys)
{
    return keys ? (int)keys->list.n : 0;
}

FM_API int filmmark_keys_fingerprint(const FilmmarkKeys *keys, int i,
                                     char out[FILMMARK_FINGERPRINT_CHARS + 1],
                                     FilmmarkError *err)
{
    if (!keys || !out || i < 0 || (size_t)i >= keys->list.n)
        FAIL(err, FM_EINVAL, "no key %d in the set", i);
    fm_key_fingerprint(keys->list.keys[i], out);
    ok(err);
    return 0;
}

FM_API void filmmark_keys_free(FilmmarkKeys **keys)
{
    if (!keys || !*keys)
        return;
    fm_key_list_free(&(*keys)->list);
    free(*keys);
    *keys = NULL;
}

/* The library's result into the public one: payload fields only when the
 * signature verifies (as wmdetect --json shows them). */
static void fill_result(const FilmmarkKeys *keys, const FmDetectResult *r, int key,
                        FilmmarkResult *out)
{
    memset(out, 0, sizeof(*out));
    out->found = r->found;
    out->verified = r->signature_valid;
    out->payload_valid = r->payload_valid;
    if (r->signature_valid) {
        out->title_id = r->payload.title_id;
        out->recipient_id = r->payload.recipient_id;
        out->issued_minutes = r->payload.issued_minutes;
        if (r->payload_valid)
            fm_minutes_to_iso8601(r->payload.issued_minutes, out->issued, sizeof(out->issued));
        out->ai_use = r->payload.ai_use;
        const char *ai = fm_ai_use_name(r->payload.ai_use);
        snprintf(out->ai_use_name, sizeof(out->ai_use_name), "%s", ai ? ai : "");
        memcpy(out->message, r->message, FM_MESSAGE_BYTES);
        out->mark_format = r->mark_format;
        out->content_bound = r->content_bound;
        out->content_mismatch = r->content_mismatch;
        out->binding_z = r->bind_z;
        out->binding_epochs = r->bind_pairs;
        out->averaged_pair = r->pair_read;
    }
    if (r->signature_valid && r->pair_signature_valid) {
        const FmPayload *p = &r->pair_payload;
        out->pair_verified = 1;
        out->pair_title_id = p->title_id;
        out->pair_recipient_id = p->recipient_id;
        out->pair_issued_minutes = p->issued_minutes;
        fm_minutes_to_iso8601(p->issued_minutes, out->pair_issued, sizeof(out->pair_issued));
        out->pair_ai_use = p->ai_use;
        const char *ai = fm_ai_use_name(p->ai_use);
        snprintf(out->pair_ai_use_name, sizeof(out->pair_ai_use_name), "%s", ai ? ai : "");
        memcpy(out->pair_message, r->pair_message, FM_MESSAGE_BYTES);
    }
    out->false_alarm_probability = r->false_alarm_probability;
    out->false_alarm_log10 = r->false_alarm_log10;
    out->pilot_z = r->pilot_z;
    out->hypotheses = r->hypotheses;
    out->hypotheses_log10 = r->hypotheses_log10 > 0 ? r->hypotheses_log10
                            : r->hypotheses > 0     ? log10((double)r->hypotheses)
                                                    : 0;
    out->keys_tried = (int)keys->list.n;
    out->key_index = key;
    if (key >= 0)
        fm_key_fingerprint(keys->list.keys[key], out->key_fingerprint);
    out->raw_ber = r->raw_ber;
    out->list_rank = r->list_rank;
    out->geometry = (FilmmarkGeometry){
        .scale_x = r->geometry.scale_x, .scale_y = r->geometry.scale_y,
        .offset_x = r->geometry.offset_x, .offset_y = r->geometry.offset_y,
        .flip_h = r->geometry.flip_h, .flip_v = r->geometry.flip_v,
        .rotation_deg = r->geometry.rotation_deg, .perspective = r->geometry.perspective,
    };
    out->span[0] = r->span[0];
    out->span[1] = r->span[1];
    out->master_position = r->master_position;
    out->stretches = r->segments;
    out->stretches_read = r->segments_read;
    out->frames_read = r->frames_read;
}

/* Every key on the accumulated frames (common/detect_keys.h). */
static int detect(const FilmmarkKeys *keys, const FmAccumulator *acc, FilmmarkResult *res,
                  FilmmarkError *err)
{
    FmError e = { { 0 } };
    FmDetectResult best = { 0 };
    int key = -1;
    if (!acc->frames)
        FAIL(err, FM_EFORMAT, "no video frames to analyse");
    int r = fm_detect_keys(acc, keys->list.keys, (int)keys->list.n, NULL, NULL, NULL, &best,
                           &key, &e);
    if (r < 0)
        return give(err, r, &e);
    fill_result(keys, &best, key, res);
    ok(err);
    return 0;
}

static int accumulator_open(FmAccumulator *acc, int width, int height, int threads,
                            FilmmarkError *err)
{
    FmError e = { { 0 } };
    int r = fm_accumulator_init(acc, width, height, &e);
    if (r < 0)
        return give(err, r, &e);
    if (threads > 0 && fm_accumulator_set_threads(acc, threads) < 0) {
        fm_accumulator_free(acc);
        FAIL(err, FM_ENOMEM, "out of memory starting %d threads", threads);
    }
    /* a small clip also on a grid of the mark's resolution (picture in
     * picture) */
    if ((r = fm_accumulator_search_insets(acc, &e)) < 0) {
        fm_accumulator_free(acc);
        return give(err, r, &e);
    }
    return 0;
}

FM_API int filmmark_detector_new(FilmmarkDetector **det, const FilmmarkKeys *keys, int width,
                                 int height, int threads, FilmmarkError *err)
{
    if (!det)
        FAIL(err, FM_EINVAL, "no place for the detector");
    *det = NULL;
    if (!keys || !keys->list.n)
        FAIL(err, FM_EINVAL, "no detection key in the set");
    if (threads < 0 || threads > 256)
        FAIL(err, FM_EINVAL, "threads %d is not in 0..256", threads);
    FilmmarkDetector *d = calloc(1, sizeof(*d));
    if (!d)
        FAIL(err, FM_ENOMEM, "out of memory");
    int r = accumulator_open(&d->acc, width, height, threads, err);
    if (r < 0) {
        free(d);
        return r;
    }
    d->keys = keys;
    d->width = width;
    d->height = height;
    *det = d;
    ok(err);
    return 0;
}

/* One frame's luma into the accumulator, its evidence counted weight times
 * (1: fm_accumulator_add, bit for bit). */
static int add_frame(FilmmarkDetector *det, const void *luma, ptrdiff_t stride, int bit_depth,
                     double pts_seconds, float weight, FilmmarkError *err)
{
    FmError e = { { 0 } };
    if (!det || !luma)
        FAIL(err, FM_EINVAL, "no detector or no picture given");
    if (bit_depth < 8 || bit_depth > 16)
        FAIL(err, FM_EINVAL, "bit depth %d is not in 8..16", bit_depth);
    ptrdiff_t row = (ptrdiff_t)det->width * (bit_depth > 8 ? 2 : 1);
    if (stride < row)
        FAIL(err, FM_EINVAL, "stride %td is less than a row of %d samples (%td bytes)", stride,
             det->width, row);
    if (!isfinite(pts_seconds) || pts_seconds < 0)
        FAIL(err, FM_EINVAL, "frame time %g is not a time in seconds >= 0", pts_seconds);
    if (!(weight > 0 && weight <= FILMMARK_MAX_FRAME_WEIGHT))
        FAIL(err, FM_EINVAL, "frame weight %g is not a number in (0, %g]", (double)weight,
             (double)FILMMARK_MAX_FRAME_WEIGHT);
    int r = fm_accumulator_add_weighted(&det->acc, luma, stride, bit_depth, pts_seconds, weight,
                                        &e);
    if (r < 0)
        return give(err, r, &e);
    ok(err);
    return 0;
}

FM_API int filmmark_detector_add_frame(FilmmarkDetector *det, const void *luma,
                                       ptrdiff_t stride, int bit_depth, double pts_seconds,
                                       FilmmarkError *err)
{
    return add_frame(det, luma, stride, bit_depth, pts_seconds, 1.0f, err);
}

FM_API int filmmark_detector_add_frame_weighted(FilmmarkDetector *det, const void *luma,
                                                ptrdiff_t stride, int bit_depth,
                                                double pts_seconds, float weight,
                                                FilmmarkError *err)
{
    return add_frame(det, luma, stride, bit_depth, pts_seconds, weight, err);
}

FM_API int filmmark_detector_result(FilmmarkDetector *det, FilmmarkResult *res,
                                    FilmmarkError *err)
{
    if (!det || !res)
        FAIL(err, FM_EINVAL, "no detector or no result given");
    return detect(det->keys, &det->acc, res, err);
}

FM_API void filmmark_detector_free(FilmmarkDetector **det)
{
    if (!det || !*det)
        return;
    fm_accumulator_free(&(*det)->acc);
    free(*det);
    *det = NULL;
}

FM_API int filmmark_detect_file(const FilmmarkKeys *keys, const char *path,
                                const FilmmarkFileOptions *opt, FilmmarkResult *res,
                                FilmmarkError *err)
{
    FilmmarkFileOptions o = opt ? *opt : (FilmmarkFileOptions){ 0 };
    FmError e = { { 0 } };
    if (!keys || !keys->list.n)
        FAIL(err, FM_EINVAL, "no detection key in the set");
    if (!path || !res)
        FAIL(err, FM_EINVAL, "no file or no result given");
    if (!isfinite(o.start) || o.start < 0 || !isfinite(o.duration) || o.duration < 0)
        FAIL(err, FM_EINVAL, "start %g or duration %g is not a time in seconds >= 0", o.start,
             o.duration);
    if (o.threads < 0 || o.threads > 256)
        FAIL(err, FM_EINVAL, "threads %d is not in 0..256", o.threads);
    FmVideoReader *reader = NULL;
    FmAccumulator acc;
    int have_acc = 0, r;
    if ((r = fm_init(&e)) < 0 || (r = fm_reader_open(&reader, path, &e)) < 0)
        goto fail;
    fm_reader_set_read_only(reader, 1);    /* the detector only reads the pictures */
    const FmVideoInfo *info = fm_reader_info(reader);
    if (o.start > 0 && (r = fm_reader_seek(reader, o.start, &e)) < 0)
        goto fail;
    if ((r = accumulator_open(&acc, info->width, info->height, o.threads, err)) < 0)
        goto end;
    have_acc = 1;
    /* the frames at the times wmdetect reads them (clip_frames.h) */
    FmClipFrames cf;
    AVFrame *frame;
    double t;
    double read_seconds = o.duration > 0 ? o.duration : FM_DEFAULT_READ_SECONDS;
    fm_accumulator_set_max_seconds(&acc, read_seconds + FM_WINDOW_SECONDS);
    fm_clip_frames_init(&cf, reader, o.start, read_seconds);
    /* decoding runs ahead on its own thread while the detector works */
    if ((r = fm_clip_frames_read_ahead(&cf, FM_READ_AHEAD_DEPTH, &e)) < 0)
        goto fail;
    while ((r = fm_clip_frames_next(&cf, &frame, &t, &e)) > 0)
        if ((r = fm_accumulator_add_weighted(&acc, frame->data[0], frame->linesize[0],
                                             info->bit_depth, t,
                                             fm_frame_evidence_weight(frame, FM_INTRA_WEIGHT),
                                             &e)) < 0)
            break;
    fm_clip_frames_end(&cf);   /* the reader is ours again */
    if (r < 0)
        goto fail;
    if (!cf.frames) {
        r = o.start > 0 && info->duration > 0 && o.start >= info->duration
            ? fm_error_set(&e, FM_EINVAL, "start %.1f s is after the end of '%s' (%.1f s)",
                           o.start, path, info->duration)
            : fm_error_set(&e, FM_EFORMAT, "'%s' has no decodable video frames", path);
        goto fail;
    }
    r = detect(keys, &acc, res, err);
    goto end;
fail:
    give(err, r, &e);
end:
    if (have_acc)
        fm_accumulator_free(&acc);
    fm_reader_close(&reader);
    return r;
}
