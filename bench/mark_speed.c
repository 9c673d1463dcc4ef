/*
 * mark_speed.c - speed of the library's per-frame work alone, on frames in
 * memory (no decoder, no encoder): fm_embedder_mark (the mark stage, with and
 * without the quality measure wmembed asks for) and fm_accumulator_add (the
 * detector's per-frame work).
 *
 *   mark_speed [--size WxH] [--bit-depth N] [--threads N] [--seconds S]
 *              [--repeat N] [--only mark+quality|mark|detect] [--json]
 *              [--frames FILE.y4m] [--no-fill]
 *
 * --threads 0 uses all online cores (the library's default); the default
 * here is 1, the per-core figure.
 *
 * Frames are synthetic (gradient, texture and noise), 8 distinct ones
 * cycled, or with --frames the first 24 pictures of a real clip (their luma,
 * from a y4m stream: `ffmpeg -i clip -frames:v 24 -f yuv4mpegpipe -`),
 * their times 1/24 s apart so that epochs change as in a film. --no-fill
 * marks without the fill (fm_embedder_set_fill), as wmembed --no-fill. The
 * content matters a little: a frame marked at the fill's gain after one that
 * was is marked in one pass, one over the PSNR cap or under the SSIM floor
 * in two or more (embedder.c). Each measurement
 * marks frames for at least S seconds (default 1) and is repeated N times
 * (default 3); the fastest repeat is kept (the machine may be shared).
 * Both the wall-clock time and the process CPU time of the calls are
 * measured: fps/core is frames per CPU-second (all threads), the figure that
 * does not depend on other load on the machine; fps is frames per
 * wall-clock second.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accumulator.h"
#include "embedder.h"
#include "keys.h"

#define NFRAMES 8       /* synthetic */
#define NFRAMES_Y4M 24  /* read from a clip */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct Timing {
    double wall, cpu;  /* seconds per frame, fastest repeat of each */
} Timing;

/* Reads and drops `n` bytes (a pipe cannot seek). */
static int skip_bytes(FILE *f, size_t n)
{
    char buf[65536];
    while (n) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        if (fread(buf, 1, k, f) != k)
            return 0;
        n -= k;
    }
    return 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mark_speed [--size WxH] [--bit-depth N] [--threads N] [--seconds S]\n"
               "                  [--repeat N] [--only mark+quality|mark|detect] [--json]\n"
               "                  [--frames FILE.y4m] [--no-fill]\n");
}

/* The luma of the first `max` pictures of a y4m stream; its size and depth
 * out. Returns the number read (0 with a message on failure). */
static int read_y4m(const char *path, uint8_t **frames, int max, int *w, int *h, int *bd)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "mark_speed: %s: %s\n", path, strerror(errno));
        return 0;
    }
    char line[512];
    int n = 0, cw = 2, ch = 2, mono = 0;
    *w = *h = 0;
    *bd = 8;
    if (!fgets(line, sizeof line, f) || strncmp(line, "YUV4MPEG2 ", 10)) {
        fprintf(stderr, "mark_speed: %s: not a y4m stream\n", path);
        goto done;
    }
    for (char *tok = strtok(line + 10, " \n"); tok; tok = strtok(NULL, " \n")) {
        if (tok[0] == 'W')
            *w = atoi(tok + 1);
        else if (tok[0] == 'H')
            *h = atoi(tok + 1);
        else if (tok[0] == 'C') {
            const char *c = tok + 1;
            cw = !strncmp(c, "444", 3) ? 1 : 2;
            ch = !strncmp(c, "420", 3) ? 2 : 1;
            mono = !strncmp(c, "mono", 4);
            const char *p = strchr(c, 'p');
            if (p && p[1] >= '0' && p[1] <= '9')
                *bd = atoi(p + 1);
            else if (mono && c[4] >= '0' && c[4] <= '9')
                *bd = atoi(c + 4);
        }
    }
    if (*w < 16 || *h < 16 || *w > 8192 || *h > 8192 || *bd < 8 || *bd > 16) {
        fprintf(stderr, "mark_speed: %s: unsupported y4m header\n", path);
        goto done;
    }
    size_t bps = *bd > 8 ? 2 : 1, luma = (size_t)*w * *h * bps;
    size_t chroma = mono ? 0 : 2 * (size_t)((*w + cw - 1) / cw) * ((*h + ch - 1) / ch) * bps;
    for (; n < max; n++) {
        if (!fgets(line, sizeof line, f) || strncmp(line, "FRAME", 5))
            break;
        frames[n] = malloc(luma);
        if (!frames[n] || fread(frames[n], 1, luma, f) != luma ||
            (chroma && fseek(f, (long)chroma, SEEK_CUR) < 0 &&
             !(errno == ESPIPE && skip_bytes(f, chroma)))) {
            free(frames[n]);
            break;
        }
    }
    if (!n)
        fprintf(stderr, "mark_speed: %s: no picture read\n", path);
