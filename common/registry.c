/*
 * registry.c - the registry of issued marks: location, schema and
 * migrations, adding and reading issuances, verifying rows. The SQL is the
 * same for both backends except the DDL of the migrations below.
 */
#include "registry_priv.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "tool_util.h"

/* ------------------------------------------------------------------ */
/* location */

int fm_registry_is_postgres(const char *loc)
{
    return loc && (strncmp(loc, "postgresql://", 13) == 0 || strncmp(loc, "postgres://", 11) == 0);
}

int fm_registry_present(const char *loc)
{
    return fm_registry_is_postgres(loc) || (loc && *loc && access(loc, F_OK) == 0);
}

static int mkdir_0700(const char *path, FmError *err)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    return fm_error_set(err, FM_EIO, "cannot create '%s': %s", path, strerror(errno));
}

int fm_registry_location(const char *explicit_loc, char *out, size_t len, FmError *err)
{
    const char *env = getenv(FM_REGISTRY_ENV);
    const char *loc = explicit_loc ? explicit_loc : (env && *env ? env : NULL);
    if (loc) {
        if (!*loc)
            return fm_error_set(err, FM_EINVAL, "empty registry location");
        if (strlen(loc) >= len)
            return fm_error_set(err, FM_EINVAL, "registry location too long");
        memcpy(out, loc, strlen(loc) + 1);
        return 0;
    }
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home || !*home)
        return fm_error_set(err, FM_EINVAL, "no home directory for the default registry; "
                                            "use --registry or $" FM_REGISTRY_ENV);
    static const char *const parts[] = { "/.local", "/.local/share", "/.local/share/filmmark" };
    for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
        if ((size_t)snprintf(out, len, "%s%s", home, parts[k]) >= len)
            return fm_error_set(err, FM_EINVAL, "registry location too long");
        if (mkdir_0700(out, err) < 0)
            return FM_EIO;
    }
    if ((size_t)snprintf(out, len, "%s/.local/share/filmmark/registry.sqlite", home) >= len)
        return fm_error_set(err, FM_EINVAL, "registry location too long");
    return 0;
}

/* ------------------------------------------------------------------ */
/* small helpers */

