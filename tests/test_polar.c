/*
 * test_polar.c - the polar code and its SC list decoder (common/polar.c):
 * the encoder against the Kronecker-power matrix, SC against a plain
 * recursive SC written here, the full list against brute-force maximum
 * likelihood, and decoding near the edge with errors and erasures.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fm_error.h"
#include "polar.h"
#include "testutil.h"

#define K_MSG 624

/* Correlation distance of a codeword from the soft values: the sum of
 * |soft| where the codeword disagrees with the sign. ML minimises it. */
static double distance(const uint8_t *coded, const float *soft, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++)
        if ((soft[i] > 0) != (coded[i] == 1))
            d += fabs(soft[i]);
    return d;
}

static uint64_t fnv1a(const uint8_t *p, int n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static FmPolar *make(int n, int k)
{
    FmPolar *p = NULL;
    cr_assert_eq(fm_polar_init(&p, n, k), 0, "init (%d, %d)", n, k);
    cr_assert_not_null(p);
    return p;
}

Test(polar, bad_arguments)
{
    FmPolar *p = (FmPolar *)1;
    cr_assert_eq(fm_polar_init(&p, 24, 8), FM_EINVAL);
    cr_assert_null(p);
    cr_assert_eq(fm_polar_init(&p, 1, 1), FM_EINVAL);
    cr_assert_eq(fm_polar_init(&p, 2 * FM_POLAR_MAX_N, 8), FM_EINVAL);
    cr_assert_eq(fm_polar_init(&p, 64, 0), FM_EINVAL);
    cr_assert_eq(fm_polar_init(&p, 64, 65), FM_EINVAL);
    double mean[8] = { 1, 1, 1, -1, 1, 1, 1, 1 };
    cr_assert_eq(fm_polar_init_design(&p, 8, 4, mean), FM_EINVAL);
    mean[3] = NAN;
    cr_assert_eq(fm_polar_init_design(&p, 8, 4, mean), FM_EINVAL);
    fm_polar_free(&p);   /* NULL: no-op */
    fm_polar_free(NULL);

    p = make(64, 20);
    float soft[64] = { 0 };
    uint8_t out[FM_POLAR_MAX_LIST * 20];
    int found = -1;
    cr_assert_eq(fm_polar_decode_list(p, soft, 0, out, &found), FM_EINVAL);
    cr_assert_eq(fm_polar_decode_list(p, soft, FM_POLAR_MAX_LIST + 1, out, &found), FM_EINVAL);
    soft[5] = INFINITY;
    cr_assert_eq(fm_polar_decode_list(p, soft, 1, out, &found), FM_EINVAL);
    soft[5] = NAN;
    cr_assert_eq(fm_polar_decode_list(p, soft, 1, out, &found), FM_EINVAL);
    cr_assert_eq(found, -1);
    fm_polar_free(&p);
    cr_assert_null(p);
}

Test(polar, frozen_sets_of_the_watermark_codes_are_fixed)
{
    /* Known answers: the frozen sets are part of the format. If this fails
     * on a new host, its libm moved a position across the boundary and
     * marks made elsewhere would not decode there. */
    static const struct { int n; uint64_t fnv; int first; } want[] = {
        { 2048, 0xad757385369cf7c5ULL, 503 },
        { 4096, 0x282b1c91d9d6f23dULL, 1023 },
    };
    for (size_t t = 0; t < sizeof want / sizeof want[0]; t++) {
        int n = want[t].n;
        FmPolar *p = make(n, K_MSG);
        const uint8_t *fz = fm_polar_frozen(p);
        int info = 0, first = -1;
        for (int i = 0; i < n; i++)
            if (!fz[i]) {
                info++;
                if (first < 0)
                    first = i;
            }
        cr_assert_eq(fm_polar_n(p), n);
        cr_assert_eq(fm_polar_k(p), K_MSG);
        cr_assert_eq(info, K_MSG);
        cr_assert_eq(first, want[t].first, "n %d: first information position %d", n, first);
        cr_assert_eq(fz[n - 1], 0, "the best channel u[n-1] must carry a bit");
        cr_assert_eq(fnv1a(fz, n), want[t].fnv, "n %d: frozen set 0x%016llx", n,
                     (unsigned long long)fnv1a(fz, n));
        fm_polar_free(&p);
    }
}

Test(polar, frozen_set_boundary_is_not_knife_edge)
{
    /* The default design moved by a relative 1e-6 either way, or every
     * channel jittered by 1e-9, gives the same frozen set: the reliabilities
     * on either side of the boundary are far apart next to rounding. */
    static const int ns[] = { 2048, 4096 };
    static double mean[4096];
    TuRng r;
    tu_rng_seed(&r, 41);
    for (size_t t = 0; t < 2; t++) {
        int n = ns[t];
        FmPolar *ref = make(n, K_MSG);
        for (int v = 0; v < 3; v++) {
            for (int i = 0; i < n; i++) {
                double m = 4.0 * K_MSG / n;
                mean[i] = v == 0 ? m * (1 + 1e-6) : v == 1 ? m * (1 - 1e-6)
                                                             : m * (1 + 1e-9 * (2 * tu_rng_uniform(&r) - 1));
            }
            FmPolar *p = NULL;
            cr_assert_eq(fm_polar_init_design(&p, n, K_MSG, mean), 0);
            cr_assert_arr_eq(fm_polar_frozen(p), fm_polar_frozen(ref), (size_t)n,
                             "n %d variant %d: frozen set moved", n, v);
            fm_polar_free(&p);
        }
        fm_polar_free(&ref);
    }
}

Test(polar, encoder_is_the_kronecker_power)
{
    /* k = n: every position carries a bit, in order, so the encoder is
     * x = u F^(x)n, F = [1 0; 1 1]: G[r][c] = 1 iff the bits of c are a
     * subset of the bits of r. */
    TuRng r;
    tu_rng_seed(&r, 42);
    for (int n = 2; n <= 64; n *= 2) {
        FmPolar *p = make(n, n);
        uint8_t u[64], x[64];
        for (int t = 0; t < 20; t++) {
            tu_random_bits(&r, u, n);
            fm_polar_encode(p, u, x);
            for (int c = 0; c < n; c++) {
                int v = 0;
                for (int row = 0; row < n; row++)
                    v ^= u[row] & ((row & c) == c);
                cr_assert_eq(x[c], v, "n %d: coded bit %d", n, c);
            }
        }
        fm_polar_free(&p);
    }
}

Test(polar, encoder_is_linear_and_frozen_positions_stay_zero)
{
    TuRng r;
    tu_rng_seed(&r, 43);
    FmPolar *p = make(2048, K_MSG);
    static uint8_t a[K_MSG], b[K_MSG], x[K_MSG], ca[2048], cb[2048], cx[2048];
    memset(a, 0, sizeof a);
    fm_polar_encode(p, a, ca);
    for (int i = 0; i < 2048; i++)
        cr_assert_eq(ca[i], 0);
    tu_random_bits(&r, a, K_MSG);
    tu_random_bits(&r, b, K_MSG);
    for (int i = 0; i < K_MSG; i++)
        x[i] = a[i] ^ b[i];
    fm_polar_encode(p, a, ca);
    fm_polar_encode(p, b, cb);
    fm_polar_encode(p, x, cx);
    for (int i = 0; i < 2048; i++) {
        cr_assert_leq(ca[i], 1);
        cr_assert_eq(cx[i], ca[i] ^ cb[i]);
    }
    /* the transform is its own inverse: re-encoding x gives back u, zeros
     * where frozen */
    FmPolar *full = make(2048, 2048);
    uint8_t u[2048];
    fm_polar_encode(full, ca, u);
    const uint8_t *fz = fm_polar_frozen(p);
    for (int i = 0, j = 0; i < 2048; i++)
        cr_assert_eq(u[i], fz[i] ? 0 : a[j++], "u[%d]", i);
    fm_polar_free(&p);
    fm_polar_free(&full);
}

Test(polar, noiseless_round_trip)
{
    static const int ns[] = { 2048, 4096 };
    static const int lists[] = { 1, 8, 32 };
    TuRng r;
    tu_rng_seed(&r, 44);
    static uint8_t bits[K_MSG], coded[4096], cands[32 * K_MSG];
    static float soft[4096];
    for (size_t t = 0; t < 2; t++) {
        FmPolar *p = make(ns[t], K_MSG);
        for (int trial = 0; trial < 6; trial++) {
            tu_random_bits(&r, bits, K_MSG);
            if (trial == 0)
                memset(bits, 0, sizeof bits);
            if (trial == 1)
                memset(bits, 1, sizeof bits);
            fm_polar_encode(p, bits, coded);
            tu_bits_to_soft(coded, ns[t], trial % 2 ? 1.0f : 1e-3f, soft);   /* scale must not matter */
            int L = lists[trial % 3], found = 0;
            memset(cands, 0xAA, sizeof cands);
            cr_assert_eq(fm_polar_decode_list(p, soft, L, cands, &found), 0);
            cr_assert_eq(found, L);
            cr_assert_eq(tu_count_diff(cands, bits, K_MSG), 0, "n %d list %d trial %d", ns[t], L,
                         trial);
            for (int i = 0; i < found * K_MSG; i++)
                cr_assert_leq(cands[i], 1);
        }
        fm_polar_free(&p);
    }
}

/* ---- plain recursive SC, the reference for list 1 ---- */

static float ref_f(float a, float b)
{
    float m = fminf(fabsf(a), fabsf(b));
    return (a < 0) != (b < 0) ? -m : m;
}

/*
 * llr: m values, positive = 0; frozen: m flags. Writes the decided u (m
 * values) and the node's codeword x (m values).
 */
static void ref_sc(const float *llr, const uint8_t *frozen, int m, uint8_t *u, uint8_t *x)
{
    if (m == 1) {
        u[0] = frozen[0] ? 0 : llr[0] < 0;
        x[0] = u[0];
        return;
    }
    int h = m / 2;
    float *child = malloc(sizeof(float) * (size_t)h);
    uint8_t *xl = malloc((size_t)h), *xr = malloc((size_t)h);
    cr_assert(child && xl && xr);
    for (int t = 0; t < h; t++)
        child[t] = ref_f(llr[t], llr[t + h]);
    ref_sc(child, frozen, h, u, xl);
    for (int t = 0; t < h; t++)
        child[t] = xl[t] ? llr[t + h] - llr[t] : llr[t + h] + llr[t];
    ref_sc(child, frozen + h, h, u + h, xr);
    for (int t = 0; t < h; t++) {
        x[t] = xl[t] ^ xr[t];
        x[t + h] = xr[t];
    }
    free(child);
    free(xl);
    free(xr);
}

Test(polar, list_of_one_is_plain_successive_cancellation)
{
    TuRng r;
    tu_rng_seed(&r, 45);
    static const int ns[] = { 8, 32, 128, 1024, 4096 };
    static uint8_t bits[4096], coded[4096], got[4096], u[4096], x[4096];
    static float soft[4096], llr[4096];
    int mismatched_msg = 0, total = 0;
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        int n = ns[t];
        for (int trial = 0; trial < 12; trial++) {
            int k = 1 + (int)tu_rng_below(&r, (uint32_t)n);
            if (n == 4096)
                k = K_MSG;
            FmPolar *p = make(n, k);
            tu_random_bits(&r, bits, k);
            fm_polar_encode(p, bits, coded);
            double sigma = 0.5 + 1.5 * tu_rng_uniform(&r);   /* from clean to hopeless */
            for (int i = 0; i < n; i++) {
                soft[i] = (coded[i] ? 1.0f : -1.0f) + (float)(sigma * tu_rng_gauss(&r));
                if (tu_rng_uniform(&r) < 0.05)
                    soft[i] = 0;   /* some erasures: ties in the decisions */
                llr[i] = -soft[i];
            }
            int found = 0;
            cr_assert_eq(fm_polar_decode_list(p, soft, 1, got, &found), 0);
            cr_assert_eq(found, 1);
            ref_sc(llr, fm_polar_frozen(p), n, u, x);
            const uint8_t *fz = fm_polar_frozen(p);
            for (int i = 0, j = 0; i < n; i++) {
                if (fz[i])
                    continue;
                cr_assert_eq(got[j], u[i], "n %d k %d trial %d: bit %d (u[%d])", n, k, trial, j,
                             i);
                j++;
            }
            mismatched_msg += tu_count_diff(got, bits, k) > 0;
            total++;
            fm_polar_free(&p);
        }
    }
    cr_log_info("SC vs reference: %d decodes, %d of them wrong messages (expected at high noise)",
                total, mismatched_msg);
}

