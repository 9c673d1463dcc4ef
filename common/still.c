#include "still.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <fftw3.h>
#include <sodium.h>

#include "cell_view.h"
#include "msgcode.h"

/* Two shift candidates of one flip must differ by more than this many mark
 * pixels along an axis: the sync correlation peak is a few samples wide. */
#define PEAK_EXCLUDE 2

struct FmStillKey {
    const FmKey *key;
    FmPatternKeys pk;
    FmEpochPilot *pilots;        /* FM_EPOCHS */
    fftwf_complex *sync_f;       /* spectrum of the sync tile */
    fftwf_plan fwd, inv;         /* made once; executed on the caller's arrays */
    FmTagKey tk;                 /* format 5's content tag */
    int8_t mask_sign[FM_CODED_BITS];
};

enum { NC = FM_TILE * (FM_TILE / 2 + 1) };

int fm_still_key_new(FmStillKey **out, const FmKey *key, FmError *err)
{
    FmStillKey *sk = calloc(1, sizeof(*sk));
    float *tile = fftwf_malloc(sizeof(float) * FM_TILE * FM_TILE);
    float *values = malloc(sizeof(float) * FM_SLOTS);
    *out = NULL;
    if (!sk || !tile || !values ||
        !(sk->pilots = malloc(sizeof(FmEpochPilot) * FM_EPOCHS)) ||
        !(sk->sync_f = fftwf_malloc(sizeof(fftwf_complex) * NC))) {
        fftwf_free(tile);
        free(values);
        fm_still_key_free(&sk);
        return fm_error_set(err, FM_ENOMEM, "out of memory for the still detector");
    }
    sk->key = key;
    fm_pattern_keys_init(&sk->pk, key->wm_key);
    for (uint32_t n = 0; n < FM_EPOCHS; n++)
        fm_epoch_pilot(&sk->pk, n, &sk->pilots[n]);
    fm_tag_key_init(&sk->tk, key->wm_key);
    fm_format_mask_signs(FM_MARK_FORMAT_TAGGED, sk->mask_sign);
    fm_sync_values(&sk->pk, values);
    fm_tile_render(values, tile);
    /* FFTW's planner is not thread-safe: plans are made here, once */
    sk->fwd = fftwf_plan_dft_r2c_2d(FM_TILE, FM_TILE, tile, sk->sync_f, FFTW_ESTIMATE);
    sk->inv = fftwf_plan_dft_c2r_2d(FM_TILE, FM_TILE, sk->sync_f, tile, FFTW_ESTIMATE);
    fm_sync_values(&sk->pk, values);
    fm_tile_render(values, tile);   /* planning may have overwritten it */
    fftwf_execute_dft_r2c(sk->fwd, tile, sk->sync_f);
    sodium_memzero(tile, sizeof(float) * FM_TILE * FM_TILE);
    sodium_memzero(values, sizeof(float) * FM_SLOTS);
    fftwf_free(tile);
    free(values);
    *out = sk;
    return 0;
}

void fm_still_key_free(FmStillKey **psk)
{
    FmStillKey *sk = *psk;
    if (!sk)
        return;
    fm_pattern_keys_wipe(&sk->pk);
    fm_tag_key_wipe(&sk->tk);
    if (sk->pilots) {
        sodium_memzero(sk->pilots, sizeof(FmEpochPilot) * FM_EPOCHS);
        free(sk->pilots);
    }
    if (sk->sync_f) {
        sodium_memzero(sk->sync_f, sizeof(fftwf_complex) * NC);
        fftwf_free(sk->sync_f);
    }
    if (sk->fwd)
        fftwf_destroy_plan(sk->fwd);
    if (sk->inv)
        fftwf_destroy_plan(sk->inv);
    free(sk);
    *psk = NULL;
}

typedef struct Candidate {
    int flip, sx, sy;
    int kx, ky;        /* format 7: the mark's cell at the plane's first one */
    uint32_t epoch;
    double z;
} Candidate;

/* Cyclic distance along one tile axis. */
static int cyc(int a, int b)
{
    int d = abs(a - b) % FM_TILE;
    return d > FM_TILE / 2 ? FM_TILE - d : d;
}

