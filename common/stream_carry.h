/*
 * stream_carry.h - carries a master's other streams (every audio track,
 * subtitles, attachments, data), its chapters and its metadata into a
 * deliverable that a writer (video_io.h) is muxing.
 *
 * The master is read by a second demuxer of its own, from the start, in step
 * with the video the writer encodes: fm_carry_pump() moves every packet up to
 * the video's time into the output. Per stream:
 *  - audio: stream copy where the output container takes the codec, else
 *    re-encoded to Opus (AAC where Opus cannot go, as in MOV);
 *  - subtitles: copied where the container takes the codec, text subtitles
 *    (SRT, ASS, WebVTT, mov_text) converted otherwise (mov_text for MP4/MOV,
 *    WebVTT for WebM); bitmap subtitles that cannot go are dropped;
 *  - attachments (fonts in Matroska): kept where the container has them;
 *  - data streams: copied where the container takes them;
 *  - other video streams (a second angle, cover art) are never carried: they
 *    would be unmarked copies of the picture.
 * What cannot be kept is not an error: it is listed in the notes
 * (fm_carry_notes), one per source stream, for the tool to report.
 * Container and stream metadata (title, language, handler name, ...), the
 * streams' dispositions and the chapters are copied; the statistics tags a
 * muxer writes itself (Matroska's DURATION, BPS, ...) are not.
 */
#ifndef FM_STREAM_CARRY_H
#define FM_STREAM_CARRY_H

#include <stddef.h>

#include <libavformat/avformat.h>

#include "fm_error.h"

typedef struct FmCarry FmCarry;

typedef enum FmCarryAction {
    FM_CARRY_COPIED = 0,    /* stream copy */
    FM_CARRY_ENCODED,       /* audio re-encoded */
    FM_CARRY_CONVERTED,     /* subtitles converted to another text format */
    FM_CARRY_DROPPED,       /* not in the output: see reason */
} FmCarryAction;

/* What became of one stream of the master (the marked video excepted). */
typedef struct FmStreamNote {
    int index;              /* the stream's index in the master */
    const char *type;       /* "audio", "subtitle", "attachment", "data", "video" */
    const char *codec;      /* in the master, e.g. "hdmv_pgs_subtitle" */
    const char *out_codec;  /* in the deliverable; NULL when dropped */
    FmCarryAction action;
    char reason[160];       /* why it was dropped, "" otherwise */
} FmStreamNote;

/*
 * Opens `from` (a regular file) and adds to oc (whose header is not written
 * yet) an output stream for every stream of `from` the container can hold;
 * copies the container's metadata and chapters, and the metadata and
 * disposition of from's video stream onto vst. out_name names the output in
 * messages. Returns 0 or FM_E*.
 */
int fm_carry_open(FmCarry **carry, const char *from, AVFormatContext *oc, AVStream *vst,
                  const char *out_name, FmError *err);
/* Moves the master's packets up to `until` seconds (everything with all)
 * into oc, so that they interleave with the video. Returns 0 or FM_E*. */
int fm_carry_pump(FmCarry *carry, double until, int all, FmError *err);
/* The notes, one per stream of the master other than the marked video. */
const FmStreamNote *fm_carry_notes(const FmCarry *carry, size_t *count);
/* Number of output streams added (0 for a NULL carry). */
int fm_carry_nb_streams(const FmCarry *carry);
/* The codec of the first carried stream of this type, or NULL (messages). */
const char *fm_carry_first_codec(const FmCarry *carry, enum AVMediaType type);
const char *fm_carry_action_name(FmCarryAction action);
void fm_carry_free(FmCarry **carry);

#endif
