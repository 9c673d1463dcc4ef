/*
 * keys.c - filmmark key files (format: docs/KEYS.md).
 *
 * A key file is two lines of text: a comment, and the base64 (original
 * alphabet, padded) of
 *
 *     "FMK1" | kind ('S','D','P') | 3 zero bytes | body | BLAKE2b-128 checksum
 *
 * where the checksum covers every byte before it. Files are read and written
 * with plain read()/write() so that no stdio buffer keeps a copy of secrets,
 * and every local buffer that held key material is wiped before returning.
 */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_MAGIC "FMK1"
#define KEY_MAGIC_BYTES 4
#define KEY_HEADER_BYTES 8          /* magic, kind, 3 reserved bytes */
#define KEY_CHECKSUM_BYTES 16
#define KEY_MAX_BODY (crypto_sign_SECRETKEYBYTES + FM_WMKEY_BYTES)
#define KEY_MAX_RAW (KEY_HEADER_BYTES + KEY_MAX_BODY + KEY_CHECKSUM_BYTES)
#define KEY_MAX_B64 (((KEY_MAX_RAW + 2) / 3) * 4 + 1)
#define KEY_MAX_FILE 4096           /* anything longer is not a key file */

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
    memcpy(out, &tmp, sizeof(*out));
    sodium_memzero(&tmp, sizeof(tmp));
    return 0;
}

void fm_key_fingerprint(const FmKey *key, char out[FM_FINGERPRINT_CHARS + 1])
{
    uint8_t hash[32];
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, sizeof(hash));
    crypto_generichash_update(&st, (const unsigned char *)FINGERPRINT_DOMAIN,
                              strlen(FINGERPRINT_DOMAIN));
    crypto_generichash_update(&st, key->sign_pk, sizeof(key->sign_pk));
    crypto_generichash_final(&st, hash, sizeof(hash));
    sodium_bin2hex(out, FM_FINGERPRINT_CHARS + 1, hash, FM_FINGERPRINT_CHARS / 2);
    sodium_memzero(&st, sizeof(st));
}

