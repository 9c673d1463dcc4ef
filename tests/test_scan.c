/*
 * test_scan.c - stills and dataset scans (issue 13, section 2):
 *   - the combined statistic of wmdetect --scan against its exact
 *     distribution on synthetic evidence;
 *   - the still detector's per-file false-alarm probability on unmarked
 *     pictures (the input of the combination);
 *   - a still cut from a marked excerpt of samples/sample.mkv, centre-cropped
 *     to a square, scaled and JPEG-compressed as datasets do, is detected
 *     with its signed payload; the same still of the unmarked sample is not;
 *   - wmdetect --scan on a small tree (marked and unmarked stills, a marked
 *     clip, a text file, damaged pictures) reports the right hits and one
 *     line per unreadable file without stopping.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "accumulator.h"
#include "keys.h"
#include "scan_stats.h"
#include "still.h"
#include "testutil.h"

#define FFMPEG "ffmpeg -nostdin -hide_banner -loglevel error -y"
#define TITLE "424242"
#define RECIPIENT "7"
#define ISSUED "2026-11-23T19:54Z"

/* ---- the combined statistic ---- */

/* P(Bin(n, p) >= k) by the plain sum of the pmf (small n only). */
static double tail_direct(int n, double p, int k)
{
    double s = 0;
    for (int j = k; j <= n; j++) {
        double c = 1;
        for (int i = 0; i < j; i++)
            c = c * (n - i) / (i + 1);
        s += c * pow(p, j) * pow(1 - p, n - j);
    }
    return s;
}

