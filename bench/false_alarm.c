/*
 * false_alarm - benchmark: is the false-alarm probability that fm_detect
 * reports honest? (docs/DESIGN.md section 6; driver: bench/false_alarm.sh,
 * results: bench/results/false_alarm.md)
 *
 * For an unmarked segment, the pilot z under each single hypothesis (first
 * epoch x phase) is claimed N(0,1); the detector reports
 * p = Q(z_best) x hypotheses. Over many unmarked segments and random keys
 * the fraction with p <= a must then be at most a (Bonferroni), about
 * 1 - exp(-a) when the hypotheses are nearly independent, and z_best of one
 * stretch must follow the maximum of 16384 N(0,1): P(max <= z) = Phi(z)^16384.
 *
 *   false_alarm run --manifest FILE --segments N [--first I] [--workers W]
 *                   [--full-every K] [--keys K] [--seed S] --out PREFIX
 *       Writes one TSV line per segment and key to PREFIX.wK (K = worker;
 *       the workers take the next segment as they come free).
 *   false_alarm mark W H FPS KEYSEED [FIRST COUNT] < in.gray > out.gray
 *       Marks raw 8-bit gray frames with the key made from KEYSEED (for the
 *       "marked with another key" sources).
 *   false_alarm detect W H FPS KEYSEED [FIRST COUNT STEP] < in.gray
 *       fm_detect() with that key (checks that a marked source has its mark).
 *
 * Manifest: one source per line, "name kind W H FPS path [markseed]", kind
 * real | x264 | marked; raw 8-bit gray frames, W x H each. Synthetic
 * segments (noise, gradients, flat, textures, blocks, pans) are made here.
 *
 * Each segment (a function of --seed and its index alone) is accumulated
 * with FmAccumulator and analysed with a key of its own (random, from the
 * seed and index):
 *   - every segment: the nominal-grid statistic, computed here from the
 *     accumulator's windows exactly as detector.c's analyse_windows() does
 *     (stretches of 20 windows, 4 phases x 4096 first epochs, best z,
 *     p = Q(z) x 16384 x stretches). fm_detect() always goes on to the
 *     geometry search and the list decoder on an unmarked clip (~0.3 s more
 *     per segment), too slow for 10^4 segments on 2 cores;
 *   - every --full-every'th segment: fm_detect() itself (nominal grid, then
 *     the geometry search; found, signature_valid, the path reported). Where
 *     fm_detect reports the nominal grid, its pilot_z must equal the
 *     statistic computed here (the report checks this);
 *   - marked-with-another-key segments in the full subset: also
 *     fm_detect() with the marking key, to show the mark is really there.
 *
 * Keys are throwaway benchmark keys derived from seeds (plain memory, not
 * sodium's guarded pages). Output columns: see HEADER below.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accumulator.h"
#include "cell_view.h"
#include "detector.h"
#include "embedder.h"
#include "keys.h"
#include "pattern.h"
#include "payload.h"

/* as in detector.c */
#define PHASES 4
#define SEG_WINDOWS 20
#define MAX_GROUPS ((SEG_WINDOWS + PHASES - 1) / PHASES + 1)

#define HEADER                                                                              \
    "idx\tkey_rank\tkind\tsource\tw\th\tfps\tstart_s\tdur_s\tframes\tkey_seed\t"               \
    "nom_z\tnom_log10p\tnom_hyp\tnom_stretches\t"                                            \
    "full\tpilot_z\tfalse_alarm_log10\thypotheses\tfound\tsignature_valid\tsearched\t"       \
    "own_checked\town_z\town_log10p\town_found\town_sig\tacc_ms\tnom_ms\tfull_ms\tcrop\t"     \
    "signs_log10p\n"

enum { K_REAL, K_X264, K_MARKED, K_SYNTH, K_COUNT };
static const char *const kind_names[K_COUNT] = { "real", "x264", "marked", "synth" };

typedef struct Src {
    char name[64];
    int kind, w, h;
    double fps;
    long frames;
    const uint8_t *data;
    uint64_t markseed;
} Src;

static Src srcs[64];
static int nsrc;

/* ---- small helpers ---- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double urand(uint64_t *s) { return (splitmix(s) >> 11) * (1.0 / 9007199254740992.0); }

static int irand(uint64_t *s, int n) { return (int)(urand(s) * n); }

/* About N(0,1), cheaply: the sum of four random bytes, centred and scaled
 * (for picture noise, not for statistics). */
