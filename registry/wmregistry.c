/*
 * wmregistry - reads and maintains the registry of issued marks
 * (common/registry.h): list, show, export, import, verify.
 *
 * Exit status: 0 done (verify: every row of the keys given verifies);
 * 1 verify found a row that does not verify, show found no such issuance,
 * import refused its input (nothing was imported), or add refused a receipt
 * (the receipts before it were added); 2 bad usage or an error (the
 * registry, a key or a file could not be used).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "keys.h"
#include "payload.h"
#include "registry.h"
#include "tool_util.h"
#include "version.h"

#define PROG "wmregistry"
enum { EXIT_OK = 0, EXIT_BAD = 1, EXIT_ERR = 2 };
#define MAX_KEYS 64

static void usage(FILE *out)
{
    fprintf(out,
        "usage: " PROG " [--registry LOC] [--json] list [--title-id N] [--recipient-id N]\n"
        "                  [--key-fingerprint FP] [--since T] [--until T]\n"
        "       " PROG " [--registry LOC] [--json] show ID\n"
        "       " PROG " [--registry LOC] export [-o FILE] [--force]\n"
        "       " PROG " [--registry LOC] [--json] import [-p KEY]... FILE\n"
        "       " PROG " [--registry LOC] [--json] verify -p KEY [-p KEY]...\n"
        "       " PROG " [--registry LOC] [--json] add -p KEY RECEIPT...\n"
        "\n"
        "The registry of issued marks: every deliverable wmembed made, with its\n"
        "signed payload, names, output SHA-256, settings and receipt.\n"
        "\n"
        "commands:\n"
        "  list      issued marks, oldest first, filtered by the options below\n"
        "  show ID   one issuance, in full\n"
        "  export    every issuance as JSON lines (stdout, or -o FILE, mode 0600)\n"
        "  import    add the issuances of an export (FILE, or - for stdin); lines\n"
        "            signed by a key given with -p are verified; all or nothing;\n"
        "            importing the same issuance again adds nothing\n"
        "  verify    check every row signed by the keys given: the message's\n"
        "            Ed25519 signature, its fields, and the recorded receipt\n"
        "  add       record deliverables from their receipts (OUT.receipt.json, as\n"
        "            wmembed wrote them), checked with the key; for deliverables\n"
        "            issued before the registry was in use\n"
        "\n"
        "options:\n"
        "      --registry LOC        a SQLite file or a postgresql:// URL; default\n"
        "                            $FILMMARK_REGISTRY, else\n"
        "                            ~/.local/share/filmmark/registry.sqlite\n"
        "      --title-id N          list: only this title id\n"
        "      --recipient-id N      list: only this recipient id\n"
        "      --key-fingerprint FP  list: only marks of this key (16 hex digits)\n"
        "      --since T, --until T  list: issued at or after / at or before T, UTC,\n"
        "                            YYYY-MM-DD or YYYY-MM-DDTHH:MMZ\n"
        "  -o, --output FILE         export: write FILE instead of stdout\n"
        "  -f, --force               export: replace an existing FILE\n"
        "  -p, --public-key KEY      import, verify, add: a key file (.pub, .dkey or .key;\n"
        "                            only its public key is used); repeatable\n"
        "      --json                print JSON on stdout\n"
        "  -h, --help                show this help\n"
        "\n"
        "exit status: 0 done; 1 a row does not verify, no such ID, the import was\n"
        "refused (nothing imported), or a receipt was refused; 2 bad usage or an\n"
        "error.\n");
}

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

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* Prints a JSON value on stdout, one line. */
static int print_json(json_t *j)
{
    if (!j)
        return fail(EXIT_ERR, "out of memory (or a name that is not UTF-8)");
    int r = json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (r != 0 || fputc('\n', stdout) == EOF)
        return fail(EXIT_ERR, "write error");
    return EXIT_OK;
}

/* "YYYY-MM-DD" (start or end of the day) or what fm_iso8601_to_minutes reads. */
static int parse_time(const char *s, int end_of_day, uint32_t *minutes)
{
    char buf[40];
    if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
        snprintf(buf, sizeof(buf), "%sT%sZ", s, end_of_day ? "23:59" : "00:00");
        s = buf;
    }
    return fm_iso8601_to_minutes(s, minutes);
}

typedef struct Opts {
    const char *registry;
    int json, force;
    FmRegistryFilter filter;
    const char *output;
    const char *key_paths[MAX_KEYS];
    int nkeys;
    int any_list_option;
} Opts;

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

/* ------------------------------------------------------------------ */

