#include "homography.h"

#include <math.h>
#include <string.h>

int fm_homography_apply(const double m[9], double u, double v, double *x, double *y)
{
    double d = m[6] * u + m[7] * v + m[8];
    if (!(d > 1e-9))
        return -1;
    *x = (m[0] * u + m[1] * v + m[2]) / d;
    *y = (m[3] * u + m[4] * v + m[5]) / d;
    return 0;
}

int fm_homography_invert(const double m[9], double inv[9])
{
    double c[9];
    c[0] = m[4] * m[8] - m[5] * m[7];
    c[1] = m[2] * m[7] - m[1] * m[8];
    c[2] = m[1] * m[5] - m[2] * m[4];
    c[3] = m[5] * m[6] - m[3] * m[8];
    c[4] = m[0] * m[8] - m[2] * m[6];
    c[5] = m[2] * m[3] - m[0] * m[5];
    c[6] = m[3] * m[7] - m[4] * m[6];
    c[7] = m[1] * m[6] - m[0] * m[7];
    c[8] = m[0] * m[4] - m[1] * m[3];
    double det = m[0] * c[0] + m[1] * c[3] + m[2] * c[6];
    if (!(fabs(det) > 1e-12))
        return -1;
    double s = fabs(c[8]) > 1e-12 ? 1 / c[8] : 1 / det;
    for (int i = 0; i < 9; i++)
        inv[i] = c[i] * s;
    return 0;
}

/* Solves a (n x n, row-major, destroyed) x = b by Gaussian elimination with
 * partial pivoting; -1 when singular. */
static int solve(double *a, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(a[r * n + c]) > fabs(a[p * n + c]))
                p = r;
        if (!(fabs(a[p * n + c]) > 1e-12))
            return -1;
        if (p != c) {
            for (int k = 0; k < n; k++) {
                double t = a[c * n + k];
                a[c * n + k] = a[p * n + k];
                a[p * n + k] = t;
            }
            double t = b[c];
            b[c] = b[p];
            b[p] = t;
        }
        for (int r = c + 1; r < n; r++) {
            double f = a[r * n + c] / a[c * n + c];
            for (int k = c; k < n; k++)
                a[r * n + k] -= f * a[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        double s = b[c];
        for (int k = c + 1; k < n; k++)
            s -= a[c * n + k] * b[k];
        b[c] = s / a[c * n + c];
    }
    return 0;
}

/* Weighted centre and mean distance of n points: the similarity taking
 * them to the origin at a mean distance of sqrt(2). */
static void normaliser(const double *x, const double *y, const double *w, int n, double t[9])
{
    double sw = 0, cx = 0, cy = 0, d = 0;
    for (int i = 0; i < n; i++) {
        sw += w[i];
        cx += w[i] * x[i];
        cy += w[i] * y[i];
    }
    cx /= sw;
    cy /= sw;
    for (int i = 0; i < n; i++)
        d += w[i] * hypot(x[i] - cx, y[i] - cy);
    d /= sw;
    double s = d > 1e-12 ? M_SQRT2 / d : 1;
    double m[9] = { s, 0, -s * cx, 0, s, -s * cy, 0, 0, 1 };
    memcpy(t, m, sizeof(m));
}

static void mul3(const double a[9], const double b[9], double out[9])
{
    double r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
    memcpy(out, r, sizeof(r));
}

int fm_homography_fit(const double *u, const double *v, const double *x, const double *y,
                      const double *w, int n, int affine, double m[9])
{
    double sw = 0;
    for (int i = 0; i < n; i++)
        sw += w[i] > 0 ? w[i] : 0;
    if (n < 3 || !(sw > 0))
        return -1;
    if (n < 6)
        affine = 1;
    double tu[9], tx[9];
    normaliser(u, v, w, n, tu);
    normaliser(x, y, w, n, tx);
    int np = affine ? 6 : 8;
    double a[64] = { 0 }, b[8] = { 0 };
    for (int i = 0; i < n; i++) {
        if (!(w[i] > 0))
            continue;
        double un = tu[0] * u[i] + tu[2], vn = tu[4] * v[i] + tu[5];
        double xn = tx[0] * x[i] + tx[2], yn = tx[4] * y[i] + tx[5];
        /* xn (h6 un + h7 vn + 1) = h0 un + h1 vn + h2, and so for yn */
        double rx[8] = { un, vn, 1, 0, 0, 0, -un * xn, -vn * xn };
        double ry[8] = { 0, 0, 0, un, vn, 1, -un * yn, -vn * yn };
        for (int r = 0; r < np; r++)
            for (int c = 0; c < np; c++)
                a[r * np + c] += w[i] * (rx[r] * rx[c] + ry[r] * ry[c]);
        for (int r = 0; r < np; r++)
            b[r] += w[i] * (rx[r] * xn + ry[r] * yn);
    }
    if (solve(a, b, np) < 0)
        return -1;
    double hn[9] = { b[0], b[1], b[2], b[3], b[4], b[5], affine ? 0 : b[6], affine ? 0 : b[7], 1 };
    /* m = tx^-1 hn tu */
    double txi[9];
    if (fm_homography_invert(tx, txi) < 0)
        return -1;
    double t[9];
    mul3(hn, tu, t);
    mul3(txi, t, m);
    if (!(fabs(m[8]) > 1e-12))
        return -1;
    for (int i = 0; i < 9; i++)
        m[i] /= m[8];
    for (int i = 0; i < 9; i++)
        if (!isfinite(m[i]))
            return -1;
    return 0;
}

double fm_homography_render(const float *src, int sw, int sh, double src_offset,
                            const double m[9], int u0, int v0, int pw, int ph, float *out)
{
    long inside = 0;
    for (int j = 0; j < ph; j++) {
        double v = v0 + j;
        for (int i = 0; i < pw; i++) {
            double u = u0 + i, x, y;
            float o = 0;
            if (fm_homography_apply(m, u, v, &x, &y) == 0) {
                x -= src_offset;
                y -= src_offset;
                if (x >= 0 && y >= 0 && x < sw - 1 && y < sh - 1) {
                    int xi = (int)x, yi = (int)y;
                    float fx = (float)(x - xi), fy = (float)(y - yi);
                    const float *r0 = src + (size_t)yi * sw + xi, *r1 = r0 + sw;
                    o = (1 - fy) * ((1 - fx) * r0[0] + fx * r0[1]) +
                        fy * ((1 - fx) * r1[0] + fx * r1[1]);
                    inside++;
                }
            }
            out[(size_t)j * pw + i] = o;
        }
    }
    return pw > 0 && ph > 0 ? (double)inside / ((double)pw * ph) : 0;
}

void fm_box_filter(const float *in, int w, int h, int k, float *out, float *tmp)
{
    if (k <= 1) {
        memmove(out, in, sizeof(float) * (size_t)w * h);
        return;
    }
    float inv = 1.0f / (float)k;
    for (int y = 0; y < h; y++) {
        const float *r = in + (size_t)y * w;
        float *t = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float s = 0;
            for (int d = 0; d < k; d++)
                s += r[x + d < w ? x + d : w - 1];
            t[x] = s * inv;
        }
    }
    for (int y = 0; y < h; y++) {
        float *o = out + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float s = 0;
            for (int d = 0; d < k; d++)
                s += tmp[(size_t)(y + d < h ? y + d : h - 1) * w + x];
            o[x] = s * inv;
        }
    }
}
