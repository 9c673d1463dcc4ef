/*
 * fec_edge - the decoding edge of the watermark's error-correcting codes on
 * one simulated channel: a tile of 4352 data slots, each slot = its coded
 * bit as +/-1 plus Gaussian noise of standard deviation sigma. Coded bits
 * are assigned to slots round-robin through a fixed pseudo-random
 * interleaver (slot perm[j] carries coded bit j mod N), and the decoder's
 * soft value for a coded bit is the sum of its slots, as in the detector.
 *
 * Every code sees the same messages and the same slot noise (common random
 * numbers). A message counts as decoded when it is in the decoder's list
 * (the Ed25519 signature would pick it); its rank is reported. The edge of
 * a code is the sigma at which 95 % of messages decode: its 50 % point is
 * located by bisection (--coarse messages a step), then success is measured
 * on a 0.1 dB grid from there down to 99 % (--trials messages a point) and
 * the edge read off a probit fit.
 *
 *   fec_edge [--trials N] [--coarse N] [--seed S] [--codes a,b,...] [--design-db D]
 *            [--at dB,dB,...]   (only those sigmas, 20 log10 sigma; no edge search)
 *            [--jobs N]         (codes decoded in parallel, default 2)
 *
 * Codes: conv1 conv64 (common/fec.h, K=9 rate 1/3, list Viterbi),
 * polar2048-L and polar4096-L for L in 1..1024 (common/polar.h, k = 624),
 * and polar4096s-L: the polar code designed for the slot multiplicities;
 * ldpc<n>-<degrees>-<sp|ms>: a random LDPC code of n coded bits (bench/ldpc.h,
 * k = 624) whose variables have the degrees given as "3" or "2=0.4/3=0.4/8=0.2"
 * (fractions of the variables), decoded by 200 iterations of layered
 * sum-product (sp, told the channel's noise level) or normalised min-sum (ms).
 * Writes Markdown to stdout, progress to stderr.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fec.h"
#include "fm_error.h"
#include "ldpc.h"
#include "polar.h"

#define SLOTS 4352
#define MSG_BITS 624
#define MAX_CODED 8192

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_gauss(uint64_t *s)
{
    double u = rng_uniform(s), v = rng_uniform(s);
    return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

static double q_func(double x)
{
    return 0.5 * erfc(x / M_SQRT2);
}

static double q_inv(double p)
{
    double lo = -40, hi = 40;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (q_func(mid) > p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* CPU time of the calling thread: decode times stay meaningful on a busy host. */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double db(double sigma)
{
    return 20 * log10(sigma);
}

static double undb(double d)
{
    return pow(10, d / 20);
}

/* ---- the channel ---- */

static int perm[SLOTS];

