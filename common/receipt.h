/*
 * receipt.h - the signed record wmembed writes beside each deliverable.
 *
 * A JSON file {"receipt": {...}, "receipt_signature": "<hex>"} where the
 * signature is Ed25519 over the receipt object's canonical bytes: compact,
 * keys sorted, UTF-8 unescaped; the object holds no floating-point numbers
 * (measured figures are decimal strings) and names no control characters,
 * so any JSON library gives the same bytes (docs/RECEIPT.md). The receipt holds the
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
#include "selfcheck.h"

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
    /* what wmembed found reading the deliverable back (selfcheck.h); NULL:
     * not checked (--no-verify), recorded as "self_check": null */
    const FmSelfCheck *self_check;
    /* the master ended before its container said it would and the user
     * accepted that (--allow-short): the reason, recorded as
     * "master_short"; NULL when the master was whole */
    const char *master_short;
    /* "YYYY-MM-DDThh:mm:ssZ" to record as the creation time; NULL: now */
    const char *created;
} FmReceiptInfo;

/* The signed receipt document, ready to write (malloc'ed, ends in a newline). */
int fm_receipt_format(const FmKey *secret, const FmPayload *payload,
                      const uint8_t message[FM_MESSAGE_BYTES], const FmReceiptInfo *info,
                      char **text, FmError *err);

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
 * Reads the deliverable's recorded SHA-256 (64 hex chars) after the same
 * checks as fm_receipt_read(); the message too.
 */
int fm_receipt_read_output(const char *path, const FmKey *key,
                           uint8_t message[FM_MESSAGE_BYTES], char sha256[65], FmError *err);

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
 * A receipt file's text, unchecked, for every reader of receipts: *text is a
 * new NUL-terminated buffer (free() it) of *len bytes. Only a regular file of
 * at most FM_RECEIPT_MAX_BYTES is read: FM_EFORMAT, without blocking or
 * reading, for a FIFO, device or directory and for a larger file; FM_EIO when
 * it cannot be opened or read; FM_ENOMEM.
 */
int fm_receipt_read_text(const char *path, char **text, size_t *len, FmError *err);

/*
 * The checks of fm_receipt_read() (and, with fp, fm_receipt_read_fingerprint())
 * on a receipt's text in memory, len bytes (no NUL needed). For tests and
 * fuzzing; the file readers above also refuse anything but a regular file of
 * at most FM_RECEIPT_MAX_BYTES.
 */
int fm_receipt_verify_text(const char *text, size_t len, const FmKey *key,
                           uint8_t message[FM_MESSAGE_BYTES], FmFingerprint **fp, FmError *err);

/*
 * The deliverable's picture size a receipt's text records (receipt.output
 * width and height), read without the signature checks: to tell a crop of
 * the issued pictures from other video, never to accept anything. Returns
 * 0, or FM_ENOTFOUND (and 0 x 0) when the text has no such size.
 */
int fm_receipt_text_picture_size(const char *text, size_t len, int *width, int *height);

#endif
