#include "embedder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fec.h"
#include "informed.h"
#include "mask.h"
#include "pattern.h"
#include "quality.h"
#include "resample.h"

/* Mark amplitude (8-bit levels) where the mask is 1; see docs/DESIGN.md. */
#define FM_BASE_AMPLITUDE 1.6
/* Per-frame PSNR floor at strength 1. */
#define FM_PSNR_FLOOR_DB 45.0

struct FmEmbedder {
    int w, h;
    float alpha;
    double mse_cap;
    float *pattern;      /* w*h, unit RMS, the tile sampled on the picture grid */
    float *adapted;      /* w*h, this frame's reweighted tile (informed embedding) */
    float *delta;        /* w*h scratch: the change to add */
    float *amp;          /* w*h: alpha x the perceptual mask, this frame */
    float norm;          /* sampling normalisation of the tile (unit RMS) */
    float *tile;         /* FM_TILE^2 scratch */
    int *col_x0;         /* w: each column's left tile sample */
    float *col_fx;       /* w: and its interpolation weight */
    float values[FM_SLOTS];
    FmPatternKeys *keys;  /* the key's pattern material (secret) */
    FmSlotMap *map;       /* this epoch's slot map */
    float *plain;         /* FM_SLOTS: this epoch's plain slot values */
    uint8_t coded[FM_CODED_BITS];
    long epoch;           /* the epoch rendered into pattern, -1 before the first */
    FmInformed *informed;  /* informed embedding (informed.h) */
    int use_informed;      /* 0: the plain tile in every frame */
    uint8_t *original;   /* copy of the input luma for quality measures */
    FmMask mask;
};

/* Where each picture column falls on the tile: left tile sample, weight. */
static void column_taps(int w, int h, int *x0, float *fx)
{
    double step = fm_mark_step(h);
    for (int x = 0; x < w; x++) {
        double c = (x + 0.5) / step - 0.5;
        double f = floor(c);
        fx[x] = (float)(c - f);
        x0[x] = (int)(((long)f % FM_TILE + FM_TILE) % FM_TILE);
    }
}

/* Samples the periodic tile at picture pixel centres (bilinear), times scale. */
static void sample_pattern(const FmEmbedder *e, const float *tile, float scale, float *out)
{
    int w = e->w, h = e->h;
    double step = fm_mark_step(h);
    const int *x0 = e->col_x0;
    const float *fx = e->col_fx;
    for (int y = 0; y < h; y++) {
        double c = (y + 0.5) / step - 0.5;
        double f = floor(c);
        float fy = (float)(c - f);
        int y0 = (int)(((long)f % FM_TILE + FM_TILE) % FM_TILE), y1 = (y0 + 1) % FM_TILE;
        const float *r0 = tile + y0 * FM_TILE, *r1 = tile + y1 * FM_TILE;
        float *o = out + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            int a = x0[x], b = (a + 1) % FM_TILE;
            float top = r0[a] + fx[x] * (r0[b] - r0[a]);
            float bot = r1[a] + fx[x] * (r1[b] - r1[a]);
            o[x] = scale * (top + fy * (bot - top));
        }
    }
}

/* Renders the epoch's plain tile into e->pattern (unit RMS over the
 * picture) and tells the informed embedder about the new variant. */
static void set_epoch(FmEmbedder *e, uint32_t epoch)
{
    size_t n = (size_t)e->w * e->h;
    fm_slot_map_init(e->map, e->keys, epoch);
    fm_slot_values(e->map, e->coded, e->plain);
    fm_tile_render(e->plain, e->tile);
    sample_pattern(e, e->tile, 1.0f, e->pattern);
    /* normalise to unit RMS over the picture (bilinear sampling smooths a little) */
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)e->pattern[i] * e->pattern[i];
    float norm = ss > 0 ? (float)sqrt(n / ss) : 1.0f;
    for (size_t i = 0; i < n; i++)
        e->pattern[i] *= norm;
    e->norm = norm;
    fm_informed_set_pattern(e->informed, e->map, e->plain);
    e->epoch = epoch;
}

