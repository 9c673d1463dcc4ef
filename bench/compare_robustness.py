#!/usr/bin/env python3
"""Compares two robustness.json files (bench/robustness.sh) row by row.

    bench/compare_robustness.py [--slots-per-bit B,A] BEFORE.json AFTER.json... [CLIP...]

Prints a Markdown table per clip of the attacks both runs have: recovered
(yes/no), raw bit error rate before error correction, and the shortest
excerpt that recovers, before -> after, with each run's commit (several
AFTER files: their clips together, a later file's clip replacing an
earlier one's). Rows only
one run has are listed below the table. Each clip ends with a count (and
the last line totals them): rows recovered by both, gained, lost; raw bit
errors lower, the same (within 0.1 point) or higher; among the rows both
recover, the shortest excerpt shorter, the same or longer. Used for the
README's format 1 -> format 2 and format 1 -> format 7 figures.

--slots-per-bit B,A: the two runs' mark formats carry each coded bit in B
and A slots of the tile (format 1: 4480 data slots for 1872 coded bits,
2.393; formats 3 to 7: 1). A coded bit's soft value is the sum of its
slots, so the same surviving mark gives a higher raw error rate where a
bit has fewer slots, and raw rates of two codes are not the same measure.
The option adds a column: the after run's rate as the before run's code
would have seen the same slots, Q(Q^-1(1 - p) sqrt(B / A)) (slots taken as
independent Gaussian evidence of equal strength: a model, not a
measurement), and counts the rows against that column too.
"""
import json
import sys
from statistics import NormalDist


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


EXCERPT_RANK = {"2": 0, "5": 1, "10": 2, "full": 3}


def excerpt_rank(a):
    ex = (a.get("excerpt") or {}).get("shortest")
    if isinstance(ex, (int, float)):
        ex = f"{ex:g}"
    return EXCERPT_RANK.get(str(ex), 3)


def equivalent(p, ratio):
    """Raw error rate p of a code with `ratio` times fewer slots per coded
    bit, as the other code would see the same slots (--slots-per-bit)."""
    p = min(max(p, 1e-12), 1 - 1e-12)
    n = NormalDist()
    return 1 - n.cdf(n.inv_cdf(1 - p) * ratio ** 0.5)


def tally(b, a, counts, ratio=None):
    """Adds the row pair (before b, after a) to counts."""
    rb, ra = bool(b.get("recovered")), bool(a.get("recovered"))
    key = "both" if rb and ra else "gained" if ra else "lost" if rb else "neither"
    counts[key] += 1
    eb = (b.get("detect") or {}).get("raw_bit_error_rate")
    ea = (a.get("detect") or {}).get("raw_bit_error_rate")
    if eb is not None and ea is not None:
        d = 100 * (ea - eb)
        counts["ber_lower" if d < -0.1 else "ber_higher" if d > 0.1 else "ber_same"] += 1
        if ratio:
            d = 100 * (equivalent(ea, ratio) - eb)
            counts["eq_lower" if d < -0.1 else "eq_higher" if d > 0.1 else "eq_same"] += 1
    if rb and ra:
        d = excerpt_rank(a) - excerpt_rank(b)
        counts["ex_shorter" if d < 0 else "ex_longer" if d > 0 else "ex_same"] += 1


def summary(c, ratio=None):
    eq = (f" (as the before run's code would see them: lower on {c['eq_lower']}, the same on "
          f"{c['eq_same']}, higher on {c['eq_higher']})") if ratio else ""
    return (f"recovered by both {c['both']}, gained {c['gained']}, lost {c['lost']}, "
            f"by neither {c['neither']}; raw bit errors lower on {c['ber_lower']}, "
            f"the same on {c['ber_same']}, higher on {c['ber_higher']}{eq}; shortest excerpt "
            f"(rows both recover) shorter on {c['ex_shorter']}, the same on {c['ex_same']}, "
            f"longer on {c['ex_longer']}")


KEYS = ("both", "gained", "lost", "neither", "ber_lower", "ber_same", "ber_higher",
        "eq_lower", "eq_same", "eq_higher", "ex_shorter", "ex_same", "ex_longer")


def main():
    args, ratio = sys.argv[1:], None
    if len(args) >= 2 and args[0] == "--slots-per-bit":
        try:
            sb, sa = (float(x) for x in args[1].split(","))
            ratio = sb / sa
        except ValueError:
            print("--slots-per-bit wants B,A (two positive numbers)", file=sys.stderr)
            return 2
        if not ratio > 0:
            print("--slots-per-bit wants B,A (two positive numbers)", file=sys.stderr)
            return 2
        args = args[2:]
    if len(args) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    before, after = load(args[0]), {}
    rest = args[1:]
    while rest and rest[0].endswith(".json"):
        after.update(load(rest[0]))
        rest = rest[1:]
    clips = rest or [c for c in after if c in before]
    total = dict.fromkeys(KEYS, 0)
    for clip in clips:
        if clip not in before or clip not in after:
            print(f"{clip}: not in both files", file=sys.stderr)
            continue
        b, a = before[clip]["attacks"], after[clip]["attacks"]
        commits = lambda rows: sorted({r.get("run", {}).get("commit", "?") for r in rows.values()})
        print(f"### {clip}\n")
        print(f"before: commit {', '.join(commits(b))}; after: commit {', '.join(commits(a))}\n")
        if ratio:
            print("| attack | recovered | raw BER | after, as the before code would see it "
                  "| shortest excerpt |")
            print("| --- | --- | --- | --- | --- |")
        else:
            print("| attack | recovered | raw BER | shortest excerpt |")
            print("| --- | --- | --- | --- |")
        counts = dict.fromkeys(KEYS, 0)
        for aid in sorted(a, key=lambda k: a[k].get("index", 0)):
            if aid not in b:
                continue
            rb, bb, eb = cell(b[aid])
            ra, ba, ea = cell(a[aid])
            if ratio:
                pa = (a[aid].get("detect") or {}).get("raw_bit_error_rate")
                eq = "–" if pa is None else f"{100 * equivalent(pa, ratio):.1f} %"
                print(f"| {a[aid].get('label', aid)} | {rb} → {ra} | {bb} → {ba} | {eq} "
                      f"| {eb} → {ea} |")
            else:
                print(f"| {a[aid].get('label', aid)} | {rb} → {ra} | {bb} → {ba} | {eb} → {ea} |")
            if b[aid].get("status", "ok") == "ok" and a[aid].get("status", "ok") == "ok":
                tally(b[aid], a[aid], counts, ratio)
        only = [k for k in a if k not in b] + [k for k in b if k not in a]
        if only:
            print(f"\nin one run only: {', '.join(sorted(only))}")
        print(f"\n{clip}: {summary(counts, ratio)}.\n")
        for k in KEYS:
            total[k] += counts[k]
    if len(clips) > 1:
        print(f"All clips: {summary(total, ratio)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
