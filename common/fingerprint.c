/*
 * fingerprint.c - per-second perceptual hashes of luma and their comparison
 * (see fingerprint.h for the design).
 */
#include "fingerprint.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FINE 96             /* fine grid over the central FINE_SPAN of the active picture */
#define FINE_SPAN 0.80
#define CELLS 32            /* DCT grid over the central zoom of the active picture */
#define NZ_AXIS 4           /* zooms per axis a clip keeps */
#define MAX_BAR 0.25        /* at most this fraction of a side is taken for a bar */
#define BAR_MEAN 48.0       /* 8-bit scale */
#define BAR_RANGE 16.0
#define FLAT_STD 0.5        /* fine grid std below which a frame carries no weight */
#define CLIP_BPS 4          /* clip bins per second (quarter-second phase search) */
#define STAGE1_WINDOWS 48   /* longer clips: a strided first pass, then the best in full */
#define STAGE2_KEEP 64
#define SEG_LEVELS 3        /* local alignment: halves, quarters, eighths of the clip */
#define SEG_MIN 4           /* windows, the shortest run of the clip compared alone */
#define SEG_MAX (1 + 5 + 9 + 17)
#define ROWPROJ_U 16        /* > the largest u selected (11, select_coefs) */

static const double zoom_axis[NZ_AXIS] = { 0.60, 0.66, 0.73, 0.80 };
static const double speeds[] = { 1.0, 25.0 / 24, 24.0 / 25, 1.05, 1 / 1.05, 1.1, 1 / 1.1 };
#define NSPEEDS ((int)(sizeof(speeds) / sizeof(speeds[0])))

typedef struct Coef {
    int u, v;
} Coef;

struct FmFingerprint {
    FmFpRole role;
    int bps;                /* bins per second */
    int nzoom;              /* zoom pairs per bin: 1 (0.60 x 0.60) or NZ_AXIS^2 */
    int hard;               /* parsed from a string: sums are +-1 per second */
    long frames;
    int64_t base;           /* bin index of slot 0 */
    long nbins, cap;
    float *sum;             /* cap * nzoom * FM_FP_BITS */
    float *w;               /* cap: frames with picture content per bin */

    Coef coef[FM_FP_BITS];
    int umax, vmax;
    uint64_t vmask;         /* bits with odd v (turned by a vertical flip) */
    /* projections fine grid -> DCT coefficient, per zoom of an axis */
    float *px;              /* NZ_AXIS * (umax + 1) * FINE (rows u) */
    float *py;              /* NZ_AXIS * (vmax + 1) * FINE */
    float fine[FINE * FINE];
    float rowproj[FINE * ROWPROJ_U];
    float vec[FM_FP_BITS];
};

/* ---------------------------------------------------------------- setup */

static int coef_cmp(const void *a, const void *b)
{
    const Coef *x = a, *y = b;
    int rx = x->u * x->u + x->v * x->v, ry = y->u * y->u + y->v * y->v;
    if (rx != ry)
        return rx - ry;
    if (x->u != y->u)
        return x->u - y->u;
    return x->v - y->v;
}

static void select_coefs(FmFingerprint *fp)
{
    Coef all[16 * CELLS];
    int n = 0;
    for (int u = 1; u < CELLS; u += 2)
        for (int v = 0; v < CELLS; v++)
            all[n++] = (Coef){ u, v };
    qsort(all, (size_t)n, sizeof(Coef), coef_cmp);
    fp->umax = fp->vmax = 0;
    fp->vmask = 0;
    for (int i = 0; i < FM_FP_BITS; i++) {
        fp->coef[i] = all[i];
        if (all[i].u > fp->umax)
            fp->umax = all[i].u;
        if (all[i].v > fp->vmax)
            fp->vmax = all[i].v;
        if (all[i].v & 1)
            fp->vmask |= (uint64_t)1 << i;
    }
}

/* Area weights of CELLS outputs over [a, a + CELLS * st) of FINE inputs. */
static void area_weights(double a, double st, float *wt /* CELLS * FINE */)
{
    memset(wt, 0, sizeof(float) * CELLS * FINE);
    for (int o = 0; o < CELLS; o++) {
        double lo = a + o * st, hi = lo + st;
        for (int i = (int)floor(lo); i < (int)ceil(hi); i++) {
            double ov = fmin(hi, i + 1.0) - fmax(lo, (double)i);
            if (ov <= 0)
                continue;
            int ic = i < 0 ? 0 : i >= FINE ? FINE - 1 : i;
            wt[o * FINE + ic] += (float)(ov / st);
        }
    }
}

/* Orthonormal DCT-II basis value of frequency k at sample n of CELLS. */
static double dct_basis(int k, int n)
{
    double s = k == 0 ? sqrt(1.0 / CELLS) : sqrt(2.0 / CELLS);
    return s * cos(M_PI * (2 * n + 1) * k / (2.0 * CELLS));
}

/* proj[k][i] = sum_o basis(k, o) * weights[o][i] for k = 0..kmax, one zoom. */
static void make_proj(double zoom, int kmax, float *proj)
{
    float wt[CELLS * FINE];
    double a = (0.5 - zoom / 2 - (1 - FINE_SPAN) / 2) / FINE_SPAN * FINE;
    double st = zoom / FINE_SPAN * FINE / CELLS;
    area_weights(a, st, wt);
    for (int k = 0; k <= kmax; k++)
        for (int i = 0; i < FINE; i++) {
            double s = 0;
            for (int o = 0; o < CELLS; o++)
                s += dct_basis(k, o) * wt[o * FINE + i];
            proj[k * FINE + i] = (float)s;
        }
}

int fm_fingerprint_new(FmFingerprint **out, FmFpRole role, FmError *err)
{
    if (!out)
        return fm_error_set(err, FM_EINVAL, "fingerprint: no output pointer");
    *out = NULL;
    if (role != FM_FP_REFERENCE && role != FM_FP_CLIP && role != FM_FP_PLACED)
        return fm_error_set(err, FM_EINVAL, "fingerprint: unknown role %d", (int)role);
    FmFingerprint *fp = calloc(1, sizeof(*fp));
    if (!fp)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    fp->role = role;
    fp->bps = role == FM_FP_REFERENCE ? 1 : CLIP_BPS;
    fp->nzoom = role == FM_FP_CLIP ? NZ_AXIS * NZ_AXIS : 1;
    select_coefs(fp);
    int nza = role == FM_FP_CLIP ? NZ_AXIS : 1;
    fp->px = malloc(sizeof(float) * (size_t)nza * (size_t)(fp->umax + 1) * FINE);
    fp->py = malloc(sizeof(float) * (size_t)nza * (size_t)(fp->vmax + 1) * FINE);
    if (!fp->px || !fp->py) {
        fm_fingerprint_free(&fp);
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    }
    for (int z = 0; z < nza; z++) {
        make_proj(zoom_axis[z], fp->umax, fp->px + (size_t)z * (fp->umax + 1) * FINE);
        make_proj(zoom_axis[z], fp->vmax, fp->py + (size_t)z * (fp->vmax + 1) * FINE);
    }
    *out = fp;
    return 0;
}

