/*
 * ssim_window.h - one SSIM window's score from its sums, the arithmetic
 * shared by quality.c and the ssim_score_u8 kernels (dsp_c.c, x86/): the
 * SIMD version does these double operations, in this order, four windows at
 * a time.
 */
#ifndef FM_SSIM_WINDOW_H
#define FM_SSIM_WINDOW_H

/* The SSIM constants for 8-bit levels: (0.01 * 255)^2, (0.03 * 255)^2. */
#define FM_SSIM_C1 ((0.01 * 255) * (0.01 * 255))
#define FM_SSIM_C2 ((0.03 * 255) * (0.03 * 255))

/* The window's SSIM from its sums (8-bit scale): of a, of b, of a^2, of b^2,
 * of a b over its n samples. */
static inline double fm_ssim_window(double sa, double sb, double saa, double sbb, double sab,
                                    double n)
{
    double ma = sa / n, mb = sb / n;
    double va = saa / n - ma * ma, vb = sbb / n - mb * mb, cov = sab / n - ma * mb;
    return ((2 * ma * mb + FM_SSIM_C1) * (2 * cov + FM_SSIM_C2)) /
           ((ma * ma + mb * mb + FM_SSIM_C1) * (va + vb + FM_SSIM_C2));
}

#endif
