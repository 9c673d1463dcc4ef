/*
 * fp_measure - content fingerprint figures (common/fingerprint.h) on real files:
 *
 *   fp_measure MASTER CLIP...     fingerprint MASTER as wmembed would (reference,
 *                                 through its string form, as a receipt holds it),
 *                                 each CLIP as wmdetect would, compare, one line each
 *   fp_measure MASTER... -- CLIP...   every master with every clip; a MASTER
 *                                 named *.fp is a saved --string output
 *   fp_measure --string FILE      print FILE's serialised fingerprint
 *
 * Columns: master, clip, verdict, log10 p (all hypotheses counted), log10 p of the best
 * hypothesis alone, log10 of the hypotheses tried, score (agreeing bits), bit errors/bits, agreeing
 * runs/runs, windows, offset, speed, flips, zoom, seconds the comparison took.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/frame.h>

#include "fingerprint.h"
#include "tool_util.h"
#include "video_io.h"

static int fingerprint_file(const char *path, FmFpRole role, FmFingerprint **fp, FmError *err)
{
    FmVideoReader *rd;
    int ret = fm_reader_open(&rd, path, err);
    if (ret < 0)
        return ret;
    const FmVideoInfo *info = fm_reader_info(rd);
    if ((ret = fm_fingerprint_new(fp, role, err)) < 0) {
        fm_reader_close(&rd);
        return ret;
    }
    AVFrame *f;
    while ((ret = fm_reader_next(rd, &f, err)) == 1) {
        double t = f->pts * av_q2d(info->time_base);
        ret = fm_fingerprint_add(*fp, f->data[0], f->linesize[0], info->bit_depth, f->width,
                                 f->height, t, err);
        if (ret < 0)
            break;
    }
    fm_reader_close(&rd);
    if (ret < 0)
        fm_fingerprint_free(fp);
    return ret < 0 ? ret : 0;
}

/* A whole text file, without its trailing newline; NULL on error. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b)
                free(buf);
            buf = b;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = 0;
    return buf;
}

int main(int argc, char **argv)
{
    FmError err = { 0 };
    if (argc == 3 && !strcmp(argv[1], "--string")) {
        FmFingerprint *fp;
        char *s;
        if (fingerprint_file(argv[2], FM_FP_REFERENCE, &fp, &err) < 0 ||
            fm_fingerprint_to_string(fp, &s, &err) < 0) {
            fprintf(stderr, "fp_measure: %s\n", err.msg);
            return 2;
        }
        printf("%s\n", s);
        free(s);
        fm_fingerprint_free(&fp);
        return 0;
    }
    int sep = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--"))
            sep = i;
    if (argc < 3 || (sep && (sep < 2 || sep == argc - 1))) {
        fprintf(stderr, "usage: fp_measure MASTER CLIP...\n       fp_measure MASTER... -- CLIP...\n"
                        "       fp_measure --string FILE\n");
        return 2;
    }
    int nm = sep ? sep - 1 : 1, c0 = sep ? sep + 1 : 2, nc = argc - c0;
    FmFingerprint **masters = calloc((size_t)nm, sizeof(*masters));
    FmFingerprint **clips = calloc((size_t)nc, sizeof(*clips));
    for (int i = 0; i < nm; i++) {
        FmFingerprint *live;
        char *s;
        double t0 = fm_now();
        size_t len = strlen(argv[1 + i]);
        if (len > 3 && !strcmp(argv[1 + i] + len - 3, ".fp")) {  /* a saved --string */
            char *text = read_text(argv[1 + i]);
            if (!text || fm_fingerprint_from_string(&masters[i], text, &err) < 0) {
                fprintf(stderr, "fp_measure: %s: %s\n", argv[1 + i], text ? err.msg : "unreadable");
                return 2;
            }
            free(text);
            continue;
        }
        if (fingerprint_file(argv[1 + i], FM_FP_REFERENCE, &live, &err) < 0 ||
            fm_fingerprint_to_string(live, &s, &err) < 0 ||
            fm_fingerprint_from_string(&masters[i], s, &err) < 0) {
            fprintf(stderr, "fp_measure: %s: %s\n", argv[1 + i], err.msg);
            return 2;
        }
        fprintf(stderr, "master %s: %ld frames, %ld seconds, %zu bytes, %.2f s\n", argv[1 + i],
                fm_fingerprint_frames(live), fm_fingerprint_seconds(masters[i]), strlen(s),
                fm_now() - t0);
        free(s);
        fm_fingerprint_free(&live);
    }
    for (int i = 0; i < nc; i++) {
        double t0 = fm_now();
        if (fingerprint_file(argv[c0 + i], FM_FP_CLIP, &clips[i], &err) < 0) {
            fprintf(stderr, "fp_measure: %s: %s\n", argv[c0 + i], err.msg);
            return 2;
        }
        fprintf(stderr, "clip %s: %ld frames, %.2f s\n", argv[c0 + i],
                fm_fingerprint_frames(clips[i]), fm_now() - t0);
    }
    for (int i = 0; i < nm; i++)
        for (int k = 0; k < nc; k++) {
            FmFpMatch m;
            double t0 = fm_now();
            if (fm_fingerprint_compare(masters[i], clips[k], &m, &err) < 0) {
                fprintf(stderr, "fp_measure: %s: %s\n", argv[c0 + k], err.msg);
                return 2;
            }
            const char *v = m.verdict == FM_FP_MATCH ? "MATCH" : m.verdict == FM_FP_NO_MATCH
                            ? "no-match" : "too-short";
            const char *mn = strrchr(argv[1 + i], '/'), *cn = strrchr(argv[c0 + k], '/');
            printf("%-24s %-40s %-9s log10p %7.1f  best1 %7.1f  hyp %4.1f  score %.3f  "
                   "err %4ld/%-5ld  runs %4ld/%-5ld  win %3d  off %6.2f  speed %.3f  flip %c%c  "
                   "zoom %.2fx%.2f  %.2f s\n",
                   mn ? mn + 1 : argv[1 + i], cn ? cn + 1 : argv[c0 + k], v, m.log10_p,
                   m.log10_p_best, m.log10_hypotheses, m.score, m.bit_errors, m.bits,
                   m.agreements, m.trials, m.windows, m.offset, m.speed, m.hflip ? 'h' : '-',
                   m.vflip ? 'v' : '-', m.zoom_x, m.zoom_y, fm_now() - t0);
        }
    for (int i = 0; i < nm; i++)
        fm_fingerprint_free(&masters[i]);
    for (int i = 0; i < nc; i++)
        fm_fingerprint_free(&clips[i]);
    free(masters);
    free(clips);
    return 0;
}