void fm_fingerprint_free(FmFingerprint **fp)
{
    if (!fp || !*fp)
        return;
    free((*fp)->sum);
    free((*fp)->w);
    free((*fp)->px);
    free((*fp)->py);
    free(*fp);
    *fp = NULL;
}

long fm_fingerprint_frames(const FmFingerprint *fp)
{
    return fp ? fp->frames : 0;
}

/* ---------------------------------------------------------------- bins */

static size_t bin_floats(const FmFingerprint *fp)
{
    return (size_t)fp->nzoom * FM_FP_BITS;
}

/* Makes bin b exist; returns its slot, or -1 (FM_EINVAL span / FM_ENOMEM in *code). */
static long bin_slot(FmFingerprint *fp, int64_t b, int *code)
{
    if (fp->nbins == 0) {
        fp->base = b;
    } else if (b >= fp->base && b < fp->base + fp->nbins) {
        return (long)(b - fp->base);
    }
    int64_t lo = fp->nbins ? (b < fp->base ? b : fp->base) : b;
    int64_t hi = fp->nbins ? (b >= fp->base + fp->nbins ? b + 1 : fp->base + fp->nbins) : b + 1;
    if (hi - lo > (int64_t)FM_FP_MAX_SECONDS * fp->bps) {
        *code = FM_EINVAL;
        return -1;
    }
    long need = (long)(hi - lo);
    size_t bf = bin_floats(fp);
    if (need > fp->cap) {
        long cap = fp->cap ? fp->cap : 64;
        while (cap < need)
            cap *= 2;
        float *s = realloc(fp->sum, sizeof(float) * bf * (size_t)cap);
        if (!s) {
            *code = FM_ENOMEM;
            return -1;
        }
        fp->sum = s;
        float *w = realloc(fp->w, sizeof(float) * (size_t)cap);
        if (!w) {
            *code = FM_ENOMEM;
            return -1;
        }
        fp->w = w;
        fp->cap = cap;
    }
    long shift = (long)(fp->base - lo);  /* > 0 when b is before the first bin */
    if (fp->nbins && shift > 0) {
        memmove(fp->sum + bf * (size_t)shift, fp->sum, sizeof(float) * bf * (size_t)fp->nbins);
        memmove(fp->w + shift, fp->w, sizeof(float) * (size_t)fp->nbins);
    }
    long old_lo = fp->nbins ? shift : 0, old_hi = fp->nbins ? shift + fp->nbins : 0;
    for (long i = 0; i < need; i++)
        if (i < old_lo || i >= old_hi) {
            memset(fp->sum + bf * (size_t)i, 0, sizeof(float) * bf);
            fp->w[i] = 0;
        }
    fp->base = lo;
    fp->nbins = need;
    return (long)(b - lo);
}

/* ---------------------------------------------------------------- per frame */

static inline double sample_at(const uint8_t *luma, ptrdiff_t stride, int bd, int x, int y)
{
    const uint8_t *row = luma + (ptrdiff_t)y * stride;
    return bd == 8 ? row[x] : ((const uint16_t *)(const void *)row)[x];
}

/* Mean and range of a sparse line of samples (8-bit scale). */
static int is_bar_line(const uint8_t *luma, ptrdiff_t stride, int bd, double scale, int w,
                       int h, int fixed, int is_row)
{
    int n = is_row ? w : h;
    int step = n / 128 > 1 ? n / 128 : 1;
    double s = 0, mn = DBL_MAX, mx = -DBL_MAX;
    int cnt = 0;
    for (int i = step / 2; i < n; i += step) {
        double v = (is_row ? sample_at(luma, stride, bd, i, fixed)
                           : sample_at(luma, stride, bd, fixed, i)) * scale;
        s += v;
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
        cnt++;
    }
    return s / cnt <= BAR_MEAN && mx - mn <= BAR_RANGE;
}

/* Extent of black bars from one edge, in samples (0 if none). */
static int bar_extent(const uint8_t *luma, ptrdiff_t stride, int bd, double scale, int w, int h,
                      int is_row, int from_end)
{
    int n = is_row ? h : w;
    int step = n / 256 > 1 ? n / 256 : 1;
    int limit = (int)(n * MAX_BAR);
    int e = 0;
    while (e < limit) {
        int pos = from_end ? n - 1 - e : e;
        if (!is_bar_line(luma, stride, bd, scale, w, h, pos, is_row))
            break;
        e += step;
    }
    return e < limit ? e : limit;
}

/* Box-averages the central FINE_SPAN of the active picture into fp->fine (8-bit scale). */
static void fine_grid(FmFingerprint *fp, const uint8_t *luma, ptrdiff_t stride, int bd,
                      double scale, int w, int h, double ax0, double ax1, double ay0, double ay1)
{
    int xlo[FINE], xhi[FINE], xst[FINE], ylo[FINE], yhi[FINE], yst[FINE];
    double m = (1 - FINE_SPAN) / 2;
    double rx0 = ax0 + m * (ax1 - ax0), cw = FINE_SPAN * (ax1 - ax0) / FINE;
    double ry0 = ay0 + m * (ay1 - ay0), ch = FINE_SPAN * (ay1 - ay0) / FINE;
    for (int i = 0; i < FINE; i++) {
        int lo = (int)floor(rx0 + i * cw), hi = (int)floor(rx0 + (i + 1) * cw);
        if (hi <= lo)
            hi = lo + 1;
        lo = lo < 0 ? 0 : lo > w - 1 ? w - 1 : lo;
        hi = hi > w ? w : hi <= lo ? lo + 1 : hi;
        xlo[i] = lo, xhi[i] = hi, xst[i] = (hi - lo) / 3 > 1 ? (hi - lo) / 3 : 1;
        lo = (int)floor(ry0 + i * ch), hi = (int)floor(ry0 + (i + 1) * ch);
        if (hi <= lo)
            hi = lo + 1;
        lo = lo < 0 ? 0 : lo > h - 1 ? h - 1 : lo;
        hi = hi > h ? h : hi <= lo ? lo + 1 : hi;
        ylo[i] = lo, yhi[i] = hi, yst[i] = (hi - lo) / 3 > 1 ? (hi - lo) / 3 : 1;
    }
    for (int j = 0; j < FINE; j++) {
        double acc[FINE] = { 0 };
        int rows = 0;
        for (int y = ylo[j]; y < yhi[j]; y += yst[j], rows++) {
            const uint8_t *row = luma + (ptrdiff_t)y * stride;
            for (int i = 0; i < FINE; i++) {
                double s = 0;
                int c = 0;
                if (bd == 8) {
                    for (int x = xlo[i]; x < xhi[i]; x += xst[i], c++)
                        s += row[x];
                } else {
                    const uint16_t *r16 = (const uint16_t *)(const void *)row;
                    for (int x = xlo[i]; x < xhi[i]; x += xst[i], c++)
                        s += r16[x];
                }
                acc[i] += s / c;
            }
        }
        for (int i = 0; i < FINE; i++)
            fp->fine[j * FINE + i] = (float)(acc[i] / rows * scale);
    }
}

