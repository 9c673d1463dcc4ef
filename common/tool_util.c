#include "tool_util.h"

#include <getopt.h>
#include <jansson.h>
#include <libavutil/log.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

int fm_parse_u32(const char *s, uint32_t *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return FM_EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > UINT32_MAX)
        return FM_EINVAL;
    *out = (uint32_t)v;
    return 0;
}

int fm_parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    if (!s || !*s)
        return FM_EINVAL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return FM_EINVAL;
    *out = (int)v;
    return 0;
}

int fm_parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return FM_EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v <= 0)
        return FM_EINVAL;
    *out = v;
    return 0;
}

void fm_hex(const uint8_t *in, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, in, n);
}

int fm_unhex(const char *hex, uint8_t *out, size_t n)
{
    size_t len = 0;
    if (!hex || strlen(hex) != 2 * n)
        return FM_EINVAL;
    if (sodium_hex2bin(out, n, hex, 2 * n, NULL, &len, NULL) != 0 || len != n)
        return FM_EINVAL;
    return 0;
}

int fm_sha256_file(const char *path, char out[65], FmError *err)
{
    crypto_hash_sha256_state st;
    uint8_t buf[1 << 16], digest[crypto_hash_sha256_BYTES];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return fm_error_set(err, FM_EIO, "cannot read '%s': %s", path, strerror(errno));
    crypto_hash_sha256_init(&st);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return fm_error_set(err, FM_EIO, "cannot read '%s': %s", path, strerror(errno));
        }
        if (n == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
    }
    close(fd);
    crypto_hash_sha256_final(&st, digest);
    fm_hex(digest, sizeof(digest), out);
    return 0;
}

struct FmFileHash {
    pthread_t thread;
    char *path;
    char out[65];
    int ret;
    FmError err;
};

static void *hash_thread(void *arg)
{
    FmFileHash *h = arg;
    h->ret = fm_sha256_file(h->path, h->out, &h->err);
    return NULL;
}

int fm_sha256_file_start(FmFileHash **h, const char *path, FmError *err)
{
    FmFileHash *f = calloc(1, sizeof(*f));
    *h = NULL;
    if (!f || !(f->path = strdup(path)) || pthread_create(&f->thread, NULL, hash_thread, f)) {
        if (f)
            free(f->path);
        free(f);
        return fm_error_set(err, FM_ENOMEM, "out of memory starting a thread");
    }
    *h = f;
    return 0;
}

int fm_sha256_file_join(FmFileHash **h, char out[65], FmError *err)
{
    FmFileHash *f = *h;
    if (!f)
        return 0;
    pthread_join(f->thread, NULL);
    int ret = f->ret;
    if (ret < 0) {
        if (err)
            *err = f->err;
    } else {
        memcpy(out, f->out, sizeof(f->out));
    }
    free(f->path);
    free(f);
    *h = NULL;
    return ret;
}

double fm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void fm_progress_init(FmProgress *p, FILE *stream, long total, int quiet)
{
    memset(p, 0, sizeof(*p));
    p->tty = stream && isatty(fileno(stream));
    p->out = quiet || !p->tty ? NULL : stream;
    p->total = total;
    p->start = p->last = fm_now();
}

void fm_progress_machine(FmProgress *p, FILE *f)
{
    p->machine = f;
}

static void machine_block(FmProgress *p, long frames, double now, int end)
{
    fprintf(p->machine, "frame=%ld\ntotal_frames=%ld\nfps=%.2f\nelapsed_seconds=%.2f\n"
            "progress=%s\n", frames, p->total, frames / (now - p->start + 1e-9),
            now - p->start, end ? "end" : "continue");
    fflush(p->machine);
    p->last_machine = now;
}

int fm_set_loglevel(const char *name)
{
    static const struct { const char *name; int level; } levels[] = {
        { "quiet", AV_LOG_QUIET }, { "error", AV_LOG_ERROR }, { "warning", AV_LOG_WARNING },
        { "info", AV_LOG_INFO }, { "debug", AV_LOG_DEBUG },
    };
    for (size_t i = 0; i < sizeof(levels) / sizeof(*levels); i++)
        if (!strcmp(name, levels[i].name)) {
            av_log_set_level(levels[i].level);
            return 0;
        }
    return FM_EINVAL;
}

