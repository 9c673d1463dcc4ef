/*
 * video_io.c - decoding any video FFmpeg reads, and encoding deliverables.
 *
 * Reader: demuxes the best video stream, decodes it with frame threading and
 * hands out writable planar YUV frames in one format fixed for the stream.
 *
 * Writer: encodes VP9, H.264 or FFV1 into a temporary file beside the output,
 * carries the audio of another file over (stream copy when the container
 * accepts the codec, else Opus, or AAC where Opus cannot go), and renames into
 * place in fm_writer_finish().
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "video_io.h"
#include "atomic_file.h"

#include "resample.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

/* Scaler flags for format conversions: no resizing happens, so the filter only
 * matters for chroma resampling; accurate rounding avoids a bias in luma. */
#define FM_SWS_FLAGS (SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP)

static int nomem(FmError *err)
{
    return fm_error_set(err, FM_ENOMEM, "out of memory");
}

static int valid_q(AVRational q)
{
    return q.num > 0 && q.den > 0;
}

/* ------------------------------------------------------------------------ */
/* Pixel formats                                                             */

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
static enum AVPixelFormat unjpeg(enum AVPixelFormat f, int *full)
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

static int is_rgb(const AVPixFmtDescriptor *d)
{
    return d && (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL));
}

static int is_gray(const AVPixFmtDescriptor *d)
{
    return d && !is_rgb(d) && d->nb_components < 3;
}

/*
 * Nearest native format of a decoded format: same chroma subsampling where
 * possible (4:1:1 -> 4:2:2 and 4:4:0 -> 4:4:4 keep every chroma sample), RGB
 * becomes 4:4:4 so no colour resolution is lost, gray becomes 4:2:0 as there
 * is no chroma to keep; depth is rounded up to 8, 10 or 12 bits.
 */
static enum AVPixelFormat nearest_native(enum AVPixelFormat f)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    if (!d)
        return AV_PIX_FMT_YUV420P;
    if (is_native(f))
        return f;
    int depth = d->comp[0].depth;
    int dc = depth <= 8 ? 0 : depth <= 10 ? 1 : 2;
    int sub;
    if (is_rgb(d))
        sub = 2;
    else if (is_gray(d))
        sub = 0;
    else if (d->log2_chroma_w == 0)
        sub = 2;
    else if (d->log2_chroma_h == 0)
        sub = 1;
    else
        sub = 0;
    return native_fmts[dc][sub];
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */

struct FmVideoReader {
    char *path;
    AVFormatContext *fmt;
    AVStream *st;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *raw;          /* decoder output, pts already made best effort */
    AVFrame *out;          /* the frame handed to the caller */
    struct SwsContext *sws;
    int sws_w, sws_h, sws_full;
    enum AVPixelFormat sws_fmt;
    enum AVColorSpace sws_space;
    FmVideoInfo info;
    int have_pending;      /* raw holds a decoded frame not yet handed out */
    int flushing;          /* demuxer exhausted, decoder being drained */
    int64_t frames_decoded;
    int bad_packets;       /* packets/frames the decoder rejected */
    int last_bad;          /* AVERROR of the last rejection */
    int64_t first_pts;     /* origin of the times given to fm_reader_seek */
    int64_t last_pts;
    int64_t skip_until;    /* after a seek, frames with pts below are dropped */
    /* what fm_reader_check_complete() compares with the container's word: */
    int64_t end_pts;       /* largest pts + duration decoded, stream time base */
    int bad_after_first;   /* decoder rejections after the first good frame */
    int64_t first_bad_pts; /* last good pts before the first such rejection */
    int read_error;        /* AVERROR that ended demuxing, 0 for a clean EOF */
    int seeked;            /* fm_reader_seek() was called: no full read */
};

/* The container FFmpeg surely recognises in path's first bytes, or NULL. */
static const char *probe_format(const char *path)
{
    AVIOContext *pb = NULL;
    const AVInputFormat *f = NULL;
    if (avio_open(&pb, path, AVIO_FLAG_READ) < 0)
        return NULL;
    /* by content only, and only a confident match: the name's extension
     * or a stray sync byte in random data prove nothing */
    int score = av_probe_input_buffer2(pb, &f, NULL, NULL, 0, 1 << 20);
    avio_closep(&pb);
    return f && score >= AVPROBE_SCORE_MAX / 2 ? f->name : NULL;
}

/*
 * One line a user can act on for a failure to open path (stage 0: the
 * container header, 1: looking for its streams). FFmpeg's own codes are
 * errno values borrowed for other meanings (a y4m header with a bad size
 * gives EBUSY-like codes, random bytes EIO), so only the file system's
 * errors are passed through as they are.
 */
static int open_error(FmError *err, const char *path, int ret, int stage)
{
    if (ret == AVERROR(ENOMEM))
        return nomem(err);
    if (stage == 0 && (ret == AVERROR(ENOENT) || ret == AVERROR(EACCES) ||
                       ret == AVERROR(EISDIR) || ret == AVERROR(ENOTDIR) ||
                       ret == AVERROR(ELOOP) || ret == AVERROR(ENAMETOOLONG) ||
                       ret == AVERROR(EPERM) || ret == AVERROR(ENXIO)))
        return fm_error_set(err, FM_EIO, "cannot open '%s': %s", path, av_err2str(ret));
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
        return fm_error_set(err, FM_EFORMAT, "'%s' is empty", path);
    const char *fmt = S_ISREG(st.st_mode) ? probe_format(path) : NULL;
    if (!fmt)
        return fm_error_set(err, FM_EFORMAT, "'%s' is not a video file FFmpeg can read", path);
    /* the container is recognised but its header or index does not parse */
    if (stage == 0 && strstr(fmt, "mp4"))
        return fm_error_set(err, FM_EFORMAT,
                            "'%s': damaged or truncated MP4/MOV file (its index, the moov atom, "
                            "is missing or damaged)", path);
    if (stage == 0)
        return fm_error_set(err, FM_EFORMAT, "'%s': damaged header (%s)", path, fmt);
    return fm_error_set(err, FM_EFORMAT, "'%s': damaged %s file, its streams cannot be read",
                        path, fmt);
}

/*
 * av_find_best_stream() does not skip cover art (an attached picture is a
 * one-frame "video" stream in MP3/M4A files), which is never what we want.
 */
static int pick_video_stream(AVFormatContext *fmt, const AVCodec **dec)
{
    int best = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, dec, 0);
    if (best >= 0 && !(fmt->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        return best;
    int ret = AVERROR_STREAM_NOT_FOUND;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *st = fmt->streams[i];
        if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO ||
            (st->disposition & AV_DISPOSITION_ATTACHED_PIC))
            continue;
        int r = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, (int)i, -1, dec, 0);
        if (r >= 0)
            return r;
        ret = r;
    }
    return ret;
}

static const char *first_video_codec(const AVFormatContext *fmt)
{
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *st = fmt->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
            return avcodec_get_name(st->codecpar->codec_id);
    }
    return "unknown";
}

