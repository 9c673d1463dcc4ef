/*
 * test_msgcode.c - reading the signed message from soft coded bits
 * (common/msgcode.c): the first list and the deep list, on the slot channel
 * past the first list's edge; the signature picks the message from either.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "fm_error.h"
#include "keys.h"
#include "msgcode.h"
#include "pattern.h"
#include "payload.h"
#include "testutil.h"

/* The watermark's slot channel (bench/fec_edge.c): FM_DATA_SLOTS slots,
 * coded bit i on slots i and i + FM_CODED_BITS, +/-1 plus Gaussian noise of
 * sigma, a coded bit's soft value the sum of its slots. */
static void slot_channel(const uint8_t *coded, double sigma, TuRng *r, float *soft)
{
    memset(soft, 0, sizeof(float) * FM_CODED_BITS);
    for (int j = 0; j < FM_DATA_SLOTS; j++)
        soft[j % FM_CODED_BITS] +=
            (coded[j % FM_CODED_BITS] ? 1.0f : -1.0f) + (float)(sigma * tu_rng_gauss(r));
}

Test(msgcode, list_lengths_are_checked)
{
    static float soft[FM_CODED_BITS];
    FmMsgRead mr;
    FmPayload pl;
    uint8_t msg[FM_MESSAGE_BYTES];
    FmKey *key = tu_signed_message(61, 1, 2, &pl, msg);
    cr_assert_eq(fm_msgcode_read_list(soft, FM_MSGCODE_FORMAT, 0, key, &mr), FM_EINVAL);
    cr_assert_eq(fm_msgcode_read_list(soft, FM_MSGCODE_FORMAT, FM_MSGCODE_MAX_LIST + 1, key, &mr),
                 FM_EINVAL);
    cr_assert_eq(fm_msgcode_read_list(soft, FM_MSGCODE_FORMAT_V2, FM_FEC_MAX_LIST + 1, key, &mr),
                 FM_EINVAL);
    cr_assert_eq(fm_msgcode_read_list(soft, 9, 32, key, &mr), FM_EINVAL);
    fm_key_free(&key);
}

Test(msgcode, deep_list_verifies_messages_the_first_list_misses)
{
    /* Slot sigma 1.95 (5.8 dB, 30.4 % of the slots wrong): past the list
     * of 32's edge (5.4 dB; it reads about 3 in 4 messages here) and near
     * the deep list's (bench/results/fec_edge.md). Every message the
     * first list verifies, the deep list verifies too; it verifies more, and
     * never a message other than the one sent. Fixed seeds: the decoders are
     * deterministic, so the counts are. */
    enum { T = 10 };
    FmPayload pl;
    uint8_t msg[FM_MESSAGE_BYTES], bits[FM_MESSAGE_BITS];
    static uint8_t coded[FM_CODED_BITS];
    static float soft[FM_CODED_BITS];
    FmKey *key = tu_signed_message(62, 7, 9, &pl, msg);
    fm_bytes_to_bits(msg, FM_MESSAGE_BYTES, bits);
    cr_assert_eq(fm_msgcode_encode(bits, coded), 0);
    TuRng r;
    tu_rng_seed(&r, 63);
    int first = 0, deep = 0;
    for (int t = 0; t < T; t++) {
        FmMsgRead a, b;
        slot_channel(coded, 1.95, &r, soft);
        cr_assert_eq(fm_msgcode_read(soft, FM_MSGCODE_FORMAT, key, &a), 0);
        cr_assert_eq(a.list, FM_MSGCODE_LIST);
        cr_assert_eq(fm_msgcode_read_list(soft, FM_MSGCODE_FORMAT, FM_MSGCODE_LIST_DEEP, key, &b),
                     0);
        cr_assert_eq(b.list, FM_MSGCODE_LIST_DEEP);
        if (a.signature_valid)
            cr_assert(!memcmp(a.message, msg, FM_MESSAGE_BYTES) && a.rank < FM_MSGCODE_LIST);
        if (b.signature_valid)
            cr_assert(!memcmp(b.message, msg, FM_MESSAGE_BYTES) && b.rank < FM_MSGCODE_LIST_DEEP);
        cr_assert(!a.signature_valid || b.signature_valid, "trial %d: the deep list lost it", t);
        /* the detector's last resort: the first read, deepened where it failed */
        FmMsgRead c = a;
        int got = fm_msgcode_read_deep(soft, key, &c);
        cr_assert_eq(got, !a.signature_valid && b.signature_valid, "trial %d", t);
        cr_assert_eq(c.signature_valid, b.signature_valid);
        cr_assert_eq(c.list, a.signature_valid ? FM_MSGCODE_LIST : FM_MSGCODE_LIST_DEEP);
        if (c.signature_valid)
            cr_assert(!memcmp(c.message, msg, FM_MESSAGE_BYTES));
        first += a.signature_valid;
        deep += b.signature_valid;
    }
    cr_log_info("slot sigma 1.95: list of %d verified %d of %d, list of %d %d of %d",
                FM_MSGCODE_LIST, first, T, FM_MSGCODE_LIST_DEEP, deep, T);
    cr_assert_gt(deep, first);
    cr_assert_lt(first, T);
    fm_key_free(&key);
}
