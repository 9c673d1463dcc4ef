/*
 * test_reader_complete.c - fm_reader_check_complete(): a master that ends
 * before its container says is caught, a healthy one of any kind is not.
 *
 * Media are made with the ffmpeg CLI in a temporary directory; truncated
 * copies are cut with head -c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/log.h>

#include "testutil.h"
#include "video_io.h"

#define FFMPEG "timeout 120 ffmpeg -nostdin -hide_banner -loglevel error -y"

/* name, ffmpeg arguments making it (inputs and output options) */
static const char *const healthy[][2] = {
    { "h264_aac.mkv", "-f lavfi -i testsrc2=s=160x120:r=24:d=2 -f lavfi -i sine=d=2 "
                      "-c:v libx264 -preset ultrafast -bf 2 -pix_fmt yuv420p -c:a aac" },
    { "vp9_opus.webm", "-f lavfi -i testsrc2=s=160x120:r=25:d=2 -f lavfi -i sine=d=2 "
                       "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -c:a libopus" },
    { "moov_end.mp4", "-f lavfi -i testsrc2=s=160x120:r=30:d=2 -f lavfi -i sine=d=2 "
                      "-c:v libx264 -preset ultrafast -bf 2 -c:a aac" },
    { "faststart.mp4", "-f lavfi -i testsrc2=s=160x120:r=24:d=2 -c:v libx264 -preset ultrafast "
                       "-movflags +faststart" },
    { "prores.mov", "-f lavfi -i testsrc2=s=160x120:r=24:d=1 -c:v prores_ks -profile:v 0" },
    { "mpeg4.avi", "-f lavfi -i testsrc2=s=160x120:r=25:d=2 -c:v mpeg4" },
    { "h264_mp2.ts", "-f lavfi -i testsrc2=s=160x120:r=25:d=2 -f lavfi -i sine=d=2 "
                     "-c:v libx264 -preset ultrafast -c:a mp2" },
    { "mpeg2.mpg", "-f lavfi -i testsrc2=s=160x120:r=25:d=2 -c:v mpeg2video" },
    { "flv1.flv", "-f lavfi -i testsrc2=s=160x120:r=25:d=2 -c:v flv1" },
    { "raw.h264", "-f lavfi -i testsrc2=s=160x120:r=25:d=1 -c:v libx264 -preset ultrafast" },
    { "p420.y4m", "-f lavfi -i testsrc2=s=160x120:r=25:d=1 -pix_fmt yuv420p" },
    { "p422_10_odd.y4m", "-f lavfi -i testsrc2=s=161x121:r=25:d=1 -pix_fmt yuv422p10le "
                         "-strict -1" },
    { "ffv1_12.mkv", "-f lavfi -i testsrc2=s=161x121:r=24:d=1 -c:v ffv1 -pix_fmt yuv420p12le" },
    { "raw.nut", "-f lavfi -i testsrc2=s=64x48:r=10:d=1 -c:v rawvideo -pix_fmt yuv444p16le" },
    /* variable frame rate: a 0.4-s hole after frame 10 */
    { "vfr.mkv", "-f lavfi -i testsrc2=s=160x120:r=25:d=2 -vf setpts='PTS+gt(N\\,10)*0.4/TB' "
                 "-fps_mode passthrough -c:v libx264 -preset ultrafast" },
    { "vfr.mp4", "-f lavfi -i testsrc2=s=160x120:r=25:d=2 -vf setpts='PTS+gt(N\\,10)*0.4/TB' "
                 "-fps_mode passthrough -c:v libx264 -preset ultrafast" },
    /* audio outlasting the picture by half a second */
    { "long_audio.mkv", "-f lavfi -i testsrc2=s=160x120:r=24:d=2 -f lavfi -i sine=d=2.5 "
                        "-c:v ffv1 -c:a pcm_s16le" },
    { "long_audio.mp4", "-f lavfi -i testsrc2=s=160x120:r=24:d=2 -f lavfi -i sine=d=2.5 "
                        "-c:v libx264 -preset ultrafast -c:a aac" },
    { "long_audio.ts", "-f lavfi -i testsrc2=s=160x120:r=24:d=2 -f lavfi -i sine=d=2.5 "
                       "-c:v libx264 -preset ultrafast -c:a mp2" },
    /* a still picture */
    { "still.png", "-f lavfi -i testsrc2=s=160x120:r=1:d=1 -frames:v 1" },
};

/* masters cut short: file made like healthy[i], then cut to pct % */
static const struct { const char *name; const char *args; int pct; } cut[] = {
    { "h264_aac.mkv", "-f lavfi -i testsrc2=s=160x120:r=24:d=3 -f lavfi -i sine=d=3 "
                      "-c:v libx264 -preset ultrafast -bf 2 -pix_fmt yuv420p -c:a aac", 50 },
    { "h264_aac90.mkv", "-f lavfi -i testsrc2=s=160x120:r=24:d=3 -f lavfi -i sine=d=3 "
                        "-c:v libx264 -preset ultrafast -bf 2 -pix_fmt yuv420p -c:a aac", 90 },
    { "vp9.webm", "-f lavfi -i testsrc2=s=160x120:r=25:d=3 -c:v libvpx-vp9 -deadline realtime "
                  "-cpu-used 8", 50 },
    { "vp9_90.webm", "-f lavfi -i testsrc2=s=160x120:r=25:d=3 -c:v libvpx-vp9 -deadline realtime "
                     "-cpu-used 8", 90 },
    { "ffv1_90.mkv", "-f lavfi -i testsrc2=s=160x120:r=25:d=3 -c:v ffv1", 90 },
    { "faststart50.mp4", "-f lavfi -i testsrc2=s=160x120:r=24:d=3 -c:v libx264 -preset ultrafast "
                         "-movflags +faststart", 50 },
    { "faststart90.mp4", "-f lavfi -i testsrc2=s=160x120:r=24:d=3 -c:v libx264 -preset ultrafast "
                         "-movflags +faststart", 90 },
    { "mpeg4_90.avi", "-f lavfi -i testsrc2=s=160x120:r=25:d=3 -c:v mpeg4", 90 },
};

