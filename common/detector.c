#include "detector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "big_alloc.h"
#include "cell_view.h"
#include "content_tag.h"
#include "msgcode.h"
#include "geometry.h"
#include "homography.h"
#include "pattern.h"
#include "pilot_tables.h"

/* Windows an epoch spans: the phases at which the epoch boundaries can fall
 * relative to the clip's windows. */
#define PHASES 4
/* Windows per stretch searched for its own epochs (10 s): a splice or a
 * speed change moves the epochs of the next stretch, not of this one. */
#define SEG_WINDOWS 20
/* Longest group of windows one hypothesis sums (an epoch, rounded up). */
#define MAX_GROUPS ((SEG_WINDOWS + PHASES - 1) / PHASES + 1)
/* d->cgroups: a group's lanes (at most FM_CELLS a slot) for each group;
 * d->resid: a window's for each window of a stretch. */
#define CGROUPS_BYTES (sizeof(float) * FM_SLOTS * FM_CELLS * MAX_GROUPS)
#define RESID_BYTES (CGROUPS_BYTES * PHASES)
/* Stretches other than the best are read only when their own pilot z
 * reaches this: well above what the search finds in an unmarked stretch. */
#define SEGMENT_READ_Z 5.0
/* Formats 2-6 (no cell signs) are read only when the nominal grid's
 * periodic sync layer reaches this z (nominal_sync_z). */
#define LEGACY_SYNC_Z 6.0
/* Cell offsets under a geometry found by the search read in full (the
 * strongest cell-id layer first) until one verifies. */
#define CELL_READS 2
/* An epoch counts in the reported span when its own pilot z reaches this. */
#define SPAN_Z 4.0

#ifndef __clang__ /* clang does not fold floating constants here (fuzz builds); gcc checks */
_Static_assert(PHASES * FM_WINDOW_SECONDS == FM_EPOCH_SECONDS,
               "an epoch is a whole number of windows");
#endif

double fm_gauss_tail_log10(double z)
{
    if (z < 30)
        return log10(0.5 * erfc(z / M_SQRT2));
    /* Mills ratio asymptotics: Q(z) ~ phi(z)/z (1 - 1/z^2 + 3/z^4) */
    double lnq = -0.5 * z * z - log(z) - 0.5 * log(2 * M_PI) + log1p(-1 / (z * z) + 3 / pow(z, 4));
    return lnq / M_LN10;
}

double fm_chi2_tail_log10(double x, int k)
{
    if (!(x > 0) || k < 1)
        return 0;
    /* Q(a, y), the regularised upper incomplete gamma function */
    double a = 0.5 * k, y = 0.5 * x, lead = -y + a * log(y) - lgamma(a);
    if (y < a + 1) {
        /* the series of P(a, y) = 1 - Q */
        double term = 1 / a, sum = term;
        for (int n = 1; n < 1000 && term > sum * 1e-16; n++) {
            term *= y / (a + n);
            sum += term;
        }
        double pl = exp(lead) * sum;
        return pl < 1 ? log1p(-pl) / M_LN10 : -INFINITY;
    }
    /* the continued fraction of Q (modified Lentz), in logs: far tails */
    const double tiny = 1e-300;
    double b = y + 1 - a, c = 1 / tiny, dd = 1 / b, h = dd;
    for (int i = 1; i < 1000; i++) {
        double an = -i * (i - a);
        b += 2;
        dd = an * dd + b;
        if (fabs(dd) < tiny)
            dd = tiny;
        c = b + an / c;
        if (fabs(c) < tiny)
            c = tiny;
        dd = 1 / dd;
        double del = dd * c;
        h *= del;
        if (fabs(del - 1) < 1e-15)
            break;
    }
    return (lead + log(h)) / M_LN10;
}

