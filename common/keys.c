/*
 * keys.c - filmmark key files (format: docs/KEYS.md).
 *
 * A key file is two lines of text: a comment, and the base64 (original
 * alphabet, padded) of a binary record:
 *
 *   version 1: "FMK1" | kind ('S','D','P') | 3 zero bytes | body | checksum
 *   version 2: "FMK2" | kind | flags | label length L | 0 | label (L bytes)
 *              | body | checksum
 *
 * where the checksum (BLAKE2b-128) covers every byte before it. Version 2
 * carries a label, and its secret keys may be sealed (flag 1): the body is
 * then the public key in clear, the Argon2id parameters, and the secret
 * material under XChaCha20-Poly1305 with a key derived from a passphrase
 * (every byte before the ciphertext is its associated data). Writers use
 * version 1 for a key without label or seal, so that such files stay
 * readable by older programs.
 *
 * Files are read and written with plain read()/write() so that no stdio
 * buffer keeps a copy of secrets, and every local buffer that held key
 * material is wiped before returning.
 */
#include "keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"

#define KEY_MAGIC "FMK1"
#define KEY_MAGIC_BYTES 4
#define KEY_HEADER_BYTES 8          /* magic, kind, 3 bytes: reserved (v1) or flags, L, 0 (v2) */
#define KEY_CHECKSUM_BYTES 16
#define KEY_FLAG_SEALED 0x01
/* sealed secret body: public key | KDF id | opslimit | memlimit | salt | nonce | ciphertext */
#define SEAL_KDF_ARGON2ID13 1
#define SEAL_SALT_BYTES crypto_pwhash_SALTBYTES
#define SEAL_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define SEAL_PLAIN_BYTES (crypto_sign_SECRETKEYBYTES + FM_WMKEY_BYTES)
#define SEAL_CT_BYTES (SEAL_PLAIN_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define SEAL_BODY_BYTES (crypto_sign_PUBLICKEYBYTES + 1 + 8 + 8 + SEAL_SALT_BYTES + \
                         SEAL_NONCE_BYTES + SEAL_CT_BYTES)
/* the most a reader accepts from a file: a hostile file must not make us
 * spend minutes or gigabytes */
#define SEAL_OPS_MAX 16ULL
#define SEAL_MEM_MAX ((size_t)crypto_pwhash_MEMLIMIT_SENSITIVE)
#define KEY_MAX_BODY SEAL_BODY_BYTES
#define KEY_MAX_RAW (KEY_HEADER_BYTES + FM_LABEL_MAX + KEY_MAX_BODY + KEY_CHECKSUM_BYTES)
#define KEY_MAX_B64 (((KEY_MAX_RAW + 2) / 3) * 4 + 1)
#define KEY_MAX_FILE 4096           /* anything longer is not a key file */
#define KEYSET_MAX 8                /* files in one fm_keyset */

#define FINGERPRINT_DOMAIN "filmmark fingerprint v1"

static const char *kind_name(int kind)
{
    switch (kind) {
    case FM_KEY_SECRET: return "secret key";
    case FM_KEY_DETECT: return "detection key";
    case FM_KEY_PUBLIC: return "public key";
    default: return "unknown key";
    }
}

static int kind_valid(int kind)
{
    return kind == FM_KEY_SECRET || kind == FM_KEY_DETECT || kind == FM_KEY_PUBLIC;
}

/* Length of the body of a key of this kind (0 for an unknown kind). */
static size_t body_len(int kind)
{
    switch (kind) {
    case FM_KEY_SECRET: return crypto_sign_SECRETKEYBYTES + FM_WMKEY_BYTES;
    case FM_KEY_DETECT: return FM_WMKEY_BYTES + crypto_sign_PUBLICKEYBYTES;
    case FM_KEY_PUBLIC: return crypto_sign_PUBLICKEYBYTES;
    default: return 0;
    }
}

int fm_init(FmError *err)
{
    if (sodium_init() < 0)
        return fm_error_set(err, FM_ECRYPTO, "cannot initialise libsodium");
    return 0;
}

FmKey *fm_key_new(void)
{
    /* sodium_malloc needs sodium_init; calling it again is harmless. */
    if (sodium_init() < 0)
        return NULL;
    FmKey *key = sodium_malloc(sizeof(*key));
    if (key)
        sodium_memzero(key, sizeof(*key));
    return key;
}

void fm_key_free(FmKey **key)
{
    if (key && *key) {
        sodium_free(*key);   /* wipes the region before unmapping it */
        *key = NULL;
    }
}

int fm_key_generate(FmKey *key, FmError *err)
{
    if (!key)
        return fm_error_set(err, FM_EINVAL, "no key to generate into");
    sodium_memzero(key, sizeof(*key));
    if (crypto_sign_keypair(key->sign_pk, key->sign_sk) != 0) {
        sodium_memzero(key, sizeof(*key));
        return fm_error_set(err, FM_ECRYPTO, "cannot generate a signing key pair");
    }
    randombytes_buf(key->wm_key, sizeof(key->wm_key));
    key->kind = FM_KEY_SECRET;
    return 0;
}

/* Rank: a key can be reduced to any kind of lower or equal rank. */
static int kind_rank(int kind)
{
    switch (kind) {
    case FM_KEY_SECRET: return 3;
    case FM_KEY_DETECT: return 2;
    case FM_KEY_PUBLIC: return 1;
    default: return 0;
    }
}

