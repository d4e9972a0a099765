/* libFuzzer harness for json_decode (csrc/json.cpp): every response body
 * a server sends goes through it before the SDK looks at any field.
 *
 * Build and run (`make fuzz` does this for every harness):
 *   make build/fuzz/fuzz_json
 *   build/fuzz/fuzz_json fuzz/corpus/fuzz_json -max_total_time=30
 *
 * Beyond "no crash": a body is either one value or nil and a message, the
 * Lua stack is balanced, and the decoder's reused buffers never carry a
 * broken or huge document into the next one (a fixed document decoded
 * after every input must come out whole). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../csrc/core.h"

static lua_State *L;

static void call_decode(const char *s, size_t n)
{
	lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_json_decode");
	lua_pushlstring(L, s, n);
	if (lua_pcall(L, 1, 2, 0) != 0)
		abort(); /* refusals are returned, never raised */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char fixed[] = "{\"a\":[1,\"b\",null]}";
	if (L == NULL) {
		L = luaL_newstate();
		if (L == NULL)
			abort();
		lua_newtable(L);
		kombo_json_open(L);
		lua_getfield(L, -1, "json_decode");
		lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_json_decode");
		lua_pop(L, 1);
	}
	call_decode((const char *)data, size);
	if (lua_isnil(L, -2) ? !lua_isstring(L, -1) : !lua_isnil(L, -1))
		abort();
	lua_settop(L, 0);

	call_decode(fixed, sizeof fixed - 1);
	if (!lua_istable(L, -2))
		abort();
	lua_getfield(L, -2, "a");
	lua_rawgeti(L, -1, 1);
	lua_rawgeti(L, -2, 2);
	lua_rawgeti(L, -3, 3);
	if (lua_tonumber(L, -3) != 1 || !lua_isstring(L, -2) || strcmp(lua_tostring(L, -2), "b") != 0 ||
	    !lua_islightuserdata(L, -1) || lua_touserdata(L, -1) != NULL)
		abort();
	lua_settop(L, 0);
	if (size > 4096)
		lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
