#!/usr/bin/env bash
# bench/stills.sh - stills cut from marked deliverables of real clips, mixed
# into unmarked images, scanned with `wmdetect --scan` (issue 13, section 2).
#
#   bash bench/stills.sh [--quick] [--work DIR] [--threads N] [--reuse-set]
#
# 1. Deliverables: excerpts of four real clips of ~/.cache/filmmark-media
#    (dune and raindrops 1080p, storm 720p, vtest 768x576) marked with one
#    key, title 77 (made once; kept in WORK/deliv).
# 2. Marked stills: two frames a second of each deliverable, centre-cropped
#    to a square as datasets do, scaled to 1080, 720 and 512 px (no
#    up-scaling) with ffmpeg's default bicubic, JPEG at ffmpeg -q:v 3 and 8,
#    whose quantisation tables are nearest IJG quality 91 and 75
#    (bench/jpeg_quality.py): "q90" and "q75" below.
# 3. Unmarked images (>= 10,000; --quick: ~700): frames of other real footage
#    (60 s of the long master, elephants 2160p) and of the unmarked masters of
#    the same four clips, cropped and scaled, JPEG/PNG/WebP; synthetic
#    pictures from ffmpeg's testsrc2, mandelbrot, cellauto, life, gradients,
#    smptehdbars and noise.
# 4. One scan of everything (--json, niced), the per-still figures, false
#    alarms, the combined evidence; joint decoding of stills whose own
#    signature does not verify (subsets of one deliverable's stills); the
#    scan speed at 512 px (600 JPEGs, --quick 60, spread over the real and
#    synthetic kinds): CPU time of a one-thread scan, and wall and CPU time
#    on --threads (default 2); the load average before and after each run.
# --reuse-set skips 1-3 and scans the set a previous run left in WORK/set
# (to measure a change of the detector on the same images).
# Results: bench/results/stills.md and stills.json (--quick: stills_quick.*;
# bench/stills_report.py). Builds the tools in FILMMARK_BUILD (default
# build/) when they are missing. Needs ffmpeg, ffprobe, python3, /usr/bin/time
# (scripts/deps.sh) and the clips of ~/.cache/filmmark-media
# (../shared/media/get.sh; FILMMARK_MEDIA to point elsewhere).
set -euo pipefail
# issuances made here go to a throwaway registry, never the user's
export FILMMARK_REGISTRY="${FILMMARK_REGISTRY_BENCH:-$(mktemp -d)/registry.sqlite}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${FILMMARK_BUILD:-$ROOT/build}
MEDIA=${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}
WORK=/tmp/filmmark-stills
QUICK=0
THREADS=2
REUSE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --work) WORK=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --reuse-set) REUSE=1 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "stills.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
for c in ffmpeg ffprobe python3 /usr/bin/time; do
  command -v "$c" >/dev/null || { echo "stills.sh: $c is missing (scripts/deps.sh)" >&2; exit 2; }
done
for n in dune_1080p24 raindrops_1080p24 storm_720p25 vtest_768x576 long_1080p24 elephants_2160p24; do
  [ -f "$MEDIA/$n.mkv" ] || { echo "stills.sh: $MEDIA/$n.mkv is missing (../shared/media/get.sh)" >&2; exit 2; }
done
if [ ! -x "$B/wmdetect" ] || [ ! -x "$B/wmembed" ] || [ ! -x "$B/wmkeygen" ]; then
  echo "stills.sh: building the tools in $B" >&2
  nice cmake -S "$ROOT" -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  nice make -C "$B" -j2 wmdetect wmembed wmkeygen >/dev/null
fi
FF="ffmpeg -nostdin -hide_banner -loglevel error -y"
Q90=3; Q75=8
mkdir -p "$WORK/deliv" "$WORK/masters"
[ -f "$WORK/k.key" ] || "$B/wmkeygen" --no-passphrase -o "$WORK/k" >/dev/null

SET="$WORK/set"
U="$SET/unmarked"
if [ $REUSE = 1 ]; then
  [ -d "$SET/marked" ] && [ -d "$U" ] && [ -f "$WORK/k.dkey" ] || \
    { echo "stills.sh: --reuse-set: no set in $WORK (run without it first)" >&2; exit 2; }
  echo "stills.sh: reusing $SET" >&2
else
# ---- 1. deliverables ----
if [ $QUICK = 1 ]; then CLIPS="dune_1080p24:4 storm_720p25:4"; else
  CLIPS="dune_1080p24:10 raindrops_1080p24:6 storm_720p25:6 vtest_768x576:8"; fi
