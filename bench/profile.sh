#!/bin/sh
# Where kombo-lua's time goes on the benchmark's page walk: perf with DWARF
# call graphs over a Lua 5.4 interpreter whose internals have symbols
# (bench/luaprof.c). Run `make bench` once first (it generates the pages
# and the nginx configuration in bench/out/).
#
#   LUA_VERSION=5.4 sh bench/profile.sh     # needs gcc, liblua5.4-dev, linux-perf
set -eu

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
BUILD=${BUILD:-build/5.4}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

if [ ! -f "$OUT/nginx.conf" ] || [ ! -f "$OUT/pages.list" ]; then
	echo "profile: run make bench first" >&2
	exit 1
fi
command -v perf >/dev/null 2>&1 || { echo "profile: perf not found (Debian package linux-perf)" >&2; exit 1; }

LIBLUA=$(gcc -print-file-name=liblua5.4.a)
[ -f "$LIBLUA" ] || { echo "profile: liblua5.4.a not found (Debian package liblua5.4-dev)" >&2; exit 1; }
# -Wl,-E exports the Lua API to the C modules (cjson, kombo.core).
gcc -O2 -g -I/usr/include/lua5.4 -o "$OUT/luaprof" bench/luaprof.c -Wl,-E "$LIBLUA" -lm -ldl

NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
"$NGINX" -c "$OUT/nginx.conf" -p "$OUT" -e "$OUT/nginx-error.log"
trap 'kill "$(cat "$OUT/nginx.pid")" 2>/dev/null || true' EXIT INT TERM
BASE=http://$(sed -n 's/.*listen \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$OUT/nginx.conf")/v1
ITEMS=$(($(wc -l <"$OUT/pages.list") * 250))

export LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH="$BUILD/?.so;;"
perf record -q -F 1000 --call-graph=dwarf,16384 -o "$OUT/perf.data" \
	"$OUT/luaprof" bench/kombo_contender.lua pages "$BASE" "$ITEMS" >/dev/null

echo "== share of CPU samples by library, including callees (a decoder includes the GC it triggers)"
perf report -i "$OUT/perf.data" --children --sort dso -g none 2>/dev/null | grep '%' | head -8
echo "== inclusive share of the functions that tell decode, GC and transfer apart"
perf report -i "$OUT/perf.data" --children --sort symbol -g none 2>/dev/null |
	grep -E ' (luaC_step|sweepstep[.a-z0-9]*|propagatemark|internshrstr|luaH_resize|luaH_newkey|l_perform|curl_easy_perform|kombo_easy_finish|on_body|luaV_execute)( |$)'
