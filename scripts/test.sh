#!/usr/bin/env bash
# Install, build and run every test (ctest). With --sanitize, also builds a second
# tree with AddressSanitizer + UndefinedBehaviorSanitizer and runs the tests there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure -j2)
if [ "${1:-}" = --sanitize ]; then
  BUILD_DIR=build-asan BUILD_TYPE=Debug bash scripts/build.sh -DFILMMARK_SANITIZE=ON
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j2)
fi
