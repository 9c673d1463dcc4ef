#!/usr/bin/env bash
# AI super-resolution attack for the robustness benchmark.
#
#   upscale.sh INPUT_VIDEO SCALE OUTPUT_VIDEO [SECONDS]
#
# Takes the first SECONDS (default 3) of INPUT_VIDEO, downscales it by SCALE
# (2 or 4, lanczos) to PNG frames, restores the original resolution with a
# neural super-resolution network (bench/ai/upscale.mjs, weights shipped inside
# npm packages) and encodes the result losslessly at the original frame rate:
# FFV1 for .mkv/.avi/.nut, x264 -qp 0 for .mp4/.mov/.264.  Video only (no audio).
#
# Environment:
#   UPSCALE_MODEL    slim | medium | thick | default           [slim]
#   UPSCALE_BACKEND  ort | tfjs                                [ort]
#   UPSCALE_ARGS     extra options for upscale.mjs (e.g. "--tile 256 --threads 2")
#   UPSCALE_PIX_FMT  pixel format of the output    [that of the input]
#   UPSCALE_KEEP=1   keep the temporary frame directories (path is printed)
#   NODE             node binary                               [node]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { echo "upscale.sh: $*" >&2; exit 1; }

[[ $# -ge 3 && $# -le 4 ]] || die "usage: upscale.sh INPUT_VIDEO SCALE OUTPUT_VIDEO [SECONDS]"
in="$1" scale="$2" out="$3" secs="${4:-3}"
[[ -f "$in" ]] || die "no such file: $in"
[[ "$scale" =~ ^[234]$|^8$ ]] || die "SCALE must be 2 or 4 (3 and 8 also work)"
[[ "$secs" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "SECONDS must be a number"
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || die "ffmpeg/ffprobe not found"
node="${NODE:-node}"
model="${UPSCALE_MODEL:-slim}"
backend="${UPSCALE_BACKEND:-ort}"
[[ -d "$here/node_modules/@upscalerjs" ]] || die "dependencies missing: run $here/setup.sh"

probe() { ffprobe -v error -select_streams v:0 -show_entries "stream=$1" -of default=nw=1:nk=1 "$in" | head -n1; }
W="$(probe width)" H="$(probe height)"
fps="$(probe r_frame_rate)"
[[ "$fps" == "0/0" || -z "$fps" ]] && fps="$(probe avg_frame_rate)"
pix_fmt="${UPSCALE_PIX_FMT:-$(probe pix_fmt)}"
cspace="$(probe color_space)" crange="$(probe color_range)"
[[ -n "$W" && -n "$H" && -n "$fps" ]] || die "cannot probe $in"
lw=$(( W / scale )) lh=$(( H / scale ))

# RGB -> YUV with the input's matrix/range when it is tagged (ffmpeg already
# honours the tags for YUV -> RGB); untagged input stays on ffmpeg's defaults,
# so the colour round trip is consistent either way.
sopts=() tags=()
case "$cspace" in
  bt709) sopts+=(out_color_matrix=bt709) ;;
  smpte170m|bt470bg) sopts+=(out_color_matrix=bt601) ;;
  bt2020nc|bt2020c) sopts+=(out_color_matrix=bt2020) ;;
esac
[[ ${#sopts[@]} -gt 0 ]] && tags+=(-colorspace "$cspace")
case "$crange" in
  pc|full) sopts+=(out_range=full); tags+=(-color_range pc) ;;
  tv|limited) sopts+=(out_range=limited); tags+=(-color_range tv) ;;
esac
sopts+=(flags=accurate_rnd+full_chroma_int)

tmp="$(mktemp -d "${TMPDIR:-/tmp}/filmmark-upscale.XXXXXX")"
if [[ "${UPSCALE_KEEP:-0}" == 1 ]]; then echo "upscale.sh: keeping $tmp" >&2
else trap 'rm -rf "$tmp"' EXIT; fi
mkdir -p "$tmp/lr" "$tmp/sr"

t0=$(date +%s.%N)
ffmpeg -nostdin -v error -y -i "$in" -t "$secs" -an -sn -dn -map 0:v:0 -fps_mode passthrough \
  -vf "scale=${lw}:${lh}:flags=lanczos+accurate_rnd+full_chroma_int" -pix_fmt rgb24 \
  -compression_level 1 "$tmp/lr/f%06d.png"
n=$(find "$tmp/lr" -name '*.png' | wc -l)
[[ "$n" -gt 0 ]] || die "no frames decoded from $in"
echo "upscale.sh: $n frames ${W}x${H} -> ${lw}x${lh} (lanczos) -> x${scale} ${model} -> $out" >&2

# shellcheck disable=SC2086
"$node" "$here/upscale.mjs" --scale "$scale" --model "$model" --backend "$backend" --quiet \
  ${UPSCALE_ARGS:-} "$tmp/lr" "$tmp/sr"

# Exact original size (e.g. 1080/4 = 270 -> 1080 is exact, but 1366/4 is not).
sw="$(ffprobe -v error -show_entries stream=width -of default=nw=1:nk=1 "$tmp/sr/f000001.png")"
sh="$(ffprobe -v error -show_entries stream=height -of default=nw=1:nk=1 "$tmp/sr/f000001.png")"
vf=""
if [[ "$sw" != "$W" || "$sh" != "$H" ]]; then
  vf="scale=${W}:${H}:flags=lanczos,"
  echo "upscale.sh: network output ${sw}x${sh}, rescaling to ${W}x${H}" >&2
fi
vf+="scale=$(IFS=:; echo "${sopts[*]}"),format=${pix_fmt}"

case "${out,,}" in
  *.mp4|*.mov|*.264|*.h264) codec=(-c:v libx264 -qp 0 -preset veryfast) ;;
  *) codec=(-c:v ffv1 -level 3 -g 1 -slices 4 -slicecrc 1) ;;
esac
mkdir -p "$(dirname "$out")"
ffmpeg -nostdin -v error -y -framerate "$fps" -i "$tmp/sr/f%06d.png" -vf "$vf" \
  "${codec[@]}" "${tags[@]}" -r "$fps" "$out"
t1=$(date +%s.%N)
echo "upscale.sh: wrote $out ($n frames, $(awk -v a="$t0" -v b="$t1" -v n="$n" \
  'BEGIN{printf "%.1f s total, %.2f s/frame", b-a, (b-a)/n}'))" >&2