int fm_key_derive(const FmKey *secret, FmKeyKind kind, FmKey *out, FmError *err)
{
    if (!secret || !out)
        return fm_error_set(err, FM_EINVAL, "no key to derive from or into");
    if (!kind_valid((int)kind))
        return fm_error_set(err, FM_EINVAL, "unknown key kind 0x%02x", (unsigned)kind);
    if (!kind_valid((int)secret->kind))
        return fm_error_set(err, FM_EINVAL, "source key has an unknown kind");
    if (kind_rank((int)kind) > kind_rank((int)secret->kind))
        return fm_error_set(err, FM_EINVAL, "cannot derive a %s from a %s",
                            kind_name(kind), kind_name(secret->kind));

    /* Build in a temporary so that out may be the same object as secret. */
    FmKey tmp;
    sodium_memzero(&tmp, sizeof(tmp));
    tmp.kind = kind;
    memcpy(tmp.sign_pk, secret->sign_pk, sizeof(tmp.sign_pk));
    if (kind != FM_KEY_PUBLIC)
        memcpy(tmp.wm_key, secret->wm_key, sizeof(tmp.wm_key));
    if (kind == FM_KEY_SECRET)
        memcpy(tmp.sign_sk, secret->sign_sk, sizeof(tmp.sign_sk));
    memcpy(tmp.label, secret->label, sizeof(tmp.label));
    tmp.label[FM_LABEL_MAX] = '\0';
    memcpy(out, &tmp, sizeof(*out));
    sodium_memzero(&tmp, sizeof(tmp));
    return 0;
}

/* Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF)
 * without control characters (C0, DEL, C1). */
static int label_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
            (cp >= 0x80 && cp < 0xa0))
            return 0;
        i += len;
    }
    return 1;
}

int fm_key_set_label(FmKey *key, const char *label, FmError *err)
{
    if (!key)
        return fm_error_set(err, FM_EINVAL, "no key to label");
    size_t n = label ? strlen(label) : 0;
    if (n > FM_LABEL_MAX)
        return fm_error_set(err, FM_EINVAL, "label is %zu bytes long; at most %d", n,
                            FM_LABEL_MAX);
    if (!label_valid((const uint8_t *)label, n))
        return fm_error_set(err, FM_EINVAL,
                            "label is not UTF-8 text without control characters");
    memset(key->label, 0, sizeof(key->label));
    if (n)
        memcpy(key->label, label, n);
    return 0;
}

static void fingerprint_of(const uint8_t pk[crypto_sign_PUBLICKEYBYTES],
                           char out[FM_FINGERPRINT_CHARS + 1])
{
    uint8_t hash[32];
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, sizeof(hash));
    crypto_generichash_update(&st, (const unsigned char *)FINGERPRINT_DOMAIN,
                              strlen(FINGERPRINT_DOMAIN));
    crypto_generichash_update(&st, pk, crypto_sign_PUBLICKEYBYTES);
    crypto_generichash_final(&st, hash, sizeof(hash));
    sodium_bin2hex(out, FM_FINGERPRINT_CHARS + 1, hash, FM_FINGERPRINT_CHARS / 2);
    sodium_memzero(&st, sizeof(st));
}

void fm_key_fingerprint(const FmKey *key, char out[FM_FINGERPRINT_CHARS + 1])
{
    fingerprint_of(key->sign_pk, out);
}

static void put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Derives the sealing key from a passphrase; 0 or FM_E*. */
static int seal_key(uint8_t k[SEAL_KEY_BYTES], const char *pass, size_t len,
                    const uint8_t salt[SEAL_SALT_BYTES], unsigned long long ops, size_t mem,
                    FmError *err)
{
    if (crypto_pwhash(k, SEAL_KEY_BYTES, pass, len, salt, ops, mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(k, SEAL_KEY_BYTES);
        return fm_error_set(err, FM_ENOMEM,
                            "cannot derive a key from the passphrase (Argon2id with %zu MiB: "
                            "out of memory?)", mem >> 20);
    }
    return 0;
}

/*
 * Serialises key into raw (sealed with seal if not NULL); sets *len. The
 * version 1 layout when the key has no label and no seal.
 */
static int key_encode(const FmKey *key, const FmKeySeal *seal, uint8_t raw[KEY_MAX_RAW],
                      size_t *len, FmError *err)
{
    size_t n = 0, label_len = strnlen(key->label, FM_LABEL_MAX);
    int v2 = label_len > 0 || seal;

    memcpy(raw, KEY_MAGIC, KEY_MAGIC_BYTES);
    if (v2)
        raw[KEY_MAGIC_BYTES - 1] = '2';
    n += KEY_MAGIC_BYTES;
    raw[n++] = (uint8_t)key->kind;
    raw[n++] = v2 && seal ? KEY_FLAG_SEALED : 0;
    raw[n++] = v2 ? (uint8_t)label_len : 0;
    raw[n++] = 0;
    memcpy(raw + n, key->label, label_len);
    n += label_len;
    switch (key->kind) {
    case FM_KEY_SECRET:
        if (seal) {
            unsigned long long ops = seal->opslimit ? seal->opslimit : FM_KEY_OPSLIMIT;
            size_t mem = seal->memlimit ? seal->memlimit : FM_KEY_MEMLIMIT;
            uint8_t k[SEAL_KEY_BYTES], plain[SEAL_PLAIN_BYTES];
            memcpy(raw + n, key->sign_pk, sizeof(key->sign_pk));
            n += sizeof(key->sign_pk);
            raw[n++] = SEAL_KDF_ARGON2ID13;
            put_u64le(raw + n, ops);
            n += 8;
            put_u64le(raw + n, mem);
            n += 8;
            uint8_t *salt = raw + n;
            randombytes_buf(salt, SEAL_SALT_BYTES);
            n += SEAL_SALT_BYTES;
            uint8_t *nonce = raw + n;
            randombytes_buf(nonce, SEAL_NONCE_BYTES);
            n += SEAL_NONCE_BYTES;
            int ret = seal_key(k, seal->passphrase, seal->len, salt, ops, mem, err);
            if (ret != 0)
                return ret;
            memcpy(plain, key->sign_sk, sizeof(key->sign_sk));
            memcpy(plain + sizeof(key->sign_sk), key->wm_key, sizeof(key->wm_key));
            unsigned long long clen = 0;
            crypto_aead_xchacha20poly1305_ietf_encrypt(raw + n, &clen, plain, sizeof(plain),
                                                       raw, n, NULL, nonce, k);
            sodium_memzero(k, sizeof(k));
            sodium_memzero(plain, sizeof(plain));
            n += (size_t)clen;
        } else {
            memcpy(raw + n, key->sign_sk, sizeof(key->sign_sk));
            n += sizeof(key->sign_sk);
            memcpy(raw + n, key->wm_key, sizeof(key->wm_key));
            n += sizeof(key->wm_key);
        }
        break;
    case FM_KEY_DETECT:
        memcpy(raw + n, key->wm_key, sizeof(key->wm_key));
        n += sizeof(key->wm_key);
        memcpy(raw + n, key->sign_pk, sizeof(key->sign_pk));
        n += sizeof(key->sign_pk);
        break;
    case FM_KEY_PUBLIC:
        memcpy(raw + n, key->sign_pk, sizeof(key->sign_pk));
        n += sizeof(key->sign_pk);
        break;
    }
    crypto_generichash(raw + n, KEY_CHECKSUM_BYTES, raw, n, NULL, 0);
    *len = n + KEY_CHECKSUM_BYTES;
    return 0;
}

/* Directory part of path ("." if none) into dir; 0 or -1 if too long. */
static int dir_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(dir, size, ".") < (int)size ? 0 : -1;
    if (slash == path)
        return snprintf(dir, size, "/") < (int)size ? 0 : -1;
    size_t n = (size_t)(slash - path);
    if (n + 1 > size)
        return -1;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return 0;
}

