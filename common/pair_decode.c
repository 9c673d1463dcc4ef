#include "pair_decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fm_error.h"

#define WORDS_MAX (FM_PAIR_MAX_K / 64)

struct FmPairCode {
    const FmPolar *code;
    int n, k, words;
    uint64_t *col;   /* [n * words]: column i of the generator, bit j = message bit j's share */
};

int fm_pair_code_init(FmPairCode **pcp, const FmPolar *code)
{
    *pcp = NULL;
    int n = fm_polar_n(code), k = fm_polar_k(code);
    if (k > FM_PAIR_MAX_K)
        return FM_EINVAL;
    FmPairCode *pc = calloc(1, sizeof(*pc));
    uint8_t *unit = calloc((size_t)k, 1), *coded = malloc((size_t)n);
    int words = (k + 63) / 64;
    uint64_t *col = pc ? calloc((size_t)n * (size_t)words, sizeof(uint64_t)) : NULL;
    if (!pc || !unit || !coded || !col) {
        free(pc);
        free(unit);
        free(coded);
        free(col);
        return FM_ENOMEM;
    }
    for (int j = 0; j < k; j++) {
        unit[j] = 1;
        fm_polar_encode(code, unit, coded);
        unit[j] = 0;
        for (int i = 0; i < n; i++)
            if (coded[i])
                col[(size_t)i * words + j / 64] |= 1ULL << (j % 64);
    }
    free(unit);
    free(coded);
    *pc = (FmPairCode){ code, n, k, words, col };
    *pcp = pc;
    return 0;
}

void fm_pair_code_free(FmPairCode **pcp)
{
    if (!pcp || !*pcp)
        return;
    free((*pcp)->col);
    free(*pcp);
    *pcp = NULL;
}