static int reader_open_input(FmVideoReader *r, FmError *err)
{
    int ret = avformat_open_input(&r->fmt, r->path, NULL, NULL);
    if (ret < 0)
        return open_error(err, r->path, ret, 0);
    ret = avformat_find_stream_info(r->fmt, NULL);
    if (ret < 0)
        return open_error(err, r->path, ret, 1);

    const AVCodec *codec = NULL;
    int idx = pick_video_stream(r->fmt, &codec);
    if (idx == AVERROR_DECODER_NOT_FOUND)
        return fm_error_set(err, FM_ECODEC, "'%s': cannot decode video (codec %s): no decoder",
                            r->path, first_video_codec(r->fmt));
    if (idx < 0)
        return fm_error_set(err, FM_EFORMAT, "'%s' has no video stream", r->path);
    r->st = r->fmt->streams[idx];
    r->info.codec_name = avcodec_get_name(r->st->codecpar->codec_id);
    r->info.format_name = r->fmt->iformat->name;
    /* Other streams are not ours to read: let the demuxer skip them. */
    for (unsigned i = 0; i < r->fmt->nb_streams; i++)
        if ((int)i != idx)
            r->fmt->streams[i]->discard = AVDISCARD_ALL;

    /* a declared size beyond the budget is refused before any allocation */
    FmError why;
    if (r->st->codecpar->width > 0 && r->st->codecpar->height > 0 &&
        fm_picture_size_check(r->st->codecpar->width, r->st->codecpar->height, &why) < 0)
        return fm_error_set(err, FM_EFORMAT, "'%s': %s", r->path, why.msg);

    r->dec = avcodec_alloc_context3(codec);
    if (!r->dec)
        return nomem(err);
    ret = avcodec_parameters_to_context(r->dec, r->st->codecpar);
    if (ret < 0)
        return nomem(err);
    r->dec->pkt_timebase = r->st->time_base;
    /* 0 = one thread per core (+1); frame threading where the codec has it.
     * A still image (image2, *_pipe demuxers) is one frame: its frame
     * threads would only be started and joined again (wmdetect --scan opens
     * thousands of images), so it is decoded on the caller's thread. */
    const char *dm = r->fmt->iformat->name;
    size_t dl = strlen(dm);
    int image = !strcmp(dm, "image2") || (dl > 5 && !strcmp(dm + dl - 5, "_pipe"));
    r->dec->thread_count = image ? 1 : 0;
    r->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    /* no decoded picture above the budget, not even after a mid-stream
     * change of size (the first frame's size is checked in fm_reader_open) */
    r->dec->max_pixels = FM_MAX_PIXELS;
    ret = avcodec_open2(r->dec, codec, NULL);
    if (ret < 0)
        return fm_error_set(err, ret == AVERROR(ENOMEM) ? FM_ENOMEM : FM_ECODEC,
                            "'%s': cannot decode video (codec %s): %s", r->path,
                            r->info.codec_name, av_err2str(ret));
    return 0;
}

static int64_t reader_frame_ticks(const FmVideoReader *r)
{
    if (!valid_q(r->info.frame_rate))
        return 1;
    int64_t t = av_rescale_q(1, av_inv_q(r->info.frame_rate), r->st->time_base);
    return t > 0 ? t : 1;
}

/* Gives r->raw the best-effort timestamp, or one extrapolated from the last
 * frame when the stream has none (some raw elementary streams). */
static void reader_set_pts(FmVideoReader *r, AVFrame *f)
{
    int64_t pts = f->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE)
        pts = f->pts;
    if (pts == AV_NOPTS_VALUE)
        pts = r->last_pts == AV_NOPTS_VALUE ? 0 : r->last_pts + reader_frame_ticks(r);
    f->pts = pts;
    f->best_effort_timestamp = pts;
    r->last_pts = pts;
}

static int reader_decode_error(FmVideoReader *r, int ret, FmError *err)
{
    if (ret == AVERROR(ENOMEM))
        return nomem(err);
    return fm_error_set(err, FM_ECODEC, "'%s': cannot decode video (codec %s): %s", r->path,
                        r->info.codec_name, av_err2str(ret));
}

/* Counts a packet or frame the decoder rejected (and where, once frames flow). */
static void reader_note_bad(FmVideoReader *r, int ret)
{
    r->bad_packets++;
    r->last_bad = ret;
    if (r->frames_decoded > 0 && r->bad_after_first++ == 0)
        r->first_bad_pts = r->last_pts;
}

/* Reads packets until the decoder has a frame for r->raw. 1 got one, 0 end. */
static int reader_decode(FmVideoReader *r, FmError *err)
{
    for (;;) {
        int ret = avcodec_receive_frame(r->dec, r->raw);
        if (ret >= 0) {
            r->frames_decoded++;
            reader_set_pts(r, r->raw);
            int64_t dur = r->raw->pkt_duration > 0 ? r->raw->pkt_duration : reader_frame_ticks(r);
            if (r->end_pts == AV_NOPTS_VALUE || r->raw->pts + dur > r->end_pts)
                r->end_pts = r->raw->pts + dur;
            return 1;
        }
        if (ret == AVERROR_EOF || (ret == AVERROR(EAGAIN) && r->flushing)) {
            /* A stream none of whose packets decode is broken, not empty. */
            if (r->frames_decoded == 0 && r->bad_packets > 0)
                return reader_decode_error(r, r->last_bad, err);
            return 0;
        }
        if (ret == AVERROR_INVALIDDATA) {
            /* A damaged frame: skip it like ffmpeg does, keep going. */
            reader_note_bad(r, ret);
            continue;
        }
        if (ret != AVERROR(EAGAIN))
            return reader_decode_error(r, ret, err);

        ret = av_read_frame(r->fmt, r->pkt);
        if (ret < 0) {
            /* Garbage at the end of a truncated file ends the stream too. */
            if (ret != AVERROR_EOF && ret != AVERROR_INVALIDDATA &&
                !(r->fmt->pb && avio_feof(r->fmt->pb)))
                return fm_error_set(err, FM_EIO, "cannot read '%s': %s", r->path,
                                    av_err2str(ret));
            if (ret != AVERROR_EOF)
                r->read_error = ret;
            else if (r->fmt->pb && r->fmt->pb->error < 0 && r->fmt->pb->error != AVERROR_EOF)
                r->read_error = r->fmt->pb->error;
            r->flushing = 1;
            ret = avcodec_send_packet(r->dec, NULL);
            if (ret < 0 && ret != AVERROR_EOF)
                return reader_decode_error(r, ret, err);
            continue;
        }
        if (r->pkt->stream_index != r->st->index) {
            av_packet_unref(r->pkt);
            continue;
        }
        ret = avcodec_send_packet(r->dec, r->pkt);
        av_packet_unref(r->pkt);
        if (ret == AVERROR_INVALIDDATA) {
            reader_note_bad(r, ret);
        } else if (ret < 0 && ret != AVERROR(EAGAIN)) {
            return reader_decode_error(r, ret, err);
        }
    }
}