/* fm_fingerprint_add, with the picture's area given (area: x0, y0, x1, y1)
 * or found from its bars (area NULL) */
static int add_frame(FmFingerprint *fp, const uint8_t *luma, ptrdiff_t stride, int bit_depth,
                     int width, int height, double t, const double *area, FmError *err)
{
    if (!fp || !luma)
        return fm_error_set(err, FM_EINVAL, "fingerprint: NULL argument");
    if (width < 16 || height < 16 || width > 16384 || height > 16384)
        return fm_error_set(err, FM_EINVAL, "fingerprint: picture size %dx%d outside 16..16384",
                            width, height);
    if (bit_depth < 8 || bit_depth > 16)
        return fm_error_set(err, FM_EINVAL, "fingerprint: bit depth %d outside 8..16", bit_depth);
    if (stride < (ptrdiff_t)width * (bit_depth > 8 ? 2 : 1))
        return fm_error_set(err, FM_EINVAL, "fingerprint: stride %td too small for width %d",
                            stride, width);
    if (!isfinite(t) || fabs(t) > 1e8)
        return fm_error_set(err, FM_EINVAL, "fingerprint: frame time %g is not usable", t);
    if (fp->hard)
        return fm_error_set(err, FM_EINVAL, "fingerprint: a parsed fingerprint takes no frames");

    int code = 0;
    long slot = bin_slot(fp, (int64_t)floor(t * fp->bps), &code);
    if (slot < 0)
        return code == FM_ENOMEM
            ? fm_error_set(err, FM_ENOMEM, "out of memory")
            : fm_error_set(err, FM_EINVAL, "fingerprint: frames span more than %d seconds",
                           FM_FP_MAX_SECONDS);
    fp->frames++;

    double scale = 1.0 / (double)(1 << (bit_depth - 8));
    int w = width, h = height;
    if (area) {
        fine_grid(fp, luma, stride, bit_depth, scale, w, h, area[0], area[2], area[1], area[3]);
    } else {
        int top = bar_extent(luma, stride, bit_depth, scale, w, h, 1, 0);
        int bottom = bar_extent(luma, stride, bit_depth, scale, w, h, 1, 1);
        int left = bar_extent(luma, stride, bit_depth, scale, w, h, 0, 0);
        int right = bar_extent(luma, stride, bit_depth, scale, w, h, 0, 1);
        fine_grid(fp, luma, stride, bit_depth, scale, w, h, left, w - right, top, h - bottom);
    }

    double m = 0, m2 = 0;
    for (int i = 0; i < FINE * FINE; i++)
        m += fp->fine[i];
    m /= FINE * FINE;
    for (int i = 0; i < FINE * FINE; i++)
        m2 += (fp->fine[i] - m) * (fp->fine[i] - m);
    if (sqrt(m2 / (FINE * FINE)) < FLAT_STD)
        return 0;  /* no picture content: counted, no weight */

    int nza = fp->role == FM_FP_CLIP ? NZ_AXIS : 1;
    int nu = fp->umax + 1, nv = fp->vmax + 1;
    float *dst = fp->sum + bin_floats(fp) * (size_t)slot;
    for (int zx = 0; zx < nza; zx++) {
        const float *px = fp->px + (size_t)zx * nu * FINE;
        /* rowproj[j][u] = sum_i fine[j][i] px[u][i], odd u only */
        for (int j = 0; j < FINE; j++) {
            const float *f = fp->fine + j * FINE;
            for (int u = 1; u < nu; u += 2) {
                const float *p = px + u * FINE;
                float s = 0;
                for (int i = 0; i < FINE; i++)
                    s += f[i] * p[i];
                fp->rowproj[j * ROWPROJ_U + u] = s;
            }
        }
        for (int zy = 0; zy < nza; zy++) {
            const float *py = fp->py + (size_t)zy * nv * FINE;
            double norm = 0;
            for (int b = 0; b < FM_FP_BITS; b++) {
                const float *p = py + fp->coef[b].v * FINE;
                int u = fp->coef[b].u;
                float s = 0;
                for (int j = 0; j < FINE; j++)
                    s += fp->rowproj[j * ROWPROJ_U + u] * p[j];
                fp->vec[b] = s;
                norm += (double)s * s;
            }
            if (norm <= 1e-12)
                continue;
            float inv = (float)(1 / sqrt(norm));
            float *d = dst + (size_t)(zx * nza + zy) * FM_FP_BITS;
            for (int b = 0; b < FM_FP_BITS; b++)
                d[b] += fp->vec[b] * inv;
        }
    }
    fp->w[slot] += 1;
    return 0;
}

int fm_fingerprint_add(FmFingerprint *fp, const uint8_t *luma, ptrdiff_t stride, int bit_depth,
                       int width, int height, double t, FmError *err)
{
    return add_frame(fp, luma, stride, bit_depth, width, height, t, NULL, err);
}

int fm_fingerprint_add_area(FmFingerprint *fp, const uint8_t *luma, ptrdiff_t stride,
                            int bit_depth, int width, int height, double t, double x0, double y0,
                            double x1, double y1, FmError *err)
{
    if (!(isfinite(x0) && isfinite(y0) && isfinite(x1) && isfinite(y1)) || x1 - x0 < 16 ||
        y1 - y0 < 16 || fabs(x0) > 1e6 || fabs(y0) > 1e6 || fabs(x1) > 1e6 || fabs(y1) > 1e6)
        return fm_error_set(err, FM_EINVAL, "fingerprint: picture area not usable");
    double area[4] = { x0, y0, x1, y1 };
    return add_frame(fp, luma, stride, bit_depth, width, height, t, area, err);
}

