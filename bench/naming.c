/*
 * naming - the leaker among issued messages, on raw yuv420p frames through
 * pipes (bench/naming.sh drives it; docs/DESIGN.md §12):
 *
 *   naming embed W H FPS T0 RECIPIENT < src.yuv > marked.yuv
 *       marks frame i at master time T0 + i / FPS with recipient
 *       RECIPIENT's issued message (1..NCAND below)
 *   naming mix avg|median|alt W H FPS a.yuv b.yuv [c.yuv] > leak.yuv
 *       colluders combine their copies: the per-pixel mean, the per-pixel
 *       median (of three; of two it is the mean), or alternating 1-s
 *       segments (second s comes from copy s mod n)
 *   naming detect W H FPS TRUTH[,TRUTH...] < leak.yuv
 *       detects, names among the NCAND issued messages, prints one JSON line
 *       (the recipients in TRUTH are the guilty ones, for the counts)
 *   naming innocents KEYS
 *       the innocents' distribution: KEYS keys, each a synthetic 3-s clip
 *       marked for one of NCAND issued messages of one title, the other
 *       NCAND - 1 scored; prints the tail counts against N(0,1)
 *
 * The NCAND issued messages: one title, recipient ids 1..NCAND, issue
 * minutes spread over one day, signed with a fixed test key (never a real
 * key).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accumulator.h"
#include "detector.h"
#include "embedder.h"
#include "naming.h"

#define NCAND 1000
#define TITLE 0x7E57F11u
#define DAY0 29400000u

static void test_key(FmKey *key, uint32_t seed)
{
    uint8_t s[crypto_sign_SEEDBYTES];
    memset(s, 0, sizeof(s));
    memcpy(s, &seed, sizeof(seed));
    s[31] = 0x5A;
    crypto_sign_seed_keypair(key->sign_pk, key->sign_sk, s);
    crypto_generichash(key->wm_key, sizeof(key->wm_key), s, sizeof(s), NULL, 0);
    key->kind = FM_KEY_SECRET;
}

/* The issued messages of the title under key. */
static FmCandidate *issue(const FmKey *key)
{
    FmCandidate *c = calloc(NCAND, sizeof(*c));
    FmError err = { 0 };
    if (!c)
        exit(2);
    for (uint32_t i = 0; i < NCAND; i++) {
        FmPayload p = { FM_PAYLOAD_VERSION, TITLE, i + 1, DAY0 + (i * 2654435761u) % 1440,
                        FM_AI_USE_RESERVED };
        if (fm_payload_sign(&p, key, c[i].message, &err) < 0) {
            fprintf(stderr, "naming: %s\n", err.msg);
            exit(2);
        }
    }
    return c;
}

static int embed(FmKey *key, int w, int h, double fps, double t0, int rcpt)
{
    size_t fsize = (size_t)w * h + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2);
    uint8_t *frame = malloc(fsize);
    FmCandidate *c = issue(key);
    FmEmbedder *e;
    FmError err = { 0 };
    if (rcpt < 1 || rcpt > NCAND ||
        fm_embedder_new(&e, key->wm_key, c[rcpt - 1].message, w, h, 1.0, &err) < 0) {
        fprintf(stderr, "naming: %s\n", rcpt < 1 || rcpt > NCAND ? "bad recipient" : err.msg);
        return 2;
    }
    long n = 0;
    while (fread(frame, 1, fsize, stdin) == fsize) {
        if (fm_embedder_mark(e, frame, w, 8, t0 + n / fps, NULL, &err) < 0) {
            fprintf(stderr, "naming: %s\n", err.msg);
            return 2;
        }
        fwrite(frame, 1, fsize, stdout);
        n++;
    }
    fm_embedder_free(&e);
    free(c);
    free(frame);
    return 0;
}

static uint8_t median3(uint8_t a, uint8_t b, uint8_t c)
{
    uint8_t lo = a < b ? a : b, hi = a < b ? b : a;
    return c < lo ? lo : c > hi ? hi : c;
}

static int mix(const char *mode, int w, int h, double fps, char **files, int n)
{
    size_t fsize = (size_t)w * h + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2);
    FILE *in[3];
    uint8_t *fr[3], *out = malloc(fsize);
    for (int i = 0; i < n; i++) {
        if (!(in[i] = fopen(files[i], "rb"))) {
            fprintf(stderr, "naming: cannot open %s\n", files[i]);
            return 2;
        }
        fr[i] = malloc(fsize);
    }
    for (long f = 0;; f++) {
        for (int i = 0; i < n; i++)
            if (fread(fr[i], 1, fsize, in[i]) != fsize)
                goto done;
        if (!strcmp(mode, "alt")) {
            memcpy(out, fr[(long)floor(f / fps) % n], fsize);
        } else if (!strcmp(mode, "median") && n == 3) {
            for (size_t k = 0; k < fsize; k++)
                out[k] = median3(fr[0][k], fr[1][k], fr[2][k]);
        } else {
            for (size_t k = 0; k < fsize; k++) {
                int s = 0;
                for (int i = 0; i < n; i++)
                    s += fr[i][k];
                out[k] = (uint8_t)((s + n / 2) / n);
            }
        }
        fwrite(out, 1, fsize, stdout);
    }
