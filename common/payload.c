/*
 * payload.c - packing, signing and verifying the watermark payload.
 */
#include "payload.h"

#include <stdio.h>
#include <string.h>

/* Signed ahead of the packed payload so the signature means nothing else. */
#define PAYLOAD_DOMAIN "filmmark payload v1"
#define PAYLOAD_DOMAIN_BYTES (sizeof(PAYLOAD_DOMAIN) - 1)   /* 19 */

_Static_assert(PAYLOAD_DOMAIN_BYTES == 19, "domain string is 19 bytes");
_Static_assert(FM_MESSAGE_BYTES == 77, "message is 77 bytes");

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
    return 0;
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