static double gauss(uint64_t *s)
{
    uint64_t x = splitmix(s);
    int sum = (int)(x & 255) + (int)((x >> 8) & 255) + (int)((x >> 16) & 255) + (int)(x >> 24 & 255);
    return (sum - 510) * (1.0 / 147.8);
}

static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static double wall_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* A benchmark key from a seed: Ed25519 pair from the seed, watermark key a
 * hash of it (never a real key). */
static void make_key(FmKey *key, uint64_t seed)
{
    uint8_t s[crypto_sign_SEEDBYTES] = { 0 };
    memcpy(s, "filmmark fa-bench", 17);
    for (int i = 0; i < 8; i++)
        s[24 + i] = (uint8_t)(seed >> (8 * i));
    memset(key, 0, sizeof(*key));
    if (crypto_sign_seed_keypair(key->sign_pk, key->sign_sk, s) != 0)
        abort();
    crypto_generichash(key->wm_key, sizeof key->wm_key, s, sizeof s, (const uint8_t *)"wm", 2);
    key->kind = FM_KEY_SECRET;
}

/* ---- the nominal-grid statistic, as detector.c computes it ----
 * (its band normalisation is the library's, fm_cell_view_normalise, and so is
 * the 0.5 front end's temporal host prediction removed from each window,
 * fm_window_predict with beta from fm_window_predict_fit; the stretch
 * search is detector.c's search_stretch() without the runners-up it keeps
 * for naming, which is static there and works on its own Detector) */

typedef struct Nominal {
    FmEpochPilot *pilots;
    FmCellView cv;               /* format 7: the windows' cells (cell_view.h) */
    float *groups;               /* MAX_GROUPS x fm_cell_view_floats: lanes */
    float *genergy;              /* MAX_GROUPS x FM_SLOTS */
    int group_frames[MAX_GROUPS];
    double *corr, *energy;
    float **v;                   /* the windows' slots (NULL: empty), nwin of them */
    int nwin, vcap;
    float beta[FM_NCOEF];
    float *pred;                 /* FM_SLOTS a cell */
} Nominal;

static int make_groups(Nominal *d, const FmAccumulator *acc, int w0, int w1, int phase)
{
    int ng = (w1 - 1 - w0 + phase) / PHASES + 1;
    size_t len = (size_t)fm_cell_view_floats(&d->cv);
    memset(d->groups, 0, sizeof(float) * len * (size_t)ng);
    memset(d->group_frames, 0, sizeof(d->group_frames));
    for (int w = w0; w < w1; w++) {
        if (!acc->win[w].frames)
            continue;
        int g = (w - w0 + phase) / PHASES;
        float *u = d->groups + (size_t)g * len;
        fm_cell_view_add(&d->cv, acc->win[w].slots, 1.0f, u);
        if (fm_window_predict(acc, d->v, d->nwin, acc->nslots, w, d->pred)) {
            for (int k = 0; k < acc->nslots; k++)
                d->pred[k] *= d->beta[k % FM_NCOEF];
            fm_cell_view_add(&d->cv, d->pred, -1.0f, u);
        }
        d->group_frames[g] += (int)acc->win[w].frames;
    }
    for (int g = 0; g < ng; g++)
        fm_cell_view_normalise(&d->cv, d->groups + (size_t)g * len,
                               d->genergy + (size_t)g * FM_SLOTS);
    return ng;
}

/* Also *signs_lp: the per-epoch-sign statistic's best single-hypothesis
 * log10 tail (the sum of the groups' squared z, chi-squared). */
