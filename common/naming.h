/*
 * naming.h - naming the recipient of a leaked copy from a list of issued
 * messages (a registry's rows, receipts), and telling that several marks
 * are superimposed when there is no list (docs/DESIGN.md §12).
 *
 * Informed detection: the clip's soft evidence per coded bit (fm_detect_ex)
 * is correlated with each candidate's codeword, one dot product each, so a
 * recipient is named from clips far too short or degraded for blind
 * decoding. Issued messages of one title share the version, title,
 * issue-minute and policy bits, so their codewords agree on those coded
 * bits: a candidate is scored only on the coded bits that depend on its
 * Ed25519 signature alone, which are independent between any two distinct
 * messages. Whatever the clip carries (nothing, the leaker's mark, several
 * colluders' marks), an innocent candidate's score is then a zero-mean,
 * unit-variance normalised correlation, and the false-alarm probability is
 * corrected for the number of candidates, of codeword masks each is scored
 * under (one for a recorded mark format, three for an unknown one) and of
 * statistics looked at (the whole clip, each stretch, the best stretch
 * under the epoch search's runners-up).
 *
 *   FmEvidence ev = { 0 };
 *   FmDetectResult res;
 *   fm_detect_ex(&acc, key, 1, NULL, &res, &ev, &err);
 *   FmNamingResult nr;
 *   fm_name_candidates(&ev, &res, cands, n, 0, &nr, &err);
 *   for (size_t i = 0; i < nr.named; i++)
 *       accuse(cands[nr.scores[i].index].label, nr.scores[i].false_alarm_log10);
 *   fm_naming_result_free(&nr);
 *   fm_evidence_free(&ev);
 */
#ifndef FM_NAMING_H
#define FM_NAMING_H

#include <stddef.h>
#include <stdint.h>

#include "detector.h"
#include "fm_error.h"
#include "payload.h"

/* A candidate is named (accused) when its corrected false-alarm
 * probability is at most this. */
#define FM_NAMING_THRESHOLD 1e-9

/* One issued message to test. */
typedef struct FmCandidate {
    uint8_t message[FM_MESSAGE_BYTES];  /* packed payload || signature, as embedded */
    const char *label;                  /* the caller's id or name; not read, not copied */
    int mark_format;                    /* the mark format its deliverable was written in
                                           (a registry row's, schema 3), or 0: unknown.
                                           One of the FM_NAMING_FORMATS: scored under that
                                           format's mask alone; anything else (0, or a
                                           format naming does not know, e.g. 3 or 7):
                                           scored under all FM_NAMING_FORMATS masks */
} FmCandidate;

/* The mark formats an issued message of unknown format is scored under
 * (their codewords' public masks differ): 6, 5 and 4. */
#define FM_NAMING_FORMATS 4

/* The masks a candidate of this recorded format is scored under: 1 when it
 * is one of the FM_NAMING_FORMATS, else (unknown) FM_NAMING_FORMATS. Each
 * (candidate, mask) pair is one hypothesis of the false-alarm correction. */
int fm_naming_masks(int mark_format);

typedef struct FmCandidateScore {
    size_t index;            /* into the candidates given */
    double z;                /* distinguishing statistic: N(0,1) for an innocent
                                candidate; of the statistics looked at (the whole
                                clip, each stretch if several, the best stretch
                                under the epoch search's runners-up), the one
                                with the smallest corrected probability */
    double z_clip;           /* the whole clip's statistic alone (N(0,1) for an
                                innocent; equals z when stretch and alternative
                                are -1) */
    int stretch;             /* >= 0: the stretch alone (FmEvidence order) gave z */
    int alternative;         /* >= 0: the runner-up hypothesis (FmEvidence.alt_soft
                                row) gave z; both -1: the whole clip did */
    double false_alarm_log10;   /* log10 of the corrected false-alarm probability */
    double margin_log10;     /* decades between its corrected probability and the
                                next candidate's (>= 0; 0 for the last) */
    int named;               /* corrected p <= FM_NAMING_THRESHOLD */
    int mark_format;         /* the format whose codeword mask gave z (6, or 5
                                or 4 for a deliverable of filmmark 0.5/0.4) */
    int masks;               /* masks it was scored under: 1 (its recorded format)
                                or FM_NAMING_FORMATS (unknown) */
    double z_clip_format[FM_NAMING_FORMATS];  /* the whole clip's statistic
                                under each format's mask (6, 5, 4): each N(0,1)
                                for an innocent; NAN for a mask not scored (a
                                candidate of a recorded format); z is the most
                                significant of those scored */
} FmCandidateScore;

