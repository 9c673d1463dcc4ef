/*
 * pattern.h - the keyed watermark tile.
 *
 * The mark is a tile of FM_TILE x FM_TILE "mark pixels" repeated over the
 * whole frame (see docs/DESIGN.md). The tile is cut into 8x8 blocks; in each
 * block FM_NCOEF low/mid-frequency DCT coefficients are "slots". A keyed
 * permutation assigns each slot either to one coded message bit or to the
 * pilot (a known keyed pattern used for synchronisation and for the
 * detection statistic); a keyed sign scrambles every slot. Without the
 * watermark key the slots look like white noise in those bands.
 */
#ifndef FM_PATTERN_H
#define FM_PATTERN_H

#include <stdint.h>

#include "fec.h"
#include "keys.h"
#include "payload.h"

#define FM_TILE 128
#define FM_TILE_BLOCKS (FM_TILE / 8)                   /* per side */
#define FM_NCOEF 20                                     /* slots per block */
#define FM_SLOTS (FM_TILE_BLOCKS * FM_TILE_BLOCKS * FM_NCOEF) /* 5120 */
#define FM_CODED_BITS ((int)FM_FEC_CODED_BITS(FM_MESSAGE_BITS)) /* 1872 */
#ifndef FM_PILOTS
#define FM_PILOTS (FM_SLOTS / 8)                            /* 640 */
#endif
#define FM_DATA_SLOTS (FM_SLOTS - FM_PILOTS)                /* 4480 */

/* The FM_NCOEF coefficients used, by frequency (u + v in 1..5). */
extern const uint8_t fm_slot_coef[FM_NCOEF];

typedef struct FmSlotMap {
    /* coded bit carried by the slot, -1 = pilot. The FM_DATA_SLOTS data slots
     * carry the coded bits round-robin (some bits twice), in keyed order. */
    int16_t bit[FM_SLOTS];
    int8_t sign[FM_SLOTS];   /* keyed scrambling sign, +1 or -1 */
} FmSlotMap;

/* Derives the slot map from the watermark key. */
void fm_slot_map_init(FmSlotMap *map, const uint8_t wm_key[FM_WMKEY_BYTES]);

/*
 * The value each slot should carry for a coded message (+1/-1 per slot).
 * coded may be NULL: then data slots are 0 and only the pilot is set.
 */
void fm_slot_values(const FmSlotMap *map, const uint8_t *coded, float values[FM_SLOTS]);

/*
 * Spatial tile (FM_TILE x FM_TILE floats, row-major) for the given slot
 * values, scaled so that a tile with all slots at +/-1 has unit RMS.
 */
void fm_tile_render(const float values[FM_SLOTS], float *tile);

/*
 * Reads the slot values back from a spatial tile (inverse of render: the
 * projection of the tile on each slot's basis function, same scaling).
 */
void fm_tile_read(const float *tile, float values[FM_SLOTS]);

/*
 * Sums a gw x gh plane on the mark grid into one tile: grid sample (x, y)
 * lands on tile sample ((x + ox) mod FM_TILE, (y + oy) mod FM_TILE).
 * ox, oy >= 0.
 */
void fm_tile_fold(const float *plane, int gw, int gh, int ox, int oy, float *tile);

#endif
