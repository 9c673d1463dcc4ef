/*
 * test_bitexact.c - the marked pixels and the detector's evidence do not
 * depend on the machine, the CPU path or the thread count, and did not change
 * when the kernels moved behind the DSP table (common/dsp.h).
 *
 * A fixed synthetic sequence (fixed key bytes, fixed message, textured luma
 * from testutil's deterministic generator, frames across two epochs) is
 * marked; the marked planes and the per-frame quality figures are hashed
 * (BLAKE2b), then the marked frames go through the accumulator and its
 * evidence (window slot values, fine planes) is hashed too. The expected
 * hashes were first computed on main at 6a472bf, before the DSP layer, with
 * the same sequence, and checked the DSP layer changed nothing; they were
 * computed again for mark format 3 (the polar code, common/msgcode.h), which
 * changes the coded bits and so the marked pixels, with the C references
 * on one thread, again for mark format 4 (the content tag and the
 * whitened codeword, content_tag.h), again for mark format 5 (the tag's
 * projections drawn per epoch, another public mask) and again for mark
 * format 6 (the tag's high-passed features, every luma pixel of the
 * region summed, another public mask), and again when the embedder began
 * to look at every 4th frame only for informed embedding and to tabulate
 * the mask's texture gain (the same computation with FM_INFORMED_INTERVAL
 * 1 gave the format-6 hashes: the restructured passes change nothing else),
 * and again when the whitening's box sums moved from running double sums
 * to float sums of the samples less mid-grey (direct along rows, sliding
 * down columns from a fresh sum every 8 rows; the informed embedder whitens too, so the marked pixels
 * moved with the evidence: wmdetect's figures on a real deliverable agreed
 * to 5 digits), and again when the clip's fine sum became the windows' own
 * sums added at the end (fm_accumulator_fine_total: another order of
 * addition), and again for mark format 7 (every cell of the grid with its
 * own keyed signs, pattern.h; the windows keep their evidence cell by
 * cell). The last two sequences (flat and gradient content, on which
 * the PSNR cap leaves room) were added with the fill (0.9.15), which
 * raises their marks towards the SSIM floor from the frame before's SSIM,
 * and were recorded then; the first four did not move with it.
 * Then the tools: wmembed --threads 1 / 3 / FILMMARK_CPU=c give the same
 * decoded deliverable (FFV1), and wmdetect the same JSON.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "accumulator.h"
#include "dsp.h"
#include "embedder.h"
#include "keys.h"
#include "pattern.h"
#include "testutil.h"

typedef struct Case {
    int w, h, bit_depth, frames;
    double dt;          /* seconds between frames */
    const char *mark;   /* expected hash of the marked planes + quality (hex) */
    const char *detect; /* expected hash of the accumulator's evidence (hex) */
    int kind;           /* the synthetic content (testutil.h); 0: textured */
} Case;

#define HASH_BYTES 16

static const Case cases[] = {
    { 1920, 1080, 8, 6, 0.5, "d97ff59e241da6bb523109f1813677a9",
      "6e066081f4a16dfa87cd54b8a7c7af41", TU_SYNTH_TEXTURED },
    { 333, 203, 8, 10, 0.3, "00282e32de8cd06af73626f3bf09046c",
      "79b1b1b4c3dfda233119b4fa41a6fda0", TU_SYNTH_TEXTURED },
    { 642, 361, 10, 8, 0.4, "322093de3fa2b8afe3b34dc69d50f1e4",
      "b8c7a804ff2239b03ad45ad6614533e9", TU_SYNTH_TEXTURED },
    { 401, 720, 12, 5, 0.6, "5ed7a30d0931d51cdf0d3f0c76669d4d",
      "6fc6b0f9a646cba9a3c59040fcff700d", TU_SYNTH_TEXTURED },
    /* content the PSNR cap leaves room on, so the fill raises the mark */
    { 320, 180, 8, 8, 0.5, "7659ad075be8baf65ada08b0a64d1765",
      "572c14d2b883dd020784275fffeea854", TU_SYNTH_FLAT },
    { 322, 181, 10, 8, 0.5, "fa178363bb70d9062864c15794bad37d",
      "7fa598f0662da2e8ceaf705a9ae03d0d", TU_SYNTH_GRADIENT },
};

static void hex(const uint8_t *h, char out[2 * HASH_BYTES + 1])
{
    sodium_bin2hex(out, 2 * HASH_BYTES + 1, h, HASH_BYTES);
}

static void hash_floats(crypto_generichash_state *st, const float *v, size_t n)
{
    crypto_generichash_update(st, (const unsigned char *)v, sizeof(float) * n);
}

