#include "geometry.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <fftw3.h>

#include "homography.h"

#define NCAND 4              /* period candidates kept per axis */
#define MIN_MARK_STEP 0.5    /* fine samples per mark pixel searched: from a */
#define MAX_MARK_STEP 6.0    /* 2:1 squeeze at 360 rows to a 1/3-height crop */

typedef struct Search {
    const FmAccumulator *acc;
    const float *evidence;   /* fine evidence, possibly rotated */
    double rotation_deg;
    const float *pilot;
    float *tile;
    float *fold;             /* the plane folded unflipped, FM_TILE x FM_TILE */
    float *plane;            /* mark-grid plane (2 fw fh floats), then the resampling
                                scratch (scratch_cap floats) */
    size_t scratch_cap;
    fftwf_complex *pilot_f;  /* FFT of the pilot tile */
    fftwf_complex *tile_f;
    float *xcorr;
    fftwf_plan fwd, inv;
    long evaluated;
    int unflipped_only;      /* candidates are tried without the flips */
} Search;

/* Resamples the fine evidence onto a mark grid of the given steps (origin 0).
 * tmp holds tmp_cap floats; the horizontal pass needs mark width x fh. */
static int to_mark_grid(const FmAccumulator *acc, const float *evidence, double sx, double sy,
                        float *out, int *mw, int *mh, float *tmp, size_t tmp_cap)
{
    FmAxisMap mx, my;
    /* steps of 0 (no candidate scored yet) or absurd sizes: nothing to resample;
     * nor a grid whose horizontal pass would overrun tmp (the search's
     * refinement can take a step a little below MIN_MARK_STEP) */
    double wd = floor(acc->fw / sx), hd = floor(acc->fh / sy);
    if (!(wd >= 8 && hd >= 8 && wd * hd <= (double)acc->fw * acc->fh * 2 &&
          wd * acc->fh <= (double)tmp_cap))
        return FM_EINVAL;
    int w = (int)wd, h = (int)hd;
    if (fm_axis_map_init(&mx, acc->fw, w, 0, sx) < 0)
        return FM_ENOMEM;
    if (fm_axis_map_init(&my, acc->fh, h, 0, sy) < 0) {
        fm_axis_map_free(&mx);
        return FM_ENOMEM;
    }
    fm_resample_float(evidence, acc->fw, acc->fh, &mx, &my, tmp, out);
    fm_axis_map_free(&mx);
    fm_axis_map_free(&my);
    *mw = w;
    *mh = h;
    return 0;
}

/* The evidence read along turned axes about its centre (bilinear, 0
 * outside): output (x, y) reads the point c + (x - cx) u + (y - cy) v,
 * where u is the x axis turned by alpha degrees and v the y axis turned by
 * beta (alpha = beta: a rotation; alpha != beta: a shear as well). */
static float *turned(const FmAccumulator *acc, const float *evidence, double alpha, double beta)
{
    int W = acc->fw, H = acc->fh;
    float *out = malloc(sizeof(float) * (size_t)W * H);
    if (!out)
        return NULL;
    double ca = cos(alpha * M_PI / 180), sa = sin(alpha * M_PI / 180);
    double cb = cos(beta * M_PI / 180), sb = sin(beta * M_PI / 180);
    double cx = (W - 1) / 2.0, cy = (H - 1) / 2.0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            /* source position of output (x, y) */
            double u = ca * (x - cx) - sb * (y - cy) + cx, v = sa * (x - cx) + cb * (y - cy) + cy;
            int x0 = (int)floor(u), y0 = (int)floor(v);
            float o = 0;
            if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
                float fx = (float)(u - x0), fy = (float)(v - y0);
                const float *r0 = evidence + (size_t)y0 * W + x0, *r1 = r0 + W;
                o = (1 - fy) * ((1 - fx) * r0[0] + fx * r0[1]) + fy * ((1 - fx) * r1[0] + fx * r1[1]);
            }
            out[(size_t)y * W + x] = o;
        }
    return out;
}

/* The evidence rotated by deg degrees about its centre (bilinear, 0 outside). */
static float *rotated(const FmAccumulator *acc, const float *evidence, double deg)
{
    return turned(acc, evidence, deg, deg);
}

/* Box size that stands in for the area resampling of a mark pixel of the
 * given steps (fine samples per mark pixel). */
static int warp_box(double step_x, double step_y)
{
    long k = lround((fabs(step_x) + fabs(step_y)) / 2);
    return k < 1 ? 1 : k > 8 ? 8 : (int)k;
}

/* The plane of a perspective alignment read from fine (malloc'ed, al->mw x al->mh). */
static float *warp_plane(const FmAccumulator *acc, const float *fine, const FmAlignment *al)
{
    size_t n = (size_t)acc->fw * acc->fh;
    int k = warp_box(al->step_x, al->step_y);
    float *boxed = malloc(sizeof(float) * n), *tmp = malloc(sizeof(float) * n);
    float *plane = malloc(sizeof(float) * (size_t)al->mw * al->mh);
    if (boxed && tmp && plane) {
        fm_box_filter(fine, acc->fw, acc->fh, k, boxed, tmp);
        fm_homography_render(boxed, acc->fw, acc->fh, (k - 1) / 2.0, al->h, al->u0, al->v0,
                             al->mw, al->mh, plane);
    } else {
        free(plane);
        plane = NULL;
    }
    free(boxed);
    free(tmp);
    return plane;
}

void fm_geometry_plane_size(const FmAccumulator *acc, const FmAlignment *al, int *mw, int *mh)
{
    if (al->warp) {
        *mw = al->mw;
        *mh = al->mh;
    } else if (al->step_x > 0.1 && al->step_y > 0.1) {
        *mw = (int)floor(acc->fw / al->step_x);
        *mh = (int)floor(acc->fh / al->step_y);
    } else {
        *mw = *mh = 0;
    }
}

