#!/usr/bin/env bash
# Other host estimates than the detector's 5x5 local mean (issue 8), measured
# on the hard copies of bench/frontend.sh.
#
#   bench/whiten_variants.sh --frontend WORK [--variants "0 8 1 2 3 ..."]
#
# Builds frontend_ber from a copy of the committed tree with
# bench/whiten_variants.patch applied (the variants are described at the top
# of the patch: median instead of mean, other box radii, robust contrast, a
# ring predictor, mask-based weights; FM_EXP_WHITEN picks one, 0 is the
# shipped kernel), then reads every copy in WORK/CLIP/*.mkv of a
# `bench/frontend.sh` run with each variant, blind, one read, and prints a
# line per copy (variant clip copy raw_ber pilot_z verified; appended to
# OUT/variants.tsv) and per variant the paired comparison with variant 0 on
# the same copies (mean raw BER, copies better / worse by more than 0.2
# points, verified). Only the detector's nominal grid changes; the marks are
# those of the run (made with the shipped informed embedder, which whitens
# its view with the 5x5 box: a variant is read against marks informed for
# the shipped rule). To mark for another radius, run bench/frontend.sh with
# FILMMARK_BIN=OUT/build and FM_EXP_INFORMED_R=R (the patched wmembed).
#
# Environment: OUT (default bench/work/whiten_variants), JOBS (parallel
# reads, default 2). Needs cmake, a C compiler, ffmpeg, python3, patch.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
OUT="${OUT:-$root/bench/work/whiten_variants}"
JOBS="${JOBS:-2}"
work="" variants="0 8 1 2 3 13 14 4 6 7 9 10"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --frontend) work="$2"; shift ;;
    --variants) variants="$2"; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "whiten_variants.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[[ -n $work && -d $work ]] || { echo "whiten_variants.sh: --frontend WORK (a bench/frontend.sh run) is required" >&2; exit 2; }
mkdir -p "$OUT"
src="$OUT/src" bld="$OUT/build"
if [[ ! -x $bld/frontend_ber ]]; then
  rm -rf "$src"; mkdir -p "$src"
  git -C "$root" archive HEAD | tar -x -C "$src"
  patch -s -p1 -d "$src" <"$here/whiten_variants.patch"
  cmake -S "$src" -B "$bld" -DCMAKE_BUILD_TYPE=Release >/dev/null
  make -C "$bld" -j2 frontend_ber >/dev/null
fi

read_one() {  # variant clip copy-file
  local v="$1" c="$2" f="$3" d="$work/$2" w h fps fr j
  IFS=, read -r w h fps < <(ffprobe -v error -select_streams v:0 \
      -show_entries stream=width,height,r_frame_rate -of csv=p=0 "$f")
  fr=$(python3 -c "from fractions import Fraction as F; print(float(F('$fps')))")
  j=$(ffmpeg -nostdin -loglevel error -i "$f" -map 0:v:0 -f rawvideo -pix_fmt yuv420p - |
      FM_EXP_WHITEN="$v" nice "$bld/frontend_ber" "$d/key.dkey" "$d/deliv.webm.receipt.json" \
        "$w" "$h" "$fr" --threads 1)
  python3 -c 'import json, sys
j = json.loads(sys.argv[4])
print("\t".join(sys.argv[1:4] + ["%.4f" % j["raw_ber"], "%.3f" % j["pilot_z"],
                                  str(j["verified"]).lower()]))' "$v" "$c" "$(basename "$f" .mkv)" "$j"
}

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0
for v in $variants; do
  for d in "$work"/*/; do
    c=$(basename "$d")
    [[ -s $d/key.dkey && -s $d/deliv.webm.receipt.json ]] || continue
    for f in "$d"*.mkv; do
      [[ $(basename "$f") == master.mkv ]] && continue
      while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || true; done
      read_one "$v" "$c" "$f" >"$tmp/$(printf %05d $n)" &
      n=$((n + 1))
    done
  done
done
wait
cat "$tmp"/[0-9]* | tee -a "$OUT/variants.tsv" >"$tmp/all.tsv"
python3 - "$tmp/all.tsv" <<'PY'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines() if l]
by = {}
for v, c, cp, ber, z, ok in rows:
    by.setdefault(v, {})[(c, cp)] = (float(ber), ok == "true")
base = by.get("0")
if base is None:
    sys.exit("no variant 0 to compare with")
print("| variant | copies | mean raw BER, 0 -> variant | better / worse (> 0.2 pt) | verified, 0 -> variant |")
print("| --- | --- | --- | --- | --- |")
for v, d in by.items():
    ks = [k for k in d if k in base]
    if not ks:
        continue
    mb = sum(base[k][0] for k in ks) / len(ks)
    mv = sum(d[k][0] for k in ks) / len(ks)
    bt = sum(d[k][0] < base[k][0] - 0.002 for k in ks)
    wr = sum(d[k][0] > base[k][0] + 0.002 for k in ks)
    print("| %s | %d | %.2f %% -> %.2f %% | %d / %d | %d -> %d |" % (
        v, len(ks), 100 * mb, 100 * mv, bt, wr, sum(base[k][1] for k in ks),
        sum(d[k][1] for k in ks)))
PY
