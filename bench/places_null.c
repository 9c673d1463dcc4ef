/*
 * places_null - the false-match side of the picture's place (common/place.h)
 * on real footage: unrelated pictures fingerprinted at the places a mark's
 * geometry would give, compared with real titles' fingerprints.
 *
 *   places_null TITLE... -- CLIP[,TAG@FROM-TO...]...
 *
 * Each TITLE is fingerprinted as wmembed does (through the string form a
 * receipt holds). Each CLIP is read once and fingerprinted at the places of
 * four geometries, as wmdetect would for a copy of a title: the picture at
 * half and at 5/8 of the clip's height inside it, and crops of half and of
 * 61 % of the area, a tenth of the clip's width right of centre (the issued
 * picture's aspect is the TITLE's). Every 10-s
 * span of the clip (0-10, 10-20, ...) is compared with every title at every
 * geometry, the best place's probability counted over the places
 * (fm_places_compare). A span overlapping FROM-TO (seconds of the clip) is
 * not compared with the titles whose file name contains TAG: shots of the
 * title's own source picture are not unrelated pictures. One line per
 * comparison (title, clip, geometry, span, places, log10 p, share of bits
 * agreeing), then the smallest log10 p and how many matched (log10 p <= -6;
 * the exit status is 3 if any did).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/frame.h>

#include "clip_frames.h"
#include "fingerprint.h"
#include "frame.h"
#include "place.h"
#include "video_io.h"

#define SPAN 10.0
#define NGEOM 4
#define MAX_SKIPS 16

typedef struct Title {
    const char *path;
    FmFingerprint *fp;
    double aspect;
} Title;

typedef struct Skip {
    char tag[64];
    double from, to;
} Skip;

static const char *const geom_names[NGEOM] = { "inset 1/2", "inset 5/8", "crop 1/2 area",
                                               "crop 61 % area" };

/* Geometry k for a w x h clip and a title of that aspect: insets at an
 * arbitrary offset, crops a tenth of the clip's width right of centre */
static FmGeometry geometry(int k, int w, int h, double aspect)
{
    static const double scale[NGEOM] = { 0.5, 0.625, 1.4142, 1.2821 };
    double s = scale[k], ox = 37, oy = 41;
    if (s > 1) {
        ox = -(s * h * aspect - w) / 2 - 0.1 * w;
        oy = -(s * h - h) / 2;
    }
    return (FmGeometry){ .scale_x = s, .scale_y = s, .offset_x = ox, .offset_y = oy,
                         .searched = 1 };
}

static int title_fp(Title *t, FmError *err)
{
    FmVideoReader *rd;
    FmFingerprint *live;
    int r = fm_reader_open(&rd, t->path, err);
    if (r < 0)
        return r;
    const FmVideoInfo *info = fm_reader_info(rd);
    t->aspect = (double)info->width / info->height;
    if ((r = fm_fingerprint_new(&live, FM_FP_REFERENCE, err)) < 0) {
        fm_reader_close(&rd);
        return r;
    }
    AVFrame *f;
    while ((r = fm_reader_next(rd, &f, err)) == 1) {
        ptrdiff_t stride;
        const uint8_t *luma = fm_frame_luma(f, &stride);
        if ((r = fm_fingerprint_add(live, luma, stride, info->bit_depth, info->width,
                                    info->height, fm_reader_frame_seconds(rd, f), err)) < 0)
            break;
    }
    fm_reader_close(&rd);
    char *s = NULL;
    if (r == 0 && (r = fm_fingerprint_to_string(live, &s, err)) == 0)
        r = fm_fingerprint_from_string(&t->fp, s, err);
    free(s);
    fm_fingerprint_free(&live);
    return r;
}

