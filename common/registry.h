/*
 * registry.h - the registry of issued marks: one row per deliverable that
 * wmembed has issued (the signed 78-byte message, its payload fields, the
 * names, the output's SHA-256, the settings, the receipt and the content
 * fingerprint), so that detectors can correlate a clip with every message a
 * key has issued and name the recipient. docs/REGISTRY.md has the schema.
 *
 * Two backends behind one API, chosen by the location string:
 *   "postgresql://..." or "postgres://..."  a PostgreSQL server (libpq URL)
 *   anything else                           a SQLite database file
 * fm_registry_location() resolves the location the tools use: --registry,
 * else $FILMMARK_REGISTRY, else ~/.local/share/filmmark/registry.sqlite.
 *
 * The schema is versioned (table schema_version) and brought up to date by
 * fm_registry_open() (created on first use). Every statement is
 * parameterised. Each issuance is one INSERT in one transaction: a process
 * that dies before fm_registry_add() returns leaves no row, and any number
 * of processes may add at once (SQLite: WAL, busy timeout and retries;
 * PostgreSQL: transactions).
 *
 * Use (in wmembed, after the deliverable and its receipt are complete):
 *
 *     char loc[FM_REGISTRY_LOCATION_MAX];
 *     FmRegistry *reg = NULL;
 *     int64_t id;
 *     if (fm_registry_location(opt_registry, loc, sizeof(loc), &err) < 0 ||
 *         fm_registry_open(&reg, loc, &err) < 0 ||
 *         fm_registry_add_receipt(reg, receipt_path, &key, 1, &id, &err) < 0)
 *         ... report err.msg ...
 *     fm_registry_close(&reg);
 *
 * All functions return 0 (or a documented positive value) on success and a
 * negative FM_E* code with a message in err on failure.
 */
#ifndef FM_REGISTRY_H
#define FM_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "fm_error.h"
#include "keys.h"
#include "payload.h"

/* The schema version this code writes; older databases are migrated. */
#define FM_REGISTRY_SCHEMA_VERSION 3
#define FM_REGISTRY_LOCATION_MAX 4096
#define FM_REGISTRY_ENV "FILMMARK_REGISTRY"

typedef struct FmRegistry FmRegistry;

/*
 * One issuance. For fm_registry_add() the caller fills it (strings are only
 * read; NULL stores SQL NULL); results of fm_registry_get()/list() are owned
 * by the library and freed with fm_issuance_free()/fm_issuance_list_free().
 */
typedef struct FmIssuance {
    int64_t id;                                  /* row id; set by the registry */
    char key_fingerprint[FM_FINGERPRINT_CHARS + 1];
    uint8_t message[FM_MESSAGE_BYTES];           /* packed payload || signature */
    FmPayload payload;                           /* decoded from message (add() ignores it) */
    const char *owner, *title, *recipient;       /* free-text names, may be NULL */
    const char *output_name;                     /* deliverable's file name */
    char output_sha256[65];                      /* 64 lowercase hex digits */
    const char *codec;                           /* "ffv1", "vp9", "h264" */
    int crf;                                     /* -1: codec default */
    double strength;
    const char *receipt_json;                    /* the receipt file's text, may be NULL */
    const char *content_fingerprint;             /* "fmfp1:...", may be NULL */
    char created_at[21];                         /* "YYYY-MM-DDThh:mm:ssZ" UTC; empty in add(): now */
    int mark_format;                             /* the mark format the deliverable was
                                                    written in (version.h FM_MARK_FORMAT,
                                                    1..FM_REGISTRY_MARK_FORMAT_MAX), or 0:
                                                    unknown (SQL NULL: rows recorded before
                                                    schema 3, receipts added by hand) */
} FmIssuance;

/* The largest mark format a row may record (a column of small numbers; a
 * format this build does not know is kept, and naming treats it as unknown). */
#define FM_REGISTRY_MARK_FORMAT_MAX 255

typedef struct FmIssuanceList {
    size_t count;
    FmIssuance *items;
} FmIssuanceList;

/* Filters for fm_registry_list(); a zero "have_" flag means "any". */
typedef struct FmRegistryFilter {
    int have_title_id, have_recipient_id, have_since, have_until;
    uint32_t title_id, recipient_id;
    uint32_t since_minutes, until_minutes;   /* payload issue time, inclusive */
    const char *key_fingerprint;             /* NULL: any key */
} FmRegistryFilter;

/* What a detector needs of every message a key issued (fm_registry_messages). */
typedef struct FmIssuedMessage {
    int64_t id;
    uint8_t message[FM_MESSAGE_BYTES];
    uint32_t title_id, recipient_id, issued_minutes;
    uint8_t ai_use;
    int mark_format;                               /* as FmIssuance: 0 unknown */
    const char *recipient, *title, *output_name;   /* may be NULL */
} FmIssuedMessage;

/*
 * Resolves the registry location: explicit (a --registry value) if not NULL,
 * else $FILMMARK_REGISTRY if set and non-empty, else
 * $HOME/.local/share/filmmark/registry.sqlite, whose missing directories are
 * created with mode 0700. Writes it to out (len bytes). FM_EINVAL when it
 * does not fit or there is no home directory.
 */
int fm_registry_location(const char *explicit_loc, char *out, size_t len, FmError *err);

/* 1 when location names a PostgreSQL server (postgresql:// or postgres://). */
int fm_registry_is_postgres(const char *location);
/* 1 when opening location would find a registry rather than create one: a
 * PostgreSQL URL, or a SQLite file that exists. For readers such as wmdetect
 * that should not leave an empty registry behind. */
