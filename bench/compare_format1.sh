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
echo "Each clip's rows are the attacks both runs made; the count under each table and the last line total them."
echo
for f in "$@"; do
  python3 "$here/compare_robustness.py" --slots-per-bit 2.393,1 \
    "$here/results/format1/robustness.json" "$f"
done | python3 -c '
import re, sys
text = sys.stdin.read()
print(text.rstrip("\n"))
# the clips summary lines: every count summed
pat = re.compile(r"^\S+: recovered by both (\d+), gained (\d+), lost (\d+), by neither (\d+); "
                 r"raw bit errors lower on (\d+), the same on (\d+), higher on (\d+) "
                 r"\(as the before run.s code would see them: lower on (\d+), the same on (\d+), "
                 r"higher on (\d+)\); shortest excerpt \(rows both recover\) shorter on (\d+), "
                 r"the same on (\d+), longer on (\d+)\.$", re.M)
t = [0] * 13
n = 0
for m in pat.finditer(text):
    n += 1
    t = [a + int(b) for a, b in zip(t, m.groups())]
print()
print(f"All {n} clips: recovered by both {t[0]}, gained {t[1]}, lost {t[2]}, by neither {t[3]}; "
      f"raw bit errors lower on {t[4]}, the same on {t[5]}, higher on {t[6]} (as format 1\x27s code "
      f"would see them: lower on {t[7]}, the same on {t[8]}, higher on {t[9]}); shortest excerpt "
      f"(rows both recover) shorter on {t[10]}, the same on {t[11]}, longer on {t[12]}.")
'
