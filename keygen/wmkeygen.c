/*
 * wmkeygen - make a filmmark key set: PREFIX.key (secret), PREFIX.dkey
 * (detection) and PREFIX.pub (public).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "keys.h"

#define PROG "wmkeygen"
#define EXIT_ERR 2

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " -o PREFIX [--force] [--json] [-q]\n"
            "\n"
            "Makes a new filmmark key set:\n"
            "  PREFIX.key   secret key: issues marks (mode 0600, keep it safe)\n"
            "  PREFIX.dkey  detection key: finds and verifies marks (mode 0600)\n"
            "  PREFIX.pub   public key: verifies signatures (mode 0644)\n"
            "\n"
            "options:\n"
            "  -o, --output PREFIX  where to write the three files\n"
            "  -f, --force          replace existing files\n"
            "      --json           print the result as one JSON object\n"
            "  -q, --quiet          print nothing on success (unless --json)\n"
            "  -h, --help           show this help\n");
}

/* One line naming the problem, then a hint; returns the exit status. */
static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry '" PROG " --help' for more information.\n", stderr);
    va_end(ap);
    return EXIT_ERR;
}

static char *join(const char *prefix, const char *ext)
{
    size_t n = strlen(prefix) + strlen(ext) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", prefix, ext);
    return s;
}

enum { OPT_JSON = 256 };

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *prefix = NULL;
    int force = 0, json = 0, quiet = 0;
    int c;

    opterr = 0;   /* our own one-line messages */
    while ((c = getopt_long(argc, argv, ":o:fqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': prefix = optarg; break;
        case 'f': force = 1; break;
        case 'q': quiet = 1; break;
        case OPT_JSON: json = 1; break;
        case 'h':
            usage(stdout);
            return fflush(stdout) == 0 && !ferror(stdout) ? 0 : EXIT_ERR;
        case ':':   /* after a long option, optind has moved past it */
            if (strncmp(argv[optind - 1], "--", 2) == 0)
                return bad_usage("option '%s' requires an argument", argv[optind - 1]);
            return bad_usage("option '-%c' requires an argument", optopt);
        default:
            if (optopt == 0)   /* unknown or ambiguous long option */
                return bad_usage("unknown option '%s'", argv[optind - 1]);
            if (strchr("fqh", optopt) || optopt == OPT_JSON) {   /* --force=x */
                const char *arg = argv[optind - 1];
                const char *eq = strchr(arg, '=');
                return bad_usage("option '%.*s' takes no argument",
                                 eq ? (int)(eq - arg) : (int)strlen(arg), arg);
            }
            return bad_usage("unknown option '-%c'", optopt);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    if (!prefix)
        return bad_usage("missing -o PREFIX");
    if (!*prefix)
        return bad_usage("empty PREFIX");
    if (prefix[strlen(prefix) - 1] == '/')
        return bad_usage("PREFIX '%s' names a directory; add a file name stem", prefix);

    FmError err = {{0}};
    if (fm_init(&err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return EXIT_ERR;
    }

    static const char *const exts[3] = {".key", ".dkey", ".pub"};
    static const FmKeyKind kinds[3] = {FM_KEY_SECRET, FM_KEY_DETECT, FM_KEY_PUBLIC};
    char *paths[3] = {NULL, NULL, NULL};
    int written[3] = {0, 0, 0};
    int status = EXIT_ERR;
    FmKey *secret = NULL, *derived = NULL;
    json_t *obj = NULL;

    for (int i = 0; i < 3; i++) {
        paths[i] = join(prefix, exts[i]);
        if (!paths[i]) {
            fprintf(stderr, PROG ": out of memory\n");
            goto out;
        }
    }
    /* Check all three before writing any, so a refusal leaves nothing half-made. */
    if (!force) {
        for (int i = 0; i < 3; i++) {
            struct stat st;
            if (lstat(paths[i], &st) == 0) {
                fprintf(stderr, PROG ": '%s' exists; use --force to overwrite\n", paths[i]);
                goto out;
            }
        }
    }
    if (json) {
        /* Built before writing: file names that are not UTF-8 fail here, early. */
        obj = json_object();
        if (!obj || json_object_set_new(obj, "fingerprint", json_null()) != 0 ||
            json_object_set_new(obj, "secret_key", json_string(paths[0])) != 0 ||
            json_object_set_new(obj, "detection_key", json_string(paths[1])) != 0 ||
            json_object_set_new(obj, "public_key", json_string(paths[2])) != 0) {
            fprintf(stderr, PROG ": cannot put the file names in JSON (not UTF-8?)\n");
            goto out;
        }
    }

    secret = fm_key_new();
    derived = fm_key_new();
    if (!secret || !derived) {
        fprintf(stderr, PROG ": cannot allocate secure memory for the key\n");
        goto out;
    }
    if (fm_key_generate(secret, &err) != 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        goto out;
    }
    for (int i = 0; i < 3; i++) {
        const FmKey *k = secret;
        if (kinds[i] != FM_KEY_SECRET) {
            if (fm_key_derive(secret, kinds[i], derived, &err) != 0) {
                fprintf(stderr, PROG ": %s\n", err.msg);
                goto out;
            }
            k = derived;
        }
        if (fm_key_save(k, paths[i], force, &err) != 0) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            goto out;
        }
        written[i] = 1;
    }

    char fpr[FM_FINGERPRINT_CHARS + 1];
    fm_key_fingerprint(secret, fpr);
    if (json) {
        if (json_object_set_new(obj, "fingerprint", json_string(fpr)) != 0 ||
            json_dumpf(obj, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF) {
            fprintf(stderr, PROG ": cannot write the JSON result\n");
            goto out;
        }
    } else if (!quiet) {
        printf("secret key:    %s\n"
               "detection key: %s\n"
               "public key:    %s\n"
               "fingerprint:   %s\n",
               paths[0], paths[1], paths[2], fpr);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, PROG ": cannot write to standard output: %s\n", strerror(errno));
        /* The keys are made and complete; keep them. */
        for (int i = 0; i < 3; i++)
            written[i] = 0;
        goto out;
    }
    status = 0;

out:
    if (status != 0) {
        /* A partial set is worse than none: remove the files made by this run. */
        for (int i = 0; i < 3; i++)
            if (written[i] && unlink(paths[i]) == 0)
                fprintf(stderr, PROG ": removed '%s'\n", paths[i]);
    }
    fm_key_free(&secret);
    fm_key_free(&derived);
    json_decref(obj);
    for (int i = 0; i < 3; i++)
        free(paths[i]);
    return status;
}
