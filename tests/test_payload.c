/*
 * test_payload.c - payload packing, signing and verification.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "payload.h"
#include "testutil.h"

static FmKey *key_a, *key_b;

static void setup(void)
{
    FmError err = {{0}};
    cr_assert_eq(fm_init(&err), 0, "%s", err.msg);
    key_a = fm_key_new();
    key_b = fm_key_new();
    cr_assert(key_a && key_b);
    cr_assert_eq(fm_key_generate(key_a, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_generate(key_b, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    fm_key_free(&key_a);
    fm_key_free(&key_b);
    cr_assert_null(key_a);
}

static const FmPayload sample = {
    .version = FM_PAYLOAD_VERSION,
    .title_id = 0x01020304u,
    .recipient_id = 0xA0B0C0D0u,
    .issued_minutes = 29924365u,   /* 2026-11-23T19:25Z */
    .ai_use = FM_AI_USE_ATTRIBUTION,
};

TestSuite(payload, .init = setup, .fini = teardown);

Test(payload, sizes)
{
    cr_assert_eq(FM_PAYLOAD_BYTES, 14);
    cr_assert_eq(FM_SIGNATURE_BYTES, 64);
    cr_assert_eq(FM_MESSAGE_BYTES, 78);
    cr_assert_eq(FM_MESSAGE_BITS, 624);
}

Test(payload, pack_known_big_endian_bytes)
{
    static const uint8_t want[FM_PAYLOAD_BYTES] = {
        0x02,
        0x01, 0x02, 0x03, 0x04,
        0xA0, 0xB0, 0xC0, 0xD0,
        0x01, 0xC8, 0x9C, 0x0D,   /* 29924365 */
        0x02,                     /* AI use: allowed with attribution */
    };
    uint8_t got[FM_PAYLOAD_BYTES];
    fm_payload_pack(&sample, got);
    cr_assert_arr_eq(got, want, sizeof(want));
}

