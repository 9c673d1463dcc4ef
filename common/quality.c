#include "quality.h"

#include <math.h>

static inline double sample(const uint8_t *row, int x, int bit_depth)
{
    return bit_depth <= 8 ? row[x] : ((const uint16_t *)row)[x] / (double)(1 << (bit_depth - 8));
}

double fm_ssim_plane(const uint8_t *a, ptrdiff_t stride_a, const uint8_t *b, ptrdiff_t stride_b,
                     int w, int h, int bit_depth, double *mse)
{
    const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
    double ssim_sum = 0, err = 0;
    long windows = 0;

    for (int y0 = 0; y0 < h; y0 += 8) {
        int bh = h - y0 < 8 ? h - y0 : 8;
        for (int x0 = 0; x0 < w; x0 += 8) {
            int bw = w - x0 < 8 ? w - x0 : 8;
            double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
            for (int y = y0; y < y0 + bh; y++) {
                const uint8_t *ra = a + (ptrdiff_t)y * stride_a, *rb = b + (ptrdiff_t)y * stride_b;
                for (int x = x0; x < x0 + bw; x++) {
                    double va = sample(ra, x, bit_depth), vb = sample(rb, x, bit_depth);
                    sa += va; sb += vb;
                    saa += va * va; sbb += vb * vb; sab += va * vb;
                    err += (va - vb) * (va - vb);
                }
            }
            double n = (double)bw * bh;
            double ma = sa / n, mb = sb / n;
            double va = saa / n - ma * ma, vb = sbb / n - mb * mb, cov = sab / n - ma * mb;
            ssim_sum += ((2 * ma * mb + c1) * (2 * cov + c2)) /
                        ((ma * ma + mb * mb + c1) * (va + vb + c2));
            windows++;
        }
    }
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
