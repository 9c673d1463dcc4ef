/*
 * payload.c - packing, signing and verifying the watermark payload.
 */
#include "payload.h"

#include <stdio.h>
#include <string.h>

/* Signed ahead of the packed payload so the signature means nothing else. */
#define PAYLOAD_DOMAIN "filmmark payload v2"
#define PAYLOAD_DOMAIN_BYTES (sizeof(PAYLOAD_DOMAIN) - 1)   /* 19 */

_Static_assert(PAYLOAD_DOMAIN_BYTES == 19, "domain string is 19 bytes");
_Static_assert(FM_MESSAGE_BYTES == 78, "message is 78 bytes");

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void fm_payload_pack(const FmPayload *p, uint8_t out[FM_PAYLOAD_BYTES])
{
    out[0] = p->version;
    put_be32(out + 1, p->title_id);
    put_be32(out + 5, p->recipient_id);
    put_be32(out + 9, p->issued_minutes);
    out[13] = p->ai_use;
}

int fm_payload_unpack(const uint8_t in[FM_PAYLOAD_BYTES], FmPayload *p, FmError *err)
{
    memset(p, 0, sizeof(*p));
    p->version = in[0];
    if (in[0] != FM_PAYLOAD_VERSION)
        return fm_error_set(err, FM_EFORMAT, "unsupported payload version %u (expected %d)",
                            (unsigned)in[0], FM_PAYLOAD_VERSION);
    p->title_id = get_be32(in + 1);
    p->recipient_id = get_be32(in + 5);
    p->issued_minutes = get_be32(in + 9);
    p->ai_use = in[13];
    return 0;
}

static const struct { const char *name, *text; } ai_uses[] = {
    [FM_AI_USE_RESERVED] = { "reserved", "reserved by the rights holder" },
    [FM_AI_USE_ALLOWED] = { "allowed", "allowed by the rights holder" },
    [FM_AI_USE_ATTRIBUTION] = { "attribution", "allowed with attribution" },
    [FM_AI_USE_NONCOMMERCIAL] = { "noncommercial", "allowed for non-commercial research only" },
};

const char *fm_ai_use_name(unsigned ai_use)
{
    return ai_use <= FM_AI_USE_LAST ? ai_uses[ai_use].name : NULL;
}

const char *fm_ai_use_text(unsigned ai_use)
{
    return ai_use <= FM_AI_USE_LAST ? ai_uses[ai_use].text
                                    : "a policy this version does not know (newer format?)";
}

int fm_ai_use_from_name(const char *name, uint8_t *ai_use)
{
    for (unsigned i = 0; i <= FM_AI_USE_LAST; i++)
        if (name && !strcmp(name, ai_uses[i].name)) {
            *ai_use = (uint8_t)i;
            return 0;
        }
    return FM_EINVAL;
}

/* The signed bytes: domain string || packed payload. */
static void signed_bytes(const uint8_t packed[FM_PAYLOAD_BYTES],
                         uint8_t out[PAYLOAD_DOMAIN_BYTES + FM_PAYLOAD_BYTES])
{
    memcpy(out, PAYLOAD_DOMAIN, PAYLOAD_DOMAIN_BYTES);
    memcpy(out + PAYLOAD_DOMAIN_BYTES, packed, FM_PAYLOAD_BYTES);
}

int fm_payload_sign(const FmPayload *p, const FmKey *key,
                    uint8_t message[FM_MESSAGE_BYTES], FmError *err)
{
    if (!p || !key || !message)
        return fm_error_set(err, FM_EINVAL, "nothing to sign or no key");
    if (key->kind != FM_KEY_SECRET)
        return fm_error_set(err, FM_EINVAL, "a secret key is needed to sign the payload");
    if (p->version != FM_PAYLOAD_VERSION)
        return fm_error_set(err, FM_EINVAL, "cannot sign payload version %u (expected %d)",
                            (unsigned)p->version, FM_PAYLOAD_VERSION);

    uint8_t m[PAYLOAD_DOMAIN_BYTES + FM_PAYLOAD_BYTES];
    fm_payload_pack(p, message);
    signed_bytes(message, m);
    if (crypto_sign_detached(message + FM_PAYLOAD_BYTES, NULL, m, sizeof(m),
                             key->sign_sk) != 0) {
        sodium_memzero(message, FM_MESSAGE_BYTES);
        return fm_error_set(err, FM_ECRYPTO, "cannot sign the payload");
    }
    return 0;
}