static void make_interleaver(uint64_t seed)
{
    uint64_t s = seed ^ 0x5107u;
    for (int i = 0; i < SLOTS; i++)
        perm[i] = i;
    for (int i = SLOTS - 1; i > 0; i--) {
        int j = (int)(rng_uniform(&s) * (i + 1));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* Fraction of coded-bit sums with the wrong sign, N coded bits over the slots. */
static double coded_ber(int ncoded, double sigma)
{
    int m = SLOTS / ncoded, r = SLOTS % ncoded;
    return (r * q_func(sqrt(m + 1.0) / sigma) + (ncoded - r) * q_func(sqrt((double)m) / sigma)) /
           ncoded;
}

#define CONV_CODED ((int)FM_FEC_CODED_BITS(MSG_BITS))

/* The project's figure: the convolutional code's raw coded-bit error rate. */
static double conv_ber(double sigma)
{
    return coded_ber(CONV_CODED, sigma);
}

/* ---- codes ---- */

typedef struct Code {
    char name[48];
    int polar;   /* 0: convolutional or LDPC */
    int ncoded, list;
    FmPolar *pc;
    Ldpc *ldpc;
    int minsum;
    uint8_t *cands;
} Code;

static void encode(const Code *c, const uint8_t *msg, uint8_t *coded)
{
    if (c->polar)
        fm_polar_encode(c->pc, msg, coded);
    else if (c->ldpc)
        ldpc_encode(c->ldpc, msg, coded);
    else
        fm_fec_encode(msg, MSG_BITS, coded);
}

#define LDPC_ITERS 200

/* 1-based rank of msg in the list, 0 if absent; *secs += decoding time. The
 * LDPC decoder (one word, no list) may use the slots' noise level sigma. */
static int decode_rank(Code *c, const float *soft, const uint8_t *msg, double sigma,
                       double *secs)
{
    int found = 0, rc;
    double t0 = cpu_now();
    if (c->ldpc) {
        ldpc_decode(c->ldpc, soft, sigma * sigma, c->minsum, LDPC_ITERS, c->cands);
        found = 1;
        rc = 0;
    } else if (c->polar)
        rc = fm_polar_decode_list(c->pc, soft, c->list, c->cands, &found);
    else
        rc = fm_fec_decode_list(soft, MSG_BITS, c->list, c->cands, &found);
    *secs += cpu_now() - t0;
    if (rc < 0) {
        fprintf(stderr, "fec_edge: %s: decoder error %d\n", c->name, rc);
        exit(2);
    }
    for (int r = 0; r < found; r++)
        if (!memcmp(c->cands + (size_t)r * MSG_BITS, msg, MSG_BITS))
            return r + 1;
    return 0;
}

/* Per-coded-bit design means of the slot-aware construction at slot sigma. */
static void slot_design(int n, double sigma, double *mean)
{
    for (int i = 0; i < n; i++)
        mean[i] = 2.0 * (SLOTS / n + (i < SLOTS % n)) / (sigma * sigma);
}

static int make_code(Code *c, const char *spec, double design_db)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof c->name, "%s", spec);
    int n = 0, list = 0, slotaware = 0;
    char deg[64], dec[8];
    if (sscanf(spec, "ldpc%d-%63[0-9.=/]-%7s", &n, deg, dec) == 3) {
        if (n <= MSG_BITS || n > MAX_CODED || (strcmp(dec, "sp") && strcmp(dec, "ms")))
            return FM_EINVAL;
        for (char *p = deg; *p; p++)   /* the spec's '=' and '/' are ldpc.h's ':' and ',' */
            *p = *p == '=' ? ':' : *p == '/' ? ',' : *p;
        if (ldpc_init(&c->ldpc, n, MSG_BITS, deg, 0x1d9c) < 0)
            return FM_EINVAL;
        c->minsum = dec[0] == 'm';
        c->ncoded = n;
        c->list = 1;
        c->cands = malloc(MSG_BITS);
        if (!c->cands)
            return FM_ENOMEM;
        /* the encoder's words satisfy every check: decoded unchanged without noise */
        uint8_t msg[MSG_BITS], coded[MAX_CODED], back[MSG_BITS];
        float soft[MAX_CODED];
        uint64_t s = 0x600d;
        for (int i = 0; i < MSG_BITS; i++)
            msg[i] = (uint8_t)(rng_next(&s) >> 63);
        ldpc_encode(c->ldpc, msg, coded);
        for (int i = 0; i < n; i++)
            soft[i] = coded[i] ? 1.0f : -1.0f;
        if (!ldpc_decode(c->ldpc, soft, 1.0, c->minsum, 0, back) || memcmp(msg, back, MSG_BITS)) {
            fprintf(stderr, "fec_edge: %s: a codeword fails its checks\n", spec);
            exit(2);
        }
        return 0;
    }
    if (sscanf(spec, "conv%d", &list) == 1) {
        c->ncoded = CONV_CODED;
    } else if (sscanf(spec, "polar%ds-%d", &n, &list) == 2) {
        slotaware = 1;
    } else if (sscanf(spec, "polar%d-%d", &n, &list) != 2) {
        return FM_EINVAL;
    }
    if (n) {
        double mean[FM_POLAR_MAX_N];
        if (n > MAX_CODED)
            return FM_EINVAL;
        /* the default design (fm_polar_init) shifted by design_db, or slot-aware
         * at the default design's slot sigma shifted by design_db */
        double k = MSG_BITS;
        if (slotaware) {
            double per_bit = (double)SLOTS / n, sig_bit2 = n / (2 * k);
            slot_design(n, sqrt(sig_bit2 * per_bit) * undb(-design_db), mean);
        } else {
            for (int i = 0; i < n; i++)
                mean[i] = 4 * k / n * pow(10, design_db / 10);
        }
        int rc = design_db == 0 && !slotaware ? fm_polar_init(&c->pc, n, MSG_BITS)
                                               : fm_polar_init_design(&c->pc, n, MSG_BITS, mean);
        if (rc < 0)
            return rc;
        c->polar = 1;
        c->ncoded = n;
    }
    if (list < 1 || list > (n ? FM_POLAR_MAX_LIST : FM_FEC_MAX_LIST))
        return FM_EINVAL;
    c->list = list;
    c->cands = malloc((size_t)list * MSG_BITS);
    return c->cands ? 0 : FM_ENOMEM;
}

