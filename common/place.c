#include "place.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clip_frames.h"
#include "frame.h"
#include "pattern.h"
#include "resample.h"
#include "video_io.h"

/* Fine-grid cells of the fingerprint per picture height (96 over its
 * central 80 %) times the samples each should keep after the frames are
 * shrunk: 2. */
#define PICTURE_ROWS 192
/* Slack on the picture's place, of its size, plus a pixel or two: the
 * geometry's scale is read to a few tenths of a per cent. */
#define PLACE_SLACK 0.02
/* The hash's centre: the middle 60 % of each axis (fingerprint.h: the
 * central "zoom" of 0.60), so a fifth of the picture either side may lie
 * beyond the clip; with the place's slack, about 1 % of the picture more
 * (measured on real crops, bench/places.sh: a hash region 2 % out still
 * agreed on 95-97 % of bits, 5 % out on 85 %). */
#define HASH_MARGIN 0.21
/* Most the picture's turn may be, degrees: the places are axis-aligned. */
#define MAX_TURN_DEG 0.5

struct FmPlaces {
    int n;
    FmPicturePlace place[FM_PLACES_MAX];   /* clip pixels */
    FmFingerprint *fp[FM_PLACES_MAX];
    int clip_w, clip_h, factor;            /* frames shrunk factor x factor */
    int sw, sh;                            /* the shrunk frame */
    uint16_t *shrunk;                      /* sw x sh, 16-bit scale */
};

/* Left (or top) edges along one axis: the picture of size `size` in a clip
 * of `room`, its edge congruent to `edge` modulo `period`, from where it
 * starts at the clip's edge to where it ends at the other, within the
 * slack. Returns how many, at most max, or max + 1 for too many. */
static int edges(double edge, double period, double size, int room, double *out, int max)
{
    double slack = PLACE_SLACK * size + 2;
    double lo = fmin(0, room - size) - slack, hi = fmax(0, room - size) + slack;
    double x = lo + fmod(fmod(edge - lo, period) + period, period);
    int n = 0;
    for (; x <= hi; x += period) {
        if (n == max)
            return max + 1;
        out[n++] = x;
    }
    return n;
}

/* The picture's extent [x, x + size) on an axis of the clip [0, room): 1
 * within it, else 0 with *centred 1 if the hash's centre is. */
static int within(double x, double size, int room, int *centred)
{
    double slack = PLACE_SLACK * size + 2;
    double m = HASH_MARGIN * size;
    *centred = x + m >= -slack && x + size - m <= room + slack;
    return x >= -slack && x + size <= room + slack;
}

int fm_places_find(const FmGeometry *g, int clip_w, int clip_h, double issued_aspect,
                   FmPicturePlace *out, int max)
{
    if (!g || !out || max <= 0 || clip_w < 16 || clip_h < 16 || !(issued_aspect > 0) ||
        !(g->scale_x > 0) || !(g->scale_y > 0) || g->perspective ||
        !(fabs(g->rotation_deg) <= MAX_TURN_DEG) || !isfinite(g->offset_x) ||
        !isfinite(g->offset_y))
        return 0;
    /* the picture's size in the clip: the scales are relative to the
     * picture's height filling the clip's */
    double pw = g->scale_x * clip_h * issued_aspect, ph = g->scale_y * clip_h;
    if (!(pw >= 16 && ph >= 16 && pw < 1e6 && ph < 1e6) ||
        (fabs(pw / clip_w - 1) <= FM_PLACE_SAME_SIZE && fabs(ph / clip_h - 1) <= FM_PLACE_SAME_SIZE))
        return 0;
    /* the tile period in the clip: FM_TILE mark pixels of the picture's
     * FM_MARK_HEIGHT rows */
    double px = FM_TILE * g->scale_x * clip_h / FM_MARK_HEIGHT;
    double py = FM_TILE * g->scale_y * clip_h / FM_MARK_HEIGHT;
    /* the offset is the picture's top-left corner modulo the period; a
     * mirrored clip is read mirrored, and its offset is that of the
     * mirrored frame (measured from the clip's right or bottom edge) */
    double xs[FM_PLACES_MAX], ys[FM_PLACES_MAX];
    double ex = g->flip_h ? clip_w - pw - g->offset_x : g->offset_x;
    double ey = g->flip_v ? clip_h - ph - g->offset_y : g->offset_y;
    int nx = edges(ex, px, pw, clip_w, xs, FM_PLACES_MAX);
    int ny = edges(ey, py, ph, clip_h, ys, FM_PLACES_MAX);
    if (nx > FM_PLACES_MAX || ny > FM_PLACES_MAX || (long)nx * ny > max)
        return 0;
    int n = 0;
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            int cx, cy;
            int in_x = within(xs[i], pw, clip_w, &cx), in_y = within(ys[j], ph, clip_h, &cy);
            if ((in_x && in_y) || (cx && cy))
                out[n++] = (FmPicturePlace){ xs[i], ys[j], pw, ph, in_x && in_y };
        }
    return n;
}