done:
    for (int i = 0; i < n; i++) {
        fclose(in[i]);
        free(fr[i]);
    }
    free(out);
    return 0;
}

static int in_list(size_t idx, const int *truth, int nt)
{
    for (int i = 0; i < nt; i++)
        if ((size_t)truth[i] == idx + 1)
            return 1;
    return 0;
}

static int detect(FmKey *key, int w, int h, double fps, const char *truth_s)
{
    size_t fsize = (size_t)w * h + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2);
    uint8_t *frame = malloc(fsize);
    int truth[8], nt = 0;
    for (const char *p = truth_s; *p && nt < 8;) {
        truth[nt++] = atoi(p);
        const char *q = strchr(p, ',');
        p = q ? q + 1 : p + strlen(p);
    }
    FmCandidate *c = issue(key);
    FmAccumulator acc;
    FmError err = { 0 };
    if (fm_accumulator_init(&acc, w, h, &err) < 0)
        return 2;
    long n = 0;
    while (fread(frame, 1, fsize, stdin) == fsize) {
        if (fm_accumulator_add(&acc, frame, w, 8, n / fps, &err) < 0)
            return 2;
        n++;
    }
    FmDetectResult r;
    FmEvidence ev = { 0 };
    FmNamingResult nr;
    if (fm_detect_ex(&acc, key, 1, NULL, &r, &ev, &err) < 0 ||
        fm_name_candidates(&ev, &r, c, NCAND, 0, &nr, &err) < 0) {
        fprintf(stderr, "naming: %s\n", err.msg);
        return 2;
    }
    int guilty = 0, wrong = 0;
    double best_innocent = -INFINITY, innocent_lp = 0, truth_z[8];
    int first_innocent = 1;
    for (size_t i = 0; i < nr.named; i++)
        in_list(nr.scores[i].index, truth, nt) ? guilty++ : wrong++;
    for (size_t i = 0; i < nr.tested; i++) {
        const FmCandidateScore *s = &nr.scores[i];
        if (!in_list(s->index, truth, nt)) {
            best_innocent = s->z_clip > best_innocent ? s->z_clip : best_innocent;
            if (first_innocent)
                innocent_lp = s->false_alarm_log10;
            first_innocent = 0;
        }
        for (int t = 0; t < nt; t++)
            if ((size_t)truth[t] == s->index + 1)
                truth_z[t] = s->z;
    }
    printf("{\"frames\": %ld, \"pilot_z\": %.2f, \"false_alarm_log10\": %.1f, \"signature_valid\": "
           "%s, \"blind_recipient\": %u, \"raw_ber\": %.3f, \"named\": [",
           n, r.pilot_z, r.false_alarm_log10, r.signature_valid ? "true" : "false",
           r.signature_valid ? r.payload.recipient_id : 0, r.raw_ber);
    for (size_t i = 0; i < nr.named; i++)
        printf("%s{\"recipient_id\": %zu, \"z\": %.2f, \"false_alarm_log10\": %.1f}",
               i ? ", " : "", nr.scores[i].index + 1, nr.scores[i].z,
               nr.scores[i].false_alarm_log10);
    printf("], \"guilty_named\": %d, \"colluders\": %d, \"innocents_named\": %d, \"truth_z\": [",
           guilty, nt, wrong);
    for (int t = 0; t < nt; t++)
        printf("%s%.2f", t ? ", " : "", truth_z[t]);
    printf("], \"best_innocent_z\": %.2f, \"best_innocent_log10p\": %.1f, \"margin_log10\": %.1f, \"consistency_ratio\": %.2f, "
           "\"consistency_se\": %.2f, \"superimposed\": %s}\n",
           best_innocent, innocent_lp, nr.margin_log10, nr.consistency.ratio, nr.consistency.ratio_se,
           nr.consistency.superimposed ? "true" : "false");
    fm_naming_result_free(&nr);
    fm_evidence_free(&ev);
    fm_accumulator_free(&acc);
    free(c);
    free(frame);
    return 0;
}

