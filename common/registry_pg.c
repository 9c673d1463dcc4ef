/*
 * registry_pg.c - the PostgreSQL backend of the registry's database layer
 * (registry_db.h), over libpq. Values are sent with PQexecParams (text for
 * numbers and strings, binary for bytea); results come back as text.
 */
#include "registry_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

struct FmDb {
    PGconn *conn;
    char sqlstate[6];   /* of the last failure */
};

struct FmDbRows {
    FmDb *db;
    PGresult *res;
    int row, nrows;
    unsigned char *blob;   /* the last unescaped bytea */
};

/* libpq prints server notices to stderr by default; the library does not print */
static void quiet_notices(void *arg, const char *message) { (void)arg; (void)message; }

static void chomp_copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
    size_t len = strlen(dst);
    while (len && (dst[len - 1] == '\n' || dst[len - 1] == ' '))
        dst[--len] = 0;
}

static int res_fail(FmDb *db, PGresult *res, FmError *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
    char msg[400];
    chomp_copy(msg, sizeof(msg), res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
    if (!*msg)
        chomp_copy(msg, sizeof(msg), PQerrorMessage(db->conn));
    PQclear(res);
    return fm_error_set(err, FM_EIO, "registry: postgresql: %s", msg);
}

static int pg_exec(FmDb *db, const char *sql, FmError *err)
{
    PGresult *res = PQexec(db->conn, sql);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        return res_fail(db, res, err);
    PQclear(res);
    return 0;
}

#define MAX_PARAMS 32

static int pg_query(FmDb *db, const char *sql, const FmDbParam *params, int n,
                    FmDbRows **rows, FmError *err)
{
    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS], formats[MAX_PARAMS];
    char numbers[MAX_PARAMS][32];

    if (n > MAX_PARAMS)
        return fm_error_set(err, FM_EINVAL, "registry: too many parameters");
    for (int k = 0; k < n; k++) {
        const FmDbParam *p = &params[k];
        lengths[k] = 0;
        formats[k] = 0;
        switch (p->type) {
        case FM_DB_INT:
            snprintf(numbers[k], sizeof(numbers[k]), "%lld", (long long)p->i);
            values[k] = numbers[k];
            break;
        case FM_DB_REAL:
            snprintf(numbers[k], sizeof(numbers[k]), "%.17g", p->d);
            values[k] = numbers[k];
            break;
        case FM_DB_TEXT:
            values[k] = p->p;
            break;
        case FM_DB_BLOB:
            values[k] = p->p;
            lengths[k] = (int)p->len;
            formats[k] = 1;
            break;
        default:
            values[k] = NULL;
            break;
        }
    }
    PGresult *res = PQexecParams(db->conn, sql, n, NULL, values, lengths, formats, 0);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        return res_fail(db, res, err);
    if (!rows) {
        PQclear(res);
        return 0;
    }
    FmDbRows *r = calloc(1, sizeof(*r));
    if (!r) {
        PQclear(res);
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    }
    r->db = db;
    r->res = res;
    r->row = -1;
    r->nrows = PQntuples(res);
    *rows = r;
    return 0;
}

static int pg_step(FmDbRows *r, FmError *err)
{
    (void)err;
    PQfreemem(r->blob);
    r->blob = NULL;
    if (r->row + 1 >= r->nrows) {
        r->row = r->nrows;
        return 0;
    }
    r->row++;
    return 1;
}

static int pg_is_null(FmDbRows *r, int c) { return PQgetisnull(r->res, r->row, c); }

static int64_t pg_int(FmDbRows *r, int c)
{
    return PQgetisnull(r->res, r->row, c) ? 0 : strtoll(PQgetvalue(r->res, r->row, c), NULL, 10);
}

static double pg_real(FmDbRows *r, int c)
{
    return PQgetisnull(r->res, r->row, c) ? 0 : strtod(PQgetvalue(r->res, r->row, c), NULL);
}

static const char *pg_text(FmDbRows *r, int c)
{
    return PQgetisnull(r->res, r->row, c) ? NULL : PQgetvalue(r->res, r->row, c);
}

static const uint8_t *pg_blob(FmDbRows *r, int c, size_t *len)
{
    *len = 0;
    if (PQgetisnull(r->res, r->row, c))
        return NULL;
    PQfreemem(r->blob);
    r->blob = PQunescapeBytea((const unsigned char *)PQgetvalue(r->res, r->row, c), len);
    return r->blob;
}

static void pg_rows_free(FmDbRows **r)
{
    if (!r || !*r)
        return;
    PQfreemem((*r)->blob);
    PQclear((*r)->res);
    free(*r);
    *r = NULL;
}

static int pg_begin(FmDb *db, FmError *err) { return pg_exec(db, "BEGIN", err); }
static int pg_commit(FmDb *db, FmError *err) { return pg_exec(db, "COMMIT", err); }

static void pg_rollback(FmDb *db)
{
    if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
        PQclear(PQexec(db->conn, "ROLLBACK"));
}

/* One constant lock id ("fmreg") for every filmmark registry schema change. */
static int pg_lock_schema(FmDb *db, FmError *err)
{
    return pg_exec(db, "SELECT pg_advisory_xact_lock(439308625767)", err);
}

static int pg_retryable(FmDb *db)
{
    /* serialization_failure, deadlock_detected, unique_violation (two
     * sessions creating the same catalogue entry at once) */
    return strcmp(db->sqlstate, "40001") == 0 || strcmp(db->sqlstate, "40P01") == 0 ||
           strcmp(db->sqlstate, "23505") == 0;
}

static void pg_close(FmDb **db)
{
    if (!db || !*db)
        return;
    PQfinish((*db)->conn);
    free(*db);
    *db = NULL;
}

static const FmDbOps pg_ops = {
    .kind = FM_DB_POSTGRES,
    .name = "postgresql",
    .exec = pg_exec,
    .query = pg_query,
    .step = pg_step,
    .col_is_null = pg_is_null,
    .col_int = pg_int,
    .col_real = pg_real,
    .col_text = pg_text,
    .col_blob = pg_blob,
    .rows_free = pg_rows_free,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .lock_schema = pg_lock_schema,
    .retryable = pg_retryable,
    .close = pg_close,
};

int fm_db_pg_open(const char *conninfo, FmDb **out, const FmDbOps **ops, FmError *err)
{
    FmDb *db = calloc(1, sizeof(*db));
    if (!db)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    db->conn = PQconnectdb(conninfo);
    if (!db->conn) {
        free(db);
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    }
    if (PQstatus(db->conn) != CONNECTION_OK) {
        char msg[400];
        chomp_copy(msg, sizeof(msg), PQerrorMessage(db->conn));
        /* the URL may hold a password: name the server only by libpq's words */
        fm_error_set(err, FM_EIO, "cannot connect to the PostgreSQL registry: %s", msg);
        pg_close(&db);
        return FM_EIO;
    }
    PQsetNoticeProcessor(db->conn, quiet_notices, NULL);
    /* UTC timestamps and UTF-8 text whatever the server's defaults */
    if (pg_exec(db, "SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC'", err) < 0) {
        pg_close(&db);
        return FM_EIO;
    }
    *out = db;
    *ops = &pg_ops;
    return 0;
}