int fm_geometry_fold(const FmAccumulator *acc, const float *fine, const FmAlignment *al, int pw,
                     int ph, float *tile)
{
    if (al->warp) {
        float *plane = warp_plane(acc, fine, al);
        if (!plane)
            return FM_ENOMEM;
        fm_plane_fold(plane, al->mw, al->mh, 0, 0, al->shift_x, al->shift_y, pw, ph, tile);
        free(plane);
        return 0;
    }
    if (!(al->step_x > 0.1 && al->step_y > 0.1))
        return FM_EINVAL;
    int w = (int)floor(acc->fw / al->step_x) + 1, h = (int)floor(acc->fh / al->step_y) + 1;
    float *plane = malloc(sizeof(float) * (size_t)w * h);
    float *tmp = malloc(sizeof(float) * (size_t)w * acc->fh);
    float *rot = al->rotation_deg != 0 ? rotated(acc, fine, al->rotation_deg) : NULL;
    const float *evidence = rot ? rot : fine;
    int mw, mh, ret = FM_ENOMEM;
    if (plane && tmp && (al->rotation_deg == 0 || rot) &&
        (ret = to_mark_grid(acc, evidence, al->step_x, al->step_y, plane, &mw, &mh, tmp,
                            (size_t)w * acc->fh)) == 0)
        fm_plane_fold(plane, mw, mh, al->flip_h, al->flip_v, al->shift_x, al->shift_y, pw, ph,
                      tile);
    free(plane);
    free(tmp);
    free(rot);
    return ret;
}

int fm_geometry_mark_plane(const FmAccumulator *acc, const float *fine, const FmAlignment *al,
                           float **out, int *mw, int *mh)
{
    *out = NULL;
    if (al->warp) {
        if (!(*out = warp_plane(acc, fine, al)))
            return FM_ENOMEM;
        *mw = al->mw;
        *mh = al->mh;
        return 0;
    }
    if (!(al->step_x > 0.1 && al->step_y > 0.1))
        return FM_EINVAL;
    int w = (int)floor(acc->fw / al->step_x) + 1, h = (int)floor(acc->fh / al->step_y) + 1;
    float *plane = malloc(sizeof(float) * (size_t)w * h);
    float *flipped = malloc(sizeof(float) * (size_t)w * h);
    float *tmp = malloc(sizeof(float) * (size_t)w * acc->fh);
    float *rot = al->rotation_deg != 0 ? rotated(acc, fine, al->rotation_deg) : NULL;
    int ret = FM_ENOMEM;
    if (plane && flipped && tmp && (al->rotation_deg == 0 || rot) &&
        (ret = to_mark_grid(acc, rot ? rot : fine, al->step_x, al->step_y, plane, mw, mh,
                            tmp, (size_t)w * acc->fh)) == 0) {
        for (int y = 0; y < *mh; y++) {
            int yy = al->flip_v ? *mh - 1 - y : y;
            for (int x = 0; x < *mw; x++) {
                int xx = al->flip_h ? *mw - 1 - x : x;
                flipped[(size_t)yy * *mw + xx] = plane[(size_t)y * *mw + x];
            }
        }
        *out = flipped;
        flipped = NULL;
    }
    free(plane);
    free(flipped);
    free(tmp);
    free(rot);
    return ret;
}

/* The cyclic cross-correlation of the folded tile with the pilot, into
 * s->xcorr (unnormalised); returns the tile's energy (0: nothing computed). */
static double tile_xcorr(Search *s)
{
    const int n = FM_TILE * FM_TILE, nc = FM_TILE * (FM_TILE / 2 + 1);
    double energy = 0;
    for (int i = 0; i < n; i++)
        energy += (double)s->tile[i] * s->tile[i];
    if (energy <= 0)
        return 0;
    fftwf_execute_dft_r2c(s->fwd, s->tile, s->tile_f);
    /* cross-correlation: tile shifted by d matches the pilot when
     * tile(x) = pilot(x + d): conj(T) * P */
    for (int i = 0; i < nc; i++) {
        float ar = s->tile_f[i][0], ai = -s->tile_f[i][1];
        float br = s->pilot_f[i][0], bi = s->pilot_f[i][1];
        s->tile_f[i][0] = ar * br - ai * bi;
        s->tile_f[i][1] = ar * bi + ai * br;
    }
    fftwf_execute_dft_c2r(s->inv, s->tile_f, s->xcorr);
    return energy;
}

/* Best cyclic shift of the pilot in a folded tile: normalised peak value. */
static double best_shift(Search *s, int *sx, int *sy)
{
    const int n = FM_TILE * FM_TILE;
    double energy = tile_xcorr(s);
    if (energy <= 0)
        return 0;
    int arg = 0;
    for (int i = 1; i < n; i++)
        if (s->xcorr[i] > s->xcorr[arg])
            arg = i;
    *sx = arg % FM_TILE;
    *sy = arg / FM_TILE;
    /* pilot tile has unit RMS per sample times the pilot share of slots */
    return s->xcorr[arg] / n / sqrt(energy * n);
}

/* The plane resampled at steps stx, sty (mw x mh, its unflipped fold in
 * s->fold) under one flip, scored; kept in al when it beats al->score. */
static void score_flip(Search *s, int mw, int mh, double stx, double sty, int fh, int fv,
                       FmAlignment *al)
{
    int dx = 0, dy = 0;
    fm_tile_fold_flip(s->fold, mw, mh, fh, fv, s->tile);
    double score = best_shift(s, &dx, &dy);
    if (score > al->score) {
        al->score = score;
        al->step_x = stx;
        al->step_y = sty;
        al->flip_h = fh;
        al->flip_v = fv;
        al->shift_x = dx;
        al->shift_y = dy;
        al->rotation_deg = s->rotation_deg;
    }
}

/* Scores flips f0 .. f0 + nflips - 1 of one pair of steps (flip f: h = f &
 * 1, v = f >> 1), each counted as a candidate evaluated, from one
 * resampling of the evidence. */
static void evaluate_flips(Search *s, double stx, double sty, int f0, int nflips,
                           FmAlignment *al)
{
    int mw, mh;
    float *scratch = s->plane + (size_t)s->acc->fw * s->acc->fh * 2;
    s->evaluated += nflips;
    if (to_mark_grid(s->acc, s->evidence, stx, sty, s->plane, &mw, &mh, scratch,
                     s->scratch_cap) < 0)
        return;
    fm_tile_fold(s->plane, mw, mh, 0, 0, s->fold);
    for (int f = f0; f < f0 + nflips; f++)
        score_flip(s, mw, mh, stx, sty, f & 1, f >> 1, al);
}

/* Scores one candidate (steps, flips); fills al when it beats al->score. */
static void evaluate(Search *s, double stx, double sty, int fh, int fv, FmAlignment *al)
{
    evaluate_flips(s, stx, sty, fh | fv << 1, 1, al);
}

