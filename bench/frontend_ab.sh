#!/usr/bin/env bash
# Reads the hard copies bench/frontend.sh kept again with two builds of
# wmdetect, so that two detectors are compared on the very same files.
#
#   bench/frontend_ab.sh A_BIN B_BIN WORK [WORK ...] > ab.tsv
#
# Every WORK is a --work directory of bench/frontend.sh (a folder a clip,
# each with key.dkey and the copies *.mkv; master.mkv is skipped). Each copy
# is read blind by `wmdetect --json --no-registry` of A_BIN/ and of B_BIN/,
# one after the other; one TSV line per copy and build:
#   work clip copy build signature_valid pilot_z raw_ber scale_x seconds
# (seconds: wall clock of that run by /usr/bin/time; indicative only). Then
# a summary on stderr: copies, verified by each, copies whose verdict, pilot
# z or raw BER differ.
#
# Needs python3 and /usr/bin/time.
set -euo pipefail
[[ $# -ge 3 ]] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
a="$1" b="$2"
shift 2
for bin in "$a" "$b"; do
  [[ -x "$bin/wmdetect" ]] || { echo "frontend_ab.sh: no wmdetect in $bin" >&2; exit 2; }
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for work in "$@"; do
  for dir in "$work"/*/; do
    [[ -f "$dir/key.dkey" ]] || continue
    clip="$(basename "$dir")"
    for copy in "$dir"/*.mkv; do
      name="$(basename "$copy" .mkv)"
      [[ "$name" == master ]] && continue
      for bin in "$a" "$b"; do
        /usr/bin/time -f "%e" -o "$tmp/t" "$bin/wmdetect" -k "$dir/key.dkey" --no-registry \
          --json -q "$copy" > "$tmp/j" 2>/dev/null || true
        fields="$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
g = d.get("geometry") or {}
print(d.get("signature_valid"), d.get("pilot_z"), d.get("raw_bit_error_rate"),
      g.get("scale_x"), sep="\t")' "$tmp/j" 2>/dev/null || printf 'error\t\t\t')"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(basename "$work")" "$clip" "$name" "$bin" \
          "$fields" "$(tail -n 1 "$tmp/t")"
      done
    done
  done
done | tee "$tmp/all.tsv"
python3 - "$tmp/all.tsv" "$a" "$b" >&2 <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
a, b = sys.argv[2], sys.argv[3]
by = {}
for r in rows:
    by.setdefault(tuple(r[:3]), {})[r[3]] = r[4:7]
both = [v for v in by.values() if a in v and b in v]
ver = lambda x: x[0] == "True"
print(f"{len(both)} copies; verified by {a}: {sum(ver(v[a]) for v in both)}, "
      f"by {b}: {sum(ver(v[b]) for v in both)}; "
      f"verdict differs on {sum(ver(v[a]) != ver(v[b]) for v in both)}, "
      f"pilot z or raw BER on {sum(v[a][1:] != v[b][1:] for v in both)}")
EOF
