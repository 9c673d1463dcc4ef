/*
 * test_pattern.c - the keyed slot map and the watermark tile
 * (common/pattern.c). Nothing here depends on the number of slots, pilots
 * or coefficients: those come from pattern.h.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cell_view.h"
#include "dct.h"
#include "fec.h"
#include "keys.h"
#include "pattern.h"
#include "pool.h"
#include "testutil.h"

static FmSlotMap *map_a, *map_b;
static float *values, *back, *tile;

static void setup(void)
{
    FmError err = { { 0 } };
    cr_assert_eq(fm_init(&err), 0, "%s", err.msg);
    map_a = calloc(1, sizeof *map_a);
    map_b = calloc(1, sizeof *map_b);
    values = calloc(FM_SLOTS, sizeof(float));
    back = calloc(FM_SLOTS, sizeof(float));
    tile = calloc(FM_TILE * FM_TILE, sizeof(float));
    cr_assert(map_a && map_b && values && back && tile);
}

static void teardown(void)
{
    free(map_a);
    free(map_b);
    free(values);
    free(back);
    free(tile);
}

TestSuite(pattern, .init = setup, .fini = teardown);

static void key_bytes(uint8_t key[FM_WMKEY_BYTES], uint32_t seed)
{
    TuRng r;
    tu_rng_seed(&r, seed);
    for (int i = 0; i < FM_WMKEY_BYTES; i++)
        key[i] = (uint8_t)tu_rng_u64(&r);
}

/* The map of one epoch of a raw watermark key. */
static void map_init(FmSlotMap *m, const uint8_t key[FM_WMKEY_BYTES], uint32_t epoch)
{
    FmPatternKeys pk;
    fm_pattern_keys_init(&pk, key);
    fm_slot_map_init(m, &pk, epoch);
    fm_pattern_keys_wipe(&pk);
}

/* Every slot not in the constant sync layer: the epoch's pilot and data. */
#define KNOWN_SLOTS (FM_PILOTS + FM_SYNC_SLOTS)

Test(pattern, constants_are_consistent)
{
    cr_assert_eq(FM_SLOTS, FM_TILE_BLOCKS * FM_TILE_BLOCKS * FM_NCOEF);
    cr_assert_eq(FM_CODED_BITS, FM_POLAR_CODE_N);
    cr_assert_eq(FM_CODED_BITS_V2, (int)FM_FEC_CODED_BITS(FM_MESSAGE_BITS));
    cr_assert_gt(FM_PILOTS, 0);
    cr_assert_geq(FM_DATA_SLOTS, FM_CODED_BITS, "not every coded bit can have a slot");
    /* slot coefficients: distinct, never DC, inside the 8x8 block, among
     * the low ones the tile's DCTs compute (dct.h) */
    for (int c = 0; c < FM_NCOEF; c++) {
        cr_assert_gt(fm_slot_coef[c], 0, "slot %d is the DC coefficient", c);
        cr_assert_lt(fm_slot_coef[c], 64);
        cr_assert_leq(fm_slot_coef[c] % 8 + fm_slot_coef[c] / 8, FM_DCT_LOW,
                      "slot %d's coefficient is not among the low DCT's", c);
        for (int d = 0; d < c; d++)
            cr_assert_neq(fm_slot_coef[c], fm_slot_coef[d], "coefficient used twice");
    }
}

Test(pattern, slot_map_is_deterministic)
{
    uint8_t key[FM_WMKEY_BYTES];
    key_bytes(key, 1);
    map_init(map_a, key, 0);
    memset(map_b, 0x55, sizeof *map_b);
    map_init(map_b, key, 0);
    cr_assert_arr_eq(map_a->bit, map_b->bit, sizeof map_a->bit);
    cr_assert_arr_eq(map_a->sign, map_b->sign, sizeof map_a->sign);
}

