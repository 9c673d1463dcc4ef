/*
 * passphrase.h - where the command-line tools get the passphrase of a
 * secret key from (a tool helper, like tool_util.h; the library proper never
 * asks): a file (--passphrase-file), the environment (FILMMARK_PASSPHRASE),
 * or the terminal, in that order. The terminal is used only when standard
 * input is one; the prompt goes to /dev/tty (or stderr) and nothing is
 * echoed.
 */
#ifndef FM_PASSPHRASE_H
#define FM_PASSPHRASE_H

#include <stddef.h>

#include "fm_error.h"
#include "keys.h"

#define FM_PASSPHRASE_ENV "FILMMARK_PASSPHRASE"

typedef struct FmPassSource {
    const char *file;   /* --passphrase-file FILE, or NULL */
} FmPassSource;

/*
 * An FmPassphraseFn (keys.h) for fm_key_load_with; ctx is an FmPassSource.
 * With no source (no file, no environment variable, standard input not a
 * terminal) it fails with FM_EPERM and a message that says what to give.
 */
int fm_pass_get(void *ctx, const char *path, const FmKeyInfo *info, char *buf, size_t size,
                FmError *err);

/*
 * The passphrase for a new secret key into buf (size bytes): from the file,
 * else the environment, else asked twice on the terminal. Returns its length
 * (> 0) or a negative FM_E*: FM_ENOTFOUND when there is no source at all.
 */
int fm_pass_new(const FmPassSource *src, char *buf, size_t size, FmError *err);

#endif