static double search_stretch(Nominal *d, const FmAccumulator *acc, int w0, int w1,
                             double *signs_lp)
{
    double best = -INFINITY;
    *signs_lp = 0;
    for (int phase = 0; phase < PHASES; phase++) {
        int ng = make_groups(d, acc, w0, w1, phase), dof = 0;
        double chi_best = 0;
        for (int g = 0; g < ng; g++)
            dof += d->group_frames[g] > 0;
        for (int g = 0; g < ng; g++) {
            double *corr = d->corr + (size_t)g * FM_EPOCHS, *en = d->energy + (size_t)g * FM_EPOCHS;
            const float *u = d->groups + (size_t)g * fm_cell_view_floats(&d->cv);
            if (!d->group_frames[g]) {
                memset(corr, 0, sizeof(double) * FM_EPOCHS);
                memset(en, 0, sizeof(double) * FM_EPOCHS);
                continue;
            }
            for (int n = 0; n < FM_EPOCHS; n++)
                fm_cell_view_pilot(&d->cv, u, d->genergy + (size_t)g * FM_SLOTS, &d->pilots[n],
                                   &corr[n], &en[n]);
        }
        for (uint32_t n0 = 0; n0 < FM_EPOCHS; n0++) {
            double s = 0, q = 0, chi = 0;
            for (int g = 0; g < ng; g++) {
                uint32_t n = (n0 + (uint32_t)g) % FM_EPOCHS;
                double cg = d->corr[(size_t)g * FM_EPOCHS + n], eg = d->energy[(size_t)g * FM_EPOCHS + n];
                s += cg;
                q += eg;
                if (eg > 0)
                    chi += cg * cg / eg;
            }
            double z = q > 0 ? s / sqrt(q) : 0;
            if (z > best)
                best = z;
            if (chi > chi_best)
                chi_best = chi;
        }
        double lp = dof ? fm_chi2_tail_log10(chi_best, dof) : 0;
        if (lp < *signs_lp)
            *signs_lp = lp;
    }
    return isfinite(best) ? best : 0;
}

/* z of the best stretch, log10 p, hypotheses, stretches (keys tried: 1). */
static void nominal_detect(Nominal *d, const FmAccumulator *acc, const FmKey *key, double *z,
                           double *lp, double *hyp, int *nstretch, double *signs_lp)
{
    FmPatternKeys pk;
    fm_pattern_keys_init(&pk, key->wm_key);
    for (uint32_t n = 0; n < FM_EPOCHS; n++)
        fm_epoch_pilot(&pk, n, &d->pilots[n]);
    fm_pattern_keys_wipe(&pk);
    int used = 0;
    for (int w = 0; w < acc->nwin; w++)
        used = acc->win[w].frames ? w + 1 : used;
    int nseg = (used + SEG_WINDOWS - 1) / SEG_WINDOWS;
    if (acc->nwin > d->vcap) {
        free(d->v);
        d->vcap = acc->nwin;
        d->v = malloc(sizeof(*d->v) * (size_t)d->vcap);
        if (!d->v) {
            perror("false_alarm");
            _exit(3);
        }
    }
    for (int w = 0; w < acc->nwin; w++)
        d->v[w] = acc->win[w].frames ? acc->win[w].slots : NULL;
    d->nwin = acc->nwin;
    fm_cell_view_init(&d->cv, acc->cells, 0, 0);
    fm_window_predict_fit(acc, d->v, d->nwin, acc->nslots, d->pred, d->beta);
    double best = -INFINITY, best_signs = 0;
    for (int s = 0; s < nseg; s++) {
        double ls;
        double zs = search_stretch(d, acc, (int)((long)used * s / nseg),
                                   (int)((long)used * (s + 1) / nseg), &ls);
        if (zs > best)
            best = zs;
        if (ls < best_signs)
            best_signs = ls;
    }
    *z = best;
    *hyp = (double)nseg * FM_EPOCHS * PHASES;
    double l = fm_gauss_tail_log10(best) + log10(*hyp);
    *lp = l > 0 ? 0 : l;
    *nstretch = nseg;
    /* detector.c counts both statistics' hypotheses for this one */
    l = best_signs + log10(2 * *hyp);
    *signs_lp = l > 0 ? 0 : l;
}

/* ---- segments ---- */

typedef struct Seg {
    int idx, kind, src;        /* src: index in srcs, or synthetic kind */
    char name[64];
    int w, h;                  /* picture size of the segment */
    int x0, y0;                /* crop origin in the source */
    long start;                /* first source frame */
    int step;                  /* source frames per segment frame */
    int frames;
    double fps;                /* segment frame rate */
    /* synthetic */
    uint64_t sseed;
    double sp[8];
} Seg;

enum { S_NOISE, S_STATIC_NOISE, S_GRADIENT, S_FLAT, S_FLAT_DITHER, S_TEXTURE, S_BLOCKS,
       S_PAN, S_KINDS };
static const char *const synth_names[S_KINDS] = { "noise", "static-noise", "gradient", "flat",
                                                  "flat-dither", "texture", "blocks", "pan" };

static const int synth_sizes[][2] = { { 320, 180 }, { 480, 270 }, { 400, 300 }, { 240, 240 },
                                      { 426, 240 }, { 180, 320 }, { 512, 214 }, { 200, 150 },
                                      { 352, 288 }, { 640, 360 } };
