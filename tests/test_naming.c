/*
 * test_naming.c - naming the leaker among issued messages (issue 9 §3-4,
 * issue 12 "--receipt implicates innocents"), on synthetic luma planes:
 *   1. informed detection names the right one of 1000 issued messages of one
 *      title (shared version, title, policy, issue minutes within one day,
 *      recipient ids 1..1000) from a short clip too noisy for blind decoding,
 *      and names none on an unmarked clip;
 *   2. the innocents of the same title score like N(0,1) next to the real
 *      leaker's mark, over several keys, and never reach the threshold,
 *      while the plain full-codeword correlation (what a receipt's z was)
 *      is biased towards them;
 *   3. two recipients' copies averaged: a colluder is named, no innocent is,
 *      and without candidates the evidence reads as several marks.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accumulator.h"
#include "content_tag.h"
#include "detector.h"
#include "embedder.h"
#include "fec.h"
#include "naming.h"
#include "payload.h"
#include "testutil.h"

#define W 320
#define H 240
#define FPS 24.0
#define NCAND 1000
#define TITLE 0x5C12EE4u
#define DAY0 29400000u   /* minutes: 2025-11-24 */

typedef struct Issued {
    FmKey *key;
    FmCandidate cand[NCAND];
} Issued;

static void issue(Issued *is, uint32_t key_seed)
{
    FmError err = { { 0 } };
    is->key = fm_key_new();
    cr_assert(is->key);
    tu_fixed_key(is->key, key_seed);
    TuRng rng;
    tu_rng_seed(&rng, key_seed * 7919u + 1);
    for (int i = 0; i < NCAND; i++) {
        FmPayload p = { .version = FM_PAYLOAD_VERSION, .title_id = TITLE,
                        .recipient_id = (uint32_t)i + 1,
                        .issued_minutes = DAY0 + tu_rng_below(&rng, 1440),
                        .ai_use = FM_AI_USE_RESERVED };
        cr_assert_eq(fm_payload_sign(&p, is->key, is->cand[i].message, &err), 0, "%s", err.msg);
        is->cand[i].label = NULL;
        is->cand[i].mark_format = 0;   /* unknown: every mask (as before schema 3) */
    }
}

static void unissue(Issued *is)
{
    fm_key_free(&is->key);
}

static void setup(void)
{
    FmError err = { { 0 } };
    cr_assert_eq(fm_init(&err), 0, "%s", err.msg);
}

TestSuite(naming, .init = setup, .timeout = 300);

/*
 * A clip of n frames at FPS (master time t0 + i / FPS), the mix of the
 * copies marked for the given recipients (indices into is->cand): "avg"
 * averages them per pixel; one recipient is a plain copy. Then Gaussian
 * noise of the given sigma (levels) is added, and the planes accumulated
 * and detected with the issuing key.
 */
