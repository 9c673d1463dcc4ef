/*
 * detector.h - reads the signed message out of accumulated evidence.
 */
#ifndef FM_DETECTOR_H
#define FM_DETECTOR_H

#include <stdint.h>

#include "accumulator.h"
#include "fm_error.h"
#include "keys.h"
#include "pattern.h"
#include "payload.h"

/* A clip is reported as marked when the search-corrected false-alarm
 * probability of its pilot correlation is at most this (docs/DESIGN.md). */
#define FM_FALSE_ALARM_THRESHOLD 1e-9

typedef struct FmGeometry {
    /* Clip pixels per marked-picture pixel, relative to the picture's whole
     * height filling the clip's height (1 = untouched or uniformly scaled;
     * the marked picture's own size is not in the mark: multiply by
     * clip height / master height for absolute figures). */
    double scale_x, scale_y;
    /* Where a tile corner of the marked picture lies in the clip, clip
     * pixels: the picture's top-left modulo the tile period (128 mark
     * pixels), the representative nearest the clip's top-left. A mirrored
     * clip is read mirrored: flip_h (flip_v) measures offset_x (offset_y)
     * in the mirrored frame, from the clip's right (bottom) edge. */
    double offset_x, offset_y;
    int flip_h, flip_v;
    double rotation_deg;
    int searched;               /* found by the geometry search (not the nominal grid) */
    int perspective;            /* read through a projective map (a picture seen at an
                                   angle, a keystone): the figures above are the map's
                                   at the clip's centre */
} FmGeometry;

typedef struct FmDetectResult {
    int found;              /* mark present: signature valid or p <= threshold */
    int signature_valid;
    int payload_valid;      /* the decoded payload has a known version */
    int list_rank;          /* which of the list decoder's messages verified (0 = the
                               most likely one) */
    int list_length;        /* the longest list the decoder tried: FM_MSGCODE_LIST, or
                               FM_MSGCODE_LIST_DEEP on a detected mark that no read's
                               first list verified (fm_detect_trace, msgcode.h) */
    int mark_format;        /* the code read: 5 (polar with the content tag, written
                               today), 4 (filmmark 0.4.0: its tag is not checked),
                               3 (filmmark 0.3.0: polar, no tag) or 2 (filmmark
                               0.2.0, convolutional code) */
    /* format 5's content binding (content_tag.h): the tags read against the
     * hash of the clip's own pictures; z about N(0,1) or less on pictures the
     * mark was not made for */
    double bind_z;
    double bind_agreement;  /* the share of a bound copy's agreement seen */
    int bind_pairs;         /* epoch groups whose tag was checked */
    int content_bound;      /* fm_bind_confirmed at the best anchor: bind_z past its
                               bar and bind_agreement >= FM_BIND_AGREEMENT */
    double bind_expected_z; /* what a copy of the marked pictures would show */
    double bind_worst_coverage; /* the least share of the marked region the clip can
                               hold (fm_tag_worst_coverage: a crop may cut it) */
    int content_mismatch;   /* not bound, no anchor at FM_BIND_Z, although the tags
                               are strong enough to show it even at the worst
                               coverage (bind_expected_z x fm_tag_coverage_agreement
                               >= FM_BIND_EXPECTED_Z) */
    FmPayload payload;
    uint8_t message[FM_MESSAGE_BYTES];
    double pilot_z;         /* normalised pilot correlation: N(0,1) without a mark for
                               one hypothesis; after a geometry search, the best of
                               `hypotheses` (the probability below accounts for that) */
    double false_alarm_log10;   /* log10 of the corrected false-alarm probability */
    double false_alarm_probability;
    long hypotheses;        /* epochs x phases x segments x geometries x keys
                               searched: the correction factor (at most 9e18) */
    double hypotheses_log10; /* its log10, not capped (0 where not set) */
    double raw_ber;         /* coded-bit errors before correction (vs the decoded
                               message, or vs the expected one if given) */
    double span[2];         /* seconds: where in the clip the mark was read */
    double master_position; /* seconds: where the clip's start lies in the marked
                               master (from the epochs found; +/- FM_WINDOW_SECONDS,
                               modulo FM_EPOCHS x FM_EPOCH_SECONDS) */
    int segments;           /* stretches of up to 10 s searched for epochs */
    int segments_read;      /* of which the message was read from */
    long frames_read;
    FmGeometry geometry;
    int epoch_signs;        /* 1: the message and the statistic are the per-epoch-sign
                               reading's (chi-squared over the groups' squared z,
                               hypotheses counted twice: DESIGN 5, 6); 0: coherent */
    int epochs_inverted;    /* read with each epoch's own sign (an estimate subtracted
                               too strongly leaves some epochs' mark negated): the epoch
                               groups whose pilots showed the mark negated, z <= -4
                               (0: read as embedded) */
    int expected_match;     /* with an expected message: it matches the decode */
    double expected_z;      /* with an expected message: informed correlation z */
    int pair_read;          /* the message was read as one of two copies averaged (two
                               recipients' copies blended: msgcode.h's pair read) */
    int pair_signature_valid; /* pair_read: the other copy's message verified too */
    FmPayload pair_payload; /* pair_signature_valid: the other copy's payload */
    uint8_t pair_message[FM_MESSAGE_BYTES];
} FmDetectResult;

