#!/usr/bin/env bash
# Speed of wmembed and wmdetect on a 10-second 1080p clip.
#
#   bench/speed.sh [--codecs vp9,h264,ffv1] [--repeat N] [--results DIR]
#                  [--mark-only] [--embed-only] [--detect-only] [--no-4k]
#                  [--no-memory] [CLIP]
#
# CLIP defaults to dune_1080p24.mkv from the media cache
# (../shared/media/get.sh); longer clips are trimmed losslessly to 10 s.
# Measures:
#   * wmembed to each codec (default vp9, h264, ffv1): frames per second as
#     wmembed reports it, wall-clock and CPU seconds; and plain ffmpeg doing
#     the same decode and encode (wmembed's encoder settings) right after it,
#     with the ratios wmembed / ffmpeg;
#   * the self-check's cost: wmembed to each codec again with --no-verify
#     (wall-clock and CPU seconds with and without the read-back), beside the
#     self-check's own wall time that wmembed reports in --json;
#   * the encoder's own cost of the mark: plain ffmpeg encoding the *marked*
#     pictures (a lossless FFV1 copy wmembed made of the master, decoded like
#     the master) with the same settings. The mark is detail the encoder has
#     to code, so it works harder and writes more bytes whatever tool adds
#     it: wmembed --no-verify against this row, with the marked copy's decode
#     swapped for the master's (both timed alone), is wmembed's own overhead.
#     Output sizes are listed too (the bitrate cost of the mark);
#   * the same side by side for FFV1 at 4K (elephants_2160p24, 3 s) unless
#     --no-4k;
#   * peak memory of wmembed (FFV1) on a short and a long master, 1080p
#     (10 s and 60 s of long_1080p24, cut losslessly) and 4K (the 3-s clip and
#     it looped to 12 s), unless --no-memory: it must not grow with the length;
#   * wmdetect on the untouched VP9 deliverable, on a 2-s excerpt of it, and
#     on a few attacked copies (H.264 CRF 23; crop 10 % each side and scale to
#     2/3, which need the geometry search): wall-clock and CPU seconds, peak
#     memory; plus the time ffmpeg alone takes to decode the same file (on
#     one thread, and with its default threads, as wmdetect uses every core).
# Each detection is run --repeat times (default 2) and the fastest kept; the
# machine is described in the output since other load skews the figures.
# Writes bench/results/speed.md and speed.json.
# First, the mark stage alone (bench/mark_speed: the library calls on frames
# in memory, no codec) at 1080p and 4K, 8-bit and 10-bit, on one
# thread and on all cores: bench/results/mark_speed.md and .json.
# --mark-only stops there (no clip needed). --embed-only measures only the
# embedding rows of CLIP (wmembed, wmembed --no-verify, plain ffmpeg): no mark
# stage, 4K, memory or detection, into speed_embed.md and .json. --detect-only
# makes the VP9 deliverable and
# measures only the detection rows, into speed_detect.md and .json (so that
# the full run's speed.md stays).
set -euo pipefail
# issuances made here go to a throwaway registry, never the user's
export FILMMARK_REGISTRY="${FILMMARK_REGISTRY_BENCH:-$(mktemp -d)/registry.sqlite}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
MEDIA="${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}"
die() { echo "speed.sh: $*" >&2; exit 2; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

codecs="vp9,h264,ffv1" repeat=2 results="$root/bench/results" clip="" mark_only=0 do4k=1 domem=1
embed_only=0 detect_only=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --codecs) codecs="$2"; shift ;;
    --repeat) repeat="$2"; shift ;;
    --results) results="$2"; shift ;;
    --mark-only) mark_only=1 ;;
    --embed-only) embed_only=1 do4k=0 domem=0 ;;
    --detect-only) detect_only=1 do4k=0 domem=0 ;;
    --no-4k) do4k=0 ;;
    --no-memory) domem=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) die "unknown option: $1" ;;
    *) clip="$1" ;;
  esac
  shift