/* A cheap moving texture: noise, gradient and drifting bars. */
static void synth(uint8_t *p, int w, int h, uint32_t seed, int frame)
{
    uint32_t s = seed * 747796405u + 2891336453u;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            s = s * 1664525u + 1013904223u;
            double v = 110 + 40 * sin((x + 2 * frame) * 0.05 + seed) + 30 * cos(y * 0.031) +
                       (double)(s >> 24) / 8;
            p[y * w + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
}

static int innocents(int keys)
{
    const int w = 320, h = 240, nf = 72;
    const double edges[] = { 2, 3, 3.5, 4, 4.5, 5 };
    long count = 0, tail[6] = { 0 };
    double sum = 0, sum2 = 0, worst = -INFINITY;
    uint8_t *plane = malloc((size_t)w * h);
    FmError err = { 0 };
    for (int k = 0; k < keys; k++) {
        FmKey *key = fm_key_new();
        test_key(key, 1000u + (uint32_t)k);
        FmCandidate *c = issue(key);
        int who = (int)((k * 389u) % NCAND);
        FmEmbedder *e;
        FmAccumulator acc;
        if (fm_embedder_new(&e, key->wm_key, c[who].message, w, h, 1.0, &err) < 0 ||
            fm_accumulator_init(&acc, w, h, &err) < 0)
            return 2;
        /* a third of the clips clean, a third noisy, a third unmarked */
        double noise = k % 3 == 0 ? 2 : 30;
        uint32_t rs = (uint32_t)k * 2246822519u + 1;
        for (int f = 0; f < nf; f++) {
            synth(plane, w, h, (uint32_t)k, f);
            if (k % 3 != 2)
                fm_embedder_mark(e, plane, w, 8, 5.0 * k + f / 24.0, NULL, &err);
            for (int i = 0; i < w * h; i++) {
                rs = rs * 1664525u + 1013904223u;
                double g = ((rs >> 8) / 16777216.0 - 0.5) * 3.4641;  /* uniform, unit variance */
                double v = plane[i] + noise * g;
                plane[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
            }
            fm_accumulator_add(&acc, plane, w, 8, f / 24.0, &err);
        }
        FmDetectResult r;
        FmEvidence ev = { 0 };
        FmNamingResult nr;
        if (fm_detect_ex(&acc, key, 1, NULL, &r, &ev, &err) < 0 ||
            fm_name_candidates(&ev, &r, c, NCAND, 0, &nr, &err) < 0) {
            fprintf(stderr, "naming: %s\n", err.msg);
            return 2;
        }
        for (size_t i = 0; i < nr.tested; i++) {
            if (k % 3 != 2 && nr.scores[i].index == (size_t)who)
                continue;
            double z = nr.scores[i].z_clip;
            sum += z;
            sum2 += z * z;
            worst = z > worst ? z : worst;
            for (int t = 0; t < 6; t++)
                tail[t] += z >= edges[t];
            count++;
        }
        fprintf(stderr, "key %d: %s, pilot z %.1f, named %zu\n", k,
                k % 3 == 2 ? "unmarked" : noise > 2 ? "noisy" : "clean", r.pilot_z, nr.named);
        fm_naming_result_free(&nr);
        fm_evidence_free(&ev);
        fm_accumulator_free(&acc);
        fm_embedder_free(&e);
        free(c);
        fm_key_free(&key);
    }
    double mean = sum / count;
    printf("innocent scores: %ld (%d keys x %d candidates, the leaker's own left out)\n", count,
           keys, NCAND);
    printf("mean %.4f  variance %.4f  highest %.2f\n", mean, sum2 / count - mean * mean, worst);
    printf("| z >= | observed | N(0,1) expects |\n| --- | --- | --- |\n");
    for (int t = 0; t < 6; t++)
        printf("| %.1f | %ld | %.1f |\n", edges[t], tail[t],
               count * pow(10, fm_gauss_tail_log10(edges[t])));
    free(plane);
    return 0;
}

int main(int argc, char **argv)
{
    FmError err = { 0 };
    if (fm_init(&err) < 0)
        return 2;
    if (argc >= 3 && !strcmp(argv[1], "innocents"))
        return innocents(atoi(argv[2]));
    FmKey *key = fm_key_new();
    if (!key)
        return 2;
    test_key(key, 1);
    if (argc == 7 && !strcmp(argv[1], "embed"))
        return embed(key, atoi(argv[2]), atoi(argv[3]), atof(argv[4]), atof(argv[5]),
                     atoi(argv[6]));
    if (argc >= 8 && argc <= 9 && !strcmp(argv[1], "mix"))
        return mix(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]), argv + 6, argc - 6);
    if (argc == 6 && !strcmp(argv[1], "detect"))
        return detect(key, atoi(argv[2]), atoi(argv[3]), atof(argv[4]), argv[5]);
    fprintf(stderr, "usage: naming embed W H FPS T0 RECIPIENT | mix avg|median|alt W H FPS A B [C]"
                    " | detect W H FPS TRUTH[,TRUTH] | innocents KEYS\n");
    return 2;
}
