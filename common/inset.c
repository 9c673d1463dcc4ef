#include "inset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clip_frames.h"
#include "frame.h"
#include "pattern.h"
#include "resample.h"
#include "video_io.h"

/* Rows an inset picture keeps after the frames are shrunk: the fingerprint
 * averages the central 80 % of it to 96 rows. */
#define INSET_ROWS 192
/* Slack on the picture's place, of its size, plus a pixel or two: the
 * geometry's scale is read to a few tenths of a per cent. */
#define PLACE_SLACK 0.02
/* Most the picture's turn may be, degrees: the places are axis-aligned. */
#define MAX_TURN_DEG 0.5

struct FmInset {
    int n;
    FmInsetPlace place[FM_INSET_MAX_PLACES];   /* clip pixels */
    FmFingerprint *fp[FM_INSET_MAX_PLACES];
    int clip_w, clip_h, factor;                /* frames shrunk factor x factor */
    int sw, sh;                                /* the shrunk frame */
    uint16_t *shrunk;                          /* sw x sh, 16-bit scale */
};

/* Left edges (or top edges) along one axis: the picture of size `size` in
 * a clip of `room`, its edge congruent to `edge` modulo `period`, within
 * the slack. Returns how many, at most max, or max + 1 for too many. */
static int edges(double edge, double period, double size, int room, double *out, int max)
{
    double slack = PLACE_SLACK * size + 2;
    double x = fmod(edge, period);
    if (x < 0)
        x += period;
    while (x - period >= -slack)
        x -= period;
    while (x < -slack)
        x += period;
    int n = 0;
    for (; x <= room - size + slack; x += period) {
        if (n == max)
            return max + 1;
        out[n++] = x;
    }
    return n;
}

int fm_inset_places(const FmGeometry *g, int clip_w, int clip_h, double issued_aspect,
                    FmInsetPlace *out, int max)
{
    if (!g || !out || max <= 0 || clip_w < 16 || clip_h < 16 || !(issued_aspect > 0) ||
        !(g->scale_x > 0) || !(g->scale_y > 0) || g->perspective ||
        !(fabs(g->rotation_deg) <= MAX_TURN_DEG) || !isfinite(g->offset_x) ||
        !isfinite(g->offset_y))
        return 0;
    /* the picture's size in the clip: the scales are relative to the
     * picture's height filling the clip's */
    double pw = g->scale_x * clip_h * issued_aspect, ph = g->scale_y * clip_h;
    double fit = 1 + PLACE_SLACK;
    if (pw > fit * clip_w || ph > fit * clip_h ||
        (pw > FM_INSET_MIN_SHRINK * clip_w && ph > FM_INSET_MIN_SHRINK * clip_h))
        return 0;
    /* the tile period in the clip: FM_TILE mark pixels of the picture's
     * FM_MARK_HEIGHT rows */
    double px = FM_TILE * g->scale_x * clip_h / FM_MARK_HEIGHT;
    double py = FM_TILE * g->scale_y * clip_h / FM_MARK_HEIGHT;
    /* the offset is the picture's top-left corner modulo the period; a
     * mirrored clip is read mirrored, and its offset is that of the
     * mirrored frame (measured from the clip's right or bottom edge) */
    double xs[FM_INSET_MAX_PLACES], ys[FM_INSET_MAX_PLACES];
    double ex = g->flip_h ? clip_w - pw - g->offset_x : g->offset_x;
    double ey = g->flip_v ? clip_h - ph - g->offset_y : g->offset_y;
    int nx = edges(ex, px, pw, clip_w, xs, FM_INSET_MAX_PLACES);
    int ny = edges(ey, py, ph, clip_h, ys, FM_INSET_MAX_PLACES);
    if (nx > FM_INSET_MAX_PLACES || ny > FM_INSET_MAX_PLACES)
        return 0;
    if ((long)nx * ny > max)
        return 0;
    int n = 0;
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            int x0 = (int)lrint(xs[i]), y0 = (int)lrint(ys[j]);
            int x1 = (int)lrint(xs[i] + pw), y1 = (int)lrint(ys[j] + ph);
            x0 = x0 < 0 ? 0 : x0;
            y0 = y0 < 0 ? 0 : y0;
            x1 = x1 > clip_w ? clip_w : x1;
            y1 = y1 > clip_h ? clip_h : y1;
            if (x1 - x0 < 16 || y1 - y0 < 16)
                continue;
            out[n++] = (FmInsetPlace){ x0, y0, x1 - x0, y1 - y0 };
        }
    return n;
}