Test(pattern, slot_map_roles_and_signs)
{
    uint8_t key[FM_WMKEY_BYTES];
    key_bytes(key, 2);
    map_init(map_a, key, 0);
    int *carried = calloc(FM_CODED_BITS, sizeof(int));
    int pilots = 0, syncs = 0, plus = 0, tags = 0;
    int *tag_slots = calloc(FM_TAG_BITS, sizeof(int));
    for (int k = 0; k < FM_SLOTS; k++) {
        int b = map_a->bit[k];
        cr_assert(b == FM_SLOT_PILOT || b == FM_SLOT_SYNC || b == FM_SLOT_TAG ||
                  (b >= 0 && b < FM_CODED_BITS), "slot %d carries bit %d", k, b);
        cr_assert(map_a->sign[k] == 1 || map_a->sign[k] == -1, "slot %d sign %d", k,
                  map_a->sign[k]);
        if (b == FM_SLOT_PILOT)
            pilots++;
        else if (b == FM_SLOT_SYNC)
            syncs++;
        else if (b == FM_SLOT_TAG)
            tags++, tag_slots[fm_slot_tag_bit(map_a, k)]++;
        else
            carried[b]++;
        plus += map_a->sign[k] > 0;
    }
    cr_assert_eq(pilots, FM_PILOTS);
    cr_assert_eq(syncs, FM_SYNC_SLOTS);
    cr_assert_eq(tags, FM_TAG_SLOTS);
    /* format 4: every coded bit once a frame, every tag bit equally often */
    for (int i = 0; i < FM_CODED_BITS; i++)
        cr_assert_eq(carried[i], 1, "coded bit %d carried %d times", i, carried[i]);
    for (int i = 0; i < FM_TAG_BITS; i++)
        cr_assert_eq(tag_slots[i], FM_TAG_SLOTS / FM_TAG_BITS, "tag bit %d", i);
    free(tag_slots);
    /* keyed signs: about half each way (binomial sd ~ sqrt(N)/2) */
    double sd = sqrt((double)FM_SLOTS) / 2;
    cr_assert_lt(fabs(plus - FM_SLOTS / 2.0), 5 * sd, "%d of %d signs positive", plus, FM_SLOTS);
    free(carried);
}

Test(pattern, every_coded_bit_carried_for_many_keys)
{
    int *carried = calloc(FM_CODED_BITS, sizeof(int));
    for (uint32_t s = 100; s < 120; s++) {
        uint8_t key[FM_WMKEY_BYTES];
        key_bytes(key, s);
        map_init(map_a, key, 0);
        memset(carried, 0, sizeof(int) * FM_CODED_BITS);
        for (int k = 0; k < FM_SLOTS; k++)
            if (map_a->bit[k] >= 0)
                carried[map_a->bit[k]]++;
        for (int i = 0; i < FM_CODED_BITS; i++)
            cr_assert_gt(carried[i], 0, "key %u: coded bit %d has no slot", s, i);
    }
    free(carried);
}

Test(pattern, pilots_are_spread_over_the_tile)
{
    /* The pilot is what detection rests on: it must not pile up in a few
     * blocks or coefficient bands. */
    uint8_t key[FM_WMKEY_BYTES];
    key_bytes(key, 3);
    map_init(map_a, key, 0);
    int per_coef[FM_NCOEF] = { 0 }, blocks_with_pilot = 0;
    for (int b = 0; b < FM_TILE_BLOCKS * FM_TILE_BLOCKS; b++) {
        int any = 0;
        for (int c = 0; c < FM_NCOEF; c++)
            if (map_a->bit[b * FM_NCOEF + c] < 0) {
                per_coef[c]++;
                any = 1;
            }
        blocks_with_pilot += any;
    }
    double expect = (double)KNOWN_SLOTS / FM_NCOEF;
    for (int c = 0; c < FM_NCOEF; c++)
        cr_assert(per_coef[c] > expect / 2 && per_coef[c] < expect * 2,
                  "coefficient %d has %d pilots (expected ~%.0f)", c, per_coef[c], expect);
    /* P(block without pilot) = (1 - pilots/slots)^ncoef */
    double p_empty = pow(1 - (double)KNOWN_SLOTS / FM_SLOTS, FM_NCOEF);
    double want = (1 - p_empty) * FM_TILE_BLOCKS * FM_TILE_BLOCKS;
    cr_assert_gt(blocks_with_pilot, 0.8 * want, "%d blocks with a pilot slot, expected ~%.0f",
                 blocks_with_pilot, want);
}

