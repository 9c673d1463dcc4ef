#!/usr/bin/env python3
"""Compares two robustness.json files (bench/robustness.sh) row by row.

    bench/compare_robustness.py BEFORE.json AFTER.json [CLIP...]

Prints a Markdown table per clip of the attacks both runs have: recovered
(yes/no), raw bit error rate before error correction, and the shortest
excerpt that recovers, before -> after, with each run's commit. Rows only
one run has are listed below the table. Used for the README's format 1 ->
format 2 figures.
"""
import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)["clips"]


def cell(a):
    det = a.get("detect") or {}
    ber = det.get("raw_bit_error_rate")
    rec = "yes" if a.get("recovered") else "no"
    ber_s = "–" if ber is None else f"{100 * ber:.1f} %"
    ex = (a.get("excerpt") or {}).get("shortest")
    ex_s = "–" if not a.get("recovered") else (f"{ex} s" if isinstance(ex, (int, float)) else "full")
    return rec, ber_s, ex_s


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    before, after = load(sys.argv[1]), load(sys.argv[2])
    clips = sys.argv[3:] or [c for c in after if c in before]
    for clip in clips:
        if clip not in before or clip not in after:
            print(f"{clip}: not in both files", file=sys.stderr)
            continue
        b, a = before[clip]["attacks"], after[clip]["attacks"]
        commits = lambda rows: sorted({r.get("run", {}).get("commit", "?") for r in rows.values()})
        print(f"### {clip}\n")
        print(f"before: commit {', '.join(commits(b))}; after: commit {', '.join(commits(a))}\n")
        print("| attack | recovered | raw BER | shortest excerpt |")
        print("| --- | --- | --- | --- |")
        for aid in sorted(a, key=lambda k: a[k].get("index", 0)):
            if aid not in b:
                continue
            rb, bb, eb = cell(b[aid])
            ra, ba, ea = cell(a[aid])
            print(f"| {a[aid].get('label', aid)} | {rb} → {ra} | {bb} → {ba} | {eb} → {ea} |")
        only = [k for k in a if k not in b] + [k for k in b if k not in a]
        if only:
            print(f"\nin one run only: {', '.join(sorted(only))}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
