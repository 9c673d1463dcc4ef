#include "detector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fec.h"
#include "geometry.h"
#include "pattern.h"

/* A segment counts as carrying the mark when its own pilot z reaches this. */
#define SEGMENT_Z 4.0
/* Messages the list decoder offers to the signature check: on the code
 * alone with Gaussian noise, 64 moved the raw error rate decoded 9 times in
 * 10 from about 17 % to 19 % (256 added almost nothing). */
#define DECODE_LIST 64

double fm_gauss_tail_log10(double z)
{
    if (z < 30)
        return log10(0.5 * erfc(z / M_SQRT2));
    /* Mills ratio asymptotics: Q(z) ~ phi(z)/z (1 - 1/z^2 + 3/z^4) */
    double lnq = -0.5 * z * z - log(z) - 0.5 * log(2 * M_PI) + log1p(-1 / (z * z) + 3 / pow(z, 4));
    return lnq / M_LN10;
}

/* Slot values of a tile, each coefficient position scaled to unit variance. */
static void read_normalised(const float *tile, float *v)
{
    fm_tile_read(tile, v);
    for (int c = 0; c < FM_NCOEF; c++) {
        double ss = 0;
        for (int b = 0; b < FM_TILE_BLOCKS * FM_TILE_BLOCKS; b++)
            ss += (double)v[b * FM_NCOEF + c] * v[b * FM_NCOEF + c];
        float inv = ss > 0 ? (float)(1 / sqrt(ss / (FM_TILE_BLOCKS * FM_TILE_BLOCKS))) : 0;
        for (int b = 0; b < FM_TILE_BLOCKS * FM_TILE_BLOCKS; b++)
            v[b * FM_NCOEF + c] *= inv;
    }
}

/* Correlation z of slot values against expected signs (only where want != 0). */
static double correlate(const float *v, const float *want)
{
    double s = 0, q = 0;
    for (int k = 0; k < FM_SLOTS; k++) {
        if (want[k] == 0)
            continue;
        s += v[k] * want[k];
        q += (double)v[k] * v[k];
    }
    return q > 0 ? s / sqrt(q) : 0;
}

/* Decodes one folded tile: pilot statistic, soft Viterbi, signature. */
static int analyse_tile(const float *tile, const FmSlotMap *map, const float *pilot,
                        const FmKey *key, const uint8_t *expected, long hypotheses,
                        float *v, float *want, FmDetectResult *res, FmError *err)
{
    float soft[FM_CODED_BITS];
    uint8_t coded[FM_CODED_BITS], refbits[FM_MESSAGE_BITS];
    int ret;

    read_normalised(tile, v);
    res->pilot_z = correlate(v, pilot);

    /* Maximum-ratio combining: each band's slots count in proportion to the
     * mark amplitude the pilots show in that band (bands are already at unit
     * variance). Codecs and down-scaling remove the upper bands first; their
     * slots then add little but noise. Pilots only set the weights, so the
     * pilot statistic above stays unweighted and N(0,1) without a mark. */
    float weight[FM_NCOEF];
    for (int c = 0; c < FM_NCOEF; c++) {
        double m = 0;
        int n = 0;
        for (int b = 0; b < FM_TILE_BLOCKS * FM_TILE_BLOCKS; b++) {
            int k = b * FM_NCOEF + c;
            if (pilot[k] != 0) {
                m += v[k] * pilot[k];
                n++;
            }
        }
        m = n ? m / n : 0;
        weight[c] = (float)(m > 0.02 ? m : 0.02);
    }
    for (int i = 0; i < FM_CODED_BITS; i++)
        soft[i] = 0;
    for (int k = 0; k < FM_SLOTS; k++)
        if (map->bit[k] >= 0)
            soft[map->bit[k]] += weight[k % FM_NCOEF] * v[k] * map->sign[k];
    /* list decoding: the most likely messages in turn, until one carries a
     * signature that verifies (the signature is the check; a clip without
     * the mark still needs an Ed25519 forgery, now among DECODE_LIST tries) */
    int listed = 0;
    uint8_t *cand = malloc((size_t)DECODE_LIST * FM_MESSAGE_BITS);
    if (!cand)
        return fm_error_set(err, FM_ENOMEM, "out of memory in the decoder");
    if ((ret = fm_fec_decode_list(soft, FM_MESSAGE_BITS, DECODE_LIST, cand, &listed)) < 0) {
        free(cand);
        return fm_error_set(err, ret, "out of memory in the decoder");
    }
    res->signature_valid = 0;
    for (int c = 0; c < listed && !res->signature_valid; c++) {
        fm_bits_to_bytes(cand + (size_t)c * FM_MESSAGE_BITS, FM_MESSAGE_BYTES, res->message);
        res->signature_valid = fm_payload_verify(res->message, key) == 0;
        res->list_rank = c;
    }
    if (!res->signature_valid) {
        fm_bits_to_bytes(cand, FM_MESSAGE_BYTES, res->message);
        res->list_rank = 0;
    }
    sodium_memzero(cand, (size_t)DECODE_LIST * FM_MESSAGE_BITS);
    free(cand);
    res->payload_valid = fm_payload_unpack(res->message, &res->payload, NULL) == 0;

    /* raw bit error rate before correction, against the decoded message or
     * the expected one */
    const uint8_t *ref = res->message;
    if (expected) {
        ref = expected;
        res->expected_match = sodium_memcmp(expected, res->message, FM_MESSAGE_BYTES) == 0;
    }
    fm_bytes_to_bits(ref, FM_MESSAGE_BYTES, refbits);
    fm_fec_encode(refbits, FM_MESSAGE_BITS, coded);
    int errors = 0;
    for (int i = 0; i < FM_CODED_BITS; i++)
        errors += (soft[i] > 0) != (coded[i] == 1);
    res->raw_ber = (double)errors / FM_CODED_BITS;
    if (expected) {
        fm_slot_values(map, coded, want);
        res->expected_z = correlate(v, want);
    }

    res->hypotheses = hypotheses;
    double lp = fm_gauss_tail_log10(res->pilot_z) + log10((double)hypotheses);
    res->false_alarm_log10 = lp > 0 ? 0 : lp;
    res->false_alarm_probability = pow(10, res->false_alarm_log10);
    res->found = res->signature_valid || res->false_alarm_log10 <= log10(FM_FALSE_ALARM_THRESHOLD);
    sodium_memzero(soft, sizeof(soft));
    return 0;
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
    g->flip_h = al->flip_h;
    g->flip_v = al->flip_v;
    g->rotation_deg = -al->rotation_deg;  /* the clip's turn is undone by the opposite one */
    g->searched = 1;
}