static int cmd_list(FmRegistry *reg, const Opts *o)
{
    FmError err = {{0}};
    FmIssuanceList l;
    if (fm_registry_list(reg, &o->filter, &l, &err) < 0)
        return fail(EXIT_ERR, "%s", err.msg);
    int ret = EXIT_OK;
    if (o->json) {
        json_t *arr = json_array();
        for (size_t k = 0; arr && k < l.count; k++) {
            json_t *j = fm_issuance_to_json(&l.items[k]);
            if (!j) {
                json_decref(arr);
                arr = NULL;
                break;
            }
            /* show ID has these; a two-hour film's fingerprint is 115 KB */
            json_object_del(j, "receipt");
            json_object_del(j, "content_fingerprint");
            json_array_append_new(arr, j);
        }
        ret = print_json(arr ? json_pack("{s:s, s:I, s:o}", "backend", fm_registry_backend(reg),
                                         "count", (json_int_t)l.count, "issuances", arr)
                             : NULL);
    } else {
        if (l.count)
            printf("%6s  %-17s  %10s  %10s  %-16s  %-24s  %s\n", "ID", "ISSUED", "TITLE",
                   "RECIPIENT", "KEY", "OUTPUT", "RECIPIENT NAME");
        for (size_t k = 0; k < l.count; k++) {
            const FmIssuance *i = &l.items[k];
            char issued[32];
            fm_minutes_to_iso8601(i->payload.issued_minutes, issued, sizeof(issued));
            printf("%6lld  %-17s  %10u  %10u  %-16s  %-24s  %s\n", (long long)i->id, issued,
                   i->payload.title_id, i->payload.recipient_id, i->key_fingerprint,
                   i->output_name, or_dash(i->recipient));
        }
        fprintf(stderr, "%zu issuance%s\n", l.count, l.count == 1 ? "" : "s");
        if (fflush(stdout) != 0)
            ret = fail(EXIT_ERR, "write error");
    }
    fm_issuance_list_free(&l);
    return ret;
}

static int cmd_show(FmRegistry *reg, const Opts *o, const char *id_text)
{
    FmError err = {{0}};
    char *end;
    errno = 0;
    long long id = strtoll(id_text, &end, 10);
    if (errno || end == id_text || *end || id <= 0)
        return bad_usage("ID '%s' is not a positive number", id_text);
    FmIssuance *i = NULL;
    int r = fm_registry_get(reg, id, &i, &err);
    if (r == FM_ENOTFOUND)
        return fail(EXIT_BAD, "%s", err.msg);
    if (r < 0)
        return fail(EXIT_ERR, "%s", err.msg);
    if (o->json) {
        r = print_json(fm_issuance_to_json(i));
        fm_issuance_free(&i);
        return r;
    }
    char issued[32], msg_hex[2 * FM_MESSAGE_BYTES + 1];
    fm_minutes_to_iso8601(i->payload.issued_minutes, issued, sizeof(issued));
    fm_hex(i->message, FM_MESSAGE_BYTES, msg_hex);
    const char *ai = fm_ai_use_name(i->payload.ai_use);
    printf("issuance %lld\n", (long long)i->id);
    printf("  recorded:     %s\n", i->created_at);
    printf("  key:          %s\n", i->key_fingerprint);
    printf("  payload:      version %u, title %u, recipient %u, issued %s, AI training %s",
           i->payload.version, i->payload.title_id, i->payload.recipient_id, issued,
           ai ? ai : "");
    if (!ai)
        printf("policy %u", i->payload.ai_use);
    printf("\n  message:      %s\n", msg_hex);
    printf("  owner:        %s\n", or_dash(i->owner));
    printf("  title:        %s\n", or_dash(i->title));
    printf("  recipient:    %s\n", or_dash(i->recipient));
    printf("  output:       %s\n", i->output_name);
    printf("  sha256:       %s\n", i->output_sha256);
    printf("  settings:     codec %s, crf %d, strength %g\n", i->codec, i->crf, i->strength);
    if (i->mark_format)
        printf("  mark format:  %d\n", i->mark_format);
    else
        printf("  mark format:  unknown (not recorded)\n");
    printf("  receipt:      %s\n", i->receipt_json ? "recorded (wmregistry --json show for it)"
                                                   : "not recorded");
    if (i->content_fingerprint) {
        size_t n = strlen(i->content_fingerprint);
        printf("  content fp:   %.40s%s (%zu characters)\n", i->content_fingerprint,
               n > 40 ? "..." : "", n);
    } else {
        printf("  content fp:   not recorded\n");
    }
    fm_issuance_free(&i);
    return fflush(stdout) == 0 ? EXIT_OK : fail(EXIT_ERR, "write error");
}