/*
 * Candidate periods along one axis of the autocorrelation ac (lag d at
 * ac[d * stride_lag]; len samples along the axis, overlap_other along the
 * other). Each lag's value is taken as a significance, ac / sqrt(overlap):
 * the sum of (len - d) x overlap_other products whose noise grows as the
 * square root of their count (the mean, ac / count, made the sparse long
 * lags of a static picture look strong). The mark is periodic, so its peaks
 * repeat at every multiple of the period: a lag d scores the mean
 * significance at d, 2d, .. MAX_HARMONIC d (as far as hi reaches; the best
 * of the nearest (m - 1) / 2 lags either side of m d, as the period is
 * not a whole number of samples), normalised by the square root of their
 * count. This finds the period of a small copy whose first peak is lost in
 * the picture's own structure while its multiples stand out (a 4:3 street
 * camera squeezed to 640x360: only 2 and 3 periods showed). The NCAND best
 * local maxima of that score are kept, each placed to a fraction of a
 * sample by the strongest of its multiples (the strongest lag within
 * m / 2 + 1 of m d, parabolic interpolation there, divided by m: m times
 * finer than at the first peak).
 */
#define MAX_HARMONIC 4
static void axis_candidates(const float *ac, int stride_lag, int n_lags, int overlap_other,
                            int len, int lo, int hi, double *cand)
{
    double best[NCAND] = { 0 };
    for (int i = 0; i < NCAND; i++)
        cand[i] = 0;
    if (hi > n_lags - 2)
        hi = n_lags - 2;
    if (hi <= lo + 1)
        return;
    double *sig = malloc(sizeof(double) * (size_t)(hi + 2));
    double *score = malloc(sizeof(double) * (size_t)(hi + 2));
    if (!sig || !score) {
        free(sig);
        free(score);
        return;  /* no candidates: the nominal and crop steps are still tried */
    }
    for (int d = 0; d <= hi + 1; d++)
        sig[d] = ac[(size_t)d * stride_lag] / sqrt((double)(len - d) * overlap_other);
    for (int d = lo - 1; d <= hi + 1; d++) {
        double sum = 0;
        int m = 1;
        for (; m <= MAX_HARMONIC && m * d <= hi + 1; m++) {
            int c = m * d, w = (m - 1) / 2, j0 = c - w, j1 = c + w < hi + 1 ? c + w : hi + 1;
            double v = sig[j0];
            for (int j = j0 + 1; j <= j1; j++)
                v = sig[j] > v ? sig[j] : v;
            sum += v;
        }
        score[d] = sum / sqrt(m - 1);
    }
    for (int d = lo; d <= hi; d++) {
        double v = score[d];
        if (v < score[d - 1] || v < score[d + 1] || v <= 0)
            continue;
        /* the strongest multiple's peak, to a fraction of a sample */
        double pos = d, top = -HUGE_VAL;
        for (int m = 1; m <= MAX_HARMONIC && m * d <= hi; m++) {
            /* m periods lie within m / 2 of m d; one more for the peak's width */
            int c = m * d, w = m / 2 + 1, j = c;
            for (int k = c - w; k <= c + w && k <= hi; k++)
                j = sig[k] > sig[j] ? k : j;
            if (sig[j] <= top)
                continue;
            double l = sig[j - 1], r = sig[j + 1], den = l - 2 * sig[j] + r;
            double off = den < 0 && sig[j] >= l && sig[j] >= r ? 0.5 * (l - r) / den : 0;
            top = sig[j];
            pos = (j + off) / m;
        }
        for (int k = 0; k < NCAND; k++)
            if (v > best[k]) {
                memmove(best + k + 1, best + k, sizeof(double) * (NCAND - 1 - k));
                memmove(cand + k + 1, cand + k, sizeof(double) * (NCAND - 1 - k));
                best[k] = v;
                cand[k] = pos;
                break;
            }
    }
    free(sig);
    free(score);
}

/*
 * Steps (fine samples per mark pixel) of a crop that kept the pixels of a
 * master of a common height: crops do not change the pixel scale, so the
 * mark step is the master's height / FM_MARK_HEIGHT whatever was cut away.
 * These are tried with square pixels beside the autocorrelation's periods,
 * which a static, textured picture can bias. Returns how many were added
 * after the nsteps already in steps (up to MAX_CROP_STEPS).
 */
#define MAX_CROP_STEPS 12
static int crop_steps(const FmAccumulator *acc, double *steps, int nsteps)
{
    static const int heights[] = { 480, 540, 576, 720, 800, 858, 1080, 1200, 1440, 1556,
                                   1716, 2160 };
    int n = 0;
    for (size_t i = 0; i < sizeof heights / sizeof heights[0] && n < MAX_CROP_STEPS; i++) {
        /* a crop shows at most the master's whole height, and at least a third */
        if (heights[i] < acc->height || heights[i] > 3 * acc->height)
            continue;
        double st = fm_mark_step(heights[i]) / acc->fine_step;
        if (st < MIN_MARK_STEP || st > MAX_MARK_STEP)
            continue;
        int dup = 0;
        for (int k = 0; k < nsteps + n; k++)
            dup |= fabs(steps[k] / st - 1) < 0.002;
        if (!dup)
            steps[nsteps + n++] = st;
    }
    return n;
}

/*
 * Square-pixel steps a little either side of each autocorrelation period:
 * on a static, textured picture the period peak can sit a few per cent off
 * the tile period, beyond the refinement's reach (+/-0.4 %), and the
 * pilot's correlation then finds nothing. SCAN_STEPS per side, SCAN_REL
 * apart, put every period within 0.6 % of one of them; the refinement does
 * the rest. Returns how many were added after steps[nsteps + nsq - 1].
 */
#define SCAN_STEPS 3
#define SCAN_REL 0.012
static int scan_steps(double *steps, int nsteps, int nsq)
{
    int n = 0, base = nsteps - 1;  /* the last of the nsteps is the nominal grid */
    for (int i = 0; i < base; i++)
        for (int k = -SCAN_STEPS; k <= SCAN_STEPS; k++) {
            if (k == 0)
                continue;
            steps[nsteps + nsq + n++] = steps[i] * (1 + k * SCAN_REL);
        }
    return n;
}

/*
 * Square-pixel steps from the nominal grid's to ZOOM_HI times it, ZOOM_REL
 * apart (fm_geometry_search_zoom): a crop scaled back up to a frame
 * enlarges the picture by 1 / the share of its height kept. Every such
 * period then lies within ZOOM_REL / 2 of one, which the uniform climb
 * closes. Returns how many were written to steps (at most MAX_ZOOM_STEPS).
 */
