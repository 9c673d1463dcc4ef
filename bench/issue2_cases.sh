#!/usr/bin/env bash
# The first issue's survival cases on real clips: for each master, embed
# (VP9, default strength), make the copies below, and run wmdetect on each
# whole copy and on a 10-second excerpt starting at 3.37 s (not a multiple of
# anything). Prints one line per copy and read; exit 0 when every read
# verifies the signed payload with the right ids, 1 otherwise.
#
#   bench/issue2_cases.sh [CLIP...]     default: dune_1080p24 storm_720p25 vtest_768x576
#
# A CLIP is a path or a name in the media cache (../shared/media/get.sh).
# Masters are trimmed losslessly to their first 20 s.
# Environment: FILMMARK_BIN (default build/), FILMMARK_MEDIA. Needs ffmpeg, python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
MEDIA="${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}"
for t in wmkeygen wmembed wmdetect; do
  [[ -x "$BIN/$t" ]] || { echo "issue2_cases.sh: $BIN/$t not found: run bash scripts/build.sh" >&2; exit 2; }
done
clips=("$@")
[[ ${#clips[@]} -gt 0 ]] || clips=(dune_1080p24 storm_720p25 vtest_768x576)
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
probe() { ffprobe -v error -select_streams v:0 -show_entries "stream=$2" -of default=nw=1:nk=1 "$1" | head -n1; }
TITLE=2002 RCPT=42 fail=0
echo "bench/issue2_cases.sh: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u '+%Y-%m-%d %H:%M UTC')"

for c in "${clips[@]}"; do
  src=""
  for f in "$c" "$MEDIA/$c" "$MEDIA/$c.mkv" "$MEDIA/$c.mov"; do [[ -f "$f" ]] && { src="$f"; break; }; done
  [[ -n "$src" ]] || { echo "issue2_cases.sh: clip not found: $c" >&2; fail=1; continue; }
  name="$(basename "${src%.*}")" d="$work/$name"
  mkdir -p "$d"
  ff -i "$src" -t 20 -map 0:v:0 -an -c:v ffv1 -level 3 "$d/master.mkv"
  fps=$(probe "$d/master.mkv" r_frame_rate)
  fpsi=$(awk -v f="$fps" 'BEGIN { split(f, a, "/"); printf "%g", a[2] ? a[1] / a[2] : a[1] }')
  other=30; [[ "$fpsi" == 25 ]] && other=24
  "$BIN/wmkeygen" -o "$d/k" --no-passphrase -q
  "$BIN/wmembed" -k "$d/k.key" -i "$d/master.mkv" -o "$d/deliv.webm" --title-id $TITLE \
    --recipient-id $RCPT -q
  x264=(-map 0:v:0 -an -c:v libx264 -preset medium)
  ff -i "$d/deliv.webm" "${x264[@]}" -crf 23 "$d/crf23.mp4"
  ff -i "$d/deliv.webm" "${x264[@]}" -crf 30 "$d/crf30.mp4"
  ff -i "$d/deliv.webm" -map 0:v:0 -an -vf scale=-2:720 -c:v libvpx-vp9 -b:v 1M -deadline good \
    -cpu-used 4 -row-mt 1 "$d/vp9_720p_1M.webm"
  ff -i "$d/deliv.webm" "${x264[@]}" -crf 23 -vf "fps=$other" "$d/fps$other.mp4"
  ff -i "$d/deliv.webm" "${x264[@]}" -crf 23 -vf "select='mod(n+1,10)',setpts=N/FRAME_RATE/TB" \
    "$d/drop10th.mp4"
  for copy in deliv.webm crf23.mp4 crf30.mp4 vp9_720p_1M.webm "fps$other.mp4" drop10th.mp4; do
    for read in whole excerpt; do
      args=(); [[ $read == excerpt ]] && args=(--start 3.37 --duration 10)
      rc=0
      "$BIN/wmdetect" -k "$d/k.dkey" --json --quiet "${args[@]}" "$d/$copy" >"$d/r.json" 2>/dev/null || rc=$?
      line=$(python3 - "$d/r.json" "$rc" $TITLE $RCPT <<'EOF'
import json, sys
path, rc, title, rcpt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
try:
    d = json.load(open(path))
except Exception:
    print("0 unreadable output"); sys.exit()
ok = rc == 0 and d.get("signature_valid") and d.get("title_id") == title and d.get("recipient_id") == rcpt
span = d.get("span_seconds", [0, 0])
print(f"{1 if ok else 0} exit {rc}, z {d.get('pilot_z', 0):.1f}, raw BER {100 * d.get('raw_bit_error_rate', 1):.1f} %, "
      f"read {span[0]:.2f}-{span[1]:.2f} s, {d.get('frames_read', 0)} frames")
EOF
)
      ok=${line%% *}
      [[ $ok == 1 ]] || fail=1
      printf '%-16s %-18s %-8s %s %s\n' "$name" "$copy" "$read" "$([[ $ok == 1 ]] && echo verified || echo FAILED)" "${line#* }"
    done
  done
  rm -rf "$d"
done
exit $fail