static int by_value(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* How many of the n sorted values are < t (or <= t with `ties`). */
static int count_below(const float *sorted, int n, double t, int ties)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (sorted[mid] < t || (ties && sorted[mid] == t))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int fm_pair_threshold(const float *soft, int n, double *tau)
{
    *tau = 0;
    float *mag = n > 0 ? malloc(sizeof(float) * (size_t)n) : NULL;
    if (!mag)
        return n > 0 ? FM_ENOMEM : FM_EINVAL;
    for (int i = 0; i < n; i++)
        mag[i] = fabsf(soft[i]);
    qsort(mag, (size_t)n, sizeof(float), by_value);
    /* two kinds by their medians (1-D k-medians): from halfway between the
     * quartiles, each kind's median when half the bits differ, to halfway
     * between the medians of the values below and above, until it settles
     * (a fixed point, or 32 steps) */
    double t = 0.5 * ((double)mag[n / 4] + mag[(3 * n) / 4]);
    for (int it = 0; it < 32; it++) {
        /* the values below t: mag[0 .. c-1]; those at or below t when
         * none is below (a tie at the start: every value 0 or m) */
        int c = count_below(mag, n, t, 0);
        if (c == 0)
            c = count_below(mag, n, t, 1);
        if (c == 0 || c == n)
            break;
        double next = 0.5 * ((double)mag[c / 2] + mag[c + (n - c) / 2]);
        if (next == t)
            break;
        t = next;
    }
    *tau = t;
    free(mag);
    return *tau > 0 ? 0 : FM_EINVAL;
}

/* ---- step 2: ordered-statistics decoding on the agreeing bits ---- */

typedef struct Row {
    uint64_t v[WORDS_MAX];
    int rhs, piv;
} Row;

typedef struct Order {
    float rel;
    int pos;
} Order;

/* Most reliable first; equal reliabilities by position (a total order:
 * the same solution on every host). */
static int by_reliability(const void *a, const void *b)
{
    const Order *x = a, *y = b;
    if (x->rel != y->rel)
        return x->rel > y->rel ? -1 : 1;
    return x->pos - y->pos;
}

typedef struct Osd {
    Row *basis;      /* [k], in the order inserted (most reliable first) */
    int *row_of;     /* [k]: basis row whose pivot is message bit j, or -1 */
    Order *order;    /* [n] */
    int nb;
} Osd;

/*
 * Gaussian elimination over the positions in order: each column is reduced
 * by the rows whose pivots it holds; what is left, if anything, becomes a
 * row with its lowest bit as pivot. Stops at k rows (full rank).
 */
static void eliminate(const FmPairCode *pc, const float *soft, Osd *o, int npos)
{
    int words = pc->words;
    for (int j = 0; j < pc->k; j++)
        o->row_of[j] = -1;
    o->nb = 0;
    for (int q = 0; q < npos && o->nb < pc->k; q++) {
        int i = o->order[q].pos;
        Row r;
        memcpy(r.v, pc->col + (size_t)i * words, sizeof(uint64_t) * (size_t)words);
        r.rhs = soft[i] > 0;
        for (;;) {
            int piv = -1;
            for (int w = 0; w < words; w++)
                if (r.v[w]) {
                    piv = w * 64 + __builtin_ctzll(r.v[w]);
                    break;
                }
            if (piv < 0)
                break;   /* dependent on the rows before: its sign is not needed */
            int b = o->row_of[piv];
            if (b < 0) {
                r.piv = piv;
                o->row_of[piv] = o->nb;
                o->basis[o->nb++] = r;
                break;
            }
            for (int w = 0; w < words; w++)
                r.v[w] ^= o->basis[b].v[w];
            r.rhs ^= o->basis[b].rhs;
        }
    }
}

/* The message u with every row's equation satisfied, row `flip`'s (or none,
 * -1) with the other value: back-substitution from the highest pivot. */
static void solve(const FmPairCode *pc, const Osd *o, int flip, uint8_t *u)
{
    for (int j = pc->k - 1; j >= 0; j--) {
        const Row *r = &o->basis[o->row_of[j]];
        int s = r->rhs ^ (o->row_of[j] == flip);
        for (int w = j / 64; w < pc->words; w++) {
            uint64_t x = r->v[w];
            if (w == j / 64)
                x &= ~(1ULL << (j % 64));
            while (x) {
                s ^= u[w * 64 + __builtin_ctzll(x)];
                x &= x - 1;
            }
        }
        u[j] = (uint8_t)s;
    }
}

int fm_pair_differences(const FmPairCode *pc, const float *soft, int dlist, uint8_t *dcands,
                        int *found)
{
    int n = pc->n;
    *found = 0;
    if (dlist < 1 || dlist > FM_POLAR_MAX_LIST)
        return FM_EINVAL;
    for (int i = 0; i < n; i++)
        if (!isfinite(soft[i]))
            return FM_EINVAL;
    double tau;
    int ret = fm_pair_threshold(soft, n, &tau);
    if (ret < 0)
        return ret;
    float *erased = malloc(sizeof(float) * (size_t)n);
    if (!erased)
        return FM_ENOMEM;
    /* how likely bit i is one the copies disagree on (positive: yes),
     * tau - |y_i|, which the min-sum decoder takes at any scale */
    for (int i = 0; i < n; i++)
        erased[i] = (float)(tau - fabsf(soft[i]));
    ret = fm_polar_decode_list(pc->code, erased, dlist, dcands, found);
    free(erased);
    return ret;
}

int fm_pair_decode(const FmPairCode *pc, const float *soft, int dlist, int flips,
                   uint8_t *cands, int max, int *found)
{
    int n = pc->n, k = pc->k;
    *found = 0;
    if (dlist < 1 || dlist > FM_POLAR_MAX_LIST || flips < 0 || flips > k || max < 0)
        return FM_EINVAL;
    for (int i = 0; i < n; i++)
        if (!isfinite(soft[i]))
            return FM_EINVAL;
    uint8_t *dcands = malloc((size_t)dlist * (size_t)k);
    uint8_t *xd = malloc((size_t)n), *u = malloc((size_t)k);
    Osd o = { malloc(sizeof(Row) * (size_t)k), malloc(sizeof(int) * (size_t)k),
              malloc(sizeof(Order) * (size_t)n), 0 };
    int nd = 0, ret = 0;
    if (!dcands || !xd || !u || !o.basis || !o.row_of || !o.order) {
        ret = FM_ENOMEM;
        goto out;
    }
    /* step 1 */
    if ((ret = fm_pair_differences(pc, soft, dlist, dcands, &nd)) < 0)
        goto out;

    for (int d = 0; d < nd; d++) {
        const uint8_t *dm = dcands + (size_t)d * k;
        fm_polar_encode(pc->code, dm, xd);
        /* the agreeing bits by |y|, then the disagreeing ones (only the
         * last pivot should come from them) */
        int na = 0;
        for (int i = 0; i < n; i++)
            if (!xd[i])
                o.order[na++] = (Order){ fabsf(soft[i]), i };
        qsort(o.order, (size_t)na, sizeof(Order), by_reliability);
        int np = na;
        for (int i = 0; i < n; i++)
            if (xd[i])
                o.order[np++] = (Order){ fabsf(soft[i]), i };
        qsort(o.order + na, (size_t)(np - na), sizeof(Order), by_reliability);
        eliminate(pc, soft, &o, np);
        if (o.nb < k)
            continue;   /* cannot happen for a code of full rank */
        int nflip = flips < k ? flips : k;
        for (int f = -1; f < nflip; f++) {
            solve(pc, &o, f < 0 ? -1 : k - 1 - f, u);
            for (int side = 0; side < 2; side++) {
                if (*found >= max)
                    goto out;
                uint8_t *c = cands + (size_t)*found * k;
                for (int j = 0; j < k; j++)
                    c[j] = (uint8_t)(u[j] ^ (side ? dm[j] : 0));
                ++*found;
            }
        }
    }
out:
    if (u)
        memset(u, 0, (size_t)k);
    free(dcands);
    free(xd);
    free(u);
    free(o.basis);
    free(o.row_of);
    free(o.order);
    return ret;
}
