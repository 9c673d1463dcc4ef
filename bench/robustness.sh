#!/usr/bin/env bash
# Robustness benchmark: embed, attack with the ffmpeg CLI, detect, tabulate.
#
#   bench/robustness.sh [options] [CLIP...]
#
# For every master CLIP (default: the real clips that ../shared/media/get.sh
# puts in ~/.cache/filmmark-media, each trimmed losslessly to its first
# --seconds): make a key, embed a deliverable at default strength (VP9),
# record wmembed's fps and luma PSNR/SSIM, measure PSNR/SSIM again with
# ffmpeg (bench/quality.sh), apply every attack to the deliverable, run
# `wmdetect --json --receipt` on each result and look for the shortest
# excerpt (2, 5, 10 s) that still recovers the payload. Writes
# bench/results/robustness.md and robustness.json (rows of clips or attacks
# not redone by this run are kept from earlier runs).
#
# A CLIP is a path, or the name of a clip in the media cache ("dune",
# "dune_1080p24", "storm_720p25.mkv", ...).
#
# Options:
#   --quick            CI smoke test: samples/sample.mkv (unless CLIPs are
#                      given) and 6 attacks; results go to bench/work/ (not
#                      bench/results/) unless --results is given; exit 1 when
#                      the untouched deliverable is not recovered or a tool
#                      fails.
#   --seconds N        trim masters to their first N seconds (default 10)
#   --only LIST        comma-separated attack kinds and/or attack ids:
#                      codec, geometry, signal, time, capture, collusion,
#                      ai (neural), ai-proxy, or ids from --list
#   --skip LIST        the same, to leave out
#   --jobs N           attacks run in parallel (default 2)
#   --slow-seconds N   slow attacks (minterpolate, neural upscale) use only
#                      the first N seconds, fewer above 1080p (default 3)
#   --preset P         x264 preset of the re-encode after non-codec attacks
#                      (default veryfast; codec attacks use medium)
#   --results DIR      where robustness.md/.json go (default bench/results)
#   --work DIR         scratch space (default bench/work/robustness)
#   --no-merge         replace robustness.json instead of merging into it
#   --keep             keep the attacked files
#   --list             print the attacks and exit
#
# Environment: FILMMARK_BIN (default build/), FILMMARK_MEDIA (default
# ~/.cache/filmmark-media). Needs ffmpeg, ffprobe, python3.
set -euo pipefail
# issuances made here go to a throwaway registry, never the user's
export FILMMARK_REGISTRY="${FILMMARK_REGISTRY_BENCH:-$(mktemp -d)/registry.sqlite}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
MEDIA="${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}"
PY="$here/robustness.py"
DEFAULT_CLIPS=(dune_1080p24.mkv raindrops_1080p24.mkv storm_720p25.mkv vtest_768x576.mkv
               elephants_2160p24.mkv dune_1080p24_prores422hq.mov)
TITLE=4242 R1=1001 R2=1002

die() { echo "robustness.sh: $*" >&2; exit 2; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

quick=0 seconds=10 only="" skip="" jobs=2 slow=3 preset=veryfast
results="" work="" merge=1 keep=0 list=0
clips=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --seconds) seconds="$2"; shift ;;
    --only) only="$2"; shift ;;
    --skip) skip="$2"; shift ;;
    --jobs) jobs="$2"; shift ;;
    --slow-seconds) slow="$2"; shift ;;
    --preset) preset="$2"; shift ;;
    --results) results="$2"; shift ;;
    --work) work="$2"; shift ;;
    --no-merge) merge=0 ;;
    --keep) keep=1 ;;
    --list) list=1 ;;
    -h|--help) sed -n '2,46p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) clips+=("$1") ;;
  esac
  shift