/* ---- the whole list against brute-force maximum likelihood ---- */

Test(polar, full_list_is_maximum_likelihood_in_order)
{
    /* With a list of 2^k nothing is pruned: every message comes back,
     * ordered by the path metric, which for min-sum SCL is the correlation
     * distance of the codeword: the first entry is the ML decision and the
     * order is the order of distances. Compared with an exhaustive search. */
    static const struct { int n, k; } codes[] = { { 8, 4 }, { 16, 6 }, { 16, 8 }, { 32, 8 } };
    TuRng r;
    tu_rng_seed(&r, 46);
    static uint8_t cands[256 * 8], coded[32], bits[8], seen[256];
    float soft[32];
    for (size_t c = 0; c < sizeof codes / sizeof codes[0]; c++) {
        int n = codes[c].n, k = codes[c].k, L = 1 << k;
        FmPolar *p = make(n, k);
        for (int trial = 0; trial < 20; trial++) {
            tu_random_bits(&r, bits, k);
            fm_polar_encode(p, bits, coded);
            for (int i = 0; i < n; i++)
                soft[i] = (coded[i] ? 1.0f : -1.0f) + (float)(1.2 * tu_rng_gauss(&r));
            /* brute force */
            double best = INFINITY;
            int best_m = -1;
            for (int m = 0; m < L; m++) {
                for (int b = 0; b < k; b++)
                    bits[b] = (uint8_t)((m >> b) & 1);
                fm_polar_encode(p, bits, coded);
                double d = distance(coded, soft, n);
                if (d < best) {
                    best = d;
                    best_m = m;
                }
            }
            int found = 0;
            cr_assert_eq(fm_polar_decode_list(p, soft, L, cands, &found), 0);
            cr_assert_eq(found, L, "(%d, %d): %d of %d messages", n, k, found, L);
            memset(seen, 0, sizeof seen);
            double prev = -1;
            for (int e = 0; e < found; e++) {
                int m = 0;
                for (int b = 0; b < k; b++)
                    m |= cands[e * k + b] << b;
                cr_assert_eq(seen[m], 0, "(%d, %d): message %d listed twice", n, k, m);
                seen[m] = 1;
                fm_polar_encode(p, cands + e * k, coded);
                double d = distance(coded, soft, n);
                cr_assert_geq(d, prev - 1e-4, "(%d, %d) trial %d: entry %d distance %.5f after "
                              "%.5f", n, k, trial, e, d, prev);
                if (e == 0)
                    cr_assert(m == best_m || fabs(d - best) < 1e-4,
                              "(%d, %d) trial %d: first entry is not ML", n, k, trial);
                prev = d;
            }
        }
        fm_polar_free(&p);
    }
}