int fm_places_new(FmPlaces **out, const FmGeometry *g, int clip_w, int clip_h,
                  double issued_aspect, FmError *err)
{
    if (!out)
        return fm_error_set(err, FM_EINVAL, "places: NULL argument");
    *out = NULL;
    FmPlaces *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    pl->n = fm_places_find(g, clip_w, clip_h, issued_aspect, pl->place, FM_PLACES_MAX);
    if (pl->n == 0) {
        free(pl);
        return 0;
    }
    double least = fmin(pl->place[0].w, pl->place[0].h);
    int f = (int)(0.8 * least / PICTURE_ROWS);
    pl->clip_w = clip_w;
    pl->clip_h = clip_h;
    pl->factor = f < 1 ? 1 : f > clip_h / 16 ? clip_h / 16 : f;
    if (pl->factor > clip_w / 16)
        pl->factor = clip_w / 16;
    pl->sw = clip_w / pl->factor;
    pl->sh = clip_h / pl->factor;
    pl->shrunk = malloc(sizeof(uint16_t) * (size_t)pl->sw * pl->sh);
    int ret = pl->shrunk ? 0 : FM_ENOMEM;
    /* an inset: its own bars and crops searched as for a whole frame; a
     * crop: the issued frame's central 0.60 alone (its other crops would
     * reach beyond the clip, where the edge repeats: a structure that is
     * not the picture's and that unrelated pictures cropped alike share) */
    for (int i = 0; i < pl->n && ret == 0; i++)
        ret = fm_fingerprint_new(&pl->fp[i], pl->place[i].inside ? FM_FP_CLIP : FM_FP_PLACED,
                                 err);
    if (ret < 0) {
        fm_places_free(&pl);
        return ret == FM_ENOMEM ? fm_error_set(err, FM_ENOMEM, "out of memory") : ret;
    }
    *out = pl;
    return pl->n;
}

void fm_places_free(FmPlaces **ppl)
{
    FmPlaces *pl = ppl ? *ppl : NULL;
    if (!pl)
        return;
    for (int i = 0; i < pl->n; i++)
        fm_fingerprint_free(&pl->fp[i]);
    free(pl->shrunk);
    free(pl);
    *ppl = NULL;
}

FmPicturePlace fm_places_place(const FmPlaces *pl, int i)
{
    return pl->place[i];
}

const FmFingerprint *fm_places_fingerprint(const FmPlaces *pl, int i)
{
    return pl->fp[i];
}

double fm_places_log10_count(const FmPlaces *pl)
{
    return pl && pl->n > 0 ? log10((double)pl->n) : 0;
}

/* The frame averaged over factor x factor blocks, on the 16-bit scale: the
 * fingerprint samples each cell of its fine grid sparsely (about 3 x 3
 * samples), so a picture a third or a half of the master's size would be
 * hashed from fewer, coarser samples than the master was; shrinking first
 * makes each of them a block mean. */
static void shrink(FmPlaces *pl, const uint8_t *luma, ptrdiff_t stride, int bit_depth)
{
    int f = pl->factor, up = 16 - bit_depth;
    uint64_t area = (uint64_t)f * f;
    for (int y = 0; y < pl->sh; y++) {
        uint16_t *o = pl->shrunk + (size_t)y * pl->sw;
        for (int x = 0; x < pl->sw; x++) {
            uint64_t s = 0;
            for (int j = 0; j < f; j++) {
                const uint8_t *row = luma + (ptrdiff_t)(y * f + j) * stride;
                if (bit_depth == 8)
                    for (int i = 0; i < f; i++)
                        s += row[x * f + i];
                else
                    for (int i = 0; i < f; i++)
                        s += ((const uint16_t *)(const void *)row)[x * f + i];
            }
            uint64_t v = ((s << up) + area / 2) / area;
            o[x] = (uint16_t)(v > 65535 ? 65535 : v);
        }
    }
}

