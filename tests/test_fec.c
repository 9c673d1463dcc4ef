/*
 * test_fec.c - the rate-1/3, K=9 convolutional code, its soft Viterbi and list
 * decoder (common/fec.c), and the byte/bit helpers.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fec.h"
#include "fm_error.h"
#include "payload.h"
#include "testutil.h"

#define NB ((int)FM_MESSAGE_BITS)
#define NC ((int)FM_FEC_CODED_BITS(FM_MESSAGE_BITS))

Test(fec, sizes)
{
    cr_assert_eq(FM_FEC_TAIL, FM_FEC_K - 1);
    cr_assert_eq(NC, (NB + FM_FEC_K - 1) * FM_FEC_RATE);
    cr_assert_eq(FM_FEC_CODED_BITS(1), FM_FEC_K * FM_FEC_RATE);
}

Test(fec, impulse_response_spans_the_constraint_length)
{
    /* A single 1 then zeros: the encoder's memory is K-1 steps, so the
     * response is non-zero in the first and the K-th step and zero after
     * (every generator uses the newest and the oldest register bit), and the
     * code is time-invariant: a later 1 gives the same response later. */
    enum { N = 3 * FM_FEC_K };
    uint8_t bits[N] = { 0 }, coded[FM_FEC_CODED_BITS(N)], later[FM_FEC_CODED_BITS(N)];
    bits[0] = 1;
    fm_fec_encode(bits, N, coded);
    for (int g = 0; g < FM_FEC_RATE; g++) {
        cr_assert_eq(coded[g], 1, "generator %d does not use the input bit", g);
        cr_assert_eq(coded[(FM_FEC_K - 1) * FM_FEC_RATE + g], 1,
                     "generator %d does not use the oldest register bit", g);
    }
    for (int i = FM_FEC_K * FM_FEC_RATE; i < (int)FM_FEC_CODED_BITS(N); i++)
        cr_assert_eq(coded[i], 0, "response longer than K steps at coded bit %d", i);
    memset(bits, 0, sizeof bits);
    bits[5] = 1;
    fm_fec_encode(bits, N, later);
    for (int i = 0; i < FM_FEC_K * FM_FEC_RATE; i++)
        cr_assert_eq(later[5 * FM_FEC_RATE + i], coded[i]);
    for (int i = 0; i < 5 * FM_FEC_RATE; i++)
        cr_assert_eq(later[i], 0);
}

Test(fec, free_distance_is_the_best_known_for_rate_one_third)
{
    /* d_free exactly: the lightest path through the trellis that leaves
     * state 0 and comes back (Dijkstra over the 2^(K-1) states; the branch
     * outputs follow from the impulse response, the code being linear).
     * Compared with the best rate-1/3 codes known (Larsen 1973; Lin &
     * Costello, table 12.1) for this constraint length. */
    enum { K = FM_FEC_K, R = FM_FEC_RATE, NS = 1 << (FM_FEC_K - 1) };
    static const int best[] = { [3] = 8, [4] = 10, [5] = 12, [6] = 13, [7] = 15, [8] = 16,
                                [9] = 18, [10] = 20, [11] = 22 };
    uint8_t in[K] = { 1 }, coded[FM_FEC_CODED_BITS(K)];
    fm_fec_encode(in, 1, coded);   /* taps: coded[d * R + g], d = 0..K-1 */
    static int dist[NS];
    static int done[NS];
    for (int i = 0; i < NS; i++)
        dist[i] = 1 << 30;
    /* state bit d-1 = the input d steps ago; the first branch: input 1 from 0 */
    int w0 = 0;
    for (int g = 0; g < R; g++)
        w0 += coded[g];
    dist[1] = w0;
    int dfree = 1 << 30;
    for (;;) {
        int s = -1;
        for (int i = 1; i < NS; i++)
            if (!done[i] && (s < 0 || dist[i] < dist[s]))
                s = i;
        if (s < 0 || dist[s] >= dfree)
            break;
        done[s] = 1;
        for (int u = 0; u < 2; u++) {
            int w = 0;
            for (int g = 0; g < R; g++) {
                int o = u & coded[g];
                for (int d = 1; d < K; d++)
                    o ^= ((s >> (d - 1)) & 1) & coded[d * R + g];
                w += o;
            }
            int ns = ((s << 1) | u) & (NS - 1);
            if (ns == 0)
                dfree = dist[s] + w < dfree ? dist[s] + w : dfree;
            else if (dist[s] + w < dist[ns])
                dist[ns] = dist[s] + w;
        }
    }
    cr_log_info("K = %d: free distance %d", FM_FEC_K, dfree);
    if (R == 3 && K >= 3 && K <= 11)
        cr_assert_geq(dfree, best[K], "d_free %d, the best K=%d rate-1/3 code has %d", dfree, K,
                      best[K]);
}

