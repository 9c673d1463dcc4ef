#!/usr/bin/env python3
"""Side by side: several detectors' reads of the same attacked files.

    compare_detectors.py LABEL=RESULTS.jsonl [LABEL=RESULTS.jsonl ...]

Each RESULTS.jsonl holds detect.py's lines for one detector (bench/attacks.sh
--keep leaves the attacked files and its own results.jsonl in --work; feed the
same attack lines to `detect.py --bin OTHER_BUILD --keep` for another
detector). Prints a markdown table: per attacked file (attack, strength,
excerpt start, PSNR) each detector's raw bit errors, pilot z and exit code,
and a count of exit 0 (verified) per detector. Files missing from a run are
shown as '-'.
"""
import json
import sys

runs = []
for arg in sys.argv[1:]:
    if "=" not in arg:
        sys.exit("compare_detectors.py: want LABEL=RESULTS.jsonl, not '%s'" % arg)
    label, path = arg.split("=", 1)
    with open(path) as f:
        recs = [json.loads(l) for l in f if l.strip().startswith("{")]
    runs.append((label, {(r["attack"], r["strength"], r["start"]): r for r in recs}))
if not runs:
    sys.exit(__doc__.strip().splitlines()[2])

keys = sorted({k for _, rs in runs for k in rs}, key=lambda k: (k[0], k[1] != "none", k[1], k[2]))
print("| attack | strength | start s | PSNR dB | " + " | ".join(
    "%s: raw BER, pilot z, exit" % lab for lab, _ in runs) + " |")
print("| --- | --- | --- | --- | " + " | ".join("---" for _ in runs) + " |")
for k in keys:
    psnr = next((rs[k].get("psnr") for _, rs in runs if k in rs), None)
    cells = []
    for _, rs in runs:
        r = rs.get(k)
        if r is None or r.get("raw_bit_error_rate") is None:
            cells.append("-")
        else:
            cells.append("%.1f %%, %.1f, %s" % (100 * r["raw_bit_error_rate"], r.get("pilot_z") or 0,
                                                r.get("exit")))
    print("| %s | %s | %g | %s | %s |" % (k[0], k[1], k[2], "-" if psnr is None else "%.2f" % psnr,
                                          " | ".join(cells)))
print()
for lab, rs in runs:
    att = [r for k, r in rs.items() if k[1] != "none"]
    print("* %s: exit 0 on %d of %d attacked files (controls: %d of %d)" % (
        lab, sum(1 for r in att if r.get("exit") == 0), len(att),
        sum(1 for k, r in rs.items() if k[1] == "none" and r.get("exit") == 0),
        sum(1 for k in rs if k[1] == "none")))
