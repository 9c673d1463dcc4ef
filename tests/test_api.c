/*
 * test_api.c - the public API as a third party sees it: this file includes
 * only include/filmmark.h and links only libfilmmark.so. The clips are made
 * here with ffmpeg and the tools (wmkeygen, wmembed); the mark is then found
 * through filmmark_detect_file and through frames fed one by one (8 and 10
 * bit, with and without frame weights), and the result compared with
 * wmdetect's own --json.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filmmark.h"

#define FFMPEG "ffmpeg -nostdin -hide_banner -loglevel error -y"
#define W 640
#define H 360
#define FPS 24
#define SECONDS 4
#define TITLE 4242u
#define RECIPIENT 917u
#define RECIPIENT2 918u

static char dir[256];

/* Formats and runs a shell command; its exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static const char *media(const char *name)
{
    static char path[8][512];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    return p;
}

/* Made once for all the tests (in the runner, before the tests fork):
 * a master, two keys, the master marked with key a (lossless), its luma as
 * raw 8- and 10-bit planes, one picture of it as a PNG, and the average of
 * that copy and another recipient's. */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fm_api_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        abort();
    int r = sh(FFMPEG " -f lavfi -i testsrc2=size=%dx%d:rate=%d -t %d -c:v libx264 -crf 16 "
               "-pix_fmt yuv420p '%s/master.mp4'", W, H, FPS, SECONDS, dir);
    r |= sh("cd '%s' && " FM_BUILD_DIR "/wmkeygen -o a --no-passphrase -q && "
            FM_BUILD_DIR "/wmkeygen -o b --no-passphrase -q && mkdir keys && "
            "cp a.dkey b.dkey keys/", dir);
    r |= sh("cd '%s' && " FM_BUILD_DIR "/wmembed -k a.key -i master.mp4 -o marked.mkv "
            "--codec ffv1 --title-id %u --recipient-id %u --no-registry -q", dir, TITLE,
            RECIPIENT);
    /* a second recipient's copy, and the two averaged per pixel (a collusion) */
    r |= sh("cd '%s' && " FM_BUILD_DIR "/wmembed -k a.key -i master.mp4 -o marked2.mkv "
            "--codec ffv1 --title-id %u --recipient-id %u --no-registry -q && " FFMPEG
            " -i marked.mkv -i marked2.mkv -filter_complex '[0:v][1:v]blend=all_mode=average' "
            "-c:v ffv1 averaged.mkv && " FFMPEG " -ss 1.5 -i averaged.mkv -frames:v 1 "
            "averaged.png", dir, TITLE, RECIPIENT2);
    /* the marked clip inset at half size in a grey frame of its own size */
    r |= sh("cd '%s' && " FFMPEG " -i marked.mkv -vf 'scale=%d:%d,pad=%d:%d:%d:%d:gray' "
            "-c:v ffv1 inset.mkv", dir, W / 2, H / 2, W, H, W * 45 / 100, H * 40 / 100);
    r |= sh("cd '%s' && " FFMPEG " -i marked.mkv -f rawvideo -pix_fmt gray luma8.raw "
            "-f rawvideo -pix_fmt gray10le luma10.raw -ss 1.5 -frames:v 1 still.png", dir);
    if (r != 0) {
        fprintf(stderr, "test_api: could not make the clips in %s\n", dir);
        abort();
    }
    setenv("FM_API_MEDIA", dir, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    if (dir[0])
        sh("rm -rf '%s'", dir);
}

static void setup(void)
{
    const char *d = getenv("FM_API_MEDIA");
    cr_assert(d, "media not made");
    snprintf(dir, sizeof dir, "%s", d);
    cr_assert_eq(filmmark_api_version(), FM_API_VERSION);
}

TestSuite(api, .init = setup, .timeout = 300);

static FilmmarkKeys *keys_from(const char *file_or_dir)
{
    FilmmarkError err;
    FilmmarkKeys *k = NULL;
    struct stat st;
    cr_assert_eq(filmmark_keys_new(&k, &err), 0, "%s", err.message);
    int r = stat(file_or_dir, &st) == 0 && S_ISDIR(st.st_mode)
            ? filmmark_keys_add_dir(k, file_or_dir, NULL, NULL, &err)
            : filmmark_keys_add_file(k, file_or_dir, &err);
    cr_assert_geq(r, 0, "%s: %s", file_or_dir, err.message);
    return k;
}

