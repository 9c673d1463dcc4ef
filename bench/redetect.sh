#!/usr/bin/env bash
# Reads the attacked copies a robustness run kept again with another build
# of wmdetect, so that two detectors are compared on the very same files.
#
#   FILMMARK_BIN=DIR bench/redetect.sh [--label L] [--out FILE] WORK [CLIP...]
#
# WORK is the --work directory of `bench/robustness.sh --keep`: for every
# clip directory in it (or the CLIPs named), every attacked copy in a/ is
# read with `wmdetect --json --receipt` (the clip's own key and receipt,
# as the benchmark does) and one TSV line is written per copy:
#   label clip attack exit status pilot_z raw_ber false_alarm_log10
#   scale_x scale_y rotation_deg perspective
# to FILE (default: standard output). bench/redetect_compare.py puts two
# such files side by side.
#
# Environment: FILMMARK_BIN (default build/). Needs python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="${FILMMARK_BIN:-$(dirname "$here")/build}"
label=run out=/dev/stdout
while [[ $# -gt 0 ]]; do
  case "$1" in
    --label) label="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "redetect.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -ge 1 ]] || { echo "redetect.sh: give the robustness run's --work directory" >&2; exit 2; }
work="$1"; shift
[[ -x "$BIN/wmdetect" ]] || { echo "redetect.sh: $BIN/wmdetect missing" >&2; exit 2; }
clips=("$@")
if [[ ${#clips[@]} -eq 0 ]]; then
  for d in "$work"/*/; do [[ -d "$d/a" ]] && clips+=("$(basename "$d")"); done
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export FILMMARK_REGISTRY="$tmp/registry.sqlite"
: > "$tmp/rows.tsv"
for c in "${clips[@]}"; do
  d="$work/$c"
  [[ -f "$d/key.dkey" && -f "$d/deliv.webm.receipt.json" ]] || { echo "redetect.sh: $d: no key or receipt" >&2; exit 2; }
  for f in "$d"/a/*.mkv "$d"/a/*.mp4 "$d"/a/*.webm; do
    [[ -f "$f" ]] || continue
    a=$(basename "${f%.*}")
    rc=0
    "$BIN/wmdetect" -k "$d/key.dkey" --json --quiet --receipt "$d/deliv.webm.receipt.json" "$f" \
      > "$tmp/out.json" 2>/dev/null || rc=$?
    python3 - "$label" "$c" "$a" "$rc" "$tmp/out.json" >> "$tmp/rows.tsv" <<'PY'
import json, sys
label, clip, attack, rc, path = sys.argv[1:6]
try:
    r = json.load(open(path))
except (OSError, ValueError):
    r = {}
g = r.get("geometry") or {}
def num(v, nd):
    return "" if v is None else str(round(v, nd))
print("\t".join([label, clip, attack, rc, str(r.get("status", "error")),
                 num(r.get("pilot_z"), 2), num(r.get("raw_bit_error_rate"), 4),
                 num(r.get("false_alarm_log10"), 1), num(g.get("scale_x"), 3),
                 num(g.get("scale_y"), 3), num(g.get("rotation_deg"), 2),
                 str(bool(g.get("perspective")))]))
PY
  done
done
cat "$tmp/rows.tsv" > "$out"