Test(polar, fewer_messages_than_the_list)
{
    FmPolar *p = make(16, 3);
    uint8_t cands[32 * 3], bits[3] = { 1, 0, 1 }, coded[16];
    float soft[16];
    fm_polar_encode(p, bits, coded);
    tu_bits_to_soft(coded, 16, 1.0f, soft);
    int found = 0;
    cr_assert_eq(fm_polar_decode_list(p, soft, 32, cands, &found), 0);
    cr_assert_eq(found, 8);
    cr_assert_arr_eq(cands, bits, 3);
    fm_polar_free(&p);
}

Test(polar, long_list_is_ordered_and_distinct)
{
    TuRng r;
    tu_rng_seed(&r, 47);
    enum { N = 4096, L = 32 };
    FmPolar *p = make(N, K_MSG);
    static uint8_t bits[K_MSG], coded[N], cands[L * K_MSG];
    static float soft[N];
    for (int trial = 0; trial < 4; trial++) {
        tu_random_bits(&r, bits, K_MSG);
        fm_polar_encode(p, bits, coded);
        for (int i = 0; i < N; i++)
            soft[i] = (coded[i] ? 1.0f : -1.0f) + (float)(1.9 * tu_rng_gauss(&r));
        int found = 0;
        cr_assert_eq(fm_polar_decode_list(p, soft, L, cands, &found), 0);
        cr_assert_eq(found, L);
        double prev = -1;
        for (int e = 0; e < found; e++) {
            fm_polar_encode(p, cands + e * K_MSG, coded);
            double d = distance(coded, soft, N);
            cr_assert_geq(d, prev - 1e-6 * d, "trial %d: entry %d fits better than %d", trial, e,
                          e - 1);
            prev = d;
            for (int f = 0; f < e; f++)
                cr_assert_gt(tu_count_diff(cands + f * K_MSG, cands + e * K_MSG, K_MSG), 0,
                             "trial %d: entries %d and %d are the same", trial, f, e);
        }
    }
    fm_polar_free(&p);
}

