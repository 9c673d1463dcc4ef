#!/usr/bin/env bash
# Where wmembed's time goes against plain ffmpeg, on a short excerpt.
#
#   bench/speed_profile.sh [--seconds S] [--codec ffv1|h264|vp9] [--perf] [--out FILE]
#                          [--key PREFIX] [CLIP]
#
# CLIP (default dune_1080p24.mkv from the media cache) is cut losslessly to
# S seconds (default 4). Runs, one after the other, each timed with
# /usr/bin/time (wall, user + system CPU, peak RSS):
#   * wmembed to CODEC (default ffv1), with its self-check, then --no-verify;
#   * plain ffmpeg with wmembed's encoder settings (bench/plain_args.sh);
#   * ffmpeg decoding the master alone, and the deliverable alone (the
#     self-check's decode), default threads;
#   * wmdetect on the deliverable (the self-check's work, decode included).
# From these: the self-check's CPU cost (with minus without), the rest of
# wmembed's cost over plain ffmpeg, per frame. With --perf, `perf record`
# of wmembed (with the self-check) gives the CPU share per library and the
# top symbols of filmmark's own code.
# Also prints a hash of the deliverable's packets (ffmpeg framemd5 of the
# video stream copied): equal hashes = the same bits whatever the container's
# random ids; give the same --key PREFIX (PREFIX.key and PREFIX.dkey made
# by wmkeygen --no-passphrase) to compare two builds (the issue time is fixed).
# Prints markdown on stdout (and to --out FILE).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
MEDIA="${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}"
die() { echo "speed_profile.sh: $*" >&2; exit 2; }
secs=4 codec=ffv1 do_perf=0 out="" clip="" key=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) secs="$2"; shift ;;
    --codec) codec="$2"; shift ;;
    --perf) do_perf=1 ;;
    --out) out="$2"; shift ;;
    --key) key="$2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) die "unknown option: $1" ;;
    *) clip="$1" ;;
  esac
  shift
done
[[ -n "$clip" ]] || clip="$MEDIA/dune_1080p24.mkv"
[[ -f "$clip" ]] || die "no such clip: $clip"
case "$codec" in vp9) ext=webm ;; h264) ext=mp4 ;; ffv1) ext=mkv ;; *) die "unknown codec $codec" ;; esac
# plain ffmpeg with wmembed's encoder settings
. "$here/plain_args.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export FILMMARK_REGISTRY="$work/registry.sqlite"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
ff -i "$clip" -t "$secs" -map 0:v:0 -c copy "$work/m.mkv"
W=$(ffprobe -v error -select_streams v:0 -show_entries stream=width -of default=nw=1:nk=1 "$work/m.mkv")
H=$(ffprobe -v error -select_streams v:0 -show_entries stream=height -of default=nw=1:nk=1 "$work/m.mkv")
if [[ -n "$key" ]]; then
  cp "$key.key" "$work/key.key"; cp "$key.dkey" "$work/key.dkey"; chmod 600 "$work/key.key"
else
  "$BIN/wmkeygen" -o "$work/key" --no-passphrase >/dev/null
fi
load0="$(cut -d' ' -f1-3 /proc/loadavg)"
emb=("$BIN/wmembed" -k "$work/key.key" -i "$work/m.mkv" --title-id 1 --recipient-id 2
     --codec "$codec" --issued 2026-01-01T00:00Z --no-registry --force --quiet)
rows=()
timed() { # label command...
  local label="$1"; shift
  /usr/bin/time -f '%e %U %S %M' -o "$work/t" "$@" >"$work/o" 2>"$work/e" ||
    { cat "$work/e" >&2; die "$label failed"; }
  rows+=("$label $(tail -n1 "$work/t")")
}
timed "wmembed" nice "${emb[@]}" -o "$work/d.$ext" --json
cp "$work/o" "$work/embed.json"
timed "wmembed --no-verify" nice "${emb[@]}" -o "$work/nv.$ext" --no-verify
timed "plain ffmpeg" nice ffmpeg -nostdin -v error -y -i "$work/m.mkv" -map 0:v:0 -an \
  $(plain_args "$codec" "$W") "$work/p.$ext"
