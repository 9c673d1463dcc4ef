#!/usr/bin/env bash
# Luma (Y) PSNR and SSIM of MARKED against MASTER, measured with FFmpeg's own
# psnr and ssim filters (independent of wmembed's built-in figures).
#
#   bench/quality.sh [--json] MASTER MARKED
#
# Both are decoded, their timestamps reset to zero, and MARKED is converted to
# MASTER's pixel format (so a 10-bit master is compared at 10 bits); frames
# are paired in order until the shorter input ends. The pictures must have the
# same size. Prints one line, e.g.
#   luma PSNR 44.83 dB  SSIM 0.99151  (240 frames, yuv420p)
# or, with --json, one JSON object:
#   {"master":..., "marked":..., "frames":240, "pix_fmt":"yuv420p",
#    "luma_psnr_db":44.83, "luma_psnr_min_db":44.6, "luma_ssim":0.99151}
# Exit status 0 on success, 2 on error.
set -euo pipefail
# issuances made here go to a throwaway registry, never the user's
export FILMMARK_REGISTRY="${FILMMARK_REGISTRY_BENCH:-$(mktemp -d)/registry.sqlite}"

die() { echo "quality.sh: $*" >&2; exit 2; }
json=0
args=()
for a in "$@"; do
  case "$a" in
    --json) json=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $a" ;;
    *) args+=("$a") ;;
  esac
done
[[ ${#args[@]} -eq 2 ]] || die "usage: quality.sh [--json] MASTER MARKED"
master="${args[0]}" marked="${args[1]}"
[[ -f "$master" ]] || die "no such file: $master"
[[ -f "$marked" ]] || die "no such file: $marked"
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || die "ffmpeg/ffprobe not found"

probe() { ffprobe -v error -select_streams v:0 -show_entries "stream=$2" -of default=nw=1:nk=1 "$1" | head -n1; }
mw="$(probe "$master" width)" mh="$(probe "$master" height)"
kw="$(probe "$marked" width)" kh="$(probe "$marked" height)"
pf="$(probe "$master" pix_fmt)"
[[ -n "$mw" && -n "$kw" ]] || die "cannot probe the inputs"
[[ "$mw" == "$kw" && "$mh" == "$kh" ]] || die "size differs: master ${mw}x${mh}, marked ${kw}x${kh}"

log="$(mktemp "${TMPDIR:-/tmp}/filmmark-quality.XXXXXX")"
stats="$(mktemp "${TMPDIR:-/tmp}/filmmark-quality.XXXXXX")"
trap 'rm -f "$log" "$stats"' EXIT
# input 0 = marked (the "main" input of psnr/ssim), input 1 = master (reference)
if ! ffmpeg -nostdin -hide_banner -nostats -loglevel info -i "$marked" -i "$master" \
    -filter_complex "[0:v:0]setpts=PTS-STARTPTS,format=${pf}[a];[1:v:0]setpts=PTS-STARTPTS,format=${pf}[b];[a]split[a1][a2];[b]split[b1][b2];[a1][b1]psnr=shortest=1:stats_file=${stats}[p];[a2][b2]ssim=shortest=1[s]" \
    -map '[p]' -f null - -map '[s]' -f null - >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  die "ffmpeg failed"
fi

# [Parsed_psnr_..] PSNR y:44.83 u:... v:... average:... min:... max:...
# [Parsed_ssim_..] SSIM Y:0.991510 (20.71) U:... V:... All:... (...)
psnr_line="$(grep -E '\] PSNR y:' "$log" | tail -n1 || true)"
ssim_line="$(grep -E '\] SSIM Y:' "$log" | tail -n1 || true)"
[[ -n "$psnr_line" && -n "$ssim_line" ]] || { tail -n 20 "$log" >&2; die "no psnr/ssim summary in ffmpeg's output"; }
psnr="$(sed -E 's/.* PSNR y:([^ ]+).*/\1/' <<<"$psnr_line")"
ssim="$(sed -E 's/.* SSIM Y:([^ ]+).*/\1/' <<<"$ssim_line")"
# per-frame stats: "n:1 mse_avg:... mse_y:... ... psnr_y:44.8 ..."
frames="$(grep -c '^n:' "$stats" || true)"
psnr_min="$(grep -oE 'psnr_y:[^ ]+' "$stats" | cut -d: -f2 | sort -g | head -n1)"

# psnr prints "inf" for identical pictures
num() { [[ "$1" =~ ^-?[0-9.]+(e[-+]?[0-9]+)?$ ]] && echo "$1" || echo null; }
if [[ $json == 1 ]]; then
  esc() { sed 's/\\/\\\\/g; s/"/\\"/g' <<<"$1"; }
  printf '{"master": "%s", "marked": "%s", "frames": %s, "pix_fmt": "%s", "luma_psnr_db": %s, "luma_psnr_min_db": %s, "luma_ssim": %s}\n' \
    "$(esc "$master")" "$(esc "$marked")" "${frames:-0}" "$pf" "$(num "$psnr")" "$(num "${psnr_min:-}")" "$(num "$ssim")"
else
  printf 'luma PSNR %s dB  SSIM %s  (%s frames, %s)\n' \
    "$(awk -v v="$psnr" 'BEGIN{ if (v ~ /^[0-9.]+$/) printf "%.2f", v; else print v }')" \
    "$(awk -v v="$ssim" 'BEGIN{ printf "%.5f", v }')" "${frames:-?}" "$pf"
fi
