#!/usr/bin/env python3
"""Removal attack: subtract an estimate of the mark (estimate.py) from a marked copy.

    subtract.py -i MARKED --estimates EST.npz --which all,epoch,const,cluster,fdiff
                --psnr auto,auto-epoch,45,40,35 -o PREFIX [--excerpts START:DUR,...]
                [--codec ffv1|raw|x264|crf12|crfN@WxH] [--no-mask] [--name NAME]
                [--cells even|odd]

Every frame gets  y - s * mask(y) * U(tile)  where U repeats the estimated tile
over the picture (bilinear, on the 360-row mark grid, from the top-left corner),
mask is a local-activity gain after the published embedder mask (more where the
picture is textured), tile is the estimate for the frame's epoch (master time =
frame index / fps) or the single tile, and s is set per frame so that the
result's luma PSNR against the marked copy is the target (after rounding and
clipping). 'auto' instead uses one s per 10-s chunk: the scale at which the
high-passed, folded result no longer correlates with the attacker's own
estimate (the attacker's best guess of exact removal, whatever its PSNR);
'auto-epoch' finds that scale for each epoch on its own (one scale for a
whole chunk over-subtracts some epochs, negating their mark, and
under-subtracts others). 'auto-null' is 'auto-epoch' with the host's share
taken out of the calibration: the frames of the neighbouring epochs (other
marks, the same kind of picture) are projected on the epoch's estimate as
well, and their mean projection per frame is subtracted before the scale is
solved, an unbiased guess of exact removal; 'auto-null*F' (e.g. *0.9, *1.1)
applies F times that scale, to show how sharp the null is. 'auto-band[*F]'
makes the 'auto-null' calibration for each of 48 frequency bands of the tile
(12 rings x 4 orientations of its FFT) on its own and rebuilds each epoch's
tile with every band scaled (clamped to [0, 2 x the epoch's scale]): the
detector weights its bands, so one scale for all leaves the mark where the
estimate is poor.

--cells even|odd (weight steering, attack e; needs FM_ATTACK_FOLD=none)
keeps each estimate only in every other 128 x 128 cell of the mark grid, in
a checkerboard from the top-left cell (even: the cells whose column + row is
even), and zero elsewhere: the change lands in those cells alone. Subtracted
well past exact removal (the PSNR targets), the time-constant part ('const',
'all': the sync layer) is inverted there, so that a detector which weighs
the grid's cells by the mark it measures on that layer would count those
cells, whose keyed pilots and data are left intact, as carrying nothing.

The estimates are those of estimate.py ('all' is attack a; 'epoch', 'const',
'cluster' attack b; 'fdiff' attack d); several can be given, the input is then
decoded once for all of them. Writes PREFIX.<estimate>.<strength>.mkv, or
PREFIX.<estimate>.<strength>.t<START>.mkv per excerpt (the excerpt of the
attacked copy, cut exactly; only those frames are processed; frame i of the
input is at master time i / fps). Output is FFV1 by default; 'raw'
(uncompressed, what bench/attacks.sh uses: exact and no encoding time),
lossless H.264, x264 CRF 12, or 'crfN@WxH' (scaled, then x264 CRF N, the
attack followed by an everyday re-encode) on request. Strength 'none' writes
the excerpt unchanged through the same codec (the control). Prints one JSON line per file with
the PSNR achieved (mean-MSE PSNR over its frames, and the worst frame).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmattack as fa  # noqa: E402

ap = argparse.ArgumentParser(description="subtract an estimated mark")
ap.add_argument("-i", "--input", required=True)
ap.add_argument("-o", "--output", required=True, help="output prefix")
ap.add_argument("--estimates", required=True)
ap.add_argument("--which", default="all", help="comma-separated: all, epoch, const, cluster, fdiff, first1s")
ap.add_argument("--psnr", default="auto,auto-epoch,45,40,35")
ap.add_argument("--excerpts", default="")
ap.add_argument("--codec", default="ffv1",
                help="ffv1, raw, x264 (lossless), crf12, or crfN@WxH (scaled, then x264 CRF N)")
ap.add_argument("--no-mask", action="store_true")
ap.add_argument("--name", default="", help="prefix of the attack names in the JSON lines")
ap.add_argument("--cells", default="", choices=["", "even", "odd"],
                help="keep the estimates in every other mark-grid cell only (checkerboard)")
a = ap.parse_args()
z, meta = fa.load_estimates(a.estimates)
ests = [(w, fa.EpochTiles(z, meta, w)) for w in a.which.split(",")]
if a.cells:
    if fa.FOLD != "none":
        sys.exit("subtract.py: --cells needs FM_ATTACK_FOLD=none (one tile is one cell when folded)")
    for (_, t) in ests:
        t.tiles = t.tiles * fa.checkerboard(t.tiles.shape[-2:], a.cells == "odd")
fa.run_change(a.input, a.output, a.excerpts, a.psnr.split(","), ests, -1, a.codec,
              not a.no_mask, a.name)
