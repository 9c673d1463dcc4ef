#include "receipt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "atomic_file.h"
#include "tool_util.h"
#include "version.h"

#define RECEIPT_FORMAT FM_RECEIPT_FORMAT_NAME

/*
 * Measured figures go into the receipt as decimal strings with a fixed
 * number of places: the signed bytes then hold no floating-point number,
 * whose text form differs between JSON libraries (docs/RECEIPT.md).
 */
static json_t *decimal(double x, int places)
{
    char buf[64];
    if (!isfinite(x))
        x = 0;
    snprintf(buf, sizeof(buf), "%.*f", places, x);
    /* "-0.00" is "0.00" */
    int zero = 1;
    for (const char *c = buf; *c; c++)
        if (*c >= '1' && *c <= '9')
            zero = 0;
    return json_string(zero && buf[0] == '-' ? buf + 1 : buf);
}

/* Names are free text, but no control characters: their escapes are where
 * JSON serialisers differ. */
static int printable(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

int fm_receipt_format(const FmKey *secret, const FmPayload *payload,
                      const uint8_t message[FM_MESSAGE_BYTES], const FmReceiptInfo *info,
                      char **out, FmError *err)
{
    char issued[32], msg_hex[2 * FM_MESSAGE_BYTES + 1], fp[FM_FINGERPRINT_CHARS + 1];
    char created[32], sig_hex[2 * crypto_sign_BYTES + 1];
    uint8_t sig[crypto_sign_BYTES];
    time_t now = time(NULL);
    struct tm tm;

    if (secret->kind != FM_KEY_SECRET)
        return fm_error_set(err, FM_EINVAL, "a secret key is needed to sign a receipt");
    if (!printable(info->owner) || !printable(info->title) || !printable(info->recipient))
        return fm_error_set(err, FM_EINVAL, "a name holds a control character");
    gmtime_r(&now, &tm);
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (info->created)
        snprintf(created, sizeof(created), "%s", info->created);
    fm_minutes_to_iso8601(payload->issued_minutes, issued, sizeof(issued));
    fm_hex(message, FM_MESSAGE_BYTES, msg_hex);
    fm_key_fingerprint(secret, fp);

    const char *ai_name = fm_ai_use_name(payload->ai_use);
    json_t *body = json_pack("{s:s, s:s, s:s, s:{s:i, s:I, s:I, s:s, s:I, s:o}, s:s}",
        "format", RECEIPT_FORMAT,
        "created", created,
        "key_fingerprint", fp,
        "payload", "version", payload->version,
                   "title_id", (json_int_t)payload->title_id,
                   "recipient_id", (json_int_t)payload->recipient_id,
                   "issued", issued,
                   "issued_minutes", (json_int_t)payload->issued_minutes,
                   "ai_use", ai_name ? json_string(ai_name) : json_integer(payload->ai_use),
        "message_hex", msg_hex);
    if (!body)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    json_t *names = json_object();
    if (info->owner) json_object_set_new(names, "owner", json_string(info->owner));
    if (info->title) json_object_set_new(names, "title", json_string(info->title));
    if (info->recipient) json_object_set_new(names, "recipient", json_string(info->recipient));
    json_object_set_new(body, "names", names);
    json_object_set_new(body, "output", json_pack("{s:s, s:s, s:I, s:i, s:i}",
        "file", info->output_name, "sha256", info->output_sha256,
        "frames", (json_int_t)info->frames, "width", info->width, "height", info->height));
    json_object_set_new(body, "settings", json_pack("{s:s, s:i, s:o}",
        "codec", info->codec, "crf", info->crf, "strength", decimal(info->strength, 3)));
    json_object_set_new(body, "quality", json_pack("{s:o, s:o}",
        "luma_psnr_db", decimal(info->psnr_y, 2), "luma_ssim", decimal(info->ssim_y, 4)));
    if (info->self_check) {
        const FmSelfCheck *sc = info->self_check;
        json_object_set_new(body, "self_check", json_pack("{s:b, s:b, s:b, s:o, s:o, s:o, s:o}",
            "found", sc->found, "signature_valid", sc->signature_valid,
            "message_match", sc->message_match, "pilot_z", decimal(sc->pilot_z, 2),
            "raw_bit_error_rate", decimal(sc->raw_ber, 4),
            "false_alarm_log10", decimal(sc->false_alarm_log10, 1),
            "seconds_read", decimal(sc->seconds_read, 2)));
    } else {
        json_object_set_new(body, "self_check", json_null());
    }
    if (info->master_short)
        json_object_set_new(body, "master_short", json_string(info->master_short));
    if (info->content_fingerprint) {
        FmFingerprint *check;
        int r = fm_fingerprint_from_string(&check, info->content_fingerprint, err);
        fm_fingerprint_free(&check);
        if (r < 0) {
            json_decref(body);
            return r == FM_ENOMEM ? r : FM_EINVAL;
        }
        json_object_set_new(body, "content_fingerprint",
                            json_string(info->content_fingerprint));
    }

    char *canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    if (!canon) {
        json_decref(body);
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    }
    crypto_sign_detached(sig, NULL, (const uint8_t *)canon, strlen(canon), secret->sign_sk);
    free(canon);
    fm_hex(sig, sizeof(sig), sig_hex);
    json_t *doc = json_pack("{s:o, s:s}", "receipt", body, "receipt_signature", sig_hex);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    size_t tl = strlen(text);
    char *withnl = malloc(tl + 2);
    if (!withnl) {
        free(text);
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    }
    memcpy(withnl, text, tl);
    withnl[tl] = '\n';
    withnl[tl + 1] = 0;
    free(text);
    *out = withnl;
    return 0;
}

int fm_receipt_write(const char *path, const FmKey *secret, const FmPayload *payload,
                     const uint8_t message[FM_MESSAGE_BYTES], const FmReceiptInfo *info,
                     int force, FmError *err)
{
    char *text;
    int ret = fm_receipt_format(secret, payload, message, info, &text, err);
    if (ret < 0)
        return ret;
    /* receipts are public records: 0644 whatever the umask */
    ret = fm_file_write_atomic(path, text, strlen(text), 0644, 0, force, err);
    free(text);
    return ret;
}

/*
 * Reads a receipt file whole into a NUL-terminated buffer: a regular file of
 * at most FM_RECEIPT_MAX_BYTES (opened without blocking, so a FIFO is refused
 * rather than waited on, and a huge file is not read at all).
 */
int fm_receipt_read_text(const char *path, char **text, size_t *len, FmError *err)
{
    *text = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return fm_error_set(err, FM_EIO, "cannot read receipt '%s': %s", path, strerror(errno));
    struct stat st;
    int ret = 0;
    char *buf = NULL;
    if (fstat(fd, &st) != 0) {
        ret = fm_error_set(err, FM_EIO, "cannot read receipt '%s': %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        ret = fm_error_set(err, FM_EFORMAT, "receipt '%s' is not a regular file", path);
    } else if (st.st_size > FM_RECEIPT_MAX_BYTES) {
        ret = fm_error_set(err, FM_EFORMAT,
                           "receipt '%s' is larger than %d bytes: not a filmmark receipt", path,
                           FM_RECEIPT_MAX_BYTES);
    } else if (!(buf = malloc((size_t)st.st_size + 1))) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory");
    } else {
        size_t got = 0;
        /* read to the size found, and no further: the file may grow meanwhile */
        while (got < (size_t)st.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                ret = fm_error_set(err, FM_EIO, "cannot read receipt '%s': %s", path,
                                   strerror(errno));
                break;
            }
            if (n == 0)
                break;
            got += (size_t)n;
        }
        buf[got] = 0;
        *len = got;
    }
    close(fd);
    if (ret < 0)
        free(buf);
    else
        *text = buf;
    return ret;
}

