/*
 * cell_view.h - format 7's cells as a detector reads them.
 *
 * A detector holds a plane's evidence cell by cell (pattern.h: every cell
 * carries the epoch's tile with its own keyed signs). Before it knows the
 * epoch it cannot sum the cells, so it keeps each slot's cells side by side
 * ("lanes"): cell row y of the plane at lanes y * FM_CELLS_X .. + 7, each
 * cell at the column of its identity (0 where no cell). A flip word's row
 * byte then gives the signs of a whole row at once (one table lookup, eight
 * products the compiler vectorises), whatever the cell offset.
 */
#ifndef FM_CELL_VIEW_H
#define FM_CELL_VIEW_H

#include <stdint.h>

#include "pattern.h"
#include "pool.h"

typedef struct FmCellView {
    FmCells cells;     /* the plane's cells */
    int kx, ky;        /* the mark's cell at the plane's first one */
    int nc;            /* fm_cells_count(cells) */
    int lanes;         /* floats a slot: cells.ny * FM_CELLS_X */
    int lane[FM_CELLS];            /* of each stored cell (row-major over nx x ny) */
    int row_shift[FM_CELLS_Y];     /* bit of each row's first identity in a flip word */
    int plain;         /* formats 2-6: every cell the same tile (no signs) */
} FmCellView;

void fm_cell_view_init(FmCellView *cv, FmCells cells, int kx, int ky);
/* A view of marks written before format 7 (every cell carries the same
 * tile): the cells are summed as they are, which is folding the grid at
 * the tile period, and a slot's energy is that sum's square. */
void fm_cell_view_init_plain(FmCellView *cv, FmCells cells);

/*
 * A plane of mw x mh mark pixels whose sample (x, y) lies at the marked
 * picture's mark pixel (x + sx + FM_TILE kx, y + sy + FM_TILE ky) for some
 * whole kx, ky (the sync layer gives sx, sy: where the tiles fall, not which
 * cells they are): its cells (*c, from its tile offset on) and the kx, ky
 * that keep the plane's centre inside a marked picture FM_MARK_HEIGHT rows
 * high and at most FM_CELLS_X * FM_TILE mark pixels wide (a wider one
 * repeats its cells): a crop (k >= 0) or a picture boxed in a larger frame
 * (k < 0), nearest the plane's own corner first. Offsets that give the
 * same cells modulo the period are the same: at most FM_CELLS_X x
 * FM_CELLS_Y.
 */
void fm_cells_offsets(int mw, int mh, int sx, int sy, FmCells *c, int *kx_lo, int *kx_hi,
                      int *ky_lo, int *ky_hi);

/* Floats of a plane's slots in lanes: FM_SLOTS * cv->lanes. */
static inline int fm_cell_view_floats(const FmCellView *cv)
{
    return FM_SLOTS * cv->lanes;
}

/* Adds cell-major slot values (nc x FM_SLOTS, as fm_cells_read gives) to
 * lanes, times scale. */
void fm_cell_view_add(const FmCellView *cv, const float *cells, float scale, float *lanes);

/*
 * Scales lanes so that each band has unit variance over all the cells' slots
 * and the cells summed under any signs have unit variance too (1/sqrt(nc)
 * more), and writes each slot's energy over its cells (FM_SLOTS floats): the
 * variance of a pilot sum without a mark (each cell sign is an independent
 * coin).
 */
void fm_cell_view_normalise(const FmCellView *cv, float *lanes, float *energy);

/* Lanes from cell-major slot values alone (zeroed, fm_cell_view_add,
 * fm_cell_view_normalise). */
void fm_cell_view_load(const FmCellView *cv, const float *cells, float *lanes, float *energy);

/* A cell offset k of fm_cells_offsets (may be negative) as the mark's cell
 * column (n = FM_CELLS_X) or row (n = FM_CELLS_Y): k modulo n, 0 .. n-1. */
static inline int fm_cell_wrap(int k, int n)
{
    return (k % n + n) % n;
}

/* One slot's cells (x: cv->lanes floats) summed under a flip word. */
float fm_cell_view_signed(const FmCellView *cv, const float *x, uint32_t flip);

/* The pilot sum of an epoch (s: the cells under their signs, times the
 * pilot's) and its variance without a mark (q: the slots' energies). */
