/*
 * test_formats.c - wmembed takes the masters the product promises (README,
 * man/wmembed.1: "anything FFmpeg decodes", 8/10-bit, 4:2:0/4:2:2) and the
 * mark survives in each.
 *
 * Each master is made with the ffmpeg CLI from the first 3 s of the real
 * clip samples/sample.mkv (768x576, 10 fps), scaled to 480x360: 4:3 like
 * the sample and exactly the mark grid's 360 rows (smaller pictures get a
 * finer, weaker grid; README "Limitations"). Every test marks its master
 * into an FFV1 deliverable (which can store every one of these pixel
 * formats) and checks, with ffprobe, that the deliverable keeps picture
 * size, frame count, frame rate, frame timestamps (so also duration), pixel
 * format and each colour property the master was tagged with, and that
 * wmdetect finds the mark with a valid signature and the right ids. One more
 * test encodes the 10-bit 4:2:2 ProRes master to VP9, wmembed's default.
 *
 * Deterministic: a fixed key (tu_fixed_key), a fixed issue time, and the
 * masters are encoded single-threaded and muxed bit-exact (no random
 * Matroska/MXF ids), so each master is the same file on every run.
 *
 * Findings made while writing it (FFmpeg 5.1, Debian 12):
 *  - the mxf and mxf_opatom muxers both refuse the sample's 10 fps
 *    ("Unsupported frame rate 10/1", only -strict unofficial lets it
 *    through), so the DNxHR master is converted to 25 fps, a rate MXF
 *    takes; mxf (OP1a) then takes DNxHR SQ 480x360 4:2:2 without complaint;
 *  - mpeg2video does code 10 fps (via frame_rate_extension), but the MPEG-2
 *    master uses 25 fps, a standard broadcast rate; the MPEG-PS master
 *    starts at 0.54 s, a timestamp offset wmembed must keep;
 *  - prores_ks takes its colour properties from the frames, not from the
 *    -color_* output options, so the colour tags are also set on the frames
 *    with the setparams filter.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "keys.h"
#include "testutil.h"

#define SAMPLE FM_SOURCE_DIR "/samples/sample.mkv"
#define FFMPEG "ffmpeg -nostdin -hide_banner -loglevel error -y"
/* the part of the sample used and the masters' picture size */
#define SECONDS "3"
#define SCALE "scale=480:360"
#define WIDTH 480
#define HEIGHT 360
#define TITLE_ID 5
#define RECIPIENT_ID 6
#define ISSUED "2026-11-23T19:54Z"
#define KEY_SEED 11

static char *dir;   /* per test */