/* ---------------------------------------------------------------- windows */

typedef struct Seq {
    long n;           /* windows */
    uint64_t *h;
    uint8_t *ok;
    long nvalid;
} Seq;

static void seq_free(Seq *s)
{
    free(s->h);
    free(s->ok);
    memset(s, 0, sizeof(*s));
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/*
 * One-second windows of zoom pair zi over bins [b_lo, b_hi): window k holds
 * the bins whose centre lies in clip time [c0 + (k - phase)/r, c0 + (k + 1 -
 * phase)/r), c0 = b_lo / bps. A window is valid with at least half the
 * median weight of the non-empty windows.
 */
static int build_seq(const FmFingerprint *fp, int zi, double r, double phase, int64_t b_lo,
                     int64_t b_hi, Seq *s)
{
    double c0 = (double)b_lo / fp->bps, c_end = (double)b_hi / fp->bps;
    long n = (long)floor(r * (c_end - c0) + phase) + 1;
    memset(s, 0, sizeof(*s));
    s->h = calloc((size_t)n, sizeof(uint64_t));
    s->ok = calloc((size_t)n, 1);
    float *ws = calloc((size_t)n * (FM_FP_BITS + 1), sizeof(float));
    if (!s->h || !s->ok || !ws) {
        free(ws);
        seq_free(s);
        return FM_ENOMEM;
    }
    s->n = n;
    float *wt = ws + (size_t)n * FM_FP_BITS;
    size_t bf = bin_floats(fp);
    for (int64_t b = b_lo; b < b_hi; b++) {
        if (b < fp->base || b >= fp->base + fp->nbins)
            continue;
        long slot = (long)(b - fp->base);
        if (fp->w[slot] <= 0)
            continue;
        double tc = (b + 0.5) / fp->bps;
        long k = (long)floor(r * (tc - c0) + phase);
        if (k < 0 || k >= n)
            continue;
        const float *src = fp->sum + bf * (size_t)slot + (size_t)zi * FM_FP_BITS;
        float *d = ws + (size_t)k * FM_FP_BITS;
        for (int i = 0; i < FM_FP_BITS; i++)
            d[i] += src[i];
        wt[k] += fp->w[slot];
    }
    float *sorted = malloc(sizeof(float) * (size_t)n);
    if (!sorted) {
        free(ws);
        seq_free(s);
        return FM_ENOMEM;
    }
    long nz = 0;
    for (long k = 0; k < n; k++)
        if (wt[k] > 0)
            sorted[nz++] = wt[k];
    float typical = 0;
    if (nz) {
        qsort(sorted, (size_t)nz, sizeof(float), cmp_float);
        typical = sorted[nz / 2];
    }
    free(sorted);
    for (long k = 0; k < n; k++) {
        if (wt[k] <= 0 || wt[k] < 0.5f * typical)
            continue;
        uint64_t hsh = 0;
        const float *d = ws + (size_t)k * FM_FP_BITS;
        for (int i = 0; i < FM_FP_BITS; i++)
            if (d[i] > 0)
                hsh |= (uint64_t)1 << i;
        s->h[k] = hsh;
        s->ok[k] = 1;
        s->nvalid++;
    }
    free(ws);
    return 0;
}

/* The master's one-second hashes, window k = second *s0 + k. */
static int master_seq(const FmFingerprint *fp, Seq *s, int64_t *s0)
{
    if (fp->nbins == 0) {
        memset(s, 0, sizeof(*s));
        *s0 = 0;
        return 0;
    }
    int64_t first = fp->base >= 0 ? fp->base / fp->bps : -((-fp->base + fp->bps - 1) / fp->bps);
    int64_t last = fp->base + fp->nbins;  /* exclusive bin */
    int64_t end_s = last >= 0 ? (last + fp->bps - 1) / fp->bps : -((-last) / fp->bps);
    *s0 = first;
    int ret = build_seq(fp, 0, 1.0, 0.0, first * fp->bps, end_s * fp->bps, s);
    if (ret == 0 && s->n > end_s - first)
        s->n = (long)(end_s - first);  /* the extra window past the end is empty */
    return ret;
}

long fm_fingerprint_seconds(const FmFingerprint *fp)
{
    Seq s;
    int64_t s0;
    if (!fp || master_seq(fp, &s, &s0) < 0)
        return 0;
    long n = s.nvalid;
    seq_free(&s);
    return n;
}

/* ---------------------------------------------------------------- strings */

int fm_fingerprint_to_string(const FmFingerprint *fp, char **out, FmError *err)
{
    Seq s;
    int64_t s0;
    if (!fp || !out)
        return fm_error_set(err, FM_EINVAL, "fingerprint: NULL argument");
    *out = NULL;
    if (master_seq(fp, &s, &s0) < 0)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    /* leading and trailing seconds without content are left out */
    long a = 0, b = s.n;
    while (a < b && !s.ok[a])
        a++;
    while (b > a && !s.ok[b - 1])
        b--;
    if (a == b)
        s0 = 0;
    size_t len = 32 + (size_t)(b - a) * 16 + 1;
    char *str = malloc(len);
    if (!str) {
        seq_free(&s);
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    }
    size_t o = (size_t)snprintf(str, len, "%s:%lld:", FM_FP_VERSION_TAG,
                                (long long)(a == b ? 0 : s0 + a));
    for (long k = a; k < b; k++) {
        if (s.ok[k])
            o += (size_t)snprintf(str + o, len - o, "%016llx", (unsigned long long)s.h[k]);
        else
            str[o++] = '-';
    }
    str[o] = 0;
    seq_free(&s);
    *out = str;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int fm_fingerprint_from_string(FmFingerprint **out, const char *str, FmError *err)
{
    if (!out)
        return fm_error_set(err, FM_EINVAL, "fingerprint: no output pointer");
    *out = NULL;
    size_t tl = strlen(FM_FP_VERSION_TAG);
    if (!str || strncmp(str, FM_FP_VERSION_TAG, tl) != 0 || str[tl] != ':')
        return fm_error_set(err, FM_EFORMAT, "not a content fingerprint (no '%s:' tag)",
                            FM_FP_VERSION_TAG);
    const char *p = str + tl + 1;
    char *end;
    long long first = strtoll(p, &end, 10);
    if (end == p || *end != ':' || first < -(long long)1e8 || first > (long long)1e8)
        return fm_error_set(err, FM_EFORMAT, "content fingerprint: bad first second");
    p = end + 1;
    /* count the seconds */
    long n = 0;
    for (const char *q = p; *q;) {
        if (*q == '-') {
            q++;
        } else {
            for (int i = 0; i < 16; i++)
                if (hexval(q[i]) < 0)
                    return fm_error_set(err, FM_EFORMAT,
                                        "content fingerprint: bad hash at second %ld", n);
            q += 16;
        }
        if (++n > FM_FP_MAX_SECONDS)
            return fm_error_set(err, FM_EFORMAT, "content fingerprint: longer than %d seconds",
                                FM_FP_MAX_SECONDS);
    }
    FmFingerprint *fp;
    int ret = fm_fingerprint_new(&fp, FM_FP_REFERENCE, err);
    if (ret < 0)
        return ret;
    fp->hard = 1;
    if (n > 0) {
        int code = 0;
        if (bin_slot(fp, first, &code) < 0 || bin_slot(fp, first + n - 1, &code) < 0) {
            fm_fingerprint_free(&fp);
            return fm_error_set(err, code == FM_ENOMEM ? FM_ENOMEM : FM_EFORMAT,
                                "content fingerprint: cannot hold it");
        }
    }
    for (long k = 0; k < n; k++) {
        if (*p == '-') {
            p++;
            continue;
        }
        uint64_t hsh = 0;
        for (int i = 0; i < 16; i++)
            hsh = hsh << 4 | (uint64_t)hexval(p[i]);
        p += 16;
        float *d = fp->sum + (size_t)k * FM_FP_BITS;
        for (int i = 0; i < FM_FP_BITS; i++)
            d[i] = (hsh >> i & 1) ? 1.0f : -1.0f;
        fp->w[k] = 1;
    }
    *out = fp;
    return 0;
}

/* ---------------------------------------------------------------- statistics */

/* log10 P(X >= a), X ~ Bin(n, 1/2). */
static double log10_binom_tail(long n, long a)
{
    if (a <= 0)
        return 0;
    if (a > n)
        return -INFINITY;
    if (2 * a <= n) {
        /* P(X >= a) = 1 - P(X <= a - 1) = 1 - P(X >= n - a + 1) */
        double q = log10_binom_tail(n, n - a + 1);
        return log10(1 - pow(10, q));
    }
    double lt = lgamma(n + 1.0) - lgamma(a + 1.0) - lgamma((double)(n - a) + 1) - n * M_LN2;
    double s = 1, term = 1;
    for (long i = a; i < n; i++) {
        term *= (double)(n - i) / (double)(i + 1);
        s += term;
        if (term < 1e-17 * s)
            break;
    }
    return (lt + log(s)) / M_LN10;
}

typedef struct Counts {
    long pairs, first_k, last_k;
    long e_v, e_n;      /* disagreements on odd-v bits / the others */
    long t_v, t_n;      /* runs */
    long a_v, a_n;      /* agreeing runs */
} Counts;

/*
 * The aligned pairs of one hypothesis (clip sequence c at master offset j),
 * as prefix sums over the pairs, so that a run of the clip's windows between
 * two of the given bounds (sorted window indices) is counted in O(1). Runs: per bit, a pair continues the run of the
 * previous pair unless the clip's or the master's bit changed.
 */
typedef struct Pairs {
    long n;                          /* pairs */
    long *k;                         /* window index of pair p */
    long *pidx;                      /* [K + 1]: pairs with window index < k, at the bounds */
    int32_t *ev, *en, *tv, *tn, *av, *an;  /* [n + 1] prefix sums: errors (odd v / other
                                              bits), continuing runs, agreeing ones */
} Pairs;

static void pairs_free(Pairs *p)
{
    free(p->k);
    free(p->pidx);
    free(p->ev);
    memset(p, 0, sizeof(*p));
}

static int pairs_alloc(Pairs *p, long max_windows)
{
    memset(p, 0, sizeof(*p));
    size_t n1 = (size_t)max_windows + 1;
    p->k = malloc(sizeof(long) * n1);
    p->pidx = malloc(sizeof(long) * n1);
    p->ev = malloc(sizeof(int32_t) * n1 * 6);
    if (!p->k || !p->pidx || !p->ev) {
        pairs_free(p);
        return FM_ENOMEM;
    }
    p->en = p->ev + n1, p->tv = p->en + n1, p->tn = p->tv + n1;
    p->av = p->tn + n1, p->an = p->av + n1;
    return 0;
}

/* The inner loop of the search: with the POPCNT instruction where the CPU has it. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define FP_POPCNT_CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define FP_POPCNT_CLONES
#endif

FP_POPCNT_CLONES
static void pair_stats(const Seq *c, const Seq *m, long j, long kstride, uint64_t vmask,
                       const long *bounds, int nb, Pairs *p)
{
    int bi = 0;
    long k0 = j < 0 ? -j : 0, k1 = c->n < m->n - j ? c->n : m->n - j;
    uint64_t cp = 0, mp = 0;
    long n = 0;
    p->ev[0] = p->en[0] = p->tv[0] = p->tn[0] = p->av[0] = p->an[0] = 0;
    if (k0 % kstride)
        k0 += kstride - k0 % kstride;  /* the same windows for every j */
    for (long k = k0; k < k1; k += kstride) {
        if (!c->ok[k] || !m->ok[j + k])
            continue;
        uint64_t ch = c->h[k], mh = m->h[j + k], d = ch ^ mh;
        uint64_t change = n == 0 ? ~(uint64_t)0 : (ch ^ cp) | (mh ^ mp);
        uint64_t agree = change & ~d;
        cp = ch, mp = mh;
        while (bi < nb && bounds[bi] <= k)
            p->pidx[bounds[bi++]] = n;
        p->k[n] = k;
        p->ev[n + 1] = p->ev[n] + __builtin_popcountll(d & vmask);
        p->en[n + 1] = p->en[n] + __builtin_popcountll(d & ~vmask);
        p->tv[n + 1] = p->tv[n] + __builtin_popcountll(change & vmask);
        p->tn[n + 1] = p->tn[n] + __builtin_popcountll(change & ~vmask);
        p->av[n + 1] = p->av[n] + __builtin_popcountll(agree & vmask);
        p->an[n + 1] = p->an[n] + __builtin_popcountll(agree & ~vmask);
        n++;
    }
    while (bi < nb)
        p->pidx[bounds[bi++]] = n;
    p->n = n;
}

/* Counts over the clip windows [ks, ke): its first pair starts every run. */
static void seg_counts(const Pairs *p, long ks, long ke, int nv_bits, Counts *ct)
{
    long p0 = p->pidx[ks], p1 = p->pidx[ke];
    memset(ct, 0, sizeof(*ct));
    if (p1 <= p0)
        return;
    int ev0 = p->ev[p0 + 1] - p->ev[p0], en0 = p->en[p0 + 1] - p->en[p0];
    ct->pairs = p1 - p0;
    ct->first_k = p->k[p0];
    ct->last_k = p->k[p1 - 1];
    ct->e_v = p->ev[p1] - p->ev[p0];
    ct->e_n = p->en[p1] - p->en[p0];
    ct->t_v = nv_bits + (p->tv[p1] - p->tv[p0 + 1]);
    ct->t_n = (FM_FP_BITS - nv_bits) + (p->tn[p1] - p->tn[p0 + 1]);
    ct->a_v = (nv_bits - ev0) + (p->av[p1] - p->av[p0 + 1]);
    ct->a_n = (FM_FP_BITS - nv_bits - en0) + (p->an[p1] - p->an[p0 + 1]);
}

/*
 * The runs of clip windows compared for a clip of n windows: all of it, and
 * (local alignment: a splice, an intro, a compilation) halves, quarters and
 * eighths of it at half-length steps, none shorter than SEG_MIN windows.
 */
static int seg_list(long n, long seg[][2])
{
    int ns = 0;
    seg[ns][0] = 0, seg[ns][1] = n, ns++;
    for (int level = 1; level <= SEG_LEVELS; level++) {
        long len = (n + (1L << level) - 1) >> level, step = (len + 1) / 2;
        if (len < SEG_MIN)
            break;
        for (long st = 0;; st += step) {
            if (st + len >= n) {
                seg[ns][0] = n - len, seg[ns][1] = n, ns++;
                break;
            }
            seg[ns][0] = st, seg[ns][1] = st + len, ns++;
        }
    }
    return ns;
}

/* The distinct segment ends, ascending. */
static int seg_bounds(const long seg[][2], int ns, long *bounds)
{
    int nb = 0;
    for (int i = 0; i < ns; i++)
        for (int e = 0; e < 2; e++) {
            long v = seg[i][e];
            int at = 0;
            while (at < nb && bounds[at] < v)
                at++;
            if (at < nb && bounds[at] == v)
                continue;
            memmove(bounds + at + 1, bounds + at, sizeof(long) * (size_t)(nb - at));
            bounds[at] = v;
            nb++;
        }
    return nb;
}

typedef struct Flipped {
    long bits, errors, trials, agreements;
} Flipped;

/* Counts for flip f (bit 0 horizontal: every bit turns; bit 1 vertical: odd-v bits turn). */
static Flipped flip_counts(const Counts *ct, int f, int nv_bits)
{
    long bv = ct->pairs * nv_bits, bn = ct->pairs * (FM_FP_BITS - nv_bits);
    int turn_v = ((f & 1) != 0) != ((f & 2) != 0), turn_n = (f & 1) != 0;
    Flipped r;
    r.bits = bv + bn;
    r.errors = (turn_v ? bv - ct->e_v : ct->e_v) + (turn_n ? bn - ct->e_n : ct->e_n);
    r.trials = ct->t_v + ct->t_n;
    r.agreements = (turn_v ? ct->t_v - ct->a_v : ct->a_v) + (turn_n ? ct->t_n - ct->a_n : ct->a_n);
    return r;
}

typedef struct Hyp {
    int zi, ri, pi, flip;
    long j, ks, ke;    /* master offset; clip windows [ks, ke) */
    double key;  /* ranking: lower is better */
} Hyp;

typedef struct Best {
    int have;
    int sig;           /* log10_p <= the threshold for one hypothesis */
    int full;          /* compares >= 3/4 of the clip's windows */
    double log10_p, z;
    Hyp h;
    Counts ct;
    Flipped fc;
} Best;

/*
 * Keeps the best hypothesis: if none is significant (log10 p <= thr, the
 * match threshold less the hypotheses tried), the one with the smallest p;
 * else, of the significant ones, preferably one that compares at least 3/4
 * of the clip's windows (a still shot fits many partial overlaps; the full
 * one is the one to report), then the smallest p. The exact tail is
 * computed only where it can matter: for z within 1.5 of the best so far,
 * or where the hypothesis may be significant (z >= zsig). Neither choice
 * changes whether a match is reported, and the reported p is never smaller
 * than the smallest, so the bound p x hypotheses stays valid.
 */
static void consider(Best *best, const Hyp *h, const Counts *ct, const Flipped *fc,
                     long clip_windows, double thr, double zsig)
{
    if (fc->trials <= 0 || ct->pairs < FM_FP_MIN_SECONDS)
        return;
    double z = (2.0 * fc->agreements - fc->trials) / sqrt((double)fc->trials);
    if (best->have && z < zsig && (best->sig || z < best->z - 1.5))
        return;
    /* exact tail where it can matter; the normal approximation (p > 0.15) elsewhere */
    double lp = z > 1 ? log10_binom_tail(fc->trials, fc->agreements)
                      : log10(0.5 * erfc(z / M_SQRT2));
    int sig = lp <= thr, full = ct->pairs * 4 >= clip_windows * 3;
    int better;
    if (!best->have)
        better = 1;
    else if (sig != best->sig)
        better = sig;
    else if (sig && full != best->full)
        better = full;
    else if (lp != best->log10_p)
        better = lp < best->log10_p;
    else  /* a tie (e.g. speeds that pick the same bins): the plainer hypothesis */
        better = (h->ri != 0) + (h->zi != 0) + (h->pi != 0) + (h->flip != 0) <
                 (best->h.ri != 0) + (best->h.zi != 0) + (best->h.pi != 0) + (best->h.flip != 0);
    if (better) {
        best->have = 1;
        best->sig = sig;
        best->full = full;
        best->log10_p = lp;
        best->z = z;
        best->h = *h;
        best->ct = *ct;
        best->fc = *fc;
    }
}

typedef struct Top {
    Hyp h[STAGE2_KEEP];
    int n, worst;
} Top;

static void keep_top(Top *t, const Hyp *h)
{
    if (t->n < STAGE2_KEEP) {
        t->h[t->n++] = *h;
        if (t->n == STAGE2_KEEP)
            for (int i = 0; i < t->n; i++)
                if (t->h[i].key > t->h[t->worst].key)
                    t->worst = i;
        return;
    }
    if (h->key >= t->h[t->worst].key)
        return;
    t->h[t->worst] = *h;
    for (int i = 0; i < t->n; i++)
        if (t->h[i].key > t->h[t->worst].key)
            t->worst = i;
}

/* A master second index from a whole-valued double, saturated to
 * +-LONG_MAX / 2 (infinite and huge bounds; no overflowing conversion). */
static long offset_index(double v)
{
    return v <= (double)(LONG_MIN / 2) ? LONG_MIN / 2
         : v >= (double)(LONG_MAX / 2) ? LONG_MAX / 2 : (long)v;
}

/* The master seconds j (relative to s0) at which a clip window 0 of phase
 * `phase` and speed r lands with an offset (master time at clip time 0) in
 * [lo, hi]: *j0 .. *j1, or all when the bounds are -INFINITY, INFINITY
 * (an infinite bound on the wrong side, [INFINITY, INFINITY], is none). */
static void offset_range(double lo, double hi, int64_t s0, double phase, double r, double c0,
                         long *j0, long *j1)
{
    *j0 = offset_index(ceil(lo - (double)s0 - phase + r * c0));
    *j1 = offset_index(floor(hi - (double)s0 - phase + r * c0));
}

static int compare(const FmFingerprint *master, const FmFingerprint *clip, double clip_from,
                   double clip_to, double offset_lo, double offset_hi, FmFpMatch *res,
                   FmError *err)
{
    if (!master || !clip || !res)
        return fm_error_set(err, FM_EINVAL, "fingerprint compare: NULL argument");
    if (isnan(clip_from) || isnan(clip_to) || clip_to <= clip_from)
        return fm_error_set(err, FM_EINVAL, "fingerprint compare: empty clip span");
    memset(res, 0, sizeof(*res));
    res->verdict = FM_FP_TOO_SHORT;
    res->speed = 1;
    res->zoom_x = res->zoom_y = zoom_axis[0];
    res->score = 0.5;

    Seq m = { 0 };
    int64_t s0;
    if (master_seq(master, &m, &s0) < 0)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    int ret = 0;
    if (m.nvalid < FM_FP_MIN_SECONDS || clip->nbins == 0)
        goto done;

    /* the clip's bins inside the span */
    int bps = clip->bps;
    int64_t b_lo = clip->base, b_hi = clip->base + clip->nbins;
    if (clip_from > -1e12) {
        double f = ceil(clip_from * bps - 0.5);  /* bins whose centre is >= clip_from */
        if (f > (double)b_lo)
            b_lo = f > (double)b_hi ? b_hi : (int64_t)f;
    }
    if (clip_to < 1e12) {
        double f = ceil(clip_to * bps - 0.5);
        if (f < (double)b_hi)
            b_hi = f < (double)b_lo ? b_lo : (int64_t)f;
    }
    if (b_hi <= b_lo)
        goto done;
    double c0 = (double)b_lo / bps, dur = (double)(b_hi - b_lo) / bps;

    Seq c;
    if (build_seq(clip, 0, 1.0, 0.0, b_lo, b_hi, &c) < 0) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory");
        goto done;
    }
    long clip_valid = c.nvalid;
    seq_free(&c);
    if (clip_valid < FM_FP_MIN_SECONDS)
        goto done;

    int nv_bits = __builtin_popcountll(master->vmask);
    int nzoom = clip->nzoom, nphase = bps;
    int use_r[NSPEEDS], nr = 0;
    for (int ri = 0; ri < NSPEEDS; ri++)
        if (ri == 0 || fabs(speeds[ri] - 1) * dur >= 0.25)
            use_r[nr++] = ri;

    /* count the hypotheses (every zoom, speed, phase, flip, run of the clip
     * and offset at which that run meets the master) */
    double hyps = 0;
    long max_k = 0;
    long seg[SEG_MAX][2];
    for (int a = 0; a < nr; a++)
        for (int pi = 0; pi < nphase; pi++) {
            long n = (long)floor(speeds[use_r[a]] * dur + (double)pi / bps) + 1;
            max_k = n > max_k ? n : max_k;
            int ns = seg_list(n, seg);
            long j0, j1;
            offset_range(offset_lo, offset_hi, s0, (double)pi / bps, speeds[use_r[a]], c0, &j0,
                         &j1);
            for (int si = 0; si < ns; si++) {
                long len = seg[si][1] - seg[si][0], offs = len + m.n - 3;
                if ((double)j1 - (double)j0 + 1 < (double)offs)
                    offs = j1 - j0 + 1;
                hyps += (double)nzoom * 4 * (double)(offs > 0 ? offs : 1);
            }
        }
    /*
     * First pass: every zoom, speed, phase, offset, flip and part of the clip
     * (long clips: on every kstride-th window). The whole clip is judged
     * here; the STAGE2_KEEP hypotheses of highest raw agreement (any part) go
     * to a second pass in full, at the neighbouring offsets too. All are
     * counted in hyps; the p reported is the smallest of those evaluated,
     * never below the smallest of all, so p x hyps stays a valid bound.
     */
    long kstride = max_k > STAGE1_WINDOWS ? (max_k + STAGE1_WINDOWS - 1) / STAGE1_WINDOWS : 1;
    double thr = FM_FP_LOG10_P_MATCH - log10(hyps);
    double zsig = sqrt(2 * M_LN10 * -thr) - 2;  /* Hoeffding: below it p > 10^thr by a margin */

    Best best = { 0 };
    static const Top top_init;
    Top *top = malloc(sizeof(Top));
    Pairs pr;
    long bounds[2 * SEG_MAX];
    if (!top || pairs_alloc(&pr, max_k) < 0) {
        free(top);
        ret = fm_error_set(err, FM_ENOMEM, "out of memory");
        goto done;
    }
    *top = top_init;
    for (int zi = 0; zi < nzoom && ret == 0; zi++)
        for (int a = 0; a < nr && ret == 0; a++)
            for (int pi = 0; pi < nphase; pi++) {
                int ri = use_r[a];
                if (build_seq(clip, zi, speeds[ri], (double)pi / bps, b_lo, b_hi, &c) < 0) {
                    ret = fm_error_set(err, FM_ENOMEM, "out of memory");
                    break;
                }
                int ns = seg_list(c.n, seg), nb = seg_bounds(seg, ns, bounds);
                int second = kstride > 1 || ns > 1;
                long j0, j1;
                offset_range(offset_lo, offset_hi, s0, (double)pi / bps, speeds[ri], c0, &j0,
                             &j1);
                for (long j = j0 > -(c.n - 2) ? j0 : -(c.n - 2); j <= m.n - 2 && j <= j1; j++) {
                    pair_stats(&c, &m, j, kstride, master->vmask, bounds, nb, &pr);
                    if (pr.n == 0)
                        continue;
                    if (kstride == 1) {  /* the whole clip, judged here */
                        Counts ct;
                        seg_counts(&pr, 0, c.n, nv_bits, &ct);
                        for (int f = 0; f < 4; f++) {
                            Flipped fc = flip_counts(&ct, f, nv_bits);
                            Hyp h = { zi, ri, pi, f, j, 0, c.n, 0 };
                            consider(&best, &h, &ct, &fc, c.nvalid, thr, zsig);
                        }
                    }
                    for (int si = 0; second && si < ns; si++) {
                        /* rank by raw agreement, the best flip only */
                        long p0 = pr.pidx[seg[si][0]], p1 = pr.pidx[seg[si][1]];
                        if (p1 <= p0)
                            continue;
                        long ev = pr.ev[p1] - pr.ev[p0], en = pr.en[p1] - pr.en[p0];
                        long bv = (p1 - p0) * nv_bits, bn = (p1 - p0) * (FM_FP_BITS - nv_bits);
                        long e[4] = { ev + en, (bv - ev) + (bn - en), (bv - ev) + en,
                                      ev + (bn - en) };
                        int f = 0;
                        for (int q = 1; q < 4; q++)
                            if (e[q] < e[f])
                                f = q;
                        double d = (double)(bv + bn - 2 * e[f]);
                        if (d <= 0 || (top->n == STAGE2_KEEP &&
                                       d * d <= -top->h[top->worst].key * (double)(bv + bn)))
                            continue;  /* not among the best */
                        Hyp h = { zi, ri, pi, f, j, seg[si][0], seg[si][1], 0 };
                        h.key = -d * d / (double)(bv + bn);  /* -z^2 */
                        keep_top(top, &h);
                    }
                }
                seq_free(&c);
            }
    for (int i = 0; i < top->n && ret == 0; i++) {
        const Hyp *h = &top->h[i];
        if (build_seq(clip, h->zi, speeds[h->ri], (double)h->pi / bps, b_lo, b_hi, &c) < 0) {
            ret = fm_error_set(err, FM_ENOMEM, "out of memory");
            break;
        }
        long hb[2] = { h->ks, h->ke };
        long j0, j1;
        offset_range(offset_lo, offset_hi, s0, (double)h->pi / bps, speeds[h->ri], c0, &j0, &j1);
        for (long j = h->j - 1; j <= h->j + 1; j++) {
            if (j < j0 || j > j1)
                continue;
            Counts ct;
            pair_stats(&c, &m, j, 1, master->vmask, hb, 2, &pr);
            seg_counts(&pr, h->ks, h->ke, nv_bits, &ct);
            Flipped fc = flip_counts(&ct, h->flip, nv_bits);
            Hyp hh = *h;
            hh.j = j;
            consider(&best, &hh, &ct, &fc, c.nvalid, thr, zsig);
        }
        seq_free(&c);
    }
    free(top);
    pairs_free(&pr);
    if (ret < 0 || !best.have)
        goto done;

    double r = speeds[best.h.ri], phase = (double)best.h.pi / bps;
    res->log10_hypotheses = log10(hyps);
    res->log10_p_best = best.log10_p;
    res->log10_p = fmin(0.0, best.log10_p + res->log10_hypotheses);
    res->score = best.fc.bits ? 1.0 - (double)best.fc.errors / (double)best.fc.bits : 0.5;
    res->speed = r;
    res->offset = (double)(s0 + best.h.j) + phase - r * c0;
    res->hflip = best.h.flip & 1;
    res->vflip = (best.h.flip >> 1) & 1;
    res->zoom_x = zoom_axis[nzoom > 1 ? best.h.zi / NZ_AXIS : 0];
    res->zoom_y = zoom_axis[nzoom > 1 ? best.h.zi % NZ_AXIS : 0];
    res->clip_from = c0 + (best.ct.first_k - phase) / r;
    res->clip_to = c0 + (best.ct.last_k + 1 - phase) / r;
    res->master_from = (double)(s0 + best.h.j + best.ct.first_k);
    res->master_to = (double)(s0 + best.h.j + best.ct.last_k + 1);
    res->windows = (int)best.ct.pairs;
    res->bits = best.fc.bits;
    res->bit_errors = best.fc.errors;
    res->trials = best.fc.trials;
    res->agreements = best.fc.agreements;
    res->verdict = res->log10_p <= FM_FP_LOG10_P_MATCH ? FM_FP_MATCH : FM_FP_NO_MATCH;
    res->match = res->verdict == FM_FP_MATCH;
done:
    seq_free(&m);
    return ret;
}