#define ZOOM_HI 2.0
#define ZOOM_REL 0.012
#define MAX_ZOOM_STEPS 60
static int zoom_steps(const FmAccumulator *acc, double hi, double aspect, double *steps)
{
    int n = 0;
    double nominal = acc->step / acc->fine_step;
    for (double f = 1 + ZOOM_REL; f <= hi && n < MAX_ZOOM_STEPS; f *= 1 + ZOOM_REL) {
        double x = nominal * f * aspect;
        if (nominal * f > MAX_MARK_STEP || x > MAX_MARK_STEP)
            break;
        if (x >= MIN_MARK_STEP)
            steps[n++] = nominal * f;
    }
    return n;
}

/*
 * The anamorphic zoom (fm_geometry_search_zoom_anamorphic): the common
 * conversions' x / y step ratios (4:3 <-> 16:9, 2.39:1 <-> 16:9), each over
 * zooms up to ZOOM_ANAMORPHIC_HI (a crop keeping two thirds of the height),
 * unflipped: a crop then squeezed. 4 x 34 evaluations, fewer than the
 * square zoom's 58 steps x 4 flips (its range and flips for each ratio
 * would be four times that).
 */
#define ZOOM_ANAMORPHIC_HI 1.5
static const double anamorphic_ratios[] = { 0.75, 4.0 / 3.0, 0.744, 1.0 / 0.744 };

/*
 * Rounds of the uniform climb that starts the refinement: both steps moved
 * together by REFINE_UNIFORM_REL while that improves the score, so up to
 * 2.4 % before the per-axis coordinate search (which reaches 0.75 % an
 * axis). Format 7's autocorrelation has only the sync layer's period (the
 * epoch layers' cell signs take theirs away), and after x264 at CRF 28 the
 * codec's block grid can outrank it on both axes: storm 720p cropped 10 %,
 * scaled to 852x480 and re-encoded kept no candidate near its period (5 of
 * 5 keys; format 6 kept the y period on all 5), the best fall-back step was
 * 1.5 % off and the refinement stopped at its reach, 0.7 % off: 14-17 %
 * raw errors instead of 6-9 % at the right step.
 */
#define REFINE_UNIFORM_PASSES 6
#define REFINE_UNIFORM_REL 0.004

/* Scores candidate step pairs x flips, then refines the best one's steps
 * (uniform: with the uniform climb first, which keeps the ratio of the two
 * steps). The last n_square steps are tried as (aspect x step, step) only:
 * square pixels at aspect 1. */
static void search_steps(Search *s, const double *steps, int nsteps, FmAlignment *best,
                         int n_square, double aspect, int uniform)
{
    FmAlignment local = *best;
    local.score = -1;
    int nflips = s->unflipped_only ? 1 : 4;
    for (int i = nsteps; i < nsteps + n_square; i++)
        evaluate_flips(s, aspect * steps[i], steps[i], 0, nflips, &local);
    for (int i = 0; i < nsteps; i++)
        for (int j = 0; j < nsteps; j++) {
            double r = steps[i] / steps[j];
            if (r < 0.5 || r > 2.0)
                continue;  /* more anamorphic than 2:1 is not a picture */
            evaluate_flips(s, steps[i], steps[j], 0, nflips, &local);
        }
    /* a uniform scale first (a crop + scale, the common case): both steps
     * together while it improves */
    for (int pass = 0, moved = uniform; pass < REFINE_UNIFORM_PASSES && moved; pass++) {
        moved = 0;
        for (int sign = -1; sign <= 1; sign += 2) {
            FmAlignment t = local;
            double f = 1 + sign * REFINE_UNIFORM_REL;
            evaluate(s, local.step_x * f, local.step_y * f, local.flip_h, local.flip_v, &t);
            if (t.score > local.score) {
                local = t;
                moved = 1;
            }
        }
    }
    /* coordinate search in shrinking relative steps */
    for (double rel = 0.004; rel > 0.0004; rel /= 2)
        for (int axis = 0; axis < 2; axis++)
            for (int sign = -1; sign <= 1; sign += 2) {
                FmAlignment t = local;
                double fx = axis == 0 ? 1 + sign * rel : 1, fy = axis == 1 ? 1 + sign * rel : 1;
                evaluate(s, local.step_x * fx, local.step_y * fy, local.flip_h, local.flip_v, &t);
                if (t.score > local.score)
                    local = t;
            }
    if (local.score > best->score)
        *best = local;
}

/* ---------------------------------------------------------------- perspective */

#define WARP_ITERATIONS 4
#define WARP_Z_MIN 4.5        /* a patch's peak over the correlation's RMS */
#define WARP_MAX_RESIDUAL 2.0 /* mark pixels: a patch further off the fit is dropped */
#define WARP_RESOLUTION 65.0  /* positions per corner coordinate counted as hypotheses */
#define WARP_SCAN_LO 0.7      /* square steps tried at the centre, x the nominal grid's */
#define WARP_SCAN_HI 1.5
#define WARP_SCAN_REL 0.012
#define WARP_MAX_SCAN 64
#define WARP_BANDS 3
#define WARP_CENTRE_TILES 1.3
#define WARP_TURNS 2          /* turns of each axis tried either side at the centre, */
#define WARP_TURN_DEG 0.9     /* this far apart (rotations and shears) */

static int mod_tile(long v)
{
    return (int)(((v % FM_TILE) + FM_TILE) % FM_TILE);
}

/*
 * The offset of the sync tile in one tile-sized patch of the evidence read
 * under h around mark pixel (uc, vc): the correlation peak within win mark
 * pixels of where h puts it, to a fraction of a pixel. A sample read as
 * mark pixel u carries the tile's pixel u + d there, so the marked
 * picture's pixel (uc + du, vc + dv) lies at h(uc, vc). Returns the peak's
 * z (over the RMS of the whole correlation), or 0 for a patch mostly
 * outside the clip.
 */
