#include "clip_frames.h"

#include <math.h>

void fm_clip_frames_init(FmClipFrames *cf, FmVideoReader *reader, double start,
                         double duration)
{
    *cf = (FmClipFrames){
        .reader = reader, .start = start, .duration = duration, .t_origin = NAN,
    };
}

int fm_clip_frames_read_ahead(FmClipFrames *cf, int depth, FmError *err)
{
    return cf->ahead ? 0 : fm_read_ahead_start(&cf->ahead, cf->reader, depth, err);
}

void fm_clip_frames_end(FmClipFrames *cf)
{
    fm_read_ahead_stop(&cf->ahead);
}

int fm_clip_frames_next(FmClipFrames *cf, AVFrame **frame, double *t, FmError *err)
{
    double s = 0;
    int r;
    if (cf->ahead)
        r = fm_read_ahead_next(cf->ahead, frame, &s, err);
    else if ((r = fm_reader_next(cf->reader, frame, err)) > 0)
        s = fm_reader_frame_seconds(cf->reader, *frame);
    if (r <= 0)
        return r;
    if (isnan(cf->t_origin))
        cf->t_origin = s - cf->start;
    s -= cf->t_origin;
    if (cf->duration > 0 && s - cf->start >= cf->duration) {
        cf->cut = 1;
        return 0;
    }
    cf->frames++;
    *t = s;
    return 1;
}
