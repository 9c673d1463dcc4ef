#include "polar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fm_error.h"

struct FmPolar {
    int n, k, log2n;
    uint8_t *frozen;   /* n flags */
    int *info;         /* k positions of u, ascending: message bit j -> u[info[j]] */
};

int fm_polar_n(const FmPolar *p)
{
    return p->n;
}

int fm_polar_k(const FmPolar *p)
{
    return p->k;
}

const uint8_t *fm_polar_frozen(const FmPolar *p)
{
    return p->frozen;
}

/* ---- construction: Gaussian approximation ---- */

/*
 * Gaussian approximation: a channel is its mean LLR x (the LLR being
 * N(x, 2x)); phi(x) = 1 - E[tanh(L/2)]. A check node multiplies
 * psi = 1 - phi, a variable node adds means. phi is the three-piece
 * approximation of Dai et al. 2017: Chung et al. 2001 plus a quadratic
 * piece below 0.867861, where Chung's exceeds 1 and would zero the weak
 * channels that a low-rate code sums into its information bits (with
 * Chung's alone, 18 of 624 positions of the (4096, 624) code moved and
 * plain SC decoded 25 messages in 200 where this set decodes 139).
 */
#define PHI_A 0.867861
#define PHI_B 10.0

/* log phi(x), x >= 0 */
static double log_phi(double x)
{
    if (x < PHI_A)
        return 0.0564 * x * x - 0.48560 * x;
    if (x < PHI_B)
        return -0.4527 * pow(x, 0.86) + 0.0218;
    return 0.5 * log(M_PI / x) - x / 4 + log(1 - 10 / (7 * x));
}