static void setup(void)
{
    dir = tu_mkdtemp();
    umask(022);
    /* a sanitizer build's tools must not exit 1 ("no watermark") when they crash */
    setenv("ASAN_OPTIONS", "exitcode=86", 0);
    unsetenv("FILMMARK_KEYS");
    setenv("HOME", dir, 1);

    /* dir/key.key and dir/key.dkey of tu_fixed_key(KEY_SEED) */
    FmError err = { { 0 } };
    cr_assert_eq(fm_init(&err), 0, "fm_init: %s", err.msg);
    FmKey *secret = fm_key_new(), *detect = fm_key_new();
    cr_assert(secret && detect, "out of secure memory");
    tu_fixed_key(secret, KEY_SEED);
    cr_assert_eq(fm_key_derive(secret, FM_KEY_DETECT, detect, &err), 0, "%s", err.msg);
    char *k = tu_path(dir, "key.key"), *dk = tu_path(dir, "key.dkey");
    cr_assert_eq(fm_key_save(secret, k, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_save(detect, dk, 1, &err), 0, "%s", err.msg);
    free(k);
    free(dk);
    fm_key_free(&secret);
    fm_key_free(&detect);
}

static void teardown(void)
{
    tu_rmtree(dir);
    dir = NULL;
}

TestSuite(formats, .init = setup, .fini = teardown, .timeout = 600);

/* ---- masters ---- */

/* Colour properties, in the names both ffmpeg's options and ffprobe use. */
typedef struct Colour {
    const char *primaries, *trc, *space, *range;
} Colour;

static const Colour BT709 = { "bt709", "bt709", "bt709", "tv" };
static const Colour PQ2020 = { "bt2020", "smpte2084", "bt2020nc", "tv" };
static const Colour SD_FULL = { "smpte170m", "smpte170m", "smpte170m", "pc" };

typedef struct Master {
    const char *file;      /* its extension picks the container */
    const char *filters;   /* after the scale filter ("" or ",...") */
    const char *encode;    /* ffmpeg output options */
    const Colour *colour;  /* tags set on the master, or NULL for none */
    /* what the master must then be, checked before it is marked */
    const char *codec, *pix_fmt, *rate;
    int frames;
} Master;

static const Master H264_MP4 = {
    "h264.mp4", "", "-c:v libx264 -preset veryfast -crf 16 -pix_fmt yuv420p", &BT709,
    "h264", "yuv420p", "10/1", 30 };
static const Master H264_422P10_MOV = {
    "h264_422p10.mov", "",
    "-c:v libx264 -preset veryfast -crf 16 -profile:v high422 -pix_fmt yuv422p10le", NULL,
    "h264", "yuv422p10le", "10/1", 30 };
static const Master HEVC_MKV = {
    "hevc.mkv", "",
    "-c:v libx265 -preset ultrafast -crf 18 -pix_fmt yuv420p -x265-params log-level=error",
    NULL, "hevc", "yuv420p", "10/1", 30 };
static const Master HEVC_420P10_MP4 = {
    "hevc_420p10.mp4", "",
    "-c:v libx265 -preset ultrafast -crf 18 -pix_fmt yuv420p10le -x265-params log-level=error"
    " -tag:v hvc1", &PQ2020, "hevc", "yuv420p10le", "10/1", 30 };
static const Master PRORES_MOV = {
    "prores_hq.mov", "", "-c:v prores_ks -profile:v hq -pix_fmt yuv422p10le", &BT709,
    "prores", "yuv422p10le", "10/1", 30 };
/* 25 fps: mxf and mxf_opatom refuse 10 fps (see the top of the file) */
static const Master DNXHR_MXF = {
    "dnxhr_sq.mxf", ",fps=25", "-c:v dnxhd -profile:v dnxhr_sq -pix_fmt yuv422p -f mxf", NULL,
    "dnxhd", "yuv422p", "25/1", 75 };
static const Master FFV1_MKV = {
    "ffv1_422p10.mkv", "", "-c:v ffv1 -level 3 -pix_fmt yuv422p10le", &SD_FULL,
    "ffv1", "yuv422p10le", "10/1", 30 };
static const Master MPEG2_MPG = {
    "mpeg2.mpg", ",fps=25", "-c:v mpeg2video -q:v 3 -pix_fmt yuv420p -f mpeg", NULL,
    "mpeg2video", "yuv420p", "25/1", 75 };
static const Master VP9_WEBM = {
    "vp9.webm", "",
    "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -crf 20 -b:v 0 -pix_fmt yuv420p", NULL,
    "vp9", "yuv420p", "10/1", 30 };

static char *make_master(const Master *m)
{
    char tags[256] = "", opts[256] = "";
    if (m->colour) {
        const Colour *c = m->colour;
        /* on the frames (prores_ks reads them there) and on the encoder */
        snprintf(tags, sizeof tags,
                 ",setparams=color_primaries=%s:color_trc=%s:colorspace=%s:range=%s",
                 c->primaries, c->trc, c->space, c->range);
        snprintf(opts, sizeof opts,
                 " -color_primaries %s -color_trc %s -colorspace %s -color_range %s",
                 c->primaries, c->trc, c->space, c->range);
    }
    char *path = tu_path(dir, m->file);
    cr_assert_eq(tu_sh(FFMPEG " -t " SECONDS " -i '%s' -map 0:v:0 -an -threads 1"
                       " -fflags +bitexact -vf " SCALE "%s%s %s%s '%s'",
                       SAMPLE, m->filters, tags, m->encode, opts, path),
                 0, "ffmpeg could not make the master %s", m->file);
    return path;
}

/* ---- running the tools ---- */

typedef TuRunResult Run;

/* Runs prog (a path) with the NULL-terminated arguments. */
static Run run(const char *prog, ...)
{
    va_list ap;
    va_start(ap, prog);
    Run r = tu_run_va(prog, ap);
    va_end(ap);
    cr_assert_geq(r.rc, 0, "could not run %s", prog);
    return r;
}

static json_t *parse(const char *text, const char *what)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert_not_null(j, "%s: output is not one JSON document (%s, line %d): %s", what, e.text,
                       e.line, text);
    cr_assert(json_is_object(j), "%s: JSON is not an object", what);
    return j;
}

