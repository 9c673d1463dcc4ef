/*
 * frontend_ber - the detector front end's figures on one copy of a marked
 * clip (bench/frontend.sh): raw yuv420p frames on stdin, blind detection
 * with the library's accumulator and detector, then the raw bit error rate
 * of the soft bits against the message the receipt records.
 *
 *   ffmpeg -i copy.mkv -f rawvideo -pix_fmt yuv420p - |
 *       frontend_ber KEY.dkey RECEIPT.json W H FPS [--threads N]
 *
 * Prints one JSON object: raw_ber, pilot_z, verified, frames.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector.h"
#include "keys.h"
#include "receipt.h"

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: frontend_ber KEY.dkey RECEIPT.json W H FPS [--threads N]\n");
        return 2;
    }
    int w = atoi(argv[3]), h = atoi(argv[4]), threads = 0;
    double fps = atof(argv[5]);
    if (argc > 7 && !strcmp(argv[6], "--threads"))
        threads = atoi(argv[7]);
    if (w <= 0 || h <= 0 || !(fps > 0)) {
        fprintf(stderr, "frontend_ber: bad size or rate\n");
        return 2;
    }
    FmError err = { 0 };
    FmKey *key;
    uint8_t msg[FM_MESSAGE_BYTES];
    if (sodium_init() < 0 || !(key = fm_key_new()))
        return 2;
    if (fm_key_load(key, argv[1], FM_KEY_DETECT, &err) < 0 ||
        fm_receipt_read(argv[2], key, msg, &err) < 0) {
        fprintf(stderr, "frontend_ber: %s\n", err.msg);
        return 2;
    }
    size_t ysize = (size_t)w * h, csize = (size_t)((w + 1) / 2) * ((h + 1) / 2);
    uint8_t *frame = malloc(ysize + 2 * csize);
    FmAccumulator acc;
    FmDetectResult r;
    if (!frame || fm_accumulator_init(&acc, w, h, &err) < 0) {
        fprintf(stderr, "frontend_ber: %s\n", err.msg);
        return 2;
    }
    fm_accumulator_set_threads(&acc, threads);
    long n = 0;
    while (fread(frame, 1, ysize + 2 * csize, stdin) == ysize + 2 * csize) {
        if (fm_accumulator_add(&acc, frame, w, 8, n / fps, &err) < 0) {
            fprintf(stderr, "frontend_ber: %s\n", err.msg);
            return 2;
        }
        n++;
    }
    if (fm_detect(&acc, key, 1, msg, &r, &err) < 0) {
        fprintf(stderr, "frontend_ber: %s\n", err.msg);
        return 2;
    }
    printf("{\"raw_ber\": %.5f, \"pilot_z\": %.3f, \"verified\": %s, \"frames\": %ld}\n",
           r.raw_ber, r.pilot_z, r.signature_valid ? "true" : "false", n);
    fm_accumulator_free(&acc);
    fm_key_free(&key);
    free(frame);
    return 0;
}
