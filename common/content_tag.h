/*
 * content_tag.h - binds each epoch's mark to the picture it was embedded in.
 *
 * Mark format 6 (docs/DESIGN.md section 10.1; format 5 of filmmark 0.5.0
 * hashed the cells less their plane fit instead of their local high-pass,
 * format 4 of 0.4.0 used projections fixed for the whole clip; see below).
 * A keyless attacker can
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
 * after any crop, but not where the marked picture's centre was: it tries
 * the corners around the clip's centre, then every other corner whose
 * region is at least half in the clip, fm_tag_anchors); each cell mean loses the mean of its
 * neighbours (a local high-pass), the result is scaled to unit RMS and
 * projected on FM_TAG_BITS keyed +/-1 vectors: the signs are the bits. Cell means of
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
 *
 * Why the projections change with the epoch: a static shot has the same
 * cells in every epoch. With one set of projections (format 4) its tags
 * repeat the same 128 signs, and so do the hashes of another static shot:
 * the pairs of a clip then add the same 128 agreements over and over, z
 * grows with the square root of the number of epochs although the
 * pictures are unrelated (a street camera's mark bound to three other
 * real clips at z 5.3-7.3, bench/results/binding.md). Drawn afresh per
 * epoch, the agreements of different epochs are independent.
 *
 * And why z alone is not enough: two unrelated pictures' cells still
 * correlate a little (a horizon, a lit centre); that bias adds up over a
 * long clip into any z. Format 5 removed only the cells' plane fit, which
 * leaves that shared layout in (agreement up to 0.49 between real clips,
 * bench/results/binding.md); format 6's high-pass removes most of it. The bound copy shows the agreement the
 * tag's own strength predicts (fm_bind_agreement near 1, less the bits a
 * re-encode flips); a transplant shows only that small bias. A binding
 * needs both: z >= FM_BIND_Z and agreement >= FM_BIND_AGREEMENT.
 */
#ifndef FM_CONTENT_TAG_H
#define FM_CONTENT_TAG_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "msgcode.h"

/* The mark format that carries the tag (version.h: FM_MARK_FORMAT; format
 * 7 has format 6's tag and code, in cells); filmmark 0.5.0's, whose tag
 * (plane-fit features) is still checked; and filmmark 0.4.0's, whose tag
 * the detector reads but does not trust. */
#define FM_MARK_FORMAT_TAGGED 7
#define FM_MARK_FORMAT_TAG_V6 6   /* filmmark 0.6-0.8: format 7's code and tag, no cells */
#define FM_MARK_FORMAT_TAG_V5 5
#define FM_MARK_FORMAT_TAG_V4 4

#define FM_TAG_BITS 128
#define FM_TAG_CELL 16                              /* mark pixels */
#define FM_TAG_ROWS 10
#define FM_TAG_COLS 16
#define FM_TAG_FEATURES (FM_TAG_ROWS * FM_TAG_COLS)  /* 160 */
/* A region flatter than this (RMS of the high-passed cell means, 8-bit
 * levels; format 5: of the detrended ones) carries no usable hash: black
 * frames, fades, title cards. */
#define FM_TAG_FLAT_RMS 1.0
#define FM_TAG_FLAT_RMS_V5 2.0
/* The binding is confirmed at z >= FM_BIND_Z at one of the FM_BIND_CENTRAL
 * anchors around the clip's centre (where an uncropped or centred copy
 * has the region), or at z >= FM_BIND_Z_OUTER at one of the others tried
 * (fm_tag_anchors: up to FM_BIND_ANCHORS in all, for crops that moved the
 * centre). On pictures the mark was not made for, z at each anchor is a
 * weighted sum of >= FM_TAG_BITS independent fair signs: a transplant
 * passes with probability about FM_BIND_CENTRAL Q(FM_BIND_Z)
 * + (FM_BIND_ANCHORS - FM_BIND_CENTRAL) Q(FM_BIND_Z_OUTER)
 * = 1.15e-6 + 1.2e-7 (Gaussian tail; Hoeffding's bound, whatever the
 * weights: 1.5e-5 + 1.7e-6). */
#define FM_BIND_Z 5.0
#define FM_BIND_Z_OUTER 5.7
#define FM_BIND_CENTRAL 4
#define FM_BIND_ANCHORS 24
/* ... and at least this share of the agreement a bound copy would show
 * (fm_bind_agreement; bench/results/binding.md has the measured spread of
 * both on benign copies and on transplants). */
#define FM_BIND_AGREEMENT 0.6
/* The tags contradict the pictures when no anchor reaches FM_BIND_Z and
 * the z a bound copy would show is at least FM_BIND_EXPECTED_Z even where
 * the clip may show least of the marked region (fm_tag_worst_coverage,
 * fm_tag_coverage_agreement); weaker evidence is inconclusive. */
#define FM_BIND_EXPECTED_Z 10.0
/* The widest marked picture a blind verdict allows for, width / height
 * (2.39:1 scope): a clip could be a crop of one, and its region then lies
 * wherever the crop left the picture's centre. */
#define FM_TAG_MAX_ASPECT 2.39

/* The key of the projections (secret: they locate nothing, but wipe
 * anyway); the projections of each epoch are drawn from it on demand. */
