/*
 * read_ahead.h - a reader's frames decoded on a thread of their own, a few
 * frames ahead of the caller.
 *
 * FFmpeg's frame threads decode only the packets they have been given, and
 * they are given packets only while the caller asks for frames: a caller
 * that works on each frame (the detector) leaves the decoder idle meanwhile,
 * and a codec whose frames depend on each other (VP9, H.264) hardly decodes
 * two at once anyway. Here one thread calls fm_reader_next() ahead of the
 * caller and keeps up to `depth` frames (references, not copies) and their
 * times for it: the same frames, times and errors, in the same order, as
 * reading them on the caller's thread.
 *
 * While it runs, the reader belongs to that thread: the caller touches it
 * again only after fm_read_ahead_stop().
 */
#ifndef FM_READ_AHEAD_H
#define FM_READ_AHEAD_H

#include "fm_error.h"
#include "video_io.h"

typedef struct FmReadAhead FmReadAhead;

/* The depth the detector's readers use (wmdetect, the API, wmembed's
 * self-check): enough to keep the decoder busy while the detector works on
 * a frame (8 read no faster on a 10-s 1080p VP9 clip); 4 frames of 4K
 * 10-bit 4:2:2 hold ~130 MB. */
#define FM_READ_AHEAD_DEPTH 4

/* Starts the thread. depth: frames kept ready, 1..64. Returns 0 or FM_E*. */
int fm_read_ahead_start(FmReadAhead **ra, FmVideoReader *reader, int depth, FmError *err);

/*
 * As fm_reader_next(): 1 with the next frame (valid until the next call)
 * and its time, fm_reader_frame_seconds() of it; 0 at the end of the
 * stream; a negative FM_E* code (and err) where the reader failed.
 */
int fm_read_ahead_next(FmReadAhead *ra, AVFrame **frame, double *t, FmError *err);

/* Stops the thread (it finishes the frame it is decoding) and frees
 * everything; NULL-safe. */
void fm_read_ahead_stop(FmReadAhead **ra);

#endif