/* The FM_STILL_SHIFTS best shifts of the sync layer in a tile folded at 0. */
static void sync_shifts(const FmStillKey *sk, float *tile, fftwf_complex *spec, int flip,
                        Candidate *out)
{
    fftwf_execute_dft_r2c(sk->fwd, tile, spec);
    /* tile(x) = sync(x + d): conj(T) * S, as the geometry search */
    for (int i = 0; i < NC; i++) {
        float ar = spec[i][0], ai = -spec[i][1];
        float br = sk->sync_f[i][0], bi = sk->sync_f[i][1];
        spec[i][0] = ar * br - ai * bi;
        spec[i][1] = ar * bi + ai * br;
    }
    fftwf_execute_dft_c2r(sk->inv, spec, tile);
    for (int k = 0; k < FM_STILL_SHIFTS; k++) {
        int arg = -1;
        for (int i = 0; i < FM_TILE * FM_TILE; i++) {
            int x = i % FM_TILE, y = i / FM_TILE, near = 0;
            for (int j = 0; j < k; j++)
                near |= cyc(x, out[j].sx) <= PEAK_EXCLUDE && cyc(y, out[j].sy) <= PEAK_EXCLUDE;
            if (!near && (arg < 0 || tile[i] > tile[arg]))
                arg = i;
        }
        out[k] = (Candidate){ .flip = flip, .sx = arg % FM_TILE, .sy = arg / FM_TILE };
    }
}

/* The best epoch of one candidate's cells (lanes, normalised): pilot z
 * over the FM_EPOCHS epochs, into c. */
static void epoch_search(const FmStillKey *sk, const FmCellView *cv, const float *lanes,
                         const float *energy, Candidate *c)
{
    c->z = -INFINITY;
    for (uint32_t n = 0; n < FM_EPOCHS; n++) {
        double s, q;
        fm_cell_view_pilot(cv, lanes, energy, &sk->pilots[n], &s, &q);
        double z = q > 0 ? s / sqrt(q) : 0;
        if (z > c->z) {
            c->z = z;
            c->epoch = n;
        }
    }
}

/* The picture folded at the cells of a candidate shift, read cell by cell
 * (cell-major, fm_cells_read) into cells; the cells and their offsets. */
static void candidate_cells(const FmStillPicture *pic, const Candidate *c, float *plane,
                            float *cells, FmCells *cl, int *kx_lo, int *kx_hi, int *ky_lo,
                            int *ky_hi)
{
    fm_cells_offsets(pic->gw, pic->gh, c->sx, c->sy, cl, kx_lo, kx_hi, ky_lo, ky_hi);
    fm_plane_fold(pic->grid, pic->gw, pic->gh, c->flip, 0, c->sx, c->sy, cl->nx * FM_TILE,
                  cl->ny * FM_TILE, plane);
    fm_cells_read(plane, *cl, cells);
}

/* A candidate's cells at offset (kx, ky) as lanes, normalised. */
static void candidate_lanes(FmCellView *cv, FmCells cl, int kx, int ky, const float *cells,
                            float *lanes, float *energy)
{
    fm_cell_view_init(cv, cl, kx, ky);
    fm_cell_view_load(cv, cells, lanes, energy);
}

/* Soft coded bits of normalised slot values under an epoch, each band
 * weighted by the mark amplitude its pilots show (maximum-ratio combining,
 * as fm_detect). */
