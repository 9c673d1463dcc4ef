#include "thumbnail.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "video_io.h"

void fm_thumbnail_free(FmThumbnail *t)
{
    if (!t)
        return;
    free(t->jpeg);
    t->jpeg = NULL;
    t->size = 0;
}

/* The thumbnail's size: display proportions, even, at most max_width wide. */
static void thumb_size(const AVFrame *f, int max_width, int *w, int *h)
{
    double sar = f->sample_aspect_ratio.num > 0 && f->sample_aspect_ratio.den > 0
                 ? av_q2d(f->sample_aspect_ratio) : 1;
    double dw = f->width * sar;
    double tw = dw < max_width ? dw : max_width;
    double th = tw * f->height / dw;
    *w = 2 * (int)lround(tw / 2);
    *h = 2 * (int)lround(th / 2);
    if (*w < 2)
        *w = 2;
    if (*h < 2)
        *h = 2;
}

int fm_thumbnail_encode(const AVFrame *frame, int max_width, int quality, FmThumbnail *out,
                        FmError *err)
{
    memset(out, 0, sizeof(*out));
    if (!frame || frame->width <= 0 || frame->height <= 0 || max_width < 2)
        return fm_error_set(err, FM_EINVAL, "fm_thumbnail_encode: no picture");
    int w, h, ret = 0;
    thumb_size(frame, max_width, &w, &h);
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    if (!codec)
        return fm_error_set(err, FM_ECODEC, "libavcodec has no JPEG (mjpeg) encoder");
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    AVFrame *small = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    struct SwsContext *sws = sws_getContext(frame->width, frame->height, frame->format, w, h,
                                            AV_PIX_FMT_YUV420P, SWS_AREA, NULL, NULL, NULL);
    if (!ctx || !small || !pkt) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory making a thumbnail");
        goto end;
    }
    if (!sws) {
        ret = fm_error_set(err, FM_ECODEC, "cannot scale %s pictures for a thumbnail",
                           av_get_pix_fmt_name(frame->format));
        goto end;
    }
    /* the source's matrix and range to JPEG's: BT.601, full range */
    int src_cs = frame->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709
                 : frame->colorspace == AVCOL_SPC_BT2020_NCL ? SWS_CS_BT2020 : SWS_CS_ITU601;
    sws_setColorspaceDetails(sws, sws_getCoefficients(src_cs),
                             frame->color_range == AVCOL_RANGE_JPEG,
                             sws_getCoefficients(SWS_CS_ITU601), 1, 0, 1 << 16, 1 << 16);
    small->format = AV_PIX_FMT_YUV420P;
    small->width = w;
    small->height = h;
    small->color_range = AVCOL_RANGE_JPEG;
    if (av_frame_get_buffer(small, 0) < 0) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory making a thumbnail");
        goto end;
    }
    sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height,
              small->data, small->linesize);

    ctx->width = w;
    ctx->height = h;
    ctx->pix_fmt = AV_PIX_FMT_YUV420P;
    ctx->color_range = AVCOL_RANGE_JPEG;
    ctx->time_base = (AVRational){ 1, 25 };
    ctx->flags |= AV_CODEC_FLAG_QSCALE;
    ctx->global_quality = FF_QP2LAMBDA * (quality < 2 ? 2 : quality > 31 ? 31 : quality);
    small->quality = ctx->global_quality;
    small->pts = 0;
    if ((ret = avcodec_open2(ctx, codec, NULL)) < 0) {
        ret = fm_error_set(err, FM_ECODEC, "cannot open the JPEG encoder: %s", av_err2str(ret));
        goto end;
    }
    if ((ret = avcodec_send_frame(ctx, small)) < 0 || (ret = avcodec_send_frame(ctx, NULL)) < 0 ||
        (ret = avcodec_receive_packet(ctx, pkt)) < 0) {
        ret = fm_error_set(err, FM_ECODEC, "cannot encode a thumbnail: %s", av_err2str(ret));
        goto end;
    }
    if (!(out->jpeg = malloc((size_t)pkt->size))) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory making a thumbnail");
        goto end;
    }
    memcpy(out->jpeg, pkt->data, (size_t)pkt->size);
    out->size = (size_t)pkt->size;
    out->width = w;
    out->height = h;
    ret = 0;
end:
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&small);
    avcodec_free_context(&ctx);
    return ret;
}

/* Seeks to from and keeps in last the first frame at or after target, or
 * the last frame before the end. Returns 1, 0 (no frame), or FM_E*. */
static int grab_from(FmVideoReader *r, int64_t origin, double tb, double from, double target,
                     AVFrame *last, FmError *err)
{
    AVFrame *f;
    int ret, got = 0;
    av_frame_unref(last);
    if ((ret = fm_reader_seek(r, from > 0 ? from : 0, err)) < 0)
        return ret;
    while ((ret = fm_reader_next(r, &f, err)) > 0) {
        av_frame_unref(last);
        if (av_frame_ref(last, f) < 0)
            return fm_error_set(err, FM_ENOMEM, "out of memory making thumbnails");
        got = 1;
        if (f->pts == AV_NOPTS_VALUE || origin == AV_NOPTS_VALUE ||
            (f->pts - origin) * tb >= target - 1e-6)
            break;
    }
    return ret < 0 ? ret : got;
}

int fm_thumbnails_grab(const char *path, const double *times, int n, int max_width,
                       int quality, FmThumbnail *out, FmError *err)
{
    for (int i = 0; i < n; i++)
        memset(&out[i], 0, sizeof(out[i]));
    if (n <= 0)
        return 0;
    FmVideoReader *r = NULL;
    AVFrame *f, *last = av_frame_alloc();
    int ret;
    if (!last)
        return fm_error_set(err, FM_ENOMEM, "out of memory making thumbnails");
    if ((ret = fm_reader_open(&r, path, err)) < 0)
        goto end;
    double tb = av_q2d(fm_reader_info(r)->time_base);
    /* the origin of fm_reader_seek's times: the first frame */
    if ((ret = fm_reader_next(r, &f, err)) <= 0) {
        if (ret == 0)
            ret = fm_error_set(err, FM_EFORMAT, "'%s' has no decodable video frames", path);
        goto end;
    }
    int64_t origin = f->pts;
    for (int i = 0; i < n; i++) {
        /* past the end, a second try from a little earlier takes the last frame */
        ret = grab_from(r, origin, tb, times[i], times[i], last, err);
        if (ret == 0)
            ret = grab_from(r, origin, tb, fmin(times[i], fm_reader_info(r)->duration) - 5,
                            times[i], last, err);
        if (ret == 0)
            ret = fm_error_set(err, FM_EFORMAT, "'%s': no frame at %.2f s", path, times[i]);
        if (ret < 0)
            goto end;
        if ((ret = fm_thumbnail_encode(last, max_width, quality, &out[i], err)) < 0)
            goto end;
        out[i].t = times[i];
        out[i].t_frame = last->pts != AV_NOPTS_VALUE && origin != AV_NOPTS_VALUE
                         ? (last->pts - origin) * tb : times[i];
    }
    ret = 0;
end:
    av_frame_free(&last);
    fm_reader_close(&r);
    return ret;
}