static double patch_offset(Search *s, const float *boxed, double box_offset, const double h[9],
                           int uc, int vc, int win, float *patch, double *du, double *dv)
{
    const int n = FM_TILE * FM_TILE;
    int u0 = uc - FM_TILE / 2, v0 = vc - FM_TILE / 2;
    if (fm_homography_render(boxed, s->acc->fw, s->acc->fh, box_offset, h, u0, v0, FM_TILE,
                             FM_TILE, patch) < 0.6)
        return 0;
    fm_tile_fold(patch, FM_TILE, FM_TILE, mod_tile(u0), mod_tile(v0), s->tile);
    if (tile_xcorr(s) <= 0)
        return 0;
    double ms = 0;
    for (int i = 0; i < n; i++)
        ms += (double)s->xcorr[i] * s->xcorr[i];
    double rms = sqrt(ms / n);
    int bx = 0, by = 0;
    float peak = -INFINITY;
    for (int dy = -win; dy <= win; dy++)
        for (int dx = -win; dx <= win; dx++) {
            float c = s->xcorr[mod_tile(dy) * FM_TILE + mod_tile(dx)];
            if (c > peak) {
                peak = c;
                bx = dx;
                by = dy;
            }
        }
    if (!(rms > 0))
        return 0;
    /* parabolic refinement along each axis */
    double l = s->xcorr[mod_tile(by) * FM_TILE + mod_tile(bx - 1)];
    double r = s->xcorr[mod_tile(by) * FM_TILE + mod_tile(bx + 1)];
    double t = s->xcorr[mod_tile(by - 1) * FM_TILE + mod_tile(bx)];
    double b = s->xcorr[mod_tile(by + 1) * FM_TILE + mod_tile(bx)];
    double den_x = l - 2.0 * peak + r, den_y = t - 2.0 * peak + b;
    *du = bx + (den_x < 0 ? 0.5 * (l - r) / den_x : 0);
    *dv = by + (den_y < 0 ? 0.5 * (t - b) / den_y : 0);
    return peak / rms;
}

/* The affine map of a uniform alignment found on a w x h crop at (x0, y0)
 * of the fine grid read along axes turned by alpha and beta (turned()):
 * mark pixel (u, v) to fine position. */
static void alignment_map(const FmAlignment *al, int w, int h, int x0, int y0, double alpha,
                          double beta, double m[9])
{
    int gw = (int)floor(w / al->step_x), gh = (int)floor(h / al->step_y);
    /* plane sample x (before flipping) lands on tile x + shift, or
     * gw - 1 - x + shift when flipped */
    double ax = al->flip_h ? -al->step_x : al->step_x;
    double bx = al->flip_h ? (gw - 1 + al->shift_x + 0.5) * al->step_x - 0.5
                           : (-al->shift_x + 0.5) * al->step_x - 0.5;
    double ay = al->flip_v ? -al->step_y : al->step_y;
    double by = al->flip_v ? (gh - 1 + al->shift_y + 0.5) * al->step_y - 0.5
                           : (-al->shift_y + 0.5) * al->step_y - 0.5;
    /* turned(): output (x, y) reads the crop at centre + A (x - cx, y - cy),
     * A's columns the turned axes */
    double ca = cos(alpha * M_PI / 180), sa = sin(alpha * M_PI / 180);
    double cb = cos(beta * M_PI / 180), sb = sin(beta * M_PI / 180);
    double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
    /* (u, v) -> (xr, yr) = (ax u + bx, ay v + by) -> A (xr - cx, yr - cy) + (cx + x0, cy + y0) */
    double mm[9] = { ca * ax, -sb * ay, ca * (bx - cx) - sb * (by - cy) + cx + x0,
                     sa * ax, cb * ay, sa * (bx - cx) + cb * (by - cy) + cy + y0, 0, 0, 1 };
    memcpy(m, mm, sizeof(mm));
}

/*
 * A perspective alignment: the uniform search on the centre of the clip
 * (where any smooth warp is nearly uniform), then rounds of local offsets
 * in tile-sized patches every half tile across the frame, each round
 * fitting a projective map to them (weights z^2; patches more than
 * WARP_MAX_RESIDUAL off the first fit dropped, then fitted again), with a
 * narrower search window each round. The whole clip is finally read under
 * the map and scored as the uniform candidates are.
 */
