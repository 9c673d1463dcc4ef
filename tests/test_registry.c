/*
 * test_registry.c - the registry of issued marks, every case on both
 * backends: SQLite (a temporary file) and PostgreSQL (a fresh database on
 * the server named by $FILMMARK_TEST_PG, which scripts/test.sh starts with
 * scripts/pg_test_server.sh). Without FILMMARK_TEST_PG the PostgreSQL cases
 * fail and say how to start a server; FILMMARK_TEST_PG=skip skips them.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "keys.h"
#include "payload.h"
#include "receipt.h"
#include "registry.h"
#include "testutil.h"
#include "tool_util.h"
#include "version.h"

static FmKey *key_a, *key_b;
static char *tmpdir;
static char fp_a[FM_FINGERPRINT_CHARS + 1], fp_b[FM_FINGERPRINT_CHARS + 1];

static void setup(void)
{
    FmError err = {{0}};
    cr_assert_eq(fm_init(&err), 0, "%s", err.msg);
    key_a = fm_key_new();
    key_b = fm_key_new();
    cr_assert(key_a && key_b);
    tu_fixed_key(key_a, 901);
    tu_fixed_key(key_b, 902);
    fm_key_fingerprint(key_a, fp_a);
    fm_key_fingerprint(key_b, fp_b);
    tmpdir = tu_mkdtemp();
}

static void teardown(void)
{
    fm_key_free(&key_a);
    fm_key_free(&key_b);
    tu_rmtree(tmpdir);
    tmpdir = NULL;
}

/* ------------------------------------------------------------------ */
/* locations: a fresh SQLite file or a fresh PostgreSQL database */

typedef enum { BK_SQLITE, BK_PG } Backend;

static char loc_buf[2][1024];

static void quiet_notices(void *arg, const char *message) { (void)arg; (void)message; }

/* A new, empty database on the test server; the URL in out. */
static void pg_fresh(const char *name, char *out, size_t len)
{
    const char *url = getenv("FILMMARK_TEST_PG");
    if (url && strcmp(url, "skip") == 0)
        cr_skip_test("FILMMARK_TEST_PG=skip: PostgreSQL case skipped");
    if (!url || !*url)
        cr_assert_fail("FILMMARK_TEST_PG is not set: start a server with "
                "url=$(scripts/pg_test_server.sh start) and run with FILMMARK_TEST_PG=$url "
                "(or FILMMARK_TEST_PG=skip to skip the PostgreSQL cases); scripts/test.sh does it");
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "cannot connect to %s: %s", url, PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    char dbname[128];
    snprintf(dbname, sizeof(dbname), "fmtest_%s_%ld", name, (long)getpid());
    char *ident = PQescapeIdentifier(c, dbname, strlen(dbname));
    char sql[300];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", ident);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", ident);
    PGresult *res = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
    PQclear(res);
    PQfreemem(ident);
    snprintf(out, len, "postgresql://%s@/%s?host=%s&port=%s", PQuser(c), dbname, PQhost(c),
             PQport(c));
    PQfinish(c);
}

/* Location number slot (0 or 1) for this test on this backend. */
static const char *fresh_loc(Backend bk, const char *name, int slot)
{
    char *out = loc_buf[slot];
    if (bk == BK_SQLITE) {
        snprintf(out, sizeof(loc_buf[slot]), "%s/%s_%d.sqlite", tmpdir, name, slot);
    } else {
        char n[64];
        snprintf(n, sizeof(n), "%s_%d", name, slot);
        pg_fresh(n, out, sizeof(loc_buf[slot]));
    }
    return out;
}

/* Runs SQL on the registry's database directly, bypassing the library
 * (to tamper with rows and to lay out an old schema). */
static void raw_exec(const char *loc, const char *sql)
{
    if (fm_registry_is_postgres(loc)) {
        PGconn *c = PQconnectdb(loc);
        cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
        PGresult *res = PQexec(c, sql);
        cr_assert(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQerrorMessage(c));
        PQclear(res);
        PQfinish(c);
    } else {
        sqlite3 *db;
        cr_assert_eq(sqlite3_open(loc, &db), SQLITE_OK);
        char *msg = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
        cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
        sqlite3_close(db);
    }
}

/* ------------------------------------------------------------------ */
/* issuances made as wmembed makes them: a signed message and a real receipt */

typedef struct Made {
    FmIssuance iss;
    char owner[64], title[64], recipient[96], output[64], *receipt;
} Made;

static const char *const FP_TEXT = "fmfp1:3:1e2a562f0a978b2e-3e2f07ba884db9a6";

static void make_issuance(Made *m, FmKey *key, uint32_t title_id, uint32_t recipient_id,
                          uint32_t minutes, uint8_t ai_use, int with_names)
{
    FmError err = {{0}};
    memset(m, 0, sizeof(*m));
    FmPayload p = { .version = FM_PAYLOAD_VERSION, .title_id = title_id,
                    .recipient_id = recipient_id, .issued_minutes = minutes, .ai_use = ai_use };
    cr_assert_eq(fm_payload_sign(&p, key, m->iss.message, &err), 0, "%s", err.msg);
    fm_key_fingerprint(key, m->iss.key_fingerprint);
    snprintf(m->owner, sizeof(m->owner), "Example Films");
    snprintf(m->title, sizeof(m->title), "Night Train \"%u\"", title_id);
    /* quotes, a comma, a backslash and non-ASCII: nothing is pasted into SQL */
    snprintf(m->recipient, sizeof(m->recipient), "Jury, O'Brien \\ Søren %u'; DROP TABLE issuance; --",
             recipient_id);
    snprintf(m->output, sizeof(m->output), "screener_%u_%u.mkv", title_id, recipient_id);
    m->iss.owner = with_names ? m->owner : NULL;
    m->iss.title = with_names ? m->title : NULL;
    m->iss.recipient = with_names ? m->recipient : NULL;
    m->iss.output_name = m->output;
    /* a distinct, well-formed SHA-256 per deliverable */
    uint8_t h[32];
    crypto_generichash(h, sizeof(h), m->iss.message, FM_MESSAGE_BYTES, NULL, 0);
    for (int k = 0; k < 32; k++)
        snprintf(m->iss.output_sha256 + 2 * k, 3, "%02x", h[k]);
    m->iss.codec = "ffv1";
    m->iss.crf = -1;
    m->iss.strength = 1.25;
    m->iss.content_fingerprint = FP_TEXT;
    m->iss.mark_format = FM_MARK_FORMAT;   /* what wmembed records (schema 3) */

    FmReceiptInfo info = {
        .owner = m->iss.owner, .title = m->iss.title, .recipient = m->iss.recipient,
        .output_name = m->output, .output_sha256 = m->iss.output_sha256, .codec = "ffv1",
        .crf = -1, .strength = 1.25, .frames = 80, .width = 768, .height = 576,
        .psnr_y = 44.84885573031513, .ssim_y = 0.99039090024198706,
        .content_fingerprint = FP_TEXT,
    };
    char *path = tu_path(tmpdir, "receipt.json");
    cr_assert_eq(fm_receipt_write(path, key, &p, m->iss.message, &info, 1, &err), 0, "%s", err.msg);
    size_t len;
    cr_assert_eq(tu_read_file(path, &m->receipt, &len), 0);
    unlink(path);
    free(path);
    m->iss.receipt_json = m->receipt;
}

static void made_free(Made *m)
{
    free(m->receipt);
    m->receipt = NULL;
}

static FmRegistry *open_ok(const char *loc)
{
    FmRegistry *reg = NULL;
    FmError err = {{0}};
    cr_assert_eq(fm_registry_open(&reg, loc, &err), 0, "%s", err.msg);
    cr_assert_not_null(reg);
    return reg;
}