/* The verified payload of the clip marked with key a. */
static void assert_marked(const FilmmarkResult *res, const char *what)
{
    cr_assert(res->found && res->verified && res->payload_valid, "%s: not verified (p = %g)",
              what, res->false_alarm_probability);
    cr_assert_eq(res->title_id, TITLE, "%s", what);
    cr_assert_eq(res->recipient_id, RECIPIENT, "%s", what);
    cr_assert_str_eq(res->ai_use_name, "reserved", "%s", what);
    cr_assert_eq(strlen(res->issued), 17, "%s: issued '%s'", what, res->issued);
    cr_assert_lt(res->false_alarm_log10, -9, "%s: p = 10^%.1f", what, res->false_alarm_log10);
    cr_assert_float_eq(res->false_alarm_probability, pow(10, res->false_alarm_log10),
                       1e-3 * res->false_alarm_probability + 1e-300, "%s", what);
    cr_assert_gt(res->hypotheses, 0, "%s", what);
    cr_assert_float_eq(res->hypotheses_log10, log10((double)res->hypotheses), 1e-9, "%s", what);
}

Test(api, detect_file_verifies_the_payload_with_one_key)
{
    FilmmarkKeys *k = keys_from(media("a.dkey"));
    FilmmarkResult res;
    FilmmarkError err;
    cr_assert_eq(filmmark_keys_count(k), 1);
    cr_assert_eq(filmmark_detect_file(k, media("marked.mkv"), NULL, &res, &err), 0, "%s",
                 err.message);
    assert_marked(&res, "marked.mkv");
    cr_assert_eq(res.mark_format, filmmark_mark_format());
    cr_assert_eq(res.keys_tried, 1);
    cr_assert_eq(res.key_index, 0);
    cr_assert_eq(res.frames_read, FPS * SECONDS);
    cr_assert_float_eq(res.geometry.scale_x, 1.0, 0.01);
    cr_assert_float_eq(res.geometry.scale_y, 1.0, 0.01);
    cr_assert(!res.geometry.flip_h && !res.geometry.flip_v);
    cr_assert(!res.geometry.perspective);
    cr_assert(!res.averaged_pair && !res.pair_verified, "one copy read as an average");
    cr_assert_eq(res.pair_recipient_id, 0);
    cr_assert_str_empty(res.pair_issued);
    char fp[FILMMARK_FINGERPRINT_CHARS + 1];
    cr_assert_eq(filmmark_keys_fingerprint(k, 0, fp, &err), 0);
    cr_assert_str_eq(res.key_fingerprint, fp);
    filmmark_keys_free(&k);
    cr_assert_null(k);
}