void fm_progress_update(FmProgress *p, long frames, const char *what)
{
    if (p->machine && fm_now() - p->last_machine >= 0.5)
        machine_block(p, frames, fm_now(), 0);
    if (!p->out)
        return;
    double now = fm_now();
    if (now - p->last < 0.25)
        return;
    p->last = now;
    double fps = frames / (now - p->start + 1e-9);
    if (p->total > 0 && frames <= p->total) {
        double eta = (p->total - frames) / (fps > 0 ? fps : 1);
        fprintf(p->out, "\r%s frame %ld/%ld  %.1f fps  ETA %d:%02d   ", what, frames, p->total,
                fps, (int)eta / 60, (int)eta % 60);
    } else {
        fprintf(p->out, "\r%s frame %ld  %.1f fps   ", what, frames, fps);
    }
    fflush(p->out);
}

void fm_progress_end_frames(FmProgress *p, long frames)
{
    if (p->machine)
        machine_block(p, frames, fm_now(), 1);
    fm_progress_end(p);
}

void fm_progress_end(FmProgress *p)
{
    if (p->out) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
    }
}

int fm_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

const char *fm_option_error(const struct option *opts, char **argv, int c, char *buf,
                            size_t len)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
        /* a short option, possibly inside a cluster ("-xq"), where argv
         * does not point at it: name the letter */
        if (optopt > 0 && optopt < 128)
            snprintf(buf, len, c == ':' ? "option -%c needs a value (see --help)"
                                        : "unknown option -%c (see --help)", optopt);
        else
            snprintf(buf, len, "unknown option %s (see --help)", arg);
        return buf;
    }
    if (c == ':') {
        snprintf(buf, len, "option %s needs a value (see --help)", arg);
        return buf;
    }
    const char *name = arg + 2;
    size_t n = strcspn(name, "=");
    int matches = 0, exact = 0;
    char list[256] = "";
    for (const struct option *o = opts; o->name; o++) {
        if (strncmp(o->name, name, n) != 0)
            continue;
        exact |= strlen(o->name) == n;
        size_t used = strlen(list);
        snprintf(list + used, sizeof(list) - used, "%s--%s", matches ? ", " : "", o->name);
        matches++;
    }
    if (matches > 1 && !exact)
        snprintf(buf, len, "ambiguous option --%.*s: %s? (see --help)", (int)n, name, list);
    else if (matches && name[n] == '=')
        snprintf(buf, len, "option --%.*s does not take a value (see --help)", (int)n, name);
    else
        snprintf(buf, len, "unknown option %s (see --help)", arg);
    return buf;
}

void fm_print_json_error(FILE *out, const char *tool, const char *msg, int exit_status)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i}", "schema", "filmmark-error-1", "tool", tool,
                          "version", FM_VERSION, "error", msg, "exit_status", exit_status);
    if (o) {
        json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
        json_decref(o);
    }
}

int fm_spool_stdin(char *path, size_t len, FmError *err)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    if (snprintf(path, len, "%s/filmmark-stdin-XXXXXX", dir) >= (int)len)
        return fm_error_set(err, FM_EINVAL, "TMPDIR is too long");
    int fd = mkstemp(path);     /* 0600 */
    if (fd < 0)
        return fm_error_set(err, FM_EIO, "cannot make a file in %s for standard input: %s", dir,
                            strerror(errno));
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            unlink(path);
            return fm_error_set(err, FM_EIO, "cannot read standard input: %s", strerror(e));
        }
        if (n == 0)
            break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(fd, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                int e = errno;
                close(fd);
                unlink(path);
                return fm_error_set(err, FM_EIO, "cannot copy standard input to %s: %s", path,
                                    strerror(e));
            }
            done += w;
        }
    }
    if (close(fd) < 0) {
        unlink(path);
        return fm_error_set(err, FM_EIO, "cannot copy standard input to %s", path);
    }
    return 0;
}