done
[[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--seconds wants a number"
[[ "$slow" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--slow-seconds wants a number"
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "--jobs wants a positive integer"

for t in ffmpeg ffprobe python3; do command -v "$t" >/dev/null || die "$t not found"; done
if [[ $list == 0 ]]; then
  for t in wmkeygen wmembed wmdetect; do
    [[ -x "$BIN/$t" ]] || die "$BIN/$t not found: run bash scripts/build.sh"
  done
fi

if [[ $quick == 1 ]]; then
  [[ ${#clips[@]} -gt 0 ]] || clips=("$root/samples/sample.mkv")
  [[ -n "$results" ]] || results="$root/bench/work/quick-results"
  [[ -n "$work" ]] || work="$root/bench/work/robustness-quick"
else
  [[ ${#clips[@]} -gt 0 ]] || clips=("${DEFAULT_CLIPS[@]}")
  [[ -n "$results" ]] || results="$root/bench/results"
  [[ -n "$work" ]] || work="$root/bench/work/robustness"
fi

work="$(realpath -m "$work")" results="$(realpath -m "$results")"

# ------------------------------------------------------------------ helpers
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
probe() { ffprobe -v error -select_streams v:0 -show_entries "stream=$2" -of default=nw=1:nk=1 "$1" | head -n1; }
probe_dur() { ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$1" | head -n1; }
calc() { awk "BEGIN { print $* }"; }
even() { awk "BEGIN { printf \"%d\", int(($1) / 2) * 2 }"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

resolve_clip() {
  local c="$1" f
  [[ -f "$c" ]] && { echo "$c"; return; }
  for f in "$MEDIA/$c" "$MEDIA/$c".mkv "$MEDIA/$c".mov "$MEDIA/$c"_*.mkv; do
    [[ -f "$f" ]] && { echo "$f"; return; }
  done
  return 1
}

commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$root" status --porcelain --untracked-files=no -- . ':!bench/results' 2>/dev/null)" ]]; then
  commit+=" + local changes"
fi
cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true)"
mem="$(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)"
machine="${cpu:-unknown CPU}, $(nproc) cores, $mem, $(uname -sm), ffmpeg $(ffmpeg -version | head -n1 | awk '{print $3}')"
rundate="$(date -u '+%Y-%m-%d %H:%M UTC')"

# ---------------------------------------------------------------- attacks
# Registry: "id|kind|label". Labels use the current clip's W, H, FPS.
# Quick mode uses QUICK_IDS.
QUICK_IDS="none h264_crf28 scale_half crop10 gblur1 speed11 coll_avg"

attack_registry() {
  local w23 h23 w2 h2 w3 h3 cw ch ow oh aw lh t25 t30 ai_ok
  w23=$(even "$W*2/3") h23=$(even "$H*2/3") w2=$(even "$W/2") h2=$(even "$H/2")
  w3=$(even "$W/3") h3=$(even "$H/3") cw=$(even "$W*0.8") ch=$(even "$H*0.8")
  ow=$(even "$W*0.7071") oh=$(even "$H*0.7071") aw=$(even "$W*0.75") lh=$(even "$H*4/3")
  t25=25; [[ "$FPSI" == 25 ]] && t25=24
  t30=30; [[ "$FPSI" == 30 ]] && t30=25
  cat <<EOF
none|none|none (the deliverable as delivered)
ffv1|codec|lossless FFV1
h264_crf18|codec|H.264 CRF 18
h264_crf23|codec|H.264 CRF 23
h264_crf28|codec|H.264 CRF 28
h264_crf35|codec|H.264 CRF 35
hevc_crf28|codec|HEVC (x265) CRF 28
vp9_lowbr|codec|VP9 $(calc "int($VP9K/10+0.5)/100") Mb/s
av1|codec|AV1 (SVT-AV1 preset 10, CRF 35)
mpeg2|codec|MPEG-2 2 Mb/s
gen2|codec|2 generations: H.264 CRF 23 then VP9 CRF 32
crop10|geometry|crop 10 % each side (${cw}x${ch})
cut43|geometry|4:3 centre cut ($(even "$H*4/3")x$H)
crop_odd|geometry|off-centre crop, half the area (${ow}x${oh} at x=137 y=71)
scale_23|geometry|scale to ${w23}x${h23}
scale_half|geometry|scale to ${w2}x${h2}
scale_third|geometry|scale to ${w3}x${h3}
crop_scale_crf28|geometry|crop 10 % + scale to ${w23}x${h23} + CRF 28
anamorphic|geometry|anamorphic squeeze to ${aw}x${H} (SAR 4:3)
upscale2|geometry|upscale to $((W*2))x$((H*2))
letterbox|geometry|letterbox into ${W}x${lh}
pillarbox|geometry|pillarbox: ${aw}x${H} centred in ${W}x${H}
hflip|geometry|horizontal flip
vflip|geometry|vertical flip
rotate1|geometry|rotate 1° (black corners)
vertical|geometry|re-posted in a 1080x1920 (9:16) frame: full width, blurred copy behind
pip_half|geometry|picture in picture: half size at 45 %, 40 % of a grey ${W}x${H} frame
eq_contrast|signal|contrast 1.3 (eq)
eq_brightness|signal|brightness +0.08 (eq)
eq_saturation|signal|saturation 1.5 (eq)
eq_gamma|signal|gamma 1.3 (eq)
curves|signal|curves look (S-curve + warm tint)
unsharp|signal|unsharp sharpen 5x5 1.5
gblur1|signal|Gaussian blur σ 1
gblur2|signal|Gaussian blur σ 2
noise|signal|noise (alls=10, temporal)
grain|signal|film grain (soft, temporal)
hqdn3d|signal|hqdn3d denoise (defaults)
nlmeans|signal|nlmeans strong (s=4)
to8bit|signal|10-bit → 8-bit 4:2:0
flicker|signal|brightness flicker (±0.04, 2 Hz)
fps25|time|frame rate ${FPSI} → ${t25} fps
fps30|time|frame rate ${FPSI} → ${t30} fps
minterp60|time|motion interpolation to 60 fps
speed09|time|speed 0.9× (setpts, frame rate kept)
speed11|time|speed 1.1× (setpts, frame rate kept)
dropdup|time|~4 % frames dropped + ~4 % duplicated at random
splice3|time|3 cuts spliced out of order
screencap|capture|screen capture: scale ${w23}x${h23}, gamma, blur, recode
camcorder|capture|camcorder: perspective warp, blur, noise, gamma, recode
camcorder_wall|capture|camcorder: picture at 85 % on a grey wall, turned 1.5°, sheared keystone, blur, noise, gamma, recode
coll_avg|collusion|average of two copies (recipients $R1, $R2)
coll_alt|collusion|alternating 1-s segments of two copies
ai_sr2|ai|neural SR: ×2 down, ESRGAN-slim ×2 up
ai_sr4|ai|neural SR: ×4 down, ESRGAN-slim ×4 up
ai_restore|ai|AI restoration: strong denoise + CRF 30, then ×2 down, ESRGAN-slim ×2 up
proxy_nlmeans|ai-proxy|AI-denoiser proxy: nlmeans very strong (s=8)
proxy_smooth|ai-proxy|AI-enhance proxy: heavy smoothing + sharpen
proxy_synth|ai-proxy|AI frame-synthesis proxy: every frame motion-interpolated
EOF
}

# whether attack ($1 id, $2 kind) is selected
selected() {
  local id="$1" kind="$2" x
  if [[ $quick == 1 && -z "$only" ]]; then
    [[ " $QUICK_IDS " == *" $id "* ]] || return 1
  fi
  [[ "$id" == none ]] && return 0          # the baseline is always run
  if [[ -n "$only" ]]; then
    local hit=1
    for x in ${only//,/ }; do [[ "$x" == "$id" || "$x" == "$kind" ]] && hit=0; done
    [[ $hit == 0 ]] || return 1
  fi
  for x in ${skip//,/ }; do [[ "$x" == "$id" || "$x" == "$kind" ]] && return 1; done
  return 0
}

# Is attack $1 applicable to this clip? Prints a reason when not.
not_applicable() {
  case "$1" in
    cut43) awk -v w="$W" -v h="$H" 'BEGIN { exit !(w / h <= 4 / 3 + 0.01) }' && echo "not run: picture is not wider than 4:3" ;;
    upscale2) [[ $H -gt 1080 ]] && echo "not run: already above 1080p" ;;
    to8bit) [[ "$DEPTH" -le 8 ]] && echo "not applicable: 8-bit master" ;;
    ai_sr2|ai_sr4|ai_restore) [[ -x "$here/ai/upscale.sh" || -f "$here/ai/upscale.sh" ]] || echo "not run: bench/ai/upscale.sh missing"
                   [[ -d "$here/ai/node_modules/@upscalerjs" ]] || echo "not run: bench/ai dependencies missing (bench/ai/setup.sh)" ;;
  esac
  return 0
}

# Runs attack $1 on deliverable $2 writing $3. Stdout: extra notes, one a line.
X264() { echo -c:v libx264 -crf "${1:-23}" -preset "$preset"; }
vfx() { # vfx OUT FILTER [CRF] [input options...]
  local out="$1" vf="$2" crf="${3:-23}"; shift 3 || shift $#
  ff "$@" -i "$DELIV" -map 0:v:0 -an -vf "$vf" $(X264 "$crf") "$out"
}
slow_cap() { # seconds of the clip that slow attacks use (fewer above 1080p)
  awk -v s="$slow" -v w="$W" -v h="$H" -v d="$DUR" 'BEGIN {
    c = s; if (w * h > 1920 * 1088) c = s * 1920 * 1080 / (w * h); if (c < 1.5) c = 1.5
    if (c > d) c = d; printf "%g", c }'
}

do_attack() {
  local id="$1" out="$2" tmp="$3"
  local w23 h23 cw ch ow oh aw lh c t25 t30
  w23=$(even "$W*2/3") h23=$(even "$H*2/3")
  cw=$(even "$W*0.8") ch=$(even "$H*0.8") ow=$(even "$W*0.7071") oh=$(even "$H*0.7071")
  aw=$(even "$W*0.75") lh=$(even "$H*4/3")
  t25=25; [[ "$FPSI" == 25 ]] && t25=24
  t30=30; [[ "$FPSI" == 30 ]] && t30=25
  case "$id" in
    none) ln -sf "$DELIV" "$out" ;;
    ffv1) ff -i "$DELIV" -map 0:v:0 -an -c:v ffv1 -level 3 -slices 4 "$out" ;;
    h264_crf*) ff -i "$DELIV" -map 0:v:0 -an -c:v libx264 -crf "${id#h264_crf}" -preset medium "$out"
               echo "x264 preset medium" ;;
    hevc_crf28) ff -i "$DELIV" -map 0:v:0 -an -c:v libx265 -crf 28 -preset fast -x265-params log-level=error "$out"
                echo "x265 preset fast" ;;
    vp9_lowbr) ff -i "$DELIV" -map 0:v:0 -an -c:v libvpx-vp9 -b:v "${VP9K}k" -deadline good -cpu-used 4 -row-mt 1 \
                 -pass 1 -passlogfile "$tmp.pass" -f null -
               ff -i "$DELIV" -map 0:v:0 -an -c:v libvpx-vp9 -b:v "${VP9K}k" -deadline good -cpu-used 4 -row-mt 1 \
                 -pass 2 -passlogfile "$tmp.pass" "$out"
               rm -f "$tmp.pass"*
               echo "2-pass, cpu-used 4" ;;
    av1) ff -i "$DELIV" -map 0:v:0 -an -c:v libsvtav1 -preset 10 -crf 35 "$out" ;;
    mpeg2) ff -i "$DELIV" -map 0:v:0 -an -c:v mpeg2video -b:v 2M -maxrate 3M -bufsize 2M -pix_fmt yuv420p "$out" ;;
    gen2) ff -i "$DELIV" -map 0:v:0 -an -c:v libx264 -crf 23 -preset medium "$tmp.mkv"
          ff -i "$tmp.mkv" -map 0:v:0 -an -c:v libvpx-vp9 -crf 32 -b:v 0 -deadline good -cpu-used 4 -row-mt 1 "$out"
          rm -f "$tmp.mkv" ;;
    crop10) vfx "$out" "crop=$cw:$ch" ;;
    cut43) vfx "$out" "crop=$(even "$H*4/3"):$H" ;;
    crop_odd) vfx "$out" "crop=$ow:$oh:137:71:exact=1" ;;
    scale_23) vfx "$out" "scale=$w23:$h23" ;;
    scale_half) vfx "$out" "scale=$(even "$W/2"):$(even "$H/2")" ;;
    scale_third) vfx "$out" "scale=$(even "$W/3"):$(even "$H/3")" ;;
    crop_scale_crf28) vfx "$out" "crop=$cw:$ch,scale=$w23:$h23" 28 ;;
    anamorphic) vfx "$out" "scale=$aw:$H,setsar=4/3" ;;
    upscale2) vfx "$out" "scale=$((W*2)):$((H*2)):flags=lanczos" ;;
    letterbox) vfx "$out" "pad=$W:$lh:0:$(( (lh - H) / 2 / 2 * 2 )):black" ;;
    pillarbox) vfx "$out" "scale=$aw:$H,pad=$W:$H:$(( (W - aw) / 2 / 2 * 2 )):0:black" ;;
    hflip) vfx "$out" hflip ;;
    vflip) vfx "$out" vflip ;;
    rotate1) vfx "$out" "rotate=PI/180:c=black" ;;
    vertical) vfx "$out" "split[a][b];[a]scale=1080:1920,boxblur=20[bg];[b]scale=1080:-2[fg];[bg][fg]overlay=0:(H-h)/2" ;;
    pip_half) vfx "$out" "scale=$(even "$W/2"):$(even "$H/2"),pad=$W:$H:$(even "$W*0.45"):$(even "$H*0.4"):gray" ;;
    eq_contrast) vfx "$out" "eq=contrast=1.3" ;;
    eq_brightness) vfx "$out" "eq=brightness=0.08" ;;
    eq_saturation) vfx "$out" "eq=saturation=1.5" ;;
    eq_gamma) vfx "$out" "eq=gamma=1.3" ;;
    curves) vfx "$out" "curves=master='0/0.04 0.25/0.19 0.5/0.5 0.75/0.82 1/0.96':red='0/0 0.5/0.55 1/1':blue='0/0.03 0.5/0.45 1/0.95'" ;;
    unsharp) vfx "$out" "unsharp=5:5:1.5:5:5:0" ;;
    gblur1) vfx "$out" "gblur=sigma=1" ;;
    gblur2) vfx "$out" "gblur=sigma=2" ;;
    noise) vfx "$out" "noise=alls=10:allf=t" ;;
    grain) ff -i "$DELIV" -filter_complex \
             "color=c=0x808080:s=${W}x${H}:r=${FPS},format=yuv420p,noise=alls=28:allf=t,gblur=sigma=0.7,format=${PIXFMT}[g];[0:v:0]format=${PIXFMT}[v];[v][g]blend=all_mode=grainmerge:shortest=1" \
             -an $(X264) "$out"
           echo "noise layer σ≈16 code values, blurred 0.7 px, merged on luma and chroma" ;;
    hqdn3d) vfx "$out" hqdn3d ;;
    nlmeans) vfx "$out" "nlmeans=s=4:p=7:r=7" ;;
    to8bit) vfx "$out" "format=yuv420p" ;;
    flicker) vfx "$out" "eq=brightness='0.04*sin(2*PI*2*t)':eval=frame" ;;
    fps25) vfx "$out" "fps=$t25" ;;
    fps30) vfx "$out" "fps=$t30" ;;
    minterp60) c=$(slow_cap); vfx "$out" "minterpolate=fps=60" 23 -t "$c"; echo "first $c s only (minterpolate is slow)" ;;
    speed09) vfx "$out" "setpts=PTS/0.9,fps=$FPS" ;;
    speed11) vfx "$out" "setpts=PTS/1.1,fps=$FPS" ;;
    dropdup) vfx "$out" "select='gt(random(0),0.04)',setpts='(N+st(0,ld(0)+lt(random(1),0.04)))/FRAME_RATE/TB',fps=$FPS" ;;
    splice3)
      local a b; a=$(calc "$DUR*0.60") b=$(calc "$DUR*0.80")
      local c1 c2 d1 d2; c1=$(calc "$DUR*0.10") c2=$(calc "$DUR*0.35") d1=$(calc "$DUR*0.40") d2=$(calc "$DUR*0.55")
      ff -i "$DELIV" -filter_complex \
        "[0:v:0]split=3[x][y][z];[x]trim=$a:$b,setpts=PTS-STARTPTS[s1];[y]trim=$c1:$c2,setpts=PTS-STARTPTS[s2];[z]trim=$d1:$d2,setpts=PTS-STARTPTS[s3];[s1][s2][s3]concat=n=3:v=1:a=0" \
        -an $(X264) "$out"
      echo "segments ${a}-${b}, ${c1}-${c2}, ${d1}-${d2} s" ;;
    screencap) vfx "$out" "scale=$w23:$h23:flags=bilinear,eq=gamma=1.1:contrast=0.95,gblur=sigma=0.6" ;;
    camcorder) vfx "$out" "perspective=x0=W*0.04:y0=H*0.03:x1=W*0.97:y1=H*0.01:x2=W*0.02:y2=H*0.98:x3=W*0.99:y3=H*0.96:interpolation=linear,gblur=sigma=1.2,noise=alls=8:allf=t,eq=gamma=0.9:contrast=1.1"
               echo "keystone warp (corners moved 1-4 %)" ;;
    camcorder_wall) vfx "$out" "scale=$(even "$W*0.85"):$(even "$H*0.85"),pad=$W:$H:(ow-iw)/2:(oh-ih)/2:gray,rotate=1.5*PI/180:fillcolor=gray,perspective=x0=W*0.02:y0=H*0.04:x1=W*0.98:y1=H*0.0:x2=W*0.0:y2=H*0.99:x3=W*0.97:y3=H*0.95:interpolation=linear,gblur=sigma=1.2,noise=alls=8:allf=t,eq=gamma=0.9:contrast=1.1"
               echo "85 % of the frame, turned 1.5 deg, keystone moving corners 0-5 % (rows tilt ~1.3 deg, columns lean ~1.6 deg the other way)" ;;
    coll_avg|coll_alt)
      local t0; t0=$(now)
      while [[ ! -e "$CW/deliv2.done" ]]; do
        [[ -e "$CW/deliv2.failed" ]] && { echo "second deliverable failed" >&2; return 1; }
        sleep 1
        [[ $(awk -v a="$t0" -v b="$(now)" 'BEGIN{print (b-a > 3600)}') == 1 ]] && return 1
      done
      if [[ $id == coll_avg ]]; then
        ff -i "$DELIV" -i "$DELIV2" -filter_complex "[0:v:0][1:v:0]blend=all_mode=average:shortest=1" -an $(X264) "$out"
      else
        ff -i "$DELIV" -i "$DELIV2" -filter_complex "[0:v:0][1:v:0]overlay=format=auto:shortest=1:enable='lt(mod(t,2),1)'" -an $(X264) "$out"
        echo "even seconds from recipient $R2, odd from $R1"
      fi ;;
    ai_sr2|ai_sr4)
      c=$(slow_cap)
      UPSCALE_PIX_FMT="$PIXFMT" bash "$here/ai/upscale.sh" "$DELIV" "${id#ai_sr}" "$tmp.mkv" "$c" 2>"$tmp.ailog" || { cat "$tmp.ailog" >&2; return 1; }
      ff -i "$tmp.mkv" -map 0:v:0 -an $(X264) "$out"
      rm -f "$tmp.mkv"
      echo "first $c s only; $(grep -o '[0-9.]* s/frame' "$tmp.ailog" | tail -n1) upscaling"
      rm -f "$tmp.ailog" ;;
    ai_restore)
      # what a "restore and upscale" service does to a poor copy: denoise
      # hard, the copy is recompressed, then a network re-synthesises detail
      c=$(slow_cap)
      ff -i "$DELIV" -t "$c" -map 0:v:0 -an -vf "nlmeans=s=6:p=7:r=9" -c:v libx264 -crf 30 -preset "$preset" "$tmp.src.mkv"
      UPSCALE_PIX_FMT="$PIXFMT" bash "$here/ai/upscale.sh" "$tmp.src.mkv" 2 "$tmp.mkv" "$c" 2>"$tmp.ailog" || { cat "$tmp.ailog" >&2; return 1; }
      ff -i "$tmp.mkv" -map 0:v:0 -an $(X264) "$out"
      rm -f "$tmp.mkv" "$tmp.src.mkv"
      echo "first $c s only; nlmeans s=6 + x264 CRF 30 before the network; $(grep -o '[0-9.]* s/frame' "$tmp.ailog" | tail -n1) upscaling"
      rm -f "$tmp.ailog" ;;
    proxy_nlmeans) vfx "$out" "nlmeans=s=8:p=7:r=9" ;;
    proxy_smooth) vfx "$out" "hqdn3d=8:6:12:9,gblur=sigma=1.5,unsharp=7:7:2.0:5:5:0" ;;
    proxy_synth) c=$(slow_cap)
                 vfx "$out" "minterpolate=fps=$FPS2,select='mod(n,2)',setpts=N/($FPS)/TB" 23 -t "$c"
                 echo "first $c s only; motion-interpolated to 2× the frame rate, then only the interpolated frames kept" ;;
    *) echo "unknown attack $id" >&2; return 1 ;;
  esac
}

