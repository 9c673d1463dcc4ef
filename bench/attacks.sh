#!/usr/bin/env bash
# Attack benchmark: a keyless attacker who knows the whole design (tile period,
# mark grid, epochs of 2 s of master time starting at 0) tries to remove the
# mark from one long marked copy, and to transplant it onto video that was never
# marked. The attacks are bench/attacks/*.py (numpy; video through ffmpeg).
#
#   bench/attacks.sh [options]
#
# Steps: (1) the long real master (bench/make_long_master.sh, built when
# missing), its first --seconds marked with wmembed (FFV1); (2) one pass over the
# marked copy estimates the mark (bench/attacks/estimate.py: all frames, per
# epoch, the constant part, clustered epoch variants, frame differences, the
# first 1 s); (3) every attack writes 10-s excerpts of its attacked copy at
# --count offsets (--first, --first + --step, ...) and each excerpt goes to
# `wmdetect --json` BLIND (no receipt): removal (a, b, d) at each --psnr,
# temporal low-pass over 2, 3, 5 frames, weight steering (e: the constant
# part and the all-frames estimate subtracted in every other 128 x 128 cell of
# the mark grid, at each --steer-psnr, then re-encoded with --steer-codec;
# with --fold none), and the copy attack (c) at each
# --copy-psnr onto the part of the long master after --seconds, which was never
# marked (excerpt k of the forgery pretends to sit at the same master time as
# excerpt k of the marked copy, so per-epoch estimates are laid down in epoch
# order); (4) bench/attacks/report.py writes attacks.md and attacks.json.
#
# Options:
#   --quick          40 s marked, 2 excerpts 20 s apart, PSNR 45,40,35 (no
#                    'auto'), no oracle; results to bench/work/attacks-quick/results
#                    unless --results is given. About 15 CPU-minutes: under 10
#                    minutes on an idle 2-core machine.
#   --seconds N      seconds of the long master to mark (default 120, quick 40; at most
#                    the master's length - 10, the rest is the copy target)
#   --count N        excerpts per attack (default 4, quick 2)
#   --step S         seconds between excerpt starts (default 30; quick 20)
#   --first S        start of the first excerpt (default 1: mid-epoch)
#   --excerpt S      excerpt length (default 10)
#   --psnr LIST      removal strengths: target PSNR in dB against the marked copy,
#                    'auto' (the attacker's own calibration of exact removal, one
#                    scale per 10 s), 'auto-epoch' (the same calibration made
#                    for each epoch on its own), 'auto-null[*F]' (the per-epoch
#                    calibration with the host's share, measured on the
#                    neighbouring epochs, taken out; *F scales it) or
#                    'auto-band[*F]' (that, per frequency band of the tile)
#                    (default auto,auto-epoch,auto-band,45,40,35)
#   --copy-psnr LIST copy-attack strengths (default 45,40)
#   --fold MODE      the period the attacker folds its estimates at: 'tile'
#                    (default: 128 x 128 mark pixels, the tile's repetitions
#                    averaged) or 'none' (no folding: every mark-grid position
#                    estimated on its own, the fair attacker against format 7,
#                    whose tile repetitions carry their own signs); exported to
#                    every python step as FM_ATTACK_FOLD (see
#                    bench/attacks/fmattack.py); the estimates go to
#                    estimates.npz or estimates-nofold.npz in --work
#   --steer-psnr LIST  weight-steering strengths (default none,50,45,40;
#                    'none' = the excerpt unchanged: the control)
#   --steer-codec C  what the steered excerpts go through before detection
#                    (default crf28@1280x720: scaled to 720p, x264 CRF 28;
#                    'raw' for none): steering matters near the decoding edge
#   --only LIST      comma-separated parts: none,remove,temporal,copy,steer
#                    (default all; steer runs with --fold none only)
#   --no-oracle      skip the diagnostic correlation of the estimates with the
#                    true embedded signal (needs a second decode of the master)
#   --master FILE    the long master (default $FILMMARK_MEDIA/long_1080p24.mkv)
#   --results DIR    where attacks.md/.json go (default bench/results)
#   --work DIR       scratch (default bench/work/attacks[-quick])
#   --reuse          keep the marked copy of an earlier run in --work when the
#                    master, --seconds and wmembed are unchanged, and its
#                    estimates (made with the same --fold) when newer than
#                    bench/attacks/estimate.py and fmattack.py
#   --keep           keep the attacked excerpts (uncompressed: ~750 MB each)
#   --jobs N         wmdetect processes beside each attack (default 1)
#
# Environment: FILMMARK_BIN (default build/), FILMMARK_MEDIA (default
# ~/.cache/filmmark-media), FILMMARK_PYTHON (a python3 with numpy; default the
# first of python3, /usr/bin/python3 that imports numpy). Needs ffmpeg, ffprobe.
# FILMMARK_REGISTRY_BENCH: the registry wmembed records the issuance in and
# wmdetect reads (default a new, empty one per run). wmdetect names a
# recipient from it when a payload does not decode (exit 0, status "named"),
# so detection is blind to a receipt, not to the registry; with --reuse
# wmembed is skipped and a new registry stays empty (truly blind).
set -euo pipefail
# issuances made here go to a throwaway registry, never the user's
export FILMMARK_REGISTRY="${FILMMARK_REGISTRY_BENCH:-$(mktemp -d)/registry.sqlite}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
MEDIA="${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}"
A="$here/attacks"
TITLE=4242 RECIPIENT=1001 ISSUED=2026-12-01T09:04Z
cmdline="bench/attacks.sh${*:+ $*}"
[[ -n "${FILMMARK_BIN:-}" ]] && cmdline="FILMMARK_BIN=$FILMMARK_BIN $cmdline"