Test(pattern, different_keys_give_different_maps)
{
    for (uint32_t s = 10; s < 15; s++) {
        uint8_t ka[FM_WMKEY_BYTES], kb[FM_WMKEY_BYTES];
        key_bytes(ka, s);
        memcpy(kb, ka, sizeof kb);
        kb[FM_WMKEY_BYTES - 1] ^= 1;   /* one bit apart */
        map_init(map_a, ka, 0);
        map_init(map_b, kb, 0);
        int differ = 0, same_pilot = 0;
        for (int k = 0; k < FM_SLOTS; k++) {
            differ += map_a->bit[k] != map_b->bit[k] || map_a->sign[k] != map_b->sign[k];
            same_pilot += map_a->bit[k] < 0 && map_b->bit[k] < 0;
        }
        cr_assert_gt(differ, FM_SLOTS * 0.9, "only %d of %d slots differ", differ, FM_SLOTS);
        /* pilot overlap close to chance: pilots^2 / slots */
        double chance = (double)KNOWN_SLOTS * KNOWN_SLOTS / FM_SLOTS;
        cr_assert_lt(same_pilot, 2 * chance + 10, "%d shared pilot slots (chance %.0f)",
                     same_pilot, chance);
    }
}

Test(pattern, slot_values)
{
    uint8_t key[FM_WMKEY_BYTES];
    key_bytes(key, 4);
    map_init(map_a, key, 0);
    TuRng r;
    tu_rng_seed(&r, 5);
    uint8_t *coded = malloc(FM_CODED_BITS);
    for (int i = 0; i < FM_CODED_BITS; i++)
        coded[i] = (uint8_t)(tu_rng_u64(&r) & 1);
    uint8_t tag[FM_TAG_BITS];
    for (int i = 0; i < FM_TAG_BITS; i++)
        tag[i] = (uint8_t)(tu_rng_u64(&r) & 1);
    fm_slot_values(map_a, coded, values);   /* tag slots silent until a tag is set */
    for (int k = 0; k < FM_SLOTS; k++) {
        int b = map_a->bit[k];
        float want = (b == FM_SLOT_TAG ? 0.0f : b == FM_SLOT_SYNC ? FM_SYNC_GAIN
                      : b < 0 ? 1.0f : coded[b] ? 1.0f : -1.0f) * map_a->sign[k];
        cr_assert_eq(values[k], want, "slot %d", k);
    }
    fm_slot_map_set_tag(map_a, tag);
    fm_slot_values(map_a, coded, values);
    for (int k = 0; k < FM_SLOTS; k++) {
        int b = map_a->bit[k];
        float want = (b == FM_SLOT_TAG ? (tag[fm_slot_tag_bit(map_a, k)] ? 1.0f : -1.0f)
                      : b == FM_SLOT_SYNC ? FM_SYNC_GAIN
                      : b < 0 ? 1.0f : coded[b] ? 1.0f : -1.0f) * map_a->sign[k];
        cr_assert_eq(values[k], want, "slot %d", k);
    }
    fm_slot_map_set_tag(map_a, NULL);
    fm_slot_values(map_a, NULL, values);   /* pilot only */
    for (int k = 0; k < FM_SLOTS; k++)
        cr_assert_eq(values[k], map_a->bit[k] == FM_SLOT_SYNC ? FM_SYNC_GAIN * map_a->sign[k]
                                : map_a->bit[k] < 0 && map_a->bit[k] != FM_SLOT_TAG
                                    ? (float)map_a->sign[k] : 0.0f, "slot %d", k);
    free(coded);
}

static double tile_rms(const float *t)
{
    double ss = 0;
    for (int i = 0; i < FM_TILE * FM_TILE; i++)
        ss += (double)t[i] * t[i];
    return sqrt(ss / (FM_TILE * FM_TILE));
}

Test(pattern, render_read_round_trip_random_values)
{
    TuRng r;
    tu_rng_seed(&r, 6);
    for (int t = 0; t < 3; t++) {
        for (int k = 0; k < FM_SLOTS; k++)
            values[k] = (float)(tu_rng_gauss(&r) * (t + 1));
        fm_tile_render(values, tile);
        fm_tile_read(tile, back);
        for (int k = 0; k < FM_SLOTS; k++)
            cr_assert_lt(fabsf(back[k] - values[k]), 1e-3f, "slot %d: %g -> %g", k, values[k],
                         back[k]);
    }
}