/* Marks and reads the sequence of c with the given thread count (0: the
 * default); writes the two hashes in hex. */
static void run_case(const Case *c, int threads, char mark_hex[2 * HASH_BYTES + 1],
                     char detect_hex[2 * HASH_BYTES + 1])
{
    FmError err = { { 0 } };
    uint8_t wm_key[FM_WMKEY_BYTES], message[FM_MESSAGE_BYTES];
    for (int i = 0; i < FM_WMKEY_BYTES; i++)
        wm_key[i] = (uint8_t)(i * 37 + 11);
    for (int i = 0; i < (int)FM_MESSAGE_BYTES; i++)
        message[i] = (uint8_t)(i * 101 + 7);
    int bps = c->bit_depth > 8 ? 2 : 1;
    ptrdiff_t stride = (ptrdiff_t)c->w * bps + 32;  /* padded rows, as decoders give */
    uint8_t *plane = calloc((size_t)stride * c->h, 1);
    cr_assert(plane);
    FmEmbedder *emb = NULL;
    cr_assert_eq(fm_embedder_new(&emb, wm_key, message, c->w, c->h, 1.0, &err), 0, "%s", err.msg);
    if (threads)
        fm_embedder_set_threads(emb, threads);
    FmAccumulator acc;
    cr_assert_eq(fm_accumulator_init(&acc, c->w, c->h, &err), 0, "%s", err.msg);
    if (threads)
        fm_accumulator_set_threads(&acc, threads);

    crypto_generichash_state mst, dst;
    crypto_generichash_init(&mst, NULL, 0, HASH_BYTES);
    crypto_generichash_init(&dst, NULL, 0, HASH_BYTES);
    for (int f = 0; f < c->frames; f++) {
        double t = f * c->dt;
        tu_synth_luma(plane, stride, c->w, c->h, c->bit_depth, c->kind, 77, f);
        FmFrameQuality q;
        cr_assert_eq(fm_embedder_mark(emb, plane, stride, c->bit_depth, t, &q, &err), 0, "%s",
                     err.msg);
        for (int y = 0; y < c->h; y++)
            crypto_generichash_update(&mst, plane + (ptrdiff_t)y * stride, (size_t)c->w * bps);
        crypto_generichash_update(&mst, (const unsigned char *)&q.mse, sizeof(q.mse));
        crypto_generichash_update(&mst, (const unsigned char *)&q.ssim, sizeof(q.ssim));
        cr_assert_eq(fm_accumulator_add(&acc, plane, stride, c->bit_depth, t, &err), 0, "%s",
                     err.msg);
    }
    float *total = malloc(sizeof(float) * (size_t)acc.fw * acc.fh);
    cr_assert(total);
    fm_accumulator_fine_total(&acc, total);
    hash_floats(&dst, total, (size_t)acc.fw * acc.fh);
    free(total);
    for (int i = 0; i < acc.nwin; i++) {
        if (acc.win[i].slots)
            hash_floats(&dst, acc.win[i].slots, (size_t)acc.nslots);
        if (acc.win[i].fine)
            hash_floats(&dst, acc.win[i].fine, (size_t)acc.fw * acc.fh);
    }
    uint8_t h[HASH_BYTES];
    crypto_generichash_final(&mst, h, HASH_BYTES);
    hex(h, mark_hex);
    crypto_generichash_final(&dst, h, HASH_BYTES);
    hex(h, detect_hex);
    fm_accumulator_free(&acc);
    fm_embedder_free(&emb);
    free(plane);
}

static void setup(void)
{
    FmError err = { { 0 } };
    cr_assert_eq(fm_init(&err), 0, "%s", err.msg);
}

TestSuite(bitexact, .init = setup);

/* The C references on one thread give the recorded hashes. */
Test(bitexact, c_path_matches_the_recorded_hashes)
{
    fm_dsp_force_c(1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const Case *c = &cases[i];
        char m[2 * HASH_BYTES + 1], d[2 * HASH_BYTES + 1];
        run_case(c, 1, m, d);
        cr_log_info("%dx%d %d-bit: mark %s detect %s", c->w, c->h, c->bit_depth, m, d);
        cr_expect_str_eq(m, c->mark, "%dx%d %d-bit: marked pixels changed", c->w, c->h,
                         c->bit_depth);
        cr_expect_str_eq(d, c->detect, "%dx%d %d-bit: detector evidence changed", c->w, c->h,
                         c->bit_depth);
    }
    fm_dsp_force_c(0);
}

