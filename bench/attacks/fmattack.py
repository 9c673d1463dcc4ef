"""Shared pieces of the keyless attacks on filmmark marks (bench/attacks/*.py).

The attacker knows the published design (docs/DESIGN.md), not the key:
  * the mark lives in the luma, on a 'mark grid' of 360 rows that follows the
    picture height (3 picture pixels per mark pixel at 1080p);
  * it is a 128 x 128 mark-pixel tile repeated from the top-left corner;
  * it is shaped by a local-activity mask (more in texture, less in flat and
    dark areas);
  * format 2 changes the pattern every epoch (2 s of master time, epochs
    starting at master time 0, 2, 4, ... s).
Everything here is plain numpy; video goes in and out as raw frames through the
ffmpeg CLI. Nothing reads a key or calls filmmark code.

Fold period (environment variable FM_ATTACK_FOLD, read once at import):
  tile (default, or unset)  estimates are folded at the tile period, 128 x 128
                            mark pixels: the repetitions of the tile over the
                            picture are averaged into one tile;
  none                      no folding: the period is the whole mark grid
                            padded with zeros up to a multiple of 128 in each
                            direction (360 x 640 at 1080p -> 384 x 640), and
                            every grid position is estimated on its own (for
                            format 7, whose 128 x 128 cells each carry their
                            own keyed signs: folding them averages
                            independent patterns). This is the embedder's own
                            period (its plane of cells, sampled with wrap).
Every 'tile' below (Grid.fold, Grid.upsample, band_labels, the arrays in
estimate.py's npz) is a PY x PX array of that period (Grid.py, Grid.px).
"""
import json
import math
import os
import re
import subprocess
import sys

import numpy as np

TILE = 128          # tile period in mark pixels
GRID_ROWS = 360     # mark-grid rows over the picture height
FOLD = os.environ.get("FM_ATTACK_FOLD", "") or "tile"   # 'tile' or 'none' (module docstring)
if FOLD not in ("tile", "none"):
    sys.exit("fmattack: FM_ATTACK_FOLD=%s: want 'tile' or 'none'" % FOLD)


