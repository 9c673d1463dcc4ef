/*
 * fm_raw - the watermark core on raw yuv420p frames through pipes, for tuning
 * and benchmarks without the container/codec layer:
 *
 *   ffmpeg -i in.mkv -f rawvideo -pix_fmt yuv420p - | fm_raw embed W H [strength] | ffmpeg ...
 *   ffmpeg -i copy.mp4 -f rawvideo -pix_fmt yuv420p - | fm_raw detect W H
 *
 * embed-plain marks without informed embedding (the plain tile in every
 * frame), to measure what informed embedding gives.
 *
 * Uses a fixed test key derived from a seed (never a real key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector.h"
#include "embedder.h"
#include "quality.h"

static void test_key(FmKey *key)
{
    uint8_t seed[crypto_sign_SEEDBYTES];
    memset(seed, 7, sizeof(seed));
    crypto_sign_seed_keypair(key->sign_pk, key->sign_sk, seed);
    memset(key->wm_key, 9, sizeof(key->wm_key));
    key->kind = FM_KEY_SECRET;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: fm_raw embed|embed-plain|detect W H [strength]\n");
        return 2;
    }
    int w = atoi(argv[2]), h = atoi(argv[3]);
    /* frame rate of the raw stream (frame times pick the pattern's epochs) */
    double fps = getenv("FM_RAW_FPS") ? atof(getenv("FM_RAW_FPS")) : 24;
    if (!(fps > 0))
        fps = 24;
    size_t ysize = (size_t)w * h, csize = (size_t)((w + 1) / 2) * ((h + 1) / 2);
    uint8_t *frame = malloc(ysize + 2 * csize);
    FmError err = { 0 };
    FmKey *key;
    if (sodium_init() < 0 || !(key = fm_key_new()))
        return 2;
    test_key(key);

    if (!strcmp(argv[1], "embed") || !strcmp(argv[1], "embed-plain")) {
        FmPayload p = { FM_PAYLOAD_VERSION, 1234, 42, 29000000, FM_AI_USE_RESERVED };
        uint8_t msg[FM_MESSAGE_BYTES];
        FmEmbedder *e;
        double strength = argc > 4 ? atof(argv[4]) : 1.0;
        if (fm_payload_sign(&p, key, msg, &err) < 0 ||
            fm_embedder_new(&e, key->wm_key, msg, w, h, strength, &err) < 0) {
            fprintf(stderr, "fm_raw: %s\n", err.msg);
            return 2;
        }
        fm_embedder_set_informed(e, strcmp(argv[1], "embed-plain") != 0);
        double mse = 0, ssim = 0, worst = 100;
        long n = 0;
        while (fread(frame, 1, ysize + 2 * csize, stdin) == ysize + 2 * csize) {
            FmFrameQuality q;
            fm_embedder_mark(e, frame, w, 8, n / fps, &q, &err);
            mse += q.mse;
            ssim += q.ssim;
            double ps = fm_psnr_from_mse(q.mse);
            if (ps < worst)
                worst = ps;
            n++;
            fwrite(frame, 1, ysize + 2 * csize, stdout);
        }
        fprintf(stderr, "frames %ld  psnr %.2f dB (worst frame %.2f)  ssim %.5f\n", n,
                fm_psnr_from_mse(mse / n), worst, ssim / n);
        fm_embedder_free(&e);
    } else {
        FmAccumulator acc;
        FmDetectResult r;
        if (fm_accumulator_init(&acc, w, h, &err) < 0)
            return 2;
        long n = 0;
        while (fread(frame, 1, ysize + 2 * csize, stdin) == ysize + 2 * csize) {
            fm_accumulator_add(&acc, frame, w, 8, n / fps, &err);
            n++;
        }
        FmPayload p = { FM_PAYLOAD_VERSION, 1234, 42, 29000000, FM_AI_USE_RESERVED };
        uint8_t msg[FM_MESSAGE_BYTES];
        fm_payload_sign(&p, key, msg, &err);
        if (fm_detect(&acc, key, 1, msg, &r, &err) < 0) {
            fprintf(stderr, "fm_raw: %s\n", err.msg);
            return 2;
        }
        printf("frames %ld  pilot_z %.2f  log10p %.1f  raw_ber %.4f  informed_z %.2f  sig %s  title %u rcpt %u\n",
               n, r.pilot_z, r.false_alarm_log10, r.raw_ber, r.expected_z,
               r.signature_valid ? "VALID" : "invalid", r.payload.title_id, r.payload.recipient_id);
        fm_accumulator_free(&acc);
    }
    fm_key_free(&key);
    free(frame);
    return 0;
}
