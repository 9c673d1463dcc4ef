#!/bin/bash
# code_compare.sh - two builds of filmmark side by side on the same real
# copies: each marks the same master with the same key, ids and issue time,
# the same attacks are applied to both deliverables, and each build's own
# wmdetect reads them blind from their first E seconds. Made to compare mark
# format 2 (convolutional code) with format 3 (polar code), issue 8.
#
#   bench/code_compare.sh --a BUILD_DIR --b BUILD_DIR [--seconds S]
#       [--excerpts "10 5"] [--out FILE] [CLIP...]
#
# CLIP: a file, or NAME:FILE:SCALE to scale it first (e.g.
# dune720:dune.mkv:1280:720). Default: storm 720p, vtest 768x576 and dune
# scaled to 1280x720 from the media set. Attacks: H.264 CRF 30 and 35, VP9
# CRF 40, half and a third of the size (CRF 23), blur sigma 2 (CRF 23).
# One JSON line per (clip, attack, excerpt, build) to FILE (default
# bench/results/code_compare.jsonl); bench/code_compare_report.py makes the
# table.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
media=${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}
seconds=10 excerpts="10 5" out=$here/bench/results/code_compare.jsonl a= b=
clips=()
while [ $# -gt 0 ]; do
    case $1 in
    --a) a=$2; shift 2 ;;
    --b) b=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --excerpts) excerpts=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) clips+=("$1"); shift ;;
    esac
done
[ -n "$a" ] && [ -n "$b" ] || { echo "code_compare.sh: --a and --b are required" >&2; exit 2; }
[ ${#clips[@]} -gt 0 ] || clips=("storm:$media/storm_720p25.mkv:" "vtest:$media/vtest_768x576.mkv:"
                                  "dune720:$media/dune_1080p24.mkv:1280:720")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export FILMMARK_REGISTRY=$work/registry.sqlite
"$a/wmkeygen" --no-passphrase -o "$work/k" -q
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
ver() { "$1/wmdetect" --version | head -1; }
echo "# A: $(ver "$a") ($a); B: $(ver "$b") ($b); $(date -u +%FT%TZ); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
: > "$out.tmp"
attacks=("h264-crf30|-c:v libx264 -crf 30" "h264-crf35|-c:v libx264 -crf 35"
         "vp9-crf40|-c:v libvpx-vp9 -crf 40 -b:v 0 -cpu-used 4 -row-mt 1"
         "half|-vf scale=iw/2:-2 -c:v libx264 -crf 23" "third|-vf scale=-2:ih/3 -c:v libx264 -crf 23"
         "blur2|-vf gblur=sigma=2 -c:v libx264 -crf 23")
for spec in "${clips[@]}"; do
    IFS=: read -r name src scale <<< "$spec"
    master=$work/$name.master.mkv
    if [ -n "$scale" ]; then
        ff -i "$src" -t "$seconds" -vf "scale=$scale" -c:v ffv1 -an "$master"
    else
        ff -i "$src" -t "$seconds" -c:v ffv1 -an "$master"
    fi
    for build in a b; do
        bin=${!build}
        "$bin/wmembed" -k "$work/k.key" -i "$master" -o "$work/$name.$build.mkv" --codec ffv1 \
            --title-id 77 --recipient-id 5 --issued 2026-12-02T00:00Z --no-registry -q
    done
    for atk in "none|-c:v ffv1" "${attacks[@]}"; do
        aname=${atk%%|*}; args=${atk#*|}
        for build in a b; do
            bin=${!build}
            copy=$work/$name.$build.$aname.mkv
            # shellcheck disable=SC2086
            ff -i "$work/$name.$build.mkv" $args -an "$copy"
            for e in $excerpts; do
                set +e
                j=$("$bin/wmdetect" -k "$work/k.dkey" --no-registry --json --duration "$e" "$copy")
                rc=$?
                set -e
                python3 - "$name" "$aname" "$e" "$build" "$rc" "$j" >> "$out.tmp" <<'PY'
import json, sys
name, atk, e, build, rc, j = sys.argv[1:]
d = json.loads(j) if j.strip() else {}
print(json.dumps({"clip": name, "attack": atk, "seconds": float(e), "build": build, "exit": int(rc),
                  "status": d.get("status"), "title_id": d.get("title_id"),
                  "recipient_id": d.get("recipient_id"), "pilot_z": d.get("pilot_z"),
                  "raw_ber": d.get("raw_bit_error_rate"), "mark_format": d.get("mark_format")}))
PY
                tail -1 "$out.tmp" >&2
            done
            rm -f "$copy"
        done
    done
done
mv "$out.tmp" "$out"