typedef struct FmTagKey {
    uint8_t subkey[32];
} FmTagKey;

void fm_tag_key_init(FmTagKey *tk, const uint8_t wm_key[FM_WMKEY_BYTES]);
void fm_tag_key_wipe(FmTagKey *tk);

/* The region's anchor along one axis: the tile corner (multiple of FM_TILE
 * mark pixels, counted from the marked picture's first pixel) nearest to
 * `centre` (mark pixels). */
int fm_tag_anchor(double centre);

/* The anchors a detector tries on a gw x gh plane whose sample (x, y)
 * lies at the marked picture's mark pixel (x + sh_x, y + sh_y) modulo
 * FM_TILE, in plane samples: first the FM_BIND_CENTRAL tile corners
 * around the plane's centre (on either side of it along each axis, the
 * nearest first: where an uncropped or centred copy has the region), then
 * every other tile corner whose region has at least half its cells in the
 * plane, nearest the centre first (a crop to one side moved the marked
 * picture's centre away from the clip's). Returns how many, at most
 * FM_BIND_ANCHORS. */
int fm_tag_anchors(int gw, int gh, int sh_x, int sh_y, int ax[FM_BIND_ANCHORS],
                   int ay[FM_BIND_ANCHORS]);

/* The least share of the marked region's cells that a clip showing
 * mw x mh of the marked picture's mark pixels (the picture's full height
 * is FM_MARK_HEIGHT) can hold, over every marked picture from mw wide up to
 * FM_TAG_MAX_ASPECT (at least mw) and every position of the clip in it. */
double fm_tag_worst_coverage(double mw, double mh);
/* The share of a bound copy's agreement left when the hash is recomputed
 * from only `coverage` of the region's cells (the signs of projections on
 * the cells seen and on all cells, correlated sqrt(coverage)):
 * 1 - 2 acos(sqrt(coverage)) / pi. */
double fm_tag_coverage_agreement(double coverage);

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

/* The soft hash that the tag of `epoch` (0 <= epoch < FM_EPOCHS; the epoch
 * that carries it, not the one hashed) holds in mark format `format`
 * (FM_MARK_FORMAT_TAGGED, or FM_MARK_FORMAT_TAG_V5's features):
 * FM_TAG_BITS projections (sign = bit). Returns 1 when the region holds
 * enough picture (not flat, most cells seen), else 0 (then proj is all
 * zero). */
int fm_tag_hash(const FmTagKey *tk, int format, uint32_t epoch, const FmTagCells *c,
                float proj[FM_TAG_BITS]);

/* The binding statistic over (tag evidence read, hash recomputed) pairs. */
typedef struct FmBind {
    double s, q;            /* sum of tag x hash sign, of its square */
    double s_exp, q_exp;    /* the same expected on a bound copy */
    int pairs;
    double z_bar;           /* the z that confirms (0: FM_BIND_Z) */
} FmBind;

/* tag: the evidence of each tag bit (positive = bit 1) read from one epoch
 * group; mu, var: the mean magnitude and the noise variance that evidence
 * has where the mark is (from the pilots; NULL: unknown); proj: the soft
 * hash of the group's predecessor in the clip. */
void fm_bind_add(FmBind *b, const float tag[FM_TAG_BITS], const float *mu, const float *var,
                 const float proj[FM_TAG_BITS]);
double fm_bind_z(const FmBind *b);
/* s / s_exp: the share of a bound copy's agreement that was seen (about
 * 1 on the pictures the mark was made for, less what a re-encode flips;
 * near 0 on others); 0 when nothing is expected. */
double fm_bind_agreement(const FmBind *b);
/* The z that confirms a binding at anchor a of fm_tag_anchors' list
 * (FM_BIND_Z at the central ones, FM_BIND_Z_OUTER at the others): the
 * FmBind.z_bar of that anchor's pairs. */
double fm_bind_anchor_bar(int a);
/* The verdict on one set of pairs: z past its bar (b->z_bar, or
 * FM_BIND_Z) and agreement past FM_BIND_AGREEMENT. */
int fm_bind_confirmed(const FmBind *b);
/* The z a copy of the pictures the mark was made for would show, with a
 * hash that agrees on every bit. */
double fm_bind_expected_z(const FmBind *b);

/* 1 for the mark formats whose tag the detector checks (7, 6 and 5). */
int fm_format_binds(int format);
/* Those formats' tags, newest first: fm_tag_format(i) for 0 <= i <
 * FM_TAG_FORMATS; fm_tag_format_index(format) is i (format 6: format 7's
 * index, the same tag), or -1 for another format. */
#define FM_TAG_FORMATS 2
int fm_tag_format(int i);
int fm_tag_format_index(int format);

/* The public whitening of the coded bits of format 4, 5 or 6 (it tells the
 * formats apart, and from format 3, which is not whitened): bit i of the
 * codeword is flipped where mask bit i is set. */
void fm_format_mask(int format, uint8_t mask[FM_CODED_BITS]);
/* The same as signs: -1 where the bit is flipped, +1 elsewhere. */
void fm_format_mask_signs(int format, int8_t sign[FM_CODED_BITS]);
/* Soft bits read under format `from`'s mask, re-read under format `to`'s. */
void fm_format_remask(float soft[FM_CODED_BITS], int from, int to);

#endif