static void soft_bits(const FmStillKey *sk, const float *u, uint32_t epoch, FmSlotMap *map,
                      float *soft, float *rank_soft, float *tags, float *tag_mu, float *tag_var)
{
    const FmEpochPilot *p = &sk->pilots[epoch];
    double m[FM_NCOEF] = { 0 };
    int cnt[FM_NCOEF] = { 0 };
    for (int r = 0; r < FM_PILOTS; r++) {
        int c = p->slot[r] % FM_NCOEF;
        m[c] += u[p->slot[r]] * p->sign[r];
        cnt[c]++;
    }
    float weight[FM_NCOEF];
    for (int c = 0; c < FM_NCOEF; c++) {
        double mc = cnt[c] ? m[c] / cnt[c] : 0;
        weight[c] = fm_band_weight(mc, FM_BAND_WEIGHT_FLOOR);
    }
    fm_slot_map_init(map, &sk->pk, epoch);
    memset(soft, 0, sizeof(float) * FM_CODED_BITS);
    memset(rank_soft, 0, sizeof(float) * FM_DATA_SLOTS);
    memset(tags, 0, sizeof(float) * FM_TAG_BITS);
    memset(tag_mu, 0, sizeof(float) * FM_TAG_BITS);
    memset(tag_var, 0, sizeof(float) * FM_TAG_BITS);
    for (int k = 0; k < FM_SLOTS; k++) {
        float x = weight[k % FM_NCOEF] * u[k] * map->sign[k];
        if (map->rank[k] >= 0)
            rank_soft[map->rank[k]] += x;
        if (map->bit[k] >= 0)  /* the codeword's own signs (format 5 whitens it) */
            soft[map->bit[k]] += sk->mask_sign[map->bit[k]] * x;
        else if (map->bit[k] == FM_SLOT_TAG) {
            int i = fm_slot_tag_bit(map, k), c = k % FM_NCOEF;
            double a = weight[c] > 0.02 ? weight[c] : 0;
            tags[i] += x;
            tag_mu[i] += (float)(weight[c] * a);
            tag_var[i] += (float)(weight[c] * weight[c] * (1 - a * a > 0.05 ? 1 - a * a : 0.05));
        }
    }
}

/* The binding of a still: its tag against the hash of its own picture (the
 * mark carries its epoch's predecessor's: they agree on a still shot). */
static void bind_still(const FmStillKey *sk, const FmStillPicture *pic, uint32_t epoch, int flip,
                       int sx, int sy, const float *tags, const float *tag_mu,
                       const float *tag_var, FmDetectResult *res)
{
    int ax[FM_BIND_ANCHORS], ay[FM_BIND_ANCHORS];
    float proj[FM_TAG_BITS];
    FmBind bind[FM_BIND_ANCHORS];
    float *plane = malloc(sizeof(float) * (size_t)pic->gw * pic->gh);
    if (!pic->raw || !plane) {
        free(plane);
        return;
    }
    for (int y = 0; y < pic->gh; y++)
        for (int x = 0; x < pic->gw; x++)
            plane[(size_t)y * pic->gw + (flip ? pic->gw - 1 - x : x)] =
                pic->raw[(size_t)y * pic->gw + x];
    int nanchor = fm_tag_anchors(pic->gw, pic->gh, sx, sy, ax, ay);
    memset(bind, 0, sizeof(bind));
    for (int a = 0; a < nanchor; a++) {
        FmTagCells cells;
        fm_tag_cells_clear(&cells);
        fm_tag_cells_add_plane(&cells, plane, pic->gw, pic->gh, ax[a], ay[a]);
        bind[a].z_bar = fm_bind_anchor_bar(a);
        if (fm_tag_hash(&sk->tk, res->mark_format, epoch, &cells, proj))
            fm_bind_add(&bind[a], tags, tag_mu, tag_var, proj);
    }
    fm_bind_report(bind, nanchor, res);
    /* a still's hash is of itself, not of its epoch's predecessor: a moving
     * shot differs, so a still never counts as a contradiction */
    res->content_mismatch = 0;
    sodium_memzero(proj, sizeof(proj));
    free(plane);
}

