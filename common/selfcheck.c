#include "selfcheck.h"

#include <math.h>
#include <string.h>
#include <sodium.h>

#include "accumulator.h"
#include "detector.h"
#include "video_io.h"

int fm_self_check(const char *path, const FmKey *key, const uint8_t message[FM_MESSAGE_BYTES],
                  double max_seconds, FmSelfCheck *res, FmError *err)
{
    FmVideoReader *reader = NULL;
    FmAccumulator acc = { 0 };
    int have_acc = 0, r;
    memset(res, 0, sizeof(*res));

    if ((r = fm_reader_open(&reader, path, err)) < 0)
        return r;
    const FmVideoInfo *info = fm_reader_info(reader);
    if ((r = fm_accumulator_init(&acc, info->width, info->height, err)) < 0)
        goto end;
    have_acc = 1;

    double tb = av_q2d(info->time_base), t_origin = NAN, t = 0;
    double dt = info->frame_rate.num ? av_q2d(av_inv_q(info->frame_rate)) : 1 / 24.0;
    long frames = 0;
    AVFrame *frame;
    while ((r = fm_reader_next(reader, &frame, err)) > 0) {
        t = frame->pts != AV_NOPTS_VALUE ? frame->pts * tb : frames * dt;
        if (isnan(t_origin))
            t_origin = t;
        t -= t_origin;
        if (max_seconds > 0 && t >= max_seconds)
            break;
        if ((r = fm_accumulator_add(&acc, frame->data[0], frame->linesize[0], info->bit_depth, t,
                                    err)) < 0)
            goto end;
        frames++;
    }
    if (r < 0)
        goto end;
    if (frames == 0) {
        r = fm_error_set(err, FM_EFORMAT, "the deliverable has no decodable video frames");
        goto end;
    }

    FmDetectResult d;
    /* blind, as wmdetect reads a copy; the bit errors against our message */
    if ((r = fm_detect(&acc, key, 1, NULL, &d, err)) < 0)
        goto end;
    res->found = d.found;
    res->signature_valid = d.signature_valid;
    res->message_match = d.signature_valid &&
                         sodium_memcmp(d.message, message, FM_MESSAGE_BYTES) == 0;
    res->pilot_z = d.pilot_z;
    res->false_alarm_log10 = d.false_alarm_log10;
    res->seconds_read = frames * dt;
    if (res->message_match) {
        res->raw_ber = d.raw_ber;
    } else {
        FmDetectResult inf;
        if ((r = fm_detect(&acc, key, 1, message, &inf, err)) < 0)
            goto end;
        res->raw_ber = inf.raw_ber;
    }
    r = 0;
end:
    if (have_acc)
        fm_accumulator_free(&acc);
    fm_reader_close(&reader);
    return r;
}
