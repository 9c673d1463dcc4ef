/*
 * fingerprint.h - a compact, robust content fingerprint of a video, to check
 * that a mark read from a clip sits on the content of the title it was
 * issued for (the "copy attack": a mark estimated from one copy and added to
 * unrelated video carries a valid signature, but not the title's pictures).
 *
 * DESIGN (measured figures: docs/DESIGN.md, "Content fingerprint")
 *
 * Per frame (8-bit or 9..16-bit luma, any size 16..16384):
 *  1. Active picture: black bars (rows/columns from each edge that are dark,
 *     mean <= 48 on the 8-bit scale, and flat, range <= 16, up to 25 % per
 *     side) are found on a sparse sample and left out, so letterbox,
 *     pillarbox and their removal do not move the picture.
 *  2. The central 80 % of the active picture (width and height, in its own
 *     proportions, so an aspect squeeze changes nothing) is box-averaged to a
 *     96 x 96 grid; a frame whose grid is flat (std < 0.5) carries no weight.
 *  3. The central 60 % (a "zoom" of 0.60) is area-resampled from it to
 *     32 x 32 cells, and 64 2-D DCT-II coefficients C(u, v) are taken: all
 *     those with ODD horizontal frequency u, the 64 of lowest u^2 + v^2
 *     (u <= 11, v <= 12). An odd-u basis is antisymmetric left-right, so
 *     (a) it ignores brightness, any function of y alone, and the picture's
 *     mean; (b) by the mirror symmetry of natural picture statistics each
 *     coefficient is positive or negative equally often over content in
 *     general: unrelated videos agree on half the bits on average, which
 *     even-u features (sky on top, subject in the middle) would not give;
 *     (c) a horizontal flip turns every bit, a vertical flip the odd-v bits:
 *     flips are a fixed XOR the comparison tries, no information is lost.
 *     The 64 values are scaled to unit length (grading and contrast do not
 *     matter) and summed per time bin.
 *  4. Per second of video time (floor of the frame time t), the hash is the
 *     sign of the sum of the frames' vectors: 64 bits. A second without a
 *     frame of picture content (black, fades) has no hash.
 *
 * The reference (the marked master, in wmembed) keeps one 64-bit hash per
 * second, serialised as "fmfp1:<first second>:" then 16 lowercase hex digits
 * per second, or "-" for a second without picture content: 16 bytes per
 * second, 115 KB for a two-hour film.
 *
 * A clip (in wmdetect) keeps quarter-second bins, and for 16 zooms: the
 * central 60, 66, 73 or 80 % of its active width times the same of its
 * height (a crop of up to 12.5 % per side, also of one axis, such as a 4:3
 * cut from 16:9, puts the master's central 60 % within 5 % of one of them);
 * about 16 KB of memory per second of clip.
 *
 * Comparison slides the clip over the master: every zoom, speed (1, and
 * 24/25, 25/24, 1/1.05, 1.05, 1/1.1, 1.1 when the clip is long enough for
 * the speed to move it by a quarter second), quarter-second phase, whole
 * second offset, the four flips, and part of the clip (all of it; from 8 s
 * on also halves, quarters and eighths, >= 4 s: splices, intros). For each
 * hypothesis the aligned pairs of one-second hashes are compared bit by bit,
 * and evidence is counted in RUNS, not seconds: per bit position a new trial
 * starts only where the clip's or the master's bit changes, so a still shot
 * counts 64 trials however long it lasts (an unrelated still clip agreeing
 * by chance with a still stretch of the master cannot pile up evidence).
 * The false-match probability of a hypothesis is the binomial tail
 * P(X >= agreements), X ~ Bin(trials, 1/2) -- exact for independent fair
 * bits, which the odd-u features make fair on average but not exactly
 * independent -- multiplied by the number of hypotheses counted
 * (Bonferroni: 10^4.5 for a 10-s master and clip, 10^7.7 for a 10-s clip
 * against a two-hour master). A match is log10 p <= -6. A clip with fewer
 * than two seconds of picture content is FM_FP_TOO_SHORT, not a guess.
 *
 * Measured (docs/DESIGN.md section 11, bench/fp_measure.sh): 64 of 64
 * benign copies of five real clips matched (H.264 CRF 35, 640x360, crop 10 %
 * per side, 4:3 cut, letterbox, h/v flip, blur, grade, rotation 1 degree,
 * speed 1.1, excerpts; log10 p -6.2 to -96), 7 of 8 excerpts and copies of
 * a 162-s, 28-shot master (the miss: 3 s of a slow zoom, 10^-5.7); 304 pairs
 * of unrelated content: no match, smallest p of a single hypothesis 10^-4.1.
 *
 * Not covered: off-centre crops and crops beyond 12.5 % per side, a clip
 * showing more than the master, rotations beyond a few degrees,
 * picture-in-picture, heavy overlays (place.h fingerprints the places the
 * mark's geometry gives a picture in picture or an off-centre crop
 * instead). Short clips of still content carry
 * at most 64 trials and may not reach the threshold against long masters.
 *
 * Use: wmembed adds every marked frame to a FM_FP_REFERENCE fingerprint and
 * puts fm_fingerprint_to_string() in the receipt (FmReceiptInfo
 * .content_fingerprint); wmdetect adds every decoded clip frame to a
 * FM_FP_CLIP fingerprint, reads the master's with
 * fm_receipt_read_fingerprint() and calls fm_fingerprint_compare_span()
 * over the span where the mark was read.
 */
