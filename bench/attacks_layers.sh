#!/usr/bin/env bash
# DIAGNOSTIC after bench/attacks.sh (uses the key; not an attack): which layer
# of the mark (sync, pilot, coded data, content tag) the removal attacks hit,
# and whether subtracting an estimate at about the mark's own energy breaks
# the read because it removes the mark or because it jams it.
#
#   bench/attacks_layers.sh [--work DIR] [--start S] [--psnr LIST] [--out FILE]
#
# Reuses the marked copy, the master cut, the key and the estimates that
# bench/attacks.sh left in --work (default bench/work/attacks-quick). For the
# 10-s excerpt at --start (default 1) it writes, with subtract.py, the removal
# attacks 'all' (a) and 'epoch' (b) at each --psnr (default 45,40), and the
# same with the estimates misaligned by half a tile (misalign.py: the same
# energy, spectrum and per-epoch changes, aligned with nothing of the mark);
# runs `wmdetect --json` blind on each (detect.py) and splits each attack's
# effect by layer (layers.py, with the slot roles slot_roles.c prints from
# the key). Writes JSON lines to --out (default WORK/layers.jsonl) and prints
# a table. slot_roles.c is compiled with cc against FILMMARK_BIN's
# libfilmmark.a.
#
# Environment: FILMMARK_BIN (default build/), FILMMARK_PYTHON (as attacks.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
A="$here/attacks"
work="$root/bench/work/attacks-quick" start=1 psnr="45,40" out=""
die() { echo "attacks_layers.sh: $*" >&2; exit 2; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --work) work="$2"; shift ;;
    --start) start="$2"; shift ;;
    --psnr) psnr="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
[[ "$start" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--start wants a number"
for f in marked.mkv master.mkv key.dkey estimates.npz; do
  [[ -s "$work/$f" ]] || die "$work/$f missing: run bench/attacks.sh first (its --work)"
done
[[ -s "$BIN/libfilmmark.a" && -x "$BIN/wmdetect" ]] || die "no libfilmmark.a / wmdetect in $BIN (set FILMMARK_BIN)"
PY="${FILMMARK_PYTHON:-}"
if [[ -z "$PY" ]]; then
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import numpy' 2>/dev/null; then PY="$p"; break; fi
  done
fi
[[ -n "$PY" ]] || die "no python3 with numpy (set FILMMARK_PYTHON)"
export PYTHONDONTWRITEBYTECODE=1
out="${out:-$work/layers.jsonl}"
d="$work/layers"
mkdir -p "$d"

say "compiling slot_roles.c"
# shellcheck disable=SC2046
cc -O2 -std=c11 -I"$root/common" -I"$root/include" "$A/slot_roles.c" "$BIN/libfilmmark.a" \
  $(pkg-config --libs libavformat libavcodec libavutil libswscale libswresample libsodium jansson \
    fftw3f sqlite3 libpq) -lcsv -lpthread -lm -o "$d/slot_roles"
e0=$(awk -v s="$start" 'BEGIN { printf "%d", int(s / 2) }')
e1=$(awk -v s="$start" 'BEGIN { printf "%d", int((s + 10) / 2) }')
"$d/slot_roles" "$work/key.dkey" "$e0" "$e1" > "$d/roles.txt"

say "misaligned estimates (misalign.py)"
"$PY" "$A/misalign.py" -i "$work/estimates.npz" -o "$d/misaligned.npz"

say "removal all, epoch at $psnr on the excerpt at $start s; the same misaligned"
ex="$start:10"
: > "$d/detect.jsonl"
"$PY" "$A/subtract.py" -i "$work/marked.mkv" --estimates "$work/estimates.npz" --which all,epoch \
  --psnr "$psnr" -o "$d/remove" --excerpts "$ex" --codec raw --name remove |
  "$PY" "$A/detect.py" --bin "$BIN" --key "$work/key.dkey" --keep >> "$d/detect.jsonl"
"$PY" "$A/subtract.py" -i "$work/marked.mkv" --estimates "$d/misaligned.npz" --which all,epoch \
  --psnr "$psnr" -o "$d/misaligned" --excerpts "$ex" --codec raw --name misaligned |
  "$PY" "$A/detect.py" --bin "$BIN" --key "$work/key.dkey" --keep >> "$d/detect.jsonl"

say "per-layer split (layers.py)"
labels=()
while read -r f name; do
  labels+=(--label "$name" "$f")
done < <("$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(r["file"], "%s-%s" % (r["attack"], r["strength"]))' "$d/detect.jsonl")
"$PY" "$A/layers.py" --master "$work/master.mkv" --marked "$work/marked.mkv" --start "$start" \
  --roles "$d/roles.txt" "${labels[@]}" > "$d/layers.jsonl"

"$PY" - "$d/detect.jsonl" "$d/layers.jsonl" "$out" <<'EOF'
import json, sys
det = {"%s-%s" % (r["attack"], r["strength"]): r for r in map(json.loads, open(sys.argv[1]))}
with open(sys.argv[3], "w") as o:
    print("| attack | PSNR dB | exit | pilot z | raw BER | " + " | ".join(
        "%s kept / jam / slot err" % l for l in ("sync", "pilot", "data", "tag")) + " |")
    print("| --- " * 9 + "|")
    for l in map(json.loads, open(sys.argv[2])):
        r = det.get(l["attack"], {})
        l["detect"] = {k: r.get(k) for k in ("psnr", "exit", "signature_valid", "pilot_z",
                                            "raw_bit_error_rate", "binding_verdict")}
        o.write(json.dumps(l) + "\n")
        ber = r.get("raw_bit_error_rate")
        print("| %s | %s | %s | %s | %s | %s |" % (
            l["attack"], r.get("psnr", "–"), r.get("exit", "–"),
            "%.1f" % r["pilot_z"] if r.get("pilot_z") is not None else "–",
            "%.1f %%" % (100 * ber) if ber is not None else "–",
            " | ".join("%.2f / %.2f / %.1f %%" % (l[x]["kept"], l[x]["jam"], 100 * l[x]["slot_err"])
                       for x in ("sync", "pilot", "data", "tag"))))
EOF
rm -f "$d"/remove.*.mkv "$d"/misaligned.*.mkv
say "done: $out"
