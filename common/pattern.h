/*
 * pattern.h - the keyed watermark tile, a new variant every epoch.
 *
 * The mark is a tile of FM_TILE x FM_TILE "mark pixels" repeated over the
 * whole frame (see docs/DESIGN.md). The tile is cut into 8x8 blocks; in each
 * block FM_NCOEF low/mid-frequency DCT coefficients are "slots". Slots have
 * three roles:
 *   - sync (FM_SYNC_SLOTS): a keyed +/-1 pattern that is the same in every
 *     frame; only the geometry search (crops, flips, aspect) aligns on it;
 *   - pilot (FM_PILOTS): a keyed +/-1 pattern of the epoch, the detection
 *     statistic and the epoch's synchronisation;
 *   - data (FM_DATA_SLOTS): the coded message bits, round-robin.
 * Format 2 changes the pilot and data layer every FM_EPOCH_SECONDS of master
 * time: epoch n has its own keyed choice of pilot slots, its own keyed order
 * of the coded bits over the data slots and its own keyed scrambling signs
 * (ChaCha20 with n as the nonce). Averaging the frames of a copy therefore
 * does not converge on the mark: each variant lives for one epoch only, and
 * the sequence repeats only after FM_EPOCHS epochs. Without the watermark
 * key the slots look like white noise in those bands.
 */
#ifndef FM_PATTERN_H
#define FM_PATTERN_H

#include <stdint.h>

#include "content_tag.h"
#include "msgcode.h"
#include "keys.h"
#include "payload.h"

#define FM_TILE 128
#define FM_TILE_BLOCKS (FM_TILE / 8)                   /* per side */
#define FM_NCOEF 20                                     /* slots per block */
#define FM_SLOTS (FM_TILE_BLOCKS * FM_TILE_BLOCKS * FM_NCOEF) /* 5120 */
#define FM_SYNC_SLOTS 256                               /* constant, for geometry */
/* Format 7: the first FM_CELL_ID_SLOTS of the sync slots are constant in
 * time too, but signed per cell (a keyed flip word each, the same in every
 * epoch): they tell a crop or a boxed copy which cell of the mark its
 * first one is. The others are the same in every cell: the periodic sync
 * the geometry search aligns on (fm_sync_values). */
#define FM_CELL_ID_SLOTS 64
/* Format 7: the sync slots' amplitude, the others' 1. The cells take the
 * epoch layers' periodicity away (that is their point), and with it what
 * the geometry search measured periods and turns on; the constant layer
 * carries it alone, so it gets a larger share of the mark's energy. */
#ifndef FM_SYNC_GAIN
#define FM_SYNC_GAIN 2.0f
#endif
#define FM_PILOTS 512                                   /* per epoch */
#define FM_FREE_SLOTS (FM_SLOTS - FM_SYNC_SLOTS)        /* 4864: pilot + data */
#define FM_DATA_SLOTS (FM_FREE_SLOTS - FM_PILOTS)       /* 4352 */
/* Format 4: the data ranks beyond the coded bits carry the content tag
 * (content_tag.h), FM_TAG_SLOTS / FM_TAG_BITS slots a tag bit. */
#define FM_TAG_SLOTS (FM_DATA_SLOTS - FM_CODED_BITS)    /* 256 */

/*
 * Format 7: cells. The mark grid is cut into FM_TILE-square cells from its
 * top-left corner; cell (cx, cy) has the identity
 * (cy mod FM_CELLS_Y) * FM_CELLS_X + (cx mod FM_CELLS_X). Every cell carries
 * the epoch's whole tile, but each pilot and data slot of it with a keyed
 * sign of its own for that epoch and cell (the sync layer is the same in
 * every cell). Folding the grid at the tile period therefore adds
 * independent random signs: an attacker cannot average a frame's ~15 tile
 * repetitions into a cleaner estimate of the mark (docs/DESIGN.md section
 * 10), while the detector, which knows the signs once it knows the epoch,
 * undoes them before it sums the cells.
 */
#define FM_CELLS_X 8
#define FM_CELLS_Y 4
#define FM_CELLS (FM_CELLS_X * FM_CELLS_Y)

/* The cells a plane of gw x gh mark pixels shows from its top-left corner:
 * nx across, ny down (at most FM_CELLS_X, FM_CELLS_Y: a wider plane folds
 * at that period). */
typedef struct FmCells {
    int nx, ny;
} FmCells;

static inline FmCells fm_cells_of(int gw, int gh)
{
    int nx = (gw + FM_TILE - 1) / FM_TILE, ny = (gh + FM_TILE - 1) / FM_TILE;
    FmCells c = { nx < 1 ? 1 : nx > FM_CELLS_X ? FM_CELLS_X : nx,
                  ny < 1 ? 1 : ny > FM_CELLS_Y ? FM_CELLS_Y : ny };
    return c;
}

