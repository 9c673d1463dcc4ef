/*
 * deliverable.h - one marked deliverable being made by wmembed: its signed
 * payload, embedder, encoder, quality figures, self-check and receipt, from
 * the first frame to the atomic publication of receipt and deliverable.
 *
 * Lifecycle: deliverable_open() -> deliverable_frame() for every frame ->
 * deliverable_complete() (encoder flushed, self-check, receipt written to a
 * temporary) -> deliverable_publish() (receipt renamed first, deliverable
 * last, so a deliverable never exists without its receipt) ->
 * deliverable_free() (removes whatever was not published).
 *
 * Output "-" (standard output): the bytes go out as they are encoded, so
 * there is nothing to read back or rename. The self-check then decodes the
 * encoded video packets as they are written (fm_writer_decode_back: the very
 * bits the container gets) and is judged once the stream is complete; the
 * receipt (at settings->receipt_path) is written only if it passes, and
 * hashes the bytes sent. A stream that fails its check has been sent already:
 * deliverable_complete() says so and no receipt is written.
 */
#ifndef FM_DELIVERABLE_H
#define FM_DELIVERABLE_H

#include <stdint.h>

#include "atomic_file.h"
#include "embedder.h"
#include "fingerprint.h"
#include "keys.h"
#include "payload.h"
#include "receipt.h"
#include "selfcheck.h"
#include "video_io.h"

typedef struct DeliverableSettings {
    const FmKey *key;
    FmWriterOptions writer;
    double strength;
    int no_fill;                /* --no-fill: no frame above the strength's amplitude */
    int verify;                 /* read the deliverable back before publishing */
    double verify_seconds;      /* <= 0: all of it */
    int threads;                /* slice threads of each embedder, 0: all cores */
    const char *owner, *title;  /* names for the receipt */
    const char *master_short;   /* --allow-short accepted a short master: the reason */
    const char *receipt_path;   /* --receipt: where the receipt goes (one deliverable);
                                   NULL: OUTPUT.receipt.json */
} DeliverableSettings;

typedef struct Deliverable {
    const DeliverableSettings *set;
    char *output, *receipt_path, *recipient;
    FmPayload payload;
    uint8_t message[FM_MESSAGE_BYTES];
    FmEmbedder *emb;
    FmVideoWriter *writer;
    AVFrame *work;              /* own copy of the frame to mark (batches) */
    FmTempFile receipt;
    long frames;
    double mse_sum, ssim_sum, gain_sum, worst_psnr;
    long last_epoch;
    FmSelfCheck check;
    int checked;
    FmSelfCheckRun *stream_check; /* output "-": the encoded pictures, checked as written */
    double check_seconds;       /* wall time of the self-check */
    char sha256[65];
    int published;
    int64_t registry_id;        /* its row in the registry, 0: none */
} Deliverable;

int deliverable_open(Deliverable *d, const DeliverableSettings *set, const FmPayload *payload,
                     const char *output, const char *recipient, const FmVideoInfo *info,
                     FmError *err);
/* Marks and encodes one master frame; in_place may modify frame (the last
 * deliverable of a pass), otherwise the frame is copied first. t: seconds of
 * master time from its first frame. */
int deliverable_frame(Deliverable *d, AVFrame *frame, int in_place, int bit_depth, double t,
                      FmError *err);
/* Flushes the encoder, reads the deliverable back (settings->verify), hashes
 * it and writes its receipt to a temporary. FM_ECRYPTO: the self-check
 * failed (d->check says how). */
int deliverable_complete(Deliverable *d, const FmVideoInfo *info, const FmFingerprint *content,
                         FmError *err);
int deliverable_publish(Deliverable *d, FmError *err);
void deliverable_free(Deliverable *d);

double deliverable_psnr(const Deliverable *d);
double deliverable_ssim(const Deliverable *d);
double deliverable_gain(const Deliverable *d);  /* mean gain of the frames' marks */

#endif
