/*
 * pool.h - a small pool of worker threads for slice jobs inside one frame.
 *
 * fm_pool_run(pool, fn, arg, n) calls fn(arg, j, n) for j = 0..n-1 spread
 * over the pool's threads (the calling thread takes part) and returns when
 * all are done. Jobs must write disjoint outputs; whatever the thread count,
 * each job does the same work, so results do not depend on it (FFmpeg's
 * slice threading: job j takes rows h*j/n .. h*(j+1)/n).
 */
#ifndef FM_POOL_H
#define FM_POOL_H

typedef struct FmPool FmPool;
typedef void (*FmPoolFn)(void *arg, int job, int njobs);

/* threads <= 0: one per online core. Returns 0 or FM_ENOMEM. A pool of one
 * thread starts none and runs every job in the caller. */
int fm_pool_new(FmPool **pool, int threads);
/* Threads of the pool, the caller included. */
int fm_pool_threads(const FmPool *pool);
/* Runs the jobs; pool may be NULL (then all run in the caller). */
void fm_pool_run(FmPool *pool, FmPoolFn fn, void *arg, int njobs);
void fm_pool_free(FmPool **pool);

/* Online cores, at least 1. */
int fm_cpu_count(void);

#endif
