/*
 * stream_carry.c - the master's other streams, chapters and metadata into a
 * deliverable (stream_carry.h).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "stream_carry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>

/* Subtitles converted to text: the largest packet an encoder may make. */
#define SUB_BUF_SIZE (1 << 16)

typedef enum { CARRY_COPY, CARRY_AUDIO_ENC, CARRY_SUB_CONV } CarryKind;

typedef struct Carried {
    AVStream *ist, *ost;
    CarryKind kind;
    AVCodecContext *dec, *enc;
    /* audio re-encoding */
    SwrContext *swr;
    AVChannelLayout swr_layout;
    int swr_rate, swr_fmt;
    AVAudioFifo *fifo;
    AVFrame *frame;
    AVPacket *opkt;
    int64_t next_pts;       /* of the next sample to encode, in 1/enc->sample_rate */
    int have_next_pts;
} Carried;

struct FmCarry {
    AVFormatContext *in, *oc;
    char *out_name;
    Carried *s;             /* one per carried stream with packets */
    int n;
    int *map;               /* source stream index -> index in s, -1: not carried */
    int nb_out;             /* output streams added (attachments included) */
    AVPacket *pkt;          /* read ahead of the video, waiting for its time */
    int have_pkt, done;
    FmStreamNote *notes;
    size_t nb_notes;
};

static int nomem(FmError *err)
{
    return fm_error_set(err, FM_ENOMEM, "out of memory");
}

const char *fm_carry_action_name(FmCarryAction a)
{
    static const char *const names[] = { "copied", "encoded", "converted", "dropped" };
    return (unsigned)a < 4 ? names[a] : "unknown";
}

/* Tags a muxer writes itself, or that describe the master's encoding rather
 * than its content: not copied. */
