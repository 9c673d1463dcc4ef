#include "deliverable.h"

#include <libgen.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "frame.h"
#include "pattern.h"
#include "quality.h"
#include "tool_util.h"

/* fm_writer_decode_back's callback: every encoded picture into the check. */
static int stream_check_frame(void *opaque, const AVFrame *frame, double t, FmError *err)
{
    return fm_self_check_add(opaque, frame, t, err);
}

int deliverable_open(Deliverable *d, const DeliverableSettings *set, const FmPayload *payload,
                     const char *output, const char *recipient, const FmVideoInfo *info,
                     FmError *err)
{
    int r;
    memset(d, 0, sizeof(*d));
    d->set = set;
    d->receipt.fd = -1;
    d->last_epoch = -1;
    d->worst_psnr = 100;
    d->payload = *payload;
    d->output = strdup(output);
    d->recipient = recipient ? strdup(recipient) : NULL;
    size_t len = strlen(output) + sizeof(".receipt.json");
    d->receipt_path = set->receipt_path ? strdup(set->receipt_path) : malloc(len);
    if (!d->output || (recipient && !d->recipient) || !d->receipt_path)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    if (!set->receipt_path)
        snprintf(d->receipt_path, len, "%s.receipt.json", output);
    if ((r = fm_payload_sign(&d->payload, set->key, d->message, err)) < 0 ||
        (r = fm_embedder_new(&d->emb, set->key->wm_key, d->message, info->width, info->height,
                             set->strength, err)) < 0 ||
        (r = fm_writer_open(&d->writer, output, info, &set->writer, err)) < 0)
        return r;
    if (set->no_fill)
        fm_embedder_set_fill(d->emb, 0);
    if (set->threads && fm_embedder_set_threads(d->emb, set->threads) < 0)
        return fm_error_set(err, FM_ENOMEM, "out of memory starting %d threads", set->threads);
    if (fm_writer_is_stream(d->writer) && set->verify) {
        double dt = info->frame_rate.num > 0 && info->frame_rate.den > 0
                    ? av_q2d(av_inv_q(info->frame_rate)) : 1 / 24.0;
        if ((r = fm_self_check_begin(&d->stream_check, info->width, info->height,
                                     set->verify_seconds, dt, err)) < 0 ||
            (r = fm_writer_decode_back(d->writer, stream_check_frame, d->stream_check, err)) < 0)
            return r;
    }
    return 0;
}

int deliverable_frame(Deliverable *d, AVFrame *frame, int in_place, int bit_depth, double t,
                      FmError *err)
{
    int r;
    if (!in_place) {
        if ((r = fm_frame_copy_owned(&d->work, frame, err)) < 0)
            return r;
        frame = d->work;
    }
    /* a keyframe where the pattern changes (video_io.h) */
    long epoch = (long)fm_epoch_at(t);
    if (epoch != d->last_epoch) {
        d->last_epoch = epoch;
        fm_writer_force_keyframe(d->writer);
    }
    FmFrameQuality q;
    ptrdiff_t stride;
    uint8_t *luma = fm_frame_luma(frame, &stride);
    if ((r = fm_embedder_mark(d->emb, luma, stride, bit_depth, t, &q, err)) < 0 ||
        (r = fm_writer_write(d->writer, frame, err)) < 0)
        return r;
    d->mse_sum += q.mse;
    d->ssim_sum += q.ssim;
    d->gain_sum += q.gain;
    if (fm_psnr_from_mse(q.mse) < d->worst_psnr)
        d->worst_psnr = fm_psnr_from_mse(q.mse);
    d->frames++;
    return 0;
}

double deliverable_psnr(const Deliverable *d)
{
    return fm_psnr_from_mse(d->mse_sum / (d->frames ? d->frames : 1));
}

double deliverable_ssim(const Deliverable *d)
{
    return d->ssim_sum / (d->frames ? d->frames : 1);
}

double deliverable_gain(const Deliverable *d)
{
    return d->gain_sum / (d->frames ? d->frames : 1);
}

