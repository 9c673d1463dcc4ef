/*
 * test_video_io.c - the FFmpeg reader and writer (common/video_io.c).
 *
 * Test media are made once per run with the ffmpeg CLI in a temporary
 * directory (its name travels to the test processes in FM_VIO_MEDIA).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>

#include "testutil.h"
#include "video_io.h"

/* One ffmpeg run makes every test file: inputs, then one output per file. */
static const char *const inputs =
    "-t 1 -f lavfi -i testsrc2=size=320x240:rate=24,scale=321:241 " /* 0: odd size */
    "-t 1 -f lavfi -i sine=frequency=440:sample_rate=44100 "        /* 1 */
    "-t 1 -f lavfi -i sine=frequency=300:sample_rate=48000 "        /* 2 */
    "-t 1 -f lavfi -i testsrc2=size=320x240:rate=25 "               /* 3 */
    "-t 0.3 -f lavfi -i testsrc2=size=64x48:rate=10 "               /* 4: small */
    "-t 0.4 -f lavfi -i testsrc2=size=176x144:rate=25 ";            /* 5 */

/* name, output options */
static const char *const media[][2] = {
    /* 4:2:0 8-bit, odd size, PCM audio */
    { "a.mkv", "-map 0:v -map 1:a -c:v ffv1 -pix_fmt yuv420p -c:a pcm_s16le" },
    /* 4:2:2 10-bit, odd size, AAC stereo */
    { "b.mkv", "-map 0:v -map 2:a -c:v ffv1 -pix_fmt yuv422p10le -c:a aac -ac 2" },
    /* H.264 with B-frames and a short GOP, AAC */
    { "c.mp4", "-map 3:v -map 1:a -c:v libx264 -preset ultrafast -bf 2 -g 10 -pix_fmt yuv420p "
               "-c:a aac" },
    { "rgb.mov", "-map 4:v -c:v png -pix_fmt rgb24" },
    { "jpeg.avi", "-map 4:v -c:v mjpeg -pix_fmt yuvj422p" },
    { "p16.nut", "-map 4:v -c:v rawvideo -pix_fmt yuv444p16le" },
    { "nv12.nut", "-map 4:v -c:v rawvideo -pix_fmt nv12" },
    { "p12.mkv", "-map 4:v -c:v ffv1 -pix_fmt yuv420p12le" },
    /* two H.264 streams of different size and chroma, concatenated below */
    { "part1.h264", "-map 3:v -frames:v 10 -c:v libx264 -preset ultrafast -pix_fmt yuv420p" },
    { "part2.h264", "-map 5:v -frames:v 10 -c:v libx264 -preset ultrafast -pix_fmt yuv444p" },
    { "sine.wav", "-map 1:a" },
    /* long GOP in MPEG-TS: no index, seeks land on non-keyframes */
    { "d.ts", "-map 3:v -map 1:a -c:v libx264 -preset ultrafast -g 250 -c:a mp2" },
    /* Opus audio, which MOV cannot take */
    { "e.mkv", "-map 4:v -map 2:a -c:v ffv1 -c:a libopus" },
};

static char *media_dir;  /* in the test processes */
static char *out_dir;    /* per test */

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
    snprintf(cmd, sizeof cmd, "cat '%s/part1.h264' '%s/part2.h264' > '%s/mixed.h264'", dir, dir,
             dir);
    if (system(cmd) != 0)
        abort();
    char *txt = tu_path(dir, "notes.txt");
    const char text[] = "This is not a video.\nJust some text.\n";
    if (tu_write_file(txt, text, sizeof text - 1, 0644) != 0)
        abort();
    free(txt);
    setenv("FM_VIO_MEDIA", dir, 1);
    free(dir);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    const char *d = getenv("FM_VIO_MEDIA");
    if (d)
        tu_rmtree(strdup(d));
}

static void setup(void)
{
    av_log_set_level(AV_LOG_QUIET);
    const char *d = getenv("FM_VIO_MEDIA");
    cr_assert(d, "media not generated");
    media_dir = strdup(d);
    out_dir = tu_mkdtemp();
}

static void teardown(void)
{
    free(media_dir);
    media_dir = NULL;
    tu_rmtree(out_dir);
    out_dir = NULL;
}

