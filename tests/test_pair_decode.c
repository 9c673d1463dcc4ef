/*
 * test_pair_decode.c - reading the average of two copies marked for two
 * recipients (common/pair_decode.c, and msgcode.c's pair read): the
 * threshold, the decoder against an exhaustive reference on a small
 * code, both messages from the watermark's code with and without noise,
 * and the read through the signature.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fm_error.h"
#include "keys.h"
#include "msgcode.h"
#include "pair_decode.h"
#include "pattern.h"
#include "payload.h"
#include "polar.h"
#include "testutil.h"

/* The average of the two codewords as the detector sees it: +-1 where they
 * agree, 0 where they differ, plus Gaussian noise of sigma. */
static void average(const uint8_t *ca, const uint8_t *cb, int n, double sigma, TuRng *r,
                    float *soft)
{
    for (int i = 0; i < n; i++)
        soft[i] = (float)(0.5 * ((ca[i] ? 1 : -1) + (cb[i] ? 1 : -1)) +
                          (sigma > 0 ? sigma * tu_rng_gauss(r) : 0));
}

/* Whether msg (k bits) is among the n candidates. */
static int listed(const uint8_t *cands, int n, int k, const uint8_t *msg)
{
    for (int c = 0; c < n; c++)
        if (!memcmp(cands + (size_t)c * k, msg, (size_t)k))
            return 1;
    return 0;
}

Test(pair_decode, threshold_splits_the_two_kinds)
{
    /* half the values 0 + noise (the bits the copies disagree on), half
     * +-m + noise: the threshold lies between the two kinds' medians */
    enum { N = 20000 };
    static float y[N];
    TuRng r;
    tu_rng_seed(&r, 11);
    for (int i = 0; i < N; i++) {
        int level = (int)tu_rng_below(&r, 4);   /* -m, 0, 0, +m */
        y[i] = (float)(2.5 * (level == 0 ? -1 : level == 3 ? 1 : 0) + 0.8 * tu_rng_gauss(&r));
    }
    double tau;
    cr_assert_eq(fm_pair_threshold(y, N, &tau), 0);
    cr_assert(tau > 0.674 * 0.8 && tau < 2.5, "tau %.3f", tau);
    cr_assert(fabs(tau - 0.5 * (0.674 * 0.8 + 2.5)) < 0.1, "tau %.3f", tau);
    /* without noise: halfway, whatever the share of zeros (1 to 4 in 5) */
    for (int zeros = 1; zeros <= 4; zeros++) {
        for (int i = 0; i < N; i++)
            y[i] = i % 5 < zeros ? 0.0f : i % 2 ? 1.0f : -1.0f;
        cr_assert_eq(fm_pair_threshold(y, N, &tau), 0);
        cr_assert_float_eq(tau, 0.5, 1e-9, "%d zeros in 5: tau %.3f", zeros, tau);
    }
    static const float zero[4];
    cr_assert_eq(fm_pair_threshold(zero, 4, &tau), FM_EINVAL);
    cr_assert(tau == 0);
    cr_assert_eq(fm_pair_threshold(zero, 0, &tau), FM_EINVAL);
}

Test(pair_decode, arguments_are_checked)
{
    FmPolar *p;
    FmPairCode *pc;
    cr_assert_eq(fm_polar_init(&p, 64, 8), 0);
    cr_assert_eq(fm_pair_code_init(&pc, p), 0);
    float soft[64];
    uint8_t cands[4 * 8];
    int found = 7;
    for (int i = 0; i < 64; i++)
        soft[i] = i % 4 == 0 ? 1.0f : i % 4 == 1 ? -1.0f : 0.0f;
    cr_assert_eq(fm_pair_decode(pc, soft, 0, 0, cands, 4, &found), FM_EINVAL);
    cr_assert_eq(found, 0);
    cr_assert_eq(fm_pair_decode(pc, soft, 1, -1, cands, 4, &found), FM_EINVAL);
    cr_assert_eq(fm_pair_decode(pc, soft, 1, 9, cands, 4, &found), FM_EINVAL);
    soft[3] = NAN;
    cr_assert_eq(fm_pair_decode(pc, soft, 1, 0, cands, 4, &found), FM_EINVAL);
    soft[3] = 0;
    /* room for fewer than the candidates: as many as fit */
    cr_assert_eq(fm_pair_decode(pc, soft, 2, 1, cands, 3, &found), 0);
    cr_assert_eq(found, 3);
    fm_pair_code_free(&pc);
    fm_pair_code_free(&pc);   /* NULL: a no-op */
    fm_polar_free(&p);
}

/*
 * The reference: on a small code, every pair of distinct messages, averaged
 * without noise. The messages whose codeword matches the average's sign on
 * every bit the two agree on are found by trying all 2^k; where that set is
 * exactly the pair (no other codeword vanishes where x_A xor x_B does), the
 * decoder must list both.
 */
