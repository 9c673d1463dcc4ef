/*
 * video_writer.c - encoding deliverables (video_io.h): VP9, H.264, FFV1 or
 * uncompressed pictures, muxed with the master's other streams
 * (stream_carry.h) into a temporary file renamed into place by
 * fm_writer_publish(), or straight to standard output.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "video_io.h"
#include "atomic_file.h"
#include "pix_policy.h"
#include "stream_carry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <sodium.h>

/* Scaler flags for format conversions (as the reader's): no resizing, so
 * only chroma resampling matters; accurate rounding avoids a luma bias. */
#define FM_SWS_FLAGS (SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP)
#define STREAM_BUF_SIZE (1 << 16)

static int nomem(FmError *err)
{
    return fm_error_set(err, FM_ENOMEM, "out of memory");
}

static int valid_q(AVRational q)
{
    return q.num > 0 && q.den > 0;
}

/* Standard output: every byte written is hashed for the receipt. */
typedef struct StreamOut {
    int fd;
    crypto_hash_sha256_state sha;
    int64_t bytes;
} StreamOut;

static int stream_write(void *opaque, uint8_t *buf, int size)
{
    StreamOut *so = opaque;
    crypto_hash_sha256_update(&so->sha, buf, (unsigned long long)size);
    int done = 0;
    while (done < size) {
        ssize_t n = write(so->fd, buf + done, (size_t)(size - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return AVERROR(errno);
        done += (int)n;
    }
    so->bytes += size;
    return size;
}

struct FmVideoWriter {
    int force_key;        /* the next frame written starts a GOP */
    char *path;           /* final name */
    FmTempFile tmp;       /* where the muxer writes until published */
    AVFormatContext *oc;
    AVCodecContext *venc;
    AVStream *vst;
    AVPacket *pkt;
    AVFrame *frame;       /* reference to the caller's frame, our pts */
    AVFrame *conv;        /* converted picture when the encoder wants another format */
    struct SwsContext *sws;
    int width, height;
    enum AVPixelFormat in_fmt;
    AVRational src_tb;
    int64_t last_pts;     /* in venc->time_base */
    int64_t frame_ticks;
    int failed, completed, finished;
    FmCarry *carry;       /* the master's other streams */
    /* standard output ("-") */
    int stream;
    StreamOut *so;
    AVIOContext *so_pb;
    char *name;           /* for messages: "'out.webm'" or "standard output" */
    /* decode-back (fm_writer_decode_back) */
    AVCodecContext *back;
    AVFrame *back_frame;
    FmWriterDecodeBack back_cb;
    void *back_opaque;
    int back_done;
};

static const char *const encoder_names[] = { "libvpx-vp9", "libx264", "ffv1",
                                             "wrapped_avframe" };
static const char *const codec_names[] = { "vp9", "h264", "ffv1", "raw" };
static const char *const codec_containers[] = { ".webm or .mkv", ".mp4, .mov or .mkv", ".mkv",
                                                ".y4m, .nut or .mkv" };

const char *fm_format_muxer(const char *name)
{
    static const char *const alias[][2] = {
        { "y4m", "yuv4mpegpipe" }, { "mkv", "matroska" }, { "ts", "mpegts" },
    };
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (!strcasecmp(name, alias[i][0]))
            name = alias[i][1];
    const AVOutputFormat *f = av_guess_format(name, NULL, NULL);
    return f && !strcmp(f->name, name) && !(f->flags & AVFMT_NOFILE) &&
           f->video_codec != AV_CODEC_ID_NONE ? f->name : NULL;
}

static int is_y4m(const AVOutputFormat *f)
{
    return !strcmp(f->name, "yuv4mpegpipe");
}

const char *fm_codec_name(FmCodec codec)
{
    if ((unsigned)codec < sizeof codec_names / sizeof codec_names[0])
        return codec_names[codec];
    return "unknown";
}

int fm_codec_from_name(const char *name, FmCodec *codec)
{
    for (unsigned i = 0; name && i < sizeof codec_names / sizeof codec_names[0]; i++) {
        if (strcasecmp(name, codec_names[i]) == 0) {
            if (codec)
                *codec = (FmCodec)i;
            return 0;
        }
    }
    return FM_EINVAL;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The muxer writes to a locked temporary beside path (atomic_file.h). */
static int writer_make_temp(FmVideoWriter *w, FmError *err)
{
    return fm_temp_open(&w->tmp, w->path, 0666, 1, err);
}

/* Can the encoder take pix_fmt at this size? Planar YUV only (no alpha,
 * RGB, gray or J aliases), and H.264 cannot code odd sizes in subsampled
 * chroma directions. */
static int enc_fmt_usable(const AVCodec *enc, enum AVPixelFormat f, int w, int h)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    int full = 0;
    if (!d || fm_pix_unjpeg(f, &full) != f || d->nb_components != 3 ||
        (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_ALPHA |
                     AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BAYER)) ||
        d->comp[1].plane == d->comp[2].plane)
        return 0;
    if (enc->id == AV_CODEC_ID_H264 &&
        ((w & ((1 << d->log2_chroma_w) - 1)) || (h & ((1 << d->log2_chroma_h) - 1))))
        return 0;
    return 1;
}

static enum AVPixelFormat enc_pick_fmt(const AVCodec *enc, enum AVPixelFormat want, int w, int h)
{
    if (!enc->pix_fmts)
        return want;
    enum AVPixelFormat list[128];
    int n = 0;
    for (const enum AVPixelFormat *p = enc->pix_fmts; *p != AV_PIX_FMT_NONE && n < 127; p++) {
        if (*p == want && (enc->id != AV_CODEC_ID_H264 || enc_fmt_usable(enc, *p, w, h)))
            return want;
        if (enc_fmt_usable(enc, *p, w, h))
            list[n++] = *p;
    }
    list[n] = AV_PIX_FMT_NONE;
    if (n == 0)
        return AV_PIX_FMT_NONE;
    return avcodec_find_best_pix_fmt_of_list(list, want, 0, NULL);
}

/* Enough tile columns for the threads without tiles narrower than 256 px
 * (libvpx's minimum): 720p/1080p -> 2 (4 tiles), 4K -> 3. */
static int vp9_tile_columns(int width)
{
    int n = 0;
    while (n < 6 && (width >> (n + 1)) >= 256)
        n++;
    return n;
}

static int writer_setup_video(FmVideoWriter *w, const FmVideoInfo *src,
                              const FmWriterOptions *opt, const AVCodec *enc, FmError *err)
{
    enum AVPixelFormat fmt = enc_pick_fmt(enc, src->pix_fmt, src->width, src->height);
    if (fmt == AV_PIX_FMT_NONE)
        return fm_error_set(err, FM_ECODEC, "the %s encoder cannot take %dx%d %s video",
                            enc->name, src->width, src->height,
                            av_get_pix_fmt_name(src->pix_fmt));

    AVCodecContext *c = w->venc = avcodec_alloc_context3(enc);
    if (!c)
        return nomem(err);
    c->width = src->width;
    c->height = src->height;
    c->pix_fmt = fmt;
    /* The source's own time base keeps every timestamp exact (variable frame
     * rate included) and the copied audio in sync. */
    AVRational fr = valid_q(src->frame_rate) ? src->frame_rate : (AVRational){ 0, 1 };
    c->time_base = valid_q(src->time_base) ? src->time_base
                   : valid_q(fr) ? av_inv_q(fr) : (AVRational){ 1, 25 };
    /* y4m has no timestamps: its header's frame rate is the stream's time base */
    if (is_y4m(w->oc->oformat))
        c->time_base = valid_q(fr) ? av_inv_q(fr) : (AVRational){ 1, 25 };
    c->framerate = fr;
    c->chroma_sample_location = src->chroma_location;
    if (valid_q(src->sample_aspect_ratio))
        c->sample_aspect_ratio = src->sample_aspect_ratio;
    c->color_primaries = src->color_primaries;
    c->color_trc = src->color_trc;
    c->colorspace = src->colorspace;
    c->color_range = src->color_range;
    c->thread_count = opt->threads > 0 ? opt->threads : 0;
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER)
        c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

    AVDictionary *o = NULL;
    switch (opt->codec) {
    case FM_CODEC_VP9:
        /* Constant quality: crf with no bitrate target. */
        c->bit_rate = 0;
        av_dict_set_int(&o, "crf", opt->crf >= 0 ? opt->crf : 24, 0);
        av_dict_set(&o, "deadline", "good", 0);
        av_dict_set(&o, "cpu-used", "4", 0);
        av_dict_set(&o, "row-mt", "1", 0);
        av_dict_set_int(&o, "tile-columns", vp9_tile_columns(c->width), 0);
        break;
    case FM_CODEC_H264:
        av_dict_set_int(&o, "crf", opt->crf >= 0 ? opt->crf : 18, 0);
        av_dict_set(&o, "preset", "medium", 0);
        break;
    case FM_CODEC_FFV1:
        /* Archival settings: version 3 with slice CRCs, every frame intra. */
        av_dict_set(&o, "level", "3", 0);
        av_dict_set(&o, "slicecrc", "1", 0);
        c->gop_size = 1;
        break;
    case FM_CODEC_RAW:  /* every picture as it is (wrapped_avframe) */
        break;
    }
    int ret = avcodec_open2(c, enc, &o);
    av_dict_free(&o);
    if (ret < 0)
        return fm_error_set(err, ret == AVERROR(ENOMEM) ? FM_ENOMEM : FM_ECODEC,
                            "cannot start the %s encoder for %dx%d %s: %s", enc->name,
                            c->width, c->height, av_get_pix_fmt_name(fmt), av_err2str(ret));

    w->vst = avformat_new_stream(w->oc, NULL);
    if (!w->vst)
        return nomem(err);
    ret = avcodec_parameters_from_context(w->vst->codecpar, c);
    if (ret < 0)
        return nomem(err);
    w->vst->time_base = c->time_base;
    w->vst->avg_frame_rate = fr;
    w->vst->sample_aspect_ratio = c->sample_aspect_ratio;

    w->frame_ticks = valid_q(fr) ? av_rescale_q(1, av_inv_q(fr), c->time_base) : 1;
    if (w->frame_ticks < 1)
        w->frame_ticks = 1;

    if (fmt != src->pix_fmt) {
        /* E.g. 12-bit into libx264, or odd-sized 4:2:0 into H.264 (4:4:4). */
        int full = src->color_range == AVCOL_RANGE_JPEG;
        w->sws = sws_getContext(c->width, c->height, src->pix_fmt, c->width, c->height, fmt,
                                FM_SWS_FLAGS, NULL, NULL, NULL);
        if (!w->sws)
            return fm_error_set(err, FM_ECODEC, "cannot convert %s video to %s",
                                av_get_pix_fmt_name(src->pix_fmt), av_get_pix_fmt_name(fmt));
        const int *coefs = sws_getCoefficients(src->colorspace);
        sws_setColorspaceDetails(w->sws, coefs, full, coefs, full, 0, 1 << 16, 1 << 16);
        w->conv = av_frame_alloc();
        if (!w->conv)
            return nomem(err);
        w->conv->format = fmt;
        w->conv->width = c->width;
        w->conv->height = c->height;
        if (av_frame_get_buffer(w->conv, 0) < 0)
            return nomem(err);
    }
    return 0;
}

