/*
 * fec_real - the message codes compared on the evidence of real copies.
 *
 *   fec_real KEY MESSAGE_HEX W H FPS [TRIALS] < luma.gray
 *
 * Reads 8-bit luma frames (W x H, ffmpeg -f rawvideo -pix_fmt gray) of a
 * copy whose issued message is known (MESSAGE_HEX, 156 hex characters: the
 * message_hex wmdetect --json prints for the deliverable), runs the
 * detector on the nominal grid blind (the copy must have been marked by
 * this build's code; the message is not told to the detector), and takes the
 * soft evidence of its coded bits (FmEvidence.soft: one data rank each in
 * formats 3 to 7, the cell signs and format mask undone): the channel the
 * copy gave, rank by rank, whatever code the ranks carried. Its sign
 * against the issued codeword gives each rank's margin (positive = read
 * right; the share of non-positive margins is the detector's raw BER).
 *
 * The same margins are then given to each code: coded bit b of a code of
 * length N sums the ranks r with r % N == b. TRIALS
 * times (default 200) the ranks are shuffled (another key's order) and a
 * random message is coded; a trial succeeds when the sent message is in the
 * decoder's list (the Ed25519 check would pick it). Prints one JSON line:
 * the real decode's outcome and, per code, the successes and the mean raw
 * error rate of its coded bits.
 *
 * Codes: the format's K = 9 convolutional code with list Viterbi (64),
 * polar (4096, 624) with SC list decoding (8, 32, and the deep list of 1024
 * that wmdetect tries last), and random LDPC codes (bench/ldpc.h) of 2048 and
 * 4096 bits decoded by 200 iterations of layered sum-product, told the
 * channel's mean and spread from the margins themselves (the best case for
 * it; a detector would have to estimate them), and by normalised min-sum,
 * which needs neither.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accumulator.h"
#include "detector.h"
#include "fec.h"
#include "ldpc.h"
#include "msgcode.h"
#include "polar.h"
#include "tool_util.h"

#define POLAR_N 4096
/* The data ranks that carry the message's coded bits (one each, formats 3
 * to 7; the FM_TAG_SLOTS ranks after them carry the content tag). */
#define RANKS FM_CODED_BITS

typedef struct Code {
    const char *name;
    int n;          /* coded bits */
    int list;
    int polar;      /* 0: convolutional or LDPC */
    const char *ldpc;   /* the LDPC code's variable degrees (ldpc.h) */
    int minsum;
    long ok;
    double ber_sum;
    Ldpc *lc;
} Code;

#define LDPC_ITERS 200
/* the best of the degree profiles bench/fec_edge.c measured (fec_edge_ldpc.md) */
#define LDPC_DEGREES "2:0.5,3:0.3,8:0.2"

