#include "pattern.h"

#include <math.h>
#include <string.h>
#include <sodium.h>

#include "dct.h"
#include "dsp.h"

/* coef index = v * 8 + u, ordered by frequency u + v = 1..5 (measured on real
 * footage: adding u + v = 5 beat dropping u + v = 1; see docs/DESIGN.md) */
const uint8_t fm_slot_coef[FM_NCOEF] = {
    1, 8,               /* (1,0) (0,1) */
    2, 9, 16,           /* (2,0) (1,1) (0,2) */
    3, 10, 17, 24,      /* (3,0) (2,1) (1,2) (0,3) */
    4, 11, 18, 25, 32,  /* (4,0) (3,1) (2,2) (1,3) (0,4) */
    5, 12, 19, 26, 33, 40,  /* (5,0) .. (0,5) */
};

/* Frequency classes of the bands: u + v - 1 of fm_slot_coef (u + v in 1..5). */
#define BAND_CLASSES 5
static int band_class(int c)
{
    return fm_slot_coef[c] % 8 + fm_slot_coef[c] / 8 - 1;
}

void fm_band_weights(const double sum[FM_NCOEF], const int cnt[FM_NCOEF], double least,
                     float weight[FM_NCOEF])
{
    double cm[BAND_CLASSES] = { 0 };
    int cc[BAND_CLASSES] = { 0 };
    for (int c = 0; c < FM_NCOEF; c++) {
        cm[band_class(c)] += sum[c];
        cc[band_class(c)] += cnt[c];
    }
    for (int k = 0; k < BAND_CLASSES; k++)
        cm[k] = cc[k] ? cm[k] / cc[k] : 0;
    /* how far the bands of a class differ: the spread of their means about
     * the class mean, and what the pilots' noise alone would give (a pilot
     * value has about unit variance) */
    double spread[BAND_CLASSES] = { 0 }, noise[BAND_CLASSES] = { 0 };
    int nb[BAND_CLASSES] = { 0 };
    for (int c = 0; c < FM_NCOEF; c++) {
        if (!cnt[c])
            continue;
        int k = band_class(c);
        double dm = sum[c] / cnt[c] - cm[k];
        spread[k] += dm * dm;
        noise[k] += 1.0 / cnt[c];
        nb[k]++;
    }
    for (int c = 0; c < FM_NCOEF; c++) {
        int k = band_class(c);
        double w = cm[k];
        if (cnt[c] && nb[k] > 1) {
            double tau2 = spread[k] / (nb[k] - 1) - noise[k] / nb[k];
            double sigma2 = 1.0 / cnt[c];
            double lambda = tau2 > 0 ? tau2 / (tau2 + sigma2) : 0;
            w += lambda * (sum[c] / cnt[c] - cm[k]);
        }
        weight[c] = fm_band_weight(w, least);
    }
}

/* Format 2 subkeys (crypto_kdf contexts are 8 bytes). */
#define EPOCH_KDF_CONTEXT "fmepoch2"
#define SYNC_KDF_CONTEXT "fmsync02"

/* Uniform integer in [0, n) from a keyed byte stream (rejection sampling;
 * a rejection has probability below n / 2^32, so the slack at the end of
 * the streams below is never used up in practice; if it were, the stream
 * would be read again from its start, still deterministic). */
static uint32_t uniform_below(const uint8_t *stream, size_t *pos, size_t len, uint32_t n)
{
    uint32_t limit = UINT32_MAX - UINT32_MAX % n;
    for (;;) {
        uint32_t v;
        if (*pos + 4 > len)
            *pos = 0;
        memcpy(&v, stream + *pos, 4);
        *pos += 4;
        if (v < limit)
            return v % n;
    }
}