die() { echo "attacks.sh: $*" >&2; exit 2; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

quick=0 seconds="" count="" step="" first=1 exlen=10 psnr="" copy_psnr="45,40" steer_psnr="none,50,45,40"
steer_codec="crf28@1280x720"
only="none,remove,temporal,copy,steer" oracle=1 master="" results="" work="" reuse=0 keep=0 jobs=1
fold=tile
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --seconds) seconds="$2"; shift ;;
    --count) count="$2"; shift ;;
    --step) step="$2"; shift ;;
    --first) first="$2"; shift ;;
    --excerpt) exlen="$2"; shift ;;
    --psnr) psnr="$2"; shift ;;
    --copy-psnr) copy_psnr="$2"; shift ;;
    --steer-psnr) steer_psnr="$2"; shift ;;
    --steer-codec) steer_codec="$2"; shift ;;
    --fold) fold="$2"; shift ;;
    --only) only="$2"; shift ;;
    --no-oracle) oracle=0 ;;
    --master) master="$2"; shift ;;
    --results) results="$2"; shift ;;
    --work) work="$2"; shift ;;
    --reuse) reuse=1 ;;
    --keep) keep=1 ;;
    --jobs) jobs="$2"; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
if [[ $quick == 1 ]]; then
  seconds=${seconds:-40} count=${count:-2} step=${step:-20} psnr=${psnr:-45,40,35} oracle=0
  work=${work:-$root/bench/work/attacks-quick}
  results=${results:-$work/results}
else
  seconds=${seconds:-120} count=${count:-4} step=${step:-30} psnr=${psnr:-auto,auto-epoch,auto-band,45,40,35}
  work=${work:-$root/bench/work/attacks}
  results=${results:-$root/bench/results}
