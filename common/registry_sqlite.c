/*
 * registry_sqlite.c - the SQLite backend of the registry's database layer
 * (registry_db.h): one file, WAL journal, a busy timeout, BEGIN IMMEDIATE for
 * writes, so that several processes can add issuances at once.
 */
#include "registry_db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 60000

struct FmDb {
    sqlite3 *h;
    int last_rc;    /* primary result code of the last failure */
};

struct FmDbRows {
    FmDb *db;
    sqlite3_stmt *st;
};

static int db_fail(FmDb *db, int rc, FmError *err, const char *what)
{
    db->last_rc = rc & 0xff;
    return fm_error_set(err, FM_EIO, "registry: %s: %s", what,
                        db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
}

static int sq_exec(FmDb *db, const char *sql, FmError *err)
{
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return db_fail(db, rc, err, "sqlite");
    return 0;
}

static int bind_all(FmDb *db, sqlite3_stmt *st, const FmDbParam *params, int n, FmError *err)
{
    for (int k = 0; k < n; k++) {
        char name[16];
        snprintf(name, sizeof(name), "$%d", k + 1);
        int idx = sqlite3_bind_parameter_index(st, name);
        if (idx == 0)
            continue;   /* a parameter the statement does not use */
        const FmDbParam *p = &params[k];
        int rc;
        switch (p->type) {
        case FM_DB_INT: rc = sqlite3_bind_int64(st, idx, p->i); break;
        case FM_DB_REAL: rc = sqlite3_bind_double(st, idx, p->d); break;
        case FM_DB_TEXT: rc = sqlite3_bind_text(st, idx, p->p, -1, SQLITE_TRANSIENT); break;
        case FM_DB_BLOB: rc = sqlite3_bind_blob(st, idx, p->p, (int)p->len, SQLITE_TRANSIENT); break;
        default: rc = sqlite3_bind_null(st, idx); break;
        }
        if (rc != SQLITE_OK)
            return db_fail(db, rc, err, "binding a value");
    }
    return 0;
}

static int sq_query(FmDb *db, const char *sql, const FmDbParam *params, int nparams,
                    FmDbRows **rows, FmError *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_fail(db, rc, err, "preparing a statement");
    if (bind_all(db, st, params, nparams, err) < 0) {
        sqlite3_finalize(st);
        return FM_EIO;
    }
    if (rows) {
        FmDbRows *r = calloc(1, sizeof(*r));
        if (!r) {
            sqlite3_finalize(st);
            return fm_error_set(err, FM_ENOMEM, "out of memory");
        }
        r->db = db;
        r->st = st;
        *rows = r;
        return 0;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE) {
        db_fail(db, rc, err, "sqlite");
        sqlite3_finalize(st);
        return FM_EIO;
    }
    sqlite3_finalize(st);
    return 0;
}

static int sq_step(FmDbRows *r, FmError *err)
{
    int rc = sqlite3_step(r->st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return db_fail(r->db, rc, err, "sqlite");
}

static int sq_is_null(FmDbRows *r, int c) { return sqlite3_column_type(r->st, c) == SQLITE_NULL; }
static int64_t sq_int(FmDbRows *r, int c) { return sqlite3_column_int64(r->st, c); }
static double sq_real(FmDbRows *r, int c) { return sqlite3_column_double(r->st, c); }

static const char *sq_text(FmDbRows *r, int c)
{
    if (sqlite3_column_type(r->st, c) == SQLITE_NULL)
        return NULL;
    return (const char *)sqlite3_column_text(r->st, c);
}

static const uint8_t *sq_blob(FmDbRows *r, int c, size_t *len)
{
    const void *p = sqlite3_column_blob(r->st, c);
    *len = (size_t)sqlite3_column_bytes(r->st, c);
    return p;
}

static void sq_rows_free(FmDbRows **r)
{
    if (!r || !*r)
        return;
    sqlite3_finalize((*r)->st);
    free(*r);
    *r = NULL;
}

static int sq_begin(FmDb *db, FmError *err) { return sq_exec(db, "BEGIN IMMEDIATE", err); }
static int sq_commit(FmDb *db, FmError *err) { return sq_exec(db, "COMMIT", err); }

static void sq_rollback(FmDb *db)
{
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_lock_schema(FmDb *db, FmError *err) { return 0; }

static int sq_retryable(FmDb *db)
{
    return db->last_rc == SQLITE_BUSY || db->last_rc == SQLITE_LOCKED;
}

static void sq_close(FmDb **db)
{
    if (!db || !*db)
        return;
    sqlite3_close((*db)->h);
    free(*db);
    *db = NULL;
}

static const FmDbOps sqlite_ops = {
    .kind = FM_DB_SQLITE,
    .name = "sqlite",
    .exec = sq_exec,
    .query = sq_query,
    .step = sq_step,
    .col_is_null = sq_is_null,
    .col_int = sq_int,
    .col_real = sq_real,
    .col_text = sq_text,
    .col_blob = sq_blob,
    .rows_free = sq_rows_free,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .lock_schema = sq_lock_schema,
    .retryable = sq_retryable,
    .close = sq_close,
};

int fm_db_sqlite_open(const char *path, FmDb **out, const FmDbOps **ops, FmError *err)
{
    /* create the file ourselves so that it is 0600 whatever the umask;
     * SQLite gives its -wal and -shm files the database file's mode */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return fm_error_set(err, FM_EIO, "cannot open registry '%s': %s", path, strerror(errno));
    close(fd);

    FmDb *db = calloc(1, sizeof(*db));
    if (!db)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    int rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        fm_error_set(err, FM_EIO, "cannot open registry '%s': %s", path,
                     db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
        sq_close(&db);
        return FM_EIO;
    }
    sqlite3_extended_result_codes(db->h, 0);
    sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
    /* WAL: readers never block the writer. Switching a new file to it
     * needs a moment of exclusive access; SQLite does not wait for that
     * through the busy handler when another connection holds a shared lock
     * and wants the same (it answers SQLITE_BUSY at once, to avoid a
     * deadlock): several wmembed runs creating one registry together then
     * failed. So the switch is retried, up to the busy timeout. */
    sqlite3_stmt *st = NULL;
    int wal = 0;
    for (long waited_ms = 0;; waited_ms += 10) {
        rc = sqlite3_prepare_v2(db->h, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        wal = mode && strcmp(mode, "wal") == 0;
        sqlite3_finalize(st);
        st = NULL;
        if (wal || (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited_ms >= BUSY_TIMEOUT_MS)
            break;
        sqlite3_sleep(10);
    }
    if (!wal) {
        fm_error_set(err, FM_EIO, "registry '%s' is not a usable SQLite database: %s", path,
                     rc == SQLITE_ROW ? "cannot use the WAL journal" : sqlite3_errmsg(db->h));
        sq_close(&db);
        return FM_EIO;
    }
    if (sq_exec(db, "PRAGMA synchronous=FULL", err) < 0) {
        sq_close(&db);
        return FM_EIO;
    }
    *out = db;
    *ops = &sqlite_ops;
    return 0;
}