int fm_still_decode_soft(const float *soft, const FmKey *key, int deep, FmDetectResult *res,
                         FmError *err)
{
    FmMsgRead mr;
    int ret = fm_msgcode_read(soft, FM_MSGCODE_FORMAT, key, &mr);
    if (ret < 0)
        return fm_error_set(err, ret, "%s", fm_msgcode_strerror(ret));
    res->mark_format = FM_MARK_FORMAT_TAGGED;
    /* a format 5 or 4 mark (filmmark 0.5.0, 0.4.0): their own masks */
    static const int older_masks[] = { FM_MARK_FORMAT_TAG_V6, FM_MARK_FORMAT_TAG_V5,
                                       FM_MARK_FORMAT_TAG_V4 };
    for (size_t i = 0; i < sizeof(older_masks) / sizeof(older_masks[0]) && !mr.signature_valid;
         i++) {
        float older[FM_CODED_BITS];
        FmMsgRead v;
        memcpy(older, soft, sizeof(older));
        fm_format_remask(older, FM_MARK_FORMAT_TAGGED, older_masks[i]);
        ret = fm_msgcode_read(older, FM_MSGCODE_FORMAT, key, &v);
        sodium_memzero(older, sizeof(older));
        if (ret < 0) {
            sodium_memzero(&mr, sizeof(mr));
            return fm_error_set(err, ret, "%s", fm_msgcode_strerror(ret));
        }
        if (v.signature_valid) {
            mr = v;
            res->mark_format = older_masks[i];
        }
        sodium_memzero(&v, sizeof(v));
    }
    if (deep) {
        int got = fm_msgcode_read_deep(soft, key, &mr);
        if (got < 0) {
            sodium_memzero(&mr, sizeof(mr));
            return fm_error_set(err, got, "%s", fm_msgcode_strerror(got));
        }
        if (got)
            res->mark_format = FM_MARK_FORMAT_TAGGED;
    }
    /* a format-7 message read at a pair's error rate: the other copy of an
     * average of two pictures, as the video detector looks for it */
    if (mr.signature_valid && res->mark_format == FM_MARK_FORMAT_TAGGED) {
        int got = fm_msgcode_read_pair_other(soft, key, &mr);
        if (got < 0) {
            sodium_memzero(&mr, sizeof(mr));
            return fm_error_set(err, got, "%s", fm_msgcode_strerror(got));
        }
    }
    fm_detect_result_take_read(res, &mr);
    return 0;
}

/* The detector's working arrays, kept by a picture made by fm_still_picture_set. */
struct FmStillScratch {
    float *tile;          /* FM_TILE^2, FFTW-aligned */
    float *plane;         /* FM_TILE^2 x FM_CELLS: the cells' plane */
    fftwf_complex *spec;  /* NC */
    float *u;             /* FM_SLOTS */
    float *cells;         /* FM_SLOTS x FM_CELLS: a candidate's cells */
    float *v;             /* FM_SLOTS x FM_CELLS: their lanes (cell_view.h) */
    float *energy;        /* FM_SLOTS */
    float *soft;          /* FM_CODED_BITS, when the caller gives none */
    FmSlotMap *map;
};

static void scratch_free(struct FmStillScratch **ps)
{
    struct FmStillScratch *w = *ps;
    if (!w)
        return;
    if (w->tile)
        sodium_memzero(w->tile, sizeof(float) * FM_TILE * FM_TILE);
    fftwf_free(w->tile);
    if (w->plane)
        sodium_memzero(w->plane, sizeof(float) * FM_TILE * FM_TILE * FM_CELLS);
    free(w->plane);
    fftwf_free(w->spec);
    free(w->u);
    free(w->cells);
    free(w->v);
    free(w->energy);
    if (w->soft)
        sodium_memzero(w->soft, sizeof(float) * FM_CODED_BITS);
    free(w->soft);
    if (w->map)
        sodium_memzero(w->map, sizeof(*w->map));
    free(w->map);
    free(w);
    *ps = NULL;
}

static struct FmStillScratch *scratch_new(void)
{
    struct FmStillScratch *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->tile = fftwf_malloc(sizeof(float) * FM_TILE * FM_TILE);
    w->plane = malloc(sizeof(float) * FM_TILE * FM_TILE * FM_CELLS);
    w->spec = fftwf_malloc(sizeof(fftwf_complex) * NC);
    w->u = malloc(sizeof(float) * FM_SLOTS);
    w->cells = malloc(sizeof(float) * FM_SLOTS * FM_CELLS);
    w->v = malloc(sizeof(float) * FM_SLOTS * FM_CELLS);
    w->energy = malloc(sizeof(float) * FM_SLOTS);
    w->soft = malloc(sizeof(float) * FM_CODED_BITS);
    w->map = malloc(sizeof(*w->map));
    if (!w->tile || !w->plane || !w->spec || !w->u || !w->cells || !w->v || !w->energy ||
        !w->soft || !w->map)
        scratch_free(&w);
    return w;
}

