#!/usr/bin/env bash
# Builds a long 1080p24 REAL master with varied content for the attack benchmark
# (bench/attacks.sh): 25 shots of 4-10 s each, one per photograph (slow pans, tilts and
# zooms over 22 photographs from Debian's mate-backgrounds and plasma-workspace-wallpapers)
# plus 3 shots of OpenCV's vtest camera footage (static camera, people walking) scaled
# to 1080p, cut together in a fixed order. No shot repeats: an attacker who averages
# frames gets no help from a loop.
#
#   usage: make_long_master.sh [OUT]
#          default OUT: ${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}/long_1080p24.mkv
#
# FFV1 (lossless, yuv420p, intra-only), 1920x1080, 24 fps, about 160 s. Idempotent: an
# existing OUT is kept; finished shots are kept under OUT's folder in .long_shots/ so an
# interrupted run resumes. Writes OUT.sources.tsv (package and file of every shot).
# Needs apt-get (download only; it runs 'apt-get update' when the lists are empty),
# dpkg-deb, ffmpeg. Takes about 10 minutes on 2 cores the first time.
set -euo pipefail
MEDIA=${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}
OUT=${1:-$MEDIA/long_1080p24.mkv}
[ -s "$OUT" ] && { echo "$OUT exists" >&2; exit 0; }
DIR=$(dirname "$OUT")
SHOTS="$DIR/.long_shots"
mkdir -p "$DIR" "$SHOTS" "$MEDIA/.debs"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
FPS=24 W=1920 H=1080
lossless=(-c:v ffv1 -level 3 -g 1 -slices 4 -slicecrc 1 -pix_fmt yuv420p -an)
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

fetch() {  # package -> extracted tree under $tmp/$1
  [ -d "$tmp/$1" ] && return 0
  ls "$MEDIA/.debs/$1"_*.deb >/dev/null 2>&1 || (cd "$MEDIA/.debs" && apt-get download -q "$1" >/dev/null)
  mkdir -p "$tmp/$1"; dpkg-deb -x "$(ls "$MEDIA/.debs/$1"_*.deb | head -1)" "$tmp/$1"
}
apt-cache show mate-backgrounds >/dev/null 2>&1 || apt-get update -q >/dev/null

# motion MODE over an image scaled to twice the output height (sub-pixel smooth):
#   zin / zout: zoom 1 -> 1.25 / 1.25 -> 1 towards the centre
#   left / right: horizontal pan at zoom 1.3; up / down: vertical tilt at zoom 1.3
#   diag: zoom 1.1 -> 1.35 while drifting from the top-left to the bottom-right
motion() {  # mode frames -> zoompan z:x:y
  local n=$2
  case "$1" in
    zin)   echo "z='1+0.25*on/$n':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'" ;;
    zout)  echo "z='1.25-0.25*on/$n':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'" ;;
    left)  echo "z=1.3:x='(iw-iw/zoom)*on/$n':y='(ih-ih/zoom)/2'" ;;
    right) echo "z=1.3:x='(iw-iw/zoom)*(1-on/$n)':y='(ih-ih/zoom)/2'" ;;
    up)    echo "z=1.3:x='(iw-iw/zoom)/2':y='(ih-ih/zoom)*(1-on/$n)'" ;;
    down)  echo "z=1.3:x='(iw-iw/zoom)/2':y='(ih-ih/zoom)*on/$n'" ;;
    diag)  echo "z='1.1+0.25*on/$n':x='(iw-iw/zoom)*on/$n':y='(ih-ih/zoom)*on/$n'" ;;
  esac
}
photo_shot() {  # out image seconds mode
  local out=$1 img=$2 n=$(( $3 * FPS ))
  [ -s "$SHOTS/$out" ] && return 0
  echo "shot $out ($3 s, $4)" >&2
  # cover-fit to 16:9 at twice the output size, then move over it
  ff -loop 1 -framerate $FPS -i "$img" -vf \
    "scale=$((W*2)):$((H*2)):force_original_aspect_ratio=increase:flags=lanczos,crop=$((W*2)):$((H*2)),zoompan=$(motion "$4" "$n"):d=$n:s=${W}x${H}:fps=$FPS,format=yuv420p" \
    -frames:v "$n" "${lossless[@]}" "$SHOTS/.$out" && mv "$SHOTS/.$out" "$SHOTS/$out"
}
video_shot() {  # out video start seconds: 4:3 camera footage, centre 16:9 cut, 24 fps
  local out=$1
  [ -s "$SHOTS/$out" ] && return 0
  echo "shot $out (vtest from $3 s, $4 s)" >&2
  ff -ss "$3" -i "$2" -t "$4" -vf \
    "scale=$W:$((W*3/4)):flags=lanczos,crop=$W:$H,fps=$FPS,format=yuv420p" \
    -frames:v $(( $4 * FPS )) "${lossless[@]}" "$SHOTS/.$out" && mv "$SHOTS/.$out" "$SHOTS/$out"
}

