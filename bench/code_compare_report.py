#!/usr/bin/env python3
"""Table of bench/code_compare.sh's JSON lines: one row per clip, attack and
excerpt; for builds A and B whether the copy verified blind (the right title
and recipient), the pilot z and the raw bit error rate.

    bench/code_compare_report.py bench/results/code_compare.jsonl > table.md
"""
import json
import sys


def cell(r):
    if r is None:
        return "—"
    ok = r["exit"] == 0 and r["title_id"] == 77 and r["recipient_id"] == 5
    z = "z %.1f" % r["pilot_z"] if r["pilot_z"] is not None else "z ?"
    ber = "%.1f %%" % (100 * r["raw_ber"]) if r["raw_ber"] is not None else "?"
    verdict = "**yes**" if ok else ("exit 3" if r["exit"] == 3 else "no")
    return "%s (%s, %s)" % (verdict, z, ber)


def main():
    rows, order = {}, []
    for line in open(sys.argv[1]):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        d = json.loads(line)
        key = (d["clip"], d["attack"], d["seconds"])
        if key not in rows:
            rows[key] = {}
            order.append(key)
        rows[key][d["build"]] = d
    print("| clip | attack | from | A: verified (pilot z, raw BER) | B: verified (pilot z, raw BER) |")
    print("| --- | --- | ---: | --- | --- |")
    wins = {"a": 0, "b": 0, "both": 0, "neither": 0}
    for key in order:
        a, b = rows[key].get("a"), rows[key].get("b")
        print("| %s | %s | %g s | %s | %s |" % (key[0], key[1], key[2], cell(a), cell(b)))
        oka = a is not None and a["exit"] == 0 and a["recipient_id"] == 5
        okb = b is not None and b["exit"] == 0 and b["recipient_id"] == 5
        wins["both" if oka and okb else "a" if oka else "b" if okb else "neither"] += 1
    print()
    print("Verified by both: %d; by A only: %d; by B only: %d; by neither: %d (of %d copies)."
          % (wins["both"], wins["a"], wins["b"], wins["neither"], len(order)))


if __name__ == "__main__":
    main()