static int cmd_export(FmRegistry *reg, const Opts *o)
{
    FmError err = {{0}};
    FILE *out = stdout;
    char *tmp = NULL;
    if (o->output && strcmp(o->output, "-") != 0) {
        if (!o->force && access(o->output, F_OK) == 0)
            return fail(EXIT_ERR, "'%s' exists; use --force to overwrite", o->output);
        /* atomically: a temporary file beside it, then rename */
        size_t n = strlen(o->output) + 16;
        tmp = malloc(n);
        if (!tmp)
            return fail(EXIT_ERR, "out of memory");
        snprintf(tmp, n, "%s.tmpXXXXXX", o->output);
        int fd = mkstemp(tmp);
        if (fd < 0) {
            int e = errno;
            free(tmp);
            return fail(EXIT_ERR, "cannot write '%s': %s", o->output, strerror(e));
        }
        fchmod(fd, 0600);
        out = fdopen(fd, "w");
        if (!out) {
            close(fd);
            unlink(tmp);
            free(tmp);
            return fail(EXIT_ERR, "out of memory");
        }
    }
    int r = fm_registry_export(reg, out, &err);
    if (tmp) {
        int bad = r < 0;
        if (!bad && (fflush(out) != 0 || fsync(fileno(out)) != 0)) {
            bad = 1;
            snprintf(err.msg, sizeof(err.msg), "cannot write '%s': %s", o->output, strerror(errno));
        }
        if (fclose(out) != 0 && !bad) {
            bad = 1;
            snprintf(err.msg, sizeof(err.msg), "cannot write '%s': %s", o->output, strerror(errno));
        }
        if (!bad && rename(tmp, o->output) != 0) {
            bad = 1;
            snprintf(err.msg, sizeof(err.msg), "cannot write '%s': %s", o->output, strerror(errno));
        }
        if (bad)
            unlink(tmp);
        free(tmp);
        r = bad ? FM_EIO : 0;
    }
    if (r < 0)
        return fail(EXIT_ERR, "%s", err.msg);
    return EXIT_OK;
}

static int load_keys(const Opts *o, FmKey **keys)
{
    FmError err = {{0}};
    for (int k = 0; k < o->nkeys; k++) {
        if (!(keys[k] = fm_key_new()))
            return fail(EXIT_ERR, "out of secure memory");
        if (fm_key_load(keys[k], o->key_paths[k], 0, &err) < 0)
            return fail(EXIT_ERR, "%s", err.msg);
    }
    return EXIT_OK;
}

static int cmd_import(FmRegistry *reg, const Opts *o, FmKey *const *keys, const char *path)
{
    FmError err = {{0}};
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in)
        return fail(EXIT_ERR, "cannot open '%s': %s", path, strerror(errno));
    FmImportStats st;
    int r = fm_registry_import(reg, in, strcmp(path, "-") == 0 ? "stdin" : path, keys,
                               (size_t)o->nkeys, &st, &err);
    if (in != stdin)
        fclose(in);
    if (r == FM_EFORMAT || r == FM_ECRYPTO)
        return fail(EXIT_BAD, "%s; nothing imported", err.msg);
    if (r < 0)
        return fail(EXIT_ERR, "%s", err.msg);
    if (o->json)
        return print_json(json_pack("{s:I, s:I, s:I, s:I}", "lines", (json_int_t)st.lines,
                                    "added", (json_int_t)st.added, "present",
                                    (json_int_t)st.present, "verified", (json_int_t)st.verified));
    printf("%zu issuance%s read: %zu added, %zu already present; %zu verified with the "
           "key%s given, %zu without a key\n", st.lines, st.lines == 1 ? "" : "s", st.added,
           st.present, st.verified, o->nkeys == 1 ? "" : "s", st.lines - st.verified);
    return fflush(stdout) == 0 ? EXIT_OK : fail(EXIT_ERR, "write error");
}