Test(pattern, render_read_round_trip_marked_message)
{
    uint8_t key[FM_WMKEY_BYTES];
    key_bytes(key, 7);
    map_init(map_a, key, 0);
    TuRng r;
    tu_rng_seed(&r, 8);
    uint8_t bits[FM_MESSAGE_BITS], coded[FM_CODED_BITS];
    for (int i = 0; i < (int)FM_MESSAGE_BITS; i++)
        bits[i] = (uint8_t)(tu_rng_u64(&r) & 1);
    cr_assert_eq(fm_msgcode_encode(bits, coded), 0);
    fm_slot_values(map_a, coded, values);
    fm_tile_render(values, tile);
    fm_tile_read(tile, back);
    for (int k = 0; k < FM_SLOTS; k++)
        cr_assert_lt(fabsf(back[k] - values[k]), 1e-3f, "slot %d: %g -> %g", k, values[k],
                     back[k]);
    /* and the whole chain: soft values from the read tile decode the message */
    float *soft = calloc(FM_CODED_BITS, sizeof(float));
    for (int k = 0; k < FM_SLOTS; k++)
        if (map_a->bit[k] >= 0)
            soft[map_a->bit[k]] += back[k] * map_a->sign[k];
    uint8_t got[FM_MESSAGE_BITS];
    int found = 0;
    cr_assert_eq(fm_msgcode_decode_list(soft, 1, got, &found), 0);
    cr_assert_eq(found, 1);
    cr_assert_arr_eq(got, bits, sizeof bits);
    /* every data rank is in the map once, and carries its rank's bit */
    int *seen = calloc(FM_DATA_SLOTS, sizeof(int));
    for (int k = 0; k < FM_SLOTS; k++)
        if (map_a->rank[k] >= 0) {
            seen[map_a->rank[k]]++;
            cr_assert_eq(map_a->bit[k], map_a->rank[k] < FM_CODED_BITS ? map_a->rank[k]
                                                                       : FM_SLOT_TAG);
        } else {
            cr_assert_eq(map_a->rank[k], map_a->bit[k]);
        }
    for (int rk = 0; rk < FM_DATA_SLOTS; rk++)
        cr_assert_eq(seen[rk], 1, "rank %d", rk);
    free(seen);
    free(soft);
}

Test(pattern, tile_has_unit_rms)
{
    uint8_t key[FM_WMKEY_BYTES];
    for (uint32_t s = 20; s < 25; s++) {
        key_bytes(key, s);
        map_init(map_a, key, 0);
        uint8_t coded[FM_CODED_BITS];
        TuRng r;
        tu_rng_seed(&r, s);
        for (int i = 0; i < FM_CODED_BITS; i++)
            coded[i] = (uint8_t)(tu_rng_u64(&r) & 1);
        uint8_t tag[FM_TAG_BITS];
        for (int i = 0; i < FM_TAG_BITS; i++)
            tag[i] = (uint8_t)(tu_rng_u64(&r) & 1);
        fm_slot_map_set_tag(map_a, tag);   /* every slot carries +/-1 */
        fm_slot_values(map_a, coded, values);
        fm_tile_render(values, tile);
        double rms = tile_rms(tile);
        cr_assert_lt(fabs(rms - 1.0), 1e-3, "tile RMS %g", rms);
    }
    /* every slot positive at its amplitude (the sync slots' FM_SYNC_GAIN) too */
    for (int k = 0; k < FM_SLOTS; k++)
        values[k] = map_a->bit[k] == FM_SLOT_SYNC ? FM_SYNC_GAIN : 1.0f;
    fm_tile_render(values, tile);
    cr_assert_lt(fabs(tile_rms(tile) - 1.0), 1e-3, "tile RMS %g", tile_rms(tile));
}

Test(pattern, tile_has_no_dc_and_only_slot_coefficients)
{
    TuRng r;
    tu_rng_seed(&r, 9);
    for (int k = 0; k < FM_SLOTS; k++)
        values[k] = tu_rng_uniform(&r) < 0.5 ? -1.0f : 1.0f;
    fm_tile_render(values, tile);
    int is_slot[64] = { 0 };
    for (int c = 0; c < FM_NCOEF; c++)
        is_slot[fm_slot_coef[c]] = 1;
    for (int by = 0; by < FM_TILE_BLOCKS; by++)
        for (int bx = 0; bx < FM_TILE_BLOCKS; bx++) {
            float coef[64];
            fm_dct8x8(tile + by * 8 * FM_TILE + bx * 8, FM_TILE, coef);
            for (int i = 0; i < 64; i++)
                if (!is_slot[i])
                    cr_assert_lt(fabsf(coef[i]), 1e-4f, "block (%d,%d) coefficient %d = %g", bx,
                                 by, i, coef[i]);
        }
}

