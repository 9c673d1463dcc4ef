/*
 * fm_error.h - error reporting for the filmmark library.
 *
 * Library functions never print. They return 0 on success or a negative
 * FM_E* code, and when given a non-NULL FmError they leave one line of
 * human-readable text in it describing what went wrong.
 */
#ifndef FM_ERROR_H
#define FM_ERROR_H

#include <stddef.h>

enum {
    FM_OK = 0,
    FM_EINVAL = -1,   /* bad argument or option */
    FM_EIO = -2,      /* file could not be read or written */
    FM_EFORMAT = -3,  /* input is not what it claims (corrupt key, not video) */
    FM_ENOMEM = -4,
    FM_ECODEC = -5,   /* FFmpeg decoder/encoder failure */
    FM_EPERM = -6,    /* unsafe permissions or refusing to overwrite */
    FM_ECRYPTO = -7,  /* signature or checksum does not verify */
    FM_ENOTFOUND = -8,
};

typedef struct FmError {
    char msg[512];
} FmError;

/* Writes a printf-style message into err (if err is not NULL) and returns code.
 * The message is always one line: control bytes (a newline, a tab, an escape)
 * that it quotes from the input become '?'. */
int fm_error_set(FmError *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