static int writer_fail(FmVideoWriter *w, int code)
{
    w->failed = 1;
    return code;
}

static int write_error(FmVideoWriter *w, int ret, FmError *err)
{
    if (ret == AVERROR(ENOMEM))
        return writer_fail(w, nomem(err));
    if (ret == AVERROR(EPIPE))
        return writer_fail(w, fm_error_set(err, FM_EIO, "cannot write %s: the reading end of "
                                           "the pipe closed", w->name));
    return writer_fail(w, fm_error_set(err, FM_EIO, "cannot write %s: %s", w->name,
                                       av_err2str(ret)));
}

/* The decode-back of one video packet (NULL: flush), fm_writer_decode_back. */
static int decode_back(FmVideoWriter *w, const AVPacket *pkt, FmError *err)
{
    if (!w->back_cb || w->back_done)
        return 0;
    int ret;
    if (w->venc->codec_id == AV_CODEC_ID_WRAPPED_AVFRAME) {
        /* the packet is the picture the muxer writes (its decoder would move
         * the picture out of the packet the muxer still needs) */
        if (!pkt || pkt->size < (int)sizeof(AVFrame))
            return 0;
        ret = w->back_cb(w->back_opaque, (const AVFrame *)pkt->data,
                         pkt->pts != AV_NOPTS_VALUE ? pkt->pts * av_q2d(w->venc->time_base) : 0,
                         err);
        if (ret < 0)
            return writer_fail(w, ret);
        w->back_done = ret == 1;
        return 0;
    }
    ret = avcodec_send_packet(w->back, pkt);
    if (ret < 0 && ret != AVERROR_EOF)
        return writer_fail(w, fm_error_set(err, FM_ECODEC, "cannot decode the %s output back: "
                                           "%s", w->back->codec->name, av_err2str(ret)));
    for (;;) {
        ret = avcodec_receive_frame(w->back, w->back_frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return writer_fail(w, fm_error_set(err, FM_ECODEC, "cannot decode the %s output "
                                               "back: %s", w->back->codec->name,
                                               av_err2str(ret)));
        int64_t ts = w->back_frame->best_effort_timestamp;
        double t = ts != AV_NOPTS_VALUE ? ts * av_q2d(w->venc->time_base) : 0;
        ret = w->back_cb(w->back_opaque, w->back_frame, t, err);
        av_frame_unref(w->back_frame);
        if (ret < 0)
            return writer_fail(w, ret);
        if (ret == 1) {
            w->back_done = 1;
            return 0;
        }
    }
}

/* Moves every packet the encoder has ready into the muxer. */
static int drain_encoder(FmVideoWriter *w, AVCodecContext *c, AVStream *st, AVPacket *pkt,
                         FmError *err)
{
    for (;;) {
        int ret = avcodec_receive_packet(c, pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return writer_fail(w, fm_error_set(err, FM_ECODEC, "%s encoder failed: %s",
                                               c->codec->name, av_err2str(ret)));
        if (c == w->venc && (ret = decode_back(w, pkt, err)) < 0) {
            av_packet_unref(pkt);
            return ret;
        }
        pkt->stream_index = st->index;
        av_packet_rescale_ts(pkt, c->time_base, st->time_base);
        ret = av_interleaved_write_frame(w->oc, pkt);
        if (ret < 0)
            return write_error(w, ret, err);
    }
}

/* Standard output through our own AVIOContext (hashed, EPIPE reported). */
static int writer_open_stream(FmVideoWriter *w, FmError *err)
{
    if (!(w->so = av_mallocz(sizeof *w->so)))
        return nomem(err);
    w->so->fd = STDOUT_FILENO;
    crypto_hash_sha256_init(&w->so->sha);
    uint8_t *buf = av_malloc(STREAM_BUF_SIZE);
    if (!buf)
        return nomem(err);
    w->so_pb = avio_alloc_context(buf, STREAM_BUF_SIZE, 1, w->so, NULL, stream_write, NULL);
    if (!w->so_pb) {
        av_free(buf);
        return nomem(err);
    }
    w->so_pb->seekable = 0;
    w->oc->pb = w->so_pb;
    w->oc->flags |= AVFMT_FLAG_CUSTOM_IO;
    return 0;
}

static int writer_open_output(FmVideoWriter *w, FmError *err)
{
    int ret;
    if (w->stream) {
        if ((ret = writer_open_stream(w, err)) < 0)
            return ret;
    } else {
        char *url = av_asprintf("file:%s", w->tmp.path); /* no protocol guessing from the name */
        if (!url)
            return nomem(err);
        ret = avio_open(&w->oc->pb, url, AVIO_FLAG_WRITE);
        av_free(url);
        if (ret < 0)
            return fm_error_set(err, FM_EIO, "cannot write '%s': %s", w->path, av_err2str(ret));
    }
    AVDictionary *o = NULL;
    /* MP4/MOV on a pipe: fragments, the index cannot be written at the end */
    if (w->stream && (!strcmp(w->oc->oformat->name, "mp4") ||
                      !strcmp(w->oc->oformat->name, "mov")))
        av_dict_set(&o, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
    ret = avformat_write_header(w->oc, &o);
    av_dict_free(&o);
    if (ret == AVERROR(EINVAL) || ret == AVERROR(ENOSYS) || ret == AVERROR_PATCHWELCOME) {
        /* The muxer refused a stream: say which ones it was given. */
        const char *audio = fm_carry_first_codec(w->carry, AVMEDIA_TYPE_AUDIO);
        if (fm_carry_nb_streams(w->carry) > 0)
            return fm_error_set(err, FM_EINVAL,
                                "'%s': the %s container does not take %s video with %s%s",
                                w->path, w->oc->oformat->name, avcodec_get_name(w->venc->codec_id),
                                audio ? audio : "the master's other streams",
                                audio ? " audio" : "");
        return fm_error_set(err, FM_EINVAL, "'%s': the %s container does not take %s video",
                            w->path, w->oc->oformat->name, avcodec_get_name(w->venc->codec_id));
    }
    if (ret < 0)
        return write_error(w, ret, err);
    return 0;
}

int fm_writer_open(FmVideoWriter **writer, const char *path, const FmVideoInfo *src,
                   const FmWriterOptions *opt, FmError *err)
{
    static const FmWriterOptions defaults = { FM_CODEC_VP9, -1, 0, NULL, NULL };
    if (!writer || !path || !src)
        return fm_error_set(err, FM_EINVAL, "fm_writer_open: missing argument");
    *writer = NULL;
    if (!opt)
        opt = &defaults;
    if ((unsigned)opt->codec > FM_CODEC_RAW)
        return fm_error_set(err, FM_EINVAL, "unknown codec %d", (int)opt->codec);
    if (src->width <= 0 || src->height <= 0 || !av_pix_fmt_desc_get(src->pix_fmt))
        return fm_error_set(err, FM_EINVAL, "fm_writer_open: bad picture size or format");
    int max_crf = opt->codec == FM_CODEC_VP9 ? 63 : 51;
    if ((opt->codec == FM_CODEC_VP9 || opt->codec == FM_CODEC_H264) && opt->crf > max_crf)
        return fm_error_set(err, FM_EINVAL, "crf %d is out of range for %s (0..%d)", opt->crf,
                            fm_codec_name(opt->codec), max_crf);
    int stream = !strcmp(path, "-");
    if (!stream && opt->audio_from && same_file(path, opt->audio_from))
        return fm_error_set(err, FM_EPERM, "refusing to write '%s' over its own source", path);

    const AVOutputFormat *ofmt = NULL;
    if (opt->format) {
        const char *muxer = fm_format_muxer(opt->format);
        if (!muxer)
            return fm_error_set(err, FM_EINVAL, "'%s' is not a video container FFmpeg writes "
                                "(y4m, mkv, webm, mp4, mov, nut)", opt->format);
        ofmt = av_guess_format(muxer, NULL, NULL);
    } else if (stream) {
        return fm_error_set(err, FM_EINVAL, "standard output needs a container format "
                            "(y4m, mkv, webm, mp4, mov, nut)");
    } else {
        ofmt = av_guess_format(NULL, path, NULL);
    }
    if (!ofmt || (ofmt->flags & AVFMT_NOFILE) || ofmt->video_codec == AV_CODEC_ID_NONE)
        return fm_error_set(err, FM_EINVAL,
                            "'%s': unknown video container (name it .webm, .mkv, .mp4 or .mov)",
                            path);
    if (is_y4m(ofmt) != (opt->codec == FM_CODEC_RAW) &&
        !(opt->codec == FM_CODEC_RAW && avformat_query_codec(ofmt, AV_CODEC_ID_WRAPPED_AVFRAME,
                                                             FF_COMPLIANCE_NORMAL) == 1))
        return fm_error_set(err, FM_EINVAL, "'%s': %s", path, is_y4m(ofmt)
                            ? "y4m holds uncompressed pictures only (codec raw)"
                            : "uncompressed pictures (codec raw) go into y4m");
    const AVPixFmtDescriptor *pd = av_pix_fmt_desc_get(src->pix_fmt);
    if (is_y4m(ofmt) && pd->comp[0].depth > 8 &&
        (((src->width & 1) && pd->log2_chroma_w) || ((src->height & 1) && pd->log2_chroma_h)))
        /* measured with FFmpeg 5.1: its y4m muxer writes such frames shorter
         * than its demuxer reads them (ffmpeg alone gives a broken file too) */
        return fm_error_set(err, FM_EINVAL, "'%s': y4m cannot hold odd-sized %s pictures "
                            "(FFmpeg's y4m is broken there): use nut or mkv", path,
                            av_get_pix_fmt_name(src->pix_fmt));
    const AVCodec *enc = avcodec_find_encoder_by_name(encoder_names[opt->codec]);
    if (!enc)
        return fm_error_set(err, FM_ECODEC, "the %s encoder is not available in this FFmpeg build",
                            encoder_names[opt->codec]);
    if (avformat_query_codec(ofmt, enc->id, FF_COMPLIANCE_NORMAL) == 0)
        return fm_error_set(err, FM_EINVAL, "'%s': the %s container cannot hold %s video (use %s)",
                            path, ofmt->name, fm_codec_name(opt->codec),
                            codec_containers[opt->codec]);

    FmVideoWriter *w = av_mallocz(sizeof *w);
    if (!w)
        return nomem(err);
    w->tmp.fd = -1;
    w->stream = stream;
    w->width = src->width;
    w->height = src->height;
    w->in_fmt = src->pix_fmt;
    w->src_tb = valid_q(src->time_base) ? src->time_base : (AVRational){ 0, 1 };
    w->last_pts = AV_NOPTS_VALUE;
    w->path = av_strdup(path);
    w->name = stream ? av_strdup("standard output") : av_asprintf("'%s'", path);
    w->pkt = av_packet_alloc();
    w->frame = av_frame_alloc();
    int ret = (!w->path || !w->name || !w->pkt || !w->frame) ? nomem(err) : 0;
    if (ret == 0 && !stream)
        ret = writer_make_temp(w, err);
    if (ret == 0) {
        ret = avformat_alloc_output_context2(&w->oc, ofmt, NULL, stream ? "pipe:1" : w->tmp.path);
        ret = ret < 0 ? nomem(err) : 0;
    }
    if (ret == 0 && is_y4m(ofmt))
        w->oc->strict_std_compliance = FF_COMPLIANCE_UNOFFICIAL; /* C420p10 and the like */
    if (ret == 0)
        ret = writer_setup_video(w, src, opt, enc, err);
    if (ret == 0 && opt->audio_from && !is_y4m(ofmt))
        ret = fm_carry_open(&w->carry, opt->audio_from, w->oc, w->vst, w->name, err);
    if (ret == 0)
        ret = writer_open_output(w, err);
    if (ret < 0) {
        fm_writer_close(&w);
        return ret;
    }
    *writer = w;
    return 0;
}

int fm_writer_decode_back(FmVideoWriter *w, FmWriterDecodeBack cb, void *opaque, FmError *err)
{
    if (!w || !cb || w->back_cb)
        return fm_error_set(err, FM_EINVAL, "fm_writer_decode_back: bad arguments");
    if (w->venc->codec_id == AV_CODEC_ID_WRAPPED_AVFRAME) {
        w->back_cb = cb;        /* nothing to decode: decode_back() */
        w->back_opaque = opaque;
        return 0;
    }
    const AVCodec *dec = avcodec_find_decoder(w->venc->codec_id);
    if (!dec)
        return fm_error_set(err, FM_ECODEC, "no %s decoder to read the output back",
                            avcodec_get_name(w->venc->codec_id));
    if (!(w->back = avcodec_alloc_context3(dec)) || !(w->back_frame = av_frame_alloc()) ||
        avcodec_parameters_to_context(w->back, w->vst->codecpar) < 0)
        return nomem(err);
    w->back->pkt_timebase = w->venc->time_base;
    w->back->thread_count = 0;
    int ret = avcodec_open2(w->back, dec, NULL);
    if (ret < 0)
        return fm_error_set(err, FM_ECODEC, "cannot start the %s decoder: %s", dec->name,
                            av_err2str(ret));
    w->back_cb = cb;
    w->back_opaque = opaque;
    return 0;
}

int fm_writer_is_stream(const FmVideoWriter *w)
{
    return w && w->stream;
}

int fm_writer_stream_sha256(const FmVideoWriter *w, char hex[65], FmError *err)
{
    if (!w || !w->stream || !w->completed)
        return fm_error_set(err, FM_EINVAL, "fm_writer_stream_sha256: no completed stream");
    crypto_hash_sha256_state st = w->so->sha;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
    return 0;
}

const FmStreamNote *fm_writer_stream_notes(const FmVideoWriter *w, size_t *count)
{
    return fm_carry_notes(w ? w->carry : NULL, count);
}

void fm_writer_force_keyframe(FmVideoWriter *w)
{
    if (w)
        w->force_key = 1;
}

int fm_writer_write(FmVideoWriter *w, const AVFrame *frame, FmError *err)
{
    if (!w || !frame)
        return fm_error_set(err, FM_EINVAL, "fm_writer_write: missing argument");
    if (w->failed || w->completed)
        return fm_error_set(err, FM_EINVAL, "'%s': writer is %s", w->path,
                            w->failed ? "in error" : "finished");
    if (frame->width != w->width || frame->height != w->height || frame->format != w->in_fmt)
        return fm_error_set(err, FM_EINVAL, "frame is %dx%d %s, the writer expects %dx%d %s",
                            frame->width, frame->height,
                            av_get_pix_fmt_name((enum AVPixelFormat)frame->format), w->width,
                            w->height, av_get_pix_fmt_name(w->in_fmt));

    AVCodecContext *c = w->venc;
    int64_t pts;
    if (frame->pts != AV_NOPTS_VALUE && valid_q(w->src_tb))
        pts = av_rescale_q(frame->pts, w->src_tb, c->time_base);
    else
        pts = w->last_pts == AV_NOPTS_VALUE ? 0 : w->last_pts + w->frame_ticks;
    /* Encoders and muxers need strictly increasing timestamps. */
    if (w->last_pts != AV_NOPTS_VALUE && pts <= w->last_pts)
        pts = w->last_pts + 1;
    w->last_pts = pts;

    AVFrame *f;
    int ret;
    if (w->sws) {
        f = w->conv;
        /* The encoder may still hold the previous picture. */
        if (av_frame_make_writable(f) < 0)
            return writer_fail(w, nomem(err));
        sws_scale(w->sws, (const uint8_t *const *)frame->data, frame->linesize, 0, w->height,
                  f->data, f->linesize);
    } else {
        f = w->frame;
        if (av_frame_ref(f, frame) < 0)
            return writer_fail(w, nomem(err));
    }
    f->pts = pts;
    /* A source I-frame must not force one in the output; a new pattern
     * epoch does (fm_writer_force_keyframe). */
    f->pict_type = w->force_key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    w->force_key = 0;
    ret = avcodec_send_frame(c, f);
    av_frame_unref(w->frame);
    if (ret < 0)
        return writer_fail(w, fm_error_set(err, FM_ECODEC, "%s encoder failed: %s",
                                           c->codec->name, av_err2str(ret)));
    ret = drain_encoder(w, c, w->vst, w->pkt, err);
    if (ret < 0)
        return ret;
    if ((ret = fm_carry_pump(w->carry, pts * av_q2d(c->time_base), 0, err)) < 0)
        return writer_fail(w, ret);
    return 0;
}

/* Once the output is complete its encoder, read-back decoder and
 * conversion are not needed again: their memory goes back before the
 * caller reads the output back (wmembed's self-check). */
static void release_codecs(FmVideoWriter *w)
{
    avcodec_free_context(&w->venc);
    avcodec_free_context(&w->back);
    av_frame_free(&w->back_frame);
    av_frame_free(&w->frame);
    av_frame_free(&w->conv);
    sws_freeContext(w->sws);
    w->sws = NULL;
}

int fm_writer_complete(FmVideoWriter *w, FmError *err)
{
    if (!w)
        return fm_error_set(err, FM_EINVAL, "fm_writer_complete: no writer");
    if (w->failed || w->completed)
        return fm_error_set(err, FM_EINVAL, "'%s': writer is %s", w->path,
                            w->failed ? "in error" : "finished");
    int ret = avcodec_send_frame(w->venc, NULL);
    if (ret < 0)
        return writer_fail(w, fm_error_set(err, FM_ECODEC, "%s encoder failed: %s",
                                           w->venc->codec->name, av_err2str(ret)));
    ret = drain_encoder(w, w->venc, w->vst, w->pkt, err);
    if (ret == 0)
        ret = decode_back(w, NULL, err);
    if (ret == 0 && (ret = fm_carry_pump(w->carry, 0, 1, err)) < 0)
        writer_fail(w, ret);
    if (ret < 0)
        return ret;
    ret = av_write_trailer(w->oc);
    if (ret < 0)
        return write_error(w, ret, err);
    if (w->stream) {
        avio_flush(w->oc->pb);
        if (w->oc->pb->error < 0)
            return write_error(w, w->oc->pb->error, err);
        w->completed = 1;
        release_codecs(w);
        return 0;
    }
    ret = avio_closep(&w->oc->pb);
    if (ret < 0)
        return write_error(w, ret, err);
    /* Data on disk before the name appears, so a crash cannot leave a
     * truncated deliverable under the final name. */
    if (fm_temp_sync(&w->tmp, NULL) < 0)
        return writer_fail(w, fm_error_set(err, FM_EIO, "cannot write '%s': %s", w->path,
                                           strerror(errno)));
    w->completed = 1;
    release_codecs(w);
    return 0;
}

const char *fm_writer_temp_path(const FmVideoWriter *w)
{
    return w && !w->stream ? w->tmp.path : NULL;
}

int fm_writer_publish(FmVideoWriter *w, FmError *err)
{
    if (!w || !w->completed || w->failed || w->finished)
        return fm_error_set(err, FM_EINVAL, "fm_writer_publish: the output is not complete");
    if (w->stream) {    /* already out: nothing to rename */
        w->finished = 1;
        return 0;
    }
    int ret = fm_temp_publish(&w->tmp, w->path, err);
    if (ret < 0)
        return writer_fail(w, ret);
    w->finished = 1;
    return 0;
}

int fm_writer_finish(FmVideoWriter *w, FmError *err)
{
    int ret = fm_writer_complete(w, err);
    return ret < 0 ? ret : fm_writer_publish(w, err);
}

void fm_writer_close(FmVideoWriter **writer)
{
    if (!writer || !*writer)
        return;
    FmVideoWriter *w = *writer;
    if (w->oc) {
        if (w->stream)
            w->oc->pb = NULL;   /* ours, freed below */
        else
            avio_closep(&w->oc->pb);
        avformat_free_context(w->oc);
    }
    if (w->so_pb) {
        av_freep(&w->so_pb->buffer);
        avio_context_free(&w->so_pb);
    }
    av_freep(&w->so);
    avcodec_free_context(&w->back);
    av_frame_free(&w->back_frame);
    fm_carry_free(&w->carry);
    av_freep(&w->name);
    fm_temp_discard(&w->tmp);   /* removes it unless published */
    avcodec_free_context(&w->venc);
    av_packet_free(&w->pkt);
    av_frame_free(&w->frame);
    av_frame_free(&w->conv);
    sws_freeContext(w->sws);
    av_freep(&w->path);
    av_freep(writer);
}
