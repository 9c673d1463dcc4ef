/*
 * fuzz_frames.c - the per-frame path of wmdetect (accumulator, content
 * fingerprint, then the detector with its geometry search) fed a few
 * arbitrary small frames of any size and bit depth.
 * Input: w, h (16..128 each), bit depth (8..16), frame count (1..4) and
 * whether to run the detector (byte 3: bits 0-1 count, bits 2-3 both set =
 * detect), frame spacing, then the samples (repeated to fill the frames).
 */
#include "accumulator.h"
#include "detector.h"
#include "fingerprint.h"
#include "fuzz_common.h"

static FmKey *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    key = fuzz_fixed_key(FM_KEY_DETECT);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    int w = 16 + data[0] % 113, h = 16 + data[1] % 113;
    int depth = 8 + data[2] % 9, frames = 1 + data[3] % 4, data_flags = data[3] >> 2;
    double dt = data[4] / 16.0;  /* 0 .. ~16 s: duplicates, gaps, epochs */
    data += 5;
    size -= 5;
    int bps = depth > 8 ? 2 : 1;
    /* padded rows, as decoders hand them over, when the input says so */
    ptrdiff_t stride = (ptrdiff_t)w * bps + (size && (data[0] & 1) ? 2 * 7 : 0);
    size_t plane = (size_t)stride * h;
    uint8_t *pix = malloc(plane);
    if (!pix)
        abort();
    FmAccumulator acc;
    FmError err = { { 0 } };
    FmFingerprint *fp = NULL;
    if (fm_accumulator_init(&acc, w, h, &err) < 0 || fm_fingerprint_new(&fp, FM_FP_CLIP, &err) < 0)
        abort();
    size_t off = 0;
    for (int f = 0; f < frames; f++) {
        for (size_t i = 0; i < plane; i++)
            pix[i] = size ? data[off++ % size] : 0;
        if (fm_accumulator_add(&acc, pix, stride, depth, f * dt, &err) < 0 ||
            fm_fingerprint_add(fp, pix, stride, depth, w, h, f * dt, &err) < 0)
            break;
    }
    /* the detector costs ~1.5 s whatever the clip (12-18 s under the
     * sanitizers): run it for one input in four, chosen by the input */
    if ((data_flags & 3) == 3) {
        FmDetectResult res;
        int r = fm_detect(&acc, key, 1, NULL, &res, &err);
        if (r == 0 && res.found && !res.signature_valid && res.false_alarm_probability > 1e-3)
            abort();
    }
    fm_fingerprint_free(&fp);
    fm_accumulator_free(&acc);
    free(pix);
    return 0;
}
