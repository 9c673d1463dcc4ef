/*
 * test_input_limits.c - inputs that would block or balloon are refused with
 * a reason (issue 11 items 6 and 7): the picture budget, FIFOs as audio
 * source or receipt, oversized receipts, and FFmpeg's open errors in words.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "accumulator.h"
#include "embedder.h"
#include "fm_error.h"
#include "keys.h"
#include "receipt.h"
#include "registry.h"
#include "resample.h"
#include "testutil.h"
#include "video_io.h"

#define FFMPEG "timeout 120 ffmpeg -nostdin -hide_banner -loglevel error -y"

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

TestSuite(limits, .init = setup, .fini = teardown, .timeout = 120);

Test(limits, picture_budget_admits_dci_4k_and_8k_and_refuses_beyond)
{
    static const struct { int w, h, ok; } t[] = {
        { 16, 16, 1 }, { 4096, 2160, 1 }, { 3840, 2160, 1 }, { 8192, 4320, 1 },
        { 1080, 1920, 1 }, { 128, 16, 1 }, { 16, 128, 1 }, { 2048, 858, 1 },
        { 8192, 4321, 0 }, { 16384, 16, 0 }, { 16, 16384, 0 }, { 129, 16, 0 },
        { 15, 16, 0 }, { 16385, 1000, 0 }, { 0, 0, 0 }, { -5, 100, 0 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        FmError err = { { 0 } };
        int r = fm_picture_size_check(t[i].w, t[i].h, &err);
        cr_expect_eq(r == 0, t[i].ok, "%dx%d: %d %s", t[i].w, t[i].h, r, err.msg);
        if (!t[i].ok)
            cr_expect(strstr(err.msg, "picture size"), "%s", err.msg);
    }
}

/* The library itself refuses what the tools refuse, before allocating. */
Test(limits, accumulator_and_embedder_refuse_a_16384x16_picture)
{
    FmAccumulator acc;
    FmError err = { { 0 } };
    cr_assert_eq(fm_accumulator_init(&acc, 16384, 16, &err), FM_EINVAL);
    cr_assert(strstr(err.msg, "aspect"), "%s", err.msg);
    uint8_t key[FM_WMKEY_BYTES] = { 1 }, msg[FM_MESSAGE_BYTES] = { 2 };
    FmEmbedder *e = NULL;
    cr_assert_eq(fm_embedder_new(&e, key, msg, 16384, 16, 1.0, &err), FM_EINVAL);
    cr_assert_null(e);
}

/* Format 7 keeps every cell's slots a window (300 KB at 16:9): a whole
 * feature would take gigabytes, so evidence is kept for 300 s of clip time
 * unless told otherwise, and later frames are counted, not read. */
Test(limits, the_accumulator_keeps_the_first_300_s_of_a_long_clip)
{
    FmAccumulator acc;
    FmError err = { { 0 } };
    uint8_t luma[160 * 90];
    memset(luma, 100, sizeof luma);
    cr_assert_eq(fm_accumulator_init(&acc, 160, 90, &err), 0, "%s", err.msg);
    static const double times[] = { 0, 100, 299.9, 300.1, 7000, 1e12 };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
        cr_assert_eq(fm_accumulator_add(&acc, luma, 160, 8, 5 + times[i], &err), 0, "%s", err.msg);
    cr_assert_eq(acc.frames, 3);
    cr_assert_eq(acc.frames_left_out, 3);
    cr_assert_eq(acc.nwin, 600);
    fm_accumulator_set_max_seconds(&acc, 1000);  /* as wmdetect --duration does */
    cr_assert_eq(fm_accumulator_add(&acc, luma, 160, 8, 5 + 999, &err), 0, "%s", err.msg);
    cr_assert_eq(acc.frames, 4);
    fm_accumulator_free(&acc);
}

/* wmdetect says where its default limit ended the read, and --duration
 * reads on. One picture a second keeps the 305-s clip cheap to read; the
 * two detections' fixed cost (the key's pilot tables, the epoch search)
 * takes about a minute under the sanitizers alone, twice that beside other
 * tests on two busy cores: a longer guard against hangs than the suite's. */
