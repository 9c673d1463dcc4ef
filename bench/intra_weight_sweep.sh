#!/usr/bin/env bash
# What wmdetect's I-frame weight does on the hard copies of bench/frontend.sh:
# each copy read blind at several --intra-weight values (1: every frame
# alike; 40: the default, docs/DESIGN.md §5 step 3).
#
#   bench/intra_weight_sweep.sh [--weights "1 8 40 200 1000"] [--clips "a b"]
#                               [--copies "a b"] [--out FILE.md]
#
# Each copy (default: frontend.sh's H.264 CRF 33-35 and HEVC CRF 31-32 of
# dune, raindrops and storm: the codec rows at the code's edge) is read with
# `wmdetect --json --no-registry --receipt R --intra-weight W` (the receipt
# only sets the raw error count): raw bit errors against the receipt's
# message / pilot z, **bold** where the signature verified. A weight that
# suits one copy better than the default shows there; whether any copy the
# default leaves unread verifies at another weight is the question the
# table answers (a per-copy choice of the weight, or combining the I frames
# and the others by their own pilots' SNR, would gain about what the best
# column shows). Prepares missing copies with bench/frontend.sh
# --prepare-only. Writes a Markdown table (default
# bench/results/intra_weight_sweep.md).
#
# Environment: FILMMARK_BIN (default build/), WORK (default
# bench/work/frontend, frontend.sh's). Needs ffmpeg, python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
export WORK="${WORK:-$root/bench/work/frontend}"
WEIGHTS="1 8 40 200 1000"
CLIPS="dune raindrops storm"
COPIES="h264_crf33 h264_crf34 h264_crf35 hevc_crf31 hevc_crf32"
out="$root/bench/results/intra_weight_sweep.md"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --weights) WEIGHTS="$2"; shift ;;
    --copies) COPIES="$2"; shift ;;
    --clips) CLIPS="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "intra_weight_sweep.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ -x "$BIN/wmdetect" ]] || { echo "intra_weight_sweep.sh: $BIN/wmdetect missing" >&2; exit 2; }
for clip in $CLIPS; do
  for c in $COPIES; do
    [[ -s "$WORK/$clip/$c.mkv" ]] || {
      FILMMARK_BIN="$BIN" bash "$here/frontend.sh" --prepare-only --clips "$CLIPS" --copies "$COPIES"
      break 2; }
  done
done

python3 - "$BIN/wmdetect" "$WORK" "$out" "$CLIPS" "$COPIES" "$WEIGHTS" <<'EOF'
import json, subprocess, sys, time
exe, work, out, clips, copies, weights = sys.argv[1:7]
weights = weights.split()
L = ["# wmdetect's I-frame weight on hard copies (bench/intra_weight_sweep.sh)", "",
     f"Made on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with "
     f"`{subprocess.run([exe, '--version'], capture_output=True, text=True).stdout.strip()}`. "
     "Copies made by `bench/frontend.sh` (real clips at 720p marked at their own size, "
     "re-encoded by the codec with its own GOP), read blind with `wmdetect --json "
     "--no-registry --receipt R --intra-weight W`: raw bit errors against the receipt's "
     "message / pilot z, **bold** where the signature verified.", "",
     "| copy | " + " | ".join(f"W = {w}" for w in weights) + " |",
     "|" + " --- |" * (len(weights) + 1)]
best_unread = []
for clip in clips.split():
    for c in copies.split():
        d = f"{work}/{clip}"
        cells, ok = [], {}
        for w in weights:
            p = subprocess.run([exe, "-k", f"{d}/key.dkey", "--json", "--no-registry", "--quiet",
                                "--receipt", f"{d}/deliv.webm.receipt.json", "--intra-weight", w,
                                f"{d}/{c}.mkv"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
            j = json.loads(p.stdout)
            ber = j.get("raw_bit_error_rate")
            s = ("–" if ber is None else f"{100 * ber:.1f} %") + f" / {j.get('pilot_z') or 0:.1f}"
            ok[w] = bool(j.get("signature_valid"))
            cells.append(f"**{s}**" if ok[w] else s)
        L.append(f"| {clip} {c} | " + " | ".join(cells) + " |")
        print(L[-1], file=sys.stderr)
        if "40" in ok and not ok["40"] and any(ok.values()):
            best_unread.append(f"{clip} {c}")
L += ["", "Copies the default (W = 40) leaves unread that another weight verifies: "
      + (", ".join(best_unread) if best_unread else "none") + "."]
open(out, "w").write("\n".join(L) + "\n")
print(L[-1])
EOF
echo "intra_weight_sweep.sh: wrote $out" >&2
