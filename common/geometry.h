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
 *   4. a rotated copy has its period peaks off the axes: their angle gives
 *      the rotation, and steps 2-3 run again on the evidence turned back.
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
    long hypotheses;        /* candidates x flips x shifts compared: the search's size */
    double score;           /* normalised cross-correlation peak of the best candidate */
} FmAlignment;

/* Searches the fine evidence of acc (the sum of all frames) for the sync
 * tile (FM_TILE^2 floats: the constant layer of the pattern).
 * Returns 0, FM_ENOTFOUND when the clip is too small to search, or FM_ENOMEM. */
int fm_geometry_search(const FmAccumulator *acc, const float *sync_tile, FmAlignment *best,
                       FmError *err);

/* Folds fine evidence (an fw x fh plane of acc: the sum of all frames, or of
 * one window) into tile under an alignment. Returns 0, FM_EINVAL or FM_ENOMEM. */
int fm_geometry_fold(const FmAccumulator *acc, const float *fine, const FmAlignment *al,
                     float *tile);

/* A fine plane of acc (e.g. a window's picture) on the mark grid under an
 * alignment, turned and flipped back as marked: *out (*mw x *mh, malloc'ed)
 * has its sample (x, y) at the marked picture's mark pixel
 * (x + shift_x, y + shift_y) modulo FM_TILE. Returns 0, FM_EINVAL or
 * FM_ENOMEM. */
int fm_geometry_mark_plane(const FmAccumulator *acc, const float *fine, const FmAlignment *al,
                           float **out, int *mw, int *mh);

#endif
