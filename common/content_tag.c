#include "content_tag.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

#include "dsp.h"
#include "pattern.h"
#include "resample.h"

#define TAG_KDF_CONTEXT "fmtag005"

void fm_tag_key_init(FmTagKey *tk, const uint8_t wm_key[FM_WMKEY_BYTES])
{
    crypto_kdf_derive_from_key(tk->subkey, sizeof(tk->subkey), 1, TAG_KDF_CONTEXT, wm_key);
}

void fm_tag_key_wipe(FmTagKey *tk)
{
    sodium_memzero(tk, sizeof(*tk));
}

/* The +/-1 projections of one epoch, as bits (1 = +1): bit k of vector i is
 * bit i * FM_TAG_FEATURES + k of a ChaCha20 stream with the epoch as nonce. */
static void epoch_projections(const FmTagKey *tk, uint32_t epoch,
                              uint8_t bits[FM_TAG_BITS * FM_TAG_FEATURES / 8])
{
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = { 0 };
    for (int i = 0; i < 4; i++)
        nonce[i] = (uint8_t)(epoch >> (8 * i));
    crypto_stream_chacha20(bits, FM_TAG_BITS * FM_TAG_FEATURES / 8, nonce, tk->subkey);
}

int fm_tag_anchor(double centre)
{
    return FM_TILE * (int)floor(centre / FM_TILE + 0.5);
}

static void axis_anchors(double centre, int sh, int out[2])
{
    /* the centre in marked-picture coordinates, up to a multiple of the tile */
    double c = centre + sh;
    int a = fm_tag_anchor(c);
    out[0] = a - sh;
    out[1] = (c > a ? a + FM_TILE : a - FM_TILE) - sh;
}

/* The region's top-left corner relative to its anchor, in mark pixels. */
enum {
    REGION_X0 = -(FM_TAG_COLS * FM_TAG_CELL) / 2,
    REGION_Y0 = -(FM_TAG_ROWS * FM_TAG_CELL) / 2,
};

/* How many of n cells of FM_TAG_CELL starting at r0 lie wholly in [lo, hi). */
static int cells_inside(double r0, int n, double lo, double hi)
{
    int k = 0;
    for (int j = 0; j < n; j++)
        k += r0 + j * FM_TAG_CELL >= lo && r0 + (j + 1) * FM_TAG_CELL <= hi;
    return k;
}

int fm_tag_anchors(int gw, int gh, int sh_x, int sh_y, int ax[FM_BIND_ANCHORS],
                   int ay[FM_BIND_ANCHORS])
{
    int x[2], y[2], n = 0;
    axis_anchors(gw / 2.0, sh_x, x);
    axis_anchors(gh / 2.0, sh_y, y);
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 2; i++) {
            ax[n] = x[i];
            ay[n] = y[j];
            n++;
        }
    /* the other tile corners (congruent to -sh modulo FM_TILE) whose region
     * keeps half its cells in the plane, nearest the centre first */
    int fx = ((-sh_x) % FM_TILE + FM_TILE) % FM_TILE, fy = ((-sh_y) % FM_TILE + FM_TILE) % FM_TILE;
    int cx[FM_BIND_ANCHORS * 4], cy[FM_BIND_ANCHORS * 4], nc = 0;
    double cd[FM_BIND_ANCHORS * 4];
    for (int py = fy - FM_TILE; py <= gh + FM_TILE; py += FM_TILE)
        for (int px = fx - FM_TILE; px <= gw + FM_TILE; px += FM_TILE) {
            int k = 0;
            for (int a = 0; a < FM_BIND_CENTRAL; a++)
                k |= ax[a] == px && ay[a] == py;
            if (k || cells_inside(px + REGION_X0, FM_TAG_COLS, 0, gw) *
                             cells_inside(py + REGION_Y0, FM_TAG_ROWS, 0, gh) <
                         FM_TAG_FEATURES / 2 || nc == FM_BIND_ANCHORS * 4)
                continue;
            double dx = px - gw / 2.0, dy = py - gh / 2.0;
            /* insertion by distance */
            int at = nc++;
            while (at > 0 && cd[at - 1] > dx * dx + dy * dy) {
                cx[at] = cx[at - 1];
                cy[at] = cy[at - 1];
                cd[at] = cd[at - 1];
                at--;
            }
            cx[at] = px;
            cy[at] = py;
            cd[at] = dx * dx + dy * dy;
        }
    for (int c = 0; c < nc && n < FM_BIND_ANCHORS; c++, n++) {
        ax[n] = cx[c];
        ay[n] = cy[c];
    }
    return n;
}

