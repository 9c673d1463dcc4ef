/*
 * fec.h - forward error correction for the watermark message.
 *
 * A rate-1/3 convolutional code, constraint length 9 (generators 557, 663,
 * 711 octal), terminated with 8 zero tail bits, decoded by a soft-decision
 * Viterbi decoder. Soft inputs: positive means "coded bit is 1", negative
 * "0", magnitude = confidence, 0 = erased. Erasures and errors need no
 * special handling.
 */
#ifndef FM_FEC_H
#define FM_FEC_H

#include <stdint.h>

#define FM_FEC_K 9
#define FM_FEC_RATE 3
#define FM_FEC_TAIL (FM_FEC_K - 1)
#define FM_FEC_CODED_BITS(nbits) (((nbits) + FM_FEC_TAIL) * FM_FEC_RATE)

/* bits: nbits values 0/1; coded: FM_FEC_CODED_BITS(nbits) values 0/1. */
void fm_fec_encode(const uint8_t *bits, int nbits, uint8_t *coded);
/*
 * soft: FM_FEC_CODED_BITS(nbits) values; bits: nbits decoded 0/1 values.
 * Returns 0, or FM_ENOMEM.
 */
int fm_fec_decode(const float *soft, int nbits, uint8_t *bits);

/* Longest list fm_fec_decode_list keeps (ranks are stored in a byte). */
#define FM_FEC_MAX_LIST 256

/*
 * List Viterbi decoding (parallel list Viterbi: the `list` best paths into
 * every state): up to `list` messages, most likely first, into bits
 * (list x nbits values); *found gets how many. The first is the Viterbi
 * decision. A check outside the code (here, the Ed25519 signature) picks
 * the right one when the most likely path is wrong, so the list is worth
 * about what a stronger code would be, at no cost in the picture.
 * Returns 0, FM_EINVAL (list outside 1..FM_FEC_MAX_LIST) or FM_ENOMEM.
 */
int fm_fec_decode_list(const float *soft, int nbits, int list, uint8_t *bits, int *found);

/* MSB-first byte <-> bit helpers. */
void fm_bytes_to_bits(const uint8_t *bytes, int nbytes, uint8_t *bits);
void fm_bits_to_bytes(const uint8_t *bits, int nbytes, uint8_t *bytes);

#endif
