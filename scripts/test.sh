#!/usr/bin/env bash
# Install, build and run every test (ctest). With --sanitize, also builds a second
# tree with AddressSanitizer + UndefinedBehaviorSanitizer and runs the tests there.
# The registry tests need a PostgreSQL server: a throwaway one is started for the
# run (scripts/pg_test_server.sh) and stopped at the end, unless FILMMARK_TEST_PG
# is already set (a URL, or "skip" to skip the PostgreSQL cases).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
# wmembed records every issuance in a registry: the tests' go to a throwaway one
regdir=$(mktemp -d)
export FILMMARK_REGISTRY="$regdir/registry.sqlite"
cleanup() { rm -rf "$regdir"; }
if [ -z "${FILMMARK_TEST_PG:-}" ]; then
  FILMMARK_TEST_PG=$(bash scripts/pg_test_server.sh start)
  cleanup() { bash scripts/pg_test_server.sh stop "$FILMMARK_TEST_PG"; rm -rf "$regdir"; }
fi
trap cleanup EXIT
export FILMMARK_TEST_PG
(cd build && ctest --output-on-failure -j2)
if [ "${1:-}" = --sanitize ]; then
  BUILD_DIR=build-asan BUILD_TYPE=Debug bash scripts/build.sh -DFILMMARK_SANITIZE=ON
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j2)
fi