static int skipped(const Skip *sk, int nsk, const char *title, double from, double to)
{
    for (int i = 0; i < nsk; i++)
        if (strstr(title, sk[i].tag) && from < sk[i].to && to > sk[i].from)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    FmError err = { { 0 } };
    Title titles[16];
    int nt = 0, i = 1;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        if (nt == 16) {
            fprintf(stderr, "places_null: at most 16 titles\n");
            return 2;
        }
        titles[nt] = (Title){ .path = argv[i] };
        if (title_fp(&titles[nt], &err) < 0) {
            fprintf(stderr, "places_null: %s: %s\n", argv[i], err.msg);
            return 1;
        }
        nt++;
    }
    if (nt == 0 || i >= argc - 1) {
        fprintf(stderr, "usage: places_null TITLE... -- CLIP[,TAG@FROM-TO...]...\n");
        return 2;
    }
    double worst = 0;
    long compared = 0, matched = 0;
    printf("title\tclip\tgeometry\tspan_s\tplaces\tlog10_p\tscore\n");
    for (i++; i < argc; i++) {
        char path[4096];
        Skip sk[MAX_SKIPS];
        int nsk = 0;
        snprintf(path, sizeof path, "%s", argv[i]);
        char *c = strchr(path, ',');
        if (c) {
            *c++ = 0;
            for (char *tok = strtok(c, ","); tok && nsk < MAX_SKIPS; tok = strtok(NULL, ",")) {
                if (sscanf(tok, "%63[^@]@%lf-%lf", sk[nsk].tag, &sk[nsk].from, &sk[nsk].to) == 3)
                    nsk++;
            }
        }
        FmVideoReader *rd;
        if (fm_reader_open(&rd, path, &err) < 0) {
            fprintf(stderr, "places_null: %s: %s\n", path, err.msg);
            return 1;
        }
        const FmVideoInfo *info = fm_reader_info(rd);
        FmPlaces *pl[16][NGEOM] = { { NULL } };
        for (int t = 0; t < nt; t++)
            for (int k = 0; k < NGEOM; k++) {
                FmGeometry g = geometry(k, info->width, info->height, titles[t].aspect);
                if (fm_places_new(&pl[t][k], &g, info->width, info->height, titles[t].aspect,
                                  &err) < 0) {
                    fprintf(stderr, "places_null: %s\n", err.msg);
                    return 1;
                }
            }
        FmClipFrames cf;
        AVFrame *f;
        double ft, t_end = 0;
        int r;
        fm_clip_frames_init(&cf, rd, 0, 0);
        while ((r = fm_clip_frames_next(&cf, &f, &ft, &err)) > 0) {
            ptrdiff_t stride;
            const uint8_t *luma = fm_frame_luma(f, &stride);
            for (int t = 0; t < nt && r >= 0; t++)
                for (int k = 0; k < NGEOM && r >= 0; k++)
                    if (pl[t][k])
                        r = fm_places_add(pl[t][k], luma, stride, info->bit_depth, ft, &err);
            if (r < 0)
                break;
            t_end = ft;
        }
        fm_reader_close(&rd);
        if (r < 0) {
            fprintf(stderr, "places_null: %s: %s\n", path, err.msg);
            return 1;
        }
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        for (double s0 = 0; s0 + SPAN <= t_end + 0.5; s0 += SPAN)
            for (int t = 0; t < nt; t++) {
                const char *tname = strrchr(titles[t].path, '/') ? strrchr(titles[t].path, '/') + 1
                                                                 : titles[t].path;
                if (skipped(sk, nsk, tname, s0, s0 + SPAN))
                    continue;
                for (int k = 0; k < NGEOM; k++) {
                    if (!pl[t][k])
                        continue;
                    FmFpMatch m;
                    int idx;
                    if (fm_places_compare(pl[t][k], titles[t].fp, s0, s0 + SPAN, &m, &idx,
                                          &err) < 0) {
                        fprintf(stderr, "places_null: %s\n", err.msg);
                        return 1;
                    }
                    printf("%s\t%s\t%s\t%.0f-%.0f\t%.0f\t%.1f\t%.3f\n", tname, name,
                           geom_names[k], s0, s0 + SPAN, pow(10, fm_places_log10_count(pl[t][k])),
                           m.log10_p, m.score);
                    compared++;
                    matched += m.verdict == FM_FP_MATCH;
                    worst = m.log10_p < worst ? m.log10_p : worst;
                }
            }
        for (int t = 0; t < nt; t++)
            for (int k = 0; k < NGEOM; k++)
                fm_places_free(&pl[t][k]);
    }
    printf("# %ld comparisons, %ld matched (log10 p <= %.0f), smallest log10 p %.1f\n", compared,
           matched, FM_FP_LOG10_P_MATCH, worst);
    for (int t = 0; t < nt; t++)
        fm_fingerprint_free(&titles[t].fp);
    return matched ? 3 : 0;
}