int fm_still_picture_set(FmStillPicture *p, const uint8_t *luma, ptrdiff_t stride, int width,
                         int height, int bit_depth, FmError *err)
{
    if (width < 16 || height < 16 || width > 16384 || height > 16384)
        return fm_error_set(err, FM_EINVAL, "picture size %dx%d is outside 16x16..16384x16384",
                            width, height);
    if (!p->owned || p->width != width || p->height != height) {
        struct FmStillScratch *keep = p->owned ? p->scratch : NULL;
        p->scratch = NULL;      /* the working arrays do not depend on the size */
        fm_still_picture_free(p);
        p->owned = 1;
        p->width = width;
        p->height = height;
        p->step = fm_mark_step(height);
        p->gw = fm_mark_width(width, height);
        p->gh = FM_MARK_HEIGHT;
        size_t n = (size_t)p->gw * p->gh;
        size_t wide = (size_t)(p->gw > width ? p->gw : width);
        size_t tall = (size_t)(p->gh > height ? p->gh : height);
        p->buf = malloc(sizeof(float) * n);
        p->rawbuf = malloc(sizeof(float) * n);
        p->tmp = malloc(sizeof(float) * wide * tall);
        p->scratch = keep ? keep : scratch_new();
        if (!p->buf || !p->rawbuf || !p->tmp || !p->scratch ||
            fm_whiten_init(&p->wh, p->gw, p->gh, FM_WHITEN_RADIUS) < 0 ||
            fm_axis_map_init(&p->mx, width, p->gw, 0, (double)width / p->gw) < 0 ||
            fm_axis_map_init(&p->my, height, p->gh, 0, (double)height / p->gh) < 0) {
            fm_still_picture_free(p);
            return fm_error_set(err, FM_ENOMEM, "out of memory for a %dx%d picture", width, height);
        }
    }
    fm_resample_plane(luma, stride, height, bit_depth, &p->mx, &p->my, p->tmp, p->buf);
    memcpy(p->rawbuf, p->buf, sizeof(float) * (size_t)p->gw * p->gh);
    fm_whiten_run(&p->wh, fm_dsp_get(), NULL, p->buf, p->buf);
    p->grid = p->buf;
    p->raw = p->rawbuf;
    p->t = 0;
    return 0;
}

void fm_still_picture_view(FmStillPicture *p, const FmAccumulator *acc)
{
    memset(p, 0, sizeof(*p));
    p->gw = acc->gw;
    p->gh = acc->gh;
    p->step = acc->step;
    p->t = acc->t_first;
    p->grid = acc->grid;
    p->raw = acc->grid_first;
}

void fm_still_picture_free(FmStillPicture *p)
{
    if (p->owned) {
        fm_axis_map_free(&p->mx);
        fm_axis_map_free(&p->my);
        free(p->buf);
        free(p->rawbuf);
        free(p->tmp);
        fm_whiten_free(&p->wh);
        scratch_free(&p->scratch);
    }
    memset(p, 0, sizeof(*p));
}