done
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || die "--repeat wants a positive integer"
[[ -x "$BIN/mark_speed" ]] || die "$BIN/mark_speed missing: run bash scripts/build.sh"
mkdir -p "$results"
mark_stage() {
  local out="$results/mark_speed.jsonl.tmp" cfg size bd th
  : >"$out"
  say "mark stage alone (bench/mark_speed, frames in memory; load $(cut -d' ' -f1-3 /proc/loadavg))"
  for cfg in "1920x1080 8" "1920x1080 10" "3840x2160 8" "3840x2160 10"; do
    read -r size bd <<<"$cfg"
    for th in 1 0; do
      nice "$BIN/mark_speed" --size "$size" --bit-depth "$bd" --threads "$th" --repeat "$repeat" \
        --json >>"$out" || die "mark_speed failed"
    done
  done
  python3 - "$out" "$results" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores" "$repeat" <<'EOF'
import json, os, sys
src, results, commit, date, load, machine, repeat = sys.argv[1:]
rows = [json.loads(l) for l in open(src) if l.strip()]
L = ["# filmmark mark stage alone", "",
     f"Generated by `bench/speed.sh` (bench/mark_speed) on {date}, commit `{commit}`.", "",
     f"* machine: {machine}; load average {load} at the end",
     "* synthetic frames in memory, no decoder or encoder: the library calls alone "
     "(fm_embedder_mark with and without the quality measure wmembed asks for; "
     "fm_accumulator_add, wmdetect's per-frame work)",
     f"* fastest of {repeat} runs of at least 1 s each; fps/core = frames per CPU-second "
     "of the process (all threads), fps = frames per wall-clock second", "",
     "| picture | threads | mark+quality fps/core | mark fps/core | detect fps/core "
     "| mark+quality fps | detect fps |",
     "| --- | --- | --- | --- | --- | --- | --- |"]
for r in rows:
    L.append(f"| {r['width']}x{r['height']} {r['bit_depth']}-bit | {r['threads']} "
             f"| {r['mark+quality_fps_per_core']:.0f} | {r['mark_fps_per_core']:.0f} "
             f"| {r['detect_fps_per_core']:.0f} | {r['mark+quality_fps']:.0f} "
             f"| {r['detect_fps']:.0f} |")
L.append("")
with open(os.path.join(results, "mark_speed.md"), "w") as f:
    f.write("\n".join(L))
with open(os.path.join(results, "mark_speed.json"), "w") as f:
    json.dump({"date": date, "commit": commit, "machine": machine, "load_average": load,
               "runs": rows}, f, indent=1)
print("\n".join(L))
EOF
  rm -f "$out"
}
[[ $embed_only == 1 || $detect_only == 1 ]] || mark_stage
[[ $mark_only == 1 ]] && exit 0
[[ -n "$clip" ]] || clip="$MEDIA/dune_1080p24.mkv"
[[ -f "$clip" ]] || { [[ -f "$MEDIA/$clip" ]] && clip="$MEDIA/$clip"; }
[[ -f "$clip" ]] || die "no such clip: $clip (run ../shared/media/get.sh?)"
for t in ffmpeg ffprobe python3; do command -v "$t" >/dev/null || die "$t not found"; done
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"
for t in wmkeygen wmembed wmdetect; do [[ -x "$BIN/$t" ]] || die "$BIN/$t missing: run bash scripts/build.sh"; done

ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
probe() { ffprobe -v error -select_streams v:0 -show_entries "stream=$2" -of default=nw=1:nk=1 "$1" | head -n1; }
probe_dur() { ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$1" | head -n1; }

work="$root/bench/work/speed"
rm -rf "$work"; mkdir -p "$work" "$results"
name="$(basename "$clip")"; name="${name%.*}"
W=$(probe "$clip" width) H=$(probe "$clip" height)
master="$clip"
if awk -v d="$(probe_dur "$clip")" 'BEGIN { exit !(d > 10.05) }'; then
  master="$work/master.mkv"
  ff -i "$clip" -t 10 -map 0:v:0 -an -c:v ffv1 -level 3 -slices 4 "$master"
fi
dur=$(probe_dur "$master")

commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z "$(git -C "$root" status --porcelain --untracked-files=no -- . ':!bench/results' 2>/dev/null)" ]] || commit+=" + local changes"
cpu="$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //' || true)"
machine="${cpu:-unknown CPU}, $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo), $(uname -sm)"
load0="$(cut -d' ' -f1-3 /proc/loadavg)"
rundate="$(date -u '+%Y-%m-%d %H:%M UTC')"

