#include "frame.h"

uint8_t *fm_frame_luma(const AVFrame *frame, ptrdiff_t *stride)
{
    *stride = frame->linesize[0];
    return frame->data[0];
}

int fm_frame_copy_owned(AVFrame **dst, const AVFrame *src, FmError *err)
{
    AVFrame *d = *dst;
    if (d && (d->width != src->width || d->height != src->height || d->format != src->format))
        av_frame_free(dst);
    if (!*dst) {
        if (!(d = *dst = av_frame_alloc()))
            return fm_error_set(err, FM_ENOMEM, "out of memory");
        d->format = src->format;
        d->width = src->width;
        d->height = src->height;
        if (av_frame_get_buffer(d, 0) < 0) {
            av_frame_free(dst);
            return fm_error_set(err, FM_ENOMEM, "out of memory for a %dx%d frame", src->width,
                                src->height);
        }
    }
    if (av_frame_copy(d, src) < 0 || av_frame_copy_props(d, src) < 0)
        return fm_error_set(err, FM_ENOMEM, "cannot copy a %dx%d frame", src->width, src->height);
    return 0;
}

float fm_frame_evidence_weight(const AVFrame *frame, float intra_weight)
{
    return frame->pict_type == AV_PICTURE_TYPE_I || frame->pict_type == AV_PICTURE_TYPE_SI
           ? intra_weight : 1.0f;
}
