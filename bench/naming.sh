#!/bin/sh
# naming.sh - naming the leaker among 1000 issued messages of one title from
# 3-s excerpts of real clips, single leaks and 2-3 colluders (average,
# median of three, alternating 1-s segments), after H.264 CRF 35 at full
# size and after a downscale to 360 rows (640x360 for 16:9; H.264 CRF 18),
# and the single leak after both (360 rows and CRF 35: the limit). Writes
# bench/results/naming.md and .jsonl (docs/DESIGN.md §12), with the commit
# and date measured; bench/naming_report.py makes the table from the .jsonl.
#
#   bench/naming.sh [BUILD_DIR]      (BUILD_DIR defaults to build)
#
# Media: ~/.cache/filmmark-media (../shared/media/get.sh). Niced; about
# 10-15 min on one core.
#
# NAMING_AI=1 runs instead the single leak after the AI restoration chain of
# bench/robustness.sh (ai_restore: nlmeans s=6 + H.264 CRF 30, then x2 down
# and ESRGAN-slim x2 up with bench/ai/upscale.sh, then H.264 CRF 23; needs
# bench/ai/setup.sh) and writes bench/results/naming_ai.md and .jsonl.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
bin=$build/naming
media=${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}
ai=${NAMING_AI:-0}
suffix=""; [ "$ai" = 1 ] && suffix=_ai
out_md=$here/bench/results/naming$suffix.md
out_js=$here/bench/results/naming$suffix.jsonl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
[ -x "$bin" ] || { echo "naming.sh: build $bin first" >&2; exit 2; }
[ "$ai" != 1 ] || [ -d "$here/bench/ai/node_modules/@upscalerjs" ] ||
    { echo "naming.sh: run bench/ai/setup.sh first (NAMING_AI=1)" >&2; exit 2; }

# clip, excerpt start (s): the excerpt is 3 s of a master marked from 0
clips="dune_1080p24:4.3 storm_720p25:3.1 vtest_768x576:9.7"
# colluders by scenario (recipient ids among 1..1000)
R1=137 R2=512 R3=889

: >"$out_js"
# what is measured: the commit, and whether the library or this bench differ from it
commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$here" status --porcelain -- common CMakeLists.txt bench/naming.c 2>/dev/null |
    awk '{ printf "%s%s (%s)", (NR > 1 ? ", " : " + local changes: "), $2, $1 }')
start=$(date -u +%Y-%m-%dT%H:%MZ) t0=$(date +%s)
run() {  # clip scenario degradation truth leak.yuv w h fps
    clip=$1 scen=$2 deg=$3 truth=$4 leak=$5 w=$6 h=$7 fps=$8
    case $deg in
        crf35) vf="null" crf=35 ;;
        360p) vf="scale=-2:360:flags=bicubic" crf=18 ;;
        360p_crf35) vf="scale=-2:360:flags=bicubic" crf=35 ;;
        ai_restore) vf="nlmeans=s=6:p=7:r=9" crf=30 ;;
    esac
    nice ffmpeg -v error -y -f rawvideo -pix_fmt yuv420p -s "${w}x$h" -r "$fps" -i "$leak" \
        -vf "$vf" -c:v libx264 -crf "$crf" -preset medium "$work/leak.mp4"
    if [ "$deg" = ai_restore ]; then
        # the network re-synthesises detail at x2 from half size, then H.264 CRF 23
        nice bash "$here/bench/ai/upscale.sh" "$work/leak.mp4" 2 "$work/sr.mkv" 3 2>"$work/ai.log" ||
            { cat "$work/ai.log" >&2; exit 2; }
        nice ffmpeg -v error -y -i "$work/sr.mkv" -map 0:v:0 -an -c:v libx264 -crf 23 \
            -preset medium "$work/leak.mp4"
        rm -f "$work/sr.mkv"
    fi
    dims=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0:s=x \
        "$work/leak.mp4")
    lw=${dims%x*} lh=${dims#*x}
    res=$(nice ffmpeg -v error -i "$work/leak.mp4" -f rawvideo -pix_fmt yuv420p - |
        nice "$bin" detect "$lw" "$lh" "$fps" "$truth")
    printf '{"clip": "%s", "scenario": "%s", "degradation": "%s", "size": "%s", "result": %s}\n' \
        "$clip" "$scen" "$deg" "$dims" "$res" >>"$out_js"
    echo "$clip $scen $deg: $res" >&2
}

for c in $clips; do
    clip=${c%:*} start=${c#*:}
    src=$media/$clip.mkv
    dims=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height,r_frame_rate \
        -of csv=p=0:s=x "$src")
    w=$(echo "$dims" | cut -dx -f1) h=$(echo "$dims" | cut -dx -f2)
    fps=$(echo "$dims" | cut -dx -f3 | awk -F/ '{ printf "%.6f", $1 / ($2 ? $2 : 1) }')
    nice ffmpeg -v error -ss "$start" -i "$src" -t 3 -an -f rawvideo -pix_fmt yuv420p \
        "$work/src.yuv"
    rs="$R1 $R2 $R3"; [ "$ai" = 1 ] && rs=$R1   # the AI chain: single leaks only
    for r in $rs; do
        nice "$bin" embed "$w" "$h" "$fps" "$start" "$r" <"$work/src.yuv" >"$work/m$r.yuv"
    done
    rm -f "$work/src.yuv"
    if [ "$ai" = 1 ]; then
        run "$clip" single ai_restore "$R1" "$work/m$R1.yuv" "$w" "$h" "$fps"
        rm -f "$work"/m*.yuv
        continue
    fi
    run "$clip" single 360p_crf35 "$R1" "$work/m$R1.yuv" "$w" "$h" "$fps"
    for deg in crf35 360p; do
        run "$clip" single "$deg" "$R1" "$work/m$R1.yuv" "$w" "$h" "$fps"
        for mode in avg alt; do
            nice "$bin" mix "$mode" "$w" "$h" "$fps" "$work/m$R1.yuv" "$work/m$R2.yuv" \
                >"$work/leak.yuv"
            run "$clip" "${mode}2" "$deg" "$R1,$R2" "$work/leak.yuv" "$w" "$h" "$fps"
        done
        for mode in avg median alt; do
            nice "$bin" mix "$mode" "$w" "$h" "$fps" "$work/m$R1.yuv" "$work/m$R2.yuv" \
                "$work/m$R3.yuv" >"$work/leak.yuv"
            run "$clip" "${mode}3" "$deg" "$R1,$R2,$R3" "$work/leak.yuv" "$w" "$h" "$fps"
        done
    done
    rm -f "$work"/m*.yuv "$work/leak.yuv"
done

wall=$(( $(date +%s) - t0 ))
run="commit \`$commit\`$dirty; started $start, $wall s wall (\`NAMING_AI=$ai bench/naming.sh $*\`;"
run="$run $(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg))"
rc=0
python3 "$here/bench/naming_report.py" "$out_js" "$out_md" --run "$run" || rc=$?
[ "$rc" != 1 ] || { echo "naming.sh: a wrong recipient was named (see $out_md): a bug, not a figure" >&2; exit 1; }
[ "$rc" = 0 ] || exit 2
echo "naming.sh: results in $out_md" >&2
