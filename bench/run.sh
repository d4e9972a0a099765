#!/bin/sh
# make bench: kombo-lua against the floor (curl + lua-cjson) and the official
# TypeScript SDK, on loopback against nginx serving pre-generated pages.
#
#   make bench                      # or: LUA=lua5.4 BUILD=build/5.4 bench/run.sh
#
# Settings (environment): LUA, BUILD (where kombo/core.so is), BENCH_REPS
# (runs per contender, median reported, default 5), BENCH_SEQ_REPS (runs of
# the 5-second sequential baseline, default 3), BENCH_STRICT=1 (exit 1 when
# a target is missed), BENCH_CALLGRIND=1 (also count instructions of the
# page walk and the floor under callgrind), BENCH_LATENCY_MS (how late nginx
# sends each page of the latency section, default 40), BENCH_WORK_MS (the
# work per page there, default 30). Installs what it lacks (Debian packages,
# the npm package into bench/node_modules). Everything generated goes to
# bench/out/.
set -eu

cd "$(dirname "$0")/.."
ROOT=$PWD
LUA=${LUA:-lua5.4}
BUILD=${BUILD:-build/5.4}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
REPS=${BENCH_REPS:-5}
SEQ_REPS=${BENCH_SEQ_REPS:-3}
PAGES=200
PER_PAGE=250
ITEMS=$((PAGES * PER_PAGE))
TAG_CALLS=2000
CONC=50
# The latency section: pages of 100 sent LATENCY_MS late, WORK_MS of work
# per page; the many-integrations walk: INTEGRATIONS walks of MANY_PAGES.
LATENCY_MS=${BENCH_LATENCY_MS:-40}
WORK_MS=${BENCH_WORK_MS:-30}
LAT_PAGES=60
LAT_PER_PAGE=100
LAT_ITEMS=$((LAT_PAGES * LAT_PER_PAGE))
INTEGRATIONS=20
MANY_PAGES=20
MANY_ITEMS=$((MANY_PAGES * LAT_PER_PAGE))
# The flat-memory check: a walk that stops after this many pages (enough
# for the collector to reach its steady state).
SHORT_PAGES=50
OUT=$ROOT/bench/out
TIME=/usr/bin/time

say() { printf '%s\n' "bench: $*" >&2; }
die() { say "$*"; exit 1; }

[ -f "$BUILD/kombo/core.so" ] || die "no $BUILD/kombo/core.so; run make first"

# --- What the benchmark needs, installed only when missing -----------------
nginx_module() {
	for d in /usr/lib/nginx/modules /usr/share/nginx/modules; do
		if [ -f "$d/$1" ]; then echo "$d/$1"; return; fi
	done
}
missing=""
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
[ -n "$(nginx_module ngx_http_echo_module.so)" ] || missing="$missing libnginx-mod-http-echo"
[ -n "$(nginx_module ngx_http_lua_module.so)" ] || missing="$missing libnginx-mod-http-lua"
[ -x $TIME ] || missing="$missing time"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
"$LUA" -e 'require("cjson")' >/dev/null 2>&1 || missing="$missing lua-cjson"
if [ -n "$missing" ]; then
	say "installing Debian packages:$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086 # a list of package names
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
fi
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

