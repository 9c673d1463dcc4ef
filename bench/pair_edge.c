/*
 * pair_edge - the pair read (common/pair_decode.h) against the SC list
 * decoder on a simulated average of two copies.
 *
 *   pair_edge [--trials N] [--seed S] [--sigmas s,s,...] [--deep]
 *
 * Each trial codes two messages with the watermark's (4096, 624) polar
 * code: the same 112 payload bits but for a recipient id differing in its
 * low byte, and independent 512-bit signatures (random bits: what a second
 * Ed25519 signature looks like). The detector's view of their average is
 * soft value i = (s_A,i + s_B,i) / 2 + N(0, sigma^2), s = +-1: +-1 where the
 * codewords agree, 0 where they differ. A decoder succeeds when a message
 * is among its candidates (the signature would pick it): the pair read
 * (FM_MSGCODE_PAIR_DLIST differences, FM_MSGCODE_PAIR_FLIPS flips), "both"
 * when it lists the two; the list of 32; with --deep, the list of 1024 too
 * (0.4 s a decode). Markdown to stdout.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "msgcode.h"
#include "pair_decode.h"
#include "polar.h"

#define N ((int)FM_CODED_BITS)
#define K ((int)FM_MESSAGE_BITS)

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_gauss(uint64_t *s)
{
    double u = ((double)(rng_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double v = (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int listed(const uint8_t *cands, int n, const uint8_t *msg)
{
    for (int c = 0; c < n; c++)
        if (!memcmp(cands + (size_t)c * K, msg, K))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int trials = 50, deep = 0;
    uint64_t seed = 1;
    const char *sigmas = "0,0.3,0.4,0.45,0.5,0.56,0.63,0.7";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--trials") && i + 1 < argc)
            trials = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--sigmas") && i + 1 < argc)
            sigmas = argv[++i];
        else if (!strcmp(argv[i], "--deep"))
            deep = 1;
        else {
            fprintf(stderr, "usage: pair_edge [--trials N] [--seed S] [--sigmas s,s,...] "
                            "[--deep]\n");
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (trials < 1) {
        fprintf(stderr, "pair_edge: --trials must be at least 1\n");
        return 2;
    }
    FmPolar *code;
    FmPairCode *pc;
    if (fm_polar_init(&code, N, K) < 0 || fm_pair_code_init(&pc, code) < 0) {
        fprintf(stderr, "pair_edge: out of memory\n");
        return 1;
    }
    static uint8_t cands[FM_MSGCODE_MAX_LIST * K];
    static uint8_t msg[2][K], coded[2][N];
    static float soft[N];

    printf("Command: `pair_edge --trials %d --seed %llu --sigmas %s%s`\n\n", trials,
           (unsigned long long)seed, sigmas, deep ? " --deep" : "");
    printf("| sigma | wrong among agreeing bits | raw BER vs A | pair read: both | either | "
           "list of 32: either |%s pair ms/decode |\n", deep ? " list of 1024: either |" : "");
    printf("| ---: | ---: | ---: | ---: | ---: | ---: |%s ---: |\n", deep ? " ---: |" : "");
    char *list = strdup(sigmas);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        double sigma = atof(tok);
        uint64_t s = seed * 0xd1b54a32d192ed03ULL + (uint64_t)llround(sigma * 1000);
        long agree = 0, agree_wrong = 0, wrong_a = 0;
        int both = 0, either = 0, sc32 = 0, sc1024 = 0;
        double secs = 0;
        for (int t = 0; t < trials; t++) {
            for (int i = 0; i < K; i++)
                msg[0][i] = msg[1][i] = (uint8_t)(rng_next(&s) >> 63);
            for (int i = 64; i < 72; i++)      /* the recipient id's low byte */
                msg[1][i] = (uint8_t)(rng_next(&s) >> 63);
            for (int i = 112; i < K; i++)      /* the signature */
                msg[1][i] = (uint8_t)(rng_next(&s) >> 63);
            for (int c = 0; c < 2; c++)
                fm_polar_encode(code, msg[c], coded[c]);
            for (int i = 0; i < N; i++) {
                double y = 0.5 * ((coded[0][i] ? 1 : -1) + (coded[1][i] ? 1 : -1)) +
                           sigma * rng_gauss(&s);
                soft[i] = (float)y;
                int bad = (y > 0) != (coded[0][i] == 1);
                wrong_a += bad;
                if (coded[0][i] == coded[1][i]) {
                    agree++;
                    agree_wrong += bad;
                }
            }
            int found = 0;
            double t0 = cpu_now();
            int rc = fm_pair_decode(pc, soft, FM_MSGCODE_PAIR_DLIST, FM_MSGCODE_PAIR_FLIPS, cands,
                                    FM_MSGCODE_PAIR_TRIES, &found);
            secs += cpu_now() - t0;
            if (rc < 0 && rc != -1) {
                fprintf(stderr, "pair_edge: decoder error %d\n", rc);
                return 1;
            }
            int a = listed(cands, found, msg[0]), b = listed(cands, found, msg[1]);
            both += a && b;
            either += a || b;
            if (fm_polar_decode_list(code, soft, 32, cands, &found) < 0)
                return 1;
            sc32 += listed(cands, found, msg[0]) || listed(cands, found, msg[1]);
            if (deep) {
                if (fm_polar_decode_list(code, soft, FM_MSGCODE_LIST_DEEP, cands, &found) < 0)
                    return 1;
                sc1024 += listed(cands, found, msg[0]) || listed(cands, found, msg[1]);
            }
        }
        printf("| %.2f | %.1f %% | %.1f %% | %d/%d | %d/%d | %d/%d |", sigma,
               100.0 * (double)agree_wrong / (double)agree,
               100.0 * (double)wrong_a / ((double)N * trials), both, trials, either, trials, sc32,
               trials);
        if (deep)
            printf(" %d/%d |", sc1024, trials);
        printf(" %.1f |\n", 1000 * secs / trials);
        fflush(stdout);
    }
    free(list);
    fm_pair_code_free(&pc);
    fm_polar_free(&code);
    return 0;
}