static int64_t add_ok(FmRegistry *reg, const Made *m, const FmKey *key)
{
    FmError err = {{0}};
    int64_t id = -1;
    cr_assert_eq(fm_registry_add(reg, &m->iss, key, &id, &err), 0, "%s", err.msg);
    cr_assert_gt(id, 0);
    return id;
}

static int opt_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Every field of a row read back equals what was added. */
static void assert_same(const FmIssuance *got, const FmIssuance *want)
{
    FmPayload p;
    cr_assert_eq(fm_payload_unpack(want->message, &p, NULL), 0);
    cr_assert_str_eq(got->key_fingerprint, want->key_fingerprint);
    cr_assert_arr_eq(got->message, want->message, FM_MESSAGE_BYTES);
    cr_assert_eq(got->payload.version, p.version);
    cr_assert_eq(got->payload.title_id, p.title_id);
    cr_assert_eq(got->payload.recipient_id, p.recipient_id);
    cr_assert_eq(got->payload.issued_minutes, p.issued_minutes);
    cr_assert_eq(got->payload.ai_use, p.ai_use);
    cr_assert(opt_eq(got->owner, want->owner), "owner %s", got->owner);
    cr_assert(opt_eq(got->title, want->title), "title %s", got->title);
    cr_assert(opt_eq(got->recipient, want->recipient), "recipient %s", got->recipient);
    cr_assert_str_eq(got->output_name, want->output_name);
    cr_assert_str_eq(got->output_sha256, want->output_sha256);
    cr_assert_str_eq(got->codec, want->codec);
    cr_assert_eq(got->crf, want->crf);
    cr_assert_eq(got->strength, want->strength);
    cr_assert(opt_eq(got->receipt_json, want->receipt_json));
    cr_assert(opt_eq(got->content_fingerprint, want->content_fingerprint));
    cr_assert_eq(got->mark_format, want->mark_format, "mark format %d, want %d",
                 got->mark_format, want->mark_format);
    cr_assert_eq(strlen(got->created_at), 20, "created_at '%s'", got->created_at);
    cr_assert_eq(got->created_at[10], 'T');
    cr_assert_eq(got->created_at[19], 'Z');
}

/* Both backends for each case. */
#define BOTH(name)                                                          \
    static void name(Backend bk);                                           \
    Test(registry_sqlite, name) { name(BK_SQLITE); }                        \
    Test(registry_pg, name) { name(BK_PG); }                                \
    static void name(Backend bk)

TestSuite(registry_sqlite, .init = setup, .fini = teardown, .timeout = 300);
TestSuite(registry_pg, .init = setup, .fini = teardown, .timeout = 300);

/* ------------------------------------------------------------------ */

