/*
 * registry_json.c - export and import of the registry as JSON lines
 * (format "filmmark-registry-1", docs/REGISTRY.md), with jansson.
 */
#include "registry_priv.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tool_util.h"

#define EXPORT_FORMAT "filmmark-registry-1"
#define LOWER_HEX "0123456789abcdef"

json_t *fm_issuance_to_json(const FmIssuance *iss)
{
    char msg_hex[2 * FM_MESSAGE_BYTES + 1], issued[32];
    fm_hex(iss->message, FM_MESSAGE_BYTES, msg_hex);
    fm_minutes_to_iso8601(iss->payload.issued_minutes, issued, sizeof(issued));
    json_t *names = json_object();
    if (!names)
        return NULL;
    if (iss->owner) json_object_set_new(names, "owner", json_string(iss->owner));
    if (iss->title) json_object_set_new(names, "title", json_string(iss->title));
    if (iss->recipient) json_object_set_new(names, "recipient", json_string(iss->recipient));
    json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:{s:i, s:I, s:I, s:I, s:s, s:i}, s:o,"
                          " s:{s:s, s:s}, s:{s:s, s:i, s:f}, s:s*, s:s*, s:s}",
        "format", EXPORT_FORMAT,
        "id", (json_int_t)iss->id,
        "key_fingerprint", iss->key_fingerprint,
        "message_hex", msg_hex,
        "payload", "version", (int)iss->payload.version,
                   "title_id", (json_int_t)iss->payload.title_id,
                   "recipient_id", (json_int_t)iss->payload.recipient_id,
                   "issued_minutes", (json_int_t)iss->payload.issued_minutes,
                   "issued", issued,
                   "ai_use", (int)iss->payload.ai_use,
        "names", names,
        "output", "file", iss->output_name, "sha256", iss->output_sha256,
        "settings", "codec", iss->codec, "crf", iss->crf, "strength", iss->strength,
        "receipt", iss->receipt_json,
        "content_fingerprint", iss->content_fingerprint,
        "created_at", iss->created_at);
    /* last: the mark format wmembed wrote, null when unknown (rows recorded
     * before schema 3); an older filmmark's import ignores the member */
    if (o && json_object_set_new(o, "mark_format", iss->mark_format ? json_integer(iss->mark_format)
                                                                    : json_null()) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int fm_registry_export(FmRegistry *reg, FILE *out, FmError *err)
{
    FmIssuanceList list;
    int r = fm_registry_list(reg, NULL, &list, err);
    if (r < 0)
        return r;
    for (size_t k = 0; k < list.count && r == 0; k++) {
        json_t *o = fm_issuance_to_json(&list.items[k]);
        char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (!line) {
            r = fm_error_set(err, FM_ENOMEM, "out of memory (or a name that is not UTF-8 "
                                             "in issuance %lld)", (long long)list.items[k].id);
            break;
        }
        if (fputs(line, out) == EOF || fputc('\n', out) == EOF)
            r = fm_error_set(err, FM_EIO, "write error");
        free(line);
    }
    fm_issuance_list_free(&list);
    if (r == 0 && fflush(out) != 0)
        r = fm_error_set(err, FM_EIO, "write error");
    return r;
}

/* ------------------------------------------------------------------ */
/* import */

static int get_string(json_t *obj, const char *member, int required, const char **out,
                      const char **why)
{
    json_t *j = json_is_object(obj) ? json_object_get(obj, member) : NULL;
    *out = NULL;
    if (!j || json_is_null(j)) {
        if (required)
            *why = member;
        return required ? -1 : 0;
    }
    if (!json_is_string(j)) {
        *why = member;
        return -1;
    }
    *out = json_string_value(j);
    return 0;
}

static int get_int(json_t *obj, const char *member, json_int_t lo, json_int_t hi, json_int_t *out,
                   const char **why)
{
    json_t *j = json_is_object(obj) ? json_object_get(obj, member) : NULL;
    if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi) {
        *why = member;
        return -1;
    }
    *out = json_integer_value(j);
    return 0;
}

/* An optional integer member: absent or null gives 0. */
static int get_opt_int(json_t *obj, const char *member, json_int_t lo, json_int_t hi,
                       json_int_t *out, const char **why)
{
    json_t *j = json_object_get(obj, member);
    *out = 0;
    if (!j || json_is_null(j))
        return 0;
    return get_int(obj, member, lo, hi, out, why);
}

