/*
 * inset.h - the issued picture inside a larger frame (picture in picture, a
 * boxed or shrunk copy), found by its mark, fingerprinted where it lies.
 *
 * The content fingerprint (fingerprint.h) is taken of whole frames: a clip
 * that shows the issued picture shrunk inside other pictures (a reaction
 * video, a screen recording, a grey pad) agrees with the issued title's
 * fingerprint only by chance, though the mark is read from it. The mark's
 * geometry (FmGeometry) says how large the picture is in the clip, and
 * where its top-left lies modulo the tile period (in a mirrored clip, the
 * mirrored frame's): the picture can only be at one of a few places in the
 * clip, spaced one period apart. Each of
 * those places is fingerprinted on its own (the frames shrunk first, so
 * that the picture keeps about 192 rows), and the best of them is compared
 * with the issued title's fingerprint, its false-match probability
 * multiplied by the number of places tried (each is a hypothesis). A match
 * vouches for the inset picture exactly as a whole-frame match vouches for
 * a whole frame: the pictures shown are the issued title's.
 *
 *     FmInset *in;
 *     int n = fm_inset_new(&in, &geometry, clip_w, clip_h, issued_aspect, &err);
 *     if (n > 0) {
 *         for each clip frame in the span: fm_inset_add(in, luma, stride, bd, t, &err);
 *         fm_inset_compare(in, issued_fp, from, to, &match, &place, &err);
 *     }
 *     fm_inset_free(&in);
 */
#ifndef FM_INSET_H
#define FM_INSET_H

#include <stddef.h>
#include <stdint.h>

#include "detector.h"
#include "fingerprint.h"
#include "fm_error.h"

/* Most places tried: a picture so small that it could lie at more places
 * than this is not looked for (its mark would hardly be read either). */
#define FM_INSET_MAX_PLACES 96

/* The picture's own size at least this much smaller than the clip on one
 * axis (and not larger on the other): else it fills the frame, and the
 * whole-frame fingerprint's crops are the ones to try. */
#define FM_INSET_MIN_SHRINK 0.95

/* A place of the picture in the clip, clip pixels (within the frame). */
typedef struct FmInsetPlace {
    int x, y, w, h;
} FmInsetPlace;

typedef struct FmInset FmInset;

/*
 * The places where the issued picture (width / height = issued_aspect) can
 * lie in a clip_w x clip_h clip read with geometry g, at most max of them
 * into out. Returns how many (0: the geometry does not show a picture inside
 * the frame: untouched, enlarged, turned or seen in perspective, no aspect
 * known, or more than max places).
 */
int fm_inset_places(const FmGeometry *g, int clip_w, int clip_h, double issued_aspect,
                    FmInsetPlace *out, int max);

/*
 * Prepares one clip fingerprint (FM_FP_CLIP) per place. Returns the number
 * of places (> 0, *out set), 0 (none: *out NULL) or FM_ENOMEM / FM_EINVAL.
 */
int fm_inset_new(FmInset **out, const FmGeometry *g, int clip_w, int clip_h,
                 double issued_aspect, FmError *err);
void fm_inset_free(FmInset **in);

/* Adds a clip frame (the whole frame, clip_w x clip_h; 8-bit bytes or
 * uint16 as fm_fingerprint_add) shown at t seconds to every place's
 * fingerprint. Returns 0 or FM_E*. */
int fm_inset_add(FmInset *in, const uint8_t *luma, ptrdiff_t stride, int bit_depth, double t,
                 FmError *err);

/*
 * Reads the clip at path again as the detector read it (clip_frames.h:
 * seeked to start, duration seconds from there, <= 0 to the end) and adds
 * its frames of times clip_from <= t < clip_to. The clip must have the size
 * fm_inset_new() was given. Returns 0 or FM_E*.
 */
int fm_inset_read(FmInset *in, const char *path, double start, double duration,
                  double clip_from, double clip_to, FmError *err);

/*
 * Compares every place's fingerprint, over clip times [clip_from, clip_to),
 * with the issued title's. *res gets the place of smallest false-match
 * probability, corrected for the places tried (log10_p and
 * log10_hypotheses raised by fm_inset_log10_places(); the verdict
 * follows), *index that place (fm_inset_place, fm_inset_fingerprint).
 * Returns 0 or FM_E*.
 */
int fm_inset_compare(const FmInset *in, const FmFingerprint *issued, double clip_from,
                     double clip_to, FmFpMatch *res, int *index, FmError *err);

/* The number of places prepared, place i, and its clip fingerprint. */
int fm_inset_count(const FmInset *in);
FmInsetPlace fm_inset_place(const FmInset *in, int i);
const FmFingerprint *fm_inset_fingerprint(const FmInset *in, int i);
/* log10 of the number of places: what a comparison with one of them adds
 * to its hypotheses. */
double fm_inset_log10_places(const FmInset *in);

#endif