void fm_pattern_keys_init(FmPatternKeys *pk, const uint8_t wm_key[FM_WMKEY_BYTES])
{
    uint8_t subkey[crypto_stream_chacha20_KEYBYTES];
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    enum { SIGNS = FM_SYNC_SLOTS / 8, DRAWS = SIGNS + FM_SYNC_SLOTS * 4 + 256 };
    uint8_t stream[DRAWS];
    uint8_t ids[FM_CELL_ID_SLOTS * 4];
    uint8_t id_nonce[crypto_stream_chacha20_NONCEBYTES] = { 1 };
    uint16_t perm[FM_SLOTS];
    uint8_t used[FM_SLOTS] = { 0 };

    crypto_kdf_derive_from_key(pk->epoch_key, sizeof(pk->epoch_key), 1, EPOCH_KDF_CONTEXT, wm_key);
    crypto_kdf_derive_from_key(subkey, sizeof(subkey), 1, SYNC_KDF_CONTEXT, wm_key);
    crypto_stream_chacha20(stream, sizeof(stream), nonce, subkey);

    /* the sync slots: the last FM_SYNC_SLOTS of a partial Fisher-Yates shuffle */
    for (int i = 0; i < FM_SLOTS; i++)
        perm[i] = (uint16_t)i;
    size_t pos = SIGNS;
    for (int i = FM_SLOTS - 1; i >= FM_SLOTS - FM_SYNC_SLOTS; i--) {
        uint32_t j = uniform_below(stream, &pos, sizeof(stream), (uint32_t)i + 1);
        uint16_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int r = 0; r < FM_SYNC_SLOTS; r++) {
        int k = perm[FM_SLOTS - FM_SYNC_SLOTS + r];
        pk->sync_slot[r] = (uint16_t)k;
        pk->sync_sign[r] = (int8_t)((stream[r >> 3] >> (r & 7)) & 1 ? 1 : -1);
        used[k] = 1;
    }
    for (int k = 0, n = 0; k < FM_SLOTS; k++)
        if (!used[k])
            pk->free_slot[n++] = (uint16_t)k;
    /* format 7: the cell-id slots' flip words, a stream of their own */
    crypto_stream_chacha20(ids, sizeof(ids), id_nonce, subkey);
    for (int r = 0; r < FM_CELL_ID_SLOTS; r++)
        pk->cell_id_flip[r] = (uint32_t)ids[4 * r] | (uint32_t)ids[4 * r + 1] << 8 |
                              (uint32_t)ids[4 * r + 2] << 16 | (uint32_t)ids[4 * r + 3] << 24;
    sodium_memzero(ids, sizeof(ids));
    sodium_memzero(subkey, sizeof(subkey));
    sodium_memzero(stream, sizeof(stream));
    sodium_memzero(perm, sizeof(perm));
    sodium_memzero(used, sizeof(used));
}

void fm_pattern_keys_wipe(FmPatternKeys *pk)
{
    sodium_memzero(pk, sizeof(*pk));
}

uint32_t fm_epoch_at(double t)
{
    if (!(t > 0))
        return 0;
    double e = floor(t / FM_EPOCH_SECONDS);
    return (uint32_t)fmod(e, FM_EPOCHS);
}

/*
 * An epoch's keyed shuffle of the free slots, from the end: positions
 * FM_FREE_SLOTS - 1 down to `stop` are fixed (the pilot is the last
 * FM_PILOTS). perm must hold FM_FREE_SLOTS entries; signs gets the sign
 * bits (FM_FREE_SLOTS / 8 bytes), one per shuffled position.
 */