/* A double from wmdetect's --json text ("name": value). */
static double json_number(const char *json, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", name);
    const char *p = strstr(json, pat);
    cr_assert(p, "no %s in wmdetect's output", name);
    return strtod(p + strlen(pat), NULL);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot read %s", path);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Two keys: the same best key, corrected probability and hypotheses as
 * wmdetect with the same key directory (they run the same code). */
Test(api, key_directory_gives_wmdetects_result)
{
    FilmmarkKeys *k = keys_from(media("keys"));
    FilmmarkResult res;
    FilmmarkError err;
    cr_assert_eq(filmmark_keys_count(k), 2);
    cr_assert_eq(filmmark_detect_file(k, media("marked.mkv"), NULL, &res, &err), 0, "%s",
                 err.message);
    assert_marked(&res, "marked.mkv, two keys");
    cr_assert_eq(res.keys_tried, 2);
    cr_assert_eq(sh("cd '%s' && FILMMARK_KEYS=keys " FM_BUILD_DIR "/wmdetect --no-registry "
                    "--json marked.mkv > detect.json", dir), 0);
    const char *json = slurp(media("detect.json"));
    char want[64];
    snprintf(want, sizeof want, "\"key_fingerprint\": \"%s\"", res.key_fingerprint);
    cr_assert(strstr(json, want), "wmdetect chose another key: %s", json);
    /* printed with 10 significant digits */
    double lp = json_number(json, "false_alarm_log10");
    cr_assert_float_eq(res.false_alarm_log10, lp, 1e-8 * fabs(lp));
    cr_assert_eq(res.hypotheses, (int64_t)json_number(json, "hypotheses"));
    cr_assert_float_eq(res.pilot_z, json_number(json, "pilot_z"), 1e-8 * res.pilot_z);
    cr_assert_eq(res.title_id, (uint32_t)json_number(json, "title_id"));
    cr_assert_eq(res.recipient_id, (uint32_t)json_number(json, "recipient_id"));
    /* one key's hypotheses, times the two keys */
    FilmmarkKeys *one = keys_from(media("a.dkey"));
    FilmmarkResult r1;
    cr_assert_eq(filmmark_detect_file(one, media("marked.mkv"), NULL, &r1, &err), 0);
    cr_assert_eq(res.hypotheses, 2 * r1.hypotheses);
    cr_assert_float_eq(res.false_alarm_log10, r1.false_alarm_log10 + log10(2.0), 1e-6);
    filmmark_keys_free(&one);
    filmmark_keys_free(&k);
}

/* Both recipients of an average of two copies: each payload, each signature
 * verified. */
static void assert_pair(const FilmmarkResult *res, const char *what)
{
    cr_assert(res->verified && res->averaged_pair && res->pair_verified,
              "%s: verified %d, averaged_pair %d, pair_verified %d", what, res->verified,
              res->averaged_pair, res->pair_verified);
    cr_assert_eq(res->title_id, TITLE, "%s", what);
    cr_assert_eq(res->pair_title_id, TITLE, "%s", what);
    uint32_t lo = res->recipient_id < res->pair_recipient_id ? res->recipient_id
                                                             : res->pair_recipient_id;
    uint32_t hi = res->recipient_id ^ res->pair_recipient_id ^ lo;
    cr_assert(lo == RECIPIENT && hi == RECIPIENT2, "%s: recipients %u and %u", what,
              res->recipient_id, res->pair_recipient_id);
    cr_assert_str_eq(res->pair_ai_use_name, "reserved", "%s", what);
    cr_assert_eq(strlen(res->pair_issued), 17, "%s: pair issued '%s'", what, res->pair_issued);
    cr_assert_neq(memcmp(res->message, res->pair_message, FILMMARK_MESSAGE_BYTES), 0, "%s",
                  what);
    cr_assert_lt(res->false_alarm_log10, -9, "%s", what);
}

/* A picture in picture of a small clip: the marked 640x360 clip at half size
 * in a grey frame of its own size has 0.5 clip pixels a mark pixel, and the
 * geometry search misses it on the clip's fine grid of whole clip pixels
 * (before 0.9.18: pilot z 4.6, not found); the accumulator's twin of the
 * mark's resolution (fm_accumulator_search_insets) finds it, through the API
 * and wmdetect alike, its p counting both readings' hypotheses. */
Test(api, a_half_size_inset_in_a_small_frame_verifies)
{
    FilmmarkKeys *k = keys_from(media("a.dkey"));
    FilmmarkResult res;
    FilmmarkError err;
    cr_assert_eq(filmmark_detect_file(k, media("inset.mkv"), NULL, &res, &err), 0, "%s",
                 err.message);
    filmmark_keys_free(&k);
    assert_marked(&res, "inset.mkv");
    cr_assert_float_eq(res.geometry.scale_x, 0.5, 0.01);
    cr_assert_float_eq(res.geometry.scale_y, 0.5, 0.01);
    cr_assert_eq(sh("cd '%s' && " FM_BUILD_DIR "/wmdetect -k a.dkey --no-registry --json "
                    "inset.mkv > inset.json", dir), 0);
    const char *json = slurp(media("inset.json"));
    cr_assert_eq(res.recipient_id, (uint32_t)json_number(json, "recipient_id"));
    cr_assert_float_eq(res.false_alarm_log10, json_number(json, "false_alarm_log10"),
                       1e-6 * fabs(res.false_alarm_log10));
}

/* Two recipients' copies averaged, as a clip and as one picture of it: both
 * payloads, as wmdetect --json gives them (averaged_pair, pair_other). */
Test(api, two_copies_averaged_name_both_recipients)
{
    FilmmarkKeys *k = keys_from(media("a.dkey"));
    FilmmarkResult res, still;
    FilmmarkError err;
    cr_assert_eq(filmmark_detect_file(k, media("averaged.mkv"), NULL, &res, &err), 0, "%s",
                 err.message);
    cr_assert_eq(filmmark_detect_file(k, media("averaged.png"), NULL, &still, &err), 0, "%s",
                 err.message);
    filmmark_keys_free(&k);
    assert_pair(&res, "averaged.mkv");
    assert_pair(&still, "averaged.png");
    cr_assert_eq(still.frames_read, 1);
    cr_assert_eq(sh("cd '%s' && " FM_BUILD_DIR "/wmdetect -k a.dkey --no-registry --json "
                    "averaged.mkv > averaged.json", dir), 0);
    const char *json = slurp(media("averaged.json"));
    cr_assert(strstr(json, "\"averaged_pair\": true"), "%s", json);
    const char *other = strstr(json, "\"pair_other\": {");
    cr_assert(other, "%s", json);
    cr_assert_eq(res.pair_recipient_id, (uint32_t)json_number(other, "recipient_id"));
    cr_assert_eq(res.recipient_id, (uint32_t)json_number(json, "recipient_id"));
}

/* Frames decoded by the caller, fed with their times. */
static void feed_raw(const char *file, int bit_depth, int threads, FilmmarkResult *res)
{
    FilmmarkKeys *k = keys_from(media("keys"));
    FilmmarkDetector *det = NULL;
    FilmmarkError err;
    size_t bps = bit_depth > 8 ? 2 : 1, frame = (size_t)W * H * bps;
    /* rows wider than the picture: the stride is honoured */
    ptrdiff_t stride = (ptrdiff_t)(W * bps + 64);
    uint8_t *buf = malloc(frame), *plane = calloc((size_t)stride * H, 1);
    FILE *f = fopen(media(file), "rb");
    cr_assert(buf && plane && f);
    cr_assert_eq(filmmark_detector_new(&det, k, W, H, threads, &err), 0, "%s", err.message);
    long n = 0;
    while (fread(buf, 1, frame, f) == frame) {
        for (int y = 0; y < H; y++)
            memcpy(plane + y * stride, buf + (size_t)y * W * bps, W * bps);
        cr_assert_eq(filmmark_detector_add_frame(det, plane, stride, bit_depth,
                                                 (double)n / FPS, &err), 0, "%s", err.message);
        n++;
    }
    cr_assert_eq(n, FPS * SECONDS);
    cr_assert_eq(filmmark_detector_result(det, res, &err), 0, "%s", err.message);
    cr_assert_eq(res->frames_read, n);
    fclose(f);
    free(buf);
    free(plane);
    filmmark_detector_free(&det);
    cr_assert_null(det);
    filmmark_keys_free(&k);
}

Test(api, frames_fed_8_bit_verify)
{
    FilmmarkResult res;
    feed_raw("luma8.raw", 8, 0, &res);
    assert_marked(&res, "8-bit frames");
    cr_assert_eq(res.keys_tried, 2);
}

Test(api, frames_fed_10_bit_verify_whatever_the_threads)
{
    FilmmarkResult r1, r2;
    feed_raw("luma10.raw", 10, 1, &r1);
    assert_marked(&r1, "10-bit frames, 1 thread");
    feed_raw("luma10.raw", 10, 3, &r2);
    /* the same bits whatever the thread count */
    cr_assert(r1.false_alarm_log10 == r2.false_alarm_log10 && r1.pilot_z == r2.pilot_z &&
              r1.raw_ber == r2.raw_ber && r1.hypotheses == r2.hypotheses &&
              !memcmp(r1.message, r2.message, sizeof r1.message) &&
              !memcmp(&r1.geometry, &r2.geometry, sizeof r1.geometry) &&
              r1.key_index == r2.key_index, "1 and 3 threads differ (p %g, %g)",
              r1.false_alarm_probability, r2.false_alarm_probability);
}

/* Every field of two results, bit for bit. */
static void assert_same_result(const FilmmarkResult *a, const FilmmarkResult *b,
                               const char *what)
{
#define SAME(f) cr_assert(!memcmp(&a->f, &b->f, sizeof a->f), "%s: " #f " differs", what)
    SAME(found);
    SAME(verified);
    SAME(payload_valid);
    SAME(title_id);
    SAME(recipient_id);
    SAME(issued_minutes);
    SAME(issued);
    SAME(ai_use);
    SAME(ai_use_name);
    SAME(message);
    SAME(mark_format);
    SAME(content_bound);
    SAME(content_mismatch);
    SAME(binding_z);
    SAME(binding_epochs);
    SAME(false_alarm_probability);
    SAME(false_alarm_log10);
    SAME(pilot_z);
    SAME(hypotheses);
    SAME(hypotheses_log10);
    SAME(keys_tried);
    SAME(key_index);
    SAME(key_fingerprint);
    SAME(raw_ber);
    SAME(list_rank);
    SAME(geometry.scale_x);
    SAME(geometry.scale_y);
    SAME(geometry.offset_x);
    SAME(geometry.offset_y);
    SAME(geometry.flip_h);
    SAME(geometry.flip_v);
    SAME(geometry.rotation_deg);
    SAME(geometry.perspective);
    SAME(span);
    SAME(master_position);
    SAME(stretches);
    SAME(stretches_read);
    SAME(frames_read);
#undef SAME
}

/* Weight 1 is filmmark_detector_add_frame: the same frames (the first two
 * seconds) give the same result, bit for bit. */
Test(api, weight_one_is_add_frame_bit_for_bit)
{
    FilmmarkKeys *k = keys_from(media("a.dkey"));
    FilmmarkDetector *plain = NULL, *weighted = NULL;
    FilmmarkResult rp, rw;
    FilmmarkError err;
    size_t frame = (size_t)W * H;
    uint8_t *plane = malloc(frame);
    FILE *f = fopen(media("luma8.raw"), "rb");
    cr_assert(plane && f);
    cr_assert_eq(filmmark_detector_new(&plain, k, W, H, 0, &err), 0, "%s", err.message);
    cr_assert_eq(filmmark_detector_new(&weighted, k, W, H, 0, &err), 0, "%s", err.message);
    long n = 0;
    for (; n < 2 * FPS && fread(plane, 1, frame, f) == frame; n++) {
        cr_assert_eq(filmmark_detector_add_frame(plain, plane, W, 8, (double)n / FPS, &err), 0,
                     "%s", err.message);
        cr_assert_eq(filmmark_detector_add_frame_weighted(weighted, plane, W, 8, (double)n / FPS,
                                                          1.0f, &err), 0, "%s", err.message);
    }
    cr_assert_eq(n, 2 * FPS);
    cr_assert_eq(filmmark_detector_result(plain, &rp, &err), 0, "%s", err.message);
    cr_assert_eq(filmmark_detector_result(weighted, &rw, &err), 0, "%s", err.message);
    assert_marked(&rw, "frames of weight 1");
    assert_same_result(&rw, &rp, "weight 1 against add_frame");
    fclose(f);
    free(plane);
    filmmark_detector_free(&plain);
    filmmark_detector_free(&weighted);
    filmmark_keys_free(&k);
}

/* A weight that is not a number in (0, 1000] is refused, with one line, and
 * the frame is not taken; the detector goes on reading the frames after. */
Test(api, bad_weights_are_refused)
{
    static const float bad[] = { 0.0f, -0.0f, -1.0f, NAN, INFINITY, -INFINITY, 1001.0f, 3e38f };
    const int nbad = (int)(sizeof bad / sizeof bad[0]);
    FilmmarkKeys *k = keys_from(media("a.dkey"));
    FilmmarkDetector *det = NULL;
    FilmmarkResult res;
    FilmmarkError err;
    size_t frame = (size_t)W * H;
    uint8_t *plane = malloc(frame);
    FILE *f = fopen(media("luma8.raw"), "rb");
    cr_assert(plane && f);
    cr_assert_eq(filmmark_detector_add_frame_weighted(NULL, plane, W, 8, 0, 1.0f, &err),
                 FILMMARK_EINVAL);
    cr_assert_eq(filmmark_detector_new(&det, k, W, H, 0, &err), 0, "%s", err.message);
    cr_assert_eq(filmmark_detector_add_frame_weighted(det, NULL, W, 8, 0, 1.0f, &err),
                 FILMMARK_EINVAL);
    long n = 0;
    for (; fread(plane, 1, frame, f) == frame; n++) {
        float w = bad[n % nbad];
        double t = (double)n / FPS;
        int r = filmmark_detector_add_frame_weighted(det, plane, W, 8, t, w, &err);
        cr_assert_eq(r, FILMMARK_EINVAL, "weight %g taken", (double)w);
        cr_assert_eq(err.code, r);
        cr_assert(strstr(err.message, "weight") && !strchr(err.message, '\n'), "%s",
                  err.message);
        cr_assert_eq(filmmark_detector_add_frame_weighted(det, plane, W, 8, t, w, NULL), r,
                     "no FilmmarkError");
        cr_assert_eq(filmmark_detector_add_frame_weighted(det, plane, W, 8, t,
                                                          n % 24 ? 1.0f : FILMMARK_INTRA_WEIGHT,
                                                          &err), 0, "%s", err.message);
        cr_assert_eq(err.code, 0);
        cr_assert_str_empty(err.message);
    }
    cr_assert_eq(filmmark_detector_result(det, &res, &err), 0, "%s", err.message);
    cr_assert_eq(res.frames_read, n, "refused frames were counted");
    assert_marked(&res, "frames after refused weights");
    fclose(f);
    free(plane);
    filmmark_detector_free(&det);
    filmmark_keys_free(&k);
}

/* A re-encoded copy (x264, an I frame a second): its frames decoded by the
 * caller (ffmpeg here) and weighted by their picture types as docs/API.md
 * says read otherwise than unweighted frames, verify, and give what
 * filmmark_detect_file gives on the file, bit for bit (the same times: the
 * stream's pts over its time base). */
Test(api, intra_frames_weighted_as_detect_file_weighs_them)
{
    cr_assert_eq(sh("cd '%s' && " FFMPEG " -i marked.mkv -c:v libx264 -preset fast -crf 28 "
                    "-g %d -keyint_min %d -sc_threshold 0 -pix_fmt yuv420p copy.mp4 && "
                    FFMPEG " -i copy.mp4 -fps_mode passthrough -f rawvideo -pix_fmt yuv420p "
                    "copy.yuv && ffprobe -v error -select_streams v:0 -show_entries "
                    "stream=time_base -of csv=p=0 copy.mp4 > copy.tb && ffprobe -v error "
                    "-select_streams v:0 -show_entries frame=pts,pict_type -of csv=p=0 "
                    "copy.mp4 > copy.types", dir, FPS, FPS), 0);
    int tb_num = 0, tb_den = 0;
    FILE *tb = fopen(media("copy.tb"), "r");
    cr_assert(tb && fscanf(tb, "%d/%d", &tb_num, &tb_den) == 2 && tb_num > 0 && tb_den > 0);
    fclose(tb);
    FilmmarkKeys *k = keys_from(media("a.dkey"));
    FilmmarkDetector *plain = NULL, *weighted = NULL;
    FilmmarkResult rp, rw, rf;
    FilmmarkError err;
    size_t frame = (size_t)W * H * 3 / 2;   /* yuv420p: the Y plane first */
    uint8_t *buf = malloc(frame);
    FILE *yuv = fopen(media("copy.yuv"), "rb"), *types = fopen(media("copy.types"), "r");
    cr_assert(buf && yuv && types);
    cr_assert_eq(filmmark_detector_new(&plain, k, W, H, 0, &err), 0, "%s", err.message);
    cr_assert_eq(filmmark_detector_new(&weighted, k, W, H, 0, &err), 0, "%s", err.message);
    char line[256];
    long n = 0, intra = 0;
    double t0 = 0;
    while (fgets(line, sizeof line, types)) {
        long long pts;
        char type;
        if (sscanf(line, "%lld,%c", &pts, &type) != 2)
            continue;   /* a blank line */
        cr_assert_eq(fread(buf, 1, frame, yuv), frame, "fewer pictures than frames");
        /* fm_reader_frame_seconds: pts times av_q2d(time base) */
        double s = (double)pts * (tb_num / (double)tb_den);
        if (n == 0)
            t0 = s;
        float w = type == 'I' ? FILMMARK_INTRA_WEIGHT : 1.0f;
        intra += type == 'I';
        cr_assert_eq(filmmark_detector_add_frame(plain, buf, W, 8, s - t0, &err), 0, "%s",
                     err.message);
        cr_assert_eq(filmmark_detector_add_frame_weighted(weighted, buf, W, 8, s - t0, w, &err),
                     0, "%s", err.message);
        n++;
    }
    cr_assert_eq(fread(buf, 1, frame, yuv), 0, "more pictures than frames");
    cr_assert_eq(n, FPS * SECONDS);
    cr_assert(intra > 1 && intra < n, "%ld I frames of %ld", intra, n);
    cr_assert_eq(filmmark_detector_result(plain, &rp, &err), 0, "%s", err.message);
    cr_assert_eq(filmmark_detector_result(weighted, &rw, &err), 0, "%s", err.message);
    cr_assert_eq(filmmark_detect_file(k, media("copy.mp4"), NULL, &rf, &err), 0, "%s",
                 err.message);
    cr_log_info("x264 copy, %ld I frames of %ld: unweighted z %.2f, BER %.2f%%, p 10^%.1f; "
                "I frames x%g: z %.2f, BER %.2f%%, p 10^%.1f", intra, n, rp.pilot_z,
                100 * rp.raw_ber, rp.false_alarm_log10, (double)FILMMARK_INTRA_WEIGHT,
                rw.pilot_z, 100 * rw.raw_ber, rw.false_alarm_log10);
    assert_marked(&rw, "x264 copy, I frames weighted");
    cr_assert(rw.pilot_z != rp.pilot_z && rw.false_alarm_log10 != rp.false_alarm_log10,
              "the weights changed nothing (z %g)", rw.pilot_z);
    assert_same_result(&rw, &rf, "weighted frames against filmmark_detect_file");
    fclose(yuv);
    fclose(types);
    free(buf);
    filmmark_detector_free(&plain);
    filmmark_detector_free(&weighted);
    filmmark_keys_free(&k);
}

Test(api, still_picture_verifies)
{
    FilmmarkKeys *k = keys_from(media("keys"));
    FilmmarkResult res;
    FilmmarkError err;
    cr_assert_eq(filmmark_detect_file(k, media("still.png"), NULL, &res, &err), 0, "%s",
                 err.message);
    assert_marked(&res, "still.png");
    cr_assert_eq(res.frames_read, 1);
    filmmark_keys_free(&k);
}

Test(api, unmarked_master_and_wrong_key_find_nothing)
{
    FilmmarkKeys *k = keys_from(media("keys"));
    FilmmarkResult res;
    FilmmarkError err;
    cr_assert_eq(filmmark_detect_file(k, media("master.mp4"), NULL, &res, &err), 0, "%s",
                 err.message);
    cr_assert(!res.found && !res.verified, "unmarked master: p = %g", res.false_alarm_probability);
    cr_assert_gt(res.false_alarm_log10, -9);
    cr_assert_eq(res.title_id, 0);
    cr_assert_eq(res.recipient_id, 0);
    cr_assert_str_eq(res.issued, "");
    filmmark_keys_free(&k);
    k = keys_from(media("b.dkey"));
    cr_assert_eq(filmmark_detect_file(k, media("marked.mkv"), NULL, &res, &err), 0);
    cr_assert(!res.verified, "verified under another key");
    cr_assert_gt(res.false_alarm_log10, -9);
    filmmark_keys_free(&k);
}

Test(api, start_and_duration_limit_the_frames)
{
    FilmmarkKeys *k = keys_from(media("a.dkey"));
    FilmmarkResult res;
    FilmmarkError err;
    FilmmarkFileOptions o = { .start = 1.0, .duration = 2.0, .threads = 2 };
    cr_assert_eq(filmmark_detect_file(k, media("marked.mkv"), &o, &res, &err), 0, "%s",
                 err.message);
    cr_assert_eq(res.frames_read, 2 * FPS);
    assert_marked(&res, "1 s to 3 s");
    o = (FilmmarkFileOptions){ .start = 60 };
    cr_assert_eq(filmmark_detect_file(k, media("marked.mkv"), &o, &res, &err), FILMMARK_EINVAL);
    cr_assert(strstr(err.message, "after the end"), "%s", err.message);
    filmmark_keys_free(&k);
}

Test(api, errors_are_codes_and_one_line)
{
    FilmmarkKeys *k = NULL;
    FilmmarkDetector *det = NULL;
    FilmmarkResult res;
    FilmmarkError err;
    cr_assert_eq(filmmark_keys_new(&k, &err), 0);
    int r = filmmark_keys_add_file(k, media("no-such.dkey"), &err);
    cr_assert_lt(r, 0);
    cr_assert_eq(err.code, r);
    cr_assert(strstr(err.message, "no-such.dkey") && !strchr(err.message, '\n'), "%s",
              err.message);
    cr_assert_eq(filmmark_detector_new(&det, k, W, H, 0, &err), FILMMARK_EINVAL,
                 "a detector without keys");
    cr_assert_eq(filmmark_keys_add_file(k, media("a.dkey"), &err), 0);
    cr_assert_eq(filmmark_keys_add_file(k, media("a.dkey"), &err), 0);
    cr_assert_eq(filmmark_keys_count(k), 1, "the same key twice");
    cr_assert_eq(filmmark_keys_add_dir(k, media("keys"), NULL, NULL, &err), 2);
    cr_assert_eq(filmmark_detect_file(k, media("nothing.mp4"), NULL, &res, &err) < 0, 1);
    cr_assert(strstr(err.message, "nothing.mp4"), "%s", err.message);
    cr_assert_eq(filmmark_detector_new(&det, k, 8, 8, 0, &err), FILMMARK_EINVAL);
    cr_assert_null(det);
    cr_assert_eq(filmmark_detector_new(&det, k, W, H, 0, &err), 0);
    cr_assert_eq(filmmark_detector_result(det, &res, &err), FILMMARK_EFORMAT, "no frame yet");
    static uint8_t plane[W * H];
    cr_assert_eq(filmmark_detector_add_frame(det, plane, W, 7, 0, &err), FILMMARK_EINVAL);
    cr_assert_eq(filmmark_detector_add_frame(det, plane, W - 1, 8, 0, &err), FILMMARK_EINVAL);
    cr_assert_eq(filmmark_detector_add_frame(det, plane, W, 8, NAN, &err), FILMMARK_EINVAL);
    cr_assert_eq(filmmark_detector_add_frame(det, NULL, W, 8, 0, &err), FILMMARK_EINVAL);
    cr_assert_eq(filmmark_detector_add_frame(det, plane, W, 8, 0, &err), 0, "%s", err.message);
    cr_assert_eq(filmmark_detector_add_frame_weighted(det, plane, W, 8, 0, 0.0f, &err),
                 FILMMARK_EINVAL);
    cr_assert(strstr(err.message, "weight"), "%s", err.message);
    filmmark_detector_free(&det);
    filmmark_detector_free(&det);   /* NULL: a no-op */
    cr_assert_eq(filmmark_keys_fingerprint(k, 2, (char[17]){ 0 }, &err), FILMMARK_EINVAL);
    filmmark_keys_free(&k);
    cr_assert_str_eq(filmmark_strerror(FILMMARK_ENOMEM), "out of memory");
    cr_assert_not_null(filmmark_strerror(12345));
    cr_assert_not_null(filmmark_version());
}
