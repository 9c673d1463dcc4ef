/*
 * test_receipt.c - the receipt's signed bytes are canonical: a fixed receipt
 * gives fixed bytes and a fixed signature, and another JSON implementation
 * (Python's json module) rebuilds the same bytes from the file.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "payload.h"
#include "receipt.h"
#include "testutil.h"
#include "tool_util.h"

/* Ed25519 is deterministic: with tu_fixed_key(7) these never change. */
#define FINGERPRINT_VECTOR "4bfe2c78b06b91ef"
#define MESSAGE_VECTOR "02000004120000000701c89c3100c31b41534912267225d311d6f3d4015dfaa97" \
                       "4c196f3918c8ccdb4d64291e1f4087fa601d294e6445e78ae9d4c87041502e64dea4d5fb0bc5e91597c8acad90a"
#define SIGNATURE_VECTOR "c7314125335e41246d3baaa84c095df4cdd3557b38411131898eee9b2898f2a3" \
                         "47f42c812b3c1e96ecc9f234edbc5c8f5c2484d226e48d67f367c0996372de0c"

static FmKey *key;
static FmPayload payload;
static uint8_t message[FM_MESSAGE_BYTES];

static void setup(void)
{
    FmError err;
    cr_assert_eq(fm_init(&err), 0);
    key = fm_key_new();
    tu_fixed_key(key, 7);
    payload = (FmPayload){ .version = FM_PAYLOAD_VERSION, .title_id = 1042,
                           .recipient_id = 7, .issued_minutes = 29924401,
                           .ai_use = FM_AI_USE_RESERVED };
    cr_assert_eq(fm_payload_sign(&payload, key, message, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    fm_key_free(&key);
}

TestSuite(receipt, .init = setup, .fini = teardown);

static const FmSelfCheck check = { 1, 1, 1, 29.6026, 0.01234, -187.9458, 8.0, 0, 0, 0 };

static FmReceiptInfo fixed_info(void)
{
    return (FmReceiptInfo){
        .owner = "Example Films", .title = "Đêm tàu \"Night Train\"", .recipient = "Jury, A/B",
        .output_name = "screener.webm",
        .output_sha256 = "a5f8da25daeb532be05d2c7f6aa83c0601e40e08415b8547a8ad973d5721d7a8",
        .codec = "vp9", .crf = -1, .strength = 1.0, .frames = 80, .width = 768,
        .height = 576, .psnr_y = 44.849, .ssim_y = 0.99031, .self_check = &check,
        .created = "2026-12-02T01:42:00Z",
    };
}

static char *signed_part(const char *text, char sig_hex[129])
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    cr_assert_not_null(doc, "%s", je.text);
    char *canon = json_dumps(json_object_get(doc, "receipt"), JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(sig_hex, 129, "%s", json_string_value(json_object_get(doc, "receipt_signature")));
    json_decref(doc);
    return canon;
}

Test(receipt, canonical_bytes_and_signature_match_the_fixed_vector)
{
    FmReceiptInfo info = fixed_info();
    char *text, sig[129];
    FmError err;
    cr_assert_eq(fm_receipt_format(key, &payload, message, &info, &text, &err), 0, "%s",
                 err.msg);
    char *canon = signed_part(text, sig);
    char want[4096];
    snprintf(want, sizeof(want),
        "{\"created\":\"2026-12-02T01:42:00Z\",\"format\":\"filmmark-receipt-2\","
        "\"key_fingerprint\":\"%s\",\"message_hex\":\"%s\","
        "\"names\":{\"owner\":\"Example Films\",\"recipient\":\"Jury, A/B\","
        "\"title\":\"Đêm tàu \\\"Night Train\\\"\"},"
        "\"output\":{\"file\":\"screener.webm\",\"frames\":80,\"height\":576,"
        "\"sha256\":\"a5f8da25daeb532be05d2c7f6aa83c0601e40e08415b8547a8ad973d5721d7a8\","
        "\"width\":768},"
        "\"payload\":{\"ai_use\":\"reserved\",\"issued\":\"2026-11-23T20:01Z\","
        "\"issued_minutes\":29924401,\"recipient_id\":7,\"title_id\":1042,\"version\":2},"
        "\"quality\":{\"luma_psnr_db\":\"44.85\",\"luma_ssim\":\"0.9903\"},"
        "\"self_check\":{\"false_alarm_log10\":\"-187.9\",\"found\":true,"
        "\"message_match\":true,\"pilot_z\":\"29.60\",\"raw_bit_error_rate\":\"0.0123\","
        "\"seconds_read\":\"8.00\",\"signature_valid\":true},"
        "\"settings\":{\"codec\":\"vp9\",\"crf\":-1,\"strength\":\"1.000\"}}",
        FINGERPRINT_VECTOR, MESSAGE_VECTOR);
    cr_assert_str_eq(canon, want);
    cr_assert_str_eq(sig, SIGNATURE_VECTOR);
    free(canon);
    free(text);
}

Test(receipt, another_json_implementation_rebuilds_the_signed_bytes)
{
    /* Python's json module, as docs/RECEIPT.md tells a verifier to use it */
    FmReceiptInfo info = fixed_info();
    char *text, sig[129];
    FmError err;
    cr_assert_eq(fm_receipt_format(key, &payload, message, &info, &text, &err), 0, "%s",
                 err.msg);
    char *canon = signed_part(text, sig);
    char *dir = tu_mkdtemp(), *rp = tu_path(dir, "r.json"), *cp = tu_path(dir, "c.txt");
    cr_assert_eq(tu_write_file(rp, text, strlen(text), 0644), 0);
    cr_assert_eq(tu_sh("python3 -c 'import json,sys; d=json.load(open(sys.argv[1], encoding=\"utf-8\")); "
                       "sys.stdout.buffer.write(json.dumps(d[\"receipt\"], sort_keys=True, "
                       "separators=(\",\", \":\"), ensure_ascii=False).encode())' '%s' > '%s'",
                       rp, cp), 0);
    char *py;
    size_t len;
    cr_assert_eq(tu_read_file(cp, &py, &len), 0);
    cr_assert_str_eq(py, canon);
    free(py);
    free(canon);
    free(text);
    free(cp);
    free(rp);
    tu_rmtree(dir);
}

Test(receipt, names_with_control_characters_are_refused)
{
    FmReceiptInfo info = fixed_info();
    info.recipient = "line\nbreak";
    char *text;
    FmError err;
    cr_assert_eq(fm_receipt_format(key, &payload, message, &info, &text, &err), FM_EINVAL);
    cr_assert_not_null(strstr(err.msg, "control character"));
}

/* ---- wmverify: the public verifier ---- */

static char *vdir, *pub, *rpath;

static void write_fixture(void)
{
    FmError err;
    vdir = tu_mkdtemp();
    pub = tu_path(vdir, "studio.pub");
    rpath = tu_path(vdir, "screener.webm.receipt.json");
    FmKey *pk = fm_key_new();
    cr_assert_eq(fm_key_derive(key, FM_KEY_PUBLIC, pk, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_save(pk, pub, 0, &err), 0, "%s", err.msg);
    fm_key_free(&pk);
    /* the "deliverable": any bytes; the receipt records their SHA-256 */
    char *deliv = tu_path(vdir, "screener.webm"), sha[65];
    cr_assert_eq(tu_write_file(deliv, "not really video", 16, 0644), 0);
    cr_assert_eq(fm_sha256_file(deliv, sha, &err), 0);
    FmReceiptInfo info = fixed_info();
    info.output_sha256 = sha;
    cr_assert_eq(fm_receipt_write(rpath, key, &payload, message, &info, 0, &err), 0, "%s",
                 err.msg);
    free(deliv);
}

static int verify(const char *a1, const char *a2, const char *a3, char **out)
{
    const char *argv[] = { FM_BUILD_DIR "/wmverify", "-p", pub, a1, a2, a3, NULL };
    return tu_run(argv, out, NULL);
}

Test(receipt, wmverify_checks_receipts_messages_and_deliverables)
{
    write_fixture();
    char *deliv = tu_path(vdir, "screener.webm"), *out = NULL;
    cr_assert_eq(verify(rpath, "--file", deliv, &out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "is the file the receipt describes"), "%s", out);
    free(out);

    /* another file under the deliverable's name */
    cr_assert_eq(tu_write_file(deliv, "other bytes", 11, 0644), 0);
    cr_assert_eq(verify(rpath, "--file", deliv, &out), 1, "%s", out);
    free(out);

    /* one recipient id changed in the receipt text: its signature fails */
    char *text;
    size_t len;
    cr_assert_eq(tu_read_file(rpath, &text, &len), 0);
    char *at = strstr(text, "\"recipient_id\": 7");
    cr_assert_not_null(at);
    at[16] = '8';
    cr_assert_eq(tu_write_file(rpath, text, len, 0644), 0);
    cr_assert_eq(verify(rpath, "--json", NULL, &out), 1, "%s", out);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert(json_is_false(json_object_get(j, "verified")), "%s", out);
    json_decref(j);
    free(out);
    free(text);

    /* a message as wmdetect prints it, and the same with one bit flipped */
    char hex[2 * FM_MESSAGE_BYTES + 1];
    fm_hex(message, FM_MESSAGE_BYTES, hex);
    cr_assert_eq(verify("--message", hex, NULL, &out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "recipient id:  7"), "%s", out);
    free(out);
    hex[40] = hex[40] == '0' ? '1' : '0';
    cr_assert_eq(verify("--message", hex, NULL, &out), 1, "%s", out);
    free(out);
    cr_assert_eq(verify("--message", "abc", NULL, &out), 2);
    free(out);
    free(deliv);
    tu_rmtree(vdir);
    free(pub);
    free(rpath);
}

/* The picture size a receipt records (wmdetect tells crops from other video
 * by it): read from receipt.output; anything else gives 0 x 0. */
Test(receipt, picture_size_is_read_from_the_output_and_nothing_else)
{
    static const struct {
        const char *text;
        int w, h;
    } cases[] = {
        { "{\"receipt\": {\"output\": {\"width\": 768, \"height\": 576}}}", 768, 576 },
        { "{\"receipt\": {\"output\": {\"width\": 768}}}", 0, 0 },
        { "{\"receipt\": {\"output\": {\"width\": -4, \"height\": 576}}}", 0, 0 },
        { "{\"receipt\": {\"output\": {\"width\": 1e9, \"height\": 576}}}", 0, 0 },
        { "{\"receipt\": {\"output\": {\"width\": \"768\", \"height\": 576}}}", 0, 0 },
        { "{\"output\": {\"width\": 768, \"height\": 576}}", 0, 0 },
        { "[1, 2]", 0, 0 },
        { "not json", 0, 0 },
        { "", 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int w = -1, h = -1;
        int r = fm_receipt_text_picture_size(cases[i].text, strlen(cases[i].text), &w, &h);
        cr_expect_eq(w, cases[i].w, "case %zu: width %d", i, w);
        cr_expect_eq(h, cases[i].h, "case %zu: height %d", i, h);
        cr_expect_eq(r, cases[i].w ? 0 : FM_ENOTFOUND, "case %zu: returned %d", i, r);
    }
    int w = -1, h = -1;
    cr_expect_eq(fm_receipt_text_picture_size(NULL, 0, &w, &h), FM_ENOTFOUND);
    cr_expect(w == 0 && h == 0);
}
