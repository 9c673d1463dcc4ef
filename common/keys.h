/*
 * keys.h - filmmark key files.
 *
 * Three kinds, made together by wmkeygen:
 *   secret (.key)  Ed25519 signing key + 256-bit watermark key. Mode 0600.
 *   detect (.dkey) watermark key + Ed25519 public key: detects and verifies,
 *                  cannot issue marks. Mode 0600 (it still locates the mark).
 *   public (.pub)  Ed25519 public key alone: checks signatures.
 * The on-disk format is documented in docs/KEYS.md.
 */
#ifndef FM_KEYS_H
#define FM_KEYS_H

#include <stdint.h>
#include <sodium.h>

#include "fm_error.h"

#define FM_WMKEY_BYTES 32
#define FM_FINGERPRINT_CHARS 16   /* hex characters of the key fingerprint */

typedef enum FmKeyKind {
    FM_KEY_SECRET = 'S',
    FM_KEY_DETECT = 'D',
    FM_KEY_PUBLIC = 'P',
} FmKeyKind;

/* Key material. Allocate with fm_key_new() (sodium secure memory). */
typedef struct FmKey {
    FmKeyKind kind;
    uint8_t sign_sk[crypto_sign_SECRETKEYBYTES]; /* only for FM_KEY_SECRET */
    uint8_t sign_pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t wm_key[FM_WMKEY_BYTES];              /* not for FM_KEY_PUBLIC */
} FmKey;

/* Call once before anything else (sodium_init). Returns 0 or FM_E*. */
int fm_init(FmError *err);

FmKey *fm_key_new(void);        /* zeroed, in guarded memory; NULL on failure */
void fm_key_free(FmKey **key);  /* wipes and frees, sets *key = NULL */

/* Fresh random secret key. */
int fm_key_generate(FmKey *key, FmError *err);
/* Derives the detection or public key of a secret key (into out). */
int fm_key_derive(const FmKey *secret, FmKeyKind kind, FmKey *out, FmError *err);

/*
 * Writes key to path with mode 0600 (0644 for public keys). Refuses to replace
 * an existing file unless force. Written atomically (temp file + rename).
 */
int fm_key_save(const FmKey *key, const char *path, int force, FmError *err);
/*
 * Reads a key file. Refuses damaged, truncated or wrong-version files, and
 * secret/detect files readable by group or others. If want_kind is non-zero
 * the file must be of that kind, except that a secret key is accepted where a
 * detect key is wanted (it is reduced to one).
 */
int fm_key_load(FmKey *key, const char *path, FmKeyKind want_kind, FmError *err);

/* 16 hex chars + NUL naming the key pair (from the public key). */
void fm_key_fingerprint(const FmKey *key, char out[FM_FINGERPRINT_CHARS + 1]);

#endif
