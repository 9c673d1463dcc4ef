/*
 * replay.c - a main() for the harnesses without libFuzzer: runs each file
 * named on the command line through LLVMFuzzerTestOneInput once. Built by the
 * normal (gcc) build as fuzz_NAME_replay, so a reproducer or the seed corpus
 * can be replayed, under the sanitizers too (FILMMARK_SANITIZE).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 2;
        }
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        /* a private copy of exactly n bytes, so ASan sees reads past the end */
        uint8_t *copy = malloc(n ? n : 1);
        if (!copy)
            return 2;
        for (size_t j = 0; j < n; j++)
            copy[j] = buf[j];
        LLVMFuzzerTestOneInput(copy, n);
        free(copy);
    }
    return 0;
}
