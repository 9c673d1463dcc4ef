/*
 * wmkeygen - make, rebuild, install and list filmmark keys.
 *
 *   wmkeygen -o PREFIX           a new set: PREFIX.key (secret, sealed by a
 *                                passphrase unless --no-passphrase),
 *                                PREFIX.dkey (detection), PREFIX.pub (public)
 *   wmkeygen --from PREFIX.key   rebuild PREFIX.dkey and PREFIX.pub
 *   wmkeygen --install FILE...   put detection (and public) keys where
 *                                wmdetect looks without -k
 *   wmkeygen --list [PATH...]    fingerprints and labels of installed keys
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "keys.h"
#include "passphrase.h"
#include "tool_util.h"
#include "version.h"

#define PROG "wmkeygen"
#define EXIT_ERR 2

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " -o PREFIX [--label TEXT] [--no-passphrase | --passphrase-file FILE]\n"
            "                [--install] [--force] [--json] [-q]\n"
            "       " PROG " --from SECRET.key [-o PREFIX] [--passphrase-file FILE] [--install]\n"
            "                [--force] [--json] [-q]\n"
            "       " PROG " --install [--passphrase-file FILE] [--force] [--json] [-q] KEY...\n"
            "       " PROG " --list [--json] [FILE|DIR...]\n"
            "\n"
            "Makes a new filmmark key set:\n"
            "  PREFIX.key   secret key: issues marks (mode 0600, sealed by a passphrase)\n"
            "  PREFIX.dkey  detection key: finds and verifies marks (mode 0600)\n"
            "  PREFIX.pub   public key: verifies signatures (mode 0644)\n"
            "The passphrase comes from --passphrase-file, else $" FM_PASSPHRASE_ENV ", else\n"
            "the terminal (asked twice).\n"
            "\n"
            "options:\n"
            "  -o, --output PREFIX      where to write the files\n"
            "  -l, --label TEXT         a label stored in the three files (up to 255 bytes)\n"
            "      --no-passphrase      write the secret key unprotected (for automation)\n"
            "      --passphrase-file F  read the passphrase from the first line of F\n"
            "      --from SECRET.key    rebuild PREFIX.dkey and PREFIX.pub from a secret key\n"
            "                           (PREFIX: SECRET without .key unless -o is given)\n"
            "      --install            copy the detection and public keys of each KEY (a .dkey,\n"
            "                           a .key or a PREFIX), or of the set just made, into the\n"
            "                           key directory ($FILMMARK_KEYS, else\n"
            "                           ~/.config/filmmark/keys)\n"
            "      --list               list the keys in the key directory (or in the given\n"
            "                           files and directories)\n"
            "  -f, --force              replace existing files\n"
            "      --json               print the result as one JSON object\n"
            "  -q, --quiet              print nothing on success (unless --json)\n"
            "  -h, --help               show this help\n");
}

/* One line naming the problem; returns the exit status. */
static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see --help)\n", stderr);
    va_end(ap);
    return EXIT_ERR;
}