Test(pattern, render_is_linear_and_slots_independent)
{
    /* one slot at a time reads back as itself and nothing else */
    TuRng r;
    tu_rng_seed(&r, 10);
    for (int t = 0; t < 20; t++) {
        int k0 = (int)tu_rng_below(&r, FM_SLOTS);
        memset(values, 0, sizeof(float) * FM_SLOTS);
        values[k0] = 1.0f;
        fm_tile_render(values, tile);
        fm_tile_read(tile, back);
        for (int k = 0; k < FM_SLOTS; k++)
            cr_assert_lt(fabsf(back[k] - (k == k0)), 1e-4f, "slot %d leaks into %d: %g", k0, k,
                         back[k]);
    }
}

/* Format 2: every epoch has its own variant, reproducible from the key. */
Test(pattern, epochs_give_different_reproducible_variants)
{
    uint8_t key[FM_WMKEY_BYTES], other[FM_WMKEY_BYTES];
    key_bytes(key, 30);
    key_bytes(other, 31);
    static const uint32_t epochs[] = { 0, 1, 2, 77, FM_EPOCHS - 1 };
    for (size_t i = 0; i < sizeof epochs / sizeof epochs[0]; i++) {
        map_init(map_a, key, epochs[i]);
        map_init(map_b, key, epochs[i]);
        cr_assert_arr_eq(map_a->bit, map_b->bit, sizeof map_a->bit, "epoch %u", epochs[i]);
        cr_assert_arr_eq(map_a->sign, map_b->sign, sizeof map_a->sign);
        cr_assert_eq(map_a->epoch, epochs[i]);
        /* the next epoch and another key: the pilot and the data layer differ
         * in almost every slot; the sync layer is the same for one key */
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 0)
                map_init(map_b, key, (epochs[i] + 1) % FM_EPOCHS);
            else
                map_init(map_b, other, epochs[i]);
            int same = 0, sync_same = 0, free_slots = 0;
            for (int k = 0; k < FM_SLOTS; k++) {
                if (map_a->bit[k] == FM_SLOT_SYNC) {
                    sync_same += map_b->bit[k] == FM_SLOT_SYNC && map_b->sign[k] == map_a->sign[k];
                    continue;
                }
                free_slots++;
                same += map_b->bit[k] == map_a->bit[k] && map_b->sign[k] == map_a->sign[k];
            }
            cr_assert_lt(same, free_slots / 20, "epoch %u pass %d: %d of %d slots unchanged",
                         epochs[i], pass, same, free_slots);
            if (pass == 0)
                cr_assert_eq(sync_same, FM_SYNC_SLOTS, "the sync layer is constant in time");
            else
                cr_assert_lt(sync_same, FM_SYNC_SLOTS / 4, "another key, another sync layer");
        }
    }
}

Test(pattern, epoch_pilot_matches_the_map)
{
    uint8_t key[FM_WMKEY_BYTES];
    key_bytes(key, 32);
    FmPatternKeys pk;
    FmEpochPilot pilot;
    fm_pattern_keys_init(&pk, key);
    for (uint32_t e = 0; e < 50; e += 7) {
        fm_slot_map_init(map_a, &pk, e);
        fm_epoch_pilot(&pk, e, &pilot);
        for (int r = 0; r < FM_PILOTS; r++) {
            cr_assert_eq(map_a->bit[pilot.slot[r]], FM_SLOT_PILOT, "epoch %u pilot %d", e, r);
            cr_assert_eq(map_a->sign[pilot.slot[r]], pilot.sign[r]);
        }
    }
    /* the sync values are the map's periodic sync slots: the same in every
     * cell (no flip word); the cell-id slots, signed per cell, are left out */
    fm_sync_values(&pk, values);
    int periodic = 0, cell_id = 0;
    for (int k = 0; k < FM_SLOTS; k++) {
        int sync = map_a->bit[k] == FM_SLOT_SYNC;
        cr_assert_eq(values[k], sync && !map_a->cell_flip[k] ? (float)map_a->sign[k] : 0.0f);
        periodic += sync && !map_a->cell_flip[k];
        cell_id += sync && map_a->cell_flip[k];
    }
    cr_assert_eq(periodic, FM_SYNC_SLOTS - FM_CELL_ID_SLOTS);
    cr_assert_eq(cell_id, FM_CELL_ID_SLOTS);  /* a flip word of 0 has chance 2^-32 */
    /* the pilot's cell signs are the map's */
    fm_slot_map_init(map_a, &pk, 49);
    fm_epoch_pilot(&pk, 49, &pilot);
    for (int r = 0; r < FM_PILOTS; r++)
        cr_assert_eq(map_a->cell_flip[pilot.slot[r]], pilot.cell_flip[r], "pilot %d", r);
    fm_pattern_keys_wipe(&pk);
}

