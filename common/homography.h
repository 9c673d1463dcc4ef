/*
 * homography.h - a plane projective map (3x3, m[8] = 1 after a fit), its
 * weighted least-squares fit to point pairs, and the evidence read through
 * it onto the mark grid.
 *
 * The geometry search (geometry.h) uses it for a copy whose picture is not
 * merely scaled, turned and cropped but seen in perspective (a camcorder in
 * front of a screen, a keystone correction): there the mark's period
 * changes across the frame and no single grid step folds it.
 */
#ifndef FM_HOMOGRAPHY_H
#define FM_HOMOGRAPHY_H

/* (u, v) -> (x, y) through m (row-major 3x3); returns 0, or -1 where the
 * point maps to infinity or behind the plane's horizon. */
int fm_homography_apply(const double m[9], double u, double v, double *x, double *y);

/* inv = m^-1, scaled so that inv[8] = 1 where it is not 0. Returns 0, or -1
 * for a singular map. */
int fm_homography_invert(const double m[9], double inv[9]);

/*
 * The map taking (u[i], v[i]) nearest to (x[i], y[i]) in the weighted
 * least-squares sense of the linear (DLT) equations, on coordinates
 * normalised to their weighted centre and spread. With affine set, or
 * fewer than 6 pairs, the last row stays (0, 0, 1). Returns 0, or -1 when
 * the pairs do not determine the map (fewer than 3, or collinear).
 */
int fm_homography_fit(const double *u, const double *v, const double *x, const double *y,
                      const double *w, int n, int affine, double m[9]);

/*
 * Samples src (sw x sh floats) at the images of the mark-grid points
 * (u0 + i, v0 + j), i < pw, j < ph, under m, bilinearly, into out (pw x ph);
 * points whose four neighbours are not all inside src read 0. src_offset is
 * added to every mapped coordinate (a box-filtered source whose sample k
 * stands for position k + src_offset). Returns the share of points inside.
 */
double fm_homography_render(const float *src, int sw, int sh, double src_offset,
                            const double m[9], int u0, int v0, int pw, int ph, float *out);

/*
 * Box filter of k x k samples (k >= 1), separable: out[y][x] is the mean of
 * in[y .. y + k - 1][x .. x + k - 1] (clamped at the far edges), so it
 * stands for position (x, y) + (k - 1) / 2. tmp holds w x h floats.
 */
void fm_box_filter(const float *in, int w, int h, int k, float *out, float *tmp);

#endif