int fm_embedder_new(FmEmbedder **out, const uint8_t wm_key[FM_WMKEY_BYTES],
                    const uint8_t message[FM_MESSAGE_BYTES], int width, int height,
                    double strength, FmError *err)
{
    *out = NULL;
    int size_ok = fm_picture_size_check(width, height, err);
    if (size_ok < 0)
        return size_ok;
    if (!(strength > 0 && strength <= 10))
        return fm_error_set(err, FM_EINVAL, "strength %g is outside (0, 10]", strength);

    FmEmbedder *e = calloc(1, sizeof(*e));
    uint8_t bits[FM_MESSAGE_BITS];
    size_t n = (size_t)width * height;
    int ret = FM_ENOMEM;

    if (!e)
        goto fail;
    e->w = width;
    e->h = height;
    e->epoch = -1;
    e->alpha = (float)(FM_BASE_AMPLITUDE * strength);
    e->mse_cap = 255.0 * 255.0 / pow(10, FM_PSNR_FLOOR_DB / 10) * strength * strength;
    e->pattern = malloc(sizeof(float) * n);
    e->adapted = malloc(sizeof(float) * n);
    e->delta = malloc(sizeof(float) * n);
    e->amp = malloc(sizeof(float) * n);
    e->original = malloc(n * 2);
    e->col_x0 = malloc(sizeof(int) * (size_t)width);
    e->col_fx = malloc(sizeof(float) * (size_t)width);
    e->tile = malloc(sizeof(float) * FM_TILE * FM_TILE);
    e->plain = malloc(sizeof(float) * FM_SLOTS);
    e->map = malloc(sizeof(*e->map));
    e->keys = malloc(sizeof(*e->keys));
    if (!e->pattern || !e->adapted || !e->delta || !e->amp || !e->original || !e->col_x0 ||
        !e->col_fx || !e->tile || !e->plain || !e->map || !e->keys ||
        fm_mask_init(&e->mask, width, height) < 0)
        goto fail;
    column_taps(width, height, e->col_x0, e->col_fx);

    fm_pattern_keys_init(e->keys, wm_key);
    fm_bytes_to_bits(message, FM_MESSAGE_BYTES, bits);
    fm_fec_encode(bits, FM_MESSAGE_BITS, e->coded);
    fm_slot_map_init(e->map, e->keys, 0);
    fm_slot_values(e->map, e->coded, e->plain);
    if (fm_informed_new(&e->informed, e->map, e->plain, width, height) < 0)
        goto fail;
    e->use_informed = 1;
    ret = 0;
    *out = e;
    e = NULL;
fail:
    sodium_memzero(bits, sizeof(bits));
    if (e)
        fm_embedder_free(&e);
    if (ret < 0)
        fm_error_set(err, ret, "out of memory preparing the watermark for %dx%d", width, height);
    return ret;
}

/* The per-pixel amplitude of this frame: alpha x the perceptual mask. */
static void mark_amplitude(FmEmbedder *e)
{
    for (int y = 0; y < e->h; y++) {
        const float *g = fm_mask_row(&e->mask, y);
        float *a = e->amp + (size_t)y * e->w;
        for (int x = 0; x < e->w; x++)
            a[x] = e->alpha * g[x];
    }
}

/* delta = amplitude x pattern; returns the gain that caps its mean square. */
static float mark_delta(FmEmbedder *e, const float *pattern)
{
    size_t n = (size_t)e->w * e->h;
    double mse = 0;
    for (size_t i = 0; i < n; i++) {
        float d = e->amp[i] * pattern[i];
        e->delta[i] = d;
        mse += (double)d * d;
    }
    mse /= (double)n;
    return mse > e->mse_cap ? (float)sqrt(e->mse_cap / mse) : 1.0f;
}