Test(fec, zero_message_and_linearity)
{
    TuRng r;
    tu_rng_seed(&r, 11);
    uint8_t a[NB], b[NB], x[NB], ca[NC], cb[NC], cx[NC];
    memset(a, 0, sizeof a);
    fm_fec_encode(a, NB, ca);
    for (int i = 0; i < NC; i++)
        cr_assert_eq(ca[i], 0);
    tu_random_bits(&r, a, NB);
    tu_random_bits(&r, b, NB);
    for (int i = 0; i < NB; i++)
        x[i] = a[i] ^ b[i];
    fm_fec_encode(a, NB, ca);
    fm_fec_encode(b, NB, cb);
    fm_fec_encode(x, NB, cx);
    for (int i = 0; i < NC; i++) {
        cr_assert_leq(ca[i], 1);
        cr_assert_eq(cx[i], ca[i] ^ cb[i], "code is not linear at %d", i);
    }
}

Test(fec, clean_round_trip)
{
    TuRng r;
    tu_rng_seed(&r, 12);
    uint8_t bits[NB], coded[NC], got[NB];
    float soft[NC];
    for (int t = 0; t < 20; t++) {
        tu_random_bits(&r, bits, NB);
        if (t == 0)
            memset(bits, 0, sizeof bits);
        if (t == 1)
            memset(bits, 1, sizeof bits);
        fm_fec_encode(bits, NB, coded);
        tu_bits_to_soft(coded, NC, t % 3 ? 1.0f : 1e-3f, soft);   /* scale must not matter */
        memset(got, 0xAA, sizeof got);
        cr_assert_eq(fm_fec_decode(soft, NB, got), 0);
        cr_assert_eq(tu_count_diff(bits, got, NB), 0, "trial %d", t);
    }
}

Test(fec, short_messages)
{
    TuRng r;
    tu_rng_seed(&r, 13);
    for (int n = 1; n <= 40; n++) {
        uint8_t bits[40], coded[FM_FEC_CODED_BITS(40)], got[40];
        float soft[FM_FEC_CODED_BITS(40)];
        tu_random_bits(&r, bits, n);
        fm_fec_encode(bits, n, coded);
        tu_bits_to_soft(coded, FM_FEC_CODED_BITS(n), 1.0f, soft);
        cr_assert_eq(fm_fec_decode(soft, n, got), 0);
        cr_assert_eq(tu_count_diff(bits, got, n), 0, "n = %d", n);
    }
}

Test(fec, corrects_hard_errors)
{
    /* Hard decisions with 3% and 5% of the coded bits flipped at random
     * positions (deterministic seeds): every message still decodes. */
    static const double rates[] = { 0.03, 0.05 };
    uint8_t bits[NB], coded[NC], got[NB];
    float soft[NC];
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        TuRng r;
        tu_rng_seed(&r, 100 + k);
        int nerr = (int)lround(rates[k] * NC);
        for (int t = 0; t < 25; t++) {
            tu_random_bits(&r, bits, NB);
            fm_fec_encode(bits, NB, coded);
            tu_bits_to_soft(coded, NC, 1.0f, soft);
            for (int e = 0; e < nerr;) {   /* nerr distinct positions */
                int i = (int)tu_rng_below(&r, NC);
                if ((soft[i] > 0) == (coded[i] == 1)) {
                    soft[i] = -soft[i];
                    e++;
                }
            }
            cr_assert_eq(fm_fec_decode(soft, NB, got), 0);
            cr_assert_eq(tu_count_diff(bits, got, NB), 0, "rate %.0f%% trial %d: %d bit errors left",
                         100 * rates[k], t, tu_count_diff(bits, got, NB));
        }
    }
}

