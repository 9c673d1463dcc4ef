/*
 * fuzz_key.c - key files (common/keys.c fm_key_load) from arbitrary bytes.
 * The loader takes a path, so each input is written to one file (mode 0600)
 * in a private temporary directory and loaded as every kind.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"

static char path[256];
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FmError err;
    if (fm_init(&err) < 0)
        abort();
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[200];
    snprintf(dir, sizeof dir, "%s/fm-fuzz-key-XXXXXX", tmp);
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/k.key", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    /* the file and its directory go when the process does */
    unlink(path);
    rmdir(dir);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    static const FmKeyKind kinds[] = { 0, FM_KEY_SECRET, FM_KEY_DETECT, FM_KEY_PUBLIC };
    FmKey *k = fm_key_new();
    if (!k)
        abort();
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        FmError err = { { 0 } };
        int r = fm_key_load(k, path, kinds[i], &err);
        /* a refusal always says why, on one line */
        if (r < 0 && (!err.msg[0] || strchr(err.msg, '\n')))
            abort();
        if (r == 0) {
            char fp[FM_FINGERPRINT_CHARS + 1];
            fm_key_fingerprint(k, fp);
        }
    }
    fm_key_free(&k);
    return 0;
}
