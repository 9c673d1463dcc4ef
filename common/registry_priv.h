/*
 * registry_priv.h - what registry.c shares with registry_json.c (internal).
 */
#ifndef FM_REGISTRY_PRIV_H
#define FM_REGISTRY_PRIV_H

#include "registry.h"
#include "registry_db.h"

struct FmRegistry {
    FmDb *db;
    const FmDbOps *ops;
    int schema_version;
};

/* Columns of a full row, in the order fm_registry_read_row() expects. */
#define FM_REGISTRY_COLUMNS                                                         \
    "id, key_fingerprint, message, owner, title, recipient, output_name, "          \
    "output_sha256, codec, crf, strength, receipt_json, content_fingerprint, "      \
    "created_at, version, title_id, recipient_id, issued_minutes, ai_use, mark_format"

/* Fills iss from the current row (strings duplicated). */
int fm_registry_read_row(FmRegistry *reg, FmDbRows *rows, FmIssuance *iss, FmError *err);

/* The INSERT of one issuance inside the caller's transaction: 0 new (id
 * set), 1 already present (id set). Checks as fm_registry_add() does. */
int fm_registry_insert(FmRegistry *reg, const FmIssuance *iss, const FmKey *key, int64_t *id,
                       FmError *err);

/* Current time as "YYYY-MM-DDThh:mm:ssZ". */
void fm_registry_now(char out[21]);

/* Sleep a little before retrying a transaction (attempt 0, 1, ...). */
void fm_registry_backoff(int attempt);
#define FM_REGISTRY_RETRIES 200

#endif
