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

typedef struct FmSelfCheck {
    int found;              /* the detector reports a mark (blind) */
    int signature_valid;    /* its payload signature verifies */
    int message_match;      /* and it is the message that was embedded */
    double pilot_z;
    double raw_ber;         /* coded-bit errors against the embedded message */
    double false_alarm_log10;
    double seconds_read;    /* of the deliverable */
} FmSelfCheck;

/*
 * Decodes up to max_seconds of path (<= 0: all of it) and runs the blind
 * detector with key (the secret key of the embedding is enough) and keys_tried
 * = 1. The check passes when res->message_match is set.
 */
int fm_self_check(const char *path, const FmKey *key, const uint8_t message[FM_MESSAGE_BYTES],
                  double max_seconds, FmSelfCheck *res, FmError *err);

#endif
