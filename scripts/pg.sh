#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests.
#   scripts/pg.sh start   -> starts one, prints its URL on stdout
#   scripts/pg.sh stop    -> stops it and removes its data
# The cluster is remembered in $PG_STATE (default .pg-state), so that runs that
# overlap can each keep their own by setting PG_STATE.
# Installs the server from Debian's packages when it is missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."
state=${PG_STATE:-.pg-state}

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

as_db_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local bin
  if ! bin=$(find_bin); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing PostgreSQL (apt-get install postgresql)" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
      bin=$(find_bin)
    else
      echo "PostgreSQL server binaries (initdb, pg_ctl) not found" >&2
      return 1
    fi
  fi
  local data port
  data=$(mktemp -d -t toolvault-pg-XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$data"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_db_user "$bin/initdb" -D "$data/db" -U postgres --auth=trust -E UTF8 >/dev/null
  as_db_user "$bin/pg_ctl" -D "$data/db" -l "$data/log" -w -t 60 \
    -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  as_db_user "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres toolvault_test
  printf '%s\n%s\n' "$bin" "$data" > "$state"
  echo "postgresql://postgres@127.0.0.1:$port/toolvault_test"
}

stop() {
  [ -f "$state" ] || return 0
  local bin data
  { read -r bin; read -r data; } < "$state"
  as_db_user "$bin/pg_ctl" -D "$data/db" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$data" "$state"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
