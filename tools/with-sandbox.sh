#!/bin/sh
# Starts the sandbox on a free loopback port, runs a command with
# KOMBO_SERVER_URL, KOMBO_API_KEY and KOMBO_INTEGRATION_ID pointing at it,
# then stops the sandbox. Usage: tools/with-sandbox.sh command [args...]
set -eu
LUA=${LUA:-lua5.4}
BUILD=${BUILD:-build/5.4}
export LUA_PATH="lua/?.lua;lua/?/init.lua;;"
export LUA_CPATH="$BUILD/?.so;;"
out=$(mktemp)
trap 'kill "$pid" 2>/dev/null; rm -f "$out"' EXIT
LUA_PATH=";;" "$LUA" sandbox/bin/kombo-sandbox --port 0 --quiet >"$out" &
pid=$!
i=0
while ! grep -q listening "$out"; do
  i=$((i + 1))
  [ "$i" -lt 100 ] || { echo "sandbox did not start" >&2; exit 1; }
  sleep 0.05
done
KOMBO_SERVER_URL=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$out")
KOMBO_API_KEY=sandbox-api-key
KOMBO_INTEGRATION_ID=sandbox:integration
export KOMBO_SERVER_URL KOMBO_API_KEY KOMBO_INTEGRATION_ID
"$@"
