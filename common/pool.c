#include "pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "fm_error.h"

struct FmPool {
    int nthreads;            /* including the caller */
    pthread_t *tid;          /* nthreads - 1 workers */
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    FmPoolFn fn;
    void *arg;
    int njobs, next, running; /* jobs of the batch, next to take, taken and unfinished */
    unsigned long batch;      /* counts batches, so workers see a new one */
    int quit;
};

int fm_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

/* Takes jobs of the current batch until none is left; called with lock held. */
static void take_jobs(FmPool *p)
{
    while (p->next < p->njobs) {
        int j = p->next++;
        p->running++;
        pthread_mutex_unlock(&p->lock);
        p->fn(p->arg, j, p->njobs);
        pthread_mutex_lock(&p->lock);
        if (--p->running == 0 && p->next >= p->njobs)
            pthread_cond_broadcast(&p->done);
    }
}

static void *worker(void *arg)
{
    FmPool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->quit && p->batch == seen)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->quit)
            break;
        seen = p->batch;
        take_jobs(p);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int fm_pool_new(FmPool **out, int threads)
{
    *out = NULL;
    FmPool *p = calloc(1, sizeof(*p));
    if (!p)
        return FM_ENOMEM;
    p->nthreads = threads > 0 ? threads : fm_cpu_count();
    if (p->nthreads > 256)
        p->nthreads = 256;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    if (p->nthreads > 1) {
        p->tid = calloc((size_t)p->nthreads - 1, sizeof(*p->tid));
        if (!p->tid) {
            fm_pool_free(&p);
            return FM_ENOMEM;
        }
        for (int i = 0; i < p->nthreads - 1; i++)
            if (pthread_create(&p->tid[i], NULL, worker, p) != 0) {
                p->nthreads = i + 1;  /* the ones started, and the caller */
                break;
            }
    }
    *out = p;
    return 0;
}

int fm_pool_threads(const FmPool *p)
{
    return p ? p->nthreads : 1;
}

void fm_pool_run(FmPool *p, FmPoolFn fn, void *arg, int njobs)
{
    if (!p || p->nthreads <= 1 || njobs <= 1) {
        for (int j = 0; j < njobs; j++)
            fn(arg, j, njobs);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->arg = arg;
    p->njobs = njobs;
    p->next = 0;
    p->running = 0;
    p->batch++;
    pthread_cond_broadcast(&p->work);
    take_jobs(p);
    while (p->running > 0 || p->next < p->njobs)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void fm_pool_free(FmPool **pp)
{
    FmPool *p = *pp;
    if (!p)
        return;
    if (p->tid) {
        pthread_mutex_lock(&p->lock);
        p->quit = 1;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->lock);
        for (int i = 0; i < p->nthreads - 1; i++)
            pthread_join(p->tid[i], NULL);
        free(p->tid);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p);
    *pp = NULL;
}
