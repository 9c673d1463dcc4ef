#!/bin/bash
# fec_real.sh - the message codes compared on the evidence of real copies
# (issue 8: "compare, on the same soft inputs from real copies").
#
#   bench/fec_real.sh [--seconds S] [--excerpts "10 5 3"] [--trials T] [--out FILE] CLIP...
#   bench/fec_real.sh --frontend WORK [--excerpts ...] [--trials T] [--out FILE]
#
# --frontend WORK: the copies bench/frontend.sh made in WORK instead (each
# clip's deliverable, key and hard copies; its --prepare-only makes them),
# two copies at a time.
#
# Each CLIP (default: the media set's storm, vtest, raindrops, and dune scaled
# to 1280x720) is marked for S seconds (default 10) at its own size with
# wmembed --codec ffv1 under a throwaway key, then attacked with ffmpeg
# (H.264 CRF 30 and 35, HEVC CRF 32, VP9 CRF 40, 1/2 and 1/3 of the size,
# Gaussian blur sigma 1 and 2). build/fec_real reads the evidence of each
# attacked copy's first E seconds for every E of --excerpts (default: S) on
# the nominal grid and tries every code on it (see bench/fec_real.c). One JSON line per copy goes to FILE (default
# bench/results/fec_real.jsonl); bench/fec_real_report.py makes the table.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${FILMMARK_BIN:-$here/build}
media=${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}
seconds=10 trials=200 out=$here/bench/results/fec_real.jsonl excerpts= frontend=
clips=()
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --excerpts) excerpts=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --frontend) frontend=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) clips+=("$1"); shift ;;
    esac
done
[ ${#clips[@]} -gt 0 ] || clips=("$media/storm_720p25.mkv" "$media/vtest_768x576.mkv"
                                  "$media/raindrops_1080p24.mkv" "dune720:$media/dune_1080p24.mkv")
excerpts=${excerpts:-$seconds}
if [ -n "$frontend" ]; then
    read_copy() {   # clip-dir copy message: one JSON line per excerpt
        local d=$1 copy=$2 msg=$3 cw ch fps e line
        IFS=, read -r cw ch fps < <(ffprobe -v error -select_streams v:0 \
            -show_entries stream=width,height,r_frame_rate -of csv=p=0 "$copy")
        fps=$(python3 -c "from fractions import Fraction as F; print(float(F('$fps')))")
        for e in $excerpts; do
            line=$(ffmpeg -nostdin -loglevel error -i "$copy" -t "$e" -f rawvideo -pix_fmt gray - |
                   nice "$bin/fec_real" "$d/key.dkey" "$msg" "$cw" "$ch" "$fps" "$trials")
            echo "{\"clip\": \"$(basename "$d")\", \"attack\": \"$(basename "$copy" .mkv)\", \"size\": \"${cw}x${ch}\", \"seconds\": $e, \"result\": $line}"
        done
    }
    tmp=$(mktemp -d)
    n=0
    for d in "$frontend"/*/; do
        d=${d%/}
        [ -s "$d/deliv.webm" ] || continue
        msg=$("$bin/wmdetect" -k "$d/key.dkey" --no-registry --json --quiet "$d/deliv.webm" |
              python3 -c 'import json,sys; print(json.load(sys.stdin)["message_hex"])')
        for copy in "$d"/*.mkv; do
            [ "$(basename "$copy")" = master.mkv ] && continue
            while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || true; done
            read_copy "$d" "$copy" "$msg" > "$tmp/$(printf %03d $n)" &
            n=$((n + 1))
        done
    done
    wait
    cat "$tmp"/* | tee "$out"
    rm -rf "$tmp"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export FILMMARK_REGISTRY=$work/registry.sqlite
"$bin/wmkeygen" --no-passphrase -o "$work/k" >/dev/null
: > "$out.tmp"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
for spec in "${clips[@]}"; do
    name=${spec%%:*}; src=${spec#*:}
    [ "$name" = "$spec" ] && name=$(basename "$src" .mkv)
    master=$work/$name.master.mkv
    if [ "$name" = dune720 ]; then
        ff -i "$src" -t "$seconds" -vf scale=1280:720 -c:v ffv1 -an "$master"
    else
        ff -i "$src" -t "$seconds" -c:v ffv1 -an "$master"
    fi
    marked=$work/$name.marked.mkv
    "$bin/wmembed" -k "$work/k.key" -i "$master" -o "$marked" --codec ffv1 --title-id 77 \
        --recipient-id 5 --issued 2026-12-02T00:00Z --no-registry >/dev/null
    msg=$("$bin/wmdetect" -k "$work/k.dkey" --no-registry --json "$marked" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["message_hex"])')
    read -r w h fps < <(ffprobe -v error -select_streams v:0 -show_entries stream=width,height,r_frame_rate \
        -of csv=p=0 "$marked" | awk -F, '{split($3,a,"/"); printf "%d %d %.6f\n", $1, $2, a[1]/(a[2]?a[2]:1)}')
    attacks=("none|-c:v ffv1" "h264-crf30|-c:v libx264 -crf 30" "h264-crf35|-c:v libx264 -crf 35"
             "hevc-crf32|-c:v libx265 -crf 32 -x265-params log-level=error"
             "vp9-crf40|-c:v libvpx-vp9 -crf 40 -b:v 0 -cpu-used 4 -row-mt 1"
             "half|-vf scale=iw/2:-2 -c:v libx264 -crf 23" "third|-vf scale=-2:ih/3 -c:v libx264 -crf 23"
             "blur1|-vf gblur=sigma=1 -c:v libx264 -crf 23" "blur2|-vf gblur=sigma=2 -c:v libx264 -crf 23")
    for a in "${attacks[@]}"; do
        aname=${a%%|*}; args=${a#*|}
        copy=$work/$name.$aname.mkv
        # shellcheck disable=SC2086
        ff -i "$marked" $args -an "$copy"
        read -r cw ch < <(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 "$copy" | tr , ' ')
        for e in $excerpts; do
            line=$(ffmpeg -nostdin -loglevel error -i "$copy" -t "$e" -f rawvideo -pix_fmt gray - |
                   "$bin/fec_real" "$work/k.dkey" "$msg" "$cw" "$ch" "$fps" "$trials")
            echo "{\"clip\": \"$name\", \"attack\": \"$aname\", \"size\": \"${cw}x${ch}\", \"seconds\": $e, \"result\": $line}" | tee -a "$out.tmp"
        done
        rm -f "$copy"
    done
    rm -f "$master" "$marked" "$marked.receipt.json"
done
mv "$out.tmp" "$out"