double fm_gauss_z_for_tail_log10(double lp)
{
    double lo = -40, hi = 400;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (fm_gauss_tail_log10(mid) > lp)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* The epochs of one stretch of windows: which epoch its first group is, and
 * where the epoch boundaries fall among its windows. */
typedef struct Hypothesis {
    uint32_t n0;     /* epoch of the first group */
    int phase;       /* window w belongs to group (w - w0 + phase) / PHASES */
    double z;        /* pilot correlation under it (per-epoch signs: the normal
                        score of the tail probability lp) */
    double lp;       /* per-epoch signs: log10 of the statistic's tail probability */
} Hypothesis;

typedef struct Segment {
    int w0, w1;      /* windows [w0, w1) */
    Hypothesis h;    /* the hypothesis read */
    /* the best hypothesis for each epoch's pilots taken with their own sign
     * (sum of the groups' squared z, chi-squared without a mark) */
    Hypothesis hs;
    int read;        /* its message evidence is used */
    /* the runners-up of the epoch search, strongest first (for naming:
     * when the pilot is weak the true epochs may not be the best) */
    Hypothesis alt[FM_EVIDENCE_ALTS];
    int nalt;
} Segment;

/*
 * The epoch search of a stretch (search_stretch) is most of a detection's
 * work after the last frame, and its result depends only on the stretch's
 * windows as read (and their neighbours, which the temporal prediction
 * uses), the cells they are read as, and the key. A read repeated with the
 * same evidence (read_searched's chosen cell offset, read again for its
 * evidence; fm_detect_trace's second pass with the deep list, which differs
 * from the first only in the decoder's list) finds it here instead of
 * searching again. An entry is named by a BLAKE2b hash of those inputs:
 * the stretch, the cell view, the prediction's betas, and for each window
 * in reach its frames, weight and 64 of its values spread over it. The
 * results are the same bit for bit whether found here or searched.
 */
#define MEMO_MAX 4096
typedef struct StretchMemo {
    unsigned char id[16];
    Hypothesis h, hs;
    int nalt;                /* -1: the runners-up were not kept */
    Hypothesis alt[FM_EVIDENCE_ALTS];
} StretchMemo;

struct FmSearchMemo {
    StretchMemo *e;
    int n, cap;
};

typedef struct Detector {
    const FmAccumulator *acc;
    const FmKey *key;
    FmPatternKeys pk;
    const FmPilotTables *tables; /* the key's (pilot_tables.h), shared */
    const FmEpochPilot *pilots;  /* its FM_EPOCHS pilots */
    const FmPilotIndex *pilot_index;  /* the same, by slot (the epoch search) */
    float *const *v;             /* per window raw slot values (NULL: empty), nc cells */
    int nwin;
    /* format 7: the cells the windows hold and the mark's cell at the first
     * one (cell_view.h) */
    FmCellView cv;
    /* MAX_GROUPS x fm_cell_view_floats: the groups' sums cell by cell, slot
     * by slot (cell_view.h's lanes), normalised (fm_cell_view_normalise) */
    float *cgroups;
    /* MAX_GROUPS x FM_SLOTS: each slot's energy over the cells (the pilot
     * statistic's variance without a mark) */
    float *genergy;
    float *groups;               /* MAX_GROUPS x FM_SLOTS: the cells summed under the
                                    epochs' signs of a hypothesis (collapse_groups) */
    int group_frames[MAX_GROUPS];
    float group_sign[MAX_GROUPS]; /* orient_groups: -1 where it negated a group */
    double *corr, *energy;       /* MAX_GROUPS x FM_EPOCHS */
    FmSlotMap map;
    float want[FM_SLOTS];
    FmEvidence *ev;              /* the message evidence, for naming (or NULL) */
    /* formats 4-6: the coded bits' public mask as signs, the tag key, the
     * region anchors tried and each window's cells at each anchor (NULL:
     * taken from the nominal grid's cells, FmWindow.cells) */
    int8_t mask_sign[FM_CODED_BITS];
    FmTagKey tk;
    int nanchor;
    int anchor_x[FM_BIND_ANCHORS], anchor_y[FM_BIND_ANCHORS];
    int plane_w, plane_h;        /* the plane the anchors are on (mark pixels) */
    FmTagCells *wcells;          /* nwin x nanchor, or NULL */
    /* the binding under each tagged format's features (fm_tag_format):
     * which one counts is known once the message is read */
    FmBind bind[FM_TAG_FORMATS][FM_BIND_ANCHORS];
    /* groups with no predecessor in the clip, against their own pictures:
     * used only when no group has one (a clip shorter than two epochs) */
    FmBind bind_own[FM_TAG_FORMATS][FM_BIND_ANCHORS];
    /* the temporal host prediction removed from each window, per band
     * (fm_window_predict_fit), and its scratch */
    float beta[FM_NCOEF];
    float *pred;        /* pred_jobs of them, FM_SLOTS * FM_CELLS each */
    int pred_jobs;      /* the accumulator's threads, at most 8 */
    /* each window of a stretch less its prediction (FM_SLOTS * cells a
     * window, as many as MAX_GROUPS hold): made once for the stretch's phases;
     * [resid_w0, resid_w1) is the stretch held (resid_w0 < 0: none) */
    float *resid;
    int resid_w0, resid_w1;
    /* weigh_cells' scratch (FM_SLOTS * FM_CELLS): a group's weighted lanes */
    float *weigh_lanes;
    /* read with each epoch's own sign: groups whose pilots show the mark
     * negated are negated (orient_groups) */
    int per_epoch_sign;
    int deep;              /* the deep list where the first holds no verified message
                              on a detected mark (fm_detect_trace's second pass) */
    struct FmSearchMemo *memo;   /* epoch searches already made, or NULL */
    int inverted;                /* groups negated at z <= -SPAN_Z, this read */
    /* the last group read (cells per anchor), for the next stretch's first */
    FmTagCells *prev_cells;      /* nanchor */
    long prev_epoch;             /* its epoch, -1: none */
    int prev_last_window;
} Detector;

static void set_anchors(Detector *d, int gw, int gh, int sh_x, int sh_y)
{
    d->nanchor = fm_tag_anchors(gw, gh, sh_x, sh_y, d->anchor_x, d->anchor_y);
    d->plane_w = gw;
    d->plane_h = gh;
}

/* Adds window w's picture cells at anchor a. */
static void window_cells(const Detector *d, int w, int a, FmTagCells *out)
{
    if (d->wcells) {
        fm_tag_cells_merge(out, &d->wcells[(size_t)w * d->nanchor + a]);
        return;
    }
    const FmAccumulator *acc = d->acc;
    const FmWindow *win = &acc->win[w];
    if (!win->cells)
        return;
    /* the anchors of the nominal grid are tile corners: region cells are
     * whole cells of the grid */
    int cx0 = (d->anchor_x[a] - FM_TAG_COLS * FM_TAG_CELL / 2) / FM_TAG_CELL;  /* exact */
    int cy0 = (d->anchor_y[a] - FM_TAG_ROWS * FM_TAG_CELL / 2) / FM_TAG_CELL;
    for (int i = 0; i < FM_TAG_ROWS; i++) {
        int cy = cy0 + i;
        if (cy < 0 || cy >= acc->ch)
            continue;
        for (int j = 0; j < FM_TAG_COLS; j++) {
            int cx = cx0 + j;
            if (cx < 0 || cx >= acc->cw)
                continue;
            out->sum[i * FM_TAG_COLS + j] += win->cells[(size_t)cy * acc->cw + cx];
            out->n[i * FM_TAG_COLS + j] += acc->cell_area[(size_t)cy * acc->cw + cx] * win->frames;
        }
    }
}

/* The windows' cells, the mark's cell (kx, ky) at their first one. */
static void set_cells(Detector *d, FmCells c, int kx, int ky)
{
    fm_cell_view_init(&d->cv, c, kx, ky);
}

/* A stretch's windows [w0, w1) under a phase, and the floats of a
 * window's cells (n) and of a group's lanes (len). */
typedef struct GroupRun {
    Detector *d;
    int w0, w1, phase;
    size_t n, len;
} GroupRun;

/* Windows w0 + j, w0 + j + nj, ... less their prediction, in lanes
 * (cell_view.h) into d->resid, with job j's own scratch (d->pred: one
 * prediction a thread, the residual made in place there). */
static void resid_job(void *arg, int j, int nj)
{
    const GroupRun *b = arg;
    Detector *d = b->d;
    float *pred = d->pred + (size_t)j * FM_SLOTS * FM_CELLS;
    for (int w = b->w0 + j; w < b->w1; w += nj) {
        float *lanes = d->resid + (size_t)(w - b->w0) * b->len;
        const float *v = d->v[w];
        if (!v)
            continue;
        if (fm_window_predict(d->acc, d->v, d->nwin, (int)b->n, w, pred))
            for (size_t k = 0; k < b->n; k++)
                pred[k] = v[k] - pred[k] * d->beta[k % FM_NCOEF];
        else
            memcpy(pred, v, sizeof(float) * b->n);
        memset(lanes, 0, sizeof(float) * b->len);
        fm_cell_view_add(&d->cv, pred, 1.0f, lanes);
    }
}

/* Group g: the windows w with (w - w0 + phase) / PHASES == g, in order,
 * summed cell by cell (lane by lane: each cell has its own) and
 * normalised. */
static void group_job(void *arg, int g, int ng)
{
    const GroupRun *b = arg;
    Detector *d = b->d;
    float *lanes = d->cgroups + (size_t)g * b->len;
    int first = b->w0 + g * PHASES - b->phase;
    (void)ng;
    memset(lanes, 0, sizeof(float) * b->len);
    for (int w = first < b->w0 ? b->w0 : first; w < first + PHASES && w < b->w1; w++)
        if (d->v[w])
            d->acc->dsp->vacc(lanes, d->resid + (size_t)(w - b->w0) * b->len, 1.0f,
                              (int)b->len);
    fm_cell_view_normalise(&d->cv, lanes, d->genergy + (size_t)g * FM_SLOTS);
}

/* Sums a stretch's windows into epoch groups under a phase, cell by cell
 * (d->cgroups), each band at unit variance over all the cells, and each
 * slot's energy over the cells (d->genergy). The windows' residuals (made
 * once for the stretch's phases) and the groups are jobs on the
 * accumulator's threads: each writes its own, so the sums are the same
 * whatever the threads. */
static int make_groups(Detector *d, int w0, int w1, int phase)
{
    int ng = (w1 - 1 - w0 + phase) / PHASES + 1;
    GroupRun b = { d, w0, w1, phase, (size_t)FM_SLOTS * d->cv.nc,
                   (size_t)fm_cell_view_floats(&d->cv) };
    memset(d->group_frames, 0, sizeof(d->group_frames));
    if (d->resid_w0 != w0 || d->resid_w1 != w1) {
        fm_pool_run(d->acc->pool, resid_job, &b, d->pred_jobs);
        d->resid_w0 = w0;
        d->resid_w1 = w1;
    }
    for (int w = w0; w < w1; w++)
        if (d->v[w])
            d->group_frames[(w - w0 + phase) / PHASES] += (int)d->acc->win[w].frames;
    fm_pool_run(d->acc->pool, group_job, &b, ng);
    return ng;
}

/* Group g's pilot sums under every epoch's pilot and their variances
 * without a mark (fm_cell_view_pilots) into d->corr and d->energy (row g,
 * FM_EPOCHS each); zeros for a group without frames. A job of
 * all_pilot_sums. */
static void pilot_sums_job(void *arg, int g, int ng)
{
    const Detector *d = arg;
    double *s = d->corr + (size_t)g * FM_EPOCHS, *q = d->energy + (size_t)g * FM_EPOCHS;
    if (!d->group_frames[g]) {
        memset(s, 0, sizeof(double) * FM_EPOCHS);
        memset(q, 0, sizeof(double) * FM_EPOCHS);
        return;
    }
    fm_cell_view_pilots(&d->cv, d->cgroups + (size_t)g * fm_cell_view_floats(&d->cv),
                        d->genergy + (size_t)g * FM_SLOTS, d->pilot_index, s, q);
}

/* pilot_sums_job of groups 0 .. ng - 1, a group a job on the accumulator's
 * threads (each group's sums are its own: the same whatever the threads). */
static void all_pilot_sums(Detector *d, int ng)
{
    fm_pool_run(d->acc->pool, pilot_sums_job, d, ng);
}

/* d->groups[g]: group g's cells summed under the signs of its epoch in
 * hypothesis h (the slot map of that epoch left in d->map). */
static void collapse_groups(Detector *d, const Hypothesis *h, int ng)
{
    for (int g = 0; g < ng; g++) {
        fm_slot_map_init(&d->map, &d->pk, (h->n0 + (uint32_t)g) % FM_EPOCHS);
        fm_cell_view_collapse(&d->cv, d->cgroups + (size_t)g * fm_cell_view_floats(&d->cv),
                              d->map.cell_flip, d->groups + (size_t)g * FM_SLOTS);
    }
}

/* pilot_sum of a collapsed group (d->groups[g]), the same figures. */
static void collapsed_sum(const Detector *d, int g, const FmEpochPilot *p, double *s, double *q)
{
    const float *u = d->groups + (size_t)g * FM_SLOTS, *en = d->genergy + (size_t)g * FM_SLOTS;
    double ss = 0, qq = 0;
    for (int r = 0; r < FM_PILOTS; r++) {
        ss += u[p->slot[r]] * p->sign[r];
        qq += en[p->slot[r]];
    }
    *s = ss;
    *q = qq;
}

/* make_groups, then collapse_groups under h. */
static int groups_under(Detector *d, int w0, int w1, const Hypothesis *h)
{
    int ng = make_groups(d, w0, w1, h->phase);
    collapse_groups(d, h, ng);
    return ng;
}

/*
 * The best epoch hypothesis of windows [w0, w1): every first epoch and
 * every phase. The statistic sums, over the groups, the correlation of each
 * group with the pilot of its epoch, normalised by the energy on those
 * slots: without the mark, the keyed signs of the pilots are independent of
 * the picture and of each other, so it is N(0, 1) under each hypothesis,
 * as in format 1 (the search's size enters the probability).
 */
/* Keeps the FM_EVIDENCE_ALTS strongest hypotheses, strongest first. */
static void keep_alt(Segment *seg, uint32_t n0, int phase, double z)
{
    int k = seg->nalt < FM_EVIDENCE_ALTS ? seg->nalt : FM_EVIDENCE_ALTS - 1;
    if (seg->nalt == FM_EVIDENCE_ALTS && z <= seg->alt[k].z)
        return;
    while (k > 0 && seg->alt[k - 1].z < z) {
        seg->alt[k] = seg->alt[k - 1];
        k--;
    }
    seg->alt[k] = (Hypothesis){ .n0 = n0, .phase = phase, .z = z };
    if (seg->nalt < FM_EVIDENCE_ALTS)
        seg->nalt++;
}

/* Master seconds at the clip's first window under hypothesis h of the
 * stretch that starts at window w0 (modulo the epochs' cycle). */
static double master_position(const Hypothesis *h, int w0)
{
    return fmod(h->n0 * FM_EPOCH_SECONDS + h->phase * FM_WINDOW_SECONDS - w0 * FM_WINDOW_SECONDS +
                    FM_EPOCHS * FM_EPOCH_SECONDS,
                FM_EPOCHS * FM_EPOCH_SECONDS);
}

/*
 * search_stretch also puts in *signs the best hypothesis with each epoch's
 * pilots taken with their own sign: that statistic sums the groups' squared
 * z, chi-squared with as many degrees of freedom as groups without the mark. An attacker who subtracts an estimate
 * of the mark too strongly in some epochs and too weakly in others takes
 * the coherent sum to zero while each epoch keeps a mark of one sign or the
 * other; this finds them (and the read negates the negated ones).
 */
static void search_stretch(Detector *d, int w0, int w1, Hypothesis *best, Hypothesis *signs,
                           Segment *alts)
{
    best->z = -INFINITY;
    best->n0 = 0;
    best->phase = 0;
    *signs = (Hypothesis){ .lp = 0 };
    for (int phase = 0; phase < PHASES; phase++) {
        double chi_best = -1;
        uint32_t chi_n0 = 0;
        int dof = 0;
        int ng = make_groups(d, w0, w1, phase);
        all_pilot_sums(d, ng);
        for (int g = 0; g < ng; g++)
            dof += d->group_frames[g] > 0;
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
            if (chi > chi_best) {
                chi_best = chi;
                chi_n0 = n0;
            }
            double z = q > 0 ? s / sqrt(q) : 0;
            if (alts)
                keep_alt(alts, n0, phase, z);
            if (z > best->z) {
                best->z = z;
                best->n0 = n0;
                best->phase = phase;
            }
        }
        double lp = dof ? fm_chi2_tail_log10(chi_best, dof) : 0;
        if (lp < signs->lp || (phase == 0 && dof))
            *signs = (Hypothesis){ .n0 = chi_n0, .phase = phase, .lp = lp };
    }
    if (!isfinite(best->z))
        best->z = 0;
    signs->z = fm_gauss_z_for_tail_log10(signs->lp);
}

/* The name of search_stretch's inputs for windows [w0, w1) (StretchMemo). */
static void memo_id(const Detector *d, int w0, int w1, int alts, unsigned char id[16])
{
    crypto_generichash_state st;
    int head[4] = { w0, w1, d->nwin, alts };
    size_t len = (size_t)FM_SLOTS * d->cv.nc;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, (const unsigned char *)head, sizeof(head));
    crypto_generichash_update(&st, (const unsigned char *)&d->cv, sizeof(d->cv));
    crypto_generichash_update(&st, (const unsigned char *)d->beta, sizeof(d->beta));
    /* the prediction reaches FM_PREDICT_GAP + FM_PREDICT_SPAN - 1 windows away */
    int reach = FM_PREDICT_GAP + FM_PREDICT_SPAN;
    for (int w = w0 - reach < 0 ? 0 : w0 - reach; w < w1 + reach && w < d->nwin; w++) {
        const float *v = d->v[w];
        float sample[66] = { 0 };
        if (v) {
            sample[0] = (float)d->acc->win[w].frames;
            sample[1] = (float)d->acc->win[w].weight;
            for (int k = 0; k < 64; k++)
                sample[2 + k] = v[(size_t)k * (len - 1) / 63];
        }
        crypto_generichash_update(&st, (const unsigned char *)sample, sizeof(sample));
    }
    crypto_generichash_final(&st, id, 16);
}

/* search_stretch through d->memo: the result of an earlier search of the
 * same inputs, or a new search, kept for the next. */
static void search_stretch_memo(Detector *d, int w0, int w1, Hypothesis *best, Hypothesis *signs,
                                Segment *alts)
{
    struct FmSearchMemo *m = d->memo;
    unsigned char id[16];
    if (!m) {
        search_stretch(d, w0, w1, best, signs, alts);
        return;
    }
    memo_id(d, w0, w1, alts != NULL, id);
    for (int i = 0; i < m->n; i++) {
        const StretchMemo *e = &m->e[i];
        if (sodium_memcmp(e->id, id, sizeof(id)) == 0) {
            *best = e->h;
            *signs = e->hs;
            if (alts) {
                alts->nalt = e->nalt;
                memcpy(alts->alt, e->alt, sizeof(e->alt));
            }
            return;
        }
    }
    if (alts)
        alts->nalt = 0;
    search_stretch(d, w0, w1, best, signs, alts);
    if (m->n == m->cap && m->cap < MEMO_MAX) {
        int cap = m->cap ? 2 * m->cap : 16;
        StretchMemo *e = realloc(m->e, sizeof(*e) * (size_t)cap);
        if (!e)
            return;  /* not kept: the next search of these inputs searches again */
        m->e = e;
        m->cap = cap;
    }
    if (m->n < m->cap) {
        StretchMemo *e = &m->e[m->n++];
        memcpy(e->id, id, sizeof(id));
        e->h = *best;
        e->hs = *signs;
        e->nalt = alts ? alts->nalt : -1;
        if (alts)
            memcpy(e->alt, alts->alt, sizeof(e->alt));
        else
            memset(e->alt, 0, sizeof(e->alt));
    }
}

