#!/usr/bin/env bash
# Speed of wmembed and wmdetect on a 10-second 1080p clip.
#
#   bench/speed.sh [--codecs vp9,h264,ffv1] [--repeat N] [--results DIR] [CLIP]
#
# CLIP defaults to dune_1080p24.mkv from the media cache
# (../shared/media/get.sh); longer clips are trimmed losslessly to 10 s.
# Measures:
#   * wmembed to each codec (default vp9, h264, ffv1): frames per second as
#     wmembed reports it, wall-clock and CPU seconds;
#   * wmdetect on the untouched VP9 deliverable, on a 2-s excerpt of it, and
#     on a few attacked copies (H.264 CRF 23; crop 10 % each side and scale to
#     2/3, which need the geometry search): wall-clock and CPU seconds, peak
#     memory; plus the time ffmpeg alone takes to decode the same file.
# Each detection is run --repeat times (default 2) and the fastest kept; the
# machine is described in the output since other load skews the figures.
# Writes bench/results/speed.md and speed.json.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
MEDIA="${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}"
die() { echo "speed.sh: $*" >&2; exit 2; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

codecs="vp9,h264,ffv1" repeat=2 results="$root/bench/results" clip=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --codecs) codecs="$2"; shift ;;
    --repeat) repeat="$2"; shift ;;
    --results) results="$2"; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $1" ;;
    *) clip="$1" ;;
  esac
  shift
done
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || die "--repeat wants a positive integer"
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

"$BIN/wmkeygen" -o "$work/key" --no-passphrase >/dev/null
frames=""
for c in ${codecs//,/ }; do
  case "$c" in vp9) ext=webm ;; h264) ext=mp4 ;; ffv1) ext=mkv ;; *) die "unknown codec $c" ;; esac
  say "embedding $name (${W}x${H}, $dur s) to $c"
  timed embed "wmembed --codec $c" 1 -- "$BIN/wmembed" -k "$work/key.key" -i "$master" -o "$work/deliv_$c.$ext" \
    --title-id 1 --recipient-id 2 --codec "$c" --json --quiet --force
  cp "$work/out.txt" "$work/embed_$c.json"
  python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); sc=e.get("self_check") or {}; print("%s\t%s\t%s\t%s\t%s" % (sys.argv[2], e["fps"], e["frames"], sc.get("wall_seconds", ""), sc.get("seconds_read", "")))' \
    "$work/embed_$c.json" "$c" >>"$work/embedfps.tsv" || true
  [[ $c == vp9 ]] || rm -f "$work/deliv_$c.$ext"
done
deliv="$work/deliv_vp9.webm"
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
det detect "wmdetect: VP9 deliverable, whole clip" "$deliv"
det detect "wmdetect: VP9 deliverable, first 2 s" "$deliv" --duration 2
det detect "wmdetect: H.264 CRF 23 copy" "$work/h264.mkv"
det detect "wmdetect: crop 10 % each side (${CW}x${CH})" "$work/crop10.mkv"
det detect "wmdetect: scale to ${W23}x${H23}" "$work/scale23.mkv"
det detect "wmdetect: crop 10 % + scale ${W23}x${H23} + CRF 28" "$work/cropscale.mkv"
load1="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$work" "$results" "$name" "$W" "$H" "$dur" "$commit" "$machine" "$rundate" "$load0" "$load1" "$repeat" <<'EOF'
import json, os, sys
work, results, name, W, H, dur, commit, machine, date, load0, load1, repeat = sys.argv[1:]
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
     f"Generated by `bench/speed.sh` on {date}, commit `{commit}`.", "",
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
L.append("")
with open(os.path.join(results, "speed.md.tmp"), "w") as f:
    f.write("\n".join(L))
os.replace(os.path.join(results, "speed.md.tmp"), os.path.join(results, "speed.md"))
with open(os.path.join(results, "speed.json.tmp"), "w") as f:
    json.dump(out, f, indent=1)
os.replace(os.path.join(results, "speed.json.tmp"), os.path.join(results, "speed.json"))
print("\n".join(L))
EOF
say "wrote $results/speed.md"
