#!/usr/bin/env bash
# Runs the test suite with a real, throwaway PostgreSQL (scripts/pg.sh).
# Without PostgreSQL binaries the PostgreSQL tests skip and say how to enable
# them - except in CI (CI=true), where a missing PostgreSQL is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=${PYTEST:-.venv/bin/pytest}

if [ -z "${TOOLVAULT_TEST_PG:-}" ]; then
  PG_STATE=$(mktemp -t toolvault-pg-state-XXXXXX)
  export PG_STATE
  if url=$(scripts/pg.sh start); then
    export TOOLVAULT_TEST_PG="$url"
    trap 'scripts/pg.sh stop; rm -f "$PG_STATE"' EXIT
    echo "PostgreSQL for the tests: $url"
  elif [ "${CI:-}" = "true" ]; then
    echo "CI needs PostgreSQL and it could not be started" >&2
    exit 1
  else
    echo "PostgreSQL could not be started: its tests will be skipped" >&2
  fi
fi
"$PYTEST" -q "$@"
