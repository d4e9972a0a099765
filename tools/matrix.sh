#!/usr/bin/env bash
# Builds kombo.core and runs the whole spec suite under each Lua version:
#   tools/matrix.sh              # 5.4 5.3 5.1 luajit
#   tools/matrix.sh 5.1 luajit   # only these
# Each version builds into its own build/<version> folder through the
# Makefile's `test` target, so the sandbox, busted and the module all run on
# the interpreter under test. Debian's lua-busted installs busted, luassert
# and penlight for 5.1 to 5.4 (LuaJIT uses the 5.1 tree), so `busted
# --lua=X` is all it takes.
#
# Debian packages: lua5.1 liblua5.1-0-dev lua5.3 liblua5.3-dev lua5.4
# liblua5.4-dev luajit2 libluajit2-5.1-dev (not `luajit`: it conflicts with
# libnginx-mod-http-lua), plus nginx-light libnginx-mod-http-lua neovim for
# the embedding specs.
#
# MATRIX_JOBS (default 2) versions run at once, each its output printed
# whole when its batch is done.
#
# Prints one "<version>: N passed, N failed[, N skipped]" line per version,
# then the totals the same way (the line CI reads), and exits non-zero when
# any version failed.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 2

[ $# -gt 0 ] || set -- 5.4 5.3 5.1 luajit
MAKE=${MAKE:-make}
# A suite spends most of its time waiting on the sandbox's delays and
# timeouts, so two share two cores at about the speed of one.
JOBS=${MATRIX_JOBS:-2}
summary=""
status=0
passed=0
failed=0
skipped=0
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# The make variables of one version; fails for a version it does not know.
args_for() {
  case "$1" in
    luajit) echo "LUA_VERSION=5.1 LUA=luajit LUA_INCDIR=/usr/include/luajit-2.1 BUILD=build/luajit" ;;
    5.[1-4]) echo "LUA_VERSION=$1 LUA=lua$1 LUA_INCDIR=/usr/include/lua$1 BUILD=build/$1" ;;
    *) return 1 ;;
  esac
}

for v in "$@"; do
  args_for "$v" >/dev/null || { echo "matrix: unknown version $v (want 5.1, 5.2, 5.3, 5.4 or luajit)" >&2; exit 2; }
done

# One version's suite into $logs/<version>.log, its exit status into .rc.
run() {
  # shellcheck disable=SC2046 # the make variables are words on purpose
  $MAKE --no-print-directory test $(args_for "$1") >"$logs/$1.log" 2>&1
  echo $? >"$logs/$1.rc"
}

# The totals of one finished version, added to the matrix's.
tally() {
  local v=$1 line rc
  echo "=== Lua $v ($(args_for "$v"))"
  cat "$logs/$v.log"
  rc=$(cat "$logs/$v.rc")
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$logs/$v.log" | tail -n 1)
  if [ -n "$line" ]; then
    read -r np _ nf _ ns _ <<<"$line"
    passed=$((passed + np))
    failed=$((failed + ${nf%,}))
    skipped=$((skipped + ${ns:-0}))
  else
    line="build or run failed"
    failed=$((failed + 1))
  fi
  case "$line" in
    *" 0 failed"*) ;;
    *) status=1 ;;
  esac
  [ "$rc" -eq 0 ] || status=1
  summary="$summary$v: $line
"
}

versions=("$@")
for ((i = 0; i < ${#versions[@]}; i += JOBS)); do
  batch=("${versions[@]:i:JOBS}")
  for v in "${batch[@]}"; do run "$v" & done
  wait
  for v in "${batch[@]}"; do tally "$v"; done
done

echo "=== matrix"
printf '%s' "$summary"
totals="$passed passed, $failed failed"
[ "$skipped" -eq 0 ] || totals="$totals, $skipped skipped"
echo "$totals"
exit $status
