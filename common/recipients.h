/*
 * recipients.h - the recipients list of a screener batch (wmembed --recipients).
 *
 * CSV (RFC 4180, read with libcsv): one recipient a record, three fields
 * id,name,output; an optional first record "id,name,output" (a header);
 * blank lines are skipped. id is 0..4294967295 and unique in the list;
 * output is the deliverable's path, unique in the list; name may be empty.
 */
#ifndef FM_RECIPIENTS_H
#define FM_RECIPIENTS_H

#include <stddef.h>
#include <stdint.h>

#include "fm_error.h"

/* Refused above this, so that a wrong file cannot balloon (documented). */
#define FM_RECIPIENTS_MAX_BYTES (16u << 20)
#define FM_RECIPIENTS_MAX 100000

typedef struct FmRecipient {
    uint32_t id;
    char *name;     /* "" when the field is empty */
    char *output;
} FmRecipient;

/* Parses a recipients list from memory; errors name the record number. */
int fm_recipients_parse(const char *text, size_t len, FmRecipient **list, size_t *count,
                        FmError *err);
/* Reads path (a regular file of at most FM_RECIPIENTS_MAX_BYTES) and parses it. */
int fm_recipients_read(const char *path, FmRecipient **list, size_t *count, FmError *err);
void fm_recipients_free(FmRecipient **list, size_t count);

#endif