int fm_detect(const FmAccumulator *acc, const FmKey *key, int keys_tried,
              const uint8_t *expected, FmDetectResult *res, FmError *err)
{
    memset(res, 0, sizeof(*res));
    if (!acc->frames)
        return fm_error_set(err, FM_EFORMAT, "no video frames to analyse");

    FmSlotMap *map = malloc(sizeof(*map));
    float *tile = malloc(sizeof(float) * FM_TILE * FM_TILE);
    float *pilot_tile = malloc(sizeof(float) * FM_TILE * FM_TILE);
    float *v = malloc(sizeof(float) * FM_SLOTS);
    float *pilot = malloc(sizeof(float) * FM_SLOTS);
    float *want = malloc(sizeof(float) * FM_SLOTS);
    long keys = keys_tried > 0 ? keys_tried : 1;
    int ret = 0;

    if (!map || !tile || !pilot_tile || !v || !pilot || !want) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory in the detector");
        goto end;
    }
    fm_slot_map_init(map, key->wm_key);
    fm_slot_values(map, NULL, pilot);

    /* 1. the picture as marked, at any uniform scale: no search */
    res->geometry = (FmGeometry){ .scale_x = 1, .scale_y = 1 };
    fm_tile_fold(acc->total, acc->gw, acc->gh, 0, 0, tile);
    if ((ret = analyse_tile(tile, map, pilot, key, expected, keys, v, want, res, err)) < 0)
        goto end;

    /* 2. otherwise search crops, boxes, uneven scales and flips */
    if (!res->signature_valid) {
        FmAlignment al;
        FmDetectResult g = { 0 };
        fm_tile_render(pilot, pilot_tile);
        if ((ret = fm_geometry_search(acc, pilot_tile, &al, err)) < 0 ||
            (ret = fm_geometry_fold(acc, &al, tile)) < 0) {
            if (ret == FM_ENOMEM)
                goto end;
            ret = 0;  /* clip too small for the search: keep the first answer */
        } else if ((ret = analyse_tile(tile, map, pilot, key, expected,
                                       keys * (al.hypotheses + 1), v, want, &g, err)) < 0) {
            goto end;
        } else if (g.signature_valid || (!res->found && g.false_alarm_log10 < res->false_alarm_log10)) {
            describe(acc, &al, &g.geometry);
            *res = g;
        }
    }
    res->frames_read = acc->frames;

    /* where the mark was read: segments whose own pilot correlation is clear
     * (on the nominal grid; with a searched geometry the whole clip is given) */
    res->span[0] = acc->t_first;
    res->span[1] = acc->t_last;
    if (res->found && !res->geometry.searched && acc->nseg > 1) {
        int first = -1, last = -1;
        for (int s = 0; s < acc->nseg; s++) {
            read_normalised(acc->seg[s].tile, v);
            if (correlate(v, pilot) >= SEGMENT_Z) {
                if (first < 0)
                    first = s;
                last = s;
            }
        }
        if (first >= 0) {
            res->span[0] = acc->seg[first].t_first;
            res->span[1] = acc->seg[last].t_last;
        }
    }
end:
    if (map)
        sodium_memzero(map, sizeof(*map));
    free(map);
    free(tile);
    if (pilot_tile)
        sodium_memzero(pilot_tile, sizeof(float) * FM_TILE * FM_TILE);
    free(pilot_tile);
    free(v);
    free(pilot);
    free(want);
    return ret;
}