/* ---- ffprobe ---- */

typedef struct Probe {
    char codec[32], profile[32], pix_fmt[32], r_rate[32], avg_rate[32];
    char colour[4][32];   /* primaries, transfer, matrix, range; "unknown" if untagged */
    int width, height, frames;
    double first, last;   /* first and last frame timestamps, seconds */
} Probe;

static const char *const colour_key[4] = { "color_primaries", "color_transfer", "color_space",
                                           "color_range" };

static void copy_str(char *to, size_t size, json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    snprintf(to, size, "%s", s ? s : dflt);
}

/* The first video stream of path, every frame decoded; ffprobe must report
 * no error. */
static Probe probe(const char *path)
{
    Run r = run("/usr/bin/env", "ffprobe", "-v", "error", "-select_streams", "v:0",
                "-show_entries",
                "stream=codec_name,profile,width,height,pix_fmt,r_frame_rate,avg_frame_rate,"
                "color_primaries,color_transfer,color_space,color_range"
                ":frame=best_effort_timestamp_time",
                "-of", "json", path, NULL);
    cr_assert_eq(r.rc, 0, "ffprobe %s: exit %d: %s", path, r.rc, r.err);
    cr_assert_str_empty(r.err, "ffprobe %s reports errors: %s", path, r.err);
    json_t *j = parse(r.out, "ffprobe");
    json_t *st = json_array_get(json_object_get(j, "streams"), 0);
    cr_assert(json_is_object(st), "%s: no video stream", path);
    Probe p;
    memset(&p, 0, sizeof p);
    copy_str(p.codec, sizeof p.codec, st, "codec_name", "");
    copy_str(p.profile, sizeof p.profile, st, "profile", "");
    copy_str(p.pix_fmt, sizeof p.pix_fmt, st, "pix_fmt", "");
    copy_str(p.r_rate, sizeof p.r_rate, st, "r_frame_rate", "");
    copy_str(p.avg_rate, sizeof p.avg_rate, st, "avg_frame_rate", "");
    for (int i = 0; i < 4; i++)
        copy_str(p.colour[i], sizeof p.colour[i], st, colour_key[i], "unknown");
    p.width = (int)json_integer_value(json_object_get(st, "width"));
    p.height = (int)json_integer_value(json_object_get(st, "height"));
    json_t *frames = json_object_get(j, "frames");
    cr_assert(json_is_array(frames), "%s: ffprobe listed no frames", path);
    p.frames = (int)json_array_size(frames);
    p.first = p.last = NAN;
    for (size_t i = 0; i < json_array_size(frames); i++) {
        const char *t = json_string_value(
            json_object_get(json_array_get(frames, i), "best_effort_timestamp_time"));
        cr_assert_not_null(t, "%s: frame %zu has no timestamp", path, i);
        double v = strtod(t, NULL);
        if (i == 0)
            p.first = v;
        p.last = v;
    }
    json_decref(j);
    tu_run_result_free(&r);
    return p;
}

/* The master is what the test meant to make (else the checks on the
 * deliverable could pass vacuously, e.g. with colour tags ffmpeg dropped). */
