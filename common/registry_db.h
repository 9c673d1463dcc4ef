/*
 * registry_db.h - the small database layer under the registry (internal:
 * used by registry*.c only). Two backends, SQLite (registry_sqlite.c) and
 * PostgreSQL (registry_pg.c), behind one table of functions.
 *
 * Every statement with values is parameterised: SQL text carries $1, $2, ...
 * placeholders (both SQLite and PostgreSQL accept that spelling) and the
 * values travel separately as FmDbParam. No value is ever pasted into SQL.
 */
#ifndef FM_REGISTRY_DB_H
#define FM_REGISTRY_DB_H

#include <stddef.h>
#include <stdint.h>

#include "fm_error.h"

typedef enum FmDbType {
    FM_DB_NULL,
    FM_DB_INT,    /* 64-bit integer */
    FM_DB_REAL,   /* double */
    FM_DB_TEXT,   /* NUL-terminated UTF-8 */
    FM_DB_BLOB,   /* bytes */
} FmDbType;

typedef struct FmDbParam {
    FmDbType type;
    int64_t i;
    double d;
    const void *p;   /* TEXT: const char *; BLOB: bytes */
    size_t len;      /* BLOB length */
} FmDbParam;

/* Convenience constructors. */
static inline FmDbParam fm_db_int(int64_t v) { return (FmDbParam){ .type = FM_DB_INT, .i = v }; }
static inline FmDbParam fm_db_real(double v) { return (FmDbParam){ .type = FM_DB_REAL, .d = v }; }
static inline FmDbParam fm_db_text(const char *s)
{
    return (FmDbParam){ .type = s ? FM_DB_TEXT : FM_DB_NULL, .p = s };
}
static inline FmDbParam fm_db_blob(const void *p, size_t n)
{
    return (FmDbParam){ .type = FM_DB_BLOB, .p = p, .len = n };
}

typedef struct FmDb FmDb;         /* a connection (backend-specific) */
typedef struct FmDbRows FmDbRows; /* the result of one query */

typedef enum FmDbKind { FM_DB_SQLITE = 1, FM_DB_POSTGRES = 2 } FmDbKind;

typedef struct FmDbOps {
    FmDbKind kind;
    const char *name;   /* "sqlite", "postgresql" */
    /* Statements without parameters (DDL); may hold several separated by ';'. */
    int (*exec)(FmDb *db, const char *sql, FmError *err);
    /* Runs one statement with parameters; *rows (when rows is not NULL) holds
     * its result rows, read with step() and the col_* functions. */
    int (*query)(FmDb *db, const char *sql, const FmDbParam *params, int nparams,
                 FmDbRows **rows, FmError *err);
    /* Moves to the next row: 1 there is one, 0 no more, < 0 an error. */
    int (*step)(FmDbRows *rows, FmError *err);
    int (*col_is_null)(FmDbRows *rows, int col);
    int64_t (*col_int)(FmDbRows *rows, int col);
    double (*col_real)(FmDbRows *rows, int col);
    /* Valid until the next step() or rows_free(); NULL for SQL NULL. */
    const char *(*col_text)(FmDbRows *rows, int col);
    const uint8_t *(*col_blob)(FmDbRows *rows, int col, size_t *len);
    void (*rows_free)(FmDbRows **rows);
    /* A write transaction: SQLite BEGIN IMMEDIATE (waits for the write lock
     * up to the busy timeout), PostgreSQL BEGIN. */
    int (*begin)(FmDb *db, FmError *err);
    int (*commit)(FmDb *db, FmError *err);
    void (*rollback)(FmDb *db);
    /* Serialises schema changes between processes inside the transaction
     * begun by begin() (PostgreSQL: an advisory lock; SQLite: the write lock
     * BEGIN IMMEDIATE already holds). */
    int (*lock_schema)(FmDb *db, FmError *err);
    /* 1 when err came from a transient conflict that a retry of the whole
     * transaction may cure (SQLite BUSY/LOCKED, PostgreSQL serialisation
     * failure or deadlock). */
    int (*retryable)(FmDb *db);
    void (*close)(FmDb **db);
} FmDbOps;

/* Open a connection. path: a file name; conninfo: a postgresql:// URL. */
int fm_db_sqlite_open(const char *path, FmDb **db, const FmDbOps **ops, FmError *err);
int fm_db_pg_open(const char *conninfo, FmDb **db, const FmDbOps **ops, FmError *err);

#endif