static char *dir;

static void setup(void)
{
    av_log_set_level(AV_LOG_QUIET);
    dir = tu_mkdtemp();
}

static void teardown(void)
{
    tu_rmtree(dir);
}

TestSuite(reader_complete, .init = setup, .fini = teardown, .timeout = 300);

/* Reads path to the end; returns the check's result (or the open/read
 * error) and the frame count in *frames. */
static int read_all(const char *path, long *frames, FmError *err)
{
    FmVideoReader *r = NULL;
    *frames = 0;
    int ret = fm_reader_open(&r, path, err);
    if (ret < 0)
        return ret;
    AVFrame *f;
    while ((ret = fm_reader_next(r, &f, err)) > 0)
        (*frames)++;
    if (ret == 0)
        ret = fm_reader_check_complete(r, err);
    fm_reader_close(&r);
    return ret;
}

Test(reader_complete, healthy_masters_of_every_kind_pass)
{
    for (size_t i = 0; i < sizeof healthy / sizeof healthy[0]; i++) {
        char *p = tu_path(dir, healthy[i][0]);
        cr_assert_eq(tu_sh(FFMPEG " %s '%s'", healthy[i][1], p), 0, "making %s", healthy[i][0]);
        FmError err = { { 0 } };
        long n;
        int ret = read_all(p, &n, &err);
        cr_log_info("%s: %ld frames, %d %s", healthy[i][0], n, ret, err.msg);
        cr_expect_eq(ret, 0, "%s refused: %s", healthy[i][0], err.msg);
        cr_expect_gt(n, 0, "%s: no frames", healthy[i][0]);
        free(p);
    }
}

Test(reader_complete, the_bundled_sample_passes)
{
    FmError err = { { 0 } };
    long n;
    int ret = read_all(FM_SOURCE_DIR "/samples/sample.mkv", &n, &err);
    cr_assert_eq(ret, 0, "sample refused: %s", err.msg);
    cr_assert_gt(n, 0);
}

Test(reader_complete, truncated_masters_are_refused_with_a_time)
{
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        char *p = tu_path(dir, cut[i].name);
        /* the muxer is chosen by the extension of the name */
        char name[64];
        snprintf(name, sizeof name, "full_%s", cut[i].name);
        char *tmp = tu_path(dir, name);
        cr_assert_eq(tu_sh(FFMPEG " %s '%s'", cut[i].args, tmp), 0, "making %s", cut[i].name);
        struct stat st;
        cr_assert_eq(stat(tmp, &st), 0);
        cr_assert_eq(tu_sh("head -c %lld '%s' > '%s'", (long long)st.st_size * cut[i].pct / 100,
                           tmp, p), 0);
        FmError err = { { 0 } };
        long n;
        int ret = read_all(tmp, &n, &err);
        cr_expect_eq(ret, 0, "whole %s refused: %s", cut[i].name, err.msg);
        long whole = n;
        memset(&err, 0, sizeof err);
        ret = read_all(p, &n, &err);
        cr_log_info("%s cut to %d %%: %ld of %ld frames, %d %s", cut[i].name, cut[i].pct, n, whole,
                    ret, err.msg);
        cr_expect_lt(ret, 0, "%s cut to %d %% accepted (%ld of %ld frames)", cut[i].name,
                     cut[i].pct, n, whole);
        cr_expect_eq(strchr(err.msg, '\n'), NULL);
        /* a reader that opened it names where it ends and what was declared */
        if (ret == FM_EFORMAT && strstr(err.msg, "ends at"))
            cr_expect(strstr(err.msg, " of 00:00:0") || strstr(err.msg, "index goes on"),
                      "%s", err.msg);
        free(tmp);
        free(p);
    }
}

Test(reader_complete, not_checked_after_a_seek)
{
    char *p = tu_path(dir, "c.mkv");
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i testsrc2=s=64x48:r=10:d=3 -c:v ffv1 '%s'", p), 0);
    char *q = tu_path(dir, "c50.mkv");
    cr_assert_eq(tu_sh("head -c $(( $(stat -c %%s '%s') / 2 )) '%s' > '%s'", p, p, q), 0);
    FmVideoReader *r = NULL;
    FmError err = { { 0 } };
    cr_assert_eq(fm_reader_open(&r, q, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_reader_seek(r, 0.5, &err), 0, "%s", err.msg);
    AVFrame *f;
    while (fm_reader_next(r, &f, &err) > 0)
        ;
    cr_expect_eq(fm_reader_check_complete(r, &err), 0, "%s", err.msg);
    fm_reader_close(&r);
    free(p);
    free(q);
}