Test(limits, wmdetect_reports_its_default_read_limit, .timeout = 300)
{
    char *clip = tu_path(dir, "long.mkv"), *prefix = tu_path(dir, "k"), *key = tu_path(dir, "k.key");
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i testsrc2=s=160x90:r=1:d=305 -c:v ffv1 '%s'", clip), 0);
    const char *kg[] = { FM_BUILD_DIR "/wmkeygen", "-o", prefix, "--no-passphrase", "-q", NULL };
    cr_assert_eq(tu_run(kg, NULL, NULL), 0);
    char *out = NULL, *report = tu_path(dir, "long.html"), *html = NULL;
    size_t len = 0;
    const char *det[] = { FM_BUILD_DIR "/wmdetect", "-k", key, "--no-registry", "--report",
                          report, clip, NULL };
    cr_assert_eq(tu_run(det, &out, NULL), 1);
    cr_assert(strstr(out, "(300 frames read"), "%s", out);
    cr_assert(strstr(out, "read limit:     the first 300 s of the clip by default"), "%s", out);
    free(out);
    /* the evidence report says so too, not "the whole clip" */
    cr_assert_eq(tu_read_file(report, &html, &len), 0);
    cr_assert(strstr(html, "the first 300 s of the clip (the default read limit"), "report");
    cr_assert_null(strstr(html, "the whole clip;"));
    free(html);
    free(report);
    const char *dj[] = { FM_BUILD_DIR "/wmdetect", "-k", key, "--no-registry", "-q", "--json",
                         "--duration", "310", clip, NULL };
    cr_assert_eq(tu_run(dj, &out, NULL), 1);
    cr_assert(strstr(out, "\"frames_read\": 305"), "%s", out);
    cr_assert(strstr(out, "\"read_limit_s\": null"), "%s", out);
    free(out);
    free(clip);
    free(prefix);
    free(key);
}

/* Before: opened, and wmembed then took 3.2 GB and 70 s for this 57 KB clip. */
Test(limits, a_16384x16_clip_is_refused_at_open_in_little_memory)
{
    char *p = tu_path(dir, "wide.mkv");
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i testsrc2=s=16384x16:r=10:d=1 -c:v ffv1 '%s'", p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        FmVideoReader *r = NULL;
        FmError err = { { 0 } };
        int ret = fm_reader_open(&r, p, &err);
        _exit(ret == FM_EFORMAT && strstr(err.msg, "16384x16") && !r ? 0 : 1);
    }
    int st;
    struct rusage ru;
    cr_assert_eq(wait4(pid, &st, 0, &ru), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    cr_log_info("peak RSS %ld KB", ru.ru_maxrss);
    cr_assert_lt(ru.ru_maxrss, 400L * 1024, "peak RSS %ld KB", ru.ru_maxrss);
    free(p);
}

/* A FIFO nobody writes to: opening it for reading blocks. */
static char *make_fifo(const char *name)
{
    char *p = tu_path(dir, name);
    cr_assert_eq(mkfifo(p, 0600), 0);
    return p;
}

Test(limits, audio_is_not_taken_from_a_fifo)
{
    char *src = tu_path(dir, "a.mkv"), *o = tu_path(dir, "o.mkv");
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i testsrc2=s=64x48:r=10:d=1 -f lavfi -i sine=d=1"
                       " -c:v ffv1 -c:a pcm_s16le '%s'", src), 0);
    char *fifo = make_fifo("fifo.mkv");
    FmVideoReader *r = NULL;
    FmVideoWriter *w = NULL;
    FmError err = { { 0 } };
    cr_assert_eq(fm_reader_open(&r, src, &err), 0, "%s", err.msg);
    FmWriterOptions opt = { .codec = FM_CODEC_FFV1, .crf = -1, .audio_from = fifo };
    /* before: blocked in open() for ever (nobody writes to the FIFO) */
    alarm(20);
    cr_assert_eq(fm_writer_open(&w, o, fm_reader_info(r), &opt, &err), FM_EINVAL);
    alarm(0);
    cr_assert(strstr(err.msg, "not a regular file"), "%s", err.msg);
    cr_assert_null(w);
    cr_assert_eq(access(o, F_OK), -1);
    fm_reader_close(&r);
    free(src);
    free(o);
    free(fifo);
}

static FmKey *test_key(void)
{
    FmError err;
    cr_assert_eq(fm_init(&err), 0);
    FmKey *k = fm_key_new();
    cr_assert_not_null(k);
    tu_fixed_key(k, 7);
    return k;
}

Test(limits, receipt_from_a_fifo_is_refused_without_blocking)
{
    FmKey *k = test_key();
    char *fifo = make_fifo("r.json");
    uint8_t msg[FM_MESSAGE_BYTES];
    FmError err = { { 0 } };
    alarm(20);
    cr_assert_eq(fm_receipt_read(fifo, k, msg, &err), FM_EFORMAT);
    alarm(0);
    cr_assert(strstr(err.msg, "not a regular file"), "%s", err.msg);
    fm_key_free(&k);
    free(fifo);
}

