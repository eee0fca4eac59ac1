#!/usr/bin/env bash
# What the web UI's tests need from Debian's packages: chromium (Playwright drives the
# system browser: 'playwright install' cannot download one here) and graphviz (dot draws
# the lineage graphs). Installed when missing and we are root, as scripts/pg.sh installs
# PostgreSQL; otherwise the browser tests skip (and fail under CI=true).
set -uo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} (apt-get install ${missing[*]})" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
else
  echo "${missing[*]} not found: the web UI's browser tests will be skipped" >&2
fi