BOTH(round_trip)
{
    const char *loc = fresh_loc(bk, "round_trip", 0);
    FmRegistry *reg = open_ok(loc);
    FmError err = {{0}};
    cr_assert_eq(fm_registry_schema_version(reg), FM_REGISTRY_SCHEMA_VERSION);
    cr_assert_str_eq(fm_registry_backend(reg), bk == BK_SQLITE ? "sqlite" : "postgresql");

    Made m[3];
    int64_t ids[3];
    make_issuance(&m[0], key_a, 1042, 7, 29924401, FM_AI_USE_RESERVED, 1);
    make_issuance(&m[1], key_a, 1042, 4000000000u, 29924402, FM_AI_USE_ATTRIBUTION, 0);
    make_issuance(&m[2], key_b, 7, 0, UINT32_MAX, FM_AI_USE_LAST + 5, 1);
    m[1].iss.mark_format = 0;   /* unknown: stored as NULL */
    for (int k = 0; k < 3; k++)
        ids[k] = add_ok(reg, &m[k], k == 2 ? key_b : key_a);
    cr_assert(ids[0] < ids[1] && ids[1] < ids[2]);

    /* the same issuance again is the same row */
    int64_t again = -1;
    cr_assert_eq(fm_registry_add(reg, &m[1].iss, key_a, &again, &err), 1, "%s", err.msg);
    cr_assert_eq(again, ids[1]);

    for (int k = 0; k < 3; k++) {
        FmIssuance *got = NULL;
        cr_assert_eq(fm_registry_get(reg, ids[k], &got, &err), 0, "%s", err.msg);
        cr_assert_eq(got->id, ids[k]);
        assert_same(got, &m[k].iss);
        FmKey *keys[2] = { key_a, key_b };
        cr_assert_eq(fm_issuance_verify(got, keys, 2, &err), 0, "row %d: %s", k, err.msg);
        cr_assert_eq(fm_issuance_verify(got, keys + (k == 2 ? 0 : 1), 1, &err), FM_ENOTFOUND);
        fm_issuance_free(&got);
        cr_assert_null(got);
    }
    FmIssuance *none = NULL;
    cr_assert_eq(fm_registry_get(reg, ids[2] + 100, &none, &err), FM_ENOTFOUND);
    cr_assert_null(none);

    /* every message of a key, for the detector */
    FmIssuedMessage *msgs = NULL;
    size_t n = 0;
    cr_assert_eq(fm_registry_messages(reg, fp_a, &msgs, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(msgs[k].id, ids[k]);
        cr_assert_arr_eq(msgs[k].message, m[k].iss.message, FM_MESSAGE_BYTES);
        cr_assert_eq(msgs[k].title_id, 1042);
        cr_assert(opt_eq(msgs[k].recipient, m[k].iss.recipient));
        cr_assert(opt_eq(msgs[k].title, m[k].iss.title));
        cr_assert_str_eq(msgs[k].output_name, m[k].output);
    }
    cr_assert_eq(msgs[0].recipient_id, 7);
    cr_assert_eq(msgs[0].mark_format, FM_MARK_FORMAT);
    cr_assert_eq(msgs[1].mark_format, 0);
    cr_assert_eq(msgs[1].recipient_id, 4000000000u);
    cr_assert_eq(msgs[1].ai_use, FM_AI_USE_ATTRIBUTION);
    free(msgs);
    cr_assert_eq(fm_registry_messages(reg, fp_b, &msgs, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 1);
    cr_assert_eq(msgs[0].issued_minutes, UINT32_MAX);
    cr_assert_eq(msgs[0].ai_use, FM_AI_USE_LAST + 5);
    free(msgs);
    cr_assert_eq(fm_registry_messages(reg, "0000000000000000", &msgs, &n, &err), 0);
    cr_assert_eq(n, 0);
    free(msgs);

    /* refused: the wrong key, a bad signature, a malformed row */
    Made bad;
    make_issuance(&bad, key_a, 1, 2, 3, 0, 1);
    int64_t id;
    cr_assert_eq(fm_registry_add(reg, &bad.iss, key_b, &id, &err), FM_EINVAL);
    bad.iss.message[20] ^= 1;
    cr_assert_eq(fm_registry_add(reg, &bad.iss, key_a, &id, &err), FM_ECRYPTO);
    bad.iss.message[20] ^= 1;
    bad.iss.output_sha256[3] = 'G';
    cr_assert_eq(fm_registry_add(reg, &bad.iss, key_a, &id, &err), FM_EINVAL);
    bad.iss.output_sha256[3] = '0';
    bad.iss.mark_format = FM_REGISTRY_MARK_FORMAT_MAX + 1;
    cr_assert_eq(fm_registry_add(reg, &bad.iss, key_a, &id, &err), FM_EINVAL);
    cr_assert(strstr(err.msg, "mark format"), "%s", err.msg);
    bad.iss.mark_format = -1;
    cr_assert_eq(fm_registry_add(reg, &bad.iss, key_a, &id, &err), FM_EINVAL);
    made_free(&bad);

    FmIssuanceList all;
    cr_assert_eq(fm_registry_list(reg, NULL, &all, &err), 0, "%s", err.msg);
    cr_assert_eq(all.count, 3);
    fm_issuance_list_free(&all);
    fm_registry_close(&reg);
    cr_assert_null(reg);

    /* reopened: the same rows, the schema left as it is */
    reg = open_ok(loc);
    cr_assert_eq(fm_registry_list(reg, NULL, &all, &err), 0, "%s", err.msg);
    cr_assert_eq(all.count, 3);
    for (int k = 0; k < 3; k++)
        assert_same(&all.items[k], &m[k].iss);
    fm_issuance_list_free(&all);
    fm_registry_close(&reg);
    for (int k = 0; k < 3; k++)
        made_free(&m[k]);
}

BOTH(filters)
{
    const char *loc = fresh_loc(bk, "filters", 0);
    FmRegistry *reg = open_ok(loc);
    FmError err = {{0}};
    /* titles 10 and 11, recipients 1..6, issued at minute 1000 + 10 * k */
    int k = 0;
    for (uint32_t t = 10; t <= 11; t++)
        for (uint32_t r = 1; r <= 6; r++, k++) {
            Made m;
            FmKey *key = r % 3 == 0 ? key_b : key_a;
            make_issuance(&m, key, t, r, 1000 + 10 * (uint32_t)k, 0, 1);
            add_ok(reg, &m, key);
            made_free(&m);
        }
    struct {
        FmRegistryFilter f;
        size_t want;
    } cases[] = {
        { { 0 }, 12 },
        { { .have_title_id = 1, .title_id = 10 }, 6 },
        { { .have_title_id = 1, .title_id = 12 }, 0 },
        { { .have_recipient_id = 1, .recipient_id = 3 }, 2 },
        { { .have_title_id = 1, .title_id = 11, .have_recipient_id = 1, .recipient_id = 3 }, 1 },
        { { .have_since = 1, .since_minutes = 1050 }, 7 },   /* k = 5..11 */
        { { .have_until = 1, .until_minutes = 1050 }, 6 },   /* k = 0..5 */
        { { .have_since = 1, .since_minutes = 1020, .have_until = 1, .until_minutes = 1039 }, 2 },
        { { .key_fingerprint = fp_b }, 4 },
        { { .key_fingerprint = fp_a, .have_title_id = 1, .title_id = 11 }, 4 },
        { { .key_fingerprint = "ffffffffffffffff" }, 0 },
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        FmIssuanceList l;
        cr_assert_eq(fm_registry_list(reg, &cases[c].f, &l, &err), 0, "%s", err.msg);
        cr_assert_eq(l.count, cases[c].want, "case %zu: %zu rows, want %zu", c, l.count,
                     cases[c].want);
        for (size_t i = 0; i < l.count; i++) {
            const FmRegistryFilter *f = &cases[c].f;
            const FmPayload *p = &l.items[i].payload;
            cr_assert(!f->have_title_id || p->title_id == f->title_id);
            cr_assert(!f->have_recipient_id || p->recipient_id == f->recipient_id);
            cr_assert(!f->have_since || p->issued_minutes >= f->since_minutes);
            cr_assert(!f->have_until || p->issued_minutes <= f->until_minutes);
            cr_assert(!f->key_fingerprint || strcmp(l.items[i].key_fingerprint, f->key_fingerprint) == 0);
            cr_assert(i == 0 || l.items[i].id > l.items[i - 1].id, "in id order");
        }
        fm_issuance_list_free(&l);
    }
    fm_registry_close(&reg);
}

static char *export_text(FmRegistry *reg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FmError err = {{0}};
    cr_assert_eq(fm_registry_export(reg, f, &err), 0, "%s", err.msg);
    fclose(f);
    return buf;
}

static int import_text(FmRegistry *reg, const char *text, FmKey *const *keys, size_t nkeys,
                       FmImportStats *st, FmError *err)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(f);
    int r = fm_registry_import(reg, f, "lines.jsonl", keys, nkeys, st, err);
    fclose(f);
    return r;
}

BOTH(export_import_round_trip)
{
    FmRegistry *src = open_ok(fresh_loc(bk, "export", 0));
    FmRegistry *dst = open_ok(fresh_loc(bk, "export", 1));
    FmError err = {{0}};
    Made m[6];
    for (int k = 0; k < 6; k++) {
        FmKey *key = k < 4 ? key_a : key_b;
        make_issuance(&m[k], key, 500 + k / 2, 20 + k, 29924401 + k, k % 4, k != 1);
        if (k == 3) {
            m[k].iss.receipt_json = NULL;         /* recorded without receipt */
            m[k].iss.content_fingerprint = NULL;  /* or fingerprint */
            m[k].iss.mark_format = 0;             /* or mark format */
        }
        if (k == 4)
            m[k].iss.mark_format = 5;             /* imported from a 0.5 deliverable's row */
        add_ok(src, &m[k], key);
    }
    char *text = export_text(src);
    cr_assert_eq(tu_count_lines(text), 6);
    cr_assert(strstr(text, "\"mark_format\":7}"), "%s", text);
    cr_assert(strstr(text, "\"mark_format\":5}"), "%s", text);
    cr_assert(strstr(text, "\"mark_format\":null}"), "%s", text);

    /* both keys at hand: every line verified */
    FmKey *keys[2] = { key_a, key_b };
    FmImportStats st;
    cr_assert_eq(import_text(dst, text, keys, 2, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.lines, 6);
    cr_assert_eq(st.added, 6);
    cr_assert_eq(st.present, 0);
    cr_assert_eq(st.verified, 6);

    FmIssuanceList a, b;
    cr_assert_eq(fm_registry_list(src, NULL, &a, &err), 0);
    cr_assert_eq(fm_registry_list(dst, NULL, &b, &err), 0);
    cr_assert_eq(b.count, 6);
    for (size_t k = 0; k < 6; k++) {
        assert_same(&b.items[k], &a.items[k]);
        cr_assert_str_eq(b.items[k].created_at, a.items[k].created_at);
        assert_same(&b.items[k], &m[k].iss);
    }
    fm_issuance_list_free(&a);
    fm_issuance_list_free(&b);

    /* again: idempotent; with only one key, the other key's lines are taken unverified */
    cr_assert_eq(import_text(dst, text, keys, 1, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.lines, 6);
    cr_assert_eq(st.added, 0);
    cr_assert_eq(st.present, 6);
    cr_assert_eq(st.verified, 4);
    char *text2 = export_text(dst);
    cr_assert_str_eq(text2, text, "an export of the import is the export");
    free(text2);
    free(text);
    for (int k = 0; k < 6; k++)
        made_free(&m[k]);
    fm_registry_close(&src);
    fm_registry_close(&dst);
}

/* Replaces the first occurrence of from in s by to (new string). */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    cr_assert_not_null(at, "'%s' not in the export", from);
    size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    return out;
}

BOTH(import_rejects_bad_lines)
{
    FmRegistry *src = open_ok(fresh_loc(bk, "badlines", 0));
    FmRegistry *dst = open_ok(fresh_loc(bk, "badlines", 1));
    FmError err = {{0}};
    Made m[3];
    for (int k = 0; k < 3; k++) {
        make_issuance(&m[k], key_a, 77, 100 + k, 29924401, 0, 1);
        add_ok(src, &m[k], key_a);
    }
    char *good = export_text(src);
    /* line 3 is the third issuance: spoil it in different ways */
    char *lines[3];
    char *save = NULL, *copy = strdup(good);
    lines[0] = strtok_r(copy, "\n", &save);
    lines[1] = strtok_r(NULL, "\n", &save);
    lines[2] = strtok_r(NULL, "\n", &save);
    char msg_hex[2 * FM_MESSAGE_BYTES + 1], tampered[2 * FM_MESSAGE_BYTES + 1];
    for (size_t k = 0; k < FM_MESSAGE_BYTES; k++)
        snprintf(msg_hex + 2 * k, 3, "%02x", m[2].iss.message[k]);
    memcpy(tampered, msg_hex, sizeof(msg_hex));
    tampered[60] = tampered[60] == '0' ? '1' : '0';   /* a bit of the signature */

    struct {
        char *line;
        int code;
        int with_key;
        const char *says;
    } bad[] = {
        { strdup("{\"format\": \"filmmark-registry-1\", "), FM_EFORMAT, 1, "not JSON" },
        { strdup("[1, 2, 3]"), FM_EFORMAT, 1, "not a JSON object" },
        { replace(lines[2], "\"format\":\"filmmark-registry-1\"", "\"format\":\"other\""),
          FM_EFORMAT, 1, "format" },
        { replace(lines[2], "\"recipient_id\":102", "\"recipient_id\":103"), FM_EFORMAT, 1,
          "differ from message_hex" },
        { replace(lines[2], "\"recipient_id\":102", "\"recipient_id\":\"102\""), FM_EFORMAT, 1,
          "recipient_id" },
        { replace(lines[2], msg_hex, "00ff"), FM_EFORMAT, 1, "message_hex" },
        { replace(lines[2], ",\"created_at\":", ",\"created\":"), FM_EFORMAT, 1, "created_at" },
        { replace(lines[2], "\"sha256\":\"", "\"sha256\":\"A"), FM_EFORMAT, 1, "output.sha256" },
        /* a tampered signature: rejected when the key is at hand */
        { replace(lines[2], msg_hex, tampered), FM_ECRYPTO, 1, "signature does not verify" },
        /* a name changed after signing: the receipt disagrees */
        { replace(lines[2], "Jury, O'Brien", "Jury, O'Neill"), FM_ECRYPTO, 1, "names" },
        /* a mark format that is not 1..255 (null or absent: unknown) */
        { replace(lines[2], "\"mark_format\":7", "\"mark_format\":0"), FM_EFORMAT, 1,
          "mark_format" },
        { replace(lines[2], "\"mark_format\":7", "\"mark_format\":256"), FM_EFORMAT, 1,
          "mark_format" },
        { replace(lines[2], "\"mark_format\":7", "\"mark_format\":\"6\""), FM_EFORMAT, 1,
          "mark_format" },
    };
    for (size_t c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
        char text[16384];
        snprintf(text, sizeof(text), "%s\n\n%s\n", lines[0], bad[c].line);
        FmImportStats st;
        int r = import_text(dst, text, &key_a, bad[c].with_key, &st, &err);
        cr_assert_eq(r, bad[c].code, "case %zu: %d (%s)", c, r, err.msg);
        cr_assert(strstr(err.msg, "lines.jsonl: line 3: "), "case %zu: '%s'", c, err.msg);
        cr_assert(strstr(err.msg, bad[c].says), "case %zu: '%s'", c, err.msg);
        FmIssuanceList l;
        cr_assert_eq(fm_registry_list(dst, NULL, &l, &err), 0);
        cr_assert_eq(l.count, 0, "case %zu: a rejected import adds nothing", c);
        fm_issuance_list_free(&l);
        free(bad[c].line);
    }
    /* a line of an export written before schema 3 (no mark_format) and one
     * that says null: imported, verified, the format unknown */
    FmImportStats st;
    char *old = replace(lines[0], ",\"mark_format\":7", "");
    char *nul = replace(lines[1], "\"mark_format\":7", "\"mark_format\":null");
    cr_assert_null(strstr(old, "mark_format"));
    char two[16384];
    snprintf(two, sizeof(two), "%s\n%s\n", old, nul);
    cr_assert_eq(import_text(dst, two, &key_a, 1, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.added, 2);
    cr_assert_eq(st.verified, 2);
    FmIssuanceList got;
    cr_assert_eq(fm_registry_list(dst, NULL, &got, &err), 0, "%s", err.msg);
    cr_assert_eq(got.count, 2);
    for (size_t k = 0; k < 2; k++) {
        cr_assert_eq(got.items[k].mark_format, 0, "row %zu: mark format %d", k,
                     got.items[k].mark_format);
        cr_assert_eq(got.items[k].payload.recipient_id, 100 + k);
    }
    fm_issuance_list_free(&got);
    free(old);
    free(nul);
    /* without the key, a tampered signature cannot be seen: it goes in as is
     * (and wmregistry verify finds it later) */
    char *t = replace(lines[2], msg_hex, tampered);
    cr_assert_eq(import_text(dst, t, NULL, 0, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.added, 1);
    cr_assert_eq(st.verified, 0);
    free(t);
    free(copy);
    free(good);
    for (int k = 0; k < 3; k++)
        made_free(&m[k]);
    fm_registry_close(&src);
    fm_registry_close(&dst);
}

BOTH(verify_detects_tampered_rows)
{
    const char *loc = fresh_loc(bk, "tamper", 0);
    FmRegistry *reg = open_ok(loc);
    FmError err = {{0}};
    Made m[6];
    int64_t ids[6];
    for (int k = 0; k < 6; k++) {
        make_issuance(&m[k], key_a, 9, 300 + k, 29924401, 0, 1);
        ids[k] = add_ok(reg, &m[k], key_a);
    }
    fm_registry_close(&reg);
    char sql[512];
    const char *tamper[6] = {
        NULL,                                                   /* untouched */
        "UPDATE issuance SET recipient_id = 999 WHERE id = %lld",     /* a payload column */
        bk == BK_SQLITE                                               /* a signature bit */
            ? "UPDATE issuance SET message = substr(message, 1, 40) || x'00' || substr(message, 42) WHERE id = %lld"
            : "UPDATE issuance SET message = set_byte(message, 40, 0) WHERE id = %lld",
        "UPDATE issuance SET recipient = 'Someone Else' WHERE id = %lld", /* a name */
        "UPDATE issuance SET output_sha256 = '0000000000000000000000000000000000000000000000000000000000000000' WHERE id = %lld",
        "UPDATE issuance SET receipt_json = replace(receipt_json, '\"crf\": -1', '\"crf\": 0') WHERE id = %lld",
    };
    const char *says[6] = { NULL, "payload fields", "signature", "names", "SHA-256",
                            "receipt's signature" };
    for (int k = 1; k < 6; k++) {
        snprintf(sql, sizeof(sql), tamper[k], (long long)ids[k]);
        raw_exec(loc, sql);
    }
    reg = open_ok(loc);
    FmIssuanceList l;
    cr_assert_eq(fm_registry_list(reg, NULL, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.count, 6);
    for (int k = 0; k < 6; k++) {
        int r = fm_issuance_verify(&l.items[k], &key_a, 1, &err);
        if (k == 0) {
            cr_assert_eq(r, 0, "%s", err.msg);
        } else {
            cr_assert_eq(r, FM_ECRYPTO, "row %d (%s) passed", k, says[k]);
            cr_assert(strstr(err.msg, says[k]), "row %d: '%s'", k, err.msg);
        }
    }
    fm_issuance_list_free(&l);
    fm_registry_close(&reg);
    for (int k = 0; k < 6; k++)
        made_free(&m[k]);
}

/* Schema version 1, as filmmark laid it out before the AI-use field. */
static const char *const V1_SQLITE =
    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);"
    "INSERT INTO schema_version VALUES (1, '2026-11-01T00:00:00Z');"
    "CREATE TABLE issuance (id INTEGER PRIMARY KEY AUTOINCREMENT, key_fingerprint TEXT NOT NULL,"
    " version INTEGER NOT NULL, title_id INTEGER NOT NULL, recipient_id INTEGER NOT NULL,"
    " issued_minutes INTEGER NOT NULL, message BLOB NOT NULL, owner TEXT, title TEXT,"
    " recipient TEXT, output_name TEXT NOT NULL, output_sha256 TEXT NOT NULL, codec TEXT NOT NULL,"
    " crf INTEGER NOT NULL, strength REAL NOT NULL, receipt_json TEXT, created_at TEXT NOT NULL,"
    " UNIQUE (key_fingerprint, message, output_sha256));"
    "CREATE INDEX issuance_title ON issuance (title_id);";
static const char *const V1_PG =
    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);"
    "INSERT INTO schema_version VALUES (1, '2026-11-01T00:00:00Z');"
    "CREATE TABLE issuance (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " key_fingerprint TEXT NOT NULL, version INTEGER NOT NULL, title_id BIGINT NOT NULL,"
    " recipient_id BIGINT NOT NULL, issued_minutes BIGINT NOT NULL, message BYTEA NOT NULL,"
    " owner TEXT, title TEXT, recipient TEXT, output_name TEXT NOT NULL,"
    " output_sha256 TEXT NOT NULL, codec TEXT NOT NULL, crf INTEGER NOT NULL,"
    " strength DOUBLE PRECISION NOT NULL, receipt_json TEXT, created_at TEXT NOT NULL,"
    " UNIQUE (key_fingerprint, message, output_sha256));"
    "CREATE INDEX issuance_title ON issuance (title_id);";

BOTH(migrates_from_schema_1)
{
    const char *loc = fresh_loc(bk, "migrate", 0);
    raw_exec(loc, bk == BK_SQLITE ? V1_SQLITE : V1_PG);
    Made m;
    make_issuance(&m, key_a, 31, 41, 29924401, FM_AI_USE_NONCOMMERCIAL, 1);
    char hex[2 * FM_MESSAGE_BYTES + 1], sql[4096];
    for (size_t k = 0; k < FM_MESSAGE_BYTES; k++)
        snprintf(hex + 2 * k, 3, "%02x", m.iss.message[k]);
    snprintf(sql, sizeof(sql),
             "INSERT INTO issuance (key_fingerprint, version, title_id, recipient_id,"
             " issued_minutes, message, owner, title, recipient, output_name, output_sha256,"
             " codec, crf, strength, created_at) VALUES ('%s', 2, 31, 41, 29924401, %s%s%s,"
             " 'Example Films', 'T', 'R', '%s', '%s', 'ffv1', -1, 1.25, '2026-11-02T10:00:00Z')",
             fp_a, bk == BK_SQLITE ? "x'" : "'\\x", hex, "'", m.output, m.iss.output_sha256);
    raw_exec(loc, sql);

    FmRegistry *reg = open_ok(loc);
    FmError err = {{0}};
    cr_assert_eq(fm_registry_schema_version(reg), FM_REGISTRY_SCHEMA_VERSION);
    FmIssuanceList l;
    cr_assert_eq(fm_registry_list(reg, NULL, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.count, 1);
    /* the new column filled from the signed message */
    cr_assert_eq(l.items[0].payload.ai_use, FM_AI_USE_NONCOMMERCIAL);
    cr_assert_null(l.items[0].content_fingerprint);
    cr_assert_eq(l.items[0].mark_format, 0);
    cr_assert_str_eq(l.items[0].created_at, "2026-11-02T10:00:00Z");
    cr_assert_eq(fm_issuance_verify(&l.items[0], &key_a, 1, &err), 0, "%s", err.msg);
    int64_t first = l.items[0].id;
    fm_issuance_list_free(&l);
    /* the migrated table takes new rows with every column */
    Made m2;
    make_issuance(&m2, key_a, 31, 42, 29924402, FM_AI_USE_ALLOWED, 1);
    cr_assert_gt(add_ok(reg, &m2, key_a), first);
    FmIssuedMessage *msgs;
    size_t n;
    cr_assert_eq(fm_registry_messages(reg, fp_a, &msgs, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert_eq(msgs[1].ai_use, FM_AI_USE_ALLOWED);
    free(msgs);
    fm_registry_close(&reg);

    /* a newer schema than this code knows is refused, not touched */
    raw_exec(loc, "INSERT INTO schema_version VALUES (99, '2030-01-01T00:00:00Z')");
    cr_assert_eq(fm_registry_open(&reg, loc, &err), FM_EFORMAT);
    cr_assert_null(reg);
    cr_assert(strstr(err.msg, "schema version 99"), "%s", err.msg);
    made_free(&m);
    made_free(&m2);
}

/* Schema version 2, as filmmark 0.6.0 laid it out: version 1 and its
 * migration (AI use, content fingerprint, three indexes). */
static const char *const V2_MORE =
    "ALTER TABLE issuance ADD COLUMN ai_use INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE issuance ADD COLUMN content_fingerprint TEXT;"
    "CREATE INDEX issuance_key ON issuance (key_fingerprint, id);"
    "CREATE INDEX issuance_recipient ON issuance (recipient_id);"
    "CREATE INDEX issuance_issued ON issuance (issued_minutes);"
    "INSERT INTO schema_version VALUES (2, '2026-11-20T00:00:00Z');";

BOTH(migrates_from_schema_2)
{
    const char *loc = fresh_loc(bk, "migrate2", 0);
    raw_exec(loc, bk == BK_SQLITE ? V1_SQLITE : V1_PG);
    raw_exec(loc, V2_MORE);
    /* two rows recorded by 0.6.0 (no mark format) */
    Made m[2];
    char hex[2 * FM_MESSAGE_BYTES + 1], sql[4096];
    for (int k = 0; k < 2; k++) {
        make_issuance(&m[k], key_a, 31, 41 + (uint32_t)k, 29924401, FM_AI_USE_ALLOWED, 1);
        for (size_t b = 0; b < FM_MESSAGE_BYTES; b++)
            snprintf(hex + 2 * b, 3, "%02x", m[k].iss.message[b]);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO issuance (key_fingerprint, version, title_id, recipient_id,"
                 " issued_minutes, ai_use, message, owner, title, recipient, output_name,"
                 " output_sha256, codec, crf, strength, content_fingerprint, created_at)"
                 " VALUES ('%s', 2, 31, %u, 29924401, %d, %s%s%s, 'Example Films', 'T', 'R', '%s',"
                 " '%s', 'ffv1', -1, 1.25, '%s', '2026-11-22T10:00:00Z')",
                 fp_a, 41 + k, FM_AI_USE_ALLOWED, bk == BK_SQLITE ? "x'" : "'\\x", hex, "'",
                 m[k].output, m[k].iss.output_sha256, FP_TEXT);
        raw_exec(loc, sql);
    }

    FmRegistry *reg = open_ok(loc);
    FmError err = {{0}};
    cr_assert_eq(fm_registry_schema_version(reg), 3);
    /* the old rows: unknown format (NULL), still verified, exported as null */
    FmIssuanceList l;
    cr_assert_eq(fm_registry_list(reg, NULL, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.count, 2);
    for (size_t k = 0; k < 2; k++) {
        cr_assert_eq(l.items[k].mark_format, 0);
        cr_assert_eq(l.items[k].payload.ai_use, FM_AI_USE_ALLOWED);
        cr_assert_eq(fm_issuance_verify(&l.items[k], &key_a, 1, &err), 0, "%s", err.msg);
    }
    fm_issuance_list_free(&l);
    char *text = export_text(reg);
    cr_assert_eq(tu_count_lines(text), 2);
    cr_assert(strstr(text, "\"mark_format\":null}"), "%s", text);
    free(text);
    /* a new row records its format, next to the old ones */
    Made m2;
    make_issuance(&m2, key_a, 31, 43, 29924402, FM_AI_USE_ALLOWED, 1);
    add_ok(reg, &m2, key_a);
    FmIssuedMessage *msgs;
    size_t n;
    cr_assert_eq(fm_registry_messages(reg, fp_a, &msgs, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 3);
    cr_assert_eq(msgs[0].mark_format, 0);
    cr_assert_eq(msgs[1].mark_format, 0);
    cr_assert_eq(msgs[2].mark_format, FM_MARK_FORMAT);
    free(msgs);
    fm_registry_close(&reg);
    /* reopened: up to date, nothing migrated again */
    reg = open_ok(loc);
    cr_assert_eq(fm_registry_schema_version(reg), 3);
    fm_registry_close(&reg);
    for (int k = 0; k < 2; k++)
        made_free(&m[k]);
    made_free(&m2);
}

#define WRITERS 4
#define PER_WRITER 50

BOTH(parallel_writers_lose_nothing)
{
    /* the registry does not exist yet: the writers also race to create it */
    const char *loc = fresh_loc(bk, "parallel", 0);
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        cr_assert_neq(pids[w], -1);
        if (pids[w] == 0) {
            FmError err = {{0}};
            FmRegistry *reg = NULL;
            int bad = 0;
            if (fm_registry_open(&reg, loc, &err) < 0) {
                fprintf(stderr, "writer %d: open: %s\n", w, err.msg);
                _exit(1);
            }
            for (int i = 0; i < PER_WRITER && !bad; i++) {
                FmIssuance iss = { 0 };
                FmPayload p = { .version = FM_PAYLOAD_VERSION, .title_id = 5,
                                .recipient_id = (uint32_t)(w * 1000 + i), .issued_minutes = 29924401 };
                if (fm_payload_sign(&p, key_a, iss.message, &err) < 0) {
                    bad = 1;
                    break;
                }
                memcpy(iss.key_fingerprint, fp_a, sizeof(fp_a));
                snprintf(iss.output_sha256, sizeof(iss.output_sha256), "%064x", w * 1000 + i);
                char name[32];
                snprintf(name, sizeof(name), "w%d_%d.mkv", w, i);
                iss.output_name = name;
                iss.codec = "ffv1";
                iss.crf = -1;
                iss.strength = 1;
                int64_t id;
                if (fm_registry_add(reg, &iss, key_a, &id, &err) != 0) {
                    fprintf(stderr, "writer %d: add %d: %s\n", w, i, err.msg);
                    bad = 1;
                }
            }
            fm_registry_close(&reg);
            _exit(bad);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int status;
        cr_assert_eq(waitpid(pids[w], &status, 0), pids[w]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", w);
    }
    FmRegistry *reg = open_ok(loc);
    FmError err = {{0}};
    FmIssuedMessage *msgs;
    size_t n;
    cr_assert_eq(fm_registry_messages(reg, fp_a, &msgs, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, WRITERS * PER_WRITER);
    /* every writer's every row, once */
    static char seen[WRITERS * 1000];
    memset(seen, 0, sizeof(seen));
    for (size_t k = 0; k < n; k++) {
        uint32_t r = msgs[k].recipient_id;
        cr_assert(r / 1000 < WRITERS && r % 1000 < PER_WRITER);
        cr_assert_eq(seen[r], 0, "recipient %u twice", r);
        seen[r] = 1;
        cr_assert_eq(fm_payload_verify(msgs[k].message, key_a), 0);
    }
    free(msgs);
    fm_registry_close(&reg);
}

/* ------------------------------------------------------------------ */
/* location and file modes (SQLite only) */

Test(registry_sqlite, location_and_modes)
{
    FmError err = {{0}};
    char loc[FM_REGISTRY_LOCATION_MAX];
    char *home = tu_path(tmpdir, "home");
    cr_assert_eq(mkdir(home, 0755), 0);
    setenv("HOME", home, 1);
    unsetenv(FM_REGISTRY_ENV);

    cr_assert_eq(fm_registry_location("/x/explicit.sqlite", loc, sizeof(loc), &err), 0);
    cr_assert_str_eq(loc, "/x/explicit.sqlite");
    setenv(FM_REGISTRY_ENV, "postgres://db.example/filmmark", 1);
    cr_assert_eq(fm_registry_location(NULL, loc, sizeof(loc), &err), 0);
    cr_assert_str_eq(loc, "postgres://db.example/filmmark");
    cr_assert(fm_registry_is_postgres(loc));
    cr_assert(fm_registry_is_postgres("postgresql://u@/d?host=/tmp"));
    cr_assert(!fm_registry_is_postgres("postgresql.sqlite"));
    cr_assert_eq(fm_registry_location("/x/explicit.sqlite", loc, sizeof(loc), &err), 0);
    cr_assert_str_eq(loc, "/x/explicit.sqlite", "--registry wins over the environment");
    cr_assert_eq(fm_registry_location("", loc, sizeof(loc), &err), FM_EINVAL);
    setenv(FM_REGISTRY_ENV, "", 1);

    umask(022);
    cr_assert_eq(fm_registry_location(NULL, loc, sizeof(loc), &err), 0, "%s", err.msg);
    char want[1024];
    snprintf(want, sizeof(want), "%s/.local/share/filmmark/registry.sqlite", home);
    cr_assert_str_eq(loc, want);
    struct stat st;
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/.local/share/filmmark", home);
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    cr_assert(!fm_registry_present(loc));
    FmRegistry *reg = open_ok(loc);
    cr_assert(fm_registry_present(loc));
    cr_assert(fm_registry_present("postgresql://x@/y"));
    Made m;
    make_issuance(&m, key_a, 1, 1, 1, 0, 1);
    add_ok(reg, &m, key_a);
    made_free(&m);
    fm_registry_close(&reg);
    cr_assert_eq(stat(loc, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "registry file mode %o", st.st_mode & 0777);

    /* not a database */
    char *junk = tu_path(tmpdir, "junk.sqlite");
    cr_assert_eq(tu_write_file(junk, "this is not a database, just some text\n", 39, 0600), 0);
    cr_assert_lt(fm_registry_open(&reg, junk, &err), 0);
    cr_assert_null(reg);
    cr_assert_lt(fm_registry_open(&reg, "/nonexistent/dir/r.sqlite", &err), 0);
    free(junk);
    free(home);
}

Test(registry_pg, unreachable_server_is_an_error)
{
    FmRegistry *reg = NULL;
    FmError err = {{0}};
    char *dir = tu_path(tmpdir, "nosock");
    char url[1100];
    snprintf(url, sizeof(url), "postgresql://nobody@/none?host=%s&port=1&connect_timeout=2", dir);
    cr_assert_eq(fm_registry_open(&reg, url, &err), FM_EIO);
    cr_assert_null(reg);
    cr_assert(strstr(err.msg, "cannot connect to the PostgreSQL registry"), "%s", err.msg);
    free(dir);
}

/* ------------------------------------------------------------------ */
/* the wmregistry tool, on a registry that wmembed's real receipt went into */

static int run_tool(char **out, char **errs, const char *a0, ...)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = FM_BUILD_DIR "/wmregistry";
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return tu_run(argv, out, errs);
}

/* wmembed records the mark format it wrote in every new row: one
 * deliverable, then a --recipients batch of two. */
BOTH(wmembed_records_the_mark_format)
{
    const char *loc = fresh_loc(bk, "embedfmt", 0);
    char *prefix = tu_path(tmpdir, "fmtkey"), *key = tu_path(tmpdir, "fmtkey.key");
    char *one = tu_path(tmpdir, "one.mkv"), *list = tu_path(tmpdir, "list.csv");
    const char *kg[] = { FM_BUILD_DIR "/wmkeygen", "--no-passphrase", "-o", prefix, "-q", NULL };
    cr_assert_eq(tu_run(kg, NULL, NULL), 0);
    const char *emb[] = { FM_BUILD_DIR "/wmembed", "-k", key, "-i",
                          FM_SOURCE_DIR "/samples/sample.mkv", "-o", one, "--codec", "ffv1",
                          "--title-id", "88", "--recipient-id", "1", "--no-verify",
                          "--registry", loc, "-q", NULL };
    char *eerr = NULL;
    cr_assert_eq(tu_run(emb, NULL, &eerr), 0, "%s", eerr);
    free(eerr);
    char text[1024];
    snprintf(text, sizeof(text), "id,name,output\n2,B,%s/two.mkv\n3,C,%s/three.mkv\n", tmpdir,
             tmpdir);
    cr_assert_eq(tu_write_file(list, text, strlen(text), 0644), 0);
    const char *batch[] = { FM_BUILD_DIR "/wmembed", "-k", key, "-i",
                            FM_SOURCE_DIR "/samples/sample.mkv", "--recipients", list,
                            "--codec", "ffv1", "--title-id", "88", "--no-verify",
                            "--registry", loc, "-q", NULL };
    eerr = NULL;
    cr_assert_eq(tu_run(batch, NULL, &eerr), 0, "%s", eerr);
    free(eerr);

    FmRegistry *reg = open_ok(loc);
    FmError err = {{0}};
    FmIssuanceList l;
    cr_assert_eq(fm_registry_list(reg, NULL, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.count, 3);
    for (size_t k = 0; k < l.count; k++) {
        cr_assert_eq(l.items[k].payload.recipient_id, k + 1);
        cr_assert_eq(l.items[k].mark_format, FM_MARK_FORMAT, "row %zu: %d", k,
                     l.items[k].mark_format);
    }
    fm_issuance_list_free(&l);
    fm_registry_close(&reg);
    char *out = NULL, *errs = NULL;
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc, "list", "--json", NULL), 0, "%s", errs);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "%s", out);
    json_t *rows = json_object_get(j, "issuances");
    cr_assert_eq(json_array_size(rows), 3);
    for (size_t k = 0; k < 3; k++)
        cr_assert_eq(json_integer_value(json_object_get(json_array_get(rows, k), "mark_format")),
                     FM_MARK_FORMAT);
    json_decref(j);
    free(out); free(errs);
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc, "--json", "show", "3", NULL), 0, "%s", errs);
    j = json_loads(out, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(j, "mark_format")), FM_MARK_FORMAT, "%s", out);
    json_decref(j);
    free(out); free(errs);
    free(prefix); free(key); free(one); free(list);
}

BOTH(wmregistry_tool)
{
    const char *loc = fresh_loc(bk, "tool", 0);
    const char *loc2 = fresh_loc(bk, "tool", 1);
    FmError err = {{0}};
    char *prefix = tu_path(tmpdir, "studio"), *deliv = tu_path(tmpdir, "screener.mkv");
    char *pub_a = tu_path(tmpdir, "a.pub"), *studio_pub = tu_path(tmpdir, "studio.pub");
    char *studio_key = tu_path(tmpdir, "studio.key"), *rcpt = tu_path(tmpdir, "screener.mkv.receipt.json");
    char *exp = tu_path(tmpdir, "export.jsonl"), *badf = tu_path(tmpdir, "bad.jsonl");
    const char *kg[] = { FM_BUILD_DIR "/wmkeygen", "--no-passphrase", "-o", prefix, "-q", NULL };
    cr_assert_eq(tu_run(kg, NULL, NULL), 0);
    const char *emb[] = { FM_BUILD_DIR "/wmembed", "-k", studio_key, "-i",
                          FM_SOURCE_DIR "/samples/sample.mkv", "-o", deliv, "--codec", "ffv1",
                          "--title-id", "1042", "--recipient-id", "7", "--owner", "Example Films",
                          "--title", "Night Train", "--recipient", "Critic A", "-q", NULL };
    char *eout = NULL, *eerr = NULL;
    cr_assert_eq(tu_run(emb, &eout, &eerr), 0, "%s", eerr);
    free(eout);
    free(eerr);

    /* what wmembed will do: the receipt into the registry */
    FmKey *studio = fm_key_new();
    cr_assert_eq(fm_key_load(studio, studio_pub, 0, &err), 0, "%s", err.msg);
    FmRegistry *reg = open_ok(loc);
    int64_t id;
    cr_assert_eq(fm_registry_add_receipt(reg, rcpt, &key_a, 1, 0, &id, &err), FM_ECRYPTO);
    cr_assert(strstr(err.msg, "not the key given"), "%s", err.msg);
    FmKey *both[2] = { key_a, studio };
    /* a receipt does not say its mark format: added by hand, it is unknown */
    cr_assert_eq(fm_registry_add_receipt(reg, rcpt, both, 2, 0, &id, &err), 0, "%s", err.msg);
    cr_assert_eq(id, 1);
    cr_assert_eq(fm_registry_add_receipt(reg, rcpt, &studio, 1, FM_MARK_FORMAT, &id, &err), 1,
                 "again: %s", err.msg);
    cr_assert_eq(id, 1);
    char sha[65];
    cr_assert_eq(fm_sha256_file(deliv, sha, &err), 0);
    FmIssuance *got;
    cr_assert_eq(fm_registry_get(reg, 1, &got, &err), 0, "%s", err.msg);
    cr_assert_str_eq(got->output_sha256, sha);
    cr_assert_str_eq(got->recipient, "Critic A");
    cr_assert_str_eq(got->output_name, "screener.mkv");
    cr_assert_eq(got->payload.title_id, 1042);
    cr_assert_eq(got->payload.recipient_id, 7);
    cr_assert_not_null(got->content_fingerprint);
    cr_assert_eq(got->mark_format, 0, "an existing row is left as it is");
    fm_issuance_free(&got);
    /* and two more of another key */
    cr_assert_eq(fm_key_save(key_a, pub_a, 0, &err), 0, "%s", err.msg);
    Made m[2];
    char id_a[32];
    for (int k = 0; k < 2; k++) {
        make_issuance(&m[k], key_a, 2000, 10 + k, 29924401, 0, 1);
        snprintf(id_a, sizeof(id_a), "%lld", (long long)add_ok(reg, &m[k], key_a));
    }
    fm_registry_close(&reg);

    char *out = NULL, *errs = NULL;
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc, "list", NULL), 0, "%s", errs);
    cr_assert_eq(tu_count_lines(out), 4, "%s", out);   /* header + 3 */
    cr_assert(strstr(out, "Critic A"));
    free(out); free(errs);
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc, "list", "--json", "--title-id", "2000", NULL), 0);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "%s", out);
    cr_assert_eq(json_integer_value(json_object_get(j, "count")), 2);
    json_decref(j);
    free(out); free(errs);
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc, "list", "--since", "2100-01-01", NULL), 0);
    cr_assert_str_eq(out, "");
    free(out); free(errs);

    cr_assert_eq(run_tool(&out, &errs, "--registry", loc, "show", "1", NULL), 0, "%s", errs);
    cr_assert(strstr(out, "recipient:    Critic A"), "%s", out);
    cr_assert(strstr(out, "mark format:  unknown"), "%s", out);
    free(out); free(errs);
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc, "show", id_a, NULL), 0, "%s", errs);
    cr_assert(strstr(out, "mark format:  7\n"), "%s", out);
    free(out); free(errs);
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc, "show", "99", NULL), 1);
    cr_assert_str_eq(errs, "wmregistry: no issuance 99 in the registry\n");
    free(out); free(errs);

    /* verify: all good with both keys; rows of a key not given are not checked */
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc, "verify", "-p", studio_pub, "-p", pub_a, NULL), 0, "%s%s", out, errs);
    cr_assert_str_eq(out, "3 rows verified, 0 failed\n");
    free(out); free(errs);
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc, "--json", "verify", "-p", studio_pub, NULL), 0);
    j = json_loads(out, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(j, "verified")), 1, "%s", out);
    cr_assert_eq(json_integer_value(json_object_get(j, "unchecked")), 2, "%s", out);
    json_decref(j);
    free(out); free(errs);

    /* export, import elsewhere (verified), import again (nothing new) */
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc, "export", "-o", exp, NULL), 0, "%s", errs);
    free(out); free(errs);
    struct stat st;
    cr_assert_eq(stat(exp, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc, "export", "-o", exp, NULL), 2);
    free(out); free(errs);
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc2, "--json", "import", "-p", studio_pub, "-p", pub_a, exp, NULL), 0, "%s", errs);
    cr_assert_str_eq(out, "{\"lines\":3,\"added\":3,\"present\":0,\"verified\":3}\n");
    free(out); free(errs);
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc2, "--json", "import", exp, NULL), 0, "%s", errs);
    cr_assert_str_eq(out, "{\"lines\":3,\"added\":0,\"present\":3,\"verified\":0}\n");
    free(out); free(errs);
    cr_assert_eq(tu_write_file(badf, "{}\n", 3, 0600), 0);
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc2, "import", badf, NULL), 1);
    cr_assert(strstr(errs, "bad.jsonl: line 1: ") && strstr(errs, "nothing imported"), "%s", errs);
    free(out); free(errs);

    /* add: receipts of deliverables issued before the registry; a forged one is refused */
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc2, "add", "-p", pub_a, "-p", studio_pub, rcpt, NULL), 0,
                 "%s", errs);
    cr_assert(strstr(out, "issuance 1 (already recorded)"), "%s", out);
    free(out); free(errs);
    char *text, *forged = tu_path(tmpdir, "forged.receipt.json");
    size_t tlen;
    cr_assert_eq(tu_read_file(rcpt, &text, &tlen), 0);
    char *changed = replace(text, "Critic A", "Critic B");
    cr_assert_eq(tu_write_file(forged, changed, strlen(changed), 0644), 0);
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc2, "add", "-p", studio_pub, forged, NULL), 1);
    cr_assert(strstr(errs, "receipt's signature does not verify"), "%s", errs);
    free(out); free(errs);
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc2, "add", "-p", pub_a, rcpt, NULL), 1);
    cr_assert(strstr(errs, "not the key given"), "%s", errs);
    free(out); free(errs);
    free(text); free(changed); free(forged);

    /* a tampered row: verify names it and exits 1 */
    raw_exec(loc2, "UPDATE issuance SET recipient_id = 8 WHERE recipient_id = 7");
    cr_assert_eq(run_tool(&out, &errs, "--registry", loc2, "verify", "-p", studio_pub, "-p", pub_a, NULL), 1);
    cr_assert(strstr(out, "issuance 1: the row's payload fields differ"), "%s", out);
    cr_assert(strstr(out, "2 rows verified, 1 failed"), "%s", out);
    free(out); free(errs);

    /* usage errors */
    const char *bad[][4] = {
        { "list", "--output", "x", NULL }, { "verify", NULL }, { "frobnicate", NULL },
        { "show", NULL }, { "show", "-3", NULL }, { "list", "--since", "yesterday", NULL },
        { "import", NULL }, { "list", "extra", NULL },
    };
    for (size_t c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
        cr_assert_eq(run_tool(&out, &errs, "--registry", loc, bad[c][0], bad[c][1], bad[c][2], bad[c][3]), 2,
                     "case %zu", c);
        cr_assert(strncmp(errs, "wmregistry: ", 12) == 0, "case %zu: %s", c, errs);
        free(out); free(errs);
    }
    cr_assert_eq(run_tool(&out, &errs, NULL), 2);
    free(out); free(errs);
    cr_assert_eq(run_tool(&out, &errs, "--help", NULL), 0);
    cr_assert(strstr(out, "usage: wmregistry"));
    free(out); free(errs);

    for (int k = 0; k < 2; k++)
        made_free(&m[k]);
    fm_key_free(&studio);
    free(prefix); free(deliv); free(pub_a); free(studio_pub); free(studio_key); free(rcpt);
    free(exp); free(badf);
}