static inline int fm_cells_count(FmCells c)
{
    return c.nx * c.ny;
}

/* The identity of stored cell i (row-major over nx x ny) when the plane's
 * top-left cell is cell (kx, ky) of the mark (0 for a whole picture). */
static inline int fm_cell_id(FmCells c, int i, int kx, int ky)
{
    return ((i / c.nx + ky) % FM_CELLS_Y) * FM_CELLS_X + (i % c.nx + kx) % FM_CELLS_X;
}

/* The sign of a slot in cell id: flip holds one bit per cell identity. */
static inline float fm_cell_sign(uint32_t flip, int id)
{
    /* 1 - 2 bit: no branch on the key's bits (the loops over slots are
     * long, the bits random) */
    return 1.0f - 2.0f * (float)((flip >> id) & 1);
}

/* Seconds of master time one pattern variant lasts. */
#define FM_EPOCH_SECONDS 2.0
/* Variants before the sequence repeats: 4096 x 2 s = 2 h 16 min 32 s. */
#define FM_EPOCHS 4096

/* Slot roles in FmSlotMap.bit (>= 0: the coded bit carried). */
#define FM_SLOT_PILOT (-1)
#define FM_SLOT_SYNC (-2)
#define FM_SLOT_TAG (-3)   /* rank - FM_CODED_BITS, mod FM_TAG_BITS: the tag bit */

/*
 * Maximum-ratio combining of the bands: a band's slots count in proportion to
 * the mean mark response its pilots show there (bands at unit variance),
 * never less than least, so that a band the pilots miss still counts a
 * little. The detectors (video and still) floor at FM_BAND_WEIGHT_FLOOR; the
 * informed embedder, which sees the mark without a codec's noise, weighs its
 * bits as the detector will but floors at FM_BAND_WEIGHT_FLOOR_INFORMED.
 */
#define FM_BAND_WEIGHT_FLOOR 0.02
#define FM_BAND_WEIGHT_FLOOR_INFORMED 1e-3
static inline float fm_band_weight(double mean_response, double least)
{
    return (float)(mean_response > least ? mean_response : least);
}

/* The FM_NCOEF coefficients used, by frequency (u + v in 1..5). */
extern const uint8_t fm_slot_coef[FM_NCOEF];

/*
 * The video detector's band weights from the pilots: sum[c] the sum of band c's
 * pilots' signed values (bands at unit variance), cnt[c] their number.
 * Each band weighs its own mean response shrunk towards the mean of its
 * frequency class u + v (empirical Bayes): pooled when the bands of a class
 * differ no more than the pilots' noise makes them (codecs, blur and
 * down-scaling attenuate by frequency), its own when they clearly differ (an
 * anisotropic loss: a squeeze, a motion blur, an estimate of the mark better
 * along one axis). Floored at least (fm_band_weight).
 */
void fm_band_weights(const double sum[FM_NCOEF], const int cnt[FM_NCOEF], double least,
                     float weight[FM_NCOEF]);

typedef struct FmSlotMap {
    /* coded bit carried by the slot, or FM_SLOT_PILOT / FM_SLOT_SYNC /
     * FM_SLOT_TAG. The first FM_CODED_BITS data ranks of the epoch's keyed
     * order carry the coded bits, the other FM_TAG_SLOTS the content tag
     * (format 3 carried coded bits round-robin there). */
    int16_t bit[FM_SLOTS];
    /* data rank of the slot in the epoch's keyed order (0 .. FM_DATA_SLOTS-1;
     * rank r carries coded bit r % FM_CODED_BITS), or FM_SLOT_PILOT /
     * FM_SLOT_SYNC: the same for any code length */
    int16_t rank[FM_SLOTS];
    int8_t sign[FM_SLOTS];   /* keyed scrambling sign, +1 or -1 */
    /* format 7: the slot's sign in each cell, one bit per cell identity
     * (set: negated there); 0 on sync slots */
    uint32_t cell_flip[FM_SLOTS];
    uint32_t epoch;
    /* the tag bits fm_slot_values writes (+1 / -1), or 0: tag slots silent */
    int8_t tag[FM_TAG_BITS];
} FmSlotMap;

/*
 * What a watermark key expands to for the pattern: the epoch subkey and the
 * constant sync layer. Secret (it locates the mark): wipe with
 * fm_pattern_keys_wipe().
 */
typedef struct FmPatternKeys {
    uint8_t epoch_key[32];
    uint16_t sync_slot[FM_SYNC_SLOTS];
    int8_t sync_sign[FM_SYNC_SLOTS];
    uint16_t free_slot[FM_FREE_SLOTS];   /* the other slots, ascending */
    uint32_t cell_id_flip[FM_CELL_ID_SLOTS];  /* of sync slots 0 .. FM_CELL_ID_SLOTS - 1 */
} FmPatternKeys;

