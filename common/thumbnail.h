/*
 * thumbnail.h - small JPEG stills of a clip's frames, for the evidence
 * report (report.h): decoded again at chosen times with a second reader, so
 * that reading the clip for detection keeps no pictures (bounded memory).
 */
#ifndef FM_THUMBNAIL_H
#define FM_THUMBNAIL_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>

#include "fm_error.h"

typedef struct FmThumbnail {
    double t;               /* seconds asked for (from the clip's first frame) */
    double t_frame;         /* seconds of the frame taken, same origin */
    int width, height;      /* of the JPEG, display proportions (sample aspect applied) */
    uint8_t *jpeg;          /* baseline JPEG (libavcodec's mjpeg), malloc'd */
    size_t size;
} FmThumbnail;

/*
 * Encodes one decoded frame (any planar YUV the reader gives: 8..16 bit,
 * 4:2:0/4:2:2/4:4:4, odd sizes) as a JPEG at most max_width pixels wide
 * (and at most as wide as the frame's display width), BT.601 full range.
 * quality: libavcodec qscale, 2 (best) .. 31. Returns 0 or FM_E*.
 */
int fm_thumbnail_encode(const AVFrame *frame, int max_width, int quality, FmThumbnail *out,
                        FmError *err);

/*
 * Opens path and takes the first frame at or after each of times[0..n-1]
 * (seconds from the clip's first frame, the origin of fm_reader_seek; in
 * any order). A time past the end takes the last frame. out[] is filled
 * (free each with fm_thumbnail_free, also after an error).
 */
int fm_thumbnails_grab(const char *path, const double *times, int n, int max_width,
                       int quality, FmThumbnail *out, FmError *err);

void fm_thumbnail_free(FmThumbnail *t);

#endif
