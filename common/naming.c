#include "naming.h"

#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "content_tag.h"
#include "msgcode.h"
#include "pattern.h"

/* The signature's bits in the message (MSB first): bytes 14..77. */
#define SIG_FIRST (FM_PAYLOAD_BYTES * 8)                 /* 112 */
/* Ed25519's S is little-endian and below 2^253 (in fact below the group
 * order, ~2^252): the top nibble of its last byte is always 0, the same in
 * every signature, so those bits are not independent between messages. */
#define SIG_ZERO_FIRST ((FM_MESSAGE_BYTES - 1) * 8)      /* 616 */
#define SIG_ZERO_LAST (SIG_ZERO_FIRST + 3)               /* 619 */

/* Ratio of data to pilot-predicted energy below which the evidence is taken
 * for several marks (one mark: ~1; two averaged: ~0.5). */
#define SUPERIMPOSED_RATIO 0.75
/* ... and by how many standard errors it must be below that. */
#define SUPERIMPOSED_SE 3.0

static int random_bit(int j)
{
    return j >= SIG_FIRST && j < (int)FM_MESSAGE_BITS && (j < (int)SIG_ZERO_FIRST || j > (int)SIG_ZERO_LAST);
}

/* The mask is the same for every key and message: made once. */
static pthread_once_t mask_once = PTHREAD_ONCE_INIT;
static uint8_t the_mask[FM_CODED_BITS];
static int the_mask_count = -1;

/* Which random message bits each coded bit depends on (a bit vector of
 * FM_MESSAGE_BITS per coded bit), for build_mask's sort. */
#define DEP_BYTES ((FM_MESSAGE_BITS + 7) / 8)
static const uint8_t *dep_vectors;

static int by_dependence(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    int c = memcmp(dep_vectors + (size_t)i * DEP_BYTES, dep_vectors + (size_t)j * DEP_BYTES,
                   DEP_BYTES);
    return c ? c : (i > j) - (i < j);
}

static void build_mask(void)
{
    /* The code is linear: coded bit i depends on message bit j when coding
     * the message with only bit j set gives bit i set. Between the issued
     * message and an innocent's, coded bit i differs by the XOR of the
     * random bits it depends on (and of shared bits): uniform when that set
     * is not empty. Two coded bits that depend on the same set of random
     * bits differ together, so only the first of each set is scored: the
     * innocents' differences are then pairwise independent, and their
     * score has variance 1. */
    uint8_t bits[FM_MESSAGE_BITS], coded[FM_CODED_BITS];
    uint8_t *dep = calloc(FM_CODED_BITS, DEP_BYTES);
    int *order = malloc(sizeof(int) * FM_CODED_BITS);
    if (!dep || !order)
        goto end;
    for (int j = 0; j < (int)FM_MESSAGE_BITS; j++) {
        if (!random_bit(j))
            continue;
        memset(bits, 0, sizeof(bits));
        bits[j] = 1;
        if (fm_msgcode_encode(bits, coded) < 0)
            goto end;
        for (int i = 0; i < FM_CODED_BITS; i++)
            if (coded[i])
                dep[(size_t)i * DEP_BYTES + j / 8] |= (uint8_t)(1u << (j % 8));
    }
    static const uint8_t zero[DEP_BYTES];
    int n = 0;
    for (int i = 0; i < FM_CODED_BITS; i++)
        order[i] = i;
    dep_vectors = dep;
    qsort(order, FM_CODED_BITS, sizeof(int), by_dependence);
    dep_vectors = NULL;
    memset(the_mask, 0, sizeof(the_mask));
    for (int o = 0; o < FM_CODED_BITS; o++) {
        const uint8_t *v = dep + (size_t)order[o] * DEP_BYTES;
        if (!memcmp(v, zero, DEP_BYTES) ||
            (o > 0 && !memcmp(v, dep + (size_t)order[o - 1] * DEP_BYTES, DEP_BYTES)))
            continue;
        the_mask[order[o]] = 1;
        n++;
    }
    the_mask_count = n;
end:
    free(dep);
    free(order);
}

