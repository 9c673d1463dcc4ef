#!/usr/bin/env python3
"""Estimate the mark of a marked copy without the key (one pass over all frames).

    estimate.py -i MARKED -o EST.npz [--epoch 2] [--origin 0] [--first 1]
                [--no-whiten] [--oracle MASTER]

Every frame's luma is area-averaged onto the mark grid (360 rows), high-passed
(minus its 5 x 5 local mean; by default also divided by the local standard
deviation and clipped, as the published detector does, so that textured areas
do not drown the average) and summed: the picture averages away over many
frames, a mark that repeats does not. Sums are kept per epoch (2 s of master
time, epochs starting at master time 0; frame i of the copy is at master time
i / fps). The sums are folded at the tile period (128 mark pixels) into tiles,
unless FM_ATTACK_FOLD=none: then every 'tile' is the whole mark grid, padded
with zeros to multiples of 128 (384 x 640 at 1080p), each grid position
estimated on its own (fmattack.py's docstring; the meta records "fold" and
"period"):

  all      every frame                                       (attack a)
  epoch    one tile per epoch, from that epoch's frames      (attack b)
  const    per-pixel median of the epoch tiles: the part common to all epochs,
           robust to the epochs whose picture leaks into their tile (b, const)
  cluster  per epoch: const (scaled to the epoch tile) + the mean of the
           residuals (epoch tile - its least-squares share of const) over this epoch
           and all epochs of OTHER shots (cuts found from frame differences)
           whose residual correlates with this epoch's beyond 4 robust standard
           deviations of the cross-shot correlations (an attacker who groups
           epochs that share a pattern variant)                (b, cluster)
  fdiff    per epoch, from frame differences: at each epoch boundary the
           high-passed difference of the first frame of the new epoch and the
           last frame of the old one holds (new variant - old variant) plus
           only one frame's motion; these differences and the epoch tiles are
           combined by least squares along the chain of epochs
           (minimise sum |w_k - B_k|^2/vb_k + |w_k - w_k-1 - D_k|^2/vd_k, with
           vb, vd each estimate's own mean square, so shot cuts, whose
           difference is all picture, count for little)       (attack d)
  first1s  the frames of the first --first seconds (copy attack from 1 s)

--oracle MASTER (diagnostic, not part of the attack): also fold the true
embedded signal (marked - master, same high-pass) per epoch and over all frames
and report each estimate's correlation with it.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmattack as fa  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("-i", "--input", required=True)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--epoch", type=float, default=2.0, help="epoch length, seconds of master time")
    ap.add_argument("--origin", type=float, default=0.0, help="master time of the copy's first frame")
    ap.add_argument("--first", type=float, default=1.0, help="seconds for the 'first1s' estimate")
    ap.add_argument("--no-whiten", action="store_true", help="plain 5x5 high-pass, no division by the local std")
    ap.add_argument("--oracle", help="the unmarked master (diagnostic only)")
    a = ap.parse_args()

    info = fa.probe(a.input)
    W, H, fps = info["width"], info["height"], info["fps"]
    grid = fa.Grid(W, H)
    hp = grid.highpass if a.no_whiten else grid.whiten
    t0 = time.time()

    sums = {}      # epoch -> grid sum
    counts = {}
    first_f, last_f = {}, {}
    first_sum = np.zeros((grid.gh, grid.gw), np.float64)
    n_first = 0
    osums, ocounts = {}, {}
    oracle = fa.Reader(a.oracle, W, H, "gray") if a.oracle else None
    oit = iter(oracle) if oracle else None
    n = 0
    prev = None
    frame_diff = []     # mean |grid difference| to the previous frame: shot cuts
    epoch_of = []
    for y in fa.Reader(a.input, W, H, "gray"):
        t = a.origin + n / fps
        k = int(np.floor(t / a.epoch + 1e-9))
        g = grid.to_grid(y)
        frame_diff.append(float(np.mean(np.abs(g - prev))) if prev is not None else 0.0)
        epoch_of.append(k)
        prev = g
        h = hp(g)
        if k not in sums:
            sums[k] = np.zeros((grid.gh, grid.gw), np.float64)
            counts[k] = 0
            first_f[k] = h
        sums[k] += h
        counts[k] += 1
        last_f[k] = h
        if n / fps < a.first - 1e-9:
            first_sum += h
            n_first += 1
        if oit is not None:
            ym = next(oit)
            d = grid.highpass(grid.to_grid(y) - grid.to_grid(ym))
            if k not in osums:
                osums[k] = np.zeros((grid.gh, grid.gw), np.float64)
                ocounts[k] = 0
            osums[k] += d
            ocounts[k] += 1
        n += 1
        if n % 480 == 0:
            fa.log("estimate: %d frames, %.1f fps" % (n, n / (time.time() - t0)))
    if n == 0:
        sys.exit("estimate.py: no frames read")
    ks = sorted(sums)
    K = len(ks)
    fc = grid.fold_count

    def tile(s, c):
        return (grid.fold(s) / (fc * c)).astype(np.float32)

    B = np.stack([tile(sums[k], counts[k]) for k in ks])
    total = sum(sums[k] for k in ks)
    est = {"all": tile(total, n), "epoch": B, "first1s": tile(first_sum, max(n_first, 1))}

    # const: per-pixel median over epochs
    C = np.median(B, axis=0).astype(np.float32)
    est["const"] = C

    # cluster: group epochs whose residual variants correlate. Epochs of one
    # shot correlate through their picture, so only epochs of different shots
    # are compared (a cut: a frame difference over 4x the median and over 6
    # levels), and the threshold is 4 robust standard deviations of those
    # cross-shot correlations.
    fd = np.array(frame_diff)
    cut = (fd > max(6.0, 4 * float(np.median(fd)))) if len(fd) else fd.astype(bool)
    shot = np.cumsum(cut)
    shots_of = {k: set() for k in ks}
    for kk, sh in zip(epoch_of, shot):
        shots_of[kk].add(int(sh))
    # residual = epoch tile minus its least-squares share of the constant part
    # (the mark's gain in each epoch's whitened tile varies with the picture, so
    # a plain B - C would leave a common +-C in every residual)
    Cv = C.reshape(-1).astype(np.float64)
    Bv = B.reshape(K, -1).astype(np.float64)
    beta = (Bv @ Cv) / max(float(Cv @ Cv), 1e-30)
    R = Bv - beta[:, None] * Cv[None, :]
    R -= R.mean(axis=1, keepdims=True)
    nr = np.linalg.norm(R, axis=1, keepdims=True)
    nr[nr == 0] = 1
    G = (R / nr) @ (R / nr).T
    other = np.array([[not (shots_of[ks[i]] & shots_of[ks[j]]) for j in range(K)] for i in range(K)])
    off = G[other] if other.any() else np.zeros(1)
    sig = 1.4826 * float(np.median(np.abs(off - np.median(off)))) if other.any() else 1.0
    sig = max(sig, 1.0 / np.sqrt(R.shape[1]))
    member = (G > float(np.median(off)) + 4 * sig) & other
    np.fill_diagonal(member, True)
    est["cluster"] = np.stack([beta[i] * C + R[member[i]].mean(axis=0).reshape(grid.py, grid.px)
                               for i in range(K)]).astype(np.float32) * grid.live   # the pad stays 0
    cluster_sizes = member.sum(axis=1)

    # fdiff: chain least squares over epoch tiles and boundary differences
    D = np.zeros_like(B)
    vd = np.full(K, np.inf)
    for i in range(1, K):
        if ks[i] == ks[i - 1] + 1:
            D[i] = (grid.fold(first_f[ks[i]] - last_f[ks[i - 1]]) / fc).astype(np.float32)
            vd[i] = float(np.mean(D[i].astype(np.float64) ** 2)) + 1e-12
    est["fdiff"] = fa.epoch_chain(B, D, vd).astype(np.float32)

    meta = {"input": os.path.abspath(a.input), "width": W, "height": H, "fps": fps,
            "frames": n, "epoch": a.epoch, "origin": a.origin, "epochs": ks,
            "epoch_frames": [counts[k] for k in ks], "first_frames": n_first,
            "whiten": not a.no_whiten, "fold": fa.FOLD, "period": [grid.py, grid.px],
            "seconds": round(time.time() - t0, 1),
            "shots": int(shot[-1]) + 1 if len(shot) else 0,
            "cluster_sizes": [int(x) for x in cluster_sizes],
            "cluster_sigma": sig}
    if oit is not None:
        T = np.stack([tile(osums[k], ocounts[k]) for k in ks])
        Tall = tile(sum(osums[k] for k in ks), n)
        first_k = [i for i, k in enumerate(ks) if (k + 1) * a.epoch <= a.origin + a.first + 1e-9] or [0]
        q = {"all": fa.corr(est["all"], Tall), "const": fa.corr(C, Tall),
             "first1s": fa.corr(est["first1s"], T[first_k].mean(axis=0))}
        for name in ("epoch", "cluster", "fdiff"):
            q[name] = float(np.median([fa.corr(est[name][i], T[i]) for i in range(K)]))
        q["all_vs_epochs"] = float(np.median([fa.corr(est["all"], T[i]) for i in range(K)]))
        q["true_epoch_to_epoch"] = float(np.median([fa.corr(T[i], T[i + 1]) for i in range(K - 1)])) if K > 1 else 1.0
        meta["oracle_correlation"] = q
        fa.log("oracle correlations: " + json.dumps({k: round(v, 3) for k, v in q.items()}))
    tmp = a.output + ".tmp.npz"
    np.savez(tmp, meta=json.dumps(meta), **est)
    os.replace(tmp, a.output)
    fa.log("estimate: %d frames, %d epochs in %.0f s -> %s" % (n, K, time.time() - t0, a.output))
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