/* Per-epoch signs (d->per_epoch_sign): negates the groups of a stretch
 * whose pilots, under hypothesis h, show the mark negated; counts those at
 * z <= -SPAN_Z in d->inverted. */
static void orient_groups(Detector *d, const Hypothesis *h, int ng)
{
    for (int g = 0; g < ng; g++)
        d->group_sign[g] = 1.0f;
    if (!d->per_epoch_sign)
        return;
    for (int g = 0; g < ng; g++) {
        if (!d->group_frames[g])
            continue;
        float *u = d->groups + (size_t)g * FM_SLOTS;
        const FmEpochPilot *p = &d->pilots[(h->n0 + (uint32_t)g) % FM_EPOCHS];
        double s, q;
        collapsed_sum(d, g, p, &s, &q);
        if (s >= 0)
            continue;
        d->inverted += q > 0 && s / sqrt(q) <= -SPAN_Z;
        d->group_sign[g] = -1.0f;
        for (int k = 0; k < FM_SLOTS; k++)
            u[k] = -u[k];
    }
}

/* A group's windows that hold frames: [*first, *last], or -1. */
static void group_windows(const Detector *d, const Segment *seg, int g, int *first, int *last)
{
    *first = *last = -1;
    for (int w = seg->w0; w < seg->w1; w++)
        if (d->v[w] && (w - seg->w0 + seg->h.phase) / PHASES == g) {
            if (*first < 0)
                *first = w;
            *last = w;
        }
}

/*
 * Adds a stretch's message evidence under its hypothesis to soft[] (and to
 * the informed correlation with the expected message's coded bits), and
 * widens [*span_first, *span_last] (windows) to its epochs that carry the
 * mark on their own (pilot z >= SPAN_Z), or to the whole stretch if none
 * does.
 */
static void bind_stretch(Detector *d, const Segment *seg, int ng, const float *tags,
                         const float *tag_mu, const float *tag_var);

/* The least gain of a group (a band's least weight: FM_BAND_WEIGHT_FLOOR). */
#define MIN_GROUP_GAIN 0.1

/*
 * The soft bits' weights (read_stretch): weight[c] band c's mean pilot
 * amplitude over the stretch (m[c] the sum of its pilots' signed values,
 * cnt[c] their number) shrunk towards the mean of its frequency class as far
 * as the pilots' noise asks, gain[g] group g's own amplitude on
 * those weights relative to the stretch's mean (1 when that is not
 * positive). Pilots only set the weights: the pilot statistic is untouched.
 */
static void band_group_weights(Detector *d, const Segment *seg, int ng, const double *m,
                               const int *cnt, float *weight, float *gain)
{
    fm_band_weights(m, cnt, FM_BAND_WEIGHT_FLOOR, weight);
    double amp[MAX_GROUPS] = { 0 }, tot = 0, frames = 0;
    for (int g = 0; g < ng; g++) {
        if (!d->group_frames[g])
            continue;
        const float *u = d->groups + (size_t)g * FM_SLOTS;
        const FmEpochPilot *p = &d->pilots[(seg->h.n0 + (uint32_t)g) % FM_EPOCHS];
        double s = 0, q = 0;
        for (int r = 0; r < FM_PILOTS; r++) {
            float wc = weight[p->slot[r] % FM_NCOEF];
            s += wc * u[p->slot[r]] * p->sign[r];
            q += wc * wc;
        }
        amp[g] = q > 0 ? s / q : 0;
        tot += amp[g] * d->group_frames[g];
        frames += d->group_frames[g];
    }
    double mean = frames > 0 ? tot / frames : 0;
    for (int g = 0; g < ng; g++) {
        double f = mean > 0 ? amp[g] / mean : 1;
        gain[g] = (float)(f > MIN_GROUP_GAIN ? f : MIN_GROUP_GAIN);
    }
}

/*
 * Format 7: the groups of a stretch collapsed again (d->groups) with each
 * cell weighted by what it carries (fm_cell_weights): a cell is a third of
 * the picture's height, and after a codec a flat sky or a dark ground keeps
 * little of the mark where a textured third keeps most; summed alike, the
 * first adds noise to the second. Each cell's amplitude is measured on the
 * pilots of every group, in their epochs' and the groups' signs: keyed per
 * epoch and per cell, they are what a keyless attacker cannot estimate from
 * a whole copy. The sync layer is not used: it is the same in every epoch,
 * so the average of a copy's frames gives it away, and an attacker who
 * inverts it in some cells (at 40 to 50 dB) would have those cells' data,
 * left intact, weighed at nothing (0.9.3 measured it there;
 * bench/attacks.sh --only steer). Data and tag slots do not set the weights either, and the
 * pilot statistic is the epoch search's, which does not see them.
 */
static void weigh_cells(Detector *d, uint32_t n0, int ng)
{
    const FmCellView *cv = &d->cv;
    if (cv->plain || cv->nc < 2)
        return;
    double s[FM_CELLS] = { 0 }, e[FM_CELLS] = { 0 }, w2[FM_CELLS] = { 0 }, n[FM_CELLS] = { 0 };
    size_t floats = (size_t)fm_cell_view_floats(cv);
    int any = 0;
    for (int g = 0; g < ng; g++) {
        if (!d->group_frames[g])
            continue;
        fm_slot_map_init(&d->map, &d->pk, (n0 + (uint32_t)g) % FM_EPOCHS);
        for (int k = 0; k < FM_SLOTS; k++)
            d->want[k] = d->map.bit[k] == FM_SLOT_PILOT ? d->group_sign[g] * d->map.sign[k] : 0;
        fm_cell_view_cell_sums(cv, d->cgroups + (size_t)g * floats, d->map.cell_flip, d->want,
                               s, e, w2, n);
        any = 1;
    }
    float weight[FM_CELLS];
    if (!any || !fm_cell_weights(cv->nc, s, e, w2, n, weight))
        return;
    for (int g = 0; g < ng; g++) {
        if (!d->group_frames[g])
            continue;
        float *u = d->groups + (size_t)g * FM_SLOTS;
        fm_slot_map_init(&d->map, &d->pk, (n0 + (uint32_t)g) % FM_EPOCHS);
        fm_cell_view_collapse_weighted(cv, d->cgroups + (size_t)g * floats, d->map.cell_flip,
                                       weight, d->group_sign[g], d->weigh_lanes, u);
    }
}

static void read_stretch(Detector *d, const Segment *seg, const uint8_t *expected_coded,
                         float *soft, float *rank_soft, float *mark, float *half, double *noise,
                         double *exp_s, double *exp_q,
                         int *span_first, int *span_last, int bind)
{
    float tags[MAX_GROUPS][FM_TAG_BITS], tag_mu[MAX_GROUPS][FM_TAG_BITS],
          tag_var[MAX_GROUPS][FM_TAG_BITS];
    memset(tags, 0, sizeof(tags));
    memset(tag_mu, 0, sizeof(tag_mu));
    memset(tag_var, 0, sizeof(tag_var));
    int ng = groups_under(d, seg->w0, seg->w1, &seg->h);
    orient_groups(d, &seg->h, ng);
    int first = -1, last = -1, any_first = -1, any_last = -1;
    for (int g = 0; g < ng; g++) {
        if (!d->group_frames[g])
            continue;
        const FmEpochPilot *p = &d->pilots[(seg->h.n0 + (uint32_t)g) % FM_EPOCHS];
        double s, q;
        collapsed_sum(d, g, p, &s, &q);
        int gf, gl;
        group_windows(d, seg, g, &gf, &gl);
        if (any_first < 0)
            any_first = gf;
        any_last = gl;
        if (q > 0 && s / sqrt(q) >= SPAN_Z) {
            if (first < 0)
                first = gf;
            last = gl;
        }
    }
    if (first < 0) {
        first = any_first;
        last = any_last;
    }
    if (first >= 0 && (*span_first < 0 || first < *span_first))
        *span_first = first;
    if (last > *span_last)
        *span_last = last;
    weigh_cells(d, seg->h.n0, ng);
    /* Maximum-ratio combining: each band's slots count in proportion to the
     * mark amplitude the pilots show in that band (bands are already at unit
     * variance). Codecs and down-scaling remove the upper bands first; their
     * slots then add little but noise. Pilots only set the weights, so the
     * pilot statistic stays unweighted and N(0,1) without a mark. */
    double m[FM_NCOEF] = { 0 }, mh[2][FM_NCOEF] = { { 0 } };
    int cnt[FM_NCOEF] = { 0 }, cnth[2][FM_NCOEF] = { { 0 } };
    for (int g = 0; g < ng; g++) {
        if (!d->group_frames[g])
            continue;
        const float *u = d->groups + (size_t)g * FM_SLOTS;
        const FmEpochPilot *p = &d->pilots[(seg->h.n0 + (uint32_t)g) % FM_EPOCHS];
        for (int r = 0; r < FM_PILOTS; r++) {
            int c = p->slot[r] % FM_NCOEF;
            m[c] += u[p->slot[r]] * p->sign[r];
            cnt[c]++;
            mh[r & 1][c] += u[p->slot[r]] * p->sign[r];
            cnth[r & 1][c]++;
        }
    }
    float weight[FM_NCOEF], amp[FM_NCOEF], var[FM_NCOEF], amph[2][FM_NCOEF];
    for (int c = 0; c < FM_NCOEF; c++) {
        double mc = cnt[c] ? m[c] / cnt[c] : 0;
        /* for naming: the mark amplitude a slot of this band carries, and
         * the rest of the band's unit variance as noise */
        amp[c] = (float)(mc > 0 ? mc : 0);
        var[c] = (float)(1 - amp[c] * amp[c] > 0.05 ? 1 - amp[c] * amp[c] : 0.05);
        for (int h = 0; h < 2; h++)
            amph[h][c] = (float)(cnth[h][c] ? mh[h][c] / cnth[h][c] : 0);
    }
    /* The soft bits' band weights pool the bands of one frequency u + v
     * (a band's own pilots, some 25 per group, give a noisy amplitude, and
     * codecs, blur and down-scaling attenuate by frequency) unless the
     * bands of a class clearly differ (an anisotropic loss: a squeeze, a
     * motion blur, an attacker's estimate better along one axis), and each group
     * counts in proportion to the mark amplitude its own pilots show
     * (flat, dark or hard-coded epochs carry less): maximum-ratio combining
     * over bands and epochs, measured in bench/results/frontend.md. The
     * naming and tag figures keep each band's own amplitude (times the
     * group's gain). */
    float gain[MAX_GROUPS];
    band_group_weights(d, seg, ng, m, cnt, weight, gain);
    for (int g = 0; g < ng; g++) {
        if (!d->group_frames[g])
            continue;
        const float *u = d->groups + (size_t)g * FM_SLOTS;
        fm_slot_map_init(&d->map, &d->pk, (seg->h.n0 + (uint32_t)g) % FM_EPOCHS);
        float wg[FM_NCOEF], ag[FM_NCOEF];  /* this group's weights and mark amplitudes */
        for (int c = 0; c < FM_NCOEF; c++) {
            wg[c] = weight[c] * gain[g];
            ag[c] = amp[c] * gain[g];
        }
        for (int k = 0; k < FM_SLOTS; k++) {
            int c = k % FM_NCOEF;
            if (rank_soft && d->map.rank[k] >= 0)
                rank_soft[d->map.rank[k]] += wg[c] * u[k] * d->map.sign[k];
            if (d->map.bit[k] == FM_SLOT_TAG) {
                int i = fm_slot_tag_bit(&d->map, k);
                tags[g][i] += wg[c] * u[k] * d->map.sign[k];
                tag_mu[g][i] += wg[c] * ag[c];
                tag_var[g][i] += wg[c] * wg[c] * var[c];
            }
            if (d->map.bit[k] >= 0) {
                /* in the codeword's own signs (formats 4-6 whiten it) */
                soft[d->map.bit[k]] += d->mask_sign[d->map.bit[k]] * wg[c] * u[k] *
                                       d->map.sign[k];
                mark[d->map.bit[k]] += wg[c] * ag[c];
                half[d->map.bit[k]] += wg[c] * amph[0][c] * gain[g];
                half[FM_CODED_BITS + d->map.bit[k]] += wg[c] * amph[1][c] * gain[g];
                noise[d->map.bit[k]] += wg[c] * wg[c] * var[c];
            }
        }
        if (expected_coded) {
            fm_slot_values(&d->map, expected_coded, d->want);
            for (int k = 0; k < FM_SLOTS; k++) {
                *exp_s += u[k] * d->want[k];
                *exp_q += (double)u[k] * u[k];
            }
        }
    }
    if (bind)
        bind_stretch(d, seg, ng, &tags[0][0], &tag_mu[0][0], &tag_var[0][0]);
    sodium_memzero(tags, sizeof(tags));
}

