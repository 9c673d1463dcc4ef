#!/usr/bin/env bash
# Aspect-ratio benchmark (issue 8, geometry): non-uniform scaling, alone and
# with a crop, found blindly by the geometry search.
#
#   bench/aspect.sh [--before DIR] [--work DIR] [--results FILE] [--only RE]
#                   [--report-only]
#
# From the media cache (../shared/media/get.sh) it makes three 10-s masters:
#   4:3     vtest_768x576 (static street camera)
#   16:9    storm_720p25
#   2.39:1  dune_1080p24 cropped to 1920x804 (no letterbox)
# marks each with wmembed (lossless FFV1 deliverable, a fresh key), then
# makes H.264 CRF 23 yuv420p copies: the 4:3 master squeezed to 16:9
# (640x360, 1280x720), the 16:9 master stretched to 4:3 (640x480, 960x720),
# the 2.39:1 master squeezed to 16:9 (640x360, 1280x720), each also after a
# centre crop of 5 % on each side; and controls: each master re-encoded at
# its own size, cropped 5 % each side, and uniformly scaled (16:9 and
# 2.39:1 to a third of the height; 4:3 to 480x360).
# Every copy is read blind (`wmdetect --json --no-registry -k KEY`, no
# receipt) by the tools in build/ ("after") and, with --before, by those in
# DIR ("before", e.g. main built at the commit this work started from), and
# one row per copy goes to FILE (default bench/results/aspect.md): pilot z,
# found, verified, raw bit errors, scale_x/scale_y reported and the
# detection's wall time (on a shared machine: a rough figure). --only RE
# runs the cases whose name matches RE; --report-only rewrites FILE from
# the last run's results in the work directory.
#
# Public tools only: wmkeygen, wmembed, wmdetect, ffmpeg, python3.
# Environment: FILMMARK_BIN (default build/), FILMMARK_MEDIA (default
# ~/.cache/filmmark-media).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
MEDIA="${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}"
before="" work="$root/bench/work/aspect" results="$root/bench/results/aspect.md" only=""
report_only=0
die() { echo "aspect.sh: $*" >&2; exit 2; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --before) before="$2"; shift ;;
    --work) work="$2"; shift ;;
    --results) results="$2"; shift ;;
    --only) only="$2"; shift ;;
    --report-only) report_only=1 ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
for t in wmkeygen wmembed wmdetect; do [[ -x "$BIN/$t" ]] || die "no $BIN/$t (build first)"; done
[[ -z "$before" || -x "$before/wmdetect" ]] || die "no $before/wmdetect"
command -v ffmpeg >/dev/null || die "ffmpeg not found"
mkdir -p "$work"
export FILMMARK_REGISTRY="$work/registry.sqlite"

key="$work/key"
[[ -f "$key.key" ]] || "$BIN/wmkeygen" -o "$key" --no-passphrase -q

# name  source  filter making the master
masters=(
  "m43|vtest_768x576.mkv|null"
  "m169|storm_720p25.mkv|null"
  "m239|dune_1080p24.mkv|crop=1920:804"
)
for m in "${masters[@]}"; do
  [[ $report_only -eq 0 ]] || break
  IFS='|' read -r name src vf <<<"$m"
  [[ -f "$MEDIA/$src" ]] || die "no $MEDIA/$src (run ../shared/media/get.sh)"
  if [[ ! -f "$work/$name.mark.mkv" ]]; then
    say "master $name from $src"
    ffmpeg -nostdin -v error -y -i "$MEDIA/$src" -t 10 -vf "$vf" -an -c:v ffv1 "$work/$name.mkv"
    nice "$BIN/wmembed" -k "$key.key" -i "$work/$name.mkv" -o "$work/$name.mark.mkv" \
      --codec ffv1 --title-id 8 --recipient-id 1 -q >/dev/null
  fi
done

crop="crop=trunc(iw*0.9/2)*2:trunc(ih*0.9/2)*2"
# case  master  filter  what
cases=(
  "43_own|m43|null|4:3 768x576, re-encoded (control)"
  "43_crop|m43|$crop|4:3, crop 5 % each side (control)"
  "43_uni480x360|m43|scale=480:360|4:3, uniform 480x360 (control)"
  "43_to_640x360|m43|scale=640:360|4:3 squeezed to 640x360"
  "43_to_1280x720|m43|scale=1280:720|4:3 squeezed to 1280x720"
  "43_crop_to_640x360|m43|$crop,scale=640:360|4:3, crop 5 %, squeezed to 640x360"
  "43_crop_to_1280x720|m43|$crop,scale=1280:720|4:3, crop 5 %, squeezed to 1280x720"
  "169_own|m169|null|16:9 1280x720, re-encoded (control)"
  "169_crop|m169|$crop|16:9, crop 5 % each side (control)"
  "169_uni640x360|m169|scale=640:360|16:9, uniform 640x360 (control)"
  "169_to_640x480|m169|scale=640:480|16:9 stretched to 640x480"
  "169_to_960x720|m169|scale=960:720|16:9 stretched to 960x720"
  "169_crop_to_640x480|m169|$crop,scale=640:480|16:9, crop 5 %, stretched to 640x480"
  "169_crop_to_960x720|m169|$crop,scale=960:720|16:9, crop 5 %, stretched to 960x720"
  "239_own|m239|null|2.39:1 1920x804, re-encoded (control)"
  "239_uni640x268|m239|scale=640:268|2.39:1, uniform 640x268 (control)"
  "239_to_640x360|m239|scale=640:360|2.39:1 squeezed to 640x360"
  "239_to_1280x720|m239|scale=1280:720|2.39:1 squeezed to 1280x720"
  "239_crop_to_640x360|m239|$crop,scale=640:360|2.39:1, crop 5 %, squeezed to 640x360"
  "239_crop_to_1280x720|m239|$crop,scale=1280:720|2.39:1, crop 5 %, squeezed to 1280x720"
)