#ifndef FM_FINGERPRINT_H
#define FM_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "fm_error.h"

#define FM_FP_BITS 64                /* bits of one per-second hash */
#define FM_FP_VERSION_TAG "fmfp1"    /* prefix of the serialised form */
#define FM_FP_LOG10_P_MATCH (-6.0)   /* a match is log10 p <= this */
#define FM_FP_MIN_SECONDS 2          /* fewer seconds of content: too short */
#define FM_FP_MAX_SECONDS 360000     /* longest fingerprint: 100 hours */

typedef struct FmFingerprint FmFingerprint;

typedef enum FmFpRole {
    FM_FP_REFERENCE = 0,  /* the marked master: per-second hashes, serialisable */
    FM_FP_CLIP = 1,       /* a found copy: quarter-second bins, crop hypotheses */
    FM_FP_PLACED = 2,     /* a found copy whose picture's area is given (place.h,
                             fm_fingerprint_add_area): quarter-second bins, the
                             central 0.60 alone, no crop hypotheses */
} FmFpRole;

/* Creates an empty fingerprint in *fp (free with fm_fingerprint_free()).
 * Returns 0, FM_EINVAL (NULL fp, unknown role) or FM_ENOMEM. */
int fm_fingerprint_new(FmFingerprint **fp, FmFpRole role, FmError *err);
/* Frees *fp and sets it to NULL; NULL or *fp == NULL is a no-op. */
void fm_fingerprint_free(FmFingerprint **fp);

/*
 * Adds one frame's luma plane shown at t seconds (its presentation time;
 * frames may come in any order). luma: width x height samples, 8-bit bytes
 * when bit_depth == 8, else uint16 in host order on a bit_depth scale
 * (9..16); stride in bytes. width, height in 16..16384; t finite, and all
 * frames of one fingerprint within FM_FP_MAX_SECONDS. Returns 0 or FM_EINVAL
 * (bad argument; the fingerprint is unchanged) or FM_ENOMEM.
 */
int fm_fingerprint_add(FmFingerprint *fp, const uint8_t *luma, ptrdiff_t stride, int bit_depth,
                       int width, int height, double t, FmError *err);

/*
 * The same, for a frame in which the picture hashed lies at [x0, x1) x
 * [y0, y1) (pixels of this frame; it may reach beyond the frame, as the
 * whole of a picture that the frame shows a crop of): that area is taken as
 * the active picture, no bars are looked for, and samples beyond the frame
 * repeat its edge (only the hash's central part should lie beyond it for
 * the hash to mean anything: place.h). Returns 0, FM_EINVAL (also an area
 * not finite or under 16 x 16) or FM_ENOMEM.
 */
int fm_fingerprint_add_area(FmFingerprint *fp, const uint8_t *luma, ptrdiff_t stride,
                            int bit_depth, int width, int height, double t, double x0, double y0,
                            double x1, double y1, FmError *err);

/* Frames added (those with picture content and those without). */
long fm_fingerprint_frames(const FmFingerprint *fp);
/* Seconds that have a hash (picture content). */
long fm_fingerprint_seconds(const FmFingerprint *fp);

/*
 * The serialised form, "fmfp1:<first>:<hashes>" (see above), in a malloc'd
 * string the caller frees; of a clip, its plain (zoom 0.60) one-second hashes.
 * An empty fingerprint gives "fmfp1:0:". Returns 0 or FM_ENOMEM.
 */
