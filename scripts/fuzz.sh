#!/usr/bin/env bash
# Builds the libFuzzer harnesses in fuzz/ with clang (ASan + UBSan) and runs
# each for a bounded time, starting from the seed corpus in fuzz/corpus/.
# Fails (exit 1) on any crash, sanitizer report, leak or per-input timeout;
# the reproducer is left in build-fuzz/artifacts/ (replay it with
# build-fuzz/fuzz/fuzz_NAME FILE).
#
#   scripts/fuzz.sh [--seconds N] [--jobs J] [HARNESS...]
#     --seconds N   time per harness (default 60; CI uses the default)
#     --jobs J      parallel fuzzing processes per harness (default 1)
#     HARNESS       key, receipt, softdecode, frames (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
jobs=1
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=(key receipt softdecode frames)
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: --seconds needs a number" >&2; exit 2 ;; esac

command -v clang >/dev/null || { echo "fuzz.sh: clang is not installed (scripts/deps.sh)" >&2; exit 2; }
B=build-fuzz
cmake -S . -B "$B" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFILMMARK_FUZZ=ON -DFILMMARK_TESTS=OFF >/dev/null
targets=()
for n in "${names[@]}"; do targets+=("fuzz_$n"); done
make -C "$B" -j2 --no-print-directory "${targets[@]}" >/dev/null

mkdir -p "$B/artifacts"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
top=$(pwd)
par=()
[ "$jobs" -gt 1 ] && par=(-jobs="$jobs" -workers="$jobs")
status=0
for n in "${names[@]}"; do
  work="$top/$B/corpus/$n"
  mkdir -p "$work"
  echo "fuzz_$n: ${seconds} s"
  # new inputs go to the work corpus, the seeds are only read; with --jobs,
  # libFuzzer's fuzz-N.log files land in build-fuzz/
  if ! (cd "$B" && nice "./fuzz/fuzz_$n" -max_total_time="$seconds" -timeout=60 \
          -rss_limit_mb=2048 -max_len=16384 "${par[@]}" -print_final_stats=1 \
          -artifact_prefix="$top/$B/artifacts/${n}-" "$work" "$top/fuzz/corpus/$n" \
          >"fuzz_$n.log" 2>&1); then
    echo "fuzz.sh: fuzz_$n failed; see $B/fuzz_$n.log and $B/artifacts/" >&2
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$B/fuzz_$n.log" | head -5 >&2 || true
    status=1
  else
    grep -E "^stat::number_of_executed_units" "$B/fuzz_$n.log" | sed "s/^/  /" || true
  fi
done
exit $status
