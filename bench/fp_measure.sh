#!/usr/bin/env bash
# fp_measure.sh - content fingerprint figures on real footage (docs/DESIGN.md,
# "Content fingerprint").
#
#   bench/fp_measure.sh [BUILD_DIR] [MEDIA_DIR]
#
# For every clip in MEDIA_DIR (default ~/.cache/filmmark-media: dune_1080p24,
# storm_720p25, vtest_768x576, raindrops_1080p24, elephants_2160p24) makes
# copies with ffmpeg (H.264 CRF 35, 640x360, crop 10 % per side, hflip,
# Gaussian blur sigma 2, a 3 s excerpt from 2 s, and harder ones), plus
# unrelated synthetic clips (lavfi), then runs BUILD_DIR/fp_measure with each
# clip as the master against ALL copies: a clip's own copies must match, the
# others must not. When MEDIA_DIR has long_1080p24.mkv (bench/make_long_master.sh:
# 162 s, 28 shots), it is a master too, with excerpts of it as copies.
#
# FP_KEEP=DIR keeps the copies in DIR (and reuses those already there).
# Prints every comparison, then a summary table in Markdown.
set -euo pipefail
BUILD=${1:-build}
MEDIA=${2:-$HOME/.cache/filmmark-media}
CLIPS="dune_1080p24 storm_720p25 vtest_768x576 raindrops_1080p24 elephants_2160p24"
if [ -n "${FP_KEEP:-}" ]; then
    TMP=$FP_KEEP
    mkdir -p "$TMP"
else
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
fi

enc=(-an -c:v libx264 -preset veryfast -pix_fmt yuv420p)
mk() {  # output input-options... -- output-options...
    local out="$TMP/$1"; shift
    [ -s "$out" ] && return 0
    local pre=()
    while [ "$1" != "--" ]; do pre+=("$1"); shift; done; shift
    ffmpeg -nostdin -v error -y "${pre[@]}" "$@" "${enc[@]}" "$out.tmp.mp4"
    mv "$out.tmp.mp4" "$out"
}
for c in $CLIPS; do
    in="$MEDIA/$c.mkv"
    [ -f "$in" ] || { echo "missing $in" >&2; exit 2; }
    mk "$c.crf35.mp4" -i "$in" -- -crf 35
    mk "$c.640x360.mp4" -i "$in" -- -vf scale=640:360 -crf 23
    mk "$c.crop10.mp4" -i "$in" -- -vf "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2" -crf 23
    mk "$c.hflip.mp4" -i "$in" -- -vf hflip -crf 23
    mk "$c.blur2.mp4" -i "$in" -- -vf gblur=sigma=2 -crf 23
    mk "$c.excerpt2s.mp4" -ss 2 -i "$in" -- -t 3 -crf 23
    mk "$c.crop_scale_crf28.mp4" -i "$in" -- \
        -vf "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2,scale=854:480" -crf 28
    mk "$c.cut43.mp4" -i "$in" -- -vf "crop=trunc(ih*2/3)*2:ih" -crf 23
    mk "$c.letterbox.mp4" -i "$in" -- -vf "pad=iw:trunc(ih*0.65)*2:0:(oh-ih)/2:black" -crf 23
    mk "$c.grade.mp4" -i "$in" -- -vf "eq=contrast=0.7:brightness=0.08:gamma=1.3" -crf 23
    mk "$c.rot1.mp4" -i "$in" -- -vf "rotate=1*PI/180" -crf 23
    mk "$c.speed1.1.mp4" -i "$in" -- -vf "setpts=PTS/1.1" -crf 23
    mk "$c.vflip.mp4" -i "$in" -- -vf vflip -crf 23
done
for s in mandelbrot testsrc2 life cellauto; do
    case $s in
        life) src="life=size=640x360:rate=25:mold=10:ratio=0.3,scale=1280:720" ;;
        cellauto) src="cellauto=size=640x360:rate=25:rule=110,scale=1280:720" ;;
        *) src="$s=size=1280x720:rate=25" ;;
    esac
    mk "lavfi_$s.10s.mp4" -f lavfi -i "$src" -- -t 10 -crf 23