int fm_payload_verify(const uint8_t message[FM_MESSAGE_BYTES], const FmKey *key)
{
    if (!message || !key)
        return FM_EINVAL;
    uint8_t m[PAYLOAD_DOMAIN_BYTES + FM_PAYLOAD_BYTES];
    signed_bytes(message, m);
    if (crypto_sign_verify_detached(message + FM_PAYLOAD_BYTES, m, sizeof(m),
                                    key->sign_pk) != 0)
        return FM_ECRYPTO;
    return 0;
}

void fm_minutes_to_iso8601(uint32_t minutes, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    int64_t secs = (int64_t)minutes * 60;
    time_t t = (time_t)secs;
    struct tm tm;
    if ((int64_t)t != secs || !gmtime_r(&t, &tm)) {   /* 32-bit time_t */
        snprintf(buf, len, "(invalid time)");
        return;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min);
}

/* n decimal digits at s (nothing else: no sign, no space); -1 if not. */
static int64_t digits(const char *s, int n)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int fm_iso8601_to_minutes(const char *s, uint32_t *minutes)
{
    if (!s || !minutes)
        return FM_EINVAL;
    if (strcmp(s, "now") == 0) {
        time_t now = time(NULL);
        if (now < 0 || (uint64_t)now / 60 > UINT32_MAX)
            return FM_EINVAL;
        *minutes = (uint32_t)((uint64_t)now / 60);
        return 0;
    }

    /* year: 4 digits, or 5 without a leading zero (years 10000..10136) */
    size_t yl = 0;
    while (yl < 6 && s[yl] >= '0' && s[yl] <= '9')
        yl++;
    if (yl != 4 && !(yl == 5 && s[0] != '0'))
        return FM_EINVAL;
    const char *p = s + yl;
    /* then "-MM-DDTHH:MM" (12 characters) or "-MM-DDTHH:MM:SS" (15), then the
     * zone: "Z", or an offset "+HH:MM" / "-HH:MM" that is converted to UTC */
    size_t rest = strlen(p), zone;
    if (rest == 13 || rest == 16)
        zone = 1;
    else if (rest == 18 || rest == 21)
        zone = 6;
    else
        return FM_EINVAL;
    size_t body = rest - zone;
    if (p[0] != '-' || p[3] != '-' || p[6] != 'T' || p[9] != ':')
        return FM_EINVAL;
    int64_t year = digits(s, (int)yl), mon = digits(p + 1, 2), day = digits(p + 4, 2),
            hour = digits(p + 7, 2), min = digits(p + 10, 2), sec = 0, offset = 0;
    if (body == 15) {
        if (p[12] != ':')
            return FM_EINVAL;
        sec = digits(p + 13, 2);
    }
    const char *z = p + body;
    if (zone == 1) {
        if (z[0] != 'Z')
            return FM_EINVAL;
    } else {
        int64_t oh = digits(z + 1, 2), om = digits(z + 4, 2);
        if ((z[0] != '+' && z[0] != '-') || z[3] != ':' || oh < 0 || oh > 23 || om < 0 || om > 59)
            return FM_EINVAL;
        offset = (z[0] == '+' ? 1 : -1) * (oh * 60 + om);
    }
    if (year < 1970 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
        min < 0 || min > 59 || sec < 0 || sec > 60)   /* 60: a leap second, dropped anyway */
        return FM_EINVAL;

    struct tm tm = { 0 };
    tm.tm_year = (int)(year - 1900);
    tm.tm_mon = (int)(mon - 1);
    tm.tm_mday = (int)day;
    tm.tm_hour = (int)hour;
    tm.tm_min = (int)min;
    time_t t = timegm(&tm);
    /* timegm normalises (in tm too) February 30 into March: such a date is refused */
    struct tm back;
    if (t < 0 || !gmtime_r(&t, &back) || back.tm_year != year - 1900 ||
        back.tm_mon != mon - 1 || back.tm_mday != day || back.tm_hour != hour ||
        back.tm_min != min)
        return FM_EINVAL;
    /* local time at +offset is UTC + offset */
    int64_t utc = (int64_t)t / 60 - offset;
    if (utc < 0 || utc > UINT32_MAX)
        return FM_EINVAL;
    *minutes = (uint32_t)utc;
    return 0;
}
