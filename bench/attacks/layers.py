#!/usr/bin/env python3
"""DIAGNOSTIC (uses the key; not an attack): which layer of the mark an attack hits.

    layers.py --master MASTER --marked MARKED --start S --roles ROLES.txt
              [--label NAME ATTACKED.mkv ...] [--json]

MASTER is the unmarked master and MARKED the marked copy (frame i of both at
master time i / fps); each ATTACKED file is an excerpt of an attacked copy
starting at S seconds of MARKED (as subtract.py writes them). ROLES.txt is
what slot_roles.c prints for the epochs the excerpt covers (with the key).

Every frame is put on the mark grid and whitened as the detector does
(estimate.py's whiten: minus the 5 x 5 mean, over the local std, clipped),
summed per epoch and folded at the tile period; each folded tile is read
into its 5120 slots (8 x 8 DCT, the 20 coefficients of pattern.c), and the
slots are split by their role in that epoch: sync (the same 256 slots in
every epoch), pilot (512 a epoch), coded data (4096), content tag (256).
With, per slot, M the mark (marked - master), R the attack (attacked -
marked) and P the picture (master), per layer, summed over the excerpt's
epochs:

  kept     sum((M + R) M) / sum(M^2): the share of the mark left along its own
           direction (1: untouched, 0: exactly removed, < 0: inverted)
  jam      sum((R - b M)^2) / sum(M^2), b = the epoch's sum(R M)/sum(M^2): the
           energy the attack adds ACROSS the mark, in units of the mark's own
           energy in that layer (noise to the detector that does not average
           away: it repeats in every tile and every frame)
  host     sum(P^2) / sum(M^2): the picture's own folded energy, same units
  kept_by_band  kept for each DCT frequency u + v = 1 .. 5 (the detector scales
           every band to unit variance and weighs it by its pilots' response,
           so a band where the mark is inverted or gone counts for little)
  slot_err the share of slots whose sign in the attacked copy (M + R + P)
           differs from the mark's (M): a raw error rate per slot and epoch,
           before the detector combines epochs and bands (for the marked copy
           itself: R = 0)

Prints one JSON object per file (and one for the marked copy, "none").
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmattack as fa  # noqa: E402

SLOT_COEF = [1, 8, 2, 9, 16, 3, 10, 17, 24, 4, 11, 18, 25, 32, 5, 12, 19, 26, 33, 40]
LAYERS = {"s": "sync", "p": "pilot", "d": "data", "t": "tag"}
# u + v of each of the 20 coefficients, repeated over the 256 blocks
BAND = np.tile(np.array([1] * 2 + [2] * 3 + [3] * 4 + [4] * 5 + [5] * 6), 256)


def dct_matrix():
    c = np.zeros((8, 8))
    for u in range(8):
        for x in range(8):
            c[u, x] = math.sqrt((1 if u == 0 else 2) / 8.0) * math.cos((2 * x + 1) * u * math.pi / 16)
    return c


C8 = dct_matrix()


def slots(tile):
    """The 5120 slot values of a 128 x 128 tile, in pattern.c's order."""
    b = tile.astype(np.float64).reshape(16, 8, 16, 8).transpose(0, 2, 1, 3)   # by, bx, y, x
    coef = np.einsum("vy,abyx,ux->abvu", C8, b, C8).reshape(16, 16, 64)
    return coef[:, :, SLOT_COEF].reshape(-1)


def read_roles(path):
    roles = {}
    for line in open(path):
        e, s = line.split()
        roles[int(e)] = np.frombuffer(s.encode(), np.uint8)
    return roles


def epoch_tiles(reader, grid, fps, t0, epoch_len):
    """Folded whitened sums per epoch: {epoch: tile}, frames at master time
    t0 + i / fps."""
    out = {}
    for i, y in enumerate(reader):
        k = int(math.floor((t0 + i / fps) / epoch_len + 1e-9))
        g = grid.fold(grid.whiten(grid.to_grid(y)))
        out[k] = out.get(k, 0) + g
    return out


def main():
    ap = argparse.ArgumentParser(description="per-layer effect of an attack (diagnostic, uses the key)")
    ap.add_argument("--master", required=True)
    ap.add_argument("--marked", required=True)
    ap.add_argument("--start", type=float, required=True)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--roles", required=True)
    ap.add_argument("--epoch", type=float, default=2.0)
    ap.add_argument("--label", nargs=2, action="append", default=[], metavar=("NAME", "FILE"))
    a = ap.parse_args()

    if fa.FOLD != "tile":
        sys.exit("layers.py: reads 128 x 128 tiles into slots; run it with FM_ATTACK_FOLD unset")
    info = fa.probe(a.marked)
    W, H, fps = info["width"], info["height"], info["fps"]
    grid = fa.Grid(W, H)
    nfr = int(round(a.duration * fps))
    roles = read_roles(a.roles)

    def tiles(path, start):
        return epoch_tiles(fa.Reader(path, W, H, "gray", start=start, frames=nfr), grid, fps,
                           a.start, a.epoch)

    P = tiles(a.master, a.start)
    Mk = tiles(a.marked, a.start)
    eps = sorted(P)
    missing = [e for e in eps if e not in roles]
    if missing:
        sys.exit("layers.py: no roles for epochs %s in %s" % (missing, a.roles))
    Ps = {e: slots(P[e]) for e in eps}
    Ms = {e: slots(Mk[e]) - Ps[e] for e in eps}

    def report(name, Rs):
        res = {"attack": name}
        for code, layer in LAYERS.items():
            mm = rm = jam = host = 0.0
            err = n = 0
            bmm, brm = np.zeros(6), np.zeros(6)
            for e in eps:
                sel = roles[e] == ord(code)
                m, r, p = Ms[e][sel], Rs[e][sel], Ps[e][sel]
                np.add.at(bmm, BAND[sel], m * m)
                np.add.at(brm, BAND[sel], r * m)
                emm = float(m @ m)
                b = float(r @ m) / emm if emm > 0 else 0.0
                mm += emm
                rm += float(r @ m)
                jam += float(np.sum((r - b * m) ** 2))
                host += float(p @ p)
                err += int(np.sum(np.sign(m + r + p) != np.sign(m)))
                n += int(sel.sum())
            res[layer] = {"kept": round(1 + rm / mm, 3), "jam": round(jam / mm, 3),
                          "host": round(host / mm, 3), "slot_err": round(err / n, 4),
                          "kept_by_band": [round(1 + brm[u] / bmm[u], 3) for u in range(1, 6)]}
        print(json.dumps(res), flush=True)

    report("none", {e: np.zeros_like(Ms[e]) for e in eps})
    for name, path in a.label:
        At = tiles(path, 0.0)
        if sorted(At) != eps:
            sys.exit("layers.py: %s covers epochs %s, not %s" % (path, sorted(At), eps))
        report(name, {e: slots(At[e]) - Ps[e] - Ms[e] for e in eps})


if __name__ == "__main__":
    main()