/* ---- one point: `trials` messages at one sigma ---- */

#define RANK_BINS 5   /* 1, 2-8, 9-32, 33-64, 65+ */

typedef struct Point {
    double sigma;
    int trials, ok;
    int bins[RANK_BINS];
    int worst;            /* largest rank that decoded */
    double secs;          /* total decoding time */
    long slot_errs;       /* slots with the wrong sign (measured) */
} Point;

static int rank_bin(int r)
{
    return r == 1 ? 0 : r <= 8 ? 1 : r <= 32 ? 2 : r <= 64 ? 3 : 4;
}

static void run_point(Code *c, double sigma, int trials, uint64_t seed, Point *pt)
{
    float slot[SLOTS], soft[MAX_CODED];
    uint8_t msg[MSG_BITS], coded[MAX_CODED];
    memset(pt, 0, sizeof(*pt));
    pt->sigma = sigma;
    pt->trials = trials;
    for (int t = 0; t < trials; t++) {
        /* message t and its slot noise depend on (seed, t) only, not on the
         * code; each trial's stream starts at a hashed state (consecutive
         * splitmix states would make trial t+1 trial t shifted by a draw) */
        uint64_t s = seed * 0xd1b54a32d192ed03ULL + (uint64_t)t;
        s = rng_next(&s);
        for (int i = 0; i < MSG_BITS; i++)
            msg[i] = (uint8_t)(rng_next(&s) >> 63);
        encode(c, msg, coded);
        for (int i = 0; i < c->ncoded; i++)
            soft[i] = 0;
        for (int j = 0; j < SLOTS; j++) {
            int b = j % c->ncoded;
            double v = (coded[b] ? 1 : -1) + sigma * rng_gauss(&s);
            slot[perm[j]] = (float)v;
            pt->slot_errs += (v > 0) != (coded[b] == 1);
        }
        for (int j = 0; j < SLOTS; j++)   /* the detector's view: read slots, sum per bit */
            soft[j % c->ncoded] += slot[perm[j]];
        int r = decode_rank(c, soft, msg, sigma, &pt->secs);
        if (r) {
            pt->ok++;
            pt->bins[rank_bin(r)]++;
            if (r > pt->worst)
                pt->worst = r;
        }
    }
}

/* ---- the edge ---- */

#define MAX_POINTS 16

typedef struct Edge {
    double sigma95, sigma50;   /* 0 if they could not be fitted */
    int npoints;
    Point pts[MAX_POINTS];
    double secs;
    int decodes;
} Edge;

/*
 * Weighted least-squares probit fit of success against sigma in dB; the
 * sigma where the fit crosses `target` (0 if it cannot be fitted).
 */