static Probe probe_master(const Master *m, const char *path)
{
    Probe p = probe(path);
    cr_assert_str_eq(p.codec, m->codec, "%s: codec", m->file);
    cr_assert_str_eq(p.pix_fmt, m->pix_fmt, "%s: pixel format", m->file);
    cr_assert_eq(p.width, WIDTH, "%s: width", m->file);
    cr_assert_eq(p.height, HEIGHT, "%s: height", m->file);
    cr_assert_str_eq(p.r_rate, m->rate, "%s: frame rate", m->file);
    cr_assert_eq(p.frames, m->frames, "%s: %d frames, expected %d", m->file, p.frames,
                 m->frames);
    if (m->colour) {
        const char *want[4] = { m->colour->primaries, m->colour->trc, m->colour->space,
                                m->colour->range };
        for (int i = 0; i < 4; i++)
            cr_assert_str_eq(p.colour[i], want[i], "%s: %s", m->file, colour_key[i]);
    }
    return p;
}

/* What the deliverable must keep of the master (the pixel format only when
 * same_pix_fmt; the caller checks it otherwise). */
static void expect_kept(const Probe *m, const Probe *o, const char *what, int same_pix_fmt)
{
    cr_assert_eq(o->width, m->width, "%s: width %d, master %d", what, o->width, m->width);
    cr_assert_eq(o->height, m->height, "%s: height %d, master %d", what, o->height, m->height);
    cr_assert_eq(o->frames, m->frames, "%s: %d frames, master %d", what, o->frames, m->frames);
    cr_assert_str_eq(o->r_rate, m->r_rate, "%s: frame rate", what);
    cr_assert_str_eq(o->avg_rate, m->avg_rate, "%s: average frame rate", what);
    /* the timestamps, and so the duration, within half a frame */
    int num = 0, den = 0;
    cr_assert_eq(sscanf(m->r_rate, "%d/%d", &num, &den), 2);
    double half = 0.5 * den / num;
    cr_assert(fabs(o->first - m->first) < half, "%s: first frame at %.3f s, master %.3f s",
              what, o->first, m->first);
    cr_assert(fabs(o->last - m->last) < half, "%s: last frame at %.3f s, master %.3f s", what,
              o->last, m->last);
    if (same_pix_fmt)
        cr_assert_str_eq(o->pix_fmt, m->pix_fmt, "%s: pixel format", what);
    for (int i = 0; i < 4; i++)
        if (strcmp(m->colour[i], "unknown") != 0)
            cr_assert_str_eq(o->colour[i], m->colour[i], "%s: %s", what, colour_key[i]);
}

/* ---- embed and detect ---- */

static void embed(const char *master, const char *out, const char *codec, int frames)
{
    char *key = tu_path(dir, "key.key"), tid[16], rid[16];
    snprintf(tid, sizeof tid, "%d", TITLE_ID);
    snprintf(rid, sizeof rid, "%d", RECIPIENT_ID);
    Run r = run(FM_BUILD_DIR "/wmembed", "-k", key, "-i", master, "-o", out, "--codec", codec,
                "--title-id", tid, "--recipient-id", rid, "--issued", ISSUED, "--json",
                "--force", NULL);
    cr_assert_eq(r.rc, 0, "wmembed %s: exit %d: %s", master, r.rc, r.err);
    json_t *j = parse(r.out, "wmembed --json");
    cr_assert_str_eq(json_string_value(json_object_get(j, "codec")), codec);
    cr_assert_eq(json_integer_value(json_object_get(j, "frames")), frames, "wmembed frames");
    cr_assert_eq(json_integer_value(json_object_get(j, "width")), WIDTH);
    cr_assert_eq(json_integer_value(json_object_get(j, "height")), HEIGHT);
    cr_log_info("%s: marked %d frames, luma PSNR %.1f dB", master, frames,
                json_number_value(json_object_get(j, "luma_psnr_db")));
    json_decref(j);
    tu_run_result_free(&r);
    free(key);
}