/* The windows of group g of a stretch: their cells at every anchor. */
static void group_cells(const Detector *d, const Segment *seg, int g, FmTagCells *cells)
{
    for (int a = 0; a < d->nanchor; a++)
        fm_tag_cells_clear(&cells[a]);
    for (int w = seg->w0; w < seg->w1; w++)
        if (d->v[w] && (w - seg->w0 + seg->h.phase) / PHASES == g)
            for (int a = 0; a < d->nanchor; a++)
                window_cells(d, w, a, &cells[a]);
}

/* Checks each group's tag against the hash of the picture of the group
 * before it (in this stretch, or the last group of the stretch read before
 * when it is the previous epoch and adjoins): adds the pairs to d->bind. */
static void bind_stretch(Detector *d, const Segment *seg, int ng, const float *tags,
                         const float *tag_mu, const float *tag_var)
{
    FmTagCells cur[FM_BIND_ANCHORS];
    float proj[FM_TAG_BITS];
    int max_frames = 0;
    for (int g = 0; g < ng; g++)
        max_frames = d->group_frames[g] > max_frames ? d->group_frames[g] : max_frames;
    int have_prev = 0, prev_frames = 0;
    if (d->prev_epoch >= 0 && d->group_frames[0]) {
        int gf, gl;
        group_windows(d, seg, 0, &gf, &gl);
        have_prev = (uint32_t)((d->prev_epoch + 1) % FM_EPOCHS) == seg->h.n0 % FM_EPOCHS &&
                    gf >= 0 && gf - d->prev_last_window <= 1;
        prev_frames = max_frames;  /* it was whole enough to be kept */
    }
    for (int g = 0; g < ng; g++) {
        if (!d->group_frames[g]) {
            have_prev = 0;
            continue;
        }
        group_cells(d, seg, g, cur);
        /* the predecessor must hold at least half an epoch of pictures;
         * without one, the group's own pictures (the same on a still shot) */
        int own = !(have_prev && 2 * prev_frames >= max_frames);
        uint32_t epoch = (seg->h.n0 + (uint32_t)g) % FM_EPOCHS;
        for (int v = 0; v < FM_TAG_FORMATS; v++)
            for (int a = 0; a < d->nanchor; a++)
                if (fm_tag_hash(&d->tk, fm_tag_format(v), epoch,
                                own ? &cur[a] : &d->prev_cells[a], proj)) {
                    FmBind *b = own ? &d->bind_own[v][a] : &d->bind[v][a];
                    b->z_bar = fm_bind_anchor_bar(a);
                    fm_bind_add(b, tags + (size_t)g * FM_TAG_BITS, tag_mu + (size_t)g * FM_TAG_BITS,
                                tag_var + (size_t)g * FM_TAG_BITS, proj);
                }
        memcpy(d->prev_cells, cur, sizeof(FmTagCells) * (size_t)d->nanchor);
        prev_frames = d->group_frames[g];
        have_prev = 1;
        int gf, gl;
        group_windows(d, seg, g, &gf, &gl);
        d->prev_epoch = (long)((seg->h.n0 + (uint32_t)g) % FM_EPOCHS);
        d->prev_last_window = gl;
    }
    sodium_memzero(proj, sizeof(proj));
}

/* Decodes the soft bits of one older format into *mr when nothing has
 * verified yet; *format says which did. Returns 0 or a negative FM_E*. */
static int try_format(const float *soft, int code, int mark_format, const FmKey *key,
                      FmMsgRead *mr, int *format)
{
    FmMsgRead v;
    int ret = fm_msgcode_read(soft, code, key, &v);
    if (ret >= 0 && v.signature_valid) {
        *mr = v;
        *format = mark_format;
    }
    sodium_memzero(&v, sizeof(v));
    return ret < 0 ? ret : 0;
}

/*
 * The message, in whichever mark format verifies. A reading through the
 * cells' signs (format 7) can only carry format 7's message: the older
 * formats' slots have no cell signs, so there they are noise, and their
 * five decoders (a third of an unmarked clip's detection) are not run. A
 * plain reading (cell_view.h) tries format 7, then 6 (soft, under format
 * 6's mask), 5 and 4 (the same under their masks), 3 (the coded bits
 * folded over every data rank, no mask), 2 (the convolutional code's bits
 * folded likewise). Unread ones leave *mr's signature_valid 0 and *format 7.
 */
static int read_any_format(const float *soft, const float *rank_soft, const FmKey *key,
                           int plain, int deep, FmMsgRead *mr, int *format)
{
    static const int older_masks[] = { FM_MARK_FORMAT_TAG_V6, FM_MARK_FORMAT_TAG_V5,
                                       FM_MARK_FORMAT_TAG_V4 };
    float other[FM_CODED_BITS];
    int ret = fm_msgcode_read(soft, FM_MSGCODE_FORMAT, key, mr);
    *format = FM_MARK_FORMAT_TAGGED;
    for (size_t i = 0; plain && i < sizeof(older_masks) / sizeof(older_masks[0]); i++)
        if (ret >= 0 && !mr->signature_valid) {
            memcpy(other, soft, sizeof(other));
            fm_format_remask(other, FM_MARK_FORMAT_TAGGED, older_masks[i]);
            ret = try_format(other, FM_MSGCODE_FORMAT, older_masks[i], key, mr, format);
        }
    if (plain && ret >= 0 && !mr->signature_valid) {
        fm_msgcode_fold(rank_soft, FM_CODED_BITS, other);
        ret = try_format(other, FM_MSGCODE_FORMAT, FM_MSGCODE_FORMAT, key, mr, format);
    }
    if (plain && ret >= 0 && !mr->signature_valid) {
        fm_msgcode_fold(rank_soft, FM_CODED_BITS_V2, other);
        ret = try_format(other, FM_MSGCODE_FORMAT_V2, FM_MSGCODE_FORMAT_V2, key, mr, format);
    }
    /* the deep list (msgcode.h), format 7's code only: in fm_detect_trace's
     * second pass, on a mark its pilots show, where the first list held no
     * message that verifies */
    if (deep && ret >= 0 && (ret = fm_msgcode_read_deep(soft, key, mr)) > 0)
        *format = FM_MARK_FORMAT_TAGGED;
    /* a format-7 message read at a pair's error rate: the other copy of an
     * average of two, if the clip is one (msgcode.h) */
    if (ret >= 0 && mr->signature_valid && *format == FM_MARK_FORMAT_TAGGED)
        ret = fm_msgcode_read_pair_other(soft, key, mr);
    sodium_memzero(other, sizeof(other));
    if (ret < 0)
        sodium_memzero(mr, sizeof(*mr));
    return ret < 0 ? ret : 0;
}

void fm_bind_report(const FmBind *bind, int n, FmDetectResult *res)
{
    int best = -1;
    for (int a = 0; a < n; a++) {
        if (!bind[a].pairs)
            continue;
        if (best < 0 || fm_bind_confirmed(&bind[a]) > fm_bind_confirmed(&bind[best]) ||
            (fm_bind_confirmed(&bind[a]) == fm_bind_confirmed(&bind[best]) &&
             fm_bind_z(&bind[a]) > fm_bind_z(&bind[best])))
            best = a;
    }
    res->bind_z = best < 0 ? 0 : fm_bind_z(&bind[best]);
    res->bind_agreement = best < 0 ? 0 : fm_bind_agreement(&bind[best]);
    res->bind_pairs = best < 0 ? 0 : bind[best].pairs;
    res->bind_expected_z = best < 0 ? 0 : fm_bind_expected_z(&bind[best]);
    res->content_bound = best >= 0 && fm_bind_confirmed(&bind[best]);
}

/* Appends each group of every stretch, under the stretch's hypothesis, to
 * the trace (the evidence report's plot of strength over time). */
static void trace_stretches(Detector *d, const Segment *seg, int nseg, FmStrengthTrace *trace)
{
    trace->n = 0;
    trace->truncated = 0;
    for (int s = 0; s < nseg; s++) {
        int ng = groups_under(d, seg[s].w0, seg[s].w1, &seg[s].h);
        for (int g = 0; g < ng; g++) {
            if (!d->group_frames[g])
                continue;
            if (trace->n >= trace->cap) {
                trace->truncated = 1;
                return;
            }
            const FmEpochPilot *p = &d->pilots[(seg[s].h.n0 + (uint32_t)g) % FM_EPOCHS];
            double sum, q;
            collapsed_sum(d, g, p, &sum, &q);
            int gf, gl;
            group_windows(d, &seg[s], g, &gf, &gl);
            FmStrengthPoint *pt = &trace->points[trace->n++];
            pt->t0 = d->acc->win[gf].t_first;
            pt->t1 = d->acc->win[gl].t_last;
            pt->z = q > 0 ? sum / sqrt(q) : 0;
            pt->stretch = s;
            pt->stretch_z = seg[s].h.z;
            pt->read = seg[s].read;
        }
    }
}

/*
 * The message from every stretch of seg[] that carries the mark (the best,
 * and others whose pilot z under their hypothesis h reaches
 * SEGMENT_READ_Z), soft list decoding and the signature, the content
 * binding, into res (whose detection statistic the caller has set).
 */
