#!/usr/bin/env bash
# Where a re-encoded copy keeps the mark: its I frames against the others
# (the reason for wmdetect --intra-weight; docs/DESIGN.md §5 step 3).
#
#   bench/intra_split.sh [--master CLIP] [--seconds N] [--work DIR] [--out FILE.md]
#
# Marks the first N seconds (default 10) of CLIP (default the media set's
# dune_1080p24.mkv) with a throwaway key (VP9 deliverable), re-encodes the
# deliverable with x264 at CRF 35 and 18 (preset medium, x264's own GOP) and
# at CRF 35 with an I frame forced every 2 s, and reads each copy three ways
# with `wmdetect --json --no-registry --receipt R`: every frame, its I frames
# alone and its other frames alone (each kept at its own time, as lossless
# FFV1), at --intra-weight 1 (every frame alike) and at the default 40. Prints
# a Markdown table (and writes it to --out when given).
#
# Environment: FILMMARK_BIN (default build/), FILMMARK_MEDIA (default
# ~/.cache/filmmark-media). Needs ffmpeg, ffprobe, python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
MEDIA="${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}"
master="$MEDIA/dune_1080p24.mkv" seconds=10 work="" out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --master) master="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --work) work="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "intra_split.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ -s "$master" ]] || { echo "intra_split.sh: no master '$master' (run ../shared/media/get.sh)" >&2; exit 2; }
[[ -x "$BIN/wmembed" && -x "$BIN/wmdetect" ]] || { echo "intra_split.sh: tools missing in $BIN" >&2; exit 2; }
if [[ -z "$work" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
export FILMMARK_REGISTRY="$work/registry.sqlite"
ff() { nice ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

say "marking ${seconds} s of $(basename "$master")"
ff -i "$master" -t "$seconds" -map 0:v:0 -c:v ffv1 "$work/master.mkv"
"$BIN/wmkeygen" -o "$work/key" --no-passphrase -q --force
"$BIN/wmembed" -k "$work/key.key" -i "$work/master.mkv" -o "$work/deliv.webm" --title-id 4242 \
  --recipient-id 1001 -q
receipt="$work/deliv.webm.receipt.json"

declare -A how=(
  [crf35]="-crf 35"
  [crf35_i2s]="-crf 35 -force_key_frames expr:gte(t,n_forced*2)"
  [crf18]="-crf 18"
)
tsv="$work/rows.tsv"
: >"$tsv"
for copy in crf35 crf35_i2s crf18; do
  say "copy $copy"
  # shellcheck disable=SC2086
  ff -i "$work/deliv.webm" -c:v libx264 -preset medium ${how[$copy]} -pix_fmt yuv420p "$work/$copy.mkv"
  ff -skip_frame nokey -i "$work/$copy.mkv" -fps_mode passthrough -c:v ffv1 "$work/${copy}_i.mkv"
  ff -i "$work/$copy.mkv" -vf "select='not(eq(pict_type\,I))'" -fps_mode passthrough -c:v ffv1 \
    "$work/${copy}_p.mkv"
  for part in all i p; do
    f="$work/$copy.mkv"
    [[ $part == all ]] || f="$work/${copy}_$part.mkv"
    for w in 1 40; do
      [[ $part != all && $w != 1 ]] && continue   # one picture type: the weight changes nothing
      "$BIN/wmdetect" -k "$work/key.dkey" --json --no-registry --quiet --receipt "$receipt" \
        --intra-weight "$w" "$f" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
ber = d.get("raw_bit_error_rate")
print("\t".join(sys.argv[1:] + [str(d.get("frames_read")), "%.1f" % (d.get("pilot_z") or 0),
                "-" if ber is None else "%.1f" % (100 * ber),
                "yes" if d.get("signature_valid") else "no"]))' "$copy" "$part" "$w" >>"$tsv" || true
    done
  done
done

commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
python3 - "$tsv" "$(basename "$master")" "$seconds" "$commit" "$out" <<'EOF'
import sys, time
tsv, clip, seconds, commit, out = sys.argv[1:6]
names = {"crf35": "x264 CRF 35, its own GOP", "crf35_i2s": "x264 CRF 35, an I frame every 2 s",
         "crf18": "x264 CRF 18, its own GOP"}
parts = {"all": "every frame", "i": "I frames alone", "p": "the other frames alone"}
L = [f"# Where a re-encoded copy keeps the mark (bench/intra_split.sh)", "",
     f"{clip}, first {seconds} s, marked afresh (VP9 deliverable), re-encoded with x264 preset "
     f"medium; wmdetect at `{commit}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
     "Raw bit errors against the receipt's message; verified = the signature read blind.", "",
     "| copy | frames read | intra weight | frames | pilot z | raw errors | verified |",
     "| --- | --- | --- | --- | --- | --- | --- |"]
for line in open(tsv):
    copy, part, w, frames, z, ber, ok = line.rstrip("\n").split("\t")
    L.append(f"| {names[copy]} | {parts[part]} | {w} | {frames} | {z} | {ber} % | {ok} |")
text = "\n".join(L) + "\n"
print(text)
if out:
    open(out, "w").write(text)
EOF