static double fit_at(const Point *pts, int np, double target)
{
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    int used = 0;
    for (int i = 0; i < np; i++) {
        int ok = pts[i].ok, T = pts[i].trials;
        if (ok == 0 || ok == T)
            continue;
        double p = (double)ok / T, z = -q_inv(p);   /* Phi^-1(p) */
        double phi = exp(-0.5 * z * z) / sqrt(2 * M_PI);
        double w = T * phi * phi / (p * (1 - p)), x = db(pts[i].sigma);
        sw += w;
        sx += w * x;
        sy += w * z;
        sxx += w * x * x;
        sxy += w * x * z;
        used++;
    }
    if (used < 2)
        return 0;
    double b = (sw * sxy - sx * sy) / (sw * sxx - sx * sx), a = (sy - b * sx) / sw;
    if (!(b < 0))
        return 0;
    return undb((-q_inv(target) - a) / b);
}

static void add_point(Code *c, Edge *e, double x_db, int trials, uint64_t seed)
{
    Point *p = &e->pts[e->npoints++];
    /* the seed follows the grid position: every code sees the same messages
     * and noise at the same sigma */
    run_point(c, undb(x_db), trials, seed + (uint64_t)llround(x_db * 100), p);
    e->secs += p->secs;
    e->decodes += p->trials;
    fprintf(stderr, "  %-14s sigma %.3f (%.2f dB): %d/%d\n", c->name, p->sigma, db(p->sigma),
            p->ok, p->trials);
}

/*
 * Bisection (coarse messages a step) for the 50 % point, which small
 * samples find reliably; then a 0.1 dB grid from just above it downwards
 * until a point decodes 99 % (at least 4 points), and a probit fit.
 */
static void find_edge(Code *c, int coarse, int trials, uint64_t seed, Edge *e)
{
    memset(e, 0, sizeof(*e));
    Point pt;
    double lo = 2, hi = 7;   /* dB: every code here decodes at 2, none at 7 */
    for (int it = 0; it < 6; it++) {
        double mid = 0.5 * (lo + hi);
        run_point(c, undb(mid), coarse, seed + 100000 + (uint64_t)it, &pt);
        e->secs += pt.secs;
        e->decodes += pt.trials;
        if (2 * pt.ok >= coarse)
            lo = mid;
        else
            hi = mid;
    }
    double x = round(0.5 * (lo + hi) * 10) / 10 + 0.1;   /* on the 0.1 dB grid */
    for (; e->npoints < MAX_POINTS; x -= 0.1) {
        add_point(c, e, x, trials, seed);
        if (e->npoints >= 4 && e->pts[e->npoints - 1].ok >= 0.99 * trials)
            break;
    }
    e->sigma95 = fit_at(e->pts, e->npoints, 0.95);
    e->sigma50 = fit_at(e->pts, e->npoints, 0.50);
}

/* ---- the codes, shared out to worker threads ---- */

typedef struct Job {
    Code *code;
    Edge *edge;
    int ncodes, next;
    int coarse, trials;
    uint64_t seed;
    const char *at;
    pthread_mutex_t lock;
} Job;

static void run_code(Job *j, int c)
{
    Code *code = &j->code[c];
    Edge *e = &j->edge[c];
    if (!j->at) {
        find_edge(code, j->coarse, j->trials, j->seed, e);
        return;
    }
    memset(e, 0, sizeof(*e));   /* only the given points (dB), no edge search */
    char *pts = strdup(j->at), *save = NULL;
    for (char *tok = strtok_r(pts, ",", &save); tok && e->npoints < MAX_POINTS;
         tok = strtok_r(NULL, ",", &save))
        add_point(code, e, atof(tok), j->trials, j->seed);
    free(pts);
    e->sigma95 = fit_at(e->pts, e->npoints, 0.95);
    e->sigma50 = fit_at(e->pts, e->npoints, 0.50);
}

static void *worker(void *arg)
{
    Job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        int c = j->next++;
        pthread_mutex_unlock(&j->lock);
        if (c >= j->ncodes)
            return NULL;
        fprintf(stderr, "%s\n", j->code[c].name);
        run_code(j, c);
    }
}

/* ---- bounds: binary-input AWGN, one slot a channel use ---- */