#define NSYNTH_SIZES (int)(sizeof synth_sizes / sizeof synth_sizes[0])

/* aspect ratios of the crops taken from real sources */
static const double crop_aspects[] = { 1.0, 4.0 / 3, 2.39, 9.0 / 16, 1.5, 1.85, 2.0 };
#define NASPECTS (int)(sizeof crop_aspects / sizeof crop_aspects[0])

static int pick_src(uint64_t *r, int kind)
{
    int cand[64], n = 0;
    for (int i = 0; i < nsrc; i++)
        if (srcs[i].kind == kind)
            cand[n++] = i;
    return n ? cand[irand(r, n)] : -1;
}

/* Segment idx, from the seed and its index alone. */
static void make_segment(uint64_t seed, int idx, Seg *s)
{
    uint64_t r = seed * 0x100000001b3ULL + (uint64_t)idx * 0x9e3779b97f4a7c15ULL + 12345;
    memset(s, 0, sizeof(*s));
    s->idx = idx;
    double u = urand(&r);
    int kind = u < 0.55 ? K_REAL : u < 0.67 ? K_X264 : u < 0.80 ? K_MARKED : K_SYNTH;
    int src = kind == K_SYNTH ? -1 : pick_src(&r, kind);
    if (kind != K_SYNTH && src < 0) {
        kind = K_REAL;
        src = pick_src(&r, K_REAL);
        if (src < 0)
            kind = K_SYNTH;
    }
    s->kind = kind;
    double dur = 2 + 8 * urand(&r);
    if (kind == K_SYNTH) {
        int sk = irand(&r, S_KINDS);
        s->src = sk;
        snprintf(s->name, sizeof s->name, "%s", synth_names[sk]);
        int z = irand(&r, NSYNTH_SIZES);
        s->w = synth_sizes[z][0];
        s->h = synth_sizes[z][1];
        static const double rates[] = { 6, 8, 10, 12, 12.5, 24 };
        s->fps = rates[irand(&r, 6)];
        s->step = 1;
        s->frames = (int)(dur * s->fps);
        s->sseed = splitmix(&r);
        for (int i = 0; i < 8; i++)
            s->sp[i] = urand(&r);
        return;
    }
    const Src *c = &srcs[src];
    s->src = src;
    snprintf(s->name, sizeof s->name, "%s", c->name);
    /* frame-rate divisor: mostly 2-4, to keep the frame count (the
     * accumulation's cost) down; the null distribution does not depend on it */
    double v = urand(&r);
    s->step = c->fps <= 12 ? (v < 0.5 ? 1 : 2) : v < 0.15 ? 1 : v < 0.4 ? 2 : v < 0.7 ? 3 : 4;
    s->fps = c->fps / s->step;
    s->frames = (int)(dur * s->fps);
    long maxspan = (long)(s->frames - 1) * s->step + 1;
    if (maxspan > c->frames) {
        s->frames = (int)((c->frames - 1) / s->step + 1);
        maxspan = (long)(s->frames - 1) * s->step + 1;
    }
    s->start = (long)(urand(&r) * (double)(c->frames - maxspan + 1));
    if (s->start > c->frames - maxspan)
        s->start = c->frames - maxspan;
    /* a third are crops of another aspect ratio */
    s->w = c->w;
    s->h = c->h;
    if (urand(&r) < 0.35) {
        double a = crop_aspects[irand(&r, NASPECTS)];
        int w = c->w, h = (int)(c->w / a);
        if (h > c->h) {
            h = c->h;
            w = (int)(c->h * a);
        }
        double f = 0.5 + 0.5 * urand(&r);
        w = (int)(w * f) & ~1;
        h = (int)(h * f) & ~1;
        if (w < 64)
            w = 64;
        if (h < 64)
            h = 64;
        s->w = w;
        s->h = h;
        s->x0 = irand(&r, c->w - w + 1);
        s->y0 = irand(&r, c->h - h + 1);
    }
}