TestSuite(video_io, .init = setup, .fini = teardown, .timeout = 120);

static char *src(const char *name)
{
    return tu_path(media_dir, name);
}

static char *out(const char *name)
{
    return tu_path(out_dir, name);
}

/* Number of entries in out_dir (temporary files included). */
static int out_dir_entries(void)
{
    DIR *d = opendir(out_dir);
    cr_assert(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* Reads all of path; returns the frame count, checks every frame on the way. */
static int read_all(const char *path, FmVideoInfo *info_out)
{
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    cr_assert_eq(fm_reader_open(&r, path, &err), 0, "%s", err.msg);
    const FmVideoInfo *info = fm_reader_info(r);
    if (info_out)
        *info_out = *info;
    AVFrame *f;
    int n = 0, ret;
    int64_t last = INT64_MIN;
    while ((ret = fm_reader_next(r, &f, &err)) == 1) {
        cr_assert_eq(f->width, info->width);
        cr_assert_eq(f->height, info->height);
        cr_assert_eq(f->format, info->pix_fmt, "frame %s, info %s",
                     av_get_pix_fmt_name(f->format), av_get_pix_fmt_name(info->pix_fmt));
        cr_assert(av_frame_is_writable(f));
        cr_assert_gt(f->pts, last, "pts not increasing");
        last = f->pts;
        n++;
    }
    cr_assert_eq(ret, 0, "%s", err.msg);
    fm_reader_close(&r);
    cr_assert_null(r);
    return n;
}

/* Decodes in and encodes every frame to outp. Returns the frame count. */
static int transcode(const char *in, const char *outp, FmCodec codec, const char *audio_from)
{
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    FmVideoWriter *w = NULL;
    cr_assert_eq(fm_reader_open(&r, in, &err), 0, "%s", err.msg);
    FmWriterOptions opt = { .codec = codec, .crf = -1, .threads = 2, .audio_from = audio_from };
    cr_assert_eq(fm_writer_open(&w, outp, fm_reader_info(r), &opt, &err), 0, "%s", err.msg);
    AVFrame *f;
    int n = 0, ret;
    while ((ret = fm_reader_next(r, &f, &err)) == 1) {
        cr_assert_eq(fm_writer_write(w, f, &err), 0, "%s", err.msg);
        n++;
    }
    cr_assert_eq(ret, 0, "%s", err.msg);
    cr_assert_eq(fm_writer_finish(w, &err), 0, "%s", err.msg);
    fm_writer_close(&w);
    fm_reader_close(&r);
    return n;
}

typedef struct Probe {
    int nb_streams;
    enum AVCodecID video, audio;
    char format[64];
} Probe;

static Probe probe(const char *path)
{
    Probe p = { 0, AV_CODEC_ID_NONE, AV_CODEC_ID_NONE, "" };
    AVFormatContext *fmt = NULL;
    cr_assert_eq(avformat_open_input(&fmt, path, NULL, NULL), 0, "cannot open %s", path);
    cr_assert_geq(avformat_find_stream_info(fmt, NULL), 0);
    p.nb_streams = (int)fmt->nb_streams;
    snprintf(p.format, sizeof p.format, "%s", fmt->iformat->name);
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVCodecParameters *par = fmt->streams[i]->codecpar;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO)
            p.video = par->codec_id;
        else if (par->codec_type == AVMEDIA_TYPE_AUDIO)
            p.audio = par->codec_id;
    }
    avformat_close_input(&fmt);
    return p;
}

/* ---- names ---- */

Test(video_io, codec_names)
{
    const char *names[] = { "vp9", "h264", "ffv1" };
    for (int i = 0; i < 3; i++) {
        FmCodec c;
        cr_assert_eq(fm_codec_from_name(names[i], &c), 0);
        cr_assert_eq((int)c, i);
        cr_assert_str_eq(fm_codec_name(c), names[i]);
    }
    FmCodec c;
    cr_assert_eq(fm_codec_from_name("mpeg2", &c), FM_EINVAL);
    cr_assert_eq(fm_codec_from_name(NULL, &c), FM_EINVAL);
}

/* ---- reader errors ---- */