/* One epoch's pilot: the slots and their signs (cheaper than a whole map). */
typedef struct FmEpochPilot {
    uint16_t slot[FM_PILOTS];
    int8_t sign[FM_PILOTS];
    uint32_t cell_flip[FM_PILOTS];   /* as FmSlotMap.cell_flip */
} FmEpochPilot;

void fm_pattern_keys_init(FmPatternKeys *pk, const uint8_t wm_key[FM_WMKEY_BYTES]);
void fm_pattern_keys_wipe(FmPatternKeys *pk);

/* The epoch of master time t seconds (t < 0 counts as 0), modulo FM_EPOCHS. */
uint32_t fm_epoch_at(double t);

/* Derives the slot map of an epoch (0 <= epoch < FM_EPOCHS). */
void fm_slot_map_init(FmSlotMap *map, const FmPatternKeys *pk, uint32_t epoch);

/* The pilot of an epoch: the same slots and signs fm_slot_map_init gives. */
void fm_epoch_pilot(const FmPatternKeys *pk, uint32_t epoch, FmEpochPilot *pilot);

/* The tag bit a FM_SLOT_TAG slot carries. */
static inline int fm_slot_tag_bit(const FmSlotMap *map, int k)
{
    return (map->rank[k] - FM_CODED_BITS) % FM_TAG_BITS;
}

/* Sets the tag bits the map's tag slots carry (bits: 0/1 each), or
 * silences them (bits NULL). */
void fm_slot_map_set_tag(FmSlotMap *map, const uint8_t *bits);

/*
 * The value each slot should carry for a coded message (+1/-1 per slot).
 * coded may be NULL: then data slots are 0 and only pilot and sync are set.
 * Tag slots carry the map's tag (0 unless fm_slot_map_set_tag set one).
 */
void fm_slot_values(const FmSlotMap *map, const uint8_t *coded, float values[FM_SLOTS]);

/* One cell's slot values: values (canonical, as fm_slot_values gives them)
 * with the map's signs for cell identity id. */
void fm_cell_values(const FmSlotMap *map, const float values[FM_SLOTS], int id,
                    float out[FM_SLOTS]);

/*
 * The cells' evidence summed under an epoch's signs: out[k] = sum over the
 * cells i of cells (fm_cells_count(c) x FM_SLOTS, stored cell by cell) of
 * cell i's value times its sign (cell_flip: FmSlotMap.cell_flip, identity
 * fm_cell_id(c, i, kx, ky)), times scale. The inverse of fm_cell_values,
 * summed.
 */
void fm_cells_combine(const uint32_t cell_flip[FM_SLOTS], const float *cells, FmCells c, int kx,
                      int ky, float scale, float out[FM_SLOTS]);

/* The periodic sync layer alone: +/-1 on the sync slots that are the same
 * in every cell, 0 elsewhere (the cell-id slots too). */
void fm_sync_values(const FmPatternKeys *pk, float values[FM_SLOTS]);

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
 * Cells: the tiles of cells (fm_cells_count(c) x FM_SLOTS values, cell by
 * cell) side by side in one (c.nx * FM_TILE) x (c.ny * FM_TILE) plane, and
 * back.
 */
void fm_cells_render(const float *values, FmCells c, float *plane);
void fm_cells_read(const float *plane, FmCells c, float *values);

/*
 * Sums a gw x gh plane into a pw x ph one: sample (x, y) lands on
 * ((x + ox) mod pw, (y + oy) mod ph), after the plane is mirrored
 * left-right (flip_h) and/or upside down (flip_v). ox, oy >= 0.
 */
void fm_plane_fold(const float *plane, int gw, int gh, int flip_h, int flip_v, int ox, int oy,
                   int pw, int ph, float *out);

/*
 * Sums a gw x gh plane on the mark grid into one tile: grid sample (x, y)
 * lands on tile sample ((x + ox) mod FM_TILE, (y + oy) mod FM_TILE).
 * ox, oy >= 0.
 */
void fm_tile_fold(const float *plane, int gw, int gh, int ox, int oy, float *tile);
/* fm_tile_fold of the plane mirrored left-right (flip_h) and/or upside down
 * (flip_v) first: sample (x, y) lands where (gw-1-x, y), (x, gh-1-y) or
 * (gw-1-x, gh-1-y) would. */
void fm_tile_fold_flipped(const float *plane, int gw, int gh, int flip_h, int flip_v, int ox,
                          int oy, float *tile);
/* fm_tile_fold_flipped (ox = oy = 0) of a gw x gh plane from the plane's
 * unflipped fold (fm_tile_fold at 0, 0): each tile sample is one of the
 * fold's, moved (the same sums of the same samples in the same order, so
 * the same bits). */
void fm_tile_fold_flip(const float *fold, int gw, int gh, int flip_h, int flip_v, float *tile);

#endif