static int fail(const char *msg)
{
    fprintf(stderr, PROG ": %s\n", msg);
    return EXIT_ERR;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", a, b);
    return s;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

static const char *kind_word(FmKeyKind kind)
{
    return kind == FM_KEY_SECRET ? "secret" : kind == FM_KEY_DETECT ? "detection" : "public";
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/*
 * Writes the files of one set all or nothing: kinds[i] of key to paths[i]
 * (the secret key sealed by seal if not NULL). Order: the secret key last,
 * so that an interrupted commit keeps the file the others can be rebuilt
 * from.
 */
static int write_set(const FmKey *secret, const FmKeyKind *kinds, char *const *paths, int n,
                     const FmKeySeal *seal, int force, FmError *err)
{
    FmKeySetWriter *w = NULL;
    FmKey *k = fm_key_new();
    int ret = k ? fm_keyset_begin(&w, force, err)
                : fm_error_set(err, FM_ENOMEM, "out of secure memory");
    for (int i = 0; i < n && ret == 0; i++) {
        if ((ret = fm_key_derive(secret, kinds[i], k, err)) == 0)
            ret = fm_keyset_add(w, k, paths[i], kinds[i] == FM_KEY_SECRET ? seal : NULL, err);
    }
    if (ret == 0 && interrupted)
        ret = fm_error_set(err, FM_EIO, "interrupted (signal %d); no key file written",
                           (int)interrupted);
    if (ret == 0)
        ret = fm_keyset_commit(w, err);
    fm_keyset_free(&w);
    fm_key_free(&k);
    return ret;
}

/* Creates dir and its missing parents (mode 0700). */
static int make_dirs(const char *dir, FmError *err)
{
    char *p = strdup(dir);
    if (!p)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    int ret = 0;
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST) {
                ret = fm_error_set(err, FM_EIO, "cannot create the key directory '%s': %s", p,
                                   strerror(errno));
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    struct stat st;
    if (ret == 0 && (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
        ret = fm_error_set(err, FM_EIO, "'%s' is not a directory", p);
    free(p);
    return ret;
}

/* The stem a key file is installed under: its name without directory and
 * without .dkey/.key. */
static char *install_stem(const char *src)
{
    const char *base = strrchr(src, '/');
    base = base ? base + 1 : src;
    size_t n = strlen(base);
    if (has_suffix(base, ".dkey"))
        n -= 5;
    else if (has_suffix(base, ".key"))
        n -= 4;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, base, n);
        s[n] = '\0';
    }
    return s;
}

/*
 * Installs the detection and public keys of key (loaded from src) into dir
 * as STEM.dkey and STEM.pub. Adds a JSON record to arr if not NULL.
 */
static int install_key(const FmKey *key, const char *src, const char *dir, int force,
                       int quiet, json_t *arr, FmError *err)
{
    char *stem = install_stem(src);
    char *base = stem ? join(dir, "/") : NULL;
    char *prefix = base ? join(base, stem) : NULL;
    char *paths[2] = { prefix ? join(prefix, ".pub") : NULL, prefix ? join(prefix, ".dkey") : NULL };
    static const FmKeyKind kinds[2] = { FM_KEY_PUBLIC, FM_KEY_DETECT };
    FmKey *have = fm_key_new();
    char fp[FM_FINGERPRINT_CHARS + 1];
    int ret = 0, same = 0;
    fm_key_fingerprint(key, fp);

    if (!paths[0] || !paths[1] || !have) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory");
        goto out;
    }
    if (!*stem) {
        ret = fm_error_set(err, FM_EINVAL, "'%s' has no name to install it under", src);
        goto out;
    }
    /* The same key there already: nothing to do. Another key: only with --force. */
    FmError e = { { 0 } };
    if (fm_key_load(have, paths[1], FM_KEY_DETECT, &e) == 0) {
        same = sodium_memcmp(have->sign_pk, key->sign_pk, sizeof(have->sign_pk)) == 0 &&
               sodium_memcmp(have->wm_key, key->wm_key, sizeof(have->wm_key)) == 0 &&
               strcmp(have->label, key->label) == 0;
        if (!same && !force) {
            char hfp[FM_FINGERPRINT_CHARS + 1];
            fm_key_fingerprint(have, hfp);
            ret = fm_error_set(err, FM_EPERM,
                               "'%s' holds another key (%s); use --force to replace it",
                               paths[1], hfp);
            goto out;
        }
    }
    struct stat st;
    if (!same || lstat(paths[0], &st) != 0) {
        if ((ret = write_set(key, kinds, paths, 2, NULL, 1, err)) != 0)
            goto out;
    }
    if (arr) {
        json_t *o = json_object();
        if (!o || json_object_set_new(o, "fingerprint", json_string(fp)) != 0 ||
            json_object_set_new(o, "label", key->label[0] ? json_string(key->label)
                                                           : json_null()) != 0 ||
            json_object_set_new(o, "detection_key", json_string(paths[1])) != 0 ||
            json_object_set_new(o, "public_key", json_string(paths[0])) != 0 ||
            json_object_set_new(o, "already_installed", json_boolean(same)) != 0 ||
            json_array_append_new(arr, o) != 0) {
            ret = fm_error_set(err, FM_EINVAL, "cannot put the file names in JSON (not UTF-8?)");
            goto out;
        }
    } else if (!quiet) {
        printf("%s %s, %s (key %s)\n", same ? "already installed:" : "installed:    ", paths[1],
               paths[0], fp);
    }
out:
    fm_key_free(&have);
    free(stem);
    free(base);
    free(prefix);
    free(paths[0]);
    free(paths[1]);
    return ret;
}

/* ---- --list ---- */

static int list_one(const char *path, const char *shown, json_t *arr)
{
    FmKeyInfo info;
    FmError e = { { 0 } };
    int ok = fm_key_inspect(path, &info, &e) == 0;
    if (arr) {
        json_t *o = json_object();
        if (!o || json_object_set_new(o, "path", json_string(path)) != 0 ||
            json_object_set_new(o, "kind", ok ? json_string(kind_word(info.kind)) : json_null()) ||
            json_object_set_new(o, "fingerprint", ok ? json_string(info.fingerprint)
                                                     : json_null()) != 0 ||
            json_object_set_new(o, "label", ok && info.label[0] ? json_string(info.label)
                                                                : json_null()) != 0 ||
            json_object_set_new(o, "protected", json_boolean(ok && info.sealed)) != 0 ||
            json_object_set_new(o, "usable", json_boolean(ok)) != 0 ||
            json_object_set_new(o, "problem", ok ? json_null() : json_string(e.msg)) != 0 ||
            json_array_append_new(arr, o) != 0)
            return fail("cannot put the key list in JSON (a name that is not UTF-8?)");
        return 0;
    }
    if (ok)
        printf("  %s  %-9s  %s%s%s%s\n", info.fingerprint, kind_word(info.kind), shown,
               info.sealed ? "  (passphrase)" : "", info.label[0] ? "  " : "", info.label);
    else
        printf("  %-16s  %-9s  %s  unusable: %s\n", "-", "-", shown, e.msg);
    return 0;
}

static int list_dir(const char *dir, json_t *arr, FmError *err)
{
    char **names = NULL;
    size_t n = 0;
    int ret = fm_key_dir_names(dir, 1, &names, &n, err);
    if (ret != 0)
        return ret;
    if (!arr)
        printf(n ? "%s:\n" : "%s: no key files\n", dir);
    for (size_t i = 0; i < n && ret == 0; i++) {
        char *base = join(dir, "/");
        char *path = base ? join(base, names[i]) : NULL;
        if (!path)
            ret = fm_error_set(err, FM_ENOMEM, "out of memory");
        else if (list_one(path, names[i], arr) != 0)
            ret = FM_EINVAL, err->msg[0] = '\0';
        free(base);
        free(path);
    }
    fm_key_names_free(names, n);
    return ret;
}

static int do_list(int nargs, char **args, int json)
{
    FmError err = { { 0 } };
    json_t *obj = json ? json_object() : NULL, *arr = json ? json_array() : NULL;
    int status = EXIT_ERR;
    char dir[4096];
    if (json && (!obj || !arr || json_object_set(obj, "keys", arr) != 0)) {
        fail("out of memory");
        goto out;
    }
    if (nargs == 0) {
        if (fm_key_dir_default(dir, sizeof(dir), &err) != 0) {
            fail(err.msg);
            goto out;
        }
        if (json && json_object_set_new(obj, "directory", json_string(dir)) != 0) {
            fail("cannot put the directory name in JSON (not UTF-8?)");
            goto out;
        }
        if (list_dir(dir, arr, &err) != 0) {
            if (err.msg[0])
                fail(err.msg);
            goto out;
        }
    }
    for (int i = 0; i < nargs; i++) {
        struct stat st;
        int r;
        if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            r = list_dir(args[i], arr, &err);
            if (r != 0 && err.msg[0])
                fail(err.msg);
        } else {
            if (!json && i == 0)
                printf("files:\n");
            r = list_one(args[i], args[i], arr);
        }
        if (r != 0)
            goto out;
    }
    if (json && (json_dumpf(obj, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF)) {
        fail("cannot write the JSON result");
        goto out;
    }
    status = 0;
out:
    json_decref(arr);
    json_decref(obj);
    if (status == 0 && (fflush(stdout) != 0 || ferror(stdout)))
        status = fail("cannot write to standard output");
    return status;
}

enum { OPT_JSON = 256, OPT_NO_PASS, OPT_PASS_FILE, OPT_FROM, OPT_INSTALL, OPT_LIST };

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"label", required_argument, NULL, 'l'},
        {"no-passphrase", no_argument, NULL, OPT_NO_PASS},
        {"passphrase-file", required_argument, NULL, OPT_PASS_FILE},
        {"from", required_argument, NULL, OPT_FROM},
        {"install", no_argument, NULL, OPT_INSTALL},
        {"list", no_argument, NULL, OPT_LIST},
        {"force", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *prefix = NULL, *label = NULL, *from = NULL;
    int want_version = 0;
    FmPassSource src = { NULL };
    int force = 0, json = 0, quiet = 0, no_pass = 0, install = 0, list = 0;
    int c;

    opterr = 0;   /* our own one-line messages */
    while ((c = getopt_long(argc, argv, ":o:l:fqhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': prefix = optarg; break;
        case 'l': label = optarg; break;
        case 'f': force = 1; break;
        case 'q': quiet = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_NO_PASS: no_pass = 1; break;
        case OPT_PASS_FILE: src.file = optarg; break;
        case OPT_FROM: from = optarg; break;
        case OPT_INSTALL: install = 1; break;
        case OPT_LIST: list = 1; break;
        case 'V': want_version = 1; break;
        case 'h':
            usage(stdout);
            return fflush(stdout) == 0 && !ferror(stdout) ? 0 : EXIT_ERR;
        default: {
            /* the shared wording of every tool: names the argument as typed */
            char msg[300];
            return fail(fm_option_error(longopts, argv, c, msg, sizeof(msg)));
        }
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (want_version) {
        fm_print_version(stdout, "wmkeygen", json);
        return 0;
    }

    if (list) {
        if (prefix || label || from || install || no_pass || src.file || force || quiet)
            return bad_usage("--list takes only --json and files or directories");
        return do_list(nargs, args, json);
    }
    if (nargs > 0 && !(install && !prefix && !from))
        return bad_usage("unexpected argument '%s'", args[0]);
    if (install && !prefix && !from && nargs == 0)
        return bad_usage("--install needs a key file or PREFIX to install");
    if (no_pass && src.file)
        return bad_usage("--no-passphrase and --passphrase-file exclude each other");
    if (from && (label || no_pass))
        return bad_usage("%s cannot be used with --from (the secret key is not rewritten)",
                         label ? "--label" : "--no-passphrase");
    if (!from && !install && !prefix)
        return bad_usage("missing -o PREFIX");
    if (install && !prefix && !from && (label || no_pass))
        return bad_usage("%s is for making keys, not for --install",
                         label ? "--label" : "--no-passphrase");
    if (prefix && !*prefix)
        return bad_usage("empty PREFIX");
    if (prefix && prefix[strlen(prefix) - 1] == '/')
        return bad_usage("PREFIX '%s' names a directory; add a file name stem", prefix);

    FmError err = { { 0 } };
    if (fm_init(&err) != 0)
        return fail(err.msg);

    FmKey *secret = fm_key_new();
    char *pass = sodium_malloc(FM_PASSPHRASE_MAX + 1);
    char *paths[3] = { NULL, NULL, NULL };
    char *from_prefix = NULL;
    char keydir[4096];
    json_t *obj = json ? json_object() : NULL, *installed = NULL;
    int status = EXIT_ERR;
    if (!secret || !pass || (json && !obj)) {
        fail("out of memory");
        goto out;
    }
    if (label && fm_key_set_label(secret, label, &err) != 0) {
        fprintf(stderr, PROG ": --label: %s\n", err.msg);
        goto out;
    }
    if (install && fm_key_dir_default(keydir, sizeof(keydir), &err) != 0) {
        fail(err.msg);
        goto out;
    }

    if (!prefix && !from) {
        /* --install KEY...: each a .dkey, a .key or a PREFIX (then PREFIX.dkey) */
        if (json && (!(installed = json_array()) ||
                     json_object_set(obj, "installed", installed) != 0)) {
            fail("out of memory");
            goto out;
        }
        if (make_dirs(keydir, &err) != 0) {
            fail(err.msg);
            goto out;
        }
        for (int i = 0; i < nargs; i++) {
            char *file = has_suffix(args[i], ".dkey") || has_suffix(args[i], ".key")
                             ? strdup(args[i]) : join(args[i], ".dkey");
            if (!file) {
                fail("out of memory");
                goto out;
            }
            int r = fm_key_load_with(secret, file, FM_KEY_DETECT, fm_pass_get, &src, &err);
            if (r == 0)
                r = install_key(secret, file, keydir, force, quiet, installed, &err);
            free(file);
            if (r != 0) {
                fail(err.msg);
                goto out;
            }
        }
        goto print_json;
    }

    static const char *const exts[3] = { ".pub", ".dkey", ".key" };
    static const FmKeyKind kinds[3] = { FM_KEY_PUBLIC, FM_KEY_DETECT, FM_KEY_SECRET };
    int nfiles = from ? 2 : 3;   /* --from rewrites no secret key */
    if (from && !prefix) {
        if (!has_suffix(from, ".key")) {
            status = bad_usage("--from '%s' does not end in .key; give -o PREFIX", from);
            goto out;
        }
        if (!(from_prefix = strdup(from))) {
            fail("out of memory");
            goto out;
        }
        from_prefix[strlen(from_prefix) - 4] = '\0';
        prefix = from_prefix;
    }
    for (int i = 0; i < nfiles; i++) {
        if (!(paths[i] = join(prefix, exts[i]))) {
            fail("out of memory");
            goto out;
        }
    }
    /* Check all names before asking anything, so a refusal costs nothing. */
    if (!force) {
        for (int i = 0; i < nfiles; i++) {
            struct stat st;
            if (lstat(paths[i], &st) == 0) {
                fprintf(stderr, PROG ": '%s' exists; use --force to overwrite\n", paths[i]);
                goto out;
            }
        }
    }
    if (json) {
        /* Built before writing: file names that are not UTF-8 fail here, early. */
        static const char *const members[3] = { "public_key", "detection_key", "secret_key" };
        for (int i = 0; i < nfiles; i++)
            if (json_object_set_new(obj, members[i], json_string(paths[i])) != 0) {
                fail("cannot put the file names in JSON (not UTF-8?)");
                goto out;
            }
    }

    FmKeySeal seal = { 0 };
    if (from) {
        if (fm_key_load_with(secret, from, FM_KEY_SECRET, fm_pass_get, &src, &err) != 0) {
            fail(err.msg);
            goto out;
        }
    } else {
        if (!no_pass) {
            int n = fm_pass_new(&src, pass, FM_PASSPHRASE_MAX + 1, &err);
            if (n < 0) {
                fail(err.msg);
                goto out;
            }
            seal.passphrase = pass;
            seal.len = (size_t)n;
        }
        char keep[FM_LABEL_MAX + 1];
        memcpy(keep, secret->label, sizeof(keep));
        if (fm_key_generate(secret, &err) != 0) {
            fail(err.msg);
            goto out;
        }
        memcpy(secret->label, keep, sizeof(keep));
    }
    catch_signals();
    if (write_set(secret, kinds, paths, nfiles, seal.passphrase ? &seal : NULL, force,
                  &err) != 0) {
        fail(err.msg);
        goto out;
    }
    sodium_memzero(pass, FM_PASSPHRASE_MAX + 1);

    char fpr[FM_FINGERPRINT_CHARS + 1];
    fm_key_fingerprint(secret, fpr);
    if (json && (json_object_set_new(obj, "fingerprint", json_string(fpr)) != 0 ||
                 json_object_set_new(obj, "label", secret->label[0]
                                                       ? json_string(secret->label)
                                                       : json_null()) != 0 ||
                 (!from && json_object_set_new(obj, "protected",
                                               json_boolean(seal.passphrase != NULL)) != 0))) {
        fail("cannot write the JSON result");
        goto out;
    }
    if (!json && !quiet) {
        if (!from)
            printf("secret key:    %s%s\n", paths[2],
                   seal.passphrase ? " (passphrase-protected)" : " (NOT protected by a passphrase)");
        printf("detection key: %s\n"
               "public key:    %s\n"
               "fingerprint:   %s\n",
               paths[1], paths[0], fpr);
        if (secret->label[0])
            printf("label:         %s\n", secret->label);
    }
    if (install) {
        if (json && (!(installed = json_array()) ||
                     json_object_set(obj, "installed", installed) != 0)) {
            fail("out of memory");
            goto out;
        }
        if (make_dirs(keydir, &err) != 0 ||
            install_key(secret, paths[1], keydir, force, quiet, installed, &err) != 0) {
            /* the set itself is made and complete: keep it */
            fail(err.msg);
            goto out;
        }
    }

print_json:
    if (json && (json_dumpf(obj, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF)) {
        fail("cannot write the JSON result");
        goto out;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, PROG ": cannot write to standard output: %s\n", strerror(errno));
        goto out;   /* the keys are made and complete; they stay */
    }
    status = 0;

out:
    fm_key_free(&secret);
    sodium_free(pass);
    json_decref(installed);
    json_decref(obj);
    free(from_prefix);
    for (int i = 0; i < 3; i++)
        free(paths[i]);
    return status;
}