def fold_period(gh, gw):
    """(PY, PX), the fold period of a gh x gw mark grid: the tile (FOLD 'tile')
    or the grid padded up to multiples of the tile (FOLD 'none')."""
    if FOLD == "none":
        return -(-gh // TILE) * TILE, -(-gw // TILE) * TILE
    return TILE, TILE


# ----------------------------------------------------------------- video I/O
def probe(path):
    """width, height, fps (float), frame count, duration of the first video stream."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
         "-show_entries", "stream=width,height,r_frame_rate,nb_read_packets:format=duration",
         "-of", "json", path], check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    s = j["streams"][0]
    num, den = s["r_frame_rate"].split("/")
    return {"width": int(s["width"]), "height": int(s["height"]),
            "fps": float(num) / float(den), "fps_str": s["r_frame_rate"],
            "frames": int(s.get("nb_read_packets", 0)),
            "duration": float(j.get("format", {}).get("duration", 0.0))}


class Reader:
    """Raw frames from ffmpeg: 'gray' (luma only) or 'yuv420p' (Y, U, V planes).

    start/frames select an exact frame range (every filmmark output used here is
    intra-only FFV1 or lossless H.264, so seeking is frame exact)."""

    def __init__(self, path, width, height, pix_fmt="gray", start=0.0, frames=None):
        self.w, self.h, self.pix_fmt = width, height, pix_fmt
        self.ysize = width * height
        self.csize = (width // 2) * (height // 2) if pix_fmt == "yuv420p" else 0
        cmd = ["ffmpeg", "-nostdin", "-v", "error"]
        if start > 0:
            cmd += ["-ss", "%.6f" % start]
        cmd += ["-i", path, "-map", "0:v:0"]
        if frames is not None:
            cmd += ["-frames:v", str(int(frames))]
        cmd += ["-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, bufsize=1 << 24)

    def __iter__(self):
        n = self.ysize + 2 * self.csize
        while True:
            buf = self.p.stdout.read(n)
            if len(buf) < n:
                break
            a = np.frombuffer(buf, np.uint8)
            y = a[:self.ysize].reshape(self.h, self.w)
            if self.pix_fmt == "gray":
                yield y
            else:
                yield (y, a[self.ysize:])   # chroma planes kept as one flat block
        self.p.stdout.close()
        if self.p.wait() != 0:
            raise RuntimeError("ffmpeg reader failed")


class Writer:
    """yuv420p frames into a file: codec 'raw' (uncompressed in Matroska: exact,
    no encoding cost, 3 MB a 1080p frame), 'x264' (lossless H.264, -qp 0),
    'ffv1' (lossless), 'crf12' (x264 CRF 12, preset medium), or 'crfN@WxH'
    (scaled to W x H, bicubic, then x264 CRF N, preset veryfast: the attack
    followed by an everyday re-encode)."""

    def __init__(self, path, width, height, fps_str, codec="x264"):
        self.path = path
        self.tmp = os.path.join(os.path.dirname(path) or ".", "." + os.path.basename(path))
        if codec == "raw":
            enc = ["-c:v", "rawvideo"]
        elif codec == "ffv1":
            enc = ["-c:v", "ffv1", "-level", "3", "-g", "1", "-slices", "4", "-slicecrc", "1"]
        elif codec == "crf12":
            enc = ["-c:v", "libx264", "-preset", "medium", "-crf", "12"]
        elif re.fullmatch(r"crf\d+@\d+x\d+", codec):
            crf, size = codec[3:].split("@")
            enc = ["-vf", "scale=%s:%s:flags=bicubic" % tuple(size.split("x")),
                   "-c:v", "libx264", "-preset", "veryfast", "-crf", crf]
        else:
            enc = ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"]
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p",
               "-s", "%dx%d" % (width, height), "-framerate", fps_str, "-i", "-",
               *enc, "-pix_fmt", "yuv420p", "-f", "matroska", self.tmp]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, bufsize=1 << 24)

    def write(self, y, chroma):
        self.p.stdin.write(np.ascontiguousarray(y, np.uint8).tobytes())
        self.p.stdin.write(np.ascontiguousarray(chroma, np.uint8).tobytes())

    def close(self):
        self.p.stdin.close()
        if self.p.wait() != 0:
            raise RuntimeError("ffmpeg writer failed: " + self.path)
        os.replace(self.tmp, self.path)


# ----------------------------------------------------------------- geometry
def area_matrix(n_out, n_in):
    """(n_out x n_in) area-averaging matrix (each output sample = mean of the
    input interval it covers, fractional overlaps weighted)."""
    m = np.zeros((n_out, n_in), np.float32)
    scale = n_in / n_out
    for i in range(n_out):
        a, b = i * scale, (i + 1) * scale
        j = int(math.floor(a))
        while j < n_in and j < b:
            m[i, j] = min(b, j + 1) - max(a, j)
            j += 1
        m[i] /= m[i].sum()
    return m


class Bilinear1D:
    """Bilinear sampling along one axis: n_out samples at the centres of n_out
    equal intervals over the same extent as n_in input samples; periodic with
    period n_in when step is given (output sample i sits at input position
    (i + 0.5) * step - 0.5), else clamped at the edges."""

    def __init__(self, n_out, n_in, step=None):
        if step is None:
            pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
            pos = np.clip(pos, 0, n_in - 1)
            i0 = np.floor(pos).astype(np.intp)
            i1 = np.minimum(i0 + 1, n_in - 1)
        else:
            pos = (np.arange(n_out) + 0.5) * step - 0.5
            i0 = np.floor(pos).astype(np.intp)
            i1 = (i0 + 1) % n_in
            i0 = i0 % n_in
        self.i0, self.i1 = i0, i1
        self.f = (pos - np.floor(pos)).astype(np.float32)

    def rows(self, a):
        f = self.f[:, None]
        return a[self.i0] * (1 - f) + a[self.i1] * f

    def cols(self, a):
        f = self.f[None, :]
        return a[:, self.i0] * (1 - f) + a[:, self.i1] * f


def block_mean(a, f):
    """Mean over f x f blocks (a's sides are multiples of f), in float32."""
    a = a.astype(np.float32)
    r = a[0::f].copy()
    for i in range(1, f):
        r += a[i::f]
    c = r[:, 0::f].copy()
    for i in range(1, f):
        c += r[:, i::f]
    c *= 1.0 / (f * f)
    return c


def box(a, r):
    """Mean over a (2r+1)^2 window, edges replicated."""
    k = 2 * r + 1
    p = np.pad(a, r, mode="edge")
    c = np.cumsum(np.cumsum(p, 0, dtype=np.float64), 1)
    c = np.pad(c, ((1, 0), (1, 0)))
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return (s / (k * k)).astype(np.float32)


class Grid:
    """The mark grid of a picture size, and the maps between it and the picture;
    py x px is the fold period (fold_period): the shape of every tile."""

    def __init__(self, width, height):
        self.W, self.H = width, height
        self.gh = GRID_ROWS
        self.gw = int(round(width * GRID_ROWS / height))
        self.f = height // GRID_ROWS if height % GRID_ROWS == 0 else 0
        if not (self.f and width % self.f == 0 and width // self.f == self.gw):
            self.f = 0
            self.Ay = area_matrix(self.gh, height)
            self.Ax = area_matrix(self.gw, width).T.copy()
        self.py, self.px = fold_period(self.gh, self.gw)
        # picture <- tile (periodic bilinear), picture <- cells (clamped); with
        # FOLD 'none' the period covers the grid and only the picture's first
        # and last row / column wrap: part of the first one's sample comes from
        # the period's last row / column (the zero pad, or the grid's far edge
        # where the grid fills the period), part of the last one's from the
        # pad or, where the grid fills the period, its first; the embedder
        # samples its plane of cells (the padded grid) the same way
        step = GRID_ROWS / height
        self.Uy = Bilinear1D(height, self.py, step)
        self.Ux = Bilinear1D(width, self.px, step)
        self.ch, self.cw = self.gh // 2, max(1, self.gw // 2)
        self.cf = 2 * self.f
        if not self.cf:
            self.Cy = area_matrix(self.ch, height)
            self.Cx = area_matrix(self.cw, width).T.copy()
        self.By = Bilinear1D(height, self.ch)
        self.Bx = Bilinear1D(width, self.cw)
        # how many grid pixels fall on each tile pixel (at least 1: with FOLD
        # 'none' the zero pad gets none, and its folded sums stay 0); live:
        # the tile pixels that some grid pixel falls on (all but that pad)
        n = self.fold(np.ones((self.gh, self.gw), np.float64))
        self.live = n > 0
        self.fold_count = np.maximum(n, 1.0)

    def to_grid(self, y):
        if self.f:
            return block_mean(y, self.f)
        y = y.astype(np.float32)
        return self.Ay @ y @ self.Ax

    @staticmethod
    def highpass(g):
        """Grid minus its 5 x 5 local mean (the detector's window)."""
        return g - box(g, 2)

    @staticmethod
    def whiten(g):
        """Like the detector: minus the 5 x 5 mean, over the local std (floor 0.5),
        clipped to +-3."""
        m = box(g, 2)
        v = np.maximum(box(g * g, 2) - m * m, 0.25)
        return np.clip((g - m) / np.sqrt(v), -3, 3)

    def fold(self, g):
        """Sum a grid-sized array into one py x px tile (the fold period, from
        the top-left corner; the grid padded with zeros to whole periods)."""
        py, px = self.py, self.px
        ph = -g.shape[0] % py
        pw = -g.shape[1] % px
        p = np.pad(g, ((0, ph), (0, pw)))
        return p.reshape(p.shape[0] // py, py, p.shape[1] // px, px).sum(axis=(0, 2))

    def unfold(self, tile):
        """The tile repeated over the grid (grid-sized)."""
        ry = -(-self.gh // self.py)
        rx = -(-self.gw // self.px)
        return np.tile(tile, (ry, rx))[:self.gh, :self.gw]

    def upsample(self, tile):
        """The tile repeated over the picture, sampled bilinearly at every picture
        pixel centre (as the embedder renders it)."""
        return self.Ux.cols(self.Uy.rows(tile.astype(np.float32)))

    def activity_mask(self, y):
        """Local-activity gain per picture pixel, after the published embedder
        mask: cells of 2 mark pixels, gain = clamp((sqrt(s^2 + 1.5^2)/6)^0.6,
        0.3, 2) x dark(mean), 3 x 3 smoothing (capped at twice the cell's own
        gain), bilinear to pixels. More change where the picture is textured."""
        y = y.astype(np.float32)
        if self.cf:
            mu = block_mean(y, self.cf)
            m2 = block_mean(y * y, self.cf)
        else:
            mu = self.Cy @ y @ self.Cx
            m2 = self.Cy @ (y * y) @ self.Cx
        sd = np.sqrt(np.maximum(m2 - mu * mu, 0) + 2.25)
        g = np.clip((sd / 6.0) ** 0.6, 0.3, 2.0)
        t = np.clip((mu - 24.0) / 48.0, 0, 1)
        g *= 0.35 + 0.65 * t * t * (3 - 2 * t)
        g = np.minimum(box(g, 1), 2 * g)
        return self.Bx.cols(self.By.rows(g.astype(np.float32)))


# ------------------------------------------------------------ applying a change
def mse_target(psnr):
    return 255.0 ** 2 / 10 ** (psnr / 10.0)


def psnr_of(mse):
    return 99.0 if mse <= 0 else 10 * math.log10(255.0 ** 2 / mse)


def apply_scaled(y, d, psnr=None, alpha=None):
    """y (uint8) + s * d, rounded and clipped, with s chosen so that the result's
    luma PSNR against y is 'psnr' dB (two secant steps on the measured MSE,
    which includes rounding and clipping), or s = alpha when given. Returns
    (new luma, mse)."""
    yf = y.astype(np.float32)
    buf = np.empty_like(yf)

    def out(s):
        o = buf
        np.multiply(d, np.float32(s), out=o)
        np.add(o, yf, out=o)
        np.rint(o, out=o)
        np.clip(o, 0, 255, out=o)
        e = o - yf
        return o.copy(), float(np.einsum("ij,ij->", e, e, dtype=np.float64)) / e.size

    if alpha is not None:
        o, m = out(alpha)
        return o.astype(np.uint8), m
    target = mse_target(psnr)
    p = float(np.mean(d * d))
    if p <= 0:
        return y.copy(), 0.0
    r = 1 / 12.0   # rounding noise of a change spread over fractions
    s0 = math.sqrt(max(target - r, 0.5 * target) / p)
    o, m = out(s0)
    if abs(psnr_of(m) - psnr) > 0.03 and m > r:
        s1 = s0 * math.sqrt(max(target - r, 0.1 * target) / (m - r))
        o1, m1 = out(s1)
        if abs(m1 - target) < abs(m - target):
            o, m = o1, m1
    return o.astype(np.uint8), m


# ----------------------------------------------------------------- misc
def parse_excerpts(spec, duration):
    """'START:DUR[@AS],...' (seconds) -> [(start, dur, as_time)]; empty = whole clip.
    AS is the master time the excerpt pretends to be at (copy attack; default START)."""
    if not spec:
        return [(0.0, duration, 0.0)]
    out = []
    for part in spec.split(","):
        as_t = None
        if "@" in part:
            part, a = part.split("@")
            as_t = float(a)
        s, d = part.split(":")
        out.append((float(s), float(d), float(s) if as_t is None else as_t))
    return out


def null_factor(s, kind="auto-null"):
    """'auto-null' -> 1.0, 'auto-null*F' -> F (a deliberate miss of the
    calibrated null, to show how sharp it is), anything else -> None; the
    same for kind='auto-band'."""
    if s == kind:
        return 1.0
    if s.startswith(kind + "*"):
        return float(s[len(kind) + 1:])
    return None


def strength_name(s):
    if s in ("auto", "auto-epoch", "none") or null_factor(s) is not None or \
            null_factor(s, "auto-band") is not None:
        return s
    return "%g" % float(s)


def checkerboard(shape, odd=False):
    """A py x px array of 1 on every other TILE x TILE cell of the mark grid
    (the cells whose column + row is even, or odd), 0 elsewhere."""
    cy = (np.arange(shape[0]) // TILE)[:, None]
    cx = (np.arange(shape[1]) // TILE)[None, :]
    return (((cx + cy) % 2) == (1 if odd else 0)).astype(np.float32)


def corr(a, b):
    """Pearson correlation of two arrays (0 when either is constant)."""
    a = a - a.mean()
    b = b - b.mean()
    d = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / d) if d > 0 else 0.0


def epoch_chain(B, D, vd):
    """The frame-difference estimate along a chain of K epochs: per-epoch
    estimates B[k] and boundary differences D[k] (new epoch's first frame
    minus the old one's last; vd[k] its mean square, inf where epochs k-1
    and k are not consecutive) combined by least squares, minimising
    sum |w_k - B_k|^2/vb_k + |w_k - w_k-1 - D_k|^2/vd_k with vb_k the
    estimate's own mean square (shot cuts, whose difference is all picture,
    count for little). Arrays of any shape (K, ...); returns float64."""
    K = B.shape[0]
    vb = np.array([float(np.mean(B[i].astype(np.float64) ** 2)) + 1e-12 for i in range(K)])
    A = np.zeros((K, K))
    rhs = (B.reshape(K, -1) / vb[:, None]).astype(np.float64)
    for i in range(K):
        A[i, i] += 1 / vb[i]
        if i >= 1 and np.isfinite(vd[i]):
            w = 1 / vd[i]
            A[i, i] += w
            A[i - 1, i - 1] += w
            A[i, i - 1] -= w
            A[i - 1, i] -= w
            rhs[i] += D[i].reshape(-1) * w
            rhs[i - 1] -= D[i].reshape(-1) * w
    return np.linalg.solve(A, rhs).reshape(B.shape)


BAND_RINGS = 12     # auto-band: rings of the tile's spectrum ...
BAND_SECTORS = 4    # ... times orientation sectors


def band_labels(py=TILE, px=TILE):
    """Band index of every frequency of a py x px FFT (a tile of the fold
    period; both multiples of TILE): radius (in cycles per TILE mark pixels,
    whatever the period, so a band is the same spatial frequencies; rings of
    equal width up to the corner, 64 cycles each way) x orientation (4
    sectors of 45 degrees, a frequency and its mirror image in one); the
    lowest ring, DC included, is bands 0-3."""
    fy, fx = np.meshgrid(np.fft.fftfreq(py) * TILE, np.fft.fftfreq(px) * TILE, indexing="ij")
    r = np.hypot(fx, fy)
    ring = np.minimum((r / (r.max() + 1e-9) * BAND_RINGS).astype(int), BAND_RINGS - 1)
    ang = np.mod(np.arctan2(fy, fx), np.pi)
    sector = np.minimum((ang / (np.pi / BAND_SECTORS)).astype(int), BAND_SECTORS - 1)
    return (ring * BAND_SECTORS + sector).ravel()


def band_sums(a, b, labels):
    """Per band, the real part of sum(A * conj(B)) over its frequencies (A, B
    the FFTs): the correlation of a and b restricted to each band (Parseval)."""
    return np.bincount(labels, weights=np.real(a * np.conj(b)).ravel(),
                       minlength=BAND_RINGS * BAND_SECTORS)


def log(*a):
    print("[attacks]", *a, file=sys.stderr, flush=True)


# ------------------------------------------------- the common attack loop
def load_estimates(path):
    """The arrays and meta of estimate.py's npz; exits when they were folded
    with another FOLD setting than this run's."""
    z = np.load(path)
    meta = json.loads(str(z["meta"]))
    if meta.get("fold", "tile") != FOLD:
        sys.exit("fmattack: %s was estimated with FM_ATTACK_FOLD=%s, this run has %s" % (
            path, meta.get("fold", "tile"), FOLD))
    return z, meta


class EpochTiles:
    """Picks the tile of an estimate for a frame at master time t: one tile for
    every frame ('all', 'const', 'first1s') or one per epoch ('epoch', 'cluster',
    'fdiff'; epochs outside the estimated range use the nearest one)."""

    def __init__(self, z, meta, which):
        a = z[which]
        self.per_epoch = a.ndim == 3
        self.tiles = a
        self.epochs = meta["epochs"]
        self.epoch = meta["epoch"]

    def key(self, t):
        if not self.per_epoch:
            return 0
        k = int(math.floor(t / self.epoch + 1e-9))
        k = min(max(k, self.epochs[0]), self.epochs[-1])
        return self.epochs.index(k) if k in self.epochs else \
            int(np.argmin([abs(e - k) for e in self.epochs]))

    def tile(self, key):
        return self.tiles[key] if self.per_epoch else self.tiles


def run_change(inp, prefix, excerpts, strengths, estimates, sign, codec="ffv1",
               use_mask=True, attack=""):
    """For each excerpt of inp and each (name, EpochTiles) in estimates, adds
    sign * s * mask * (tile upsampled) to every frame, for each strength (target
    PSNR in dB against inp, or 'auto' = the scale at which the high-passed,
    folded result stops correlating with the attacker's own estimate, one
    scale per 10-s chunk, or 'auto-epoch' = the same scale found for each
    epoch of the chunk on its own: an attacker who calibrates every epoch's
    removal separately rather than over- and under-shooting with one scale,
    or 'auto-null' = the per-epoch scale with the host's share of the
    correlation taken out: the frames of the neighbouring epochs, which carry
    other marks but the same kind of picture, are projected on the epoch's
    estimate too, and what they give per frame is subtracted before the scale
    is solved (the estimate holds host texture, which makes 'auto-epoch'
    over-subtract); 'auto-null*F' applies F times that scale; or
    'auto-band[*F]' = the 'auto-null' calibration made for each frequency
    band of the tile (band_labels: the same spatial frequencies whatever the
    fold period) on its own, the epoch's tile rebuilt with
    every band scaled),
    writing PREFIX.<name>.<strength>[.t<start>].mkv.
    The input is decoded once for all estimates and strengths. Returns the
    result dicts (also printed as JSON lines as each excerpt is finished)."""
    info = probe(inp)
    W, H, fps = info["width"], info["height"], info["fps"]
    grid = Grid(W, H)
    for (name, tiles) in estimates:
        ty, tx = tiles.tiles.shape[-2:]
        if (ty, tx) != (grid.py, grid.px):
            sys.exit("fmattack: estimate '%s' is %d x %d, the fold period at %dx%d %d x %d "
                     "(FM_ATTACK_FOLD=%s)" % (name, ty, tx, W, H, grid.py, grid.px, FOLD))
    results = []
    cache = {}

    def up(name, tiles, key):
        if (name, key) not in cache:
            if len(cache) > 16:
                cache.pop(next(iter(cache)))
            cache[(name, key)] = grid.upsample(tiles.tile(key))
        return cache[(name, key)]

    chunk_len = int(round(10 * fps))
    for (start, dur, as_t) in parse_excerpts(excerpts, info["duration"]):
        nfr = int(round(dur * fps))
        a0 = int(round(as_t * fps))
        suffix = (".t%g" % start) if excerpts else ""
        outs = [(name, tiles, s) for (name, tiles) in estimates for s in strengths]
        writers = {(n, s): Writer("%s.%s.%s%s.mkv" % (prefix, n, strength_name(s), suffix),
                                  W, H, info["fps_str"], codec) for (n, _, s) in outs}
        stats = {(n, s): [] for (n, _, s) in outs}
        alphas = {n: [] for (n, _) in estimates}
        alphas_ep = {n: [] for (n, _) in estimates}
        alphas_nl = {n: [] for (n, _) in estimates}
        alphas_bd = {n: [] for (n, _) in estimates}
        labels = band_labels(grid.py, grid.px)
        j = 0

        def flush(chunk):
            masks = {}

            def mask(i):
                if i not in masks:
                    masks[i] = grid.activity_mask(chunk[i][0]) if use_mask else 1.0
                return masks[i]
            alpha, alpha_ep, alpha_nl, band_tile = {}, {}, {}, {}
            want_band = any(null_factor(x, "auto-band") is not None for x in strengths)
            want_null = want_band or any(null_factor(x) is not None for x in strengths)
            per_epoch = "auto-epoch" in strengths or want_null
            if "auto" in strengths or per_epoch:
                for (name, tiles) in estimates:
                    p0 = p1 = 0.0
                    e0, e1 = {}, {}
                    # auto-null: how much the frames of the neighbouring epochs
                    # (another mark, the same kind of picture) project on this
                    # epoch's estimate: the host's share of e0, to take out
                    nb_sum, nb_n, own_n = {}, {}, {}
                    # auto-band: the same sums per frequency band of the tile
                    bp, bd, bnb = {}, {}, {}
                    fts = {}

                    def ft(k):
                        if k not in fts:
                            fts[k] = np.fft.fft2(tiles.tile(k).astype(np.float64))
                        return fts[k]
                    step = 2 if per_epoch else 4
                    for i in range(0, len(chunk), step):
                        y, c, t = chunk[i]
                        key = tiles.key(t)
                        T = tiles.tile(key).astype(np.float64)
                        f0 = grid.fold(grid.highpass(grid.to_grid(y))) / grid.fold_count
                        f1 = grid.fold(grid.highpass(grid.to_grid(mask(i) * up(name, tiles, key)))) / grid.fold_count
                        q0, q1 = float(np.sum(f0 * T)), float(np.sum(f1 * T))
                        ek = int(math.floor(t / tiles.epoch + 1e-9))
                        e0[ek] = e0.get(ek, 0.0) + q0
                        e1[ek] = e1.get(ek, 0.0) + q1
                        own_n[ek] = own_n.get(ek, 0) + 1
                        if want_band:
                            F0 = np.fft.fft2(f0)
                            bp[ek] = bp.get(ek, 0.0) + band_sums(F0, ft(key), labels)
                            bd[ek] = bd.get(ek, 0.0) + band_sums(np.fft.fft2(f1), ft(key), labels)
                        if want_null and tiles.per_epoch:
                            for dk in (-1, 1):
                                kn = tiles.key(t + dk * tiles.epoch)
                                if kn == key:
                                    continue
                                qn = float(np.sum(f0 * tiles.tile(kn)))
                                nb_sum[ek + dk] = nb_sum.get(ek + dk, 0.0) + qn
                                nb_n[ek + dk] = nb_n.get(ek + dk, 0) + 1
                                if want_band:
                                    bnb[ek + dk] = bnb.get(ek + dk, 0.0) + band_sums(F0, ft(kn), labels)
                        if i % 4 == 0:
                            p0 += q0
                            p1 += q1
                    alpha[name] = max(p0 / p1, 0.0) if p1 > 0 else 0.0
                    alpha_ep[name] = {k: (max(e0[k] / e1[k], 0.0) if e1[k] > 0 else 0.0) for k in e0}
                    alpha_nl[name] = {}
                    for k in e0:
                        if nb_n.get(k, 0) > 0 and e1[k] > 0:
                            host = own_n[k] * nb_sum[k] / nb_n[k]
                            alpha_nl[name][k] = max((e0[k] - host) / e1[k], 0.0)
                        else:
                            alpha_nl[name][k] = alpha_ep[name][k]
                    if want_band:
                        # one scale per band: the host-corrected projection over
                        # the removal's own, clamped to [0, 2 x the epoch's
                        # scale] where a band's estimate is too poor to trust;
                        # the epoch's tile is rebuilt with every band scaled
                        band_tile[name] = {}
                        for k in e0:
                            a_all = alpha_nl[name][k]
                            num = bp[k] - (own_n[k] * bnb[k] / nb_n[k] if nb_n.get(k, 0) else 0.0)
                            den = bd[k]
                            ab = np.where(den > 0, num / np.where(den > 0, den, 1.0), a_all)
                            ab = np.clip(ab, 0.0, 2.0 * a_all)
                            kk = tiles.key(k * tiles.epoch + 1e-6)
                            scale = ab[labels].reshape(grid.py, grid.px)
                            # (times live: with FOLD 'none' the pad stays 0)
                            band_tile[name][k] = np.real(np.fft.ifft2(ft(kk) * scale)) * grid.live
                            alphas_bd[name].append(round(float(np.median(ab[1:])), 4))
                    alphas[name].append(alpha[name])
                    alphas_ep[name] += [round(alpha_ep[name][k], 4) for k in sorted(alpha_ep[name])]
                    alphas_nl[name] += [round(alpha_nl[name][k], 4) for k in sorted(alpha_nl[name])]
            for i, (y, c, t) in enumerate(chunk):
                m = mask(i)
                masks.pop(i, None)
                for (name, tiles) in estimates:
                    d = up(name, tiles, tiles.key(t)) * m
                    if sign < 0:
                        d = -d
                    for s in strengths:
                        if s == "none":   # the control: the excerpt as it is
                            o, mse = y, 0.0
                        elif s == "auto":
                            o, mse = apply_scaled(y, d, alpha=alpha[name])
                        elif s == "auto-epoch":
                            ek = int(math.floor(t / tiles.epoch + 1e-9))
                            o, mse = apply_scaled(y, d, alpha=alpha_ep[name].get(ek, alpha[name]))
                        elif null_factor(s) is not None:
                            ek = int(math.floor(t / tiles.epoch + 1e-9))
                            o, mse = apply_scaled(y, d, alpha=null_factor(s) * alpha_nl[name].get(ek, alpha[name]))
                        elif null_factor(s, "auto-band") is not None:
                            ek = int(math.floor(t / tiles.epoch + 1e-9))
                            if ek in band_tile[name]:
                                if (name, "band", ek) not in cache:
                                    if len(cache) > 16:
                                        cache.pop(next(iter(cache)))
                                    cache[(name, "band", ek)] = grid.upsample(band_tile[name][ek])
                                db = cache[(name, "band", ek)] * m
                                o, mse = apply_scaled(y, -db if sign < 0 else db,
                                                      alpha=null_factor(s, "auto-band"))
                            else:
                                o, mse = apply_scaled(y, d, alpha=null_factor(s, "auto-band") * alpha[name])
                        else:
                            o, mse = apply_scaled(y, d, psnr=float(s))
                        stats[(name, s)].append(mse)
                        writers[(name, s)].write(o, c)

        chunk = []
        for (y, c) in Reader(inp, W, H, "yuv420p", start=start, frames=nfr):
            chunk.append((y, c, (a0 + j) / fps))
            j += 1
            if len(chunk) == chunk_len:
                flush(chunk)
                chunk = []
        if chunk:
            flush(chunk)
        for (n, _, s) in outs:
            writers[(n, s)].close()
            ms = stats[(n, s)]
            r = {"attack": (attack + "-" + n) if attack else n, "estimate": n,
                 "strength": strength_name(s), "start": start, "file": writers[(n, s)].path,
                 "frames": len(ms),
                 "psnr": round(psnr_of(float(np.mean(ms))), 2) if ms else None,
                 "psnr_min": round(min(psnr_of(x) for x in ms), 2) if ms else None}
            if s == "auto":
                r["alpha"] = [round(x, 4) for x in alphas[n]]
            elif s == "auto-epoch":
                r["alpha"] = alphas_ep[n]
            elif null_factor(s) is not None:
                r["alpha"] = [round(null_factor(s) * x, 4) for x in alphas_nl[n]]
            elif null_factor(s, "auto-band") is not None:
                r["alpha"] = [round(null_factor(s, "auto-band") * x, 4) for x in alphas_bd[n]]
            results.append(r)
            print(json.dumps(r), flush=True)
        log("%s: excerpt at %g s, %d frames done" % (attack, start, j))
    return results