/* Detection strength over the clip's time, for plots (the evidence report):
 * one point per epoch group of every stretch, under that stretch's best
 * epoch hypothesis, on the grid the result was read on (nominal or the
 * geometry found). */
typedef struct FmStrengthPoint {
    double t0, t1;      /* seconds: the group's first and last frame */
    double z;           /* the group's own pilot z (about N(0,1) without a mark;
                           the hypothesis was chosen on the whole stretch) */
    int stretch;        /* its stretch, 0 .. segments-1 */
    double stretch_z;   /* the stretch's pilot z under its best hypothesis */
    int read;           /* the stretch's message evidence was used */
} FmStrengthPoint;

typedef struct FmStrengthTrace {
    FmStrengthPoint *points;    /* the caller's array of cap points */
    int cap;
    int n;                      /* points written, in time order */
    int truncated;              /* the clip had more groups than cap: later ones left out */
} FmStrengthTrace;

/* Epoch hypotheses of the best stretch whose evidence is kept for naming:
 * the best and its runners-up. */
#define FM_EVIDENCE_ALTS 32

/*
 * The message evidence a detection read (common/naming.h scores candidate
 * messages against it). Secret-ish: it reveals the embedded codeword;
 * fm_evidence_free() wipes it.
 */
typedef struct FmEvidence {
    /* per coded bit, summed over every stretch read: the soft value the
     * decoder got (positive = 1), the mark amplitude the pilots predict for
     * it (>= 0, same scale) and the noise variance the band statistics
     * predict for it */
    float soft[FM_CODED_BITS];
    float mark[FM_CODED_BITS];
    float noise[FM_CODED_BITS];
    /* mark[] estimated twice, from disjoint halves of the pilots (even and
     * odd pilot ranks): their product is an unbiased estimate of mark^2 */
    float mark_half[2][FM_CODED_BITS];
    /* per stretch read (in clip order): its own soft values and where it is */
    int nstretch;
    float *stretch_soft;        /* nstretch x FM_CODED_BITS, malloc'd */
    double (*stretch_span)[2];  /* nstretch x {first, last} seconds, malloc'd */
    /* the best stretch read under the epoch search's runners-up (the
     * FM_EVIDENCE_ALTS - 1 next strongest epoch/phase hypotheses): when the
     * pilot is weak the true epochs may not be the best one */
    int nalt;
    float *alt_soft;            /* nalt x FM_CODED_BITS, malloc'd */
    /* where each runner-up places the clip: master seconds at the clip's
     * first window, as FmDetectResult.master_position for the best one */
    double alt_position[FM_EVIDENCE_ALTS];
    /* the soft evidence of every data rank (FmSlotMap.rank), summed over the
     * stretches read: soft[b] is the sum of rank_soft[r] over r % FM_CODED_BITS
     * == b; kept so that a code of another length can be tried on the same
     * evidence (bench/fec_real.c) */
    float rank_soft[FM_DATA_SLOTS];
} FmEvidence;

/* Wipes and frees what the detector put in ev (ev itself is the caller's). */
void fm_evidence_free(FmEvidence *ev);

/*
 * fm_detect, and (ev not NULL) the message evidence of the result it
 * reports: ev is overwritten (any previous content freed first; zero it
 * before the first use). Release with fm_evidence_free().
 */
