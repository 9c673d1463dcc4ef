#!/usr/bin/env bash
# Two builds of wmdetect side by side on hard copies made by
# bench/frontend.sh, by default its 32 (four real clips at 720p / 576p marked at their own size:
# H.264 CRF 30 and 35, HEVC CRF 32, VP9 CRF 40, blur sigma 1 and 2, 640x360
# and 426x240, each re-encoded by its codec with its own GOP).
#
#   bench/detector_ab.sh --before DIR [--label-before T] [--label-after T]
#                        [--copies "a b"] [--out FILE.md]
#
# Each copy is read blind by both builds (`wmdetect --json --no-registry
# --receipt R`: the receipt only sets the raw error count, the message is
# read without it), in turns: raw bit errors against the receipt's message,
# pilot z, whether the signature verified, the decoder's list (length and
# the verifying message's place in it) and the wall time of the read.
# Prepares the copies first (bench/frontend.sh --prepare-only, with the
# after build) when they are missing. --copies: other copies of the same
# deliverables instead (frontend.sh's recipes: h264_crfN, hevc_crfN,
# vp9_crfN, gblur1, gblur2, pH for H rows). Writes a Markdown table (default
# bench/results/detector_ab.md).
#
# Environment: FILMMARK_BIN (the after build, default build/), WORK (default
# bench/work/frontend, frontend.sh's). Needs ffmpeg, python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
export WORK="${WORK:-$root/bench/work/frontend}"
before="" lb="before" la="after"
COPIES="h264_crf30 h264_crf35 hevc_crf32 vp9_crf40 gblur1 gblur2 p360 p240"
out="$root/bench/results/detector_ab.md"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --before) before="$2"; shift ;;
    --label-before) lb="$2"; shift ;;
    --label-after) la="$2"; shift ;;
    --out) out="$2"; shift ;;
    --copies) COPIES="$2"; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "detector_ab.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ -n "$before" ]] || { echo "detector_ab.sh: --before DIR is required" >&2; exit 2; }
for b in "$before" "$BIN"; do
  [[ -x "$b/wmdetect" ]] || { echo "detector_ab.sh: $b/wmdetect missing" >&2; exit 2; }
done
CLIPS="storm dune raindrops vtest"
for clip in $CLIPS; do
  for c in $COPIES; do
    [[ -s "$WORK/$clip/$c.mkv" ]] || { FILMMARK_BIN="$BIN" bash "$here/frontend.sh" --prepare-only --copies "$COPIES"; break 2; }
  done
done

tsv="$(mktemp)"
trap 'rm -f "$tsv"' EXIT
for clip in $CLIPS; do
  d="$WORK/$clip"
  for c in $COPIES; do
    for side in before after; do
      b="$BIN"; [[ $side == before ]] && b="$before"
      python3 - "$b/wmdetect" "$d" "$c" "$side" "$clip" >>"$tsv" <<'PY' || true
import json, subprocess, sys, time
exe, d, c, side, clip = sys.argv[1:6]
t0 = time.monotonic()
p = subprocess.run([exe, "-k", f"{d}/key.dkey", "--json", "--no-registry", "--quiet",
                    "--receipt", f"{d}/deliv.webm.receipt.json", f"{d}/{c}.mkv"],
                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
secs = time.monotonic() - t0
j = json.loads(p.stdout)
ber = j.get("raw_bit_error_rate")
print("\t".join([side, clip, c, "%.2f" % (j.get("pilot_z") or 0),
                 "-" if ber is None else "%.2f" % (100 * ber),
                 "yes" if j.get("signature_valid") else "no",
                 str(j.get("decoder_list", "-")), str(j.get("decoder_list_rank", "-")),
                 "%.2f" % secs]))
PY
    done
  done
  echo "[$(date +%H:%M:%S)] $clip done" >&2
done

python3 - "$tsv" "$out" "$lb" "$la" <<'EOF2'
import sys, time, collections
tsv, out, lb, la = sys.argv[1:5]
rows = collections.defaultdict(dict)
for line in open(tsv):
    side, clip, copy, z, ber, ok, lst, rank, secs = line.rstrip("\n").split("\t")
    rows[(clip, copy)][side] = (float(z), None if ber == "-" else float(ber), ok == "yes",
                                lst, rank, float(secs))
L = ["# Two wmdetect builds on hard copies (bench/detector_ab.sh)", "",
     f"Made on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: **{lb}** against "
     f"**{la}**. {len(rows)} hard copies made by `bench/frontend.sh` (four real clips at "
     "720p/576p marked at their own size, each copy re-encoded by its codec with its own GOP), "
     "read blind in turns with `wmdetect --json --no-registry --receipt R`: raw bit "
     "errors against the receipt's message / pilot z, **bold** where the signature "
     "verified; list = the decoder's longest list tried and the verifying message's "
     "place in it; s = wall seconds of the read (2-core machine, one read at a time).", "",
     f"| copy | {lb} | list | s | {la} | list | s |", "| --- | --- | --- | --- | --- | --- | --- |"]
tot = {s: [0.0, 0, 0, 0.0] for s in ("before", "after")}
for key in sorted(rows):
    cells = []
    for side in ("before", "after"):
        if side not in rows[key]:
            cells += ["–", "–", "–"]
            continue
        z, ber, v, lst, rank, secs = rows[key][side]
        s = f"{ber:.1f} % / {z:.1f}" if ber is not None else f"– / {z:.1f}"
        cells += [f"**{s}**" if v else s, f"{lst}" + (f" (#{rank})" if v else ""), f"{secs:.1f}"]
        t = tot[side]
        if ber is not None:
            t[0] += ber
            t[1] += 1
        t[2] += v
        t[3] += secs
    L.append(f"| {key[0]} {key[1]} | " + " | ".join(cells) + " |")
def summ(s):
    t = tot[s]
    return f"{t[0] / t[1]:.2f} %; {t[2]} of {len(rows)} verified | | {t[3]:.0f} s in all" if t[1] else "– | | –"
L.append(f"| mean raw errors; verified; time | {summ('before')} | {summ('after')} |")
open(out, "w").write("\n".join(L) + "\n")
print(L[-1])
EOF2
echo "detector_ab.sh: wrote $out" >&2