timed "ffmpeg decode master" nice ffmpeg -nostdin -v error -i "$work/m.mkv" -map 0:v:0 -f null -
timed "ffmpeg decode deliverable" nice ffmpeg -nostdin -v error -i "$work/d.$ext" -map 0:v:0 -f null -
timed "wmdetect deliverable" nice "$BIN/wmdetect" -k "$work/key.dkey" --quiet "$work/d.$ext"
hash_d=$(ffmpeg -nostdin -v error -i "$work/d.$ext" -map 0:v:0 -c copy -f framemd5 - | grep -v '^#' | sha256sum | cut -c1-16)
hash_nv=$(ffmpeg -nostdin -v error -i "$work/nv.$ext" -map 0:v:0 -c copy -f framemd5 - | grep -v '^#' | sha256sum | cut -c1-16)
frames=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"])' "$work/embed.json")
scw=$(python3 -c 'import json,sys; print("%.2f" % ((json.load(open(sys.argv[1])).get("self_check") or {}).get("wall_seconds", 0)))' "$work/embed.json")
perf_txt=""
if [[ $do_perf == 1 ]]; then
  nice perf record -q -o "$work/perf.data" -- "${emb[@]}" -o "$work/pf.$ext" >/dev/null 2>&1
  perf_txt="$(perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null |
              awk '/^ +[0-9.]+%/ && $1 + 0 >= 0.3 { printf "| %s | %s |\n", $2, $1 }')"
  perf_sym="$(perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
              awk '/^ +[0-9.]+%/ && $2 == "wmembed" { printf "| %s | %s |\n", $4, $1 }' | head -15)"
fi
load1="$(cut -d' ' -f1-3 /proc/loadavg)"
{
  if [[ -n "${FILMMARK_BIN:-}" ]]; then built="binaries of $BIN"
  else built="commit \`$(git -C "$root" rev-parse --short HEAD)$([[ -z "$(git -C "$root" status --porcelain --untracked-files=no -- common embed)" ]] || echo ' + local changes')\`"; fi
  echo "Generated by \`bench/speed_profile.sh --seconds $secs --codec $codec\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $built;"
  echo "$(basename "$clip") cut to $secs s (${W}x${H}, $frames frames); load average $load0 before, $load1 after;"
  echo "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores. Deliverable packets hash $hash_d (--no-verify run: $hash_nv)."
  echo
  echo "| run | wall s | CPU s | CPU ms/frame | peak MB |"
  echo "| --- | --- | --- | --- | --- |"
  for r in "${rows[@]}"; do
    read -r -a a <<<"$r"
    n=${#a[@]}
    label="${a[*]:0:n-4}"
    awk -v l="$label" -v w="${a[n-4]}" -v u="${a[n-3]}" -v s="${a[n-2]}" -v m="${a[n-1]}" -v f="$frames" \
      'BEGIN { printf "| %s | %.1f | %.1f | %.1f | %.0f |\n", l, w, u + s, (u + s) * 1000 / f, m / 1024 }'
  done
  cpu() { for r in "${rows[@]}"; do [[ "$r" == "$1 "[0-9]* ]] && awk '{ print $(NF-2) + $(NF-1) }' <<<"$r"; done; }
  awk -v e="$(cpu wmembed)" -v n="$(cpu 'wmembed --no-verify')" -v p="$(cpu 'plain ffmpeg')" -v f="$frames" -v scw="$scw" \
    'BEGIN { printf "\nPer frame: self-check %.1f ms CPU (with minus --no-verify; its wall time %s s); the rest of wmembed over plain ffmpeg %.1f ms CPU; CPU ratio wmembed / ffmpeg %.2f (%.2f with --no-verify).\n", (e - n) * 1000 / f, scw, (n - p) * 1000 / f, e / p, n / p }'
  if [[ -n "$perf_txt" ]]; then
    echo; echo "perf record of wmembed (with the self-check), CPU samples by library:"; echo
    echo "| library | share |"; echo "| --- | --- |"; echo "$perf_txt"
    echo; echo "filmmark's own top symbols:"; echo
    echo "| symbol | share of all samples |"; echo "| --- | --- |"; echo "$perf_sym"
  fi
} | tee ${out:+"$out"}
