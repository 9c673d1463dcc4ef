#!/usr/bin/env python3
"""Temporal low-pass attack: replace every frame by the mean of N consecutive frames.

    temporal.py -i MARKED -o PREFIX --frames 2,3,5 [--excerpts START:DUR,...] [--codec ...]

Output frame i = rounded mean of frames i - (N-1)//2 ... i + N//2 (all planes;
at the ends of the clip the window is cut short). A mark that changes from
frame to frame averages out; the picture blurs where it moves. N = 1 copies
the input (the 'no attack' baseline through the same pipeline). Writes
PREFIX.n<N>.mkv or PREFIX.n<N>.t<START>.mkv; prints JSON lines with the luma
PSNR against the input.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmattack as fa  # noqa: E402

ap = argparse.ArgumentParser(description="temporal low-pass")
ap.add_argument("-i", "--input", required=True)
ap.add_argument("-o", "--output", required=True, help="output prefix")
ap.add_argument("--frames", default="2,3,5")
ap.add_argument("--excerpts", default="")
ap.add_argument("--codec", default="ffv1", choices=["ffv1", "raw", "x264", "crf12"])
ap.add_argument("--name", default="temporal")
a = ap.parse_args()
info = fa.probe(a.input)
W, H, fps = info["width"], info["height"], info["fps"]
Ns = [int(x) for x in a.frames.split(",")]
pre = max((n - 1) // 2 for n in Ns)
post = max(n // 2 for n in Ns)
total = info["frames"] or int(round(info["duration"] * fps))
for (start, dur, _) in fa.parse_excerpts(a.excerpts, info["duration"]):
    i0 = int(round(start * fps))
    nfr = min(int(round(dur * fps)), total - i0)
    r0 = max(0, i0 - pre)
    r1 = min(total, i0 + nfr + post)
    frames = [np.concatenate([y.ravel(), c]) for (y, c) in
              fa.Reader(a.input, W, H, "yuv420p", start=r0 / fps, frames=r1 - r0)]
    r1 = r0 + len(frames)
    suffix = (".t%g" % start) if a.excerpts else ""
    for n in Ns:
        w = fa.Writer("%s.n%d%s.mkv" % (a.output, n, suffix), W, H, info["fps_str"], a.codec)
        mses = []
        for i in range(i0, min(i0 + nfr, r1)):
            lo = max(r0, i - (n - 1) // 2)
            hi = min(r1, i + n // 2 + 1)
            acc = np.zeros(frames[0].shape, np.float32)
            for k in range(lo, hi):
                acc += frames[k - r0]
            o = np.rint(acc / (hi - lo)).astype(np.uint8)
            e = o[:W * H].astype(np.float32) - frames[i - r0][:W * H]
            mses.append(float(np.mean(e * e)))
            w.write(o[:W * H], o[W * H:])
        w.close()
        r = {"attack": a.name, "strength": "n%d" % n, "start": start, "file": w.path,
             "frames": len(mses),
             "psnr": round(fa.psnr_of(float(np.mean(mses))), 2) if mses else None,
             "psnr_min": round(min(fa.psnr_of(x) for x in mses), 2) if mses else None}
        print(json.dumps(r), flush=True)
    fa.log("%s: excerpt at %g s done" % (a.name, start))
