/*
 * test_keys.c - key generation, key files and fingerprints.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"
#include "testutil.h"

static char *dir;
static FmKey *sk;   /* a fresh secret key */
static FmKey *got;  /* loaded keys land here */

static void setup(void)
{
    FmError err = {{0}};
    cr_assert_eq(fm_init(&err), 0, "%s", err.msg);
    dir = tu_mkdtemp();
    sk = fm_key_new();
    got = fm_key_new();
    cr_assert(sk && got);
    cr_assert_eq(fm_key_generate(sk, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    fm_key_free(&sk);
    fm_key_free(&got);
    tu_rmtree(dir);
    dir = NULL;
}

TestSuite(keys, .init = setup, .fini = teardown);

/* Saves key (of any kind) under dir/name; returns the malloc'd path. */
static char *save(const FmKey *key, const char *name)
{
    FmError err = {{0}};
    char *path = tu_path(dir, name);
    cr_assert_eq(fm_key_save(key, path, 0, &err), 0, "%s", err.msg);
    return path;
}

static char *save_derived(FmKeyKind kind, const char *name)
{
    FmKey *k = fm_key_new();
    cr_assert_eq(fm_key_derive(sk, kind, k, NULL), 0);
    char *path = save(k, name);
    fm_key_free(&k);
    return path;
}

static mode_t file_mode(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
    return st.st_mode & 07777;
}

/* Loading path must fail with code and a one-line message containing want. */
static void expect_refusal(const char *path, FmKeyKind kind, int code, const char *want)
{
    FmError err = {{0}};
    int ret = fm_key_load(got, path, kind, &err);
    cr_assert_eq(ret, code, "load '%s': got %d, expected %d (%s)", path, ret, code, err.msg);
    cr_assert_not_null(strstr(err.msg, want), "message \"%s\" lacks \"%s\"", err.msg, want);
    cr_assert_null(strchr(err.msg, '\n'), "message is not one line: %s", err.msg);
}

/* Appends the checksum to the n bytes of raw (size bytes: room for it),
 * then writes comment and the base64 line to name in dir; returns the path. */
static char *write_record(const char *name, const char *comment, uint8_t *raw, size_t n,
                          size_t size, mode_t mode)
{
    cr_assert_leq(n + 16, size);
    crypto_generichash(raw + n, 16, raw, n, NULL, 0);
    n += 16;
    char text[1024];
    int len = snprintf(text, sizeof(text), "%s", comment);
    sodium_bin2base64(text + len, sizeof(text) - (size_t)len, raw, n,
                      sodium_base64_VARIANT_ORIGINAL);
    strcat(text, "\n");
    char *path = tu_path(dir, name);
    cr_assert_eq(tu_write_file(path, text, strlen(text), mode), 0);
    return path;
}

/*
 * Writes a key file by hand, following docs/KEYS.md independently of
 * keys.c: comment line, then base64 of magic|kind|reserved|body|checksum.
 */
static char *write_raw(const char *name, const char *magic, int kind,
                       const uint8_t reserved[3], const uint8_t *body, size_t body_len,
                       mode_t mode)
{
    uint8_t raw[256];
    size_t n = 0;
    memcpy(raw, magic, 4);
    n += 4;
    raw[n++] = (uint8_t)kind;
    memcpy(raw + n, reserved, 3);
    n += 3;
    memcpy(raw + n, body, body_len);
    n += body_len;
    return write_record(name, "filmmark hand-made key\n", raw, n, sizeof(raw), mode);
}

static const uint8_t zero3[3] = {0, 0, 0};

static void secret_body(uint8_t body[96])
{
    memcpy(body, sk->sign_sk, 64);
    memcpy(body + 64, sk->wm_key, 32);
}

/* ---- generation and derivation ---- */

Test(keys, new_key_is_zeroed_and_free_clears_pointer)
{
    FmKey *k = fm_key_new();
    cr_assert_not_null(k);
    const uint8_t *b = (const uint8_t *)k;
    for (size_t i = 0; i < sizeof(*k); i++)
        cr_assert_eq(b[i], 0);
    fm_key_free(&k);
    cr_assert_null(k);
    fm_key_free(&k);   /* no-op */
    fm_key_free(NULL);
}

Test(keys, generate_gives_distinct_consistent_keys)
{
    FmKey *k2 = fm_key_new();
    cr_assert_eq(fm_key_generate(k2, NULL), 0);
    cr_assert_eq(sk->kind, FM_KEY_SECRET);
    cr_assert(memcmp(sk->sign_pk, k2->sign_pk, sizeof(sk->sign_pk)) != 0);
    cr_assert(memcmp(sk->wm_key, k2->wm_key, sizeof(sk->wm_key)) != 0);
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_ed25519_sk_to_pk(pk, sk->sign_sk);
    cr_assert_arr_eq(pk, sk->sign_pk, sizeof(pk));
    fm_key_free(&k2);
}

Test(keys, derive)
{
    FmKey *d = fm_key_new(), *p = fm_key_new(), *p2 = fm_key_new();
    FmError err = {{0}};
    static const uint8_t zeros[64];

    cr_assert_eq(fm_key_derive(sk, FM_KEY_DETECT, d, &err), 0, "%s", err.msg);
    cr_assert_eq(d->kind, FM_KEY_DETECT);
    cr_assert_arr_eq(d->sign_pk, sk->sign_pk, 32);
    cr_assert_arr_eq(d->wm_key, sk->wm_key, 32);
    cr_assert_arr_eq(d->sign_sk, zeros, 64);

    cr_assert_eq(fm_key_derive(sk, FM_KEY_PUBLIC, p, &err), 0, "%s", err.msg);
    cr_assert_eq(p->kind, FM_KEY_PUBLIC);
    cr_assert_arr_eq(p->sign_pk, sk->sign_pk, 32);
    cr_assert_arr_eq(p->wm_key, zeros, 32);
    cr_assert_arr_eq(p->sign_sk, zeros, 64);

    /* A detection key reduces to the public key; nothing goes upwards. */
    cr_assert_eq(fm_key_derive(d, FM_KEY_PUBLIC, p2, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(p2->sign_pk, sk->sign_pk, 32);
    cr_assert_eq(fm_key_derive(p, FM_KEY_DETECT, p2, &err), FM_EINVAL);
    cr_assert_eq(fm_key_derive(d, FM_KEY_SECRET, p2, &err), FM_EINVAL);
    cr_assert_eq(fm_key_derive(sk, (FmKeyKind)'X', p2, &err), FM_EINVAL);

    /* In place. */
    cr_assert_eq(fm_key_derive(d, FM_KEY_PUBLIC, d, &err), 0);
    cr_assert_eq(d->kind, FM_KEY_PUBLIC);
    cr_assert_arr_eq(d->sign_pk, sk->sign_pk, 32);
    cr_assert_arr_eq(d->wm_key, zeros, 32);

    fm_key_free(&d);
    fm_key_free(&p);
    fm_key_free(&p2);
}

/* ---- save / load round trips ---- */

Test(keys, round_trip_all_kinds)
{
    FmError err = {{0}};
    static const uint8_t zeros[64];
    char *s = save(sk, "k.key");
    char *d = save_derived(FM_KEY_DETECT, "k.dkey");
    char *p = save_derived(FM_KEY_PUBLIC, "k.pub");

    cr_assert_eq(file_mode(s), 0600);
    cr_assert_eq(file_mode(d), 0600);
    cr_assert_eq(file_mode(p), 0644);

    for (int any = 0; any < 2; any++) {
        cr_assert_eq(fm_key_load(got, s, any ? 0 : FM_KEY_SECRET, &err), 0, "%s", err.msg);
        cr_assert_eq(got->kind, FM_KEY_SECRET);
        cr_assert_arr_eq(got->sign_sk, sk->sign_sk, 64);
        cr_assert_arr_eq(got->sign_pk, sk->sign_pk, 32);
        cr_assert_arr_eq(got->wm_key, sk->wm_key, 32);

        cr_assert_eq(fm_key_load(got, d, any ? 0 : FM_KEY_DETECT, &err), 0, "%s", err.msg);
        cr_assert_eq(got->kind, FM_KEY_DETECT);
        cr_assert_arr_eq(got->sign_sk, zeros, 64);
        cr_assert_arr_eq(got->sign_pk, sk->sign_pk, 32);
        cr_assert_arr_eq(got->wm_key, sk->wm_key, 32);

        cr_assert_eq(fm_key_load(got, p, any ? 0 : FM_KEY_PUBLIC, &err), 0, "%s", err.msg);
        cr_assert_eq(got->kind, FM_KEY_PUBLIC);
        cr_assert_arr_eq(got->sign_sk, zeros, 64);
        cr_assert_arr_eq(got->sign_pk, sk->sign_pk, 32);
        cr_assert_arr_eq(got->wm_key, zeros, 32);
    }
    free(s);
    free(d);
    free(p);
}

Test(keys, secret_key_accepted_as_detection_key)
{
    static const uint8_t zeros[64];
    FmError err = {{0}};
    char *s = save(sk, "k.key");
    cr_assert_eq(fm_key_load(got, s, FM_KEY_DETECT, &err), 0, "%s", err.msg);
    cr_assert_eq(got->kind, FM_KEY_DETECT);
    cr_assert_arr_eq(got->sign_sk, zeros, 64, "signing key not wiped");
    cr_assert_arr_eq(got->wm_key, sk->wm_key, 32);
    cr_assert_arr_eq(got->sign_pk, sk->sign_pk, 32);
    free(s);
}

Test(keys, file_layout)
{
    char *s = save(sk, "k.key");
    char *text;
    size_t len;
    char fpr[FM_FINGERPRINT_CHARS + 1], want[128];
    cr_assert_eq(tu_read_file(s, &text, &len), 0);
    fm_key_fingerprint(sk, fpr);
    snprintf(want, sizeof(want), "filmmark secret key v1 (fingerprint %s)\n", fpr);
    cr_assert_eq(strncmp(text, want, strlen(want)), 0, "comment line: %s", text);

    /* Second line: base64 of FMK1 'S' 0 0 0 | sk | wm | BLAKE2b-128 of all that. */
    uint8_t raw[120];
    size_t raw_len;
    const char *b64 = text + strlen(want);
    cr_assert_eq(b64[160], '\n');
    cr_assert_eq(b64[161], '\0');
    cr_assert_eq(sodium_base642bin(raw, sizeof(raw), b64, 160, NULL, &raw_len, NULL,
                                   sodium_base64_VARIANT_ORIGINAL), 0);
    cr_assert_eq(raw_len, 120);
    cr_assert_arr_eq(raw, "FMK1S\0\0\0", 8);
    cr_assert_arr_eq(raw + 8, sk->sign_sk, 64);
    cr_assert_arr_eq(raw + 72, sk->wm_key, 32);
    uint8_t sum[16];
    crypto_generichash(sum, 16, raw, 104, NULL, 0);
    cr_assert_arr_eq(raw + 104, sum, 16);
    free(text);
    free(s);
}

Test(keys, hand_made_files_load)
{
    FmError err = {{0}};
    uint8_t body[96];
    secret_body(body);
    char *s = write_raw("h.key", "FMK1", 'S', zero3, body, 96, 0600);
    memcpy(body, sk->wm_key, 32);
    memcpy(body + 32, sk->sign_pk, 32);
    char *d = write_raw("h.dkey", "FMK1", 'D', zero3, body, 64, 0600);
    char *p = write_raw("h.pub", "FMK1", 'P', zero3, sk->sign_pk, 32, 0644);
    cr_assert_eq(fm_key_load(got, s, FM_KEY_SECRET, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(got->sign_sk, sk->sign_sk, 64);
    cr_assert_eq(fm_key_load(got, d, FM_KEY_DETECT, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(got->wm_key, sk->wm_key, 32);
    cr_assert_eq(fm_key_load(got, p, FM_KEY_PUBLIC, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(got->sign_pk, sk->sign_pk, 32);
    sodium_memzero(body, sizeof(body));
    free(s);
    free(d);
    free(p);
}

Test(keys, tolerates_missing_final_newline_and_crlf)
{
    FmError err = {{0}};
    char *p = save_derived(FM_KEY_PUBLIC, "k.pub");
    char *text, *q = tu_path(dir, "q.pub");
    size_t len;
    cr_assert_eq(tu_read_file(p, &text, &len), 0);
    cr_assert_eq(tu_write_file(q, text, len - 1, 0644), 0);
    cr_assert_eq(fm_key_load(got, q, FM_KEY_PUBLIC, &err), 0, "%s", err.msg);
    char *crlf = malloc(len + 1);
    memcpy(crlf, text, len - 1);
    memcpy(crlf + len - 1, "\r\n", 2);
    cr_assert_eq(tu_write_file(q, crlf, len + 1, 0644), 0);
    cr_assert_eq(fm_key_load(got, q, FM_KEY_PUBLIC, &err), 0, "%s", err.msg);
    free(crlf);
    free(text);
    free(p);
    free(q);
}

Test(keys, public_key_mode_ignores_umask)
{
    mode_t old = umask(077);
    char *p = save_derived(FM_KEY_PUBLIC, "k.pub");
    char *s = save(sk, "k.key");
    umask(old);
    cr_assert_eq(file_mode(p), 0644);
    cr_assert_eq(file_mode(s), 0600);
    free(p);
    free(s);
}

Test(keys, save_leaves_no_temp_files)
{
    char *s = save(sk, "k.key");
    FmError err = {{0}};
    cr_assert_eq(fm_key_save(sk, s, 0, &err), FM_EPERM);
    cr_assert_eq(fm_key_save(sk, s, 1, &err), 0, "%s", err.msg);
    DIR *dp = opendir(dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        cr_assert_str_eq(e->d_name, "k.key");
        files++;
    }
    closedir(dp);
    cr_assert_eq(files, 1);
    free(s);
}

/* ---- refusals ---- */

Test(keys, refuses_missing_file)
{
    char *path = tu_path(dir, "nope.key");
    expect_refusal(path, FM_KEY_SECRET, FM_ENOTFOUND, "does not exist");
    free(path);
}

Test(keys, refuses_unreadable_file)
{
    if (geteuid() == 0) {
        teardown();   /* .fini does not run for a skipped test */
        cr_skip_test("root can read mode 000 files");
    }
    char *s = save(sk, "k.key");
    cr_assert_eq(chmod(s, 0), 0);
    expect_refusal(s, FM_KEY_SECRET, FM_EIO, "cannot open");
    free(s);
}

Test(keys, refuses_directory_empty_and_junk)
{
    expect_refusal(dir, 0, FM_EFORMAT, "not a regular file");
    char *fifo = tu_path(dir, "fifo.key");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    expect_refusal(fifo, 0, FM_EFORMAT, "not a regular file");   /* without hanging */
    free(fifo);
    char *path = tu_path(dir, "x.pub");
    cr_assert_eq(tu_write_file(path, "", 0, 0644), 0);
    expect_refusal(path, 0, FM_EFORMAT, "empty");
    cr_assert_eq(tu_write_file(path, "hello\n", 6, 0644), 0);
    expect_refusal(path, 0, FM_EFORMAT, "truncated");
    cr_assert_eq(tu_write_file(path, "hello\nworld!\n", 13, 0644), 0);
    expect_refusal(path, 0, FM_EFORMAT, "bad base64");
    cr_assert_eq(tu_write_file(path, "hello\naGVsbG8gd29ybGQh\n", 23, 0644), 0);
    expect_refusal(path, 0, FM_EFORMAT, "bad magic");
    static char big[10000];
    memset(big, 'A', sizeof(big));
    big[5] = '\n';
    cr_assert_eq(tu_write_file(path, big, sizeof(big), 0644), 0);
    expect_refusal(path, 0, FM_EFORMAT, "too large");
    /* longer than the longest record (a sealed key with a 255-byte label) */
    cr_assert_eq(tu_write_file(path, big, 1000, 0644), 0);
    expect_refusal(path, 0, FM_EFORMAT, "too long");
    free(path);
}

Test(keys, refuses_truncated_file)
{
    char *p = save_derived(FM_KEY_PUBLIC, "k.pub");
    char *s = save(sk, "k.key");
    char *text;
    size_t len;
    cr_assert_eq(tu_read_file(s, &text, &len), 0);
    size_t line2 = (size_t)(strchr(text, '\n') + 1 - text);

    /* Cut in the middle of the key line, at and off a base64 block boundary. */
    const size_t cuts[] = {line2 + 80, line2 + 81, line2 + 159, line2 + 2, line2};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        cr_assert_eq(tu_write_file(s, text, cuts[i], 0600), 0);
        expect_refusal(s, FM_KEY_SECRET, FM_EFORMAT, "truncated");
    }
    /* Only the comment line, without its newline. */
    cr_assert_eq(tu_write_file(s, text, line2 - 1, 0600), 0);
    expect_refusal(s, FM_KEY_SECRET, FM_EFORMAT, "truncated");
    free(text);

    /* A public key with its padding cut off. */
    cr_assert_eq(tu_read_file(p, &text, &len), 0);
    cr_assert_eq(text[len - 2], '=');
    cr_assert_eq(tu_write_file(p, text, len - 2, 0644), 0);
    expect_refusal(p, FM_KEY_PUBLIC, FM_EFORMAT, "truncated");
    free(text);
    free(s);
    free(p);
}

Test(keys, refuses_trailing_garbage)
{
    char *p = save_derived(FM_KEY_PUBLIC, "k.pub");
    char *text;
    size_t len;
    cr_assert_eq(tu_read_file(p, &text, &len), 0);
    char *more = malloc(len + 8);
    memcpy(more, text, len);
    memcpy(more + len, "extra\n", 6);
    cr_assert_eq(tu_write_file(p, more, len + 6, 0644), 0);
    expect_refusal(p, FM_KEY_PUBLIC, FM_EFORMAT, "damaged");
    free(more);
    free(text);
    free(p);
}

Test(keys, refuses_flipped_base64_char)
{
    char *s = save(sk, "k.key");
    char *text;
    size_t len;
    cr_assert_eq(tu_read_file(s, &text, &len), 0);
    char *b64 = strchr(text, '\n') + 1;
    /* Every position past the 8-byte header (11 chars), in the body and checksum. */
    for (size_t i = 12; i < 160; i++) {
        char orig = b64[i];
        b64[i] = orig == 'A' ? 'B' : 'A';
        cr_assert_eq(tu_write_file(s, text, len, 0600), 0);
        expect_refusal(s, FM_KEY_SECRET, FM_ECRYPTO, "damaged key file (checksum mismatch)");
        b64[i] = orig;
    }
    /* A character outside the alphabet. */
    b64[50] = '*';
    cr_assert_eq(tu_write_file(s, text, len, 0600), 0);
    expect_refusal(s, FM_KEY_SECRET, FM_EFORMAT, "bad base64");
    free(text);
    free(s);
}

Test(keys, refuses_wrong_magic_version_and_reserved)
{
    uint8_t body[96];
    secret_body(body);
    char *a = write_raw("a.key", "XYZ1", 'S', zero3, body, 96, 0600);
    expect_refusal(a, FM_KEY_SECRET, FM_EFORMAT, "not a filmmark key file");
    char *b = write_raw("b.key", "FMK3", 'S', zero3, body, 96, 0600);
    expect_refusal(b, FM_KEY_SECRET, FM_EFORMAT, "unsupported key file version '3'");
    const uint8_t res[3] = {0, 1, 0};
    char *c = write_raw("c.key", "FMK1", 'S', res, body, 96, 0600);
    expect_refusal(c, FM_KEY_SECRET, FM_EFORMAT, "reserved");
    char *d = write_raw("d.key", "FMK1", 'Q', zero3, body, 96, 0600);
    expect_refusal(d, 0, FM_EFORMAT, "unknown kind of key");
    /* Right checksum, wrong length for the kind. */
    char *e = write_raw("e.key", "FMK1", 'S', zero3, body, 64, 0600);
    expect_refusal(e, FM_KEY_SECRET, FM_EFORMAT, "truncated");
    char *f = write_raw("f.pub", "FMK1", 'P', zero3, body, 40, 0644);
    expect_refusal(f, FM_KEY_PUBLIC, FM_EFORMAT, "damaged");
    sodium_memzero(body, sizeof(body));
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
    free(f);
}

Test(keys, refuses_secret_key_with_wrong_public_half)
{
    uint8_t body[96];
    FmKey *other = fm_key_new();
    cr_assert_eq(fm_key_generate(other, NULL), 0);
    secret_body(body);
    memcpy(body + 32, other->sign_pk, 32);   /* seed of sk, public key of other */
    char *s = write_raw("k.key", "FMK1", 'S', zero3, body, 96, 0600);
    expect_refusal(s, FM_KEY_SECRET, FM_ECRYPTO, "public half does not match");
    sodium_memzero(body, sizeof(body));
    fm_key_free(&other);
    free(s);
}

Test(keys, refuses_wrong_kind)
{
    char *s = save(sk, "k.key");
    char *d = save_derived(FM_KEY_DETECT, "k.dkey");
    char *p = save_derived(FM_KEY_PUBLIC, "k.pub");
    char want[512];

    snprintf(want, sizeof(want), "'%s' is a public key, a detection key is needed", p);
    expect_refusal(p, FM_KEY_DETECT, FM_EINVAL, want);
    snprintf(want, sizeof(want), "'%s' is a public key, a secret key is needed", p);
    expect_refusal(p, FM_KEY_SECRET, FM_EINVAL, want);
    snprintf(want, sizeof(want), "'%s' is a detection key, a secret key is needed", d);
    expect_refusal(d, FM_KEY_SECRET, FM_EINVAL, want);
    snprintf(want, sizeof(want), "'%s' is a detection key, a public key is needed", d);
    expect_refusal(d, FM_KEY_PUBLIC, FM_EINVAL, want);
    snprintf(want, sizeof(want), "'%s' is a secret key, a public key is needed", s);
    expect_refusal(s, FM_KEY_PUBLIC, FM_EINVAL, want);
    free(s);
    free(d);
    free(p);
}

Test(keys, refuses_secret_and_detect_keys_readable_by_others)
{
    FmError err = {{0}};
    char *s = save(sk, "k.key");
    char *d = save_derived(FM_KEY_DETECT, "k.dkey");
    char want[512];

    cr_assert_eq(chmod(s, 0644), 0);
    snprintf(want, sizeof(want), "'%s' is readable by others (mode 0644); run chmod 600", s);
    expect_refusal(s, FM_KEY_SECRET, FM_EPERM, want);
    expect_refusal(s, FM_KEY_DETECT, FM_EPERM, "mode 0644");
    cr_assert_eq(chmod(s, 0640), 0);
    expect_refusal(s, FM_KEY_SECRET, FM_EPERM, "(mode 0640); run chmod 600");
    cr_assert_eq(chmod(s, 0602), 0);
    expect_refusal(s, FM_KEY_SECRET, FM_EPERM, "(mode 0602); run chmod 600");
    cr_assert_eq(chmod(d, 0604), 0);
    expect_refusal(d, FM_KEY_DETECT, FM_EPERM, "readable by others (mode 0604)");

    /* 0400 is fine; a public key may be world-readable. */
    cr_assert_eq(chmod(s, 0400), 0);
    cr_assert_eq(fm_key_load(got, s, FM_KEY_SECRET, &err), 0, "%s", err.msg);
    char *p = save_derived(FM_KEY_PUBLIC, "k.pub");
    cr_assert_eq(chmod(p, 0664), 0);
    cr_assert_eq(fm_key_load(got, p, FM_KEY_PUBLIC, &err), 0, "%s", err.msg);
    free(s);
    free(d);
    free(p);
}

Test(keys, refuses_to_overwrite_without_force)
{
    FmError err = {{0}};
    char *path = tu_path(dir, "k.key");
    cr_assert_eq(tu_write_file(path, "precious\n", 9, 0600), 0);
    cr_assert_eq(fm_key_save(sk, path, 0, &err), FM_EPERM);
    char want[512];
    snprintf(want, sizeof(want), "'%s' exists; use --force to overwrite", path);
    cr_assert_str_eq(err.msg, want);
    char *text;
    cr_assert_eq(tu_read_file(path, &text, NULL), 0);
    cr_assert_str_eq(text, "precious\n", "existing file was changed");
    free(text);

    /* A dangling symlink counts as existing too. */
    char *link_path = tu_path(dir, "l.key");
    cr_assert_eq(symlink("nowhere", link_path), 0);
    cr_assert_eq(fm_key_save(sk, link_path, 0, &err), FM_EPERM);

    /* With force it is replaced, with the right mode. */
    cr_assert_eq(chmod(path, 0644), 0);
    cr_assert_eq(fm_key_save(sk, path, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(file_mode(path), 0600);
    cr_assert_eq(fm_key_load(got, path, FM_KEY_SECRET, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(got->sign_sk, sk->sign_sk, 64);
    free(path);
    free(link_path);
}

Test(keys, save_into_missing_directory_fails)
{
    FmError err = {{0}};
    char *path = tu_path(dir, "no/such/dir/k.key");
    int ret = fm_key_save(sk, path, 0, &err);
    cr_assert_eq(ret, FM_EIO, "%d %s", ret, err.msg);
    cr_assert_null(strchr(err.msg, '\n'));
    free(path);
}

/* ---- fingerprints ---- */

static int is_lower_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

Test(keys, fingerprint_same_within_pair_and_differs_between_pairs)
{
    FmError err = {{0}};
    char fs[17], fd[17], fp[17], fo[17];
    char *s = save(sk, "k.key");
    char *d = save_derived(FM_KEY_DETECT, "k.dkey");
    char *p = save_derived(FM_KEY_PUBLIC, "k.pub");

    cr_assert_eq(fm_key_load(got, s, 0, &err), 0, "%s", err.msg);
    fm_key_fingerprint(got, fs);
    cr_assert_eq(fm_key_load(got, d, 0, &err), 0, "%s", err.msg);
    fm_key_fingerprint(got, fd);
    cr_assert_eq(fm_key_load(got, p, 0, &err), 0, "%s", err.msg);
    fm_key_fingerprint(got, fp);
    cr_assert_eq(strlen(fs), FM_FINGERPRINT_CHARS);
    cr_assert(is_lower_hex(fs), "%s", fs);
    cr_assert_str_eq(fs, fd);
    cr_assert_str_eq(fs, fp);

    /* Defined as BLAKE2b-256("filmmark fingerprint v1" || pk)[0..8]. */
    uint8_t in[23 + 32], h[32];
    char hex[65];
    memcpy(in, "filmmark fingerprint v1", 23);
    memcpy(in + 23, sk->sign_pk, 32);
    crypto_generichash(h, 32, in, sizeof(in), NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), h, 8);
    cr_assert_str_eq(fs, hex);

    /* Each file's comment names it. */
    const char *paths[] = {s, d, p};
    for (int i = 0; i < 3; i++) {
        char *text;
        cr_assert_eq(tu_read_file(paths[i], &text, NULL), 0);
        char *nl = strchr(text, '\n');
        *nl = '\0';
        cr_assert_not_null(strstr(text, fs), "comment \"%s\"", text);
        free(text);
    }

    FmKey *other = fm_key_new();
    cr_assert_eq(fm_key_generate(other, NULL), 0);
    fm_key_fingerprint(other, fo);
    cr_assert_str_neq(fs, fo);
    fm_key_free(&other);
    free(s);
    free(d);
    free(p);
}

/* ---- labels (format version 2) ---- */

/* The version digit of a key file's record ("FMK1" or "FMK2"). */
static int record_version(const char *text)
{
    const char *line = strchr(text, '\n') + 1;
    uint8_t raw[600];
    size_t n;
    cr_assert_eq(sodium_base642bin(raw, sizeof(raw), line, strcspn(line, "\n"), NULL, &n, NULL,
                                   sodium_base64_VARIANT_ORIGINAL), 0);
    cr_assert_arr_eq(raw, "FMK", 3);
    return raw[3];
}

Test(keys, label_round_trip_all_kinds_and_unlabelled_keys_stay_version_1)
{
    FmError err = {{0}};
    /* 255 bytes of UTF-8, multi-byte characters included */
    char label[FM_LABEL_MAX + 1];
    memset(label, 'x', sizeof(label));
    memcpy(label, "Studio \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac ", 21);
    label[FM_LABEL_MAX] = '\0';
    cr_assert_eq(fm_key_set_label(sk, label, &err), 0, "%s", err.msg);
    char *s = save(sk, "l.key");
    char *d = save_derived(FM_KEY_DETECT, "l.dkey");
    char *p = save_derived(FM_KEY_PUBLIC, "l.pub");
    const char *paths[3] = {s, d, p};
    const FmKeyKind kinds[3] = {FM_KEY_SECRET, FM_KEY_DETECT, FM_KEY_PUBLIC};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fm_key_load(got, paths[i], kinds[i], &err), 0, "%s", err.msg);
        cr_assert_str_eq(got->label, label, "%s", paths[i]);
        cr_assert_arr_eq(got->sign_pk, sk->sign_pk, 32);
        char *text;
        cr_assert_eq(tu_read_file(paths[i], &text, NULL), 0);
        /* the comment names the label; the record is version 2: "FMK2" = Rk1LMl.. */
        cr_assert_not_null(strstr(text, label), "comment of %s: %.80s", paths[i], text);
        cr_assert_not_null(strstr(text, " v2 "), "%.80s", text);
        cr_assert_eq(record_version(text), '2');
        free(text);
    }
    cr_assert_arr_eq(got->sign_pk, sk->sign_pk, 32);

    /* a label-less key is written as version 1, readable by older programs */
    cr_assert_eq(fm_key_set_label(sk, NULL, &err), 0);
    char *u = save(sk, "u.key"), *text;
    cr_assert_eq(tu_read_file(u, &text, NULL), 0);
    cr_assert_eq(record_version(text), '1', "%s", text);
    cr_assert_eq(fm_key_load(got, u, FM_KEY_SECRET, &err), 0, "%s", err.msg);
    cr_assert_str_eq(got->label, "");
    free(text);
    free(u);
    free(s);
    free(d);
    free(p);
}

Test(keys, set_label_refuses_long_control_and_invalid_utf8)
{
    FmError err = {{0}};
    char long_label[FM_LABEL_MAX + 2];
    memset(long_label, 'a', sizeof(long_label) - 1);
    long_label[FM_LABEL_MAX + 1] = '\0';
    static const char *const bad[] = {
        "tab\there", "new\nline", "del\x7f", "c1 \xc2\x85", "overlong \xc0\xaf",
        "surrogate \xed\xa0\x80", "cut \xe2\x82", "too big \xf4\x90\x80\x80", "lone \x80",
    };
    cr_assert_eq(fm_key_set_label(sk, "kept", &err), 0);
    cr_assert_eq(fm_key_set_label(sk, long_label, &err), FM_EINVAL);
    cr_assert_not_null(strstr(err.msg, "at most 255"), "%s", err.msg);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(fm_key_set_label(sk, bad[i], &err), FM_EINVAL, "accepted label %zu", i);
        cr_assert_not_null(strstr(err.msg, "UTF-8"), "%s", err.msg);
    }
    cr_assert_str_eq(sk->label, "kept", "a refused label changed the key");
}

/* A version 2 record by hand (docs/KEYS.md): FMK2 kind flags L 0 label body sum. */
static char *write_raw_v2(const char *name, int kind, int flags, int byte7, const char *label,
                          const uint8_t *body, size_t body_len, mode_t mode)
{
    uint8_t raw[600];
    size_t n = 0, l = strlen(label);
    memcpy(raw, "FMK2", 4);
    n = 4;
    raw[n++] = (uint8_t)kind;
    raw[n++] = (uint8_t)flags;
    raw[n++] = (uint8_t)l;
    raw[n++] = (uint8_t)byte7;
    memcpy(raw + n, label, l);
    n += l;
    memcpy(raw + n, body, body_len);
    n += body_len;
    return write_record(name, "hand-made v2\n", raw, n, sizeof(raw), mode);
}

Test(keys, hand_made_version_2_files_load_and_bad_ones_are_refused)
{
    FmError err = {{0}};
    uint8_t body[96];
    memcpy(body, sk->wm_key, 32);
    memcpy(body + 32, sk->sign_pk, 32);
    char *d = write_raw_v2("h.dkey", 'D', 0, 0, "Festival", body, 64, 0600);
    cr_assert_eq(fm_key_load(got, d, FM_KEY_DETECT, &err), 0, "%s", err.msg);
    cr_assert_str_eq(got->label, "Festival");
    cr_assert_arr_eq(got->wm_key, sk->wm_key, 32);
    FmKeyInfo info;
    cr_assert_eq(fm_key_inspect(d, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.version, 2);
    cr_assert_eq(info.sealed, 0);
    cr_assert_str_eq(info.label, "Festival");

    char *e = write_raw_v2("e.dkey", 'D', 0x02, 0, "x", body, 64, 0600);
    expect_refusal(e, FM_KEY_DETECT, FM_EFORMAT, "reserved");
    char *f = write_raw_v2("f.dkey", 'D', 0, 1, "x", body, 64, 0600);
    expect_refusal(f, FM_KEY_DETECT, FM_EFORMAT, "reserved");
    char *g = write_raw_v2("g.dkey", 'D', 0, 0, "bad \xc0\xaf", body, 64, 0600);
    expect_refusal(g, FM_KEY_DETECT, FM_EFORMAT, "label");
    /* the sealed flag on a detection key */
    char *h = write_raw_v2("h2.dkey", 'D', 1, 0, "", body, 64, 0600);
    expect_refusal(h, FM_KEY_DETECT, FM_EFORMAT, "");
    sodium_memzero(body, sizeof(body));
    free(d);
    free(e);
    free(f);
    free(g);
    free(h);
}

/* ---- passphrase-sealed secret keys ---- */

typedef struct PassCtx {
    const char *pass;
    int calls;
    FmKeyInfo seen;
} PassCtx;

static int give_pass(void *ctx, const char *path, const FmKeyInfo *info, char *buf, size_t size,
                     FmError *err)
{
    PassCtx *c = ctx;
    c->calls++;
    c->seen = *info;
    size_t n = strlen(c->pass);
    cr_assert_lt(n, size);
    memcpy(buf, c->pass, n);
    return (int)n;
}

/* Saves sk sealed with pass, at libsodium's minimum Argon2id limits (fast). */
static char *save_sealed(const char *name, const char *pass)
{
    FmError err = {{0}};
    FmKeySetWriter *w = NULL;
    FmKeySeal seal = {pass, strlen(pass), crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    char *path = tu_path(dir, name);
    cr_assert_eq(fm_keyset_begin(&w, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_keyset_add(w, sk, path, &seal, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_keyset_commit(w, &err), 0, "%s", err.msg);
    fm_keyset_free(&w);
    return path;
}

static int contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return 1;
    return 0;
}

Test(keys, sealed_secret_key_round_trip)
{
    FmError err = {{0}};
    cr_assert_eq(fm_key_set_label(sk, "Sealed one", &err), 0);
    char *s = save_sealed("s.key", "correct horse battery staple");
    cr_assert_eq(file_mode(s), 0600);

    /* the file holds neither the seed nor the watermark key in clear */
    char *text;
    cr_assert_eq(tu_read_file(s, &text, NULL), 0);
    cr_assert_not_null(strstr(text, "passphrase-protected"), "%s", text);
    uint8_t raw[600];
    size_t raw_len;
    char *line = strchr(text, '\n') + 1;
    *strchr(line, '\n') = '\0';
    cr_assert_eq(sodium_base642bin(raw, sizeof(raw), line, strlen(line), NULL, &raw_len, NULL,
                                   sodium_base64_VARIANT_ORIGINAL), 0);
    cr_assert_arr_eq(raw, "FMK2S\x01", 6);
    cr_assert_eq(raw_len, 8 + strlen("Sealed one") + 201 + 16);
    cr_assert(!contains(raw, raw_len, sk->sign_sk, 32), "the seed is in clear");
    cr_assert(!contains(raw, raw_len, sk->wm_key, 32), "the watermark key is in clear");
    cr_assert(contains(raw, raw_len, sk->sign_pk, 32), "the public key is not in clear");
    free(text);

    /* without a passphrase source: refused, and says why */
    expect_refusal(s, FM_KEY_SECRET, FM_EPERM, "protected by a passphrase");
    /* what it tells without the passphrase */
    FmKeyInfo info;
    cr_assert_eq(fm_key_inspect(s, &info, &err), 0, "%s", err.msg);
    char fpr[FM_FINGERPRINT_CHARS + 1];
    fm_key_fingerprint(sk, fpr);
    cr_assert_eq(info.sealed, 1);
    cr_assert_eq(info.kind, FM_KEY_SECRET);
    cr_assert_str_eq(info.fingerprint, fpr);
    cr_assert_str_eq(info.label, "Sealed one");

    /* the right passphrase opens it; the callback learns which key it is */
    PassCtx c = {"correct horse battery staple", 0, {0}};
    cr_assert_eq(fm_key_load_with(got, s, FM_KEY_SECRET, give_pass, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.calls, 1);
    cr_assert_str_eq(c.seen.fingerprint, fpr);
    cr_assert_str_eq(c.seen.label, "Sealed one");
    cr_assert_arr_eq(got->sign_sk, sk->sign_sk, 64);
    cr_assert_arr_eq(got->wm_key, sk->wm_key, 32);
    cr_assert_arr_eq(got->sign_pk, sk->sign_pk, 32);
    cr_assert_str_eq(got->label, "Sealed one");
    /* and reduces to a detection key */
    cr_assert_eq(fm_key_load_with(got, s, FM_KEY_DETECT, give_pass, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(got->kind, FM_KEY_DETECT);
    cr_assert_arr_eq(got->wm_key, sk->wm_key, 32);
    uint8_t zero[64] = {0};
    cr_assert_arr_eq(got->sign_sk, zero, 64);

    /* a wrong passphrase */
    PassCtx w = {"correct horse battery stapler", 0, {0}};
    int ret = fm_key_load_with(got, s, FM_KEY_SECRET, give_pass, &w, &err);
    cr_assert_eq(ret, FM_ECRYPTO, "%d %s", ret, err.msg);
    cr_assert_not_null(strstr(err.msg, "wrong passphrase"), "%s", err.msg);

    /* not asked for what does not need it: a public key wanted, an unsealed file */
    PassCtx n = {"x", 0, {0}};
    cr_assert_eq(fm_key_load_with(got, s, FM_KEY_PUBLIC, give_pass, &n, &err), FM_EINVAL);
    char *u = save(sk, "u.key");
    cr_assert_eq(fm_key_load_with(got, u, FM_KEY_SECRET, give_pass, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n.calls, 0, "asked for a passphrase it did not need");

    /* the mode rule holds for sealed keys too, checked before asking */
    cr_assert_eq(chmod(s, 0640), 0);
    ret = fm_key_load_with(got, s, FM_KEY_SECRET, give_pass, &n, &err);
    cr_assert_eq(ret, FM_EPERM, "%s", err.msg);
    cr_assert_eq(n.calls, 0);
    free(u);
    free(s);
}

Test(keys, sealing_is_randomised)
{
    char *a = save_sealed("a.key", "same"), *b = save_sealed("b.key", "same");
    char *ta, *tb;
    cr_assert_eq(tu_read_file(a, &ta, NULL), 0);
    cr_assert_eq(tu_read_file(b, &tb, NULL), 0);
    cr_assert_str_neq(ta, tb, "two sealings with one passphrase are identical (salt/nonce)");
    free(ta);
    free(tb);
    free(a);
    free(b);
}

/* Rewrites a sealed file's record with raw[off] ^= x and a recomputed checksum. */
static void tamper_sealed(const char *path, size_t off, uint8_t x, const uint8_t *set8)
{
    char *text;
    cr_assert_eq(tu_read_file(path, &text, NULL), 0);
    char *line = strchr(text, '\n') + 1;
    *strchr(line, '\n') = '\0';
    uint8_t raw[600];
    size_t n;
    cr_assert_eq(sodium_base642bin(raw, sizeof(raw), line, strlen(line), NULL, &n, NULL,
                                   sodium_base64_VARIANT_ORIGINAL), 0);
    if (set8)
        memcpy(raw + off, set8, 8);
    else
        raw[off] ^= x;
    crypto_generichash(raw + n - 16, 16, raw, n - 16, NULL, 0);
    char out[1024];
    int len = snprintf(out, sizeof(out), "tampered\n");
    sodium_bin2base64(out + len, sizeof(out) - (size_t)len, raw, n,
                      sodium_base64_VARIANT_ORIGINAL);
    strcat(out, "\n");
    cr_assert_eq(tu_write_file(path, out, strlen(out), 0600), 0);
    free(text);
}

Test(keys, sealed_key_tampering_is_detected)
{
    FmError err = {{0}};
    cr_assert_eq(fm_key_set_label(sk, "abc", &err), 0);
    PassCtx c = {"pw", 0, {0}};
    /* layout: 8 header, 3 label, 32 public key, 1 KDF id, 8 ops, 8 mem, 16 salt, 24 nonce, ct */
    const size_t label = 8, pk = 11, kdf = 43, ops = 44, mem = 52, ct = 100;
    const size_t offs[] = {label, pk, ops, ct};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        char *s = save_sealed("t.key", "pw");
        /* ops 1 -> 1 ^ 2 = 3: still allowed, but not what sealed it */
        tamper_sealed(s, offs[i], 0x02, NULL);
        int ret = fm_key_load_with(got, s, FM_KEY_SECRET, give_pass, &c, &err);
        cr_assert_eq(ret, FM_ECRYPTO, "byte %zu changed: %d %s", offs[i], ret, err.msg);
        cr_assert_eq(unlink(s), 0);
        free(s);
    }
    /* an unknown KDF, and limits a hostile file could use to stall us */
    char *s = save_sealed("t.key", "pw");
    tamper_sealed(s, kdf, 0x03, NULL);
    expect_refusal(s, FM_KEY_SECRET, FM_EFORMAT, "unknown method");
    cr_assert_eq(unlink(s), 0);
    free(s);
    s = save_sealed("t.key", "pw");
    const uint8_t huge[8] = {0, 0, 0, 0, 1, 0, 0, 0};   /* 2^32 bytes */
    tamper_sealed(s, mem, 0, huge);
    int before = c.calls;
    int ret = fm_key_load_with(got, s, FM_KEY_SECRET, give_pass, &c, &err);
    cr_assert_eq(ret, FM_EFORMAT, "%d %s", ret, err.msg);
    cr_assert_not_null(strstr(err.msg, "Argon2id limits"), "%s", err.msg);
    cr_assert_eq(c.calls, before, "asked for a passphrase before refusing the limits");
    free(s);
}

/* ---- writing a set all or nothing ---- */

/* The names in dir, sorted, joined by spaces. */
static void dir_listing(char *out, size_t size)
{
    char **names = NULL;
    size_t n = 0, used = 0;
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            names = realloc(names, (n + 1) * sizeof(*names));
            names[n++] = strdup(e->d_name);
        }
    closedir(d);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? " " : "", names[i]);
        free(names[i]);
    }
    free(names);
}

/* Writes "old" contents to dir/stem.{pub,dkey,key} by hand; returns the paths. */
static void old_set(const char *stem, char *paths[3])
{
    static const char *const ext[3] = {".pub", ".dkey", ".key"};
    for (int i = 0; i < 3; i++) {
        char name[NAME_MAX + 1];
        snprintf(name, sizeof(name), "%s%s", stem, ext[i]);
        paths[i] = tu_path(dir, name);
        cr_assert_eq(tu_write_file(paths[i], ext[i], strlen(ext[i]), 0600), 0, "%s", name);
    }
}

static void expect_old_set(char *paths[3])
{
    static const char *const ext[3] = {".pub", ".dkey", ".key"};
    for (int i = 0; i < 3; i++) {
        char *text;
        cr_assert_eq(tu_read_file(paths[i], &text, NULL), 0, "%s is gone", paths[i]);
        cr_assert_str_eq(text, ext[i], "%s was changed", paths[i]);
        free(text);
    }
}

/* Adds pub, dkey and key of sk to a forced set writer; returns the first failure. */
static int write_set_forced(char *paths[3], FmError *err)
{
    FmKeySetWriter *w = NULL;
    FmKey *k = fm_key_new();
    static const FmKeyKind kinds[3] = {FM_KEY_PUBLIC, FM_KEY_DETECT, FM_KEY_SECRET};
    int ret = fm_keyset_begin(&w, 1, err);
    for (int i = 0; i < 3 && ret == 0; i++) {
        cr_assert_eq(fm_key_derive(sk, kinds[i], k, NULL), 0);
        ret = fm_keyset_add(w, k, paths[i], NULL, err);
    }
    if (ret == 0)
        ret = fm_keyset_commit(w, err);
    fm_keyset_free(&w);
    fm_key_free(&k);
    return ret;
}

Test(keys, set_writer_failure_at_the_detection_key_keeps_the_old_set)
{
    /* Files limited to 150 bytes (RLIMIT_FSIZE, SIGXFSZ ignored: writes past
     * it fail with EFBIG): the public key (131 bytes) is written, the
     * detection key's temporary (178) cannot be, the secret key is never
     * reached. */
    char *paths[3];
    old_set("k", paths);
    char before[4096], after[4096];
    dir_listing(before, sizeof(before));
    struct rlimit old_limit, limit;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
    limit = old_limit;
    limit.rlim_cur = 150;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
    FmError err = {{0}};
    int ret = write_set_forced(paths, &err);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
    signal(SIGXFSZ, old_handler);
    cr_assert_eq(ret, FM_EIO, "%d %s", ret, err.msg);
    cr_assert_not_null(strstr(err.msg, ".dkey"), "failed elsewhere: %s", err.msg);
    expect_old_set(paths);
    dir_listing(after, sizeof(after));
    cr_assert_str_eq(after, before, "temporary files left behind");
    for (int i = 0; i < 3; i++)
        free(paths[i]);
}

Test(keys, set_writer_refuses_a_directory_in_place_and_keeps_the_old_set)
{
    char *paths[3];
    old_set("k", paths);
    cr_assert_eq(unlink(paths[1]), 0);
    cr_assert_eq(mkdir(paths[1], 0700), 0);
    FmError err = {{0}};
    int ret = write_set_forced(paths, &err);
    cr_assert_eq(ret, FM_EPERM, "%d %s", ret, err.msg);
    cr_assert_not_null(strstr(err.msg, "not a regular file"), "%s", err.msg);
    char *text;
    cr_assert_eq(tu_read_file(paths[0], &text, NULL), 0);
    cr_assert_str_eq(text, ".pub");
    free(text);
    cr_assert_eq(tu_read_file(paths[2], &text, NULL), 0);
    cr_assert_str_eq(text, ".key");
    free(text);
    cr_assert_eq(tu_dir_entries(dir), 3, "temporary files left behind");
    for (int i = 0; i < 3; i++)
        free(paths[i]);
}

Test(keys, set_writer_without_force_changes_nothing_if_one_name_exists)
{
    char *paths[3] = {tu_path(dir, "n.pub"), tu_path(dir, "n.dkey"), tu_path(dir, "n.key")};
    cr_assert_eq(tu_write_file(paths[2], "precious", 8, 0600), 0);
    FmError err = {{0}};
    FmKeySetWriter *w = NULL;
    FmKey *k = fm_key_new();
    cr_assert_eq(fm_keyset_begin(&w, 0, &err), 0);
    cr_assert_eq(fm_key_derive(sk, FM_KEY_PUBLIC, k, NULL), 0);
    cr_assert_eq(fm_keyset_add(w, k, paths[0], NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_derive(sk, FM_KEY_DETECT, k, NULL), 0);
    cr_assert_eq(fm_keyset_add(w, k, paths[1], NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_keyset_add(w, sk, paths[2], NULL, &err), FM_EPERM);
    cr_assert_not_null(strstr(err.msg, "exists; use --force"), "%s", err.msg);
    /* staged, not placed: the final names do not exist yet */
    struct stat st;
    cr_assert_neq(lstat(paths[0], &st), 0);
    cr_assert_eq(tu_dir_entries(dir), 3, "n.key and two temporaries");
    fm_keyset_free(&w);
    cr_assert_eq(tu_dir_entries(dir), 1, "temporaries left behind");
    char *text;
    cr_assert_eq(tu_read_file(paths[2], &text, NULL), 0);
    cr_assert_str_eq(text, "precious");
    free(text);
    fm_key_free(&k);
    for (int i = 0; i < 3; i++)
        free(paths[i]);
}

Test(keys, set_writer_replaces_a_whole_set_and_leaves_nothing_else)
{
    char *paths[3];
    old_set("r", paths);
    FmError err = {{0}};
    cr_assert_eq(write_set_forced(paths, &err), 0, "%s", err.msg);
    cr_assert_eq(tu_dir_entries(dir), 3, "backups or temporaries left behind");
    static const FmKeyKind kinds[3] = {FM_KEY_PUBLIC, FM_KEY_DETECT, FM_KEY_SECRET};
    static const mode_t modes[3] = {0644, 0600, 0600};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fm_key_load(got, paths[i], kinds[i], &err), 0, "%s", err.msg);
        cr_assert_arr_eq(got->sign_pk, sk->sign_pk, 32);
        cr_assert_eq(file_mode(paths[i]), modes[i]);
        free(paths[i]);
    }
}

/* ---- key directories ---- */

typedef struct Warnings {
    int n;
    char text[4096];
} Warnings;

static void collect(void *ctx, const char *path, const char *reason)
{
    Warnings *w = ctx;
    w->n++;
    size_t used = strlen(w->text);
    snprintf(w->text + used, sizeof(w->text) - used, "%s|%s\n", path, reason);
}

/* Saves a fresh detection key as dir/name; its fingerprint into fp. */
static void fresh_dkey(const char *name, char fp[FM_FINGERPRINT_CHARS + 1])
{
    FmKey *k = fm_key_new(), *d = fm_key_new();
    cr_assert_eq(fm_key_generate(k, NULL), 0);
    cr_assert_eq(fm_key_derive(k, FM_KEY_DETECT, d, NULL), 0);
    free(save(d, name));
    fm_key_fingerprint(d, fp);
    fm_key_free(&k);
    fm_key_free(&d);
}

Test(keys, load_dir_loads_more_than_64_keys_in_name_order)
{
    enum { N = 70 };
    char fps[N][FM_FINGERPRINT_CHARS + 1];
    /* created in reverse order, so that readdir order is unlikely to be name order */
    for (int i = N - 1; i >= 0; i--) {
        char name[32];
        snprintf(name, sizeof(name), "k%03d.dkey", i);
        fresh_dkey(name, fps[i]);
    }
    FmKeyList list = {0};
    Warnings w = {0};
    FmError err = {{0}};
    cr_assert_eq(fm_key_load_dir(dir, &list, collect, &w, &err), 0, "%s", err.msg);
    cr_assert_eq(list.n, N, "loaded %zu of %d keys", list.n, N);
    cr_assert_eq(w.n, 0, "%s", w.text);
    for (int i = 0; i < N; i++) {
        char name[32], fp[FM_FINGERPRINT_CHARS + 1];
        snprintf(name, sizeof(name), "/k%03d.dkey", i);
        cr_assert_not_null(strstr(list.paths[i], name), "key %d is %s", i, list.paths[i]);
        fm_key_fingerprint(list.keys[i], fp);
        cr_assert_str_eq(fp, fps[i]);
        cr_assert_eq(list.keys[i]->kind, FM_KEY_DETECT);
    }
    fm_key_list_free(&list);
    cr_assert_eq(list.n, 0);
    cr_assert_null(list.keys);
}

Test(keys, load_dir_skips_bad_files_with_a_warning_each)
{
    char good_fp[FM_FINGERPRINT_CHARS + 1], other_fp[FM_FINGERPRINT_CHARS + 1];
    fresh_dkey("b-good.dkey", good_fp);
    fresh_dkey("d-loose.dkey", other_fp);
    char *loose = tu_path(dir, "d-loose.dkey");
    cr_assert_eq(chmod(loose, 0644), 0);
    char *junk = tu_path(dir, "a-junk.dkey");
    cr_assert_eq(tu_write_file(junk, "not a key\n", 10, 0600), 0);
    char *sub = tu_path(dir, "c-dir.dkey");
    cr_assert_eq(mkdir(sub, 0700), 0);
    char *fifo = tu_path(dir, "e-fifo.key");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    /* a sealed secret key whose detection key is not in the directory */
    char *sealed = save_sealed("f-sealed.key", "pw");
    char *notes = tu_path(dir, "notes.txt");   /* not a key name: not looked at */
    cr_assert_eq(tu_write_file(notes, "x", 1, 0644), 0);

    FmKeyList list = {0};
    Warnings w = {0};
    FmError err = {{0}};
    cr_assert_eq(fm_key_load_dir(dir, &list, collect, &w, &err), 0, "%s", err.msg);
    cr_assert_eq(list.n, 1, "%zu keys", list.n);
    char fp[FM_FINGERPRINT_CHARS + 1];
    fm_key_fingerprint(list.keys[0], fp);
    cr_assert_str_eq(fp, good_fp);
    cr_log_info("warnings:\n%s", w.text);
    cr_assert_eq(w.n, 5, "%d warnings:\n%s", w.n, w.text);
    const char *want[5] = {"a-junk.dkey|", "c-dir.dkey|", "d-loose.dkey|", "e-fifo.key|",
                           "f-sealed.key|"};
    for (int i = 0; i < 5; i++)
        cr_assert_not_null(strstr(w.text, want[i]), "no warning for %s:\n%s", want[i], w.text);
    cr_assert_not_null(strstr(w.text, "readable by others"), "%s", w.text);
    cr_assert_not_null(strstr(w.text, "protected by a passphrase"), "%s", w.text);
    cr_assert_null(strstr(w.text, "notes.txt"));
    fm_key_list_free(&list);

    /* the same without a callback: no crash, same keys */
    cr_assert_eq(fm_key_load_dir(dir, &list, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(list.n, 1);
    fm_key_list_free(&list);

    /* only bad files: an error that says how many were skipped */
    char *good = tu_path(dir, "b-good.dkey");
    cr_assert_eq(unlink(good), 0);
    memset(&w, 0, sizeof(w));
    int ret = fm_key_load_dir(dir, &list, collect, &w, &err);
    cr_assert_eq(ret, FM_ENOTFOUND, "%d %s", ret, err.msg);
    cr_assert_not_null(strstr(err.msg, "no usable key"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "5 skipped"), "%s", err.msg);
    cr_assert_eq(list.n, 0);
    fm_key_list_free(&list);
    free(good);
    free(loose);
    free(junk);
    free(sub);
    free(fifo);
    free(sealed);
    free(notes);
}

Test(keys, load_dir_takes_a_set_once_and_a_sealed_key_beside_its_dkey_quietly)
{
    FmError err = {{0}};
    char *s = save(sk, "plain.key");
    free(save_derived(FM_KEY_DETECT, "plain.dkey"));
    FmKey *other = fm_key_new();
    cr_assert_eq(fm_key_generate(other, NULL), 0);
    FmKey *keep = sk;
    sk = other;   /* save_sealed seals sk */
    char *sealed = save_sealed("z.key", "pw");
    free(save_derived(FM_KEY_DETECT, "y.dkey"));
    sk = keep;

    FmKeyList list = {0};
    Warnings w = {0};
    cr_assert_eq(fm_key_load_dir(dir, &list, collect, &w, &err), 0, "%s", err.msg);
    cr_assert_eq(list.n, 2, "%zu keys", list.n);
    cr_assert_eq(w.n, 0, "%s", w.text);
    cr_assert_not_null(strstr(list.paths[0], "/plain.dkey"), "%s", list.paths[0]);
    cr_assert_not_null(strstr(list.paths[1], "/y.dkey"), "%s", list.paths[1]);
    cr_assert_arr_eq(list.keys[1]->wm_key, other->wm_key, 32);
    fm_key_list_free(&list);
    fm_key_free(&other);
    free(s);
    free(sealed);
}

Test(keys, load_dir_errors_name_the_directory)
{
    FmKeyList list = {0};
    FmError err = {{0}};
    cr_assert_eq(fm_key_load_dir(dir, &list, NULL, NULL, &err), FM_ENOTFOUND);
    cr_assert_not_null(strstr(err.msg, "no .dkey or .key files"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, dir), "%s", err.msg);
    char *missing = tu_path(dir, "nope");
    cr_assert_eq(fm_key_load_dir(missing, &list, NULL, NULL, &err), FM_ENOTFOUND);
    cr_assert_not_null(strstr(err.msg, "does not exist"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, missing), "%s", err.msg);
    free(missing);
}

Test(keys, default_key_directory)
{
    char buf[4096];
    FmError err = {{0}};
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    char *keys = getenv("FILMMARK_KEYS") ? strdup(getenv("FILMMARK_KEYS")) : NULL;
    setenv("FILMMARK_KEYS", "/some/keys", 1);
    cr_assert_eq(fm_key_dir_default(buf, sizeof(buf), &err), 0);
    cr_assert_str_eq(buf, "/some/keys");
    setenv("FILMMARK_KEYS", "", 1);
    setenv("HOME", "/home/editor", 1);
    cr_assert_eq(fm_key_dir_default(buf, sizeof(buf), &err), 0);
    cr_assert_str_eq(buf, "/home/editor/.config/filmmark/keys");
    unsetenv("FILMMARK_KEYS");
    unsetenv("HOME");
    cr_assert_eq(fm_key_dir_default(buf, sizeof(buf), &err), FM_ENOTFOUND);
    cr_assert_not_null(strstr(err.msg, "FILMMARK_KEYS"), "%s", err.msg);
    if (home)
        setenv("HOME", home, 1);
    if (keys)
        setenv("FILMMARK_KEYS", keys, 1);
    free(home);
    free(keys);
}
