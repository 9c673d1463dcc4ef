#include "selfcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "accumulator.h"
#include "detector.h"
#include "frame.h"
#include "read_ahead.h"
#include "video_io.h"

#include <libavutil/pixdesc.h>

struct FmSelfCheckRun {
    FmAccumulator acc;
    double max_seconds, dt, t_origin;
    long frames;
    int full;
};

int fm_self_check_begin(FmSelfCheckRun **run, int width, int height, double max_seconds,
                        double frame_dt, FmError *err)
{
    FmSelfCheckRun *r = calloc(1, sizeof *r);
    if (!r)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    int ret = fm_accumulator_init(&r->acc, width, height, err);
    if (ret < 0) {
        free(r);
        return ret;
    }
    r->max_seconds = max_seconds;
    r->dt = frame_dt > 0 ? frame_dt : 1 / 24.0;
    r->t_origin = NAN;
    *run = r;
    return 0;
}

int fm_self_check_add(FmSelfCheckRun *r, const AVFrame *frame, double t, FmError *err)
{
    if (r->full)
        return 1;
    if (isnan(r->t_origin))
        r->t_origin = t;
    t -= r->t_origin;
    if (r->max_seconds > 0 && t >= r->max_seconds) {
        r->full = 1;
        return 1;
    }
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)frame->format);
    if (!d)
        return fm_error_set(err, FM_EFORMAT, "the deliverable's pictures have no known format");
    float weight = fm_frame_evidence_weight(frame, FM_INTRA_WEIGHT);
    int ret = fm_accumulator_add_weighted(&r->acc, frame->data[0], frame->linesize[0],
                                          d->comp[0].depth, t, weight, err);
    if (ret < 0)
        return ret;
    r->frames++;
    return 0;
}

/* The detector's verdict on what was accumulated (frames read > 0). */
static int judge(FmAccumulator *acc, const FmKey *key, const uint8_t message[FM_MESSAGE_BYTES],
                 FmSelfCheck *res, FmError *err)
{
    FmDetectResult d;
    /* blind, as wmdetect reads a copy; the bit errors against our message */
    int r = fm_detect(acc, key, 1, NULL, &d, err);
    if (r < 0)
        return r;
    res->found = d.found;
    res->signature_valid = d.signature_valid;
    res->message_match = d.signature_valid &&
                         sodium_memcmp(d.message, message, FM_MESSAGE_BYTES) == 0;
    res->pilot_z = d.pilot_z;
    res->false_alarm_log10 = d.false_alarm_log10;
    res->bind_z = d.bind_z;
    res->bind_pairs = d.bind_pairs;
    res->content_bound = d.content_bound;
    if (res->message_match) {
        res->raw_ber = d.raw_ber;
    } else {
        FmDetectResult inf;
        if ((r = fm_detect(acc, key, 1, message, &inf, err)) < 0)
            return r;
        res->raw_ber = inf.raw_ber;
    }
    return 0;
}

int fm_self_check_end(FmSelfCheckRun *r, const FmKey *key,
                      const uint8_t message[FM_MESSAGE_BYTES], FmSelfCheck *res, FmError *err)
{
    memset(res, 0, sizeof(*res));
    if (r->frames == 0)
        return fm_error_set(err, FM_EFORMAT, "the deliverable has no decodable video frames");
    int ret = judge(&r->acc, key, message, res, err);
    res->seconds_read = r->frames * r->dt;
    return ret;
}

void fm_self_check_free(FmSelfCheckRun **run)
{
    if (!run || !*run)
        return;
    fm_accumulator_free(&(*run)->acc);
    free(*run);
    *run = NULL;
}

int fm_self_check(const char *path, const FmKey *key, const uint8_t message[FM_MESSAGE_BYTES],
                  double max_seconds, FmSelfCheck *res, FmError *err)
{
    FmVideoReader *reader = NULL;
    FmAccumulator acc = { 0 };
    int have_acc = 0, r;
    memset(res, 0, sizeof(*res));

    if ((r = fm_reader_open(&reader, path, err)) < 0)
        return r;
    fm_reader_set_read_only(reader, 1);    /* the detector only reads the pictures */
    const FmVideoInfo *info = fm_reader_info(reader);
    if ((r = fm_accumulator_init(&acc, info->width, info->height, err)) < 0)
        goto end;
    have_acc = 1;

    double tb = av_q2d(info->time_base), t_origin = NAN, t = 0;
    double dt = info->frame_rate.num ? av_q2d(av_inv_q(info->frame_rate)) : 1 / 24.0;
    long frames = 0;
    AVFrame *frame;
    /* decoding runs ahead on its own thread while the detector works */
    FmReadAhead *ahead = NULL;
    if ((r = fm_read_ahead_start(&ahead, reader, FM_READ_AHEAD_DEPTH, err)) < 0)
        goto end;
    double reader_t;   /* (the time here is the frame's own pts, as before) */
    while ((r = fm_read_ahead_next(ahead, &frame, &reader_t, err)) > 0) {
        t = frame->pts != AV_NOPTS_VALUE ? frame->pts * tb : frames * dt;
        if (isnan(t_origin))
            t_origin = t;
        t -= t_origin;
        if (max_seconds > 0 && t >= max_seconds)
            break;
        float weight = fm_frame_evidence_weight(frame, FM_INTRA_WEIGHT);
        if ((r = fm_accumulator_add_weighted(&acc, frame->data[0], frame->linesize[0],
                                             info->bit_depth, t, weight, err)) < 0)
            break;
        frames++;
    }
    fm_read_ahead_stop(&ahead);   /* the reader is ours again */
    if (r < 0)
        goto end;
    if (frames == 0) {
        r = fm_error_set(err, FM_EFORMAT, "the deliverable has no decodable video frames");
        goto end;
    }

    if ((r = judge(&acc, key, message, res, err)) < 0)
        goto end;
    res->seconds_read = frames * dt;
end:
    if (have_acc)
        fm_accumulator_free(&acc);
    fm_reader_close(&reader);
    return r;
}