Test(fec, errors_in_a_burst_spread_over_the_code)
{
    /* Errors spaced apart (one every 20 coded bits, ~5%) are all correctable. */
    TuRng r;
    tu_rng_seed(&r, 14);
    uint8_t bits[NB], coded[NC], got[NB];
    float soft[NC];
    tu_random_bits(&r, bits, NB);
    fm_fec_encode(bits, NB, coded);
    tu_bits_to_soft(coded, NC, 1.0f, soft);
    for (int i = 7; i < NC; i += 20)
        soft[i] = -soft[i];
    cr_assert_eq(fm_fec_decode(soft, NB, got), 0);
    cr_assert_eq(tu_count_diff(bits, got, NB), 0);
}

Test(fec, erasures_30_percent)
{
    TuRng r;
    tu_rng_seed(&r, 15);
    uint8_t bits[NB], coded[NC], got[NB];
    float soft[NC];
    for (int t = 0; t < 25; t++) {
        tu_random_bits(&r, bits, NB);
        fm_fec_encode(bits, NB, coded);
        tu_bits_to_soft(coded, NC, 1.0f, soft);
        int n = (int)(0.30 * NC);
        for (int e = 0; e < n;) {
            int i = (int)tu_rng_below(&r, NC);
            if (soft[i] != 0) {
                soft[i] = 0;
                e++;
            }
        }
        cr_assert_eq(fm_fec_decode(soft, NB, got), 0);
        cr_assert_eq(tu_count_diff(bits, got, NB), 0, "trial %d", t);
    }
}

Test(fec, erasures_and_errors_together)
{
    /* 20% erased and 1% flipped. */
    TuRng r;
    tu_rng_seed(&r, 16);
    uint8_t bits[NB], coded[NC], got[NB];
    float soft[NC];
    for (int t = 0; t < 25; t++) {
        tu_random_bits(&r, bits, NB);
        fm_fec_encode(bits, NB, coded);
        tu_bits_to_soft(coded, NC, 1.0f, soft);
        for (int i = 0; i < NC; i++) {
            double u = tu_rng_uniform(&r);
            if (u < 0.20)
                soft[i] = 0;
            else if (u < 0.21)
                soft[i] = -soft[i];
        }
        cr_assert_eq(fm_fec_decode(soft, NB, got), 0);
        cr_assert_eq(tu_count_diff(bits, got, NB), 0, "trial %d", t);
    }
}

Test(fec, soft_gaussian_noise)
{
    /* Soft values in Gaussian noise: sigma 0.8 around +/-1 flips ~11% of the
     * signs, but the soft decoder (Eb/N0 ~ 4.1 dB at rate 1/3) still decodes. */
    TuRng r;
    tu_rng_seed(&r, 17);
    uint8_t bits[NB], coded[NC], got[NB];
    float soft[NC];
    int flipped = 0;
    for (int t = 0; t < 25; t++) {
        tu_random_bits(&r, bits, NB);
        fm_fec_encode(bits, NB, coded);
        tu_bits_to_soft(coded, NC, 1.0f, soft);
        for (int i = 0; i < NC; i++) {
            soft[i] += (float)(0.8 * tu_rng_gauss(&r));
            flipped += (soft[i] > 0) != (coded[i] == 1);
        }
        cr_assert_eq(fm_fec_decode(soft, NB, got), 0);
        cr_assert_eq(tu_count_diff(bits, got, NB), 0, "trial %d", t);
    }
    cr_log_info("soft_gaussian_noise: %.1f%% of coded signs wrong", 100.0 * flipped / (25 * NC));
}

/* Correlation metric of a codeword with the soft values. */
static double metric(const uint8_t *coded, const float *soft)
{
    double m = 0;
    for (int i = 0; i < NC; i++)
        m += coded[i] ? soft[i] : -soft[i];
    return m;
}