rows="$work/rows.tsv"; : >"$rows"
# timed LABEL KIND -- command...: appends "kind label wall user sys maxrss_kb rc" (fastest of $n runs)
timed() {
  local kind="$1" label="$2" n="$3"; shift 4
  local best="" i line
  for ((i = 0; i < n; i++)); do
    /usr/bin/time -f '%e %U %S %M %x' -o "$work/time.txt" "$@" >"$work/out.txt" 2>"$work/err.txt" || true
    line="$(tail -n1 "$work/time.txt")"
    if [[ -z "$best" ]] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then best="$line"; fi
  done
  printf '%s\t%s\t%s\n' "$kind" "$label" "${best// /$'\t'}" >>"$rows"
  say "$label: $(awk '{ printf "%s s wall, %.1f s CPU, %d MB, exit %s", $1, $2 + $3, $4 / 1024, $5 }' <<<"$best")"
}

# plain ffmpeg with wmembed's encoder settings
. "$here/plain_args.sh"

keyfile="$work/key.key"
"$BIN/wmkeygen" -o "$work/key" --no-passphrase >/dev/null
frames=""
[[ $detect_only == 1 ]] && codecs=""
if [[ $detect_only == 0 ]]; then
# the marked pictures, losslessly: what plain ffmpeg encodes in the "marked" rows
"$BIN/wmembed" -k "$keyfile" -i "$master" -o "$work/marked.mkv" --title-id 1 --recipient-id 2 \
  --codec ffv1 --quiet --force --no-verify || die "wmembed --codec ffv1 failed on $master"
sizes="$work/sizes.tsv"; : >"$sizes"
# decoding the marked copy costs more than decoding the master (more detail
# to decode): timed alone, so that the yardstick can be given the master's
# decode instead
timed decode_master "ffmpeg decode master" 1 -- ffmpeg -nostdin -v error -i "$master" \
  -map 0:v:0 -f null -
timed decode_marked "ffmpeg decode marked copy" 1 -- ffmpeg -nostdin -v error -i "$work/marked.mkv" \
  -map 0:v:0 -f null -
for c in ${codecs//,/ }; do
  case "$c" in vp9) ext=webm ;; h264) ext=mp4 ;; ffv1) ext=mkv ;; *) die "unknown codec $c" ;; esac
  say "embedding $name (${W}x${H}, $dur s) to $c"
  timed embed "wmembed --codec $c" 1 -- "$BIN/wmembed" -k "$work/key.key" -i "$master" -o "$work/deliv_$c.$ext" \
    --title-id 1 --recipient-id 2 --codec "$c" --json --quiet --force
  cp "$work/out.txt" "$work/embed_$c.json"
  python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); sc=e.get("self_check") or {}; print("%s\t%s\t%s\t%s\t%s" % (sys.argv[2], e["fps"], e["frames"], sc.get("wall_seconds", ""), sc.get("seconds_read", "")))' \
    "$work/embed_$c.json" "$c" >>"$work/embedfps.tsv" || true
  printf 'wmembed\t%s\t%s\n' "$c" "$(stat -c %s "$work/deliv_$c.$ext")" >>"$sizes"
  [[ $c == vp9 ]] || rm -f "$work/deliv_$c.$ext"
  # the same without the self-check: its whole cost, CPU included
  timed embed_nv "wmembed --codec $c --no-verify" 1 -- "$BIN/wmembed" -k "$work/key.key" -i "$master" \
    -o "$work/nv_$c.$ext" --title-id 1 --recipient-id 2 --codec "$c" --json --quiet --force --no-verify
  rm -f "$work/nv_$c.$ext" "$work/nv_$c.$ext.receipt.json"
  timed plain "ffmpeg $c" 1 -- ffmpeg -nostdin -v error -y -i "$master" -map 0:v:0 -an \
    $(plain_args "$c" "$W") "$work/plain_$c.$ext"
  printf 'plain\t%s\t%s\n' "$c" "$(stat -c %s "$work/plain_$c.$ext")" >>"$sizes"
  timed plain_marked "ffmpeg $c marked" 1 -- ffmpeg -nostdin -v error -y -i "$work/marked.mkv" \
    -map 0:v:0 -an $(plain_args "$c" "$W") "$work/plain_$c.$ext"
  printf 'plain_marked\t%s\t%s\n' "$c" "$(stat -c %s "$work/plain_$c.$ext")" >>"$sizes"
  rm -f "$work/plain_$c.$ext"
