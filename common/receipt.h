/*
 * receipt.h - the signed record wmembed writes beside each deliverable.
 *
 * A JSON file {"receipt": {...}, "receipt_signature": "<hex>"} where the
 * signature is Ed25519 over the receipt object serialised compactly with
 * sorted keys (jansson JSON_COMPACT | JSON_SORT_KEYS). The receipt holds the
 * embedded message (payload + its signature), the names given, the output's
 * SHA-256 and the settings, and optionally the content fingerprint of the
 * marked master. See docs/RECEIPT.md.
 */
#ifndef FM_RECEIPT_H
#define FM_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "fingerprint.h"
#include "fm_error.h"
#include "keys.h"
#include "payload.h"

typedef struct FmReceiptInfo {
    const char *owner, *title, *recipient;  /* free-text names, may be NULL */
    const char *output_name;                /* file name of the deliverable */
    const char *output_sha256;              /* 64 hex chars */
    const char *codec;
    int crf;
    double strength;
    long frames;
    int width, height;
    double psnr_y, ssim_y;
    /* fm_fingerprint_to_string() of the marked frames (fingerprint.h), signed with
     * the rest as member "content_fingerprint"; NULL: the member is left out */
    const char *content_fingerprint;
} FmReceiptInfo;

/* Writes path atomically (temp + rename), signed with the secret key. */
int fm_receipt_write(const char *path, const FmKey *secret, const FmPayload *payload,
                     const uint8_t message[FM_MESSAGE_BYTES], const FmReceiptInfo *info,
                     int force, FmError *err);

/*
 * Reads a receipt: checks its own signature and the embedded payload's
 * signature under key (a detection or public key of the same pair) and
 * returns the message. FM_ECRYPTO when either does not verify.
 */
int fm_receipt_read(const char *path, const FmKey *key, uint8_t message[FM_MESSAGE_BYTES],
                    FmError *err);

/*
 * Reads the content fingerprint of a receipt, after the same checks as
 * fm_receipt_read(): *fp is a new reference fingerprint (free it with
 * fm_fingerprint_free()) to compare a clip with. Returns 0; FM_ENOTFOUND
 * (and *fp = NULL) when the receipt is genuine but has no fingerprint (it
 * was written before they were recorded); FM_EFORMAT, FM_ECRYPTO, FM_ENOMEM
 * as fm_receipt_read() or when the fingerprint does not parse.
 */
int fm_receipt_read_fingerprint(const char *path, const FmKey *key, FmFingerprint **fp,
                                FmError *err);

/* Receipts larger than this are refused unread (a genuine one is ~2 KB). */
#define FM_RECEIPT_MAX_BYTES (1 << 20)

/*
 * The checks of fm_receipt_read() (and, with fp, fm_receipt_read_fingerprint())
 * on a receipt's text in memory, len bytes (no NUL needed). For tests and
 * fuzzing; the file readers above also refuse anything but a regular file of
 * at most FM_RECEIPT_MAX_BYTES.
 */
int fm_receipt_verify_text(const char *text, size_t len, const FmKey *key,
                           uint8_t message[FM_MESSAGE_BYTES], FmFingerprint **fp, FmError *err);

#endif
