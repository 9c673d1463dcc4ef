/*
 * slot_roles - DIAGNOSTIC for bench/attacks/layers.py, not part of any attack:
 * with the detection key, prints the role of every slot of the tile in each
 * epoch, so that an attack's effect can be split by layer.
 *
 *   slot_roles KEY.dkey FIRST_EPOCH LAST_EPOCH
 *
 * One line per epoch: the epoch number, a space, then FM_SLOTS characters in
 * slot order ((block row * 16 + block column) * 20 + coefficient, as
 * fm_tile_read gives them): 's' sync, 'p' pilot, 'd' coded data, 't' content
 * tag. Exit 2 with a one-line error on bad arguments or an unusable key.
 */
#include <stdio.h>
#include <stdlib.h>

#include "keys.h"
#include "pattern.h"

static char role(const FmSlotMap *map, int k)
{
    int b = map->bit[k];
    return b == FM_SLOT_SYNC ? 's' : b == FM_SLOT_PILOT ? 'p' : b == FM_SLOT_TAG ? 't' : 'd';
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: slot_roles KEY.dkey FIRST_EPOCH LAST_EPOCH\n");
        return 2;
    }
    char *end1, *end2;
    long first = strtol(argv[2], &end1, 10), last = strtol(argv[3], &end2, 10);
    if (*end1 || *end2 || first < 0 || last < first || last >= FM_EPOCHS) {
        fprintf(stderr, "slot_roles: epochs must be 0 <= FIRST <= LAST < %d\n", FM_EPOCHS);
        return 2;
    }
    FmError err = { 0 };
    FmKey *key = fm_key_new();
    if (!key || fm_key_load(key, argv[1], FM_KEY_DETECT, &err) < 0) {
        fprintf(stderr, "slot_roles: %s\n", key ? err.msg : "out of memory");
        fm_key_free(&key);
        return 2;
    }
    static FmPatternKeys pk;
    static FmSlotMap map;
    fm_pattern_keys_init(&pk, key->wm_key);
    fm_key_free(&key);
    char line[FM_SLOTS + 1];
    line[FM_SLOTS] = 0;
    for (long e = first; e <= last; e++) {
        fm_slot_map_init(&map, &pk, (uint32_t)e);
        for (int k = 0; k < FM_SLOTS; k++)
            line[k] = role(&map, k);
        printf("%ld %s\n", e, line);
    }
    fm_pattern_keys_wipe(&pk);
    return 0;
}