static int skip_tag(const char *key)
{
    static const char *const prefixes[] = {
        "DURATION", "BPS", "NUMBER_OF_FRAMES", "NUMBER_OF_BYTES", "_STATISTICS_", "ENCODER",
        "major_brand", "minor_version", "compatible_brands", "encoder",
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (av_strncasecmp(key, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

static int copy_tags(AVDictionary **dst, const AVDictionary *src)
{
    const AVDictionaryEntry *e = NULL;
    while ((e = av_dict_get(src, "", e, AV_DICT_IGNORE_SUFFIX)))
        if (!skip_tag(e->key) && av_dict_set(dst, e->key, e->value, 0) < 0)
            return -1;
    return 0;
}

/* Does the container take this codec? 1 yes, 0 no, < 0 FFmpeg does not know.
 * The query says yes to Opus in MOV, which the muxer then refuses. */
static int container_takes(const AVOutputFormat *ofmt, enum AVCodecID id)
{
    if (id == AV_CODEC_ID_NONE)
        return 0;
    if (id == AV_CODEC_ID_OPUS && strcmp(ofmt->name, "mov") == 0)
        return 0;
    /* FFmpeg 5.1's MP4 muxer calls these experimental and refuses them at
     * the header (measured: FLAC gives "Experimental feature") */
    if ((id == AV_CODEC_ID_FLAC || id == AV_CODEC_ID_TRUEHD) &&
        (!strcmp(ofmt->name, "mp4") || !strcmp(ofmt->name, "mov")))
        return 0;
    return avformat_query_codec(ofmt, id, FF_COMPLIANCE_NORMAL);
}

static FmStreamNote *add_note(FmCarry *c, const AVStream *st, FmCarryAction action,
                              const char *out_codec)
{
    FmStreamNote *n = &c->notes[c->nb_notes++];
    n->index = st->index;
    n->type = av_get_media_type_string(st->codecpar->codec_type);
    if (!n->type)
        n->type = "data";
    n->codec = avcodec_get_name(st->codecpar->codec_id);
    n->out_codec = out_codec;
    n->action = action;
    n->reason[0] = 0;
    return n;
}

static void drop(FmCarry *c, const AVStream *st, const char *why)
{
    FmStreamNote *n = add_note(c, st, FM_CARRY_DROPPED, NULL);
    snprintf(n->reason, sizeof n->reason, "%s", why);
}

static void drop_container(FmCarry *c, const AVStream *st)
{
    char why[160];
    const char *in = c->in->iformat->name;
    snprintf(why, sizeof why, "%.*s→%s cannot carry it", (int)strcspn(in, ","), in,
             c->oc->oformat->name);
    drop(c, st, why);
}

static AVStream *new_ost(FmCarry *c, const AVStream *ist, FmError *err)
{
    AVStream *ost = avformat_new_stream(c->oc, NULL);
    if (!ost) {
        nomem(err);
        return NULL;
    }
    if (copy_tags(&ost->metadata, ist->metadata) < 0) {
        nomem(err);
        return NULL;
    }
    ost->disposition = ist->disposition;
    c->nb_out++;
    return ost;
}

static int setup_copy(FmCarry *c, Carried *k, FmError *err)
{
    if (!(k->ost = new_ost(c, k->ist, err)))
        return FM_ENOMEM;
    if (avcodec_parameters_copy(k->ost->codecpar, k->ist->codecpar) < 0)
        return nomem(err);
    k->ost->codecpar->codec_tag = 0; /* let the muxer pick its own tag */
    k->ost->time_base = k->ist->time_base;
    k->kind = CARRY_COPY;
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

static int open_decoder(FmCarry *c, Carried *k, FmError *err)
{
    const AVCodecParameters *par = k->ist->codecpar;
    const AVCodec *dcodec = avcodec_find_decoder(par->codec_id);
    const char *what = av_get_media_type_string(par->codec_type);
    if (!dcodec)
        return fm_error_set(err, FM_ECODEC, "'%s': cannot decode %s (codec %s)", c->in->url,
                            what, avcodec_get_name(par->codec_id));
    if (!(k->dec = avcodec_alloc_context3(dcodec)))
        return nomem(err);
    if (avcodec_parameters_to_context(k->dec, par) < 0)
        return nomem(err);
    k->dec->pkt_timebase = k->ist->time_base;
    int ret = avcodec_open2(k->dec, dcodec, NULL);
    if (ret < 0)
        return fm_error_set(err, FM_ECODEC, "'%s': cannot decode %s (codec %s): %s", c->in->url,
                            what, avcodec_get_name(par->codec_id), av_err2str(ret));
    return 0;
}

/* Sets up decoding of the source audio and encoding it with `encoder`. */
static int setup_audio_encode(FmCarry *c, Carried *k, const char *encoder, FmError *err)
{
    const AVCodecParameters *par = k->ist->codecpar;
    int ret = open_decoder(c, k, err);
    if (ret < 0)
        return ret;
    const AVCodec *ecodec = avcodec_find_encoder_by_name(encoder);
    if (!ecodec)
        return fm_error_set(err, FM_ECODEC, "the %s encoder is not available in this FFmpeg build",
                            encoder);
    AVCodecContext *e = k->enc = avcodec_alloc_context3(ecodec);
    if (!e)
        return nomem(err);
    int nch = par->ch_layout.nb_channels;
    if (nch < 1)
        return fm_error_set(err, FM_EFORMAT, "'%s': audio stream %d has no channels", c->in->url,
                            k->ist->index);
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
    if (c->oc->oformat->flags & AVFMT_GLOBALHEADER)
        e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ret = avcodec_open2(e, ecodec, NULL);
    if (ret < 0)
        return fm_error_set(err, FM_ECODEC, "cannot start the %s encoder: %s", encoder,
                            av_err2str(ret));
    if (!(k->ost = new_ost(c, k->ist, err)))
        return FM_ENOMEM;
    if (avcodec_parameters_from_context(k->ost->codecpar, e) < 0)
        return nomem(err);
    k->ost->time_base = e->time_base;
    k->fifo = av_audio_fifo_alloc(e->sample_fmt, e->ch_layout.nb_channels, 4096);
    k->frame = av_frame_alloc();
    k->opkt = av_packet_alloc();
    if (!k->fifo || !k->frame || !k->opkt)
        return nomem(err);
    k->kind = CARRY_AUDIO_ENC;
    return 0;
}

/* Adds one audio stream: copy, else Opus, else AAC; 1 added, 0 dropped. */
static int setup_audio(FmCarry *c, Carried *k, FmError *err)
{
    const AVOutputFormat *ofmt = c->oc->oformat;
    enum AVCodecID id = k->ist->codecpar->codec_id;
    int ret;
    /* Copy only when surely accepted; encode to whatever may be. */
    if (container_takes(ofmt, id) == 1) {
        if ((ret = setup_copy(c, k, err)) < 0)
            return ret;
        add_note(c, k->ist, FM_CARRY_COPIED, avcodec_get_name(id));
        return 1;
    }
    const char *enc = container_takes(ofmt, AV_CODEC_ID_OPUS) != 0 ? "libopus"
                      : container_takes(ofmt, AV_CODEC_ID_AAC) != 0 ? "aac" : NULL;
    if (!enc) {
        drop_container(c, k->ist);
        return 0;
    }
    if ((ret = setup_audio_encode(c, k, enc, err)) < 0)
        return ret;
    add_note(c, k->ist, FM_CARRY_ENCODED, avcodec_get_name(k->enc->codec_id));
    return 1;
}

/* Adds one subtitle stream: copy, else a text conversion; 1 added, 0 dropped. */
static int setup_subtitle(FmCarry *c, Carried *k, FmError *err)
{
    static const enum AVCodecID text_targets[] = {
        AV_CODEC_ID_MOV_TEXT, AV_CODEC_ID_WEBVTT, AV_CODEC_ID_SUBRIP, AV_CODEC_ID_ASS,
    };
    const AVOutputFormat *ofmt = c->oc->oformat;
    enum AVCodecID id = k->ist->codecpar->codec_id;
    int ret;
    if (container_takes(ofmt, id) == 1) {
        if ((ret = setup_copy(c, k, err)) < 0)
            return ret;
        add_note(c, k->ist, FM_CARRY_COPIED, avcodec_get_name(id));
        return 1;
    }
    const AVCodecDescriptor *d = avcodec_descriptor_get(id);
    if (!d || !(d->props & AV_CODEC_PROP_TEXT_SUB)) {
        drop_container(c, k->ist);
        return 0;
    }
    const AVCodec *ecodec = NULL;
    for (size_t i = 0; i < sizeof text_targets / sizeof text_targets[0] && !ecodec; i++)
        if (container_takes(ofmt, text_targets[i]) == 1)
            ecodec = avcodec_find_encoder(text_targets[i]);
    if (!ecodec) {
        drop_container(c, k->ist);
        return 0;
    }
    if ((ret = open_decoder(c, k, err)) < 0)
        return ret;
    AVCodecContext *e = k->enc = avcodec_alloc_context3(ecodec);
    if (!e)
        return nomem(err);
    e->time_base = AV_TIME_BASE_Q;
    if (k->dec->subtitle_header) {
        /* the ASS style header the text encoders start from */
        e->subtitle_header = av_mallocz(k->dec->subtitle_header_size + 1);
        if (!e->subtitle_header)
            return nomem(err);
        memcpy(e->subtitle_header, k->dec->subtitle_header, k->dec->subtitle_header_size);
        e->subtitle_header_size = k->dec->subtitle_header_size;
    }
    if ((ret = avcodec_open2(e, ecodec, NULL)) < 0)
        return fm_error_set(err, FM_ECODEC, "cannot start the %s encoder: %s", ecodec->name,
                            av_err2str(ret));
    if (!(k->ost = new_ost(c, k->ist, err)))
        return FM_ENOMEM;
    if (avcodec_parameters_from_context(k->ost->codecpar, e) < 0)
        return nomem(err);
    k->ost->time_base = (AVRational){ 1, 1000 };
    if (!(k->opkt = av_packet_alloc()))
        return nomem(err);
    k->kind = CARRY_SUB_CONV;
    add_note(c, k->ist, FM_CARRY_CONVERTED, ecodec->name);
    return 1;
}

/* Attachments (fonts in Matroska) have no packets: the file is in extradata. */
static int setup_attachment(FmCarry *c, const AVStream *ist, FmError *err)
{
    if (strcmp(c->oc->oformat->name, "matroska") != 0 && strcmp(c->oc->oformat->name, "webm")) {
        drop_container(c, ist);
        return 0;
    }
    if (strcmp(c->oc->oformat->name, "webm") == 0) {
        drop(c, ist, "WebM has no attachments");
        return 0;
    }
    AVStream *ost = new_ost(c, ist, err);
    if (!ost || avcodec_parameters_copy(ost->codecpar, ist->codecpar) < 0)
        return nomem(err);
    add_note(c, ist, FM_CARRY_COPIED, avcodec_get_name(ist->codecpar->codec_id));
    return 1;
}

static int copy_chapters(FmCarry *c)
{
    for (unsigned i = 0; i < c->in->nb_chapters; i++) {
        const AVChapter *in = c->in->chapters[i];
        AVChapter **grown = av_realloc_array(c->oc->chapters, c->oc->nb_chapters + 1,
                                             sizeof *grown);
        if (!grown)
            return -1;
        c->oc->chapters = grown;
        AVChapter *ch = av_mallocz(sizeof *ch);
        if (!ch)
            return -1;
        ch->id = in->id;
        ch->time_base = in->time_base;
        ch->start = in->start;
        ch->end = in->end;
        c->oc->chapters[c->oc->nb_chapters++] = ch;
        if (copy_tags(&ch->metadata, in->metadata) < 0)
            return -1;
    }
    return 0;
}

/* The video stream the reader marks (video_io.c: the best one that is not
 * cover art). */
static int marked_video(const AVFormatContext *fmt)
{
    int best = av_find_best_stream((AVFormatContext *)fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (best >= 0 && !(fmt->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        return best;
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(fmt->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC))
            return (int)i;
    return -1;
}

int fm_carry_open(FmCarry **carry, const char *from, AVFormatContext *oc, AVStream *vst,
                  const char *out_name, FmError *err)
{
    *carry = NULL;
    /* A second demuxer reads the master from the start: a pipe or a device
     * would block or hand over the wrong bytes (issue 11). */
    struct stat st;
    if (stat(from, &st) != 0)
        return fm_error_set(err, FM_EIO, "cannot open '%s' for its audio: %s", from,
                            strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fm_error_set(err, FM_EINVAL,
                            "'%s' is not a regular file (a pipe or device can be read only "
                            "once): save it to a file first", from);
    FmCarry *c = av_mallocz(sizeof *c);
    if (!c)
        return nomem(err);
    c->oc = oc;
    c->out_name = av_strdup(out_name);
    int ret = c->out_name ? avformat_open_input(&c->in, from, NULL, NULL) : AVERROR(ENOMEM);
    if (ret >= 0)
        ret = avformat_find_stream_info(c->in, NULL);
    if (ret < 0) {
        fm_carry_free(&c);
        if (ret == AVERROR(ENOMEM))
            return nomem(err);
        return fm_error_set(err, FM_EIO, "cannot open '%s' for its audio: %s", from,
                            av_err2str(ret));
    }
    unsigned ns = c->in->nb_streams;
    c->s = av_calloc(ns ? ns : 1, sizeof *c->s);
    c->map = av_calloc(ns ? ns : 1, sizeof *c->map);
    c->notes = av_calloc(ns ? ns : 1, sizeof *c->notes);
    c->pkt = av_packet_alloc();
    if (!c->s || !c->map || !c->notes || !c->pkt)
        goto nomem;
    if (copy_tags(&oc->metadata, c->in->metadata) < 0 || copy_chapters(c) < 0)
        goto nomem;
    int video = marked_video(c->in);
    if (video >= 0 && vst) {
        if (copy_tags(&vst->metadata, c->in->streams[video]->metadata) < 0)
            goto nomem;
        vst->disposition = c->in->streams[video]->disposition;
    }
    for (unsigned i = 0; i < ns; i++) {
        AVStream *ist = c->in->streams[i];
        c->map[i] = -1;
        ist->discard = AVDISCARD_ALL;
        if ((int)i == video)
            continue;
        Carried *k = &c->s[c->n];
        k->ist = ist;
        ret = 0;
        switch (ist->codecpar->codec_type) {
        case AVMEDIA_TYPE_AUDIO:
            ret = setup_audio(c, k, err);
            break;
        case AVMEDIA_TYPE_SUBTITLE:
            ret = setup_subtitle(c, k, err);
            break;
        case AVMEDIA_TYPE_ATTACHMENT:
            ret = setup_attachment(c, ist, err);
            continue;   /* no packets */
        case AVMEDIA_TYPE_DATA:
            if (container_takes(oc->oformat, ist->codecpar->codec_id) == 1) {
                if ((ret = setup_copy(c, k, err)) == 0) {
                    add_note(c, ist, FM_CARRY_COPIED, avcodec_get_name(ist->codecpar->codec_id));
                    ret = 1;
                }
            } else {
                drop_container(c, ist);
            }
            break;
        case AVMEDIA_TYPE_VIDEO:
            drop(c, ist, ist->disposition & AV_DISPOSITION_ATTACHED_PIC
                             ? "cover art is not carried"
                             : "only the marked video stream is written (another would be "
                               "an unmarked copy)");
            break;
        default:
            drop(c, ist, "unknown stream type");
            break;
        }
        if (ret < 0) {
            fm_carry_free(&c);
            return ret;
        }
        if (ret == 1) {
            ist->discard = AVDISCARD_DEFAULT;
            c->map[i] = c->n++;
        }
    }
    *carry = c;
    return 0;
nomem:
    fm_carry_free(&c);
    return nomem(err);
}

static int write_error(FmCarry *c, int ret, FmError *err)
{
    if (ret == AVERROR(ENOMEM))
        return nomem(err);
    if (ret == AVERROR(EPIPE))
        return fm_error_set(err, FM_EIO, "cannot write %s: the reading end of the pipe closed",
                            c->out_name);
    return fm_error_set(err, FM_EIO, "cannot write %s: %s", c->out_name, av_err2str(ret));
}

/* Moves every packet the encoder has ready into the muxer. */
static int drain(FmCarry *c, Carried *k, FmError *err)
{
    for (;;) {
        int ret = avcodec_receive_packet(k->enc, k->opkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return fm_error_set(err, FM_ECODEC, "%s encoder failed: %s", k->enc->codec->name,
                                av_err2str(ret));
        k->opkt->stream_index = k->ost->index;
        av_packet_rescale_ts(k->opkt, k->enc->time_base, k->ost->time_base);
        ret = av_interleaved_write_frame(c->oc, k->opkt);
        if (ret < 0)
            return write_error(c, ret, err);
    }
}

/* Resamples frame (NULL: flush) into the FIFO in the encoder's format. */
static int audio_resample(Carried *k, const AVFrame *frame, FmError *err)
{
    AVCodecContext *e = k->enc;
    int ret;
    if (frame && k->swr &&
        (frame->format != k->swr_fmt || frame->sample_rate != k->swr_rate ||
         av_channel_layout_compare(&frame->ch_layout, &k->swr_layout) != 0)) {
        /* The source changed format mid-stream: finish the old resampler. */
        ret = audio_resample(k, NULL, err);
        swr_free(&k->swr);
        if (ret < 0)
            return ret;
    }
    if (frame && !k->swr) {
        AVChannelLayout in = { 0 };
        if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
            av_channel_layout_default(&in, frame->ch_layout.nb_channels);
        else if (av_channel_layout_copy(&in, &frame->ch_layout) < 0)
            return nomem(err);
        ret = swr_alloc_set_opts2(&k->swr, &e->ch_layout, e->sample_fmt, e->sample_rate, &in,
                                  frame->format, frame->sample_rate, 0, NULL);
        av_channel_layout_uninit(&in);
        if (ret >= 0)
            ret = swr_init(k->swr);
        if (ret < 0)
            return fm_error_set(err, FM_ECODEC, "cannot resample the audio: %s", av_err2str(ret));
        av_channel_layout_uninit(&k->swr_layout);
        if (av_channel_layout_copy(&k->swr_layout, &frame->ch_layout) < 0)
            return nomem(err);
        k->swr_fmt = frame->format;
        k->swr_rate = frame->sample_rate;
        if (!k->have_next_pts && frame->pts != AV_NOPTS_VALUE)
            k->next_pts = av_rescale_q(frame->pts, k->ist->time_base, e->time_base);
        k->have_next_pts = 1;
    }
    if (!k->swr)
        return 0;
    int in_n = frame ? frame->nb_samples : 0;
    int max = swr_get_out_samples(k->swr, in_n);
    if (max <= 0)
        return 0;
    uint8_t **buf = NULL;
    ret = av_samples_alloc_array_and_samples(&buf, NULL, e->ch_layout.nb_channels, max,
                                             e->sample_fmt, 0);
    if (ret < 0)
        return nomem(err);
    int n = swr_convert(k->swr, buf, max, frame ? (const uint8_t **)frame->extended_data : NULL,
                        in_n);
    if (n > 0 && av_audio_fifo_write(k->fifo, (void **)buf, n) < n)
        n = AVERROR(ENOMEM);
    av_freep(&buf[0]);
    av_freep(&buf);
    if (n < 0)
        return fm_error_set(err, FM_ECODEC, "cannot resample the audio: %s", av_err2str(n));
    return 0;
}

/* Encodes whole frames from the FIFO; with final, the rest and the flush. */
static int audio_encode(FmCarry *c, Carried *k, int final, FmError *err)
{
    AVCodecContext *e = k->enc;
    int fs = e->frame_size > 0 ? e->frame_size : 1024;
    int small_last = (e->codec->capabilities & AV_CODEC_CAP_SMALL_LAST_FRAME) != 0;
    for (;;) {
        int avail = av_audio_fifo_size(k->fifo);
        if (avail < fs && !(final && avail > 0))
            break;
        int n = avail < fs ? avail : fs;
        AVFrame *f = k->frame;
        av_frame_unref(f);
        f->format = e->sample_fmt;
        f->sample_rate = e->sample_rate;
        f->nb_samples = (n < fs && !small_last) ? fs : n;
        int ret = av_channel_layout_copy(&f->ch_layout, &e->ch_layout);
        if (ret >= 0)
            ret = av_frame_get_buffer(f, 0);
        if (ret < 0)
            return nomem(err);
        if (f->nb_samples > n) /* pad the last frame with silence */
            av_samples_set_silence(f->extended_data, n, f->nb_samples - n,
                                   e->ch_layout.nb_channels, e->sample_fmt);
        av_audio_fifo_read(k->fifo, (void **)f->extended_data, n);
        f->pts = k->next_pts;
        k->next_pts += n;
        ret = avcodec_send_frame(e, f);
        av_frame_unref(f);
        if (ret < 0)
            return fm_error_set(err, FM_ECODEC, "%s encoder failed: %s", e->codec->name,
                                av_err2str(ret));
        if ((ret = drain(c, k, err)) < 0)
            return ret;
    }
    if (!final)
        return 0;
    int ret = avcodec_send_frame(e, NULL);
    if (ret < 0 && ret != AVERROR_EOF)
        return fm_error_set(err, FM_ECODEC, "%s encoder failed: %s", e->codec->name,
                            av_err2str(ret));
    return drain(c, k, err);
}

/* Decodes pkt (NULL: flush the decoder) into the FIFO and encodes it. */
static int audio_transcode(FmCarry *c, Carried *k, const AVPacket *pkt, FmError *err)
{
    int ret = avcodec_send_packet(k->dec, pkt);
    if (ret == AVERROR_INVALIDDATA)
        return 0; /* a damaged packet: skip it */
    if (ret < 0 && ret != AVERROR_EOF)
        return fm_error_set(err, FM_ECODEC, "cannot decode the audio: %s", av_err2str(ret));
    for (;;) {
        AVFrame *f = k->frame;
        ret = avcodec_receive_frame(k->dec, f);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            break;
        if (ret == AVERROR_INVALIDDATA)
            continue;
        if (ret < 0)
            return fm_error_set(err, FM_ECODEC, "cannot decode the audio: %s", av_err2str(ret));
        ret = audio_resample(k, f, err);
        av_frame_unref(f);
        if (ret < 0)
            return ret;
    }
    if (!pkt && (ret = audio_resample(k, NULL, err)) < 0)
        return ret;
    return audio_encode(c, k, pkt == NULL, err);
}

/* One subtitle packet decoded to events and encoded in the target format. */
static int sub_convert(FmCarry *c, Carried *k, AVPacket *pkt, FmError *err)
{
    AVSubtitle sub;
    int got = 0;
    int ret = avcodec_decode_subtitle2(k->dec, &sub, &got, pkt);
    if (ret < 0 || !got)
        return 0;   /* a damaged or empty event: skipped, as ffmpeg does */
    int64_t dur = sub.end_display_time > sub.start_display_time
                  ? sub.end_display_time - sub.start_display_time : 0;
    if (pkt->duration > 0 && !dur)
        dur = av_rescale_q(pkt->duration, k->ist->time_base, (AVRational){ 1, 1000 });
    int64_t pts = sub.pts != AV_NOPTS_VALUE
                  ? sub.pts + av_rescale_q(sub.start_display_time, (AVRational){ 1, 1000 },
                                           AV_TIME_BASE_Q)
                  : av_rescale_q(pkt->pts, k->ist->time_base, AV_TIME_BASE_Q);
    sub.pts = pts;
    sub.start_display_time = 0;
    sub.end_display_time = (uint32_t)dur;
    ret = av_new_packet(k->opkt, SUB_BUF_SIZE);
    if (ret < 0) {
        avsubtitle_free(&sub);
        return nomem(err);
    }
    int size = sub.num_rects ? avcodec_encode_subtitle(k->enc, k->opkt->data, SUB_BUF_SIZE,
                                                       &sub) : 0;
    avsubtitle_free(&sub);
    if (size <= 0) {
        av_packet_unref(k->opkt);
        return 0;   /* nothing this format can say (e.g. an empty event) */
    }
    av_shrink_packet(k->opkt, size);
    k->opkt->pts = k->opkt->dts = av_rescale_q(pts, AV_TIME_BASE_Q, k->ost->time_base);
    k->opkt->duration = av_rescale_q(dur, (AVRational){ 1, 1000 }, k->ost->time_base);
    k->opkt->stream_index = k->ost->index;
    ret = av_interleaved_write_frame(c->oc, k->opkt);
    return ret < 0 ? write_error(c, ret, err) : 0;
}

static int copy_packet(FmCarry *c, Carried *k, AVPacket *pkt, FmError *err)
{
    pkt->stream_index = k->ost->index;
    av_packet_rescale_ts(pkt, k->ist->time_base, k->ost->time_base);
    pkt->pos = -1;
    int ret = av_interleaved_write_frame(c->oc, pkt);
    return ret < 0 ? write_error(c, ret, err) : 0;
}

static int flush_all(FmCarry *c, FmError *err)
{
    for (int i = 0; i < c->n; i++) {
        Carried *k = &c->s[i];
        int ret = k->kind == CARRY_AUDIO_ENC ? audio_transcode(c, k, NULL, err) : 0;
        if (ret < 0)
            return ret;
    }
    return 0;
}

int fm_carry_pump(FmCarry *c, double until, int all, FmError *err)
{
    if (!c || c->n == 0)
        return 0;
    while (!c->done) {
        if (!c->have_pkt) {
            int ret = av_read_frame(c->in, c->pkt);
            if (ret < 0) {
                if (ret != AVERROR_EOF && ret != AVERROR_INVALIDDATA &&
                    !(c->in->pb && avio_feof(c->in->pb)))
                    return fm_error_set(err, FM_EIO, "cannot read audio from '%s': %s",
                                        c->in->url, av_err2str(ret));
                c->done = 1;
                return flush_all(c, err);
            }
            if (c->pkt->stream_index < 0 || (unsigned)c->pkt->stream_index >= c->in->nb_streams ||
                c->map[c->pkt->stream_index] < 0) {
                av_packet_unref(c->pkt);
                continue;
            }
            c->have_pkt = 1;
        }
        Carried *k = &c->s[c->map[c->pkt->stream_index]];
        int64_t ts = c->pkt->dts != AV_NOPTS_VALUE ? c->pkt->dts : c->pkt->pts;
        if (!all && ts != AV_NOPTS_VALUE && ts * av_q2d(k->ist->time_base) > until)
            return 0; /* not yet: the video has not got there */
        c->have_pkt = 0;
        int ret = k->kind == CARRY_AUDIO_ENC ? audio_transcode(c, k, c->pkt, err)
                  : k->kind == CARRY_SUB_CONV ? sub_convert(c, k, c->pkt, err)
                  : copy_packet(c, k, c->pkt, err);
        av_packet_unref(c->pkt);
        if (ret < 0)
            return ret;
    }
    return 0;
}

const FmStreamNote *fm_carry_notes(const FmCarry *c, size_t *count)
{
    *count = c ? c->nb_notes : 0;
    return c ? c->notes : NULL;
}

int fm_carry_nb_streams(const FmCarry *c)
{
    return c ? c->nb_out : 0;
}

const char *fm_carry_first_codec(const FmCarry *c, enum AVMediaType type)
{
    for (int i = 0; c && i < c->n; i++)
        if (c->s[i].ost && c->s[i].ost->codecpar->codec_type == type)
            return avcodec_get_name(c->s[i].ost->codecpar->codec_id);
    return NULL;
}

void fm_carry_free(FmCarry **carry)
{
    if (!carry || !*carry)
        return;
    FmCarry *c = *carry;
    for (int i = 0; c->s && i < c->n + 1 && c->in && i < (int)c->in->nb_streams; i++) {
        Carried *k = &c->s[i];
        av_packet_free(&k->opkt);
        av_frame_free(&k->frame);
        avcodec_free_context(&k->dec);
        avcodec_free_context(&k->enc);
        swr_free(&k->swr);
        av_channel_layout_uninit(&k->swr_layout);
        if (k->fifo)
            av_audio_fifo_free(k->fifo);
    }
    avformat_close_input(&c->in);
    av_packet_free(&c->pkt);
    av_freep(&c->s);
    av_freep(&c->map);
    av_freep(&c->notes);
    av_freep(&c->out_name);
    av_freep(carry);
}