int fm_registry_present(const char *location);

/*
 * Opens (creating a SQLite file with mode 0600 if needed) and migrates the
 * schema to FM_REGISTRY_SCHEMA_VERSION. FM_EFORMAT when the database has a
 * newer schema than this code knows; FM_EIO for database errors.
 */
int fm_registry_open(FmRegistry **reg, const char *location, FmError *err);
void fm_registry_close(FmRegistry **reg);

/* The schema version of the open database (after migration). */
int fm_registry_schema_version(FmRegistry *reg);
/* "sqlite" or "postgresql". */
const char *fm_registry_backend(const FmRegistry *reg);

/*
 * Records one issuance in one transaction. The payload fields are decoded
 * from iss->message (FM_EFORMAT if they do not decode). When key is not NULL
 * (any kind: secret, detect or public), the message's signature must verify
 * under it and iss->key_fingerprint must be its fingerprint (FM_ECRYPTO,
 * FM_EINVAL). output_name, codec and a 64-hex output_sha256 are required.
 * Returns 0 and the new row's id, or 1 and the existing row's id when the
 * same issuance (key fingerprint, message and output SHA-256) is already
 * recorded: adding is idempotent.
 */
int fm_registry_add(FmRegistry *reg, const FmIssuance *iss, const FmKey *key, int64_t *id,
                    FmError *err);

/*
 * What wmembed calls once the deliverable and its receipt are written: reads
 * the receipt file and adds the issuance it describes, with the receipt's own
 * text and mark_format (the format wmembed wrote, FM_MARK_FORMAT; 0 when it is
 * not known, as for a receipt added by hand: the receipt does not say), as
 * fm_registry_add() (returns 0 new, 1 already recorded: the existing row,
 * its mark format included, is left as it is). The text
 * read is checked first as fm_issuance_verify() checks a row, with the key of
 * its fingerprint among keys (any kinds; wmembed passes its secret key):
 * FM_ECRYPTO when no key given has that fingerprint or a signature fails,
 * FM_EFORMAT when it is not a complete receipt or not a regular file of at
 * most FM_RECEIPT_MAX_BYTES (refused unread: a FIFO does not block), FM_EIO
 * when it cannot be read.
 */
int fm_registry_add_receipt(FmRegistry *reg, const char *receipt_path, FmKey *const *keys,
                            size_t nkeys, int mark_format, int64_t *id, FmError *err);
/* Fills iss from a receipt's text (no signature check); strings owned by iss,
 * freed with fm_issuance_clear(). */
int fm_issuance_from_receipt(const char *receipt_text, FmIssuance *iss, FmError *err);

/* One row by id: FM_ENOTFOUND when there is none. Free with fm_issuance_free(). */
int fm_registry_get(FmRegistry *reg, int64_t id, FmIssuance **out, FmError *err);
void fm_issuance_free(FmIssuance **iss);
/* Frees the strings of a library-filled iss (not iss itself) and zeroes it. */
void fm_issuance_clear(FmIssuance *iss);

/* Rows matching filter (NULL: all), in id order. */
int fm_registry_list(FmRegistry *reg, const FmRegistryFilter *filter, FmIssuanceList *out,
                     FmError *err);
void fm_issuance_list_free(FmIssuanceList *list);

/*
 * Every message issued under one key, in id order: one indexed query. *out is
 * one allocation (strings included) to free with free(); *count rows.
 */
int fm_registry_messages(FmRegistry *reg, const char *key_fingerprint,
                         FmIssuedMessage **out, size_t *count, FmError *err);

/*
 * Checks one row against the keys given (any kinds): FM_ENOTFOUND when no
 * key has its fingerprint; FM_ECRYPTO (with the reason in err) when the
 * message signature fails, the payload columns disagree with the message,
 * or the receipt (when recorded) is not signed by the key or disagrees with
 * the row (message, key fingerprint, names, output file and SHA-256,
 * settings, content fingerprint); 0 when it all holds. The mark format is
 * not signed anywhere (neither the message nor the receipt states it) and is
 * not checked: a wrong one can only make naming miss that recipient (it is
 * then scored under another mask), never name an innocent (naming.h).
 */
int fm_issuance_verify(const FmIssuance *iss, FmKey *const *keys, size_t nkeys, FmError *err);

/* The JSON object of one issuance, as one line of the export (new reference;
 * NULL when out of memory or a string is not UTF-8). */
json_t *fm_issuance_to_json(const FmIssuance *iss);

/* Export: one JSON object per line, in id order (docs/REGISTRY.md). */
int fm_registry_export(FmRegistry *reg, FILE *out, FmError *err);

typedef struct FmImportStats {
    size_t lines;      /* issuances read */
    size_t added;      /* new rows */
    size_t present;    /* already in the registry */
    size_t verified;   /* whose signatures were checked with a key given */
} FmImportStats;

/*
 * Import JSON lines as written by fm_registry_export(), all in one
 * transaction: nothing is added unless every line is well formed. Each line's
 * message must agree with its payload fields; a line whose key fingerprint
 * is one of keys must verify as fm_issuance_verify() checks (FM_ECRYPTO).
 * Malformed lines are FM_EFORMAT with "line N: ..." in err. Idempotent:
 * importing the same issuance again adds nothing (counted in present).
 * name is used in messages (the file name).
 */
int fm_registry_import(FmRegistry *reg, FILE *in, const char *name, FmKey *const *keys,
                       size_t nkeys, FmImportStats *stats, FmError *err);

#endif
