/*
 * ldpc.h - a random irregular LDPC code for bench/fec_edge.c's comparison of
 * message codes (issue 8): the parity-check matrix is built by progressive
 * edge growth (PEG: every new edge goes to the check farthest from its
 * variable in the graph so far), messages are encoded through the systematic
 * form Gaussian elimination gives, and words are decoded by layered belief
 * propagation (sum-product, or normalised min-sum). Bench code: the mark's
 * own code is the polar code of common/polar.h.
 */
#ifndef FILMMARK_BENCH_LDPC_H
#define FILMMARK_BENCH_LDPC_H

#include <stdint.h>

typedef struct Ldpc Ldpc;

/*
 * n coded bits, k message bits; profile gives the variable-node degrees:
 * "3" (every variable of degree 3) or "2:0.4,3:0.4,8:0.2" (fractions of the
 * variables; the last degree takes what rounding leaves). seed picks the
 * graph. Returns 0, or -1 on a bad argument or allocation failure.
 */
int ldpc_init(Ldpc **out, int n, int k, const char *profile, uint64_t seed);

/* coded[n] (0/1) of msg[k] (0/1). The code keeps a scratch buffer: one
 * encode at a time per code. If H's checks are not independent, the code
 * has more than k free bits, and the surplus is sent as zeros. */
void ldpc_encode(Ldpc *c, const uint8_t *msg, uint8_t *coded);

/*
 * Decodes soft[n] (fec_edge's convention: positive = coded bit 1). minsum:
 * normalised min-sum (factor 0.8), which does not need the noise level;
 * else sum-product with the log-likelihood ratio 2 soft / noise_var (the
 * variance of a slot's noise; a coded bit's sum of m slots has mean +-m and
 * variance m noise_var, so the ratio is the same for every bit). At most
 * iters iterations; stops when every check holds. Writes the message bits to
 * msg_out and returns 1 if every check held, 0 if not.
 */
int ldpc_decode(Ldpc *c, const float *soft, double noise_var, int minsum, int iters,
                uint8_t *msg_out);

void ldpc_free(Ldpc **c);

#endif
