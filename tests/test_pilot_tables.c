/*
 * test_pilot_tables.c - a key's pilot tables, made once and shared
 * (common/pilot_tables.c).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "pattern.h"
#include "pilot_tables.h"
#include "pool.h"
#include "testutil.h"

static void key_bytes(uint8_t key[FM_WMKEY_BYTES], uint32_t seed)
{
    TuRng r;
    tu_rng_seed(&r, seed);
    for (int i = 0; i < FM_WMKEY_BYTES; i++)
        key[i] = (uint8_t)tu_rng_u64(&r);
}

/* The tables of a key as the detector made them before they were shared:
 * every epoch's pilot, and the index on the caller's thread. */
static void reference_tables(const uint8_t key[FM_WMKEY_BYTES], FmEpochPilot **pilots,
                             FmPilotIndex *ix)
{
    FmPatternKeys pk;
    fm_pattern_keys_init(&pk, key);
    *pilots = malloc(sizeof(FmEpochPilot) * FM_EPOCHS);
    cr_assert(*pilots);
    for (uint32_t n = 0; n < FM_EPOCHS; n++)
        fm_epoch_pilot(&pk, n, &(*pilots)[n]);
    cr_assert_eq(fm_pilot_index_init(ix, *pilots, NULL), 0);
    fm_pattern_keys_wipe(&pk);
}

static void assert_same(const FmPilotTables *t, const FmEpochPilot *pilots, const FmPilotIndex *ix)
{
    size_t entries = (size_t)FM_EPOCHS * FM_PILOTS;
    cr_assert_eq(memcmp(t->pilots, pilots, sizeof(FmEpochPilot) * FM_EPOCHS), 0);
    cr_assert_eq(memcmp(t->index.start, ix->start, sizeof(ix->start)), 0);
    cr_assert_eq(memcmp(t->index.flip, ix->flip, sizeof(uint32_t) * entries), 0);
    cr_assert_eq(memcmp(t->index.epoch, ix->epoch, sizeof(uint16_t) * entries), 0);
    cr_assert_eq(memcmp(t->index.sign, ix->sign, sizeof(int8_t) * entries), 0);
}

/* Prepared on their own thread, derived on a pool of two, on the caller's
 * thread: the same tables as the detector's own, and one key's tables are
 * shared by every detection holding them while another key gets its own. */
Test(pilot_tables, prepared_and_derived_tables_are_the_same_and_shared)
{
    uint8_t key[FM_WMKEY_BYTES], other[FM_WMKEY_BYTES];
    key_bytes(key, 5);
    key_bytes(other, 6);
    FmEpochPilot *pilots;
    FmPilotIndex ix;
    reference_tables(key, &pilots, &ix);

    cr_assert_eq(fm_pilot_tables_prepare(key), 0);
    cr_assert_eq(fm_pilot_tables_prepare(key), 0, "preparing twice is harmless");
    const FmPilotTables *a = fm_pilot_tables_acquire(key, NULL);
    cr_assert_not_null(a);
    assert_same(a, pilots, &ix);
    const FmPilotTables *b = fm_pilot_tables_acquire(key, NULL);
    cr_assert_eq(a, b, "one key's tables are shared");
    FmPool *pool = NULL;
    cr_assert_eq(fm_pool_new(&pool, 2), 0);
    const FmPilotTables *c = fm_pilot_tables_acquire(other, pool);
    cr_assert_not_null(c);
    cr_assert_neq(c, a, "another key has its own");
    cr_assert_neq(memcmp(c->pilots, a->pilots, sizeof(FmEpochPilot)), 0);
    fm_pilot_tables_release(c);
    fm_pilot_tables_release(b);
    /* unprepared while still used: kept until the last release */
    fm_pilot_tables_unprepare(key);
    assert_same(a, pilots, &ix);
    fm_pilot_tables_release(a);

    /* not prepared: derived on the pool for the detection that asks */
    const FmPilotTables *d = fm_pilot_tables_acquire(key, pool);
    cr_assert_not_null(d);
    assert_same(d, pilots, &ix);
    fm_pilot_tables_release(d);
    fm_pool_free(&pool);

    fm_pilot_tables_unprepare(other);   /* never prepared: nothing happens */
    fm_pilot_tables_free(&(FmPilotTables){ 0 });   /* a table that failed: harmless */
    fm_pilot_index_free(&ix);
    free(pilots);
}

/* At most FM_PILOT_TABLES_PREPARED_MAX keys are prepared at once; a
 * preparation nobody used is stopped and freed by unprepare. */
Test(pilot_tables, prepared_keys_are_bounded)
{
    uint8_t keys[FM_PILOT_TABLES_PREPARED_MAX + 1][FM_WMKEY_BYTES];
    for (int i = 0; i <= FM_PILOT_TABLES_PREPARED_MAX; i++) {
        key_bytes(keys[i], 100 + (uint32_t)i);
        int r = fm_pilot_tables_prepare(keys[i]);
        cr_assert_eq(r, i < FM_PILOT_TABLES_PREPARED_MAX ? 0 : FM_EINVAL, "key %d: %d", i, r);
    }
    for (int i = 0; i < FM_PILOT_TABLES_PREPARED_MAX; i++)
        fm_pilot_tables_unprepare(keys[i]);
    /* all gone: room for as many again */
    for (int i = 0; i < FM_PILOT_TABLES_PREPARED_MAX; i++)
        cr_assert_eq(fm_pilot_tables_prepare(keys[i + 1]), 0);
    for (int i = 0; i < FM_PILOT_TABLES_PREPARED_MAX; i++)
        fm_pilot_tables_unprepare(keys[i + 1]);
}

typedef struct Asker {
    const uint8_t *key;
    const FmPilotTables *got;
} Asker;

static void *ask(void *arg)
{
    Asker *a = arg;
    a->got = fm_pilot_tables_acquire(a->key, NULL);
    return NULL;
}

/* Detections on several threads asking for the same key at once (the scan
 * of a folder) all get the one set of tables, made once. */
Test(pilot_tables, concurrent_detections_share_one_derivation)
{
    uint8_t key[FM_WMKEY_BYTES];
    key_bytes(key, 9);
    FmEpochPilot *pilots;
    FmPilotIndex ix;
    reference_tables(key, &pilots, &ix);
    enum { N = 4 };
    Asker a[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        a[i] = (Asker){ key, NULL };
        cr_assert_eq(pthread_create(&th[i], NULL, ask, &a[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        cr_assert_not_null(a[i].got);
        cr_assert_eq(a[i].got, a[0].got);
    }
    assert_same(a[0].got, pilots, &ix);
    for (int i = 0; i < N; i++)
        fm_pilot_tables_release(a[i].got);
    fm_pilot_index_free(&ix);
    free(pilots);
}
