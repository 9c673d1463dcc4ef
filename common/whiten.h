/*
 * whiten.h - the detector's whitening of a mark-grid plane (accumulator.h):
 * local mean removed, divided by the local contrast (box window of radius r,
 * clipped to the plane; floor 0.5), clipped to +/-3, with its scratch owned
 * by a context so that the per-frame path allocates nothing, and split into
 * slices over a thread pool. The results do not depend on the thread count:
 * rows are independent in the horizontal pass, and the vertical one works
 * in whole blocks of 8 rows whose sums start afresh (whiten.c).
 */
#ifndef FM_WHITEN_H
#define FM_WHITEN_H

#include "dsp.h"
#include "pool.h"

typedef struct FmWhiten {
    int w, h, r;
    float *rows, *rsq;  /* row box means of the plane less mid-grey and of its square */
    float *sum1, *sum2; /* their box sums down the columns */
} FmWhiten;

int fm_whiten_init(FmWhiten *wh, int w, int h, int r);
void fm_whiten_free(FmWhiten *wh);
/* out may equal in. pool may be NULL. */
void fm_whiten_run(FmWhiten *wh, const FmDsp *dsp, FmPool *pool, const float *in, float *out);

#endif