/* Mean and variance (bits) of the information density at +1, noise sigma. */
static void biawgn(double sigma, double *cap, double *disp)
{
    int steps = 4000;
    double lo = -12, h = 24.0 / steps, m = 0, m2 = 0;
    for (int j = 0; j <= steps; j++) {
        double z = lo + j * h, wt = (j == 0 || j == steps) ? 1 : (j & 1) ? 4 : 2;
        wt *= h / 3 * exp(-0.5 * z * z) / sqrt(2 * M_PI);
        double t = -2 * (1 + sigma * z) / (sigma * sigma);   /* i = 1 - log2(1 + e^t) */
        double i = 1 - (t > 0 ? t + log1p(exp(-t)) : log1p(exp(t))) / M_LN2;
        m += wt * i;
        m2 += wt * i * i;
    }
    *cap = m;
    *disp = m2 - m * m;
}

/* Largest sigma at which k bits fit n uses: eps = 0 capacity, else the
 * normal approximation n C - sqrt(n V) Q^-1(eps) + log2(n) / 2. */
static double bound_sigma(int n, int k, double eps)
{
    double lo = 0.5, hi = 4;
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi), C, V;
        biawgn(mid, &C, &V);
        double bits = n * C;
        if (eps > 0)
            bits += -sqrt(n * V) * q_inv(eps) + 0.5 * log2(n);
        if (bits > k)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* ---- main ---- */

static const char *default_codes =
    "conv64,conv1,polar2048-1,polar2048-8,polar2048-32,polar4096-1,polar4096-8,polar4096-32,"
    "polar4096-64";

static void usage(FILE *f)
{
    fprintf(f, "usage: fec_edge [--trials N] [--coarse N] [--seed S] [--codes a,b,...] "
               "[--design-db D] [--at dB,...] [--jobs N]\n  codes: conv<L>, polar<n>-<L>, polar<n>s-<L>, ldpc<n>-<degrees>-<sp|ms> (default %s)\n",
            default_codes);
}