static int warp_search(Search *s, FmAlignment *out)
{
    const FmAccumulator *acc = s->acc;
    int W = acc->fw, H = acc->fh;
    out->warp = 0;
    out->score = -1;
    double nominal = acc->step / acc->fine_step;
    size_t nfine = (size_t)W * H;
    float *crop = malloc(sizeof(float) * nfine);
    float *boxed = malloc(sizeof(float) * nfine), *tmp = malloc(sizeof(float) * nfine);
    float *patch = malloc(sizeof(float) * FM_TILE * FM_TILE);
    int maxp = (W / 16 + 2) * (H / 16 + 2);
    double *pu = malloc(sizeof(double) * 5 * (size_t)maxp);
    float *plane = NULL;
    int ret = 0;
    if (!crop || !boxed || !tmp || !patch || !pu) {
        ret = FM_ENOMEM;
        goto end;
    }
    double *pv = pu + maxp, *px = pv + maxp, *py = px + maxp, *pw = py + maxp;

    /* 1. the centre: square steps WARP_SCAN_REL apart over
     * [WARP_SCAN_LO, WARP_SCAN_HI] x the nominal grid's (the clip's own
     * periods are smeared by the warp), each band of steps on a centre crop
     * WARP_CENTRE_TILES tiles wide at the band's largest step */
    FmAlignment ca;
    memset(&ca, 0, sizeof(ca));
    ca.score = -1;
    int cw = 0, ch = 0, x0 = 0, y0 = 0;
    double ca_alpha = 0, ca_beta = 0;
    for (int band = 0; band < WARP_BANDS; band++) {
        double lo = WARP_SCAN_LO * pow(WARP_SCAN_HI / WARP_SCAN_LO, (double)band / WARP_BANDS);
        double hi = WARP_SCAN_LO * pow(WARP_SCAN_HI / WARP_SCAN_LO, (double)(band + 1) / WARP_BANDS);
        double scan[WARP_MAX_SCAN];
        int ns = 0;
        for (double r = lo; r < hi * (1 + 1e-9) && ns < WARP_MAX_SCAN; r *= 1 + WARP_SCAN_REL)
            if (nominal * r >= MIN_MARK_STEP && nominal * r <= MAX_MARK_STEP)
                scan[ns++] = nominal * r;
        if (!ns)
            continue;
        int bw = (int)lround(WARP_CENTRE_TILES * FM_TILE * nominal * hi), bh = bw;
        if (bw > W) bw = W;
        if (bh > H) bh = H;
        int bx = (W - bw) / 2, by = (H - bh) / 2;
        for (int y = 0; y < bh; y++)
            memcpy(crop + (size_t)y * bw, s->evidence + (size_t)(y + by) * W + bx, sizeof(float) * bw);
        FmAccumulator sub = *acc;
        sub.fw = bw;
        sub.fh = bh;
        for (int t = 0; t < (2 * WARP_TURNS + 1) * (2 * WARP_TURNS + 1); t++) {
            double alpha = (t % (2 * WARP_TURNS + 1) - WARP_TURNS) * WARP_TURN_DEG;
            double beta = (t / (2 * WARP_TURNS + 1) - WARP_TURNS) * WARP_TURN_DEG;
            Search c = *s;
            float *read = alpha != 0 || beta != 0 ? turned(&sub, crop, alpha, beta) : NULL;
            if ((alpha != 0 || beta != 0) && !read) {
                ret = FM_ENOMEM;
                goto end;
            }
            c.acc = &sub;
            c.evidence = read ? read : crop;
            c.rotation_deg = 0;
            c.unflipped_only = read != NULL;  /* a mirrored copy: on axes as they are */
            FmAlignment local;
            memset(&local, 0, sizeof(local));
            local.score = -1;
            /* (no uniform climb: these square steps are as far apart as
             * the main search's scan, and the centre is refined by the
             * patches) */
            search_steps(&c, scan, 0, &local, ns, 1, 0);
            s->evaluated = c.evaluated;
            free(read);
            if (local.score > ca.score) {
                ca = local;
                cw = bw, ch = bh, x0 = bx, y0 = by;
                ca_alpha = alpha, ca_beta = beta;
            }
        }
    }
    if (!(ca.score > 0))
        goto end;
    double h[9];
    alignment_map(&ca, cw, ch, x0, y0, ca_alpha, ca_beta, h);

    /* 2. local offsets, a projective fit to them */
    int k = warp_box(ca.step_x, ca.step_y);
    double box_offset = (k - 1) / 2.0;
    fm_box_filter(s->evidence, W, H, k, boxed, tmp);
    double spacing = FM_TILE * (ca.step_x + ca.step_y) / 4;
    if (spacing < 8)
        spacing = 8;
    static const int windows[WARP_ITERATIONS] = { 16, 8, 4, 4 };
    for (int it = 0; it < WARP_ITERATIONS; it++) {
        double inv[9];
        if (fm_homography_invert(h, inv) < 0)
            break;
        int n = 0;
        for (double yc = spacing; yc < H - spacing / 2 && n < maxp; yc += spacing)
            for (double xc = spacing; xc < W - spacing / 2 && n < maxp; xc += spacing) {
                double uf, vf, du, dv;
                if (fm_homography_apply(inv, xc, yc, &uf, &vf) < 0 || fabs(uf) > 1e6 ||
                    fabs(vf) > 1e6)
                    continue;
                int uc = (int)lround(uf), vc = (int)lround(vf);
                double z = patch_offset(s, boxed, box_offset, h, uc, vc, windows[it], patch,
                                        &du, &dv);
                if (z < WARP_Z_MIN)
                    continue;
                pu[n] = uc + du;
                pv[n] = vc + dv;
                fm_homography_apply(h, uc, vc, &px[n], &py[n]);
                pw[n] = z * z;
                n++;
            }
        double fit[9];
        if (n < 4 || fm_homography_fit(pu, pv, px, py, pw, n, n < 10, fit) < 0)
            break;
        /* the patches far off the fit (a false peak) out, and again */
        double fit_inv[9];
        int kept = n;
        if (fm_homography_invert(fit, fit_inv) == 0) {
            double step = (ca.step_x + ca.step_y) / 2;
            for (int i = 0; i < n; i++) {
                double ru, rv;
                if (fm_homography_apply(fit_inv, px[i], py[i], &ru, &rv) < 0 ||
                    hypot(ru - pu[i], rv - pv[i]) > WARP_MAX_RESIDUAL * (step > 1 ? 1 : 1 / step)) {
                    pw[i] = 0;
                    kept--;
                }
            }
        }
        if (kept < 4 || fm_homography_fit(pu, pv, px, py, pw, n, kept < 10, fit) < 0)
            break;
        memcpy(h, fit, sizeof(h));
    }

    /* 3. the whole clip under the map */
    double inv[9], umin = INFINITY, umax = -INFINITY, vmin = INFINITY, vmax = -INFINITY;
    if (fm_homography_invert(h, inv) < 0)
        goto end;
    for (int corner = 0; corner < 4; corner++) {
        double u, v;
        if (fm_homography_apply(inv, corner & 1 ? W - 1 : 0, corner & 2 ? H - 1 : 0, &u, &v) < 0)
            goto end;
        umin = fmin(umin, u), umax = fmax(umax, u), vmin = fmin(vmin, v), vmax = fmax(vmax, v);
    }
    double mwd = ceil(umax) - floor(umin) + 1, mhd = ceil(vmax) - floor(vmin) + 1;
    if (!(mwd >= 8 && mhd >= 8 && mwd * mhd <= 4.0 * (double)nfine))
        goto end;
    int u0 = (int)floor(umin), v0 = (int)floor(vmin), mw = (int)mwd, mh = (int)mhd;
    if (!(plane = malloc(sizeof(float) * (size_t)mw * mh))) {
        ret = FM_ENOMEM;
        goto end;
    }
    fm_homography_render(boxed, W, H, box_offset, h, u0, v0, mw, mh, plane);
    fm_tile_fold(plane, mw, mh, mod_tile(u0), mod_tile(v0), s->tile);
    int dx, dy;
    s->evaluated++;
    out->score = best_shift(s, &dx, &dy);
    out->warp = 1;
    memcpy(out->h, h, sizeof(h));
    out->u0 = u0;
    out->v0 = v0;
    out->mw = mw;
    out->mh = mh;
    out->shift_x = mod_tile((long)u0 + dx);
    out->shift_y = mod_tile((long)v0 + dy);
    /* for the report: the map at the clip's centre */
    double uc, vc, x1, y1, x2, y2, x3, y3;
    if (fm_homography_apply(inv, W / 2.0, H / 2.0, &uc, &vc) == 0 &&
        fm_homography_apply(h, uc, vc, &x1, &y1) == 0 &&
        fm_homography_apply(h, uc + 1, vc, &x2, &y2) == 0 &&
        fm_homography_apply(h, uc, vc + 1, &x3, &y3) == 0) {
        out->step_x = hypot(x2 - x1, y2 - y1);
        out->step_y = hypot(x3 - x1, y3 - y1);
        out->flip_h = x2 < x1;
        out->flip_v = y3 < y1;
        out->rotation_deg = atan2(out->flip_h ? y1 - y2 : y2 - y1, fabs(x2 - x1)) * 180 / M_PI;
    }
end:
    free(crop);
    free(boxed);
    free(tmp);
    free(patch);
    free(pu);
    free(plane);
    return ret;
}