static int read_message(Detector *d, Segment *seg, int nseg, int best, const uint8_t *expected,
                        FmDetectResult *res, FmError *err)
{
    float soft[FM_CODED_BITS] = { 0 }, ssoft[FM_CODED_BITS], smark[FM_CODED_BITS],
          shalf[2 * FM_CODED_BITS];
    double snoise[FM_CODED_BITS];
    float rank_soft[FM_DATA_SLOTS] = { 0 };
    uint8_t refbits[FM_MESSAGE_BITS], exp_coded[FM_CODED_BITS], exp_slots[FM_CODED_BITS];
    int ret;

    if (expected) {
        fm_bytes_to_bits(expected, FM_MESSAGE_BYTES, refbits);
        ret = fm_msgcode_encode(refbits, exp_coded);
        sodium_memzero(refbits, sizeof(refbits));
        if (ret < 0)
            return fm_error_set(err, ret, "out of memory in the encoder");
        /* the slots carry the whitened codeword (formats 4-6) */
        for (int i = 0; i < FM_CODED_BITS; i++)
            exp_slots[i] = exp_coded[i] ^ (d->mask_sign[i] < 0);
    }
    memset(d->bind, 0, sizeof(d->bind));
    memset(d->bind_own, 0, sizeof(d->bind_own));
    d->prev_epoch = -1;
    double exp_s = 0, exp_q = 0;
    int first = -1, last = -1;
    FmEvidence *ev = d->ev;
    d->inverted = 0;
    if (ev) {
        fm_evidence_free(ev);
        ev->stretch_soft = malloc(sizeof(float) * FM_CODED_BITS * (size_t)nseg);
        ev->stretch_span = malloc(sizeof(*ev->stretch_span) * (size_t)nseg);
        if (!ev->stretch_soft || !ev->stretch_span)
            return fm_error_set(err, FM_ENOMEM, "out of memory in the detector");
    }
    for (int s = 0; s < nseg; s++) {
        if (s != best && seg[s].h.z < SEGMENT_READ_Z)
            continue;
        seg[s].read = 1;
        res->segments_read++;
        memset(ssoft, 0, sizeof(ssoft));
        memset(smark, 0, sizeof(smark));
        memset(snoise, 0, sizeof(snoise));
        memset(shalf, 0, sizeof(shalf));
        int sf = -1, sl = -1;
        read_stretch(d, &seg[s], expected ? exp_slots : NULL, ssoft, rank_soft,
                     smark, shalf, snoise, &exp_s,
                     &exp_q, &sf, &sl, 1);
        if (sf >= 0 && (first < 0 || sf < first))
            first = sf;
        if (sl > last)
            last = sl;
        for (int i = 0; i < FM_CODED_BITS; i++)
            soft[i] += ssoft[i];
        if (ev) {
            for (int i = 0; i < FM_CODED_BITS; i++) {
                ev->mark[i] += smark[i];
                ev->noise[i] += (float)snoise[i];
                ev->mark_half[0][i] += shalf[i];
                ev->mark_half[1][i] += shalf[FM_CODED_BITS + i];
            }
            memcpy(ev->stretch_soft + (size_t)ev->nstretch * FM_CODED_BITS, ssoft, sizeof(ssoft));
            ev->stretch_span[ev->nstretch][0] = sf >= 0 ? d->acc->win[sf].t_first : 0;
            ev->stretch_span[ev->nstretch][1] = sl >= 0 ? d->acc->win[sl].t_last : 0;
            ev->nstretch++;
        }
    }
    res->epochs_inverted = d->inverted;
    if (ev) {
        memcpy(ev->soft, soft, sizeof(soft));
        memcpy(ev->rank_soft, rank_soft, sizeof(rank_soft));
        /* the best stretch under its runner-up hypotheses (alt[0] is the
         * best itself) */
        ev->alt_soft = malloc(sizeof(float) * FM_CODED_BITS * FM_EVIDENCE_ALTS);
        if (!ev->alt_soft)
            return fm_error_set(err, FM_ENOMEM, "out of memory in the detector");
        for (int k = 1; k < seg[best].nalt; k++) {
            Segment alt = seg[best];
            alt.h = seg[best].alt[k];
            float *as = ev->alt_soft + (size_t)ev->nalt * FM_CODED_BITS;
            double es = 0, eq = 0;
            int sf = -1, sl = -1;
            memset(as, 0, sizeof(float) * FM_CODED_BITS);
            read_stretch(d, &alt, NULL, as, NULL, smark, shalf, snoise, &es, &eq, &sf, &sl, 0);
            ev->alt_position[ev->nalt] = master_position(&alt.h, alt.w0);
            ev->nalt++;
        }
    }
    sodium_memzero(ssoft, sizeof(ssoft));
    res->span[0] = d->acc->win[first].t_first;
    res->span[1] = d->acc->win[last].t_last;

    /* list decoding: the most likely messages in turn, until one carries a
     * signature that verifies (the signature is the check; a clip without
     * the mark still needs an Ed25519 forgery, now among the list's tries) */
    FmMsgRead mr;
    int deep = d->deep && res->false_alarm_log10 <= log10(FM_FALSE_ALARM_THRESHOLD);
    if ((ret = read_any_format(soft, rank_soft, d->key, d->cv.plain, deep, &mr,
                               &res->mark_format)) < 0)
        return fm_error_set(err, ret, "%s", fm_msgcode_strerror(ret));
    /* the binding under the features of the format read: the best anchor
     * (each tried counted in its bar: content_tag.h) */
    int tv = fm_tag_format_index(res->mark_format), own = 1;
    double zmax = 0;
    for (int a = 0; a < d->nanchor; a++)
        own &= !d->bind[tv < 0 ? 0 : tv][a].pairs;
    const FmBind *bind = own ? d->bind_own[tv < 0 ? 0 : tv] : d->bind[tv < 0 ? 0 : tv];
    fm_bind_report(bind, d->nanchor, res);
    for (int a = 0; a < d->nanchor; a++)
        if (bind[a].pairs && fm_bind_z(&bind[a]) > zmax)
            zmax = fm_bind_z(&bind[a]);
    if (tv < 0) {
        /* no tag, or format 4's, whose projections were not these */
        res->bind_z = res->bind_agreement = res->bind_expected_z = 0;
        res->bind_pairs = res->content_bound = 0;
    }
    /* a contradiction needs: no anchor near the bar (a group's own pictures
     * may have moved on from its predecessor's: they can confirm a
     * binding, never contradict one), and a tag strong enough to show even
     * where the clip holds least of the marked region (a crop may have cut
     * it, or moved it away from every anchor tried) */
    res->bind_worst_coverage = fm_tag_worst_coverage(d->plane_w, d->plane_h);
    res->content_mismatch = tv >= 0 && res->bind_pairs && !own && !res->content_bound &&
                            zmax < FM_BIND_Z &&
                            res->bind_expected_z *
                                    fm_tag_coverage_agreement(res->bind_worst_coverage) >=
                                FM_BIND_EXPECTED_Z;
    fm_detect_result_take_read(res, &mr);

    /* with an expected message: the raw bit error rate against it */
    if (expected) {
        res->expected_match = sodium_memcmp(expected, res->message, FM_MESSAGE_BYTES) == 0;
        res->expected_z = exp_q > 0 ? exp_s / sqrt(exp_q) : 0;
        if (res->mark_format == FM_MARK_FORMAT_TAGGED) {
            int errors = 0;
            for (int i = 0; i < FM_CODED_BITS; i++)
                errors += (soft[i] > 0) != (exp_coded[i] == 1);
            res->raw_ber = (double)errors / FM_CODED_BITS;
        }
    }
    res->found = res->signature_valid || res->false_alarm_log10 <= log10(FM_FALSE_ALARM_THRESHOLD);
    sodium_memzero(soft, sizeof(soft));
    sodium_memzero(rank_soft, sizeof(rank_soft));
    sodium_memzero(exp_coded, sizeof(exp_coded));
    sodium_memzero(exp_slots, sizeof(exp_slots));
    return 0;
}

/* read_message with each epoch's own sign, the evidence into evs. */
static int read_signs(Detector *d, Segment *signs, int nseg, int best, const uint8_t *expected,
                      FmDetectResult *rs, FmEvidence *evs, FmError *err)
{
    FmEvidence *ev = d->ev;
    d->ev = ev ? evs : NULL;
    d->per_epoch_sign = 1;
    int ret = read_message(d, signs, nseg, best, expected, rs, err);
    d->per_epoch_sign = 0;
    d->ev = ev;
    return ret;
}

/* The detection statistic of seg[best] (its hypothesis h, chosen among
 * hyp) into res. */
static void set_statistic(const Segment *seg, int nseg, int best, double hyp, FmDetectResult *res)
{
    res->pilot_z = seg[best].h.z;
    res->segments = nseg;
    res->hypotheses = hyp < 9e18 ? (long)hyp : (long)9e18;
    res->hypotheses_log10 = log10(hyp);
    double lp = (seg[best].h.lp < 0 ? seg[best].h.lp : fm_gauss_tail_log10(res->pilot_z)) +
                log10(hyp);
    res->false_alarm_log10 = lp > 0 ? 0 : lp;
    res->false_alarm_probability = pow(10, res->false_alarm_log10);
    res->master_position = master_position(&seg[best].h, seg[best].w0);
}

void fm_detect_result_take_read(FmDetectResult *res, FmMsgRead *mr)
{
    res->signature_valid = mr->signature_valid;
    res->list_rank = mr->rank;
    res->list_length = mr->list;
    res->raw_ber = mr->raw_ber;
    memcpy(res->message, mr->message, FM_MESSAGE_BYTES);
    res->pair_read = mr->signature_valid && mr->pair;
    res->pair_signature_valid = res->pair_read && mr->pair_valid &&
                                fm_payload_unpack(mr->pair_message, &res->pair_payload, NULL) == 0;
    if (res->pair_signature_valid)
        memcpy(res->pair_message, mr->pair_message, FM_MESSAGE_BYTES);
    sodium_memzero(mr, sizeof(*mr));
    res->payload_valid = fm_payload_unpack(res->message, &res->payload, NULL) == 0;
}

/* A read whose signature verifies but whose pilots alone would not call a
 * mark seen (p above FM_FALSE_ALARM_THRESHOLD, its search's hypotheses
 * counted): the geometry it was read under may be wrong. */
static int weak_read(const FmDetectResult *res)
{
    return res->signature_valid && res->false_alarm_log10 > log10(FM_FALSE_ALARM_THRESHOLD);
}

/* res's false-alarm probability with its hypotheses counted factor (> 1)
 * times over. */
static void count_hypotheses(FmDetectResult *res, double factor)
{
    double hyp = pow(10, res->hypotheses_log10) * factor;
    double lp = res->false_alarm_log10 + log10(factor);
    res->hypotheses = hyp < 9e18 ? (long)hyp : (long)9e18;
    res->hypotheses_log10 = log10(hyp);
    res->false_alarm_log10 = lp > 0 ? 0 : lp;
    res->false_alarm_probability = pow(10, res->false_alarm_log10);
}

/*
 * Reads the windows' evidence: each stretch's epochs under both statistics
 * of search_stretch, then the message (read_message) under the more
 * significant one's hypotheses, and under the other's when that does not
 * verify or, with the coherent read first, when the two place the mark
 * differently (the read with fewer raw bit errors is kept). The
 * per-epoch-sign reading (its p over both searches' hypotheses, twice H)
 * is taken only if its signature verifies; the trace
 * shows each group's own signed z under the hypotheses read.
 * geometry_hypotheses: the geometry search's size (1 for the nominal grid).
 */