/* One synthetic frame (8-bit). */
static void synth_frame(const Seg *s, int i, uint8_t *buf)
{
    uint64_t r = s->sseed ^ ((uint64_t)i * 0xd1b54a32d192ed03ULL);
    uint64_t rs = s->sseed;   /* static per segment */
    const double *p = s->sp;
    int w = s->w, h = s->h;
    double t = i / s->fps;
    switch (s->src) {
    case S_NOISE: {
        double m = 40 + 170 * p[0], sd = 2 + 40 * p[1];
        for (int k = 0; k < w * h; k++) {
            double v = m + sd * gauss(&r);
            buf[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        break;
    }
    case S_STATIC_NOISE: {
        double m = 40 + 170 * p[0], sd = 5 + 40 * p[1], tn = 0.5 + 3 * p[2];
        for (int k = 0; k < w * h; k++) {
            double v = m + sd * gauss(&rs) + tn * gauss(&r);
            buf[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        break;
    }
    case S_GRADIENT: {
        double gx = (p[0] - 0.5) * 300, gy = (p[1] - 0.5) * 300, drift = (p[2] - 0.5) * 40;
        double tn = p[3] * 2;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double v = 128 + gx * ((double)x / w - 0.5) + gy * ((double)y / h - 0.5) +
                           drift * t + tn * gauss(&r);
                buf[(size_t)y * w + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
            }
        break;
    }
    case S_FLAT:
        memset(buf, (int)(16 + 220 * p[0]), (size_t)w * h);
        break;
    case S_FLAT_DITHER: {
        double m = 16 + 220 * p[0], sd = 0.3 + 1.5 * p[1];
        for (int k = 0; k < w * h; k++) {
            double v = m + sd * gauss(&r);
            buf[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
        }
        break;
    }
    case S_TEXTURE: {
        double f[3][3];
        for (int j = 0; j < 3; j++) {
            double ang = 2 * M_PI * urand(&rs), fr = 0.02 + 0.6 * urand(&rs);
            f[j][0] = fr * cos(ang);
            f[j][1] = fr * sin(ang);
            f[j][2] = (urand(&rs) - 0.5) * 4;   /* phase speed, rad/s */
        }
        double a = 10 + 50 * p[0], tn = p[1] * 3;
        /* sin(fx x + fy y + c) = sin(fx x + c) cos(fy y) + cos(fx x + c) sin(fy y) */
        static double sx[3][4096], cxx[3][4096], sy[3][4096], cy[3][4096];
        for (int j = 0; j < 3; j++) {
            for (int x = 0; x < w && x < 4096; x++) {
                sx[j][x] = sin(f[j][0] * x + f[j][2] * t);
                cxx[j][x] = cos(f[j][0] * x + f[j][2] * t);
            }
            for (int y = 0; y < h && y < 4096; y++) {
                sy[j][y] = sin(f[j][1] * y);
                cy[j][y] = cos(f[j][1] * y);
            }
        }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double v = 128;
                for (int j = 0; j < 3; j++)
                    v += a / 3 * (sx[j][x] * cy[j][y] + cxx[j][x] * sy[j][y]);
                v += tn * gauss(&r);
                buf[(size_t)y * w + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
            }
        break;
    }
    case S_BLOCKS: {
        /* 8x8 (or 16x16) blocks of random levels, renewed every few frames */
        int bs = p[0] < 0.5 ? 8 : 16, every = 1 + (int)(p[1] * 6);
        uint64_t rb = s->sseed ^ ((uint64_t)(i / every) * 0x9e3779b97f4a7c15ULL);
        int bw = (w + bs - 1) / bs;
        for (int by = 0; by < (h + bs - 1) / bs; by++)
            for (int bx = 0; bx < bw; bx++) {
                uint8_t lv = (uint8_t)(30 + irand(&rb, 200));
                for (int y = by * bs; y < by * bs + bs && y < h; y++)
                    for (int x = bx * bs; x < bx * bs + bs && x < w; x++)
                        buf[(size_t)y * w + x] = lv;
            }
        break;
    }
    case S_PAN: {
        /* a smooth random field panning: hash noise, box-smoothed by 2 */
        double vx = (p[0] - 0.5) * 8, vy = (p[1] - 0.5) * 4;
        int ox = (int)floor(vx * i), oy = (int)floor(vy * i);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint64_t hsh = s->sseed ^ ((uint64_t)((x + ox) >> 1) * 0x9e3779b97f4a7c15ULL) ^
                               ((uint64_t)((y + oy) >> 1) * 0xc2b2ae3d27d4eb4fULL);
                double v = 60 + 140 * urand(&hsh);
                buf[(size_t)y * w + x] = (uint8_t)v;
            }
        break;
    }
    }
}

/* ---- one segment ---- */

typedef struct Ctx {
    Nominal nom;
    uint8_t *buf;
    FILE *out;
    int keys, full_every;
    uint64_t seed;
} Ctx;

static void run_segment(Ctx *cx, int idx)
{
    Seg s;
    FmError err = { { 0 } };
    make_segment(cx->seed, idx, &s);
    double t0 = cpu_ms();
    FmAccumulator acc;
    if (fm_accumulator_init(&acc, s.w, s.h, &err) != 0) {
        fprintf(stderr, "segment %d: fm_accumulator_init: %s\n", idx, err.msg);
        exit(3);
    }
    const Src *c = s.kind == K_SYNTH ? NULL : &srcs[s.src];
    for (int i = 0; i < s.frames; i++) {
        const uint8_t *p;
        ptrdiff_t stride;
        double t;
        if (c) {
            long fi = s.start + (long)i * s.step;
            p = c->data + (size_t)fi * c->w * c->h + (size_t)s.y0 * c->w + s.x0;
            stride = c->w;
            t = fi / c->fps;   /* the source's own clock: any origin */
        } else {
            synth_frame(&s, i, cx->buf);
            p = cx->buf;
            stride = s.w;
            t = i / s.fps;
        }
        if (fm_accumulator_add(&acc, p, stride, 8, t, &err) != 0) {
            fprintf(stderr, "segment %d: fm_accumulator_add: %s\n", idx, err.msg);
            exit(3);
        }
    }
    double t1 = cpu_ms();
    for (int k = 0; k < cx->keys; k++) {
        uint64_t ks = cx->seed * 1000003ULL + (uint64_t)idx * 64 + (uint64_t)k + 1;
        FmKey key;
        make_key(&key, ks);
        double z, lp, hyp, signs_lp;
        int nst;
        double t2 = cpu_ms();
        nominal_detect(&cx->nom, &acc, &key, &z, &lp, &hyp, &nst, &signs_lp);
        double t3 = cpu_ms();
        FmDetectResult res = { 0 }, own = { 0 };
        int full = k == 0 && cx->full_every > 0 && idx % cx->full_every == 0, own_checked = 0;
        if (full) {
            if (fm_detect(&acc, &key, 1, NULL, &res, &err) != 0) {
                fprintf(stderr, "segment %d: fm_detect: %s\n", idx, err.msg);
                exit(3);
            }
            if (s.kind == K_MARKED) {
                FmKey mk;
                make_key(&mk, c->markseed);
                if (fm_detect(&acc, &mk, 1, NULL, &own, &err) != 0) {
                    fprintf(stderr, "segment %d: fm_detect (own key): %s\n", idx, err.msg);
                    exit(3);
                }
                own_checked = 1;
                sodium_memzero(&mk, sizeof mk);
            }
        }
        double t4 = cpu_ms();
        fprintf(cx->out,
                "%d\t%d\t%s\t%s\t%d\t%d\t%.4g\t%.3f\t%.3f\t%d\t%llu\t"
                "%.6f\t%.6f\t%.0f\t%d\t"
                "%d\t%.6f\t%.6f\t%ld\t%d\t%d\t%d\t"
                "%d\t%.3f\t%.3f\t%d\t%d\t%.1f\t%.1f\t%.1f\t%d\t%.6f\n",
                idx, k, kind_names[s.kind], s.name, s.w, s.h, s.fps,
                c ? s.start / c->fps : 0.0, s.frames / s.fps, s.frames, (unsigned long long)ks,
                z, lp, hyp, nst,
                full, full ? res.pilot_z : 0, full ? res.false_alarm_log10 : 0,
                full ? res.hypotheses : 0, full ? res.found : 0, full ? res.signature_valid : 0,
                full ? res.geometry.searched : 0,
                own_checked, own.pilot_z, own.false_alarm_log10, own.found, own.signature_valid,
                k == 0 ? t1 - t0 : 0, t3 - t2, t4 - t3, c && (s.w != c->w || s.h != c->h),
                signs_lp);
        sodium_memzero(&key, sizeof key);
    }
    fflush(cx->out);
    fm_accumulator_free(&acc);
}

/* ---- sources ---- */

static void load_manifest(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        char name[64], kind[16], file[3000];
        int w, h;
        double fps;
        unsigned long long ms = 0;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        int n = sscanf(line, "%63s %15s %d %d %lf %2999s %llu", name, kind, &w, &h, &fps, file, &ms);
        if (n < 6 || nsrc >= 64) {
            fprintf(stderr, "bad manifest line: %s", line);
            exit(2);
        }
        Src *s = &srcs[nsrc];
        snprintf(s->name, sizeof s->name, "%s", name);
        s->kind = !strcmp(kind, "real") ? K_REAL : !strcmp(kind, "x264") ? K_X264
                : !strcmp(kind, "marked") ? K_MARKED : -1;
        if (s->kind < 0) {
            fprintf(stderr, "bad kind %s\n", kind);
            exit(2);
        }
        s->w = w;
        s->h = h;
        s->fps = fps;
        s->markseed = ms;
        int fd = open(file, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            perror(file);
            exit(2);
        }
        s->frames = st.st_size / ((long)w * h);
        if (s->frames < 2) {
            fprintf(stderr, "%s: too short\n", file);
            exit(2);
        }
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            perror("mmap");
            exit(2);
        }
        close(fd);
        s->data = m;
        nsrc++;
    }
    fclose(f);
}

/* ---- commands ---- */

static int cmd_mark(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: false_alarm mark W H FPS KEYSEED [FIRST COUNT]\n");
        return 2;
    }
    int w = atoi(argv[2]), h = atoi(argv[3]);
    double fps = atof(argv[4]);
    uint64_t ks = strtoull(argv[5], NULL, 10);
    long first = argc > 6 ? atol(argv[6]) : 0, count = argc > 7 ? atol(argv[7]) : -1;
    FmError err = { { 0 } };
    FmKey key;
    make_key(&key, ks);
    FmPayload p = { .version = FM_PAYLOAD_VERSION, .title_id = (uint32_t)(ks & 0xffff),
                    .recipient_id = 4242, .issued_minutes = 29000000,
                    .ai_use = FM_AI_USE_RESERVED };
    uint8_t msg[FM_MESSAGE_BYTES];
    FmEmbedder *e;
    if (fm_payload_sign(&p, &key, msg, &err) != 0 ||
        fm_embedder_new(&e, key.wm_key, msg, w, h, 1.0, &err) != 0) {
        fprintf(stderr, "false_alarm mark: %s\n", err.msg);
        return 2;
    }
    uint8_t *buf = malloc((size_t)w * h);
    long n = 0, out = 0;
    while (fread(buf, 1, (size_t)w * h, stdin) == (size_t)w * h) {
        if (n++ < first)
            continue;
        if (count >= 0 && out >= count)
            break;
        if (fm_embedder_mark(e, buf, w, 8, out / fps, NULL, &err) != 0) {
            fprintf(stderr, "false_alarm mark: %s\n", err.msg);
            return 2;
        }
        fwrite(buf, 1, (size_t)w * h, stdout);
        out++;
    }
    fprintf(stderr, "false_alarm mark: %ld frames marked with key seed %llu\n", out,
            (unsigned long long)ks);
    fm_embedder_free(&e);
    free(buf);
    return 0;
}

/* Detects raw gray frames with the key made from KEYSEED (a check that the
 * marked sources carry their mark). */
static int cmd_detect(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: false_alarm detect W H FPS KEYSEED [FIRST COUNT STEP]\n");
        return 2;
    }
    int w = atoi(argv[2]), h = atoi(argv[3]);
    double fps = atof(argv[4]);
    uint64_t ks = strtoull(argv[5], NULL, 10);
    long first = argc > 6 ? atol(argv[6]) : 0, count = argc > 7 ? atol(argv[7]) : -1;
    int step = argc > 8 ? atoi(argv[8]) : 1;
    FmError err = { { 0 } };
    FmKey key;
    make_key(&key, ks);
    FmAccumulator acc;
    if (fm_accumulator_init(&acc, w, h, &err) != 0)
        return 2;
    uint8_t *buf = malloc((size_t)w * h);
    long n = 0, used = 0;
    while (fread(buf, 1, (size_t)w * h, stdin) == (size_t)w * h) {
        long i = n++;
        if (i < first || (i - first) % step)
            continue;
        if (count >= 0 && used >= count)
            break;
        if (fm_accumulator_add(&acc, buf, w, 8, i / fps, &err) != 0)
            return 2;
        used++;
    }
    FmDetectResult r;
    if (fm_detect(&acc, &key, 1, NULL, &r, &err) != 0) {
        fprintf(stderr, "false_alarm detect: %s\n", err.msg);
        return 2;
    }
    printf("frames %ld z %.2f log10p %.2f hypotheses %ld found %d signature %d searched %d "
           "raw_ber %.3f\n", used, r.pilot_z, r.false_alarm_log10, r.hypotheses, r.found,
           r.signature_valid, r.geometry.searched, r.raw_ber);
    fm_accumulator_free(&acc);
    free(buf);
    return r.found && r.signature_valid ? 0 : 1;
}

