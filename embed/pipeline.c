#include "pipeline.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

typedef struct Slot {
    AVFrame *frame;
    double t;
    size_t pending;     /* workers that have not finished with it */
} Slot;

typedef struct Worker {
    Pipeline *p;
    Deliverable *d;
    pthread_t thread;
    int started, ret;
    FmError err;
} Worker;

struct Pipeline {
    pthread_mutex_t mu;
    pthread_cond_t filled, freed;
    Slot ring[PIPELINE_RING];
    long produced;
    int eof, abort;
    int bit_depth;
    size_t n;
    Worker *workers;
};

static void *work(void *arg)
{
    Worker *w = arg;
    Pipeline *p = w->p;
    /* a deliverable alone may mark the shared copy in place */
    int in_place = p->n == 1;
    for (long k = 0;; k++) {
        pthread_mutex_lock(&p->mu);
        while (!p->abort && !p->eof && p->produced <= k)
            pthread_cond_wait(&p->filled, &p->mu);
        int stop = p->abort || p->produced <= k;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        Slot *s = &p->ring[k % PIPELINE_RING];
        int r = deliverable_frame(w->d, s->frame, in_place, p->bit_depth, s->t, &w->err);
        pthread_mutex_lock(&p->mu);
        if (--s->pending == 0)
            pthread_cond_broadcast(&p->freed);
        if (r < 0) {
            w->ret = r;
            p->abort = 1;
            pthread_cond_broadcast(&p->filled);
            pthread_cond_broadcast(&p->freed);
        }
        pthread_mutex_unlock(&p->mu);
        if (r < 0)
            break;
    }
    return NULL;
}

static void pipeline_free(Pipeline *p)
{
    for (int i = 0; i < PIPELINE_RING; i++)
        av_frame_free(&p->ring[i].frame);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->filled);
    pthread_cond_destroy(&p->freed);
    free(p->workers);
    free(p);
}

int pipeline_start(Pipeline **pp, Deliverable *ds, size_t n, int bit_depth, FmError *err)
{
    Pipeline *p = calloc(1, sizeof(*p));
    *pp = NULL;
    if (!p || !(p->workers = calloc(n, sizeof(*p->workers)))) {
        free(p);
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->filled, NULL);
    pthread_cond_init(&p->freed, NULL);
    p->n = n;
    p->bit_depth = bit_depth;
    for (size_t i = 0; i < n; i++) {
        Worker *w = &p->workers[i];
        w->p = p;
        w->d = &ds[i];
        if (pthread_create(&w->thread, NULL, work, w) != 0) {
            *pp = p;
            pipeline_finish(pp, 1, NULL);
            return fm_error_set(err, FM_ENOMEM, "cannot start a thread");
        }
        w->started = 1;
    }
    *pp = p;
    return 0;
}

/* The first failure of a worker, into err. */
static int worker_error(Pipeline *p, FmError *err)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->workers[i].ret < 0) {
            if (err)
                *err = p->workers[i].err;
            return p->workers[i].ret;
        }
    return 0;
}

int pipeline_push(Pipeline *p, const AVFrame *frame, double t, FmError *err)
{
    Slot *s = &p->ring[p->produced % PIPELINE_RING];
    pthread_mutex_lock(&p->mu);
    while (!p->abort && s->pending)
        pthread_cond_wait(&p->freed, &p->mu);
    int abort = p->abort;
    pthread_mutex_unlock(&p->mu);
    if (abort)
        return worker_error(p, err);
    /* the slot is free: no worker reads it until produced moves past it */
    int r = fm_frame_copy_owned(&s->frame, frame, err);
    if (r < 0)
        return r;
    s->t = t;
    pthread_mutex_lock(&p->mu);
    s->pending = p->n;
    p->produced++;
    pthread_cond_broadcast(&p->filled);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int pipeline_finish(Pipeline **pp, int abort, FmError *err)
{
    Pipeline *p = *pp;
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    p->eof = 1;
    if (abort)
        p->abort = 1;
    pthread_cond_broadcast(&p->filled);
    pthread_cond_broadcast(&p->freed);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->n; i++)
        if (p->workers[i].started)
            pthread_join(p->workers[i].thread, NULL);
    int r = worker_error(p, err);
    pipeline_free(p);
    *pp = NULL;
    return r;
}
