#!/bin/bash
# bench/binding.sh - mark format 5's content binding (docs/DESIGN.md §10.1) on
# real footage: each clip (10 s, from ../shared/media/get.sh's cache) is
# marked (FFV1, so only the attack degrades it), put through benign attacks
# and read blind (crops to one side included: left or right half, a 4:3 cut
# from the left edge, the top or the top-left 60 %: a crop that cuts the
# tagged region away must read inconclusive, exit 3, never 4); then the strongest copy attack, the exact per-frame change
# of one deliverable (marked - master) added to other real footage scaled to
# its size, is read blind too. One line per copy: wmdetect's exit status,
# signature, pilot z, raw bit errors, binding z, agreement, epochs checked
# and the binding verdict.
#   bash bench/binding.sh [> bench/results/binding.txt]
# Env: B (build dir with the tools; default build/), FILMMARK_MEDIA (media
# cache), WORK (scratch; default bench/work/binding), CLIPS, ATTACKS.
set -u
echo "# filmmark $(cd "$(dirname "$0")/.." && git rev-parse --short HEAD 2>/dev/null) $(date -u +%FT%TZ)"
B=${B:-$(cd "$(dirname "$0")/.." && pwd)/build}; M=${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}; W=${WORK:-$(cd "$(dirname "$0")" && pwd)/work/binding}; mkdir -p "$W"; cd "$W"
export FILMMARK_REGISTRY="$W/registry.sqlite"
[ -f k.key ] || $B/wmkeygen --no-passphrase -o k >/dev/null
for c in ${CLIPS:-dune_1080p24 storm_720p25 vtest_768x576 raindrops_1080p24}; do
  [ -f m_$c.mkv ] || nice $B/wmembed -k k.key -i $M/$c.mkv -o m_$c.mkv --codec ffv1 --title-id 1 --recipient-id 2 -q 2>&1 | tail -2
  src=m_$c.mkv
  declare -A A=( [crf30]="-c:v libx264 -crf 30" [crf35]="-c:v libx264 -crf 35" [s360]="-vf scale=-2:360 -c:v libx264 -crf 23"
    [crop10]="-vf crop=trunc(iw*0.8/2)*2:trunc(ih*0.8/2)*2 -c:v libx264 -crf 23"
    [cropasym]="-vf crop=trunc(iw*0.85/2)*2:trunc(ih*0.9/2)*2:0:0 -c:v libx264 -crf 23"
    [grade]="-vf eq=contrast=1.25:brightness=0.04:gamma=1.3:saturation=1.3 -c:v libx264 -crf 23"
    [blur1]="-vf gblur=sigma=1 -c:v libx264 -crf 23" [vp9_40]="-c:v libvpx-vp9 -crf 40 -b:v 0 -row-mt 1 -cpu-used 5"
    [fps30]="-vf fps=30 -c:v libx264 -crf 23" [first5]="-t 5 -c:v libx264 -crf 23" [none]="-c:v copy"
    [cropleft]="-vf crop=trunc(iw/4)*2:ih:0:0 -c:v libx264 -crf 23"
    [cropright]="-vf crop=trunc(iw/4)*2:ih:iw-trunc(iw/4)*2:0 -c:v libx264 -crf 23"
    [crop43]="-vf crop=trunc(ih*2/3)*2:ih:0:0 -c:v libx264 -crf 23"
    [croptop]="-vf crop=iw:trunc(ih*0.3)*2:0:0 -c:v libx264 -crf 23"
    [cropcorner]="-vf crop=trunc(iw*0.3)*2:trunc(ih*0.3)*2:0:0 -c:v libx264 -crf 23" )
  for a in ${ATTACKS:-none crf30 crf35 s360 crop10 cropasym grade blur1 vp9_40 fps30 first5 cropleft cropright crop43 croptop cropcorner}; do
    ext=mkv; out=a_${c}_$a.$ext
    [ -f $out ] || nice ffmpeg -v error -y -i $src -an ${A[$a]} $out
    j=$($B/wmdetect --no-registry --json -k k.dkey $out); ex=$?
    echo "$c $a exit=$ex $(echo "$j" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print("sig=%s pilot_z=%.1f ber=%.3f bind_z=%s agreement=%s pairs=%s cover=%s verdict=%s" % (d["signature_valid"], d["pilot_z"], d["raw_bit_error_rate"], d.get("binding_z"), d.get("binding_agreement"), d.get("binding_epochs"), d.get("binding_worst_coverage"), d.get("binding_verdict")))')"
  done
done
# the strongest copy attack: the exact per-frame change of one deliverable
# (marked - master) added to other footage scaled to the same size
# (every ordered pair of CLIPS, and each source on the first other clip
# flipped upside down; PAIRS="src:target ..." to choose, PAIRS=none for
# none). Every file made is kept in WORK and reused: delete WORK after a
# change to wmembed.)
clips=(${CLIPS:-dune_1080p24 storm_720p25 vtest_768x576 raindrops_1080p24})
if [ -z "${PAIRS:-}" ]; then
  for a in "${clips[@]}"; do for o in "${clips[@]}"; do [ $a = $o ] || PAIRS="${PAIRS:-} $a:$o"; done; done
  for a in "${clips[@]}"; do for o in "${clips[@]}"; do [ $a = $o ] || { PAIRS="$PAIRS $a:$o:vflip"; break; }; done; done
fi
[ "$PAIRS" = none ] && PAIRS=
for pair in $PAIRS; do
  IFS=: read -r a o fl <<< "$pair"; vf=${fl:+,vflip}
  [ -f m_$a.mkv ] || nice $B/wmembed -k k.key -i $M/$a.mkv -o m_$a.mkv --codec ffv1 --title-id 1 --recipient-id 2 -q
  SZ=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 m_$a.mkv)
  [ -f diff_$a.mkv ] || nice ffmpeg -v error -y -i m_$a.mkv -i $M/$a.mkv -filter_complex "[0:v][1:v]blend=c0_expr='A-B+128':c1_expr='128':c2_expr='128',format=yuv420p" -c:v ffv1 diff_$a.mkv
  [ -f forged_${a}_on_$o$fl.mkv ] || nice ffmpeg -v error -y -i $M/$o.mkv -i diff_$a.mkv -filter_complex "[0:v]scale=${SZ/,/:}$vf,format=yuv420p,setpts=PTS-STARTPTS[x];[1:v]setpts=PTS-STARTPTS[d];[x][d]blend=c0_expr='A+B-128':c1_expr='A':c2_expr='A':shortest=1" -c:v libx264 -crf 18 forged_${a}_on_$o$fl.mkv
  j=$($B/wmdetect --no-registry --json -k k.dkey forged_${a}_on_$o$fl.mkv); ex=$?
  echo "FORGED $a onto $o$fl exit=$ex $(echo "$j" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print("sig=%s pilot_z=%.1f ber=%.3f bind_z=%s agreement=%s pairs=%s cover=%s verdict=%s" % (d["signature_valid"], d["pilot_z"], d["raw_bit_error_rate"], d.get("binding_z"), d.get("binding_agreement"), d.get("binding_epochs"), d.get("binding_worst_coverage"), d.get("binding_verdict")))')"
done