static void fsync_dir(const char *path)
{
    char dir[PATH_MAX];
    if (dir_of(path, dir, sizeof(dir)) != 0)
        return;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);   /* best effort: some file systems refuse */
        close(dfd);
    }
}

/* ---- the set writer ---- */

typedef struct KeySetEntry {
    char *path, *backup;
    FmTempFile tmp;   /* written, synced, locked (atomic_file.h); path NULL once gone */
    int existed;      /* path existed when committing */
    int placed;       /* path now holds our file */
} KeySetEntry;

struct FmKeySetWriter {
    int force;
    size_t n;
    KeySetEntry e[KEYSET_MAX];
};

int fm_keyset_begin(FmKeySetWriter **w, int force, FmError *err)
{
    if (!w)
        return fm_error_set(err, FM_EINVAL, "no key set writer");
    *w = calloc(1, sizeof(**w));
    if (!*w)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    (*w)->force = force;
    return 0;
}

/* The one-line comment of a key file, for people. */
static void key_comment(const FmKey *key, int sealed, char *out, size_t size)
{
    char fpr[FM_FINGERPRINT_CHARS + 1];
    fm_key_fingerprint(key, fpr);
    if (!key->label[0] && !sealed)
        snprintf(out, size, "filmmark %s v1 (fingerprint %s)\n", kind_name(key->kind), fpr);
    else
        snprintf(out, size, "filmmark %s v2 (fingerprint %s%s)%s%s\n", kind_name(key->kind),
                 fpr, sealed ? ", passphrase-protected" : "", key->label[0] ? ": " : "",
                 key->label);
}

int fm_keyset_add(FmKeySetWriter *w, const FmKey *key, const char *path, const FmKeySeal *seal,
                  FmError *err)
{
    if (!w || !key || !path || !*path)
        return fm_error_set(err, FM_EINVAL, "no key or no file name to save to");
    if (!kind_valid((int)key->kind))
        return fm_error_set(err, FM_EINVAL, "cannot save a key of unknown kind");
    if (seal && key->kind != FM_KEY_SECRET)
        return fm_error_set(err, FM_EINVAL, "only a secret key can be sealed by a passphrase");
    if (seal && (!seal->passphrase || seal->len == 0 || seal->len > FM_PASSPHRASE_MAX))
        return fm_error_set(err, FM_EINVAL, "the passphrase must be 1 to %d bytes long",
                            FM_PASSPHRASE_MAX);
    if (seal && ((seal->opslimit && (seal->opslimit < crypto_pwhash_OPSLIMIT_MIN ||
                                     seal->opslimit > SEAL_OPS_MAX)) ||
                 (seal->memlimit && (seal->memlimit < crypto_pwhash_MEMLIMIT_MIN ||
                                     seal->memlimit > SEAL_MEM_MAX))))
        return fm_error_set(err, FM_EINVAL, "Argon2id limits out of range");
    if (strnlen(key->label, sizeof(key->label)) > FM_LABEL_MAX ||
        !label_valid((const uint8_t *)key->label, strlen(key->label)))
        return fm_error_set(err, FM_EINVAL, "the key's label is not valid");
    if (w->n == KEYSET_MAX)
        return fm_error_set(err, FM_EINVAL, "too many files in one key set");
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->e[i].path, path) == 0)
            return fm_error_set(err, FM_EINVAL, "'%s' given twice", path);

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!w->force)
            return fm_error_set(err, FM_EPERM, "'%s' exists; use --force to overwrite", path);
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
            return fm_error_set(err, FM_EPERM, "'%s' exists and is not a regular file", path);
    }

    /* Encoded first: a sealed key's Argon2id runs before any file exists. */
    uint8_t raw[KEY_MAX_RAW];
    size_t raw_len = 0;
    int ret = key_encode(key, seal, raw, &raw_len, err);
    if (ret != 0) {
        sodium_memzero(raw, sizeof(raw));
        return ret;
    }
    char b64[KEY_MAX_B64 + 1];
    sodium_bin2base64(b64, sizeof(b64), raw, raw_len, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(raw, sizeof(raw));
    size_t b64_len = strlen(b64);
    b64[b64_len] = '\n';   /* the terminator's slot; written with the line */
    char comment[FM_LABEL_MAX + 128];
    key_comment(key, seal != NULL, comment, sizeof(comment));

    /* The temporary has the final mode exactly (not narrowed by the umask)
     * and is made 0600 first: a secret key is never readable by others. */
    const mode_t mode = key->kind == FM_KEY_PUBLIC ? 0644 : 0600;
    KeySetEntry *e = &w->e[w->n];
    memset(e, 0, sizeof(*e));
    ret = fm_temp_open(&e->tmp, path, mode, 0, err);
    if (ret == 0 && (ret = fm_temp_write(&e->tmp, comment, strlen(comment), err)) == 0 &&
        (ret = fm_temp_write(&e->tmp, b64, b64_len + 1, err)) == 0)
        ret = fm_temp_sync(&e->tmp, err);
    sodium_memzero(b64, sizeof(b64));
    if (ret == 0 && !(e->path = strdup(path)))
        ret = fm_error_set(err, FM_ENOMEM, "out of memory");
    if (ret < 0) {
        fm_temp_discard(&e->tmp);
        return ret;
    }
    w->n++;
    return 0;
}