/* Fills r->info from the first decoded frame (or, with none, the stream). */
static void reader_fill_info(FmVideoReader *r, const AVFrame *f)
{
    const AVCodecParameters *par = r->st->codecpar;
    FmVideoInfo *in = &r->info;
    int full = 0;
    enum AVPixelFormat fmt = f ? (enum AVPixelFormat)f->format : (enum AVPixelFormat)par->format;
    if (fmt == AV_PIX_FMT_NONE)
        fmt = AV_PIX_FMT_YUV420P;
    fmt = unjpeg(fmt, &full);
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);

    in->width = f ? f->width : par->width;
    in->height = f ? f->height : par->height;
    in->pix_fmt = nearest_native(fmt);
    in->bit_depth = av_pix_fmt_desc_get(in->pix_fmt)->comp[0].depth;

    in->color_primaries = f && f->color_primaries != AVCOL_PRI_UNSPECIFIED
                              ? f->color_primaries : par->color_primaries;
    in->color_trc = f && f->color_trc != AVCOL_TRC_UNSPECIFIED ? f->color_trc : par->color_trc;
    in->colorspace = f && f->colorspace != AVCOL_SPC_UNSPECIFIED ? f->colorspace
                                                                   : par->color_space;
    in->color_range = f && f->color_range != AVCOL_RANGE_UNSPECIFIED ? f->color_range
                                                                       : par->color_range;
    if (full)
        in->color_range = AVCOL_RANGE_JPEG;
    if (is_rgb(d)) {
        /* RGB becomes YUV with the matrix of its era, in video range. */
        in->colorspace = in->height > 576 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M;
        in->color_range = AVCOL_RANGE_MPEG;
    } else if (is_gray(d)) {
        in->color_range = AVCOL_RANGE_MPEG;
    }

    AVRational fr = r->st->avg_frame_rate;
    if (!valid_q(fr))
        fr = r->st->r_frame_rate;
    in->frame_rate = valid_q(fr) ? fr : (AVRational){ 0, 1 };
    in->time_base = r->st->time_base;
    if (r->st->duration != AV_NOPTS_VALUE && r->st->duration > 0)
        in->duration = r->st->duration * av_q2d(r->st->time_base);
    else if (r->fmt->duration != AV_NOPTS_VALUE && r->fmt->duration > 0)
        in->duration = r->fmt->duration / (double)AV_TIME_BASE;
    else
        in->duration = 0;
    if (r->st->nb_frames > 0)
        in->nb_frames = r->st->nb_frames;
    else if (in->duration > 0 && valid_q(in->frame_rate))
        in->nb_frames = llround(in->duration * av_q2d(in->frame_rate));
    else
        in->nb_frames = 0;
    AVRational sar = av_guess_sample_aspect_ratio(r->fmt, r->st, (AVFrame *)f);
    in->sample_aspect_ratio = valid_q(sar) ? sar : (AVRational){ 0, 1 };
    in->has_audio = av_find_best_stream(r->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0) >= 0;
}

/* Converts src (decoded format fmt, full = its samples are full range) to
 * the stream's fixed size and format, into r->out. */
static int reader_convert(FmVideoReader *r, const AVFrame *src, enum AVPixelFormat fmt,
                          int full, FmError *err)
{
    const FmVideoInfo *in = &r->info;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
    int src_full = full || src->color_range == AVCOL_RANGE_JPEG ||
                   (is_gray(d) && src->color_range == AVCOL_RANGE_UNSPECIFIED) || is_rgb(d);
    /* The matrix matters only for RGB -> YUV (then it is the output's); YUV
     * -> YUV conversions keep the samples' matrix and only resample chroma. */
    enum AVColorSpace space = is_rgb(d) ? in->colorspace : src->colorspace;

    if (!r->sws || r->sws_w != src->width || r->sws_h != src->height || r->sws_fmt != fmt ||
        r->sws_full != src_full || r->sws_space != space) {
        sws_freeContext(r->sws);
        r->sws = sws_getContext(src->width, src->height, fmt, in->width, in->height, in->pix_fmt,
                                FM_SWS_FLAGS, NULL, NULL, NULL);
        if (!r->sws)
            return fm_error_set(err, FM_ECODEC, "'%s': cannot convert %dx%d %s video to %s",
                                r->path, src->width, src->height, av_get_pix_fmt_name(fmt),
                                av_get_pix_fmt_name(in->pix_fmt));
        const int *coefs = sws_getCoefficients(space);
        sws_setColorspaceDetails(r->sws, coefs, src_full, sws_getCoefficients(in->colorspace),
                                 in->color_range == AVCOL_RANGE_JPEG, 0, 1 << 16, 1 << 16);
        r->sws_w = src->width;
        r->sws_h = src->height;
        r->sws_fmt = fmt;
        r->sws_full = src_full;
        r->sws_space = space;
    }

    AVFrame *out = r->out;
    out->format = in->pix_fmt;
    out->width = in->width;
    out->height = in->height;
    int ret = av_frame_get_buffer(out, 0);
    if (ret < 0)
        return nomem(err);
    ret = av_frame_copy_props(out, src);
    if (ret < 0)
        return nomem(err);
    sws_scale(r->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
              out->data, out->linesize);
    return 0;
}

/* Turns r->raw into the writable frame handed out in r->out. */
static int reader_emit(FmVideoReader *r, FmError *err)
{
    const FmVideoInfo *in = &r->info;
    AVFrame *src = r->raw;
    int full = 0;
    enum AVPixelFormat fmt = unjpeg((enum AVPixelFormat)src->format, &full);
    int64_t pts = src->pts;

    if (fmt == in->pix_fmt && src->width == in->width && src->height == in->height) {
        av_frame_move_ref(r->out, src);
        r->out->format = fmt;
        /* Decoders keep references to frames they predict from; the caller
         * modifies luma in place, so it must get its own copy then. */
        if (av_frame_make_writable(r->out) < 0)
            return nomem(err);
    } else {
        int ret = reader_convert(r, src, fmt, full, err);
        av_frame_unref(src);
        if (ret < 0)
            return ret;
    }
    AVFrame *out = r->out;
    out->pts = pts;
    out->best_effort_timestamp = pts;
    out->color_primaries = in->color_primaries;
    out->color_trc = in->color_trc;
    out->colorspace = in->colorspace;
    out->color_range = in->color_range;
    out->sample_aspect_ratio = in->sample_aspect_ratio;
    return 0;
}