# ------------------------------------------------------------ one attack
run_attack() { # id kind label index
  local id="$1" kind="$2" label="$3" index="$4"
  local out="$CW/a/$id.mkv" tmp="$CW/a/$id.tmp" res="$CW/r/$id.json" log="$CW/log/$id.log"
  local reason notes=() t0 asecs rc dsecs v z ok recips="$R1"
  [[ $kind == collusion ]] && recips="$R1,$R2"
  local base=(id="$id" kind="$kind" label="$label" index="$index"
              run.date="$rundate" run.commit="$commit")
  reason="$(not_applicable "$id" | head -n1)"
  if [[ -n "$reason" ]]; then
    python3 "$PY" record "$res" "${base[@]}" status=not_run notes="$reason"
    say "[$NAME] $id: $reason"
    return 0
  fi
  t0=$(now)
  local anotes arc=0
  anotes="$(set -e; do_attack "$id" "$out" "$tmp" 2>>"$log")" || arc=$?
  if [[ $arc != 0 ]]; then
    python3 "$PY" record "$res" "${base[@]}" status=error \
      notes="attack failed: $(tail -n 3 "$log" | tr '\n' ' ' | cut -c1-300)"
    say "[$NAME] $id: ATTACK FAILED (see $log)"
    rm -f "$out"
    return 0
  fi
  asecs=$(since "$t0")
  while IFS= read -r l; do [[ -n "$l" ]] && notes+=(notes="$l"); done <<<"$anotes"
  local aw ah ad size kbps=""
  aw=$(probe "$out" width) ah=$(probe "$out" height) ad=$(probe_dur "$out")
  if [[ $kind == codec || $id == none ]]; then
    size=$(stat -L -c %s "$out")
    kbps=$(awk -v s="$size" -v d="$ad" 'BEGIN { if (d > 0) printf "%.0f", s * 8 / d / 1000 }')
  fi
  # full clip
  t0=$(now)
  rc=0
  "$BIN/wmdetect" -k "$KEY.dkey" --json --quiet --receipt "$DELIV.receipt.json" "$out" \
    >"$CW/r/$id.detect.json" 2>>"$log" || rc=$?
  dsecs=$(since "$t0")
  read -r ok z < <(python3 "$PY" verdict "$CW/r/$id.detect.json" "$TITLE" "$recips")
  local ex=() shortest=""
  # 4: the signature verifies but the pictures contradict the mark's content
  # tag or the receipt's fingerprint: a verdict, not an error
  if [[ $rc != 0 && $rc != 1 && $rc != 3 && $rc != 4 ]]; then
    local why="wmdetect error (exit $rc): $(tail -n 2 "$log" | tr '\n' ' ' | cut -c1-300)"
    [[ $rc -ge 128 ]] && why="wmdetect crashed (signal $((rc - 128)))"
    python3 "$PY" record "$res" "${base[@]}" status=error detect_rc="$rc" "${notes[@]}" \
      notes="$why" \
      attacked.width="$aw" attacked.height="$ah" attacked.duration="$ad" attack_seconds="$asecs"
    say "[$NAME] $id: DETECT ERROR: $why (see $log)"
    [[ $keep == 1 ]] || rm -f "$out"
    return 0
  fi
  if [[ $ok == 1 ]]; then
    # shortest excerpt from the start: 2, 5, 10 s
    local d erc eok ez
    for d in 2 5 10; do
      if awk -v d="$d" -v a="$ad" 'BEGIN { exit !(d < a - 0.05) }'; then
        erc=0
        "$BIN/wmdetect" -k "$KEY.dkey" --json --quiet --receipt "$DELIV.receipt.json" \
          --duration "$d" "$out" >"$CW/r/$id.ex$d.json" 2>>"$log" || erc=$?
        read -r eok ez < <(python3 "$PY" verdict "$CW/r/$id.ex$d.json" "$TITLE" "$recips")
        ex+=(excerpt.tried.s$d="$eok" excerpt.z.s$d="$ez")
        rm -f "$CW/r/$id.ex$d.json"
        if [[ $eok == 1 ]]; then shortest=$d; break; fi
      else
        shortest=full; break
      fi
    done
    [[ -n "$shortest" ]] || shortest=full
  fi
  python3 "$PY" record "$res" "${base[@]}" status=ok recovered="$([[ $ok == 1 ]] && echo true || echo false)" \
    detect="$CW/r/$id.detect.json" detect_rc="$rc" detect_seconds="$dsecs" attack_seconds="$asecs" \
    attacked.width="$aw" attacked.height="$ah" attacked.duration="$ad" attacked.kbps="$kbps" \
    excerpt.shortest="$shortest" "${ex[@]}" "${notes[@]}"
  rm -f "$CW/r/$id.detect.json"
  say "[$NAME] $id: $([[ $ok == 1 ]] && echo "recovered (excerpt $shortest)" || echo "NOT recovered (rc $rc)") z=$z, attack ${asecs}s, detect ${dsecs}s"
  [[ $keep == 1 ]] || rm -f "$out"
  return 0
}

