/* libFuzzer harness for json_decode (csrc/json.cpp): every response body
 * a server sends goes through it before the SDK looks at any field.
 *
 * Build and run (`make fuzz` does this for every harness):
 *   make build/fuzz/fuzz_json
 *   build/fuzz/fuzz_json fuzz/corpus/fuzz_json -max_total_time=30
 *
 * Beyond "no crash", for every input:
 * - json_decode returns one value or nil and a message, never raises;
 * - the second parser alone (where simdjson's refusals go) refuses what
 *   json_decode refuses and otherwise gives the same value, integers and
 *   floats told apart: on valid JSON, the value simdjson gave;
 * - whatever lua-cjson accepts (the SDK's old fallback), json_decode
 *   accepts, with the same values (numbers compared as floats);
 * - a finalizer that decodes during the decodes gets its document right;
 * - in a second Lua state whose allocator fails past a budget taken from
 *   the input, json_decode still returns instead of raising and leaves its
 *   decoder free for the next call (out of memory while building a value
 *   cannot be shown from Lua: this is where it is tested);
 * - the decoder's reused buffers never carry a broken or huge document
 *   into the next one (a fixed document decoded after every input must
 *   come out whole);
 * - decoding where libcurl leaves a body (kombo_json_decode_buffer: an
 *   exact allocation with only the padding after it, so AddressSanitizer
 *   sees any read past it, the padding not zero) gives what json_decode
 *   gives;
 * - the cursor kombo_peek_next (csrc/cursor.c) reads off the raw bytes is
 *   inside them, a string with no quote, escape or control character,
 *   and, where the text names "data" and "next" once each (no duplicate
 *   member can tell it otherwise), the decoded data.next. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lualib.h>
#include "../csrc/core.h"

/* In csrc/json.cpp, for this harness only. */
int kombo_json_decode_lenient(lua_State *L);
int kombo_json_busy(lua_State *L, int index);

static const char FIXED[] = "{\"a\":[1,\"b\",null]}";

static lua_State *L; /* all libraries, lua-cjson, a finalizer that decodes */
static lua_State *M; /* json_decode alone, over the failing allocator */
static size_t m_used, m_limit = SIZE_MAX;

static void *m_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
	size_t old = p != NULL ? osize : 0;
	void *q;
	(void)ud;
	if (nsize == 0) {
		free(p);
		m_used -= old;
		return NULL;
	}
	if (nsize > old && m_used + (nsize - old) > m_limit)
		return NULL;
	q = realloc(p, nsize);
	if (q != NULL)
		m_used = m_used - old + nsize;
	return q;
}

/* The function registered under name called with s; leaves two results. */
static void call(lua_State *S, const char *name, const char *s, size_t n)
{
	lua_getfield(S, LUA_REGISTRYINDEX, name);
	lua_pushlstring(S, s, n);
	if (lua_pcall(S, 1, 2, 0) != 0)
		abort(); /* refusals are returned, never raised */
}

/* One value, or nil and a message, on top. */
static void check_result(lua_State *S)
{
	if (lua_isnil(S, -2) ? lua_type(S, -1) != LUA_TSTRING : !lua_isnil(S, -1))
		abort();
}

/* 1 when the values at absolute indices a and b are equal; exact: integers
 * and floats, and the sign of zero, must match too. NaN equals NaN. */
static int same(lua_State *S, int a, int b, int exact)
{
	int t = lua_type(S, a);
	if (t != lua_type(S, b))
		return 0;
	switch (t) {
	case LUA_TNUMBER: {
		double x, y;
		if (exact && lua_isinteger(S, a) != lua_isinteger(S, b))
			return 0;
		if (exact && lua_isinteger(S, a))
			return lua_tointeger(S, a) == lua_tointeger(S, b);
		x = (double)lua_tonumber(S, a);
		y = (double)lua_tonumber(S, b);
		if (x != x || y != y)
			return x != x && y != y;
		return x == y && (!exact || signbit(x) == signbit(y));
	}
	case LUA_TSTRING: {
		size_t m, n;
		const char *p = lua_tolstring(S, a, &m), *q = lua_tolstring(S, b, &n);
		return m == n && memcmp(p, q, m) == 0;
	}
	case LUA_TBOOLEAN:
		return lua_toboolean(S, a) == lua_toboolean(S, b);
	case LUA_TLIGHTUSERDATA:
		return lua_touserdata(S, a) == lua_touserdata(S, b);
	case LUA_TTABLE: {
		size_t na = 0, nb = 0;
		int ok = 1;
		if (!lua_checkstack(S, 4))
			abort();
		lua_pushnil(S);
		while (ok && lua_next(S, a)) {
			na++;
			lua_pushvalue(S, -2);
			lua_rawget(S, b);
			ok = same(S, lua_gettop(S) - 1, lua_gettop(S), exact);
			lua_pop(S, 2);
		}
		if (!ok) {
			lua_pop(S, 1); /* the key lua_next did not get to pop */
			return 0;
		}
		lua_pushnil(S);
		while (lua_next(S, b)) {
			nb++;
			lua_pop(S, 1);
		}
		return na == nb;
	}
	default:
		return 0;
	}
}

