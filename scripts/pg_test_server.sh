#!/usr/bin/env bash
# A throwaway PostgreSQL server for the registry tests.
#
#   scripts/pg_test_server.sh start        starts one, prints its URL
#   scripts/pg_test_server.sh stop URL     stops it and deletes its files
#
# The server lives in a fresh directory under /tmp (data, log and its unix
# socket), listens on no TCP address, trusts local connections as user
# "filmmark", and runs with fsync off: for tests only. As root (CI), initdb
# and postgres run as the unprivileged user "nobody" (PostgreSQL refuses to
# run as root); otherwise as the calling user. Needs Debian's postgresql.
#
#   url=$(scripts/pg_test_server.sh start)
#   FILMMARK_TEST_PG=$url build/tests/test_registry
#   scripts/pg_test_server.sh stop "$url"
set -euo pipefail

prog=pg_test_server.sh
die() { echo "$prog: $*" >&2; exit 1; }

pgbin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
}

# runs a command as the server's user
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

start() {
  local bin dir port
  bin=$(pgbin)
  dir=$(mktemp -d /tmp/filmmark-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then chown nobody "$dir"; fi
  chmod 0700 "$dir"
  # only the unix socket in $dir is used; the port names the socket file
  port=$(( 20000 + RANDOM % 40000 ))
  as_pg "$bin/initdb" -D "$dir/data" -U filmmark --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; die "initdb failed"; }
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses= -k $dir -p $port -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
        start >/dev/null 2>&1 \
    || { cat "$dir/server.log" >&2; rm -rf "$dir"; die "the server did not start"; }
  echo "postgresql://filmmark@/postgres?host=$dir&port=$port"
}

stop() {
  local url=${1:-} dir bin
  [ -n "$url" ] || die "usage: $prog stop URL"
  dir=${url#*host=}; dir=${dir%%&*}
  case "$dir" in /tmp/filmmark-pg.*) ;; *) die "not a URL this script made: $url" ;; esac
  [ -d "$dir/data" ] || die "no server in $dir"
  bin=$(pgbin)
  as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "usage: $prog start | stop URL" ;;
esac