double fm_tag_worst_coverage(double mw, double mh)
{
    /* rows: the marked picture is FM_MARK_HEIGHT high, its region's anchor
     * the corner nearest its middle; the clip shows mh of those rows */
    int ry0 = fm_tag_anchor(FM_MARK_HEIGHT / 2.0) + REGION_Y0, rows = FM_TAG_ROWS;
    for (double y0 = 0; y0 + mh <= FM_MARK_HEIGHT + 0.5; y0 += 1) {
        int k = cells_inside(ry0, FM_TAG_ROWS, y0, y0 + mh);
        rows = k < rows ? k : rows;
    }
    /* columns: any picture width up to the widest allowed, the clip
     * anywhere across it */
    double wmax = FM_TAG_MAX_ASPECT * FM_MARK_HEIGHT;
    int cols = FM_TAG_COLS;
    for (double w = mw; w <= (wmax > mw ? wmax : mw) + 0.5; w += 1) {
        int rx0 = fm_tag_anchor(w / 2.0) + REGION_X0;
        for (double x0 = 0; x0 + mw <= w + 0.5; x0 += 1) {
            int k = cells_inside(rx0, FM_TAG_COLS, x0, x0 + mw);
            cols = k < cols ? k : cols;
        }
    }
    return (double)rows * cols / FM_TAG_FEATURES;
}

double fm_tag_coverage_agreement(double coverage)
{
    if (!(coverage > 0))
        return 0;
    return 1 - 2 * acos(sqrt(coverage < 1 ? coverage : 1)) / M_PI;
}

void fm_tag_cells_clear(FmTagCells *c)
{
    memset(c, 0, sizeof(*c));
}

void fm_tag_cells_merge(FmTagCells *a, const FmTagCells *b)
{
    for (int k = 0; k < FM_TAG_FEATURES; k++) {
        a->sum[k] += b->sum[k];
        a->n[k] += b->n[k];
    }
}

void fm_tag_cells_add_plane(FmTagCells *c, const float *plane, int pw, int ph, int ax, int ay)
{
    for (int i = 0; i < FM_TAG_ROWS; i++) {
        int y0 = ay + REGION_Y0 + i * FM_TAG_CELL;
        for (int y = y0; y < y0 + FM_TAG_CELL; y++) {
            if (y < 0 || y >= ph)
                continue;
            const float *row = plane + (size_t)y * pw;
            for (int j = 0; j < FM_TAG_COLS; j++) {
                int x0 = ax + REGION_X0 + j * FM_TAG_CELL;
                int xa = x0 < 0 ? 0 : x0, xb = x0 + FM_TAG_CELL > pw ? pw : x0 + FM_TAG_CELL;
                if (xa >= xb)
                    continue;
                double s = 0;
                for (int x = xa; x < xb; x++)
                    s += row[x];
                c->sum[i * FM_TAG_COLS + j] += s;
                c->n[i * FM_TAG_COLS + j] += xb - xa;
            }
        }
    }
}

/* Sum of n samples, every step-th, from p: four independent running sums. */
static uint64_t row_sum_u8(const uint8_t *p, int n, int step)
{
    uint32_t a = 0, b = 0, c = 0, d = 0;
    int i = 0;
    if (step == 1)
        for (; i + 4 <= n; i += 4) {
            a += p[i];
            b += p[i + 1];
            c += p[i + 2];
            d += p[i + 3];
        }
    for (; i < n; i++)
        a += p[(size_t)i * step];
    return (uint64_t)a + b + c + d;
}

static uint64_t row_sum_u16(const uint16_t *p, int n, int step)
{
    uint64_t a = 0, b = 0, c = 0, d = 0;
    int i = 0;
    if (step == 1)
        for (; i + 4 <= n; i += 4) {
            a += p[i];
            b += p[i + 1];
            c += p[i + 2];
            d += p[i + 3];
        }
    for (; i < n; i++)
        a += p[(size_t)i * step];
    return a + b + c + d;
}

