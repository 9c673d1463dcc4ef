#!/usr/bin/env bash
# How much an intra-coded frame should count in the detector's windows
# (wmdetect --intra-weight; common/frame.h fm_frame_evidence_weight).
#
#   bench/frame_weight.sh [--weights "1 12 40 120"] [--out FILE.md]
#
# Reads the 32 hard copies of bench/frontend.sh (four real clips at 720p /
# 576p, marked at their own size: H.264 CRF 30 and 35, HEVC CRF 32, VP9
# CRF 40, blur sigma 1 and 2, 640x360 and 426x240, each re-encoded by the
# codec with its own GOP) with `wmdetect --json --no-registry --receipt R
# --intra-weight W` for each weight: raw bit errors against the receipt's
# message, pilot z, and whether the signature verified blind (the receipt
# only sets the error count; the message is read without it). Prepares the
# copies first (bench/frontend.sh --prepare-only) when they are missing.
# Writes a Markdown table (default bench/results/frame_weight.md).
#
# Environment: FILMMARK_BIN (default build/), WORK (default
# bench/work/frontend, frontend.sh's). Needs ffmpeg, python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
export WORK="${WORK:-$root/bench/work/frontend}"
weights="1 12 40 120"
out="$root/bench/results/frame_weight.md"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --weights) weights="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "frame_weight.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ -x "$BIN/wmdetect" ]] || { echo "frame_weight.sh: $BIN/wmdetect missing" >&2; exit 2; }
CLIPS="storm dune raindrops vtest"
COPIES="h264_crf30 h264_crf35 hevc_crf32 vp9_crf40 gblur1 gblur2 p360 p240"
for clip in $CLIPS; do
  for c in $COPIES; do
    [[ -s "$WORK/$clip/$c.mkv" ]] || { FILMMARK_BIN="$BIN" bash "$here/frontend.sh" --prepare-only; break 2; }
  done
done

tsv="$(mktemp)"
trap 'rm -f "$tsv"' EXIT
for w in $weights; do
  for clip in $CLIPS; do
    d="$WORK/$clip"
    for c in $COPIES; do
      "$BIN/wmdetect" -k "$d/key.dkey" --json --no-registry --quiet \
        --receipt "$d/deliv.webm.receipt.json" --intra-weight "$w" "$d/$c.mkv" 2>/dev/null |
        python3 -c '
import json, sys
d = json.load(sys.stdin)
ber = d.get("raw_bit_error_rate")
print("\t".join([sys.argv[1], sys.argv[2], sys.argv[3], "%.2f" % (d.get("pilot_z") or 0),
                 "-" if ber is None else "%.2f" % (100 * ber),
                 "yes" if d.get("signature_valid") else "no"]))' "$w" "$clip" "$c" >>"$tsv" || true
    done
  done
  echo "[$(date +%H:%M:%S)] weight $w done" >&2
done

commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
dirty="$(git -C "$root" status --porcelain -- common detect 2>/dev/null | head -1)"
python3 - "$tsv" "$out" "$commit${dirty:+ + local changes}" "$weights" <<'EOF'
import sys, time, collections
tsv, out, commit, weights = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
rows = collections.defaultdict(dict)
for line in open(tsv):
    w, clip, copy, z, ber, ok = line.rstrip("\n").split("\t")
    rows[(clip, copy)][w] = (float(z), None if ber == "-" else float(ber), ok == "yes")
L = ["# Intra-coded frames' weight in the detector's windows (bench/frame_weight.sh)", "",
     f"Made on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with wmdetect at `{commit}`. "
     "The 32 hard copies of `bench/frontend.sh` (four real clips at 720p/576p marked at their "
     "own size, each copy re-encoded by its codec with that codec's own GOP), read with "
     "`wmdetect --json --no-registry --receipt R --intra-weight W`: raw bit errors against "
     "the receipt's message / pilot z; **bold** where the signature verified blind.", "",
     "| copy | " + " | ".join(f"W = {w}" for w in weights) + " |",
     "| --- |" + " --- |" * len(weights)]
mean = collections.Counter()
ok = collections.Counter()
n = collections.Counter()
for key in sorted(rows):
    cells = []
    for w in weights:
        if w not in rows[key]:
            cells.append("–")
            continue
        z, ber, v = rows[key][w]
        s = f"{ber:.1f} % / {z:.1f}" if ber is not None else f"– / {z:.1f}"
        cells.append(f"**{s}**" if v else s)
        if ber is not None:
            mean[w] += ber
            n[w] += 1
        ok[w] += v
    L.append(f"| {key[0]} {key[1]} | " + " | ".join(cells) + " |")
L.append("| mean raw errors; verified | " + " | ".join(
    f"{mean[w] / n[w]:.2f} %; {ok[w]} of {len(rows)}" if n[w] else "–" for w in weights) + " |")
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L[-1:]))
EOF
echo "frame_weight.sh: wrote $out" >&2