done:
    if (f != stdin)
        fclose(f);
    return n;
}

static void make_frames(uint8_t **frames, int w, int h, int bd)
{
    uint64_t s = 0x9E3779B97F4A7C15ull;
    int maxv = (1 << bd) - 1;
    for (int f = 0; f < NFRAMES; f++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                double v = 30 + 160.0 * x / w + 30 * sin((x + 3 * f) * 0.09) * cos(y * 0.07) +
                           (double)((s >> 33) % 13) - 6;
                int q = (int)lrint(v * (1 << (bd - 8)));
                q = q < 0 ? 0 : q > maxv ? maxv : q;
                if (bd == 8)
                    frames[f][(size_t)y * w + x] = (uint8_t)q;
                else
                    ((uint16_t *)frames[f])[(size_t)y * w + x] = (uint16_t)q;
            }
}

typedef enum { MARK_QUALITY, MARK_ONLY, DETECT } Kind;

static int no_fill;  /* --no-fill */

/* Fastest of `repeat` runs of at least `seconds` each: seconds per frame. */
static int measure(Kind kind, uint8_t **frames, int nframes, int w, int h, int bd, int threads,
                   double seconds, int repeat, Timing *out, FmError *err)
{
    uint8_t wm_key[FM_WMKEY_BYTES], message[FM_MESSAGE_BYTES];
    memset(wm_key, 0x5A, sizeof wm_key);
    memset(message, 0x3C, sizeof message);
    size_t bytes = (size_t)w * h * (bd > 8 ? 2 : 1);
    uint8_t *work = malloc(bytes);
    double best = INFINITY, best_cpu = INFINITY;
    if (!work)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    for (int r = 0; r < repeat; r++) {
        FmEmbedder *emb = NULL;
        FmAccumulator acc;
        int ret;
        if (kind == DETECT) {
            ret = fm_accumulator_init(&acc, w, h, err);
            if (ret == 0 && threads)
                fm_accumulator_set_threads(&acc, threads);
        } else {
            ret = fm_embedder_new(&emb, wm_key, message, w, h, 1.0, err);
            if (ret == 0 && threads)
                fm_embedder_set_threads(emb, threads);
            if (ret == 0 && no_fill)
                fm_embedder_set_fill(emb, 0);
        }
        if (ret < 0) {
            free(work);
            return -1;
        }
        long n = 0;
        double t0 = now(), busy = 0, cpu = 0;
        /* warm-up frame (first epoch set-up) not timed */
        for (;; n++) {
            const uint8_t *src = frames[n % nframes];
            memcpy(work, src, bytes);  /* the frame as the decoder would hand it over */
            double t = n / 24.0, a = now(), ac = cpu_now();
            if (kind == DETECT)
                ret = fm_accumulator_add(&acc, work, (ptrdiff_t)w * (bd > 8 ? 2 : 1), bd, t, err);
            else {
                FmFrameQuality q;
                ret = fm_embedder_mark(emb, work, (ptrdiff_t)w * (bd > 8 ? 2 : 1), bd, t,
                                       kind == MARK_QUALITY ? &q : NULL, err);
            }
            if (ret < 0)
                break;
            if (n > 0) {
                busy += now() - a;
                cpu += cpu_now() - ac;
            }
            if (n >= 4 && now() - t0 >= seconds)
                break;
        }
        if (kind == DETECT)
            fm_accumulator_free(&acc);
        else
            fm_embedder_free(&emb);
        if (ret < 0) {
            free(work);
            return -1;
        }
        if (busy / n < best)
            best = busy / n;
        if (cpu / n < best_cpu)
            best_cpu = cpu / n;
    }
    free(work);
    out->wall = best;
    out->cpu = best_cpu;
    return 0;
}