/* The geometry search folds each resampled plane once and moves the sums
 * for the flipped candidates: the same bits as folding it flipped. */
Test(pattern, flipped_folds_are_the_unflipped_fold_moved)
{
    static const int size[][2] = { { 128, 128 }, { 301, 173 }, { 97, 255 }, { 640, 360 },
                                   { 129, 1 } };
    TuRng rng;
    tu_rng_seed(&rng, 5);
    float *fold = malloc(sizeof(float) * FM_TILE * FM_TILE),
          *moved = malloc(sizeof(float) * FM_TILE * FM_TILE);
    cr_assert(fold && moved);
    for (size_t i = 0; i < sizeof size / sizeof size[0]; i++) {
        int gw = size[i][0], gh = size[i][1];
        float *plane = malloc(sizeof(float) * (size_t)gw * gh);
        cr_assert(plane);
        for (int k = 0; k < gw * gh; k++)
            plane[k] = (float)tu_rng_gauss(&rng);
        fm_tile_fold(plane, gw, gh, 0, 0, fold);
        for (int f = 0; f < 4; f++) {
            fm_tile_fold_flipped(plane, gw, gh, f & 1, f >> 1, 0, 0, tile);
            fm_tile_fold_flip(fold, gw, gh, f & 1, f >> 1, moved);
            cr_assert(memcmp(tile, moved, sizeof(float) * FM_TILE * FM_TILE) == 0,
                      "%dx%d flips %d", gw, gh, f);
        }
        free(plane);
    }
    free(fold);
    free(moved);
}

/* The epoch search's index of the pilots by slot gives every epoch's pilot
 * sum as the per-epoch sum does (the same terms, added in slot order). */
Test(pattern, pilot_index_gives_every_epochs_pilot_sum)
{
    uint8_t key[FM_WMKEY_BYTES];
    key_bytes(key, 33);
    FmPatternKeys pk;
    fm_pattern_keys_init(&pk, key);
    FmEpochPilot *pilots = malloc(sizeof(FmEpochPilot) * FM_EPOCHS);
    cr_assert(pilots);
    for (uint32_t n = 0; n < FM_EPOCHS; n++)
        fm_epoch_pilot(&pk, n, &pilots[n]);
    /* built on two threads and on the caller's alone: the same index, each
     * slot's epochs ascending */
    FmPilotIndex ix, one;
    FmPool *pool = NULL;
    cr_assert_eq(fm_pool_new(&pool, 2), 0);
    cr_assert_eq(fm_pilot_index_init(&ix, pilots, pool), 0);
    fm_pool_free(&pool);
    cr_assert_eq(fm_pilot_index_init(&one, pilots, NULL), 0);
    cr_assert_eq(ix.start[0], 0);
    cr_assert_eq(ix.start[FM_SLOTS], (uint32_t)FM_EPOCHS * FM_PILOTS);
    size_t entries = (size_t)FM_EPOCHS * FM_PILOTS;
    cr_assert_eq(memcmp(ix.start, one.start, sizeof(ix.start)), 0);
    cr_assert_eq(memcmp(ix.flip, one.flip, sizeof(uint32_t) * entries), 0);
    cr_assert_eq(memcmp(ix.epoch, one.epoch, sizeof(uint16_t) * entries), 0);
    cr_assert_eq(memcmp(ix.sign, one.sign, sizeof(int8_t) * entries), 0);
    fm_pilot_index_free(&one);
    for (int k = 0; k < FM_SLOTS; k++)
        for (uint32_t i = ix.start[k] + 1; i < ix.start[k + 1]; i++)
            cr_assert_leq(ix.epoch[i - 1], ix.epoch[i], "slot %d: epochs out of order", k);
    FmCells cells = { 5, 3 };
    int nc = fm_cells_count(cells);
    float *raw = malloc(sizeof(float) * FM_SLOTS * (size_t)nc);
    double *s = malloc(sizeof(double) * FM_EPOCHS), *q = malloc(sizeof(double) * FM_EPOCHS);
    cr_assert(raw && s && q);
    TuRng rng;
    tu_rng_seed(&rng, 77);
    for (size_t i = 0; i < (size_t)FM_SLOTS * nc; i++)
        raw[i] = (float)tu_rng_gauss(&rng);
    for (int plain = 0; plain < 2; plain++) {
        FmCellView cv;
        if (plain)
            fm_cell_view_init_plain(&cv, cells);
        else
            fm_cell_view_init(&cv, cells, 3, 1);
        float *lanes = malloc(sizeof(float) * (size_t)fm_cell_view_floats(&cv));
        float energy[FM_SLOTS];
        cr_assert(lanes);
        fm_cell_view_load(&cv, raw, lanes, energy);
        fm_cell_view_pilots(&cv, lanes, energy, &ix, s, q);
        for (uint32_t n = 0; n < FM_EPOCHS; n++) {
            double s1, q1;
            fm_cell_view_pilot(&cv, lanes, energy, &pilots[n], &s1, &q1);
            cr_assert(fabs(s[n] - s1) <= 1e-9 * (1 + fabs(s1)), "epoch %u: %g vs %g", n, s[n], s1);
            cr_assert(fabs(q[n] - q1) <= 1e-9 * (1 + fabs(q1)), "epoch %u: %g vs %g", n, q[n], q1);
        }
        free(lanes);
    }
    fm_pilot_index_free(&ix);
    cr_assert_null(ix.flip);
    free(raw);
    free(s);
    free(q);
    free(pilots);
    fm_pattern_keys_wipe(&pk);
}

