/*
 * place.h - where the issued picture lies in a clip, from the mark's
 * geometry, and its content fingerprint taken there: a picture shrunk
 * inside other pictures (picture in picture, a boxed or vertical re-post)
 * or a crop of it off the centre.
 *
 * The content fingerprint (fingerprint.h) is taken of whole frames, and of
 * crops only about their centre: a clip that shows the issued picture
 * shrunk inside other pictures (a reaction video, a 9:16 re-post over a
 * blurred copy) agrees with the issued title's fingerprint only by chance,
 * and so does an off-centre crop, though the mark is read from both. The
 * mark's geometry (FmGeometry) says how large the issued picture is in the
 * clip (the scale found times its aspect ratio, which the receipt or the
 * registry records) and where its top-left corner lies modulo the tile
 * period (in a mirrored clip, the mirrored frame's): the picture can only
 * be at one of a few places, spaced one period apart. The picture is
 * fingerprinted at each of them (the frames shrunk first so that it keeps
 * about 2 samples per cell of the fingerprint's fine grid): an inset as a
 * picture of its own (its own bars found), a crop as the issued frame's
 * area reaching beyond the clip, its edge samples repeated there (only
 * places whose hashed centre, the middle 60 % of each axis, the clip
 * holds). Each place's fingerprint is compared with the issued title's and
 * the best one's false-match probability multiplied by the number of
 * places (every place is a hypothesis). A match vouches for the pictures
 * exactly as a whole-frame match does.
 *
 *     FmPlaces *pl;
 *     int n = fm_places_new(&pl, &geometry, clip_w, clip_h, issued_aspect, &err);
 *     if (n > 0) {
 *         fm_places_read(pl, path, start, duration, from, to, &err);  (or fm_places_add)
 *         fm_places_compare(pl, issued_fp, from, to, &match, &i, &err);
 *     }
 *     fm_places_free(&pl);
 */
#ifndef FM_PLACE_H
#define FM_PLACE_H

#include <stddef.h>
#include <stdint.h>

#include "detector.h"
#include "fingerprint.h"
#include "fm_error.h"

/* Most places tried: a picture so small that it could lie at more places
 * than this is not looked for (its mark would hardly be read either). */
#define FM_PLACES_MAX 96

/* A picture within this fraction of the clip's size on both axes fills the
 * frame: the whole-frame fingerprint's own crops are the ones to try. */
#define FM_PLACE_SAME_SIZE 0.05

/* A place of the issued picture's whole frame in the clip, clip pixels. */
typedef struct FmPicturePlace {
    double x, y, w, h;  /* may reach beyond the clip (a crop) */
    int inside;         /* within the clip (an inset); else the clip shows a crop of it */
} FmPicturePlace;

typedef struct FmPlaces FmPlaces;

/*
 * The places where the issued picture (width / height = issued_aspect) can
 * lie in a clip_w x clip_h clip read with geometry g, at most max of them
 * into out. Returns how many (0: the geometry does not place a picture
 * that the whole-frame fingerprint cannot align: about the clip's size,
 * turned or seen in perspective, no aspect known, a crop that cuts the
 * hashed centre, or more than max places).
 */
int fm_places_find(const FmGeometry *g, int clip_w, int clip_h, double issued_aspect,
                   FmPicturePlace *out, int max);

/*
 * Prepares one clip fingerprint per place (FM_FP_CLIP for a picture inside
 * the frame, FM_FP_PLACED for a crop). Returns the number
 * of places (> 0, *out set), 0 (none: *out NULL) or FM_ENOMEM / FM_EINVAL.
 */
int fm_places_new(FmPlaces **out, const FmGeometry *g, int clip_w, int clip_h,
                  double issued_aspect, FmError *err);
void fm_places_free(FmPlaces **pl);

/* Adds a clip frame (the whole frame, clip_w x clip_h; 8-bit bytes or
 * uint16 as fm_fingerprint_add) shown at t seconds to every place's
 * fingerprint. Returns 0 or FM_E*. */
int fm_places_add(FmPlaces *pl, const uint8_t *luma, ptrdiff_t stride, int bit_depth, double t,
                  FmError *err);

/*
 * Reads the clip at path again as the detector read it (clip_frames.h:
 * seeked to start, duration seconds from there, <= 0 to the end) and adds
 * its frames of times clip_from <= t < clip_to. The clip must have the size
 * fm_places_new() was given. Returns 0 or FM_E*.
 */
int fm_places_read(FmPlaces *pl, const char *path, double start, double duration,
                   double clip_from, double clip_to, FmError *err);

/*
 * Compares every place's fingerprint, over clip times [clip_from, clip_to),
 * with the issued title's. *res gets the place of smallest false-match
 * probability, corrected for the places tried (log10_p and
 * log10_hypotheses raised by fm_places_log10_count(); the verdict
 * follows), *index that place (fm_places_place, fm_places_fingerprint).
 * Returns 0 or FM_E*.
 */
int fm_places_compare(const FmPlaces *pl, const FmFingerprint *issued, double clip_from,
                      double clip_to, FmFpMatch *res, int *index, FmError *err);

/* Place i (0 .. the number fm_places_new() returned - 1) and its clip
 * fingerprint. */
FmPicturePlace fm_places_place(const FmPlaces *pl, int i);
const FmFingerprint *fm_places_fingerprint(const FmPlaces *pl, int i);
/* log10 of the number of places: what a comparison with one of them adds
 * to its hypotheses. */
double fm_places_log10_count(const FmPlaces *pl);

#endif
