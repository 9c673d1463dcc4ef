/*
 * keys.h - filmmark key files.
 *
 * Three kinds, made together by wmkeygen:
 *   secret (.key)  Ed25519 signing key + 256-bit watermark key. Mode 0600.
 *   detect (.dkey) watermark key + Ed25519 public key: detects and verifies,
 *                  cannot issue marks. Mode 0600 (it still locates the mark).
 *   public (.pub)  Ed25519 public key alone: checks signatures.
 * A key may carry a label (free text naming it for people), and a secret key
 * file may be sealed with a passphrase (Argon2id + XChaCha20-Poly1305).
 * The on-disk format is documented in docs/KEYS.md.
 */
#ifndef FM_KEYS_H
#define FM_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#include "fm_error.h"

#define FM_WMKEY_BYTES 32
#define FM_FINGERPRINT_CHARS 16   /* hex characters of the key fingerprint */
#define FM_LABEL_MAX 255          /* bytes of a key label (UTF-8, no control chars) */
#define FM_PASSPHRASE_MAX 1024    /* bytes of a passphrase */
/* Argon2id limits wmkeygen seals secret keys with (libsodium's "moderate":
 * 3 passes over 256 MiB, about a second). */
#define FM_KEY_OPSLIMIT crypto_pwhash_OPSLIMIT_MODERATE
#define FM_KEY_MEMLIMIT crypto_pwhash_MEMLIMIT_MODERATE

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
    char label[FM_LABEL_MAX + 1];                /* "" if none; kept by fm_key_derive */
} FmKey;

/* Call once before anything else (sodium_init). Returns 0 or FM_E*. */
int fm_init(FmError *err);

FmKey *fm_key_new(void);        /* zeroed, in guarded memory; NULL on failure */
void fm_key_free(FmKey **key);  /* wipes and frees, sets *key = NULL */

/* Fresh random secret key. */
int fm_key_generate(FmKey *key, FmError *err);
/* Derives the detection or public key of a secret key (into out). */
int fm_key_derive(const FmKey *secret, FmKeyKind kind, FmKey *out, FmError *err);

/* Sets key->label after checking it: at most FM_LABEL_MAX bytes of UTF-8
 * without control characters ("" or NULL: no label). */
int fm_key_set_label(FmKey *key, const char *label, FmError *err);

/*
 * Writes key to path unsealed, with mode 0600 (0644 for public keys). Refuses to replace
 * an existing file unless force. Written atomically (temp file + rename).
 */
int fm_key_save(const FmKey *key, const char *path, int force, FmError *err);
/*
 * Reads a key file. Refuses damaged, truncated or wrong-version files, and
 * secret/detect files readable by group or others. If want_kind is non-zero
 * the file must be of that kind, except that a secret key is accepted where a
 * detect key is wanted (it is reduced to one). A passphrase-protected secret
 * key is refused (FM_EPERM, "... is protected by a passphrase"): use
 * fm_key_load_with.
 */
int fm_key_load(FmKey *key, const char *path, FmKeyKind want_kind, FmError *err);

/* What a key file tells without its passphrase. */
typedef struct FmKeyInfo {
    FmKeyKind kind;
    int version;                                  /* file format: 1 or 2 */
    int sealed;                                   /* secret key under a passphrase */
    char fingerprint[FM_FINGERPRINT_CHARS + 1];
    char label[FM_LABEL_MAX + 1];
} FmKeyInfo;

/*
 * Gives the passphrase of the sealed key file path (info: its fingerprint and
 * label) into buf (size bytes, FM_PASSPHRASE_MAX + 1 is enough). Returns its
 * length (> 0, no terminator needed) or a negative FM_E* with err set.
 */
typedef int (*FmPassphraseFn)(void *ctx, const char *path, const FmKeyInfo *info, char *buf,
                              size_t size, FmError *err);