/* 1 when the import running on loc is inside its transaction, rows written
 * but not committed: SQLite's write-ahead log has grown past 1 MB (it does
 * not exist before: the last close checkpoints and removes it); PostgreSQL
 * has given another session's transaction an id (it has written). */
static int import_in_transaction(const char *loc, PGconn *pg)
{
    if (!pg) {
        char wal[1100];
        struct stat st;
        snprintf(wal, sizeof(wal), "%s-wal", loc);
        return stat(wal, &st) == 0 && st.st_size > (1 << 20);
    }
    PGresult *res = PQexec(pg, "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                               " current_database() AND backend_xid IS NOT NULL"
                               " AND pid <> pg_backend_pid()");
    int yes = PQresultStatus(res) == PGRES_TUPLES_OK && atoi(PQgetvalue(res, 0, 0)) > 0;
    PQclear(res);
    return yes;
}

/* An import killed inside its transaction leaves none of its rows: the
 * transaction is the unit (as the single INSERT of an add is). */
BOTH(killed_import_leaves_no_row)
{
    enum { LINES = 20000 };
    FmError err = {{0}};
    char *file = tu_path(tmpdir, "big.jsonl");
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    Made m;
    make_issuance(&m, key_a, 1, 0, 29924401, 0, 1);
    m.iss.receipt_json = NULL;
    snprintf(m.iss.created_at, sizeof(m.iss.created_at), "2026-11-23T20:02:00Z");
    for (int k = 0; k < LINES; k++) {
        FmPayload p = { .version = FM_PAYLOAD_VERSION, .title_id = 1, .recipient_id = (uint32_t)k,
                        .issued_minutes = 29924401 };
        cr_assert_eq(fm_payload_sign(&p, key_a, m.iss.message, &err), 0);
        m.iss.payload = p;
        snprintf(m.iss.output_sha256, sizeof(m.iss.output_sha256), "%064x", k);
        json_t *j = fm_issuance_to_json(&m.iss);
        cr_assert_eq(json_dumpf(j, f, JSON_COMPACT), 0);
        fputc('\n', f);
        json_decref(j);
    }
    cr_assert_eq(fclose(f), 0);
    made_free(&m);

    /* cut as soon as the transaction has written, and again 300 ms later */
    for (int late = 0; late < 2; late++) {
        const char *loc = fresh_loc(bk, late ? "killed_late" : "killed", 0);
        FmRegistry *reg = open_ok(loc);   /* made before, so that only the import is cut */
        fm_registry_close(&reg);
        PGconn *pg = NULL;
        if (bk == BK_PG) {
            pg = PQconnectdb(loc);
            cr_assert_eq(PQstatus(pg), CONNECTION_OK, "%s", PQerrorMessage(pg));
        }
        pid_t pid = fork();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 1);
            dup2(devnull, 2);
            execl(FM_BUILD_DIR "/wmregistry", "wmregistry", "--registry", loc, "import", file,
                  (char *)NULL);
            _exit(127);
        }
        int status, seen = 0;
        for (int polls = 0; polls < 24000 && !seen; polls++) {
            if (waitpid(pid, &status, WNOHANG) == pid)
                cr_assert_fail("the import finished (status %d) before it was seen writing", status);
            seen = import_in_transaction(loc, pg);
            if (!seen) {
                struct timespec ts = { 0, 5000000L };
                nanosleep(&ts, NULL);
            }
        }
        cr_assert(seen, "the import never started writing");
        if (late) {
            struct timespec ts = { 0, 300000000L };
            nanosleep(&ts, NULL);
        }
        kill(pid, SIGKILL);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status), "the import had finished before the kill");
        PQfinish(pg);
        reg = open_ok(loc);
        FmIssuedMessage *msgs;
        size_t n;
        cr_assert_eq(fm_registry_messages(reg, fp_a, &msgs, &n, &err), 0, "%s", err.msg);
        free(msgs);
        fm_registry_close(&reg);
        cr_assert_eq(n, 0, "an import killed inside its transaction left %zu rows", n);
        cr_log_info("%s: import killed inside its transaction%s: 0 rows",
                    bk == BK_SQLITE ? "sqlite" : "postgresql", late ? " (300 ms later)" : "");
    }
    free(file);
}
