/*
 * polar.h - a polar code (Arikan kernel, no CRC) with a successive-
 * cancellation list decoder, for the watermark message.
 *
 * Code: x = u F^{(x)n}, F = [1 0; 1 1], natural order (no bit reversal);
 * coded bit i is x[i]. The k message bits go, in order, to the k most
 * reliable positions of u; the other n - k positions of u are frozen to 0.
 *
 * Construction (which positions are frozen): Gaussian approximation of
 * density evolution (Trifonov 2012) with the three-piece phi of Dai et al.
 * 2017 (Chung et al. 2001 above a mean LLR of 0.87, a quadratic below:
 * Chung's alone exceeds 1 there and zeroes the weak channels that a
 * low-rate code sums into its information bits), computed at
 * fm_polar_init. Every coded bit is assumed to see
 * the same binary-input AWGN channel with noise variance n / (2k) on +/-1
 * (mean LLR 4k/n): for 624/4096 sigma 1.81, about 1.1 dB above the
 * Shannon limit of the rate, which is where such a code has its edge. The
 * edge measured by bench/fec_edge.c moves by under 0.05 dB for designs
 * 1 dB either side, for a design aware of which bits are sent twice, and
 * for n = 8192 punctured to the slots. Same (n, k), same frozen set on
 * every host: plain IEEE double arithmetic with exp/log/pow, and
 * tests/test_polar.c holds known answers for the sets the watermark would
 * use and checks that a 1e-6 change of the design moves nothing (a
 * last-bit difference in libm cannot move a position across the boundary).
 *
 * Decoder: LLR-based SC list decoding (Tal & Vardy 2015, LLR form of
 * Balatsoukas-Stimming et al. 2015) with min-sum check nodes and the
 * hard-decision path metric. Both are exact max-log, so the decoder is
 * scale-invariant (the soft values need no calibration) and a path's final
 * metric is the correlation distance of its codeword: with a list of 2^k
 * it is maximum-likelihood. With no CRC the list is ordered by that metric
 * and a check outside the code (the Ed25519 signature) picks the entry.
 *
 * Soft inputs follow common/fec.h: positive means "coded bit is 1",
 * magnitude = confidence, 0 = erased.
 */
#ifndef FM_POLAR_H
#define FM_POLAR_H

#include <stdint.h>

/* Code length limits (n a power of two) and the longest list. */
#define FM_POLAR_MIN_N 2
#define FM_POLAR_MAX_N 32768
#define FM_POLAR_MAX_LIST 1024

typedef struct FmPolar FmPolar;

/*
 * Builds the (n, k) code with the default design above: n a power of two
 * in FM_POLAR_MIN_N..FM_POLAR_MAX_N, 1 <= k <= n.
 * Returns 0, FM_EINVAL or FM_ENOMEM; *p is NULL on failure.
 */
int fm_polar_init(FmPolar **p, int n, int k);

/*
 * Like fm_polar_init, with the construction's channel given per coded bit:
 * llr_mean[i] >= 0 is the mean LLR of coded bit i at the design point
 * (4 Es/N0 for BPSK in Gaussian noise; a bit repeated r times has r times
 * the mean of one copy; 0 = never transmitted, i.e. punctured). NULL means
 * the default design. For experiments
 * (bench/fec_edge.c); the watermark uses fm_polar_init.
 */
int fm_polar_init_design(FmPolar **p, int n, int k, const double *llr_mean);

/* Frees *p and sets it to NULL; NULL and *p == NULL are no-ops. */
void fm_polar_free(FmPolar **p);

int fm_polar_n(const FmPolar *p);
int fm_polar_k(const FmPolar *p);
/* n flags, 1 = position of u frozen to 0, 0 = carries a message bit. */
const uint8_t *fm_polar_frozen(const FmPolar *p);

/* bits: k values 0/1 (only the low bit counts); coded: n values 0/1. */
void fm_polar_encode(const FmPolar *p, const uint8_t *bits, uint8_t *coded);

/*
 * SC list decoding of n soft values: up to `list` distinct messages, the
 * best path metric (most likely) first, into cands (list x k values 0/1);
 * *found gets how many (fewer than `list` only when 2^k < list). list = 1
 * is plain successive cancellation. Soft values must be finite.
 * Allocates one workspace of about list x n x 5 bytes per call.
 * Returns 0, FM_EINVAL (list outside 1..FM_POLAR_MAX_LIST, NaN or infinite
 * input) or FM_ENOMEM.
 */
int fm_polar_decode_list(const FmPolar *p, const float *soft, int list, uint8_t *cands,
                         int *found);

#endif
