/*
 * accumulator.h - collects the watermark evidence of a clip, frame by frame.
 *
 * Key-independent: every frame's luma is taken to the mark grid, whitened
 * (local mean removed, divided by local contrast, clipped) and collected.
 * The pattern changes every epoch (pattern.h), so the evidence is kept per
 * short window of clip time: the detector later groups the windows into
 * epochs under each hypothesis of where the epoch boundaries fall, and sums
 * within a group (the same variant adds up there, while the picture content,
 * noise and coding errors average out).
 *
 * Two grids are kept. The nominal grid has FM_MARK_HEIGHT rows over the
 * clip's height: it is the mark grid itself when the clip shows the whole
 * marked picture at any uniform scale, the common case, read with no search.
 * Each window keeps its nominal evidence folded into one tile and read as
 * slot values (20 KB a window). The fine grid has twice as many rows (at
 * most the clip's own): the geometry search (geometry.h) aligns the sum of
 * all frames on the constant sync layer, and the first FM_FINE_WINDOWS
 * windows keep their own fine evidence so that the epochs can be read under
 * the geometry found. A clip under 720 rows may also keep a twin whose fine
 * grid is finer than its pixels (fm_accumulator_search_insets).
 */
#ifndef FM_ACCUMULATOR_H
#define FM_ACCUMULATOR_H

#include <stddef.h>
#include <stdint.h>

#include "dsp.h"
#include "fm_error.h"
#include "pattern.h"
#include "pool.h"
#include "resample.h"
#include "whiten.h"

/* Seconds of clip time per window: a quarter of an epoch. */
#define FM_WINDOW_SECONDS 0.5
/* Windows that keep fine-grid evidence (the first 12 s of the clip). */
#define FM_FINE_WINDOWS 24
/* Clip time whose evidence an accumulator keeps unless told otherwise
 * (fm_accumulator_set_max_seconds): format 7 keeps every cell's slots a
 * window (300 KB at 16:9), so a whole feature would take gigabytes; five
 * minutes hold about 180 MB at 16:9 and verify a copy many times over. */
#define FM_DEFAULT_READ_SECONDS 300.0

typedef struct FmWindow {
    double t_first, t_last;  /* seconds, of the first and last frame in it */
    long frames;             /* 0: no frame fell in this window */
    double weight;           /* its frames' evidence weights, summed (1 a frame
                                unless added with another: fm_frame_evidence_weight) */
    float *slots;            /* acc->nslots raw slot values of its nominal evidence
                                (format 7: FM_SLOTS for each cell of the grid) */
    float *fine;             /* fw*fh fine-grid evidence, or NULL */
    /* the picture itself (not whitened), for format 4's content tag: sums of
     * the nominal grid over FM_TAG_CELL-square cells (cw*ch), and, where
     * fine evidence is kept, the fine grid (fw*fh) */
    float *cells;
    float *fine_raw;
} FmWindow;

typedef struct FmAccumulator {
    int width, height;       /* clip picture size */
    int gw, gh;              /* nominal grid size */
    double step;             /* clip pixels per nominal grid sample */
    int fw, fh;              /* fine grid size */
    double fine_step;        /* clip pixels per fine grid sample */
    FmAxisMap mx, my;        /* clip -> fine */
    FmAxisMap nx, ny;        /* fine -> nominal */
    FmCells cells;           /* the nominal grid's cells (pattern.h) */
    int nslots;              /* slot values a window keeps: FM_SLOTS a cell */
    float *fine, *grid, *tile, *slots;  /* tile: the cells' plane of a frame */
    float *fine_rest;        /* fw*fh sum over the frames whose window keeps no fine
                                evidence (fm_accumulator_fine_total adds the others) */
    int cw, ch;              /* cells of the nominal grid (FmWindow.cells) */
    float *cell_area;        /* cw*ch: grid samples in each cell */
    float *grid_first;       /* gw*gh: the first frame's nominal grid, not whitened
                                (a one-frame clip's picture, for the still detector) */
    long frames;
    double t_first, t_last;
    double t_origin;         /* clip time of window 0's start */
    FmWindow *win;           /* windows 0 .. nwin-1 of clip time */
    int nwin, capwin;
    int max_windows;         /* windows of clip time that may keep evidence */
    long frames_left_out;    /* frames past them, not read */
    /* per-frame machinery: kernels, slice threads and their scratch */
    const FmDsp *dsp;
    FmPool *pool;
    int jobs;                /* row slices per pass */
    float *rowbuf;           /* jobs x job_floats: each job's row of the picture and
                                its two resampling chunks (fm_resample_rows) */
    size_t job_floats, chunk_fine;  /* floats of one job's scratch; of its first chunk */
    FmWhiten white_grid, white_fine;
    /* the same evidence with a fine grid of the mark's own resolution, on a
     * clip whose fine grid is coarser (fm_accumulator_search_insets), or
     * NULL; it works on this accumulator's threads */
    struct FmAccumulator *twin;
    /* a twin keeps only the fine evidence (the geometry search's and the
     * searched reads'): no nominal grid, no slot values, the windows past
     * FM_FINE_WINDOWS empty but for their frames and times */
    int fine_only;
} FmAccumulator;

