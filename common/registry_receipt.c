/*
 * registry_receipt.c - an issuance taken from the signed receipt wmembed
 * wrote (docs/RECEIPT.md), so that the row says exactly what the receipt says.
 */
#include "registry_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "receipt.h"
#include "tool_util.h"

static const char *str_member(json_t *obj, const char *name)
{
    json_t *j = json_is_object(obj) ? json_object_get(obj, name) : NULL;
    return json_is_string(j) ? json_string_value(j) : NULL;
}

static char *dup_opt(const char *s, int *oom)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = 1;
    return d;
}

int fm_issuance_from_receipt(const char *text, FmIssuance *iss, FmError *err)
{
    memset(iss, 0, sizeof(*iss));
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    if (!doc)
        return fm_error_set(err, FM_EFORMAT, "receipt is not JSON: %s", jerr.text);
    json_t *body = json_object_get(doc, "receipt");
    json_t *names = json_object_get(body, "names"), *output = json_object_get(body, "output");
    json_t *settings = json_object_get(body, "settings");
    json_t *crf = json_object_get(settings, "crf"), *strength = json_object_get(settings, "strength");
    const char *fp = str_member(body, "key_fingerprint"), *msg = str_member(body, "message_hex");
    const char *file = str_member(output, "file"), *sha = str_member(output, "sha256");
    const char *codec = str_member(settings, "codec"), *created = str_member(body, "created");
    int r = FM_EFORMAT;
    /* receipt format 2 writes measured figures as decimal strings */
    char *end = NULL;
    double strength_value = json_is_number(strength) ? json_number_value(strength)
                            : json_is_string(strength) ? strtod(json_string_value(strength), &end)
                            : NAN;
    if (end && *end)
        strength_value = NAN;
    if (!fp || !msg || !file || !sha || !codec || !created || !json_is_integer(crf) ||
        !isfinite(strength_value) || strlen(fp) != FM_FINGERPRINT_CHARS || strlen(sha) != 64 ||
        strlen(created) != 20 || strlen(msg) != 2 * FM_MESSAGE_BYTES ||
        fm_unhex(msg, iss->message, FM_MESSAGE_BYTES) != 0) {
        fm_error_set(err, r, "not a complete filmmark receipt");
        goto out;
    }
    if (fm_payload_unpack(iss->message, &iss->payload, err) < 0)
        goto out;
    memcpy(iss->key_fingerprint, fp, FM_FINGERPRINT_CHARS + 1);
    memcpy(iss->output_sha256, sha, 65);
    memcpy(iss->created_at, created, 21);
    iss->crf = (int)json_integer_value(crf);
    iss->strength = strength_value;
    int oom = 0;
    iss->owner = dup_opt(str_member(names, "owner"), &oom);
    iss->title = dup_opt(str_member(names, "title"), &oom);
    iss->recipient = dup_opt(str_member(names, "recipient"), &oom);
    iss->output_name = dup_opt(file, &oom);
    iss->codec = dup_opt(codec, &oom);
    iss->receipt_json = dup_opt(text, &oom);
    iss->content_fingerprint = dup_opt(str_member(body, "content_fingerprint"), &oom);
    r = oom ? fm_error_set(err, FM_ENOMEM, "out of memory") : 0;
out:
    if (r < 0)
        fm_issuance_clear(iss);
    json_decref(doc);
    return r;
}

int fm_registry_add_receipt(FmRegistry *reg, const char *receipt_path, FmKey *const *keys,
                            size_t nkeys, int mark_format, int64_t *id, FmError *err)
{
    /* a regular file of receipt size only: a FIFO would block, a huge file
     * would be read whole */
    char *text = NULL;
    size_t len = 0;
    int rr = fm_receipt_read_text(receipt_path, &text, &len, err);
    if (rr < 0)
        return rr;
    FmIssuance iss;
    FmError e2 = {{0}};
    int r = fm_issuance_from_receipt(text, &iss, &e2);
    free(text);
    if (r < 0)
        return fm_error_set(err, r, "'%s' is not a filmmark receipt: %s", receipt_path, e2.msg);
    /* the text just read: both signatures (the receipt's and the payload's)
     * under the key of its fingerprint, and the row agrees with the receipt */
    r = fm_issuance_verify(&iss, keys, nkeys, &e2);
    if (r == FM_ENOTFOUND)
        r = fm_error_set(err, FM_ECRYPTO, "receipt '%s' names key %s, not %s", receipt_path,
                         iss.key_fingerprint, nkeys == 1 ? "the key given" : "one of the keys given");
    else if (r < 0)
        r = fm_error_set(err, r, "receipt '%s': %s", receipt_path, e2.msg);
    /* not in the receipt: the caller says what it wrote */
    iss.mark_format = mark_format;
    if (r == 0)
        r = fm_registry_add(reg, &iss, NULL, id, err);   /* verified above */
    fm_issuance_clear(&iss);
    return r;
}