/* Whether the evidence is that of one mark (blind, no candidates needed). */
typedef struct FmMarkConsistency {
    int checked;             /* the pilot shows a mark and the payload did not verify */
    /* data energy on the signature's coded bits over the energy the pilot
     * predicts for one mark: ~1 for one mark, ~1/k when k copies with
     * different messages were averaged (~0.3 for a median of three) */
    double ratio;
    double ratio_se;         /* its standard error (noise and pilot estimate) */
    int superimposed;        /* ratio significantly below one mark's: several
                                marks superimposed (collusion), not "no payload" */
} FmMarkConsistency;

typedef struct FmNamingResult {
    size_t tested;           /* candidates scored */
    long masks;              /* (candidate, mask) pairs scored: the sum of
                                fm_naming_masks() over the candidates (tested
                                when every format is recorded, 3 x tested when
                                none is) */
    long hypotheses;         /* statistics looked at: max(family, masks) x
                                (1 + stretches scored alone + runner-up
                                hypotheses); the correction weighs them
                                (docs/DESIGN.md §12) */
    FmCandidateScore *scores;    /* every candidate, most significant first; malloc'd */
    size_t named;            /* the first `named` scores are accused */
    double margin_log10;     /* the first candidate's margin_log10 (0 with one) */
    long blind_index;        /* the candidate equal to a verified blind decode, or -1 */
    FmMarkConsistency consistency;
} FmNamingResult;

/*
 * Scores every candidate against the evidence of one key's detection
 * (fm_detect_ex with that key; blind is its result, used for blind_index and
 * the consistency check, may be NULL). n may be 0 (only the consistency
 * check). Each candidate is scored under the mask of its recorded format,
 * or of every FM_NAMING_FORMATS format when that is unknown (FmCandidate),
 * and the correction counts exactly the (candidate, mask) pairs scored.
 * family: those pairs in all (the sum of fm_naming_masks() over every
 * candidate) when the caller splits the candidates over several calls (one
 * per detection key: each key's issued messages against that key's
 * evidence); 0 or less than this call's pairs means this call's. Candidates
 * with equal messages score alike (a registry should not hold two);
 * candidates of other keys or titles score as innocents.
 * Returns 0, FM_EINVAL (cands NULL with n > 0) or FM_ENOMEM; on error out
 * holds nothing to free.
 */
int fm_name_candidates(const FmEvidence *ev, const FmDetectResult *blind,
                       const FmCandidate *cands, size_t n, size_t family, FmNamingResult *out,
                       FmError *err);

void fm_naming_result_free(FmNamingResult *r);

/*
 * The consistency check alone (fm_name_candidates fills it too): blind
 * says whether a mark was found and verified.
 */
void fm_mark_consistency(const FmEvidence *ev, const FmDetectResult *blind,
                         FmMarkConsistency *out);

/*
 * The coded bits a candidate is scored on: 1 where the coded bit depends on
 * at least one signature bit outside the top nibble of S that Ed25519 keeps
 * zero. Such a bit is the XOR of the message's shared bits (title, time)
 * with a bit that differs at random between messages, so an innocent's
 * codeword agrees there with the issued one by chance alone. Returns how
 * many, or FM_ENOMEM when the code could not be built.
 */
int fm_naming_mask(uint8_t mask[FM_CODED_BITS]);

#endif
