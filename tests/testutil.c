/*
 * testutil.c - small helpers shared by the Criterion tests.
 */
#define _XOPEN_SOURCE 700   /* nftw */
#include "testutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t n = strlen(base) + sizeof("/filmmark-test-XXXXXX");
    char *dir = malloc(n);
    if (!dir)
        abort();
    snprintf(dir, n, "%s/filmmark-test-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    return dir;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

void tu_rmtree(char *dir)
{
    if (!dir)
        return;
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

char *tu_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p)
        abort();
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int tu_read_file(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *bigger = realloc(buf, cap * 2 + 1);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return 0;
}

int tu_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return -1;
    int ok = fchmod(fd, mode) == 0 && write(fd, data, len) == (ssize_t)len;
    return close(fd) == 0 && ok ? 0 : -1;
}

/* ---- added for the watermark, false-alarm and CLI tests ---- */

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <sodium.h>

#include "keys.h"

void tu_rng_seed(TuRng *r, uint64_t seed)
{
    r->s = seed ^ 0x6a09e667f3bcc908ULL;
}

uint64_t tu_rng_u64(TuRng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double tu_rng_uniform(TuRng *r)
{
    return (double)(tu_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint32_t tu_rng_below(TuRng *r, uint32_t n)
{
    return n ? (uint32_t)(tu_rng_uniform(r) * n) : 0;
}

double tu_rng_gauss(TuRng *r)
{
    double u = tu_rng_uniform(r), v = tu_rng_uniform(r);
    return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

void tu_fixed_key(FmKey *key, uint32_t seed)
{
    uint8_t s[crypto_sign_SEEDBYTES] = { 0 }, wm[FM_WMKEY_BYTES];
    memcpy(s, "filmmark test key", 17);
    s[28] = (uint8_t)(seed >> 24);
    s[29] = (uint8_t)(seed >> 16);
    s[30] = (uint8_t)(seed >> 8);
    s[31] = (uint8_t)seed;
    sodium_memzero(key, sizeof(*key));
    if (crypto_sign_seed_keypair(key->sign_pk, key->sign_sk, s) != 0)
        abort();
    crypto_generichash(wm, sizeof wm, s, sizeof s, (const uint8_t *)"wm", 2);
    memcpy(key->wm_key, wm, sizeof wm);
    key->kind = FM_KEY_SECRET;
}

/* ---- synthetic luma ---- */

const char *tu_synth_name(int kind)
{
    static const char *const names[TU_SYNTH_KINDS] = {
        "textured", "noise", "static-noise", "gradient", "checker", "shapes",
        "bars", "zoneplate", "sines", "flat", "blocks",
    };
    return kind >= 0 && kind < TU_SYNTH_KINDS ? names[kind] : "?";
}

/* Parameters drawn from the seed, the same for every frame of a clip. */
typedef struct SynthParams {
    double a, b, c, d, e, f;
    int cell;
    int nshapes;
    double sx[12], sy[12], sr[12], svx[12], svy[12], sl[12];
    int srect[12];
} SynthParams;

static void synth_params(SynthParams *p, uint64_t seed, int w, int h)
{
    TuRng r;
    tu_rng_seed(&r, seed * 7919 + 17);
    p->a = tu_rng_uniform(&r);
    p->b = tu_rng_uniform(&r);
    p->c = tu_rng_uniform(&r);
    p->d = tu_rng_uniform(&r);
    p->e = tu_rng_uniform(&r);
    p->f = tu_rng_uniform(&r);
    static const int cells[] = { 1, 2, 3, 4, 5, 8, 12, 16, 24, 32, 40, 64 };
    p->cell = cells[tu_rng_below(&r, sizeof cells / sizeof cells[0])];
    p->nshapes = 3 + (int)tu_rng_below(&r, 10);
    for (int i = 0; i < p->nshapes; i++) {
        p->sx[i] = tu_rng_uniform(&r) * w;
        p->sy[i] = tu_rng_uniform(&r) * h;
        p->sr[i] = 4 + tu_rng_uniform(&r) * (w < h ? w : h) / 4;
        p->svx[i] = (tu_rng_uniform(&r) - 0.5) * 6;
        p->svy[i] = (tu_rng_uniform(&r) - 0.5) * 6;
        p->sl[i] = 16 + tu_rng_uniform(&r) * 220;
        p->srect[i] = (int)tu_rng_below(&r, 2);
    }
}

/* Value-noise-free cheap hash of (seed, x, y) to [0,1). */
static double hash01(uint64_t seed, int x, int y)
{
    uint64_t z = seed * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)(uint32_t)x << 32 | (uint32_t)y);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static double shapes_at(const SynthParams *p, int x, int y, int frame, double bg)
{
    double v = bg;
    for (int i = 0; i < p->nshapes; i++) {
        double cx = p->sx[i] + p->svx[i] * frame, cy = p->sy[i] + p->svy[i] * frame;
        double dx = x + 0.5 - cx, dy = y + 0.5 - cy, r = p->sr[i];
        int in = p->srect[i] ? fabs(dx) < r && fabs(dy) < 0.6 * r : dx * dx + dy * dy < r * r;
        if (in)
            v = p->sl[i];
    }
    return v;
}

void tu_synth_luma(uint8_t *plane, ptrdiff_t stride, int w, int h, int bit_depth, int kind,
                   uint64_t seed, int frame)
{
    SynthParams p;
    synth_params(&p, seed, w, h);
    TuRng r;
    tu_rng_seed(&r, seed * 1000003 + (uint64_t)frame * 7 + 1);
    double maxv = (double)((1 << bit_depth) - 1), scale = (double)(1 << (bit_depth - 8));
    double noise_sd = 2 + 10 * p.a;
    for (int y = 0; y < h; y++) {
        uint8_t *row8 = plane + (ptrdiff_t)y * stride;
        uint16_t *row16 = (uint16_t *)row8;
        for (int x = 0; x < w; x++) {
            double v = 128;
            switch (kind) {
            case TU_SYNTH_TEXTURED: {
                double g = 40 + 150 * ((double)x / w * (0.3 + p.b) + (double)y / h * (1 - p.b)) / 1.3;
                double tex = 18 * sin(x * (0.15 + 0.3 * p.c) + y * 0.07 + 6 * p.d) *
                             cos(y * (0.11 + 0.2 * p.e) - x * 0.05);
                tex += 25 * (hash01(seed, x / 3, y / 3) - 0.5);   /* static fine texture */
                v = shapes_at(&p, x, y, frame, g + tex);
                v += noise_sd * tu_rng_gauss(&r);
                break;
            }
            case TU_SYNTH_NOISE:
                v = 30 + 190 * p.b + (4 + 40 * p.a) * tu_rng_gauss(&r);
                break;
            case TU_SYNTH_STATIC_NOISE:
                v = 30 + 190 * p.b + (4 + 40 * p.a) * (hash01(seed, x, y) * 2 - 1) * 1.7;
                break;
            case TU_SYNTH_GRADIENT: {
                double ang = 2 * M_PI * p.c, t = frame * 0.01;
                double u = (x * cos(ang) + y * sin(ang)) / (w + h);
                v = 255 * fmod(fabs(u + t + p.d), 1.0);
                break;
            }
            case TU_SYNTH_CHECKER: {
                int c = p.cell, ox = (int)(frame * p.a * 2), oy = (int)(frame * p.b);
                int par = (((x + ox) / c) + ((y + oy) / c)) & 1;
                v = par ? 40 + 60 * p.c : 160 + 90 * p.d;
                break;
            }
            case TU_SYNTH_SHAPES:
                v = shapes_at(&p, x, y, frame, 60 + 100 * p.c);
                break;
            case TU_SYNTH_BARS: {
                static const double bars[8] = { 235, 210, 170, 145, 106, 81, 41, 16 };
                v = bars[(x * 8 / w) & 7];
                if (y > h * 3 / 4)
                    v = ((x / 8 + frame) & 1) ? 200 : 30;
                int bx = (int)(p.a * w + frame * 3) % w, by = (int)(p.b * h);
                if (x >= bx && x < bx + w / 6 && y >= by && y < by + h / 6)
                    v = 255 - v;
                break;
            }
            case TU_SYNTH_ZONEPLATE: {
                double cx = x - w / 2.0, cy = y - h / 2.0;
                double k = (0.2 + p.a) * M_PI / (w > h ? w : h);
                v = 128 + 110 * cos(k * (cx * cx + cy * cy) + frame * 0.3 + p.b * 6);
                break;
            }
            case TU_SYNTH_SINES:
                v = 128 + 40 * sin(x * (0.02 + 0.6 * p.a) + frame * 0.1) +
                    40 * sin(y * (0.02 + 0.6 * p.b) - frame * 0.05) +
                    30 * sin((x + y) * (0.05 + 0.8 * p.c) + p.d * 6);
                break;
            case TU_SYNTH_FLAT:
                v = 8 + 40 * p.a + 0.7 * tu_rng_gauss(&r);
                break;
            case TU_SYNTH_BLOCKS: {
                int c = p.cell < 8 ? 8 : 16;
                v = 16 + 220 * hash01(seed + 99, x / c, y / c);
                break;
            }
            default:
                break;
            }
            v *= scale;
            v = v < 0 ? 0 : v > maxv ? maxv : v;
            if (bit_depth == 8)
                row8[x] = (uint8_t)lrint(v);
            else
                row16[x] = (uint16_t)lrint(v);
        }
    }
}

/* ---- running programs ---- */

static void drain(int fd, char **buf, size_t *len, size_t *cap, int *open_)
{
    if (*len + 4096 + 1 > *cap) {
        *cap = (*cap ? *cap * 2 : 8192) + 4096;
        *buf = realloc(*buf, *cap);
        if (!*buf)
            abort();
    }
    ssize_t n = read(fd, *buf + *len, *cap - *len - 1);
    if (n > 0)
        *len += (size_t)n;
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        *open_ = 0;
}

int tu_run(const char *const argv[], char **out, char **err)
{
    return tu_run_limited(argv, out, err, -1);
}

int tu_run_limited(const char *const argv[], char **out, char **err, long max_file_bytes)
{
    int po[2], pe[2];
    if (pipe(po) != 0 || pipe(pe) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        close(po[1]);
        close(pe[1]);
        if (max_file_bytes >= 0) {
            struct rlimit rl = { (rlim_t)max_file_bytes, (rlim_t)max_file_bytes };
            signal(SIGXFSZ, SIG_IGN);   /* writes past the limit fail with EFBIG */
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    char *bo = NULL, *be = NULL;
    size_t lo = 0, le = 0, co = 0, ce = 0;
    int oo = 1, oe = 1;
    while (oo || oe) {
        struct pollfd fds[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (oo && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            drain(po[0], &bo, &lo, &co, &oo);
        if (oe && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            drain(pe[0], &be, &le, &ce, &oe);
        if (!oo)
            fds[0].fd = -1;
        if (!oe)
            fds[1].fd = -1;
    }
    close(po[0]);
    close(pe[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!bo && !(bo = calloc(1, 1)))
        abort();
    if (!be && !(be = calloc(1, 1)))
        abort();
    bo[lo] = '\0';
    be[le] = '\0';
    if (out)
        *out = bo;
    else
        free(bo);
    if (err)
        *err = be;
    else
        free(be);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int tu_sh(const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return -1;
    fflush(stdout);
    fflush(stderr);
    int st = system(cmd);
    if (st == -1)
        return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int tu_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

int tu_count_lines(const char *s)
{
    int n = 0;
    const char *p = s;
    for (; *p; p++)
        if (*p == '\n')
            n++;
    if (p > s && p[-1] != '\n')
        n++;
    return n;
}

TuRunResult tu_run_va(const char *prog, va_list ap)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = prog;
    const char *a;
    while (n < 63 && (a = va_arg(ap, const char *)))
        argv[n++] = a;
    argv[n] = NULL;
    TuRunResult r = { 0, NULL, NULL };
    r.rc = tu_run(argv, &r.out, &r.err);
    return r;
}

void tu_run_result_free(TuRunResult *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

#include "payload.h"
#include "video_io.h"

uint8_t **tu_sample_luma(int n, int cw, int ch, int *w, int *h)
{
    FmVideoReader *r = NULL;
    FmError err = { { 0 } };
    if (fm_reader_open(&r, FM_SOURCE_DIR "/samples/sample.mkv", &err) != 0) {
        fprintf(stderr, "tu_sample_luma: %s\n", err.msg);
        abort();
    }
    const FmVideoInfo *info = fm_reader_info(r);
    if (cw <= 0 || ch <= 0) {
        cw = info->width;
        ch = info->height;
    }
    if (info->bit_depth != 8 || cw > info->width || ch > info->height) {
        fprintf(stderr, "tu_sample_luma: the sample is not 8-bit or smaller than %dx%d\n", cw,
                ch);
        abort();
    }
    int x0 = (info->width - cw) / 2, y0 = (info->height - ch) / 2;
    uint8_t **planes = calloc((size_t)n, sizeof(*planes));
    if (!planes)
        abort();
    AVFrame *f;
    for (int i = 0; i < n; i++) {
        if (fm_reader_next(r, &f, &err) != 1) {
            fprintf(stderr, "tu_sample_luma: frame %d: %s\n", i, err.msg);
            abort();
        }
        if (!(planes[i] = malloc((size_t)cw * ch)))
            abort();
        for (int y = 0; y < ch; y++)
            memcpy(planes[i] + (size_t)y * cw,
                   f->data[0] + (ptrdiff_t)(y + y0) * f->linesize[0] + x0, (size_t)cw);
    }
    fm_reader_close(&r);
    if (w)
        *w = cw;
    if (h)
        *h = ch;
    return planes;
}

void tu_free_planes(uint8_t **planes, int n)
{
    for (int i = 0; planes && i < n; i++)
        free(planes[i]);
    free(planes);
}

struct FmKey *tu_signed_message(uint32_t seed, uint32_t title_id, uint32_t recipient_id,
                                struct FmPayload *payload, uint8_t *message)
{
    FmError err = { { 0 } };
    FmKey *key = NULL;
    if (fm_init(&err) != 0 || !(key = fm_key_new())) {
        fprintf(stderr, "tu_signed_message: %s\n", err.msg);
        abort();
    }
    tu_fixed_key(key, seed);
    *payload = (FmPayload){ .version = FM_PAYLOAD_VERSION, .title_id = title_id,
                            .recipient_id = recipient_id, .issued_minutes = 29000000u };
    if (fm_payload_sign(payload, key, message, &err) != 0) {
        fprintf(stderr, "tu_signed_message: %s\n", err.msg);
        abort();
    }
    return key;
}

void tu_random_bits(TuRng *r, uint8_t *bits, int n)
{
    for (int i = 0; i < n; i++)
        bits[i] = (uint8_t)(tu_rng_u64(r) >> 63);
}

void tu_bits_to_soft(const uint8_t *coded, int n, float amp, float *soft)
{
    for (int i = 0; i < n; i++)
        soft[i] = coded[i] ? amp : -amp;
}

int tu_count_diff(const uint8_t *a, const uint8_t *b, int n)
{
    int d = 0;
    for (int i = 0; i < n; i++)
        d += a[i] != b[i];
    return d;
}