/* The x with log_phi(x) = l, l <= 0: closed forms below 10, bisection above. */
static double log_phi_inv(double l)
{
    if (l >= log_phi(PHI_A))   /* 0.0564 x^2 - 0.4856 x - l = 0, the smaller root */
        return 2 * l / (-0.48560 - sqrt(0.48560 * 0.48560 + 4 * 0.0564 * l));
    if (l >= -0.4527 * pow(PHI_B, 0.86) + 0.0218)
        return pow((0.0218 - l) / 0.4527, 1 / 0.86);
    double lo = PHI_B, hi = 20 - 4 * l;   /* log_phi(hi) < -hi/4 < l */
    for (int it = 0; it < 64; it++) {
        double mid = 0.5 * (lo + hi);
        if (log_phi(mid) > l)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Mean LLR out of a check node whose inputs have means a and b. */
static double check_mean(double a, double b)
{
    double la = log_phi(a), lb = log_phi(b), l;
    if (la < lb) {
        double t = la;
        la = lb;
        lb = t;
    }
    if (la > -1) {
        /* a weak input: psi_out = psi_a psi_b with psi = 1 - phi = -expm1(log phi) */
        double psi = expm1(la) * expm1(lb);
        if (!(psi > 0))
            return 0;
        l = log1p(-psi);
    } else {
        /* both strong: phi_out = phi_a + phi_b - phi_a phi_b, in logs (no underflow) */
        l = la + log1p(exp(lb - la) - exp(lb));
    }
    return log_phi_inv(l);
}

typedef struct Channel {
    double mean;
    int pos;
} Channel;

/* Reliability order: the larger mean first; on a tie the later position. */
static int by_reliability(const void *a, const void *b)
{
    const Channel *x = a, *y = b;
    if (x->mean != y->mean)
        return x->mean > y->mean ? -1 : 1;
    return y->pos - x->pos;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Fills p->frozen and p->info from the bit-channel means. */
static int construct(FmPolar *p, const double *llr_mean)
{
    int n = p->n;
    double *m = malloc(sizeof(double) * (size_t)n);
    Channel *order = malloc(sizeof(Channel) * (size_t)n);
    if (!m || !order) {
        free(m);
        free(order);
        return FM_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        m[i] = llr_mean ? llr_mean[i] : 4.0 * p->k / n;
    /* the decoder's tree from the channel down: a node's left child sees
     * the check of its halves, the right child their sum */
    for (int h = n / 2; h >= 1; h /= 2)
        for (int j = 0; j < n; j += 2 * h)
            for (int t = 0; t < h; t++) {
                double a = m[j + t], b = m[j + t + h];
                m[j + t] = check_mean(a, b);
                m[j + t + h] = a + b;
            }
    for (int i = 0; i < n; i++)
        order[i] = (Channel){ m[i], i };
    qsort(order, (size_t)n, sizeof(Channel), by_reliability);
    memset(p->frozen, 1, (size_t)n);
    for (int j = 0; j < p->k; j++) {
        p->info[j] = order[j].pos;
        p->frozen[order[j].pos] = 0;
    }
    qsort(p->info, (size_t)p->k, sizeof(int), cmp_int);
    free(m);
    free(order);
    return 0;
}

int fm_polar_init_design(FmPolar **pp, int n, int k, const double *llr_mean)
{
    *pp = NULL;
    if (n < FM_POLAR_MIN_N || n > FM_POLAR_MAX_N || (n & (n - 1)) || k < 1 || k > n)
        return FM_EINVAL;
    if (llr_mean)
        for (int i = 0; i < n; i++)
            if (!(llr_mean[i] >= 0) || !isfinite(llr_mean[i]))
                return FM_EINVAL;
    FmPolar *p = calloc(1, sizeof(*p));
    if (!p)
        return FM_ENOMEM;
    p->n = n;
    p->k = k;
    while ((1 << p->log2n) < n)
        p->log2n++;
    p->frozen = malloc((size_t)n);
    p->info = malloc(sizeof(int) * (size_t)k);
    int rc = p->frozen && p->info ? construct(p, llr_mean) : FM_ENOMEM;
    if (rc < 0) {
        fm_polar_free(&p);
        return rc;
    }
    *pp = p;
    return 0;
}

int fm_polar_init(FmPolar **p, int n, int k)
{
    return fm_polar_init_design(p, n, k, NULL);
}

void fm_polar_free(FmPolar **pp)
{
    if (!pp || !*pp)
        return;
    free((*pp)->frozen);
    free((*pp)->info);
    free(*pp);
    *pp = NULL;
}

/* ---- encoder ---- */

void fm_polar_encode(const FmPolar *p, const uint8_t *bits, uint8_t *coded)
{
    int n = p->n;
    memset(coded, 0, (size_t)n);
    for (int j = 0; j < p->k; j++)
        coded[p->info[j]] = bits[j] & 1;
    for (int h = 1; h < n; h *= 2)
        for (int j = 0; j < n; j += 2 * h)
            for (int t = 0; t < h; t++)
                coded[j + t] ^= coded[j + t + h];
}

/* ---- SC list decoder ---- */

/*
 * Tree levels s = 0 (a leaf, one bit of u) .. log2n (the channel). Every
 * path has, at each level s < log2n, an LLR array of 2^s values (the node
 * being decoded) and a bit array of 2^s values (the codeword of the last
 * left child finished at that level). Arrays are shared between paths
 * after a split and replaced, never copied, when written: every write
 * rewrites a whole array (Tal & Vardy's lazy copy).
 */
typedef struct Work {
    int n, log2n, list;
    float *ch;         /* the channel LLRs, positive = 0 */
    float **llr;       /* [s]: list arrays of 2^s values, back to back */
    uint8_t **bit;     /* [s]: same for the partial sums */
    int *llr_of;       /* [l * log2n + s]: which array path l uses at level s */
    int *bit_of;
    int *llr_refs;     /* [s * list + a]: paths using array a of level s */
    int *bit_refs;
    int *llr_free, *nllr_free;   /* [s * list + ...]: free array stacks, and their sizes */
    int *bit_free, *nbit_free;
    double *metric;    /* [l] */
    uint8_t *msg;      /* [l * k]: decided message bits */
    int *active;       /* paths in use, in order of creation */
    int nactive;
    int *free_paths, nfree_paths;
    struct Cand { double metric; int path; int bit; int agrees; } *cand;
    uint8_t *keep;     /* [l * 2] */
} Work;

static void *carve(uint8_t **at, size_t bytes)
{
    void *r = *at;
    *at += (bytes + 15) & ~(size_t)15;
    return r;
}

static Work *work_new(int n, int log2n, int k, int list)
{
    size_t L = (size_t)list, ls = (size_t)log2n;
    size_t sz = 0;
    /* sizes, in the order carve() takes them */
    size_t parts[] = {
        sizeof(Work), (size_t)n * sizeof(float), ls * sizeof(float *), ls * sizeof(uint8_t *),
        L * (size_t)n * sizeof(float), L * (size_t)n,
        L * ls * sizeof(int), L * ls * sizeof(int), ls * L * sizeof(int), ls * L * sizeof(int),
        ls * L * sizeof(int), ls * sizeof(int), ls * L * sizeof(int), ls * sizeof(int),
        L * sizeof(double), L * (size_t)k, L * sizeof(int), L * sizeof(int),
        2 * L * sizeof(struct Cand), 2 * L,
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        sz += (parts[i] + 15) & ~(size_t)15;
    uint8_t *mem = malloc(sz), *at = mem;
    if (!mem)
        return NULL;
    Work *w = carve(&at, sizeof(Work));
    w->n = n;
    w->log2n = log2n;
    w->list = list;
    w->ch = carve(&at, (size_t)n * sizeof(float));
    w->llr = carve(&at, ls * sizeof(float *));
    w->bit = carve(&at, ls * sizeof(uint8_t *));
    float *llr = carve(&at, L * (size_t)n * sizeof(float));
    uint8_t *bit = carve(&at, L * (size_t)n);
    for (int s = 0; s < log2n; s++) {   /* level s: list arrays of 2^s */
        w->llr[s] = llr + L * (((size_t)1 << s) - 1);
        w->bit[s] = bit + L * (((size_t)1 << s) - 1);
    }
    w->llr_of = carve(&at, L * ls * sizeof(int));
    w->bit_of = carve(&at, L * ls * sizeof(int));
    w->llr_refs = carve(&at, ls * L * sizeof(int));
    w->bit_refs = carve(&at, ls * L * sizeof(int));
    w->llr_free = carve(&at, ls * L * sizeof(int));
    w->nllr_free = carve(&at, ls * sizeof(int));
    w->bit_free = carve(&at, ls * L * sizeof(int));
    w->nbit_free = carve(&at, ls * sizeof(int));
    w->metric = carve(&at, L * sizeof(double));
    w->msg = carve(&at, L * (size_t)k);
    w->active = carve(&at, L * sizeof(int));
    w->free_paths = carve(&at, L * sizeof(int));
    w->cand = carve(&at, 2 * L * sizeof(struct Cand));
    w->keep = carve(&at, 2 * L);

    /* one path (0) holding array 0 of every level; everything else free */
    for (int s = 0; s < log2n; s++) {
        w->nllr_free[s] = w->nbit_free[s] = list - 1;
        for (int a = 0; a < list; a++) {
            w->llr_refs[s * list + a] = w->bit_refs[s * list + a] = a == 0;
            if (a > 0) {
                w->llr_free[s * list + a - 1] = list - a;   /* pops 1 first */
                w->bit_free[s * list + a - 1] = list - a;
            }
        }
        w->llr_of[s] = w->bit_of[s] = 0;
    }
    w->metric[0] = 0;
    w->active[0] = 0;
    w->nactive = 1;
    w->nfree_paths = list - 1;
    for (int l = 1; l < list; l++)
        w->free_paths[l - 1] = list - l;
    return w;
}

static float *llr_array(Work *w, int s, int a)
{
    return w->llr[s] + ((size_t)a << s);
}

static uint8_t *bit_array(Work *w, int s, int a)
{
    return w->bit[s] + ((size_t)a << s);
}

/* Path l's level-s LLR array, made private (unshared) for writing. */
static float *llr_for_write(Work *w, int l, int s)
{
    int *a = &w->llr_of[l * w->log2n + s];
    int *refs = w->llr_refs + s * w->list;
    if (refs[*a] > 1) {
        refs[*a]--;
        *a = w->llr_free[s * w->list + --w->nllr_free[s]];
        refs[*a] = 1;
    }
    return llr_array(w, s, *a);
}

static uint8_t *bit_for_write(Work *w, int l, int s)
{
    int *a = &w->bit_of[l * w->log2n + s];
    int *refs = w->bit_refs + s * w->list;
    if (refs[*a] > 1) {
        refs[*a]--;
        *a = w->bit_free[s * w->list + --w->nbit_free[s]];
        refs[*a] = 1;
    }
    return bit_array(w, s, *a);
}

static void release_path(Work *w, int l)
{
    for (int s = 0; s < w->log2n; s++) {
        int a = w->llr_of[l * w->log2n + s], b = w->bit_of[l * w->log2n + s];
        if (--w->llr_refs[s * w->list + a] == 0)
            w->llr_free[s * w->list + w->nllr_free[s]++] = a;
        if (--w->bit_refs[s * w->list + b] == 0)
            w->bit_free[s * w->list + w->nbit_free[s]++] = b;
    }
    w->free_paths[w->nfree_paths++] = l;
}

static int clone_path(Work *w, int from, int k)
{
    int l = w->free_paths[--w->nfree_paths];
    for (int s = 0; s < w->log2n; s++) {
        int a = w->llr_of[from * w->log2n + s], b = w->bit_of[from * w->log2n + s];
        w->llr_of[l * w->log2n + s] = a;
        w->bit_of[l * w->log2n + s] = b;
        w->llr_refs[s * w->list + a]++;
        w->bit_refs[s * w->list + b]++;
    }
    w->metric[l] = w->metric[from];
    memcpy(w->msg + (size_t)l * k, w->msg + (size_t)from * k, (size_t)k);
    return l;
}

/* min-sum check node: the max-log LLR of a xor b */
static inline float f_minsum(float a, float b)
{
    float m = fminf(fabsf(a), fabsf(b));
    return (a < 0) != (b < 0) ? -m : m;
}

/*
 * Path l's LLR of leaf i (convention: positive = 0). ch: the channel LLRs.
 * Leaf 0 descends from the channel; leaf i > 0 starts where leaf i-1's
 * branch left off: level ctz(i), the right child of a node whose left child
 * was just finished.
 */
static float leaf_llr(Work *w, int l, int i, const float *ch)
{
    int top = w->log2n;
    int s;
    if (i == 0) {
        s = top - 1;
    } else {
        s = __builtin_ctz((unsigned)i);
        int h = 1 << s;
        const float *par = s + 1 == top ? ch : llr_array(w, s + 1, w->llr_of[l * top + s + 1]);
        const uint8_t *left = bit_array(w, s, w->bit_of[l * top + s]);
        float *dst = llr_for_write(w, l, s);
        for (int t = 0; t < h; t++)
            dst[t] = left[t] ? par[t + h] - par[t] : par[t + h] + par[t];
        s--;
    }
    for (; s >= 0; s--) {
        int h = 1 << s;
        const float *par = s + 1 == top ? ch : llr_array(w, s + 1, w->llr_of[l * top + s + 1]);
        float *dst = llr_for_write(w, l, s);
        for (int t = 0; t < h; t++)
            dst[t] = f_minsum(par[t], par[t + h]);
    }
    return llr_array(w, 0, w->llr_of[l * top])[0];
}

/*
 * Records bit u of leaf i for path l: a finished right child is combined
 * with its left sibling, upwards, into the first level where the node is a
 * left child; that codeword goes into that level's bit array.
 */
static void set_leaf(Work *w, int l, int i, int u)
{
    int top = w->log2n;
    int t = 0;
    while (t < top && ((i >> t) & 1))
        t++;
    if (t == top)
        return;   /* the last leaf: the whole codeword is not needed */
    int size = 1 << t;
    uint8_t *dst = bit_for_write(w, l, t);
    dst[size - 1] = (uint8_t)u;
    for (int s = 0; s < t; s++) {
        int h = 1 << s;
        const uint8_t *left = bit_array(w, s, w->bit_of[l * top + s]);
        uint8_t *c = dst + size - 2 * h;   /* [left ^ right, right]; right at c + h */
        for (int r = 0; r < h; r++)
            c[r] = left[r] ^ c[r + h];
    }
}

static int by_metric(const void *a, const void *b)
{
    const struct Cand *x = a, *y = b;
    if (x->metric != y->metric)
        return x->metric < y->metric ? -1 : 1;
    if (x->agrees != y->agrees)
        return y->agrees - x->agrees;
    if (x->path != y->path)
        return x->path - y->path;
    return x->bit - y->bit;
}

/* Survivor a before b: the smaller metric. */
static int path_before(const Work *w, int a, int b)
{
    return w->metric[w->active[a]] < w->metric[w->active[b]];
}

/* Frozen leaf i: every path takes 0 and pays |LLR| if that says 1. */
static void step_frozen(Work *w, int i)
{
    for (int a = 0; a < w->nactive; a++) {
        int l = w->active[a];
        float v = leaf_llr(w, l, i, w->ch);
        if (v < 0)
            w->metric[l] -= v;
        set_leaf(w, l, i, 0);
    }
}

/*
 * Leaf i carrying message bit j: every path extends both ways; the `list`
 * best extensions survive (ties: the one agreeing with its LLR, then the
 * older path, then 0). A path keeping both is cloned.
 */
static void step_info(Work *w, int i, int j, int k)
{
    int nc = 0;
    for (int a = 0; a < w->nactive; a++) {
        int l = w->active[a];
        float v = leaf_llr(w, l, i, w->ch);
        double m = w->metric[l], pen = fabsf(v);
        w->cand[nc++] = (struct Cand){ m + (v < 0 ? pen : 0), l, 0, v >= 0 };
        w->cand[nc++] = (struct Cand){ m + (v > 0 ? pen : 0), l, 1, v < 0 };
    }
    int keep = nc < w->list ? nc : w->list;
    if (keep < nc)
        qsort(w->cand, (size_t)nc, sizeof(w->cand[0]), by_metric);
    /* keep[2l + u]: extension u of path l survives, with metric newm[2l + u] */
    double newm[2 * FM_POLAR_MAX_LIST];
    for (int a = 0; a < w->nactive; a++) {
        int l = w->active[a];
        w->keep[2 * l] = w->keep[2 * l + 1] = 0;
    }
    for (int c = 0; c < keep; c++) {
        w->keep[2 * w->cand[c].path + w->cand[c].bit] = 1;
        newm[2 * w->cand[c].path + w->cand[c].bit] = w->cand[c].metric;
    }
    /* drop the paths with no surviving extension first: that frees arrays */
    int na = 0;
    for (int a = 0; a < w->nactive; a++) {
        int l = w->active[a];
        if (w->keep[2 * l] || w->keep[2 * l + 1])
            w->active[na++] = l;
        else
            release_path(w, l);
    }
    w->nactive = na;
    for (int a = 0; a < na; a++) {
        int l = w->active[a];
        if (w->keep[2 * l] && w->keep[2 * l + 1]) {
            int c = clone_path(w, l, k);
            w->active[w->nactive++] = c;
            w->metric[c] = newm[2 * l + 1];
            w->msg[(size_t)c * k + j] = 1;
            set_leaf(w, c, i, 1);
            w->metric[l] = newm[2 * l];
            w->msg[(size_t)l * k + j] = 0;
            set_leaf(w, l, i, 0);
        } else {
            int u = w->keep[2 * l + 1];
            w->metric[l] = newm[2 * l + u];
            w->msg[(size_t)l * k + j] = (uint8_t)u;
            set_leaf(w, l, i, u);
        }
    }
}

int fm_polar_decode_list(const FmPolar *p, const float *soft, int list, uint8_t *cands,
                         int *found)
{
    if (list < 1 || list > FM_POLAR_MAX_LIST)
        return FM_EINVAL;
    int n = p->n, k = p->k;
    for (int i = 0; i < n; i++)
        if (!isfinite(soft[i]))
            return FM_EINVAL;
    Work *w = work_new(n, p->log2n, k, list);
    if (!w)
        return FM_ENOMEM;
    for (int i = 0; i < n; i++)
        w->ch[i] = -soft[i];   /* the decoder's convention: positive = 0 */
    for (int i = 0, j = 0; i < n; i++) {
        if (p->frozen[i])
            step_frozen(w, i);
        else
            step_info(w, i, j++, k);
    }

    /* the survivors, best metric first (ties: the older path) */
    int order[FM_POLAR_MAX_LIST];
    for (int a = 0; a < w->nactive; a++)
        order[a] = a;
    for (int a = 1; a < w->nactive; a++)   /* insertion sort: stable, <= 256 */
        for (int b = a; b > 0 && path_before(w, order[b], order[b - 1]); b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    for (int a = 0; a < w->nactive; a++)
        memcpy(cands + (size_t)a * k, w->msg + (size_t)w->active[order[a]] * k, (size_t)k);
    *found = w->nactive;
    free(w);
    return 0;
}