static int cmd_run(int argc, char **argv)
{
    const char *manifest = NULL, *out = NULL;
    int nseg = 1000, first = 0, workers = 2, full_every = 5, keys = 1;
    uint64_t seed = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "%s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--manifest")) manifest = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--segments")) nseg = atoi(v);
        else if (!strcmp(a, "--first")) first = atoi(v);
        else if (!strcmp(a, "--workers")) workers = atoi(v);
        else if (!strcmp(a, "--full-every")) full_every = atoi(v);
        else if (!strcmp(a, "--keys")) keys = atoi(v);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (!out || workers < 1 || keys < 1 || keys > 64) {
        fprintf(stderr, "usage: false_alarm run [--manifest F] --out PREFIX [--segments N] "
                        "[--first I] [--workers W] [--full-every K] [--keys K] [--seed S]\n");
        return 2;
    }
    if (manifest)
        load_manifest(manifest);
    fprintf(stderr, "false_alarm: %d sources, segments %d..%d, %d workers, %d key(s) each, "
                    "fm_detect on every %d, seed %llu\n",
            nsrc, first, first + nseg - 1, workers, keys, full_every, (unsigned long long)seed);
    fflush(stderr);
    pid_t pids[64];
    double t0 = wall_s();
    /* the next segment to analyse, shared by the workers (a segment's
     * result depends on its index alone, not on who analyses it) */
    int *next = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (next == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    *next = first;
    for (int w = 0; w < workers && w < 64; w++) {
        pids[w] = fork();
        if (pids[w] < 0) {
            perror("fork");
            return 2;
        }
        if (pids[w])
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s.w%d", out, w);
        Ctx cx = { .keys = keys, .full_every = full_every, .seed = seed };
        cx.out = fopen(path, "w");
        cx.nom.pilots = malloc(sizeof(FmEpochPilot) * FM_EPOCHS);
        cx.nom.groups = malloc(sizeof(float) * FM_SLOTS * FM_CELLS * MAX_GROUPS);
        cx.nom.genergy = malloc(sizeof(float) * FM_SLOTS * MAX_GROUPS);
        cx.nom.corr = malloc(sizeof(double) * FM_EPOCHS * MAX_GROUPS);
        cx.nom.energy = malloc(sizeof(double) * FM_EPOCHS * MAX_GROUPS);
        cx.nom.pred = malloc(sizeof(float) * FM_SLOTS * FM_CELLS);
        cx.buf = malloc(4096 * 4096);
        if (!cx.out || !cx.nom.pilots || !cx.nom.groups || !cx.nom.genergy || !cx.nom.corr ||
            !cx.nom.energy ||
            !cx.nom.pred || !cx.buf) {
            perror(path);
            _exit(3);
        }
        if (w == 0)
            fputs(HEADER, cx.out);
        int done = 0;
        for (;;) {
            int i = __atomic_fetch_add(next, 1, __ATOMIC_RELAXED);
            if (i >= first + nseg)
                break;
            run_segment(&cx, i);
            if (++done % 250 == 0) {
                fprintf(stderr, "worker %d: %d segments, %.0f s\n", w, done, wall_s() - t0);
                fflush(stderr);
            }
        }
        fclose(cx.out);
        _exit(0);
    }
    int bad = 0;
    for (int w = 0; w < workers && w < 64; w++) {
        int st;
        waitpid(pids[w], &st, 0);
        bad |= !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    fprintf(stderr, "false_alarm: done in %.0f s%s\n", wall_s() - t0, bad ? " (a worker failed)" : "");
    return bad ? 3 : 0;
}

int main(int argc, char **argv)
{
    /* large blocks from the heap, not fresh mappings each time: the detector
     * allocates and frees its buffers per call, and on this VM every munmap
     * is a costly TLB shootdown. (Allocation only: no effect on results.) */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    FmError err = { { 0 } };
    if (fm_init(&err) != 0) {
        fprintf(stderr, "false_alarm: %s\n", err.msg);
        return 2;
    }
    if (argc >= 2 && !strcmp(argv[1], "mark"))
        return cmd_mark(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "detect"))
        return cmd_detect(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "run"))
        return cmd_run(argc, argv);
    fprintf(stderr, "usage: false_alarm run ... | false_alarm mark ... (see the source)\n");
    return 2;
}