Test(pair_decode, small_code_against_exhaustive_search)
{
    enum { N = 64, K = 8 };
    FmPolar *p;
    FmPairCode *pc;
    cr_assert_eq(fm_polar_init(&p, N, K), 0);
    cr_assert_eq(fm_pair_code_init(&pc, p), 0);
    static uint8_t code[1 << K][N];
    for (int u = 0; u < 1 << K; u++) {
        uint8_t bits[K];
        for (int j = 0; j < K; j++)
            bits[j] = (uint8_t)((u >> j) & 1);
        fm_polar_encode(p, bits, code[u]);
    }
    int unique = 0, both = 0;
    uint8_t cands[2 * 2 * K * 4];
    for (int a = 0; a < 1 << K; a++)
        for (int b = a + 1; b < 1 << K; b += 7) {
            float soft[N];
            average(code[a], code[b], N, 0, NULL, soft);
            int matches = 0;
            for (int u = 0; u < 1 << K; u++) {
                int ok = 1;
                for (int i = 0; i < N && ok; i++)
                    if (code[a][i] == code[b][i])
                        ok = code[u][i] == code[a][i];
                matches += ok;
            }
            if (matches != 2)
                continue;
            unique++;
            int found;
            cr_assert_eq(fm_pair_decode(pc, soft, 2, 0, cands, 2 * 2 * 4, &found), 0);
            uint8_t ba[K], bb[K];
            for (int j = 0; j < K; j++) {
                ba[j] = (uint8_t)((a >> j) & 1);
                bb[j] = (uint8_t)((b >> j) & 1);
            }
            int la = listed(cands, found, K, ba), lb = listed(cands, found, K, bb);
            cr_assert(la && lb, "pair %d %d: listed %d %d of %d", a, b, la, lb, found);
            both++;
        }
    cr_log_info("(64, 8) code: %d pairs determined by their agreeing bits, all listed", both);
    cr_assert_gt(unique, 100);
    fm_pair_code_free(&pc);
    fm_polar_free(&p);
}

/* Two payloads of one title for recipients 1001 and 1002, signed with one
 * key; their coded bits. */
static FmKey *two_recipients(uint8_t msg[2][FM_MESSAGE_BYTES], uint8_t coded[2][FM_CODED_BITS])
{
    FmPayload pl;
    FmKey *key = tu_signed_message(71, 4242, 1001, &pl, msg[0]);
    FmError err = { { 0 } };
    pl.recipient_id = 1002;
    cr_assert_eq(fm_payload_sign(&pl, key, msg[1], &err), 0);
    for (int s = 0; s < 2; s++) {
        uint8_t bits[FM_MESSAGE_BITS];
        fm_bytes_to_bits(msg[s], FM_MESSAGE_BYTES, bits);
        cr_assert_eq(fm_msgcode_encode(bits, coded[s]), 0);
    }
    return key;
}

Test(pair_decode, watermark_code_lists_both_messages)
{
    /* The (4096, 624) code: noiseless and at sigma 0.45 (about 1 % of the
     * agreeing bits read wrong; 25.5 % of all bits against either message),
     * where the SC list decoder holds neither here (below). Fixed seeds:
     * the counts are deterministic. */
    static uint8_t msg[2][FM_MESSAGE_BYTES], coded[2][FM_CODED_BITS];
    static float soft[FM_CODED_BITS];
    static uint8_t cands[FM_MSGCODE_PAIR_TRIES * FM_MESSAGE_BITS];
    uint8_t bits[2][FM_MESSAGE_BITS];
    FmKey *key = two_recipients(msg, coded);
    for (int s = 0; s < 2; s++)
        fm_bytes_to_bits(msg[s], FM_MESSAGE_BYTES, bits[s]);
    FmPolar *p;
    FmPairCode *pc;
    cr_assert_eq(fm_polar_init(&p, FM_CODED_BITS, FM_MESSAGE_BITS), 0);
    cr_assert_eq(fm_pair_code_init(&pc, p), 0);
    TuRng r;
    tu_rng_seed(&r, 72);
    const double sigmas[] = { 0, 0.45 };
    for (size_t q = 0; q < 2; q++) {
        int pair = 0, sc = 0;
        for (int t = 0; t < 5; t++) {
            average(coded[0], coded[1], FM_CODED_BITS, sigmas[q], &r, soft);
            int found;
            cr_assert_eq(fm_pair_decode(pc, soft, FM_MSGCODE_PAIR_DLIST, FM_MSGCODE_PAIR_FLIPS,
                                        cands, FM_MSGCODE_PAIR_TRIES, &found), 0);
            pair += listed(cands, found, FM_MESSAGE_BITS, bits[0]) &&
                    listed(cands, found, FM_MESSAGE_BITS, bits[1]);
            cr_assert_eq(fm_msgcode_decode_list(soft, FM_MSGCODE_LIST, cands, &found), 0);
            sc += listed(cands, found, FM_MESSAGE_BITS, bits[0]) ||
                  listed(cands, found, FM_MESSAGE_BITS, bits[1]);
        }
        cr_log_info("sigma %.2f: the pair read listed both in %d of 5, the list of %d either "
                    "in %d", sigmas[q], pair, FM_MSGCODE_LIST, sc);
        cr_assert_eq(pair, 5, "sigma %.2f: both listed in %d of 5", sigmas[q], pair);
        if (q == 1)
            cr_assert_eq(sc, 0);
    }
    fm_pair_code_free(&pc);
    fm_polar_free(&p);
    fm_key_free(&key);
}