void fm_cell_view_pilot(const FmCellView *cv, const float *lanes, const float *energy,
                        const FmEpochPilot *p, double *s, double *q);

/*
 * The pilots of all FM_EPOCHS epochs by slot: the (epoch, sign, flip word)
 * of every pilot that falls on each slot, epochs ascending. A search over
 * every epoch then reads each slot's cells once, not once per epoch that
 * uses it (fm_cell_view_pilots). Derived from the key: wiped when freed.
 */
typedef struct FmPilotIndex {
    uint32_t start[FM_SLOTS + 1];  /* slot k's entries: start[k] .. start[k + 1] - 1 */
    uint32_t *flip;                /* each entry's flip word, */
    uint16_t *epoch;               /* epoch */
    int8_t *sign;                  /* and pilot sign: FM_EPOCHS * FM_PILOTS of each */
} FmPilotIndex;

/* 0, or -1 when out of memory. pilots: FM_EPOCHS of them. Built on pool's
 * threads (may be NULL): the same index whatever the threads. */
int fm_pilot_index_init(FmPilotIndex *ix, const FmEpochPilot *pilots, FmPool *pool);
void fm_pilot_index_free(FmPilotIndex *ix);

/* fm_cell_view_pilot of every epoch at once: s[n], q[n] for epoch n
 * (FM_EPOCHS each). Each pilot's term is the same; the terms of an epoch
 * are added in slot order. */
void fm_cell_view_pilots(const FmCellView *cv, const float *lanes, const float *energy,
                         const FmPilotIndex *ix, double *s, double *q);

/* The cell-id layer's sum under this view's offset (s, the cells under
 * their flip words times the sync signs) and its variance without a mark
 * (q): s / sqrt(q) is N(0, 1) at a wrong offset (pattern.h). */
void fm_cell_view_id(const FmCellView *cv, const float *lanes, const float *energy,
                     const FmPatternKeys *pk, double *s, double *q);

/* Every slot's cells summed under an epoch's signs (FmSlotMap.cell_flip):
 * FM_SLOTS values, bands at unit variance. */
void fm_cell_view_collapse(const FmCellView *cv, const float *lanes,
                           const uint32_t cell_flip[FM_SLOTS], float out[FM_SLOTS]);

/*
 * Each stored cell's evidence for a known signal (format 7; nothing for a
 * plain view): want[k] the value slot k carries in the mark (0: not used),
 * in the epoch's signs; the cell's own sign from cell_flip. For cell i
 * (FmCellView.lane order): s[i] += sum of want * sign * x, e[i] += sum of
 * x^2, w2[i] += sum of want^2, n[i] += the slots used.
 */
void fm_cell_view_cell_sums(const FmCellView *cv, const float *lanes,
                            const uint32_t cell_flip[FM_SLOTS], const float want[FM_SLOTS],
                            double *s, double *e, double *w2, double *n);

/* fm_cell_view_collapse with cell i's evidence times sign * weight[i];
 * scratch: fm_cell_view_floats(cv) floats. */
void fm_cell_view_collapse_weighted(const FmCellView *cv, const float *lanes,
                                    const uint32_t cell_flip[FM_SLOTS], const float *weight,
                                    float sign, float *scratch, float out[FM_SLOTS]);

/*
 * Maximum-ratio weights for nc cells from their sums for a known signal
 * (fm_cell_view_cell_sums: s, e, w2, n). Cell i's amplitude s / w2 is
 * measured with variance e / w2^2 (no mark: x^2 sums to e); the cells'
 * amplitudes are shrunk towards their precision-weighted mean as far as
 * their noise asks (empirical Bayes: the spread between cells beyond what
 * their noise explains is taken as real, the rest is not), and each cell
 * weighs its amplitude over its slots' variance (e / n), none when that is
 * not positive; the weights keep the energy (sum of weight^2 e equals the
 * sum of e). Returns 1 with weight[0 .. nc - 1] set, or 0 where the cells
 * should be summed alike: fewer than 2, a cell without evidence, no mark
 * (mean amplitude not positive), or no spread beyond the noise.
 */
int fm_cell_weights(int nc, const double *s, const double *e, const double *w2,
                    const double *n, float *weight);

#endif