Test(fec, decoder_is_maximum_likelihood)
{
    /* Far beyond the code's reach (sigma 1.6: ~27% wrong signs) decoding
     * fails, but whatever the decoder returns must fit the soft values at
     * least as well as the message that was sent: Viterbi is exact ML. */
    TuRng r;
    tu_rng_seed(&r, 20);
    uint8_t bits[NB], coded[NC], got[NB], recoded[NC];
    float soft[NC];
    int wrong = 0;
    for (int t = 0; t < 40; t++) {
        tu_random_bits(&r, bits, NB);
        fm_fec_encode(bits, NB, coded);
        tu_bits_to_soft(coded, NC, 1.0f, soft);
        double sigma = t % 2 ? 1.6 : 1.1;
        for (int i = 0; i < NC; i++)
            soft[i] += (float)(sigma * tu_rng_gauss(&r));
        cr_assert_eq(fm_fec_decode(soft, NB, got), 0);
        for (int i = 0; i < NB; i++)
            cr_assert_leq(got[i], 1);
        fm_fec_encode(got, NB, recoded);
        double ms = metric(coded, soft), mg = metric(recoded, soft);
        cr_assert_geq(mg, ms - 1e-3 * fabs(ms) - 1e-3,
                      "trial %d: decoded metric %.3f below the sent codeword's %.3f", t, mg, ms);
        wrong += tu_count_diff(bits, got, NB) > 0;
    }
    cr_log_info("decoder_is_maximum_likelihood: %d/40 noisy messages not recovered (expected)",
                wrong);
}

Test(fec, confidence_matters)
{
    /* 20% of the coded values are wrong but weak (0.1), the rest right and
     * confident: the soft decoder recovers the message; the same signs as
     * hard decisions (20% errors) are far beyond the code. */
    TuRng r;
    tu_rng_seed(&r, 18);
    uint8_t bits[NB], coded[NC], got[NB];
    float soft[NC], hard[NC];
    int hard_failures = 0;
    for (int t = 0; t < 10; t++) {
        tu_random_bits(&r, bits, NB);
        fm_fec_encode(bits, NB, coded);
        tu_bits_to_soft(coded, NC, 1.0f, soft);
        for (int i = 0; i < NC; i++) {
            if (tu_rng_uniform(&r) < 0.20)
                soft[i] = -0.1f * soft[i];
            hard[i] = soft[i] > 0 ? 1.0f : -1.0f;
        }
        cr_assert_eq(fm_fec_decode(soft, NB, got), 0);
        cr_assert_eq(tu_count_diff(bits, got, NB), 0, "trial %d", t);
        cr_assert_eq(fm_fec_decode(hard, NB, got), 0);
        hard_failures += tu_count_diff(bits, got, NB) > 0;
    }
    cr_assert_gt(hard_failures, 5, "hard decisions at 20%% errors decoded too often (%d/10)",
                 hard_failures);
}

Test(fec, bytes_bits_round_trip)
{
    TuRng r;
    tu_rng_seed(&r, 19);
    uint8_t bytes[FM_MESSAGE_BYTES], back[FM_MESSAGE_BYTES], bits[FM_MESSAGE_BITS];
    for (int t = 0; t < 50; t++) {
        for (int i = 0; i < (int)FM_MESSAGE_BYTES; i++)
            bytes[i] = (uint8_t)tu_rng_u64(&r);
        fm_bytes_to_bits(bytes, FM_MESSAGE_BYTES, bits);
        for (int i = 0; i < NB; i++)
            cr_assert_leq(bits[i], 1);
        memset(back, 0x5A, sizeof back);
        fm_bits_to_bytes(bits, FM_MESSAGE_BYTES, back);
        cr_assert_arr_eq(bytes, back, sizeof bytes);
    }
}

