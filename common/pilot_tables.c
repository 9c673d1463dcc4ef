#include "pilot_tables.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "big_alloc.h"
#include "fm_error.h"

/* ---- one key's tables ---- */

/* Epochs a part of the derivation (on the pool's threads) derives: part j
 * of n takes FM_EPOCHS j / n .. FM_EPOCHS (j + 1) / n. */
enum { DERIVE_JOBS = 8 };

typedef struct Derive {
    const FmPatternKeys *pk;
    FmEpochPilot *pilots;
} Derive;

static void derive_job(void *arg, int j, int nj)
{
    const Derive *b = arg;
    uint32_t n0 = (uint32_t)(FM_EPOCHS * j / nj), n1 = (uint32_t)(FM_EPOCHS * (j + 1) / nj);
    for (uint32_t n = n0; n < n1; n++)
        fm_epoch_pilot(b->pk, n, &b->pilots[n]);
}

/* fm_pilot_tables_derive; with a pool of NULL, its parts one after the
 * other on the caller's thread, stopping (FM_EINVAL) once *stop is set. */
static int derive(FmPilotTables *t, const FmPatternKeys *pk, FmPool *pool,
                  const atomic_int *stop)
{
    memset(t, 0, sizeof(*t));
    t->pilots = fm_big_alloc(sizeof(FmEpochPilot) * FM_EPOCHS);
    if (!t->pilots)
        return FM_ENOMEM;
    Derive b = { pk, t->pilots };
    if (stop) {
        for (int j = 0; j < DERIVE_JOBS; j++) {
            if (atomic_load(stop)) {
                fm_pilot_tables_free(t);
                return FM_EINVAL;
            }
            derive_job(&b, j, DERIVE_JOBS);
        }
    } else {
        fm_pool_run(pool, derive_job, &b, DERIVE_JOBS);
    }
    if (fm_pilot_index_init(&t->index, t->pilots, stop ? NULL : pool) < 0) {
        fm_pilot_tables_free(t);
        return FM_ENOMEM;
    }
    return 0;
}

int fm_pilot_tables_derive(FmPilotTables *t, const FmPatternKeys *pk, FmPool *pool)
{
    return derive(t, pk, pool, NULL);
}

void fm_pilot_tables_free(FmPilotTables *t)
{
    fm_big_free(t->pilots, sizeof(FmEpochPilot) * FM_EPOCHS, 1);
    t->pilots = NULL;
    if (t->index.flip)
        fm_pilot_index_free(&t->index);
}

/* ---- the tables in use or prepared, one entry a key ---- */

typedef enum { MAKING, READY, FAILED } EntryState;

typedef struct Entry {
    FmPilotTables t;        /* first: a caller's pointer is the entry's */
    uint8_t id[32];         /* hash of the watermark key (domain-separated) */
    EntryState state;
    int users;              /* detections holding t */
    int prepared;           /* kept until fm_pilot_tables_unprepare */
    int has_thread;         /* a preparing thread to join */
    atomic_int stop;        /* its work is no longer wanted */
    pthread_t thread;
    uint8_t wm_key[FM_WMKEY_BYTES];   /* the preparing thread's copy, wiped once read */
    struct Entry *next;
} Entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t made = PTHREAD_COND_INITIALIZER;
static Entry *entries;

/* 0, or -1 when libsodium cannot start (sodium_malloc needs it too; a
 * second sodium_init is harmless). */
static int key_id(const uint8_t wm_key[FM_WMKEY_BYTES], uint8_t id[32])
{
    static const char domain[] = "filmmark pilot tables";
    crypto_generichash_state st;
    if (sodium_init() < 0)
        return -1;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const unsigned char *)domain, sizeof(domain));
    crypto_generichash_update(&st, wm_key, FM_WMKEY_BYTES);
    crypto_generichash_final(&st, id, 32);
    sodium_memzero(&st, sizeof(st));
    return 0;
}

/* (lock held) The entry of a key, made or being made. */
static Entry *find(const uint8_t id[32])
{
    for (Entry *e = entries; e; e = e->next)
        if (e->state != FAILED && !sodium_memcmp(e->id, id, 32))
            return e;
    return NULL;
}

/* (lock held) Takes e off the list and frees it. */
static void drop(Entry *e)
{
    for (Entry **p = &entries; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            break;
        }
    fm_pilot_tables_free(&e->t);
    sodium_free(e);
}

/* (lock held) A new entry, MAKING, on the list; NULL when out of memory.
 * In guarded memory: it holds a key while a thread prepares it. */
static Entry *add(const uint8_t id[32])
{
    Entry *e = sodium_malloc(sizeof(*e));
    if (!e)
        return NULL;
    memset(e, 0, sizeof(*e));
    memcpy(e->id, id, 32);
    e->state = MAKING;
    e->next = entries;
    entries = e;
    return e;
}