/* Puts back what a failed commit replaced (entries before i). */
static void keyset_rollback(FmKeySetWriter *w, size_t upto)
{
    for (size_t j = 0; j < upto; j++) {
        KeySetEntry *e = &w->e[j];
        if (!e->placed)
            continue;
        if (e->backup) {
            if (rename(e->backup, e->path) == 0) {
                free(e->backup);
                e->backup = NULL;
            }
        } else if (!e->existed) {
            unlink(e->path);
        }
        e->placed = 0;
    }
}

int fm_keyset_commit(FmKeySetWriter *w, FmError *err)
{
    if (!w)
        return fm_error_set(err, FM_EINVAL, "no key set writer");
    int ret = 0;
    struct stat st;

    if (w->force) {
        /* Hard-link backups of what will be replaced, for a rollback. */
        for (size_t i = 0; i < w->n; i++) {
            KeySetEntry *e = &w->e[i];
            e->existed = lstat(e->path, &st) == 0;
            if (!e->existed)
                continue;
            if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
                ret = fm_error_set(err, FM_EPERM, "'%s' exists and is not a regular file",
                                   e->path);
                goto fail;
            }
            size_t size = strlen(e->path) + 16;
            char *b = malloc(size);
            if (!b) {
                ret = fm_error_set(err, FM_ENOMEM, "out of memory");
                goto fail;
            }
            int ok = 0;
            for (int tries = 0; tries < 16 && !ok; tries++) {
                snprintf(b, size, "%s.bak-%08x", e->path, (unsigned)randombytes_random());
                if (link(e->path, b) == 0)
                    ok = 1;
                else if (errno != EEXIST)
                    break;
            }
            if (ok)
                e->backup = b;
            else
                free(b);   /* no hard links here: no rollback for this one */
        }
    }
    for (size_t i = 0; i < w->n; i++) {
        KeySetEntry *e = &w->e[i];
        /* with force by rename(2); else by link(2), which fails if path
         * appeared meanwhile: no race with the check in add */
        ret = w->force ? fm_temp_publish(&e->tmp, e->path, err)
                       : fm_temp_publish_new(&e->tmp, e->path, err);
        if (ret < 0) {
            keyset_rollback(w, i);
            goto fail;
        }
        e->placed = 1;
    }
    /* Committed: drop the temporaries' names and the backups. */
    if (w->n)
        fsync_dir(w->e[0].path);
    for (size_t i = 0; i < w->n; i++) {
        KeySetEntry *e = &w->e[i];
        fm_temp_discard(&e->tmp);   /* published: only closes it */
        if (e->backup) {
            unlink(e->backup);
            free(e->backup);
            e->backup = NULL;
        }
        e->placed = 0;   /* the files stay: fm_keyset_free must not touch them */
        free(e->path);
        e->path = NULL;
    }
    w->n = 0;   /* nothing left to remove */
    return 0;

fail:
    for (size_t i = 0; i < w->n; i++) {
        KeySetEntry *e = &w->e[i];
        if (e->backup) {
            unlink(e->backup);
            free(e->backup);
            e->backup = NULL;
        }
    }
    return ret;
}

void fm_keyset_free(FmKeySetWriter **w)
{
    if (!w || !*w)
        return;
    for (size_t i = 0; i < (*w)->n; i++) {
        KeySetEntry *e = &(*w)->e[i];
        fm_temp_discard(&e->tmp);   /* removes it unless published */
        free(e->backup);
        free(e->path);
    }
    free(*w);
    *w = NULL;
}

int fm_key_save(const FmKey *key, const char *path, int force, FmError *err)
{
    if (!key || !path || !*path)
        return fm_error_set(err, FM_EINVAL, "no key or no file name to save to");
    FmKeySetWriter *w = NULL;
    int ret = fm_keyset_begin(&w, force, err);
    if (ret == 0)
        ret = fm_keyset_add(w, key, path, NULL, err);
    if (ret == 0)
        ret = fm_keyset_commit(w, err);
    fm_keyset_free(&w);
    return ret;
}

/* ---- reading ---- */

