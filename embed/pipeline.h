/*
 * pipeline.h - decoded master frames fanned out to the deliverables of one
 * pass, each marked and encoded on its own thread while the next frames
 * are decoded.
 *
 * The decoding thread copies each frame into a small ring (PIPELINE_RING
 * slots, allocated once); every deliverable's worker marks and encodes the
 * frames in order. A slot is reused only when every worker has finished with
 * it, so memory is bounded by the ring and the deliverables' own buffers,
 * whatever the length of the master. Each deliverable sees exactly the
 * frames, in the order, that a single-threaded run gives it: the output does
 * not depend on the thread timing.
 */
#ifndef FM_PIPELINE_H
#define FM_PIPELINE_H

#include "deliverable.h"

#define PIPELINE_RING 4

typedef struct Pipeline Pipeline;

/* Starts one worker per deliverable. */
int pipeline_start(Pipeline **p, Deliverable *ds, size_t n, int bit_depth, FmError *err);
/* Hands one decoded frame (master time t) to every worker; blocks while the
 * ring is full. A worker's failure comes back here (FM_E* and err). */
int pipeline_push(Pipeline *p, const AVFrame *frame, double t, FmError *err);
/* Waits for the workers to finish every frame pushed (abort: stop them at
 * once) and joins them; returns the first worker error. Frees p. */
int pipeline_finish(Pipeline **p, int abort, FmError *err);

#endif