/* (lock held) The entry is made: wakes whoever waits for it. */
static void finish(Entry *e, int ret)
{
    e->state = ret < 0 ? FAILED : READY;
    pthread_cond_broadcast(&made);
}

static void *prepare_thread(void *arg)
{
    Entry *e = arg;
    FmPatternKeys pk;
    fm_pattern_keys_init(&pk, e->wm_key);
    sodium_memzero(e->wm_key, sizeof(e->wm_key));
    FmPilotTables t;
    int ret = derive(&t, &pk, NULL, &e->stop);
    fm_pattern_keys_wipe(&pk);
    pthread_mutex_lock(&lock);
    e->t = t;
    finish(e, ret);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int fm_pilot_tables_prepare(const uint8_t wm_key[FM_WMKEY_BYTES])
{
    uint8_t id[32];
    if (key_id(wm_key, id) < 0)
        return FM_ECRYPTO;
    int ret = 0, n = 0;
    pthread_mutex_lock(&lock);
    Entry *e = find(id);
    for (Entry *x = entries; x; x = x->next)
        n += x->prepared;
    if (e) {
        e->prepared = 1;
    } else if (n >= FM_PILOT_TABLES_PREPARED_MAX) {
        ret = FM_EINVAL;
    } else if (!(e = add(id))) {
        ret = FM_ENOMEM;
    } else {
        e->prepared = 1;
        atomic_init(&e->stop, 0);
        memcpy(e->wm_key, wm_key, FM_WMKEY_BYTES);
        if (pthread_create(&e->thread, NULL, prepare_thread, e) == 0) {
            e->has_thread = 1;
        } else {
            drop(e);
            ret = FM_ENOMEM;
        }
    }
    pthread_mutex_unlock(&lock);
    sodium_memzero(id, sizeof(id));
    return ret;
}

const FmPilotTables *fm_pilot_tables_acquire(const uint8_t wm_key[FM_WMKEY_BYTES], FmPool *pool)
{
    uint8_t id[32];
    if (key_id(wm_key, id) < 0)
        return NULL;
    pthread_mutex_lock(&lock);
    Entry *e = find(id);
    int waited = 0;
again:
    if (!e) {
        /* ours to make, on the caller's pool, without the lock */
        if ((e = add(id))) {
            e->users = 1;
            pthread_mutex_unlock(&lock);
            FmPatternKeys pk;
            fm_pattern_keys_init(&pk, wm_key);
            FmPilotTables t;
            int ret = fm_pilot_tables_derive(&t, &pk, pool);
            fm_pattern_keys_wipe(&pk);
            pthread_mutex_lock(&lock);
            e->t = t;
            finish(e, ret);
        }
    } else {
        e->users++;
        while (e->state == MAKING)
            pthread_cond_wait(&made, &lock);
        waited = 1;
    }
    if (e && e->state == FAILED) {
        if (!--e->users && !e->prepared && !e->has_thread)
            drop(e);
        e = NULL;
        if (waited) {   /* somebody else's failed (or was stopped): try ours */
            waited = 0;
            goto again;
        }
    }
    pthread_mutex_unlock(&lock);
    sodium_memzero(id, sizeof(id));
    return e ? &e->t : NULL;
}

void fm_pilot_tables_release(const FmPilotTables *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&lock);
    for (Entry *e = entries; e; e = e->next)
        if (&e->t == t) {
            if (!--e->users && !e->prepared)
                drop(e);
            break;
        }
    pthread_mutex_unlock(&lock);
}

void fm_pilot_tables_unprepare(const uint8_t wm_key[FM_WMKEY_BYTES])
{
    uint8_t id[32];
    if (key_id(wm_key, id) < 0)
        return;
    pthread_mutex_lock(&lock);
    Entry *e = NULL;
    for (Entry *x = entries; x && !e; x = x->next)
        if (x->prepared && !sodium_memcmp(x->id, id, 32))
            e = x;
    sodium_memzero(id, sizeof(id));
    if (!e) {
        pthread_mutex_unlock(&lock);
        return;
    }
    e->prepared = 0;
    if (e->has_thread) {
        /* tables nobody waits for are not worth finishing (a still
         * picture, a clip that failed to open) */
        if (!e->users)
            atomic_store(&e->stop, 1);
        pthread_t th = e->thread;
        e->has_thread = 0;
        e->users++;   /* kept while its thread is joined */
        pthread_mutex_unlock(&lock);
        pthread_join(th, NULL);
        pthread_mutex_lock(&lock);
        e->users--;
    }
    if (!e->users)
        drop(e);
    pthread_mutex_unlock(&lock);
}