/* Whether the value on top is FIXED decoded. */
static int fixed_ok(lua_State *S)
{
	int ok;
	if (!lua_istable(S, -1))
		return 0;
	lua_getfield(S, -1, "a");
	lua_rawgeti(S, -1, 1);
	lua_rawgeti(S, -2, 2);
	lua_rawgeti(S, -3, 3);
	ok = lua_isinteger(S, -3) && lua_tointeger(S, -3) == 1 && lua_type(S, -2) == LUA_TSTRING &&
	     strcmp(lua_tostring(S, -2), "b") == 0 && lua_islightuserdata(S, -1) && lua_touserdata(S, -1) == NULL;
	lua_pop(S, 4);
	return ok;
}

/* A finalizer that leaves a new object with itself behind, so it runs on
 * every collection cycle, decoding FIXED with each parser; returns a
 * function counting the wrong results. */
static const char FINALIZER[] =
	"local decode, fixed = ...\n"
	"local wrong, mt = 0, {}\n"
	"local function ok(v)\n"
	"  return type(v) == 'table' and type(v.a) == 'table' and v.a[1] == 1 and v.a[2] == 'b'\n"
	"    and type(v.a[3]) == 'userdata'\n"
	"end\n"
	"mt.__gc = function()\n"
	"  setmetatable({}, mt)\n"
	"  if not ok(decode(fixed)) or not ok(decode(fixed .. '\\0')) then wrong = wrong + 1 end\n"
	"end\n"
	"setmetatable({}, mt)\n"
	"return function() return wrong end\n";

static void open_states(void)
{
	L = luaL_newstate();
	M = lua_newstate(m_alloc, NULL);
	if (L == NULL || M == NULL)
		abort();
	luaL_openlibs(L);
	lua_newtable(L);
	kombo_json_open(L);
	lua_getfield(L, -1, "json_decode");
	lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_json_decode");
	lua_pop(L, 1);
	lua_pushcfunction(L, kombo_json_decode_lenient);
	lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_json_lenient");

	lua_getglobal(L, "require");
	lua_pushliteral(L, "cjson.safe");
	if (lua_pcall(L, 1, 1, 0) == 0) {
		lua_getfield(L, -1, "decode");
		lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_json_cjson");
	} else {
		fprintf(stderr, "fuzz_json: no lua-cjson (%s), not comparing with it\n", lua_tostring(L, -1));
	}
	lua_pop(L, 1);

	if (luaL_loadbuffer(L, FINALIZER, sizeof FINALIZER - 1, "finalizer") != 0)
		abort();
	lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_json_decode");
	lua_pushstring(L, FIXED);
	if (lua_pcall(L, 2, 1, 0) != 0)
		abort();
	lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_json_wrong");

	lua_newtable(M);
	kombo_json_open(M);
	lua_getfield(M, -1, "json_decode");
	lua_setfield(M, LUA_REGISTRYINDEX, "fuzz_json_decode");
	lua_pop(M, 1);
	call(M, "fuzz_json_decode", FIXED, sizeof FIXED - 1); /* grows what a call needs */
	lua_settop(M, 0);
}

/* json_decode in M with a budget from the input: some decodes run out of
 * memory at some point while building the value, most do not. */