if [ ! -f bench/node_modules/@kombo-api/sdk/package.json ] ||
	[ ! -f bench/node_modules/.package-lock.json ] ||
	[ -n "$(find bench/package-lock.json -newer bench/node_modules/.package-lock.json)" ]; then
	say "installing @kombo-api/sdk from the npm registry (npm ci)"
	(cd bench && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

# --- Server ----------------------------------------------------------------
mkdir -p "$OUT/tmp"
stop_nginx() {
	if [ -f "$OUT/nginx.pid" ]; then
		kill "$(cat "$OUT/nginx.pid")" 2>/dev/null || true
		rm -f "$OUT/nginx.pid"
	fi
}
trap stop_nginx EXIT INT TERM
stop_nginx

# Contenders on the first core, nginx on the second, so the server never
# takes a contender's core (when there are two and taskset exists).
CLIENT_PIN=""
SERVER_PIN=""
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
	CLIENT_PIN="taskset -c 0"
	SERVER_PIN="taskset -c 1"
fi

USER_LINE=""
[ "$(id -u)" -ne 0 ] || USER_LINE="user root;" # workers must read bench/out wherever the checkout is
MODULES="load_module $(nginx_module ngx_http_echo_module.so); load_module $(nginx_module ndk_http_module.so);"
MODULES="$MODULES load_module $(nginx_module ngx_http_lua_module.so);"
LATENCY_S=$(awk -v ms="$LATENCY_MS" 'BEGIN { printf "%.3f", ms / 1000 }')
PORT=""
for p in 18700 18701 18702 18703 18704 18705 18706 18707 18708 18709; do
	sed -e "s#@OUT@#$OUT#g" -e "s#@PORT@#$p#" -e "s#@USER@#$USER_LINE#" \
		-e "s#@MODULES@#$MODULES#" -e "s#@LATENCY_S@#$LATENCY_S#g" bench/nginx.conf.in >"$OUT/nginx.conf"
	# shellcheck disable=SC2086 # a command prefix, split on purpose
	if $SERVER_PIN "$NGINX" -c "$OUT/nginx.conf" -p "$OUT" -e "$OUT/nginx-error.log" 2>/dev/null; then
		PORT=$p
		break
	fi
done
[ -n "$PORT" ] || die "nginx did not start (see $OUT/nginx-error.log)"
BASE=http://127.0.0.1:$PORT/v1
SLOW=http://127.0.0.1:$PORT/slow/v1
LAT_BASE=http://127.0.0.1:$PORT/lat/v1
MANY_BASE=http://127.0.0.1:$PORT/many/v1
say "nginx on 127.0.0.1:$PORT (one worker)"

"$LUA" bench/gen.lua "$OUT" "$BASE" "$PAGES" "$PER_PAGE" "$TAG_CALLS" >&2
"$LUA" bench/gen.lua "$OUT/lat" "$LAT_BASE" "$LAT_PAGES" "$LAT_PER_PAGE" 0 >&2
"$LUA" bench/gen.lua "$OUT/many" "$MANY_BASE" "$MANY_PAGES" "$LAT_PER_PAGE" 0 >&2

# The small requests' reference: libcurl alone in a C loop (not a target).
cc -O2 -o "$OUT/curl_loop" bench/curl_loop.c -lcurl || die "bench/curl_loop.c did not build (libcurl's headers?)"

export LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH="$BUILD/?.so;;"

# The work per item, calibrated on this machine now: Lua's iterations and
# JavaScript's (each engine its own count for the same milliseconds).
# shellcheck disable=SC2086 # a command prefix, split on purpose
ITERS=$($CLIENT_PIN "$LUA" bench/kombo_contender.lua calibrate - "$WORK_MS" "$LAT_PER_PAGE")
# shellcheck disable=SC2086
JS_ITERS=$($CLIENT_PIN node bench/ts_contender.mjs calibrate - "$WORK_MS" "$LAT_PER_PAGE")
say "work: $WORK_MS ms per page of $LAT_PER_PAGE is $ITERS iterations per item in Lua, $JS_ITERS in JavaScript"
# Without the prefetch option (an SDK from before it), the walk without
# prefetch is the plain walk, and the walk with it is not measured.
if "$LUA" -e 'assert(require("kombo").new({ api_key = "k", integration_id = "i", prefetch = false }))' \
	>/dev/null 2>&1; then
	PREFETCH=1
	LAT_KOMBO="lat_kombo lat_kombo_seq"
else
	PREFETCH=0
	LAT_KOMBO="lat_kombo_seq"
	say "kombo.new has no prefetch option: the walk with prefetch is reported n/a"
fi
[ "$PREFETCH" = 1 ] && SEQ_SETTING=off || SEQ_SETTING=default
LATENCY="lat_curl lat_work $LAT_KOMBO lat_ts lat_ts_work many_one many"

# Every contender, by name, run under GNU time; each checks its own answer
# and exits non-zero if it is wrong.
VG="" # a command prefix for every contender (BENCH_CALLGRIND)
# shellcheck disable=SC2086 # command prefixes, split on purpose
timed() { $TIME -f '%U %S %M' -o "$OUT/time.txt" $CLIENT_PIN $VG "$@"; }
contender() {
	case $1 in
	kombo_pages) timed "$LUA" bench/kombo_contender.lua pages "$BASE" "$ITEMS" ;;
	kombo_pages_short) timed "$LUA" bench/kombo_contender.lua pages "$BASE" $((SHORT_PAGES * PER_PAGE)) stop ;;
	curl_pages) timed curl -sS --fail -K "$OUT/pages.curl" ;;
	decode_pages) timed "$LUA" bench/decode_floor.lua "$OUT/pages.list" "$ITEMS" ;;
	# Not part of the floor: kombo's own decoder (simdjson) on the same
	# bytes, so the walk's time splits into transfer, decode and the rest.
	decode_kombo) timed "$LUA" bench/decode_floor.lua "$OUT/pages.list" "$ITEMS" kombo ;;
	ts_pages) timed node bench/ts_contender.mjs pages "$BASE" "$ITEMS" ;;
	kombo_tags) timed "$LUA" bench/kombo_contender.lua tags "$BASE" "$TAG_CALLS" ;;
	curl_tags) timed curl -sS --fail -K "$OUT/tags.curl" ;;
	ts_tags) timed node bench/ts_contender.mjs tags "$BASE" "$TAG_CALLS" ;;
	libcurl_tags) timed "$OUT/curl_loop" "$BASE/ats/tags" "$TAG_CALLS" ;;
	kombo_concurrent) timed "$LUA" bench/kombo_contender.lua concurrent "$SLOW" "$CONC" ;;
	kombo_sequential) timed "$LUA" bench/kombo_contender.lua sequential "$SLOW" "$CONC" ;;
	lat_curl) timed curl -sS --fail -K "$OUT/lat/pages.curl" ;;
	lat_work) timed "$LUA" bench/kombo_contender.lua work - "$LAT_ITEMS" "$ITERS" ;;
	lat_kombo) timed "$LUA" bench/kombo_contender.lua latency "$LAT_BASE" "$LAT_ITEMS" "$ITERS" on ;;
	lat_kombo_seq) timed "$LUA" bench/kombo_contender.lua latency "$LAT_BASE" "$LAT_ITEMS" "$ITERS" "$SEQ_SETTING" ;;
	lat_ts) timed node bench/ts_contender.mjs latency "$LAT_BASE" "$LAT_ITEMS" "$JS_ITERS" ;;
	lat_ts_work) timed node bench/ts_contender.mjs work - "$LAT_ITEMS" "$JS_ITERS" ;;
	many_one) timed "$LUA" bench/kombo_contender.lua many "$MANY_BASE" "$MANY_ITEMS" 1 ;;
	many) timed "$LUA" bench/kombo_contender.lua many "$MANY_BASE" $((INTEGRATIONS * MANY_ITEMS)) "$INTEGRATIONS" ;;
	*) die "unknown contender $1" ;;
	esac
}