void fm_registry_now(char out[21])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void fm_registry_backoff(int attempt)
{
    /* 1..~50 ms, growing, with jitter so that colliding writers spread out */
    long us = 1000L * (1 + (attempt < 10 ? attempt * 5 : 50));
    us += (long)randombytes_uniform(1000);
    struct timespec ts = { us / 1000000L, (us % 1000000L) * 1000L };
    nanosleep(&ts, NULL);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void free_const(const char *s)
{
    free((void *)s);
}

void fm_issuance_clear(FmIssuance *iss)
{
    if (!iss)
        return;
    free_const(iss->owner);
    free_const(iss->title);
    free_const(iss->recipient);
    free_const(iss->output_name);
    free_const(iss->codec);
    free_const(iss->receipt_json);
    free_const(iss->content_fingerprint);
    memset(iss, 0, sizeof(*iss));
}

void fm_issuance_free(FmIssuance **iss)
{
    if (!iss || !*iss)
        return;
    fm_issuance_clear(*iss);
    free(*iss);
    *iss = NULL;
}

void fm_issuance_list_free(FmIssuanceList *list)
{
    if (!list)
        return;
    for (size_t k = 0; k < list->count; k++)
        fm_issuance_clear(&list->items[k]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

int fm_registry_read_row(FmRegistry *reg, FmDbRows *rows, FmIssuance *iss, FmError *err)
{
    const FmDbOps *o = reg->ops;
    memset(iss, 0, sizeof(*iss));
    iss->id = o->col_int(rows, 0);
    const char *t = o->col_text(rows, 1);
    snprintf(iss->key_fingerprint, sizeof(iss->key_fingerprint), "%s", t ? t : "");
    size_t n = 0;
    const uint8_t *m = o->col_blob(rows, 2, &n);
    /* a damaged message is kept as far as it goes: verification fails it */
    if (m)
        memcpy(iss->message, m, n < FM_MESSAGE_BYTES ? n : FM_MESSAGE_BYTES);
    iss->owner = dup_or_null(o->col_text(rows, 3));
    iss->title = dup_or_null(o->col_text(rows, 4));
    iss->recipient = dup_or_null(o->col_text(rows, 5));
    iss->output_name = dup_or_null(o->col_text(rows, 6));
    t = o->col_text(rows, 7);
    snprintf(iss->output_sha256, sizeof(iss->output_sha256), "%s", t ? t : "");
    iss->codec = dup_or_null(o->col_text(rows, 8));
    iss->crf = (int)o->col_int(rows, 9);
    iss->strength = o->col_real(rows, 10);
    iss->receipt_json = dup_or_null(o->col_text(rows, 11));
    iss->content_fingerprint = dup_or_null(o->col_text(rows, 12));
    t = o->col_text(rows, 13);
    snprintf(iss->created_at, sizeof(iss->created_at), "%s", t ? t : "");
    iss->payload.version = (uint8_t)o->col_int(rows, 14);
    iss->payload.title_id = (uint32_t)o->col_int(rows, 15);
    iss->payload.recipient_id = (uint32_t)o->col_int(rows, 16);
    iss->payload.issued_minutes = (uint32_t)o->col_int(rows, 17);
    iss->payload.ai_use = (uint8_t)o->col_int(rows, 18);
    iss->mark_format = o->col_is_null(rows, 19) ? 0 : (int)o->col_int(rows, 19);
    if ((o->col_text(rows, 3) && !iss->owner) || (o->col_text(rows, 4) && !iss->title) ||
        (o->col_text(rows, 5) && !iss->recipient) || !iss->output_name || !iss->codec ||
        (o->col_text(rows, 11) && !iss->receipt_json) ||
        (o->col_text(rows, 12) && !iss->content_fingerprint)) {
        fm_issuance_clear(iss);
        return fm_error_set(err, FM_ENOMEM, "out of memory (or a row with a missing "
                                            "output name or codec)");
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* schema and migrations */

typedef struct Migration {
    int version;
    const char *sqlite_ddl, *pg_ddl;
    int (*code)(FmRegistry *reg, FmError *err);   /* after the DDL, may be NULL */
} Migration;

/* Version 2 added the AI-use field of the payload (issue 13): fill it in from
 * byte 13 of every message recorded before. */
static int migrate_ai_use(FmRegistry *reg, FmError *err)
{
    const FmDbOps *o = reg->ops;
    FmDbRows *rows = NULL;
    int r = o->query(reg->db, "SELECT id, message FROM issuance ORDER BY id", NULL, 0, &rows, err);
    if (r < 0)
        return r;
    size_t n = 0, cap = 0;
    struct { int64_t id; uint8_t ai; } *todo = NULL;
    while ((r = o->step(rows, err)) > 0) {
        size_t len;
        const uint8_t *m = o->col_blob(rows, 1, &len);
        if (!m || len != FM_MESSAGE_BYTES)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            void *p = realloc(todo, cap * sizeof(*todo));
            if (!p) {
                r = fm_error_set(err, FM_ENOMEM, "out of memory");
                break;
            }
            todo = p;
        }
        todo[n].id = o->col_int(rows, 0);
        todo[n].ai = m[FM_PAYLOAD_BYTES - 1];
        n++;
    }
    o->rows_free(&rows);
    for (size_t k = 0; r == 0 && k < n; k++) {
        FmDbParam p[2] = { fm_db_int(todo[k].ai), fm_db_int(todo[k].id) };
        r = o->query(reg->db, "UPDATE issuance SET ai_use = $1 WHERE id = $2", p, 2, NULL, err);
    }
    free(todo);
    return r;
}

static const Migration migrations[] = {
    { 1,
      /* SQLite */
      "CREATE TABLE issuance ("
      " id INTEGER PRIMARY KEY AUTOINCREMENT,"
      " key_fingerprint TEXT NOT NULL,"
      " version INTEGER NOT NULL,"
      " title_id INTEGER NOT NULL,"
      " recipient_id INTEGER NOT NULL,"
      " issued_minutes INTEGER NOT NULL,"
      " message BLOB NOT NULL,"
      " owner TEXT, title TEXT, recipient TEXT,"
      " output_name TEXT NOT NULL,"
      " output_sha256 TEXT NOT NULL,"
      " codec TEXT NOT NULL,"
      " crf INTEGER NOT NULL,"
      " strength REAL NOT NULL,"
      " receipt_json TEXT,"
      " created_at TEXT NOT NULL,"
      " UNIQUE (key_fingerprint, message, output_sha256));"
      "CREATE INDEX issuance_title ON issuance (title_id);",
      /* PostgreSQL */
      "CREATE TABLE issuance ("
      " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
      " key_fingerprint TEXT NOT NULL,"
      " version INTEGER NOT NULL,"
      " title_id BIGINT NOT NULL,"
      " recipient_id BIGINT NOT NULL,"
      " issued_minutes BIGINT NOT NULL,"
      " message BYTEA NOT NULL,"
      " owner TEXT, title TEXT, recipient TEXT,"
      " output_name TEXT NOT NULL,"
      " output_sha256 TEXT NOT NULL,"
      " codec TEXT NOT NULL,"
      " crf INTEGER NOT NULL,"
      " strength DOUBLE PRECISION NOT NULL,"
      " receipt_json TEXT,"
      " created_at TEXT NOT NULL,"
      " UNIQUE (key_fingerprint, message, output_sha256));"
      "CREATE INDEX issuance_title ON issuance (title_id);",
      NULL },
    { 2,
      "ALTER TABLE issuance ADD COLUMN ai_use INTEGER NOT NULL DEFAULT 0;"
      "ALTER TABLE issuance ADD COLUMN content_fingerprint TEXT;"
      "CREATE INDEX issuance_key ON issuance (key_fingerprint, id);"
      "CREATE INDEX issuance_recipient ON issuance (recipient_id);"
      "CREATE INDEX issuance_issued ON issuance (issued_minutes);",
      "ALTER TABLE issuance ADD COLUMN ai_use INTEGER NOT NULL DEFAULT 0;"
      "ALTER TABLE issuance ADD COLUMN content_fingerprint TEXT;"
      "CREATE INDEX issuance_key ON issuance (key_fingerprint, id);"
      "CREATE INDEX issuance_recipient ON issuance (recipient_id);"
      "CREATE INDEX issuance_issued ON issuance (issued_minutes);",
      migrate_ai_use },
    /* Version 3 records the mark format wmembed wrote (naming scores a
     * candidate under that format's codeword mask only); the rows before it
     * keep NULL, unknown. */
    { 3,
      "ALTER TABLE issuance ADD COLUMN mark_format INTEGER;",
      "ALTER TABLE issuance ADD COLUMN mark_format INTEGER;",
      NULL },
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == FM_REGISTRY_SCHEMA_VERSION,
               "one migration per schema version");

static int current_version(FmRegistry *reg, int *version, FmError *err)
{
    FmDbRows *rows = NULL;
    int r = reg->ops->query(reg->db, "SELECT MAX(version) FROM schema_version", NULL, 0, &rows, err);
    if (r < 0)
        return r;
    *version = 0;
    if ((r = reg->ops->step(rows, err)) > 0 && !reg->ops->col_is_null(rows, 0))
        *version = (int)reg->ops->col_int(rows, 0);
    reg->ops->rows_free(&rows);
    return r < 0 ? r : 0;
}

/* One attempt: lock, read the version, apply what is missing, commit. */
static int migrate_once(FmRegistry *reg, FmError *err)
{
    const FmDbOps *o = reg->ops;
    int r, version = 0;
    if ((r = o->begin(reg->db, err)) < 0)
        return r;
    if ((r = o->lock_schema(reg->db, err)) < 0 ||
        (r = o->exec(reg->db, "CREATE TABLE IF NOT EXISTS schema_version ("
                              " version INTEGER PRIMARY KEY,"
                              " applied_at TEXT NOT NULL)", err)) < 0 ||
        (r = current_version(reg, &version, err)) < 0)
        goto fail;
    if (version > FM_REGISTRY_SCHEMA_VERSION) {
        o->rollback(reg->db);
        return fm_error_set(err, FM_EFORMAT, "the registry has schema version %d, newer than "
                            "this filmmark knows (%d); upgrade filmmark", version,
                            FM_REGISTRY_SCHEMA_VERSION);
    }
    for (size_t k = 0; k < sizeof(migrations) / sizeof(migrations[0]); k++) {
        const Migration *m = &migrations[k];
        if (m->version <= version)
            continue;
        char now[21];
        fm_registry_now(now);
        FmDbParam p[2] = { fm_db_int(m->version), fm_db_text(now) };
        if ((r = o->exec(reg->db, o->kind == FM_DB_SQLITE ? m->sqlite_ddl : m->pg_ddl, err)) < 0 ||
            (m->code && (r = m->code(reg, err)) < 0) ||
            (r = o->query(reg->db, "INSERT INTO schema_version (version, applied_at) "
                                   "VALUES ($1, $2)", p, 2, NULL, err)) < 0)
            goto fail;
        version = m->version;
    }
    if ((r = o->commit(reg->db, err)) < 0)
        goto fail;
    reg->schema_version = version;
    return 0;
fail:
    o->rollback(reg->db);
    return r;
}

int fm_registry_open(FmRegistry **out, const char *location, FmError *err)
{
    *out = NULL;
    if (!location || !*location)
        return fm_error_set(err, FM_EINVAL, "empty registry location");
    FmRegistry *reg = calloc(1, sizeof(*reg));
    if (!reg)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    int r = fm_registry_is_postgres(location)
                ? fm_db_pg_open(location, &reg->db, &reg->ops, err)
                : fm_db_sqlite_open(location, &reg->db, &reg->ops, err);
    if (r < 0) {
        free(reg);
        return r;
    }
    /* up to date already (the usual case): no write lock needed */
    int version = 0;
    FmError ignored;
    if (current_version(reg, &version, &ignored) == 0 && version == FM_REGISTRY_SCHEMA_VERSION) {
        reg->schema_version = version;
        *out = reg;
        return 0;
    }
    for (int attempt = 0;; attempt++) {
        r = migrate_once(reg, err);
        if (r == 0 || r != FM_EIO || !reg->ops->retryable(reg->db) ||
            attempt >= FM_REGISTRY_RETRIES)
            break;
        fm_registry_backoff(attempt);
    }
    if (r < 0) {
        fm_registry_close(&reg);
        return r;
    }
    *out = reg;
    return 0;
}

void fm_registry_close(FmRegistry **reg)
{
    if (!reg || !*reg)
        return;
    if ((*reg)->ops)
        (*reg)->ops->close(&(*reg)->db);
    free(*reg);
    *reg = NULL;
}

int fm_registry_schema_version(FmRegistry *reg) { return reg->schema_version; }
const char *fm_registry_backend(const FmRegistry *reg) { return reg->ops->name; }

/* ------------------------------------------------------------------ */
/* adding */

static int is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t k = 0; k < n; k++)
        if (!((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f')))
            return 0;
    return 1;
}

int fm_registry_insert(FmRegistry *reg, const FmIssuance *iss, const FmKey *key, int64_t *id,
                       FmError *err)
{
    const FmDbOps *o = reg->ops;
    FmPayload p;
    if (!is_hex(iss->key_fingerprint, FM_FINGERPRINT_CHARS))
        return fm_error_set(err, FM_EINVAL, "key fingerprint '%s' is not %d lowercase hex digits",
                            iss->key_fingerprint, FM_FINGERPRINT_CHARS);
    if (!is_hex(iss->output_sha256, 64))
        return fm_error_set(err, FM_EINVAL, "output SHA-256 is not 64 lowercase hex digits");
    if (!iss->output_name || !iss->codec)
        return fm_error_set(err, FM_EINVAL, "an issuance needs an output name and a codec");
    if (iss->mark_format < 0 || iss->mark_format > FM_REGISTRY_MARK_FORMAT_MAX)
        return fm_error_set(err, FM_EINVAL, "mark format %d is not 1..%d (or 0, unknown)",
                            iss->mark_format, FM_REGISTRY_MARK_FORMAT_MAX);
    if (fm_payload_unpack(iss->message, &p, err) < 0)
        return FM_EFORMAT;
    if (key) {
        char fp[FM_FINGERPRINT_CHARS + 1];
        fm_key_fingerprint(key, fp);
        if (strcmp(fp, iss->key_fingerprint) != 0)
            return fm_error_set(err, FM_EINVAL, "issuance names key %s, the key given is %s",
                                iss->key_fingerprint, fp);
        if (fm_payload_verify(iss->message, key) != 0)
            return fm_error_set(err, FM_ECRYPTO, "the message's signature does not verify "
                                                 "under key %s", fp);
    }
    char now[21];
    const char *created = iss->created_at;
    if (!*created) {
        fm_registry_now(now);
        created = now;
    }
    FmDbParam v[19] = {
        fm_db_text(iss->key_fingerprint), fm_db_int(p.version), fm_db_int(p.title_id),
        fm_db_int(p.recipient_id), fm_db_int(p.issued_minutes), fm_db_int(p.ai_use),
        fm_db_blob(iss->message, FM_MESSAGE_BYTES), fm_db_text(iss->owner),
        fm_db_text(iss->title), fm_db_text(iss->recipient), fm_db_text(iss->output_name),
        fm_db_text(iss->output_sha256), fm_db_text(iss->codec), fm_db_int(iss->crf),
        fm_db_real(iss->strength), fm_db_text(iss->receipt_json),
        fm_db_text(iss->content_fingerprint), fm_db_text(created),
        iss->mark_format ? fm_db_int(iss->mark_format) : (FmDbParam){ .type = FM_DB_NULL },
    };
    FmDbRows *rows = NULL;
    int r = o->query(reg->db,
        "INSERT INTO issuance (key_fingerprint, version, title_id, recipient_id,"
        " issued_minutes, ai_use, message, owner, title, recipient, output_name,"
        " output_sha256, codec, crf, strength, receipt_json, content_fingerprint, created_at,"
        " mark_format)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
        " $17, $18, $19) ON CONFLICT DO NOTHING RETURNING id", v, 19, &rows, err);
    if (r < 0)
        return r;
    if ((r = o->step(rows, err)) > 0) {
        *id = o->col_int(rows, 0);
        r = 0;
    } else if (r == 0) {
        o->rows_free(&rows);
        FmDbParam k[3] = { fm_db_text(iss->key_fingerprint),
                           fm_db_blob(iss->message, FM_MESSAGE_BYTES),
                           fm_db_text(iss->output_sha256) };
        if ((r = o->query(reg->db, "SELECT id FROM issuance WHERE key_fingerprint = $1"
                                   " AND message = $2 AND output_sha256 = $3", k, 3, &rows, err)) < 0)
            return r;
        if ((r = o->step(rows, err)) > 0) {
            *id = o->col_int(rows, 0);
            r = 1;
        } else if (r == 0) {
            r = fm_error_set(err, FM_EIO, "registry: the row was neither added nor found");
        }
    }
    o->rows_free(&rows);
    return r;
}

int fm_registry_add(FmRegistry *reg, const FmIssuance *iss, const FmKey *key, int64_t *id,
                    FmError *err)
{
    const FmDbOps *o = reg->ops;
    int64_t tmp;
    if (!id)
        id = &tmp;
    for (int attempt = 0;; attempt++) {
        int r = o->begin(reg->db, err);
        if (r == 0) {
            r = fm_registry_insert(reg, iss, key, id, err);
            if (r >= 0) {
                int c = o->commit(reg->db, err);
                if (c == 0)
                    return r;
                r = c;
            }
        }
        o->rollback(reg->db);
        if (r != FM_EIO || !o->retryable(reg->db) || attempt >= FM_REGISTRY_RETRIES)
            return r;
        fm_registry_backoff(attempt);
    }
}

/* ------------------------------------------------------------------ */
/* reading */

int fm_registry_get(FmRegistry *reg, int64_t id, FmIssuance **out, FmError *err)
{
    *out = NULL;
    FmDbRows *rows = NULL;
    FmDbParam p = fm_db_int(id);
    int r = reg->ops->query(reg->db, "SELECT " FM_REGISTRY_COLUMNS " FROM issuance WHERE id = $1",
                            &p, 1, &rows, err);
    if (r < 0)
        return r;
    r = reg->ops->step(rows, err);
    if (r == 0)
        r = fm_error_set(err, FM_ENOTFOUND, "no issuance %lld in the registry", (long long)id);
    if (r > 0) {
        FmIssuance *iss = calloc(1, sizeof(*iss));
        if (!iss)
            r = fm_error_set(err, FM_ENOMEM, "out of memory");
        else if ((r = fm_registry_read_row(reg, rows, iss, err)) < 0)
            free(iss);
        else
            *out = iss;
    }
    reg->ops->rows_free(&rows);
    return r;
}

int fm_registry_list(FmRegistry *reg, const FmRegistryFilter *f, FmIssuanceList *out,
                     FmError *err)
{
    /* the WHERE clause is assembled from fixed fragments; values are parameters */
    char sql[1024];
    FmDbParam p[5];
    int n = 0;
    size_t len = (size_t)snprintf(sql, sizeof(sql), "SELECT " FM_REGISTRY_COLUMNS
                                  " FROM issuance WHERE 1 = 1");
#define COND(flag, column, op, value)                                                  \
    if (f && (flag)) {                                                                 \
        p[n] = (value);                                                                \
        n++;                                                                           \
        len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND " column " " op " $%d", n); \
    }
    COND(f->have_title_id, "title_id", "=", fm_db_int(f->title_id));
    COND(f->have_recipient_id, "recipient_id", "=", fm_db_int(f->recipient_id));
    COND(f->have_since, "issued_minutes", ">=", fm_db_int(f->since_minutes));
    COND(f->have_until, "issued_minutes", "<=", fm_db_int(f->until_minutes));
    COND(f->key_fingerprint != NULL, "key_fingerprint", "=", fm_db_text(f->key_fingerprint));
#undef COND
    snprintf(sql + len, sizeof(sql) - len, " ORDER BY id");

    out->count = 0;
    out->items = NULL;
    FmDbRows *rows = NULL;
    int r = reg->ops->query(reg->db, sql, p, n, &rows, err);
    if (r < 0)
        return r;
    size_t cap = 0;
    while ((r = reg->ops->step(rows, err)) > 0) {
        if (out->count == cap) {
            cap = cap ? 2 * cap : 16;
            FmIssuance *items = realloc(out->items, cap * sizeof(*items));
            if (!items) {
                r = fm_error_set(err, FM_ENOMEM, "out of memory");
                break;
            }
            out->items = items;
        }
        if ((r = fm_registry_read_row(reg, rows, &out->items[out->count], err)) < 0)
            break;
        out->count++;
    }
    reg->ops->rows_free(&rows);
    if (r < 0)
        fm_issuance_list_free(out);
    return r < 0 ? r : 0;
}

int fm_registry_messages(FmRegistry *reg, const char *key_fingerprint, FmIssuedMessage **out,
                         size_t *count, FmError *err)
{
    const FmDbOps *o = reg->ops;
    *out = NULL;
    *count = 0;
    FmDbRows *rows = NULL;
    FmDbParam p = fm_db_text(key_fingerprint);
    int r = o->query(reg->db, "SELECT id, message, title_id, recipient_id, issued_minutes, ai_use,"
                              " recipient, title, output_name, mark_format FROM issuance"
                              " WHERE key_fingerprint = $1 ORDER BY id", &p, 1, &rows, err);
    if (r < 0)
        return r;
    /* rows first, strings in a side buffer as offsets; then one block */
    FmIssuedMessage *msgs = NULL;
    size_t n = 0, cap = 0, slen = 0, scap = 0;
    char *strs = NULL;
    size_t (*offs)[3] = NULL;
    while ((r = o->step(rows, err)) > 0) {
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            void *a = realloc(msgs, cap * sizeof(*msgs)), *b = a ? realloc(offs, cap * sizeof(*offs)) : NULL;
            if (a)
                msgs = a;
            if (b)
                offs = b;
            if (!a || !b) {
                r = fm_error_set(err, FM_ENOMEM, "out of memory");
                break;
            }
        }
        FmIssuedMessage *m = &msgs[n];
        memset(m, 0, sizeof(*m));
        m->id = o->col_int(rows, 0);
        size_t bl;
        const uint8_t *b = o->col_blob(rows, 1, &bl);
        if (b)
            memcpy(m->message, b, bl < FM_MESSAGE_BYTES ? bl : FM_MESSAGE_BYTES);
        m->title_id = (uint32_t)o->col_int(rows, 2);
        m->recipient_id = (uint32_t)o->col_int(rows, 3);
        m->issued_minutes = (uint32_t)o->col_int(rows, 4);
        m->ai_use = (uint8_t)o->col_int(rows, 5);
        m->mark_format = o->col_is_null(rows, 9) ? 0 : (int)o->col_int(rows, 9);
        for (int c = 0; c < 3; c++) {
            const char *s = o->col_text(rows, 6 + c);
            offs[n][c] = SIZE_MAX;
            if (!s)
                continue;
            size_t l = strlen(s) + 1;
            if (slen + l > scap) {
                size_t ncap = scap ? 2 * scap : 4096;
                while (ncap < slen + l)
                    ncap *= 2;
                char *ns = realloc(strs, ncap);
                if (!ns) {
                    r = fm_error_set(err, FM_ENOMEM, "out of memory");
                    goto done;
                }
                strs = ns;
                scap = ncap;
            }
            memcpy(strs + slen, s, l);
            offs[n][c] = slen;
            slen += l;
        }
        n++;
    }
done:
    o->rows_free(&rows);
    if (r >= 0) {
        FmIssuedMessage *block = malloc(n * sizeof(*block) + slen + 1);
        if (!block) {
            r = fm_error_set(err, FM_ENOMEM, "out of memory");
        } else {
            char *sb = (char *)(block + n);
            if (slen)
                memcpy(sb, strs, slen);
            for (size_t k = 0; k < n; k++) {
                block[k] = msgs[k];
                block[k].recipient = offs[k][0] == SIZE_MAX ? NULL : sb + offs[k][0];
                block[k].title = offs[k][1] == SIZE_MAX ? NULL : sb + offs[k][1];
                block[k].output_name = offs[k][2] == SIZE_MAX ? NULL : sb + offs[k][2];
            }
            *out = block;
            *count = n;
            r = 0;
        }
    }
    free(msgs);
    free(offs);
    free(strs);
    return r;
}

/* ------------------------------------------------------------------ */
/* verification */

/* The receipt's strength: a JSON number (receipt format 1) or a decimal
 * string with 3 places (format 2, docs/RECEIPT.md). */
static int same_strength(const json_t *strength, double value)
{
    if (json_is_number(strength))
        return json_number_value(strength) == value;
    if (!json_is_string(strength))
        return 0;
    char *end;
    double v = strtod(json_string_value(strength), &end);
    return !*end && v == value;
}

static int same_opt_string(json_t *obj, const char *member, const char *value)
{
    json_t *j = obj ? json_object_get(obj, member) : NULL;
    if (!value)
        return j == NULL;
    return json_is_string(j) && strcmp(json_string_value(j), value) == 0;
}

/* The receipt (docs/RECEIPT.md) is signed by key and says what the row says. */
static int verify_receipt(const FmIssuance *iss, const FmKey *key, FmError *err)
{
    json_error_t jerr;
    json_t *doc = json_loads(iss->receipt_json, 0, &jerr);
    json_t *body = doc ? json_object_get(doc, "receipt") : NULL;
    json_t *sigj = doc ? json_object_get(doc, "receipt_signature") : NULL;
    uint8_t sig[crypto_sign_BYTES];
    int r = FM_ECRYPTO;
    if (!json_is_object(body) || !json_is_string(sigj) ||
        fm_unhex(json_string_value(sigj), sig, sizeof(sig)) != 0) {
        fm_error_set(err, r, "the recorded receipt is not a filmmark receipt");
        goto out;
    }
    char *canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    if (!canon) {
        r = fm_error_set(err, FM_ENOMEM, "out of memory");
        goto out;
    }
    int bad = crypto_sign_verify_detached(sig, (const unsigned char *)canon, strlen(canon),
                                          key->sign_pk);
    free(canon);
    if (bad) {
        fm_error_set(err, r, "the recorded receipt's signature does not verify");
        goto out;
    }
    char msg_hex[2 * FM_MESSAGE_BYTES + 1];
    fm_hex(iss->message, FM_MESSAGE_BYTES, msg_hex);
    json_t *names = json_object_get(body, "names"), *output = json_object_get(body, "output");
    json_t *settings = json_object_get(body, "settings");
    json_t *crf = json_object_get(settings, "crf"), *strength = json_object_get(settings, "strength");
    const char *what = NULL;
    if (!same_opt_string(body, "message_hex", msg_hex))
        what = "message";
    else if (!same_opt_string(body, "key_fingerprint", iss->key_fingerprint))
        what = "key fingerprint";
    else if (!same_opt_string(names, "owner", iss->owner) ||
             !same_opt_string(names, "title", iss->title) ||
             !same_opt_string(names, "recipient", iss->recipient))
        what = "names";
    else if (!same_opt_string(output, "file", iss->output_name))
        what = "output name";
    else if (!same_opt_string(output, "sha256", iss->output_sha256))
        what = "output SHA-256";
    else if (!same_opt_string(settings, "codec", iss->codec) || !json_is_integer(crf) ||
             json_integer_value(crf) != iss->crf || !same_strength(strength, iss->strength))
        what = "settings";
    else if (!same_opt_string(body, "content_fingerprint", iss->content_fingerprint))
        what = "content fingerprint";
    if (what) {
        fm_error_set(err, r, "the row's %s differs from its signed receipt", what);
        goto out;
    }
    r = 0;
out:
    json_decref(doc);
    return r;
}

int fm_issuance_verify(const FmIssuance *iss, FmKey *const *keys, size_t nkeys, FmError *err)
{
    const FmKey *key = NULL;
    for (size_t k = 0; k < nkeys && !key; k++) {
        char fp[FM_FINGERPRINT_CHARS + 1];
        fm_key_fingerprint(keys[k], fp);
        if (strcmp(fp, iss->key_fingerprint) == 0)
            key = keys[k];
    }
    if (!key)
        return fm_error_set(err, FM_ENOTFOUND, "no key given for fingerprint %s",
                            iss->key_fingerprint);
    if (fm_payload_verify(iss->message, key) != 0)
        return fm_error_set(err, FM_ECRYPTO, "the message's signature does not verify");
    FmPayload p;
    FmError perr;
    if (fm_payload_unpack(iss->message, &p, &perr) < 0)
        return fm_error_set(err, FM_ECRYPTO, "the message does not decode: %s", perr.msg);
    if (p.version != iss->payload.version || p.title_id != iss->payload.title_id ||
        p.recipient_id != iss->payload.recipient_id ||
        p.issued_minutes != iss->payload.issued_minutes || p.ai_use != iss->payload.ai_use)
        return fm_error_set(err, FM_ECRYPTO, "the row's payload fields differ from its signed "
                                             "message (title %u, recipient %u, issued %u, "
                                             "AI use %u)", p.title_id, p.recipient_id,
                            p.issued_minutes, p.ai_use);
    if (iss->receipt_json)
        return verify_receipt(iss, key, err);
    return 0;
}