Test(limits, a_huge_receipt_is_refused_unread)
{
    FmKey *k = test_key();
    char *p = tu_path(dir, "big.json");
    /* 200 MB, sparse: reading it whole would take the time and memory */
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "{\"receipt\":", 11), 11);
    cr_assert_eq(ftruncate(fd, 200L << 20), 0);
    close(fd);
    uint8_t msg[FM_MESSAGE_BYTES];
    FmError err = { { 0 } };
    cr_assert_eq(fm_receipt_read(p, k, msg, &err), FM_EFORMAT);
    cr_assert(strstr(err.msg, "larger than"), "%s", err.msg);
    /* a directory is no receipt either */
    cr_assert_lt(fm_receipt_read(dir, k, msg, &err), 0);
    fm_key_free(&k);
    free(p);
}

/* wmregistry add (fm_registry_add_receipt) reads receipts as the other
 * readers do. Before: fopen() on a FIFO blocked for ever, and a 200 MB file
 * was read whole (206 MB resident) before being found not to be JSON. */
Test(limits, registry_add_takes_receipts_only_from_small_regular_files)
{
    FmKey *k = test_key();
    char *loc = tu_path(dir, "reg.sqlite");
    FmRegistry *reg = NULL;
    FmError err = { { 0 } };
    cr_assert_eq(fm_registry_open(&reg, loc, &err), 0, "%s", err.msg);
    int64_t id = 0;
    char *fifo = make_fifo("r.json");
    alarm(20);
    cr_assert_eq(fm_registry_add_receipt(reg, fifo, &k, 1, 0, &id, &err), FM_EFORMAT);
    alarm(0);
    cr_assert(strstr(err.msg, "not a regular file"), "%s", err.msg);
    cr_assert_null(strchr(err.msg, '\n'));

    char *p = tu_path(dir, "big.json");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "{\"receipt\":", 11), 11);
    cr_assert_eq(ftruncate(fd, 200L << 20), 0);
    close(fd);
    cr_assert_eq(fm_registry_add_receipt(reg, p, &k, 1, 0, &id, &err), FM_EFORMAT);
    cr_assert(strstr(err.msg, "larger than"), "%s", err.msg);
    cr_assert_lt(fm_registry_add_receipt(reg, dir, &k, 1, 0, &id, &err), 0);

    /* the tool: one line, exit 1 (a refused receipt), at once */
    char *pub = tu_path(dir, "k.pub"), *e = NULL;
    FmKey *pk = fm_key_new();
    cr_assert_eq(fm_key_derive(k, FM_KEY_PUBLIC, pk, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_save(pk, pub, 0, &err), 0, "%s", err.msg);
    const char *argv[] = { "/usr/bin/timeout", "20", FM_BUILD_DIR "/wmregistry", "--registry",
                           loc, "add", "-p", pub, fifo, NULL };
    int rc = tu_run(argv, NULL, &e);
    cr_assert_eq(rc, 1, "exit %d (124: still blocked after 20 s): %s", rc, e);
    cr_assert(strstr(e, "wmregistry: receipt '") && strstr(e, "not a regular file"), "%s", e);
    cr_assert_eq(strchr(e, '\n'), e + strlen(e) - 1, "not one line: %s", e);
    free(e);
    fm_key_free(&pk);
    free(pub);
    fm_registry_close(&reg);
    fm_key_free(&k);
    free(p);
    free(fifo);
    free(loc);
}

/* wmembed --help states the options and limits the code applies (before:
 * no word of the picture limits or of a FIFO master). */
Test(limits, wmembed_help_states_the_limits_the_code_applies)
{
    const char *argv[] = { FM_BUILD_DIR "/wmembed", "--help", NULL };
    char *out = NULL;
    cr_assert_eq(tu_run(argv, &out, NULL), 0);
    char want[4][64];
    snprintf(want[0], sizeof want[0], "%d to %d pixels", FM_MIN_SIDE, FM_MAX_SIDE);
    snprintf(want[1], sizeof want[1], "at most %ldx%ld pixels", FM_MAX_PIXELS / 4320, 4320L);
    snprintf(want[2], sizeof want[2], "aspect 1:%d to %d:1", FM_MAX_ASPECT, FM_MAX_ASPECT);
    snprintf(want[3], sizeof want[3], "a FIFO or");
    for (int i = 0; i < 4; i++)
        cr_expect(strstr(out, want[i]), "--help lacks '%s'", want[i]);
    cr_expect(strstr(out, "--allow-short"));
    cr_expect(strstr(out, "--no-verify"));
    free(out);
}