/* Reads the whole of fd (at most max bytes) into buf; returns length or -1. */
static ssize_t read_all(int fd, char *buf, size_t max, int *too_long)
{
    size_t n = 0;
    *too_long = 0;
    for (;;) {
        if (n == max) {
            char c;
            ssize_t r;
            while ((r = read(fd, &c, 1)) < 0 && errno == EINTR)
                ;
            if (r < 0)
                return -1;
            if (r > 0)
                *too_long = 1;
            return (ssize_t)n;
        }
        ssize_t r = read(fd, buf + n, max - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return (ssize_t)n;
        n += (size_t)r;
    }
}

/* Checks that sk's embedded public half is the one its seed generates. */
static int secret_consistent(const uint8_t sk[crypto_sign_SECRETKEYBYTES])
{
    uint8_t seed[crypto_sign_SEEDBYTES];
    uint8_t pk_embedded[crypto_sign_PUBLICKEYBYTES];
    uint8_t pk_derived[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk_derived[crypto_sign_SECRETKEYBYTES];
    int ok = 0;

    if (crypto_sign_ed25519_sk_to_seed(seed, sk) == 0 &&
        crypto_sign_ed25519_sk_to_pk(pk_embedded, sk) == 0 &&
        crypto_sign_seed_keypair(pk_derived, sk_derived, seed) == 0)
        ok = sodium_memcmp(pk_embedded, pk_derived, sizeof(pk_derived)) == 0;
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(sk_derived, sizeof(sk_derived));
    return ok;
}

/* The decoded record of a key file, before a sealed key is opened. */
typedef struct Parsed {
    int version;
    int sealed;
    uint8_t raw[KEY_MAX_RAW];   /* the whole record */
    size_t ct_off;              /* sealed: where the ciphertext starts */
    size_t kdf_off;             /* sealed: where the KDF parameters start */
    unsigned long long ops;
    size_t mem;
} Parsed;

/* Length of the body of a key of this kind (0 for an unknown kind). */
static size_t body_len_of(int kind, int sealed)
{
    if (kind == FM_KEY_SECRET && sealed)
        return SEAL_BODY_BYTES;
    return body_len(kind);
}

/*
 * Decodes the text of a key file into key (kind, label, public key, and the
 * secrets unless sealed) and p; 0 or FM_E* with the reason in err.
 */
static int key_parse(const char *text, size_t len, const char *path, FmKey *key, Parsed *p,
                     FmError *err)
{
    uint8_t *raw = p->raw;
    size_t raw_len = 0;
    int ret = 0;

    /* Line 1: the comment, free text. Line 2: base64. Then only whitespace. */
    if (memchr(text, '\0', len))
        return fm_error_set(err, FM_EFORMAT, "'%s' is not a filmmark key file", path);
    const char *nl = memchr(text, '\n', len);
    if (!nl)
        return fm_error_set(err, FM_EFORMAT,
                            "'%s' is truncated or not a filmmark key file (no key line)", path);
    const char *b64 = nl + 1;
    const char *end = text + len;
    const char *eol = memchr(b64, '\n', (size_t)(end - b64));
    const char *line_end = eol ? eol : end;
    for (const char *q = line_end; q < end; q++)
        if (*q != '\n' && *q != '\r' && *q != ' ' && *q != '\t')
            return fm_error_set(err, FM_EFORMAT,
                                "'%s' is damaged (unexpected text after the key line)", path);
    size_t b64_len = (size_t)(line_end - b64);
    while (b64_len > 0 && (b64[b64_len - 1] == '\r' || b64[b64_len - 1] == ' ' ||
                           b64[b64_len - 1] == '\t'))
        b64_len--;
    if (b64_len == 0)
        return fm_error_set(err, FM_EFORMAT,
                            "'%s' is truncated or not a filmmark key file (empty key line)", path);

    if (b64_len > KEY_MAX_B64 - 1)
        return fm_error_set(err, FM_EFORMAT, "'%s' is damaged (key line too long)", path);

    const char *b64_end = NULL;
    if (sodium_base642bin(raw, KEY_MAX_RAW, b64, b64_len, NULL, &raw_len, &b64_end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64_end != b64 + b64_len)
        return fm_error_set(err, FM_EFORMAT, "'%s' is truncated or damaged (bad base64)", path);

    if (raw_len < KEY_MAGIC_BYTES || memcmp(raw, KEY_MAGIC, KEY_MAGIC_BYTES - 1) != 0)
        return fm_error_set(err, FM_EFORMAT, "'%s' is not a filmmark key file (bad magic)", path);
    uint8_t vch = raw[KEY_MAGIC_BYTES - 1];
    if (vch != '1' && vch != '2')
        return fm_error_set(err, FM_EFORMAT,
                            "'%s' has unsupported key file version '%c' (this program reads "
                            "versions 1 and 2)", path, vch >= 0x21 && vch < 0x7f ? vch : '?');
    p->version = vch - '0';
    if (raw_len < KEY_HEADER_BYTES + KEY_CHECKSUM_BYTES)
        return fm_error_set(err, FM_EFORMAT, "'%s' is truncated (%zu bytes of key data)",
                            path, raw_len);
    int kind = raw[KEY_MAGIC_BYTES];
    size_t label_len = p->version == 2 ? raw[6] : 0;
    p->sealed = p->version == 2 && (raw[5] & KEY_FLAG_SEALED);
    size_t blen = body_len_of(kind, p->sealed);
    size_t want = KEY_HEADER_BYTES + label_len + blen + KEY_CHECKSUM_BYTES;
    if (blen == 0 || raw_len != want) {
        /* Check the checksum over what is there: tells damage from truncation. */
        uint8_t sum[KEY_CHECKSUM_BYTES];
        size_t n = raw_len - KEY_CHECKSUM_BYTES;
        crypto_generichash(sum, sizeof(sum), raw, n, NULL, 0);
        int sum_ok = sodium_memcmp(sum, raw + n, sizeof(sum)) == 0;
        if (blen == 0)
            return fm_error_set(err, FM_EFORMAT,
                                sum_ok ? "'%s' holds an unknown kind of key (0x%02x)"
                                       : "'%s': damaged key file (checksum mismatch; kind 0x%02x)",
                                path, kind);
        if (raw_len < want)
            return fm_error_set(err, FM_EFORMAT,
                                "'%s' is truncated (%zu of %zu bytes of key data)",
                                path, raw_len, want);
        return fm_error_set(err, FM_EFORMAT,
                            "'%s' is damaged (%zu bytes of key data, expected %zu)",
                            path, raw_len, want);
    }

    uint8_t sum[KEY_CHECKSUM_BYTES];
    crypto_generichash(sum, sizeof(sum), raw, want - KEY_CHECKSUM_BYTES, NULL, 0);
    if (sodium_memcmp(sum, raw + want - KEY_CHECKSUM_BYTES, sizeof(sum)) != 0)
        return fm_error_set(err, FM_ECRYPTO, "'%s': damaged key file (checksum mismatch)", path);
    if ((p->version == 1 && (raw[5] != 0 || raw[6] != 0 || raw[7] != 0)) ||
        (p->version == 2 && ((raw[5] & ~KEY_FLAG_SEALED) != 0 || raw[7] != 0)))
        return fm_error_set(err, FM_EFORMAT,
                            "'%s' uses key file features this program does not know (reserved bytes set)",
                            path);
    if (p->sealed && kind != FM_KEY_SECRET)
        return fm_error_set(err, FM_EFORMAT, "'%s' is damaged (a sealed %s)", path,
                            kind_name(kind));
    if (!label_valid(raw + KEY_HEADER_BYTES, label_len))
        return fm_error_set(err, FM_EFORMAT,
                            "'%s' is damaged (its label is not UTF-8 text)", path);

    const uint8_t *body = raw + KEY_HEADER_BYTES + label_len;
    sodium_memzero(key, sizeof(*key));
    key->kind = (FmKeyKind)kind;
    memcpy(key->label, raw + KEY_HEADER_BYTES, label_len);
    switch (kind) {
    case FM_KEY_SECRET:
        if (p->sealed) {
            memcpy(key->sign_pk, body, sizeof(key->sign_pk));
            p->kdf_off = (size_t)(body - raw) + sizeof(key->sign_pk);
            if (raw[p->kdf_off] != SEAL_KDF_ARGON2ID13)
                return fm_error_set(err, FM_EFORMAT,
                                    "'%s' is sealed with an unknown method (0x%02x)", path,
                                    raw[p->kdf_off]);
            uint64_t ops = get_u64le(raw + p->kdf_off + 1);
            uint64_t mem = get_u64le(raw + p->kdf_off + 9);
            if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > SEAL_OPS_MAX ||
                mem < crypto_pwhash_MEMLIMIT_MIN || mem > SEAL_MEM_MAX)
                return fm_error_set(err, FM_EFORMAT,
                                    "'%s' asks for Argon2id limits this program refuses "
                                    "(%llu passes over %llu bytes; at most %llu over %zu)",
                                    path, (unsigned long long)ops, (unsigned long long)mem,
                                    SEAL_OPS_MAX, SEAL_MEM_MAX);
            p->ops = ops;
            p->mem = (size_t)mem;
            p->ct_off = p->kdf_off + 1 + 8 + 8 + SEAL_SALT_BYTES + SEAL_NONCE_BYTES;
            break;
        }
        memcpy(key->sign_sk, body, sizeof(key->sign_sk));
        memcpy(key->wm_key, body + sizeof(key->sign_sk), sizeof(key->wm_key));
        crypto_sign_ed25519_sk_to_pk(key->sign_pk, key->sign_sk);
        if (!secret_consistent(key->sign_sk)) {
            sodium_memzero(key, sizeof(*key));
            ret = fm_error_set(err, FM_ECRYPTO,
                               "'%s' is damaged (public half does not match the secret key)",
                               path);
        }
        break;
    case FM_KEY_DETECT:
        memcpy(key->wm_key, body, sizeof(key->wm_key));
        memcpy(key->sign_pk, body + sizeof(key->wm_key), sizeof(key->sign_pk));
        break;
    case FM_KEY_PUBLIC:
        memcpy(key->sign_pk, body, sizeof(key->sign_pk));
        break;
    }
    return ret;
}

/* Opens a sealed secret key in key with a passphrase from get; 0 or FM_E*. */
static int key_unseal(FmKey *key, const Parsed *p, const char *path, FmPassphraseFn get,
                      void *ctx, FmError *err)
{
    FmKeyInfo info;
    memset(&info, 0, sizeof(info));
    info.kind = key->kind;
    info.version = p->version;
    info.sealed = 1;
    fingerprint_of(key->sign_pk, info.fingerprint);
    memcpy(info.label, key->label, sizeof(info.label));

    char *pass = sodium_malloc(FM_PASSPHRASE_MAX + 1);
    uint8_t *k = sodium_malloc(SEAL_KEY_BYTES);
    uint8_t *plain = sodium_malloc(SEAL_PLAIN_BYTES);
    int ret = 0;
    if (!pass || !k || !plain) {
        ret = fm_error_set(err, FM_ENOMEM, "out of secure memory");
        goto out;
    }
    int n = get(ctx, path, &info, pass, FM_PASSPHRASE_MAX + 1, err);
    if (n < 0) {
        ret = n;
        goto out;
    }
    if (n == 0 || n > FM_PASSPHRASE_MAX) {
        ret = fm_error_set(err, FM_EINVAL, "the passphrase must be 1 to %d bytes long",
                           FM_PASSPHRASE_MAX);
        goto out;
    }
    const uint8_t *salt = p->raw + p->kdf_off + 17;
    const uint8_t *nonce = salt + SEAL_SALT_BYTES;
    if ((ret = seal_key(k, pass, (size_t)n, salt, p->ops, p->mem, err)) != 0)
        goto out;
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &mlen, NULL, p->raw + p->ct_off,
                                                   SEAL_CT_BYTES, p->raw, p->ct_off, nonce,
                                                   k) != 0 ||
        mlen != SEAL_PLAIN_BYTES) {
        ret = fm_error_set(err, FM_ECRYPTO, "wrong passphrase for '%s'", path);
        goto out;
    }
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_ed25519_sk_to_pk(pk, plain);
    if (!secret_consistent(plain) || sodium_memcmp(pk, key->sign_pk, sizeof(pk)) != 0) {
        ret = fm_error_set(err, FM_ECRYPTO,
                           "'%s' is damaged (public half does not match the secret key)", path);
        goto out;
    }
    memcpy(key->sign_sk, plain, sizeof(key->sign_sk));
    memcpy(key->wm_key, plain + sizeof(key->sign_sk), sizeof(key->wm_key));
out:
    sodium_free(pass);
    sodium_free(k);
    sodium_free(plain);
    return ret;
}