/* The search's own buffers and FFT plans, the pilot's spectrum, and the
 * sum of all frames' fine evidence (*total); 0 or FM_ENOMEM. */
static int search_open(Search *s, const FmAccumulator *acc, const float *pilot_tile, float **total)
{
    int W = acc->fw, H = acc->fh;
    memset(s, 0, sizeof(*s));
    s->acc = acc;
    s->pilot = pilot_tile;
    s->tile = fftwf_malloc(sizeof(float) * FM_TILE * FM_TILE);
    s->fold = malloc(sizeof(float) * FM_TILE * FM_TILE);
    s->xcorr = fftwf_malloc(sizeof(float) * FM_TILE * FM_TILE);
    s->pilot_f = fftwf_malloc(sizeof(fftwf_complex) * FM_TILE * (FM_TILE / 2 + 1));
    s->tile_f = fftwf_malloc(sizeof(fftwf_complex) * FM_TILE * (FM_TILE / 2 + 1));
    /* mark plane (to_mark_grid takes at most 2 W H samples), then the
     * resampling scratch (mark width x H <= W / MIN_MARK_STEP x H = 2 W H;
     * a candidate or its refinement can fall a little below MIN_MARK_STEP:
     * to_mark_grid refuses what does not fit) */
    s->scratch_cap = (size_t)W * H * 2 + 1024;
    s->plane = malloc(sizeof(float) * ((size_t)W * H * 2 + s->scratch_cap));
    *total = malloc(sizeof(float) * (size_t)W * H);
    if (!s->tile || !s->fold || !s->xcorr || !s->pilot_f || !s->tile_f || !s->plane || !*total)
        return FM_ENOMEM;
    fm_accumulator_fine_total(acc, *total);
    s->evidence = *total;
    s->fwd = fftwf_plan_dft_r2c_2d(FM_TILE, FM_TILE, s->tile, s->tile_f, FFTW_ESTIMATE);
    s->inv = fftwf_plan_dft_c2r_2d(FM_TILE, FM_TILE, s->tile_f, s->xcorr, FFTW_ESTIMATE);
    if (!s->fwd || !s->inv)
        return FM_ENOMEM;
    memcpy(s->tile, pilot_tile, sizeof(float) * FM_TILE * FM_TILE);
    fftwf_execute_dft_r2c(s->fwd, s->tile, s->pilot_f);
    return 0;
}

static void search_close(Search *s)
{
    if (s->fwd)
        fftwf_destroy_plan(s->fwd);
    if (s->inv)
        fftwf_destroy_plan(s->inv);
    fftwf_free(s->tile);
    free(s->fold);
    fftwf_free(s->xcorr);
    fftwf_free(s->pilot_f);
    fftwf_free(s->tile_f);
    free(s->plane);
    memset(s, 0, sizeof(*s));
}

/* The square zoom, or (anamorphic) the anamorphic one, unflipped, one
 * ratio after another. */
static int zoom_search(const FmAccumulator *acc, const float *sync_tile, double uniform_hypotheses,
                       int anamorphic, FmAlignment *best, FmError *err)
{
    Search s;
    float *total = NULL;
    double steps[MAX_ZOOM_STEPS];
    memset(best, 0, sizeof(*best));
    best->score = -1;
    int ret = search_open(&s, acc, sync_tile, &total);
    if (ret == 0) {
        if (!anamorphic) {
            search_steps(&s, steps, 0, best, zoom_steps(acc, ZOOM_HI, 1, steps), 1, 1);
        } else {
            s.unflipped_only = 1;
            for (size_t k = 0; k < sizeof anamorphic_ratios / sizeof anamorphic_ratios[0]; k++) {
                double a = anamorphic_ratios[k];
                search_steps(&s, steps, 0, best, zoom_steps(acc, ZOOM_ANAMORPHIC_HI, a, steps), a,
                             1);
            }
        }
        best->hypotheses = uniform_hypotheses + (double)s.evaluated * FM_TILE * FM_TILE;
        if (!(best->score > 0))
            ret = fm_error_set(err, FM_ENOTFOUND, "no zoomed alignment found");
    } else {
        fm_error_set(err, ret, "out of memory in the geometry search");
    }
    search_close(&s);
    free(total);
    return ret;
}

int fm_geometry_search_zoom(const FmAccumulator *acc, const float *sync_tile,
                            double uniform_hypotheses, FmAlignment *best, FmError *err)
{
    return zoom_search(acc, sync_tile, uniform_hypotheses, 0, best, err);
}

int fm_geometry_search_zoom_anamorphic(const FmAccumulator *acc, const float *sync_tile,
                                       double uniform_hypotheses, FmAlignment *best,
                                       FmError *err)
{
    return zoom_search(acc, sync_tile, uniform_hypotheses, 1, best, err);
}

int fm_geometry_search_warp(const FmAccumulator *acc, const float *sync_tile,
                            double uniform_hypotheses, FmAlignment *warped, FmError *err)
{
    Search s;
    float *total = NULL;
    memset(warped, 0, sizeof(*warped));
    warped->score = -1;
    int ret = search_open(&s, acc, sync_tile, &total);
    if (ret == 0)
        ret = warp_search(&s, warped);
    if (ret < 0) {
        fm_error_set(err, ret, "out of memory in the geometry search");
    } else {
        /* its own candidates, and every map the fit could have landed on:
         * WARP_RESOLUTION positions per corner coordinate (8), each with
         * every shift */
        warped->hypotheses = uniform_hypotheses + (double)s.evaluated * FM_TILE * FM_TILE +
                             pow(WARP_RESOLUTION, 8) * FM_TILE * FM_TILE;
        if (!warped->warp || !(warped->score > 0))
            ret = fm_error_set(err, FM_ENOTFOUND, "no perspective alignment found");
    }
    search_close(&s);
    free(total);
    return ret;
}