static char *dup_opt(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

/* Parses one line into iss (strings duplicated). Returns 0, or FM_EFORMAT with
 * the reason in err (without the line number), or FM_ENOMEM. */
static int issuance_from_json(const char *line, FmIssuance *iss, FmError *err)
{
    json_error_t jerr;
    json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    memset(iss, 0, sizeof(*iss));
    if (!o)
        return fm_error_set(err, FM_EFORMAT, "not JSON: %s", jerr.text);
    const char *why = NULL, *format, *fp, *msg_hex, *sha, *created, *codec, *file;
    const char *owner, *title, *recipient, *receipt, *cfp;
    json_int_t version, title_id, recipient_id, minutes, ai_use, crf, mark_format;
    json_t *payload = json_object_get(o, "payload"), *names = json_object_get(o, "names");
    json_t *output = json_object_get(o, "output"), *settings = json_object_get(o, "settings");
    json_t *strength = json_is_object(settings) ? json_object_get(settings, "strength") : NULL;
    int r = FM_EFORMAT;

    if (!json_is_object(o)) {
        fm_error_set(err, r, "not a JSON object");
        goto out;
    }
    if (get_string(o, "format", 1, &format, &why) < 0 || strcmp(format, EXPORT_FORMAT) != 0) {
        fm_error_set(err, r, "not a " EXPORT_FORMAT " line (member 'format')");
        goto out;
    }
    if (get_string(o, "key_fingerprint", 1, &fp, &why) < 0 ||
        get_string(o, "message_hex", 1, &msg_hex, &why) < 0 ||
        !json_is_object(payload) || (why = "payload", 0) ||
        get_int(payload, "version", 0, 255, &version, &why) < 0 ||
        get_int(payload, "title_id", 0, UINT32_MAX, &title_id, &why) < 0 ||
        get_int(payload, "recipient_id", 0, UINT32_MAX, &recipient_id, &why) < 0 ||
        get_int(payload, "issued_minutes", 0, UINT32_MAX, &minutes, &why) < 0 ||
        get_int(payload, "ai_use", 0, 255, &ai_use, &why) < 0 ||
        (names && !json_is_object(names) && (why = "names")) ||
        get_string(names, "owner", 0, &owner, &why) < 0 ||
        get_string(names, "title", 0, &title, &why) < 0 ||
        get_string(names, "recipient", 0, &recipient, &why) < 0 ||
        get_string(output, "file", 1, &file, &why) < 0 ||
        get_string(output, "sha256", 1, &sha, &why) < 0 ||
        get_string(settings, "codec", 1, &codec, &why) < 0 ||
        get_int(settings, "crf", -1, 1000, &crf, &why) < 0 ||
        (!json_is_number(strength) && (why = "strength")) ||
        get_string(o, "receipt", 0, &receipt, &why) < 0 ||
        get_string(o, "content_fingerprint", 0, &cfp, &why) < 0 ||
        get_string(o, "created_at", 1, &created, &why) < 0 ||
        get_opt_int(o, "mark_format", 1, FM_REGISTRY_MARK_FORMAT_MAX, &mark_format, &why) < 0) {
        fm_error_set(err, r, "member '%s' is missing or of the wrong type or range",
                     why ? why : "payload");
        goto out;
    }
    if (strlen(fp) != FM_FINGERPRINT_CHARS || strspn(fp, LOWER_HEX) != FM_FINGERPRINT_CHARS) {
        fm_error_set(err, r, "key_fingerprint is not %d lowercase hex digits", FM_FINGERPRINT_CHARS);
        goto out;
    }
    if (strlen(sha) != 64 || strspn(sha, LOWER_HEX) != 64) {
        fm_error_set(err, r, "output.sha256 is not 64 lowercase hex digits");
        goto out;
    }
    if (strlen(created) != 20 || created[10] != 'T' || created[19] != 'Z') {
        fm_error_set(err, r, "created_at is not YYYY-MM-DDThh:mm:ssZ");
        goto out;
    }
    if (fm_unhex(msg_hex, iss->message, FM_MESSAGE_BYTES) != 0 ||
        strlen(msg_hex) != 2 * FM_MESSAGE_BYTES) {
        fm_error_set(err, r, "message_hex is not %d hex digits", 2 * FM_MESSAGE_BYTES);
        goto out;
    }
    FmError perr;
    FmPayload p;
    if (fm_payload_unpack(iss->message, &p, &perr) < 0) {
        fm_error_set(err, r, "message: %s", perr.msg);
        goto out;
    }
    if (p.version != version || p.title_id != title_id || p.recipient_id != recipient_id ||
        p.issued_minutes != minutes || p.ai_use != ai_use) {
        fm_error_set(err, r, "the payload fields differ from message_hex");
        goto out;
    }
    iss->payload = p;
    snprintf(iss->key_fingerprint, sizeof(iss->key_fingerprint), "%s", fp);
    snprintf(iss->output_sha256, sizeof(iss->output_sha256), "%s", sha);
    snprintf(iss->created_at, sizeof(iss->created_at), "%s", created);
    iss->crf = (int)crf;
    iss->mark_format = (int)mark_format;
    iss->strength = json_number_value(strength);
    int oom = 0;
    iss->owner = dup_opt(owner, &oom);
    iss->title = dup_opt(title, &oom);
    iss->recipient = dup_opt(recipient, &oom);
    iss->output_name = dup_opt(file, &oom);
    iss->codec = dup_opt(codec, &oom);
    iss->receipt_json = dup_opt(receipt, &oom);
    iss->content_fingerprint = dup_opt(cfp, &oom);
    r = oom ? fm_error_set(err, FM_ENOMEM, "out of memory") : 0;
out:
    if (r < 0)
        fm_issuance_clear(iss);
    json_decref(o);
    return r;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

int fm_registry_import(FmRegistry *reg, FILE *in, const char *name, FmKey *const *keys,
                       size_t nkeys, FmImportStats *stats, FmError *err)
{
    FmImportStats st = { 0 };
    FmIssuance *items = NULL;
    size_t n = 0, cap = 0, lineno = 0, linecap = 0;
    char *line = NULL;
    ssize_t got;
    int r = 0;

    /* first read and check every line: a bad one leaves the registry alone */
    while ((got = getline(&line, &linecap, in)) >= 0) {
        lineno++;
        if ((size_t)got != strlen(line)) {
            r = fm_error_set(err, FM_EFORMAT, "%s: line %zu: contains a NUL byte", name, lineno);
            break;
        }
        if (blank(line))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            FmIssuance *p = realloc(items, cap * sizeof(*items));
            if (!p) {
                r = fm_error_set(err, FM_ENOMEM, "out of memory");
                break;
            }
            items = p;
        }
        FmError lerr;
        r = issuance_from_json(line, &items[n], &lerr);
        if (r == 0) {
            r = fm_issuance_verify(&items[n], keys, nkeys, &lerr);
            if (r == 0)
                st.verified++;
            else if (r == FM_ENOTFOUND)
                r = 0;   /* no key at hand for this one: recorded as is */
            else
                fm_issuance_clear(&items[n]);
        }
        if (r < 0) {
            fm_error_set(err, r == FM_ENOMEM ? r : r == FM_ECRYPTO ? FM_ECRYPTO : FM_EFORMAT,
                         "%s: line %zu: %s", name, lineno, lerr.msg);
            r = r == FM_ENOMEM ? r : r == FM_ECRYPTO ? FM_ECRYPTO : FM_EFORMAT;
            break;
        }
        n++;
    }
    free(line);
    if (r == 0 && ferror(in))
        r = fm_error_set(err, FM_EIO, "%s: read error", name);

    /* then add them all in one transaction (retried as a whole when busy) */
    for (int attempt = 0; r == 0; attempt++) {
        const FmDbOps *o = reg->ops;
        size_t added = 0, present = 0;
        r = o->begin(reg->db, err);
        for (size_t k = 0; r == 0 && k < n; k++) {
            int64_t id;
            int q = fm_registry_insert(reg, &items[k], NULL, &id, err);
            if (q < 0)
                r = q;
            else if (q == 0)
                added++;
            else
                present++;
        }
        if (r == 0)
            r = o->commit(reg->db, err);
        if (r == 0) {
            st.added = added;
            st.present = present;
            break;
        }
        o->rollback(reg->db);
        if (r != FM_EIO || !o->retryable(reg->db) || attempt >= FM_REGISTRY_RETRIES)
            break;
        r = 0;
        fm_registry_backoff(attempt);
    }
    st.lines = n;
    for (size_t k = 0; k < n; k++)
        fm_issuance_clear(&items[k]);
    free(items);
    if (stats)
        *stats = st;
    return r;
}