static int analyse_windows(Detector *d, long keys, double geometry_hypotheses,
                           const uint8_t *expected, FmDetectResult *res,
                           FmStrengthTrace *trace, FmError *err)
{
    /* stretches of about SEG_WINDOWS windows, the same length each */
    int used = 0;
    for (int w = 0; w < d->nwin; w++)
        used = d->v[w] ? w + 1 : used;
    if (!used)
        return fm_error_set(err, FM_EFORMAT, "no video frames to analyse");
    int nseg = (used + SEG_WINDOWS - 1) / SEG_WINDOWS;
    fm_window_predict_fit(d->acc, d->v, d->nwin, FM_SLOTS * d->cv.nc, d->pred, d->beta);
    d->resid_w0 = d->resid_w1 = -1;  /* new predictions */
    Segment *seg = calloc((size_t)nseg, sizeof(*seg)), *signs = calloc((size_t)nseg, sizeof(*seg));
    if (!seg || !signs) {
        free(seg);
        free(signs);
        return fm_error_set(err, FM_ENOMEM, "out of memory in the detector");
    }
    int best = 0, best_signs = 0;
    for (int s = 0; s < nseg; s++) {
        seg[s].w0 = (int)((long)used * s / nseg);
        seg[s].w1 = (int)((long)used * (s + 1) / nseg);
        search_stretch_memo(d, seg[s].w0, seg[s].w1, &seg[s].h, &seg[s].hs,
                            d->ev ? &seg[s] : NULL);
        if (seg[s].h.z > seg[best].h.z)
            best = s;
        if (seg[s].hs.lp < seg[best_signs].hs.lp)
            best_signs = s;
    }
    double hyp = (double)keys * geometry_hypotheses * nseg * FM_EPOCHS * PHASES;
    for (int s = 0; s < nseg; s++) {
        signs[s] = seg[s];
        signs[s].h = seg[s].hs;
    }
    set_statistic(seg, nseg, best, hyp, res);
    FmDetectResult rs = { .geometry = res->geometry };
    set_statistic(signs, nseg, best_signs, 2 * hyp, &rs);
    /* the more significant statistic's reading first: each epoch's own
     * sign when its groups disagree more than one sign explains, unless the
     * coherent statistic alone already finds the mark (a strong mark's
     * groups differ in strength, which the sum of their squares rewards
     * more than their sum: format 7's pilot z grows with the cells) */
    int signs_stronger = rs.false_alarm_log10 - log10(2) < res->false_alarm_log10;
    int signs_first = signs_stronger && res->false_alarm_log10 > log10(FM_FALSE_ALARM_THRESHOLD),
        use_signs = 0;
    /* The per-epoch signs are more significant but place the mark
     * elsewhere: an attacker who subtracted an estimate of every epoch's
     * mark, too much in some epochs and too little in others, takes the
     * true epochs' coherent sum near zero, while the windows' temporal host
     * prediction carries each epoch's mark, with its sign turned, into the
     * windows of the neighbouring epochs: where an epoch was negated, a
     * positive copy of its mark lies an epoch or two away. The coherent
     * search finds that, the message (the same in every variant) still
     * reads, but with many raw errors, a wrong master time and the tag of
     * other pictures (bench/attacks.sh, 0.9.7, one marked copy: 13-29 % raw
     * errors where the epochs' own signs read 0 %). Both are read and the
     * one with fewer raw bit errors is kept (each with its own p, as when
     * the first read does not verify). */
    int both = !signs_first && signs_stronger &&
               (best != best_signs || seg[best].h.n0 != signs[best_signs].h.n0 ||
                seg[best].h.phase != signs[best_signs].h.phase);
    FmEvidence evs = { 0 }, *ev = d->ev;
    int ret = 0;
    if (signs_first) {
        ret = read_signs(d, signs, nseg, best_signs, expected, &rs, &evs, err);
        use_signs = ret >= 0 && rs.signature_valid;
    }
    if (ret >= 0 && !use_signs) {
        ret = read_message(d, seg, nseg, best, expected, res, err);
        if (ret >= 0 && !signs_first && (both || !res->signature_valid)) {
            ret = read_signs(d, signs, nseg, best_signs, expected, &rs, &evs, err);
            use_signs = ret >= 0 && rs.signature_valid &&
                        (!res->signature_valid || rs.raw_ber < res->raw_ber);
        }
    }
    Segment *chosen = seg;
    if (use_signs) {
        *res = rs;
        res->epoch_signs = 1;
        chosen = signs;
        if (ev) {
            fm_evidence_free(ev);
            *ev = evs;
            memset(&evs, 0, sizeof(evs));
        }
    }
    fm_evidence_free(&evs);
    sodium_memzero(&rs, sizeof(rs));
    if (ret >= 0 && trace)
        trace_stretches(d, chosen, nseg, trace);
    free(seg);
    free(signs);
    return ret < 0 ? ret : 0;
}

/* The periodic sync layer's z on the nominal grid, all windows and cells
 * summed (the same in every format since 2): is this key's mark there? */
static double nominal_sync_z(const Detector *d)
{
    const FmAccumulator *acc = d->acc;
    double u[FM_SLOTS] = { 0 };
    for (int w = 0; w < acc->nwin; w++) {
        if (!acc->win[w].frames || !acc->win[w].slots)
            continue;
        for (int k = 0; k < acc->nslots; k++)
            u[k % FM_SLOTS] += acc->win[w].slots[k];
    }
    double s = 0, q = 0;
    for (int r = FM_CELL_ID_SLOTS; r < FM_SYNC_SLOTS; r++) {
        double x = u[d->pk.sync_slot[r]];
        s += x * d->pk.sync_sign[r];
        q += x * x;
    }
    sodium_memzero(u, sizeof(u));
    return q > 0 ? s / sqrt(q) : 0;
}

/* Reports an alignment found by the search as clip geometry. */
static void describe(const FmAccumulator *acc, const FmAlignment *al, FmGeometry *g)
{
    /* clip pixels per mark pixel, and relative to the nominal grid (the whole
     * marked picture's height filling the clip's height) */
    double px = al->step_x * acc->fine_step, py = al->step_y * acc->fine_step;
    g->scale_x = px / acc->step;
    g->scale_y = py / acc->step;
    /* the marked picture's mark pixel 0 sits at grid sample -shift (mod tile);
     * report the representative nearest the clip's corner */
    int sx = -al->shift_x, sy = -al->shift_y;
    while (sx < -FM_TILE / 2) sx += FM_TILE;
    while (sy < -FM_TILE / 2) sy += FM_TILE;
    g->offset_x = sx * px;
    g->offset_y = sy * py;
    double inv[9], u, v, x, y;
    if (al->warp && fm_homography_invert(al->h, inv) == 0 &&
        fm_homography_apply(inv, 0, 0, &u, &v) == 0 &&
        fm_homography_apply(al->h, FM_TILE * floor(u / FM_TILE + 0.5),
                            FM_TILE * floor(v / FM_TILE + 0.5), &x, &y) == 0) {
        /* the tile corner nearest the clip's corner, through the map (the
         * centre's steps do not hold out there) */
        g->offset_x = x * acc->fine_step;
        g->offset_y = y * acc->fine_step;
    }
    g->flip_h = al->flip_h;
    g->flip_v = al->flip_v;
    g->rotation_deg = -al->rotation_deg;  /* the clip's turn is undone by the opposite one */
    g->searched = 1;
    g->perspective = al->warp;
}

/* The cells a geometry found by the search shows, and the mark's cells its
 * first one can be (fm_cells_offsets): the search knows where the tiles
 * fall, not which cells of the marked picture they are. */
static void searched_cells_of(const FmAccumulator *acc, const FmAlignment *al, FmCells *c,
                              int *kx_lo, int *kx_hi, int *ky_lo, int *ky_hi)
{
    int mw, mh;
    fm_geometry_plane_size(acc, al, &mw, &mh);
    fm_cells_offsets(mw, mh, al->shift_x, al->shift_y, c, kx_lo, kx_hi, ky_lo, ky_hi);
}

/* The windows' evidence under a geometry found by the search: each window
 * that kept its fine evidence, folded under the alignment into the cells c
 * and read cell by cell. */
static int searched_windows(const FmAccumulator *acc, const FmAlignment *al, FmCells c,
                            float **out, int *nwin, float *tile)
{
    int n = acc->nwin < FM_FINE_WINDOWS ? acc->nwin : FM_FINE_WINDOWS;
    *nwin = n;
    for (int w = 0; w < n; w++) {
        out[w] = NULL;
        if (!acc->win[w].frames || !acc->win[w].fine)
            continue;
        int ret = fm_geometry_fold(acc, acc->win[w].fine, al, c.nx * FM_TILE, c.ny * FM_TILE,
                                   tile);
        if (ret < 0)
            return ret;
        if (!(out[w] = malloc(sizeof(float) * FM_SLOTS * fm_cells_count(c))))
            return FM_ENOMEM;
        fm_cells_read(tile, c, out[w]);
    }
    return 0;
}

/* The windows' picture cells under a geometry found by the search, at the
 * tile corners nearest the clip's centre (a crop keeps the centre). */
static int searched_cells(Detector *d, const FmAlignment *al, int nwin)
{
    const FmAccumulator *acc = d->acc;
    int anchors_set = 0;
    free(d->wcells);
    d->wcells = calloc((size_t)nwin * FM_BIND_ANCHORS, sizeof(FmTagCells));  /* any nanchor */
    if (!d->wcells)
        return FM_ENOMEM;
    for (int w = 0; w < nwin; w++) {
        if (!acc->win[w].frames || !acc->win[w].fine_raw)
            continue;
        float *plane;
        int mw, mh;
        int ret = fm_geometry_mark_plane(acc, acc->win[w].fine_raw, al, &plane, &mw, &mh);
        if (ret == FM_ENOMEM)
            return ret;
        if (ret < 0)
            continue;
        if (!anchors_set) {
            set_anchors(d, mw, mh, al->shift_x, al->shift_y);
            anchors_set = 1;
        }
        /* the fine plane sums the window's frames at the picture's level */
        for (int a = 0; a < d->nanchor; a++)
            fm_tag_cells_add_plane(&d->wcells[(size_t)w * d->nanchor + a], plane, mw, mh,
                                   d->anchor_x[a], d->anchor_y[a]);
        free(plane);
    }
    return 0;
}

void fm_evidence_free(FmEvidence *ev)
{
    if (!ev)
        return;
    if (ev->stretch_soft)
        sodium_memzero(ev->stretch_soft, sizeof(float) * FM_CODED_BITS * (size_t)ev->nstretch);
    free(ev->stretch_soft);
    free(ev->stretch_span);
    if (ev->alt_soft)
        sodium_memzero(ev->alt_soft, sizeof(float) * FM_CODED_BITS * FM_EVIDENCE_ALTS);
    free(ev->alt_soft);
    sodium_memzero(ev, sizeof(*ev));
}

/*
 * Reads the windows under an alignment found by the search and takes that
 * reading into res when it verifies, or (unless only_verified) when it is
 * more significant than res's and res found nothing.
 */