done
rm -f "$work/marked.mkv"
fi
if [[ $do4k == 1 && -f "$MEDIA/elephants_2160p24.mkv" ]]; then
  m4k="$MEDIA/elephants_2160p24.mkv"
  say "4K: wmembed and plain ffmpeg, FFV1"
  timed embed4k "wmembed --codec ffv1 (4K)" 1 -- "$BIN/wmembed" -k "$work/key.key" -i "$m4k" \
    -o "$work/deliv4k.mkv" --title-id 1 --recipient-id 2 --codec ffv1 --json --quiet --force
  rm -f "$work/deliv4k.mkv"
  timed plain4k "ffmpeg ffv1 (4K)" 1 -- ffmpeg -nostdin -v error -y -i "$m4k" -map 0:v:0 -an \
    $(plain_args ffv1 3840) "$work/plain4k.mkv"
  rm -f "$work/plain4k.mkv"
fi
if [[ $domem == 1 && -f "$MEDIA/long_1080p24.mkv" ]]; then
  say "peak memory, short and long masters (FFV1)"
  ff -i "$MEDIA/long_1080p24.mkv" -t 10 -map 0:v:0 -c copy "$work/long10.mkv"
  ff -i "$MEDIA/long_1080p24.mkv" -t 60 -map 0:v:0 -c copy "$work/long60.mkv"
  for m in long10 long60; do
    timed memory "wmembed --codec ffv1, 1080p, $m" 1 -- "$BIN/wmembed" -k "$work/key.key" \
      -i "$work/$m.mkv" -o "$work/mem.mkv" --title-id 1 --recipient-id 2 --codec ffv1 --quiet --force
    rm -f "$work/mem.mkv"
  done
  if [[ -f "$MEDIA/elephants_2160p24.mkv" ]]; then
    ff -stream_loop 3 -i "$MEDIA/elephants_2160p24.mkv" -map 0:v:0 -c copy "$work/4k12.mkv"
    timed memory "wmembed --codec ffv1, 4K, 3 s" 1 -- "$BIN/wmembed" -k "$work/key.key" \
      -i "$MEDIA/elephants_2160p24.mkv" -o "$work/mem.mkv" --title-id 1 --recipient-id 2 --codec ffv1 --quiet --force
    timed memory "wmembed --codec ffv1, 4K, 12 s (looped)" 1 -- "$BIN/wmembed" -k "$work/key.key" \
      -i "$work/4k12.mkv" -o "$work/mem.mkv" --title-id 1 --recipient-id 2 --codec ffv1 --quiet --force
    rm -f "$work/mem.mkv" "$work/4k12.mkv"
  fi
  rm -f "$work/long10.mkv" "$work/long60.mkv"
fi
deliv="$work/deliv_vp9.webm"
if [[ $embed_only == 1 ]]; then :; else
[[ -f "$deliv" ]] || { "$BIN/wmembed" -k "$work/key.key" -i "$master" -o "$deliv" --title-id 1 --recipient-id 2 --quiet --force; }

