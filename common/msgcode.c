#include "msgcode.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fm_error.h"
#include "pair_decode.h"
#include "pattern.h"
#include "polar.h"

/* The code is built once per process (its construction is deterministic:
 * common/polar.h) and shared read-only by every thread. */
static pthread_once_t code_once = PTHREAD_ONCE_INIT;
static FmPolar *code;
static FmPairCode *pair_code;   /* the generator's columns, for the pair read */

static void build_code(void)
{
    if (fm_polar_init(&code, FM_POLAR_CODE_N, FM_MESSAGE_BITS) < 0)
        code = NULL;
    if (code && fm_pair_code_init(&pair_code, code) < 0)
        pair_code = NULL;
}

static const FmPolar *the_code(void)
{
    pthread_once(&code_once, build_code);
    return code;
}

int fm_msgcode_encode(const uint8_t *bits, uint8_t *coded)
{
    const FmPolar *p = the_code();
    if (!p)
        return FM_ENOMEM;
    fm_polar_encode(p, bits, coded);
    return 0;
}

int fm_msgcode_decode_list(const float *soft, int list, uint8_t *cands, int *found)
{
    const FmPolar *p = the_code();
    *found = 0;
    if (!p)
        return FM_ENOMEM;
    if (list < 1 || list > FM_MSGCODE_MAX_LIST)
        return FM_EINVAL;
    return fm_polar_decode_list(p, soft, list, cands, found);
}

/* The raw error rate of soft against the codeword of message, in format 7's
 * code or (v2) format 2's. Returns 0 or FM_ENOMEM. */
static int raw_ber_of(const float *soft, const uint8_t *message, int v2, double *ber)
{
    uint8_t bits[FM_MESSAGE_BITS], coded[FM_CODED_BITS];
    int ncoded = v2 ? FM_CODED_BITS_V2 : FM_CODED_BITS, ret = 0;
    fm_bytes_to_bits(message, FM_MESSAGE_BYTES, bits);
    if (v2)
        fm_fec_encode(bits, FM_MESSAGE_BITS, coded);
    else
        ret = fm_msgcode_encode(bits, coded);
    if (ret >= 0) {
        int errors = 0;
        for (int i = 0; i < ncoded; i++)
            errors += (soft[i] > 0) != (coded[i] == 1);
        *ber = (double)errors / ncoded;
    }
    sodium_memzero(bits, sizeof(bits));
    sodium_memzero(coded, sizeof(coded));
    return ret;
}

/* The pair read (msgcode.h, pair_decode.h) into *mr: 1 verified, 0 not. */
static int read_pair(const float *soft, const FmKey *key, FmMsgRead *mr)
{
    const FmPolar *p = the_code();
    if (!p || !pair_code)
        return FM_ENOMEM;
    uint8_t *cand = malloc((size_t)FM_MSGCODE_PAIR_TRIES * FM_MESSAGE_BITS);
    if (!cand)
        return FM_ENOMEM;
    int found = 0, verified = 0;
    int ret = fm_pair_decode(pair_code, soft, FM_MSGCODE_PAIR_DLIST, FM_MSGCODE_PAIR_FLIPS,
                             cand, FM_MSGCODE_PAIR_TRIES, &found);
    if (ret == FM_EINVAL)
        ret = found = 0;   /* a threshold of 0: nothing to split into a pair */
    /* candidates come in pairs (A, A xor D): the first pair with a message
     * that verifies is the answer; the other verifies too on a true pair */
    uint8_t msg[2][FM_MESSAGE_BYTES];
    for (int c = 0; c + 1 < found && !verified && ret >= 0; c += 2) {
        int ok[2];
        for (int s = 0; s < 2; s++) {
            fm_bits_to_bytes(cand + (size_t)(c + s) * FM_MESSAGE_BITS, FM_MESSAGE_BYTES, msg[s]);
            ok[s] = fm_payload_verify(msg[s], key) == 0;
        }
        if (!ok[0] && !ok[1])
            continue;
        int first = ok[0] ? 0 : 1;
        double ber = 0;
        if ((ret = raw_ber_of(soft, msg[first], 0, &ber)) < 0)
            break;
        verified = 1;
        mr->signature_valid = 1;
        mr->rank = c + first;
        mr->raw_ber = ber;
        memcpy(mr->message, msg[first], FM_MESSAGE_BYTES);
        mr->pair = 1;
        mr->pair_valid = ok[!first];
        if (mr->pair_valid)
            memcpy(mr->pair_message, msg[!first], FM_MESSAGE_BYTES);
    }
    sodium_memzero(msg, sizeof(msg));
    sodium_memzero(cand, (size_t)FM_MSGCODE_PAIR_TRIES * FM_MESSAGE_BITS);
    free(cand);
    return ret < 0 ? ret : verified;
}