Test(fec, bytes_bits_msb_first)
{
    const uint8_t bytes[2] = { 0x80, 0x35 };   /* 1000 0000  0011 0101 */
    const uint8_t want[16] = { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1 };
    uint8_t bits[16], back[2];
    fm_bytes_to_bits(bytes, 2, bits);
    cr_assert_arr_eq(bits, want, 16);
    fm_bits_to_bytes(want, 2, back);
    cr_assert_arr_eq(back, bytes, 2);
    /* only the low bit of each input bit counts */
    uint8_t noisy[8] = { 3, 2, 0xFF, 0xFE, 1, 0, 0, 0x81 };
    fm_bits_to_bytes(noisy, 1, back);
    cr_assert_eq(back[0], 0xA9, "got 0x%02X", back[0]);  /* 1010 1001 */
}

/* ---- list decoding ---- */

Test(fec, list_is_ordered_distinct_and_starts_with_viterbi)
{
    TuRng r;
    tu_rng_seed(&r, 31);
    enum { L = 16 };
    uint8_t bits[NB], coded[NC], vit[NB], recoded[NC];
    static uint8_t list[L * NB];
    float soft[NC];
    for (int t = 0; t < 6; t++) {
        tu_random_bits(&r, bits, NB);
        fm_fec_encode(bits, NB, coded);
        tu_bits_to_soft(coded, NC, 1.0f, soft);
        for (int i = 0; i < NC; i++)
            soft[i] += (float)(1.2 * tu_rng_gauss(&r));
        int n = 0;
        cr_assert_eq(fm_fec_decode(soft, NB, vit), 0);
        cr_assert_eq(fm_fec_decode_list(soft, NB, L, list, &n), 0);
        cr_assert_eq(n, L, "a 616-bit message has far more than %d paths", L);
        cr_assert_arr_eq(list, vit, NB, "trial %d: the first entry is not the Viterbi decision", t);
        double prev = INFINITY;
        for (int k = 0; k < n; k++) {
            fm_fec_encode(list + k * NB, NB, recoded);
            double m = metric(recoded, soft);
            cr_assert_leq(m, prev + 1e-3 * fabs(prev) + 1e-3, "trial %d: entry %d fits better "
                          "than entry %d", t, k, k - 1);
            prev = m;
            for (int j = 0; j < k; j++)
                cr_assert(tu_count_diff(list + j * NB, list + k * NB, NB) > 0,
                          "trial %d: entries %d and %d are the same message", t, j, k);
        }
    }
}

Test(fec, list_recovers_messages_viterbi_misses)
{
    /* Near the code's limit (sigma 1.1: ~18% wrong signs), a check outside
     * the code (here: equality with the sent message, as the signature is
     * in the detector) finds the message in the list more often than in the
     * single Viterbi decision. */
    TuRng r;
    tu_rng_seed(&r, 32);
    enum { L = 64, T = 24 };
    uint8_t bits[NB], coded[NC];
    static uint8_t list[L * NB];
    float soft[NC];
    int first = 0, listed = 0;
    for (int t = 0; t < T; t++) {
        tu_random_bits(&r, bits, NB);
        fm_fec_encode(bits, NB, coded);
        tu_bits_to_soft(coded, NC, 1.0f, soft);
        for (int i = 0; i < NC; i++)
            soft[i] += (float)(1.1 * tu_rng_gauss(&r));
        int n = 0;
        cr_assert_eq(fm_fec_decode_list(soft, NB, L, list, &n), 0);
        for (int k = 0; k < n; k++)
            if (tu_count_diff(list + k * NB, bits, NB) == 0) {
                first += k == 0;
                listed++;
                break;
            }
    }
    cr_log_info("list_recovers_messages_viterbi_misses: Viterbi %d/%d, list of %d %d/%d", first,
                T, L, listed, T);
    cr_assert_gt(listed, first);
}

Test(fec, list_bad_arguments)
{
    float soft[NC] = { 0 };
    uint8_t out[NB];
    int n = -1;
    cr_assert_eq(fm_fec_decode_list(soft, NB, 0, out, &n), FM_EINVAL);
    cr_assert_eq(fm_fec_decode_list(soft, NB, FM_FEC_MAX_LIST + 1, out, &n), FM_EINVAL);
}