int fm_embedder_mark(FmEmbedder *e, uint8_t *luma, ptrdiff_t stride, int bit_depth,
                     double t, FmFrameQuality *quality, FmError *err)
{
    if (bit_depth < 8 || bit_depth > 16)
        return fm_error_set(err, FM_EINVAL, "unsupported bit depth %d", bit_depth);
    if (!isfinite(t))
        return fm_error_set(err, FM_EINVAL, "frame time is not a number");
    uint32_t epoch = fm_epoch_at(t);
    if (e->epoch != (long)epoch)
        set_epoch(e, epoch);
    int w = e->w, h = e->h;
    int bps = bit_depth > 8 ? 2 : 1;
    size_t row_bytes = (size_t)w * bps;

    for (int y = 0; y < h; y++)
        memcpy(e->original + (size_t)y * row_bytes, luma + (ptrdiff_t)y * stride, row_bytes);

    fm_mask_compute(&e->mask, luma, stride, bit_depth);
    mark_amplitude(e);
    float gain = mark_delta(e, e->pattern);
    if (e->use_informed) {
        /* informed embedding: reweight the tile against this picture's own
         * contribution to the slots, same energy (informed.h) */
        fm_informed_update(e->informed, luma, stride, bit_depth, e->delta, gain, e->values);
        fm_tile_render(e->values, e->tile);
        sample_pattern(e, e->tile, e->norm, e->adapted);
        gain = mark_delta(e, e->adapted);
    }
    float unit = (float)(1 << (bit_depth - 8));
    int maxval = (1 << bit_depth) - 1;

    for (int y = 0; y < h; y++) {
        const float *d = e->delta + (size_t)y * w;
        if (bps == 1) {
            uint8_t *row = luma + (ptrdiff_t)y * stride;
            for (int x = 0; x < w; x++) {
                int v = (int)lrintf(row[x] + gain * d[x]);
                row[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        } else {
            uint16_t *row = (uint16_t *)(luma + (ptrdiff_t)y * stride);
            for (int x = 0; x < w; x++) {
                int v = (int)lrintf(row[x] + gain * d[x] * unit);
                row[x] = (uint16_t)(v < 0 ? 0 : v > maxval ? maxval : v);
            }
        }
    }
    if (quality)
        quality->ssim = fm_ssim_plane(e->original, (ptrdiff_t)row_bytes, luma, stride, w, h,
                                      bit_depth, &quality->mse);
    return 0;
}

void fm_embedder_set_informed(FmEmbedder *e, int on)
{
    e->use_informed = on != 0;
}

void fm_embedder_free(FmEmbedder **pe)
{
    FmEmbedder *e = *pe;
    if (!e)
        return;
    if (e->pattern)  /* the pattern reveals the mark: wipe it */
        sodium_memzero(e->pattern, sizeof(float) * (size_t)e->w * e->h);
    free(e->pattern);
    if (e->adapted)
        sodium_memzero(e->adapted, sizeof(float) * (size_t)e->w * e->h);
    free(e->adapted);
    if (e->tile)
        sodium_memzero(e->tile, sizeof(float) * FM_TILE * FM_TILE);
    free(e->tile);
    sodium_memzero(e->values, sizeof(e->values));
    sodium_memzero(e->coded, sizeof(e->coded));
    if (e->plain)
        sodium_memzero(e->plain, sizeof(float) * FM_SLOTS);
    free(e->plain);
    if (e->map)
        sodium_memzero(e->map, sizeof(*e->map));
    free(e->map);
    if (e->keys)
        fm_pattern_keys_wipe(e->keys);
    free(e->keys);
    fm_informed_free(&e->informed);
    free(e->delta);
    free(e->amp);
    free(e->col_x0);
    free(e->col_fx);
    free(e->original);
    fm_mask_free(&e->mask);
    free(e);
    *pe = NULL;
}
