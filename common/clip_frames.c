#include "clip_frames.h"

#include <math.h>

void fm_clip_frames_init(FmClipFrames *cf, FmVideoReader *reader, double start,
                         double duration)
{
    *cf = (FmClipFrames){
        .reader = reader, .start = start, .duration = duration, .t_origin = NAN,
    };
}

int fm_clip_frames_next(FmClipFrames *cf, AVFrame **frame, double *t, FmError *err)
{
    int r = fm_reader_next(cf->reader, frame, err);
    if (r <= 0)
        return r;
    double s = fm_reader_frame_seconds(cf->reader, *frame);
    if (isnan(cf->t_origin))
        cf->t_origin = s - cf->start;
    s -= cf->t_origin;
    if (cf->duration > 0 && s - cf->start >= cf->duration)
        return 0;
    cf->frames++;
    *t = s;
    return 1;
}