fetch mate-backgrounds
fetch plasma-workspace-wallpapers
fetch opencv-doc
mb=$tmp/mate-backgrounds/usr/share/backgrounds/mate
pw=$tmp/plasma-workspace-wallpapers/usr/share/wallpapers
vt=$tmp/opencv-doc/usr/share/doc/opencv-doc/examples/data/vtest.avi
pwimg() { echo "$pw/$1/contents/images/2560x1440.jpg"; }

# shot list: name | source | seconds | motion  (order mixes sources; ~160 s in all)
shots=(
  "01|mb:nature/Dune.jpg|7|zin"          "02|pw:BytheWater|6|left"
  "03|vt:10|6|-"                         "04|mb:nature/Garden.jpg|8|down"
  "05|pw:OneStandsOut|5|zout"            "06|mb:nature/Wood.jpg|6|right"
  "07|pw:Path|9|zin"                     "08|mb:nature/Aqua.jpg|4|left"
  "09|pw:Grey|7|diag"                    "10|mb:nature/TwoWings.jpg|6|zout"
  "11|vt:35|8|-"                         "12|pw:FallenLeaf|5|up"
  "13|mb:nature/GreenMeadow.jpg|7|zin"   "14|pw:EveningGlow|6|right"
  "15|mb:nature/RainDrops.jpg|5|diag"    "16|pw:ColdRipple|10|left"
  "17|mb:nature/Blinds.jpg|4|zin"        "18|pw:Kite|6|down"
  "19|mb:nature/FreshFlower.jpg|7|zout"  "20|pw:DarkestHour|8|zin"
  "21|vt:58|6|-"                         "22|mb:nature/LadyBird.jpg|5|right"
  "23|pw:summer_1am|7|up"                "24|mb:nature/YellowFlower.jpg|6|diag"
  "25|mb:nature/Storm.jpg|8|left"
)
list="$tmp/list.txt"; : > "$list"
src="$tmp/sources.tsv"; printf 'shot\tstart_s\tseconds\tpackage\tfile\tmotion\n' > "$src"
t=0
for s in "${shots[@]}"; do
  IFS='|' read -r name from secs mode <<< "$s"
  case "$from" in
    mb:*) photo_shot "$name.mkv" "$mb/${from#mb:}" "$secs" "$mode"
          printf '%s\t%s\t%s\tmate-backgrounds\t%s\t%s\n' "$name" "$t" "$secs" "${from#mb:}" "$mode" >> "$src" ;;
    pw:*) photo_shot "$name.mkv" "$(pwimg "${from#pw:}")" "$secs" "$mode"
          printf '%s\t%s\t%s\tplasma-workspace-wallpapers\t%s\t%s\n' "$name" "$t" "$secs" "${from#pw:}/contents/images/2560x1440.jpg" "$mode" >> "$src" ;;
    vt:*) video_shot "$name.mkv" "$vt" "${from#vt:}" "$secs"
          printf '%s\t%s\t%s\topencv-doc\texamples/data/vtest.avi from %s s\tcamera\n' "$name" "$t" "$secs" "${from#vt:}" >> "$src" ;;
  esac
  echo "file '$SHOTS/$name.mkv'" >> "$list"
  t=$(( t + secs ))
done
echo "joining $t s" >&2
ff -f concat -safe 0 -i "$list" -c copy "$DIR/.long_tmp.mkv"
mv "$DIR/.long_tmp.mkv" "$OUT"
cp "$src" "$OUT.sources.tsv"
rm -rf "$SHOTS"
ls -la "$OUT" >&2