void fm_tag_cells_add_luma(FmTagCells *c, const uint8_t *luma, ptrdiff_t stride, int bit_depth,
                           int width, int height, int ax, int ay)
{
    /* picture pixels per mark pixel; the mark grid is FM_MARK_HEIGHT rows */
    double s = (double)height / FM_MARK_HEIGHT;
    /* every pixel up to 1440p: format 6's high-pass sees the cell means'
     * fine differences, and a sparser sampling (every 2nd pixel at 1080p)
     * flips some 4 % of the bits against the detector's full-area cells;
     * at 4K every 2nd pixel still leaves 9 a mark pixel */
    int step = s > 4.5 ? 2 : 1;
    double scale = bit_depth > 8 ? 1.0 / (double)(1 << (bit_depth - 8)) : 1.0;
    double mw = width / s, mh = FM_MARK_HEIGHT;   /* the picture in mark pixels */
    const FmDsp *dsp = fm_dsp_get();
    for (int i = 0; i < FM_TAG_ROWS; i++) {
        double my0 = ay + REGION_Y0 + i * FM_TAG_CELL, my1 = my0 + FM_TAG_CELL;
        int py0 = (int)ceil(my0 * s - 0.5), py1 = (int)ceil(my1 * s - 0.5);
        py0 = py0 < 0 ? 0 : py0;
        py1 = py1 > height ? height : py1;
        double ch = (my1 < mh ? my1 : mh) - (my0 > 0 ? my0 : 0);
        if (py0 >= py1 || ch <= 0)
            continue;
        for (int j = 0; j < FM_TAG_COLS; j++) {
            double mx0 = ax + REGION_X0 + j * FM_TAG_CELL, mx1 = mx0 + FM_TAG_CELL;
            int px0 = (int)ceil(mx0 * s - 0.5), px1 = (int)ceil(mx1 * s - 0.5);
            px0 = px0 < 0 ? 0 : px0;
            px1 = px1 > width ? width : px1;
            double cw = (mx1 < mw ? mx1 : mw) - (mx0 > 0 ? mx0 : 0);
            if (px0 >= px1 || cw <= 0)
                continue;
            /* whole code values: an integer sum is exact (and equals the
             * double sum of them in any order), and has no chain of
             * floating-point additions to wait on */
            uint64_t isum = 0;
            int nx = (px1 - px0 + step - 1) / step;
            long n = 0;
            for (int y = py0; y < py1; y += step, n += nx)
                isum += bit_depth > 8 ? row_sum_u16((const uint16_t *)(luma + (ptrdiff_t)y * stride) + px0,
                                                    nx, step)
                        : step == 1   ? dsp->sum_u8(luma + (ptrdiff_t)y * stride + px0, nx)
                                      : row_sum_u8(luma + (ptrdiff_t)y * stride + px0, nx, step);
            double sum = (double)isum;
            /* the cell's mean, counted by the mark pixels it covers (as
             * fm_tag_cells_add_plane counts them), whatever the rounding of
             * picture pixels */
            double area = ch * cw;
            c->sum[i * FM_TAG_COLS + j] += sum * scale / (double)n * area;
            c->n[i * FM_TAG_COLS + j] += area;
        }
    }
}

/* Format 5: least squares removes the mean and the linear trends along x
 * and y from the cells in use (use[k] = 1). Returns the RMS left. */
static double detrend(double *f, const int *use)
{
    double a[3][4] = { { 0 } };
    for (int k = 0; k < FM_TAG_FEATURES; k++) {
        if (!use[k])
            continue;
        double b[3] = { 1, (k % FM_TAG_COLS) - (FM_TAG_COLS - 1) / 2.0,
                        (k / FM_TAG_COLS) - (FM_TAG_ROWS - 1) / 2.0 };
        for (int r = 0; r < 3; r++) {
            for (int q = 0; q < 3; q++)
                a[r][q] += b[r] * b[q];
            a[r][3] += b[r] * f[k];
        }
    }
    /* Gauss-Jordan on the 3 x 3 normal equations */
    for (int p = 0; p < 3; p++) {
        if (fabs(a[p][p]) < 1e-9)
            return 0;
        for (int r = 0; r < 3; r++) {
            if (r == p)
                continue;
            double m = a[r][p] / a[p][p];
            for (int q = p; q < 4; q++)
                a[r][q] -= m * a[p][q];
        }
    }
    double coef[3] = { a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2] };
    double ss = 0;
    int n = 0;
    for (int k = 0; k < FM_TAG_FEATURES; k++) {
        if (!use[k]) {
            f[k] = 0;
            continue;
        }
        f[k] -= coef[0] + coef[1] * ((k % FM_TAG_COLS) - (FM_TAG_COLS - 1) / 2.0) +
                coef[2] * ((k / FM_TAG_COLS) - (FM_TAG_ROWS - 1) / 2.0);
        ss += f[k] * f[k];
        n++;
    }
    return n ? sqrt(ss / n) : 0;
}