static int cmd_verify(FmRegistry *reg, const Opts *o, FmKey *const *keys)
{
    FmError err = {{0}};
    FmIssuanceList l;
    if (fm_registry_list(reg, NULL, &l, &err) < 0)
        return fail(EXIT_ERR, "%s", err.msg);
    size_t ok = 0, bad = 0, unchecked = 0;
    json_t *failed = json_array();
    for (size_t k = 0; k < l.count; k++) {
        int r = fm_issuance_verify(&l.items[k], keys, (size_t)o->nkeys, &err);
        if (r == 0) {
            ok++;
        } else if (r == FM_ENOTFOUND) {
            unchecked++;
        } else {
            bad++;
            if (o->json)
                json_array_append_new(failed, json_pack("{s:I, s:s}", "id",
                                      (json_int_t)l.items[k].id, "reason", err.msg));
            else
                printf("issuance %lld: %s\n", (long long)l.items[k].id, err.msg);
        }
    }
    fm_issuance_list_free(&l);
    int ret = bad ? EXIT_BAD : EXIT_OK;
    if (o->json) {
        int r = print_json(json_pack("{s:b, s:I, s:I, s:o, s:I}", "ok", !bad, "rows",
                                     (json_int_t)(ok + bad + unchecked), "verified",
                                     (json_int_t)ok, "failed", failed, "unchecked",
                                     (json_int_t)unchecked));
        return r != EXIT_OK ? r : ret;
    }
    json_decref(failed);
    printf("%zu row%s verified, %zu failed", ok, ok == 1 ? "" : "s", bad);
    if (unchecked)
        printf(", %zu of other keys not checked", unchecked);
    printf("\n");
    if (fflush(stdout) != 0)
        return fail(EXIT_ERR, "write error");
    return ret;
}

static int cmd_add(FmRegistry *reg, const Opts *o, FmKey *const *keys, char **paths, int n)
{
    int ret = EXIT_OK;
    size_t added = 0, present = 0;
    json_t *rows = o->json ? json_array() : NULL;
    for (int k = 0; k < n && ret == EXIT_OK; k++) {
        FmError err = {{0}};
        int64_t id = 0;
        /* a receipt does not say which mark format its deliverable has: unknown */
        int r = fm_registry_add_receipt(reg, paths[k], keys, (size_t)o->nkeys, 0, &id, &err);
        if (r == FM_ECRYPTO || r == FM_EFORMAT || r == FM_EINVAL) {
            ret = fail(EXIT_BAD, "%s", err.msg);
            break;
        }
        if (r < 0) {
            ret = fail(EXIT_ERR, "%s", err.msg);
            break;
        }
        if (r == 0)
            added++;
        else
            present++;
        if (rows)
            json_array_append_new(rows, json_pack("{s:s, s:I, s:b}", "receipt", paths[k],
                                                  "id", (json_int_t)id, "added", r == 0));
        else
            printf("%s: issuance %lld%s\n", paths[k], (long long)id,
                   r == 0 ? "" : " (already recorded)");
    }
    if (rows) {
        int r = print_json(json_pack("{s:I, s:I, s:o}", "added", (json_int_t)added, "present",
                                     (json_int_t)present, "issuances", rows));
        return ret != EXIT_OK ? ret : r;
    }
    if (fflush(stdout) != 0)
        return fail(EXIT_ERR, "write error");
    return ret;
}

/* ------------------------------------------------------------------ */