static int read_searched(Detector *d, const FmAlignment *al, long keys, const uint8_t *expected,
                         FmDetectResult *res, FmEvidence *ev, FmStrengthTrace *trace,
                         FmStrengthTrace *gtrace, float **vg, float *tile, int only_verified,
                         int *taken, FmError *err)
{
    const FmAccumulator *acc = d->acc;
    FmEvidence evg = { 0 };
    FmDetectResult g = { 0 };
    int ng = 0, ret;
    for (int w = 0; w < FM_FINE_WINDOWS; w++) {
        free(vg[w]);
        vg[w] = NULL;
    }
    FmCells cells;
    int kx_lo, kx_hi, ky_lo, ky_hi;
    searched_cells_of(acc, al, &cells, &kx_lo, &kx_hi, &ky_lo, &ky_hi);
    if ((ret = searched_windows(acc, al, cells, vg, &ng, tile)) < 0) {
        if (ret == FM_ENOMEM)
            return fm_error_set(err, ret, "out of memory in the geometry search");
        return 0;
    }
    d->v = vg;
    d->nwin = ng;
    if ((ret = searched_cells(d, al, ng)) < 0)
        return fm_error_set(err, ret, "out of memory in the detector");
    /* which cell of the mark the first one is: the cell-id layer (constant
     * in time: summed over the windows) under every offset, and the
     * CELL_READS strongest read in that order until one verifies (its keyed
     * signs are independent of the pilot's: only the offsets read count in
     * the hypotheses) */
    int noff = 0, order[FM_CELLS];
    double idz[FM_CELLS];
    int okx[FM_CELLS] = { 0 }, oky[FM_CELLS] = { 0 };
    for (int ky = ky_lo; ky <= ky_hi; ky++)
        for (int kx = kx_lo; kx <= kx_hi && noff < FM_CELLS; kx++) {
            okx[noff] = fm_cell_wrap(kx, FM_CELLS_X);
            oky[noff] = fm_cell_wrap(ky, FM_CELLS_Y);
            noff++;
        }
    int reads = noff < CELL_READS ? noff : CELL_READS;
    double hyp = ((double)al->hypotheses + 1) * reads;
    if (noff > 1) {
        int nc = fm_cells_count(cells);
        float *total = calloc((size_t)FM_SLOTS * nc, sizeof(float));
        float *lanes = malloc(sizeof(float) * FM_SLOTS * FM_CELLS);
        float *energy = malloc(sizeof(float) * FM_SLOTS);
        if (!total || !lanes || !energy) {
            free(total);
            free(lanes);
            free(energy);
            return fm_error_set(err, FM_ENOMEM, "out of memory in the detector");
        }
        for (int w = 0; w < ng; w++)
            if (vg[w])
                for (int k = 0; k < FM_SLOTS * nc; k++)
                    total[k] += vg[w][k];
        for (int i = 0; i < noff; i++) {
            FmCellView cv;
            double cs, cq;
            fm_cell_view_init(&cv, cells, okx[i], oky[i]);
            fm_cell_view_load(&cv, total, lanes, energy);
            fm_cell_view_id(&cv, lanes, energy, &d->pk, &cs, &cq);
            idz[i] = cq > 0 ? cs / sqrt(cq) : 0;
            order[i] = i;
        }
        free(total);
        free(lanes);
        free(energy);
        for (int i = 1; i < noff; i++)  /* strongest first (stable) */
            for (int j = i; j > 0 && idz[order[j]] > idz[order[j - 1]]; j--) {
                int t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
    } else {
        order[0] = 0;
        idz[0] = 0;
    }
    /* the first read keeps its evidence and trace; a later one chosen over
     * it is read again for them */
    int best = 0;
    for (int i = 0; i < reads; i++) {
        FmDetectResult go = { .geometry = res->geometry };
        set_cells(d, cells, okx[order[i]], oky[order[i]]);
        d->ev = i == 0 && ev ? &evg : NULL;
        if (i == 0 && gtrace)
            gtrace->n = gtrace->truncated = 0;
        ret = analyse_windows(d, keys, hyp, expected, &go, i == 0 && trace ? gtrace : NULL, err);
        if (ret < 0)
            break;
        if (i == 0 || (go.signature_valid && !g.signature_valid) ||
            (!g.signature_valid && go.false_alarm_log10 < g.false_alarm_log10)) {
            g = go;
            best = i;
        }
        sodium_memzero(&go, sizeof(go));
        if (g.signature_valid)
            break;
    }
    if (ret >= 0 && best > 0) {
        fm_evidence_free(&evg);
        memset(&g, 0, sizeof(g));
        g.geometry = res->geometry;
        set_cells(d, cells, okx[order[best]], oky[order[best]]);
        d->ev = ev ? &evg : NULL;
        if (gtrace)
            gtrace->n = gtrace->truncated = 0;
        ret = analyse_windows(d, keys, hyp, expected, &g, trace ? gtrace : NULL, err);
    }
    if (ret == FM_EFORMAT) {
        ret = 0;  /* no window kept fine evidence */
    } else if (ret >= 0 && ((g.signature_valid &&
                             (!res->signature_valid || g.pilot_z > res->pilot_z)) ||
                            (!res->signature_valid && !only_verified && !res->found &&
                             g.false_alarm_log10 < res->false_alarm_log10))) {
        describe(acc, al, &g.geometry);
        *res = g;
        if (taken)
            *taken = 1;
        if (trace) {
            if (gtrace->n)
                memcpy(trace->points, gtrace->points, sizeof(FmStrengthPoint) * (size_t)gtrace->n);
            trace->n = gtrace->n;
            trace->truncated = gtrace->truncated;
        }
        if (ev) {
            fm_evidence_free(ev);
            *ev = evg;
            memset(&evg, 0, sizeof(evg));
        }
    }
    fm_evidence_free(&evg);
    return ret < 0 ? ret : 0;
}

int fm_detect(const FmAccumulator *acc, const FmKey *key, int keys_tried,
              const uint8_t *expected, FmDetectResult *res, FmError *err)
{
    return fm_detect_trace(acc, key, keys_tried, expected, res, NULL, NULL, err);
}

int fm_detect_ex(const FmAccumulator *acc, const FmKey *key, int keys_tried,
                 const uint8_t *expected, FmDetectResult *res, FmEvidence *ev, FmError *err)
{
    return fm_detect_trace(acc, key, keys_tried, expected, res, ev, NULL, err);
}

/* One detection (fm_detect_trace), with the deep list or without. */
static int detect_pass(const FmAccumulator *acc, const FmKey *key, int keys_tried,
                       const uint8_t *expected, int deep, int searched_only,
                       struct FmSearchMemo *memo, FmDetectResult *res, FmEvidence *ev,
                       FmStrengthTrace *trace, FmError *err)
{
    memset(res, 0, sizeof(*res));
    if (!acc->frames)
        return fm_error_set(err, FM_EFORMAT, "no video frames to analyse");

    Detector *d = calloc(1, sizeof(*d));
    float *tile = malloc(sizeof(float) * FM_TILE * FM_TILE * FM_CELLS);
    float *sync_tile = malloc(sizeof(float) * FM_TILE * FM_TILE);
    float *values = malloc(sizeof(float) * FM_SLOTS);
    float **v = calloc((size_t)acc->nwin + 1, sizeof(float *));
    float **vg = calloc(FM_FINE_WINDOWS, sizeof(float *));
    long keys = keys_tried > 0 ? keys_tried : 1;
    int ret = 0;
    FmStrengthTrace gtrace = { 0 };   /* the geometry search's, until it is chosen */

    if (trace) {
        trace->n = trace->truncated = 0;
        gtrace.cap = trace->cap;
        if (trace->cap > 0)
            gtrace.points = malloc(sizeof(FmStrengthPoint) * (size_t)trace->cap);
    }
    if (!d || !tile || !sync_tile || !values || !v || !vg ||
        (trace && trace->cap > 0 && !gtrace.points)) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory in the detector");
        goto end;
    }
    d->acc = acc;
    d->key = key;
    d->ev = ev;
    d->deep = deep;
    d->memo = memo;
    d->groups = malloc(sizeof(float) * FM_SLOTS * MAX_GROUPS);
    /* the groups' and windows' lanes (4 and 16 MB): mapped up front
     * (big_alloc.h), as each analysis fills them */
    d->cgroups = fm_big_alloc(CGROUPS_BYTES);
    d->genergy = malloc(sizeof(float) * FM_SLOTS * MAX_GROUPS);
    d->corr = malloc(sizeof(double) * FM_EPOCHS * MAX_GROUPS);
    d->energy = malloc(sizeof(double) * FM_EPOCHS * MAX_GROUPS);
    /* one prediction scratch a job; the windows split among at most 8 jobs
     * (a stretch has ~20), whatever the threads */
    d->pred_jobs = fm_pool_threads(acc->pool) < 8 ? fm_pool_threads(acc->pool) : 8;
    d->pred = malloc(sizeof(float) * FM_SLOTS * FM_CELLS * (size_t)d->pred_jobs);
    d->resid = fm_big_alloc(RESID_BYTES);
    d->resid_w0 = d->resid_w1 = -1;
    d->weigh_lanes = malloc(sizeof(float) * FM_SLOTS * FM_CELLS);
    if (!d->groups || !d->cgroups || !d->genergy || !d->corr || !d->energy ||
        !d->pred || !d->resid || !d->weigh_lanes) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory in the detector");
        goto end;
    }
    fm_pattern_keys_init(&d->pk, key->wm_key);
    /* the key's pilot tables: prepared by the tool, or made here on the
     * accumulator's threads */
    if (!(d->tables = fm_pilot_tables_acquire(key->wm_key, acc->pool))) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory in the detector");
        goto end;
    }
    d->pilots = d->tables->pilots;
    d->pilot_index = &d->tables->index;
    fm_tag_key_init(&d->tk, key->wm_key);
    fm_format_mask_signs(FM_MARK_FORMAT_TAGGED, d->mask_sign);
    d->prev_cells = malloc(sizeof(FmTagCells) * FM_BIND_ANCHORS);
    if (!d->prev_cells) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory in the detector");
        goto end;
    }
    set_anchors(d, acc->gw, acc->gh, 0, 0);

    /* 1. the picture as marked, at any uniform scale: no geometry search; the
     * grid's first cell is the mark's */
    set_cells(d, acc->cells, 0, 0);
    for (int w = 0; w < acc->nwin; w++)
        v[w] = acc->win[w].frames ? acc->win[w].slots : NULL;
    d->v = v;
    d->nwin = acc->nwin;
    res->geometry = (FmGeometry){ .scale_x = 1, .scale_y = 1 };
    /* (a twin's nominal grid is the clip's: read there already) */
    if (!searched_only && (ret = analyse_windows(d, keys, 1, expected, res, trace, err)) < 0)
        goto end;

    /* 1b. a mark written before format 7 (every cell the same tile, pattern.h)
     * is read as such when the cells do not verify but this key's periodic
     * sync layer is plainly there; taken only with a valid signature, its
     * hypotheses counting both readings */
    if (!searched_only && !res->signature_valid && nominal_sync_z(d) >= LEGACY_SYNC_Z) {
        FmDetectResult lr = { .geometry = res->geometry };
        FmEvidence *keep = d->ev;
        d->ev = NULL;
        fm_cell_view_init_plain(&d->cv, acc->cells);
        ret = analyse_windows(d, keys, 2, expected, &lr, NULL, err);
        d->ev = keep;
        if (ret >= 0 && lr.signature_valid) {
            FmGeometry g = res->geometry;
            fm_evidence_free(ev);
            memset(res, 0, sizeof(*res));
            res->geometry = g;
            ret = analyse_windows(d, keys, 2, expected, res, trace, err);
        }
        sodium_memzero(&lr, sizeof(lr));
        set_cells(d, acc->cells, 0, 0);
        if (ret < 0)
            goto end;
    }

    /* 2. otherwise search crops, boxes, uneven scales and flips on the sync
     * layer, then read the epochs of the windows under the geometry found;
     * also when the first read verified only weakly: a turned copy can
     * verify on the nominal grid at a poor p (storm turned 1 degree, with
     * one key: pilot z 4.8, 23 % raw errors) where the searched map reads
     * far stronger. A searched read replaces it only with a stronger pilot;
     * one kept has the searches' hypotheses counted in its p. */
    if (!res->signature_valid || weak_read(res)) {
        FmAlignment al, alw;
        int nominal_weak = res->signature_valid;
        fm_sync_values(&d->pk, values);
        fm_tile_render(values, sync_tile);
        if ((ret = fm_geometry_search(acc, sync_tile, &al, err)) < 0) {
            if (ret == FM_ENOMEM)
                goto end;
            ret = 0;  /* clip too small for the search: keep the first answer */
        } else if ((ret = read_searched(d, &al, keys, expected, res, ev, trace, &gtrace, vg, tile,
                                        0, NULL, err)) < 0) {
            goto end;
        } else {
            /* a nominal read kept over the searched ones counts them */
            if (nominal_weak && !res->geometry.searched)
                count_hypotheses(res, 1 + ((double)al.hypotheses + 1) * CELL_READS);
            /* a crop scaled back up whose period the autocorrelation lost:
             * square steps from the nominal grid's to twice it, read only
             * after the alignment above (their many candidates can let
             * noise outrank a weak true alignment); a reading is taken as
             * the search's are, over a weak one only with a higher pilot
             * z; every later search counts these hypotheses too */
            double uniform_hyp = al.hypotheses;
            if (!res->signature_valid || weak_read(res)) {
                FmAlignment alz;
                int taken = 0;
                if ((ret = fm_geometry_search_zoom(acc, sync_tile, al.hypotheses, &alz, err)) ==
                    0) {
                    ret = read_searched(d, &alz, keys, expected, res, ev, trace, &gtrace, vg,
                                        tile, 0, &taken, err);
                    uniform_hyp = alz.hypotheses;
                    /* a read kept was chosen over this search too */
                    if (ret >= 0 && !taken)
                        count_hypotheses(res, (alz.hypotheses + 1) / (al.hypotheses + 1));
                }
                if (ret == FM_ENOTFOUND)
                    ret = 0;
                else if (ret < 0)
                    goto end;
            }
            if (!res->signature_valid || weak_read(res)) {
                /* a crop squeezed or stretched to another shape (4:3 cut 5 %
                 * a side, then 1280x720): after the square zoom, so that
                 * every copy the searches above read strongly keeps its
                 * reading and its p; its hypotheses count theirs, and a
                 * read kept over it counts its too (16:9 cut and
                 * stretched to 960x720 verified at pilot z 4.0 on a step 5 %
                 * off; read here at the right one). Before the perspective
                 * search, whose every possible map counts in what follows
                 * it (~10^18.7 more hypotheses) */
                FmAlignment ala;
                int taken = 0;
                if ((ret = fm_geometry_search_zoom_anamorphic(acc, sync_tile, uniform_hyp, &ala,
                                                              err)) == 0) {
                    ret = read_searched(d, &ala, keys, expected, res, ev, trace, &gtrace, vg,
                                        tile, 0, &taken, err);
                    /* a read kept was chosen over this search too */
                    if (ret >= 0 && !taken)
                        count_hypotheses(res, (ala.hypotheses + 1) / (uniform_hyp + 1));
                    uniform_hyp = ala.hypotheses;
                }
                if (ret == FM_ENOTFOUND)
                    ret = 0;
                else if (ret < 0)
                    goto end;
            }
            if (!res->signature_valid || weak_read(res)) {
                /* a picture seen in perspective (on a twin too: a small
                 * clip's camcorder copy the clip's own grid did not align
                 * verified on the twin's, vtest 32.1 -> 14.7 %): taken
                 * only with a valid signature (its hypotheses count both
                 * searches), over a
                 * uniform read that verified only weakly only with a
                 * stronger pilot: a turned copy can verify on a wrong
                 * uniform alignment whose few fitting cells the cell
                 * weights keep (dune turned 1 degree: 23 % raw errors at
                 * pilot z 5.3 that way, 0.1 % at z 56 in perspective) */
                int weak = res->signature_valid, taken = 0;
                if ((ret = fm_geometry_search_warp(acc, sync_tile, uniform_hyp, &alw, err)) ==
                    0) {
                    ret = read_searched(d, &alw, keys, expected, res, ev, trace, &gtrace, vg,
                                        tile, 1, &taken, err);
                    /* a uniform read kept was chosen over every search
                     * (alw's hypotheses count the uniform ones) */
                    if (ret >= 0 && weak && !taken)
                        count_hypotheses(res, (alw.hypotheses + 1) / (uniform_hyp + 1));
                }
                if (ret == FM_ENOTFOUND)
                    ret = 0;
                else if (ret < 0)
                    goto end;
            }
        }
    }
    res->frames_read = acc->frames;
