/* A minimal Lua 5.4 interpreter linked statically against Debian's
 * liblua5.4.a, whose symbol table (unlike /usr/bin/lua5.4's) names the
 * interpreter's internal functions (luaC_step, internshrstr, ...), so perf
 * and callgrind can say how much of a run is GC, string interning or table
 * building. Built and used by bench/profile.sh only.
 *
 *   luaprof script.lua [args...]    -- like lua5.4, with arg[] set */
#include <stdio.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int main(int argc, char **argv)
{
	lua_State *L;
	int i, rc;
	if (argc < 2) {
		fprintf(stderr, "usage: luaprof script.lua [args...]\n");
		return 2;
	}
	L = luaL_newstate();
	luaL_openlibs(L);
	lua_createtable(L, argc, 0);
	for (i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - 1);
	}
	lua_setglobal(L, "arg");
	rc = luaL_loadfile(L, argv[1]);
	if (rc == LUA_OK) {
		for (i = 2; i < argc; i++)
			lua_pushstring(L, argv[i]);
		rc = lua_pcall(L, argc - 2, 0, 0);
	}
	if (rc != LUA_OK)
		fprintf(stderr, "luaprof: %s\n", lua_tostring(L, -1));
	lua_close(L);
	return rc == LUA_OK ? 0 : 1;
}
