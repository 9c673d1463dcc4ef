#include "identify.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fingerprint.h"
#include "payload.h"
#include "receipt.h"

static Suspect *add_suspect(Identification *id, FmError *err)
{
    if (id->n == id->cap) {
        size_t cap = id->cap ? 2 * id->cap : 64;
        Suspect *s = realloc(id->suspects, cap * sizeof(*s));
        if (!s) {
            fm_error_set(err, FM_ENOMEM, "out of memory");
            return NULL;
        }
        id->suspects = s;
        id->cap = cap;
    }
    Suspect *s = &id->suspects[id->n++];
    memset(s, 0, sizeof(*s));
    return s;
}

/* The recipient's name a receipt records (its signature was checked). */
static char *receipt_name(const char *path)
{
    json_t *doc = json_load_file(path, 0, NULL);
    const char *name = json_string_value(json_object_get(json_object_get(
        json_object_get(doc, "receipt"), "names"), "recipient"));
    char *copy = name ? strdup(name) : NULL;
    json_decref(doc);
    return copy;
}

static int add_receipt(Identification *id, const FmKeyList *keys, const char *path, FmError *err)
{
    uint8_t msg[FM_MESSAGE_BYTES];
    FmError e = { { 0 } };
    for (size_t k = 0; k < keys->n; k++) {
        if (fm_receipt_read(path, keys->keys[k], msg, &e) < 0)
            continue;
        FmPayload p;
        if (fm_payload_unpack(msg, &p, &e) < 0)
            continue;
        Suspect *s = add_suspect(id, err);
        if (!s)
            return FM_ENOMEM;
        s->key = (int)k;
        memcpy(s->message, msg, sizeof(msg));
        s->title_id = p.title_id;
        s->recipient_id = p.recipient_id;
        s->name = receipt_name(path);
        s->receipt = path;
        return 0;
    }
    return fm_error_set(err, FM_ECRYPTO, "%s", e.msg[0] ? e.msg : "no key to check the receipt");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Receipt files of a directory (*.receipt.json), in name order. Their paths
 * are kept in id (freed with it): suspects point at them. */
static int add_receipt_dir(Identification *id, const FmKeyList *keys, const char *dir,
                           char ***paths, size_t *npaths, FmError *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return fm_error_set(err, FM_EIO, "cannot read directory '%s'", dir);
    struct dirent *e;
    size_t first = *npaths;
    int r = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n <= 13 || strcmp(e->d_name + n - 13, ".receipt.json"))
            continue;
        char **np = realloc(*paths, (*npaths + 1) * sizeof(**paths));
        if (!np) {
            r = fm_error_set(err, FM_ENOMEM, "out of memory");
            break;
        }
        *paths = np;
        size_t len = strlen(dir) + n + 2;
        if (!((*paths)[*npaths] = malloc(len))) {
            r = fm_error_set(err, FM_ENOMEM, "out of memory");
            break;
        }
        snprintf((*paths)[(*npaths)++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (r < 0)
        return r;
    qsort(*paths + first, *npaths - first, sizeof(**paths), cmp_str);
    for (size_t i = first; i < *npaths && r == 0; i++)
        r = add_receipt(id, keys, (*paths)[i], err);
    return r;
}

int identify_collect(Identification *id, const FmKeyList *keys, int use_registry,
                     const char *registry_opt, char *const *receipts, size_t nreceipts,
                     FmError *err)
{
    int r;
    memset(id, 0, sizeof(*id));
    id->key = -1;
    for (size_t i = 0; i < nreceipts; i++) {
        struct stat st;
        if (stat(receipts[i], &st) == 0 && S_ISDIR(st.st_mode))
            r = add_receipt_dir(id, keys, receipts[i], &id->dir_paths, &id->dir_npaths, err);
        else
            r = add_receipt(id, keys, receipts[i], err);
        if (r < 0)
            return r;
    }
    if (!use_registry)
        return 0;
    char loc[FM_REGISTRY_LOCATION_MAX];
    if ((r = fm_registry_location(registry_opt, loc, sizeof(loc), err)) < 0)
        return r;
    if (!fm_registry_present(loc)) {
        if (registry_opt)
            return fm_error_set(err, FM_ENOTFOUND, "no registry at '%s'", loc);
        return 0;
    }
    FmRegistry *reg = NULL;
    if ((r = fm_registry_open(&reg, loc, err)) < 0)
        return r;
    snprintf(id->registry, sizeof(id->registry), "%s", loc);
    for (size_t k = 0; k < keys->n && r >= 0; k++) {
        char fp[FM_FINGERPRINT_CHARS + 1];
        FmIssuedMessage *msgs = NULL;
        size_t n = 0;
        fm_key_fingerprint(keys->keys[k], fp);
        if ((r = fm_registry_messages(reg, fp, &msgs, &n, err)) < 0)
            break;
        size_t from_receipts = id->n;
        for (size_t i = 0; i < n; i++) {
            /* a message a receipt already gave is one candidate, not two */
            Suspect *same = NULL;
            for (size_t j = 0; j < from_receipts && !same; j++)
                if (id->suspects[j].key == (int)k &&
                    !memcmp(id->suspects[j].message, msgs[i].message, FM_MESSAGE_BYTES))
                    same = &id->suspects[j];
            if (same) {
                same->registry_id = msgs[i].id;
                same->mark_format = msgs[i].mark_format;
                continue;
            }
            Suspect *s = add_suspect(id, err);
            if (!s) {
                r = FM_ENOMEM;
                break;
            }
            s->key = (int)k;
            memcpy(s->message, msgs[i].message, FM_MESSAGE_BYTES);
            s->title_id = msgs[i].title_id;
            s->recipient_id = msgs[i].recipient_id;
            s->name = msgs[i].recipient ? strdup(msgs[i].recipient) : NULL;
            s->registry_id = msgs[i].id;
            s->mark_format = msgs[i].mark_format;
        }
        free(msgs);
    }
    fm_registry_close(&reg);
    return r < 0 ? r : 0;
}

/* What identify_run's per-key step needs besides the identification. */
typedef struct RunCtx {
    Identification *id;
    FmCandidate *cands;
    Suspect **order;
} RunCtx;

/* One key's result: its consistency when it is the best so far, and this
 * key's candidates scored on its evidence. */
static int score_key(void *opaque, int k, const FmDetectResult *cur, const FmEvidence *ev,
                     int better, FmError *err)
{
    RunCtx *c = opaque;
    Identification *id = c->id;
    if (better)
        fm_mark_consistency(ev, cur, &id->consistency);
    size_t n = 0;
    for (size_t i = 0; i < id->n; i++)
        if (id->suspects[i].key == k) {
            memcpy(c->cands[n].message, id->suspects[i].message, FM_MESSAGE_BYTES);
            c->cands[n].label = NULL;
            c->cands[n].mark_format = id->suspects[i].mark_format;
            c->order[n++] = &id->suspects[i];
        }
    if (!n)
        return 0;
    FmNamingResult nr;
    /* every key's (candidate, mask) pairs count in this key's correction */
    int r = fm_name_candidates(ev, cur, c->cands, n, (size_t)id->masks, &nr, err);
    if (r < 0)
        return r;
    /* keep the key whose strongest candidate is the most significant */
    if (id->scored && nr.scores[0].false_alarm_log10 >= id->naming.scores[0].false_alarm_log10) {
        fm_naming_result_free(&nr);
        return 0;
    }
    fm_naming_result_free(&id->naming);
    id->naming = nr;
    id->key = k;
    id->scored = 1;
    /* the epochs the first candidate's score was read under */
    int alt = nr.scores[0].alternative;
    id->named_position = nr.scores[0].stretch >= 0 ? NAN
                         : alt < 0 ? cur->master_position
                         : alt < ev->nalt ? ev->alt_position[alt] : NAN;
    free(id->ranked);
    if (!(id->ranked = malloc(n * sizeof(*id->ranked))))
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        id->ranked[i] = c->order[nr.scores[i].index];
    return 0;
}

/* The (candidate, mask) pairs of every key's candidates. */
static long total_masks(const Identification *id)
{
    long m = 0;
    for (size_t i = 0; i < id->n; i++)
        m += fm_naming_masks(id->suspects[i].mark_format);
    return m;
}

int identify_run(Identification *id, const FmAccumulator *acc, const FmKeyList *keys,
                 FmDetectResult *best, int *best_key, FmError *err)
{
    RunCtx c = {
        .id = id,
        .cands = id->n ? malloc(id->n * sizeof(*c.cands)) : NULL,
        .order = id->n ? malloc(id->n * sizeof(*c.order)) : NULL,
    };
    if (id->n && (!c.cands || !c.order)) {
        free(c.cands);
        free(c.order);
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    }
    id->masks = total_masks(id);
    /* the library's multi-key detection (common/detect_keys.h) */
    int r = fm_detect_keys(acc, keys->keys, (int)keys->n, id->trace, score_key, &c, best,
                           best_key, err);
    free(c.cands);
    free(c.order);
    return r < 0 ? r : 0;
}

size_t identify_named_count(const Identification *id)
{
    return id->scored ? id->naming.named : 0;
}

const Suspect *identify_named(const Identification *id, size_t i)
{
    return i < identify_named_count(id) ? id->ranked[i] : NULL;
}

/* width / height of the picture a receipt's text records, 0 when none */
static double receipt_aspect(const char *text, size_t len)
{
    int w, h;
    return fm_receipt_text_picture_size(text, len, &w, &h) == 0 ? (double)w / h : 0;
}

int identify_issued_fingerprint(const Identification *id, const FmKeyList *keys,
                                const uint8_t *message, FmFingerprint **fp, double *aspect,
                                int *from_registry, FmError *err)
{
    *aspect = 0;
    *from_registry = 0;
    const Suspect *s = NULL;
    if (!message)
        s = id->scored && id->naming.named ? identify_named(id, 0) : NULL;
    for (size_t i = 0; message && i < id->n && !s; i++)
        if (!memcmp(id->suspects[i].message, message, FM_MESSAGE_BYTES))
            s = &id->suspects[i];
    *fp = NULL;
    if (!s)
        return FM_ENOTFOUND;
    if (s->registry_id > 0 && id->registry[0]) {
        FmRegistry *reg = NULL;
        FmIssuance *iss = NULL;
        int r = fm_registry_open(&reg, id->registry, err);
        if (r >= 0)
            r = fm_registry_get(reg, s->registry_id, &iss, err);
        if (r >= 0)
            r = iss->content_fingerprint ? fm_fingerprint_from_string(fp, iss->content_fingerprint, err)
                                         : FM_ENOTFOUND;
        if (r >= 0 && iss->receipt_json)
            *aspect = receipt_aspect(iss->receipt_json, strlen(iss->receipt_json));
        fm_issuance_free(&iss);
        fm_registry_close(&reg);
        *from_registry = r >= 0;
        if (r != FM_ENOTFOUND || !s->receipt)
            return r;
    }
    if (s->receipt) {
        int r = fm_receipt_read_fingerprint(s->receipt, keys->keys[s->key], fp, err);
        if (r >= 0)
            *aspect = identify_receipt_aspect(s->receipt);
        return r;
    }
    return FM_ENOTFOUND;
}

double identify_receipt_aspect(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    FmError ignored;
    if (fm_receipt_read_text(path, &text, &len, &ignored) < 0)
        return 0;
    double a = receipt_aspect(text, len);
    free(text);
    return a;
}

int identify_named_format(const Identification *id)
{
    return id->scored && id->naming.named ? id->naming.scores[0].mark_format : 0;
}

static json_t *suspect_json(const Identification *id, size_t i)
{
    const Suspect *s = id->ranked[i];
    const FmCandidateScore *c = &id->naming.scores[i];
    json_t *o = json_pack("{s:I, s:I, s:o, s:s, s:f, s:f, s:f, s:i}",
        "recipient_id", (json_int_t)s->recipient_id, "title_id", (json_int_t)s->title_id,
        "name", s->name ? json_string(s->name) : json_null(),
        "source", s->registry_id > 0 ? "registry" : "receipt",
        "z", c->z + 0.0, "false_alarm_log10", c->false_alarm_log10 + 0.0,
        "margin_log10", c->margin_log10 + 0.0, "mark_format", c->mark_format);
    /* the format the row records (null: unknown, scored under every mask)
     * and how many masks it was scored under */
    json_object_set_new(o, "recorded_mark_format",
                        s->mark_format ? json_integer(s->mark_format) : json_null());
    json_object_set_new(o, "masks", json_integer(c->masks));
    if (s->registry_id > 0)
        json_object_set_new(o, "registry_id", json_integer(s->registry_id));
    else
        json_object_set_new(o, "receipt", json_string(s->receipt));
    return o;
}

#define CANDIDATES_SHOWN 5

void identify_json(const Identification *id, const FmDetectResult *blind, json_t *o)
{
    const Suspect *top = identify_named(id, 0);
    const char *by = blind->signature_valid ? "blind" : top ? (top->registry_id > 0 ? "registry"
                                                                                   : "receipt")
                                                        : NULL;
    json_object_set_new(o, "identified_by", by ? json_string(by) : json_null());
    if (!blind->signature_valid && top) {
        json_object_set_new(o, "title_id", json_integer(top->title_id));
        json_object_set_new(o, "recipient_id", json_integer(top->recipient_id));
    }
    json_t *named = json_array(), *cands = json_array();
    for (size_t i = 0; i < identify_named_count(id); i++)
        json_array_append_new(named, suspect_json(id, i));
    for (size_t i = 0; id->scored && i < id->naming.tested && i < CANDIDATES_SHOWN; i++)
        json_array_append_new(cands, suspect_json(id, i));
    json_object_set_new(o, "named", named);
    json_object_set_new(o, "candidates", cands);
    json_object_set_new(o, "candidates_tested", json_integer((json_int_t)id->n));
    json_object_set_new(o, "masks_tested", json_integer((json_int_t)total_masks(id)));
    json_object_set_new(o, "superimposed", id->consistency.checked
                                           ? json_boolean(id->consistency.superimposed)
                                           : json_null());
    json_object_set_new(o, "registry", id->registry[0] ? json_string(id->registry) : json_null());
}

void identify_text(const Identification *id, const FmDetectResult *blind)
{
    if (!blind->signature_valid && id->consistency.checked && id->consistency.superimposed)
        printf("  several marks:  superimposed (energy %.2f of one mark's): copies of "
               "several recipients were combined\n", id->consistency.ratio);
    if (!id->n)
        return;
    size_t named = identify_named_count(id);
    for (size_t i = 0; i < named; i++) {
        const Suspect *s = id->ranked[i];
        const FmCandidateScore *c = &id->naming.scores[i];
        printf("  named:          recipient %u%s%s%s of title %u (z %.1f, p = 10^%.1f among %zu "
               "issued; from the %s)\n", s->recipient_id, s->name ? " \"" : "",
               s->name ? s->name : "", s->name ? "\"" : "", s->title_id, c->z,
               c->false_alarm_log10, id->n, s->registry_id > 0 ? "registry" : "receipts");
    }
    if (!named && id->scored) {
        const FmCandidateScore *c = &id->naming.scores[0];
        printf("  named:          nobody among %zu issued (best candidate: recipient %u, z %.1f, "
               "p = 10^%.1f, above 1e-9)\n", id->n, id->ranked[0]->recipient_id, c->z,
               c->false_alarm_log10);
    }
}

void identify_free(Identification *id)
{
    for (size_t i = 0; i < id->n; i++)
        free(id->suspects[i].name);
    free(id->suspects);
    free(id->ranked);
    fm_naming_result_free(&id->naming);
    for (size_t i = 0; i < id->dir_npaths; i++)
        free(id->dir_paths[i]);
    free(id->dir_paths);
    memset(id, 0, sizeof(*id));
}