/* Serialises key into raw; returns the number of bytes used. */
static size_t key_encode(const FmKey *key, uint8_t raw[KEY_MAX_RAW])
{
    size_t n = 0;
    memcpy(raw, KEY_MAGIC, KEY_MAGIC_BYTES);
    n += KEY_MAGIC_BYTES;
    raw[n++] = (uint8_t)key->kind;
    raw[n++] = 0;
    raw[n++] = 0;
    raw[n++] = 0;
    switch (key->kind) {
    case FM_KEY_SECRET:
        memcpy(raw + n, key->sign_sk, sizeof(key->sign_sk));
        n += sizeof(key->sign_sk);
        memcpy(raw + n, key->wm_key, sizeof(key->wm_key));
        n += sizeof(key->wm_key);
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
    return n + KEY_CHECKSUM_BYTES;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
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

int fm_key_save(const FmKey *key, const char *path, int force, FmError *err)
{
    if (!key || !path || !*path)
        return fm_error_set(err, FM_EINVAL, "no key or no file name to save to");
    if (!kind_valid((int)key->kind))
        return fm_error_set(err, FM_EINVAL, "cannot save a key of unknown kind");

    struct stat st;
    if (!force && lstat(path, &st) == 0)
        return fm_error_set(err, FM_EPERM, "'%s' exists; use --force to overwrite", path);

    const mode_t mode = key->kind == FM_KEY_PUBLIC ? 0644 : 0600;
    char tmp[PATH_MAX];
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 16; tries++) {
        if (snprintf(tmp, sizeof(tmp), "%s.tmp-%08x", path,
                     (unsigned)randombytes_random()) >= (int)sizeof(tmp))
            return fm_error_set(err, FM_EINVAL, "file name too long: '%s'", path);
        /* O_EXCL + final mode: the file never exists with wider permissions. */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0 && errno != EEXIST)
            return fm_error_set(err, FM_EIO, "cannot create a file beside '%s': %s",
                                path, strerror(errno));
    }
    if (fd < 0)
        return fm_error_set(err, FM_EIO, "cannot create a temporary file beside '%s'", path);

    uint8_t raw[KEY_MAX_RAW];
    char b64[KEY_MAX_B64];
    char fpr[FM_FINGERPRINT_CHARS + 1];
    char comment[128];
    int ret = 0, saved_errno = 0;
    const char *what = NULL;

    size_t raw_len = key_encode(key, raw);
    sodium_bin2base64(b64, sizeof(b64), raw, raw_len, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(raw, sizeof(raw));
    size_t b64_len = strlen(b64);
    b64[b64_len] = '\n';   /* the terminator's slot; written with the line */
    fm_key_fingerprint(key, fpr);
    snprintf(comment, sizeof(comment), "filmmark %s v1 (fingerprint %s)\n",
             kind_name(key->kind), fpr);

    /* umask may have narrowed a public key's 0644; set the mode exactly. */
    if (fchmod(fd, mode) != 0)
        what = "set the mode of";
    else if (write_all(fd, comment, strlen(comment)) != 0 ||
             write_all(fd, b64, b64_len + 1) != 0)
        what = "write";
    else if (fsync(fd) != 0)
        what = "sync";
    if (what)
        saved_errno = errno;
    sodium_memzero(b64, sizeof(b64));
    if (what) {
        ret = fm_error_set(err, FM_EIO, "cannot %s '%s': %s", what, tmp, strerror(saved_errno));
        close(fd);
        unlink(tmp);
        return ret;
    }
    if (close(fd) != 0) {
        ret = fm_error_set(err, FM_EIO, "cannot write '%s': %s", tmp, strerror(errno));
        unlink(tmp);
        return ret;
    }

    if (force) {
        if (rename(tmp, path) != 0) {
            ret = fm_error_set(err, FM_EIO, "cannot replace '%s': %s", path, strerror(errno));
            unlink(tmp);
            return ret;
        }
    } else {
        /* link() fails if path appeared meanwhile: no race with the check above. */
        if (link(tmp, path) == 0) {
            unlink(tmp);
        } else if (errno == EEXIST) {
            unlink(tmp);
            return fm_error_set(err, FM_EPERM, "'%s' exists; use --force to overwrite", path);
        } else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP ||
                   errno == ENOSYS || errno == EMLINK) {
            /* No hard links on this file system: check again, then rename. */
            if (lstat(path, &st) == 0) {
                unlink(tmp);
                return fm_error_set(err, FM_EPERM, "'%s' exists; use --force to overwrite", path);
            }
            if (rename(tmp, path) != 0) {
                ret = fm_error_set(err, FM_EIO, "cannot create '%s': %s", path, strerror(errno));
                unlink(tmp);
                return ret;
            }
        } else {
            ret = fm_error_set(err, FM_EIO, "cannot create '%s': %s", path, strerror(errno));
            unlink(tmp);
            return ret;
        }
    }
    fsync_dir(path);
    return 0;
}

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

