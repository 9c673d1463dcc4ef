#!/bin/bash
# check_exports.sh LIB HEADER - the shared library exports exactly the
# functions the public header declares with FM_API: nothing else (the
# library's internals are hidden), and none of them missing.
set -eu
lib=$1 header=$2
exported=$(nm -D --defined-only "$lib" | awk '{ print $3 }' | sort)
declared=$(grep -o '^FM_API [^(]*(' "$header" | sed -e 's/($//' -e 's/.*[ *]//' | sort)
bad=$(printf '%s\n' "$exported" | grep -v '^filmmark_' || true)
if [ -n "$bad" ]; then
    echo "check_exports: $lib exports symbols outside the API:" >&2
    printf '%s\n' "$bad" | head -20 >&2
    exit 1
fi
if [ "$exported" != "$declared" ]; then
    echo "check_exports: exports and FM_API declarations differ:" >&2
    diff <(printf '%s\n' "$declared") <(printf '%s\n' "$exported") >&2 || true
    exit 1
fi
echo "check_exports: $(printf '%s\n' "$exported" | wc -l) symbols, all declared in $(basename "$header")"