W23=$(( W * 2 / 3 / 2 * 2 )) H23=$(( H * 2 / 3 / 2 * 2 )) CW=$(( W * 8 / 10 / 2 * 2 )) CH=$(( H * 8 / 10 / 2 * 2 ))
say "making attacked copies"
ff -i "$deliv" -an -c:v libx264 -crf 23 -preset veryfast "$work/h264.mkv"
ff -i "$deliv" -an -vf "crop=$CW:$CH" -c:v libx264 -crf 23 -preset veryfast "$work/crop10.mkv"
ff -i "$deliv" -an -vf "scale=$W23:$H23" -c:v libx264 -crf 23 -preset veryfast "$work/scale23.mkv"
ff -i "$deliv" -an -vf "crop=$CW:$CH,scale=$W23:$H23" -c:v libx264 -crf 28 -preset veryfast "$work/cropscale.mkv"

det() { # kind label file [wmdetect options]
  local kind="$1" label="$2" f="$3"; shift 3
  timed "$kind" "$label" "$repeat" -- "$BIN/wmdetect" -k "$work/key.dkey" --json --quiet "$@" "$f"
  python3 -c 'import json,sys
try: d=json.load(open(sys.argv[1]))
except Exception: d={}
print("%s\t%s\t%s\t%s\t%s" % (sys.argv[2], d.get("found"), d.get("signature_valid"), d.get("frames_read"), d.get("hypotheses")))' \
    "$work/out.txt" "$label" >>"$work/detect.tsv"
}
dec() { timed decode "$1" "$repeat" -- ffmpeg -nostdin -v error -threads 1 -i "$2" -map 0:v:0 -f null -; }

dec "ffmpeg decode only (VP9 deliverable, 1 thread)" "$deliv"
timed decode "ffmpeg decode only (VP9 deliverable, default threads)" "$repeat" -- ffmpeg -nostdin \
  -v error -i "$deliv" -map 0:v:0 -f null -
det detect "wmdetect: VP9 deliverable, whole clip" "$deliv"
det detect "wmdetect: VP9 deliverable, first 2 s" "$deliv" --duration 2
det detect "wmdetect: H.264 CRF 23 copy" "$work/h264.mkv"
det detect "wmdetect: crop 10 % each side (${CW}x${CH})" "$work/crop10.mkv"
det detect "wmdetect: scale to ${W23}x${H23}" "$work/scale23.mkv"
det detect "wmdetect: crop 10 % + scale ${W23}x${H23} + CRF 28" "$work/cropscale.mkv"
# the ratio to the one-thread decode, from runs taken in turns (this
# machine's speed drifts from minute to minute: the fastest of a few runs
# of each, minutes apart, can compare a slow minute with a fast one)
say "wmdetect and the one-thread decode in turns, $repeat pairs"
: >"$work/pairs.tsv"
for ((i = 0; i < repeat; i++)); do
  /usr/bin/time -f '%e' -o "$work/t_dec.txt" ffmpeg -nostdin -v error -threads 1 -i "$deliv" \
    -map 0:v:0 -f null - >/dev/null 2>&1 || true
  /usr/bin/time -f '%e' -o "$work/t_det.txt" "$BIN/wmdetect" -k "$work/key.dkey" --json --quiet \
    "$deliv" >/dev/null 2>&1 || true
  printf '%s\t%s\n' "$(tail -n1 "$work/t_dec.txt")" "$(tail -n1 "$work/t_det.txt")" >>"$work/pairs.tsv"
done
fi
load1="$(cut -d' ' -f1-3 /proc/loadavg)"

base=speed; [[ $detect_only == 1 ]] && base=speed_detect; [[ $embed_only == 1 ]] && base=speed_embed
python3 - "$work" "$results" "$name" "$W" "$H" "$dur" "$commit" "$machine" "$rundate" "$load0" "$load1" "$repeat" "$base" <<'EOF'
import json, os, sys
work, results, name, W, H, dur, commit, machine, date, load0, load1, repeat, base = sys.argv[1:]
def tsv(p):
    try:
        return [l.rstrip("\n").split("\t") for l in open(os.path.join(work, p)) if l.strip()]
    except OSError:
        return []