/* ---- near the edge ---- */

Test(polar, errors_and_erasures_near_the_edge)
{
    /* The watermark's code (4096, 624), hard +/-1 values with 30 % erased
     * and 18 % of the rest flipped (12.6 % of all), deterministic positions:
     * the list of 32 holds the sent message every time (it starts to miss
     * at 19 %, 2 in 300); plain SC fails some (54 in 300). */
    TuRng r;
    tu_rng_seed(&r, 48);
    enum { N = 4096, L = 32, T = 12 };
    FmPolar *p = make(N, K_MSG);
    static uint8_t bits[K_MSG], coded[N], cands[L * K_MSG];
    static float soft[N];
    int listed = 0, sc = 0, erased = 0, flipped = 0;
    for (int trial = 0; trial < T; trial++) {
        tu_random_bits(&r, bits, K_MSG);
        fm_polar_encode(p, bits, coded);
        tu_bits_to_soft(coded, N, 1.0f, soft);
        for (int i = 0; i < N; i++) {
            if (tu_rng_uniform(&r) < 0.30) {
                soft[i] = 0;
                erased++;
            } else if (tu_rng_uniform(&r) < 0.18) {
                soft[i] = -soft[i];
                flipped++;
            }
        }
        int found = 0;
        cr_assert_eq(fm_polar_decode_list(p, soft, L, cands, &found), 0);
        int rank = -1;
        for (int e = 0; e < found && rank < 0; e++)
            if (!tu_count_diff(cands + e * K_MSG, bits, K_MSG))
                rank = e;
        cr_assert_geq(rank, 0, "trial %d: the sent message is not in the list of %d", trial, L);
        listed++;
        cr_assert_eq(fm_polar_decode_list(p, soft, 1, cands, &found), 0);
        sc += !tu_count_diff(cands, bits, K_MSG);
    }
    cr_log_info("%.1f %% erased, %.1f %% flipped: list of %d %d/%d, SC %d/%d",
                100.0 * erased / (T * N), 100.0 * flipped / (T * N), L, listed, T, sc, T);
    cr_assert_lt(sc, listed);
    fm_polar_free(&p);
}