int fm_reader_open(FmVideoReader **reader, const char *path, FmError *err)
{
    if (!reader || !path)
        return fm_error_set(err, FM_EINVAL, "fm_reader_open: no file given");
    *reader = NULL;
    FmVideoReader *r = av_mallocz(sizeof *r);
    if (!r)
        return nomem(err);
    r->first_pts = r->last_pts = r->skip_until = AV_NOPTS_VALUE;
    r->end_pts = r->first_bad_pts = AV_NOPTS_VALUE;
    r->path = av_strdup(path);
    r->pkt = av_packet_alloc();
    r->raw = av_frame_alloc();
    r->out = av_frame_alloc();
    int ret = (!r->path || !r->pkt || !r->raw || !r->out) ? nomem(err) : 0;
    if (ret == 0)
        ret = reader_open_input(r, err);
    /* The output format is that of the first frame, so decode it now; it is
     * kept for the first fm_reader_next(). */
    if (ret == 0)
        ret = reader_decode(r, err);
    if (ret >= 0) {
        r->have_pending = ret;
        r->first_pts = ret ? r->raw->pts : AV_NOPTS_VALUE;
        reader_fill_info(r, ret ? r->raw : NULL);
        FmError why;
        if (r->info.width <= 0 || r->info.height <= 0)
            ret = fm_error_set(err, FM_EFORMAT, "'%s': video has no picture size", path);
        else if (fm_picture_size_check(r->info.width, r->info.height, &why) < 0)
            ret = fm_error_set(err, FM_EFORMAT, "'%s': %s", path, why.msg);
    }
    if (ret < 0) {
        fm_reader_close(&r);
        return ret;
    }
    *reader = r;
    return 0;
}

const FmVideoInfo *fm_reader_info(const FmVideoReader *reader)
{
    return reader ? &reader->info : NULL;
}

int fm_reader_next(FmVideoReader *r, AVFrame **frame, FmError *err)
{
    if (!r || !frame)
        return fm_error_set(err, FM_EINVAL, "fm_reader_next: no reader");
    *frame = NULL;
    av_frame_unref(r->out);
    for (;;) {
        if (r->have_pending) {
            r->have_pending = 0;
        } else {
            int ret = reader_decode(r, err);
            if (ret <= 0)
                return ret;
        }
        if (r->skip_until != AV_NOPTS_VALUE) {
            if (r->raw->pts < r->skip_until) {
                av_frame_unref(r->raw);
                continue;
            }
            r->skip_until = AV_NOPTS_VALUE;
        }
        int ret = reader_emit(r, err);
        av_frame_unref(r->raw);
        if (ret < 0) {
            av_frame_unref(r->out);
            return ret;
        }
        *frame = r->out;
        return 1;
    }
}

/* Puts the demuxer at a keyframe at or before aim, else the nearest one. */
static int reader_seek_to(FmVideoReader *r, int64_t aim)
{
    int ret = avformat_seek_file(r->fmt, r->st->index, INT64_MIN, aim, aim, 0);
    if (ret < 0)
        ret = av_seek_frame(r->fmt, r->st->index, aim, AVSEEK_FLAG_BACKWARD);
    if (ret < 0)
        ret = avformat_seek_file(r->fmt, r->st->index, INT64_MIN, aim, INT64_MAX, 0);
    avcodec_flush_buffers(r->dec);
    av_frame_unref(r->raw);
    r->have_pending = 0;
    r->flushing = 0;
    r->last_pts = AV_NOPTS_VALUE;
    return ret;
}

/*
 * t counts from the first frame of the stream (the timestamps themselves may
 * start elsewhere, e.g. at 10 h in broadcast files, or 1.4 s in MPEG-TS).
 *
 * Demuxers seek by dts, MPEG-PS/TS ones without an index and onto any
 * packet, so the first frame decoded after a seek can lie after t (or never
 * come, before the next keyframe). The first frame is therefore decoded here,
 * and if it is not at or before t the seek is retried from further back
 * (1 s, 2 s, 4 s ...) down to the start of the stream.
 */
int fm_reader_seek(FmVideoReader *r, double t, FmError *err)
{
    if (!r || !isfinite(t))
        return fm_error_set(err, FM_EINVAL, "fm_reader_seek: bad time");
    if (t < 0)
        t = 0;
    r->seeked = 1;
    AVRational tb = r->st->time_base;
    double ticks = t / av_q2d(tb);
    if (ticks > (double)(INT64_MAX / 4))
        return fm_error_set(err, FM_EINVAL, "'%s': cannot seek to %g s", r->path, t);
    int64_t origin = r->first_pts != AV_NOPTS_VALUE ? r->first_pts
                     : r->st->start_time != AV_NOPTS_VALUE ? r->st->start_time : 0;
    /* Times computed as frame_index / fps must not lose their frame to
     * floating-point noise, hence the small tolerance before rounding up. */
    int64_t target = origin + (int64_t)ceil(ticks - 1e-3);
    int64_t step = av_rescale_q(1, (AVRational){ 1, 1 }, tb);
    if (step < 1)
        step = 1;
    int64_t start = origin - step; /* safely before the first keyframe's dts */
    if (r->st->start_time != AV_NOPTS_VALUE && r->st->start_time - step < start)
        start = r->st->start_time - step;

    int64_t back = 0;
    for (int attempt = 0;; attempt++) {
        int64_t aim = target - back;
        int last = aim <= start || attempt >= 12;
        if (last)
            aim = start;
        int ret = reader_seek_to(r, aim);
        if (ret < 0)
            return fm_error_set(err, FM_EIO, "'%s': cannot seek to %.3f s: %s", r->path, t,
                                av_err2str(ret));
        ret = reader_decode(r, err);
        if (ret < 0)
            return ret;
        if (last || (ret == 1 && r->raw->pts <= target)) {
            r->have_pending = ret;
            break;
        }
        av_frame_unref(r->raw);
        back = back ? back * 2 : step;
    }
    r->skip_until = target;
    return 0;
}

/* "HH:MM:SS.d" of t seconds (at least 0), into buf[16]. */
static const char *hms(double t, char buf[32])
{
    if (!(t > 0))
        t = 0;
    long ds = lround(t * 10);
    snprintf(buf, 32, "%02ld:%02ld:%02ld.%ld", ds / 36000, ds / 600 % 60, ds / 10 % 60, ds % 10);
    return buf;
}

/* Matroska/WebM keep a track's length in a "DURATION" tag, "H:MM:SS.nnnnnnnnn". */
static double tag_duration(const AVStream *st)
{
    const AVDictionaryEntry *e = av_dict_get(st->metadata, "DURATION", NULL, 0);
    unsigned h, m;
    double sec;
    char tail;
    if (!e || sscanf(e->value, "%u:%u:%lf%c", &h, &m, &sec, &tail) != 3 || m > 59 ||
        !(sec >= 0 && sec < 60) || h > 100000)
        return -1;
    return h * 3600.0 + m * 60.0 + sec;
}

/*
 * Where the container says the video ends, in seconds on the stream's own
 * timeline; *whole_file = 1 when that is the length of the whole file (audio
 * included), as no per-stream figure exists. -1 when nothing reliable is
 * declared (a duration guessed from the bit rate follows the file's size and
 * cannot reveal a truncation).
 */
static double declared_end(const FmVideoReader *r, int *whole_file)
{
    const AVStream *st = r->st;
    double tb = av_q2d(st->time_base);
    *whole_file = 0;
    double tag = tag_duration(st);
    if (tag > 0)
        return tag;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
        int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
        return (start + st->duration) * tb;
    }
    if (r->fmt->duration != AV_NOPTS_VALUE && r->fmt->duration > 0 &&
        r->fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE) {
        int64_t start = r->fmt->start_time != AV_NOPTS_VALUE ? r->fmt->start_time : 0;
        *whole_file = 1;
        return (start + r->fmt->duration) / (double)AV_TIME_BASE;
    }
    return -1;
}

