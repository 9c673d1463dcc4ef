/*
 * fuzz_softdecode.c - the message decoders fed arbitrary soft values:
 * the convolutional list Viterbi decoder (common/fec.c) with the payload
 * checks after it (common/payload.c), and the polar SC list decoder
 * (common/polar.c) on a code whose size the input picks (n up to 1024).
 * Input: 1 byte of mode, then float32 soft values (raw bits: NaN, infinity
 * and denormals included), repeated to the length needed.
 */
#include <math.h>

#include "fec.h"
#include "fuzz_common.h"
#include "payload.h"
#include "polar.h"

static FmKey *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    key = fuzz_fixed_key(FM_KEY_DETECT);
    return 0;
}

static void fill(float *soft, int n, const uint8_t *data, size_t size, int finite)
{
    size_t nf = size / sizeof(float);
    for (int i = 0; i < n; i++) {
        float v = 0;
        if (nf)
            memcpy(&v, data + (i % nf) * sizeof(float), sizeof v);
        if (finite && !isfinite(v))
            v = 0;
        soft[i] = v;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    if (!(mode & 1)) {
        enum { CODED = FM_FEC_CODED_BITS(FM_MESSAGE_BITS) };
        static float soft[CODED];
        static uint8_t cand[3 * FM_MESSAGE_BITS];
        /* the detector's soft values are finite; the decoder must cope either way */
        fill(soft, CODED, data, size, mode & 2);
        int list = 1 + (mode >> 2) % 3, found = 0;  /* list 8 costs 2 s under ASan */
        if (fm_fec_decode_list(soft, FM_MESSAGE_BITS, list, cand, &found) < 0)
            return 0;
        if (found < 0 || found > list)
            abort();
        for (int c = 0; c < found; c++) {
            uint8_t msg[FM_MESSAGE_BYTES];
            for (int i = 0; i < (int)FM_MESSAGE_BITS; i++)
                if (cand[c * FM_MESSAGE_BITS + i] > 1)
                    abort();
            fm_bits_to_bytes(cand + c * FM_MESSAGE_BITS, FM_MESSAGE_BYTES, msg);
            (void)fm_payload_verify(msg, key);
            FmPayload p;
            if (fm_payload_unpack(msg, &p, NULL) == 0) {
                char iso[32];
                fm_minutes_to_iso8601(p.issued_minutes, iso, sizeof iso);
                (void)fm_ai_use_name(p.ai_use);
            }
        }
        uint8_t bits[FM_MESSAGE_BITS];
        (void)fm_fec_decode(soft, FM_MESSAGE_BITS, bits);
    } else {
        /* n = 2^(1..10), k = n/8 .. 7n/8 (at least 1), list 1..8; the codes
         * are kept, as building one costs far more than a decode */
        int ln = 1 + (mode >> 1) % 10, n = 1 << ln;
        int kidx = size ? data[0] % 7 : 3;
        int k = n * (kidx + 1) / 8 > 0 ? n * (kidx + 1) / 8 : 1;
        int list = 1 + (mode >> 5) % 8;
        static FmPolar *codes[11][7];
        FmPolar **slot = &codes[ln][kidx];
        if (!*slot && fm_polar_init(slot, n, k) < 0)
            abort();
        float *soft = malloc(sizeof(float) * (size_t)n);
        uint8_t *cands = malloc((size_t)list * (size_t)k);
        if (!soft || !cands)
            abort();
        fill(soft, n, data, size, 0);
        int found = 0;
        int r = fm_polar_decode_list(*slot, soft, list, cands, &found);
        int finite = 1;
        for (int i = 0; i < n; i++)
            finite &= isfinite(soft[i]) != 0;
        /* refused exactly when some value is not finite */
        if ((r == FM_EINVAL) == finite || (r == 0 && (found < 1 || found > list)))
            abort();
        free(soft);
        free(cands);
    }
    return 0;
}
