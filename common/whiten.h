/*
 * whiten.h - the detector's whitening of a mark-grid plane (accumulator.h):
 * local mean removed, divided by the local contrast (box window of radius r,
 * clipped to the plane; floor 0.5), clipped to +/-3, with its scratch owned
 * by a context so that the per-frame path allocates nothing, and split into
 * slices over a thread pool. The results do not depend on the thread count:
 * slices are whole blocks of 8 rows whose column sums start afresh
 * (whiten.c). The scratch is a few dozen rows a slice, taken at the first
 * run for the pool's slice count.
 */
#ifndef FM_WHITEN_H
#define FM_WHITEN_H

#include "dsp.h"
#include "pool.h"

typedef struct FmWhiten {
    int w, h, r;
    float *scratch;     /* per slice job: rings of row box means, halos, column sums */
    int jobs_cap;       /* jobs the scratch holds (grown on the first run) */
} FmWhiten;

int fm_whiten_init(FmWhiten *wh, int w, int h, int r);
void fm_whiten_free(FmWhiten *wh);
/* out may equal in. pool may be NULL. */
void fm_whiten_run(FmWhiten *wh, const FmDsp *dsp, FmPool *pool, const float *in, float *out);
/* The same into rows out_stride floats apart (out_stride >= w; out must not
 * overlap in unless out_stride is w): e.g. straight into a wider plane. */
void fm_whiten_run_to(FmWhiten *wh, const FmDsp *dsp, FmPool *pool, const float *in, float *out,
                      ptrdiff_t out_stride);
/* The same, and each output row added to the same row of sum (w*h floats)
 * while it is in cache: sum += weight * out, element by element. out may be
 * NULL (only the sum is wanted: the rows go through the job's scratch). */
void fm_whiten_run_sum(FmWhiten *wh, const FmDsp *dsp, FmPool *pool, const float *in, float *out,
                       float *sum, float weight);

#endif