int deliverable_complete(Deliverable *d, const FmVideoInfo *info, const FmFingerprint *content,
                         FmError *err)
{
    const DeliverableSettings *set = d->set;
    int r;
    if ((r = fm_writer_complete(d->writer, err)) < 0)
        return r;
    /* every frame is marked: the embedder's memory and threads go before the read-back */
    fm_embedder_free(&d->emb);
    const char *tmp = fm_writer_temp_path(d->writer);
    if (d->stream_check) {
        double t0 = fm_now();
        if ((r = fm_self_check_end(d->stream_check, set->key, d->message, &d->check, err)) < 0)
            return r;
        d->check_seconds = fm_now() - t0;
        d->checked = 1;
        if (!d->check.message_match)
            return fm_error_set(err, FM_ECRYPTO, "the stream sent to standard output does not "
                                "verify its own mark (pilot z %.1f, %.1f %% raw bit errors): do "
                                "not use it; no receipt written (raise --strength or lower --crf)",
                                d->check.pilot_z, 100 * d->check.raw_ber);
    } else if (set->verify && tmp) {
        double t0 = fm_now();
        if ((r = fm_self_check(tmp, set->key, d->message, set->verify_seconds, &d->check,
                               err)) < 0)
            return r;
        d->check_seconds = fm_now() - t0;
        d->checked = 1;
        if (!d->check.message_match)
            return fm_error_set(err, FM_ECRYPTO, "'%s': the deliverable's own mark does not "
                                "verify (pilot z %.1f, %.1f %% raw bit errors); nothing written "
                                "(raise --strength or lower --crf, or --no-verify)", d->output,
                                d->check.pilot_z, 100 * d->check.raw_ber);
    }
    if ((r = tmp ? fm_sha256_file(tmp, d->sha256, err)
                 : fm_writer_stream_sha256(d->writer, d->sha256, err)) < 0)
        return r;

    char *out_copy = strdup(d->output), *fp_text = NULL, *text = NULL;
    if (!out_copy)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    if (content && (r = fm_fingerprint_to_string(content, &fp_text, err)) < 0) {
        free(out_copy);
        return r;
    }
    FmReceiptInfo rinfo = {
        .owner = set->owner, .title = set->title, .recipient = d->recipient,
        .output_name = basename(out_copy), .output_sha256 = d->sha256,
        .codec = fm_codec_name(set->writer.codec), .crf = set->writer.crf,
        .strength = set->strength, .frames = d->frames,
        .width = info->width, .height = info->height,
        .psnr_y = deliverable_psnr(d), .ssim_y = deliverable_ssim(d),
        .content_fingerprint = fp_text,
        .self_check = d->checked ? &d->check : NULL,
        .master_short = set->master_short,
    };
    r = fm_receipt_format(set->key, &d->payload, d->message, &rinfo, &text, err);
    free(out_copy);
    free(fp_text);
    if (r < 0)
        return r;
    /* receipts are public records: 0644 whatever the umask, as before */
    if ((r = fm_temp_open(&d->receipt, d->receipt_path, 0644, 0, err)) == 0 &&
        (r = fm_temp_write(&d->receipt, text, strlen(text), err)) == 0)
        r = fm_temp_sync(&d->receipt, err);
    free(text);
    return r;
}

int deliverable_publish(Deliverable *d, FmError *err)
{
    int r = fm_temp_publish(&d->receipt, d->receipt_path, err);
    if (r < 0)
        return r;
    if ((r = fm_writer_publish(d->writer, err)) < 0) {
        unlink(d->receipt_path);    /* no receipt for a deliverable that is not there */
        return r;
    }
    d->published = 1;
    return 0;
}

void deliverable_free(Deliverable *d)
{
    fm_writer_close(&d->writer);    /* removes the temporary unless published */
    fm_self_check_free(&d->stream_check);
    fm_temp_discard(&d->receipt);
    fm_embedder_free(&d->emb);
    av_frame_free(&d->work);
    free(d->output);
    free(d->receipt_path);
    free(d->recipient);
    sodium_memzero(d->message, sizeof(d->message));
    memset(d, 0, sizeof(*d));
    d->receipt.fd = -1;
}
