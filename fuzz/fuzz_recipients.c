/*
 * fuzz_recipients.c - the recipients list of a screener batch
 * (wmembed --recipients, common/recipients.c), from arbitrary bytes.
 */
#include "fuzz_common.h"
#include "recipients.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FmError err = { { 0 } };
    FmRecipient *list = NULL;
    size_t n = 0;
    int r = fm_recipients_parse((const char *)data, size, &list, &n, &err);
    if (r < 0) {
        /* a refusal is one line that says why, and nothing is returned */
        if (!err.msg[0] || strchr(err.msg, '\n') || list || n)
            abort();
        return 0;
    }
    if (!n || n > FM_RECIPIENTS_MAX)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (!list[i].output || !list[i].output[0] || !list[i].name)
            abort();
        for (size_t j = 0; j < i; j++)
            if (list[j].id == list[i].id || !strcmp(list[j].output, list[i].output))
                abort();
    }
    fm_recipients_free(&list, n);
    return 0;
}
