#!/usr/bin/env python3
"""CONTROL for the removal attacks: the attacker's estimates moved by half a tile.

    misalign.py -i EST.npz -o EST_SHIFTED.npz [--shift 64]

Every tile of every estimate (estimate.py's npz) is rolled circularly by
--shift mark pixels down and right. The result has the same energy, spectrum
and 8 x 8 block structure as the estimate, and the same per-epoch changes,
but its DCT slots land on other slots, whose keyed signs are independent of
the ones it was estimated from: subtracting it (subtract.py) removes nothing
of the mark. What it still does to the detector is what any tile-periodic
pattern of that energy in the mark's bands does: if a removal attack and its
misaligned control break the read at the same PSNR, the break is jamming,
not estimation.
"""
import argparse
import json

import numpy as np

ap = argparse.ArgumentParser(description="roll every estimated tile by half a tile (control)")
ap.add_argument("-i", "--input", required=True)
ap.add_argument("-o", "--output", required=True)
ap.add_argument("--shift", type=int, default=64, help="mark pixels, down and right (a multiple of 8)")
a = ap.parse_args()
if a.shift % 8 or not 0 < a.shift % 128:
    raise SystemExit("misalign.py: --shift must be a multiple of 8, not of 128")
z = np.load(a.input)
meta = json.loads(str(z["meta"]))
meta["misaligned_by"] = a.shift
out = {k: np.roll(z[k], (a.shift, a.shift), axis=(-2, -1)) for k in z.files if k != "meta"}
np.savez(a.output, meta=json.dumps(meta), **out)