rows = tsv("rows.tsv")
fps = {r[0]: (float(r[1]), int(r[2])) for r in tsv("embedfps.tsv")}
selfcheck = {r[0]: (float(r[3]), float(r[4])) for r in tsv("embedfps.tsv") if len(r) > 4 and r[3]}
det = {r[0]: r[1:] for r in tsv("detect.tsv")}
out = {"clip": name, "width": int(W), "height": int(H), "seconds": float(dur), "date": date,
       "commit": commit, "machine": machine, "load_average_before": load0,
       "load_average_after": load1, "repeat": int(repeat), "embed": [], "detect": []}
L = ["# filmmark speed", "",
     f"Generated by `bench/speed.sh{' --detect-only' if base == 'speed_detect' else ' --embed-only' if base == 'speed_embed' else ''}` "
     f"on {date}, commit `{commit}`.", "",
     f"* machine: {machine}; load average {load0} before, {load1} after "
     "(the figures are only as clean as the machine was idle)",
     f"* clip: {name}, {W}x{H}, {float(dur):.1f} s",
     f"* detection timings are the fastest of {repeat} runs; CPU = user + system seconds "
     "(above wall time when several threads work)", "",
     "## Embedding", "",
     "| codec | frames | fps (wmembed) | wall s | CPU s | peak MB | self-check s (of the wall; seconds of video read) |",
     "| --- | --- | --- | --- | --- | --- | --- |"]
for r in rows:
    if r[0] != "embed":
        continue
    label, wall, user, sysc, rss, rc = r[1], float(r[2]), float(r[3]), float(r[4]), int(r[5]), r[6]
    codec = label.split()[-1]
    f, n = fps.get(codec, (None, None))
    sc = selfcheck.get(codec)
    out["embed"].append({"codec": codec, "frames": n, "fps": f, "wall_s": wall,
                         "cpu_s": user + sysc, "peak_mb": rss / 1024, "exit": int(rc),
                         "self_check_wall_s": sc[0] if sc else None,
                         "self_check_video_s": sc[1] if sc else None})
    L.append(f"| {codec} | {n if n is not None else '—'} | {f'{f:.2f}' if f else 'failed'} | "
             f"{wall:.1f} | {user + sysc:.1f} | {rss / 1024:.0f} | "
             f"{f'{sc[0]:.1f} ({sc[1]:.0f} s)' if sc else '—'} |")
