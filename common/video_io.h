/*
 * video_io.h - decoding any video FFmpeg reads, and encoding deliverables.
 *
 * The reader hands out decoded video frames in a planar YUV format whose luma
 * plane the watermark code can work on (8..16 bit, 4:2:0, 4:2:2 or 4:4:4).
 * The writer encodes such frames with VP9 (libvpx, WebM), H.264 (libx264),
 * FFV1 or uncompressed (y4m), carries the source's other streams, chapters and
 * metadata (stream_carry.h), and writes to a temporary file beside the output
 * that is renamed into place only by fm_writer_finish(): an aborted run leaves
 * nothing behind. The output "-" is standard output instead: written as it
 * is encoded, with nothing to rename (fm_writer_is_stream).
 */
#ifndef FM_VIDEO_IO_H
#define FM_VIDEO_IO_H

#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/rational.h>

#include "fm_error.h"
#include "stream_carry.h"

typedef struct FmVideoReader FmVideoReader;
typedef struct FmVideoWriter FmVideoWriter;

typedef struct FmVideoInfo {
    int width, height;
    enum AVPixelFormat pix_fmt;  /* format of the frames fm_reader_next() returns */
    int bit_depth;               /* of the luma plane of those frames */
    AVRational frame_rate;       /* best guess, {0,1} when unknown */
    AVRational time_base;        /* of frame->pts / frame->best_effort_timestamp */
    double duration;             /* seconds, <= 0 when unknown */
    int64_t nb_frames;           /* estimate, 0 when unknown */
    enum AVColorPrimaries color_primaries;
    enum AVColorTransferCharacteristic color_trc;
    enum AVColorSpace colorspace;
    enum AVColorRange color_range;
    AVRational sample_aspect_ratio;
    int has_audio;
    const char *codec_name;      /* of the video stream, e.g. "prores" */
    const char *format_name;     /* the container, e.g. "matroska,webm" */
    enum AVChromaLocation chroma_location;
    int nb_other_streams;        /* streams besides the video (audio, subtitles, ...) */
} FmVideoInfo;

/* Opens path and its best video stream; "-" reads standard input (a
 * streamable container: y4m, Matroska, NUT, MPEG-TS...; a file named "-" is
 * "./-"). Returns 0 or FM_E*. */
int fm_reader_open(FmVideoReader **reader, const char *path, FmError *err);
const FmVideoInfo *fm_reader_info(const FmVideoReader *reader);
/*
 * Decodes the next frame. On success returns 1 and *frame points at a frame
 * owned by the reader, valid until the next call (planar YUV, see info).
 * frame->pts is in info->time_base (best effort timestamp). Returns 0 at the
 * end of the stream, FM_E* on error.
 */
int fm_reader_next(FmVideoReader *reader, AVFrame **frame, FmError *err);
/* The time of a frame fm_reader_next() returned, in seconds of the stream
 * (its pts: the decoder's best effort, else one frame after the last). */
double fm_reader_frame_seconds(const FmVideoReader *reader, const AVFrame *frame);
/*
 * on = 1: the caller promises not to modify the frames fm_reader_next()
 * hands out, which may then be the decoder's own pictures (shared with the
 * frames it predicts from) instead of a private copy of each: one copy of
 * every picture less. Default 0 (frames are writable).
 */
void fm_reader_set_read_only(FmVideoReader *reader, int on);
/* Seeks to t seconds (to the nearest earlier keyframe, frames before t are
 * skipped by fm_reader_next). Returns 0 or FM_E*. */
int fm_reader_seek(FmVideoReader *reader, double t, FmError *err);
void fm_reader_close(FmVideoReader **reader);

/* Frames a healthy file may fall short of what its container declares. */
#define FM_READER_SHORT_FRAMES 1.5
/* Seconds the audio may outlast the picture when only the whole file's
 * length is known (MPEG-TS, some AVI/FLV): a shorter cut goes unnoticed there. */
#define FM_READER_SHORT_AUDIO_SLACK 1.0

/*
 * After fm_reader_next() returned 0 (end of stream) on a reader that was not
 * seeked: checks that the decoded frames reach what the container declared.
 * Returns 0, or FM_EFORMAT with a one-line reason in err when
 *  - the picture ends more than FM_READER_SHORT_FRAMES frame durations before
 *    the duration the container declares for the video stream (Matroska/WebM
 *    DURATION tag, MP4/MOV track duration), or the file's length (plus
 *    FM_READER_SHORT_AUDIO_SLACK when it has audio) when that is all it
 *    declares: "'m.mkv' ends at 00:00:01.2 of 00:00:05.0: truncated or damaged";
 *  - the container's index lists frames after the last one decoded;
 *  - fewer frames were decoded than the container counts (MP4/MOV, AVI);
 *  - the decoder rejected data after the first good frame (damaged frames);
 *  - demuxing ended on damaged data rather than a clean end of file.
 * Files that declare nothing (raw streams, durations guessed from the bit
 * rate) are judged by the last two only. Returns 0 without checking after
 * fm_reader_seek() or when no frame was decoded (callers refuse that case).
 */