fi
master=${master:-$MEDIA/long_1080p24.mkv}
for v in seconds count step first exlen jobs; do
  [[ "${!v}" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--$v wants a number"
done
[[ $fold == tile || $fold == none ]] || die "--fold wants tile or none, not '$fold'"
# every python step folds (or not) the same way; the estimates of each mode
# have their own files, so --reuse never mixes them
export FM_ATTACK_FOLD=$fold
nf=""   # estimates$nf.npz, estimate$nf.json
if [[ $fold == none ]]; then nf="-nofold"; fi

for t in ffmpeg ffprobe; do command -v "$t" >/dev/null || die "$t not found"; done
for t in wmkeygen wmembed wmdetect; do
  [[ -x "$BIN/$t" ]] || die "$BIN/$t not found: build it (bash scripts/build.sh) or set FILMMARK_BIN"
done
PY="${FILMMARK_PYTHON:-}"
if [[ -z "$PY" ]]; then
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import numpy' 2>/dev/null; then PY="$p"; break; fi
  done
fi
[[ -n "$PY" ]] || die "no python3 with numpy (apt-get install python3-numpy, or set FILMMARK_PYTHON)"

export PYTHONDONTWRITEBYTECODE=1
mkdir -p "$work" "$results"
work="$(realpath "$work")" results="$(realpath "$results")"
t_start=$(date +%s)
# CPU seconds (user + sys) of everything this script has waited for so far
# ('times' must run in this shell, not in a $(...) subshell)
cpu_s=0
cpu() { times > "$work/.times"; cpu_s=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.0f", t }' "$work/.times"); }
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  commit+=" + local changes"
fi
bin_commit="$(git -C "$BIN/.." rev-parse --short HEAD 2>/dev/null || echo "$commit")"
if [[ "$(realpath "$BIN/..")" != "$root" ]]; then
  if [[ -n "$(git -C "$BIN/.." status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    bin_commit+=" + local changes"
  fi
else
  bin_commit="$commit"
fi

# ------------------------------------------------------------ 1. master, marked copy
if [[ ! -s "$master" ]]; then
  [[ "$master" == "$MEDIA/long_1080p24.mkv" ]] || die "$master not found"
  say "building the long master (bench/make_long_master.sh)"
  bash "$here/make_long_master.sh" "$master"
fi
mdur=$(ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$master")
awk -v s="$seconds" -v d="$mdur" -v e="$exlen" 'BEGIN { exit !(s + e <= d + 0.01) }' ||
  die "--seconds $seconds leaves less than $exlen s of the ${mdur%.*}-s master unmarked for the copy attack"

stamp="$(stat -c '%s %Y' "$master") $seconds $(stat -c '%s %Y' "$BIN/wmembed")"
t0=$(date +%s); cpu; c0=$cpu_s reused=0
if [[ $reuse == 1 && -s "$work/marked.mkv" && "$(cat "$work/stamp" 2>/dev/null)" == "$stamp" ]]; then
  say "reusing the marked copy in $work"
  reused=1
else
  rm -f "$work/stamp" "$work/estimates.npz" "$work/estimates-nofold.npz"
  say "cutting the first $seconds s of $(basename "$master")"
  ff -i "$master" -t "$seconds" -map 0:v:0 -c copy "$work/master.mkv"
  "$BIN/wmkeygen" -o "$work/key" --no-passphrase --force >/dev/null
  say "marking with wmembed (FFV1)"
  "$BIN/wmembed" -k "$work/key.key" -i "$work/master.mkv" -o "$work/marked.mkv" --codec ffv1 \
    --title-id $TITLE --recipient-id $RECIPIENT --issued $ISSUED --json --force --quiet \
    > "$work/embed.json"
  t_embed=$(( $(date +%s) - t0 ))
  echo "$t_embed" > "$work/embed_seconds"
  echo "$stamp" > "$work/stamp"
fi
if [[ $reuse == 1 && -s "$work/estimates$nf.npz" && "$work/estimates$nf.npz" -nt "$A/estimate.py" &&
      "$work/estimates$nf.npz" -nt "$A/fmattack.py" ]]; then
  say "reusing the estimates in $work (estimates$nf.npz, fold $fold)"
else
  say "estimating the mark from all $seconds s (estimate.py, fold $fold)"
  oarg=(); [[ $oracle == 1 ]] && oarg=(--oracle "$work/master.mkv")
  "$PY" "$A/estimate.py" -i "$work/marked.mkv" -o "$work/estimates$nf.npz" "${oarg[@]}" \
    > "$work/estimate$nf.json"
fi
cpu; t_prep=$(( $(date +%s) - t0 )) c_prep=$(( cpu_s - c0 ))

# ------------------------------------------------------------ 2. excerpts
tail_len=$(awk -v d="$mdur" -v s="$seconds" 'BEGIN { printf "%.3f", d - s }')
ex="" cex="" tex=""
for ((k = 0; k < count; k++)); do
  o=$(awk -v f="$first" -v s="$step" -v k="$k" 'BEGIN { printf "%g", f + k * s }')
  awk -v o="$o" -v e="$exlen" -v s="$seconds" 'BEGIN { exit !(o + e <= s + 0.001) }' || break
  # copy target: never-marked master after --seconds, different 10 s per excerpt where it fits
  u=$(awk -v s="$seconds" -v t="$tail_len" -v e="$exlen" -v k="$k" \
        'BEGIN { span = t - e; off = (span > 0) ? (k * e) % (span + 0.001) : 0; printf "%g", s + int(off) }')
  ex+="${ex:+,}$o:$exlen" cex+="${cex:+,}$u:$exlen@$o" tex+="${tex:+,}$u:$exlen"
done
[[ -n "$ex" ]] || die "no $exlen-s excerpt fits in $seconds s"
say "excerpts of the marked copy: $ex; copy targets (unmarked @ pretended time): $cex"

# ------------------------------------------------------------ 3. attacks + blind detection
out="$work/results.jsonl"
: > "$out"
det=("$PY" "$A/detect.py" --bin "$BIN" --key "$work/key.dkey" --jobs "$jobs"
     --title $TITLE --recipient $RECIPIENT)
[[ $keep == 1 ]] && det+=(--keep)
mkdir -p "$work/out"
cpu; c0=$cpu_s
has() { [[ ",$only," == *",$1,"* ]]; }
t0=$(date +%s)
if has none || has temporal; then
  frames=""; has none && frames=1
  has temporal && frames+="${frames:+,}2,3,5"
  say "temporal low-pass (frames $frames; 1 = the marked copy as it is)"
  "$PY" "$A/temporal.py" -i "$work/marked.mkv" -o "$work/out/temporal" --frames "$frames" \
    --excerpts "$ex" --codec raw --name temporal | "${det[@]}" >> "$out"
fi
if has copy; then
  say "unmarked copy targets, as they are"
  "$PY" "$A/temporal.py" -i "$master" -o "$work/out/target" --frames 1 \
    --excerpts "$tex" --codec raw --name target | "${det[@]}" >> "$out"
fi
if has remove; then
  say "removal: subtract estimates all, epoch, const, cluster, fdiff at $psnr (fold $fold)"
  "$PY" "$A/subtract.py" -i "$work/marked.mkv" --estimates "$work/estimates$nf.npz" \
    --which all,epoch,const,cluster,fdiff --psnr "$psnr" -o "$work/out/remove" \
    --excerpts "$ex" --codec raw --name remove | "${det[@]}" >> "$out"
fi
if has steer && [[ $fold == none ]]; then
  say "weight steering: estimates const, all in every other cell at $steer_psnr, then $steer_codec"
  "$PY" "$A/subtract.py" -i "$work/marked.mkv" --estimates "$work/estimates$nf.npz" \
    --which const,all --cells even --psnr "$steer_psnr" -o "$work/out/steer" \
    --excerpts "$ex" --codec "$steer_codec" --name steer | "${det[@]}" >> "$out"
elif has steer; then
  say "weight steering skipped: it needs --fold none (a folded tile is one cell)"
fi
if has copy; then
  say "copy attack: estimates all, epoch, first1s added at $copy_psnr (fold $fold)"
  "$PY" "$A/copy_attack.py" -i "$master" --estimates "$work/estimates$nf.npz" \
    --which all,epoch,first1s --psnr "$copy_psnr" -o "$work/out/copy" \
    --excerpts "$cex" --codec raw --name copy | "${det[@]}" >> "$out"
fi
cpu; t_attacks=$(( $(date +%s) - t0 )) c_attacks=$(( cpu_s - c0 ))

# ------------------------------------------------------------ 4. report
total=$(( $(date +%s) - t_start ))
"$PY" "$A/report.py" --results "$out" --embed "$work/embed.json" --estimate "$work/estimate$nf.json" \
  --md "$results/attacks.md" --json "$results/attacks.json" \
  --commit "$commit" --bin-commit "$bin_commit" --command "$cmdline" \
  --seconds "$seconds" --excerpts "$ex" --copy-excerpts "$cex" --master "$master" \
  --timing "prep=$t_prep,attacks=$t_attacks,total=$total,embed=$(cat "$work/embed_seconds" 2>/dev/null || echo 0),cpu_prep=$c_prep,cpu_attacks=$c_attacks,reused=$reused,load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')" \
  --quick "$quick" --fold "$fold"
say "done in $total s: $results/attacks.md"