enum {
    OPT_JSON = 256, OPT_REGISTRY, OPT_TITLE, OPT_RECIPIENT, OPT_KEYFP, OPT_SINCE, OPT_UNTIL,
};

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"registry", required_argument, NULL, OPT_REGISTRY},
        {"json", no_argument, NULL, OPT_JSON},
        {"title-id", required_argument, NULL, OPT_TITLE},
        {"recipient-id", required_argument, NULL, OPT_RECIPIENT},
        {"key-fingerprint", required_argument, NULL, OPT_KEYFP},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"public-key", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    Opts o = { 0 };
    int c, want_version = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:fp:hV", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_REGISTRY: o.registry = optarg; break;
        case OPT_JSON: o.json = 1; break;
        case OPT_TITLE:
            if (fm_parse_u32(optarg, &o.filter.title_id) < 0)
                return bad_usage("--title-id '%s' is not a number in 0..4294967295", optarg);
            o.filter.have_title_id = o.any_list_option = 1;
            break;
        case OPT_RECIPIENT:
            if (fm_parse_u32(optarg, &o.filter.recipient_id) < 0)
                return bad_usage("--recipient-id '%s' is not a number in 0..4294967295", optarg);
            o.filter.have_recipient_id = o.any_list_option = 1;
            break;
        case OPT_KEYFP:
            if (strlen(optarg) != FM_FINGERPRINT_CHARS ||
                strspn(optarg, "0123456789abcdef") != FM_FINGERPRINT_CHARS)
                return bad_usage("--key-fingerprint '%s' is not %d lowercase hex digits", optarg,
                                 FM_FINGERPRINT_CHARS);
            o.filter.key_fingerprint = optarg;
            o.any_list_option = 1;
            break;
        case OPT_SINCE:
            if (parse_time(optarg, 0, &o.filter.since_minutes) < 0)
                return bad_usage("--since '%s' is not a UTC time YYYY-MM-DD or "
                                 "YYYY-MM-DDTHH:MMZ", optarg);
            o.filter.have_since = o.any_list_option = 1;
            break;
        case OPT_UNTIL:
            if (parse_time(optarg, 1, &o.filter.until_minutes) < 0)
                return bad_usage("--until '%s' is not a UTC time YYYY-MM-DD or "
                                 "YYYY-MM-DDTHH:MMZ", optarg);
            o.filter.have_until = o.any_list_option = 1;
            break;
        case 'o': o.output = optarg; break;
        case 'f': o.force = 1; break;
        case 'p':
            if (o.nkeys == MAX_KEYS)
                return bad_usage("at most %d keys", MAX_KEYS);
            o.key_paths[o.nkeys++] = optarg;
            break;
        case 'h':
            usage(stdout);
            return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERR;
        case 'V': want_version = 1; break;
        case ':':
            return bad_usage("option '%s' requires an argument", argv[optind - 1]);
        default:
            if (optopt == 0 || optopt >= 256)
                return bad_usage("unknown option '%s'", argv[optind - 1]);
            return bad_usage("unknown option '-%c'", optopt);
        }
    }
    if (want_version) {
        fm_print_version(stdout, "wmregistry", o.json);
        return EXIT_OK;
    }
    if (optind >= argc)
        return bad_usage("missing command: list, show, export, import, verify or add");
    const char *cmd = argv[optind];
    int nargs = argc - optind - 1;
    char **args = argv + optind + 1;
    int is_list = !strcmp(cmd, "list"), is_show = !strcmp(cmd, "show");
    int is_export = !strcmp(cmd, "export"), is_import = !strcmp(cmd, "import");
    int is_verify = !strcmp(cmd, "verify"), is_add = !strcmp(cmd, "add");
    if (!is_list && !is_show && !is_export && !is_import && !is_verify && !is_add)
        return bad_usage("unknown command '%s'", cmd);
    if (o.any_list_option && !is_list)
        return bad_usage("--title-id, --recipient-id, --key-fingerprint, --since and --until "
                         "are for list");
    if ((o.output || o.force) && !is_export)
        return bad_usage("-o and --force are for export");
    if (o.nkeys && !is_import && !is_verify && !is_add)
        return bad_usage("-p is for import, verify and add");
    if (is_export && o.json)
        return bad_usage("export writes JSON lines already; --json is not for export");
    int want_args = is_show || is_import ? 1 : 0;
    if (nargs < want_args)
        return bad_usage("%s needs %s", cmd, is_show ? "an ID" : "a FILE (or - for stdin)");
    if (is_add && nargs < 1)
        return bad_usage("add needs at least one RECEIPT");
    if (nargs > want_args && !is_add)
        return bad_usage("unexpected argument '%s'", args[want_args]);
    if ((is_verify || is_add) && !o.nkeys)
        return bad_usage("%s needs at least one key: -p KEY.pub", cmd);

    FmError err = {{0}};
    if (fm_init(&err) < 0)
        return fail(EXIT_ERR, "%s", err.msg);
    FmKey *keys[MAX_KEYS] = { NULL };
    int ret = load_keys(&o, keys);
    char loc[FM_REGISTRY_LOCATION_MAX];
    FmRegistry *reg = NULL;
    if (ret == EXIT_OK) {
        if (fm_registry_location(o.registry, loc, sizeof(loc), &err) < 0 ||
            fm_registry_open(&reg, loc, &err) < 0)
            ret = fail(EXIT_ERR, "%s", err.msg);
    }
    if (ret == EXIT_OK) {
        if (is_list)
            ret = cmd_list(reg, &o);
        else if (is_show)
            ret = cmd_show(reg, &o, args[0]);
        else if (is_export)
            ret = cmd_export(reg, &o);
        else if (is_import)
            ret = cmd_import(reg, &o, keys, args[0]);
        else if (is_add)
            ret = cmd_add(reg, &o, keys, args, nargs);
        else
            ret = cmd_verify(reg, &o, keys);
    }
    fm_registry_close(&reg);
    for (int k = 0; k < o.nkeys; k++)
        fm_key_free(&keys[k]);
    return ret;
}