/* Decodes the text of a key file into key; 0 or FM_E* with the reason in err. */
static int key_parse(const char *text, size_t len, const char *path, FmKey *key,
                     FmError *err)
{
    uint8_t raw[KEY_MAX_RAW];
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
    for (const char *p = line_end; p < end; p++)
        if (*p != '\n' && *p != '\r' && *p != ' ' && *p != '\t')
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
    if (sodium_base642bin(raw, sizeof(raw), b64, b64_len, NULL, &raw_len, &b64_end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64_end != b64 + b64_len) {
        ret = fm_error_set(err, FM_EFORMAT, "'%s' is truncated or damaged (bad base64)", path);
        goto out;
    }

    if (raw_len < KEY_MAGIC_BYTES || memcmp(raw, KEY_MAGIC, KEY_MAGIC_BYTES - 1) != 0) {
        ret = fm_error_set(err, FM_EFORMAT, "'%s' is not a filmmark key file (bad magic)", path);
        goto out;
    }
    if (raw[KEY_MAGIC_BYTES - 1] != (uint8_t)KEY_MAGIC[KEY_MAGIC_BYTES - 1]) {
        ret = fm_error_set(err, FM_EFORMAT,
                           "'%s' has unsupported key file version '%c' (this program reads version 1)",
                           path, raw[KEY_MAGIC_BYTES - 1] >= 0x21 && raw[KEY_MAGIC_BYTES - 1] < 0x7f
                               ? raw[KEY_MAGIC_BYTES - 1] : '?');
        goto out;
    }
    if (raw_len < KEY_HEADER_BYTES + KEY_CHECKSUM_BYTES) {
        ret = fm_error_set(err, FM_EFORMAT, "'%s' is truncated (%zu bytes of key data)",
                           path, raw_len);
        goto out;
    }
    int kind = raw[KEY_MAGIC_BYTES];
    size_t blen = body_len(kind);
    size_t want = KEY_HEADER_BYTES + blen + KEY_CHECKSUM_BYTES;
    if (blen == 0 || raw_len != want) {
        /* Check the checksum over what is there: tells damage from truncation. */
        uint8_t sum[KEY_CHECKSUM_BYTES];
        size_t n = raw_len - KEY_CHECKSUM_BYTES;
        crypto_generichash(sum, sizeof(sum), raw, n, NULL, 0);
        int sum_ok = sodium_memcmp(sum, raw + n, sizeof(sum)) == 0;
        if (blen == 0)
            ret = fm_error_set(err, FM_EFORMAT,
                               sum_ok ? "'%s' holds an unknown kind of key (0x%02x)"
                                      : "'%s': damaged key file (checksum mismatch; kind 0x%02x)",
                               path, kind);
        else if (raw_len < want)
            ret = fm_error_set(err, FM_EFORMAT,
                               "'%s' is truncated (%zu of %zu bytes of key data)",
                               path, raw_len, want);
        else
            ret = fm_error_set(err, FM_EFORMAT,
                               "'%s' is damaged (%zu bytes of key data, expected %zu)",
                               path, raw_len, want);
        goto out;
    }

    uint8_t sum[KEY_CHECKSUM_BYTES];
    crypto_generichash(sum, sizeof(sum), raw, want - KEY_CHECKSUM_BYTES, NULL, 0);
    if (sodium_memcmp(sum, raw + want - KEY_CHECKSUM_BYTES, sizeof(sum)) != 0) {
        ret = fm_error_set(err, FM_ECRYPTO, "'%s': damaged key file (checksum mismatch)", path);
        goto out;
    }
    if (raw[5] != 0 || raw[6] != 0 || raw[7] != 0) {
        ret = fm_error_set(err, FM_EFORMAT,
                           "'%s' uses key file features this program does not know (reserved bytes set)",
                           path);
        goto out;
    }

    const uint8_t *body = raw + KEY_HEADER_BYTES;
    sodium_memzero(key, sizeof(*key));
    key->kind = (FmKeyKind)kind;
    switch (kind) {
    case FM_KEY_SECRET:
        memcpy(key->sign_sk, body, sizeof(key->sign_sk));
        memcpy(key->wm_key, body + sizeof(key->sign_sk), sizeof(key->wm_key));
        crypto_sign_ed25519_sk_to_pk(key->sign_pk, key->sign_sk);
        if (!secret_consistent(key->sign_sk)) {
            sodium_memzero(key, sizeof(*key));
            ret = fm_error_set(err, FM_ECRYPTO,
                               "'%s' is damaged (public half does not match the secret key)",
                               path);
            goto out;
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

out:
    sodium_memzero(raw, sizeof(raw));
    return ret;
}

int fm_key_load(FmKey *key, const char *path, FmKeyKind want_kind, FmError *err)
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

    FmKey tmp;
    int ret = key_parse(text, (size_t)n, path, &tmp, err);
    sodium_memzero(text, sizeof(text));
    if (ret != 0) {
        sodium_memzero(&tmp, sizeof(tmp));
        return ret;
    }

    /* Secret material must not be open to group or others. */
    mode_t perm = st.st_mode & 07777;
    if (tmp.kind != FM_KEY_PUBLIC && (perm & 077)) {
        sodium_memzero(&tmp, sizeof(tmp));
        return fm_error_set(err, FM_EPERM, "'%s' is %s by others (mode %04o); run chmod 600",
                            path, (perm & 044) ? "readable" : (perm & 022) ? "writable" : "accessible",
                            (unsigned)perm);
    }

    if (want_kind != 0 && tmp.kind != want_kind) {
        if (want_kind == FM_KEY_DETECT && tmp.kind == FM_KEY_SECRET) {
            sodium_memzero(tmp.sign_sk, sizeof(tmp.sign_sk));
            tmp.kind = FM_KEY_DETECT;
        } else {
            ret = fm_error_set(err, FM_EINVAL, "'%s' is a %s, a %s is needed",
                               path, kind_name(tmp.kind), kind_name(want_kind));
            sodium_memzero(&tmp, sizeof(tmp));
            return ret;
        }
    }
    memcpy(key, &tmp, sizeof(*key));
    sodium_memzero(&tmp, sizeof(tmp));
    return 0;
}