for c in $CLIPS; do
  n=${c%%:*}; d=${c##*:}; short=${n%%_*}
  # named by their length: --quick and full runs share WORK
  if [ ! -f "$WORK/deliv/${short}_${d}s.webm" ]; then
    echo "stills.sh: marking $d s of $n" >&2
    $FF -i "$MEDIA/$n.mkv" -t "$d" -an -c:v ffv1 "$WORK/masters/${n}_${d}s.mkv"
    nice "$B/wmembed" -k "$WORK/k.key" -i "$WORK/masters/${n}_${d}s.mkv" \
      -o "$WORK/deliv/${short}_${d}s.webm" --title-id 77 --recipient-id 5 --quiet
  fi
done

# ---- 2. marked stills ----
rm -rf "$SET"; mkdir -p "$SET/marked" "$SET/unmarked"
for c in $CLIPS; do
  n=${c%%:*}; d=${c##*:}; short=${n%%_*}; dv="$WORK/deliv/${short}_${d}s.webm"
  fr="$WORK/frames/$short"; rm -rf "$fr"; mkdir -p "$fr"
  $FF -i "$dv" -vf fps=2 -start_number 0 "$fr/%03d.png"
  h=$(ffprobe -v error -select_streams v:0 -show_entries stream=height -of csv=p=0 "$dv")
  for s in 1080 720 512; do
    [ "$s" -le "$h" ] || continue
    for q in 90 75; do
      qv=$([ $q = 90 ] && echo $Q90 || echo $Q75)
      $FF -start_number 0 -i "$fr/%03d.png" -vf "crop=ih:ih,scale=$s:$s" -q:v "$qv" \
        -start_number 0 "$SET/marked/${short}_${s}_q${q}_%03d.jpg"
    done
  done
done

# ---- 3. unmarked images ----
# src, first second, fps, crop+scale filter, extension/quality, prefix
frames() {  # src ss fps filter ext qv prefix [limit]
  local lim=${8:-100000}
  $FF -ss "$2" -i "$1" -vf "fps=$3,$4" -frames:v "$lim" -q:v "$6" "$U/${7}_%05d.$5"
}
SQ="crop=ih:ih,scale=512:512"; SQ7="crop=ih:ih,scale=720:720"; SQ10="crop=ih:ih,scale=1080:1080"
if [ $QUICK = 1 ]; then F24=12; F12=6; LIM=40; else F24=24; F12=12; LIM=100000; fi
# the first 60 s of the long master (30 shots of real footage and slow
# zooms over photographs): one decode, its frames dealt round-robin to five
# variants (no frame twice)
if [ $QUICK = 1 ]; then LT="-t 8"; else LT="-t 60"; fi
V="crop=ih:ih,scale"
$FF $LT -i "$MEDIA/long_1080p24.mkv" -filter_complex \
  "[0:v]split=5[a][b][c][d][e];\
   [a]select='eq(mod(n\,5)\,0)',$V=512:512[o1];[b]select='eq(mod(n\,5)\,1)',$V=512:512[o2];\
   [c]select='eq(mod(n\,5)\,2)',$V=720:720[o3];[d]select='eq(mod(n\,5)\,3)',$V=1080:1080[o4];\
   [e]select='eq(mod(n\,5)\,4)',scale=640:360[o5]" \
  -map '[o1]' -fps_mode vfr -q:v $Q75 "$U/long_512_q75_%05d.jpg" \
  -map '[o2]' -fps_mode vfr -q:v $Q90 "$U/long_512_q90_%05d.jpg" \
  -map '[o3]' -fps_mode vfr -q:v $Q75 "$U/long_720_q75_%05d.jpg" \
  -map '[o4]' -fps_mode vfr -q:v $Q90 "$U/long_1080_q90_%05d.jpg" \
  -map '[o5]' -fps_mode vfr -q:v $Q75 "$U/long_640x360_%05d.jpg"
frames "$MEDIA/elephants_2160p24.mkv" 0 24 "$SQ" jpg $Q75 elephants_512 $LIM
frames "$MEDIA/elephants_2160p24.mkv" 0 24 "crop=ih:ih,scale=1024:1024" png 1 elephants_1024 $LIM
for n in dune_1080p24 raindrops_1080p24 storm_720p25 vtest_768x576; do
  frames "$MEDIA/$n.mkv" 0 $F24 "$SQ" jpg $Q75 "plain_${n%%_*}_512" $LIM
  frames "$MEDIA/$n.mkv" 0.02 $F12 "$SQ7" jpg $Q90 "plain_${n%%_*}_720" $LIM
done
if [ $QUICK = 1 ]; then NS=12; else NS=700; fi
synth() {  # lavfi source, ext, qv, prefix [encoder options]
  $FF -f lavfi -i "$1" -frames:v $NS ${5:-} ${6:-} -q:v "$3" -f image2 "$U/${4}_%05d.$2"
}
synth "testsrc2=s=512x512:r=5" jpg $Q75 testsrc2
synth "testsrc2=s=720x720:r=3" png 1 testsrc2_png
synth "mandelbrot=s=512x512:r=10" jpg $Q90 mandelbrot
synth "mandelbrot=s=640x640:r=7" webp 75 mandelbrot_webp -c:v libwebp
synth "cellauto=s=512x512:r=5:rule=110" jpg $Q75 cellauto
synth "life=s=512x512:r=5:mold=10:ratio=0.3" jpg $Q75 life
synth "gradients=s=512x512:r=2:speed=0.05" jpg $Q90 gradients
synth "smptehdbars=s=720x720:r=1,noise=alls=20:allf=t+u" jpg $Q75 bars_noise
synth "color=c=gray:s=512x512:r=25,noise=alls=60:allf=t+u" jpg $Q75 noise
synth "color=c=gray:s=512x512:r=25,noise=alls=8:allf=t+u,gblur=sigma=3" jpg $Q90 noise_blur
fi
echo "stills.sh: $(ls "$SET/marked" | wc -l) marked stills, $(ls "$U" | wc -l) unmarked images" >&2

# ---- 4. the scan ----
OUT="$WORK/out"; mkdir -p "$OUT"
# what made the figures: the commit of the tools, and when the images were made
{ echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- common detect 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "images $(date -u -r "$SET/marked" '+%Y-%m-%d %H:%M UTC')$([ $REUSE = 1 ] && echo ' (reused: --reuse-set)')"; } > "$OUT/origin.txt"
(cd "$SET" && find marked unmarked -type f | sort) > "$OUT/list.txt"
echo "stills.sh: scanning $(wc -l < "$OUT/list.txt") files with $THREADS threads" >&2
uptime > "$OUT/load.txt"
(cd "$SET" && /usr/bin/time -f "%e %U %S" -o "$OUT/scan.time" nice "$B/wmdetect" \
  -k "$WORK/k.dkey" --scan - --json --quiet --threads "$THREADS" < "$OUT/list.txt" \
  > "$OUT/scan.jsonl" 2> "$OUT/scan.err") || true
uptime >> "$OUT/load.txt"

# joint decoding: subsets of the 512-px stills of one deliverable whose own
# signature did not verify, summed by the scan's summary
: > "$OUT/joint.txt"
for short in dune storm; do
  for q in 75 90; do
    python3 "$ROOT/bench/stills_report.py" unverified "$OUT/scan.jsonl" "marked/${short}_512_q${q}_" \
      > "$OUT/unverified_${short}_$q.txt"
    total=$(wc -l < "$OUT/unverified_${short}_$q.txt")
    for k in 2 3 4 6 8 12 16; do
      [ "$k" -le "$total" ] || break
      res=$( (cd "$SET" && head -n "$k" "$OUT/unverified_${short}_$q.txt" | nice "$B/wmdetect" \
        -k "$WORK/k.dkey" --scan - --json --quiet --threads 1 || true) | tail -n 1 | \
        python3 -c 'import json,sys; k=json.load(sys.stdin)["summary"]["keys"][0]; print(k["pooled_stills"], int(k["pooled_signature_valid"]))')
      echo "$short 512 q$q $k $res" >> "$OUT/joint.txt"
    done
  done
done

# speed: 512-px JPEGs of every kind (real frames and synthetic), spread
# evenly over the kinds; one thread (CPU time per still, minus the per-key
# set-up measured on an empty list), then --threads (wall); uptime before
# and after each run
if [ $QUICK = 1 ]; then NSP=60; else NSP=600; fi
(cd "$SET" && ls unmarked | grep -E '^(long_512_q(75|90)|plain_[a-z]+_512|elephants_512|testsrc2|mandelbrot|cellauto|life|noise|noise_blur)_[0-9]+\.jpg$' || true) \
  > "$OUT/speed_all.txt"
total=$(wc -l < "$OUT/speed_all.txt")
step=$(( total > NSP ? total / NSP : 1 ))
awk -v s=$step 'NR % s == 0' "$OUT/speed_all.txt" | head -n $NSP | sed 's|^|unmarked/|' > "$OUT/speed_list.txt"
for t in 1 "$THREADS"; do
  uptime > "$OUT/load_speed$t.txt"
  (cd "$SET" && /usr/bin/time -f "%e %U %S" -o "$OUT/speed$t.time" "$B/wmdetect" -k "$WORK/k.dkey" \
    --scan - --quiet --threads "$t" < "$OUT/speed_list.txt" > /dev/null 2>&1) || true
  uptime >> "$OUT/load_speed$t.txt"
done
/usr/bin/time -f "%e %U %S" -o "$OUT/setup.time" "$B/wmdetect" -k "$WORK/k.dkey" --scan - --quiet \
  --threads 1 < /dev/null > /dev/null 2>&1 || true

mkdir -p "$ROOT/bench/results"
SUFFIX=$([ $QUICK = 1 ] && echo _quick || echo "")
python3 "$ROOT/bench/stills_report.py" report "$OUT" "$ROOT/bench/results/stills$SUFFIX" $QUICK "$THREADS"
echo "stills.sh: bench/results/stills$SUFFIX.md" >&2