int fm_fingerprint_compare_span(const FmFingerprint *master, const FmFingerprint *clip,
                                double clip_from, double clip_to, FmFpMatch *res,
                                FmError *err)
{
    return compare(master, clip, clip_from, clip_to, -INFINITY, INFINITY, res, err);
}

int fm_fingerprint_compare_near(const FmFingerprint *master, const FmFingerprint *clip,
                                double clip_from, double clip_to, double offset_from,
                                double offset_to, FmFpMatch *res, FmError *err)
{
    if (isnan(offset_from) || isnan(offset_to) || offset_to < offset_from)
        return fm_error_set(err, FM_EINVAL, "fingerprint compare: empty offset range");
    return compare(master, clip, clip_from, clip_to, offset_from, offset_to, res, err);
}

int fm_fingerprint_compare(const FmFingerprint *master, const FmFingerprint *clip,
                           FmFpMatch *res, FmError *err)
{
    return fm_fingerprint_compare_span(master, clip, -INFINITY, INFINITY, res, err);
}

void fm_fp_match_add_hypotheses(FmFpMatch *m, double log10_n)
{
    if (m->verdict == FM_FP_TOO_SHORT || !(log10_n > 0))
        return;
    m->log10_hypotheses += log10_n;
    m->log10_p = fmin(0.0, m->log10_p_best + m->log10_hypotheses);
    m->verdict = m->log10_p <= FM_FP_LOG10_P_MATCH ? FM_FP_MATCH : FM_FP_NO_MATCH;
    m->match = m->verdict == FM_FP_MATCH;
}