Test(video_io, missing_file)
{
    FmError err = { { 0 } };
    FmVideoReader *r = (FmVideoReader *)1;
    char *p = out("nothing-here.mp4");
    cr_assert_eq(fm_reader_open(&r, p, &err), FM_EIO);
    cr_assert_null(r);
    char want[600];
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory", p);
    cr_assert_str_eq(err.msg, want);
    free(p);
}

Test(video_io, text_file)
{
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    char *p = src("notes.txt");
    int ret = fm_reader_open(&r, p, &err);
    cr_assert_eq(ret, FM_EFORMAT, "%d %s", ret, err.msg);
    cr_assert_null(r);
    cr_assert(strstr(err.msg, p), "%s", err.msg);
    cr_assert_null(strchr(err.msg, '\n'));
    free(p);
}

Test(video_io, audio_only)
{
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    char *p = src("sine.wav");
    cr_assert_eq(fm_reader_open(&r, p, &err), FM_EFORMAT);
    char want[600];
    snprintf(want, sizeof want, "'%s' has no video stream", p);
    cr_assert_str_eq(err.msg, want);
    free(p);
}

/* ---- reader ---- */

Test(video_io, reader_info_and_frames)
{
    char *p = src("a.mkv");
    FmVideoInfo info;
    int n = read_all(p, &info);
    cr_assert_eq(n, 24);
    cr_assert_eq(info.width, 321);
    cr_assert_eq(info.height, 241);
    cr_assert_eq(info.pix_fmt, AV_PIX_FMT_YUV420P);
    cr_assert_eq(info.bit_depth, 8);
    cr_assert_eq(av_cmp_q(info.frame_rate, (AVRational){ 24, 1 }), 0);
    cr_assert(info.has_audio);
    cr_assert_str_eq(info.codec_name, "ffv1");
    cr_assert_float_eq(info.duration, 1.0, 0.05);
    cr_assert(info.nb_frames >= 23 && info.nb_frames <= 25, "%lld", (long long)info.nb_frames);
    free(p);
}

