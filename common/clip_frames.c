#include "clip_frames.h"

#include <math.h>

void fm_clip_frames_init(FmClipFrames *cf, FmVideoReader *reader, double start,
                         double duration)
{
    const FmVideoInfo *info = fm_reader_info(reader);
    *cf = (FmClipFrames){
        .reader = reader, .start = start, .duration = duration,
        .tb = av_q2d(info->time_base), .t_origin = NAN,
    };
}

int fm_clip_frames_next(FmClipFrames *cf, AVFrame **frame, double *t, FmError *err)
{
    const FmVideoInfo *info = fm_reader_info(cf->reader);
    int r = fm_reader_next(cf->reader, frame, err);
    if (r <= 0)
        return r;
    double s = (*frame)->pts != AV_NOPTS_VALUE ? (*frame)->pts * cf->tb
               : (info->frame_rate.num ? cf->frames * av_q2d(av_inv_q(info->frame_rate))
                                       : cf->frames / 24.0);
    if (isnan(cf->t_origin))
        cf->t_origin = s - cf->start;
    s -= cf->t_origin;
    if (cf->duration > 0 && s - cf->start >= cf->duration)
        return 0;
    cf->frames++;
    *t = s;
    return 1;
}
