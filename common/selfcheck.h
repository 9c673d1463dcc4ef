/*
 * selfcheck.h - reads a deliverable back through the detector, as wmdetect
 * would, to prove that its own mark verifies before it is published.
 */
#ifndef FM_SELFCHECK_H
#define FM_SELFCHECK_H

#include <stdint.h>

#include "fm_error.h"
#include "keys.h"
#include "payload.h"

#include <libavutil/frame.h>

typedef struct FmSelfCheck {
    int found;              /* the detector reports a mark (blind) */
    int signature_valid;    /* its payload signature verifies */
    int message_match;      /* and it is the message that was embedded */
    double pilot_z;
    double raw_ber;         /* coded-bit errors against the embedded message */
    double false_alarm_log10;
    double seconds_read;    /* of the deliverable */
    /* format 4's content binding as a copy would show it (detector.h) */
    double bind_z;
    int bind_pairs;
    int content_bound;
} FmSelfCheck;

/*
 * Decodes up to max_seconds of path (<= 0: all of it) and runs the blind
 * detector with key (the secret key of the embedding is enough) and keys_tried
 * = 1. The check passes when res->message_match is set.
 */
int fm_self_check(const char *path, const FmKey *key, const uint8_t message[FM_MESSAGE_BYTES],
                  double max_seconds, FmSelfCheck *res, FmError *err);

/*
 * The same check on pictures handed over one by one (an output that cannot
 * be read back, e.g. standard output: fm_writer_decode_back gives the
 * encoded pictures). begin: picture size, max_seconds as above, frame_dt the
 * frame duration in seconds (for seconds_read). add: t in seconds of the
 * output's timeline; returns 1 once max_seconds are in (no more needed), 0
 * for more, FM_E* on error. end: runs the detector (fm_self_check's rules).
 */
typedef struct FmSelfCheckRun FmSelfCheckRun;
int fm_self_check_begin(FmSelfCheckRun **run, int width, int height, double max_seconds,
                        double frame_dt, FmError *err);
int fm_self_check_add(FmSelfCheckRun *run, const AVFrame *frame, double t, FmError *err);
int fm_self_check_end(FmSelfCheckRun *run, const FmKey *key,
                      const uint8_t message[FM_MESSAGE_BYTES], FmSelfCheck *res, FmError *err);
void fm_self_check_free(FmSelfCheckRun **run);

#endif