Test(video_io, reader_formats)
{
    static const struct {
        const char *name;
        enum AVPixelFormat fmt;
        int depth;
        enum AVColorRange range;
    } cases[] = {
        { "b.mkv", AV_PIX_FMT_YUV422P10LE, 10, AVCOL_RANGE_UNSPECIFIED },
        { "p12.mkv", AV_PIX_FMT_YUV420P12LE, 12, AVCOL_RANGE_UNSPECIFIED },
        { "rgb.mov", AV_PIX_FMT_YUV444P, 8, AVCOL_RANGE_MPEG },
        { "jpeg.avi", AV_PIX_FMT_YUV422P, 8, AVCOL_RANGE_JPEG },
        { "p16.nut", AV_PIX_FMT_YUV444P12LE, 12, AVCOL_RANGE_UNSPECIFIED },
        { "nv12.nut", AV_PIX_FMT_YUV420P, 8, AVCOL_RANGE_UNSPECIFIED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = src(cases[i].name);
        FmVideoInfo info;
        int n = read_all(p, &info);
        cr_assert_gt(n, 0, "%s", cases[i].name);
        cr_assert_eq(info.pix_fmt, cases[i].fmt, "%s: %s", cases[i].name,
                     av_get_pix_fmt_name(info.pix_fmt));
        cr_assert_eq(info.bit_depth, cases[i].depth, "%s", cases[i].name);
        if (cases[i].range != AVCOL_RANGE_UNSPECIFIED)
            cr_assert_eq(info.color_range, cases[i].range, "%s", cases[i].name);
        free(p);
    }
}

/* An RGB picture must come out as YUV that looks the same: testsrc2 has
 * saturated colour bars, so a wrong matrix or range shows up in chroma. */
Test(video_io, reader_rgb_conversion_values)
{
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    char *p = src("rgb.mov");
    cr_assert_eq(fm_reader_open(&r, p, &err), 0, "%s", err.msg);
    AVFrame *f;
    cr_assert_eq(fm_reader_next(r, &f, &err), 1, "%s", err.msg);
    /* Video range luma stays within 16..235 */
    for (int y = 0; y < f->height; y++)
        for (int x = 0; x < f->width; x++) {
            int v = f->data[0][y * f->linesize[0] + x];
            cr_assert(v >= 16 && v <= 235, "luma %d at %d,%d", v, x, y);
        }
    fm_reader_close(&r);
    free(p);
}

Test(video_io, reader_size_and_format_change)
{
    char *p = src("mixed.h264");
    FmVideoInfo info;
    int n = read_all(p, &info);
    cr_assert_eq(n, 20);
    cr_assert_eq(info.width, 320);
    cr_assert_eq(info.height, 240);
    cr_assert_eq(info.pix_fmt, AV_PIX_FMT_YUV420P);
    free(p);
}

static void check_seek(const char *name, double t, int want_left)
{
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    char *p = src(name);
    cr_assert_eq(fm_reader_open(&r, p, &err), 0, "%s", err.msg);
    const FmVideoInfo *info = fm_reader_info(r);
    AVFrame *f;
    /* read a little first, so the seek goes backwards too; t counts from
     * the first frame (MPEG-TS timestamps start at 1.4 s) */
    double origin = 0;
    for (int i = 0; i < 15; i++) {
        cr_assert_eq(fm_reader_next(r, &f, &err), 1, "%s", err.msg);
        if (i == 0)
            origin = f->pts * av_q2d(info->time_base);
    }
    cr_assert_eq(fm_reader_seek(r, t, &err), 0, "%s", err.msg);
    int n = 0, ret;
    double first = -1;
    while ((ret = fm_reader_next(r, &f, &err)) == 1) {
        if (n == 0)
            first = f->pts * av_q2d(info->time_base) - origin;
        n++;
    }
    cr_assert_eq(ret, 0, "%s", err.msg);
    cr_assert_eq(n, want_left, "%s: %d frames after seeking to %g", name, n, t);
    cr_assert(first >= t - 1e-6 && first < t + 1 / av_q2d(info->frame_rate),
              "%s: first frame at %g after seeking to %g", name, first, t);
    fm_reader_close(&r);
    free(p);
}

Test(video_io, seek)
{
    check_seek("a.mkv", 12 / 24.0, 12);
    check_seek("a.mkv", 0, 24);
    /* H.264 with B-frames: lands on a keyframe before, drops up to t */
    check_seek("c.mp4", 0.5, 12);
    check_seek("c.mp4", 7 / 25.0, 18);
    check_seek("d.ts", 0.5, 12);
    check_seek("d.ts", 0, 25);
    check_seek("d.ts", 0.9, 2);
}

/* ---- writer ---- */

Test(video_io, vp9_webm_with_opus)
{
    char *in = src("a.mkv"), *o = out("a.webm");
    cr_assert_eq(transcode(in, o, FM_CODEC_VP9, in), 24);
    FmVideoInfo info;
    cr_assert_eq(read_all(o, &info), 24);
    cr_assert_eq(info.width, 321);
    cr_assert_eq(info.height, 241);
    cr_assert_eq(info.pix_fmt, AV_PIX_FMT_YUV420P);
    Probe pr = probe(o);
    cr_assert_str_eq(pr.format, "matroska,webm");
    cr_assert_eq(pr.video, AV_CODEC_ID_VP9);
    cr_assert_eq(pr.audio, AV_CODEC_ID_OPUS); /* PCM cannot go into WebM */
    cr_assert_eq(out_dir_entries(), 1);       /* no temporary left over */
    free(in);
    free(o);
}

Test(video_io, vp9_keeps_422_10bit)
{
    char *in = src("b.mkv"), *o = out("b.webm");
    cr_assert_eq(transcode(in, o, FM_CODEC_VP9, NULL), 24);
    FmVideoInfo info;
    cr_assert_eq(read_all(o, &info), 24);
    cr_assert_eq(info.pix_fmt, AV_PIX_FMT_YUV422P10LE);
    cr_assert_eq(info.bit_depth, 10);
    Probe pr = probe(o);
    cr_assert_eq(pr.nb_streams, 1); /* no audio asked for */
    free(in);
    free(o);
}

Test(video_io, h264_mp4_copies_aac)
{
    char *in = src("c.mp4"), *o = out("c.mp4");
    cr_assert_eq(transcode(in, o, FM_CODEC_H264, in), 25);
    FmVideoInfo info;
    cr_assert_eq(read_all(o, &info), 25);
    cr_assert_eq(info.width, 320);
    cr_assert_eq(info.pix_fmt, AV_PIX_FMT_YUV420P);
    cr_assert_eq(av_cmp_q(info.frame_rate, (AVRational){ 25, 1 }), 0);
    Probe pr = probe(o);
    cr_assert_eq(pr.video, AV_CODEC_ID_H264);
    cr_assert_eq(pr.audio, AV_CODEC_ID_AAC); /* stream copy */
    free(in);
    free(o);
}

/* H.264 4:2:0 cannot code odd sizes: the writer keeps the size in 4:4:4. */
Test(video_io, h264_odd_size)
{
    char *in = src("a.mkv"), *o = out("a.mp4");
    cr_assert_eq(transcode(in, o, FM_CODEC_H264, in), 24);
    FmVideoInfo info;
    cr_assert_eq(read_all(o, &info), 24);
    cr_assert_eq(info.width, 321);
    cr_assert_eq(info.height, 241);
    cr_assert_eq(info.pix_fmt, AV_PIX_FMT_YUV444P);
    Probe pr = probe(o);
    cr_assert_eq(pr.audio, AV_CODEC_ID_OPUS); /* PCM does not go into MP4 */
    free(in);
    free(o);
}

/* FFV1 is lossless: every sample and timestamp must survive. */
Test(video_io, ffv1_lossless_10bit_422)
{
    char *in = src("b.mkv"), *o = out("b.mkv");
    cr_assert_eq(transcode(in, o, FM_CODEC_FFV1, in), 24);
    Probe pr = probe(o);
    cr_assert_eq(pr.video, AV_CODEC_ID_FFV1);
    cr_assert_eq(pr.audio, AV_CODEC_ID_AAC);

    FmError err = { { 0 } };
    FmVideoReader *a = NULL, *b = NULL;
    cr_assert_eq(fm_reader_open(&a, in, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_reader_open(&b, o, &err), 0, "%s", err.msg);
    const FmVideoInfo *ia = fm_reader_info(a), *ib = fm_reader_info(b);
    cr_assert_eq(ib->pix_fmt, AV_PIX_FMT_YUV422P10LE);
    AVFrame *fa, *fb;
    int n = 0;
    while (fm_reader_next(a, &fa, &err) == 1) {
        cr_assert_eq(fm_reader_next(b, &fb, &err), 1, "%s", err.msg);
        cr_assert_eq(av_rescale_q(fa->pts, ia->time_base, ib->time_base), fb->pts);
        for (int p = 0; p < 3; p++) {
            int w = p ? (fa->width + 1) / 2 : fa->width;
            for (int y = 0; y < fa->height; y++)
                cr_assert(!memcmp(fa->data[p] + y * fa->linesize[p],
                                  fb->data[p] + y * fb->linesize[p], (size_t)w * 2),
                          "plane %d row %d of frame %d differs", p, y, n);
        }
        n++;
    }
    cr_assert_eq(n, 24);
    cr_assert_eq(fm_reader_next(b, &fb, &err), 0);
    fm_reader_close(&a);
    fm_reader_close(&b);
    free(in);
    free(o);
}

/* What the embedder does: modify luma in place, then encode. */
Test(video_io, frames_are_modifiable)
{
    char *in = src("c.mp4"), *o = out("marked.mkv");
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    FmVideoWriter *w = NULL;
    cr_assert_eq(fm_reader_open(&r, in, &err), 0, "%s", err.msg);
    FmWriterOptions opt = { .codec = FM_CODEC_FFV1, .crf = -1 };
    cr_assert_eq(fm_writer_open(&w, o, fm_reader_info(r), &opt, &err), 0, "%s", err.msg);
    AVFrame *f;
    while (fm_reader_next(r, &f, &err) == 1) {
        for (int y = 0; y < f->height; y++)
            memset(f->data[0] + y * f->linesize[0], 77, (size_t)f->width);
        cr_assert_eq(fm_writer_write(w, f, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(fm_writer_finish(w, &err), 0, "%s", err.msg);
    fm_writer_close(&w);
    fm_reader_close(&r);

    cr_assert_eq(fm_reader_open(&r, o, &err), 0, "%s", err.msg);
    int n = 0;
    while (fm_reader_next(r, &f, &err) == 1) {
        for (int y = 0; y < f->height; y++)
            for (int x = 0; x < f->width; x++)
                cr_assert_eq(f->data[0][y * f->linesize[0] + x], 77);
        n++;
    }
    cr_assert_eq(n, 25);
    fm_reader_close(&r);
    free(in);
    free(o);
}

/* fm_reader_set_read_only: the decoder's own pictures, the same samples as
 * the private copies (H.264, whose decoder keeps the frames it predicts from) */
Test(video_io, read_only_frames_are_the_same_pictures)
{
    char *in = src("c.mp4");
    FmError err = { { 0 } };
    FmVideoReader *a = NULL, *b = NULL;
    cr_assert_eq(fm_reader_open(&a, in, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_reader_open(&b, in, &err), 0, "%s", err.msg);
    fm_reader_set_read_only(b, 1);
    AVFrame *fa, *fb;
    int n = 0, ra, rb;
    while ((ra = fm_reader_next(a, &fa, &err)) == 1) {
        rb = fm_reader_next(b, &fb, &err);
        cr_assert_eq(rb, 1, "frame %d: %s", n, err.msg);
        cr_assert_eq(fa->pts, fb->pts);
        cr_assert_eq(fa->format, fb->format);
        const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)fa->format);
        for (int p = 0; p < 3; p++) {
            int h = p ? AV_CEIL_RSHIFT(fa->height, d->log2_chroma_h) : fa->height;
            int wb = (p ? AV_CEIL_RSHIFT(fa->width, d->log2_chroma_w) : fa->width) *
                     (d->comp[0].depth > 8 ? 2 : 1);
            for (int y = 0; y < h; y++)
                cr_assert_eq(memcmp(fa->data[p] + y * fa->linesize[p],
                                    fb->data[p] + y * fb->linesize[p], (size_t)wb), 0,
                             "frame %d plane %d row %d", n, p, y);
        }
        n++;
    }
    cr_assert_eq(ra, 0, "%s", err.msg);
    cr_assert_eq(fm_reader_next(b, &fb, &err), 0);
    cr_assert_eq(n, 25);
    fm_reader_close(&a);
    fm_reader_close(&b);
    free(in);
}

/* Opus cannot go into MOV: the writer falls back to AAC there. */
Test(video_io, mov_gets_aac_for_opus)
{
    char *in = src("e.mkv"), *o = out("e.mov");
    cr_assert_eq(transcode(in, o, FM_CODEC_H264, in), 3);
    Probe pr = probe(o);
    cr_assert_str_eq(pr.format, "mov,mp4,m4a,3gp,3g2,mj2");
    cr_assert_eq(pr.audio, AV_CODEC_ID_AAC);
    free(in);
    free(o);
}

/* A source without audio gives a video-only output; 12-bit stays 12-bit. */
Test(video_io, audio_from_file_without_audio)
{
    char *in = src("p12.mkv"), *o = out("p12.mkv");
    cr_assert_eq(transcode(in, o, FM_CODEC_FFV1, in), 3);
    Probe pr = probe(o);
    cr_assert_eq(pr.nb_streams, 1);
    FmVideoInfo info;
    cr_assert_eq(read_all(o, &info), 3);
    cr_assert_eq(info.pix_fmt, AV_PIX_FMT_YUV420P12LE);
    free(in);
    free(o);
}

Test(video_io, audio_from_bad_file)
{
    char *in = src("a.mkv"), *txt = src("notes.txt"), *o = out("x.webm");
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    FmVideoWriter *w = NULL;
    cr_assert_eq(fm_reader_open(&r, in, &err), 0, "%s", err.msg);
    FmWriterOptions opt = { .codec = FM_CODEC_VP9, .crf = -1, .audio_from = "/nonexistent/a.mkv" };
    cr_assert_eq(fm_writer_open(&w, o, fm_reader_info(r), &opt, &err), FM_EIO);
    cr_assert(strstr(err.msg, "No such file or directory"), "%s", err.msg);
    opt.audio_from = txt;
    cr_assert_neq(fm_writer_open(&w, o, fm_reader_info(r), &opt, &err), 0);
    cr_assert_null(w);
    cr_assert_eq(out_dir_entries(), 0);
    fm_reader_close(&r);
    free(in);
    free(txt);
    free(o);
}

Test(video_io, abort_leaves_nothing)
{
    char *in = src("a.mkv"), *o = out("aborted.webm");
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    FmVideoWriter *w = NULL;
    cr_assert_eq(fm_reader_open(&r, in, &err), 0, "%s", err.msg);
    FmWriterOptions opt = { .codec = FM_CODEC_VP9, .crf = 40, .audio_from = in };
    cr_assert_eq(fm_writer_open(&w, o, fm_reader_info(r), &opt, &err), 0, "%s", err.msg);
    cr_assert_eq(out_dir_entries(), 1); /* the temporary file */
    AVFrame *f;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(fm_reader_next(r, &f, &err), 1, "%s", err.msg);
        cr_assert_eq(fm_writer_write(w, f, &err), 0, "%s", err.msg);
    }
    fm_writer_close(&w);
    cr_assert_null(w);
    fm_reader_close(&r);
    cr_assert_eq(out_dir_entries(), 0);
    cr_assert_neq(access(o, F_OK), 0);
    free(in);
    free(o);
}

Test(video_io, refuses_to_overwrite_audio_source)
{
    char *in = src("a.mkv"), *o = out("copy.mkv");
    cr_assert_eq(system(NULL) != 0, 1);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && ln -s copy.mkv '%s/link.mkv'", in, o, out_dir);
    cr_assert_eq(system(cmd), 0);
    char *link = out("link.mkv");
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    FmVideoWriter *w = NULL;
    cr_assert_eq(fm_reader_open(&r, o, &err), 0, "%s", err.msg);
    FmWriterOptions opt = { .codec = FM_CODEC_FFV1, .crf = -1, .audio_from = o };
    cr_assert_eq(fm_writer_open(&w, o, fm_reader_info(r), &opt, &err), FM_EPERM);
    opt.audio_from = link;
    cr_assert_eq(fm_writer_open(&w, o, fm_reader_info(r), &opt, &err), FM_EPERM);
    cr_assert_null(w);
    cr_assert_eq(out_dir_entries(), 2);
    fm_reader_close(&r);
    free(link);
    free(in);
    free(o);
}

Test(video_io, container_mismatch)
{
    char *in = src("a.mkv");
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    FmVideoWriter *w = NULL;
    cr_assert_eq(fm_reader_open(&r, in, &err), 0, "%s", err.msg);
    static const struct {
        FmCodec codec;
        const char *name;
    } bad[] = {
        { FM_CODEC_FFV1, "x.webm" },
        { FM_CODEC_FFV1, "x.mp4" },
        { FM_CODEC_H264, "x.webm" },
        { FM_CODEC_VP9, "x.unknownext" },
        { FM_CODEC_VP9, "x.wav" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *o = out(bad[i].name);
        FmWriterOptions opt = { .codec = bad[i].codec, .crf = -1, .audio_from = in };
        cr_assert_eq(fm_writer_open(&w, o, fm_reader_info(r), &opt, &err), FM_EINVAL,
                     "%s accepted", bad[i].name);
        cr_assert_null(w);
        cr_assert(strstr(err.msg, o), "%s", err.msg);
        free(o);
    }
    cr_assert_eq(out_dir_entries(), 0);
    fm_reader_close(&r);
    free(in);
}

Test(video_io, writer_rejects_wrong_frames)
{
    char *in = src("a.mkv"), *o = out("w.mkv");
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    FmVideoWriter *w = NULL;
    cr_assert_eq(fm_reader_open(&r, in, &err), 0, "%s", err.msg);
    FmVideoInfo info = *fm_reader_info(r);
    info.width = 320;
    FmWriterOptions opt = { .codec = FM_CODEC_FFV1, .crf = -1 };
    cr_assert_eq(fm_writer_open(&w, o, &info, &opt, &err), 0, "%s", err.msg);
    AVFrame *f;
    cr_assert_eq(fm_reader_next(r, &f, &err), 1);
    cr_assert_eq(fm_writer_write(w, f, &err), FM_EINVAL);
    fm_writer_close(&w);
    fm_reader_close(&r);
    cr_assert_eq(out_dir_entries(), 0);
    free(in);
    free(o);
}
