/*
 * clip_frames.h - a clip's frames with their times, as the detector reads
 * them: each frame's time from its pts (else its number over the frame
 * rate), counted from the first frame read, and the frames past a duration
 * left out. wmdetect and the public API (include/filmmark.h) read clips
 * through this, so both see the same frames at the same times.
 */
#ifndef FM_CLIP_FRAMES_H
#define FM_CLIP_FRAMES_H

#include "fm_error.h"
#include "read_ahead.h"
#include "video_io.h"

typedef struct FmClipFrames {
    FmVideoReader *reader;      /* the caller's */
    double start;               /* seconds the caller seeked to (0: none) */
    double duration;            /* > 0: frames at or past start + duration end the clip */
    double t_origin;            /* NAN until the first frame */
    long frames;                /* frames returned so far */
    int cut;                    /* the duration ended the clip before its end */
    FmReadAhead *ahead;         /* fm_clip_frames_read_ahead(), else NULL */
} FmClipFrames;

/* start: where the reader was seeked to (fm_reader_seek), else 0;
 * duration: seconds to read from there (<= 0: to the end). */
void fm_clip_frames_init(FmClipFrames *cf, FmVideoReader *reader, double start,
                         double duration);

/* Decodes on a thread of its own, up to depth frames ahead (read_ahead.h):
 * the reader is then the thread's until fm_clip_frames_end(). Returns 0 or
 * FM_E*. */
int fm_clip_frames_read_ahead(FmClipFrames *cf, int depth, FmError *err);
/* Stops the read-ahead thread, if any: call it before using or closing the
 * reader again, whether the clip was read to its end or not. */
void fm_clip_frames_end(FmClipFrames *cf);

/*
 * The next frame and its time in seconds (start + time since the first
 * frame read). Returns 1 with a frame (owned by the reader, valid until the
 * next call), 0 at the end of the clip or of the duration, or a negative
 * FM_E* code.
 */
int fm_clip_frames_next(FmClipFrames *cf, AVFrame **frame, double *t, FmError *err);

#endif