end:
    free(gtrace.points);
    if (vg)
        for (int w = 0; w < FM_FINE_WINDOWS; w++)
            free(vg[w]);
    free(vg);
    free(v);
    if (d) {
        fm_pattern_keys_wipe(&d->pk);
        fm_pilot_tables_release(d->tables);
        free(d->groups);
        fm_big_free(d->cgroups, CGROUPS_BYTES, 0);
        free(d->genergy);
        free(d->corr);
        free(d->energy);
        free(d->pred);
        free(d->weigh_lanes);
        fm_big_free(d->resid, RESID_BYTES, 0);
        free(d->wcells);
        free(d->prev_cells);
        fm_tag_key_wipe(&d->tk);
        sodium_memzero(&d->map, sizeof(d->map));
        free(d);
    }
    free(tile);
    if (sync_tile)
        sodium_memzero(sync_tile, sizeof(float) * FM_TILE * FM_TILE);
    free(sync_tile);
    free(values);
    return ret;
}

/* A later reading (from, its evidence and trace) taken as the result: ev
 * and trace (either may be NULL) are replaced by its, from_ev left empty. */
static void take_reading(FmDetectResult *res, FmEvidence *ev, FmStrengthTrace *trace,
                         const FmDetectResult *from, FmEvidence *from_ev,
                         const FmStrengthTrace *from_trace)
{
    *res = *from;
    if (ev) {
        fm_evidence_free(ev);
        *ev = *from_ev;
        memset(from_ev, 0, sizeof(*from_ev));
    }
    if (trace) {
        if (from_trace->n)
            memcpy(trace->points, from_trace->points,
                   sizeof(FmStrengthPoint) * (size_t)from_trace->n);
        trace->n = from_trace->n;
        trace->truncated = from_trace->truncated;
    }
}

/*
 * The detection, and when it finds the mark (p <= FM_FALSE_ALARM_THRESHOLD)
 * but no listed message verifies, the whole detection again with the deep
 * list (msgcode.h) in every read of a detected mark: a last resort, so
 * that a copy some read verifies with the list of 32 (a geometry search's,
 * or the epochs' own signs) is read as before, and only a copy that none
 * verifies pays for the long list. The second pass's result, evidence and
 * trace are taken only if its signature verifies; otherwise the first's
 * stand, with list_length saying the deep list was tried. The second
 * pass takes the first's epoch searches from their memo (StretchMemo):
 * what it adds is the geometry searches again and the longer lists.
 */
static int detect_clip(const FmAccumulator *acc, const FmKey *key, int keys_tried,
                       const uint8_t *expected, int searched_only, FmDetectResult *res,
                       FmEvidence *ev, FmStrengthTrace *trace, FmError *err)
{
    struct FmSearchMemo memo = { 0 };
    int ret = detect_pass(acc, key, keys_tried, expected, 0, searched_only, &memo, res, ev, trace,
                          err);
    if (ret < 0 || !res->found || res->signature_valid) {
        free(memo.e);
        return ret;
    }
    FmDetectResult deep;
    FmEvidence dev = { 0 };
    FmStrengthTrace dtrace = { 0 };
    if (trace && trace->cap > 0) {
        dtrace.cap = trace->cap;
        if (!(dtrace.points = malloc(sizeof(FmStrengthPoint) * (size_t)trace->cap))) {
            free(memo.e);
            return ret;  /* no room for a second pass: the first's answer */
        }
    }
    /* an error here (out of memory) leaves the first pass's answer */
    FmError derr = { { 0 } };
    int dret = detect_pass(acc, key, keys_tried, expected, 1, searched_only, &memo, &deep,
                           ev ? &dev : NULL, trace ? &dtrace : NULL, &derr);
    free(memo.e);
    if (dret >= 0 && deep.signature_valid) {
        take_reading(res, ev, trace, &deep, &dev, &dtrace);
    } else if (dret >= 0) {
        res->list_length = FM_MSGCODE_LIST_DEEP;  /* tried */
    }
    fm_evidence_free(&dev);
    free(dtrace.points);
    sodium_memzero(&deep, sizeof(deep));
    return ret;
}

/*
 * The clip's own detection (detect_clip), and when its signature does not
 * verify, the same on the accumulator's twin (fm_accumulator_search_insets:
 * a fine grid of the mark's resolution on a small clip, where a picture in
 * picture is found), taken only if its signature verifies, with the first
 * detection's hypotheses counted in its p. Only a copy the clip's own
 * reading does not verify pays for the twin's, and every copy it verifies
 * reads as before.
 */
int fm_detect_trace(const FmAccumulator *acc, const FmKey *key, int keys_tried,
                    const uint8_t *expected, FmDetectResult *res, FmEvidence *ev,
                    FmStrengthTrace *trace, FmError *err)
{
    int ret = detect_clip(acc, key, keys_tried, expected, 0, res, ev, trace, err);
    if (ret < 0 || res->signature_valid || !acc->twin || !acc->twin->frames)
        return ret;
    FmDetectResult tw;
    FmEvidence tev = { 0 };
    FmStrengthTrace ttrace = { 0 };
    if (trace && trace->cap > 0) {
        ttrace.cap = trace->cap;
        if (!(ttrace.points = malloc(sizeof(FmStrengthPoint) * (size_t)trace->cap)))
            return ret;   /* no room for the twin's reading: the clip's answer */
    }
    FmError terr = { { 0 } };
    int tret = detect_clip(acc->twin, key, keys_tried, expected, 1, &tw, ev ? &tev : NULL,
                           trace ? &ttrace : NULL, &terr);
    if (tret >= 0 && tw.signature_valid) {
        /* chosen over the clip's own reading: its hypotheses count too,
         * at least as many as the twin's (the same searches on a coarser
         * grid; a reading that found nothing may report fewer than it
         * tried) */
        count_hypotheses(&tw, 1 + fmax(1, pow(10, res->hypotheses_log10 - tw.hypotheses_log10)));
        sodium_memzero(res, sizeof(*res));
        take_reading(res, ev, trace, &tw, &tev, &ttrace);
    }
    fm_evidence_free(&tev);
    free(ttrace.points);
    sodium_memzero(&tw, sizeof(tw));
    return ret;
}

int fm_detect_deep_pass(const FmAccumulator *acc, const FmKey *key, int keys_tried,
                        const uint8_t *expected, int after_first, FmDetectResult *res,
                        FmError *err)
{
    struct FmSearchMemo memo = { 0 };
    int ret = 0;
    if (after_first)
        ret = detect_pass(acc, key, keys_tried, expected, 0, 0, &memo, res, NULL, NULL, err);
    if (ret >= 0)
        ret = detect_pass(acc, key, keys_tried, expected, 1, 0, after_first ? &memo : NULL, res,
                          NULL, NULL, err);
    free(memo.e);
    return ret;
}

int fm_detect_unbound(const FmDetectResult *r, int fingerprint_vouches)
{
    return r->signature_valid && fm_format_binds(r->mark_format) && !r->content_bound &&
           !fingerprint_vouches;
}

int fm_detect_crop_explains(const FmDetectResult *r, double clip_aspect, double issued_aspect)
{
    int zoomed = r->geometry.scale_x >= FM_CROP_SCALE || r->geometry.scale_y >= FM_CROP_SCALE;
    int shrunk = r->geometry.scale_x > 0 && r->geometry.scale_x <= 1 / FM_CROP_SCALE &&
                 r->geometry.scale_y > 0 && r->geometry.scale_y <= 1 / FM_CROP_SCALE;
    int reshaped = clip_aspect > 0 && issued_aspect > 0 &&
                   fabs(clip_aspect / issued_aspect - 1) > FM_CROP_ASPECT;
    return !r->content_mismatch && (zoomed || shrunk || reshaped);
}