Test(payload, pack_unpack_round_trip)
{
    const FmPayload cases[] = {
        sample,
        {FM_PAYLOAD_VERSION, 0, 0, 0, FM_AI_USE_RESERVED},
        {FM_PAYLOAD_VERSION, UINT32_MAX, UINT32_MAX, UINT32_MAX, 255},
        {FM_PAYLOAD_VERSION, 0x80000001u, 1, 0x7fffffffu, FM_AI_USE_ALLOWED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t buf[FM_PAYLOAD_BYTES];
        FmPayload back;
        FmError err = {{0}};
        fm_payload_pack(&cases[i], buf);
        cr_assert_eq(fm_payload_unpack(buf, &back, &err), 0, "%s", err.msg);
        cr_assert_eq(back.version, cases[i].version);
        cr_assert_eq(back.title_id, cases[i].title_id);
        cr_assert_eq(back.recipient_id, cases[i].recipient_id);
        cr_assert_eq(back.issued_minutes, cases[i].issued_minutes);
        cr_assert_eq(back.ai_use, cases[i].ai_use);
    }
}

Test(payload, ai_use_names)
{
    for (unsigned v = 0; v <= FM_AI_USE_LAST; v++) {
        uint8_t back = 99;
        cr_assert_not_null(fm_ai_use_name(v));
        cr_assert_not_null(fm_ai_use_text(v));
        cr_assert_eq(fm_ai_use_from_name(fm_ai_use_name(v), &back), 0);
        cr_assert_eq(back, v);
    }
    uint8_t x = 7;
    cr_assert_eq(fm_ai_use_from_name("maybe", &x), FM_EINVAL);
    cr_assert_eq(fm_ai_use_from_name(NULL, &x), FM_EINVAL);
    cr_assert_eq(x, 7, "left alone on error");
    cr_assert_null(fm_ai_use_name(FM_AI_USE_LAST + 1));
    cr_assert_eq(strcmp(fm_ai_use_name(FM_AI_USE_RESERVED), "reserved"), 0);
}

Test(payload, ai_use_is_signed)
{
    /* changing only the policy byte breaks the signature */
    uint8_t msg[FM_MESSAGE_BYTES];
    FmError err = {{0}};
    cr_assert_eq(fm_payload_sign(&sample, key_a, msg, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_payload_verify(msg, key_a), 0);
    msg[13] = FM_AI_USE_ALLOWED;
    cr_assert_neq(fm_payload_verify(msg, key_a), 0, "policy changed, signature still valid");
}

Test(payload, unpack_rejects_unknown_version)
{
    uint8_t buf[FM_PAYLOAD_BYTES];
    FmPayload p = sample, back;
    FmError err = {{0}};
    for (unsigned v = 0; v < 256; v++) {
        if (v == FM_PAYLOAD_VERSION)
            continue;
        p.version = (uint8_t)v;
        fm_payload_pack(&p, buf);
        cr_assert_eq(fm_payload_unpack(buf, &back, &err), FM_EFORMAT);
        cr_assert_not_null(strstr(err.msg, "version"), "%s", err.msg);
        cr_assert_null(strchr(err.msg, '\n'));
    }
}

Test(payload, sign_verify_ok)
{
    uint8_t msg[FM_MESSAGE_BYTES];
    uint8_t packed[FM_PAYLOAD_BYTES];
    FmError err = {{0}};
    cr_assert_eq(fm_payload_sign(&sample, key_a, msg, &err), 0, "%s", err.msg);
    fm_payload_pack(&sample, packed);
    cr_assert_arr_eq(msg, packed, FM_PAYLOAD_BYTES, "message starts with the packed payload");
    cr_assert_eq(fm_payload_verify(msg, key_a), 0);

    /* The detection and public keys of the pair verify too. */
    FmKey *d = fm_key_new(), *p = fm_key_new();
    cr_assert_eq(fm_key_derive(key_a, FM_KEY_DETECT, d, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_derive(key_a, FM_KEY_PUBLIC, p, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_payload_verify(msg, d), 0);
    cr_assert_eq(fm_payload_verify(msg, p), 0);
    fm_key_free(&d);
    fm_key_free(&p);
}

Test(payload, signature_covers_domain_string)
{
    /* Independent recomputation: Ed25519 is deterministic. */
    uint8_t msg[FM_MESSAGE_BYTES];
    uint8_t m[19 + FM_PAYLOAD_BYTES];
    uint8_t sig[crypto_sign_BYTES];
    FmError err = {{0}};
    cr_assert_eq(fm_payload_sign(&sample, key_a, msg, &err), 0, "%s", err.msg);
    memcpy(m, "filmmark payload v2", 19);
    fm_payload_pack(&sample, m + 19);
    cr_assert_eq(crypto_sign_detached(sig, NULL, m, sizeof(m), key_a->sign_sk), 0);
    cr_assert_arr_eq(msg + FM_PAYLOAD_BYTES, sig, sizeof(sig));

    /* A signature over the bare 14 bytes must not verify. */
    uint8_t bare[FM_MESSAGE_BYTES];
    fm_payload_pack(&sample, bare);
    crypto_sign_detached(bare + FM_PAYLOAD_BYTES, NULL, bare, FM_PAYLOAD_BYTES, key_a->sign_sk);
    cr_assert_eq(fm_payload_verify(bare, key_a), FM_ECRYPTO);
}

Test(payload, every_single_bit_flip_fails)
{
    uint8_t msg[FM_MESSAGE_BYTES];
    FmError err = {{0}};
    cr_assert_eq(fm_payload_sign(&sample, key_a, msg, &err), 0, "%s", err.msg);
    for (unsigned bit = 0; bit < FM_MESSAGE_BITS; bit++) {
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_eq(fm_payload_verify(msg, key_a), FM_ECRYPTO,
                     "flipped bit %u (%s) still verifies", bit,
                     bit < FM_PAYLOAD_BYTES * 8 ? "payload" : "signature");
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    cr_assert_eq(fm_payload_verify(msg, key_a), 0);
}

Test(payload, verify_with_other_key_fails)
{
    uint8_t msg[FM_MESSAGE_BYTES];
    FmError err = {{0}};
    cr_assert_eq(fm_payload_sign(&sample, key_a, msg, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_payload_verify(msg, key_b), FM_ECRYPTO);
    FmKey *zero = fm_key_new();
    zero->kind = FM_KEY_PUBLIC;
    cr_assert_eq(fm_payload_verify(msg, zero), FM_ECRYPTO);
    fm_key_free(&zero);
}

Test(payload, signatures_differ_between_payloads)
{
    uint8_t m1[FM_MESSAGE_BYTES], m2[FM_MESSAGE_BYTES];
    FmPayload other = sample;
    other.recipient_id++;
    cr_assert_eq(fm_payload_sign(&sample, key_a, m1, NULL), 0);
    cr_assert_eq(fm_payload_sign(&other, key_a, m2, NULL), 0);
    cr_assert(memcmp(m1 + FM_PAYLOAD_BYTES, m2 + FM_PAYLOAD_BYTES, FM_SIGNATURE_BYTES) != 0);
    /* Swapping signatures between payloads fails. */
    memcpy(m1 + FM_PAYLOAD_BYTES, m2 + FM_PAYLOAD_BYTES, FM_SIGNATURE_BYTES);
    cr_assert_eq(fm_payload_verify(m1, key_a), FM_ECRYPTO);
}

Test(payload, sign_needs_secret_key_and_known_version)
{
    uint8_t msg[FM_MESSAGE_BYTES];
    FmError err = {{0}};
    FmKey *d = fm_key_new(), *p = fm_key_new();
    cr_assert_eq(fm_key_derive(key_a, FM_KEY_DETECT, d, NULL), 0);
    cr_assert_eq(fm_key_derive(key_a, FM_KEY_PUBLIC, p, NULL), 0);
    cr_assert_eq(fm_payload_sign(&sample, d, msg, &err), FM_EINVAL);
    cr_assert_not_null(strstr(err.msg, "secret key"), "%s", err.msg);
    cr_assert_eq(fm_payload_sign(&sample, p, msg, &err), FM_EINVAL);
    FmPayload bad = sample;
    bad.version = 1;   /* format 1 is retired: nothing signs it any more */
    cr_assert_eq(fm_payload_sign(&bad, key_a, msg, &err), FM_EINVAL);
    fm_key_free(&d);
    fm_key_free(&p);
}

Test(payload, iso8601)
{
    char buf[32];
    fm_minutes_to_iso8601(0, buf, sizeof(buf));
    cr_assert_str_eq(buf, "1970-01-01T00:00Z");
    fm_minutes_to_iso8601(29924365u, buf, sizeof(buf));
    cr_assert_str_eq(buf, "2026-11-23T19:25Z");
    fm_minutes_to_iso8601(24 * 60 + 61, buf, sizeof(buf));
    cr_assert_str_eq(buf, "1970-01-02T01:01Z");
    fm_minutes_to_iso8601(UINT32_MAX, buf, sizeof(buf));
    cr_assert_str_eq(buf, "10136-02-16T04:15Z");
    /* A short buffer is truncated, never overrun. */
    char small[8];
    memset(small, 'x', sizeof(small));
    fm_minutes_to_iso8601(0, small, 5);
    cr_assert_str_eq(small, "1970");
    cr_assert_eq(small[5], 'x');
}

Test(payload, iso8601_parse_round_trip)
{
    /* every minute value fm_minutes_to_iso8601 writes parses back to itself */
    const uint32_t cases[] = { 0, 1, 59, 60, 24 * 60 + 61, 29924365u, 29924394u,
                               /* 2000-02-29T12:34Z, a leap day */ 15863794u,
                               0x7fffffffu / 60, 0x80000000u / 60 + 1, 0x7fffffffu,
                               0x80000000u, UINT32_MAX - 1, UINT32_MAX };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32];
        uint32_t back = 12345;
        fm_minutes_to_iso8601(cases[i], buf, sizeof(buf));
        cr_assert_eq(fm_iso8601_to_minutes(buf, &back), 0, "\"%s\" refused", buf);
        cr_assert_eq(back, cases[i], "\"%s\" -> %u, expected %u", buf, back, cases[i]);
    }
    /* a pseudo-random sample over the whole range */
    TuRng rng;
    tu_rng_seed(&rng, 7);
    for (int i = 0; i < 2000; i++) {
        uint32_t v = (uint32_t)tu_rng_u64(&rng), back;
        char buf[32];
        fm_minutes_to_iso8601(v, buf, sizeof(buf));
        cr_assert_eq(fm_iso8601_to_minutes(buf, &back), 0, "\"%s\" refused", buf);
        cr_assert_eq(back, v, "\"%s\" -> %u, expected %u", buf, back, v);
    }
}

Test(payload, iso8601_parse_known_values)
{
    uint32_t m = 0;
    cr_assert_eq(fm_iso8601_to_minutes("1970-01-01T00:00Z", &m), 0);
    cr_assert_eq(m, 0);
    cr_assert_eq(fm_iso8601_to_minutes("2026-11-23T19:25Z", &m), 0);
    cr_assert_eq(m, 29924365u);
    cr_assert_eq(fm_iso8601_to_minutes("2000-02-29T12:34Z", &m), 0);
    cr_assert_eq(m, 15863794u);
    cr_assert_eq(fm_iso8601_to_minutes("10136-02-16T04:15Z", &m), 0);
    cr_assert_eq(m, UINT32_MAX);
}

Test(payload, iso8601_parse_drops_seconds)
{
    uint32_t m = 0;
    cr_assert_eq(fm_iso8601_to_minutes("2026-11-23T19:25:00Z", &m), 0);
    cr_assert_eq(m, 29924365u);
    cr_assert_eq(fm_iso8601_to_minutes("2026-11-23T19:25:59Z", &m), 0);
    cr_assert_eq(m, 29924365u, "seconds are dropped, not rounded");
    cr_assert_eq(fm_iso8601_to_minutes("1970-01-01T00:00:59Z", &m), 0);
    cr_assert_eq(m, 0);
    /* a leap second is still the same minute */
    cr_assert_eq(fm_iso8601_to_minutes("2016-12-31T23:59:60Z", &m), 0);
    uint32_t want;
    cr_assert_eq(fm_iso8601_to_minutes("2016-12-31T23:59Z", &want), 0);
    cr_assert_eq(m, want);
    cr_assert_eq(fm_iso8601_to_minutes("10136-02-16T04:15:59Z", &m), 0);
    cr_assert_eq(m, UINT32_MAX);
}

Test(payload, iso8601_parse_now)
{
    uint32_t m = 0;
    time_t before = time(NULL);
    cr_assert_eq(fm_iso8601_to_minutes("now", &m), 0);
    time_t after = time(NULL);
    cr_assert(m >= (uint32_t)(before / 60) && m <= (uint32_t)(after / 60), "now -> %u", m);
}

Test(payload, iso8601_parse_converts_offsets_to_utc)
{
    /* issue 12: an offset is converted, not refused */
    static const struct { const char *in; const char *utc; } cases[] = {
        { "2026-11-23T20:25+01:00", "2026-11-23T19:25Z" },
        { "2026-11-24T02:25+07:00", "2026-11-23T19:25Z" },   /* Hanoi */
        { "2026-11-23T14:25:59-05:00", "2026-11-23T19:25Z" },
        { "2026-11-23T19:25+00:00", "2026-11-23T19:25Z" },
        { "2026-11-23T19:25-00:00", "2026-11-23T19:25Z" },
        { "2026-11-24T00:55+05:30", "2026-11-23T19:25Z" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        uint32_t a, b;
        cr_assert_eq(fm_iso8601_to_minutes(cases[i].in, &a), 0, "\"%s\" refused", cases[i].in);
        cr_assert_eq(fm_iso8601_to_minutes(cases[i].utc, &b), 0);
        cr_assert_eq(a, b, "\"%s\" is not %s", cases[i].in, cases[i].utc);
    }
}

Test(payload, iso8601_parse_rejects_bad_input)
{
    static const char *const bad[] = {
        "", " ", "garbage", "Now", "NOW", "now ", " now", "yesterday", "29924365",
        "2026", "2026-11", "2026-11-23", "2026-11-23T19", "2026-11-23T19:25",
        "2026-11-23T19:2Z", "2026-11-23T19:25:0Z",
        "2026-11-23T19:25z", "2026-11-23t19:25Z", "2026-11-23 19:25Z",   /* strict form */
        "2026-11-23T19:25+0000", "2026-11-23T19:25+1:00", "2026-11-23T19:25+24:00",
        "2026-11-23T19:25+01:60", "2026-11-23T19:25 01:00", "2026-11-23T19:25+01:00Z",
        "1970-01-01T00:30+01:00",   /* 1969 in UTC */
        "2026-11-23T19:25:00", "2026-11-23T19:25:00.5Z",
        "2026-11-23T19:25ZZ", "2026-11-23T19:25Z ", " 2026-11-23T19:25Z",
        "2026-11-23T19:25:Z", "2026-11-23T19:25Z:00", "2026-11-23T19:2500Z",
        "2026-11-23T19:25x00Z", "2026-11-23T19:25:0xZ", "2026-11-23T19:25Zjunk", "2026-11-23T19:25:00Zx", "2026-11-23T19:25Z\n",
        "2026-13-01T00:00Z", "2026-00-10T00:00Z", "2026-11-00T00:00Z", "2026-11-32T00:00Z",
        "2026-02-29T00:00Z", "2026-02-30T00:00Z", "2026-04-31T00:00Z", "1900-02-29T00:00Z",
        "2026-11-23T24:00Z", "2026-11-23T19:60Z", "2026-11-23T19:25:61Z",
        "2026-11-23T-1:25Z", "2026-+1-23T19:25Z", "+2026-11-23T19:25Z", "-2026-11-23T19:25Z",
        "202-11-23T19:25Z", "02026-11-23T19:25Z", "2026111-23T19:25Z", "20261-123T19:25Z",
        "2026/11/23T19:25Z", "2026-11-23T19.25Z", "２026-11-23T19:25Z",
        "1969-12-31T23:59Z", "1969-12-31T23:59:59Z", "0000-01-01T00:00Z",
        "1000-01-01T00:00Z",
        "10136-02-16T04:16Z", "10136-02-17T00:00Z", "10137-01-01T00:00Z",
        "99999-12-31T23:59Z", "100000-01-01T00:00Z", "9999999999-01-01T00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint32_t m = 12345;
        cr_assert_eq(fm_iso8601_to_minutes(bad[i], &m), FM_EINVAL, "\"%s\" accepted (%u)",
                     bad[i], m);
        cr_assert_eq(m, 12345u, "\"%s\": output changed on failure", bad[i]);
    }
    uint32_t m = 0;
    cr_assert_eq(fm_iso8601_to_minutes(NULL, &m), FM_EINVAL);
    cr_assert_eq(fm_iso8601_to_minutes("2026-11-23T19:25Z", NULL), FM_EINVAL);
    /* a string cut short anywhere is refused, and never read past its end */
    const char full[] = "2026-11-23T19:25:30Z";
    for (size_t n = 0; n + 1 < sizeof(full); n++) {
        char *cut = malloc(n + 1);
        cr_assert_not_null(cut);
        memcpy(cut, full, n);
        cut[n] = '\0';
        cr_assert_eq(fm_iso8601_to_minutes(cut, &m), FM_EINVAL, "\"%s\" accepted", cut);
        free(cut);
    }
}
