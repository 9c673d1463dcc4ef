#include "pattern.h"

#include <math.h>
#include <string.h>
#include <sodium.h>

#include "dct.h"

/* coef index = v * 8 + u, ordered by frequency u + v = 1..5 (measured on real
 * footage: adding u + v = 5 beat dropping u + v = 1; see docs/DESIGN.md) */
const uint8_t fm_slot_coef[FM_NCOEF] = {
    1, 8,               /* (1,0) (0,1) */
    2, 9, 16,           /* (2,0) (1,1) (0,2) */
    3, 10, 17, 24,      /* (3,0) (2,1) (1,2) (0,3) */
    4, 11, 18, 25, 32,  /* (4,0) (3,1) (2,2) (1,3) (0,4) */
    5, 12, 19, 26, 33, 40,  /* (5,0) .. (0,5) */
};

#define SLOT_KDF_CONTEXT "fmslots1"

/* Uniform integer in [0, n) from a keyed byte stream (rejection sampling). */
static uint32_t uniform_below(const uint8_t *stream, size_t *pos, size_t len, uint32_t n)
{
    uint32_t limit = UINT32_MAX - UINT32_MAX % n;
    for (;;) {
        uint32_t v;
        if (*pos + 4 > len)          /* never happens with the stream sizes used */
            *pos = 0;
        memcpy(&v, stream + *pos, 4);
        *pos += 4;
        if (v < limit)
            return v % n;
    }
}

void fm_slot_map_init(FmSlotMap *map, const uint8_t wm_key[FM_WMKEY_BYTES])
{
    uint8_t subkey[crypto_stream_chacha20_KEYBYTES];
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    enum { STREAM = FM_SLOTS * 8 + FM_SLOTS / 8 + 1024 };
    uint8_t *stream = sodium_malloc(STREAM);  /* keyed: guarded, wiped on free */
    uint16_t perm[FM_SLOTS];

    if (!stream)
        sodium_misuse();  /* out of memory for 30 KB: nothing sensible left to do */
    size_t pos = 0;

    crypto_kdf_derive_from_key(subkey, sizeof(subkey), 1, SLOT_KDF_CONTEXT, wm_key);
    crypto_stream_chacha20(stream, STREAM, nonce, subkey);

    /* Fisher-Yates shuffle of the slot indices */
    for (int i = 0; i < FM_SLOTS; i++)
        perm[i] = (uint16_t)i;
    for (int i = FM_SLOTS - 1; i > 0; i--) {
        uint32_t j = uniform_below(stream, &pos, STREAM - FM_SLOTS / 8 - 1, (uint32_t)i + 1);
        uint16_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    const uint8_t *signs = stream + STREAM - FM_SLOTS / 8 - 1;
    for (int k = 0; k < FM_SLOTS; k++) {
        int role = perm[k];
        map->bit[k] = (int16_t)(role < FM_DATA_SLOTS ? role % FM_CODED_BITS : -1);
        map->sign[k] = (int8_t)((signs[k >> 3] >> (k & 7)) & 1 ? 1 : -1);
    }
    sodium_memzero(subkey, sizeof(subkey));
    sodium_free(stream);
    sodium_memzero(perm, sizeof(perm));
}

void fm_slot_values(const FmSlotMap *map, const uint8_t *coded, float values[FM_SLOTS])
{
    for (int k = 0; k < FM_SLOTS; k++) {
        int b = map->bit[k];
        float v;
        if (b < 0)
            v = 1.0f;
        else if (coded)
            v = coded[b] ? 1.0f : -1.0f;
        else
            v = 0.0f;
        values[k] = v * map->sign[k];
    }
}

/* The unit-RMS scaling: FM_NCOEF unit coefficients in 64 samples. */
static float tile_gain(void)
{
    return sqrtf(64.0f / FM_NCOEF);
}

void fm_tile_render(const float values[FM_SLOTS], float *tile)
{
    float gain = tile_gain();
    for (int by = 0; by < FM_TILE_BLOCKS; by++)
        for (int bx = 0; bx < FM_TILE_BLOCKS; bx++) {
            float coef[64] = { 0 };
            const float *v = values + (by * FM_TILE_BLOCKS + bx) * FM_NCOEF;
            for (int c = 0; c < FM_NCOEF; c++)
                coef[fm_slot_coef[c]] = v[c] * gain;
            fm_idct8x8(coef, tile + by * 8 * FM_TILE + bx * 8, FM_TILE);
        }
}

void fm_tile_read(const float *tile, float values[FM_SLOTS])
{
    float inv = 1.0f / tile_gain();
    for (int by = 0; by < FM_TILE_BLOCKS; by++)
        for (int bx = 0; bx < FM_TILE_BLOCKS; bx++) {
            float coef[64];
            float *v = values + (by * FM_TILE_BLOCKS + bx) * FM_NCOEF;
            fm_dct8x8(tile + by * 8 * FM_TILE + bx * 8, FM_TILE, coef);
            for (int c = 0; c < FM_NCOEF; c++)
                v[c] = coef[fm_slot_coef[c]] * inv;
        }
}

void fm_tile_fold(const float *plane, int gw, int gh, int ox, int oy, float *tile)
{
    memset(tile, 0, sizeof(float) * FM_TILE * FM_TILE);
    for (int y = 0; y < gh; y++) {
        float *t = tile + (size_t)((y + oy) % FM_TILE) * FM_TILE;
        const float *p = plane + (size_t)y * gw;
        for (int x = 0; x < gw; x++)
            t[(x + ox) % FM_TILE] += p[x];
    }
}