/* Uses all online cores for the per-frame work (fm_accumulator_set_threads). */
int fm_accumulator_init(FmAccumulator *acc, int width, int height, FmError *err);
/* Threads for the per-frame work (<= 0: all online cores). The evidence is
 * the same bit for bit whatever the count. Returns 0 or FM_ENOMEM (then the
 * accumulator keeps working on one thread). */
int fm_accumulator_set_threads(FmAccumulator *acc, int threads);
/* Also keeps, on a clip under 2 FM_MARK_HEIGHT rows, whose fine grid is no
 * finer than its own pixels, a twin accumulator (acc->twin) whose fine grid
 * has twice the mark's resolution however small the clip (at most two
 * samples a clip pixel): a picture inset at half its height or less
 * (picture in picture) has under one clip pixel a mark pixel, and the
 * geometry search does not find it on a grid of clip pixels. The detector
 * reads the twin only when the clip's own reading does not verify
 * (detector.h). Costs about as much again per frame and the twin's fine
 * planes (a 1280x720 grid's at 16:9). Called before the first frame;
 * nothing to do on a clip of 720 rows or more. Returns 0, FM_EINVAL after a
 * frame, or FM_ENOMEM. */
int fm_accumulator_search_insets(FmAccumulator *acc, FmError *err);
/* Keeps the evidence of the first seconds of clip time (from the first
 * frame added; FM_DEFAULT_READ_SECONDS unless set): later frames are left
 * out (acc->frames_left_out counts them; fm_accumulator_add returns 0). */
void fm_accumulator_set_max_seconds(FmAccumulator *acc, double seconds);
void fm_accumulator_free(FmAccumulator *acc);
/* The fine-grid evidence summed over all frames (fw*fh floats to out): the
 * windows' own fine sums plus the rest. */
void fm_accumulator_fine_total(const FmAccumulator *acc, float *out);
/* Adds one luma plane (8-bit or uint16 samples) shown at t seconds; a
 * frame past the accumulator's clip time is left out (returns 0). */
int fm_accumulator_add(FmAccumulator *acc, const uint8_t *luma, ptrdiff_t stride,
                       int bit_depth, double t, FmError *err);
/* The largest weight a frame may be given: beyond it one frame's evidence
 * could overflow the window sums' floats (a weight of 3e38 did). */
#define FM_FRAME_WEIGHT_MAX 1000.0f
/* The same with the frame's mark evidence counted `weight` times (> 0 and
 * at most FM_FRAME_WEIGHT_MAX; 1 is fm_accumulator_add, bit for bit): what a decoded frame is
 * worth against the others of its window (frame.h's
 * fm_frame_evidence_weight). The picture's own content (the cells and the
 * fine plane the content tag is read from) is summed unweighted. Weights
 * that do not depend on the key keep the pilot statistic N(0, 1) without
 * a mark. */
int fm_accumulator_add_weighted(FmAccumulator *acc, const uint8_t *luma, ptrdiff_t stride,
                                int bit_depth, double t, float weight, FmError *err);

/* The whitening applied to each frame (exposed for tests; whiten.h is the
 * per-frame form). out may equal in. scratch is no longer used: the scratch
 * is allocated here (nothing is written if that fails). */
void fm_whiten(const float *in, int w, int h, float *out, float *scratch);
/*
 * Temporal host prediction (issue #8). A window's slot values are its
 * epoch's mark plus the picture's own content in the mark's bands. On a
 * still or slow shot that content is nearly the same in windows seconds
 * apart, while their marks are other epochs' (independent of this one). The
 * prediction of window w is the mean per frame of the windows FM_PREDICT_GAP
 * to FM_PREDICT_GAP + FM_PREDICT_SPAN - 1 away on either side that hold
 * frames, at w's own frame count (counted in evidence weights: FmWindow
 * weight): never w's epoch (an epoch spans 4 windows, 5 with a window that
 * straddles its start). The detector removes
 * beta[c] times it from every slot of band c, beta fitted by least squares
 * over the clip (near 1 on a still shot, near 0 when the picture moves).
 * Key-independent, so the pilot statistic stays N(0, 1) without a mark.
 */
#define FM_PREDICT_GAP 5
#define FM_PREDICT_SPAN 2
/* v[0 .. nwin-1]: the windows' slot values (NULL: empty; len of them, a
 * multiple of FM_SLOTS: the cells of a window), frame weights from acc->win.
 * Writes the len values of window w's prediction to out; returns 0 (out
 * zero) when no neighbour holds frames, else 1. */
int fm_window_predict(const FmAccumulator *acc, float *const *v, int nwin, int len, int w,
                      float *out);
/* beta[FM_NCOEF], each in [0, 1], fitted over all the windows; scratch holds
 * len floats. */
void fm_window_predict_fit(const FmAccumulator *acc, float *const *v, int nwin, int len,
                           float *scratch,
                           float *beta);

/* The nominal grid's whitening window radius (fm_whiten; whiten.h). */
#define FM_WHITEN_RADIUS 2

#endif