/* Parses and checks a receipt's text; on success *docp holds the document. */
static int parse_verified(const char *path, const char *text, size_t len, const FmKey *key,
                          uint8_t message[FM_MESSAGE_BYTES], json_t **docp, FmError *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    int ret = 0;
    *docp = NULL;
    if (!doc)
        return fm_error_set(err, FM_EFORMAT, "cannot read receipt '%s': %s", path, jerr.text);
    json_t *body = json_object_get(doc, "receipt");
    const char *sig_hex = json_string_value(json_object_get(doc, "receipt_signature"));
    const char *msg_hex = json_string_value(json_object_get(body, "message_hex"));
    uint8_t sig[crypto_sign_BYTES];
    if (!json_is_object(body) || !sig_hex || !msg_hex ||
        fm_unhex(sig_hex, sig, sizeof(sig)) < 0 ||
        fm_unhex(msg_hex, message, FM_MESSAGE_BYTES) < 0) {
        ret = fm_error_set(err, FM_EFORMAT, "'%s' is not a filmmark receipt", path);
        goto end;
    }
    char *canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    if (!canon) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory");
        goto end;
    }
    int ok = crypto_sign_verify_detached(sig, (const uint8_t *)canon, strlen(canon),
                                         key->sign_pk) == 0;
    free(canon);
    if (!ok)
        ret = fm_error_set(err, FM_ECRYPTO, "receipt '%s' is not signed by this key", path);
    else if (fm_payload_verify(message, key) != 0)
        ret = fm_error_set(err, FM_ECRYPTO, "the payload in receipt '%s' does not verify", path);
