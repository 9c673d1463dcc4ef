#include "dct.h"

#include <math.h>
#include <pthread.h>

/* basis[k][n] = c(k) cos((2n+1) k pi / 16), c(0) = sqrt(1/8), c(k) = sqrt(2/8) */
static float basis[8][8];
static pthread_once_t basis_once = PTHREAD_ONCE_INIT;

static void init_basis(void)
{
    for (int k = 0; k < 8; k++)
        for (int n = 0; n < 8; n++)
            basis[k][n] = (float)((k ? sqrt(2.0 / 8) : sqrt(1.0 / 8)) *
                                  cos((2 * n + 1) * k * M_PI / 16));
}

const float (*fm_dct_basis(void))[8]
{
    pthread_once(&basis_once, init_basis);
    return (const float (*)[8])basis;
}

void fm_dct8x8(const float *in, ptrdiff_t stride, float out[64])
{
    float tmp[64];
    pthread_once(&basis_once, init_basis);
    for (int y = 0; y < 8; y++)           /* rows */
        for (int u = 0; u < 8; u++) {
            float s = 0;
            for (int x = 0; x < 8; x++)
                s += basis[u][x] * in[y * stride + x];
            tmp[y * 8 + u] = s;
        }
    for (int v = 0; v < 8; v++)           /* columns */
        for (int u = 0; u < 8; u++) {
            float s = 0;
            for (int y = 0; y < 8; y++)
                s += basis[v][y] * tmp[y * 8 + u];
            out[v * 8 + u] = s;
        }
}

void fm_idct8x8(const float in[64], float *out, ptrdiff_t stride)
{
    float tmp[64];
    pthread_once(&basis_once, init_basis);
    for (int y = 0; y < 8; y++)
        for (int u = 0; u < 8; u++) {
            float s = 0;
            for (int v = 0; v < 8; v++)
                s += basis[v][y] * in[v * 8 + u];
            tmp[y * 8 + u] = s;
        }
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) {
            float s = 0;
            for (int u = 0; u < 8; u++)
                s += basis[u][x] * tmp[y * 8 + u];
            out[y * stride + x] = s;
        }
}

void fm_dct8x8_low_block(const float *in, ptrdiff_t stride, float *out, ptrdiff_t coef_stride)
{
    float tmp[8][FM_DCT_LOW + 1];
    pthread_once(&basis_once, init_basis);
    for (int y = 0; y < 8; y++)
        for (int u = 0; u <= FM_DCT_LOW; u++) {
            float s = 0;
            for (int x = 0; x < 8; x++)
                s += basis[u][x] * in[y * stride + x];
            tmp[y][u] = s;
        }
    for (int v = 0; v <= FM_DCT_LOW; v++)
        for (int u = 0; u + v <= FM_DCT_LOW; u++) {
            float s = 0;
            for (int y = 0; y < 8; y++)
                s += basis[v][y] * tmp[y][u];
            out[(v * 8 + u) * coef_stride] = s;
        }
}

void fm_dct8x8_low(const float *in, ptrdiff_t stride, int n, float *out)
{
    for (int i = 0; i < n; i++)
        fm_dct8x8_low_block(in + 8 * i, stride, out + i, n);
}

void fm_idct8x8_low_block(const float *in, ptrdiff_t coef_stride, float *out, ptrdiff_t stride)
{
    float tmp[8][FM_DCT_LOW + 1];
    pthread_once(&basis_once, init_basis);
    for (int y = 0; y < 8; y++)
        for (int u = 0; u <= FM_DCT_LOW; u++) {
            float s = 0;
            for (int v = 0; u + v <= FM_DCT_LOW; v++)
                s += basis[v][y] * in[(v * 8 + u) * coef_stride];
            tmp[y][u] = s;
        }
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) {
            float s = 0;
            for (int u = 0; u <= FM_DCT_LOW; u++)
                s += basis[u][x] * tmp[y][u];
            out[y * stride + x] = s;
        }
}

void fm_idct8x8_low(const float *in, int n, float *out, ptrdiff_t stride)
{
    for (int i = 0; i < n; i++)
        fm_idct8x8_low_block(in + i, n, out + 8 * i, stride);
}
