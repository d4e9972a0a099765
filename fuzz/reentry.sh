#!/usr/bin/env bash
# make reentry: fuzz/reentry.lua for every mode and action, at the
# collector's own pace and at full speed, under each Lua version, inside
# nginx and inside Neovim (their LuaJIT; the runs themselves are driven
# from Lua 5.4):
#   fuzz/reentry.sh              # 5.4 5.3 5.1 luajit ngx nvim
#   fuzz/reentry.sh 5.1 ngx      # only these
# Each run is under timeout(1), so a hang fails it too. Prints each run's
# outcomes, then one line: how many runs failed; exits non-zero if any did.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 2

[ $# -gt 0 ] || set -- 5.4 5.3 5.1 luajit ngx nvim
MAKE=${MAKE:-make}
RUNS=${REENTRY_RUNS:-150}
failed=0
total=0
for v in "$@"; do
  case "$v" in
    luajit) lua=luajit; vars="LUA_VERSION=5.1 LUA=luajit LUA_INCDIR=/usr/include/luajit-2.1 BUILD=build/luajit"
      modes="blocking tasks" ;;
    5.[1-4]) lua=lua$v; vars="LUA_VERSION=$v LUA=lua$v LUA_INCDIR=/usr/include/lua$v BUILD=build/$v"
      modes="blocking tasks" ;;
    # nginx and Neovim load build/luajit (spec/support/nginx.lua builds it)
    ngx | nvim) lua=lua5.4; vars="LUA_VERSION=5.4 LUA=lua5.4 LUA_INCDIR=/usr/include/lua5.4 BUILD=build/5.4"
      modes="$v ${v}tasks" ;;
    *) echo "reentry: unknown version $v (want 5.1, 5.3, 5.4, luajit, ngx or nvim)" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2086 # the make variables are words on purpose
  $MAKE --no-print-directory $vars all >/dev/null || { echo "reentry: $v did not build" >&2; exit 2; }
  build=${vars##*BUILD=}
  for mode in $modes; do
    for action in close call walk closeother spawn run wait write map; do
      for pace in "" fast; do
        total=$((total + 1))
        # shellcheck disable=SC2086 # pace is a word or nothing
        timeout 120 "$lua" fuzz/reentry.lua "$build" "$mode" "$action" "$RUNS" $pace
        rc=$?
        if [ $rc -ne 0 ]; then
          failed=$((failed + 1))
          [ $rc -eq 124 ] && echo "FAILED: $lua $mode $action $pace did not end in 120 s"
        fi
      done
    done
  done
done
echo "reentry: $failed of $total runs failed"
[ $failed -eq 0 ]
