#!/usr/bin/env bash
# What a coarser mark grid would give small masters (issue 8, experiment).
#
#   bench/small_grid.sh --from WORK [--step K] [--clips "a b"] [--copies "x y"]
#                       [--issued TIME] [--label TEXT]
#
# The shipped format puts 360 mark rows over any picture, so a 360-row master
# carries one picture pixel per mark pixel and a 270-row master less than one:
# the frequencies the codec removes first. This script measures, without a
# format change, what a grid of H / K rows (K picture pixels per mark pixel)
# would give such a master after a re-encode:
#
#  1. the master (WORK/CLIP/master.mkv of a `bench/frontend.sh --rows H` run)
#     is tiled with its mirror images and cut to a canvas 360 * K rows high
#     (the master in its top-left corner, at its own scale; it must be at
#     most 360 rows and at least a quarter of the canvas's height);
#  2. wmembed marks the canvas (FFV1) with that run's key and --issued time
#     (default the time frontend_small.md's runs signed), so the message is
#     the run's; on the canvas the grid step is K picture pixels, over the
#     master's area exactly the coarse grid;
#  3. the master's area is cut out (the "marked small master"; its luma
#     PSNR/SSIM against the master measured by ffmpeg) and encoded to VP9
#     CRF 24 (wmembed's default deliverable), then to each copy: h264_crfN
#     (x264 medium) or vp9_crfN (libvpx-vp9 good, cpu-used 4);
#  4. each copy is read two ways: frontend_ber on the copy put back in the
#     top-left corner of a mid-grey canvas (the grid where a detector that
#     knew it would look: raw BER, pilot z, verified), and the shipped
#     `wmdetect --json` on the copy as it is (the geometry search meets the
#     coarse grid as a zoom by K: verified, pilot z, the scale it found,
#     whether the content tag bound - it cannot, its anchor is at the
#     canvas's centre).
#
# Prints one TSV line per copy: label clip rows step copy psnr ssim raw_ber
# pilot_z verified wmdetect_verified wmdetect_z wmdetect_scale content_bound,
# and appends it to WORK_OUT/runs.tsv.
#
# Environment: FILMMARK_BIN (default build/), WORK_OUT (default
# bench/work/small_grid). Needs ffmpeg, ffprobe, python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
OUT="${WORK_OUT:-$root/bench/work/small_grid}"

from="" step=2 clips="storm dune raindrops vtest elephants" copies="h264_crf28 h264_crf30 vp9_crf36"
issued=2026-12-07T07:30Z label=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --from) from="$2"; shift ;;
    --step) step="$2"; shift ;;
    --clips) clips="$2"; shift ;;
    --copies) copies="$2"; shift ;;
    --issued) issued="$2"; shift ;;
    --label) label="$2"; shift ;;
    -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
    *) echo "small_grid.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[[ -n $from && -d $from ]] || { echo "small_grid.sh: --from WORK (a bench/frontend.sh --rows run) is required" >&2; exit 2; }
[[ $step =~ ^[1-4]$ ]] || { echo "small_grid.sh: --step is 1..4" >&2; exit 2; }
[[ -n $label ]] || label="$(basename "$from")_k$step"

