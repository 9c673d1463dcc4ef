#!/usr/bin/env python3
"""Two bench/redetect.sh files side by side.

    bench/redetect_compare.py BEFORE.tsv AFTER.tsv

Prints a Markdown table of the copies whose exit status, status, pilot z
or raw bit error rate differ between the two reads (false-alarm p alone
moves with the hypotheses a search counts: its change is shown, not
counted), then a count of the copies read the same.
"""
import sys


def load(path):
    rows = {}
    for line in open(path):
        p = line.rstrip("\n").split("\t")
        if len(p) >= 12:
            rows[(p[1], p[2])] = p
    return rows


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = load(sys.argv[1]), load(sys.argv[2])
    la = next(iter(a.values()))[0] if a else "before"
    lb = next(iter(b.values()))[0] if b else "after"
    same, out = 0, []
    for k in sorted(set(a) & set(b)):
        x, y = a[k], b[k]
        if x[3:7] == y[3:7]:
            same += 1
            continue
        geo = lambda r: "%s×%s%s%s" % (r[8], r[9], ", %s°" % r[10] if r[10] not in ("", "0.0") else "",
                                       ", perspective" if r[11] == "True" else "")
        out.append("| %s | %s | %s → %s | %s → %s | %s → %s | %s → %s | %s → %s | %s → %s |" % (
            k[0], k[1], x[3], y[3], x[4], y[4], x[5], y[5],
            x[6] and "%.1f %%" % (100 * float(x[6])), y[6] and "%.1f %%" % (100 * float(y[6])),
            x[7], y[7], geo(x), geo(y)))
    print("Copies read differently (%s → %s):" % (la, lb))
    print()
    print("| clip | attack | exit | status | pilot z | raw BER | log10 p | geometry |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(out))
    print()
    only = len(set(a) ^ set(b))
    print("%d copies read the same (exit, status, pilot z, raw BER); %d differ%s." % (
        same, len(out), "; %d in one file only" % only if only else ""))


if __name__ == "__main__":
    main()