# detect BIN CLIP OUT.json: one JSON object with the elapsed seconds added
detect() {
  local t0 t1
  t0=$(date +%s.%N)
  nice "$1/wmdetect" -k "$key.dkey" --no-registry --json -q "$2" >"$3.tmp" 2>"$3.err" || true
  t1=$(date +%s.%N)
  python3 - "$3.tmp" "$3" "$t0" "$t1" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    d = {"error": str(e)}
d["elapsed_s"] = float(sys.argv[4]) - float(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
EOF
  rm -f "$3.tmp"
}

for c in "${cases[@]}"; do
  IFS='|' read -r name master vf what <<<"$c"
  [[ $report_only -eq 0 ]] || break
  [[ -z "$only" || "$name" =~ $only ]] || continue
  clip="$work/$name.mp4"
  if [[ ! -f "$clip" ]]; then
    say "copy $name"
    ffmpeg -nostdin -v error -y -i "$work/$master.mark.mkv" -vf "$vf,setsar=1" -an \
      -c:v libx264 -preset medium -crf 23 -pix_fmt yuv420p "$clip"
  fi
  # the "before" binary does not change between runs: its rows are kept
  if [[ -n "$before" && ! -f "$work/$name.before.json" ]]; then say "before $name"; detect "$before" "$clip" "$work/$name.before.json"; fi
  say "after $name"
  detect "$BIN" "$clip" "$work/$name.after.json"
done

# the library's last commit: what the detector's results depend on
commit="$(git -C "$root" log -1 --format=%h -- common detect 2>/dev/null || echo unknown)"
dirty="$(git -C "$root" status --porcelain --untracked-files=no -- common detect 2>/dev/null | grep -q . && echo ' (with uncommitted changes)' || true)"
bcommit=""
[[ -n "$before" ]] && bcommit="$(cat "$before/COMMIT" 2>/dev/null || echo "$before")"
mkdir -p "$(dirname "$results")"
python3 - "$work" "$results" "$commit$dirty" "$bcommit" "${cases[@]}" <<'EOF'
import json, os, sys
work, out, commit, bcommit = sys.argv[1:5]
rows = [c.split("|") for c in sys.argv[5:]]
def cell(path):
    if not os.path.exists(path):
        return None
    d = json.load(open(path))
    if "error" in d or "pilot_z" not in d:
        return "error", "", "", "", "", "%.1f" % d.get("elapsed_s", 0)
    g = d.get("geometry") or {}
    ber = d.get("raw_bit_error_rate")
    return ("%.1f" % d["pilot_z"], "yes" if d.get("found") else "no",
            "yes" if d.get("signature_valid") else "no",
            "—" if ber is None else "%.1f %%" % (100 * ber),
            "%.3f / %.3f" % (g.get("scale_x", 0), g.get("scale_y", 0)),
            "%.1f" % d["elapsed_s"])
with open(out, "w") as f:
    f.write("# Aspect-ratio copies (bench/aspect.sh)\n\n")
    f.write("Blind detection (`wmdetect --json --no-registry -k KEY`, no receipt) of H.264 CRF 23\n"
            "yuv420p copies of 10-s masters marked at default strength. After: common/ and detect/ at commit %s.\n" % commit)
    if bcommit:
        f.write("Before: %s.\n" % bcommit)
    f.write("Each cell: pilot z, found, verified, raw bit errors, scale_x / scale_y reported,\n"
            "detection wall time (a shared 2-core machine: rough).\n\n")
    f.write("| case | copy | before | after |\n| --- | --- | --- | --- |\n")
    for name, master, vf, what in rows:
        b = cell(os.path.join(work, name + ".before.json"))
        a = cell(os.path.join(work, name + ".after.json"))
        fmt = lambda c: "—" if c is None else "z %s, found %s, verified %s, BER %s, scale %s, %s s" % c
        f.write("| %s | %s | %s | %s |\n" % (name, what, fmt(b), fmt(a)))
print(open(out).read())
EOF