ff() { nice ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
mkdir -p "$OUT"

for c in $clips; do
  src="$from/$c"
  [[ -s $src/master.mkv && -s $src/key.key ]] || { say "$c: no master/key in $src, skipped"; continue; }
  d="$OUT/$label/$c"; mkdir -p "$d"
  IFS=, read -r w h fps < <(ffprobe -v error -select_streams v:0 \
      -show_entries stream=width,height,r_frame_rate -of csv=p=0 "$src/master.mkv")
  ch=$((360 * step))
  # on the canvas the grid step is ch / 360 = K whatever the master's height;
  # the master must fit in it, and the 4 x 4 mirrored tiling below must cover it
  (( h <= ch && ch <= 4 * h )) || { say "$c: $h rows do not fit a ${ch}-row canvas (step $step): skipped"; continue; }
  cw=$(( (w * ch / h + 1) / 2 * 2 ))
  if [[ ! -s $d/small.webm ]]; then
    say "$c: canvas ${cw}x${ch}, mark"
    # the master and its mirror images, 4 x 4, cut to the canvas
    ff -i "$src/master.mkv" -filter_complex \
      "[0]format=yuv420p,split=2[a][b];[b]hflip[bf];[a][bf]hstack,split=2[r1][r2];[r1][r2]hstack,split=2[s][t];[t]vflip[tf];[s][tf]vstack,split=2[u][v];[u][v]vstack,crop=$cw:$ch:0:0" \
      -c:v ffv1 "$d/canvas.mkv"
    "$BIN/wmembed" -k "$src/key.key" -i "$d/canvas.mkv" -o "$d/deliv.mkv" --codec ffv1 \
      --title-id 4242 --recipient-id 1001 --no-registry --issued "$issued" --json --quiet --force \
      >"$d/embed.json"
    qual() { nice ffmpeg -nostdin -hide_banner -i "$d/deliv.mkv" -i "$src/master.mkv" \
               -lavfi "[0]crop=$w:$h:0:0[a];[a][1]$1" -f null - 2>&1 | tr '\r' '\n' |
             grep -o "$2:[0-9.inf]*" | tail -n1 | cut -d: -f2 || true; }
    psnr=$(qual psnr "PSNR y") ssim=$(qual ssim "SSIM Y")
    echo "$psnr $ssim" >"$d/quality.txt"
    ff -i "$d/deliv.mkv" -vf "crop=$w:$h:0:0" -c:v libvpx-vp9 -crf 24 -b:v 0 -deadline good \
      -cpu-used 2 -row-mt 1 "$d/small.webm.tmp.webm"
    mv "$d/small.webm.tmp.webm" "$d/small.webm"
  fi
  read -r psnr ssim <"$d/quality.txt"
  for id in $copies; do
    f="$d/$id.mkv"
    if [[ ! -s $f ]]; then
      case "$id" in
        h264_crf*) ff -i "$d/small.webm" -c:v libx264 -crf "${id#h264_crf}" -preset medium "$f.tmp.mkv" ;;
        vp9_crf*) ff -i "$d/small.webm" -c:v libvpx-vp9 -crf "${id#vp9_crf}" -b:v 0 -deadline good \
                    -cpu-used 4 -row-mt 1 "$f.tmp.mkv" ;;
        *) echo "small_grid.sh: unknown copy $id" >&2; exit 2 ;;
      esac
      mv "$f.tmp.mkv" "$f"
    fi
    fr=$(python3 -c "from fractions import Fraction as F; print(float(F('$fps')))")
    ber=$(ffmpeg -nostdin -loglevel error -i "$f" -map 0:v:0 \
            -vf "pad=$cw:$ch:0:0:color=0x808080,format=yuv420p" -f rawvideo -pix_fmt yuv420p - |
          "$BIN/frontend_ber" "$src/key.dkey" "$d/deliv.mkv.receipt.json" "$cw" "$ch" "$fr" --threads 1)
    wd=$("$BIN/wmdetect" -k "$src/key.dkey" --no-registry --json --quiet "$f" 2>/dev/null || true)
    python3 - "$label" "$c" "$h" "$step" "$id" "$psnr" "$ssim" "$ber" "$wd" <<'PY' | tee -a "$OUT/runs.tsv"
import json, sys
label, clip, rows, step, copy, psnr, ssim, ber, wd = sys.argv[1:]
b = json.loads(ber)
try:
    w = json.loads(wd)
except ValueError:
    w = {}
g = w.get("geometry") or {}
scale = "%.3f" % g["scale_y"] if "scale_y" in g else "-"
print("\t".join([label, clip, rows, step, copy, psnr, ssim, "%.4f" % b["raw_ber"],
                 "%.3f" % b["pilot_z"], str(b["verified"]).lower(),
                 str(bool(w.get("signature_valid"))).lower(), "%.3f" % w.get("pilot_z", 0.0),
                 scale, str(w.get("content_bound")).lower()]))
PY
  done
done