Test(scan_stats, binomial_tail_is_exact)
{
    static const struct { int n; double p; int k; } cases[] = {
        { 10, 0.1, 0 }, { 10, 0.1, 1 }, { 10, 0.1, 3 }, { 10, 0.5, 5 }, { 40, 0.05, 2 },
        { 40, 0.05, 6 }, { 40, 0.05, 40 }, { 100, 0.3, 30 }, { 60, 1e-6, 4 }, { 5, 0.9, 5 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double want = tail_direct(cases[i].n, cases[i].p, cases[i].k);
        double got = pow(10, fm_binom_tail_log10(cases[i].n, cases[i].p, cases[i].k));
        cr_assert(fabs(got / want - 1) < 1e-9, "n %d p %g k %d: %.12g vs %.12g", cases[i].n,
                  cases[i].p, cases[i].k, got, want);
    }
    cr_assert(isinf(fm_binom_tail_log10(10, 0.1, 11)));
    /* large n, tiny p: Poisson limit (lambda = 0.01, k = 4: e^-0.01 0.01^4/24 (1 + ...)) */
    double l = fm_binom_tail_log10(10000, 1e-6, 4);
    cr_assert(fabs(l - log10(exp(-0.01) * 1e-8 / 24 * (1 + 0.01 / 5))) < 1e-3, "%f", l);
    /* more keys: more hypotheses */
    cr_assert_float_eq(fm_scan_combined_log10(10000, 4, 1e-6, 10), l + 1, 1e-9);
}

/*
 * Synthetic evidence: N files, each with a per-file statistic that is the
 * best of H hypotheses of N(0, 1) (as a file without the mark), corrected
 * p_i = min(1, H Q(z_i)). With H = 1 the p_i are exactly uniform, and the
 * count of files at p_i <= tau must follow Bin(N, tau) exactly; with H > 1
 * the correction is conservative and the combined p must stay valid.
 */
static void simulate(int H, int N, double tau, int trials, long *count_hist, int maxk,
                     double *alpha, long *below, int nalpha)
{
    TuRng rng;
    tu_rng_seed(&rng, 1234 + (uint64_t)H);
    for (int t = 0; t < trials; t++) {
        int k = 0;
        for (int f = 0; f < N; f++) {
            double z = -INFINITY;
            for (int h = 0; h < H; h++) {
                double g = tu_rng_gauss(&rng);
                z = g > z ? g : z;
            }
            double p = H * 0.5 * erfc(z / M_SQRT2);
            k += p <= tau;
        }
        count_hist[k < maxk ? k : maxk]++;
        double c = pow(10, fm_scan_combined_log10(N, k, tau, 1));
        for (int a = 0; a < nalpha; a++)
            below[a] += c <= alpha[a];
    }
}

Test(scan_stats, combined_matches_its_exact_distribution)
{
    enum { N = 40, TRIALS = 20000, MAXK = 12, NA = 4 };
    const double tau = 0.05;
    double alpha[NA] = { 0.5, 0.1, 0.01, 0.001 };
    long hist[MAXK + 1] = { 0 }, below[NA] = { 0 };
    simulate(1, N, tau, TRIALS, hist, MAXK, alpha, below, NA);
    /* the count's distribution: P(K >= k) against the binomial tail */
    long ge = TRIALS;
    for (int k = 0; k <= 6; k++) {
        double want = tail_direct(N, tau, k);
        double got = (double)ge / TRIALS;
        double sd = sqrt(want * (1 - want) / TRIALS) + 1e-4;
        cr_log_info("K >= %d: %.4f simulated, %.4f exact\n", k, got, want);
        cr_assert(fabs(got - want) < 4.5 * sd, "P(K >= %d): %.4f vs %.4f", k, got, want);
        ge -= hist[k];
    }
    /* the combined p is a valid p-value: P(combined <= a) <= a; for the
     * discrete binomial it equals the tail at the attained levels */
    for (int a = 0; a < NA; a++) {
        double got = (double)below[a] / TRIALS;
        double sd = sqrt(alpha[a] * (1 - alpha[a]) / TRIALS);
        cr_log_info("P(combined <= %g) = %.4f\n", alpha[a], got);
        cr_assert(got <= alpha[a] + 4 * sd, "P(combined <= %g) = %.4f", alpha[a], got);
    }
}

Test(scan_stats, combined_stays_valid_with_many_hypotheses_per_file)
{
    enum { N = 30, TRIALS = 4000, MAXK = 12, NA = 3 };
    double alpha[NA] = { 0.2, 0.05, 0.01 };
    long hist[MAXK + 1] = { 0 }, below[NA] = { 0 };
    simulate(64, N, 0.05, TRIALS, hist, MAXK, alpha, below, NA);
    for (int a = 0; a < NA; a++) {
        double got = (double)below[a] / TRIALS;
        double sd = sqrt(alpha[a] * (1 - alpha[a]) / TRIALS);
        cr_assert(got <= alpha[a] + 4 * sd, "P(combined <= %g) = %.4f", alpha[a], got);
    }
}

/* ---- the still detector on unmarked pictures ---- */

Test(still, unmarked_pictures_give_valid_per_file_p)
{
    FmError err = { { 0 } };
    cr_assert_eq(fm_init(&err), 0);
    FmKey *key = fm_key_new();
    tu_fixed_key(key, 5);
    FmStillKey *sk = NULL;
    cr_assert_eq(fm_still_key_new(&sk, key, &err), 0, "%s", err.msg);
    enum { W = 400, H = 360, FILES = 60 };
    uint8_t *plane = malloc(W * H);
    FmStillPicture pic = { 0 };
    int below_01 = 0, found = 0;
    double zmax = 0;
    for (int i = 0; i < FILES; i++) {
        FmDetectResult r;
        tu_synth_luma(plane, W, W, H, 8, i % TU_SYNTH_KINDS, 77 + (uint64_t)i, 0);
        cr_assert_eq(fm_still_picture_set(&pic, plane, W, W, H, 8, &err), 0, "%s", err.msg);
        cr_assert_eq(fm_still_detect(&pic, sk, 1, 0, &r, NULL, NULL, &err), 0, "%s", err.msg);
        cr_assert_eq(r.hypotheses, (long)FM_STILL_CANDIDATES * FM_EPOCHS);
        below_01 += r.false_alarm_probability <= 0.1;
        found += r.found;
        zmax = r.pilot_z > zmax ? r.pilot_z : zmax;
    }
    fm_still_picture_free(&pic);
    cr_log_info("%d unmarked pictures: %d with p <= 0.1, best pilot z %.2f\n", FILES, below_01,
                zmax);
    cr_assert_eq(found, 0);
    /* P(p <= 0.1) <= 0.1: at most 6 expected, 13 is 3 sd above */
    cr_assert_leq(below_01, 13);
    free(plane);
    fm_still_key_free(&sk);
    fm_key_free(&key);
}

/* A picture made by fm_still_picture_set lends the detector its arrays and
 * keeps them across pictures of other sizes: the results must be those of a
 * fresh picture, and of the detector's own arrays (a picture without them). */
Test(still, reused_picture_detects_as_a_fresh_one)
{
    FmError err = { { 0 } };
    cr_assert_eq(fm_init(&err), 0);
    FmKey *key = fm_key_new();
    tu_fixed_key(key, 6);
    FmStillKey *sk = NULL;
    cr_assert_eq(fm_still_key_new(&sk, key, &err), 0, "%s", err.msg);
    static const int sizes[][2] = { { 400, 360 }, { 333, 257 }, { 512, 512 }, { 400, 360 } };
    enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
    uint8_t *plane = malloc(512 * 512);
    float *soft[3];
    for (int k = 0; k < 3; k++)
        soft[k] = malloc(sizeof(float) * FM_CODED_BITS);
    FmStillPicture reused = { 0 };
    for (int i = 0; i < NS; i++) {
        int w = sizes[i][0], h = sizes[i][1];
        tu_synth_luma(plane, w, w, h, 8, i % TU_SYNTH_KINDS, 300 + (uint64_t)i, 0);
        FmStillPicture fresh = { 0 };
        FmDetectResult r[3];
        cr_assert_eq(fm_still_picture_set(&reused, plane, w, w, h, 8, &err), 0, "%s", err.msg);
        cr_assert_eq(fm_still_picture_set(&fresh, plane, w, w, h, 8, &err), 0, "%s", err.msg);
        cr_assert_not_null(reused.scratch);
        FmStillPicture bare = fresh;   /* the same grid, no arrays to lend */
        bare.scratch = NULL;
        cr_assert_eq(fm_still_detect(&reused, sk, 1, FM_STILL_DECODE, &r[0], soft[0], NULL, &err), 0);
        cr_assert_eq(fm_still_detect(&fresh, sk, 1, FM_STILL_DECODE, &r[1], soft[1], NULL, &err), 0);
        cr_assert_eq(fm_still_detect(&bare, sk, 1, FM_STILL_DECODE, &r[2], soft[2], NULL, &err), 0);
        for (int k = 1; k < 3; k++) {
            cr_assert_eq(memcmp(&r[0].pilot_z, &r[k].pilot_z, sizeof(double)), 0,
                         "%dx%d: z %.17g vs %.17g", w, h, r[0].pilot_z, r[k].pilot_z);
            cr_assert_eq(r[0].master_position, r[k].master_position);
            cr_assert_eq(r[0].geometry.offset_x, r[k].geometry.offset_x);
            cr_assert_eq(r[0].geometry.offset_y, r[k].geometry.offset_y);
            cr_assert_eq(r[0].geometry.flip_h, r[k].geometry.flip_h);
            cr_assert_eq(memcmp(r[0].message, r[k].message, FM_MESSAGE_BYTES), 0);
            cr_assert_eq(memcmp(soft[0], soft[k], sizeof(float) * FM_CODED_BITS), 0,
                         "%dx%d: soft bits differ", w, h);
        }
        cr_log_info("%dx%d: z %.3f, raw errors %.3f\n", w, h, r[0].pilot_z, r[0].raw_ber);
        fm_still_picture_free(&fresh);
    }
    fm_still_picture_free(&reused);
    for (int k = 0; k < 3; k++)
        free(soft[k]);
    free(plane);
    fm_still_key_free(&sk);
    fm_key_free(&key);
}

/* ---- a marked excerpt of the sample, and its stills (made once) ---- */

static char *media;

static void run_ok(const char *what, int rc)
{
    if (rc != 0) {
        fprintf(stderr, "test_scan setup: %s failed (%d)\n", what, rc);
        abort();
    }
}

/* A still of clip at t, centre-cropped to a square, scaled to size px,
 * JPEG quality q (ffmpeg's -q:v scale: 2 ~ q 90, 5 ~ q 75). */
static void make_still(const char *clip, double t, int size, int q, const char *out)
{
    run_ok("still", tu_sh(FFMPEG " -ss %.2f -i '%s/%s' -frames:v 1 "
                          "-vf 'crop=ih:ih,scale=%d:%d:flags=area' -q:v %d '%s/%s'",
                          t, media, clip, size, size, q, media, out));
}

static void setup_media(void)
{
    FmError err = { { 0 } };
    if (media)
        return;
    media = tu_mkdtemp();
    run_ok("fm_init", fm_init(&err));
    FmKey *key = fm_key_new();
    tu_fixed_key(key, 11);
    char *kp = tu_path(media, "k.key"), *dk = tu_path(media, "k.dkey");
    FmKey *dkey = fm_key_new();
    run_ok("save key", fm_key_save(key, kp, 1, &err));
    run_ok("derive dkey", fm_key_derive(key, FM_KEY_DETECT, dkey, &err));
    run_ok("save dkey", fm_key_save(dkey, dk, 1, &err));
    fm_key_free(&key);
    fm_key_free(&dkey);
    /* 1.5 s of the sample (an epoch and a bit) */
    run_ok("excerpt", tu_sh(FFMPEG " -i '%s/samples/sample.mkv' -t 1.5 -an -c:v ffv1 '%s/master.mkv'",
                            FM_SOURCE_DIR, media));
    run_ok("wmembed", tu_sh("'%s/wmembed' -k '%s' -i '%s/master.mkv' -o '%s/marked.webm' "
                            "--title-id " TITLE " --recipient-id " RECIPIENT " --issued " ISSUED
                            " --quiet", FM_BUILD_DIR, kp, media, media));
    make_still("marked.webm", 1.0, 512, 2, "marked_512_q90.jpg");
    make_still("marked.webm", 0.4, 360, 2, "marked_360_q90.jpg");
    make_still("master.mkv", 1.0, 512, 2, "plain_512_q90.jpg");
    free(kp);
    free(dk);
}

static void teardown_media(void)
{
    /* the media directory is removed by the last test of the suite */
}

static json_t *detect_json(const char *still, int *rc)
{
    char *dk = tu_path(media, "k.dkey"), *p = tu_path(media, still);
    char *out = NULL;
    const char *argv[] = { FM_BUILD_DIR "/wmdetect", "-k", dk, "--json", p, NULL };
    *rc = tu_run(argv, &out, NULL);
    json_t *j = json_loads(out ? out : "", 0, NULL);
    free(out);
    free(dk);
    free(p);
    return j;
}

TestSuite(stills, .init = setup_media, .fini = teardown_media, .timeout = 120);

Test(stills, a_still_of_a_marked_sample_is_detected)
{
    int rc;
    json_t *j = detect_json("marked_512_q90.jpg", &rc);
    cr_assert(j, "wmdetect printed no JSON");
    double z = json_real_value(json_object_get(j, "pilot_z"));
    cr_log_info("512 px q90 still: rc %d, pilot z %.1f, p 10^%.1f, signature %d\n", rc, z,
                json_real_value(json_object_get(j, "false_alarm_log10")),
                json_is_true(json_object_get(j, "signature_valid")));
    cr_assert(json_is_true(json_object_get(j, "found")));
    cr_assert_leq(json_real_value(json_object_get(j, "false_alarm_log10")), -9);
    cr_assert(json_is_true(json_object_get(j, "signature_valid")));
    cr_assert_eq(json_integer_value(json_object_get(j, "title_id")), atoi(TITLE));
    cr_assert_eq(json_integer_value(json_object_get(j, "frames_read")), 1);
    /* mark format 4: a still is bound when its picture still gives its
     * epoch's tag (the hash of the epoch before, here of the master's first
     * frame); a still 1 s later in a street scene may not, and then the
     * signed payload is reported but not claimed for this picture */
    const char *verdict = json_string_value(json_object_get(j, "binding_verdict"));
    cr_log_info("binding: %s, z %.1f", verdict, json_real_value(json_object_get(j, "binding_z")));
    cr_assert(!strcmp(verdict, "bound") || !strcmp(verdict, "inconclusive"), "%s", verdict);
    cr_assert_eq(rc, !strcmp(verdict, "bound") ? 0 : 3);
    json_decref(j);
}

Test(stills, the_same_still_of_the_unmarked_sample_is_not)
{
    int rc;
    json_t *j = detect_json("plain_512_q90.jpg", &rc);
    cr_assert(j);
    cr_log_info("unmarked still: pilot z %.1f, p 10^%.1f\n",
                json_real_value(json_object_get(j, "pilot_z")),
                json_real_value(json_object_get(j, "false_alarm_log10")));
    cr_assert(json_is_false(json_object_get(j, "found")));
    cr_assert(json_is_false(json_object_get(j, "signature_valid")));
    cr_assert_eq(rc, 1);
    json_decref(j);
}

/* ---- --scan on a small tree ---- */

Test(stills, scan_reports_hits_and_unreadable_files_without_stopping)
{
    char *tree = tu_path(media, "tree");
    run_ok("tree", tu_sh("mkdir -p '%s/a/b' '%s/c' && cp '%s/marked_512_q90.jpg' '%s/a/m1.jpg' && "
                         "cp '%s/marked_360_q90.jpg' '%s/a/b/m2.jpg' && cp '%s/plain_512_q90.jpg' '%s/c/u1.jpg' && "
                         "cp '%s/marked.webm' '%s/c/clip.webm' && echo 'not a picture' > '%s/a/notes.txt' && "
                         "head -c 300 '%s/marked_512_q90.jpg' > '%s/a/b/truncated.jpg' && "
                         "head -c 4000 /dev/urandom > '%s/c/noise.png' && : > '%s/c/empty.jpg'",
                         tree, tree, media, tree, media, tree, media, tree, media, tree, tree,
                         media, tree, tree, tree));
    run_ok("unmarked test pattern", tu_sh(FFMPEG " -f lavfi -i testsrc2=s=640x480 -frames:v 1 '%s/c/u2.png'", tree));
    char *dk = tu_path(media, "k.dkey");
    char *out = NULL, *err = NULL;
    const char *argv[] = { FM_BUILD_DIR "/wmdetect", "-k", dk, "--scan", tree, "--json",
                           "--threads", "2", NULL };
    int rc = tu_run(argv, &out, &err);
    cr_log_info("scan: rc %d\n%s%s", rc, out, err);
    cr_assert_eq(rc, 0);
    int hits_m1 = 0, hits_m2 = 0, hits_clip = 0, false_hits = 0, unreadable = 0, summary = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert(j, "not JSON: %s", line);
        const char *file = json_string_value(json_object_get(j, "file"));
        json_t *sum = json_object_get(j, "summary");
        if (sum) {
            summary++;
            cr_assert_eq(json_integer_value(json_object_get(sum, "files")), 9);
            cr_assert_eq(json_integer_value(json_object_get(sum, "files_read")), 5);
            cr_assert_eq(json_integer_value(json_object_get(sum, "files_unreadable")), 4);
            json_t *k0 = json_array_get(json_object_get(sum, "keys"), 0);
            json_t *t0 = json_array_get(json_object_get(k0, "titles"), 0);
            cr_assert_eq(json_integer_value(json_object_get(t0, "title_id")), atoi(TITLE));
            cr_assert_eq(json_integer_value(json_object_get(t0, "files_signature_valid")), 3);
        } else if (json_object_get(j, "error")) {
            unreadable++;
            cr_assert(strstr(file, "notes.txt") || strstr(file, "truncated.jpg") ||
                      strstr(file, "noise.png") || strstr(file, "empty.jpg"), "%s", file);
        } else if (json_is_true(json_object_get(j, "found"))) {
            int sig = json_is_true(json_object_get(j, "signature_valid"));
            int title = sig && json_integer_value(json_object_get(j, "title_id")) == atoi(TITLE);
            if (strstr(file, "m1.jpg"))
                hits_m1 += title;
            else if (strstr(file, "m2.jpg"))
                hits_m2 += title;
            else if (strstr(file, "clip.webm"))
                hits_clip += title;
            else
                false_hits++;
        }
        json_decref(j);
    }
    cr_assert_eq(hits_m1, 1);
    cr_assert_eq(hits_m2, 1);
    cr_assert_eq(hits_clip, 1);
    cr_assert_eq(false_hits, 0);
    cr_assert_eq(unreadable, 4);
    cr_assert_eq(summary, 1);
    /* one clear line on stderr per unreadable file */
    cr_assert_eq(tu_count_lines(err), 4, "%s", err);
    cr_assert(strstr(err, "notes.txt: not read: "));
    free(out);
    free(err);

    /* the same from a list on stdin, text output */
    out = err = NULL;
    rc = tu_sh("cd '%s' && find . -name '*.jpg' | sort | '%s/wmdetect' -k '%s' --scan - --threads 1 "
               "> '%s/list.out' 2> '%s/list.err'", tree, FM_BUILD_DIR, dk, media, media);
    cr_assert_eq(rc, 0);
    char *lo = tu_path(media, "list.out"), *le = tu_path(media, "list.err");
    cr_assert_eq(tu_read_file(lo, &out, NULL), 0);
    cr_assert_eq(tu_read_file(le, &err, NULL), 0);
    cr_log_info("%s%s", out, err);
    cr_assert(strstr(out, "./a/m1.jpg: watermark found: title " TITLE));
    cr_assert(strstr(out, "./a/b/m2.jpg: watermark found: title " TITLE));
    cr_assert(!strstr(out, "u1.jpg"));
    cr_assert(strstr(out, "scan: 5 files, 3 read, 2 unreadable"));
    cr_assert_eq(tu_count_lines(err), 2, "%s", err);
    free(lo);
    free(le);
    free(out);
    free(err);
    free(dk);
    free(tree);
    tu_rmtree(media);
    media = NULL;
}
