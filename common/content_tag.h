/*
 * content_tag.h - binds each epoch's mark to the picture it was embedded in.
 *
 * Mark format 4 (docs/DESIGN.md section 10.1). A keyless attacker can
 * estimate an epoch's pattern from a marked copy and add it to other video
 * (the copy attack); the signed message then verifies on pictures the
 * studio never issued. Format 4 makes the mark carry something of its own
 * picture: the FM_TAG_SLOTS slots of every epoch beyond the coded bits
 * carry FM_TAG_BITS keyed, robust hash bits of the *previous* epoch's
 * content (the embedder sees frames one at a time and cannot look ahead).
 *
 * The hash: the mean luma of the epoch's frames in FM_TAG_ROWS x FM_TAG_COLS
 * cells of FM_TAG_CELL mark pixels, in a region around the tile corner
 * nearest the picture's centre (the detector knows where tile corners are
 * after any crop, and a crop keeps the centre, so the region is found
 * exactly in cropped copies too); the cell means lose their mean and their
 * linear trends across the region, are scaled to unit RMS and projected on
 * FM_TAG_BITS keyed +/-1 vectors: the signs are the bits. Cell means of
 * 16 x 16 mark pixels do not see the mark (its DCT basis functions average
 * to zero over each 8 x 8 block), nor re-encoding, scaling, blur or a
 * colour grade, to within the smallest projections.
 *
 * The detector recomputes the hash of each epoch group's predecessor in the
 * clip and correlates it with the tag slots it reads (fm_bind_add): on the
 * picture the mark was made for the two agree; on other pictures the keyed
 * projections of unrelated content are independent fair signs, so the
 * statistic is a weighted Rademacher sum, P(z >= t) <= exp(-t^2 / 2)
 * (Hoeffding) whatever the attacker pasted.
 */
#ifndef FM_CONTENT_TAG_H
#define FM_CONTENT_TAG_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "msgcode.h"

/* The mark format that carries the tag (version.h: FM_MARK_FORMAT). */
#define FM_MARK_FORMAT_TAGGED 4

#define FM_TAG_BITS 128
#define FM_TAG_CELL 16                              /* mark pixels */
#define FM_TAG_ROWS 10
#define FM_TAG_COLS 16
#define FM_TAG_FEATURES (FM_TAG_ROWS * FM_TAG_COLS)  /* 160 */
/* A region flatter than this (RMS of the detrended cell means, 8-bit
 * levels) carries no usable hash: black frames, fades, title cards. */
#define FM_TAG_FLAT_RMS 2.0
/* The binding is confirmed at z >= FM_BIND_Z. FM_BIND_ANCHORS anchors are
 * tried; on pictures the mark was not made for, z of each is a weighted sum
 * of >= FM_TAG_BITS independent fair signs: a transplant passes with
 * probability about FM_BIND_ANCHORS Q(FM_BIND_Z) = 1.1e-6 (Gaussian tail;
 * Hoeffding's bound, whatever the weights: FM_BIND_ANCHORS
 * exp(-FM_BIND_Z^2 / 2) = 1.5e-5). */
#define FM_BIND_Z 5.0
#define FM_BIND_ANCHORS 4
/* The tags contradict the pictures when the z a bound copy would show
 * (from the tag's own signal strength, fm_bind_expected_z) is at least this
 * and z stays below FM_BIND_Z; weaker evidence is inconclusive. */
#define FM_BIND_EXPECTED_Z 10.0

/* The keyed projections (secret: they locate nothing, but wipe anyway). */
typedef struct FmTagKey {
    int8_t proj[FM_TAG_BITS][FM_TAG_FEATURES];
} FmTagKey;

void fm_tag_key_init(FmTagKey *tk, const uint8_t wm_key[FM_WMKEY_BYTES]);
void fm_tag_key_wipe(FmTagKey *tk);

/* The region's anchor along one axis: the tile corner (multiple of FM_TILE
 * mark pixels, counted from the marked picture's first pixel) nearest to
 * `centre` (mark pixels). */
int fm_tag_anchor(double centre);

/* The FM_BIND_ANCHORS anchors a detector tries on a gw x gh plane whose
 * sample (x, y) lies at the marked picture's mark pixel (x + sh_x,
 * y + sh_y) modulo FM_TILE: the tile corners nearest the plane's centre
 * along each axis, on either side of it (a crop keeps the centre but the
 * marked picture's own centre is not known). ax[i], ay[i] in plane samples. */
void fm_tag_anchors(int gw, int gh, int sh_x, int sh_y, int ax[FM_BIND_ANCHORS],
                    int ay[FM_BIND_ANCHORS]);

/* Cell sums of one or more pictures over the region. */
typedef struct FmTagCells {
    double sum[FM_TAG_FEATURES];
    double n[FM_TAG_FEATURES];
} FmTagCells;

void fm_tag_cells_clear(FmTagCells *c);
/* Adds a plane of mark pixels (8-bit scale). The region's anchor is at
 * plane sample (ax, ay); samples outside the plane are missing. */
void fm_tag_cells_add_plane(FmTagCells *c, const float *plane, int pw, int ph, int ax, int ay);
/* Adds a picture's luma (8-bit bytes or uint16 samples of bit_depth), with
 * width x height pixels shown on the FM_MARK_HEIGHT-row mark grid; the
 * anchor in mark pixels of that grid. */
void fm_tag_cells_add_luma(FmTagCells *c, const uint8_t *luma, ptrdiff_t stride, int bit_depth,
                           int width, int height, int ax, int ay);
/* Adds b's sums to a. */
void fm_tag_cells_merge(FmTagCells *a, const FmTagCells *b);

/* The soft hash: FM_TAG_BITS projections (sign = bit). Returns 1 when the
 * region holds enough picture (not flat, most cells seen), else 0 (then
 * proj is all zero). */
int fm_tag_hash(const FmTagKey *tk, const FmTagCells *c, float proj[FM_TAG_BITS]);

/* The binding statistic over (tag evidence read, hash recomputed) pairs. */
typedef struct FmBind {
    double s, q;            /* sum of tag x hash sign, of its square */
    double s_exp, q_exp;    /* the same expected on a bound copy */
    int pairs;
} FmBind;

/* tag: the evidence of each tag bit (positive = bit 1) read from one epoch
 * group; mu, var: the mean magnitude and the noise variance that evidence
 * has where the mark is (from the pilots; NULL: unknown); proj: the soft
 * hash of the group's predecessor in the clip. */
void fm_bind_add(FmBind *b, const float tag[FM_TAG_BITS], const float *mu, const float *var,
                 const float proj[FM_TAG_BITS]);
double fm_bind_z(const FmBind *b);
/* The z a copy of the pictures the mark was made for would show, with a
 * hash that agrees on every bit. */
double fm_bind_expected_z(const FmBind *b);

/* Format 4's public whitening of the coded bits (it tells format 4 marks
 * from format 3 ones, which carry no tag): bit i of the codeword is
 * flipped where mask bit i is set. */
void fm_format4_mask(uint8_t mask[FM_CODED_BITS]);

#endif
