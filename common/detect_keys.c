#include "detect_keys.h"

#include <sodium.h>

int fm_detect_keys(const FmAccumulator *acc, FmKey *const *keys, int nkeys,
                   FmStrengthTrace *trace[2], FmKeyResultFn each, void *ctx,
                   FmDetectResult *best, int *best_key, FmError *err)
{
    *best_key = -1;
    if (nkeys < 1)
        return fm_error_set(err, FM_EINVAL, "no detection key to try");
    /* a still picture (or a one-frame clip): the still detector */
    if (acc->frames == 1)
        return fm_still_detect_thorough(acc, keys, nkeys, NULL, best, best_key, err);
    FmEvidence ev = { 0 };
    int r = 0;
    for (int k = 0; k < nkeys && r >= 0; k++) {
        FmDetectResult cur;
        /* nkeys: each key's hypotheses count in every result's correction */
        if ((r = fm_detect_trace(acc, keys[k], nkeys, NULL, &cur, &ev, trace ? trace[1] : NULL,
                                 err)) < 0)
            break;
        int better = *best_key < 0 || (cur.signature_valid && !best->signature_valid) ||
                     (cur.signature_valid == best->signature_valid &&
                      cur.false_alarm_log10 < best->false_alarm_log10);
        if (better) {
            *best = cur;
            *best_key = k;
            if (trace) {   /* keep the best key's trace */
                FmStrengthTrace *swap = trace[0];
                trace[0] = trace[1];
                trace[1] = swap;
            }
        }
        if (each)
            r = each(ctx, k, &cur, &ev, better, err);
    }
    fm_evidence_free(&ev);
    return r < 0 ? r : 0;
}

int fm_still_detect_keys(const FmStillPicture *pic, FmStillKey *const *sk, int nkeys,
                         FmStillKeyResultFn each, void *ctx, FmError *err)
{
    if (nkeys < 1)
        return fm_error_set(err, FM_EINVAL, "no detection key to try");
    float soft[FM_CODED_BITS];
    int r = 0;
    for (int k = 0; k < nkeys && r >= 0; k++) {
        FmDetectResult res;
        int decoded = 0;
        /* nkeys: each key's hypotheses count in every result's correction */
        if ((r = fm_still_detect(pic, sk[k], nkeys, 0, &res, soft, &decoded, err)) >= 0)
            r = each(ctx, k, &res, soft, decoded, err);
    }
    sodium_memzero(soft, sizeof(soft));
    return r < 0 ? r : 0;
}