/*
 * The common reader: parses path into key (secrets only if want_secrets;
 * a sealed file then needs get) and fills info if not NULL.
 */
static int key_read(FmKey *key, FmKeyInfo *info, const char *path, FmKeyKind want_kind,
                    int want_secrets, FmPassphraseFn get, void *ctx, FmError *err)
{
    if (!key || !path || !*path)
        return fm_error_set(err, FM_EINVAL, "no key or no file name to load from");
    if (want_kind != 0 && !kind_valid((int)want_kind))
        return fm_error_set(err, FM_EINVAL, "unknown key kind 0x%02x", (unsigned)want_kind);

    /* O_NONBLOCK: a FIFO must not hang us before the S_ISREG check. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return fm_error_set(err, FM_ENOTFOUND, "key file '%s' does not exist", path);
        return fm_error_set(err, FM_EIO, "cannot open key file '%s': %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int ret = fm_error_set(err, FM_EIO, "cannot read key file '%s': %s", path, strerror(errno));
        close(fd);
        return ret;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fm_error_set(err, FM_EFORMAT, "'%s' is not a regular file", path);
    }

    char text[KEY_MAX_FILE];
    int too_long = 0;
    ssize_t n = read_all(fd, text, sizeof(text), &too_long);
    int saved_errno = errno;
    close(fd);
    if (n < 0) {
        sodium_memzero(text, sizeof(text));
        return fm_error_set(err, FM_EIO, "cannot read key file '%s': %s", path,
                            strerror(saved_errno));
    }
    if (too_long) {
        sodium_memzero(text, sizeof(text));
        return fm_error_set(err, FM_EFORMAT, "'%s' is not a filmmark key file (too large)", path);
    }
    if (n == 0)
        return fm_error_set(err, FM_EFORMAT, "'%s' is empty", path);

    FmKey *tmp = fm_key_new();
    Parsed *p = sodium_malloc(sizeof(*p));
    int ret = 0;
    if (!tmp || !p) {
        sodium_memzero(text, sizeof(text));
        ret = fm_error_set(err, FM_ENOMEM, "out of secure memory");
        goto out;
    }
    ret = key_parse(text, (size_t)n, path, tmp, p, err);
    sodium_memzero(text, sizeof(text));
    if (ret != 0)
        goto out;

    /* Secret material must not be open to group or others. */
    mode_t perm = st.st_mode & 07777;
    if (tmp->kind != FM_KEY_PUBLIC && (perm & 077)) {
        ret = fm_error_set(err, FM_EPERM, "'%s' is %s by others (mode %04o); run chmod 600",
                           path, (perm & 044) ? "readable" : (perm & 022) ? "writable" : "accessible",
                           (unsigned)perm);
        goto out;
    }
    if (info) {
        memset(info, 0, sizeof(*info));
        info->kind = tmp->kind;
        info->version = p->version;
        info->sealed = p->sealed;
        fingerprint_of(tmp->sign_pk, info->fingerprint);
        memcpy(info->label, tmp->label, sizeof(info->label));
    }
    if (!want_secrets)
        goto out;

    if (want_kind != 0 && tmp->kind != want_kind &&
        !(want_kind == FM_KEY_DETECT && tmp->kind == FM_KEY_SECRET)) {
        ret = fm_error_set(err, FM_EINVAL, "'%s' is a %s, a %s is needed",
                           path, kind_name(tmp->kind), kind_name(want_kind));
        goto out;
    }
    if (p->sealed) {
        if (!get) {
            ret = fm_error_set(err, FM_EPERM,
                               "'%s' is protected by a passphrase%s", path,
                               want_kind == FM_KEY_DETECT ? "; use its detection key (.dkey)" : "");
            goto out;
        }
        if ((ret = key_unseal(tmp, p, path, get, ctx, err)) != 0)
            goto out;
    }
    if (want_kind == FM_KEY_DETECT && tmp->kind == FM_KEY_SECRET) {
        sodium_memzero(tmp->sign_sk, sizeof(tmp->sign_sk));
        tmp->kind = FM_KEY_DETECT;
    }
    memcpy(key, tmp, sizeof(*key));
out:
    fm_key_free(&tmp);
    sodium_free(p);
    return ret;
}