static FmDetectResult detect_mix_alt(const Issued *is, const int *who, int nwho, double t0,
                                     int n, uint64_t content, double noise, double alt,
                                     FmEvidence *ev)
{
    FmError err = { { 0 } };
    FmEmbedder *emb[3] = { 0 };
    for (int c = 0; c < nwho; c++)
        cr_assert_eq(fm_embedder_new(&emb[c], is->key->wm_key, is->cand[who[c]].message, W, H,
                                     FM_DEFAULT_STRENGTH, &err), 0, "%s", err.msg);
    if (getenv("NAMING_PLAIN"))
        for (int c = 0; c < nwho; c++)
            fm_embedder_set_informed(emb[c], 0);
    uint8_t *orig = malloc(W * H), *copy = malloc(W * H), *out = malloc(W * H);
    float *sum = malloc(sizeof(float) * W * H);
    cr_assert(orig && copy && out && sum);
    FmAccumulator acc;
    cr_assert_eq(fm_accumulator_init(&acc, W, H, &err), 0, "%s", err.msg);
    TuRng rng;
    tu_rng_seed(&rng, content ^ 0xABCDEFu);
    for (int i = 0; i < n; i++) {
        double t = t0 + i / FPS;
        tu_synth_luma(orig, W, W, H, 8, TU_SYNTH_TEXTURED, content, (int)lround(t * FPS));
        for (int k = 0; k < W * H; k++)
            sum[k] = nwho ? 0 : orig[k];
        /* alternating segments: only the copy of this segment */
        int only = alt > 0 ? (int)floor(i / FPS / alt) % nwho : -1, used = 0;
        for (int c = 0; c < nwho; c++) {
            if (only >= 0 && c != only)
                continue;
            memcpy(copy, orig, W * H);
            cr_assert_eq(fm_embedder_mark(emb[c], copy, W, 8, t, NULL, &err), 0, "%s", err.msg);
            for (int k = 0; k < W * H; k++)
                sum[k] += copy[k];
            used++;
        }
        for (int k = 0; k < W * H; k++) {
            double v = sum[k] / (used ? used : 1) + noise * tu_rng_gauss(&rng);
            out[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
        }
        cr_assert_eq(fm_accumulator_add(&acc, out, W, 8, i / FPS, &err), 0, "%s", err.msg);
    }
    FmDetectResult r;
    cr_assert_eq(fm_detect_ex(&acc, is->key, 1, NULL, &r, ev, &err), 0, "%s", err.msg);
    fm_accumulator_free(&acc);
    for (int c = 0; c < nwho; c++)
        fm_embedder_free(&emb[c]);
    free(orig);
    free(copy);
    free(out);
    free(sum);
    return r;
}

static FmDetectResult detect_mix(const Issued *is, const int *who, int nwho, double t0, int n,
                                 uint64_t content, double noise, FmEvidence *ev)
{
    return detect_mix_alt(is, who, nwho, t0, n, content, noise, 0, ev);
}

static int is_one_of(size_t idx, const int *who, int nwho)
{
    for (int c = 0; c < nwho; c++)
        if ((size_t)who[c] == idx)
            return 1;
    return 0;
}

/* Names from the evidence; checks no innocent is named; returns how many of
 * `who` are. */
static int name_and_check(const Issued *is, const FmEvidence *ev, const FmDetectResult *r,
                          const int *who, int nwho, FmNamingResult *nr, const char *what)
{
    FmError err = { { 0 } };
    cr_assert_eq(fm_name_candidates(ev, r, is->cand, NCAND, 0, nr, &err), 0, "%s", err.msg);
    cr_assert_eq(nr->tested, NCAND);
    int guilty = 0;
    for (size_t i = 0; i < nr->named; i++) {
        cr_assert(is_one_of(nr->scores[i].index, who, nwho),
                  "%s: innocent recipient %zu named (z %.2f, log10 p %.1f)", what,
                  nr->scores[i].index + 1, nr->scores[i].z, nr->scores[i].false_alarm_log10);
        guilty++;
    }
    /* the best innocent */
    double best_innocent = -INFINITY;
    for (size_t i = 0; i < nr->tested; i++)
        if (!is_one_of(nr->scores[i].index, who, nwho)) {
            best_innocent = nr->scores[i].z;
            break;
        }
    cr_log_info("%s: pilot z %.1f, signature %s, raw BER %.1f%%; named %zu (top z %.2f, log10 p "
                "%.1f, margin %.1f decades); best innocent z %.2f; consistency ratio %.2f +- %.2f%s",
                what, r->pilot_z, r->signature_valid ? "verifies" : "does not verify",
                100 * r->raw_ber, nr->named, nr->scores[0].z, nr->scores[0].false_alarm_log10,
                nr->margin_log10, best_innocent, nr->consistency.ratio, nr->consistency.ratio_se,
                nr->consistency.superimposed ? " (several marks)" : "");
    return guilty;
}

Test(naming, names_the_recipient_of_a_short_noisy_clip_among_1000)
{
    Issued is;
    issue(&is, 901);
    int who = 436;    /* recipient 437 */
    FmEvidence ev = { 0 };
    /* 3 s, noise strong enough that the blind decode fails */
    FmDetectResult r = detect_mix(&is, &who, 1, 61.3, 72, 11, 60, &ev);
    FmNamingResult nr;
    int guilty = name_and_check(&is, &ev, &r, &who, 1, &nr, "3 s, noise 60");
    cr_assert(!r.signature_valid, "the clip is not degraded enough to need the candidates");
    cr_assert_eq(guilty, 1, "recipient 437 is not named");
    cr_assert_eq(nr.scores[0].index, (size_t)who);
    cr_assert_eq(nr.named, 1);
    cr_assert_lt(nr.scores[0].false_alarm_log10, -9);
    /* format 3 measured 55 decades here, format 4 45: the tag takes the 256
     * slots that repeated coded bits (8 % of the naming z) */
    cr_assert_gt(nr.margin_log10, 40);
    cr_assert(!nr.consistency.superimposed, "one mark read as several");
    fm_naming_result_free(&nr);

    /* the same clip, cleaner: the blind decode verifies and is the same one */
    FmDetectResult r2 = detect_mix(&is, &who, 1, 61.3, 72, 11, 0, &ev);
    cr_assert(r2.signature_valid);
    guilty = name_and_check(&is, &ev, &r2, &who, 1, &nr, "3 s, clean");
    cr_assert_eq(guilty, 1);
    cr_assert_eq(nr.blind_index, who);
    fm_naming_result_free(&nr);
    fm_evidence_free(&ev);
    unissue(&is);
}

Test(naming, names_nobody_on_an_unmarked_clip)
{
    Issued is;
    issue(&is, 902);
    FmEvidence ev = { 0 };
    for (int k = 0; k < 3; k++) {
        FmDetectResult r = detect_mix(&is, NULL, 0, 0, 72, 20 + (uint64_t)k, 2, &ev);
        FmNamingResult nr;
        name_and_check(&is, &ev, &r, NULL, 0, &nr, "unmarked");
        cr_assert_eq(nr.named, 0);
        cr_assert_gt(nr.scores[0].false_alarm_log10, -6);
        cr_assert(!nr.consistency.checked, "no mark, nothing to check");
        fm_naming_result_free(&nr);
    }
    fm_evidence_free(&ev);
    unissue(&is);
}

/* The full codeword's correlation with the evidence (what a receipt's z
 * was): biased towards the innocents of the leaker's title. */
static double full_codeword_z(const FmEvidence *ev, const uint8_t *message)
{
    uint8_t bits[FM_MESSAGE_BITS], coded[FM_CODED_BITS];
    fm_bytes_to_bits(message, FM_MESSAGE_BYTES, bits);
    cr_assert_eq(fm_msgcode_encode(bits, coded), 0);
    double s = 0, q = 0;
    for (int i = 0; i < FM_CODED_BITS; i++) {
        s += (coded[i] ? 1 : -1) * ev->soft[i];
        q += (double)ev->soft[i] * ev->soft[i];
    }
    return s / sqrt(q);
}

Test(naming, innocents_of_the_same_title_score_as_noise)
{
    /* 4 keys x 999 innocents next to the leaker's mark */
    double sum = 0, sum2 = 0, full_sum = 0, full_sum2 = 0, worst = -INFINITY;
    long count = 0, nz = 0;
    for (int k = 0; k < 4; k++) {
        Issued is;
        issue(&is, 910 + (uint32_t)k);
        int who = 100 * k + 17;
        FmEvidence ev = { 0 };
        FmDetectResult r = detect_mix(&is, &who, 1, 10 * k + 3.7, 72, 30 + (uint64_t)k, 8, &ev);
        FmNamingResult nr;
        int guilty = name_and_check(&is, &ev, &r, &who, 1, &nr, "innocents");
        cr_assert_eq(guilty, 1);
        for (size_t i = 0; i < nr.tested; i++) {
            if (nr.scores[i].index == (size_t)who)
                continue;
            cr_assert(!nr.scores[i].named);
            /* each mask's statistic alone (the reported z is the most
             * significant of the three, and counted three times) */
            for (int f = 0; f < FM_NAMING_FORMATS; f++) {
                double z = nr.scores[i].z_clip_format[f];
                sum += z;
                sum2 += z * z;
                worst = z > worst ? z : worst;
                nz++;
            }
            double fz = full_codeword_z(&ev, is.cand[nr.scores[i].index].message);
            full_sum += fz;
            full_sum2 += fz * fz;
            count++;
        }
        fm_naming_result_free(&nr);
        fm_evidence_free(&ev);
        unissue(&is);
    }
    double mean = sum / nz, var = sum2 / nz - mean * mean;
    double full_mean = full_sum / count, full_var = full_sum2 / count - full_mean * full_mean;
    cr_log_info("%ld innocents x %d masks: whole-clip z mean %.3f, variance %.3f, highest %.2f; "
                "full-codeword correlation mean %.2f, variance %.2f", count, FM_NAMING_FORMATS,
                mean, var, worst, full_mean, full_var);
    /* N(0,1): the mean of 3 x 3996 within ~5 standard errors, the variance
     * within ~15 % (the scores of one clip share its evidence) */
    cr_assert_lt(fabs(mean), 0.05);
    cr_assert(var > 0.85 && var < 1.15, "variance %.3f", var);
    cr_assert_lt(worst, 5.0);
    /* the problem being solved is real: the plain correlation with the
     * whole codeword is not N(0,1) for innocents (coded bits that depend on
     * the same few message bits move together and widen it) */
    cr_assert(full_var > 1.3 || fabs(full_mean) > 1.0, "full codeword: mean %.2f, variance %.2f",
              full_mean, full_var);
}

Test(naming, two_colluders_averaged_name_a_colluder_and_no_innocent)
{
    Issued is;
    issue(&is, 920);
    int who[2] = { 211, 786 };
    FmEvidence ev = { 0 };
    FmDetectResult r = detect_mix(&is, who, 2, 124.6, 96, 41, 4, &ev);
    FmNamingResult nr;
    int guilty = name_and_check(&is, &ev, &r, who, 2, &nr, "2 averaged, 4 s");
    cr_assert_geq(guilty, 1, "no colluder named");
    cr_assert(!r.signature_valid || fm_payload_verify(r.message, is.key) == 0);
    if (!r.signature_valid) {
        cr_assert(nr.consistency.checked);
        cr_assert(nr.consistency.superimposed, "ratio %.2f +- %.2f", nr.consistency.ratio,
                  nr.consistency.ratio_se);
    }
    fm_naming_result_free(&nr);
    fm_evidence_free(&ev);
    unissue(&is);
}

Test(naming, spliced_stretches_name_both_recipients_and_no_innocent)
{
    /* 20 s: the first 10 s from one copy, the next 10 s from another, with
     * noise that keeps each stretch's blind decode from verifying */
    Issued is;
    issue(&is, 930);
    int who[2] = { 5, 998 };
    FmEvidence ev = { 0 };
    FmDetectResult r = detect_mix_alt(&is, who, 2, 300.9, 480, 51, 70, 10.0, &ev);
    cr_assert_eq(ev.nstretch, 2, "%d stretches read", ev.nstretch);
    FmNamingResult nr;
    int guilty = name_and_check(&is, &ev, &r, who, 2, &nr, "10-s splice of two copies");
    cr_assert_eq(guilty, 2, "both recipients of the splice should be named");
    for (size_t i = 0; i < nr.named; i++)
        cr_log_info("named %zu: z %.2f, from stretch %d (whole clip z %.2f)",
                    nr.scores[i].index + 1, nr.scores[i].z, nr.scores[i].stretch,
                    nr.scores[i].z_clip);
    fm_naming_result_free(&nr);
    fm_evidence_free(&ev);
    unissue(&is);
}

Test(naming, alternating_seconds_of_two_copies_name_a_colluder_and_no_innocent)
{
    Issued is;
    issue(&is, 940);
    int who[2] = { 300, 301 };
    FmEvidence ev = { 0 };
    FmDetectResult r = detect_mix_alt(&is, who, 2, 17.2, 96, 61, 4, 1.0, &ev);
    FmNamingResult nr;
    int guilty = name_and_check(&is, &ev, &r, who, 2, &nr, "alternating 1-s segments, 4 s");
    cr_assert_geq(guilty, 1, "no colluder named");
    fm_naming_result_free(&nr);
    fm_evidence_free(&ev);
    unissue(&is);
}

/* A deliverable written by filmmark 0.5 (mark format 5: another public mask
 * on the codeword) is named too, and says so; evidence built directly: the
 * format-5 codeword of one issued message, in the detector's (format 6)
 * signs, at an amplitude far too weak for blind decoding, plus noise. */
Test(naming, a_format_5_deliverable_is_named_under_its_own_mask)
{
    Issued is;
    issue(&is, 930);
    const int who = 421;
    uint8_t bits[FM_MESSAGE_BITS], coded[FM_CODED_BITS];
    int8_t s5[FM_CODED_BITS], s6[FM_CODED_BITS];
    fm_bytes_to_bits(is.cand[who].message, FM_MESSAGE_BYTES, bits);
    cr_assert_eq(fm_msgcode_encode(bits, coded), 0);
    fm_format_mask_signs(FM_MARK_FORMAT_TAG_V5, s5);
    fm_format_mask_signs(FM_MARK_FORMAT_TAGGED, s6);
    FmEvidence *ev = calloc(1, sizeof(*ev));
    cr_assert(ev);
    TuRng rng;
    tu_rng_seed(&rng, 4242);
    const double amp = 0.3;
    for (int i = 0; i < FM_CODED_BITS; i++) {
        ev->soft[i] = (float)(amp * (coded[i] ? 1 : -1) * s5[i] * s6[i] + tu_rng_gauss(&rng));
        ev->mark[i] = (float)amp;
        ev->noise[i] = 1;
        ev->mark_half[0][i] = ev->mark_half[1][i] = (float)amp;
    }
    FmNamingResult nr;
    FmError err = { { 0 } };
    cr_assert_eq(fm_name_candidates(ev, NULL, is.cand, NCAND, 0, &nr, &err), 0, "%s", err.msg);
    cr_log_info("format 5 evidence: top %zu (mark format %d), z %.2f, log10 p %.1f; next z %.2f",
                nr.scores[0].index, nr.scores[0].mark_format, nr.scores[0].z,
                nr.scores[0].false_alarm_log10, nr.scores[1].z);
    cr_assert_eq(nr.named, 1);
    cr_assert_eq(nr.scores[0].index, (size_t)who);
    cr_assert_eq(nr.scores[0].mark_format, FM_MARK_FORMAT_TAG_V5);
    /* under this version's mask the same evidence says nothing */
    cr_assert_lt(fabs(nr.scores[0].z_clip_format[0]), 4.0);
    double z_unknown = nr.scores[0].z;
    fm_naming_result_free(&nr);
    /* recorded as format 5 (a row imported from 0.5's registry): named
     * under that mask alone, with the same z and a smaller p */
    for (int i = 0; i < NCAND; i++)
        is.cand[i].mark_format = FM_MARK_FORMAT_TAG_V5;
    cr_assert_eq(fm_name_candidates(ev, NULL, is.cand, NCAND, 0, &nr, &err), 0, "%s", err.msg);
    cr_assert_eq(nr.masks, NCAND);
    cr_assert_eq(nr.named, 1);
    cr_assert_eq(nr.scores[0].index, (size_t)who);
    cr_assert_eq(nr.scores[0].masks, 1);
    cr_assert_eq(nr.scores[0].z, z_unknown);
    cr_assert(isnan(nr.scores[0].z_clip_format[0]));
    fm_naming_result_free(&nr);
    /* recorded wrongly (as format 6): the leaker is missed, nobody else named */
    for (int i = 0; i < NCAND; i++)
        is.cand[i].mark_format = FM_MARK_FORMAT_TAGGED;
    cr_assert_eq(fm_name_candidates(ev, NULL, is.cand, NCAND, 0, &nr, &err), 0, "%s", err.msg);
    cr_assert_eq(nr.named, 0);
    fm_naming_result_free(&nr);
    free(ev);
    unissue(&is);
}

/* The z at which a statistic counted h times reaches the naming threshold
 * (h Q(z) = FM_NAMING_THRESHOLD). */
static double bar_for(double h)
{
    double lo = 0, hi = 20;
    for (int k = 0; k < 100; k++) {
        double mid = (lo + hi) / 2;
        if (fm_gauss_tail_log10(mid) + log10(h) > log10(FM_NAMING_THRESHOLD))
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

/* Evidence that is the format-6 codeword of one issued message on the first
 * k coded bits of the naming mask and nothing elsewhere: that message's
 * statistic under format 6's mask is exactly k / sqrt(k). */
static FmEvidence *exact_evidence(const uint8_t *message, int k)
{
    uint8_t bits[FM_MESSAGE_BITS], coded[FM_CODED_BITS], mask[FM_CODED_BITS];
    fm_bytes_to_bits(message, FM_MESSAGE_BYTES, bits);
    cr_assert_eq(fm_msgcode_encode(bits, coded), 0);
    cr_assert_gt(fm_naming_mask(mask), k);
    FmEvidence *ev = calloc(1, sizeof(*ev));
    cr_assert(ev);
    for (int i = 0, used = 0; i < FM_CODED_BITS; i++) {
        ev->soft[i] = mask[i] && used < k ? (coded[i] ? 1.0f : -1.0f) : 0.0f;
        used += mask[i] != 0;
        ev->mark[i] = ev->noise[i] = 1;
        ev->mark_half[0][i] = ev->mark_half[1][i] = 1;
    }
    return ev;
}

/* Issue "registry schema 3": a registry whose rows record format 6 scores
 * each candidate under one mask, so the bar is that of one mask again
 * (z 7.05 among 1000, was 7.20 with the three masks of unknown rows); a
 * mixed registry counts its mix; a format naming does not know is scored
 * as unknown. The leaker's statistic here is 50 / sqrt(50) = 7.07: named
 * when the formats are recorded, not when they are unknown. */
Test(naming, recorded_formats_are_scored_under_their_own_mask_only)
{
    Issued is;
    issue(&is, 950);
    const int who = 613;
    FmEvidence *ev = exact_evidence(is.cand[who].message, 50);
    FmError err = { { 0 } };
    double h1 = NCAND / 0.9, h3 = 3.0 * NCAND / 0.9;
    double bar1 = bar_for(h1), bar3 = bar_for(h3);
    /* the bars docs/DESIGN.md §12 tabulates: m (candidate, mask) pairs,
     * whole clip (90 % of the budget) and under one of 31 runners-up (10 %) */
    for (int m = NCAND; m <= 3 * NCAND; m += NCAND)
        cr_log_info("bars for m = %d pairs: whole clip z %.3f, runner-up z %.3f", m,
                    bar_for(m / 0.9), bar_for(m * 31 / 0.1));
    cr_assert(fabs(bar1 - 7.05) < 0.01 && fabs(bar3 - 7.20) < 0.01, "%.3f %.3f", bar1, bar3);
    cr_assert(bar1 < bar3);

    /* all unknown: as before schema 3 */
    FmNamingResult nu, nk, nm;
    cr_assert_eq(fm_name_candidates(ev, NULL, is.cand, NCAND, 0, &nu, &err), 0, "%s", err.msg);
    cr_assert_eq(nu.masks, FM_NAMING_FORMATS * NCAND);
    cr_assert_eq(nu.hypotheses, FM_NAMING_FORMATS * NCAND);
    cr_assert_eq(nu.scores[0].index, (size_t)who);
    cr_assert_eq(nu.scores[0].masks, FM_NAMING_FORMATS);
    cr_assert_float_eq(nu.scores[0].z, sqrt(50.0), 1e-4);
    cr_assert_float_eq(nu.scores[0].false_alarm_log10,
                       fm_gauss_tail_log10(sqrt(50.0)) +
                           log10(FM_NAMING_FORMATS * (double)NCAND / 0.9),
                       1e-9);
    cr_assert_eq(nu.named, 0, "z %.3f is under the every-mask bar (three masks: %.3f)",
                 nu.scores[0].z, bar3);

    /* all recorded as format 6: one mask each, one-mask bar */
    for (int i = 0; i < NCAND; i++)
        is.cand[i].mark_format = FM_MARK_FORMAT_TAGGED;
    cr_assert_eq(fm_name_candidates(ev, NULL, is.cand, NCAND, 0, &nk, &err), 0, "%s", err.msg);
    cr_assert_eq(nk.masks, NCAND);
    cr_assert_eq(nk.hypotheses, NCAND);
    cr_assert_eq(nk.scores[0].index, (size_t)who);
    cr_assert_eq(nk.scores[0].mark_format, FM_MARK_FORMAT_TAGGED);
    cr_assert_float_eq(nk.scores[0].false_alarm_log10,
                       fm_gauss_tail_log10(sqrt(50.0)) + log10(h1), 1e-9);
    cr_assert_eq(nk.named, 1, "z %.3f is over the one-mask bar %.3f", nk.scores[0].z, bar1);
    /* each candidate's format-6 statistic is the same one as before: the
     * innocents' N(0,1) under that mask is unchanged; the others not scored */
    for (size_t i = 0; i < NCAND; i++) {
        const FmCandidateScore *k = &nk.scores[i];
        cr_assert_eq(k->masks, 1);
        cr_assert(isnan(k->z_clip_format[1]) && isnan(k->z_clip_format[2]));
        cr_assert(k->index == (size_t)who || !k->named, "innocent %zu named", k->index);
        for (size_t j = 0; j < NCAND; j++)
            if (nu.scores[j].index == k->index)
                cr_assert_eq(k->z_clip_format[0], nu.scores[j].z_clip_format[0]);
    }

    /* mixed: a quarter recorded as 6, half unknown, a quarter recorded as 3,
     * which naming does not know and scores as unknown: 250 + 750 x
     * FM_NAMING_FORMATS pairs */
    for (int i = 0; i < NCAND; i++)
        is.cand[i].mark_format = i % 2 ? 0 : i % 4 ? 3 : FM_MARK_FORMAT_TAGGED;
    cr_assert_eq(fm_naming_masks(3), FM_NAMING_FORMATS);
    cr_assert_eq(fm_naming_masks(FM_MARK_FORMAT_TAG_V4), 1);
    cr_assert_eq(fm_name_candidates(ev, NULL, is.cand, NCAND, 0, &nm, &err), 0, "%s", err.msg);
    cr_assert_eq(nm.masks, NCAND / 4 + FM_NAMING_FORMATS * (3 * NCAND / 4));
    for (size_t i = 0; i < NCAND; i++)
        cr_assert_eq(nm.scores[i].masks, nm.scores[i].index % 4 ? FM_NAMING_FORMATS : 1);
    cr_assert_float_eq(nm.scores[0].false_alarm_log10,
                       fm_gauss_tail_log10(sqrt(50.0)) +
                           log10((0.25 + 0.75 * FM_NAMING_FORMATS) * NCAND / 0.9),
                       1e-9);
    cr_assert_eq(nm.named, 0);
    /* split over several calls (one per key), family counts every call's pairs */
    FmNamingResult nf;
    cr_assert_eq(fm_name_candidates(ev, NULL, is.cand + 610, 10, (size_t)nm.masks, &nf, &err), 0);
    cr_assert_eq(nf.hypotheses, nm.masks);
    cr_assert_eq(nf.scores[0].index, (size_t)(who - 610));
    cr_assert_float_eq(nf.scores[0].false_alarm_log10 - fm_gauss_tail_log10(nf.scores[0].z),
                       log10(nm.masks / 0.9), 1e-9);
    fm_naming_result_free(&nf);
    fm_naming_result_free(&nu);
    fm_naming_result_free(&nk);
    fm_naming_result_free(&nm);
    free(ev);
    unissue(&is);
}