Test(pattern, epoch_of_a_time)
{
    cr_assert_eq(fm_epoch_at(-3), 0u);
    cr_assert_eq(fm_epoch_at(0), 0u);
    cr_assert_eq(fm_epoch_at(FM_EPOCH_SECONDS - 0.001), 0u);
    cr_assert_eq(fm_epoch_at(FM_EPOCH_SECONDS), 1u);
    cr_assert_eq(fm_epoch_at(10 * FM_EPOCH_SECONDS + 0.5), 10u);
    cr_assert_eq(fm_epoch_at(FM_EPOCHS * FM_EPOCH_SECONDS + 0.5), 0u, "the sequence wraps");
}

/* The fold as geometry.c and still.c each wrote it before they shared
 * fm_tile_fold_flipped: the reference it must match bit for bit. */
static void fold_reference(const float *plane, int w, int h, int fh, int fv, int ox, int oy,
                           float *out)
{
    memset(out, 0, sizeof(float) * FM_TILE * FM_TILE);
    for (int y = 0; y < h; y++) {
        int yy = fv ? h - 1 - y : y;
        float *t = out + (size_t)((yy + oy) % FM_TILE) * FM_TILE;
        const float *p = plane + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            int xx = fh ? w - 1 - x : x;
            t[(xx + ox) % FM_TILE] += p[x];
        }
    }
}

Test(pattern, fold_with_flips_matches_the_reference_bit_for_bit)
{
    static const int size[][2] = { { 1, 1 }, { 127, 129 }, { 300, 170 }, { 513, 260 } };
    float *want = malloc(sizeof(float) * FM_TILE * FM_TILE);
    cr_assert_not_null(want);
    srand(7);
    for (size_t s = 0; s < sizeof(size) / sizeof(size[0]); s++) {
        int w = size[s][0], h = size[s][1];
        float *plane = malloc(sizeof(float) * (size_t)w * h);
        cr_assert_not_null(plane);
        for (int i = 0; i < w * h; i++)
            plane[i] = (float)rand() / RAND_MAX * 2 - 1;
        for (int f = 0; f < 4; f++) {
            int fh = f & 1, fv = f >> 1, ox = rand() % FM_TILE, oy = rand() % FM_TILE;
            fold_reference(plane, w, h, fh, fv, ox, oy, want);
            fm_tile_fold_flipped(plane, w, h, fh, fv, ox, oy, tile);
            cr_assert_eq(memcmp(tile, want, sizeof(float) * FM_TILE * FM_TILE), 0,
                         "%dx%d flips %d,%d shift %d,%d", w, h, fh, fv, ox, oy);
            if (!fh && !fv) {
                fm_tile_fold(plane, w, h, ox, oy, tile);
                cr_assert_eq(memcmp(tile, want, sizeof(float) * FM_TILE * FM_TILE), 0);
            }
        }
        free(plane);
    }
    free(want);
}

/* Band weights from pilot sums drawn with unit-variance noise around the
 * given true responses (seeded: the same every run). */
