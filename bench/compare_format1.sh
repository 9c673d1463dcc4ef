#!/usr/bin/env bash
# Format 1 (the shipped format, bench/results/format1/robustness.json: the
# robustness run of commit 2005419) against format 7 runs, row by row, with
# raw errors also as format 1's code would see the same slots
# (bench/compare_robustness.py --slots-per-bit: format 1 carried each coded
# bit in 4480 / 1872 = 2.393 slots, format 7 in 1).
#
#   bench/compare_format1.sh FORMAT7.json... > FILE.md
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -gt 0 ]] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
echo "# Format 1 against format 7 (bench/compare_format1.sh)"
echo
echo "Made on $(date -u '+%Y-%m-%d %H:%M UTC') from \`bench/results/format1/robustness.json\` and: $(printf '`%s` ' "$@")."
echo "Each clip's rows are the attacks both runs made; a count closes each table and the last line totals them."
echo
python3 "$here/compare_robustness.py" --slots-per-bit 2.393,1 \
  "$here/results/format1/robustness.json" "$@"