int main(int argc, char **argv)
{
    int trials = 400, coarse = 100, jobs = 2;
    uint64_t seed = 1;
    double design_db = 0;
    const char *codes = default_codes, *at = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--trials") && i + 1 < argc)
            trials = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--coarse") && i + 1 < argc)
            coarse = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--codes") && i + 1 < argc)
            codes = argv[++i];
        else if (!strcmp(argv[i], "--jobs") && i + 1 < argc)
            jobs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--at") && i + 1 < argc)
            at = argv[++i];
        else if (!strcmp(argv[i], "--design-db") && i + 1 < argc)
            design_db = atof(argv[++i]);
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (trials < 10 || coarse < 10) {
        usage(stderr);
        return 2;
    }
    make_interleaver(seed);

    enum { MAX_CODES = 16 };
    Code code[MAX_CODES];
    Edge edge[MAX_CODES];
    int ncodes = 0;
    char *list = strdup(codes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        if (ncodes == MAX_CODES || make_code(&code[ncodes], tok, design_db) < 0) {
            fprintf(stderr, "fec_edge: bad code '%s'\n", tok);
            return 2;
        }
        ncodes++;
    }
    free(list);

    Job job = { code, edge, ncodes, 0, coarse, trials, seed * 1000003u, at,
                PTHREAD_MUTEX_INITIALIZER };
    pthread_t tid[8];
    int started = 0;
    for (int t = 0; t < jobs && t < 8; t++)
        if (pthread_create(&tid[t], NULL, worker, &job) == 0)
            started++;
    if (started == 0)
        worker(&job);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);

    int ref = -1;   /* the code in use: conv64 */
    for (int c = 0; c < ncodes; c++)
        if (!code[c].polar && code[c].list == 64)
            ref = c;

    printf("Command: `fec_edge");
    for (int i = 1; i < argc; i++)
        printf(" %s", argv[i]);
    printf("`\n\n");
    printf("Channel: %d slots, slot = +/-1 + N(0, sigma^2), coded bits round-robin over a fixed "
           "random interleaver, soft value = sum of a bit's slots; %d-bit message; "
           "success = the sent message is in the list. Edge = sigma at 95 %% success (probit fit "
           "over the points below, %d messages each, 0.1 dB apart). Slot BER = Q(1/sigma); conv BER = the "
           "K=9 code's coded-bit error rate after summing (%d bits over %d slots) at that sigma. "
           "Polar design offset %+.2f dB. ms/decode: CPU time of one decode.\n\n",
           SLOTS, MSG_BITS, trials, CONV_CODED, SLOTS, design_db);
    printf("| code | list | coded bits | edge sigma | edge (dB) | slot BER | conv BER | "
           "vs conv64 (dB) | 50 %% point (dB) | conv BER at 50 %% | ms/decode |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int c = 0; c < ncodes; c++) {
        Edge *e = &edge[c];
        double s = e->sigma95;
        char gain[32] = "";
        if (ref >= 0 && s > 0 && edge[ref].sigma95 > 0)
            snprintf(gain, sizeof gain, "%+.2f", db(s) - db(edge[ref].sigma95));
        char half[48] = " | ";
        if (e->sigma50 > 0)
            snprintf(half, sizeof half, "%.2f | %.1f %%", db(e->sigma50),
                     100 * conv_ber(e->sigma50));
        if (s > 0)
            printf("| %s | %d | %d | %.3f | %.2f | %.1f %% | %.1f %% | %s | %s | %.2f |\n",
                   code[c].name, code[c].list, code[c].ncoded, s, db(s), 100 * q_func(1 / s),
                   100 * conv_ber(s), gain, half, 1e3 * e->secs / e->decodes);
        else
            printf("| %s | %d | %d | (no fit) | | | | | %s | %.2f |\n", code[c].name,
                   code[c].list, code[c].ncoded, half, 1e3 * e->secs / e->decodes);
    }
    double s0 = bound_sigma(SLOTS, MSG_BITS, 0), s5 = bound_sigma(SLOTS, MSG_BITS, 0.05);
    double s25 = 0;
    for (double lo = 1, hi = 4, it = 0; it < 60; it++) {   /* conv BER 25 % */
        s25 = 0.5 * (lo + hi);
        if (conv_ber(s25) < 0.25)
            lo = s25;
        else
            hi = s25;
    }
    const struct { const char *name; double sigma; } marks[] = {
        { "*Shannon limit, rate 624/4352*", s0 },
        { "*normal approximation, 5 % loss*", s5 },
        { "*aim: conv BER 25 %*", s25 },
    };
    for (int m = 0; m < 3; m++) {
        double s = marks[m].sigma;
        char gain[32] = "";
        if (ref >= 0 && edge[ref].sigma95 > 0)
            snprintf(gain, sizeof gain, "%+.2f", db(s) - db(edge[ref].sigma95));
        printf("| %s | | | %.3f | %.2f | %.1f %% | %.1f %% | %s | | | |\n", marks[m].name, s, db(s),
               100 * q_func(1 / s), 100 * conv_ber(s), gain);
    }
    printf("\n");

    printf("Points (rank bins: where the sent message was in the list):\n\n");
    printf("| code | sigma | dB | slot BER (measured) | conv BER | decoded | rank 1 | 2-8 | "
           "9-32 | 33-64 | 65+ | worst rank |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int c = 0; c < ncodes; c++)
        for (int i = 0; i < edge[c].npoints; i++) {
            const Point *p = &edge[c].pts[i];
            printf("| %s | %.3f | %.2f | %.1f %% | %.1f %% | %d/%d | %d | %d | %d | %d | %d | %d |\n",
                   code[c].name, p->sigma, db(p->sigma),
                   100.0 * p->slot_errs / ((double)p->trials * SLOTS), 100 * conv_ber(p->sigma),
                   p->ok, p->trials, p->bins[0], p->bins[1], p->bins[2], p->bins[3], p->bins[4],
                   p->worst);
        }
    for (int c = 0; c < ncodes; c++) {
        fm_polar_free(&code[c].pc);
        ldpc_free(&code[c].ldpc);
        free(code[c].cands);
    }
    return 0;
}
