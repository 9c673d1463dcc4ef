/*
 * video_io.c - decoding any video FFmpeg reads (the reader of video_io.h).
 *
 * Reader: demuxes the best video stream, decodes it with frame threading and
 * hands out writable planar YUV frames in one format fixed for the stream.
 *
 * The writer is video_writer.c, the carriage of the master's other streams
 * stream_carry.c, the pixel-format policy pix_policy.c.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "video_io.h"
#include "atomic_file.h"

#include "pix_policy.h"
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
#include <libavutil/avstring.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>
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
    int read_only;         /* fm_reader_set_read_only(): frames may be the decoder's */
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
    struct stat st = { 0 };
    if (!strcmp(path, "-"))
        return fm_error_set(err, FM_EFORMAT, "standard input is not a video stream FFmpeg can "
                            "read (y4m, Matroska, NUT, MPEG-TS...)");
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
    /* "-": standard input (what ffmpeg calls pipe:0) */
    int ret = avformat_open_input(&r->fmt, strcmp(r->path, "-") ? r->path : "pipe:0", NULL, NULL);
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
    fmt = fm_pix_unjpeg(fmt, &full);
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);

    in->width = f ? f->width : par->width;
    in->height = f ? f->height : par->height;
    in->pix_fmt = fm_pix_nearest_native(fmt);
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
    if (fm_pix_is_rgb(d)) {
        /* RGB becomes YUV with the matrix of its era, in video range. */
        in->colorspace = in->height > 576 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M;
        in->color_range = AVCOL_RANGE_MPEG;
    } else if (fm_pix_is_gray(d)) {
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
    in->nb_other_streams = (int)r->fmt->nb_streams - 1;
    in->chroma_location = f && f->chroma_location != AVCHROMA_LOC_UNSPECIFIED
                              ? f->chroma_location : par->chroma_location;
}

/* Converts src (decoded format fmt, full = its samples are full range) to
 * the stream's fixed size and format, into r->out. */
static int reader_convert(FmVideoReader *r, const AVFrame *src, enum AVPixelFormat fmt,
                          int full, FmError *err)
{
    const FmVideoInfo *in = &r->info;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
    int src_full = full || src->color_range == AVCOL_RANGE_JPEG ||
                   (fm_pix_is_gray(d) && src->color_range == AVCOL_RANGE_UNSPECIFIED) || fm_pix_is_rgb(d);
    /* The matrix matters only for RGB -> YUV (then it is the output's); YUV
     * -> YUV conversions keep the samples' matrix and only resample chroma. */
    enum AVColorSpace space = fm_pix_is_rgb(d) ? in->colorspace : src->colorspace;

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
    enum AVPixelFormat fmt = fm_pix_unjpeg((enum AVPixelFormat)src->format, &full);
    int64_t pts = src->pts;

    if (fmt == in->pix_fmt && src->width == in->width && src->height == in->height) {
        av_frame_move_ref(r->out, src);
        r->out->format = fmt;
        /* Decoders keep references to frames they predict from; a caller
         * that modifies luma in place must get its own copy then (a
         * read-only caller takes the decoder's picture as it is). */
        if (!r->read_only && av_frame_make_writable(r->out) < 0)
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

void fm_reader_set_read_only(FmVideoReader *reader, int on)
{
    if (reader)
        reader->read_only = on != 0;
}

const FmVideoInfo *fm_reader_info(const FmVideoReader *reader)
{
    return reader ? &reader->info : NULL;
}

double fm_reader_frame_seconds(const FmVideoReader *r, const AVFrame *frame)
{
    return frame->pts * av_q2d(r->info.time_base);
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