int fm_naming_mask(uint8_t mask[FM_CODED_BITS])
{
    pthread_once(&mask_once, build_mask);
    if (the_mask_count < 0)
        return FM_ENOMEM;
    memcpy(mask, the_mask, sizeof(the_mask));
    return the_mask_count;
}

/* The formats naming knows, in FmCandidateScore.z_clip_format order: an
 * issued message's deliverable may have been written by this version or by
 * an older one whose codeword had another public mask. */
static const int naming_formats[FM_NAMING_FORMATS] = { FM_MARK_FORMAT_TAGGED,
                                                       FM_MARK_FORMAT_TAG_V6,
                                                       FM_MARK_FORMAT_TAG_V5,
                                                       FM_MARK_FORMAT_TAG_V4 };

/* The index of a recorded format in naming_formats, or -1 (unknown). */
static int format_slot(int mark_format)
{
    for (int f = 0; f < FM_NAMING_FORMATS; f++)
        if (naming_formats[f] == mark_format)
            return f;
    return -1;
}

int fm_naming_masks(int mark_format)
{
    return format_slot(mark_format) >= 0 ? 1 : FM_NAMING_FORMATS;
}

/* Share of the false-alarm budget spent on the main statistics (the whole
 * clip, and each stretch): the epoch search's runners-up get the rest. */
#define MAIN_SHARE 0.9

/* log10 of min(1, h x Q(z)). */
static double corrected_log10(double z, double h)
{
    double lp = fm_gauss_tail_log10(z) + log10(h);
    return lp > 0 ? 0 : lp;
}

void fm_mark_consistency(const FmEvidence *ev, const FmDetectResult *blind,
                         FmMarkConsistency *out)
{
    memset(out, 0, sizeof(*out));
    uint8_t mask[FM_CODED_BITS];
    if (fm_naming_mask(mask) < 0)
        return;
    /* Over the signature's coded bits: E[y^2] = mean^2 + noise. For one
     * mark, the mean is the amplitude the pilots show (mark[]); k copies
     * with independent signatures averaged leave (sum of k signs / k) x
     * that, 1/k in energy on average. The pilot estimate's own noise is
     * taken out by using the product of two independent half-pilot
     * estimates (unbiased for mark^2). */
    double num = 0, den = 0, var_num = 0;
    for (int i = 0; i < FM_CODED_BITS; i++) {
        if (!mask[i])
            continue;
        double y = ev->soft[i], v = ev->noise[i], m = ev->mark[i];
        num += y * y - v;
        den += (double)ev->mark_half[0][i] * ev->mark_half[1][i];
        var_num += 4 * m * m * v + 2 * v * v;
    }
    if (!(den > 0)) {
        out->ratio = 0;
        out->ratio_se = INFINITY;
    } else {
        out->ratio = num / den;
        /* the denominator's relative error: the pilot's normalised
         * correlation z says how well the amplitude is known (its square
         * doubles the relative error; each half has half the pilots) */
        double rel_den = blind && blind->pilot_z > 1 ? 2 * M_SQRT2 / blind->pilot_z : 1;
        out->ratio_se = sqrt(var_num / (den * den) + out->ratio * out->ratio * rel_den * rel_den);
    }
    if (blind && blind->false_alarm_log10 <= log10(FM_FALSE_ALARM_THRESHOLD) &&
        !blind->signature_valid) {
        out->checked = 1;
        out->superimposed = out->ratio + SUPERIMPOSED_SE * out->ratio_se < SUPERIMPOSED_RATIO;
    }
}