int fm_still_detect(const FmStillPicture *pic, const FmStillKey *sk, int keys_tried, int flags,
                    FmDetectResult *res, float *soft, int *decoded, FmError *err)
{
    memset(res, 0, sizeof(*res));
    if (decoded)
        *decoded = 0;
    if (soft)
        memset(soft, 0, sizeof(float) * FM_CODED_BITS);
    /* a picture made by fm_still_picture_set lends its working arrays */
    struct FmStillScratch *own = pic->scratch ? NULL : scratch_new();
    struct FmStillScratch *w = pic->scratch ? pic->scratch : own;
    if (!w)
        return fm_error_set(err, FM_ENOMEM, "out of memory in the still detector");
    float *tile = w->tile, *u = w->u, *v = w->v;
    fftwf_complex *spec = w->spec;
    FmSlotMap *map = w->map;
    float *sb = soft ? soft : w->soft;
    int ret = 0;

    /* 1-2. shift candidates on the sync layer, without and with a flip */
    Candidate cand[FM_STILL_CANDIDATES];
    for (int flip = 0; flip < 2; flip++) {
        fm_tile_fold_flipped(pic->grid, pic->gw, pic->gh, flip, 0, 0, 0, tile);
        sync_shifts(sk, tile, spec, flip, cand + flip * FM_STILL_SHIFTS);
    }
    /* 3. under each shift, the cell offset its cell-id layer shows most
     * strongly (format 7: which cell of the mark the picture's first one
     * is; keyed apart from the pilot, so it adds no hypotheses), then the
     * epoch search; the best pilot wins */
    Candidate best_c = { .z = -INFINITY };
    FmCellView cv;
    for (int c = 0; c < FM_STILL_CANDIDATES; c++) {
        FmCells cl;
        int kx_lo, kx_hi, ky_lo, ky_hi;
        double best_id = -INFINITY;
        candidate_cells(pic, &cand[c], w->plane, w->cells, &cl, &kx_lo, &kx_hi, &ky_lo, &ky_hi);
        for (int ky = ky_lo; ky <= ky_hi; ky++)
            for (int kx = kx_lo; kx <= kx_hi; kx++) {
                int nkx = fm_cell_wrap(kx, FM_CELLS_X), nky = fm_cell_wrap(ky, FM_CELLS_Y);
                double is, iq;
                candidate_lanes(&cv, cl, nkx, nky, w->cells, v, w->energy);
                fm_cell_view_id(&cv, v, w->energy, &sk->pk, &is, &iq);
                double iz = iq > 0 ? is / sqrt(iq) : 0;
                if (iz > best_id) {
                    best_id = iz;
                    cand[c].kx = nkx;
                    cand[c].ky = nky;
                }
            }
        candidate_lanes(&cv, cl, cand[c].kx, cand[c].ky, w->cells, v, w->energy);
        epoch_search(sk, &cv, v, w->energy, &cand[c]);
        if (cand[c].z > best_c.z)
            best_c = cand[c];
    }
    const Candidate *b = &best_c;
    long keys = keys_tried > 0 ? keys_tried : 1;
    double hyp = (double)keys * FM_STILL_CANDIDATES * FM_EPOCHS;
    res->pilot_z = isfinite(b->z) ? b->z : 0;
    res->hypotheses = (long)hyp;
    double lp = fm_gauss_tail_log10(res->pilot_z) + log10(hyp);
    res->false_alarm_log10 = lp > 0 ? 0 : lp;
    res->false_alarm_probability = pow(10, res->false_alarm_log10);
    res->segments = res->segments_read = 1;
    res->frames_read = 1;
    res->span[0] = res->span[1] = pic->t;
    res->master_position = b->epoch * FM_EPOCH_SECONDS + FM_EPOCH_SECONDS / 2;
    /* where the marked picture's mark pixel 0 falls: grid sample -shift */
    int ox = -b->sx, oy = -b->sy;
    while (ox < -FM_TILE / 2) ox += FM_TILE;
    while (oy < -FM_TILE / 2) oy += FM_TILE;
    res->geometry = (FmGeometry){ .scale_x = 1, .scale_y = 1, .offset_x = ox * pic->step,
                                  .offset_y = oy * pic->step, .flip_h = b->flip };

    /* 4. the message */
    if ((flags & FM_STILL_DECODE) || res->pilot_z >= FM_STILL_DECODE_Z) {
        FmCells cl;
        int kx_lo, kx_hi, ky_lo, ky_hi;
        candidate_cells(pic, b, w->plane, w->cells, &cl, &kx_lo, &kx_hi, &ky_lo, &ky_hi);
        candidate_lanes(&cv, cl, b->kx, b->ky, w->cells, v, w->energy);
        fm_slot_map_init(map, &sk->pk, b->epoch);
        fm_cell_view_collapse(&cv, v, map->cell_flip, u);
        float rank_soft[FM_DATA_SLOTS], tags[FM_TAG_BITS], tag_mu[FM_TAG_BITS],
              tag_var[FM_TAG_BITS];
        soft_bits(sk, u, b->epoch, map, sb, rank_soft, tags, tag_mu, tag_var);
        if ((ret = fm_still_decode_soft(sb, sk->key,
                                        res->false_alarm_log10 <=
                                            log10(FM_FALSE_ALARM_THRESHOLD),
                                        res, err)) < 0)
            goto end;
        if (!res->signature_valid) {
            /* a format 3 mark (filmmark 0.3.0): coded bits over all data
             * ranks, not whitened */
            FmDetectResult r3 = *res;
            float soft3[FM_CODED_BITS];
            fm_msgcode_fold(rank_soft, FM_CODED_BITS, soft3);
            ret = fm_still_decode_soft(soft3, sk->key, 0, &r3, err);
            sodium_memzero(soft3, sizeof(soft3));
            if (ret < 0)
                goto end;
            if (r3.signature_valid) {
                *res = r3;
                res->mark_format = FM_MSGCODE_FORMAT;
                /* format 3 has no pair read */
                res->pair_read = res->pair_signature_valid = 0;
                sodium_memzero(res->pair_message, FM_MESSAGE_BYTES);
            }
            sodium_memzero(&r3, sizeof(r3));
        }
        if (res->signature_valid && fm_format_binds(res->mark_format))
            bind_still(sk, pic, b->epoch, b->flip, b->sx, b->sy, tags, tag_mu, tag_var, res);
        sodium_memzero(rank_soft, sizeof(rank_soft));
        sodium_memzero(tags, sizeof(tags));
        if (decoded)
            *decoded = 1;
    } else {
        res->raw_ber = NAN;   /* not measured: the message was not read */
    }
    res->found = res->signature_valid || res->false_alarm_log10 <= log10(FM_FALSE_ALARM_THRESHOLD);
end:
    sodium_memzero(tile, sizeof(float) * FM_TILE * FM_TILE);
    sodium_memzero(w->plane, sizeof(float) * FM_TILE * FM_TILE * FM_CELLS);
    if (!soft)
        sodium_memzero(w->soft, sizeof(float) * FM_CODED_BITS);
    sodium_memzero(map, sizeof(*map));
    scratch_free(&own);
    return ret;
}

