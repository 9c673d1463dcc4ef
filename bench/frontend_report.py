#!/usr/bin/python3
"""Tabulates bench/frontend.sh runs (runs.tsv): per trial, the raw BER and
pilot z of every copy against the baseline's, and a summary line.

    frontend_report.py RUNS.tsv [BASELINE_LABEL] [LABEL...]

A label run several times keeps its last figures per copy."""
import sys

path = sys.argv[1]
base = sys.argv[2] if len(sys.argv) > 2 else "baseline"
want = sys.argv[3:]
runs = {}
order = []
for line in open(path):
    f = line.rstrip("\n").split("\t")
    if len(f) < 8 or line.startswith("#"):
        continue
    label, clip, copy, ber, z, ver, wver, wz = f[:8]
    if label not in runs:
        runs[label] = {}
        order.append(label)
    runs[label][(clip, copy)] = (float(ber), float(z), ver, wver, wz)

if base not in runs:
    sys.exit("no baseline run '%s' in %s" % (base, path))
B = runs[base]
labels = want or [l for l in order if l != base]

print("| trial | copies | mean raw BER (baseline) | mean raw BER | better / worse (> 0.5 pt) | verified (baseline → trial) | mean pilot z (baseline → trial) |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for l in labels:
    R = runs.get(l, {})
    keys = [k for k in B if k in R]
    if not keys:
        continue
    bb = sum(B[k][0] for k in keys) / len(keys)
    rb = sum(R[k][0] for k in keys) / len(keys)
    better = sum(R[k][0] < B[k][0] - 0.005 for k in keys)
    worse = sum(R[k][0] > B[k][0] + 0.005 for k in keys)
    vb = sum(B[k][2] == "yes" for k in keys)
    vr = sum(R[k][2] == "yes" for k in keys)
    zb = sum(B[k][1] for k in keys) / len(keys)
    zr = sum(R[k][1] for k in keys) / len(keys)
    print("| %s | %d | %.2f %% | %.2f %% | %d / %d | %d → %d | %.2f → %.2f |"
          % (l, len(keys), 100 * bb, 100 * rb, better, worse, vb, vr, zb, zr))

print()
cols = [base] + labels
print("Raw BER % (pilot z) per copy:")
print()
print("| clip | copy | " + " | ".join(cols) + " |")
print("| --- | --- | " + " | ".join("---" for _ in cols) + " |")
for k in B:
    cells = []
    for l in cols:
        r = runs.get(l, {}).get(k)
        cells.append("%.1f (%.1f)%s" % (100 * r[0], r[1], "" if r[2] == "yes" else " ✗")
                     if r else "–")
    print("| %s | %s | %s |" % (k[0], k[1], " | ".join(cells)))