/* wmdetect finds the mark: exit 0, signature valid, the ids and time signed. */
static void expect_detected(const char *out)
{
    char *dkey = tu_path(dir, "key.dkey");
    Run r = run(FM_BUILD_DIR "/wmdetect", "-k", dkey, "--json", out, NULL);
    cr_assert_eq(r.rc, 0, "wmdetect %s: exit %d: %s%s", out, r.rc, r.out, r.err);
    json_t *j = parse(r.out, "wmdetect --json");
    cr_assert(json_is_true(json_object_get(j, "found")), "%s: not found", out);
    cr_assert(json_is_true(json_object_get(j, "signature_valid")), "%s: signature not valid",
              out);
    cr_assert_eq(json_integer_value(json_object_get(j, "title_id")), TITLE_ID);
    cr_assert_eq(json_integer_value(json_object_get(j, "recipient_id")), RECIPIENT_ID);
    cr_assert_str_eq(json_string_value(json_object_get(j, "issued")), ISSUED);
    cr_log_info("%s: detected, pilot z %.1f, raw bit errors %.1f %%, list rank %lld", out,
                json_number_value(json_object_get(j, "pilot_z")),
                100 * json_number_value(json_object_get(j, "raw_bit_error_rate")),
                (long long)json_integer_value(json_object_get(j, "decoder_list_rank")));
    json_decref(j);
    tu_run_result_free(&r);
    free(dkey);
}

/* The whole check for one master, into a lossless FFV1 deliverable, which
 * can hold each of the masters' pixel formats: all must be kept. */
static void check_master(const Master *m)
{
    char *master = make_master(m);
    Probe pm = probe_master(m, master);
    char name[96];
    snprintf(name, sizeof name, "%s.marked.mkv", m->file);
    char *out = tu_path(dir, name);
    embed(master, out, "ffv1", pm.frames);
    Probe po = probe(out);
    cr_assert_str_eq(po.codec, "ffv1", "%s: deliverable codec", name);
    expect_kept(&pm, &po, name, 1);
    expect_detected(out);
    free(master);
    free(out);
}

/* ---- the masters ---- */

Test(formats, h264_8bit_420_mp4)
{
    check_master(&H264_MP4);
}

Test(formats, h264_10bit_422_mov)
{
    /* High 4:2:2 needs a libx264 built for high bit depth (Debian 12's is) */
    if (tu_sh(FFMPEG " -f lavfi -i testsrc2=size=64x64:rate=10 -t 0.2 -c:v libx264"
              " -profile:v high422 -pix_fmt yuv422p10le -f null - 2>/dev/null") != 0)
        cr_skip_test("this libx264 cannot encode High 4:2:2 10-bit");
    check_master(&H264_422P10_MOV);
}

Test(formats, hevc_8bit_420_mkv)
{
    check_master(&HEVC_MKV);
}

Test(formats, hevc_10bit_420_mp4_pq)
{
    check_master(&HEVC_420P10_MP4);
}

Test(formats, prores_hq_10bit_422_mov)
{
    check_master(&PRORES_MOV);
}

Test(formats, dnxhr_sq_8bit_422_mxf)
{
    check_master(&DNXHR_MXF);
}

Test(formats, ffv1_10bit_422_mkv_full_range)
{
    check_master(&FFV1_MKV);
}

Test(formats, mpeg2_8bit_420_mpg)
{
    check_master(&MPEG2_MPG);
}

Test(formats, vp9_8bit_420_webm)
{
    check_master(&VP9_WEBM);
}

/*
 * The default deliverable codec, VP9 in WebM, from the 10-bit 4:2:2 ProRes
 * master. man/wmembed.1 promises the master's pixel format "where the
 * encoder accepts it (else the nearest one it does)" and README "where the
 * codec allows"; libvpx-vp9 takes yuv422p10le (VP9 profile 3), so the
 * deliverable must be yuv422p10le.
 */
Test(formats, prores_to_vp9_webm)
{
    char *master = make_master(&PRORES_MOV);
    Probe pm = probe_master(&PRORES_MOV, master);
    char *out = tu_path(dir, "prores.marked.webm");
    embed(master, out, "vp9", pm.frames);
    Probe po = probe(out);
    cr_assert_str_eq(po.codec, "vp9", "VP9 deliverable codec");
    expect_kept(&pm, &po, "VP9 deliverable", 0);
    cr_assert_str_eq(po.pix_fmt, "yuv422p10le",
                     "VP9 deliverable of a yuv422p10le master is %s (%s)", po.pix_fmt,
                     po.profile);
    cr_assert_str_eq(po.profile, "Profile 3", "VP9 profile for 10-bit 4:2:2");
    expect_detected(out);
    free(master);
    free(out);
}