/* Format 6: each cell in use less the mean of its neighbours in use, taken
 * in opposite pairs (left and right, up and down, the two diagonals; a pair
 * counts only when both cells are in use, so that a linear trend cancels at
 * the region's edges and around missing cells too), then less the mean of
 * the result. A local high-pass keeps the picture's own detail at the cell
 * scale and drops the layout that unrelated pictures share (a horizon, a
 * lit centre, a vignette), which a plane fit leaves in. A cell without a
 * pair (a corner) is not used. Returns the RMS left. */
static double highpass(double *f, int *use)
{
    static const int pair[4][2] = { { 0, 1 }, { 1, 0 }, { 1, 1 }, { 1, -1 } };
    double g[FM_TAG_FEATURES], mean = 0;
    int keep[FM_TAG_FEATURES], n = 0;
    for (int k = 0; k < FM_TAG_FEATURES; k++) {
        g[k] = 0;
        keep[k] = 0;
        if (!use[k])
            continue;
        int r = k / FM_TAG_COLS, c = k % FM_TAG_COLS, np = 0;
        double s = 0;
        for (int p = 0; p < 4; p++) {
            int r1 = r + pair[p][0], c1 = c + pair[p][1], r2 = r - pair[p][0], c2 = c - pair[p][1];
            if (r1 < 0 || r1 >= FM_TAG_ROWS || c1 < 0 || c1 >= FM_TAG_COLS || r2 < 0 ||
                r2 >= FM_TAG_ROWS || c2 < 0 || c2 >= FM_TAG_COLS ||
                !use[r1 * FM_TAG_COLS + c1] || !use[r2 * FM_TAG_COLS + c2])
                continue;
            s += f[r1 * FM_TAG_COLS + c1] + f[r2 * FM_TAG_COLS + c2];
            np++;
        }
        if (!np)
            continue;
        g[k] = f[k] - s / (2 * np);
        keep[k] = 1;
        mean += g[k];
        n++;
    }
    if (!n)
        return 0;
    mean /= n;
    double ss = 0;
    for (int k = 0; k < FM_TAG_FEATURES; k++) {
        use[k] = keep[k];
        f[k] = keep[k] ? g[k] - mean : 0;
        ss += f[k] * f[k];
    }
    return sqrt(ss / n);
}

int fm_tag_hash(const FmTagKey *tk, int format, uint32_t epoch, const FmTagCells *c,
                float proj[FM_TAG_BITS])
{
    double f[FM_TAG_FEATURES], nmax = 0;
    int use[FM_TAG_FEATURES], nuse = 0;
    memset(proj, 0, sizeof(float) * FM_TAG_BITS);
    for (int k = 0; k < FM_TAG_FEATURES; k++)
        nmax = c->n[k] > nmax ? c->n[k] : nmax;
    if (nmax <= 0)
        return 0;
    /* a cell counts when nearly all of it was seen (a crop or the picture's
     * edge cuts the others) */
    for (int k = 0; k < FM_TAG_FEATURES; k++) {
        use[k] = c->n[k] >= 0.9 * nmax;
        f[k] = use[k] ? c->sum[k] / c->n[k] : 0;
        nuse += use[k];
    }
    if (nuse < FM_TAG_FEATURES / 2)
        return 0;
    double rms = format == FM_MARK_FORMAT_TAG_V5 ? detrend(f, use) : highpass(f, use);
    if (!(rms >= (format == FM_MARK_FORMAT_TAG_V5 ? FM_TAG_FLAT_RMS_V5 : FM_TAG_FLAT_RMS)))
        return 0;
    nuse = 0;  /* the high-pass drops cells without a pair */
    for (int k = 0; k < FM_TAG_FEATURES; k++)
        nuse += use[k];
    double norm = 1.0 / (rms * sqrt((double)nuse));
    uint8_t bits[FM_TAG_BITS * FM_TAG_FEATURES / 8];
    epoch_projections(tk, epoch, bits);
    for (int i = 0; i < FM_TAG_BITS; i++) {
        double p = 0;
        for (int k = 0; k < FM_TAG_FEATURES; k++) {
            int r = i * FM_TAG_FEATURES + k;
            p += (bits[r >> 3] >> (r & 7)) & 1 ? f[k] : -f[k];
        }
        proj[i] = (float)(p * norm);
    }
    sodium_memzero(bits, sizeof(bits));
    return 1;
}