int fm_detect_ex(const FmAccumulator *acc, const FmKey *key, int keys_tried,
                 const uint8_t *expected, FmDetectResult *res, FmEvidence *ev, FmError *err);

/*
 * Analyses the accumulated evidence with one detection key. keys_tried is
 * the number of keys the caller tries in all (part of the search correction).
 * expected (may be NULL): the message a receipt says was embedded, for
 * informed detection and to measure the raw bit error rate against.
 */
int fm_detect(const FmAccumulator *acc, const FmKey *key, int keys_tried,
              const uint8_t *expected, FmDetectResult *res, FmError *err);
/* fm_detect_ex, and the strength over time into trace (may be NULL; its
 * points and cap are the caller's, n and truncated are set). */
int fm_detect_trace(const FmAccumulator *acc, const FmKey *key, int keys_tried,
                    const uint8_t *expected, FmDetectResult *res, FmEvidence *ev,
                    FmStrengthTrace *trace, FmError *err);
/* For tests: fm_detect_trace's second pass (the deep list) alone, its
 * result whether it verifies or not; after_first: after the first pass,
 * its epoch searches taken from what the first made (as fm_detect_trace
 * does), else all made afresh. Both give the same result. */
int fm_detect_deep_pass(const FmAccumulator *acc, const FmKey *key, int keys_tried,
                        const uint8_t *expected, int after_first, FmDetectResult *res,
                        FmError *err);

/* Takes a decoder's reading (msgcode.h) into res: the signature, list rank
 * and length, raw errors, message and payload, and the other copy of a
 * pair read; wipes mr. */
struct FmMsgRead;
void fm_detect_result_take_read(FmDetectResult *res, struct FmMsgRead *mr);

/* The binding of a format-5 mark from the pairs of `n` anchors (content_tag.h:
 * FmBind): the best anchor (a confirmed one first, then the highest z)
 * into res's bind_* fields and content_bound (content_mismatch is the
 * caller's: it depends on what the pairs were). */
struct FmBind;
void fm_bind_report(const struct FmBind *bind, int n, FmDetectResult *res);

/* log10 of P(N(0,1) >= z), accurate far into the tail. */
double fm_gauss_tail_log10(double z);

/* log10 of P(X >= x) for X chi-squared with k >= 1 degrees of freedom,
 * accurate far into the tail. */
double fm_chi2_tail_log10(double x, int k);

/* The z whose fm_gauss_tail_log10 is lp (lp <= 0): a tail probability as a
 * normal score. */
double fm_gauss_z_for_tail_log10(double lp);

/*
 * 1 when a verified clip may fail to match an issuance's recorded content
 * fingerprint for a reason other than a transplant: the clip is a crop the
 * fingerprint of whole pictures cannot align — it shows a zoomed-in part of
 * the marked picture (scale >= FM_CROP_SCALE on an axis), or the picture
 * shrunk inside a larger frame (scale <= 1 / FM_CROP_SCALE on both axes: a
 * picture in picture, whose frame's fingerprint is mostly the other
 * picture's), or its aspect
 * ratio differs from the issued picture's by more than FM_CROP_ASPECT (the
 * sides or the top and bottom cut away; issued_aspect <= 0: not known) —
 * and the mark's content tag does not contradict the pictures (it binds
 * them, or the crop may have cut the tagged region away, or the tag is too
 * weak to tell). A re-stamp onto other video by a detection-key holder
 * (who can compute a correct tag) at the issued shape sits on the nominal
 * grid of its video: not explained.
 */
#define FM_CROP_SCALE 1.1
#define FM_CROP_ASPECT 0.03
int fm_detect_crop_explains(const FmDetectResult *r, double clip_aspect, double issued_aspect);

/*
 * 1 when a verified mark of a binding format (5, 6) is not bound to the
 * pictures it was read from (its content tag contradicts them, or is too
 * weak to tell) and no content fingerprint of the issued title vouches for
 * them where the mark places them (fingerprint_vouches 0): the copy attack
 * or a re-stamp until shown otherwise (wmdetect exits 4 when the tag
 * contradicts, r->content_mismatch, else 3). wmdetect and the evidence
 * report decide with this.
 */
int fm_detect_unbound(const FmDetectResult *r, int fingerprint_vouches);

#endif