# measure NAME: one run; appends "name wall_us user_s sys_s maxrss_kb".
measure() {
	t0=$(date +%s%N)
	if ! contender "$1" >"$OUT/last.out" 2>"$OUT/last.err"; then
		cat "$OUT/last.out" "$OUT/last.err" >&2
		die "$1 failed"
	fi
	t1=$(date +%s%N)
	echo "$1 $(((t1 - t0) / 1000)) $(tail -n 1 "$OUT/time.txt")" >>"$OUT/raw.txt"
}

# connections NAME: runs NAME once with a fresh access log and records how
# many TCP connections and requests it used.
connections() {
	: >"$OUT/access.log"
	measure "$1"
	awk -v name="$1" '$3 != 200 { bad++ } { conn[$1] = 1; n++ }
		END { c = 0; for (k in conn) c++; printf "%s %d %d %d\n", name, c, n, bad }' \
		"$OUT/access.log" >>"$OUT/connections.txt"
}

: >"$OUT/raw.txt"
: >"$OUT/connections.txt"

say "warm-up and connection checks (one untimed run each)"
for c in kombo_pages curl_pages ts_pages kombo_tags curl_tags ts_tags $LAT_KOMBO lat_ts many; do connections "$c"; done
for c in decode_pages decode_kombo libcurl_tags kombo_concurrent kombo_pages_short lat_curl lat_work lat_ts_work many_one; do
	measure "$c"