int fm_still_detect_thorough(const FmAccumulator *acc, FmKey *const *keys, int nkeys,
                             const uint8_t *expected, FmDetectResult *res, int *which,
                             FmError *err)
{
    FmDetectResult cur;
    int ret = 0;
    *which = -1;
    memset(res, 0, sizeof(*res));
    FmStillPicture pic;
    if (acc->frames != 1)
        return fm_error_set(err, FM_EINVAL, "the still detector reads exactly one frame (got %ld)",
                            acc->frames);
    fm_still_picture_view(&pic, acc);
    for (int i = 0; i < nkeys; i++) {
        FmStillKey *sk = NULL;
        if ((ret = fm_still_key_new(&sk, keys[i], err)) < 0)
            return ret;
        ret = fm_still_detect(&pic, sk, nkeys, FM_STILL_DECODE, &cur, NULL, NULL, err);
        fm_still_key_free(&sk);
        if (ret < 0)
            return ret;
        if (*which < 0 || (cur.signature_valid && !res->signature_valid) ||
            (cur.signature_valid == res->signature_valid &&
             cur.false_alarm_log10 < res->false_alarm_log10)) {
            *res = cur;
            *which = i;
        }
    }
    if (res->found && !expected)
        return 0;
    /* the video detector's nominal grid and geometry search (any crop,
     * squeeze, flip or small rotation): its hypotheses add to the still's */
    long still_hyp = res->hypotheses;
    FmDetectResult still = *res;
    int still_which = *which;
    *which = -1;
    for (int i = 0; i < nkeys; i++) {
        if ((ret = fm_detect(acc, keys[i], nkeys, expected, &cur, err)) < 0)
            return ret;
        if (*which < 0 || (cur.signature_valid && !res->signature_valid) ||
            (cur.signature_valid == res->signature_valid &&
             cur.false_alarm_log10 < res->false_alarm_log10)) {
            *res = cur;
            *which = i;
        }
    }
    double total = (double)still_hyp + (double)res->hypotheses;
    int keep_still = (still.signature_valid && !res->signature_valid) ||
                     (still.signature_valid == res->signature_valid && still.pilot_z >= res->pilot_z);
    if (keep_still) {
        int em = res->expected_match;
        double ez = res->expected_z;
        *res = still;
        *which = still_which;
        res->expected_match = em;
        res->expected_z = ez;
    }
    double lp = fm_gauss_tail_log10(res->pilot_z) + log10(total);
    res->hypotheses = total < 9e18 ? (long)total : (long)9e18;
    res->false_alarm_log10 = lp > 0 ? 0 : lp;
    res->false_alarm_probability = pow(10, res->false_alarm_log10);
    res->found = res->signature_valid || res->false_alarm_log10 <= log10(FM_FALSE_ALARM_THRESHOLD);
    return 0;
}
