/*
 * ldpc.c - see ldpc.h. A straightforward implementation for measurement,
 * not speed: PEG construction, dense Gaussian elimination, layered BP.
 */
#include "ldpc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VAR_DEG 32

struct Ldpc {
    int n, k, m, edges, rank;
    int *cstart;        /* m + 1: a check's edges are cstart[c] .. cstart[c+1]-1 */
    int *cvar;          /* per edge: its variable */
    int max_cdeg;
    int ninfo;          /* n - rank columns without a pivot; the first k carry the message */
    int *info_col;      /* ninfo */
    int *pivot_col;     /* rank */
    int pwords;
    uint64_t *par;      /* rank x pwords: which free bits each pivot bit is the parity of */
    uint64_t *free_bits; /* pwords: scratch, the message on the free bits */
    float *r;           /* per edge: the check's last message to its variable */
    double *app;        /* n: a posteriori log-likelihood ratios, log P(0)/P(1) */
    double *q;          /* max_cdeg: scratch */
};

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Variable degrees from the profile, ascending (the order PEG places them in). */
static int degrees(int n, const char *profile, int *deg)
{
    int d[16], cnt[16], nd = 0, total = 0;
    double f[16];
    const char *p = profile;
    while (*p && nd < 16) {
        char *end;
        long dv = strtol(p, &end, 10);
        if (end == p || dv < 1 || dv > MAX_VAR_DEG)
            return -1;
        d[nd] = (int)dv;
        f[nd] = 1;
        p = end;
        if (*p == ':') {
            f[nd] = strtod(p + 1, &end);
            if (end == p + 1 || f[nd] < 0)
                return -1;
            p = end;
        }
        nd++;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    if (!nd)
        return -1;
    for (int i = 0; i < nd; i++) {
        cnt[i] = i == nd - 1 ? n - total : (int)lround(f[i] * n);
        if (cnt[i] < 0)
            return -1;
        total += cnt[i];
    }
    /* ascending by degree (insertion sort of the few groups) */
    for (int i = 1; i < nd; i++)
        for (int j = i; j > 0 && d[j] < d[j - 1]; j--) {
            int t = d[j]; d[j] = d[j - 1]; d[j - 1] = t;
            t = cnt[j]; cnt[j] = cnt[j - 1]; cnt[j - 1] = t;
        }
    int v = 0;
    for (int i = 0; i < nd; i++)
        for (int j = 0; j < cnt[i]; j++)
            deg[v++] = d[i];
    return 0;
}

/* PEG: vchk[v * MAX_VAR_DEG + e], the checks of every variable. */
static int peg(int n, int m, const int *deg, uint64_t seed, int *vchk, int *cdeg)
{
    int cap_total = 0;
    for (int v = 0; v < n; v++)
        cap_total += deg[v];
    /* check -> variables, filled as edges are placed: room for twice a
     * check's share of the edges, plus slack (PEG keeps degrees even) */
    int per = 2 * cap_total / m + 8;
    int *clist = malloc(sizeof(int) * (size_t)per * m);
    int *cfill = calloc((size_t)m, sizeof(int));
    int *cbase = malloc(sizeof(int) * (size_t)m);
    int *cstamp = calloc((size_t)m, sizeof(int)), *vstamp = calloc((size_t)n, sizeof(int));
    int *frontier = malloc(sizeof(int) * (size_t)m), *next = malloc(sizeof(int) * (size_t)m);
    int *vars = malloc(sizeof(int) * (size_t)n), *cand = malloc(sizeof(int) * (size_t)m);
    int rc = -1;
    if (!clist || !cfill || !cbase || !cstamp || !vstamp || !frontier || !next || !vars || !cand)
        goto done;
    for (int c = 0; c < m; c++)
        cbase[c] = c * per;
    memset(cdeg, 0, sizeof(int) * (size_t)m);
    uint64_t s = seed ^ 0x1dbcu;
    int stamp = 0;
    for (int v = 0; v < n; v++) {
        for (int e = 0; e < deg[v]; e++) {
            int nc = 0;
            stamp++;
            int reached = 0, nf = 0;
            for (int i = 0; i < e; i++) {
                int c = vchk[v * MAX_VAR_DEG + i];
                if (cstamp[c] != stamp) {
                    cstamp[c] = stamp;
                    frontier[nf++] = c;
                    reached++;
                }
            }
            vstamp[v] = stamp;
            int last = 0;   /* 1: every check reached; frontier holds the last layer */
            while (e > 0 && nf > 0) {
                int nv = 0, nn = 0;
                for (int i = 0; i < nf; i++) {
                    int c = frontier[i];
                    for (int j = 0; j < cfill[c]; j++) {
                        int u = clist[cbase[c] + j];
                        if (vstamp[u] != stamp) {
                            vstamp[u] = stamp;
                            vars[nv++] = u;
                        }
                    }
                }
                for (int i = 0; i < nv; i++) {
                    int u = vars[i];
                    /* variables are placed in order: u < v has all its edges */
                    for (int j = 0; j < (u < v ? deg[u] : 0); j++) {
                        int c = vchk[u * MAX_VAR_DEG + j];
                        if (cstamp[c] != stamp) {
                            cstamp[c] = stamp;
                            next[nn++] = c;
                        }
                    }
                }
                if (!nn)
                    break;
                reached += nn;
                memcpy(frontier, next, sizeof(int) * (size_t)nn);
                nf = nn;
                if (reached == m) {
                    last = 1;
                    break;
                }
            }
            /* candidates: the checks not reached, or the farthest layer if all are */
            int best = 1 << 30;
            if (e == 0 || !last) {
                for (int c = 0; c < m; c++)
                    if (e == 0 || cstamp[c] != stamp) {
                        if (cdeg[c] < best) {
                            best = cdeg[c];
                            nc = 0;
                        }
                        if (cdeg[c] == best)
                            cand[nc++] = c;
                    }
            } else {
                for (int i = 0; i < nf; i++) {
                    int c = frontier[i];
                    if (cdeg[c] < best) {
                        best = cdeg[c];
                        nc = 0;
                    }
                    if (cdeg[c] == best)
                        cand[nc++] = c;
                }
            }
            if (!nc)
                goto done;
            int c = cand[mix(&s) % (uint64_t)nc];
            if (cfill[c] == per)
                goto done;
            vchk[v * MAX_VAR_DEG + e] = c;
            clist[cbase[c] + cfill[c]++] = v;
            cdeg[c]++;
        }
    }
    rc = 0;
done:
    free(clist);
    free(cfill);
    free(cbase);
    free(cstamp);
    free(vstamp);
    free(frontier);
    free(next);
    free(vars);
    free(cand);
    return rc;
}

/* Reduced row echelon form of H (m rows of w words); pivots taken column by column. */
static int eliminate(Ldpc *c, uint64_t *h, int w)
{
    int r = 0, ni = 0;
    for (int col = 0; col < c->n; col++) {
        uint64_t bit = 1ULL << (col & 63);
        int word = col >> 6, p = -1;
        if (r < c->m)
            for (int i = r; i < c->m; i++)
                if (h[(size_t)i * w + word] & bit) {
                    p = i;
                    break;
                }
        if (p < 0) {
            c->info_col[ni++] = col;
            continue;
        }
        if (p != r)
            for (int j = 0; j < w; j++) {
                uint64_t t = h[(size_t)p * w + j];
                h[(size_t)p * w + j] = h[(size_t)r * w + j];
                h[(size_t)r * w + j] = t;
            }
        for (int i = 0; i < c->m; i++)
            if (i != r && (h[(size_t)i * w + word] & bit))
                for (int j = word; j < w; j++)   /* columns before `word` are zero in row r */
                    h[(size_t)i * w + j] ^= h[(size_t)r * w + j];
        c->pivot_col[r++] = col;
    }
    c->rank = r;
    c->ninfo = ni;
    return ni >= c->k ? 0 : -1;
}

int ldpc_init(Ldpc **out, int n, int k, const char *profile, uint64_t seed)
{
    *out = NULL;
    if (n < 8 || k < 1 || k >= n)
        return -1;
    Ldpc *c = calloc(1, sizeof(*c));
    int *deg = malloc(sizeof(int) * (size_t)n);
    int *vchk = malloc(sizeof(int) * (size_t)n * MAX_VAR_DEG);
    int m = n - k, rc = -1;
    int *cdeg = calloc((size_t)m, sizeof(int));
    uint64_t *h = NULL;
    if (!c || !deg || !vchk || !cdeg || degrees(n, profile, deg) < 0)
        goto done;
    c->n = n;
    c->k = k;
    c->m = m;
    for (int v = 0; v < n; v++)
        if (deg[v] > m)
            goto done;
    if (peg(n, m, deg, seed, vchk, cdeg) < 0)
        goto done;
    c->cstart = malloc(sizeof(int) * (size_t)(m + 1));
    if (!c->cstart)
        goto done;
    c->cstart[0] = 0;
    for (int i = 0; i < m; i++) {
        c->cstart[i + 1] = c->cstart[i] + cdeg[i];
        if (cdeg[i] > c->max_cdeg)
            c->max_cdeg = cdeg[i];
    }
    c->edges = c->cstart[m];
    c->cvar = malloc(sizeof(int) * (size_t)c->edges);
    c->r = calloc((size_t)c->edges, sizeof(float));
    c->app = malloc(sizeof(double) * (size_t)n);
    c->q = malloc(sizeof(double) * (size_t)(c->max_cdeg + 1));
    int w = (n + 63) / 64;
    h = calloc((size_t)m * w, sizeof(uint64_t));
    c->info_col = malloc(sizeof(int) * (size_t)n);
    c->pivot_col = malloc(sizeof(int) * (size_t)m);
    if (!c->cvar || !c->r || !c->app || !c->q || !h || !c->info_col || !c->pivot_col)
        goto done;
    memset(cdeg, 0, sizeof(int) * (size_t)m);   /* reused as fill counts */
    for (int v = 0; v < n; v++)
        for (int e = 0; e < deg[v]; e++) {
            int ch = vchk[v * MAX_VAR_DEG + e];
            c->cvar[c->cstart[ch] + cdeg[ch]++] = v;
            h[(size_t)ch * w + (v >> 6)] ^= 1ULL << (v & 63);
        }
    if (eliminate(c, h, w) < 0)
        goto done;
    c->pwords = (c->ninfo + 63) / 64;
    c->par = calloc((size_t)c->rank * c->pwords, sizeof(uint64_t));
    c->free_bits = malloc(sizeof(uint64_t) * (size_t)c->pwords);
    if (!c->par || !c->free_bits)
        goto done;
    for (int i = 0; i < c->rank; i++)
        for (int t = 0; t < c->ninfo; t++) {
            int col = c->info_col[t];
            if (h[(size_t)i * w + (col >> 6)] >> (col & 63) & 1)
                c->par[(size_t)i * c->pwords + (t >> 6)] |= 1ULL << (t & 63);
        }
    rc = 0;
done:
    free(deg);
    free(vchk);
    free(cdeg);
    free(h);
    if (rc < 0)
        ldpc_free(&c);
    *out = c;
    return rc;
}

void ldpc_encode(Ldpc *c, const uint8_t *msg, uint8_t *coded)
{
    uint64_t *fb = c->free_bits;
    memset(fb, 0, sizeof(uint64_t) * (size_t)c->pwords);
    memset(coded, 0, (size_t)c->n);
    for (int t = 0; t < c->k; t++) {
        coded[c->info_col[t]] = msg[t] & 1;
        if (msg[t] & 1)
            fb[t >> 6] |= 1ULL << (t & 63);
    }
    for (int i = 0; i < c->rank; i++) {
        uint64_t x = 0;
        for (int j = 0; j < c->pwords; j++)
            x ^= c->par[(size_t)i * c->pwords + j] & fb[j];
        coded[c->pivot_col[i]] = (uint8_t)__builtin_parityll(x);
    }
}

/* -log tanh(x / 2), its own inverse, for x > 0 */
static double phi(double x)
{
    if (x < 1e-12)
        x = 1e-12;
    if (x > 40)
        return 2 * exp(-x);
    return log1p(2 / expm1(x));
}

static int checks_hold(const Ldpc *c)
{
    for (int ch = 0; ch < c->m; ch++) {
        int p = 0;
        for (int e = c->cstart[ch]; e < c->cstart[ch + 1]; e++)
            p ^= c->app[c->cvar[e]] < 0;
        if (p)
            return 0;
    }
    return 1;
}

int ldpc_decode(Ldpc *c, const float *soft, double noise_var, int minsum, int iters,
                uint8_t *msg_out)
{
    double scale = minsum ? 1.0 : 2.0 / noise_var;
    for (int v = 0; v < c->n; v++)
        c->app[v] = -scale * soft[v];   /* soft > 0: bit 1, a negative ratio */
    memset(c->r, 0, sizeof(float) * (size_t)c->edges);
    int ok = checks_hold(c);
    for (int it = 0; it < iters && !ok; it++) {
        for (int ch = 0; ch < c->m; ch++) {
            int e0 = c->cstart[ch], d = c->cstart[ch + 1] - e0;
            int neg = 0;
            double *q = c->q;
            for (int j = 0; j < d; j++) {
                q[j] = c->app[c->cvar[e0 + j]] - c->r[e0 + j];
                neg ^= q[j] < 0;
            }
            if (minsum) {
                double m1 = INFINITY, m2 = INFINITY;
                int at = -1;
                for (int j = 0; j < d; j++) {
                    double a = fabs(q[j]);
                    if (a < m1) {
                        m2 = m1;
                        m1 = a;
                        at = j;
                    } else if (a < m2) {
                        m2 = a;
                    }
                }
                for (int j = 0; j < d; j++) {
                    double mag = 0.8 * (j == at ? m2 : m1);
                    int sgn = neg ^ (q[j] < 0);
                    c->r[e0 + j] = (float)(sgn ? -mag : mag);
                    c->app[c->cvar[e0 + j]] = q[j] + c->r[e0 + j];
                }
            } else {
                double sum = 0;
                for (int j = 0; j < d; j++)
                    sum += phi(fabs(q[j]));
                for (int j = 0; j < d; j++) {
                    double rest = sum - phi(fabs(q[j]));
                    double mag = phi(rest > 1e-12 ? rest : 1e-12);
                    if (mag > 40)
                        mag = 40;
                    int sgn = neg ^ (q[j] < 0);
                    c->r[e0 + j] = (float)(sgn ? -mag : mag);
                    c->app[c->cvar[e0 + j]] = q[j] + c->r[e0 + j];
                }
            }
        }
        ok = checks_hold(c);
    }
    for (int t = 0; t < c->k; t++)
        msg_out[t] = c->app[c->info_col[t]] < 0;
    return ok;
}

void ldpc_free(Ldpc **pc)
{
    Ldpc *c = *pc;
    if (!c)
        return;
    free(c->cstart);
    free(c->cvar);
    free(c->info_col);
    free(c->pivot_col);
    free(c->par);
    free(c->free_bits);
    free(c->r);
    free(c->app);
    free(c->q);
    free(c);
    *pc = NULL;
}
