/*
 * pilot_tables.h - a key's pilot tables, made once and shared.
 *
 * The epoch search needs every epoch's pilots (FM_EPOCHS of them) and the
 * same entries by slot (FmPilotIndex): 29 MB derived from the watermark key
 * alone, the same for every clip and every detection with that key. Made
 * for each detection, they cost ~0.14 s of CPU after the last frame of a
 * clip, when nothing else overlaps them; a tool that knows its key early
 * asks for them with fm_pilot_tables_prepare, which derives them on a
 * thread of its own while the clip is opened and decoded.
 *
 * Detections take the tables with fm_pilot_tables_acquire (the prepared
 * ones, waiting for them if they are still being made; otherwise tables
 * derived on the caller's pool and shared with whoever asks for the same
 * key meanwhile) and give them back with fm_pilot_tables_release. Tables
 * are read-only once made, so any number of detections may use them at
 * once. Prepared tables stay until fm_pilot_tables_unprepare; others go
 * when their last user releases them. Being derived from the key they are
 * secret (they locate the mark): wiped when freed. Keys are told apart by a
 * hash of the watermark key (BLAKE2b, domain-separated), compared in
 * constant time.
 */
#ifndef FM_PILOT_TABLES_H
#define FM_PILOT_TABLES_H

#include <stdint.h>

#include "cell_view.h"
#include "pattern.h"
#include "pool.h"

/* Keys whose tables may be prepared at once (29 MB each). */
#define FM_PILOT_TABLES_PREPARED_MAX 4

typedef struct FmPilotTables {
    FmEpochPilot *pilots;   /* FM_EPOCHS of them, epoch n at n */
    FmPilotIndex index;     /* the same by slot */
} FmPilotTables;

/* Derives a key's tables on pool's threads (may be NULL): the same tables
 * whatever the threads. 0, or FM_ENOMEM. */
int fm_pilot_tables_derive(FmPilotTables *t, const FmPatternKeys *pk, FmPool *pool);
/* Wipes and frees (t may have failed to derive). */
void fm_pilot_tables_free(FmPilotTables *t);

/*
 * Starts deriving the tables of wm_key on a thread of its own and keeps
 * them until fm_pilot_tables_unprepare. 0 (also when already prepared);
 * FM_ENOMEM, FM_ECRYPTO (libsodium cannot start), or FM_EINVAL when
 * FM_PILOT_TABLES_PREPARED_MAX keys already are: the detection then
 * derives its own, as without this call.
 */
int fm_pilot_tables_prepare(const uint8_t wm_key[FM_WMKEY_BYTES]);

/* The tables of wm_key for a detection, derived on pool if nobody has them
 * (pool's threads derive them; the same tables whatever the threads), or
 * NULL when out of memory. Give them back with fm_pilot_tables_release. */
const FmPilotTables *fm_pilot_tables_acquire(const uint8_t wm_key[FM_WMKEY_BYTES],
                                             FmPool *pool);
void fm_pilot_tables_release(const FmPilotTables *t);

/* Ends what fm_pilot_tables_prepare started for wm_key (nothing if it was
 * not prepared): waits for its thread (stopped early if no detection waits
 * for it); tables no detection uses are wiped and freed at once, others
 * when released. */
void fm_pilot_tables_unprepare(const uint8_t wm_key[FM_WMKEY_BYTES]);

#endif