static int by_p(const void *a, const void *b)
{
    const FmCandidateScore *x = a, *y = b;
    if (x->false_alarm_log10 != y->false_alarm_log10)
        return x->false_alarm_log10 < y->false_alarm_log10 ? -1 : 1;
    if (x->z != y->z)
        return x->z < y->z ? 1 : -1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Normalised correlation of one codeword (+1/-1 on the mask's bits, packed
 * as signs) with weighted evidence wy (0 off the mask), norm = |wy|. */
static double correlate(const int8_t *cw, const float *wy, double norm)
{
    double s = 0;
    for (int i = 0; i < FM_CODED_BITS; i++)
        s += cw[i] * wy[i];
    return norm > 0 ? s / norm : 0;
}

int fm_name_candidates(const FmEvidence *ev, const FmDetectResult *blind,
                       const FmCandidate *cands, size_t n, size_t family, FmNamingResult *out,
                       FmError *err)
{
    memset(out, 0, sizeof(*out));
    out->blind_index = -1;
    if (n > 0 && !cands)
        return fm_error_set(err, FM_EINVAL, "no candidates given");
    fm_mark_consistency(ev, blind, &out->consistency);
    if (n == 0)
        return 0;

    uint8_t mask[FM_CODED_BITS], bits[FM_MESSAGE_BITS], coded[FM_CODED_BITS];
    if (fm_naming_mask(mask) < 0)
        return fm_error_set(err, FM_ENOMEM, "out of memory building the code");
    /* with several stretches, each is also scored alone (a splice of long
     * stretches from different copies): 1 + nstretch statistics a candidate */
    int nsub = ev->nstretch > 1 ? ev->nstretch : 0, nalt = ev->alt_soft ? ev->nalt : 0;
    int nstat = 1 + nsub + nalt;
    int8_t *cw = malloc(FM_CODED_BITS);
    float *wy = malloc(sizeof(float) * FM_CODED_BITS * (size_t)nstat);
    double *norm = malloc(sizeof(double) * (size_t)nstat);
    out->scores = calloc(n, sizeof(*out->scores));
    if (!cw || !wy || !norm || !out->scores) {
        free(cw);
        free(wy);
        free(norm);
        fm_naming_result_free(out);
        return fm_error_set(err, FM_ENOMEM, "out of memory naming candidates");
    }

    /* Weights: each coded bit's evidence times its mark-to-noise ratio
     * (the likelihood weighting of a bit whose mean is mark[] and whose
     * variance is noise[]). Any weights that do not depend on the
     * candidate keep the innocent's statistic at mean 0, variance 1. */
    for (int s = 0; s < nstat; s++) {
        const float *y = s == 0      ? ev->soft
                         : s <= nsub ? ev->stretch_soft + (size_t)(s - 1) * FM_CODED_BITS
                                     : ev->alt_soft + (size_t)(s - 1 - nsub) * FM_CODED_BITS;
        float *w = wy + (size_t)s * FM_CODED_BITS;
        double q = 0;
        for (int i = 0; i < FM_CODED_BITS; i++) {
            double r = ev->noise[i] > 0 && ev->mark[i] > 0 ? ev->mark[i] / ev->noise[i] : 1;
            w[i] = mask[i] ? (float)(y[i] * r) : 0;
            q += (double)w[i] * w[i];
        }
        norm[s] = sqrt(q);
    }

    /* A candidate whose deliverable's format is recorded is scored under
     * that format's codeword mask; one of unknown format under each of
     * naming_formats' (formats 5 and 4: filmmark 0.5 and 0.4). Each
     * (candidate, mask) pair scored is one hypothesis, and only those count.
     * The evidence is in the current format's signs. */
    enum { NFORMATS = FM_NAMING_FORMATS };
    int8_t flip[NFORMATS][FM_CODED_BITS];
    for (int f = 0; f < NFORMATS; f++) {
        int8_t now[FM_CODED_BITS];
        fm_format_mask_signs(FM_MARK_FORMAT_TAGGED, now);
        fm_format_mask_signs(naming_formats[f], flip[f]);
        for (int i = 0; i < FM_CODED_BITS; i++)
            flip[f][i] = (int8_t)(flip[f][i] * now[i]);
    }

    /* weighted Bonferroni over the (candidate, mask) pairs: each pair's
     * main statistics share MAIN_SHARE of its 1/pairs of the false-alarm
     * budget, its runners-up the rest */
    double pairs = 0;
    for (size_t c = 0; c < n; c++)
        pairs += fm_naming_masks(cands[c].mark_format);
    double nf = (double)family > pairs ? (double)family : pairs;
    double h_main = nf * (1 + nsub) / MAIN_SHARE, h_alt = nf * (nalt ? nalt : 1) / (1 - MAIN_SHARE);
    out->tested = n;
    out->masks = (long)pairs;
    out->hypotheses = (long)fmin(nf * nstat, 9e18);
    for (size_t c = 0; c < n; c++) {
        fm_bytes_to_bits(cands[c].message, FM_MESSAGE_BYTES, bits);
        if (fm_msgcode_encode(bits, coded) < 0)
            break; /* cannot happen: the mask above built the code */
        FmCandidateScore *sc = &out->scores[c];
        sc->index = c;
        int only = format_slot(cands[c].mark_format), scored = 0;
        for (int f = 0; f < NFORMATS; f++)
            sc->z_clip_format[f] = NAN;
        for (int f = 0; f < NFORMATS; f++) {
            if (only >= 0 && f != only)
                continue;
            for (int i = 0; i < FM_CODED_BITS; i++)
                cw[i] = (int8_t)((coded[i] ? 1 : -1) * flip[f][i]);
            FmCandidateScore t = { .index = c, .stretch = -1, .alternative = -1,
                                   .mark_format = naming_formats[f] };
            t.z = t.z_clip = sc->z_clip_format[f] = correlate(cw, wy, norm[0]);
            t.false_alarm_log10 = corrected_log10(t.z, h_main);
            for (int s = 1; s < nstat; s++) {
                double z = correlate(cw, wy + (size_t)s * FM_CODED_BITS, norm[s]);
                double lp = corrected_log10(z, s <= nsub ? h_main : h_alt);
                if (lp < t.false_alarm_log10 || (lp == t.false_alarm_log10 && z > t.z)) {
                    t.z = z;
                    t.false_alarm_log10 = lp;
                    t.stretch = s <= nsub ? s - 1 : -1;
                    t.alternative = s <= nsub ? -1 : s - 1 - nsub;
                }
            }
            if (!scored++ || t.false_alarm_log10 < sc->false_alarm_log10 ||
                (t.false_alarm_log10 == sc->false_alarm_log10 && t.z > sc->z)) {
                memcpy(t.z_clip_format, sc->z_clip_format, sizeof(t.z_clip_format));
                *sc = t;
            }
        }
        sc->masks = scored;
        sc->named = sc->false_alarm_log10 <= log10(FM_NAMING_THRESHOLD);
        if (blind && blind->signature_valid &&
            sodium_memcmp(blind->message, cands[c].message, FM_MESSAGE_BYTES) == 0)
            out->blind_index = (long)c;
    }
    qsort(out->scores, n, sizeof(*out->scores), by_p);
    for (size_t c = 0; c < n; c++) {
        out->scores[c].margin_log10 = c + 1 < n ? out->scores[c + 1].false_alarm_log10 -
                                                      out->scores[c].false_alarm_log10
                                                : 0;
        if (out->scores[c].named)
            out->named = c + 1;
    }
    out->margin_log10 = out->scores[0].margin_log10;

    sodium_memzero(bits, sizeof(bits));
    sodium_memzero(coded, sizeof(coded));
    sodium_memzero(cw, FM_CODED_BITS);
    sodium_memzero(wy, sizeof(float) * FM_CODED_BITS * (size_t)nstat);
    free(cw);
    free(wy);
    free(norm);
    return 0;
}

void fm_naming_result_free(FmNamingResult *r)
{
    if (!r)
        return;
    free(r->scores);
    memset(r, 0, sizeof(*r));
    r->blind_index = -1;
}