/* The optimised kernels and any thread count give the same bits. */
Test(bitexact, same_bits_for_every_cpu_path_and_thread_count)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const Case *c = &cases[i];
        for (int cpu_c = 0; cpu_c <= 1; cpu_c++)
            for (int threads = 1; threads <= 3; threads++) {
                char m[2 * HASH_BYTES + 1], d[2 * HASH_BYTES + 1];
                fm_dsp_force_c(cpu_c);
                run_case(c, threads, m, d);
                cr_expect_str_eq(m, c->mark, "%dx%d %d-bit, %s, %d threads: marked pixels differ",
                                 c->w, c->h, c->bit_depth, cpu_c ? "C" : "SIMD", threads);
                cr_expect_str_eq(d, c->detect,
                                 "%dx%d %d-bit, %s, %d threads: detector evidence differs",
                                 c->w, c->h, c->bit_depth, cpu_c ? "C" : "SIMD", threads);
            }
    }
    fm_dsp_force_c(0);
}

/* The tools as a user runs them: same pictures and same report whatever
 * --threads and FILMMARK_CPU. */
Test(bitexact, tools_give_the_same_output_for_every_thread_count_and_cpu_path, .timeout = 600)
{
    char *d = tu_mkdtemp();
    const char *bin = FM_BUILD_DIR;
    cr_assert_eq(tu_sh("ffmpeg -nostdin -hide_banner -loglevel error -i '%s/samples/sample.mkv'"
                       " -t 1.5 -an -c:v ffv1 '%s/m.mkv'", FM_SOURCE_DIR, d), 0);
    cr_assert_eq(tu_sh("'%s/wmkeygen' --no-passphrase -o '%s/k' -q", bin, d), 0);
    static const char *runs[] = { "--threads 1", "--threads 3", "--threads 2" };
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(tu_sh("%s'%s/wmembed' -k '%s/k.key' -i '%s/m.mkv' -o '%s/o%d.mkv' "
                           "--codec ffv1 --title-id 7 --recipient-id 9 --issued "
                           "2026-01-01T00:00Z --no-registry -q %s", i == 2 ? "FILMMARK_CPU=c " : "", bin, d,
                           d, d, i, runs[i]), 0, "wmembed %s", runs[i]);
        cr_assert_eq(tu_sh("ffmpeg -nostdin -hide_banner -loglevel error -i '%s/o%d.mkv' "
                           "-map 0:v -f framemd5 '%s/o%d.md5'", d, i, d, i), 0);
        /* the report without the lines that name the run itself (when, and
         * the command line with its --threads) */
        cr_assert_eq(tu_sh("%s'%s/wmdetect' -k '%s/k.dkey' --no-registry --json -q %s "
                           "'%s/o0.mkv' | grep -v '\"analysed_utc\"\\|\"command\"' "
                           "> '%s/d%d.json'", i == 2 ? "FILMMARK_CPU=c " : "", bin, d, runs[i],
                           d, d, i), 0, "wmdetect %s", runs[i]);
    }
    cr_expect_eq(tu_sh("grep -q '\"found\": true' '%s/d0.json'", d), 0,
                 "wmdetect did not find the mark it is compared on");
    /* a cropped copy goes through the geometry search and the readings
     * under what it finds: the same report too */
    cr_assert_eq(tu_sh("ffmpeg -nostdin -hide_banner -loglevel error -i '%s/o0.mkv' "
                       "-vf crop=iw-20:ih-14:6:4 -c:v ffv1 '%s/c.mkv'", d, d), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(tu_sh("'%s/wmdetect' -k '%s/k.dkey' --no-registry --json -q --threads %d "
                           "'%s/c.mkv' | grep -v '\"analysed_utc\"\\|\"command\"' "
                           "> '%s/c%d.json'", bin, d, i ? 3 : 1, d, d, i), 0);
    cr_expect_eq(tu_sh("cmp -s '%s/c0.json' '%s/c1.json'", d, d), 0,
                 "wmdetect on a cropped copy: another report with --threads 3 than 1");
    for (int i = 1; i < 3; i++) {
        cr_expect_eq(tu_sh("cmp -s '%s/o0.md5' '%s/o%d.md5'", d, d, i), 0,
                     "wmembed %s%s: other pictures than --threads 1", i == 2 ? "FILMMARK_CPU=c " : "",
                     runs[i]);
        cr_expect_eq(tu_sh("cmp -s '%s/d0.json' '%s/d%d.json'", d, d, i), 0,
                     "wmdetect %s%s: another report than --threads 1", i == 2 ? "FILMMARK_CPU=c " : "",
                     runs[i]);
    }
    tu_rmtree(d);
}
