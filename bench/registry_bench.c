/*
 * registry_bench - how fast the registry takes issuances and hands a
 * detector every message of a key.
 *
 *   registry_bench LOCATION N_SINGLE N_BULK
 *
 * LOCATION must be a new, empty registry (a file that does not exist yet, or
 * an empty PostgreSQL database). Adds N_SINGLE issuances one by one with
 * fm_registry_add() (one transaction each, as wmembed does), then N_BULK by
 * fm_registry_import() (one transaction), all under one key, then reads all
 * messages of that key with fm_registry_messages() five times. Prints one
 * JSON object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "tool_util.h"

static void die(const char *what, const FmError *err)
{
    fprintf(stderr, "registry_bench: %s: %s\n", what, err->msg);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: registry_bench LOCATION N_SINGLE N_BULK\n");
        return 2;
    }
    long n_single = atol(argv[2]), n_bulk = atol(argv[3]);
    FmError err = {{0}};
    if (fm_init(&err) < 0)
        die("init", &err);
    FmKey *key = fm_key_new();
    if (!key || fm_key_generate(key, &err) < 0)
        die("key", &err);
    char fp[FM_FINGERPRINT_CHARS + 1];
    fm_key_fingerprint(key, fp);
    FmRegistry *reg = NULL;
    double t0 = fm_now();
    if (fm_registry_open(&reg, argv[1], &err) < 0)
        die("open", &err);
    double t_open = fm_now() - t0;

    FmIssuance iss = { 0 };
    memcpy(iss.key_fingerprint, fp, sizeof(fp));
    iss.output_name = "screener.mkv";
    iss.codec = "ffv1";
    iss.crf = -1;
    iss.strength = 1;
    iss.owner = "Example Films";
    iss.title = "Night Train";
    iss.recipient = "Festival jury member";
    FmPayload p = { .version = FM_PAYLOAD_VERSION, .title_id = 1042, .issued_minutes = 29924401 };
    double sign_time = 0;
    t0 = fm_now();
    for (long k = 0; k < n_single; k++) {
        p.recipient_id = (uint32_t)k;
        double s = fm_now();
        if (fm_payload_sign(&p, key, iss.message, &err) < 0)
            die("sign", &err);
        sign_time += fm_now() - s;
        snprintf(iss.output_sha256, sizeof(iss.output_sha256), "%064lx", k);
        if (fm_registry_add(reg, &iss, NULL, NULL, &err) < 0)
            die("add", &err);
    }
    double t_single = fm_now() - t0 - sign_time;

    /* the bulk rows as an export would carry them */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    for (long k = 0; k < n_bulk; k++) {
        p.recipient_id = (uint32_t)(n_single + k);
        if (fm_payload_sign(&p, key, iss.message, &err) < 0)
            die("sign", &err);
        iss.payload = p;
        snprintf(iss.output_sha256, sizeof(iss.output_sha256), "%064lx", n_single + k);
        snprintf(iss.created_at, sizeof(iss.created_at), "2026-11-23T20:02:00Z");
        json_t *j = fm_issuance_to_json(&iss);
        json_dumpf(j, f, JSON_COMPACT);
        fputc('\n', f);
        json_decref(j);
    }
    fclose(f);
    f = fmemopen(buf, len, "r");
    FmImportStats st;
    t0 = fm_now();
    if (fm_registry_import(reg, f, "bulk", &key, 1, &st, &err) < 0)
        die("import", &err);
    double t_import = fm_now() - t0;
    fclose(f);
    free(buf);

    double best = 1e9;
    size_t count = 0;
    for (int rep = 0; rep < 5; rep++) {
        FmIssuedMessage *msgs;
        t0 = fm_now();
        if (fm_registry_messages(reg, fp, &msgs, &count, &err) < 0)
            die("messages", &err);
        double t = fm_now() - t0;
        if (t < best)
            best = t;
        free(msgs);
    }
    printf("{\"backend\":\"%s\",\"open_s\":%.4f,\"single_adds\":%ld,\"single_adds_per_s\":%.1f,"
           "\"imported\":%zu,\"import_rows_per_s\":%.0f,\"messages\":%zu,\"messages_query_s\":%.4f}\n",
           fm_registry_backend(reg), t_open, n_single,
           n_single ? n_single / t_single : 0.0, st.added, st.added / t_import, count, best);
    fm_registry_close(&reg);
    fm_key_free(&key);
    return 0;
}
