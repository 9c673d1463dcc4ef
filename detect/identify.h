/*
 * identify.h - who a clip was issued to, beyond the blind decode: the
 * clip's evidence scored against every message the registry (or the
 * receipts given) say a key issued (common/naming.h), so that a recipient
 * is named from clips too short or degraded to decode, colluders are named,
 * and innocents of the same title are not.
 */
#ifndef FM_IDENTIFY_H
#define FM_IDENTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "accumulator.h"
#include "detect_keys.h"
#include "detector.h"
#include "fingerprint.h"
#include "keys.h"
#include "naming.h"
#include "registry.h"

/* One issued message a recipient may be named by. */
typedef struct Suspect {
    int key;                    /* index into the key list */
    uint8_t message[FM_MESSAGE_BYTES];
    uint32_t title_id, recipient_id;
    char *name;                 /* recipient name, may be NULL */
    int64_t registry_id;        /* > 0: a registry row */
    int mark_format;            /* the row's recorded mark format, 0 unknown (a
                                   receipt alone, a row before schema 3) */
    const char *receipt;        /* else: the receipt file it came from */
} Suspect;

typedef struct Identification {
    Suspect *suspects;
    size_t n, cap;
    char registry[FM_REGISTRY_LOCATION_MAX];    /* "" when none was consulted */
    /* after identify_run(): the naming for the key that explains the clip best */
    int scored;                 /* candidates were scored */
    int key;                    /* their key */
    Suspect **ranked;           /* the candidates of that key, in naming order */
    long masks;                 /* after identify_run(): (candidate, mask) pairs of every key, counted in
                                   each key's correction (naming.h) */
    FmNamingResult naming;
    double named_position;      /* where the hypothesis that named the first
                                   recipient places the clip (master seconds at
                                   the clip's first window), NAN when unknown
                                   (a stretch scored alone) */
    FmMarkConsistency consistency;  /* of the best key's blind result */
    /* optional, the caller's (evidence report): two traces with points and
     * cap set; after identify_run() trace[0] points at the best key's */
    FmStrengthTrace *trace[2];
    /* the receipt files found in directories given (suspects' receipt
     * fields point at them; freed by identify_free) */
    char **dir_paths;
    size_t dir_npaths;
} Identification;

/*
 * Gathers the candidates: every message of every key in the registry at
 * registry_loc (only if use_registry and it exists: a detector never creates
 * one), and the receipts given (files, or directories of *.receipt.json),
 * each verified under one of the keys (an error otherwise).
 */
int identify_collect(Identification *id, const FmKeyList *keys, int use_registry,
                     const char *registry_opt, char *const *receipts, size_t nreceipts,
                     FmError *err);

/*
 * Runs the library's multi-key detection (fm_detect_keys: the best blind
 * result and its key come back in best and *best_key, corrected for the
 * number of keys) and scores the candidates of each key against its
 * evidence. One frame: the still detector, no candidates scored.
 */
int identify_run(Identification *id, const FmAccumulator *acc, const FmKeyList *keys,
                 FmDetectResult *best, int *best_key, FmError *err);

/* The recipient named, blind or from the candidates, or NULL. */
const Suspect *identify_named(const Identification *id, size_t i);
size_t identify_named_count(const Identification *id);

/* The content fingerprint recorded for the issued message (a candidate's:
 * the registry row's, else its receipt's, checked against keys), in a new
 * *fp; FM_ENOTFOUND when no candidate has that message or its issuance
 * recorded none. message NULL: the first recipient named. *aspect: the
 * issued picture's width / height as its receipt records it (0: unknown).
 * *from_registry: 1 when the fingerprint is the registry row's, 0 a receipt's. */
int identify_issued_fingerprint(const Identification *id, const FmKeyList *keys,
                                const uint8_t *message, FmFingerprint **fp, double *aspect,
                                int *from_registry, FmError *err);
/* The picture's width / height a receipt file records (0: unknown or
 * unreadable). */
double identify_receipt_aspect(const char *path);
/* The mark format whose codeword the first named recipient was scored
 * under (naming.h), or 0 when nobody was named. */
int identify_named_format(const Identification *id);

/* Adds "identified_by", "named", "candidates", "candidates_tested",
 * "masks_tested", "superimposed", "registry" to o, and overrides "recipient_id"/"title_id"
 * when a candidate was named and the blind decode did not verify. */
void identify_json(const Identification *id, const FmDetectResult *blind, json_t *o);
void identify_text(const Identification *id, const FmDetectResult *blind);

void identify_free(Identification *id);

#endif