Test(pair_decode, deep_read_verifies_both_recipients)
{
    static uint8_t msg[2][FM_MESSAGE_BYTES], coded[2][FM_CODED_BITS];
    static float soft[FM_CODED_BITS];
    FmKey *key = two_recipients(msg, coded);
    TuRng r;
    tu_rng_seed(&r, 73);
    average(coded[0], coded[1], FM_CODED_BITS, 0.45, &r, soft);
    FmMsgRead mr;
    cr_assert_eq(fm_msgcode_read(soft, FM_MSGCODE_FORMAT, key, &mr), 0);
    cr_assert(!mr.signature_valid && !mr.pair);
    cr_assert_eq(fm_msgcode_read_deep(soft, key, &mr), 1);
    cr_assert(mr.signature_valid && mr.pair && mr.pair_valid);
    cr_assert_eq(mr.list, FM_MSGCODE_LIST_DEEP);
    int a = !memcmp(mr.message, msg[0], FM_MESSAGE_BYTES);
    cr_assert(a || !memcmp(mr.message, msg[1], FM_MESSAGE_BYTES));
    cr_assert(!memcmp(mr.pair_message, msg[a ? 1 : 0], FM_MESSAGE_BYTES));
    cr_assert(mr.raw_ber > 0.2 && mr.raw_ber < 0.3, "raw BER %.3f", mr.raw_ber);

    /* another key: the same candidates, no signature verifies */
    FmPayload pl;
    uint8_t other[FM_MESSAGE_BYTES];
    FmKey *stranger = tu_signed_message(74, 1, 1, &pl, other);
    FmMsgRead none;
    cr_assert_eq(fm_msgcode_read(soft, FM_MSGCODE_FORMAT, stranger, &none), 0);
    cr_assert_eq(fm_msgcode_read_deep(soft, stranger, &none), 0);
    cr_assert(!none.signature_valid && !none.pair);

    /* a single copy's mark is not taken for a pair: its read is unchanged */
    TuRng r2;
    tu_rng_seed(&r2, 75);
    average(coded[0], coded[0], FM_CODED_BITS, 0.45, &r2, soft);
    FmMsgRead one;
    cr_assert_eq(fm_msgcode_read(soft, FM_MSGCODE_FORMAT, key, &one), 0);
    cr_assert(one.signature_valid && !one.pair);
    cr_assert(!memcmp(one.message, msg[0], FM_MESSAGE_BYTES));
    fm_key_free(&stranger);
    fm_key_free(&key);
}

Test(pair_decode, the_other_copy_of_a_verified_message)
{
    /* a read that verified A on an average (as the lists often do) looks for
     * B = A xor D from the pair read's first step */
    static uint8_t msg[2][FM_MESSAGE_BYTES], coded[2][FM_CODED_BITS];
    static float soft[FM_CODED_BITS];
    FmKey *key = two_recipients(msg, coded);
    TuRng r;
    tu_rng_seed(&r, 76);
    average(coded[0], coded[1], FM_CODED_BITS, 0.45, &r, soft);
    FmMsgRead mr;
    memset(&mr, 0, sizeof(mr));
    mr.signature_valid = 1;
    memcpy(mr.message, msg[1], FM_MESSAGE_BYTES);
    mr.raw_ber = 0.1;   /* below FM_MSGCODE_PAIR_MIN_BER: not tried */
    cr_assert_eq(fm_msgcode_read_pair_other(soft, key, &mr), 0);
    cr_assert(!mr.pair && !mr.pair_valid);
    mr.raw_ber = 0.25;
    cr_assert_eq(fm_msgcode_read_pair_other(soft, key, &mr), 1);
    cr_assert(mr.pair && mr.pair_valid);
    cr_assert(!memcmp(mr.pair_message, msg[0], FM_MESSAGE_BYTES));
    cr_assert(!memcmp(mr.message, msg[1], FM_MESSAGE_BYTES));
    cr_assert_eq(fm_msgcode_read_pair_other(soft, key, &mr), 0);   /* once */

    /* one copy, at a pair's error rate: no second message verifies */
    static float one[FM_CODED_BITS];
    average(coded[0], coded[0], FM_CODED_BITS, 1.6, &r, one);
    FmMsgRead single;
    memset(&single, 0, sizeof(single));
    single.signature_valid = 1;
    memcpy(single.message, msg[0], FM_MESSAGE_BYTES);
    single.raw_ber = 0.27;
    cr_assert_eq(fm_msgcode_read_pair_other(one, key, &single), 0);
    cr_assert(!single.pair && !single.pair_valid);
    /* not a verified message: nothing to pair */
    single.signature_valid = 0;
    cr_assert_eq(fm_msgcode_read_pair_other(soft, key, &single), 0);
    fm_key_free(&key);
}
