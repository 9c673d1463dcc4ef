/*
 * msgcode.h - the error-correcting code of the watermark message (mark
 * format 3), and the code format 2 marks were written with.
 *
 * Format 3: the polar (4096, 624) code of common/polar.h, decoded by
 * successive-cancellation list decoding; the Ed25519 signature picks the
 * message from the list (there is no CRC). The FM_DATA_SLOTS data slots of
 * an epoch carry the 4096 coded bits round-robin in the epoch's keyed order
 * (rank r carries bit r % FM_CODED_BITS, so 256 bits are sent twice).
 * Measured against format 2's code (bench/fec_edge.c on a simulated
 * channel, bench/fec_real.sh on the evidence of real copies): docs/DESIGN.md.
 *
 * Format 2 (filmmark 0.2.0): the K = 9 convolutional code of common/fec.h
 * (1896 coded bits) over the same slots, list Viterbi. Its marks are still
 * read: fm_msgcode_fold folds the evidence of the data ranks for either.
 */
#ifndef FM_MSGCODE_H
#define FM_MSGCODE_H

#include <stdint.h>

#include "fec.h"
#include "keys.h"
#include "payload.h"

#define FM_POLAR_CODE_N 4096
#define FM_CODED_BITS FM_POLAR_CODE_N                       /* format 3 */
#define FM_CODED_BITS_V2 ((int)FM_FEC_CODED_BITS(FM_MESSAGE_BITS)) /* format 2: 1896 */
/* Longest list fm_msgcode_decode_list takes. */
#define FM_MSGCODE_MAX_LIST 1024

/*
 * Codes the FM_MESSAGE_BITS message bits (0/1) into FM_CODED_BITS coded bits.
 * Returns 0, or FM_ENOMEM when the code could not be built (first use).
 */
int fm_msgcode_encode(const uint8_t *bits, uint8_t *coded);

/*
 * List decoding of FM_CODED_BITS soft values (positive = coded bit 1): up to
 * `list` messages, most likely first, into cands (list x FM_MESSAGE_BITS);
 * *found gets how many. Returns 0, FM_EINVAL or FM_ENOMEM.
 */
int fm_msgcode_decode_list(const float *soft, int list, uint8_t *cands, int *found);

/* Mark formats the decoder reads. */
#define FM_MSGCODE_FORMAT 3      /* polar: what wmembed writes */
#define FM_MSGCODE_FORMAT_V2 2   /* convolutional: filmmark 0.2.0 */
/* Lists the decoders keep: the polar list of 32 is 0.2 dB short of 256
 * and 0.3 dB of 1024 (bench/results/fec_edge.md) at a tenth of 256's
 * time, so it is what every read tries; the deep list is a last resort for
 * a clip whose mark is detected but where no read's first list holds a
 * message that verifies (detector.c: fm_detect_trace's second pass). 64
 * was format 2's. */
#define FM_MSGCODE_LIST 32
#define FM_MSGCODE_LIST_DEEP 1024
#define FM_MSGCODE_LIST_V2 64
/* The pair read: the SC list of its first step, its order-1 flips, and so
 * the signatures it tries at most (pair_decode.h: two messages for each
 * listed difference and each flip). */
#define FM_MSGCODE_PAIR_DLIST 8
#define FM_MSGCODE_PAIR_FLIPS 15
#define FM_MSGCODE_PAIR_TRIES (FM_MSGCODE_PAIR_DLIST * (FM_MSGCODE_PAIR_FLIPS + 1) * 2)
/* fm_msgcode_read_pair_other looks for a second copy only behind a message
 * read with at least this share of its coded bits wrong: an average of two
 * copies erases half of them (25 % against either message, without noise). */
#define FM_MSGCODE_PAIR_MIN_BER 0.20

typedef struct FmMsgRead {
    int signature_valid;     /* a listed message's signature verified */
    int rank;                /* its place in the list (0 = most likely) */
    int list;                /* the list's length (the decoder's, not how many it held) */
    double raw_ber;          /* coded bits read wrong against that message's
                                codeword (the most likely one when none verified) */
    uint8_t message[FM_MESSAGE_BYTES]; /* the verified message, else the most likely */
    int pair;                /* the message was read as one of an averaged pair
                                (fm_msgcode_read_deep's pair read) */
    int pair_valid;          /* pair: the other message of the pair verified too */
    uint8_t pair_message[FM_MESSAGE_BYTES]; /* pair_valid: that message */
} FmMsgRead;

/*
 * Reads the message from soft values of mark format `format`
 * (FM_MSGCODE_FORMAT: FM_CODED_BITS values; FM_MSGCODE_FORMAT_V2:
 * FM_CODED_BITS_V2 values): list decoding, then the first listed message
 * whose Ed25519 signature verifies under key. Returns 0 (out->signature_valid
 * says whether one did), FM_EINVAL or FM_ENOMEM.
 */
int fm_msgcode_read(const float *soft, int format, const FmKey *key, FmMsgRead *out);

/*
 * fm_msgcode_read with a list of `list` messages (1..FM_MSGCODE_MAX_LIST;
 * format 2's decoder takes up to FM_FEC_MAX_LIST): every listed message's
 * signature is tried in turn. A list of 1024 costs about 0.3 s of CPU.
 */
int fm_msgcode_read_list(const float *soft, int format, int list, const FmKey *key,
                         FmMsgRead *out);

/*
 * The deep list's read: when *mr (a first read of soft, mark format 7's
 * code) holds no message that verifies, soft is read again with a list of
 * FM_MSGCODE_LIST_DEEP and that read replaces *mr if its signature
 * verifies; either way mr->list then says the deep list was tried. When
 * that fails too, the pair read (common/pair_decode.h: the soft values
 * read as the average of two copies marked for two recipients) tries
 * FM_MSGCODE_PAIR_TRIES more messages, pairwise; the first that verifies
 * replaces *mr with mr->pair set, and the other of its pair goes to
 * mr->pair_message when its signature verifies too. Returns 1 when a deep
 * or pair read verified, 0 when not (or when *mr had already), or a
 * negative FM_E* (*mr untouched).
 */
int fm_msgcode_read_deep(const float *soft, const FmKey *key, FmMsgRead *mr);

/*
 * When *mr holds a message A that verified (mark format 7's code) with a raw
 * error rate of at least FM_MSGCODE_PAIR_MIN_BER and no pair yet: the other
 * copy of an averaged pair, B = A xor D for each of the
 * FM_MSGCODE_PAIR_DLIST differences D that the pair read's first step
 * lists (pair_decode.h), tried in turn; the first whose signature verifies
 * goes to mr->pair_message, with mr->pair and mr->pair_valid set. Returns
 * 1 when one did, 0 when not (or not tried), or a negative FM_E* (*mr
 * untouched).
 */
int fm_msgcode_read_pair_other(const float *soft, const FmKey *key, FmMsgRead *mr);

/* What a negative return of the readers above means, in a few words
 * ("out of memory in the decoder", or soft values that are not finite). */
const char *fm_msgcode_strerror(int ret);

/*
 * Soft values of a code with `ncoded` coded bits from the evidence of the
 * FM_DATA_SLOTS data ranks: soft[b] = sum of rank_soft[r] over r % ncoded == b.
 */
void fm_msgcode_fold(const float *rank_soft, int ncoded, float *soft);

#endif