int fm_reader_check_complete(const FmVideoReader *reader, FmError *err);

/* FM_CODEC_RAW: the pictures uncompressed, for y4m (and NUT/Matroska). */
typedef enum FmCodec { FM_CODEC_VP9 = 0, FM_CODEC_H264, FM_CODEC_FFV1, FM_CODEC_RAW } FmCodec;

typedef struct FmWriterOptions {
    FmCodec codec;
    int crf;            /* < 0: codec default (VP9 24, H.264 18; ignored by FFV1) */
    int threads;        /* 0: auto */
    const char *audio_from; /* path whose other streams to carry (stream_carry.h),
                               or NULL for none */
    const char *format; /* the container: "y4m", "mkv", "webm", "mp4", "mov", "nut" or
                           an FFmpeg muxer name; NULL: from the path's extension
                           (required for "-") */
} FmWriterOptions;

/*
 * Creates the output. Frames passed to fm_writer_write() have the size and
 * pixel format of src (as returned by the reader); colour properties, frame
 * rate, sample aspect ratio and timestamps are carried over. Refuses (FM_EPERM)
 * when path is the same file as opt->audio_from. path "-" writes to standard
 * output (opt->format required; MP4/MOV are written fragmented there). A y4m
 * output takes FM_CODEC_RAW only, in the frames' own pixel format, with the
 * frame rate and aspect of src; y4m above 8 bits is FFmpeg's extension
 * (C420p10, C422p10...: "-strict -1" for ffmpeg to write it, not to read it).
 */
int fm_writer_open(FmVideoWriter **writer, const char *path, const FmVideoInfo *src,
                   const FmWriterOptions *opt, FmError *err);
/* Encodes one frame (not consumed; the caller keeps ownership). */
int fm_writer_write(FmVideoWriter *writer, const AVFrame *frame, FmError *err);
/*
 * Makes the next frame written a keyframe. wmembed calls it at the first
 * frame of every pattern epoch: an inter frame codes the switch to a new
 * noise-like pattern coarsely over a static background, and the frames that
 * predict from it keep that loss for the whole epoch (measured: VP9 CRF 24
 * on a static 640x480 picture, 5.3 % raw bit errors with the encoder's own
 * GOPs, 0.1 % with a keyframe every epoch, 2.4 % more bytes).
 */
void fm_writer_force_keyframe(FmVideoWriter *writer);

/*
 * Flushes, writes the trailer and syncs the temporary file to disk; the
 * output is complete but still under its temporary name, which
 * fm_writer_temp_path() gives (to read it back, hash it, write its receipt).
 */
int fm_writer_complete(FmVideoWriter *writer, FmError *err);
const char *fm_writer_temp_path(const FmVideoWriter *writer);
/* Renames the completed temporary file into place (atomic, same directory). */
int fm_writer_publish(FmVideoWriter *writer, FmError *err);
/* fm_writer_complete() then fm_writer_publish(). */
int fm_writer_finish(FmVideoWriter *writer, FmError *err);
/*
 * Decodes every video packet the encoder makes (before it goes to the muxer)
 * and hands the picture to cb, t in seconds of the output's timeline: the
 * self-check of an output that cannot be read back (standard output). cb
 * returns 0 for more, 1 when it needs no more, FM_E* to fail the write.
 * Call before the first fm_writer_write(). Returns 0 or FM_E*.
 */
typedef int (*FmWriterDecodeBack)(void *opaque, const AVFrame *frame, double t, FmError *err);
int fm_writer_decode_back(FmVideoWriter *writer, FmWriterDecodeBack cb, void *opaque,
                          FmError *err);
/* 1 when the writer writes to standard output (nothing to publish). */
int fm_writer_is_stream(const FmVideoWriter *writer);
/* After fm_writer_complete() on a stream: SHA-256 (hex) of the bytes written. */
int fm_writer_stream_sha256(const FmVideoWriter *writer, char hex[65], FmError *err);
/* What became of each of the source's other streams (stream_carry.h); an
 * empty list without audio_from. Valid until fm_writer_close(). */
const FmStreamNote *fm_writer_stream_notes(const FmVideoWriter *writer, size_t *count);
/* The muxer name a --format value means ("y4m" -> "yuv4mpegpipe"), or NULL. */
const char *fm_format_muxer(const char *name);
/* Frees the writer; removes the temporary file if finish did not succeed. */
void fm_writer_close(FmVideoWriter **writer);

const char *fm_codec_name(FmCodec codec);
/* "vp9", "h264", "ffv1", "raw" -> codec; returns 0 or FM_EINVAL. */
int fm_codec_from_name(const char *name, FmCodec *codec);

#endif
