/*
 * informed.h - informed embedding: spend the mark where the picture works
 * against it.
 *
 * A detector sums the whitened frames of a clip and folds them into one tile
 * (accumulator.h). Whatever the picture itself puts into a slot adds to the
 * mark there: in a moving shot that host term averages away over frames, in
 * a static shot it does not, and it can cancel a coded bit outright. The
 * embedder knows the picture, so it can look at each frame as the detector
 * will, keep a running (decaying) sum of the host's own contribution to
 * every coded bit and pilot slot, and give more amplitude to the units the
 * host opposes and less to those it already helps. The total energy of the
 * tile stays the same, so the picture cost does not change.
 *
 * In a moving shot the running host sum grows only like the square root of
 * the frames while the mark's grows like the frames, so the adjustment fades
 * to nothing by itself; in a static shot it converges to a fixed
 * redistribution that cancels most of the host interference.
 */
#ifndef FM_INFORMED_H
#define FM_INFORMED_H

#include <stddef.h>
#include <stdint.h>

#include "dsp.h"
#include "pattern.h"
#include "pool.h"

typedef struct FmInformed FmInformed;

/*
 * For width x height pictures marked with the given slot map and slot values
 * (fm_slot_values of the coded message). Both are copied. Returns 0 or
 * FM_ENOMEM.
 */
int fm_informed_new(FmInformed **inf, const FmSlotMap *map, const float values[FM_SLOTS],
                    int width, int height);

/*
 * A new epoch: the slot map and the message's slot values of the variant
 * now embedded (both copied). The running sums are per coded bit, which the
 * detector combines across epochs, so they carry over.
 */
void fm_informed_set_pattern(FmInformed *inf, const FmSlotMap *map, const float values[FM_SLOTS]);

/*
 * Looks at one frame as the detector will: luma (8-bit, or uint16 on a
 * bit_depth scale) before marking, and delta x delta_gain, the change the
 * plain tile would make (width x height floats on the 8-bit scale). Updates the running sums
 * and writes the slot values to render for this frame: the message's values
 * reweighted, with the same total energy.
 */
void fm_informed_update(FmInformed *inf, const uint8_t *luma, ptrdiff_t stride, int bit_depth,
                        const float *delta, float delta_gain, float values[FM_SLOTS]);

/*
 * fm_informed_update in parts, for slice threads. set_exec: the kernels and
 * the pool that finish() uses (pool may be NULL). rows: input rows
 * [y0, y1) of the luma and of the change (delta_rows: row y0 of width floats a
 * row, then the next ones), each taken across to the mark grid; rowbuf needs
 * width floats; calls on disjoint rows may run at once. finish: once every
 * row is in, the rest of fm_informed_update, the view standing for `frames`
 * frames (>= 1: those since the last view, when the embedder looks only at
 * every few frames; the values then serve until the next view).
 */
void fm_informed_set_exec(FmInformed *inf, const FmDsp *dsp, FmPool *pool);
void fm_informed_rows(FmInformed *inf, const uint8_t *luma, ptrdiff_t stride, int bit_depth,
                      const float *delta_rows, int y0, int y1, float *rowbuf);
void fm_informed_finish(FmInformed *inf, float delta_gain, int frames, float values[FM_SLOTS]);

/* Wipes (the state reveals the mark) and frees; sets *inf = NULL. */
void fm_informed_free(FmInformed **inf);

#endif
