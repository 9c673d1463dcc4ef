#!/usr/bin/env bash
# bench/places.sh - the issued picture shown inside other pictures (picture
# in picture, a boxed or vertical re-post) or cropped off the centre, on
# real footage, read with the receipt: does wmdetect vouch for the pictures
# (content match, exit 0), and does a transplant shown the same way stay
# unvouched? (common/place.h, docs/DESIGN.md section 11.)
#
#   bash bench/places.sh [--results FILE.md] [--work DIR] [CLIP...]
#
# Each clip (10 s of the media cache, default: dune_1080p24 storm_720p25
# vtest_768x576 raindrops_1080p24) is marked (FFV1, fresh key per run) with a
# receipt; the next clip of the list (the first for the last) gives the
# other pictures. Copies, all H.264, at the clip's own size:
#   grey_half   half size on a grey pad at 45 %, 40 % (robustness.sh's pip_half), CRF 23
#   over_half   half size over the other clip at an off-grid place, CRF 23
#   over_5_8    5/8 size over the other clip, CRF 18
#   over_flip   5/8 size mirrored left-right over the other clip, CRF 18
#   corner_3_4  3/4 size in the bottom-right corner of the other clip, CRF 20
#   vertical    a 9:16 re-post: the picture across a 1080x1920 frame over a
#               blurred copy of itself (robustness.sh's vertical), CRF 23
#   crop_odd    half the area at (137, 71) (robustness.sh's crop_odd), CRF 23
#   crop_br     the bottom-right 78 % x 78 %, CRF 23
#   crop43_left a 4:3 cut from the left edge, CRF 23
#   forged      the exact per-frame change of the deliverable (marked -
#               master) added to the other clip, shown at 5/8 over the
#               clip itself mirrored upside down (a transplant inside a
#               picture in picture), CRF 18
#   forged_crop the same transplant, not inset but cut as crop_odd, CRF 18
# and read with each build in BUILDS ("label=dir ...", default
# "current=build"), `wmdetect --json --receipt`. One table row per copy
# and build: exit status, status word, signature, pilot z, raw bit errors,
# geometry scale, content match, its log10 false-match probability, and
# the inset place when one matched.
#
# Env: BUILDS, FILMMARK_MEDIA (media cache, default ~/.cache/filmmark-media).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
M="${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}"
BUILDS="${BUILDS:-current=$root/build}"
results=/dev/stdout work="$here/work/places"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --results) results="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "places.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
clips=("$@")
[[ ${#clips[@]} -gt 0 ]] || clips=(dune_1080p24 storm_720p25 vtest_768x576 raindrops_1080p24)
first_build="${BUILDS%% *}"; first_build="${first_build#*=}"
for c in "${clips[@]}"; do
  [[ -f "$M/$c.mkv" ]] || { echo "places.sh: $M/$c.mkv missing: run ../shared/media/get.sh" >&2; exit 2; }
done
mkdir -p "$work"
cd "$work"
export FILMMARK_REGISTRY="$work/registry.sqlite"
ff() { nice ffmpeg -nostdin -v error -y "$@"; }
even() { python3 -c "import sys; print(int(round($1 / 2)) * 2)"; }
[[ -f k.key ]] || "$first_build/wmkeygen" --no-passphrase -o k -q

rows=()
n=${#clips[@]}
for ((i = 0; i < n; i++)); do
  c=${clips[$i]} o=${clips[$(( (i + 1) % n ))]}
  [[ -f src_$c.mkv ]] || ff -i "$M/$c.mkv" -t 10 -an -c:v ffv1 src_$c.mkv
  [[ -f m_$c.mkv ]] || "$first_build/wmembed" -k k.key -i src_$c.mkv -o m_$c.mkv --codec ffv1 \
    --title-id 1 --recipient-id $((i + 2)) -q
  read -r W H < <(ffprobe -v error -select_streams v:0 -show_entries stream=width,height \
    -of csv=p=0 m_$c.mkv | tr , ' ')
  fps=$(ffprobe -v error -select_streams v:0 -show_entries stream=r_frame_rate -of csv=p=0 m_$c.mkv)
  bg="[0:v]scale=$W:$H,fps=$fps,trim=duration=10,setpts=PTS-STARTPTS,format=yuv420p[bg]"
  x264="-c:v libx264 -pix_fmt yuv420p -an"
  hw=$(even "$W/2") hh=$(even "$H/2") w58=$(even "$W*5/8") h58=$(even "$H*5/8")
  w34=$(even "$W*3/4") h34=$(even "$H*3/4")
  [[ -f grey_half_$c.mp4 ]] || ff -i m_$c.mkv -vf "scale=$hw:$hh,pad=$W:$H:$(even "$W*0.45"):$(even "$H*0.4"):gray" \
    $x264 -crf 23 grey_half_$c.mp4
  [[ -f over_half_$c.mp4 ]] || ff -i "$M/$o.mkv" -i m_$c.mkv -filter_complex \
    "$bg;[1:v]scale=$hw:$hh[s];[bg][s]overlay=$(( W * 37 / 100 )):$(( H * 23 / 100 )):shortest=1" \
    $x264 -crf 23 over_half_$c.mp4
  [[ -f over_5_8_$c.mp4 ]] || ff -i "$M/$o.mkv" -i m_$c.mkv -filter_complex \
    "$bg;[1:v]scale=$w58:$h58[s];[bg][s]overlay=$(( W * 11 / 100 )):$(( H * 29 / 100 )):shortest=1" \
    $x264 -crf 18 over_5_8_$c.mp4
  [[ -f over_flip_$c.mp4 ]] || ff -i "$M/$o.mkv" -i m_$c.mkv -filter_complex \
    "$bg;[1:v]scale=$w58:$h58,hflip[s];[bg][s]overlay=$(( W * 31 / 100 )):$(( H * 7 / 100 )):shortest=1" \
    $x264 -crf 18 over_flip_$c.mp4
  [[ -f corner_3_4_$c.mp4 ]] || ff -i "$M/$o.mkv" -i m_$c.mkv -filter_complex \
    "$bg;[1:v]scale=$w34:$h34[s];[bg][s]overlay=$(( W - w34 )):$(( H - h34 )):shortest=1" \
    $x264 -crf 20 corner_3_4_$c.mp4
  [[ -f vertical_$c.mp4 ]] || ff -i m_$c.mkv -vf \
    "split[a][b];[a]scale=1080:1920,boxblur=20[bg];[b]scale=1080:-2[fg];[bg][fg]overlay=0:(H-h)/2" \
    $x264 -crf 23 vertical_$c.mp4
  ow=$(even "$W*0.7071") oh=$(even "$H*0.7071")
  [[ -f crop_odd_$c.mp4 ]] || ff -i m_$c.mkv -vf "crop=$ow:$oh:137:71:exact=1" $x264 -crf 23 crop_odd_$c.mp4
  bw=$(even "$W*0.78") bh=$(even "$H*0.78")
  [[ -f crop_br_$c.mp4 ]] || ff -i m_$c.mkv -vf "crop=$bw:$bh:$((W - bw)):$((H - bh))" $x264 -crf 23 crop_br_$c.mp4
  [[ -f crop43_left_$c.mp4 ]] || ff -i m_$c.mkv -vf "crop=trunc(ih*2/3)*2:ih:0:0" $x264 -crf 23 crop43_left_$c.mp4
  if [[ ! -f forged_$c.mp4 ]]; then
    ff -i m_$c.mkv -i src_$c.mkv -filter_complex \
      "[0:v][1:v]blend=c0_expr='A-B+128':c1_expr='128':c2_expr='128',format=yuv420p" -c:v ffv1 diff_$c.mkv
    ff -i "$M/$o.mkv" -i diff_$c.mkv -i src_$c.mkv -filter_complex \
      "[0:v]scale=$W:$H,fps=$fps,format=yuv420p,setpts=PTS-STARTPTS[x];[1:v]setpts=PTS-STARTPTS[d];[x][d]blend=c0_expr='A+B-128':c1_expr='A':c2_expr='A':shortest=1,scale=$w58:$h58[s];[2:v]vflip,format=yuv420p[b];[b][s]overlay=$(( W * 11 / 100 )):$(( H * 29 / 100 )):shortest=1" \
      $x264 -crf 18 forged_$c.mp4
  fi
  [[ -f forged_crop_$c.mp4 ]] || ff -i "$M/$o.mkv" -i diff_$c.mkv -filter_complex \
    "[0:v]scale=$W:$H,fps=$fps,format=yuv420p,setpts=PTS-STARTPTS[x];[1:v]setpts=PTS-STARTPTS[d];[x][d]blend=c0_expr='A+B-128':c1_expr='A':c2_expr='A':shortest=1,crop=$ow:$oh:137:71:exact=1" \
    $x264 -crf 18 forged_crop_$c.mp4
  for a in grey_half over_half over_5_8 over_flip corner_3_4 vertical crop_odd crop_br crop43_left \
      forged forged_crop; do
    for b in $BUILDS; do
      label=${b%%=*} dir=${b#*=}
      set +e
      j=$("$dir/wmdetect" --json -k k.dkey --receipt m_$c.mkv.receipt.json ${a}_$c.mp4 2>/dev/null)
      ex=$?
      set -e
      rows+=("$(printf '%s' "$j" | python3 -c '
import json, sys
c, a, label, ex = sys.argv[1:5]
d = json.loads(sys.stdin.read() or "{}")
g = d.get("geometry") or {}
ct = d.get("content") or {}
ins = ct.get("picture_place")
f = lambda v, fmt: "-" if v is None else fmt % v
print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
    c, a, label, ex, d.get("status", "-"), "valid" if d.get("signature_valid") else "no",
    f(d.get("pilot_z"), "%.1f"), f(d.get("raw_bit_error_rate"), "%.3f"),
    f(g.get("scale_x"), "%.3f"), {True: "yes", False: "no"}.get(d.get("content_match"), "-"),
    f(ct.get("false_match_log10"), "%.1f"),
    "%s %.0fx%.0f at (%.0f, %.0f), %d places" % ("inside" if ins["within_frame"] else "crop of",
        ins["width"], ins["height"], ins["x"], ins["y"], ins["places"]) if ins else "-"))
' "$c" "$a" "$label" "$ex")")
    done
  done
done
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  echo "# The issued picture inside other pictures or cropped off the centre, read with its receipt"
  echo
  echo "Generated by \`bench/places.sh\` on $(date -u '+%F %H:%M') UTC, commit \`$commit\`; builds: $BUILDS."
  echo "Clips: ${clips[*]} (10 s each, marked with FFV1 by the first build, fresh key)."
  echo
  echo "| clip | copy | build | exit | status | signature | pilot z | raw BER | scale | content match | log10 p | picture's place matched |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
} > "$results"
