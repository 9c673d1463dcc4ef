/*
 * payload.h - the signed ownership payload carried by the watermark.
 *
 * Wire layout (FM_PAYLOAD_BYTES = 14 bytes, big-endian):
 *   byte 0      format version (2)
 *   bytes 1-4   title id
 *   bytes 5-8   recipient id (0 = general release)
 *   bytes 9-12  issue time, minutes since 1970-01-01T00:00Z
 *   byte 13     the rights holder's AI-use policy (FmAiUse)
 * followed in the mark by the 64-byte Ed25519 signature over
 * "filmmark payload v2" || those 14 bytes: 78 bytes = 624 bits in all.
 * Format 1 (13 bytes, no policy) is retired: its marks are not read.
 */
#ifndef FM_PAYLOAD_H
#define FM_PAYLOAD_H

#include <stdint.h>
#include <time.h>
#include <sodium.h>

#include "fm_error.h"
#include "keys.h"

#define FM_PAYLOAD_VERSION 2
#define FM_PAYLOAD_BYTES 14
#define FM_SIGNATURE_BYTES crypto_sign_BYTES             /* 64 */
#define FM_MESSAGE_BYTES (FM_PAYLOAD_BYTES + FM_SIGNATURE_BYTES) /* 78 */
#define FM_MESSAGE_BITS (FM_MESSAGE_BYTES * 8)           /* 624 */

/*
 * What the rights holder allows AI developers to do with the work (text and
 * data mining, training). Values above FM_AI_USE_LAST are kept for later
 * policies: a payload carrying one still verifies and is reported by number.
 */
typedef enum FmAiUse {
    FM_AI_USE_RESERVED = 0,        /* training and mining reserved (the default) */
    FM_AI_USE_ALLOWED = 1,         /* allowed */
    FM_AI_USE_ATTRIBUTION = 2,     /* allowed with attribution */
    FM_AI_USE_NONCOMMERCIAL = 3,   /* allowed for non-commercial research only */
    FM_AI_USE_LAST = FM_AI_USE_NONCOMMERCIAL,
} FmAiUse;

typedef struct FmPayload {
    uint8_t version;
    uint32_t title_id;
    uint32_t recipient_id;
    uint32_t issued_minutes; /* minutes since the Unix epoch, UTC */
    uint8_t ai_use;          /* FmAiUse */
} FmPayload;

/* "reserved", "allowed", "attribution", "noncommercial"; NULL for values
 * this version does not name. */
const char *fm_ai_use_name(unsigned ai_use);
/* One line for people: "reserved by the rights holder", ... */
const char *fm_ai_use_text(unsigned ai_use);
/* Parses a name above; returns 0 or FM_EINVAL. */
int fm_ai_use_from_name(const char *name, uint8_t *ai_use);

void fm_payload_pack(const FmPayload *p, uint8_t out[FM_PAYLOAD_BYTES]);
/* Returns 0, or FM_EFORMAT for an unknown version. */
int fm_payload_unpack(const uint8_t in[FM_PAYLOAD_BYTES], FmPayload *p, FmError *err);

/* message = packed payload || signature. key must be a secret key. */
int fm_payload_sign(const FmPayload *p, const FmKey *key,
                    uint8_t message[FM_MESSAGE_BYTES], FmError *err);
/* Returns 0 when the signature in message verifies under key->sign_pk, else FM_ECRYPTO. */
int fm_payload_verify(const uint8_t message[FM_MESSAGE_BYTES], const FmKey *key);

/* "2026-11-23T19:25Z" style ISO 8601 UTC; buf of at least 32 bytes. */
void fm_minutes_to_iso8601(uint32_t minutes, char *buf, size_t len);

/*
 * Parses an issue time: ISO 8601 UTC at minute resolution,
 * "YYYY-MM-DDTHH:MMZ" (the form fm_minutes_to_iso8601 writes, so a 5-digit
 * year up to 10136 is accepted too), or "YYYY-MM-DDTHH:MM:SSZ" with the
 * seconds dropped, or "now" (the current time, rounded down to the minute).
 * Stores minutes since 1970-01-01T00:00Z in *minutes and returns 0, or
 * returns FM_EINVAL, leaving *minutes alone, for anything malformed, an
 * impossible date or time (month 13, February 30, 24:00), a time before
 * 1970 or beyond UINT32_MAX minutes.
 */
int fm_iso8601_to_minutes(const char *s, uint32_t *minutes);

#endif
