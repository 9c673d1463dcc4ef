#!/usr/bin/env python3
"""Diagnostic (needs the unmarked master): how much the tile period helps the
keyless estimator, i.e. what a mark without spatial repetition would deny it.

    fold_gain.py -i MARKED --oracle MASTER [--seconds N] [--epoch 2]

estimate.py's per-epoch estimates fold each epoch's mean whitened frame at the
tile period: the ~15 repetitions of the tile over a 1080p picture carry the
same mark but different picture, so folding averages the picture down and
keeps the mark. A layout in which every tile position holds its own keyed
variant (the detector knows the map, the attacker does not) leaves only the
average over the epoch's frames, position by position. This script computes
both estimates on the same copy, per epoch, and their correlation with the
true embedded signal of the epoch (marked - master, high-passed), for the
plain per-epoch mean and for the frame-difference chain (estimate.py's
'fdiff', which cancels a still picture between epochs):

  rho_fold    the estimate as built now (folded), against the folded truth
  rho_nofold  the same mean, position by position, against the truth there

An attacker who nulls the estimate's projection exactly leaves about
(1 - rho^2) of the mark's correlation (the part of the mark the estimate does
not explain), so the median of 1 - rho^2 over the epochs is printed for each:
the fraction of the mark a perfectly calibrated removal would leave.
With FM_ATTACK_FOLD=none the 'fold' is the whole grid (fmattack.py): rho_fold
is then rho_nofold over the grid padded with zeros, and the two agree but
for the pad. Prints one JSON object.
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
    ap.add_argument("--oracle", required=True, help="the unmarked master")
    ap.add_argument("--seconds", type=float, default=0, help="only the first N seconds (0: all)")
    ap.add_argument("--epoch", type=float, default=2.0)
    a = ap.parse_args()
    info = fa.probe(a.input)
    W, H, fps = info["width"], info["height"], info["fps"]
    grid = fa.Grid(W, H)
    nmax = int(round(a.seconds * fps)) if a.seconds > 0 else None
    t0 = time.time()
    sums, tsums, counts, first_f, last_f = {}, {}, {}, {}, {}
    n = 0
    for y, ym in zip(fa.Reader(a.input, W, H, "gray", frames=nmax),
                     fa.Reader(a.oracle, W, H, "gray", frames=nmax)):
        k = int(np.floor(n / fps / a.epoch + 1e-9))
        g = grid.to_grid(y)
        h = grid.whiten(g)
        d = grid.highpass(g - grid.to_grid(ym))
        if k not in sums:
            sums[k] = np.zeros_like(h, dtype=np.float64)
            tsums[k] = np.zeros_like(h, dtype=np.float64)
            counts[k] = 0
            first_f[k] = h
        sums[k] += h
        tsums[k] += d
        counts[k] += 1
        last_f[k] = h
        n += 1
    ks = sorted(sums)
    K = len(ks)
    fc = grid.fold_count
    B = np.stack([sums[k] / counts[k] for k in ks])
    T = np.stack([tsums[k] / counts[k] for k in ks])
    Bf = np.stack([grid.fold(b) / fc for b in B])
    Tf = np.stack([grid.fold(t) / fc for t in T])
    D = np.zeros_like(B)
    vd = np.full(K, np.inf)
    for i in range(1, K):
        if ks[i] == ks[i - 1] + 1:
            D[i] = first_f[ks[i]] - last_f[ks[i - 1]]
            vd[i] = float(np.mean(D[i] ** 2)) + 1e-12
    Df = np.stack([grid.fold(x) / fc for x in D])
    vdf = np.array([float(np.mean(Df[i] ** 2)) + 1e-12 if np.isfinite(vd[i]) else np.inf for i in range(K)])
    E = fa.epoch_chain(B, D, vd)
    Ef = fa.epoch_chain(Bf, Df, vdf)
    r = {}
    for name, est_f, est_n in (("epoch", Bf, B), ("fdiff", Ef, E)):
        rf = [fa.corr(est_f[i], Tf[i]) for i in range(K)]
        rn = [fa.corr(est_n[i], T[i]) for i in range(K)]
        r[name] = {"rho_fold": round(float(np.median(rf)), 4),
                   "rho_nofold": round(float(np.median(rn)), 4),
                   "left_fold": round(float(np.median([1 - x * x for x in rf])), 4),
                   "left_nofold": round(float(np.median([1 - x * x for x in rn])), 4),
                   "rho_fold_epochs": [round(x, 3) for x in rf],
                   "rho_nofold_epochs": [round(x, 3) for x in rn]}
    out = {"input": os.path.abspath(a.input), "frames": n, "epochs": K, "width": W, "height": H,
           "fold": fa.FOLD, "period": [grid.py, grid.px],
           "tile_repeats": round(float(np.mean(fc)), 2), "seconds": round(time.time() - t0, 1),
           "estimates": r}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