int fm_fingerprint_to_string(const FmFingerprint *fp, char **out, FmError *err);
/* Parses the serialised form into a new reference fingerprint. Returns 0,
 * FM_EFORMAT (not a valid fingerprint string) or FM_ENOMEM. */
int fm_fingerprint_from_string(FmFingerprint **fp, const char *s, FmError *err);

typedef enum FmFpVerdict {
    FM_FP_NO_MATCH = 0,
    FM_FP_MATCH = 1,
    FM_FP_TOO_SHORT = 2,  /* clip or master has < FM_FP_MIN_SECONDS of content */
} FmFpVerdict;

typedef struct FmFpMatch {
    FmFpVerdict verdict;
    int match;                  /* verdict == FM_FP_MATCH */
    double log10_p;             /* false-match probability: log10_p_best + log10_hypotheses,
                                   at most 0; 0 when too short */
    double log10_p_best;        /* binomial tail of the reported hypothesis alone */
    double score;               /* fraction of compared bits that agree: 1 same, ~0.5 unrelated */
    /* the reported hypothesis (meaningful when windows > 0): the one of
     * smallest p; when several are significant, preferably one comparing at
     * least 3/4 of the clip (a still shot fits many partial overlaps) */
    double offset, speed;       /* master time = offset + speed * clip time */
    int hflip, vflip;           /* the clip is mirrored left-right / upside down */
    double zoom_x, zoom_y;      /* clip's active width/height fraction matching the master's
                                   central 0.60: 0.60 same framing, 0.75 a 10 % crop per side */
    double clip_from, clip_to;       /* clip time span compared, seconds */
    double master_from, master_to;   /* the master's seconds it matched */
    int windows;                /* one-second clip windows compared */
    long bits, bit_errors;      /* raw bit comparisons and disagreements */
    long trials, agreements;    /* runs (see above) and those that agree */
    double log10_hypotheses;    /* log10 of the hypotheses tried */
} FmFpMatch;

/*
 * Compares a clip with a master (the clip may be any excerpt of the master,
 * at an unknown offset, retimed, cropped, flipped, re-encoded, spliced).
 * Either may come from fm_fingerprint_from_string(); a clip with the
 * FM_FP_CLIP role is searched over crops and quarter-second phases too (an
 * FM_FP_PLACED one over the phases alone).
 * res->verdict says whether it matched. Returns 0 (also for no match and too
 * short) or FM_EINVAL (NULL argument, empty span) or FM_ENOMEM. Does not
 * change either fingerprint: one master may be compared with many clips.
 *
 *     FmFpMatch m;
 *     if (fm_fingerprint_compare_span(master, clip, span_from, span_to, &m, &err) < 0)
 *         fail(err.msg);
 *     else if (m.verdict == FM_FP_MATCH)
 *         printf("content matches at %.1f s of the title (p = 10^%.1f)\n",
 *                m.master_from, m.log10_p);
 */
int fm_fingerprint_compare(const FmFingerprint *master, const FmFingerprint *clip,
                           FmFpMatch *res, FmError *err);
/* The same, using only the clip's frames with clip_from <= t < clip_to (to
 * the quarter second), for the span in which the mark was read;
 * -INFINITY, INFINITY for all. */
int fm_fingerprint_compare_span(const FmFingerprint *master, const FmFingerprint *clip,
                                double clip_from, double clip_to, FmFpMatch *res,
                                FmError *err);
/* The same with only the alignments whose offset (master time = offset +
 * speed x clip time) lies in [offset_from, offset_to]: the one place another
 * source (the mark's position) says the clip comes from. Only those are
 * counted as hypotheses, so a still shot, whose best alignment over the
 * whole master is a tie anywhere along the shot, still matches there.
 * FM_EINVAL also for an empty offset range. */
int fm_fingerprint_compare_near(const FmFingerprint *master, const FmFingerprint *clip,
                                double clip_from, double clip_to, double offset_from,
                                double offset_to, FmFpMatch *res, FmError *err);

/* Counts 10^log10_n more hypotheses in a match (other pictures tried the
 * same way: fm_places_compare): log10_p and log10_hypotheses raised, the
 * verdict and match following. A too-short result is left as it is. */
void fm_fp_match_add_hypotheses(FmFpMatch *m, double log10_n);

#endif
