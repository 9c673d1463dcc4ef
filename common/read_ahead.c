#include "read_ahead.h"

#include <pthread.h>
#include <stdlib.h>

/*
 * A ring of depth + 1 slots: the producer fills slot head % n while fewer
 * than depth frames wait; the caller holds the slot it was last given
 * ((tail - 1) % n), which the producer cannot reach, and releases it on its
 * next call.
 */
struct FmReadAhead {
    FmVideoReader *reader;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int depth, n;
    AVFrame **slot;
    double *time;
    long head, tail;     /* frames produced, frames handed out */
    int held;            /* the caller's slot, or -1 */
    int done, status;    /* the producer has stopped, with fm_reader_next()'s
                            last return (0 at the end, FM_E* on an error) */
    FmError err;
    int stop;
};

static void *produce(void *arg)
{
    FmReadAhead *ra = arg;
    for (;;) {
        pthread_mutex_lock(&ra->mu);
        while (!ra->stop && ra->head - ra->tail >= ra->depth)
            pthread_cond_wait(&ra->cv, &ra->mu);
        int stop = ra->stop;
        long head = ra->head;
        pthread_mutex_unlock(&ra->mu);
        if (stop)
            break;
        AVFrame *f;
        FmError e = { 0 };
        int r = fm_reader_next(ra->reader, &f, &e);
        double t = 0;
        if (r > 0) {
            t = fm_reader_frame_seconds(ra->reader, f);
            if (av_frame_ref(ra->slot[head % ra->n], f) < 0)
                r = fm_error_set(&e, FM_ENOMEM, "out of memory reading ahead");
        }
        pthread_mutex_lock(&ra->mu);
        if (r > 0) {
            ra->time[head % ra->n] = t;
            ra->head++;
        } else {
            ra->done = 1;
            ra->status = r;
            ra->err = e;
        }
        pthread_cond_broadcast(&ra->cv);
        pthread_mutex_unlock(&ra->mu);
        if (r <= 0)
            break;
    }
    return NULL;
}

static void free_ring(FmReadAhead *ra)
{
    for (int i = 0; ra->slot && i < ra->n; i++)
        av_frame_free(&ra->slot[i]);
    free(ra->slot);
    free(ra->time);
    free(ra);
}

int fm_read_ahead_start(FmReadAhead **out, FmVideoReader *reader, int depth, FmError *err)
{
    *out = NULL;
    if (depth < 1 || depth > 64)
        return fm_error_set(err, FM_EINVAL, "read-ahead depth %d is not in 1..64", depth);
    FmReadAhead *ra = calloc(1, sizeof(*ra));
    if (!ra)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    ra->reader = reader;
    ra->depth = depth;
    ra->n = depth + 1;
    ra->held = -1;
    ra->slot = calloc((size_t)ra->n, sizeof(*ra->slot));
    ra->time = calloc((size_t)ra->n, sizeof(*ra->time));
    int ok = ra->slot && ra->time;
    for (int i = 0; ok && i < ra->n; i++)
        ok = (ra->slot[i] = av_frame_alloc()) != NULL;
    if (!ok) {
        free_ring(ra);
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&ra->mu, NULL);
    pthread_cond_init(&ra->cv, NULL);
    if (pthread_create(&ra->thread, NULL, produce, ra) != 0) {
        pthread_mutex_destroy(&ra->mu);
        pthread_cond_destroy(&ra->cv);
        free_ring(ra);
        return fm_error_set(err, FM_ENOMEM, "cannot start the decoding thread");
    }
    *out = ra;
    return 0;
}

int fm_read_ahead_next(FmReadAhead *ra, AVFrame **frame, double *t, FmError *err)
{
    if (ra->held >= 0) {
        av_frame_unref(ra->slot[ra->held]);
        ra->held = -1;
    }
    pthread_mutex_lock(&ra->mu);
    while (ra->head == ra->tail && !ra->done)
        pthread_cond_wait(&ra->cv, &ra->mu);
    if (ra->head == ra->tail) {
        int r = ra->status;
        if (r < 0 && err)
            *err = ra->err;
        pthread_mutex_unlock(&ra->mu);
        return r;
    }
    int i = (int)(ra->tail % ra->n);
    ra->tail++;
    pthread_cond_broadcast(&ra->cv);
    pthread_mutex_unlock(&ra->mu);
    ra->held = i;
    *frame = ra->slot[i];
    *t = ra->time[i];
    return 1;
}

void fm_read_ahead_stop(FmReadAhead **pra)
{
    FmReadAhead *ra = *pra;
    if (!ra)
        return;
    *pra = NULL;
    pthread_mutex_lock(&ra->mu);
    ra->stop = 1;
    pthread_cond_broadcast(&ra->cv);
    pthread_mutex_unlock(&ra->mu);
    pthread_join(ra->thread, NULL);
    pthread_mutex_destroy(&ra->mu);
    pthread_cond_destroy(&ra->cv);
    free_ring(ra);
}