static void draw_pilots(const double *truth, int per_band, unsigned seed, double *sum, int *cnt)
{
    srand(seed);
    for (int c = 0; c < FM_NCOEF; c++) {
        sum[c] = 0;
        for (int i = 0; i < per_band; i++) {
            /* Box-Muller */
            double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = (rand() + 1.0) / (RAND_MAX + 2.0);
            sum[c] += truth[c] + sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
        }
        cnt[c] = per_band;
    }
}

/* The frequency class u + v - 1 of band c. */
static int band_frequency(int c)
{
    return fm_slot_coef[c] % 8 + fm_slot_coef[c] / 8 - 1;
}

Test(pattern, band_weights_pool_a_frequency_class_when_its_bands_agree)
{
    /* an isotropic loss: every band of a frequency class responds alike,
     * less in the higher classes */
    double truth[FM_NCOEF], sum[FM_NCOEF];
    int cnt[FM_NCOEF];
    for (int c = 0; c < FM_NCOEF; c++)
        truth[c] = 0.5 - 0.1 * band_frequency(c);
    float w[FM_NCOEF];
    draw_pilots(truth, 2000, 7, sum, cnt);
    fm_band_weights(sum, cnt, FM_BAND_WEIGHT_FLOOR, w);
    /* the weights of a class stay close together and near the class's
     * response (a class mean's noise is at most 1 / sqrt(2 x 2000) = 0.016) */
    for (int k = 0; k <= band_frequency(FM_NCOEF - 1); k++) {
        float lo = INFINITY, hi = -INFINITY;
        for (int c = 0; c < FM_NCOEF; c++)
            if (band_frequency(c) == k) {
                lo = fminf(lo, w[c]);
                hi = fmaxf(hi, w[c]);
            }
        cr_expect_lt(hi - lo, 0.06, "class %d: weights %.3f .. %.3f", k, lo, hi);
        cr_expect_lt(fabs(0.5 * (hi + lo) - (0.5 - 0.1 * k)), 0.06, "class %d: %.3f .. %.3f", k,
                     lo, hi);
    }
}

Test(pattern, band_weights_follow_bands_that_clearly_differ)
{
    /* an anisotropic loss: in each class the bands along one axis keep the
     * mark, the others lost it (an attacker's estimate good along one axis,
     * a squeeze) */
    double truth[FM_NCOEF], sum[FM_NCOEF];
    int cnt[FM_NCOEF];
    for (int c = 0; c < FM_NCOEF; c++)
        truth[c] = (fm_slot_coef[c] % 8) >= (fm_slot_coef[c] / 8) ? 0.5 : 0.0;
    float w[FM_NCOEF];
    draw_pilots(truth, 150, 11, sum, cnt);
    fm_band_weights(sum, cnt, FM_BAND_WEIGHT_FLOOR, w);
    double kept = 0, lost = 0;
    int nk = 0, nl = 0;
    for (int c = 0; c < FM_NCOEF; c++) {
        if (truth[c] > 0) {
            kept += w[c];
            nk++;
        } else {
            lost += w[c];
            nl++;
        }
        cr_expect_geq(w[c], (float)FM_BAND_WEIGHT_FLOOR, "the floor holds");
    }
    cr_expect_gt(kept / nk, 0.4, "bands with the mark: mean weight %.3f", kept / nk);
    cr_expect_lt(lost / nl, 0.1, "bands without: mean weight %.3f", lost / nl);
}

Test(pattern, band_weights_of_a_band_without_pilots_are_its_class_mean)
{
    double sum[FM_NCOEF] = { 0 };
    int cnt[FM_NCOEF] = { 0 };
    for (int c = 0; c < FM_NCOEF; c++) {
        cnt[c] = 100;
        sum[c] = 30;  /* mean 0.3 */
    }
    cnt[3] = 0;
    sum[3] = 0;
    float w[FM_NCOEF];
    fm_band_weights(sum, cnt, FM_BAND_WEIGHT_FLOOR, w);
    for (int c = 0; c < FM_NCOEF; c++)
        cr_expect_float_eq(w[c], 0.3f, 1e-5, "band %d: %f", c, w[c]);
    /* no pilots at all: the floor */
    memset(cnt, 0, sizeof(cnt));
    fm_band_weights(sum, cnt, FM_BAND_WEIGHT_FLOOR, w);
    for (int c = 0; c < FM_NCOEF; c++)
        cr_expect_float_eq(w[c], (float)FM_BAND_WEIGHT_FLOOR, 1e-7);
}