int fm_key_load(FmKey *key, const char *path, FmKeyKind want_kind, FmError *err)
{
    return key_read(key, NULL, path, want_kind, 1, NULL, NULL, err);
}

int fm_key_load_with(FmKey *key, const char *path, FmKeyKind want_kind, FmPassphraseFn get,
                     void *ctx, FmError *err)
{
    return key_read(key, NULL, path, want_kind, 1, get, ctx, err);
}

int fm_key_inspect(const char *path, FmKeyInfo *info, FmError *err)
{
    if (!info)
        return fm_error_set(err, FM_EINVAL, "nowhere to put the key's description");
    FmKey *k = fm_key_new();
    if (!k)
        return fm_error_set(err, FM_ENOMEM, "out of secure memory");
    int ret = key_read(k, info, path, 0, 0, NULL, NULL, err);
    fm_key_free(&k);
    return ret;
}

/* ---- key directories ---- */

int fm_key_dir_default(char *buf, size_t size, FmError *err)
{
    const char *dir = getenv("FILMMARK_KEYS");
    int n;
    if (dir && *dir) {
        n = snprintf(buf, size, "%s", dir);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return fm_error_set(err, FM_ENOTFOUND,
                                "HOME is not set; set FILMMARK_KEYS to the key directory");
        n = snprintf(buf, size, "%s/.config/filmmark/keys", home);
    }
    if (n < 0 || (size_t)n >= size)
        return fm_error_set(err, FM_EINVAL, "key directory name too long");
    return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void fm_key_names_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int fm_key_dir_names(const char *dir, int with_pub, char ***names, size_t *n, FmError *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return fm_error_set(err, FM_ENOTFOUND, "key directory '%s' does not exist", dir);
        return fm_error_set(err, FM_EIO, "cannot read key directory '%s': %s", dir,
                            strerror(errno));
    }
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    int ret = 0;
    errno = 0;
    while ((e = readdir(d))) {
        if (!has_suffix(e->d_name, ".dkey") && !has_suffix(e->d_name, ".key") &&
            !(with_pub && has_suffix(e->d_name, ".pub")))
            continue;
        if (cnt == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            char **nv = realloc(v, ncap * sizeof(*nv));
            if (!nv) {
                ret = fm_error_set(err, FM_ENOMEM, "out of memory");
                break;
            }
            v = nv;
            cap = ncap;
        }
        if (!(v[cnt] = strdup(e->d_name))) {
            ret = fm_error_set(err, FM_ENOMEM, "out of memory");
            break;
        }
        cnt++;
        errno = 0;
    }
    if (ret == 0 && errno != 0)
        ret = fm_error_set(err, FM_EIO, "cannot read key directory '%s': %s", dir,
                           strerror(errno));
    closedir(d);
    if (ret != 0) {
        fm_key_names_free(v, cnt);
        return ret;
    }
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_names);
    *names = v;
    *n = cnt;
    return 0;
}