enum { EPOCH_SIGN_BYTES = FM_FREE_SLOTS / 8 };
static void epoch_shuffle(const FmPatternKeys *pk, uint32_t epoch, int stop, uint16_t *perm,
                          uint8_t *signs)
{
    enum { FULL = EPOCH_SIGN_BYTES + FM_FREE_SLOTS * 4 + 1024 };
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = { 0 };
    size_t draws = (size_t)(FM_FREE_SLOTS - stop) * 4 + 256;
    size_t len = EPOCH_SIGN_BYTES + draws < FULL ? EPOCH_SIGN_BYTES + draws : FULL;
    /* keyed: wiped before return. On the stack, not in sodium_malloc's
     * guarded pages: the detector derives thousands of these per key, and a
     * guarded allocation costs several system calls each. */
    uint8_t stream[FULL];

    for (int i = 0; i < 4; i++)
        nonce[i] = (uint8_t)(epoch >> (8 * i));
    crypto_stream_chacha20(stream, len, nonce, pk->epoch_key);
    memcpy(signs, stream, EPOCH_SIGN_BYTES);
    memcpy(perm, pk->free_slot, sizeof(uint16_t) * FM_FREE_SLOTS);
    size_t pos = EPOCH_SIGN_BYTES;
    for (int i = FM_FREE_SLOTS - 1; i >= stop && i > 0; i--) {
        uint32_t j = uniform_below(stream, &pos, len, (uint32_t)i + 1);
        uint16_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    sodium_memzero(stream, len);
}

/*
 * Format 7: an epoch's cell signs, one 32-bit word per rank of its keyed
 * order (the word's bit id: the slot of that rank negated in cell id), ranks
 * [r0, r0 + n) to flip. A second keystream of the epoch (nonce byte 4 = 1),
 * read from rank r0 on; r0 * 4 must be a multiple of the 64-byte block.
 */
enum { FLIP_BYTES = 4 };
static void epoch_flips(const FmPatternKeys *pk, uint32_t epoch, int r0, int n, uint32_t *flip)
{
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = { 0 };
    uint8_t stream[FM_FREE_SLOTS * FLIP_BYTES];
    for (int i = 0; i < 4; i++)
        nonce[i] = (uint8_t)(epoch >> (8 * i));
    nonce[4] = 1;
    size_t len = (size_t)n * FLIP_BYTES;
    memset(stream, 0, len);
    crypto_stream_chacha20_xor_ic(stream, stream, len, nonce, (uint64_t)r0 * FLIP_BYTES / 64,
                                  pk->epoch_key);
    for (int i = 0; i < n; i++)
        flip[i] = (uint32_t)stream[4 * i] | (uint32_t)stream[4 * i + 1] << 8 |
                  (uint32_t)stream[4 * i + 2] << 16 | (uint32_t)stream[4 * i + 3] << 24;
    sodium_memzero(stream, len);
}
_Static_assert(FM_DATA_SLOTS * FLIP_BYTES % 64 == 0, "the pilot ranks start a keystream block");
_Static_assert(FM_CELLS <= 32, "a cell's sign is one bit of a 32-bit word");

static int sign_bit(const uint8_t *signs, int r)
{
    return (signs[r >> 3] >> (r & 7)) & 1 ? 1 : -1;
}

void fm_slot_map_init(FmSlotMap *map, const FmPatternKeys *pk, uint32_t epoch)
{
    uint16_t perm[FM_FREE_SLOTS];
    uint8_t signs[EPOCH_SIGN_BYTES];
    uint32_t flip[FM_FREE_SLOTS];

    epoch %= FM_EPOCHS;
    epoch_shuffle(pk, epoch, 1, perm, signs);
    epoch_flips(pk, epoch, 0, FM_FREE_SLOTS, flip);
    map->epoch = epoch;
    memset(map->tag, 0, sizeof(map->tag));
    for (int r = 0; r < FM_SYNC_SLOTS; r++) {
        map->bit[pk->sync_slot[r]] = FM_SLOT_SYNC;
        map->rank[pk->sync_slot[r]] = FM_SLOT_SYNC;
        map->sign[pk->sync_slot[r]] = pk->sync_sign[r];
        map->cell_flip[pk->sync_slot[r]] = r < FM_CELL_ID_SLOTS ? pk->cell_id_flip[r] : 0;
    }
    for (int r = 0; r < FM_FREE_SLOTS; r++) {
        int k = perm[r];
        map->bit[k] = (int16_t)(r < FM_CODED_BITS ? r : r < FM_DATA_SLOTS ? FM_SLOT_TAG
                                                                          : FM_SLOT_PILOT);
        map->rank[k] = (int16_t)(r < FM_DATA_SLOTS ? r : FM_SLOT_PILOT);
        map->sign[k] = (int8_t)sign_bit(signs, r);
        map->cell_flip[k] = flip[r];
    }
    sodium_memzero(perm, sizeof(perm));
    sodium_memzero(signs, sizeof(signs));
    sodium_memzero(flip, sizeof(flip));
}

void fm_epoch_pilot(const FmPatternKeys *pk, uint32_t epoch, FmEpochPilot *pilot)
{
    uint16_t perm[FM_FREE_SLOTS];
    uint8_t signs[EPOCH_SIGN_BYTES];

    epoch_shuffle(pk, epoch % FM_EPOCHS, FM_DATA_SLOTS, perm, signs);
    epoch_flips(pk, epoch % FM_EPOCHS, FM_DATA_SLOTS, FM_PILOTS, pilot->cell_flip);
    for (int r = 0; r < FM_PILOTS; r++) {
        pilot->slot[r] = perm[FM_DATA_SLOTS + r];
        pilot->sign[r] = (int8_t)sign_bit(signs, FM_DATA_SLOTS + r);
    }
    sodium_memzero(perm, sizeof(perm));
    sodium_memzero(signs, sizeof(signs));
}

void fm_slot_map_set_tag(FmSlotMap *map, const uint8_t *bits)
{
    for (int i = 0; i < FM_TAG_BITS; i++)
        map->tag[i] = (int8_t)(bits ? (bits[i] ? 1 : -1) : 0);
}

void fm_slot_values(const FmSlotMap *map, const uint8_t *coded, float values[FM_SLOTS])
{
    for (int k = 0; k < FM_SLOTS; k++) {
        int b = map->bit[k];
        float v;
        if (b == FM_SLOT_TAG)
            v = map->tag[fm_slot_tag_bit(map, k)];
        else if (b == FM_SLOT_SYNC)
            v = FM_SYNC_GAIN;
        else if (b < 0)
            v = 1.0f;
        else if (coded)
            v = coded[b] ? 1.0f : -1.0f;
        else
            v = 0.0f;
        values[k] = v * map->sign[k];
    }
}

void fm_cell_values(const FmSlotMap *map, const float values[FM_SLOTS], int id,
                    float out[FM_SLOTS])
{
    for (int k = 0; k < FM_SLOTS; k++)
        out[k] = values[k] * fm_cell_sign(map->cell_flip[k], id);
}

void fm_cells_combine(const uint32_t cell_flip[FM_SLOTS], const float *cells, FmCells c, int kx,
                      int ky, float scale, float out[FM_SLOTS])
{
    int n = fm_cells_count(c);
    memset(out, 0, sizeof(float) * FM_SLOTS);
    for (int i = 0; i < n; i++) {
        int id = fm_cell_id(c, i, kx, ky);
        const float *v = cells + (size_t)i * FM_SLOTS;
        for (int k = 0; k < FM_SLOTS; k++)
            out[k] += v[k] * fm_cell_sign(cell_flip[k], id);
    }
    for (int k = 0; k < FM_SLOTS; k++)
        out[k] *= scale;
}

void fm_sync_values(const FmPatternKeys *pk, float values[FM_SLOTS])
{
    for (int k = 0; k < FM_SLOTS; k++)
        values[k] = 0;
    for (int r = FM_CELL_ID_SLOTS; r < FM_SYNC_SLOTS; r++)
        values[pk->sync_slot[r]] = pk->sync_sign[r];
}

/* The unit-RMS scaling: FM_NCOEF coefficients in 64 samples, of mean
 * square 1 but for the sync slots' FM_SYNC_GAIN. */
static float tile_gain(void)
{
    float ms = (FM_SLOTS - FM_SYNC_SLOTS + FM_SYNC_SLOTS * FM_SYNC_GAIN * FM_SYNC_GAIN) /
               (float)FM_SLOTS;
    return sqrtf(64.0f / (FM_NCOEF * ms));
}

/* The tile's blocks a row of FM_TILE_BLOCKS at a time, coefficient-major
 * (dct.h): only the slots' coefficients are set or read. */
static void render_tile(const float values[FM_SLOTS], float *tile, ptrdiff_t stride)
{
    float gain = tile_gain();
    const FmDsp *dsp = fm_dsp_get();
    float coef[64 * FM_TILE_BLOCKS] = { 0 };  /* zero where no slot is (the DC) */
    for (int by = 0; by < FM_TILE_BLOCKS; by++) {
        for (int bx = 0; bx < FM_TILE_BLOCKS; bx++) {
            const float *v = values + (by * FM_TILE_BLOCKS + bx) * FM_NCOEF;
            for (int c = 0; c < FM_NCOEF; c++)
                coef[fm_slot_coef[c] * FM_TILE_BLOCKS + bx] = v[c] * gain;
        }
        dsp->idct8x8_low(coef, FM_TILE_BLOCKS, tile + by * 8 * stride, stride);
    }
}

static void read_tile(const float *tile, ptrdiff_t stride, float values[FM_SLOTS])
{
    float inv = 1.0f / tile_gain();
    const FmDsp *dsp = fm_dsp_get();
    float coef[64 * FM_TILE_BLOCKS];
    for (int by = 0; by < FM_TILE_BLOCKS; by++) {
        dsp->dct8x8_low(tile + by * 8 * stride, stride, FM_TILE_BLOCKS, coef);
        for (int bx = 0; bx < FM_TILE_BLOCKS; bx++) {
            float *v = values + (by * FM_TILE_BLOCKS + bx) * FM_NCOEF;
            for (int c = 0; c < FM_NCOEF; c++)
                v[c] = coef[fm_slot_coef[c] * FM_TILE_BLOCKS + bx] * inv;
        }
    }
}

void fm_tile_render(const float values[FM_SLOTS], float *tile)
{
    render_tile(values, tile, FM_TILE);
}

void fm_tile_read(const float *tile, float values[FM_SLOTS])
{
    read_tile(tile, FM_TILE, values);
}

void fm_cells_render(const float *values, FmCells c, float *plane)
{
    ptrdiff_t stride = (ptrdiff_t)c.nx * FM_TILE;
    for (int i = 0; i < fm_cells_count(c); i++)
        render_tile(values + (size_t)i * FM_SLOTS,
                    plane + (i / c.nx) * FM_TILE * stride + (i % c.nx) * FM_TILE, stride);
}

void fm_cells_read(const float *plane, FmCells c, float *values)
{
    ptrdiff_t stride = (ptrdiff_t)c.nx * FM_TILE;
    for (int i = 0; i < fm_cells_count(c); i++)
        read_tile(plane + (i / c.nx) * FM_TILE * stride + (i % c.nx) * FM_TILE, stride,
                  values + (size_t)i * FM_SLOTS);
}

void fm_plane_fold(const float *plane, int gw, int gh, int flip_h, int flip_v, int ox, int oy,
                   int pw, int ph, float *out)
{
    memset(out, 0, sizeof(float) * (size_t)pw * ph);
    /* in the plane's order, whatever the flips: every output sample sums its
     * grid samples in the same order, so the sums are the same bits */
    for (int y = 0; y < gh; y++) {
        int yy = flip_v ? gh - 1 - y : y;
        float *t = out + (size_t)((yy + oy) % ph) * pw;
        const float *p = plane + (size_t)y * gw;
        /* in runs of consecutive output columns (each an element-wise add
         * the compiler vectorises; the order of the sums is unchanged) */
        if (!flip_h)
            for (int x = 0; x < gw;) {
                int k = (x + ox) % pw, n = pw - k < gw - x ? pw - k : gw - x;
                for (int i = 0; i < n; i++)
                    t[k + i] += p[x + i];
                x += n;
            }
        else
            for (int x = 0; x < gw;) {
                int k = (gw - 1 - x + ox) % pw, n = k + 1 < gw - x ? k + 1 : gw - x;
                for (int i = 0; i < n; i++)
                    t[k - i] += p[x + i];
                x += n;
            }
    }
}

void fm_tile_fold_flipped(const float *plane, int gw, int gh, int flip_h, int flip_v, int ox,
                          int oy, float *tile)
{
    fm_plane_fold(plane, gw, gh, flip_h, flip_v, ox, oy, FM_TILE, FM_TILE, tile);
}

void fm_tile_fold_flip(const float *fold, int gw, int gh, int flip_h, int flip_v, float *tile)
{
    for (int r = 0; r < FM_TILE; r++) {
        int mr = flip_v ? ((gh - 1 - r) % FM_TILE + FM_TILE) % FM_TILE : r;
        const float *src = fold + (size_t)mr * FM_TILE;
        float *dst = tile + (size_t)r * FM_TILE;
        if (!flip_h) {
            memcpy(dst, src, sizeof(float) * FM_TILE);
            continue;
        }
        for (int c = 0; c < FM_TILE; c++)
            dst[c] = src[((gw - 1 - c) % FM_TILE + FM_TILE) % FM_TILE];
    }
}

void fm_tile_fold(const float *plane, int gw, int gh, int ox, int oy, float *tile)
{
    fm_tile_fold_flipped(plane, gw, gh, 0, 0, ox, oy, tile);
}
