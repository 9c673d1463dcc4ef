#!/usr/bin/env python3
"""fec_real_report.py - the Markdown table of bench/fec_real.sh's JSON lines.

    bench/fec_real_report.py FILE.jsonl [--title TEXT]

One row per copy and excerpt: the detector's pilot z and the channel's raw
error rate (the share of coded-bit margins read wrong), then per code the
share of trials (random messages over the copy's own margins, shuffled) in
which the sent message came out of the decoder. Below it, per code: the
copies decoded in at least 95 % of their trials, and the mean success.
"""
import json
import sys


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args else 2
    title = "The message codes on the margins of real copies"
    if "--title" in args:
        i = args.index("--title")
        title = args[i + 1]
        del args[i:i + 2]
    rows = [json.loads(line) for line in open(args[0]) if line.strip()]
    if not rows:
        print("fec_real_report: no rows in " + args[0], file=sys.stderr)
        return 1
    skip = {"frames", "pilot_z", "signature_valid", "raw_ber", "trials", "expected_z"}
    codes = [k for k in rows[0]["result"] if k not in skip]
    rows.sort(key=lambda r: (r["clip"], r["attack"], -r["seconds"]))
    print("# " + title + "\n")
    print("| clip | copy | size | from | pilot z | raw BER | " + " | ".join(codes) + " |")
    print("| --- | --- | --- | ---: | ---: | ---: |" + " ---: |" * len(codes))
    for r in rows:
        res = r["result"]
        cells = []
        for c in codes:
            share = res[c]["ok"] / res["trials"]
            cells.append(("**%.0f %%**" if share >= 0.95 else "%.0f %%") % (100 * share))
        print("| %s | %s | %s | %d s | %.1f | %.1f %% | %s |" % (
            r["clip"], r["attack"], r["size"], r["seconds"], res["pilot_z"],
            100 * res["raw_ber"], " | ".join(cells)))
    print("\n| code | copies decoded in >= 95 % of trials | mean success |")
    print("| --- | ---: | ---: |")
    for c in codes:
        shares = [r["result"][c]["ok"] / r["result"]["trials"] for r in rows]
        print("| %s | %d of %d | %.1f %% |" % (c, sum(s >= 0.95 for s in shares), len(shares),
                                             100 * sum(shares) / len(shares)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
