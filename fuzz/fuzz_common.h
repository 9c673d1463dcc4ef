/*
 * fuzz_common.h - shared bits of the libFuzzer harnesses (fuzz/README.md).
 */
#ifndef FM_FUZZ_COMMON_H
#define FM_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

/* A detection key made from fixed seeds: the same on every run, so a crash
 * reproduces from its input file alone. Never used outside the fuzzers. */
static inline FmKey *fuzz_fixed_key(FmKeyKind kind)
{
    FmError err;
    if (fm_init(&err) < 0)
        abort();
    FmKey *k = fm_key_new();
    if (!k)
        abort();
    uint8_t seed[crypto_sign_SEEDBYTES];
    memset(seed, 0x5a, sizeof seed);
    crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, seed);
    memset(k->wm_key, 0xa5, sizeof k->wm_key);
    k->kind = kind;
    if (kind != FM_KEY_SECRET)
        sodium_memzero(k->sign_sk, sizeof k->sign_sk);
    return k;
}

#endif