int fm_reader_check_complete(const FmVideoReader *r, FmError *err)
{
    if (!r)
        return fm_error_set(err, FM_EINVAL, "fm_reader_check_complete: no reader");
    if (r->seeked || r->end_pts == AV_NOPTS_VALUE)
        return 0;  /* not a full read, or nothing decoded (the caller says so) */
    const AVStream *st = r->st;
    double tb = av_q2d(st->time_base);
    double fd = valid_q(r->info.frame_rate) ? 1 / av_q2d(r->info.frame_rate) : 1 / 25.0;
    if (fd > 1)
        fd = 1;
    double origin = (r->first_pts != AV_NOPTS_VALUE ? r->first_pts : 0) * tb;
    double got = r->end_pts * tb;
    /* healthy files end within a frame of what they declare (rounding of the
     * container's clock, a last frame without a duration) */
    double tol = FM_READER_SHORT_FRAMES * fd + 0.01;
    char a[32], b[32];

    int whole = 0;
    double want = declared_end(r, &whole);
    /* a file's length counts its audio too, which may outlast the picture */
    double tol_here = whole && r->info.has_audio ? tol + FM_READER_SHORT_AUDIO_SLACK : tol;
    if (want > 0 && want - got > tol_here)
        return fm_error_set(err, FM_EFORMAT, "'%s' ends at %s of %s: truncated or damaged",
                            r->path, hms(got - origin, a), hms(want - origin, b));

    /* MP4/MOV list every sample in their index, Matroska the keyframes */
    int n = avformat_index_get_entries_count((AVStream *)st);
    if (n > 0) {
        const AVIndexEntry *last = avformat_index_get_entry((AVStream *)st, n - 1);
        if (last && last->timestamp != AV_NOPTS_VALUE && last->timestamp * tb - got > tol - fd)
            return fm_error_set(err, FM_EFORMAT,
                                "'%s' ends at %s but its index goes on to %s: truncated or damaged",
                                r->path, hms(got - origin, a), hms(last->timestamp * tb - origin, b));
    }
    if (st->nb_frames > 0 && r->frames_decoded < st->nb_frames - FM_READER_SHORT_FRAMES)
        return fm_error_set(err, FM_EFORMAT,
                            "'%s' ends after %" PRId64 " of %" PRId64 " frames: truncated or damaged",
                            r->path, r->frames_decoded, (int64_t)st->nb_frames);
    if (r->bad_after_first > 0)
        return fm_error_set(err, FM_EFORMAT,
                            "'%s' has %d damaged frame%s after %s: damaged?", r->path,
                            r->bad_after_first, r->bad_after_first == 1 ? "" : "s",
                            hms(r->first_bad_pts * tb - origin, a));
    if (r->read_error < 0)
        return fm_error_set(err, FM_EFORMAT, "'%s' ends at %s in damaged data: truncated?",
                            r->path, hms(got - origin, a));
    return 0;
}

void fm_reader_close(FmVideoReader **reader)
{
    if (!reader || !*reader)
        return;
    FmVideoReader *r = *reader;
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fmt);
    av_packet_free(&r->pkt);
    av_frame_free(&r->raw);
    av_frame_free(&r->out);
    sws_freeContext(r->sws);
    av_freep(&r->path);
    av_freep(reader);
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */

typedef struct AudioCarry {
    AVFormatContext *in;
    AVStream *ist, *ost;
    AVPacket *pkt;        /* read ahead of the video, waiting for its time */
    int have_pkt;
    int done;             /* source exhausted and everything written */
    /* re-encoding only: */
    AVCodecContext *dec, *enc;
    SwrContext *swr;
    AVChannelLayout swr_layout;
    int swr_rate, swr_fmt;
    AVAudioFifo *fifo;
    AVFrame *frame;
    AVPacket *opkt;
    int64_t next_pts;     /* of the next sample to encode, in 1/enc->sample_rate */
    int have_next_pts;
} AudioCarry;

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
    AudioCarry audio;
};

static const char *const encoder_names[] = { "libvpx-vp9", "libx264", "ffv1" };
static const char *const codec_names[] = { "vp9", "h264", "ffv1" };
static const char *const codec_containers[] = { ".webm or .mkv", ".mp4, .mov or .mkv", ".mkv" };

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
    if (!d || unjpeg(f, &full) != f || d->nb_components != 3 ||
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
    c->framerate = fr;
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

/* Opus channel layouts (Vorbis order, what libopus accepts for 1..8). */
static const AVChannelLayout opus_layouts[8] = {
    AV_CHANNEL_LAYOUT_MONO, AV_CHANNEL_LAYOUT_STEREO, AV_CHANNEL_LAYOUT_SURROUND,
    AV_CHANNEL_LAYOUT_QUAD, AV_CHANNEL_LAYOUT_5POINT0_BACK, AV_CHANNEL_LAYOUT_5POINT1_BACK,
    AV_CHANNEL_LAYOUT_6POINT1, AV_CHANNEL_LAYOUT_7POINT1,
};

/* Channel layout for the audio encoder: the source's channel count where the
 * encoder has a layout for it, else stereo. */
static int audio_enc_layout(const AVCodec *codec, int nch, AVChannelLayout *out)
{
    static const AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
    if (codec->id == AV_CODEC_ID_OPUS)
        return av_channel_layout_copy(out, nch >= 1 && nch <= 8 ? &opus_layouts[nch - 1] : &stereo);
    for (const AVChannelLayout *l = codec->ch_layouts; l && l->nb_channels; l++)
        if (l->nb_channels == nch)
            return av_channel_layout_copy(out, l);
    if (!codec->ch_layouts && nch >= 1 && nch <= 2) {
        av_channel_layout_default(out, nch);
        return 0;
    }
    return av_channel_layout_copy(out, &stereo);
}

static int audio_enc_rate(const AVCodec *codec, int src_rate)
{
    const int *r = codec->supported_samplerates;
    if (codec->id == AV_CODEC_ID_OPUS || !r)
        return codec->id == AV_CODEC_ID_OPUS || src_rate <= 0 ? 48000 : src_rate;
    for (const int *p = r; *p; p++)
        if (*p == src_rate)
            return src_rate;
    for (const int *p = r; *p; p++)
        if (*p == 48000)
            return 48000;
    return r[0];
}

/* Sets up decoding of the source audio and encoding it with `encoder`. */
static int audio_setup_encode(FmVideoWriter *w, const char *from, const char *encoder,
                              FmError *err)
{
    AudioCarry *a = &w->audio;
    const AVCodecParameters *par = a->ist->codecpar;
    const AVCodec *dcodec = avcodec_find_decoder(par->codec_id);
    if (!dcodec)
        return fm_error_set(err, FM_ECODEC, "'%s': cannot decode audio (codec %s)", from,
                            avcodec_get_name(par->codec_id));
    a->dec = avcodec_alloc_context3(dcodec);
    if (!a->dec)
        return nomem(err);
    int ret = avcodec_parameters_to_context(a->dec, par);
    if (ret < 0)
        return nomem(err);
    a->dec->pkt_timebase = a->ist->time_base;
    ret = avcodec_open2(a->dec, dcodec, NULL);
    if (ret < 0)
        return fm_error_set(err, FM_ECODEC, "'%s': cannot decode audio (codec %s): %s", from,
                            avcodec_get_name(par->codec_id), av_err2str(ret));

    const AVCodec *ecodec = avcodec_find_encoder_by_name(encoder);
    if (!ecodec)
        return fm_error_set(err, FM_ECODEC, "the %s encoder is not available in this FFmpeg build",
                            encoder);
    AVCodecContext *e = a->enc = avcodec_alloc_context3(ecodec);
    if (!e)
        return nomem(err);
    int nch = par->ch_layout.nb_channels;
    if (nch < 1)
        return fm_error_set(err, FM_EFORMAT, "'%s': audio has no channels", from);
    if (audio_enc_layout(ecodec, nch, &e->ch_layout) < 0)
        return nomem(err);
    e->sample_rate = audio_enc_rate(ecodec, par->sample_rate);
    e->sample_fmt = ecodec->sample_fmts ? ecodec->sample_fmts[0] : AV_SAMPLE_FMT_FLTP;
    for (const enum AVSampleFormat *p = ecodec->sample_fmts; p && *p != AV_SAMPLE_FMT_NONE; p++)
        if (*p == AV_SAMPLE_FMT_FLT || *p == AV_SAMPLE_FMT_FLTP)
            e->sample_fmt = *p;
    /* Transparent rates: Opus 128 kb/s stereo, AAC 192 kb/s stereo. */
    int per_channel = ecodec->id == AV_CODEC_ID_OPUS ? 64000 : 96000;
    int ch = e->ch_layout.nb_channels;
    e->bit_rate = ch == 1 ? per_channel * 3 / 2 : (int64_t)per_channel * ch;
    e->time_base = (AVRational){ 1, e->sample_rate };
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER)
        e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ret = avcodec_open2(e, ecodec, NULL);
    if (ret < 0)
        return fm_error_set(err, FM_ECODEC, "cannot start the %s encoder: %s", encoder,
                            av_err2str(ret));

    a->ost = avformat_new_stream(w->oc, NULL);
    if (!a->ost)
        return nomem(err);
    ret = avcodec_parameters_from_context(a->ost->codecpar, e);
    if (ret < 0)
        return nomem(err);
    a->ost->time_base = e->time_base;
    a->fifo = av_audio_fifo_alloc(e->sample_fmt, e->ch_layout.nb_channels, 4096);
    a->frame = av_frame_alloc();
    a->opkt = av_packet_alloc();
    if (!a->fifo || !a->frame || !a->opkt)
        return nomem(err);
    return 0;
}

