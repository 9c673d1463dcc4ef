/*
 * pix_policy.c - which pixel formats the reader hands out and the writer
 * takes (pix_policy.h).
 */
#include "pix_policy.h"

/* The formats the reader passes through untouched; everything else is
 * converted to the nearest of them. Index: [depth class][subsampling]. */
static const enum AVPixelFormat native_fmts[3][3] = {
    { AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUV444P },
    { AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_YUV422P10LE, AV_PIX_FMT_YUV444P10LE },
    { AV_PIX_FMT_YUV420P12LE, AV_PIX_FMT_YUV422P12LE, AV_PIX_FMT_YUV444P12LE },
};

static int is_native(enum AVPixelFormat f)
{
    for (int d = 0; d < 3; d++)
        for (int s = 0; s < 3; s++)
            if (native_fmts[d][s] == f)
                return 1;
    return 0;
}

/* The deprecated full-range "J" formats have the memory layout of their
 * yuv*p twins; map them and remember that the samples are full range. */
enum AVPixelFormat fm_pix_unjpeg(enum AVPixelFormat f, int *full)
{
    enum AVPixelFormat g;
    switch (f) {
    case AV_PIX_FMT_YUVJ420P: g = AV_PIX_FMT_YUV420P; break;
    case AV_PIX_FMT_YUVJ422P: g = AV_PIX_FMT_YUV422P; break;
    case AV_PIX_FMT_YUVJ444P: g = AV_PIX_FMT_YUV444P; break;
    case AV_PIX_FMT_YUVJ440P: g = AV_PIX_FMT_YUV440P; break;
    case AV_PIX_FMT_YUVJ411P: g = AV_PIX_FMT_YUV411P; break;
    default: return f;
    }
    *full = 1;
    return g;
}

int fm_pix_is_rgb(const AVPixFmtDescriptor *d)
{
    return d && (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL));
}

int fm_pix_is_gray(const AVPixFmtDescriptor *d)
{
    return d && !fm_pix_is_rgb(d) && d->nb_components < 3;
}

/*
 * Nearest native format of a decoded format: same chroma subsampling where
 * possible (4:1:1 -> 4:2:2 and 4:4:0 -> 4:4:4 keep every chroma sample), RGB
 * becomes 4:4:4 so no colour resolution is lost, gray becomes 4:2:0 as there
 * is no chroma to keep; depth is rounded up to 8, 10 or 12 bits.
 */
enum AVPixelFormat fm_pix_nearest_native(enum AVPixelFormat f)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    if (!d)
        return AV_PIX_FMT_YUV420P;
    if (is_native(f))
        return f;
    int depth = d->comp[0].depth;
    int dc = depth <= 8 ? 0 : depth <= 10 ? 1 : 2;
    int sub;
    if (fm_pix_is_rgb(d))
        sub = 2;
    else if (fm_pix_is_gray(d))
        sub = 0;
    else if (d->log2_chroma_w == 0)
        sub = 2;
    else if (d->log2_chroma_h == 0)
        sub = 1;
    else
        sub = 0;
    return native_fmts[dc][sub];
}

