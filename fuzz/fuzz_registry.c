/*
 * fuzz_registry.c - registry import (JSON lines, common/registry_json.c) into
 * a SQLite registry, from arbitrary bytes: one transaction per input, all or
 * nothing, with the fixed key's signatures checked.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "registry.h"

static FmKey *key;
static FmRegistry *reg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    key = fuzz_fixed_key(FM_KEY_DETECT);
    char tmpl[] = "/tmp/fuzz-registry-XXXXXX";
    if (!mkdtemp(tmpl))
        abort();
    char path[64];
    snprintf(path, sizeof(path), "%s/registry.sqlite", tmpl);
    FmError err;
    if (fm_registry_open(&reg, path, &err) < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *in = fmemopen((void *)data, size ? size : 1, "r");
    if (!in)
        return 0;
    if (!size)
        fgetc(in);
    FmError err = { { 0 } };
    FmImportStats stats;
    int r = fm_registry_import(reg, in, "fuzz", &key, 1, &stats, &err);
    fclose(in);
    if (r < 0 && (!err.msg[0] || strchr(err.msg, '\n')))
        abort();
    return 0;
}
