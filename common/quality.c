#include "quality.h"

#include <math.h>
#include <stdlib.h>

#include "ssim_window.h"

size_t fm_ssim_scratch_bytes(int w)
{
    return sizeof(uint64_t) * 5 * (size_t)w;
}

double fm_ssim_band(const FmDsp *dsp, const uint8_t *a, ptrdiff_t stride_a, const uint8_t *b,
                    ptrdiff_t stride_b, int w, int h, int y0, int bit_depth, double *win_ssim,
                    void *scratch)
{
    int bh = h - y0 < 8 ? h - y0 : 8;
    const uint8_t *ra = a + (ptrdiff_t)y0 * stride_a, *rb = b + (ptrdiff_t)y0 * stride_b;
    if (bit_depth <= 8) {
        /* a window's 8-bit sums fit 32 bits (64 x 255^2); the band's squared
         * error is a sum of whole numbers below 2^53, exact in any order */
        dsp->ssim_win_u8(ra, stride_a, rb, stride_b, w, bh, scratch);
        return (double)dsp->ssim_score_u8(scratch, w, bh, win_ssim);
    }
    double scale = 1.0 / (double)(1 << (bit_depth - 8)), sc2 = scale * scale;
    double err = 0;
    uint64_t *s64 = scratch;
    dsp->ssim_cols_u16((const uint16_t *)ra, stride_a / 2, (const uint16_t *)rb, stride_b / 2, w,
                       bh, s64);
    for (int x0 = 0, k = 0; x0 < w; x0 += 8, k++) {
        int bw = w - x0 < 8 ? w - x0 : 8;
        uint64_t t[5] = { 0 };
        for (int i = 0; i < 5; i++)
            for (int x = x0; x < x0 + bw; x++)
                t[i] += s64[(size_t)i * w + x];
        err += (double)(t[2] + t[3] - 2 * t[4]) * sc2;
        win_ssim[k] = fm_ssim_window((double)t[0] * scale, (double)t[1] * scale,
                                     (double)t[2] * sc2, (double)t[3] * sc2, (double)t[4] * sc2,
                                     (double)bw * bh);
    }
    return err;
}

double fm_ssim_plane(const uint8_t *a, ptrdiff_t stride_a, const uint8_t *b, ptrdiff_t stride_b,
                     int w, int h, int bit_depth, double *mse)
{
    double ssim_sum = 0, err = 0;
    long windows = 0;
    int nx = (w + 7) / 8;
    void *scratch = malloc(fm_ssim_scratch_bytes(w > 0 ? w : 1));
    double *win = malloc(sizeof(double) * (size_t)(nx > 0 ? nx : 1));
    const FmDsp *dsp = fm_dsp_get();
    if (!scratch || !win) {
        free(scratch);
        free(win);
        if (mse)
            *mse = NAN;
        return NAN;
    }
    for (int y0 = 0; y0 < h; y0 += 8) {
        err += fm_ssim_band(dsp, a, stride_a, b, stride_b, w, h, y0, bit_depth, win, scratch);
        for (int k = 0; k < nx; k++)
            ssim_sum += win[k];
        windows += nx;
    }
    free(scratch);
    free(win);
    if (mse)
        *mse = w > 0 && h > 0 ? err / ((double)w * h) : 0;
    return windows ? ssim_sum / windows : 1.0;
}

double fm_psnr_from_mse(double mse)
{
    if (mse <= 1e-10)
        return 100.0;
    double p = 10 * log10(255.0 * 255.0 / mse);
    return p > 100 ? 100 : p;
}
