#!/bin/sh
# naming_storm.sh - where storm's mark goes after H.264 CRF 35: the whole
# 10-s master marked with wmembed (a fresh key, FFV1), then x264 at several
# CRFs and keyframe settings, whole and in 3-s excerpts and 1-s pieces;
# wmdetect --receipt on each gives the pilot z (blind), the raw BER and the
# informed z against the issued message (what registry naming scores, on one
# candidate). Prints a Markdown table (bench/results/naming.md quotes it).
#
#   bench/naming_storm.sh [BUILD_DIR] [WORK_DIR]
#
# WORK_DIR (default: a new temporary directory, removed at the end) keeps the
# key and the marked master; a WORK_DIR that already holds k.dkey and
# marked.mkv (with its receipt) is reused without marking again.
# Media: ~/.cache/filmmark-media (../shared/media/get.sh). Niced; about 5 min
# of CPU.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
media=${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}
src=$media/storm_720p25.mkv
[ -x "$build/wmdetect" ] || { echo "naming_storm.sh: build $build/wmdetect first" >&2; exit 2; }
[ -f "$src" ] || { echo "naming_storm.sh: no $src (../shared/media/get.sh)" >&2; exit 2; }
if [ $# -ge 2 ]; then
    work=$2
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT INT TERM
fi
cd "$work"
if [ ! -f k.dkey ] || [ ! -f marked.mkv.receipt.json ]; then
    "$build/wmkeygen" --no-passphrase -o k --label naming-storm >/dev/null
    nice "$build/wmembed" -k k.key -i "$src" -o marked.mkv --codec ffv1 --title-id 77 \
        --recipient-id 137 --no-registry --force -q
fi

enc() {  # name start duration x264-options...
    n=$1 ss=$2 t=$3
    shift 3
    nice ffmpeg -v error -y -ss "$ss" -i marked.mkv -t "$t" -an -c:v libx264 -preset medium "$@" "$n.mp4"
}
row() {  # name what [wmdetect options]
    n=$1 what=$2
    shift 2
    kbps=$(ffprobe -v error -show_entries format=bit_rate -of csv=p=0 "$n.mp4" | awk '{ printf "%.0f", $1 / 1000 }')
    ifr=$(ffprobe -v error -select_streams v -show_entries frame=pict_type -of csv=p=0 "$n.mp4" |
        awk '/^I/ { printf "%s%d", (k++ ? " " : ""), NR - 1 }')
    nice "$build/wmdetect" -k k.dkey --no-registry --receipt marked.mkv.receipt.json --json -q \
        --threads 1 "$@" "$n.mp4" >"$n.json" || true
    python3 - "$n.json" "$what" "$kbps" "$ifr" "$*" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print("| %s | %s | %s | %s | %.1f | %.1f %% | %.1f | %s |" % (
    sys.argv[2], sys.argv[5] or "whole", sys.argv[3], sys.argv[4], d["pilot_z"],
    100 * (d["raw_bit_error_rate"] or 0), d.get("receipt_z") or 0,
    "yes" if d["signature_valid"] else "no"))
EOF
}

echo "| copy | part read | kb/s | I-frames (index) | pilot z | raw BER | informed z | verifies |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
enc full 0 10 -crf 35
row full "10 s, CRF 35"
for s in 0 1 2 3 4 5 6 7 8 9; do
    row full "10 s, CRF 35" --start "$s" --duration 1
done
enc nosc 0 10 -crf 35 -x264-params scenecut=0
row nosc "10 s, CRF 35, no scene-cut keyframes"
enc g25 0 10 -crf 35 -g 25
row g25 "10 s, CRF 35, keyframe every 1 s"
nice ffmpeg -v error -y -ss 3.1 -i marked.mkv -t 3 -an -c:v ffv1 ll.mkv
nice ffmpeg -v error -y -i ll.mkv -c:v libx264 -qp 0 -preset ultrafast ll.mp4
row ll "3 s from 3.1, lossless"
for c in 23 30 35; do
    enc "x$c" 3.1 3 -crf "$c"
    row "x$c" "3 s from 3.1, CRF $c"
done
enc x35g25 3.1 3 -crf 35 -g 25
row x35g25 "3 s from 3.1, CRF 35, keyframe every 1 s"
for s in 0 6; do
    enc "e$s" "$s" 3 -crf 35
    row "e$s" "3 s from $s, CRF 35"
done
# control: the unmarked master through the same encoder (its keyframes; the
# receipt's message scored on a clip that never carried it)
nice ffmpeg -v error -y -i "$src" -an -c:v libx264 -preset medium -crf 35 unmarked.mp4
row unmarked "unmarked master, 10 s, CRF 35"