# ------------------------------------------------------------ one clip
clipdirs=()
fail=0
run_clip() {
  local src="$1"
  NAME="$(basename "$src")"; NAME="${NAME%.*}"
  CW="$work/$NAME" CLIP_T0=$(now)
  rm -rf "$CW"; mkdir -p "$CW/a" "$CW/r" "$CW/log"
  local sw sdur
  W=$(probe "$src" width) H=$(probe "$src" height) PIXFMT=$(probe "$src" pix_fmt)
  FPS=$(probe "$src" r_frame_rate); [[ "$FPS" == 0/0 || -z "$FPS" ]] && FPS=$(probe "$src" avg_frame_rate)
  FPSI=$(awk -v f="$FPS" 'BEGIN { split(f, a, "/"); v = (a[2] ? a[1] / a[2] : a[1]); printf "%g", v }')
  FPS2=$(awk -v f="$FPS" 'BEGIN { split(f, a, "/"); printf "%d/%d", a[1] * 2, (a[2] ? a[2] : 1) }')
  sdur=$(probe_dur "$src")
  [[ -n "$W" && -n "$H" && -n "$sdur" ]] || { echo "cannot probe $src" >&2; fail=1; return; }
  DEPTH=$(ffprobe -v error -select_streams v:0 -show_entries stream=bits_per_raw_sample -of default=nw=1:nk=1 "$src" | head -n1)
  [[ "$DEPTH" =~ ^[0-9]+$ ]] || DEPTH=8
  [[ "$PIXFMT" == *10le || "$PIXFMT" == *10be || "$PIXFMT" == *12le ]] && DEPTH=$(( DEPTH > 8 ? DEPTH : 10 ))
  VP9K=$(awk -v w="$W" -v h="$H" 'BEGIN { k = 1000 * w * h / (1920 * 1080); if (k < 150) k = 150; printf "%d", k }')

  # master: the first --seconds, losslessly
  local master="$src" trimmed=false
  if awk -v d="$sdur" -v s="$seconds" 'BEGIN { exit !(d > s + 0.05) }'; then
    master="$CW/master.mkv" trimmed=true
    say "[$NAME] trimming to the first $seconds s (FFV1)"
    ff -i "$src" -t "$seconds" -map 0:v:0 -an -c:v ffv1 -level 3 -slices 4 "$master" 2>>"$CW/log/master.log" \
      || { echo "[$NAME] trimming failed" >&2; fail=1; return; }
    DUR=$(probe_dur "$master")
  else
    DUR=$sdur
  fi

  # the selected attacks
  local ids=() kinds=() labels=() idx=() i=0 need2=0 line id kind label
  while IFS='|' read -r id kind label; do
    i=$((i + 1))
    selected "$id" "$kind" || continue
    ids+=("$id") kinds+=("$kind") labels+=("$label") idx+=("$i")
    [[ $kind == collusion ]] && need2=1
  done < <(attack_registry)

  KEY="$CW/key"
  "$BIN/wmkeygen" -o "$KEY" --no-passphrase >/dev/null
  DELIV="$CW/deliv.webm" DELIV2="$CW/deliv2.webm"
  say "[$NAME] ${W}x${H} ${FPSI} fps ${PIXFMT}, ${DUR} s: embedding (VP9, default strength)"
  if ! "$BIN/wmembed" -k "$KEY.key" -i "$master" -o "$DELIV" --title-id "$TITLE" --recipient-id "$R1" \
      --json --quiet --force >"$CW/embed.json" 2>"$CW/log/embed.log"; then
    cat "$CW/log/embed.log" >&2; echo "[$NAME] wmembed failed" >&2; fail=1; return
  fi
  say "[$NAME] embedded: $(python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print("%.2f fps, luma PSNR %.2f dB, SSIM %.4f" % (e["fps"], e["luma_psnr_db"], e["luma_ssim"]))' "$CW/embed.json")"

  # pool: second deliverable and quality first, then the attacks
  local total=${#ids[@]} n=0
  say "[$NAME] ${total} attacks, ${jobs} at a time"
  if [[ $need2 == 1 ]]; then
    ( if "$BIN/wmembed" -k "$KEY.key" -i "$master" -o "$DELIV2" --title-id "$TITLE" --recipient-id "$R2" \
          --json --quiet --force >"$CW/embed2.json" 2>"$CW/log/embed2.log"; then touch "$CW/deliv2.done"
      else touch "$CW/deliv2.failed"; fi ) &
  fi
  ( bash "$here/quality.sh" --json "$master" "$DELIV" >"$CW/quality.json" 2>"$CW/log/quality.log" || rm -f "$CW/quality.json" ) &
  for ((n = 0; n < total; n++)); do
    while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || true; done
    ( set +e; run_attack "${ids[n]}" "${kinds[n]}" "${labels[n]}" "${idx[n]}" ) &
  done
  wait

  local qarg=() clip_secs
  clip_secs=$(since "$CLIP_T0")
  if [[ -s "$CW/quality.json" ]]; then qarg=(quality="$CW/quality.json")
  else qarg=(quality_error="$(tail -n 1 "$CW/log/quality.log" 2>/dev/null | cut -c1-200)"); fi
  python3 "$PY" clip "$CW/clip.json" name="$NAME" \
    master.source="$src" master.trimmed="$trimmed" master.duration="$DUR" master.width="$W" \
    master.height="$H" master.fps="$FPSI" master.pix_fmt="$PIXFMT" \
    embed="$CW/embed.json" "${qarg[@]}" \
    key_fingerprint="$(sed -n 's/.*fingerprint \([0-9a-f]*\).*/\1/p' "$KEY.pub" | head -n1)" \
    run.date="$rundate" run.commit="$commit" run.machine="$machine" run.seconds="$clip_secs" \
    run.settings="jobs $jobs, x264 preset $preset, slow attacks $slow s, masters $seconds s$([[ $quick == 1 ]] && echo ', quick')"
  clipdirs+=("$CW")

  if [[ $quick == 1 ]]; then
    local base
    base=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(1 if r.get("recovered") else 0)' "$CW/r/none.json" 2>/dev/null || echo 0)
    [[ $base == 1 ]] || { echo "[$NAME] the untouched deliverable was NOT recovered" >&2; fail=1; }
    if grep -l '"status": "error"' "$CW"/r/*.json >/dev/null 2>&1; then
      echo "[$NAME] some attacks failed to run: $(grep -l '"status": "error"' "$CW"/r/*.json | xargs -n1 basename | tr '\n' ' ')" >&2
      fail=1
    fi
  fi
}

# ------------------------------------------------------------------ main
if [[ $list == 1 ]]; then
  W=1920 H=1080 FPS=24/1 FPSI=24 FPS2=48/1 VP9K=1000
  attack_registry | awk -F'|' '{ printf "%-18s %-10s %s\n", $1, $2, $3 }'
  exit 0
fi

resolved=()
for c in "${clips[@]}"; do
  if f="$(resolve_clip "$c")"; then resolved+=("$f")
  else echo "robustness.sh: clip not found, skipped: $c (run ../shared/media/get.sh?)" >&2; fi
done
[[ ${#resolved[@]} -gt 0 ]] || die "no clips to run"
mkdir -p "$work" "$results"
t_all=$(now)
for f in "${resolved[@]}"; do
  t_clip=$(now)
  run_clip "$f"
  say "[$NAME] done in $(since "$t_clip") s"
done

rjson="$results/robustness.json" rmd="$results/robustness.md"
if [[ ${#clipdirs[@]} -gt 0 ]]; then
  if [[ $merge == 1 && $quick == 0 ]]; then
    python3 "$PY" report "$rjson" "$rmd" "${clipdirs[@]}"
  else
    python3 "$PY" report "$rjson" "$rmd" "${clipdirs[@]}" --no-merge
  fi
  say "wrote $rmd and $rjson ($(since "$t_all") s in all)"
  [[ $quick == 1 ]] && sed -n '/^## /,$p' "$rmd"
fi
exit $(( fail ? 1 : 0 ))
