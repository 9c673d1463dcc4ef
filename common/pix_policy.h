/*
 * pix_policy.h - the pixel-format policy shared by the reader and the writer:
 * frames are planar YUV 4:2:0, 4:2:2 or 4:4:4 at 8, 10 or 12 bits ("native");
 * anything else a decoder gives is converted to the nearest of them.
 */
#ifndef FM_PIX_POLICY_H
#define FM_PIX_POLICY_H

#include <libavutil/pixdesc.h>
#include <libavutil/pixfmt.h>

/* The deprecated full-range "J" formats map to their yuv*p twins (same
 * memory layout); *full is set to 1 when f was one of them. */
enum AVPixelFormat fm_pix_unjpeg(enum AVPixelFormat f, int *full);
int fm_pix_is_rgb(const AVPixFmtDescriptor *d);
int fm_pix_is_gray(const AVPixFmtDescriptor *d);
/* The native format nearest to a decoded format (pix_policy.c). */
enum AVPixelFormat fm_pix_nearest_native(enum AVPixelFormat f);

#endif
