/*
 * embedder.h - adds the watermark to the luma plane of frames.
 *
 * Every frame carries the whole signed message, in the keyed variant of the
 * tile for its epoch (pattern.h): any excerpt carries all of it, and no part
 * of the pattern but a weak sync layer stays the same for longer than an
 * epoch (docs/DESIGN.md).
 */
#ifndef FM_EMBEDDER_H
#define FM_EMBEDDER_H

#include <stddef.h>
#include <stdint.h>

#include "fm_error.h"
#include "keys.h"
#include "payload.h"

#define FM_DEFAULT_STRENGTH 1.0

typedef struct FmEmbedder FmEmbedder;

typedef struct FmFrameQuality {
    double mse;   /* of the marked luma vs the input luma, 8-bit scale */
    double ssim;  /* luma SSIM (8x8 windows) of marked vs input */
    double gain;  /* the mark's gain against the strength's amplitude: under 1
                   * for the PSNR cap or the SSIM floor, over 1 for the fill */
} FmFrameQuality;

/*
 * Prepares to mark width x height pictures with the signed message.
 * strength scales the mark amplitude (1.0 = default, ~45 dB luma PSNR on
 * typical footage; the change to any frame is capped at 45 dB before rounding
 * to whole code values; 2.0 doubles the amplitude and lowers that cap by 6 dB).
 * Where the quality is measured (fm_embedder_mark), a frame's luma SSIM is
 * also held at 1 - 0.01 strength^2 or above (0.99 at the default).
 */
int fm_embedder_new(FmEmbedder **emb, const uint8_t wm_key[FM_WMKEY_BYTES],
                    const uint8_t message[FM_MESSAGE_BYTES], int width, int height,
                    double strength, FmError *err);

/*
 * Marks one luma plane in place. bit_depth 8 (one byte per sample) or 9..16
 * (uint16 per sample, host order). t: the frame's time in seconds from the
 * start of the master (it picks the epoch's variant). quality may be NULL;
 * if not, it receives the frame's figures and the frame is held at the SSIM
 * floor (fm_embedder_new): one that reads below it is marked again at a
 * lower gain; and the next frame's gain is raised towards the floor
 * (fm_embedder_set_fill). With and without quality the pixels differ.
 */
int fm_embedder_mark(FmEmbedder *emb, uint8_t *luma, ptrdiff_t stride, int bit_depth,
                     double t, FmFrameQuality *quality, FmError *err);

/*
 * Informed embedding (informed.h) is on by default; off marks every frame
 * with the plain tile, for measurements (bench/fm_raw embed-plain).
 */
void fm_embedder_set_informed(FmEmbedder *emb, int on);

/*
 * The fill is on by default: where the quality is measured, a frame whose
 * mark stays under the PSNR cap and whose SSIM has room above the floor is
 * marked more strongly (at most 1.41 times the amplitude), aiming just
 * inside the floor, the gain predicted from the frame before. Off: every
 * frame at the strength's amplitude, or less under the cap (0.9.14's marks).
 */
void fm_embedder_set_fill(FmEmbedder *emb, int on);

/*
 * Threads that mark a frame (slices of rows; <= 0: all online cores, the
 * default). The marked pixels are the same bit for bit whatever the count.
 * Returns 0, or FM_ENOMEM (then the embedder keeps working, on one thread
 * if it had to).
 */
int fm_embedder_set_threads(FmEmbedder *emb, int threads);

void fm_embedder_free(FmEmbedder **emb);

#endif