int fm_geometry_search(const FmAccumulator *acc, const float *pilot_tile, FmAlignment *best,
                       FmError *err)
{
    int W = acc->fw, H = acc->fh;
    int PW = 2 * W, PH = 2 * H;  /* zero padding: linear, not cyclic, correlation */
    size_t npad = (size_t)PW * PH, ncpad = (size_t)PH * (PW / 2 + 1);
    Search s;
    float *pad = fftwf_malloc(sizeof(float) * npad);
    fftwf_complex *spec = fftwf_malloc(sizeof(fftwf_complex) * ncpad);
    float *power = NULL, *total = NULL;  /* total: all frames' fine evidence */
    int ret = search_open(&s, acc, pilot_tile, &total);

    memset(best, 0, sizeof(*best));
    best->score = -1;
    if (ret < 0 || !pad || !spec) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory in the geometry search");
        goto end;
    }

    /* 1. autocorrelation of the evidence: the power spectra of the epochs'
     * own sums (the windows that kept fine evidence, grouped by epoch
     * length) are added. In format 7 only the periodic sync layer repeats
     * at the tile's period (the epoch layers' keyed cell signs take their
     * lattice away on purpose), so the picture's own structure is what
     * competes with it. */
    fftwf_plan p1 = fftwf_plan_dft_r2c_2d(PH, PW, pad, spec, FFTW_ESTIMATE);
    fftwf_plan p2 = fftwf_plan_dft_c2r_2d(PH, PW, spec, pad, FFTW_ESTIMATE);
    power = calloc(ncpad, sizeof(float));
    if (!power) {
        fftwf_destroy_plan(p1);
        fftwf_destroy_plan(p2);
        ret = fm_error_set(err, FM_ENOMEM, "out of memory in the geometry search");
        goto end;
    }
    int per_group = (int)(FM_EPOCH_SECONDS / FM_WINDOW_SECONDS + 0.5);
    int nfine = acc->nwin < FM_FINE_WINDOWS ? acc->nwin : FM_FINE_WINDOWS, groups = 0;
    for (int g0 = 0; g0 < nfine || (g0 == 0 && nfine == 0); g0 += per_group) {
        int any = 0;
        memset(pad, 0, sizeof(float) * npad);
        for (int w = g0; w < g0 + per_group && w < nfine; w++) {
            if (!acc->win[w].fine)
                continue;
            for (int y = 0; y < H; y++) {
                float *row = pad + (size_t)y * PW;
                const float *src = acc->win[w].fine + (size_t)y * W;
                for (int x = 0; x < W; x++)
                    row[x] += src[x];
            }
            any = 1;
        }
        if (!any) {   /* no window kept fine evidence: the sum of all frames */
            if (groups || g0 + per_group < nfine)
                continue;
            for (int y = 0; y < H; y++)
                memcpy(pad + (size_t)y * PW, total + (size_t)y * W, sizeof(float) * W);
        }
        fftwf_execute(p1);
        for (size_t i = 0; i < ncpad; i++)
            power[i] += spec[i][0] * spec[i][0] + spec[i][1] * spec[i][1];
        groups++;
    }
    for (size_t i = 0; i < ncpad; i++) {
        spec[i][0] = power[i];
        spec[i][1] = 0;
    }
    fftwf_execute(p2);
    fftwf_destroy_plan(p1);
    fftwf_destroy_plan(p2);

    double cx[NCAND], cy[NCAND];
    int lo_x = (int)(FM_TILE * MIN_MARK_STEP), hi_x = (int)(FM_TILE * MAX_MARK_STEP);
    if (hi_x > W * 4 / 5) hi_x = W * 4 / 5;
    int hi_y = (int)(FM_TILE * MAX_MARK_STEP);
    if (hi_y > H * 4 / 5) hi_y = H * 4 / 5;
    axis_candidates(pad, 1, W, H, W, lo_x, hi_x, cx);          /* lags (d, 0) */
    axis_candidates(pad, (int)PW, H, W, H, lo_x, hi_y, cy);    /* lags (0, d) */

    /* 2. score candidate step pairs (each axis's periods, and square pixels) x flips */

    double steps[6 * NCAND + 5 + MAX_CROP_STEPS + (6 * NCAND + 4) * 2 * SCAN_STEPS];
    int nsteps = 0;
    for (int k = 0; k < 2 * NCAND; k++) {
        double p = (k & 1 ? cy : cx)[k / 2];
        /* one axis's period may be the other's too (square pixels): tried once */
        int dup = p <= 0;
        for (int i = 0; i < nsteps && !dup; i++)
            dup = fabs(steps[i] * FM_TILE / p - 1) < 0.0005;
        if (!dup)
            steps[nsteps++] = p / FM_TILE;
    }
    /* the octaves of every period candidate: on a static, textured picture
     * the harmonic score can rank a period's double and half above the
     * period itself (the 768x576 static street camera squeezed to 576x576
     * kept 2.4 and 0.6 fine samples per mark pixel, not 1.2; squeezed to
     * 640x360 it kept 2.66, not 1.33), and the search then missed a mark
     * that reads at pilot z 35 once aligned */
    for (int k = 0; k < 2 * NCAND; k++) {
        double p = (k & 1 ? cy : cx)[k / 2] / FM_TILE;
        for (int o = 0; o < 2 && p > 0; o++) {
            double q = o ? 2 * p : p / 2;
            int dup = q < MIN_MARK_STEP || q > MAX_MARK_STEP;
            for (int i = 0; i < nsteps && !dup; i++)
                dup = fabs(steps[i] / q - 1) < 0.0005;
            if (!dup)
                steps[nsteps++] = q;
        }
    }
    /* the nominal grid's step squeezed or stretched by the common
     * anamorphic conversions (4:3 <-> 16:9, 2.39:1 <-> 16:9): a boxed
     * picture's own period can be missing from the candidates (the 768x576
     * street camera squeezed to 576 wide and pillarboxed in 768 showed none
     * near its x period in one of six marks), while its height, and so the
     * nominal step along the axis not squeezed, is often the clip's */
    for (size_t k = 0; k < sizeof anamorphic_ratios / sizeof anamorphic_ratios[0]; k++) {
        double q = acc->step / acc->fine_step * anamorphic_ratios[k];
        int dup = q < MIN_MARK_STEP || q > MAX_MARK_STEP;
        for (int i = 0; i < nsteps && !dup; i++)
            dup = fabs(steps[i] / q - 1) < 0.0005;
        if (!dup)
            steps[nsteps++] = q;
    }
    /* the nominal grid (whole picture height shown) is always a candidate */
    steps[nsteps++] = acc->step / acc->fine_step;

    int nsq = crop_steps(acc, steps, nsteps);
    nsq += scan_steps(steps, nsteps, nsq);

    s.evidence = total;
    search_steps(&s, steps, nsteps, best, nsq, 1, 1);

    best->hypotheses = (double)s.evaluated * FM_TILE * FM_TILE;
    if (best->score <= 0)
        ret = fm_error_set(err, FM_ENOTFOUND, "clip too small for the geometry search");
end:
    free(power);
    fftwf_free(pad);
    fftwf_free(spec);
    search_close(&s);
    free(total);
    return ret;
}