/* FFmpeg's errors become reasons (before: "Input/output error", "Device or
 * resource busy", "Invalid data found when processing input"). */
Test(limits, open_errors_say_what_is_wrong)
{
    char *ok = tu_path(dir, "ok.y4m");
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i testsrc2=s=64x48:r=10:d=0.5 -pix_fmt yuv420p '%s'", ok),
                 0);
    char *mp4 = tu_path(dir, "ok.mp4");
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i testsrc2=s=160x120:r=10:d=2 -c:v libx264 '%s'", mp4), 0);
    /* 100 kB of noise from a fixed seed: /dev/urandom's bytes now and then
     * probe as an audio format ("has no video stream") */
    char *noise = tu_path(dir, "random.mkv");
    FILE *nf = fopen(noise, "wb");
    cr_assert_not_null(nf);
    TuRng g;
    tu_rng_seed(&g, 2026);
    for (int i = 0; i < 100000 / 8; i++) {
        uint64_t v = tu_rng_u64(&g);
        fwrite(&v, sizeof v, 1, nf);
    }
    cr_assert_eq(fclose(nf), 0);
    free(noise);
    char *cmd_fmt[][2] = {
        { "random.mkv", "test -s '%1$s'" },
        { "empty.mp4", ": > '%1$s'" },
        { "badsize.y4m", "sed '1s/W64 H48/W99999 H99999/' '" "%2$s" "' > '%1$s'" },
        { "zerosize.y4m", "sed '1s/W64 H48/W0 H48/' '" "%2$s" "' > '%1$s'" },
        { "cut.mp4", "head -c $(( $(stat -c %%s '%3$s') / 2 )) '%3$s' > '%1$s'" },
        { "audio.wav", FFMPEG " -f lavfi -i sine=d=0.5 '%1$s'" },
    };
    const char *want[] = {
        "is not a video file FFmpeg can read", "is empty", "damaged header",
        "damaged header", "damaged or truncated MP4/MOV", "has no video stream",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *p = tu_path(dir, cmd_fmt[i][0]);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, cmd_fmt[i][1], p, ok, mp4);
        cr_assert_eq(tu_sh("%s", cmd), 0, "%s", cmd);
        FmVideoReader *r = NULL;
        FmError err = { { 0 } };
        cr_expect_lt(fm_reader_open(&r, p, &err), 0, "%s opened", cmd_fmt[i][0]);
        cr_expect(strstr(err.msg, want[i]), "%s: '%s', wanted '%s'", cmd_fmt[i][0], err.msg,
                  want[i]);
        cr_expect_null(strchr(err.msg, '\n'));
        cr_expect_null(strstr(err.msg, "Input/output error"));
        cr_expect_null(strstr(err.msg, "busy"));
        free(p);
    }
    free(ok);
    free(mp4);
}

/* Before: a master cut at 50 % was marked, exit 0, into a short deliverable. */
Test(limits, wmembed_refuses_a_truncated_master_unless_allow_short)
{
    char *full = tu_path(dir, "full.mkv"), *cut = tu_path(dir, "cut.mkv");
    char *outp = tu_path(dir, "o.mkv"), *prefix = tu_path(dir, "k"), key[600];
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i testsrc2=s=160x120:r=24:d=2 -c:v ffv1 '%s'", full), 0);
    cr_assert_eq(tu_sh("head -c $(( $(stat -c %%s '%s') / 2 )) '%s' > '%s'", full, full, cut), 0);
    const char *kg[] = { FM_BUILD_DIR "/wmkeygen", "--no-passphrase", "-o", prefix, "-q", NULL };
    cr_assert_eq(tu_run(kg, NULL, NULL), 0);
    snprintf(key, sizeof key, "%s.key", prefix);
    const char *emb[] = { FM_BUILD_DIR "/wmembed", "-k", key, "-i", cut, "-o", outp, "--codec",
                          "ffv1", "--title-id", "1", "--recipient-id", "2", "-q", NULL, NULL };
    char *err = NULL;
    cr_assert_eq(tu_run(emb, NULL, &err), 2);
    cr_assert(strstr(err, "ends at 00:00:0") && strstr(err, " of 00:00:02.0") &&
              strstr(err, "--allow-short"), "%s", err);
    cr_assert_eq(tu_count_lines(err), 1, "%s", err);
    cr_assert_eq(access(outp, F_OK), -1);
    free(err);
    emb[14] = "--allow-short";
    cr_assert_eq(tu_run(emb, NULL, &err), 0, "%s", err);
    cr_assert_eq(access(outp, F_OK), 0);
    free(err);
    free(full);
    free(cut);
    free(outp);
    free(prefix);
}
