/*
 * pair_decode.h - reading the average of two copies: a frame-by-frame blend
 * of two recipients' deliverables of one master (the collusion that
 * bench/robustness.sh calls coll_avg).
 *
 * Where the two copies' coded bits agree, the blend carries the mark at
 * full amplitude; where they differ, the two marks cancel and the slot holds
 * only noise. The soft values are then three-level: +-m on agreeing bits,
 * 0 on the others. Each message's codeword agrees with the soft values on
 * half the bits and is erased on the other half, and the erased half is
 * itself a codeword (x_A xor x_B = x_{A xor B}: the code is linear). A
 * successive-cancellation list decoder fails on such erasures even without
 * noise: each erased information bit doubles the paths, and the list of 32
 * held either message in 28 of 50 noiseless trials, 1024 in 44 (this
 * reader: both, 50; bench/results/pair_edge.md).
 *
 * This reader solves it in two steps, both exact once noise is small:
 *
 *  1. Which bits the copies disagree on. x_A xor x_B is a codeword, and the
 *     magnitude of each soft value says whether its bit is one of them: half
 *     the bits are (for two independent signatures), so the lower and upper
 *     quartiles of |y| are about the medians of the two kinds; from halfway
 *     between them, tau is moved to halfway between the medians of the
 *     values below and above it until it settles (1-D k-medians: robust to
 *     the tails, and right for any share of differing bits), and
 *     tau - |y_i| is the decoder's evidence that bit i is one (the min-sum
 *     decoder needs no scale). The SC list
 *     decoder decodes D = A xor B from it. (A Gaussian fit of the three
 *     levels from the second and fourth moments, and the exact LLR from it,
 *     did as well on simulated averages and failed on real ones, whose soft
 *     values have heavier tails than a Gaussian's: no fit at all on the
 *     ProRes master's average, which this threshold reads.)
 *  2. The messages from the agreeing bits. On the bits of x_D = 0 the sign
 *     of the soft value is x_A = x_B; the most reliable of them, taken in
 *     order of |y| and kept when linearly independent of the ones before
 *     (Gaussian elimination over GF(2): ordered-statistics decoding, order
 *     0), determine every message bit but one direction (x_D itself
 *     vanishes on them: the only codewords that do are 0 and x_D, checked
 *     for the watermark's code in tests/test_pair_decode.c). The last pivot
 *     is then taken from the disagreeing bits, and both values of it give A
 *     and B. Order-1 reprocessing flips each of the least reliable pivots'
 *     values in turn, for the few wrong signs among them.
 *
 * Every candidate is a message for the caller's check (the Ed25519
 * signature): both A and B = A xor D for each D listed and each flip.
 */
#ifndef FM_PAIR_DECODE_H
#define FM_PAIR_DECODE_H

#include <stdint.h>

#include "polar.h"

typedef struct FmPairCode FmPairCode;

/*
 * The generator's columns of `code` (n x k bits), for the elimination.
 * Returns 0, FM_EINVAL (k > FM_PAIR_MAX_K) or FM_ENOMEM; *pc NULL on failure.
 */
#define FM_PAIR_MAX_K 1024
int fm_pair_code_init(FmPairCode **pc, const FmPolar *code);
void fm_pair_code_free(FmPairCode **pc);

/*
 * Step 1's threshold over the n values of |soft|: from halfway between
 * the quartiles, halfway between the medians below and above it, until it
 * settles. Returns 0,
 * FM_EINVAL when it is 0 (no mark to split: *tau 0) or n < 1, FM_ENOMEM.
 */
int fm_pair_threshold(const float *soft, int n, double *tau);

/*
 * Step 1 alone: up to dlist candidates for D = A xor B (k values 0/1 each,
 * the most likely first) into dcands; *found gets how many. For a clip
 * whose message A verified by another read: A xor each is a candidate for
 * the other copy's message. Returns 0, FM_EINVAL (arguments, non-finite
 * soft values, a threshold of 0: *found 0) or FM_ENOMEM.
 */
int fm_pair_differences(const FmPairCode *pc, const float *soft, int dlist, uint8_t *dcands,
                        int *found);

/*
 * Candidates for the two messages of an averaged pair, from n soft values
 * (positive = coded bit 1): for each of the `dlist` messages D that the SC
 * list decoder of step 1 lists (1..FM_POLAR_MAX_LIST), the solution A of
 * step 2 and A xor D, then the same for each of `flips` order-1 flips
 * (0..k). cands holds room for max messages of k values 0/1; *found gets
 * how many were written (at most dlist x (flips + 1) x 2, and max).
 * Returns 0; FM_EINVAL (arguments, non-finite soft values, or a threshold
 * of 0: *found 0); FM_ENOMEM.
 */
int fm_pair_decode(const FmPairCode *pc, const float *soft, int dlist, int flips,
                   uint8_t *cands, int max, int *found);

#endif
