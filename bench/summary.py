#!/usr/bin/env python3
"""One table of bench/robustness.sh runs: every attack a row, every clip a column.

    bench/summary.py [--title TEXT] RUN.json [RUN.json ...] > summary.md

Each RUN.json is a file written by bench/robustness.sh (its "clips" map).
Files are read in the order given; where two files hold the same attack on
the same clip, the later file's row is the one shown (give the newest run
last). A row that was not run (or failed to run) in a later file does not
hide an earlier file's result. Every cell says whether the signed payload
was recovered blind and the raw bit error rate before error correction;
a column's heading names the file, the commit and the wmdetect version its
rows come from. Nothing here measures anything: it only lays out what the
runs recorded.
"""
import argparse
import json
import os
import sys


def load(paths):
    cells = {}      # (clip, attack id) -> (attack, source file)
    labels = {}     # attack id -> (index, {label: clips that ran it so})
    clip_order = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                run = json.load(f)
        except (OSError, ValueError) as e:
            sys.exit(f"summary.py: {path}: {e}")
        clips = run.get("clips")
        if not isinstance(clips, dict):
            sys.exit(f"summary.py: {path}: not a bench/robustness.sh result (no clips)")
        for clip, body in clips.items():
            if clip not in clip_order:
                clip_order.append(clip)
            for aid, attack in body.get("attacks", {}).items():
                if attack.get("status") != "ok":
                    continue
                cells[(clip, aid)] = (attack, path)
                index, seen = labels.get(aid, (999, {}))
                label = attack.get("label", aid)
                seen.setdefault(label, set()).add(clip)
                labels[aid] = (min(index, attack.get("index", 999)), seen)
    return cells, labels, clip_order


def versions(cells, clip):
    """(file, commit, wmdetect version) of the rows shown for a clip, most rows first."""
    seen = {}
    for (c, _), (attack, path) in cells.items():
        if c != clip:
            continue
        key = (os.path.basename(path), attack.get("run", {}).get("commit", "?"),
               attack.get("detect", {}).get("version", "?"))
        seen[key] = seen.get(key, 0) + 1
    return sorted(seen.items(), key=lambda kv: -kv[1])


def cell(attack):
    ber = attack.get("detect", {}).get("raw_bit_error_rate")
    ber_text = f"{100 * ber:.1f} %" if isinstance(ber, (int, float)) else "n/a"
    if attack.get("recovered"):
        return f"**yes** {ber_text}"
    found = attack.get("detect", {}).get("found")
    return f"no{' (found)' if found else ''} {ber_text}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--title", default="Robustness, newest run per clip")
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()
    cells, labels, clips = load(args.runs)
    if not cells:
        sys.exit("summary.py: no attack was run in these files")
    out = [f"# {args.title}", "",
           "Made by `bench/summary.py` from the `bench/robustness.sh` results below "
           "(do not edit by hand). A cell: **yes** when the signed payload was recovered "
           "blind (found, signature valid, the right title and recipient), else no "
           "(\"found\" when the mark was detected but did not verify); then the raw bit "
           "error rate before error correction. \"-\" where the attack was not run on "
           "that clip.", ""]
    for clip in clips:
        parts = [f"`{name}` (commit `{commit}`, wmdetect {ver}, {n} rows)"
                 for (name, commit, ver), n in versions(cells, clip)]
        out.append(f"* {clip}: " + "; ".join(parts))
    out += ["", "| attack | " + " | ".join(clips) + " |",
            "| --- |" + " --- |" * len(clips)]
    scaled = False
    for aid, (_, seen) in sorted(labels.items(), key=lambda kv: (kv[1][0], kv[0])):
        label = max(seen, key=lambda k: (len(seen[k]), k))
        if len(seen) > 1:
            label += " ¹"
            scaled = True
        row = [cell(cells[(c, aid)][0]) if (c, aid) in cells else "-" for c in clips]
        out.append(f"| {label} | " + " | ".join(row) + " |")
    totals = []
    for c in clips:
        run = [a for (cc, _), (a, _) in cells.items() if cc == c]
        totals.append(f"{sum(1 for a in run if a.get('recovered'))} of {len(run)}")
    out.append("| **recovered** | " + " | ".join(totals) + " |")
    if scaled:
        out += ["", "¹ The label most clips' runs gave this attack; each run sizes it to "
                "its own clip (sizes, bit rates and frame rates), so on a smaller or larger "
                "picture the row is the same fraction of it: see that clip's results file."]
    print("\n".join(out))


if __name__ == "__main__":
    main()