void fm_key_list_free(FmKeyList *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        fm_key_free(&list->keys[i]);
        free(list->paths[i]);
    }
    free(list->keys);
    free(list->paths);
    memset(list, 0, sizeof(*list));
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Index of a loaded key with this public key (and watermark key, if wm), or -1. */
static long list_find(const FmKeyList *list, const uint8_t *pk, const uint8_t *wm)
{
    for (size_t i = 0; i < list->n; i++)
        if (sodium_memcmp(list->keys[i]->sign_pk, pk, crypto_sign_PUBLICKEYBYTES) == 0 &&
            (!wm || sodium_memcmp(list->keys[i]->wm_key, wm, FM_WMKEY_BYTES) == 0))
            return (long)i;
    return -1;
}

int fm_key_load_dir(const char *dir, FmKeyList *list, FmKeyWarnFn warn, void *ctx,
                    FmError *err)
{
    char **names = NULL;
    size_t nnames = 0, skipped = 0;
    int ret = fm_key_dir_names(dir, 0, &names, &nnames, err);
    if (ret != 0)
        return ret;
    char **sealed = calloc(nnames ? nnames : 1, sizeof(*sealed));
    size_t nsealed = 0;
    FmKey *k = NULL;
    if (!sealed) {
        fm_key_names_free(names, nnames);
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    }

    /* Pass 1: every key that opens without a passphrase, in name order. */
    for (size_t i = 0; i < nnames && ret == 0; i++) {
        FmError e = { { 0 } };
        FmKeyInfo info;
        char *path = path_join(dir, names[i]);
        if (!path) {
            ret = fm_error_set(err, FM_ENOMEM, "out of memory");
            break;
        }
        if (fm_key_inspect(path, &info, &e) == 0 && info.sealed) {
            sealed[nsealed++] = path;   /* pass 2 */
            continue;
        }
        if (!k && !(k = fm_key_new())) {
            free(path);
            ret = fm_error_set(err, FM_ENOMEM, "out of secure memory");
            break;
        }
        if (fm_key_load(k, path, FM_KEY_DETECT, &e) != 0) {
            if (warn)
                warn(ctx, path, e.msg);
            skipped++;
            free(path);
            continue;
        }
        if (list_find(list, k->sign_pk, k->wm_key) >= 0) {   /* a set's .dkey and .key */
            free(path);
            continue;
        }
        if (list->n == list->cap) {
            size_t ncap = list->cap ? 2 * list->cap : 16;
            FmKey **nk = realloc(list->keys, ncap * sizeof(*nk));
            if (nk)
                list->keys = nk;
            char **np = nk ? realloc(list->paths, ncap * sizeof(*np)) : NULL;
            if (np)
                list->paths = np;
            if (!nk || !np) {
                free(path);
                ret = fm_error_set(err, FM_ENOMEM, "out of memory");
                break;
            }
            list->cap = ncap;
        }
        list->keys[list->n] = k;
        list->paths[list->n] = path;
        list->n++;
        k = NULL;
    }
    /* Pass 2: a sealed secret key whose key is not loaded from another file. */
    for (size_t i = 0; i < nsealed; i++) {
        if (ret == 0) {
            FmError e = { { 0 } };
            FmKeyInfo info;
            int known = 0;
            if (fm_key_inspect(sealed[i], &info, &e) == 0)
                for (size_t j = 0; j < list->n && !known; j++) {
                    char fp[FM_FINGERPRINT_CHARS + 1];
                    fm_key_fingerprint(list->keys[j], fp);
                    known = strcmp(fp, info.fingerprint) == 0;
                }
            if (!known) {
                char msg[sizeof(e.msg) + 64];
                snprintf(msg, sizeof(msg),
                         "'%s' is protected by a passphrase; install its detection key "
                         "(wmkeygen --install)", sealed[i]);
                if (warn)
                    warn(ctx, sealed[i], msg);
                skipped++;
            }
        }
        free(sealed[i]);
    }
    free(sealed);
    fm_key_free(&k);
    fm_key_names_free(names, nnames);
    if (ret == 0 && list->n == 0) {
        if (skipped)
            ret = fm_error_set(err, FM_ENOTFOUND, "no usable key in '%s' (%zu skipped)", dir,
                               skipped);
        else
            ret = fm_error_set(err, FM_ENOTFOUND, "no .dkey or .key files in '%s'", dir);
    }
    return ret;
}