int fm_inset_new(FmInset **out, const FmGeometry *g, int clip_w, int clip_h,
                 double issued_aspect, FmError *err)
{
    if (!out)
        return fm_error_set(err, FM_EINVAL, "inset: NULL argument");
    *out = NULL;
    FmInset *in = calloc(1, sizeof(*in));
    if (!in)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    in->n = fm_inset_places(g, clip_w, clip_h, issued_aspect, in->place, FM_INSET_MAX_PLACES);
    if (in->n == 0) {
        free(in);
        return 0;
    }
    int least = clip_h;
    for (int i = 0; i < in->n; i++) {
        least = in->place[i].h < least ? in->place[i].h : least;
        least = in->place[i].w < least ? in->place[i].w : least;
    }
    in->clip_w = clip_w;
    in->clip_h = clip_h;
    in->factor = least / INSET_ROWS > 1 ? least / INSET_ROWS : 1;
    in->sw = clip_w / in->factor;
    in->sh = clip_h / in->factor;
    in->shrunk = malloc(sizeof(uint16_t) * (size_t)in->sw * in->sh);
    int ret = in->shrunk ? 0 : FM_ENOMEM;
    for (int i = 0; i < in->n && ret == 0; i++)
        ret = fm_fingerprint_new(&in->fp[i], FM_FP_CLIP, err);
    if (ret < 0) {
        fm_inset_free(&in);
        return ret == FM_ENOMEM ? fm_error_set(err, FM_ENOMEM, "out of memory") : ret;
    }
    *out = in;
    return in->n;
}

void fm_inset_free(FmInset **pin)
{
    FmInset *in = pin ? *pin : NULL;
    if (!in)
        return;
    for (int i = 0; i < in->n; i++)
        fm_fingerprint_free(&in->fp[i]);
    free(in->shrunk);
    free(in);
    *pin = NULL;
}

int fm_inset_count(const FmInset *in)
{
    return in ? in->n : 0;
}

/* The frame averaged over factor x factor blocks, on the 16-bit scale. */
static void shrink(FmInset *in, const uint8_t *luma, ptrdiff_t stride, int bit_depth)
{
    int f = in->factor, up = 16 - bit_depth;
    uint64_t area = (uint64_t)f * f;
    for (int y = 0; y < in->sh; y++) {
        uint16_t *o = in->shrunk + (size_t)y * in->sw;
        for (int x = 0; x < in->sw; x++) {
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

int fm_inset_add(FmInset *in, const uint8_t *luma, ptrdiff_t stride, int bit_depth, double t,
                 FmError *err)
{
    if (!in || !luma)
        return fm_error_set(err, FM_EINVAL, "inset: NULL argument");
    if (bit_depth < 8 || bit_depth > 16)
        return fm_error_set(err, FM_EINVAL, "inset: bit depth %d outside 8..16", bit_depth);
    shrink(in, luma, stride, bit_depth);
    int f = in->factor;
    for (int i = 0; i < in->n; i++) {
        const FmInsetPlace *p = &in->place[i];
        int x0 = p->x / f, y0 = p->y / f;
        int x1 = (p->x + p->w) / f, y1 = (p->y + p->h) / f;
        x1 = x1 > in->sw ? in->sw : x1;
        y1 = y1 > in->sh ? in->sh : y1;
        if (x1 - x0 < 16 || y1 - y0 < 16)
            continue;
        const uint16_t *at = in->shrunk + (size_t)y0 * in->sw + x0;
        int r = fm_fingerprint_add(in->fp[i], (const uint8_t *)at,
                                   (ptrdiff_t)in->sw * sizeof(uint16_t), 16, x1 - x0, y1 - y0, t,
                                   err);
        if (r < 0)
            return r;
    }
    return 0;
}

int fm_inset_read(FmInset *in, const char *path, double start, double duration,
                  double clip_from, double clip_to, FmError *err)
{
    if (!in || !path)
        return fm_error_set(err, FM_EINVAL, "inset: NULL argument");
    FmVideoReader *reader = NULL;
    int r = fm_reader_open(&reader, path, err);
    if (r < 0)
        return r;
    fm_reader_set_read_only(reader, 1);
    const FmVideoInfo *info = fm_reader_info(reader);
    if (info->width != in->clip_w || info->height != in->clip_h) {
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
        r = fm_inset_add(in, luma, stride, info->bit_depth, t, err);
    }
    fm_clip_frames_end(&cf);
    fm_reader_close(&reader);
    return r < 0 ? r : 0;
}

int fm_inset_compare(const FmInset *in, const FmFingerprint *issued, double clip_from,
                     double clip_to, FmFpMatch *res, int *index, FmError *err)
{
    if (!in || !issued || !res || in->n <= 0)
        return fm_error_set(err, FM_EINVAL, "inset: nothing to compare");
    int best = -1;
    for (int i = 0; i < in->n; i++) {
        FmFpMatch m;
        int r = fm_fingerprint_compare_span(issued, in->fp[i], clip_from, clip_to, &m, err);
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
    fm_fp_match_add_hypotheses(res, fm_inset_log10_places(in));
    if (index)
        *index = best;
    return 0;
}

FmInsetPlace fm_inset_place(const FmInset *in, int i)
{
    return in->place[i];
}

const FmFingerprint *fm_inset_fingerprint(const FmInset *in, int i)
{
    return in->fp[i];
}

double fm_inset_log10_places(const FmInset *in)
{
    return in && in->n > 0 ? log10((double)in->n) : 0;
}