Test(polar, soft_noise_on_the_slot_channel)
{
    /* The watermark's channel: 4352 slots, coded bit i on slots i, i + 4096
     * (so 256 bits twice), soft value = sum; slot sigma 1.70 is a slot
     * error rate of 27.9 %, where the K=9 convolutional code's coded bits
     * would be 19 % wrong (its list of 64 decodes about half of those
     * messages; see bench/results/fec_edge.md). The list of 32 decodes all. */
    TuRng r;
    tu_rng_seed(&r, 49);
    enum { N = 4096, SLOTS = 4352, L = 32, T = 16 };
    FmPolar *p = make(N, K_MSG);
    static uint8_t bits[K_MSG], coded[N], cands[L * K_MSG];
    static float soft[N];
    int wrong_slots = 0;
    for (int trial = 0; trial < T; trial++) {
        tu_random_bits(&r, bits, K_MSG);
        fm_polar_encode(p, bits, coded);
        memset(soft, 0, sizeof soft);
        for (int j = 0; j < SLOTS; j++) {
            float v = (coded[j % N] ? 1.0f : -1.0f) + (float)(1.70 * tu_rng_gauss(&r));
            wrong_slots += (v > 0) != (coded[j % N] == 1);
            soft[j % N] += v;
        }
        int found = 0;
        cr_assert_eq(fm_polar_decode_list(p, soft, L, cands, &found), 0);
        int rank = -1;
        for (int e = 0; e < found && rank < 0; e++)
            if (!tu_count_diff(cands + e * K_MSG, bits, K_MSG))
                rank = e;
        cr_assert_geq(rank, 0, "trial %d: the sent message is not in the list", trial);
    }
    cr_log_info("slot channel: %.1f %% of slots wrong, %d/%d decoded", 100.0 * wrong_slots /
                (T * SLOTS), T, T);
    fm_polar_free(&p);
}