int fm_places_add(FmPlaces *pl, const uint8_t *luma, ptrdiff_t stride, int bit_depth, double t,
                  FmError *err)
{
    if (!pl || !luma)
        return fm_error_set(err, FM_EINVAL, "places: NULL argument");
    if (bit_depth < 8 || bit_depth > 16)
        return fm_error_set(err, FM_EINVAL, "places: bit depth %d outside 8..16", bit_depth);
    shrink(pl, luma, stride, bit_depth);
    double f = pl->factor;
    ptrdiff_t sstride = (ptrdiff_t)pl->sw * (ptrdiff_t)sizeof(uint16_t);
    for (int i = 0; i < pl->n; i++) {
        const FmPicturePlace *p = &pl->place[i];
        int r;
        if (p->inside) {
            /* a picture of its own: its rectangle, its own bars found */
            int x0 = (int)lrint(p->x / f), y0 = (int)lrint(p->y / f);
            int x1 = (int)lrint((p->x + p->w) / f), y1 = (int)lrint((p->y + p->h) / f);
            x0 = x0 < 0 ? 0 : x0;
            y0 = y0 < 0 ? 0 : y0;
            x1 = x1 > pl->sw ? pl->sw : x1;
            y1 = y1 > pl->sh ? pl->sh : y1;
            if (x1 - x0 < 16 || y1 - y0 < 16)
                continue;
            const uint16_t *at = pl->shrunk + (size_t)y0 * pl->sw + x0;
            r = fm_fingerprint_add(pl->fp[i], (const uint8_t *)at, sstride, 16, x1 - x0, y1 - y0, t,
                                   err);
        } else {
            /* a crop: the issued frame's area, reaching beyond the clip */
            r = fm_fingerprint_add_area(pl->fp[i], (const uint8_t *)pl->shrunk, sstride, 16, pl->sw,
                                        pl->sh, t, p->x / f, p->y / f, (p->x + p->w) / f,
                                        (p->y + p->h) / f, err);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

int fm_places_read(FmPlaces *pl, const char *path, double start, double duration,
                   double clip_from, double clip_to, FmError *err)
{
    if (!pl || !path)
        return fm_error_set(err, FM_EINVAL, "places: NULL argument");
    FmVideoReader *reader = NULL;
    int r = fm_reader_open(&reader, path, err);
    if (r < 0)
        return r;
    fm_reader_set_read_only(reader, 1);
    const FmVideoInfo *info = fm_reader_info(reader);
    if (info->width != pl->clip_w || info->height != pl->clip_h) {
        fm_reader_close(&reader);
        return fm_error_set(err, FM_EFORMAT, "'%s' changed size while it was read", path);
    }
    if (start > 0 && (r = fm_reader_seek(reader, start, err)) < 0) {
        fm_reader_close(&reader);
        return r;
    }
    FmClipFrames cf;
    fm_clip_frames_init(&cf, reader, start, duration);
    r = fm_clip_frames_read_ahead(&cf, FM_READ_AHEAD_DEPTH, err);
    AVFrame *frame;
    double t;
    while (r >= 0 && (r = fm_clip_frames_next(&cf, &frame, &t, err)) > 0) {
        if (t >= clip_to)
            break;
        if (t < clip_from)
            continue;
        ptrdiff_t stride;
        const uint8_t *luma = fm_frame_luma(frame, &stride);
        r = fm_places_add(pl, luma, stride, info->bit_depth, t, err);
    }
    fm_clip_frames_end(&cf);
    fm_reader_close(&reader);
    return r < 0 ? r : 0;
}

int fm_places_compare(const FmPlaces *pl, const FmFingerprint *issued, double clip_from,
                      double clip_to, FmFpMatch *res, int *index, FmError *err)
{
    if (!pl || !issued || !res || pl->n <= 0)
        return fm_error_set(err, FM_EINVAL, "places: nothing to compare");
    int best = -1;
    for (int i = 0; i < pl->n; i++) {
        FmFpMatch m;
        int r = fm_fingerprint_compare_span(issued, pl->fp[i], clip_from, clip_to, &m, err);
        if (r < 0)
            return r;
        int better = best < 0 || (m.verdict != FM_FP_TOO_SHORT &&
                                  (res->verdict == FM_FP_TOO_SHORT || m.log10_p < res->log10_p));
        if (better) {
            *res = m;
            best = i;
        }
    }
    /* every place is a hypothesis */
    fm_fp_match_add_hypotheses(res, fm_places_log10_count(pl));
    if (index)
        *index = best;
    return 0;
}
