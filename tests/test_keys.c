/*
 * test_keys.c - key generation, key files and fingerprints.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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
    crypto_generichash(raw + n, 16, raw, n, NULL, 0);
    n += 16;
    char text[512];
    int len = snprintf(text, sizeof(text), "filmmark hand-made key\n");
    sodium_bin2base64(text + len, sizeof(text) - (size_t)len, raw, n,
                      sodium_base64_VARIANT_ORIGINAL);
    strcat(text, "\n");
    char *path = tu_path(dir, name);
    cr_assert_eq(tu_write_file(path, text, strlen(text), mode), 0);
    return path;
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
    cr_assert_eq(tu_write_file(path, big, 400, 0644), 0);
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
    char *b = write_raw("b.key", "FMK2", 'S', zero3, body, 96, 0600);
    expect_refusal(b, FM_KEY_SECRET, FM_EFORMAT, "unsupported key file version '2'");
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