/* Does the container take this audio codec? 1 yes, 0 no, < 0 FFmpeg does
 * not know (the muxer decides when the header is written). The query says
 * yes to Opus in MOV, which the muxer then refuses. */
static int container_takes_audio(const AVOutputFormat *ofmt, enum AVCodecID id)
{
    if (id == AV_CODEC_ID_OPUS && strcmp(ofmt->name, "mov") == 0)
        return 0;
    return avformat_query_codec(ofmt, id, FF_COMPLIANCE_NORMAL);
}

/* Opens `from` again and adds an output stream for its best audio stream:
 * copied when the container takes the codec, else re-encoded to Opus (or to
 * AAC for containers without Opus, such as MOV). */
static int writer_setup_audio(FmVideoWriter *w, const char *from, FmError *err)
{
    AudioCarry *a = &w->audio;
    /* The audio is read by a second demuxer, from the start: a pipe or a
     * device would block or hand over the wrong bytes (issue 11). */
    struct stat st;
    if (stat(from, &st) != 0)
        return fm_error_set(err, FM_EIO, "cannot open '%s' for its audio: %s", from,
                            strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fm_error_set(err, FM_EINVAL,
                            "'%s' is not a regular file (a pipe or device can be read only "
                            "once): save it to a file first", from);
    int ret = avformat_open_input(&a->in, from, NULL, NULL);
    if (ret >= 0)
        ret = avformat_find_stream_info(a->in, NULL);
    if (ret < 0) {
        if (ret == AVERROR(ENOMEM))
            return nomem(err);
        return fm_error_set(err, FM_EIO, "cannot open '%s' for its audio: %s", from,
                            av_err2str(ret));
    }
    int idx = av_find_best_stream(a->in, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (idx < 0) {
        avformat_close_input(&a->in); /* no audio: the output is video only */
        return 0;
    }
    a->ist = a->in->streams[idx];
    for (unsigned i = 0; i < a->in->nb_streams; i++)
        if ((int)i != idx)
            a->in->streams[i]->discard = AVDISCARD_ALL;
    a->pkt = av_packet_alloc();
    if (!a->pkt)
        return nomem(err);

    const AVOutputFormat *ofmt = w->oc->oformat;
    enum AVCodecID id = a->ist->codecpar->codec_id;
    /* Copy only when surely accepted; encode to whatever may be. */
    if (container_takes_audio(ofmt, id) == 1) {
        a->ost = avformat_new_stream(w->oc, NULL);
        if (!a->ost)
            return nomem(err);
        ret = avcodec_parameters_copy(a->ost->codecpar, a->ist->codecpar);
        if (ret < 0)
            return nomem(err);
        a->ost->codecpar->codec_tag = 0; /* let the muxer pick its own tag */
        a->ost->time_base = a->ist->time_base;
    } else if (container_takes_audio(ofmt, AV_CODEC_ID_OPUS) != 0) {
        ret = audio_setup_encode(w, from, "libopus", err);
    } else if (container_takes_audio(ofmt, AV_CODEC_ID_AAC) != 0) {
        ret = audio_setup_encode(w, from, "aac", err);
    } else {
        return fm_error_set(err, FM_EINVAL,
                            "'%s': the %s container takes neither %s, Opus nor AAC audio",
                            w->path, ofmt->name, avcodec_get_name(id));
    }
    if (ret < 0)
        return ret;
    const AVDictionaryEntry *lang = av_dict_get(a->ist->metadata, "language", NULL, 0);
    if (lang && av_dict_set(&a->ost->metadata, "language", lang->value, 0) < 0)
        return nomem(err);
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
    return writer_fail(w, fm_error_set(err, FM_EIO, "cannot write '%s': %s", w->path,
                                       av_err2str(ret)));
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
        pkt->stream_index = st->index;
        av_packet_rescale_ts(pkt, c->time_base, st->time_base);
        ret = av_interleaved_write_frame(w->oc, pkt);
        if (ret < 0)
            return write_error(w, ret, err);
    }
}

/* Resamples frame (NULL: flush) into the FIFO in the encoder's format. */
static int audio_resample(FmVideoWriter *w, const AVFrame *frame, FmError *err)
{
    AudioCarry *a = &w->audio;
    AVCodecContext *e = a->enc;
    int ret;
    if (frame && a->swr &&
        (frame->format != a->swr_fmt || frame->sample_rate != a->swr_rate ||
         av_channel_layout_compare(&frame->ch_layout, &a->swr_layout) != 0)) {
        /* The source changed format mid-stream: finish the old resampler. */
        ret = audio_resample(w, NULL, err);
        swr_free(&a->swr);
        if (ret < 0)
            return ret;
    }
    if (frame && !a->swr) {
        AVChannelLayout in = { 0 };
        if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
            av_channel_layout_default(&in, frame->ch_layout.nb_channels);
        else if (av_channel_layout_copy(&in, &frame->ch_layout) < 0)
            return nomem(err);
        ret = swr_alloc_set_opts2(&a->swr, &e->ch_layout, e->sample_fmt, e->sample_rate, &in,
                                  frame->format, frame->sample_rate, 0, NULL);
        av_channel_layout_uninit(&in);
        if (ret >= 0)
            ret = swr_init(a->swr);
        if (ret < 0)
            return writer_fail(w, fm_error_set(err, FM_ECODEC, "cannot resample the audio: %s",
                                               av_err2str(ret)));
        av_channel_layout_uninit(&a->swr_layout);
        if (av_channel_layout_copy(&a->swr_layout, &frame->ch_layout) < 0)
            return nomem(err);
        a->swr_fmt = frame->format;
        a->swr_rate = frame->sample_rate;
        if (!a->have_next_pts && frame->pts != AV_NOPTS_VALUE)
            a->next_pts = av_rescale_q(frame->pts, a->ist->time_base, e->time_base);
        a->have_next_pts = 1;
    }
    if (!a->swr)
        return 0;
    int in_n = frame ? frame->nb_samples : 0;
    int max = swr_get_out_samples(a->swr, in_n);
    if (max <= 0)
        return 0;
    uint8_t **buf = NULL;
    ret = av_samples_alloc_array_and_samples(&buf, NULL, e->ch_layout.nb_channels, max,
                                             e->sample_fmt, 0);
    if (ret < 0)
        return writer_fail(w, nomem(err));
    int n = swr_convert(a->swr, buf, max, frame ? (const uint8_t **)frame->extended_data : NULL,
                        in_n);
    if (n > 0 && av_audio_fifo_write(a->fifo, (void **)buf, n) < n)
        n = AVERROR(ENOMEM);
    av_freep(&buf[0]);
    av_freep(&buf);
    if (n < 0)
        return writer_fail(w, fm_error_set(err, FM_ECODEC, "cannot resample the audio: %s",
                                           av_err2str(n)));
    return 0;
}

/* Encodes whole frames from the FIFO; with final, the rest and the flush. */
static int audio_encode(FmVideoWriter *w, int final, FmError *err)
{
    AudioCarry *a = &w->audio;
    AVCodecContext *e = a->enc;
    int fs = e->frame_size > 0 ? e->frame_size : 1024;
    int small_last = (e->codec->capabilities & AV_CODEC_CAP_SMALL_LAST_FRAME) != 0;
    for (;;) {
        int avail = av_audio_fifo_size(a->fifo);
        if (avail < fs && !(final && avail > 0))
            break;
        int n = avail < fs ? avail : fs;
        AVFrame *f = a->frame;
        av_frame_unref(f);
        f->format = e->sample_fmt;
        f->sample_rate = e->sample_rate;
        f->nb_samples = (n < fs && !small_last) ? fs : n;
        int ret = av_channel_layout_copy(&f->ch_layout, &e->ch_layout);
        if (ret >= 0)
            ret = av_frame_get_buffer(f, 0);
        if (ret < 0)
            return writer_fail(w, nomem(err));
        if (f->nb_samples > n) /* pad the last frame with silence */
            av_samples_set_silence(f->extended_data, n, f->nb_samples - n,
                                   e->ch_layout.nb_channels, e->sample_fmt);
        av_audio_fifo_read(a->fifo, (void **)f->extended_data, n);
        f->pts = a->next_pts;
        a->next_pts += n;
        ret = avcodec_send_frame(e, f);
        av_frame_unref(f);
        if (ret < 0)
            return writer_fail(w, fm_error_set(err, FM_ECODEC, "%s encoder failed: %s",
                                               e->codec->name, av_err2str(ret)));
        ret = drain_encoder(w, e, a->ost, a->opkt, err);
        if (ret < 0)
            return ret;
    }
    if (!final)
        return 0;
    int ret = avcodec_send_frame(e, NULL);
    if (ret < 0 && ret != AVERROR_EOF)
        return writer_fail(w, fm_error_set(err, FM_ECODEC, "%s encoder failed: %s",
                                           e->codec->name, av_err2str(ret)));
    return drain_encoder(w, e, a->ost, a->opkt, err);
}

/* Decodes pkt (NULL: flush the decoder) into the FIFO and encodes it. */
static int audio_transcode(FmVideoWriter *w, const AVPacket *pkt, FmError *err)
{
    AudioCarry *a = &w->audio;
    int ret = avcodec_send_packet(a->dec, pkt);
    if (ret == AVERROR_INVALIDDATA)
        return 0; /* a damaged packet: skip it */
    if (ret < 0 && ret != AVERROR_EOF)
        return writer_fail(w, fm_error_set(err, FM_ECODEC, "cannot decode the audio: %s",
                                           av_err2str(ret)));
    for (;;) {
        AVFrame *f = a->frame;
        ret = avcodec_receive_frame(a->dec, f);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            break;
        if (ret == AVERROR_INVALIDDATA)
            continue;
        if (ret < 0)
            return writer_fail(w, fm_error_set(err, FM_ECODEC, "cannot decode the audio: %s",
                                               av_err2str(ret)));
        ret = audio_resample(w, f, err);
        av_frame_unref(f);
        if (ret < 0)
            return ret;
    }
    if (!pkt) {
        ret = audio_resample(w, NULL, err);
        if (ret < 0)
            return ret;
    }
    return audio_encode(w, pkt == NULL, err);
}

static int audio_copy(FmVideoWriter *w, AVPacket *pkt, FmError *err)
{
    AudioCarry *a = &w->audio;
    pkt->stream_index = a->ost->index;
    av_packet_rescale_ts(pkt, a->ist->time_base, a->ost->time_base);
    pkt->pos = -1;
    int ret = av_interleaved_write_frame(w->oc, pkt);
    return ret < 0 ? write_error(w, ret, err) : 0;
}

/* Moves the source's audio up to `until` seconds (all of it when all is
 * set) into the output, so audio and video stay interleaved. */
static int audio_pump(FmVideoWriter *w, double until, int all, FmError *err)
{
    AudioCarry *a = &w->audio;
    if (!a->ost)
        return 0;
    while (!a->done) {
        if (!a->have_pkt) {
            int ret = av_read_frame(a->in, a->pkt);
            if (ret < 0) {
                if (ret != AVERROR_EOF && ret != AVERROR_INVALIDDATA &&
                    !(a->in->pb && avio_feof(a->in->pb)))
                    return writer_fail(w, fm_error_set(err, FM_EIO,
                                                       "cannot read audio from '%s': %s",
                                                       a->in->url, av_err2str(ret)));
                a->done = 1;
                return a->enc ? audio_transcode(w, NULL, err) : 0;
            }
            if (a->pkt->stream_index != a->ist->index) {
                av_packet_unref(a->pkt);
                continue;
            }
            a->have_pkt = 1;
        }
        int64_t ts = a->pkt->dts != AV_NOPTS_VALUE ? a->pkt->dts : a->pkt->pts;
        if (!all && ts != AV_NOPTS_VALUE && ts * av_q2d(a->ist->time_base) > until)
            return 0; /* not yet: the video has not got there */
        a->have_pkt = 0;
        int ret = a->enc ? audio_transcode(w, a->pkt, err) : audio_copy(w, a->pkt, err);
        av_packet_unref(a->pkt);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int writer_open_output(FmVideoWriter *w, FmError *err)
{
    char *url = av_asprintf("file:%s", w->tmp.path); /* no protocol guessing from the name */
    if (!url)
        return nomem(err);
    int ret = avio_open(&w->oc->pb, url, AVIO_FLAG_WRITE);
    av_free(url);
    if (ret < 0)
        return fm_error_set(err, FM_EIO, "cannot write '%s': %s", w->path, av_err2str(ret));
    ret = avformat_write_header(w->oc, NULL);
    if (ret == AVERROR(EINVAL) || ret == AVERROR(ENOSYS) || ret == AVERROR_PATCHWELCOME) {
        /* The muxer refused a stream: say which ones it was given. */
        const AudioCarry *a = &w->audio;
        if (a->ost)
            return fm_error_set(err, FM_EINVAL,
                                "'%s': the %s container does not take %s video with %s audio",
                                w->path, w->oc->oformat->name, avcodec_get_name(w->venc->codec_id),
                                avcodec_get_name(a->ost->codecpar->codec_id));
        return fm_error_set(err, FM_EINVAL, "'%s': the %s container does not take %s video",
                            w->path, w->oc->oformat->name, avcodec_get_name(w->venc->codec_id));
    }
    if (ret < 0)
        return fm_error_set(err, FM_EIO, "cannot write '%s': %s", w->path, av_err2str(ret));
    return 0;
}

int fm_writer_open(FmVideoWriter **writer, const char *path, const FmVideoInfo *src,
                   const FmWriterOptions *opt, FmError *err)
{
    static const FmWriterOptions defaults = { FM_CODEC_VP9, -1, 0, NULL };
    if (!writer || !path || !src)
        return fm_error_set(err, FM_EINVAL, "fm_writer_open: missing argument");
    *writer = NULL;
    if (!opt)
        opt = &defaults;
    if ((unsigned)opt->codec > FM_CODEC_FFV1)
        return fm_error_set(err, FM_EINVAL, "unknown codec %d", (int)opt->codec);
    if (src->width <= 0 || src->height <= 0 || !av_pix_fmt_desc_get(src->pix_fmt))
        return fm_error_set(err, FM_EINVAL, "fm_writer_open: bad picture size or format");
    int max_crf = opt->codec == FM_CODEC_VP9 ? 63 : 51;
    if (opt->codec != FM_CODEC_FFV1 && opt->crf > max_crf)
        return fm_error_set(err, FM_EINVAL, "crf %d is out of range for %s (0..%d)", opt->crf,
                            fm_codec_name(opt->codec), max_crf);
    if (opt->audio_from && same_file(path, opt->audio_from))
        return fm_error_set(err, FM_EPERM, "refusing to write '%s' over its own source", path);

    const AVOutputFormat *ofmt = av_guess_format(NULL, path, NULL);
    if (!ofmt || (ofmt->flags & AVFMT_NOFILE) || ofmt->video_codec == AV_CODEC_ID_NONE)
        return fm_error_set(err, FM_EINVAL,
                            "'%s': unknown video container (name it .webm, .mkv, .mp4 or .mov)",
                            path);
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
    w->width = src->width;
    w->height = src->height;
    w->in_fmt = src->pix_fmt;
    w->src_tb = valid_q(src->time_base) ? src->time_base : (AVRational){ 0, 1 };
    w->last_pts = AV_NOPTS_VALUE;
    w->path = av_strdup(path);
    w->pkt = av_packet_alloc();
    w->frame = av_frame_alloc();
    int ret = (!w->path || !w->pkt || !w->frame) ? nomem(err) : 0;
    if (ret == 0)
        ret = writer_make_temp(w, err);
    if (ret == 0) {
        ret = avformat_alloc_output_context2(&w->oc, ofmt, NULL, w->tmp.path);
        ret = ret < 0 ? nomem(err) : 0;
    }
    if (ret == 0)
        ret = writer_setup_video(w, src, opt, enc, err);
    if (ret == 0 && opt->audio_from)
        ret = writer_setup_audio(w, opt->audio_from, err);
    if (ret == 0)
        ret = writer_open_output(w, err);
    if (ret < 0) {
        fm_writer_close(&w);
        return ret;
    }
    *writer = w;
    return 0;
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
    return audio_pump(w, pts * av_q2d(c->time_base), 0, err);
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
        ret = audio_pump(w, 0, 1, err);
    if (ret < 0)
        return ret;
    ret = av_write_trailer(w->oc);
    if (ret < 0)
        return write_error(w, ret, err);
    ret = avio_closep(&w->oc->pb);
    if (ret < 0)
        return write_error(w, ret, err);
    /* Data on disk before the name appears, so a crash cannot leave a
     * truncated deliverable under the final name. */
    if (fm_temp_sync(&w->tmp, NULL) < 0)
        return writer_fail(w, fm_error_set(err, FM_EIO, "cannot write '%s': %s", w->path,
                                           strerror(errno)));
    w->completed = 1;
    return 0;
}

const char *fm_writer_temp_path(const FmVideoWriter *w)
{
    return w->tmp.path;
}

int fm_writer_publish(FmVideoWriter *w, FmError *err)
{
    if (!w || !w->completed || w->failed || w->finished)
        return fm_error_set(err, FM_EINVAL, "fm_writer_publish: the output is not complete");
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

static void audio_free(AudioCarry *a)
{
    avformat_close_input(&a->in);
    av_packet_free(&a->pkt);
    av_packet_free(&a->opkt);
    av_frame_free(&a->frame);
    avcodec_free_context(&a->dec);
    avcodec_free_context(&a->enc);
    swr_free(&a->swr);
    av_channel_layout_uninit(&a->swr_layout);
    if (a->fifo)
        av_audio_fifo_free(a->fifo);
    a->fifo = NULL;
}

void fm_writer_close(FmVideoWriter **writer)
{
    if (!writer || !*writer)
        return;
    FmVideoWriter *w = *writer;
    if (w->oc) {
        avio_closep(&w->oc->pb);
        avformat_free_context(w->oc);
    }
    fm_temp_discard(&w->tmp);   /* removes it unless published */
    avcodec_free_context(&w->venc);
    av_packet_free(&w->pkt);
    av_frame_free(&w->frame);
    av_frame_free(&w->conv);
    sws_freeContext(w->sws);
    audio_free(&w->audio);
    av_freep(&w->path);
    av_freep(writer);
}
