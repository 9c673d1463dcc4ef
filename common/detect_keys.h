/*
 * detect_keys.h - the detection of a clip under a set of keys: every key
 * tried on the same accumulated evidence, the best result kept, and the
 * false-alarm probability corrected for the number of keys tried (each
 * key's hypotheses count, docs/DESIGN.md §2). One picture goes to the still
 * detector (still.h), whose search adds its own hypotheses.
 *
 * wmdetect and the public API (include/filmmark.h) both call this;
 * wmdetect --scan calls it with a callback that keeps every key's result.
 */
#ifndef FM_DETECT_KEYS_H
#define FM_DETECT_KEYS_H

#include "accumulator.h"
#include "detector.h"
#include "fm_error.h"
#include "keys.h"
#include "still.h"

/*
 * Told about each key's result (not on the still path): key is its index,
 * ev the evidence the result was read from (valid during the call only),
 * better is non-zero when this key is now the best one. A negative return
 * stops the loop and is returned.
 */
typedef int (*FmKeyResultFn)(void *ctx, int key, const FmDetectResult *res,
                             const FmEvidence *ev, int better, FmError *err);

/*
 * Detects with each of keys[0..nkeys-1] (nkeys >= 1) and returns the best
 * result in *best and its key in *best_key: a verified signature beats an
 * unverified one, then the lower corrected false-alarm probability; ties go
 * to the earlier key. Every result is corrected for nkeys keys.
 * acc holding one frame: the still detector's thorough search
 * (fm_still_detect_thorough), each is not called and trace is not used.
 * trace (may be NULL): two traces with points and cap set; on return
 * trace[0] is the best key's (the two pointers may have been swapped).
 * each (may be NULL) is called after every key's detection.
 */
int fm_detect_keys(const FmAccumulator *acc, FmKey *const *keys, int nkeys,
                   FmStrengthTrace *trace[2], FmKeyResultFn each, void *ctx,
                   FmDetectResult *best, int *best_key, FmError *err);

/*
 * Told about each key's result on a still picture: res as fm_still_detect
 * gives it, soft its soft coded bits (FM_CODED_BITS, valid during the call
 * only) when decoded is non-zero. A negative return stops the loop and is
 * returned.
 */
typedef int (*FmStillKeyResultFn)(void *ctx, int key, const FmDetectResult *res,
                                  const float *soft, int decoded, FmError *err);

/*
 * The still detector (fm_still_detect, flags 0) on pic with each of
 * sk[0..nkeys-1] (nkeys >= 1), every result corrected for nkeys keys, each
 * handed to each (not NULL) in key order: for callers that keep every key's
 * result (wmdetect --scan) rather than the best.
 */
int fm_still_detect_keys(const FmStillPicture *pic, FmStillKey *const *sk, int nkeys,
                         FmStillKeyResultFn each, void *ctx, FmError *err);

#endif
