/*
 * resample.h - moving luma between the picture grid and the mark grid.
 *
 * The mark lives on a grid of "mark pixels" whose height is FM_MARK_HEIGHT
 * for the whole picture (docs/DESIGN.md): mark pixel X covers picture pixels
 * [origin + X * step, origin + (X + 1) * step) along each axis.
 */
#ifndef FM_RESAMPLE_H
#define FM_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "dsp.h"

#define FM_MARK_HEIGHT 360

/*
 * The pictures the library takes. Memory goes with the pixels (the embedder
 * alone keeps ~18 bytes per pixel; a whole DCI 4K wmembed run peaked at
 * 1.6 GB) and with the mark grid, which
 * is FM_MARK_HEIGHT rows high and as wide as the aspect ratio makes it: a
 * 16384x16 picture would need a 368640x360 grid (several GB). Hence a pixel
 * budget that admits 8K (DCI 8192x4320) and an aspect ratio limit both ways.
 */
#define FM_MIN_SIDE 16
#define FM_MAX_SIDE 16384
#define FM_MAX_PIXELS (8192L * 4320L)
#define FM_MAX_ASPECT 8
struct FmError;
/* 0 when a w x h picture is within the limits above, else FM_EINVAL and a
 * one-line reason in err (may be NULL). */
int fm_picture_size_check(int w, int h, struct FmError *err);

/* Picture pixels per mark pixel for a picture of the given height. */
double fm_mark_step(int picture_height);
/* Mark-grid width for a picture of width w and height h. */
int fm_mark_width(int w, int h);

/* One axis of an area resampler: for each output sample, the input range and weights. */
typedef struct FmAxisMap {
    int n_in, n_out;
    int max_taps;
    int *count;      /* number of input taps per output */
    int *index;      /* n_out * max_taps input indices, clamped to [0, n_in) */
    float *weight;   /* n_out * max_taps weights, summing to 1 per output */
    int taps;        /* the largest count */
    int *index_t;    /* taps * n_out, tap-major (index_t[k * n_out + X]); 0 past count */
    float *weight_t; /* taps * n_out, tap-major; 0 past count */
} FmAxisMap;

/*
 * Builds a map from n_in input samples to n_out outputs, output X averaging
 * input [origin + X*step, origin + (X+1)*step) (box/area filter; for
 * step < 1 a linear interpolation at the centre). Inputs outside [0, n_in)
 * are clamped to the border. Returns 0 or FM_ENOMEM.
 */
int fm_axis_map_init(FmAxisMap *m, int n_in, int n_out, double origin, double step);
void fm_axis_map_free(FmAxisMap *m);

/*
 * Resamples a plane (8-bit if bytes_per_sample == 1 else 16-bit little
 * endian host order) into out (n_out_x * n_out_y floats, row-major), scaled
 * to the 8-bit range: samples are divided by 2^(bit_depth - 8). tmp needs
 * n_out_x * in_h floats.
 */
void fm_resample_plane(const uint8_t *in, ptrdiff_t stride, int in_h, int bit_depth,
                       const FmAxisMap *mx, const FmAxisMap *my, float *tmp, float *out);

/* The same for a float plane (w x h, tightly packed), no scaling. tmp needs
 * mx->n_out * h floats. */
void fm_resample_float(const float *in, int w, int h, const FmAxisMap *mx, const FmAxisMap *my,
                       float *tmp, float *out);

/*
 * The two passes by rows, for slice threads (each row's result depends only
 * on its inputs, so any split gives the same bits). Horizontal: input rows
 * [y0, y1) of a plane go to rows [y0, y1) of tmp (mx->n_out floats each);
 * rowbuf needs mx->n_in floats. Vertical: output rows [y0, y1) of out from
 * tmp (nx floats a row).
 */
void fm_resample_hrows(const FmDsp *dsp, const uint8_t *in, ptrdiff_t stride, int bit_depth,
                       const FmAxisMap *mx, int y0, int y1, float *tmp, float *rowbuf);
void fm_resample_hrows_float(const FmDsp *dsp, const float *in, const FmAxisMap *mx, int y0,
                             int y1, float *tmp);
void fm_resample_vrows(const FmDsp *dsp, const float *tmp, int nx, const FmAxisMap *my, int y0,
                       int y1, float *out);

/*
 * Both passes for output rows [y0, y1) of a slice, FM_RESAMPLE_CHUNK rows
 * at a time: the few input rows a chunk reads are resampled along x into
 * chunk and down at once, while they are in cache, instead of through a
 * whole-plane tmp. The same bits as the two passes above. chunk needs
 * fm_resample_chunk_floats(mx, my) floats; rowbuf mx->n_in floats. With
 * sum (a plane like out, or NULL) fm_resample_rows also adds each output
 * chunk to sum while it is in cache (dsp vacc, weight 1).
 */
#define FM_RESAMPLE_CHUNK 8
size_t fm_resample_chunk_floats(const FmAxisMap *mx, const FmAxisMap *my);
void fm_resample_rows(const FmDsp *dsp, const uint8_t *in, ptrdiff_t stride, int bit_depth,
                      const FmAxisMap *mx, const FmAxisMap *my, int y0, int y1, float *chunk,
                      float *rowbuf, float *out, float *sum);
void fm_resample_rows_float(const FmDsp *dsp, const float *in, const FmAxisMap *mx,
                            const FmAxisMap *my, int y0, int y1, float *chunk, float *out);

#endif