int fm_msgcode_read_pair_other(const float *soft, const FmKey *key, FmMsgRead *mr)
{
    if (!mr->signature_valid || mr->pair || !(mr->raw_ber >= FM_MSGCODE_PAIR_MIN_BER))
        return 0;
    const FmPolar *p = the_code();
    if (!p || !pair_code)
        return FM_ENOMEM;
    uint8_t d[FM_MSGCODE_PAIR_DLIST][FM_MESSAGE_BITS], a[FM_MESSAGE_BITS], b[FM_MESSAGE_BYTES];
    int found = 0, verified = 0;
    int ret = fm_pair_differences(pair_code, soft, FM_MSGCODE_PAIR_DLIST, &d[0][0], &found);
    if (ret == FM_EINVAL)
        ret = found = 0;   /* no threshold: nothing to split */
    fm_bytes_to_bits(mr->message, FM_MESSAGE_BYTES, a);
    for (int c = 0; c < found && !verified && ret >= 0; c++) {
        int zero = 1;
        for (int j = 0; j < (int)FM_MESSAGE_BITS; j++) {
            zero &= !d[c][j];
            d[c][j] ^= a[j];
        }
        if (zero)
            continue;   /* A itself */
        fm_bits_to_bytes(d[c], FM_MESSAGE_BYTES, b);
        if (fm_payload_verify(b, key) == 0) {
            verified = 1;
            mr->pair = mr->pair_valid = 1;
            memcpy(mr->pair_message, b, FM_MESSAGE_BYTES);
        }
    }
    sodium_memzero(d, sizeof(d));
    sodium_memzero(a, sizeof(a));
    sodium_memzero(b, sizeof(b));
    return ret < 0 ? ret : verified;
}

int fm_msgcode_read_deep(const float *soft, const FmKey *key, FmMsgRead *mr)
{
    if (mr->signature_valid)
        return 0;
    FmMsgRead v;
    int ret = fm_msgcode_read_list(soft, FM_MSGCODE_FORMAT, FM_MSGCODE_LIST_DEEP, key, &v);
    if (ret < 0)
        return ret;
    int verified = v.signature_valid;
    if (!verified) {
        v.list = FM_MSGCODE_LIST_DEEP;
        if ((ret = read_pair(soft, key, &v)) < 0) {
            sodium_memzero(&v, sizeof(v));
            return ret;
        }
        verified = ret;
    }
    if (verified)
        *mr = v;
    mr->list = FM_MSGCODE_LIST_DEEP;
    sodium_memzero(&v, sizeof(v));
    return verified;
}

const char *fm_msgcode_strerror(int ret)
{
    return ret == FM_ENOMEM ? "out of memory in the decoder"
                            : "the decoder's soft values are not finite numbers";
}

void fm_msgcode_fold(const float *rank_soft, int ncoded, float *soft)
{
    memset(soft, 0, sizeof(float) * (size_t)ncoded);
    for (int r = 0; r < FM_DATA_SLOTS; r++)
        soft[r % ncoded] += rank_soft[r];
}

int fm_msgcode_read(const float *soft, int format, const FmKey *key, FmMsgRead *out)
{
    int list = format == FM_MSGCODE_FORMAT_V2 ? FM_MSGCODE_LIST_V2 : FM_MSGCODE_LIST;
    return fm_msgcode_read_list(soft, format, list, key, out);
}

int fm_msgcode_read_list(const float *soft, int format, int list, const FmKey *key,
                         FmMsgRead *out)
{
    int v2 = format == FM_MSGCODE_FORMAT_V2;
    int listed = 0, ret;

    memset(out, 0, sizeof(*out));
    if ((format != FM_MSGCODE_FORMAT && !v2) || list < 1 ||
        list > (v2 ? FM_FEC_MAX_LIST : FM_MSGCODE_MAX_LIST))
        return FM_EINVAL;
    out->list = list;
    uint8_t *cand = malloc((size_t)list * FM_MESSAGE_BITS);
    if (!cand)
        return FM_ENOMEM;
    ret = v2 ? fm_fec_decode_list(soft, FM_MESSAGE_BITS, list, cand, &listed)
             : fm_msgcode_decode_list(soft, list, cand, &listed);
    if (ret < 0 || listed < 1) {
        free(cand);
        return ret < 0 ? ret : FM_EINVAL;
    }
    for (int c = 0; c < listed && !out->signature_valid; c++) {
        fm_bits_to_bytes(cand + (size_t)c * FM_MESSAGE_BITS, FM_MESSAGE_BYTES, out->message);
        out->signature_valid = fm_payload_verify(out->message, key) == 0;
        out->rank = c;
    }
    if (!out->signature_valid) {
        fm_bits_to_bytes(cand, FM_MESSAGE_BYTES, out->message);
        out->rank = 0;
    }
    sodium_memzero(cand, (size_t)list * FM_MESSAGE_BITS);
    free(cand);

    /* raw errors against the codeword of the message kept */
    return raw_ber_of(soft, out->message, v2, &out->raw_ber);
}
