#!/usr/bin/env python3
"""Copy attack: add an estimate of the mark (estimate.py) to video that was never marked.

    copy_attack.py -i UNMARKED --estimates EST.npz --which all,epoch,first1s
                   --psnr 45,40 -o PREFIX [--excerpts START:DUR@AS,...]
                   [--codec ffv1|raw|x264|crf12] [--name NAME]

Every frame gets  y + s * mask(y) * U(tile), as subtract.py but added, with s
set per frame for the target PSNR against the unmarked input. With per-epoch
estimates the tiles are laid down in epoch order: an output frame at master time
AS + j / fps (AS defaults to the excerpt's START) gets the estimate of that
epoch, so the forgery repeats the marked copy's sequence of variants.
Writes PREFIX.<estimate>.<psnr>.mkv or PREFIX.<estimate>.<psnr>.t<START>.mkv;
prints JSON lines. A forgery succeeds when `wmdetect` exits 0 on it (a valid
signed payload read from video that was never marked).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmattack as fa  # noqa: E402

ap = argparse.ArgumentParser(description="add an estimated mark to unmarked video")
ap.add_argument("-i", "--input", required=True)
ap.add_argument("-o", "--output", required=True, help="output prefix")
ap.add_argument("--estimates", required=True)
ap.add_argument("--which", default="all", help="comma-separated: all, epoch, const, cluster, fdiff, first1s")
ap.add_argument("--psnr", default="45,40")
ap.add_argument("--excerpts", default="")
ap.add_argument("--codec", default="ffv1", choices=["ffv1", "raw", "x264", "crf12"])
ap.add_argument("--no-mask", action="store_true")
ap.add_argument("--name", default="", help="prefix of the attack names in the JSON lines")
a = ap.parse_args()
if "auto" in a.psnr.split(","):
    sys.exit("copy_attack.py: 'auto' is for removal only")
z, meta = fa.load_estimates(a.estimates)
ests = [(w, fa.EpochTiles(z, meta, w)) for w in a.which.split(",")]
fa.run_change(a.input, a.output, a.excerpts, a.psnr.split(","), ests, 1, a.codec,
              not a.no_mask, a.name)
