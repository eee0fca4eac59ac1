#!/usr/bin/env bash
# Runs the test suite with a real, throwaway PostgreSQL (scripts/pg.sh) and bubblewrap.
# Without PostgreSQL binaries the PostgreSQL tests skip and say how to enable
# them - except in CI (CI=true), where a missing PostgreSQL is a failure.
# Inside a git checkout the run fails, naming them, if the tests leave files in
# the working tree that were not there before (a vault made in the checkout, say).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=${PYTEST:-.venv/bin/pytest}

# What 'git status' reports (untracked files too); nothing outside a git checkout.
dirt() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git status --porcelain --untracked-files=normal | LC_ALL=C sort
  fi
}

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
# The sandbox tests need bubblewrap (bwrap): installed from Debian's packages, as
# PostgreSQL is, when it is missing and we are root; otherwise they skip (fail in CI).
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing bubblewrap (apt-get install bubblewrap)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >&2
  else
    echo "bubblewrap (bwrap) not found: the sandbox tests will be skipped" >&2
  fi
fi
scripts/web-deps.sh  # chromium and graphviz for the web UI's browser tests
before=$(dirt)
"$PYTEST" -q "$@"
status=$?
# Only what the run added: a developer's own uncommitted changes are not the tests'.
left=$(LC_ALL=C comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$(dirt)") | sed '/^$/d')
if [ -n "$left" ]; then
  echo "the tests left the working tree dirty ('git status --porcelain'):" >&2
  printf '%s\n' "$left" >&2
  echo "a test or bench wrote into the checkout: make it write under its tmp_path" >&2
  [ "$status" -eq 0 ] && status=1
fi
exit "$status"
