/*
 * detect_keys.h - the detection of a clip under a set of keys: every key
 * tried on the same accumulated evidence, the best result kept, and the
 * false-alarm probability corrected for the number of keys tried (each
 * key's hypotheses count, docs/DESIGN.md §2). One picture goes to the still
 * detector (still.h), whose search adds its own hypotheses.
 *
 * wmdetect and the public API (include/filmmark.h) both call this.
 */
#ifndef FM_DETECT_KEYS_H
#define FM_DETECT_KEYS_H

#include "accumulator.h"
#include "detector.h"
#include "fm_error.h"
#include "keys.h"

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

#endif
