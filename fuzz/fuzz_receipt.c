/*
 * fuzz_receipt.c - receipts (common/receipt.c) and the content fingerprint
 * strings they carry (common/fingerprint.c), from arbitrary bytes.
 * First byte even: the rest is a receipt's text; odd: a fingerprint string.
 */
#include "fingerprint.h"
#include "fuzz_common.h"
#include "receipt.h"

static FmKey *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    key = fuzz_fixed_key(FM_KEY_DETECT);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    FmError err = { { 0 } };
    FmFingerprint *fp = NULL;
    if (!(data[0] & 1)) {
        uint8_t msg[FM_MESSAGE_BYTES];
        int r = fm_receipt_verify_text((const char *)data + 1, size - 1, key, msg, &fp, &err);
        if (r < 0 && (!err.msg[0] || strchr(err.msg, '\n')))
            abort();
    } else {
        char *s = malloc(size);
        if (!s)
            abort();
        memcpy(s, data + 1, size - 1);
        s[size - 1] = 0;
        if (fm_fingerprint_from_string(&fp, s, &err) == 0) {
            /* what parses must serialise again */
            char *back = NULL;
            if (fm_fingerprint_to_string(fp, &back, &err) < 0)
                abort();
            free(back);
        }
        free(s);
    }
    fm_fingerprint_free(&fp);
    return 0;
}
