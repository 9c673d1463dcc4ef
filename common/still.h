/*
 * still.h - reading the mark from one still picture (a frame cut from a
 * marked deliverable, as datasets hold them: uniformly scaled, cropped to
 * any width with the full height kept, re-compressed).
 *
 * One frame carries one epoch's pilot and data layers and the constant sync
 * layer (docs/DESIGN.md section 12). The still detector:
 *   1. folds the frame's whitened nominal grid into one tile (the grid
 *      follows the picture height, so a uniformly scaled copy that kept the
 *      whole height is on the mark grid up to a cyclic shift, which is what
 *      a crop of the width is);
 *   2. finds candidate shifts (no flip and a horizontal flip) by an FFT
 *      cross-correlation with the keyed sync tile;
 *   3. for each candidate, searches the FM_EPOCHS epochs' pilots (one
 *      window: no phases to search) and keeps the best;
 *   4. decodes the message of the best candidate (list Viterbi + Ed25519)
 *      when asked to, or when its pilot is strong enough to be worth it.
 * The candidates are chosen on the sync layer only, whose slots and signs
 * are independent of the pilots', so the pilot statistic of each candidate
 * stays N(0,1) without a mark: the false-alarm correction counts candidates
 * x epochs x keys (FM_STILL_CANDIDATES x FM_EPOCHS x keys), not the shifts.
 *
 * The per-key tables (4096 epoch pilots, the sync tile's spectrum) cost a
 * few tens of milliseconds to derive: make them once per key and reuse them
 * for every still. An FmStillKey is read-only once made and may be shared by
 * threads.
 */
#ifndef FM_STILL_H
#define FM_STILL_H

#include "accumulator.h"
#include "detector.h"
#include "fm_error.h"
#include "keys.h"
#include "pattern.h"
#include "resample.h"
#include "whiten.h"

/* Shift candidates per flip (no flip, horizontal flip) tried by the epoch search. */
#define FM_STILL_SHIFTS 2
#define FM_STILL_CANDIDATES (2 * FM_STILL_SHIFTS)
/* Without FM_STILL_DECODE, the message is decoded only when the best pilot z
 * reaches this: below it a single frame's raw bit errors are far beyond what
 * the code corrects (a pilot z of 5 means an amplitude of 0.22 per slot,
 * about 37 % raw errors), and decoding costs ~0.1 s. */
#define FM_STILL_DECODE_Z 5.5

enum { FM_STILL_DECODE = 1 };

typedef struct FmStillKey FmStillKey;

/*
 * One picture on the nominal mark grid (FM_MARK_HEIGHT rows over the
 * picture's height), whitened as the video detector does. Made by
 * fm_still_picture_set (which keeps its buffers, the whitening's and the
 * detector's working arrays for the next picture of the same size: a scan
 * reuses one per thread, and one picture is used by one thread at a time),
 * or a view of a one-frame accumulator's grid (fm_still_picture_view; the
 * detector then allocates its working arrays per call).
 */
typedef struct FmStillPicture {
    int gw, gh;          /* nominal grid size */
    double step;         /* picture pixels per mark pixel */
    double t;            /* the picture's time, seconds */
    const float *grid;   /* gw x gh whitened samples */
    const float *raw;    /* gw x gh samples before whitening (the content tag), or NULL */
    /* private */
    int width, height, owned;
    FmAxisMap mx, my;
    float *buf, *tmp, *rawbuf;
    FmWhiten wh;
    struct FmStillScratch *scratch;   /* fm_still_detect's working arrays */
} FmStillPicture;

/* Zero-initialise p before its first use ({ 0 }). luma: 8-bit samples, or
 * uint16 for bit_depth > 8. Returns 0, FM_EINVAL (size) or FM_ENOMEM. */
int fm_still_picture_set(FmStillPicture *p, const uint8_t *luma, ptrdiff_t stride, int width,
                         int height, int bit_depth, FmError *err);
/* A view of the grid of an accumulator that holds one frame (acc->frames
 * must be 1; the accumulator's grid is its last frame's). */
void fm_still_picture_view(FmStillPicture *p, const FmAccumulator *acc);
void fm_still_picture_free(FmStillPicture *p);

/* Derives the tables of one key. Returns 0 or FM_ENOMEM. */
int fm_still_key_new(FmStillKey **sk, const FmKey *key, FmError *err);
/* Wipes and frees; *sk becomes NULL. */
void fm_still_key_free(FmStillKey **sk);

/*
 * Detects the mark in one picture. keys_tried enters the false-alarm correction. flags: FM_STILL_DECODE to
 * decode the message whatever the pilot. res is filled like fm_detect's
 * (hypotheses = keys x FM_STILL_CANDIDATES x FM_EPOCHS; geometry.searched
 * is 0; master_position is the middle of the epoch found, +/- 1 s).
 * soft (FM_CODED_BITS floats, may be NULL) receives the frame's soft coded
 * bits under the best candidate (maximum-ratio combined: soft bits of
 * several stills of the same message add up; see fm_still_decode_soft);
 * *decoded (may be NULL) says whether they were computed (else soft is 0).
 * Returns 0 or FM_ENOMEM.
 */
int fm_still_detect(const FmStillPicture *pic, const FmStillKey *sk, int keys_tried, int flags,
                    FmDetectResult *res, float *soft, int *decoded, FmError *err);

/*
 * Decodes summed soft coded bits (polar list decoding) and verifies the
 * signature with key: fills res->message, payload, payload_valid,
 * signature_valid, list_rank, list_length, raw_ber (of the sum) and
 * mark_format (7, or 6 to 4 for older marks, read under their own masks).
 * deep: when nothing verifies, read format 7's code again with the deep
 * list (msgcode.h; about 0.3 s), for a picture whose pilots show the mark.
 * A format-7 message that verifies at a pair's error rate is followed by
 * the look for the other copy of an average of two
 * (fm_msgcode_read_pair_other): res->pair_read, pair_signature_valid,
 * pair_payload and pair_message as fm_detect fills them.
 * Returns 0 or FM_ENOMEM.
 */
int fm_still_decode_soft(const float *soft, const FmKey *key, int deep, FmDetectResult *res,
                         FmError *err);

/*
 * What wmdetect does with a one-frame clip: the still detector with every
 * key (message always decoded); if that finds nothing (or expected is
 * given, for the informed figures), also fm_detect's nominal grid and
 * geometry search. The best result is kept, with the hypotheses of both
 * searches counted in its false-alarm probability. *which is the index of
 * the key that gave it. Returns 0 or FM_E*.
 */
int fm_still_detect_thorough(const FmAccumulator *acc, FmKey *const *keys, int nkeys,
                             const uint8_t *expected, FmDetectResult *res, int *which,
                             FmError *err);

#endif