static void decode_starved(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;
	size_t i, budget;
	int status;
	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	budget = h % (48 * size + 2048);
	lua_getfield(M, LUA_REGISTRYINDEX, "fuzz_json_decode");
	lua_pushlstring(M, (const char *)data, size);
	if (!lua_checkstack(M, 2 * LUA_MINSTACK))
		abort();
	m_limit = m_used + budget;
	status = lua_pcall(M, 1, 2, 0);
	m_limit = SIZE_MAX;
	if (status != 0)
		abort(); /* json_decode raised */
	check_result(M);
	lua_settop(M, 0);
	lua_getfield(M, LUA_REGISTRYINDEX, "fuzz_json_decode");
	if (kombo_json_busy(M, -1))
		abort(); /* left busy: every later call would take the slow way */
	lua_settop(M, 0);
	call(M, "fuzz_json_decode", FIXED, sizeof FIXED - 1);
	lua_pop(M, 1);
	if (!fixed_ok(M))
		abort();
	lua_settop(M, 0);
	lua_gc(M, LUA_GCCOLLECT, 0);
}

/* kombo_json_decode_buffer on a copy of s laid out as a response body;
 * json_decode's answer is at 1, 2. Leaves the stack as it found it. */
static void decode_in_place(const char *s, size_t size)
{
	int top = lua_gettop(L), n;
	char *buf = malloc(size + KOMBO_JSON_PADDING);
	if (buf == NULL)
		abort();
	memcpy(buf, s, size);
	memset(buf + size, '"', KOMBO_JSON_PADDING);
	n = kombo_json_decode_buffer(L, buf, size, 0, NULL);
	free(buf);
	if (n == 2 ? !lua_isnil(L, 1) || !lua_isnil(L, top + 1) : !same(L, 1, top + 1, 1))
		abort(); /* in place, the answer differs */
	lua_settop(L, top);
}

/* How often needle occurs in s[0..n). */
static size_t occurrences(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle), i, found = 0;
	for (i = 0; i + k <= n; i++)
		found += memcmp(s + i, needle, k) == 0;
	return found;
}

/* See the top: json_decode's value of s is at index 1 of L. */
static void check_next_hint(const char *s, size_t n)
{
	size_t len, i, clen;
	const char *at = kombo_peek_next(s, n, &len), *cursor;
	if (at == NULL)
		return;
	if (at < s || len == 0 || len > n || (size_t)(at - s) > n - len)
		abort();
	for (i = 0; i < len; i++)
		if (at[i] == '"' || at[i] == '\\' || (unsigned char)at[i] < 0x20)
			abort();
	if (lua_type(L, 1) != LUA_TTABLE || occurrences(s, n, "\"data\"") != 1 ||
	    occurrences(s, n, "\"next\"") != 1)
		return;
	lua_getfield(L, 1, "data");
	if (lua_type(L, -1) != LUA_TTABLE)
		abort();
	lua_getfield(L, -1, "next");
	cursor = lua_tolstring(L, -1, &clen);
	if (lua_type(L, -1) != LUA_TSTRING || clen != len || memcmp(cursor, at, len) != 0)
		abort();
	lua_pop(L, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	if (L == NULL)
		open_states();

	call(L, "fuzz_json_decode", s, size); /* 1, 2 */
	check_result(L);
	call(L, "fuzz_json_lenient", s, size); /* 3, 4 */
	check_result(L);
	if (lua_isnil(L, 1) != lua_isnil(L, 3) || (!lua_isnil(L, 1) && !same(L, 1, 3, 1)))
		abort(); /* the two parsers disagree */
	check_next_hint(s, size);
	decode_in_place(s, size); /* 5, 6 */
	lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_json_cjson");
	if (!lua_isnil(L, -1)) {
		lua_pushlstring(L, s, size);
		if (lua_pcall(L, 1, 1, 0) == 0 && !lua_isnil(L, -1) && !same(L, 1, lua_gettop(L), 0))
			abort(); /* lua-cjson takes it, json_decode refuses it or differs */
	}
	lua_settop(L, 0);

	call(L, "fuzz_json_decode", FIXED, sizeof FIXED - 1);
	lua_pop(L, 1);
	if (!fixed_ok(L))
		abort();
	lua_settop(L, 0);
	/* What the input allocated is freed within the input: libFuzzer has
	 * LeakSanitizer scan the whole heap after any input whose mallocs and
	 * frees differ, and with the collector's garbage left for later that
	 * was nearly every input, which made this harness the slowest by far. */
	lua_gc(L, LUA_GCCOLLECT, 0);
	lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_json_wrong");
	if (lua_pcall(L, 0, 1, 0) != 0 || lua_tointeger(L, -1) != 0)
		abort(); /* a decode inside a finalizer came out wrong */
	lua_settop(L, 0);

	decode_starved(data, size);
	return 0;
}