void fm_bind_add(FmBind *b, const float tag[FM_TAG_BITS], const float *mu, const float *var,
                 const float proj[FM_TAG_BITS])
{
    /* weights from the hash alone (independent of the tag read): the
     * smallest projections are the ones a re-encode or a grade can flip */
    double rms = 0;
    for (int i = 0; i < FM_TAG_BITS; i++)
        rms += (double)proj[i] * proj[i];
    rms = sqrt(rms / FM_TAG_BITS);
    if (!(rms > 0))
        return;
    for (int i = 0; i < FM_TAG_BITS; i++) {
        double w = fabs(proj[i]) / (0.5 * rms);
        if (w > 1)
            w = 1;
        double t = tag[i] * w;
        b->s += proj[i] > 0 ? t : -t;
        b->q += t * t;
        if (mu && var) {
            b->s_exp += w * mu[i];
            b->q_exp += w * w * ((double)mu[i] * mu[i] + var[i]);
        }
    }
    b->pairs++;
}

double fm_bind_expected_z(const FmBind *b)
{
    return b->q_exp > 0 ? b->s_exp / sqrt(b->q_exp) : 0;
}

double fm_bind_z(const FmBind *b)
{
    return b->q > 0 ? b->s / sqrt(b->q) : 0;
}

double fm_bind_agreement(const FmBind *b)
{
    return b->s_exp > 0 ? b->s / b->s_exp : 0;
}

double fm_bind_anchor_bar(int a)
{
    return a < FM_BIND_CENTRAL ? FM_BIND_Z : FM_BIND_Z_OUTER;
}

int fm_bind_confirmed(const FmBind *b)
{
    return b->pairs && fm_bind_z(b) >= (b->z_bar > 0 ? b->z_bar : FM_BIND_Z) &&
           fm_bind_agreement(b) >= FM_BIND_AGREEMENT;
}

int fm_tag_format(int i)
{
    return i == 0 ? FM_MARK_FORMAT_TAGGED : FM_MARK_FORMAT_TAG_V5;
}

int fm_tag_format_index(int format)
{
    if (format == FM_MARK_FORMAT_TAG_V6)
        format = FM_MARK_FORMAT_TAGGED;  /* format 7 has format 6's tag */
    for (int i = 0; i < FM_TAG_FORMATS; i++)
        if (fm_tag_format(i) == format)
            return i;
    return -1;
}

int fm_format_binds(int format)
{
    return fm_tag_format_index(format) >= 0;
}

void fm_format_mask(int format, uint8_t mask[FM_CODED_BITS])
{
    /* public and fixed: ChaCha20 of a constant key per format */
    static const uint8_t key4[crypto_stream_chacha20_KEYBYTES] = "filmmark mark format 4 coded";
    static const uint8_t key5[crypto_stream_chacha20_KEYBYTES] = "filmmark mark format 5 coded";
    static const uint8_t key6[crypto_stream_chacha20_KEYBYTES] = "filmmark mark format 6 coded";
    static const uint8_t key7[crypto_stream_chacha20_KEYBYTES] = "filmmark mark format 7 coded";
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    uint8_t stream[FM_CODED_BITS / 8];
    crypto_stream_chacha20(stream, sizeof(stream), nonce,
                           format == 4 ? key4 : format == 5 ? key5 : format == 6 ? key6 : key7);
    for (int i = 0; i < FM_CODED_BITS; i++)
        mask[i] = (stream[i >> 3] >> (i & 7)) & 1;
}

void fm_format_mask_signs(int format, int8_t sign[FM_CODED_BITS])
{
    uint8_t mask[FM_CODED_BITS];
    fm_format_mask(format, mask);
    for (int i = 0; i < FM_CODED_BITS; i++)
        sign[i] = (int8_t)(mask[i] ? -1 : 1);
}

void fm_format_remask(float soft[FM_CODED_BITS], int from, int to)
{
    int8_t a[FM_CODED_BITS], b[FM_CODED_BITS];
    fm_format_mask_signs(from, a);
    fm_format_mask_signs(to, b);
    for (int i = 0; i < FM_CODED_BITS; i++)
        soft[i] *= (float)(a[i] * b[i]);
}