int main(int argc, char **argv)
{
    int w = 1920, h = 1080, bd = 8, threads = 1, repeat = 3, json = 0, only = -1;
    static const char *names[] = { "mark+quality", "mark", "detect" };
    double seconds = 1.0;
    const char *y4m = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--no-fill")) {
            no_fill = 1;
        } else if (v && !strcmp(a, "--size")) {
            if (sscanf(v, "%dx%d", &w, &h) != 2) {
                fprintf(stderr, "mark_speed: --size wants WxH\n");
                return 2;
            }
            i++;
        } else if (v && !strcmp(a, "--bit-depth")) {
            bd = atoi(v);
            i++;
        } else if (v && !strcmp(a, "--threads")) {
            threads = atoi(v);
            i++;
        } else if (v && !strcmp(a, "--seconds")) {
            seconds = atof(v);
            i++;
        } else if (v && !strcmp(a, "--only")) {
            for (int k = 0; k < 3; k++)
                if (!strcmp(v, names[k]))
                    only = k;
            if (only < 0) {
                fprintf(stderr, "mark_speed: --only wants mark+quality, mark or detect\n");
                return 2;
            }
            i++;
        } else if (v && !strcmp(a, "--frames")) {
            y4m = v;
            i++;
        } else if (v && !strcmp(a, "--repeat")) {
            repeat = atoi(v);
            i++;
        } else {
            fprintf(stderr, "mark_speed: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (w < 16 || h < 16 || w > 8192 || h > 8192 || bd < 8 || bd > 16 || threads < 0 ||
        threads > 256 || repeat < 1 || !(seconds > 0)) {
        fprintf(stderr, "mark_speed: argument out of range\n");
        return 2;
    }
    FmError err = { { 0 } };
    if (fm_init(&err) < 0) {
        fprintf(stderr, "mark_speed: %s\n", err.msg);
        return 1;
    }
    uint8_t *frames[NFRAMES_Y4M] = { NULL };
    int nframes = NFRAMES;
    if (y4m) {
        nframes = read_y4m(y4m, frames, NFRAMES_Y4M, &w, &h, &bd);
        if (!nframes)
            return 1;
    } else {
        for (int f = 0; f < NFRAMES; f++) {
            frames[f] = malloc((size_t)w * h * 2);
            if (!frames[f]) {
                fprintf(stderr, "mark_speed: out of memory\n");
                return 1;
            }
        }
        make_frames(frames, w, h, bd);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int used = threads ? threads : (int)(cores > 0 ? cores : 1);
    Timing per[3];
    for (int k = 0; k < 3; k++) {
        if (only >= 0 && k != only)
            continue;
        if (measure((Kind)k, frames, nframes, w, h, bd, threads, seconds, repeat, &per[k], &err) < 0) {
            fprintf(stderr, "mark_speed: %s\n", err.msg);
            return 1;
        }
    }
    if (json) {
        printf("{\"width\": %d, \"height\": %d, \"bit_depth\": %d, \"threads\": %d", w, h, bd, used);
        for (int k = 0; k < 3; k++)
            if (only < 0 || k == only)
            printf(", \"%s_wall_ms\": %.3f, \"%s_cpu_ms\": %.3f, \"%s_fps\": %.1f, "
                   "\"%s_fps_per_core\": %.1f", names[k], per[k].wall * 1e3, names[k],
                   per[k].cpu * 1e3, names[k], 1 / per[k].wall, names[k], 1 / per[k].cpu);
        printf("}\n");
    } else {
        for (int k = 0; k < 3; k++)
            if (only < 0 || k == only)
            printf("%dx%d %d-bit %-12s threads %d: %7.2f ms wall %7.2f ms CPU a frame: "
                   "%7.1f fps, %7.1f fps/core\n", w, h, bd, names[k], used, per[k].wall * 1e3,
                   per[k].cpu * 1e3, 1 / per[k].wall, 1 / per[k].cpu);
    }
    for (int f = 0; f < nframes; f++)
        free(frames[f]);
    return 0;
}