done
masters=()
for c in $CLIPS; do masters+=("$MEDIA/$c.mkv"); done
LONG="$MEDIA/long_1080p24.mkv"
if [ -f "$LONG" ]; then
    masters+=("$LONG")
    mk long_1080p24.ex40_10s_640x360_crf35.mp4 -ss 40 -i "$LONG" -- -t 10 -vf scale=640:360 -crf 35
    mk long_1080p24.ex100_4s_crop10_hflip.mp4 -ss 100 -i "$LONG" -- -t 4 \
        -vf "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2,hflip" -crf 28
    mk long_1080p24.ex60_30s_speed1.1.mp4 -ss 60 -i "$LONG" -- -t 30 \
        -vf "setpts=PTS/1.1,scale=960:540" -crf 28
    mk long_1080p24.ex125_3s.mp4 -ss 125 -i "$LONG" -- -t 3 -crf 23
    mk long_1080p24.ex14_5s_grade_blur.mp4 -ss 14 -i "$LONG" -- -t 5 \
        -vf "eq=contrast=0.7:gamma=1.2,gblur=sigma=2" -crf 23
    mk long_1080p24.full_letterbox43_crf30.mp4 -i "$LONG" -- \
        -vf "scale=960:540,pad=960:720:0:90:black" -crf 30
    # three 5 s pieces (20, 80, 140 s) spliced
    mk long_1080p24.splice3x5s.mp4 -ss 20 -t 5 -i "$LONG" -ss 80 -t 5 -i "$LONG" -ss 140 -t 5 -i "$LONG" -- \
        -filter_complex "[0:v]scale=960:540,setpts=PTS-STARTPTS[a];[1:v]scale=960:540,setpts=PTS-STARTPTS[b];[2:v]scale=960:540,setpts=PTS-STARTPTS[c];[a][b][c]concat=n=3:v=1[v]" \
        -map "[v]" -crf 28
fi
"$BUILD/fp_measure" "${masters[@]}" -- "$TMP"/*.mp4 > "$TMP/pairs.txt"
cat "$TMP/pairs.txt"

# Summary. A copy is "own" when its name starts with the master's. The long
# master holds vtest footage and the dune, storm and raindrops photographs (in
# other framings and motion): those pairs share a source and are listed
# apart; every other pair is unrelated content.
awk -v clips="$CLIPS long_1080p24" '
{
    m = $1; sub(/\.mkv$/, "", m); a = $2; sub(/\.mp4$/, "", a)
    split(a, parts, "."); src = parts[1]; attack = substr(a, length(src) + 2)
    lp = $5; best = $7; score = $11
    if (src == m) {
        own[attack, m] = sprintf("%s%s", lp, $3 == "MATCH" ? "" : ($3 == "too-short" ? " short" : " NO"))
        if (!(attack in seen)) { seen[attack] = 1; order[++na] = attack }
        next
    }
    shared = "dune_1080p24 storm_720p25 vtest_768x576 raindrops_1080p24"
    if ((m == "long_1080p24" && index(shared, src)) || (src == "long_1080p24" && index(shared, m))) {
        printf "shared source: %s vs %s: %s log10 p %s score %s offset %s\n", m, $2, $3, lp, score, $19
        next
    }
    n++; if ($3 == "MATCH") fm++; if ($3 == "too-short") ts++
    if (n == 1 || lp < minlp) minlp = lp
    if (n == 1 || best < minbest) { minbest = best; worst = $1 " vs " $2 }
    if (n == 1 || score > maxscore) maxscore = score
}
END {
    nc = split(clips, cl, " ")
    printf "\n| copy |"; for (i = 1; i <= nc; i++) printf " %s |", cl[i]; printf "\n|---|"
    for (i = 1; i <= nc; i++) printf "---|"; printf "\n"
    for (k = 1; k <= na; k++) {
        a = order[k]; printf "| %s |", a
        for (i = 1; i <= nc; i++) printf " %s |", ((a, cl[i]) in own) ? own[a, cl[i]] : ""
        printf "\n"
    }
    printf "\nunrelated pairs: %d, matched %d, too short %d; smallest log10 p %s; ", n, fm + 0, ts + 0, minlp
    printf "smallest log10 p of one hypothesis %s (%s); highest score %s\n", minbest, worst, maxscore
}' "$TMP/pairs.txt"
