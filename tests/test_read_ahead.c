/*
 * test_read_ahead.c - frames decoded on their own thread (read_ahead.h,
 * clip_frames.h) are the reader's frames: the same pictures, times and
 * end or error, in the same order, whatever the depth; stopping early
 * neither hangs nor leaks.
 */
#include <criterion/criterion.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clip_frames.h"
#include "read_ahead.h"
#include "testutil.h"
#include "video_io.h"

static char *dir, *clip, *cut;

static void setup(void)
{
    av_log_set_level(AV_LOG_QUIET);
    dir = tu_mkdtemp();
    clip = tu_path(dir, "c.mkv");
    cut = tu_path(dir, "cut.h264");
    cr_assert_eq(tu_sh("ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=176x144:rate=24 "
                       "-t 2 -pix_fmt yuv420p -c:v libx264 -preset ultrafast -g 12 '%s'", clip), 0);
    /* a raw H.264 stream cut short in the middle of a frame */
    cr_assert_eq(tu_sh("ffmpeg -nostdin -loglevel error -y -i '%s' -c copy -f h264 '%s.full' && "
                       "head -c $(( $(stat -c %%s '%s.full') * 2 / 3 )) '%s.full' > '%s'",
                       clip, cut, cut, cut, cut), 0);
}

static void teardown(void)
{
    free(clip);
    free(cut);
    tu_rmtree(dir);
}

TestSuite(read_ahead, .init = setup, .fini = teardown, .timeout = 60);

/* Bytes of the frame's luma plane, row by row, compared with another's. */
static int same_luma(const AVFrame *a, const AVFrame *b)
{
    if (a->width != b->width || a->height != b->height || a->format != b->format)
        return 0;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)a->format);
    size_t row = (size_t)a->width * (d->comp[0].depth > 8 ? 2 : 1);
    for (int y = 0; y < a->height; y++)
        if (memcmp(a->data[0] + (ptrdiff_t)y * a->linesize[0],
                   b->data[0] + (ptrdiff_t)y * b->linesize[0], row))
            return 0;
    return 1;
}

/* Reads path both ways side by side; returns the frames read. With
 * last_concealed, the last frame's picture is not compared: FFmpeg's
 * frame-threaded H.264 decoder conceals a frame cut short differently from
 * run to run (`ffmpeg -threads 2 -i cut.h264 -f framemd5` gives several
 * hashes of that frame, and one with -threads 1), whoever reads it. */
static int compare(const char *path, int depth, int last_concealed)
{
    FmError ea = { { 0 } }, eb = { { 0 } };
    FmVideoReader *a = NULL, *b = NULL;
    cr_assert_eq(fm_reader_open(&a, path, &ea), 0, "%s", ea.msg);
    cr_assert_eq(fm_reader_open(&b, path, &eb), 0, "%s", eb.msg);
    fm_reader_set_read_only(b, 1);
    FmReadAhead *ra = NULL;
    cr_assert_eq(fm_read_ahead_start(&ra, b, depth, &eb), 0, "%s", eb.msg);
    AVFrame *fa, *fb, *pa = NULL, *pb = NULL;   /* pa, pb: the previous frames */
    double tb;
    int n = 0, rs, rr;
    for (;;) {
        rs = fm_reader_next(a, &fa, &ea);
        rr = fm_read_ahead_next(ra, &fb, &tb, &eb);
        cr_assert_eq(rr, rs, "depth %d, frame %d: %d read ahead, %d on the caller's thread",
                     depth, n, rr, rs);
        if (pa) {
            if (rs > 0 || !last_concealed)
                cr_assert(same_luma(pa, pb), "depth %d, frame %d: pictures differ", depth, n - 1);
            av_frame_free(&pa);
            av_frame_free(&pb);
        }
        if (rs <= 0)
            break;
        cr_assert_eq(fb->pts, fa->pts, "depth %d, frame %d", depth, n);
        cr_assert_eq(tb, fm_reader_frame_seconds(a, fa), "depth %d, frame %d", depth, n);
        pa = av_frame_clone(fa);
        pb = av_frame_clone(fb);
        cr_assert(pa && pb);
        n++;
    }
    if (rs < 0)
        cr_assert_str_eq(eb.msg, ea.msg);
    fm_read_ahead_stop(&ra);
    cr_assert_null(ra);
    fm_reader_close(&a);
    fm_reader_close(&b);
    return n;
}

Test(read_ahead, the_readers_frames_and_times)
{
    for (int depth = 1; depth <= 8; depth *= 2)
        cr_assert_eq(compare(clip, depth, 0), 48);
}

Test(read_ahead, a_damaged_file_ends_where_the_reader_does)
{
    int n = compare(cut, 4, 1);
    cr_assert(n > 0 && n < 48, "%d frames of the cut stream", n);
}

Test(read_ahead, stopping_early)
{
    FmError err = { { 0 } };
    FmVideoReader *r = NULL;
    cr_assert_eq(fm_reader_open(&r, clip, &err), 0, "%s", err.msg);
    FmReadAhead *ra = NULL;
    cr_assert_eq(fm_read_ahead_start(&ra, r, 2, &err), 0);
    fm_read_ahead_stop(&ra);   /* before any frame is asked for */
    cr_assert_eq(fm_read_ahead_start(&ra, r, 3, &err), 0);
    AVFrame *f;
    double t;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fm_read_ahead_next(ra, &f, &t, &err), 1);
    fm_read_ahead_stop(&ra);   /* with frames waiting and one held */
    fm_read_ahead_stop(&ra);   /* NULL-safe */
    /* the reader is the caller's again, further on */
    cr_assert_eq(fm_reader_next(r, &f, &err), 1, "%s", err.msg);
    fm_reader_close(&r);
    cr_assert_lt(fm_read_ahead_start(&ra, NULL, 0, &err), 0);
}

Test(read_ahead, clip_frames_with_a_duration)
{
    for (int ahead = 0; ahead <= 1; ahead++) {
        FmError err = { { 0 } };
        FmVideoReader *r = NULL;
        cr_assert_eq(fm_reader_open(&r, clip, &err), 0, "%s", err.msg);
        FmClipFrames cf;
        fm_clip_frames_init(&cf, r, 0, 1.0);
        if (ahead)
            cr_assert_eq(fm_clip_frames_read_ahead(&cf, FM_READ_AHEAD_DEPTH, &err), 0);
        AVFrame *f;
        double t, last = -1;
        int n = 0, ret;
        while ((ret = fm_clip_frames_next(&cf, &f, &t, &err)) > 0) {
            cr_assert_gt(t, last);
            last = t;
            n++;
        }
        fm_clip_frames_end(&cf);
        cr_assert_eq(ret, 0);
        cr_assert_eq(n, 24, "%s: %d frames in the first second", ahead ? "ahead" : "inline", n);
        fm_reader_close(&r);
    }
}