/* xorshift64*: reproducible trials */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static int in_list(const uint8_t *cands, int found, const uint8_t *msg)
{
    for (int c = 0; c < found; c++)
        if (!memcmp(cands + (size_t)c * FM_MESSAGE_BITS, msg, FM_MESSAGE_BITS))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: fec_real KEY MESSAGE_HEX W H FPS [TRIALS] < luma.gray\n");
        return 2;
    }
    int w = atoi(argv[3]), h = atoi(argv[4]);
    double fps = atof(argv[5]);
    int trials = argc > 6 ? atoi(argv[6]) : 200;
    FmError err = { 0 };
    uint8_t message[FM_MESSAGE_BYTES];
    if (fm_init(&err) < 0 || w < 16 || h < 16 || fps <= 0 || trials < 1 ||
        fm_unhex(argv[2], message, sizeof(message)) < 0) {
        fprintf(stderr, "fec_real: bad arguments\n");
        return 2;
    }
    FmKey *key = fm_key_new();
    if (!key || fm_key_load(key, argv[1], FM_KEY_DETECT, &err) < 0) {
        fprintf(stderr, "fec_real: %s\n", err.msg[0] ? err.msg : "cannot load the key");
        return 2;
    }

    FmAccumulator acc;
    if (fm_accumulator_init(&acc, w, h, &err) < 0) {
        fprintf(stderr, "fec_real: %s\n", err.msg);
        return 2;
    }
    size_t fsize = (size_t)w * h;
    uint8_t *frame = malloc(fsize);
    long frames = 0;
    while (frame && fread(frame, 1, fsize, stdin) == fsize) {
        if (fm_accumulator_add(&acc, frame, w, 8, frames / fps, &err) < 0) {
            fprintf(stderr, "fec_real: %s\n", err.msg);
            return 2;
        }
        frames++;
    }
    free(frame);
    FmDetectResult res;
    FmEvidence ev = { 0 };
    if (!frames || fm_detect_ex(&acc, key, 1, NULL, &res, &ev, &err) < 0) {
        fprintf(stderr, "fec_real: %s\n", frames ? err.msg : "no frames on stdin");
        return 2;
    }

    /* each rank's margin against the issued codeword */
    uint8_t bits[FM_MESSAGE_BITS], coded[POLAR_N];
    static float margin[RANKS], shuffled[RANKS];
    fm_bytes_to_bits(message, FM_MESSAGE_BYTES, bits);
    if (fm_msgcode_encode(bits, coded) < 0)   /* the code this build marks with */
        return 2;
    for (int r = 0; r < RANKS; r++)
        margin[r] = coded[r] ? ev.soft[r] : -ev.soft[r];


    FmPolar *polar = NULL;
    if (fm_polar_init(&polar, POLAR_N, FM_MESSAGE_BITS) < 0)
        return 2;
    Code codes[] = {
        { .name = "conv-list64", .n = FM_CODED_BITS_V2, .list = 64 },
        { .name = "polar4096-list8", .n = POLAR_N, .list = 8, .polar = 1 },
        { .name = "polar4096-list32", .n = POLAR_N, .list = 32, .polar = 1 },
        { .name = "polar4096-list1024", .n = POLAR_N, .list = 1024, .polar = 1 },
        { .name = "ldpc2048-irr-sp", .n = 2048, .list = 1, .ldpc = LDPC_DEGREES },
        { .name = "ldpc2048-irr-ms", .n = 2048, .list = 1, .ldpc = LDPC_DEGREES, .minsum = 1 },
        { .name = "ldpc4096-irr-sp", .n = 4096, .list = 1, .ldpc = LDPC_DEGREES },
    };
    int ncodes = (int)(sizeof(codes) / sizeof(codes[0]));
    for (int c = 0; c < ncodes; c++)
        if (codes[c].ldpc && ldpc_init(&codes[c].lc, codes[c].n, FM_MESSAGE_BITS, codes[c].ldpc,
                                       0x1d9c) < 0)
            return 2;
    /* the channel's mean and spread per rank, for the sum-product decoder */
    double mean = 0, var = 0;
    for (int r = 0; r < RANKS; r++)
        mean += margin[r];
    mean /= RANKS;
    for (int r = 0; r < RANKS; r++)
        var += (margin[r] - mean) * (margin[r] - mean);
    var /= RANKS - 1;
    uint8_t *cands = malloc((size_t)FM_POLAR_MAX_LIST * FM_MESSAGE_BITS);
    float *soft = malloc(sizeof(float) * POLAR_N);
    if (!cands || !soft)
        return 2;
    for (int t = 0; t < trials; t++) {
        memcpy(shuffled, margin, sizeof(margin));
        for (int i = RANKS - 1; i > 0; i--) {
            int j = (int)(rng() % (uint64_t)(i + 1));
            float x = shuffled[i];
            shuffled[i] = shuffled[j];
            shuffled[j] = x;
        }
        for (int i = 0; i < (int)FM_MESSAGE_BITS; i++)
            bits[i] = (uint8_t)(rng() & 1);
        for (int c = 0; c < ncodes; c++) {
            Code *k = &codes[c];
            if (k->polar)
                fm_polar_encode(polar, bits, coded);
            else if (k->lc)
                ldpc_encode(k->lc, bits, coded);
            else
                fm_fec_encode(bits, FM_MESSAGE_BITS, coded);
            memset(soft, 0, sizeof(float) * (size_t)k->n);
            for (int r = 0; r < RANKS; r++)
                soft[r % k->n] += shuffled[r];
            int errors = 0;
            for (int b = 0; b < k->n; b++) {
                errors += soft[b] <= 0;
                soft[b] = coded[b] ? soft[b] : -soft[b];
            }
            int found = 0, ret = 0;
            if (k->lc) {
                /* in units of the mean margin: a rank is +-1 plus noise of var / mean^2 */
                if (mean > 0) {
                    for (int b = 0; b < k->n; b++)
                        soft[b] = (float)(soft[b] / mean);
                    ldpc_decode(k->lc, soft, var / (mean * mean), k->minsum, LDPC_ITERS, cands);
                    found = 1;
                }
            } else if (k->polar) {
                ret = fm_polar_decode_list(polar, soft, k->list, cands, &found);
            } else {
                ret = fm_fec_decode_list(soft, FM_MESSAGE_BITS, k->list, cands, &found);
            }
            if (ret < 0)
                return 2;
            k->ok += in_list(cands, found, bits);
            k->ber_sum += (double)errors / k->n;
        }
    }
    int wrong = 0;
    for (int r = 0; r < RANKS; r++)
        wrong += margin[r] <= 0;
    printf("{\"frames\": %ld, \"pilot_z\": %.2f, \"signature_valid\": %s, \"raw_ber\": %.4f, "
           "\"trials\": %d",
           frames, res.pilot_z, res.signature_valid ? "true" : "false", (double)wrong / RANKS,
           trials);
    for (int c = 0; c < ncodes; c++)
        printf(", \"%s\": {\"ok\": %ld, \"raw_ber\": %.4f}", codes[c].name, codes[c].ok,
               codes[c].ber_sum / trials);
    printf("}\n");
    fm_polar_free(&polar);
    for (int c = 0; c < ncodes; c++)
        ldpc_free(&codes[c].lc);
    free(cands);
    free(soft);
    fm_evidence_free(&ev);
    fm_accumulator_free(&acc);
    fm_key_free(&key);
    return 0;
}
