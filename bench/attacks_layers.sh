#!/usr/bin/env bash
# DIAGNOSTIC after bench/attacks.sh (uses the key; not an attack): which layer
# of the mark (sync, pilot, coded data, content tag) the removal attacks hit,
# and whether subtracting an estimate at about the mark's own energy breaks
# the read because it removes the mark or because it jams it.
#
#   bench/attacks_layers.sh [--work DIR] [--start S] [--psnr LIST] [--md FILE]
#                           [--report-only]
#
# Reuses the marked copy, the master cut, the key and the estimates that
# bench/attacks.sh left in --work (default bench/work/attacks-quick). For the
# 10-s excerpt at --start (default 1) it writes, with subtract.py, the removal
# attacks 'all' (a) and 'epoch' (b) at each --psnr (default auto,45; 'auto' =
# the attacker's own calibration of exact removal, as in attacks.sh), and the
# same with the estimates misaligned by half a tile (misalign.py: the same
# energy, spectrum and per-epoch changes, aligned with nothing of the mark);
# runs `wmdetect --json` blind on each (detect.py) and splits each attack's
# effect by layer (layers.py, with the slot roles slot_roles.c prints from
# the key). Writes the table to --md (default bench/results/attacks_layers.md,
# with the command, date and commit; JSON lines beside it, .jsonl) and prints
# it. slot_roles.c is compiled with cc against FILMMARK_BIN's libfilmmark.a.
# --report-only: only the table, from the data the last full run left in
# WORK/layers (the table says so).
#
# Environment: FILMMARK_BIN (default build/), FILMMARK_PYTHON (as attacks.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
A="$here/attacks"
work="$root/bench/work/attacks-quick" start=1 psnr="auto,45" md="$root/bench/results/attacks_layers.md" only=0
die() { echo "attacks_layers.sh: $*" >&2; exit 2; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
args=("$@")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --work) work="$2"; shift ;;
    --start) start="$2"; shift ;;
    --psnr) psnr="$2"; shift ;;
    --md) md="$2"; shift ;;
    --report-only) only=1 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
cmdline="bench/attacks_layers.sh${args[*]:+ ${args[*]}}"
[[ -n "${FILMMARK_BIN:-}" ]] && cmdline="FILMMARK_BIN=$FILMMARK_BIN $cmdline"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]] && commit+=" + local changes"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$(dirname "$md")"
d="$work/layers"
mkdir -p "$d"

if [[ $only == 0 ]]; then
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

else
  [[ -s "$d/layers.jsonl" && -s "$d/detect.jsonl" ]] || die "no earlier run in $d"
  load0="(tabulated with --report-only from the data of the run in $d, made $(date -u -r "$d/layers.jsonl" +"%Y-%m-%d %H:%M UTC"))"
fi
"$PY" - "$d/detect.jsonl" "$d/layers.jsonl" "${md%.md}.jsonl" "$md" "$cmdline" "$commit" \
  "${work#"$root"/}" "$start" "$load0 -> $(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF'
import json, os, sys, time
dj, lj, oj, md, cmd, commit, work, start, load = sys.argv[1:10]
det = {"%s-%s" % (r["attack"], r["strength"]): r for r in map(json.loads, open(dj))}
rows = []
for l in map(json.loads, open(lj)):
    r = det.get(l["attack"], {})
    l["detect"] = {k: r.get(k) for k in ("psnr", "exit", "status", "signature_valid", "pilot_z",
                                        "raw_bit_error_rate", "binding_verdict", "alpha")}
    rows.append(l)
with open(oj, "w") as o:
    for l in rows:
        o.write(json.dumps(l) + "\n")
L = ["# Which layer the removal attacks hit (diagnostic, with the key)\n",
     "Made by `%s` on %s at commit `%s`, from the marked copy, master and estimates that "
     "`bench/attacks.sh` left in `%s`; the 10-s excerpt at %s s. Load average %s "
     "(2 shared cores). How: `bench/attacks_layers.sh --help`, `bench/attacks/layers.py`, "
     "`bench/attacks/misalign.py`. Per layer: *kept* = share of the mark left along its own "
     "direction (1 untouched, 0 removed, < 0 inverted), *jam* = energy the attack adds across "
     "the mark in units of the mark's energy in that layer, *slot err* = slots whose sign "
     "the attack turned (whitened, folded per epoch, before the detector combines anything). "
     "`misaligned-*` = the attacker's estimates rolled by half a tile (same energy and "
     "spectrum, aligned with nothing of the mark): the jamming control.\n" % (
         cmd, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), commit,
         work, start, load),
     "| attack | PSNR dB | wmdetect exit | pilot z | raw BER | sync kept / jam / slot err | "
     "pilot kept / jam / slot err | data kept / jam / slot err | tag kept / jam / slot err |",
     "| --- " * 9 + "|"]
for l in rows:
    r = l["detect"]
    ber = r.get("raw_bit_error_rate")
    L.append("| %s | %s | %s | %s | %s | %s |" % (
        l["attack"], r.get("psnr") or "–", "–" if r.get("exit") is None else r["exit"],
        "%.1f" % r["pilot_z"] if r.get("pilot_z") is not None else "–",
        "%.1f %%" % (100 * ber) if ber is not None else "–",
        " | ".join("%.2f / %.2f / %.1f %%" % (l[x]["kept"], l[x]["jam"], 100 * l[x]["slot_err"])
                   for x in ("sync", "pilot", "data", "tag"))))
L.append("\n*kept* by DCT band u + v = 1 .. 5:\n")
L.append("| attack | data layer | pilot layer |")
L.append("| --- | --- | --- |")
for l in rows:
    L.append("| %s | %s | %s |" % (l["attack"], " ".join("%.2f" % x for x in l["data"]["kept_by_band"]),
                                   " ".join("%.2f" % x for x in l["pilot"]["kept_by_band"])))
if rows:
    L.append("\nThe picture's own folded energy per epoch (host), in units of the mark's: " +
             ", ".join("%s %.3f" % (x, rows[0][x]["host"]) for x in ("sync", "pilot", "data", "tag")) + ".")
with open(md + ".tmp", "w") as f:
    f.write("\n".join(L) + "\n")
os.replace(md + ".tmp", md)
print("\n".join(L))
EOF
rm -f "$d"/remove.*.mkv "$d"/misaligned.*.mkv
say "done: $md"
