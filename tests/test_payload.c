/*
 * test_payload.c - payload packing, signing and verification.
 */
#include <criterion/criterion.h>
#include <string.h>

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
};

TestSuite(payload, .init = setup, .fini = teardown);

Test(payload, sizes)
{
    cr_assert_eq(FM_PAYLOAD_BYTES, 13);
    cr_assert_eq(FM_SIGNATURE_BYTES, 64);
    cr_assert_eq(FM_MESSAGE_BYTES, 77);
    cr_assert_eq(FM_MESSAGE_BITS, 616);
}

Test(payload, pack_known_big_endian_bytes)
{
    static const uint8_t want[FM_PAYLOAD_BYTES] = {
        0x01,
        0x01, 0x02, 0x03, 0x04,
        0xA0, 0xB0, 0xC0, 0xD0,
        0x01, 0xC8, 0x9C, 0x0D,   /* 29924365 */
    };
    uint8_t got[FM_PAYLOAD_BYTES];
    fm_payload_pack(&sample, got);
    cr_assert_arr_eq(got, want, sizeof(want));
}

Test(payload, pack_unpack_round_trip)
{
    const FmPayload cases[] = {
        sample,
        {FM_PAYLOAD_VERSION, 0, 0, 0},
        {FM_PAYLOAD_VERSION, UINT32_MAX, UINT32_MAX, UINT32_MAX},
        {FM_PAYLOAD_VERSION, 0x80000001u, 1, 0x7fffffffu},
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
    }
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
    memcpy(m, "filmmark payload v1", 19);
    fm_payload_pack(&sample, m + 19);
    cr_assert_eq(crypto_sign_detached(sig, NULL, m, sizeof(m), key_a->sign_sk), 0);
    cr_assert_arr_eq(msg + FM_PAYLOAD_BYTES, sig, sizeof(sig));

    /* A signature over the bare 13 bytes must not verify. */
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
    bad.version = 2;
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