nv = {r[1].split()[2]: r for r in rows if r[0] == "embed_nv"}
if nv:
    L += ["", "## The self-check's cost (wmembed with and without --no-verify)", "",
          "| codec | wall s | wall s --no-verify | wall cost | CPU s | CPU s --no-verify "
          "| CPU cost | self-check s (wmembed --json) |",
          "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    out["self_check_cost"] = []
    for r in rows:
        if r[0] != "embed" or r[1].split()[-1] not in nv:
            continue
        codec = r[1].split()[-1]
        n = nv[codec]
        ew, ec = float(r[2]), float(r[3]) + float(r[4])
        nw, nc = float(n[2]), float(n[3]) + float(n[4])
        sc = selfcheck.get(codec)
        ok = r[6] == "0" and n[6] == "0"
        out["self_check_cost"].append({"codec": codec, "wall_s": ew, "wall_s_no_verify": nw,
                                       "cpu_s": ec, "cpu_s_no_verify": nc,
                                       "self_check_wall_s": sc[0] if sc else None,
                                       "exit": int(r[6]), "exit_no_verify": int(n[6])})
        cost = (f"| {(ew - nw) / nw * 100:+.0f} % | {ec:.1f} | {nc:.1f} | {(ec - nc) / nc * 100:+.0f} % "
                if ok and nw > 0 and nc > 0 else f"| — | {ec:.1f} | {nc:.1f} | — ")
        L.append(f"| {codec} | {ew:.1f} | {nw:.1f} {cost}| "
                 f"{f'{sc[0]:.1f} ({sc[1]:.0f} s read)' if sc else '—'} |"
                 + ("" if ok else f" exit {r[6]} / {n[6]}"))
plain = {r[1].split()[1]: r for r in rows if r[0] == "plain"}
embeds = {r[1].split()[-1]: r for r in rows if r[0] == "embed"}
side = []
for codec, e in embeds.items():
    p = plain.get(codec)
    if p:
        side.append((f"{codec} {W}x{H}", e, p))
e4 = [r for r in rows if r[0] == "embed4k"]
p4 = [r for r in rows if r[0] == "plain4k"]
if e4 and p4:
    side.append(("ffv1 3840x2160", e4[0], p4[0]))
if side:
    L += ["", "## wmembed against plain ffmpeg (same decode and encode, run right after)", "",
          "| codec | wmembed wall s | ffmpeg wall s | wall ratio | wmembed CPU s | ffmpeg CPU s "
          "| CPU ratio | wmembed peak MB | ffmpeg peak MB |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    out["side_by_side"] = []
    for label, e, p in side:
        ew, ec, pw, pc = float(e[2]), float(e[3]) + float(e[4]), float(p[2]), float(p[3]) + float(p[4])
        out["side_by_side"].append({"run": label, "wmembed_wall_s": ew, "ffmpeg_wall_s": pw,
                                    "wmembed_cpu_s": ec, "ffmpeg_cpu_s": pc,
                                    "wmembed_peak_mb": int(e[5]) / 1024, "ffmpeg_peak_mb": int(p[5]) / 1024})
        L.append(f"| {label} | {ew:.1f} | {pw:.1f} | {ew / pw:.2f} | {ec:.1f} | {pc:.1f} | "
                 f"{ec / pc:.2f} | {int(e[5]) / 1024:.0f} | {int(p[5]) / 1024:.0f} |")
pm = {r[1].split()[1]: r for r in rows if r[0] == "plain_marked"}
size = {(r[0], r[1]): int(r[2]) for r in tsv("sizes.tsv")}
dm = [float(r[3]) + float(r[4]) for r in rows if r[0] == "decode_master"]
dk = [float(r[3]) + float(r[4]) for r in rows if r[0] == "decode_marked"]
if pm and dm and dk:
    dm, dk = dm[0], dk[0]
    L += ["", "## The encoder's cost of the mark, and wmembed's own", "",
          "Plain ffmpeg encoding the master, and encoding the marked pictures (a lossless FFV1 "
          "copy wmembed made), same settings: the second works harder and writes more because "
          "the mark is detail to code. Its decode of the marked copy costs more than the "
          "master's (timed alone: "
          f"{dm:.1f} s CPU for the master, {dk:.1f} s for the marked copy), so the yardstick "
          "for wmembed is that run with the master's decode instead: ffmpeg on marked − "
          f"{dk - dm:.1f} s. wmembed --no-verify against it is wmembed's own overhead "
          "(decode, mark stage, pipeline); the encoder's cost compares the two ffmpeg runs "
          "without their decodes.", "",
          "| codec | ffmpeg CPU s | ffmpeg on marked CPU s | encoder's cost | yardstick CPU s "
          "| wmembed --no-verify CPU s | wmembed's own (CPU) "
          "| wall: ffmpeg / on marked / wmembed --no-verify | MB: ffmpeg / on marked / wmembed |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    out["mark_cost"] = {"decode_master_cpu_s": dm, "decode_marked_cpu_s": dk, "runs": []}
    for codec, m in pm.items():
        p0, n = plain.get(codec), nv.get(codec)
        if not p0 or not n:
            continue
        pc, mc, nc = (float(x[3]) + float(x[4]) for x in (p0, m, n))
        pw, mw, nw = float(p0[2]), float(m[2]), float(n[2])
        yard = mc - (dk - dm)
        sp, sm, sw = (size.get((k, codec)) for k in ("plain", "plain_marked", "wmembed"))
        mb = lambda b: f"{b / 1e6:.1f}" if b else "—"
        out["mark_cost"]["runs"].append({
            "codec": codec, "ffmpeg_cpu_s": pc, "ffmpeg_marked_cpu_s": mc, "yardstick_cpu_s": yard,
            "wmembed_no_verify_cpu_s": nc, "ffmpeg_wall_s": pw, "ffmpeg_marked_wall_s": mw,
            "wmembed_no_verify_wall_s": nw, "ffmpeg_bytes": sp, "ffmpeg_marked_bytes": sm,
            "wmembed_bytes": sw})
        L.append(f"| {codec} | {pc:.1f} | {mc:.1f} | {(mc - dk) / (pc - dm):.2f} | {yard:.1f} | "
                 f"{nc:.1f} | {nc / yard:.2f} | {pw:.1f} / {mw:.1f} / {nw:.1f} | "
                 f"{mb(sp)} / {mb(sm)} / {mb(sw)} |")
mem = [r for r in rows if r[0] == "memory"]
if mem:
    L += ["", "## Peak memory against the master's length (wmembed --codec ffv1)", "",
          "| run | wall s | CPU s | peak MB |", "| --- | --- | --- | --- |"]
    out["memory"] = []
    for r in mem:
        out["memory"].append({"run": r[1], "wall_s": float(r[2]),
                              "cpu_s": float(r[3]) + float(r[4]), "peak_mb": int(r[5]) / 1024})
        L.append(f"| {r[1]} | {float(r[2]):.1f} | {float(r[3]) + float(r[4]):.1f} | {int(r[5]) / 1024:.0f} |")
if any(r[0] in ("detect", "decode") for r in rows):
    L += ["", "## Detection", "",
          "| run | found / valid | frames | hypotheses | wall s | CPU s | peak MB |",
          "| --- | --- | --- | --- | --- | --- | --- |"]
for r in rows:
    if r[0] not in ("detect", "decode"):
        continue
    label, wall, user, sysc, rss, rc = r[1], float(r[2]), float(r[3]), float(r[4]), int(r[5]), r[6]
    d = det.get(label)
    fv = "—" if not d else f"{d[0].lower()} / {d[1].lower()}"
    fr = "—" if not d or d[2] == "None" else d[2]
    hy = "—" if not d or d[3] == "None" else d[3]
    if r[0] == "detect" and rc not in ("0", "1", "3"):
        fv = f"error (exit {rc})"
    out["detect"].append({"run": label, "found": d[0] if d else None, "valid": d[1] if d else None,
                          "frames": None if fr == "—" else int(fr),
                          "hypotheses": None if hy == "—" else int(hy),
                          "wall_s": wall, "cpu_s": user + sysc, "peak_mb": rss / 1024, "exit": int(rc)})
    L.append(f"| {label} | {fv} | {fr} | {hy} | {wall:.1f} | {user + sysc:.1f} | {rss / 1024:.0f} |")
pairs = [(float(a), float(b)) for a, b in tsv("pairs.tsv") if float(a) > 0]
if pairs:
    ratios = sorted(b / a for a, b in pairs)
    mid = len(ratios) // 2
    med = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
    out["detect_to_decode_pairs"] = [{"decode_s": a, "wmdetect_s": b} for a, b in pairs]
    out["detect_to_decode_median_ratio"] = med
    L += ["", f"wmdetect (VP9 deliverable, whole clip) against ffmpeg's one-thread decode of it, "
          f"run in turns ({len(pairs)} pairs): median ratio **{med:.2f}** (pairs "
          + ", ".join(f"{b:.2f} / {a:.2f} s" for a, b in pairs) + ")."]
L.append("")
md, js = os.path.join(results, base + ".md"), os.path.join(results, base + ".json")
with open(md + ".tmp", "w") as f:
    f.write("\n".join(L))
os.replace(md + ".tmp", md)
with open(js + ".tmp", "w") as f:
    json.dump(out, f, indent=1)
os.replace(js + ".tmp", js)
print("\n".join(L))
EOF
say "wrote $results/$base.md"
