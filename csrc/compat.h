/* The only place that knows about Lua versions (5.1/LuaJIT, 5.2, 5.3, 5.4).
 * Everything is prefixed kb_ so nothing clashes with what LuaJIT already
 * exports. */
#ifndef KOMBO_COMPAT_H
#define KOMBO_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#define kb_rawlen(L, i) lua_objlen((L), (i))

static inline void kb_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
	luaL_checkstack(L, nup + 1, "too many upvalues");
	for (; l->name != NULL; l++) {
		int i;
		for (i = 0; i < nup; i++)
			lua_pushvalue(L, -nup);
		lua_pushcclosure(L, l->func, nup);
		lua_setfield(L, -(nup + 2), l->name);
	}
	lua_pop(L, nup);
}

static inline void *kb_testudata(lua_State *L, int i, const char *tname)
{
	void *p = lua_touserdata(L, i);
	if (p == NULL || !lua_getmetatable(L, i))
		return NULL;
	luaL_getmetatable(L, tname);
	if (!lua_rawequal(L, -1, -2))
		p = NULL;
	lua_pop(L, 2);
	return p;
}
#else
#define kb_rawlen(L, i) lua_rawlen((L), (i))
#define kb_setfuncs luaL_setfuncs
#define kb_testudata luaL_testudata
#endif

/* Read t[k] as an optional number; returns dflt when absent. */
static inline lua_Number kb_optfield_number(lua_State *L, int t, const char *k, lua_Number dflt)
{
	lua_Number v = dflt;
	lua_getfield(L, t, k);
	if (!lua_isnil(L, -1))
		v = luaL_checknumber(L, -1);
	lua_pop(L, 1);
	return v;
}

/* Make a metatable named tname whose __index is itself, with methods. */
static inline void kb_newclass(lua_State *L, const char *tname, const luaL_Reg *methods)
{
	luaL_newmetatable(L, tname);
	kb_setfuncs(L, methods, 0);
	lua_pushvalue(L, -1);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
}

/* A 64-bit integer: a Lua integer where Lua has them (5.3+), the nearest
 * number before. */
#if LUA_VERSION_NUM >= 503
#define kb_pushint64(L, v) lua_pushinteger((L), (lua_Integer)(v))
#else
#define kb_pushint64(L, v) lua_pushnumber((L), (lua_Number)(v))
#endif

#endif