end:
    if (ret == 0)
        *docp = doc;
    else
        json_decref(doc);
    return ret;
}

/* The content fingerprint of a verified receipt document. */
static int receipt_fingerprint(const char *path, json_t *doc, FmFingerprint **fp, FmError *err)
{
    int ret;
    json_t *member = json_object_get(json_object_get(doc, "receipt"), "content_fingerprint");
    if (!member) {
        ret = fm_error_set(err, FM_ENOTFOUND, "receipt '%s' has no content fingerprint", path);
    } else if (!json_is_string(member)) {
        ret = fm_error_set(err, FM_EFORMAT, "receipt '%s': content_fingerprint is not a string",
                           path);
    } else {
        FmError perr;
        ret = fm_fingerprint_from_string(fp, json_string_value(member), &perr);
        if (ret < 0)
            ret = fm_error_set(err, ret, "receipt '%s': %s", path, perr.msg);
    }
    return ret;
}

/* Loads and checks a receipt; on success *docp holds the parsed document. */
static int read_verified(const char *path, const FmKey *key, uint8_t message[FM_MESSAGE_BYTES],
                         json_t **docp, FmError *err)
{
    char *text;
    size_t len = 0;
    *docp = NULL;
    int ret = fm_receipt_read_text(path, &text, &len, err);
    if (ret < 0)
        return ret;
    ret = parse_verified(path, text, len, key, message, docp, err);
    free(text);
    return ret;
}

int fm_receipt_verify_text(const char *text, size_t len, const FmKey *key,
                           uint8_t message[FM_MESSAGE_BYTES], FmFingerprint **fp, FmError *err)
{
    json_t *doc;
    if (fp)
        *fp = NULL;
    int ret = parse_verified("(text)", text, len, key, message, &doc, err);
    if (ret < 0)
        return ret;
    if (fp)
        ret = receipt_fingerprint("(text)", doc, fp, err);
    json_decref(doc);
    return ret;
}

int fm_receipt_read(const char *path, const FmKey *key, uint8_t message[FM_MESSAGE_BYTES],
                    FmError *err)
{
    json_t *doc;
    int ret = read_verified(path, key, message, &doc, err);
    json_decref(doc);
    return ret;
}

int fm_receipt_read_output(const char *path, const FmKey *key,
                           uint8_t message[FM_MESSAGE_BYTES], char sha256[65], FmError *err)
{
    json_t *doc;
    int ret = read_verified(path, key, message, &doc, err);
    if (ret < 0)
        return ret;
    const char *sha = json_string_value(json_object_get(json_object_get(
        json_object_get(doc, "receipt"), "output"), "sha256"));
    if (!sha || strlen(sha) != 64)
        ret = fm_error_set(err, FM_EFORMAT, "receipt '%s' records no output.sha256", path);
    else
        memcpy(sha256, sha, 65);
    json_decref(doc);
    return ret;
}

int fm_receipt_read_fingerprint(const char *path, const FmKey *key, FmFingerprint **fp,
                                FmError *err)
{
    uint8_t message[FM_MESSAGE_BYTES];
    json_t *doc;
    *fp = NULL;
    int ret = read_verified(path, key, message, &doc, err);
    if (ret < 0)
        return ret;
    ret = receipt_fingerprint(path, doc, fp, err);
    json_decref(doc);
    return ret;
}

int fm_receipt_text_picture_size(const char *text, size_t len, int *width, int *height)
{
    *width = *height = 0;
    json_t *root = text ? json_loadb(text, len, 0, NULL) : NULL;
    json_t *out = json_object_get(json_object_get(root, "receipt"), "output");
    json_t *w = json_object_get(out, "width"), *h = json_object_get(out, "height");
    if (json_is_integer(w) && json_is_integer(h) && json_integer_value(w) > 0 &&
        json_integer_value(h) > 0 && json_integer_value(w) <= 65536 &&
        json_integer_value(h) <= 65536) {
        *width = (int)json_integer_value(w);
        *height = (int)json_integer_value(h);
    }
    json_decref(root);
    return *width ? 0 : FM_ENOTFOUND;
}
