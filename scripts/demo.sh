#!/usr/bin/env bash
# The main job end to end on the embedded SQLite default, in a throwaway home.
set -euo pipefail

export TOOLVAULT_HOME="$(mktemp -d -t toolvault-demo-XXXXXX)"
work="$(mktemp -d -t toolvault-demo-src-XXXXXX)"
trap 'rm -rf "$TOOLVAULT_HOME" "$work"' EXIT

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
say() {
  printf '$'
  for a in "$@"; do case $a in *[[:space:]]*) printf ' "%s"' "$a" ;; *) printf ' %s' "$a" ;; esac; done
  printf '\n'
  "$@"
}

step "1. A fresh vault in $TOOLVAULT_HOME"
say toolvault init

step "2. Publish a few tools"
cat > "$work/greet.sh" <<'SH'
#!/bin/sh
echo "hello, ${1:-world}"
SH
cat > "$work/wordcount.py" <<'PY'
#!/usr/bin/env python3
import sys
print(len(sys.stdin.read().split()))
PY
cat > "$work/upper.sh" <<'SH'
#!/bin/sh
tr '[:lower:]' '[:upper:]'
SH
chmod +x "$work"/*
say toolvault add "$work" --created-by demo -m "first import"
say toolvault ls

step "3. Update greet twice (each change is a new immutable version)"
cat > "$work/greet.sh" <<'SH'
#!/bin/sh
echo "Hello, ${1:-world}!"
SH
say toolvault add "$work/greet.sh" --created-by @ai-engineer --prompt "make it friendlier"
cat > "$work/greet.sh" <<'SH'
#!/bin/sh
name="${1:-world}"
echo "Hello, $name! Have a good day."
SH
say toolvault add "$work/greet.sh" --created-by @ai-engineer --prompt "wish a good day" \
    --ref greet:2
echo "(publishing the same content again changes nothing:)"
say toolvault add "$work/greet.sh"

step "4. The versions of greet"
say toolvault versions greet

step "5. Read old versions by number and by selector"
say toolvault cat greet:1
say toolvault cat greet:previous

step "6. What changed"
say toolvault diff greet:1 greet:3

step "7. Roll back: version 1's content becomes version 4 (history moves forward)"
say toolvault rollback greet 1 -m "the old greeting was better"
say toolvault versions greet history

step "8. Run tools: the latest straight from commands/ (put it on PATH), an old one with run"
export PATH="$TOOLVAULT_HOME/commands:$PATH"
say greet demo
say ls -l "$TOOLVAULT_HOME/commands/greet"
echo "three little words" | say toolvault run wordcount
say toolvault run greet:3 demo

step "9. Every write is in the hash-chained audit log"
say toolvault label greet:3 stable
say toolvault audit greet

step "10. Verify hashes, chains, the audit log and the commands/ tree"
say toolvault verify