done
mv "$OUT/raw.txt" "$OUT/warmup.txt"
: >"$OUT/raw.txt"

# Contenders take turns within each round, so a noisy moment on the machine
# hits all of them rather than one.
i=1
while [ "$i" -le "$REPS" ]; do
	say "round $i of $REPS"
	for c in kombo_pages curl_pages decode_pages decode_kombo ts_pages kombo_tags curl_tags libcurl_tags ts_tags kombo_concurrent \
		kombo_pages_short $LATENCY; do
		measure "$c"
	done
	i=$((i + 1))
done
i=1
while [ "$i" -le "$SEQ_REPS" ]; do
	say "sequential baseline $i of $SEQ_REPS (50 x 100 ms)"
	measure kombo_sequential
	i=$((i + 1))
done

# Optional: instructions executed, counted by callgrind, one run each. This
# VM's speed drifts by a quarter between identical runs; instruction counts
# do not, so they say what the SDK itself adds to the walk.
rm -f "$OUT/instructions.txt"
if [ "${BENCH_CALLGRIND:-0}" = 1 ]; then
	command -v valgrind >/dev/null 2>&1 || die "BENCH_CALLGRIND=1 needs valgrind"
	for c in kombo_pages curl_pages decode_pages decode_kombo; do
		say "instructions: $c under callgrind"
		VG="valgrind --tool=callgrind --callgrind-out-file=/dev/null --log-file=$OUT/callgrind.log"
		contender "$c" >/dev/null 2>&1 || die "$c failed under callgrind"
		echo "$c $(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$OUT/callgrind.log")" >>"$OUT/instructions.txt"
	done
	VG=""
fi

# --- The machine and versions, for the report -------------------------------
{
	echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "cores=$(nproc)"
	echo "mem_mib=$(awk '/^MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
	echo "kernel=$(uname -sr)"
	echo "os=$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release)"
	echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "lua=$("$LUA" -v 2>&1 | head -n 1 | cut -d" " -f1-2)"
	echo "libcurl=$(curl --version | head -n 1 | cut -d' ' -f1-4)"
	echo "node=$(node --version)"
	echo "sdk=$(node -p 'require("./bench/node_modules/@kombo-api/sdk/package.json").version')"
	echo "nginx=$("$NGINX" -v 2>&1 | sed 's/.*: //')"
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "pages=$PAGES"
	echo "per_page=$PER_PAGE"
	echo "page_bytes=$(wc -c <"$OUT/www/pages/first.json")"
	echo "total_bytes=$(cat "$OUT"/www/pages/*.json | wc -c)"
	echo "tag_calls=$TAG_CALLS"
	echo "concurrency=$CONC"
	echo "short_pages=$SHORT_PAGES"
	echo "latency_ms=$LATENCY_MS"
	echo "work_ms=$WORK_MS"
	echo "lat_pages=$LAT_PAGES"
	echo "lat_per_page=$LAT_PER_PAGE"
	echo "work_iterations=$ITERS"
	echo "work_iterations_js=$JS_ITERS"
	echo "integrations=$INTEGRATIONS"
	echo "many_pages=$MANY_PAGES"
	echo "prefetch=$PREFETCH"
	echo "pinned=${CLIENT_PIN:+contenders on core 0, nginx on core 1}"
	echo "reps=$REPS"
	echo "seq_reps=$SEQ_REPS"
} >"$OUT/machine.txt"

"$LUA" bench/report.lua "$OUT"
