/*
 * geometry.h - finding the mark in a clip that was cropped, boxed, scaled
 * unevenly or flipped, without being told what was done.
 *
 * The mark is a tile repeated over the picture, so whatever part of the
 * picture the clip shows, the evidence is periodic with the tile's period in
 * clip pixels. The search (docs/DESIGN.md section 8):
 *   1. the autocorrelation of the accumulated fine-grid evidence (one FFT)
 *      gives candidate periods along x and y: the grid step of the mark;
 *   2. for each candidate step pair and the four flips, the evidence is
 *      resampled onto that mark grid and folded into one tile, and an FFT
 *      cross-correlation with the keyed pilot finds the cyclic shift;
 *   3. the best candidate's steps are refined by small local changes;
 *   4. (fm_geometry_search_warp) a copy seen in perspective or turned:
 *      steps 2-3 on the centre of the clip alone, then the tile's local
 *      offset in patches across the frame, and a projective map fitted to
 *      them (homography.h). Until format 6 a turn was also read from the
 *      angle of the epoch layers' period lattice; format 7's cell signs
 *      take that lattice away, and turns are read through this map.
 */
#ifndef FM_GEOMETRY_H
#define FM_GEOMETRY_H

#include "accumulator.h"
#include "fm_error.h"
#include "pattern.h"

typedef struct FmAlignment {
    double step_x, step_y;  /* fine-grid samples per mark pixel */
    int flip_h, flip_v;
    double rotation_deg;    /* the evidence is rotated by this before resampling */
    int shift_x, shift_y;   /* mark-grid sample x lands on tile (x + shift_x) mod FM_TILE */
    double hypotheses;      /* candidates x flips x shifts compared: the search's size */
    double score;           /* normalised cross-correlation peak of the best candidate */
    /* Perspective (warp set): the marked picture's mark pixel (u, v) lies at
     * fine-grid position h(u, v) (homography.h), flips and turn included;
     * the plane read is u0 .. u0 + mw - 1 by v0 .. v0 + mh - 1, and its
     * sample (x, y) lands on tile (x + shift_x, y + shift_y) mod FM_TILE.
     * step_x, step_y, rotation_deg and the flips then describe h at the
     * clip's centre, for reporting only. */
    int warp;
    double h[9];
    int u0, v0, mw, mh;
} FmAlignment;

/* Searches the fine evidence of acc (the sum of all frames) for the sync
 * tile (FM_TILE^2 floats: the constant layer of the pattern).
 * Returns 0, FM_ENOTFOUND when the clip is too small to search, or FM_ENOMEM. */
int fm_geometry_search(const FmAccumulator *acc, const float *sync_tile, FmAlignment *best,
                       FmError *err);

/*
 * The uniform search again over square steps only, 1.2 % apart from the
 * nominal grid's to twice it, whatever the autocorrelation shows: a crop
 * scaled back up to a frame. Format 7's autocorrelation has only the sync
 * layer's period, and after a codec it can keep no candidate near the
 * copy's (4K elephants, 3 s, cropped 10 % a side, scaled to 1440p, x264
 * CRF 28: the four best lags per axis all tens of per cent off). Meant
 * for when the fm_geometry_search alignment's reading does not verify:
 * tried beside it, its many candidates let a noise peak outrank a weak
 * true alignment (storm VP9 CRF 40). hypotheses = uniform_hypotheses +
 * its own candidates x shifts. FM_ENOTFOUND when nothing scored.
 */
int fm_geometry_search_zoom(const FmAccumulator *acc, const float *sync_tile,
                            double uniform_hypotheses, FmAlignment *best, FmError *err);

/*
 * The zoom again with uneven pixels: steps (r x step, step) for the common
 * conversions' ratios r (3/4, 4/3, 0.744, 1/0.744) over zooms up to 1.5,
 * unflipped: a crop then squeezed or stretched to another shape (4:3
 * cropped 5 % a side and squeezed to 1280x720), whose x period neither the
 * autocorrelation nor the square steps hold. Meant for when the square
 * zoom's reading does not verify either, or only weakly (the detector
 * runs it before the perspective search). hypotheses = uniform_hypotheses +
 * its own candidates x shifts. FM_ENOTFOUND when nothing scored.
 */
int fm_geometry_search_zoom_anamorphic(const FmAccumulator *acc, const float *sync_tile,
                                       double uniform_hypotheses, FmAlignment *best,
                                       FmError *err);

/* A perspective alignment (warped->warp set): the clip's centre searched
 * alone over square steps 0.7-1.5 x the nominal grid's, then a projective
 * map fitted to the sync tile's offsets in tile-sized patches across the
 * frame. Its hypotheses add the fit's (every map it could land on) to
 * uniform_hypotheses, those of the uniform search tried before it. Returns
 * 0, FM_ENOTFOUND (nothing fitted) or FM_ENOMEM. */
int fm_geometry_search_warp(const FmAccumulator *acc, const float *sync_tile,
                            double uniform_hypotheses, FmAlignment *warped, FmError *err);

/* Folds fine evidence (an fw x fh plane of acc: the sum of all frames, or of
 * one window) under an alignment into a pw x ph plane (FM_TILE square: the
 * tile; format 7: the cells' plane, pattern.h), the plane's sample (x, y)
 * landing on ((x + shift_x) mod pw, (y + shift_y) mod ph). Returns 0,
 * FM_EINVAL or FM_ENOMEM. */
int fm_geometry_fold(const FmAccumulator *acc, const float *fine, const FmAlignment *al, int pw,
                     int ph, float *tile);
/* The size on the mark grid of the plane fm_geometry_fold reads (mark
 * pixels; 0 x 0 for an alignment with no steps). */
void fm_geometry_plane_size(const FmAccumulator *acc, const FmAlignment *al, int *mw, int *mh);

/* A fine plane of acc (e.g. a window's picture) on the mark grid under an
 * alignment, turned and flipped back as marked: *out (*mw x *mh, malloc'ed)
 * has its sample (x, y) at the marked picture's mark pixel
 * (x + shift_x, y + shift_y) modulo FM_TILE. Returns 0, FM_EINVAL or
 * FM_ENOMEM. */
int fm_geometry_mark_plane(const FmAccumulator *acc, const float *fine, const FmAlignment *al,
                           float **out, int *mw, int *mh);

#endif