/*
 * fm_key_load, and a sealed secret key is opened with the passphrase that
 * get(ctx, ...) gives (get is called only for a sealed file; NULL: refused
 * as by fm_key_load). A wrong passphrase gives FM_ECRYPTO, "wrong passphrase
 * for '...'".
 */
int fm_key_load_with(FmKey *key, const char *path, FmKeyKind want_kind, FmPassphraseFn get,
                     void *ctx, FmError *err);

/*
 * Reads what a key file tells without its passphrase: kind, fingerprint,
 * label, whether it is sealed. Refuses what fm_key_load refuses (damage,
 * permissions), except that it needs no passphrase.
 */
int fm_key_inspect(const char *path, FmKeyInfo *info, FmError *err);

/* ---- writing a key set all or nothing ---- */

/* A passphrase to seal a secret key with (Argon2id limits stored in the file). */
typedef struct FmKeySeal {
    const char *passphrase;
    size_t len;                   /* 1 .. FM_PASSPHRASE_MAX */
    unsigned long long opslimit;  /* 0: FM_KEY_OPSLIMIT */
    size_t memlimit;              /* 0: FM_KEY_MEMLIMIT */
} FmKeySeal;

typedef struct FmKeySetWriter FmKeySetWriter;

/*
 * Writes several key files so that either all of them are in place or none
 * is changed: fm_keyset_add writes each to a temporary beside its final name
 * (created with the final mode, fsynced), fm_keyset_commit renames them all
 * into place, fm_keyset_free removes whatever was not committed. Without
 * force, add refuses a name that exists; with force, one that is a
 * directory or other non-regular file. If a rename fails during commit, the
 * files it already replaced are put back from hard-link backups (kept until
 * the commit ends).
 */
int fm_keyset_begin(FmKeySetWriter **w, int force, FmError *err);
/* seal: NULL for an unsealed file; only a secret key can be sealed. */
int fm_keyset_add(FmKeySetWriter *w, const FmKey *key, const char *path, const FmKeySeal *seal,
                  FmError *err);
int fm_keyset_commit(FmKeySetWriter *w, FmError *err);
void fm_keyset_free(FmKeySetWriter **w);

/* ---- key directories (where wmdetect looks without -k) ---- */

/* $FILMMARK_KEYS if set and not empty, else $HOME/.config/filmmark/keys. */
int fm_key_dir_default(char *buf, size_t size, FmError *err);

/*
 * The names (not paths) of the key files in dir: those ending in .dkey or
 * .key, and .pub too if with_pub, sorted by strcmp (byte order). *names is
 * a malloc'd array of malloc'd strings; free with fm_key_names_free.
 */
int fm_key_dir_names(const char *dir, int with_pub, char ***names, size_t *n, FmError *err);
void fm_key_names_free(char **names, size_t n);

/* Keys loaded from a directory, in file name order. */
typedef struct FmKeyList {
    FmKey **keys;       /* each from fm_key_new */
    char **paths;       /* the file each came from */
    size_t n, cap;
} FmKeyList;

/* Told about each key file that was skipped (reason names the file). */
typedef void (*FmKeyWarnFn)(void *ctx, const char *path, const char *reason);

/*
 * Loads every .dkey and .key file of dir as a detection key, in file name
 * order (strcmp), with no limit on their number. A file that cannot be
 * loaded (unreadable, damaged, wrong mode, sealed by a passphrase, ...) is
 * skipped and reported through warn (if not NULL); a file holding a key
 * already loaded from an earlier name (a set's .dkey and .key) is skipped
 * silently. Fails (FM_ENOTFOUND) only if dir cannot be read or no key loads.
 * list must be zeroed before the first call; free with fm_key_list_free.
 */
int fm_key_load_dir(const char *dir, FmKeyList *list, FmKeyWarnFn warn, void *ctx,
                    FmError *err);
void fm_key_list_free(FmKeyList *list);

/* 16 hex chars + NUL naming the key pair (from the public key). */
void fm_key_fingerprint(const FmKey *key, char out[FM_FINGERPRINT_CHARS + 1]);

#endif
