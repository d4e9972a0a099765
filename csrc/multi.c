/* The multi object ("kombo.multi"): runs several easy handles' transfers at once
 * on one libcurl multi handle, for kombo.spawn/run and event-loop drivers.
 * It never waits longer than the caller allows and never calls into Lua
 * while libcurl is running, so a driver can yield between calls. */
#include <curl/curl.h>
#include <string.h>
#include "easy.h"

typedef struct {
	CURLM *multi;  /* NULL once closed */
	int pending;   /* registry ref: lightuserdata(easy) -> {easy, req, token} */
	int running;
} kb_multi;

static kb_multi *check_multi(lua_State *L, int idx)
{
	kb_multi *m = luaL_checkudata(L, idx, KOMBO_MULTI_MT);
	if (m->multi == NULL)
		luaL_error(L, "attempt to use a closed kombo multi");
	return m;
}

/* core.multi() -> multi */
static int l_multi_new(lua_State *L)
{
	kb_multi *m = lua_newuserdata(L, sizeof *m);
	memset(m, 0, sizeof *m);
	m->pending = LUA_NOREF;
	luaL_getmetatable(L, KOMBO_MULTI_MT);
	lua_setmetatable(L, -2);
	lua_newtable(L);
	m->pending = luaL_ref(L, LUA_REGISTRYINDEX);
	m->multi = curl_multi_init();
	if (m->multi == NULL)
		return luaL_error(L, "curl_multi_init failed");
	return 1;
}

/* multi:add(easy, req, token, held): starts req on the easy handle. The
 * easy handle, req (whose body libcurl reads in place) and token are kept
 * reachable until the transfer completes. A held transfer (a page fetched
 * ahead) runs without libcurl's timeout: the scheduler counts its own, and
 * ends it with multi:remove. */
static int l_add(lua_State *L)
{
	kb_multi *m = check_multi(L, 1);
	kb_easy *c = kombo_easy_check(L, 2);
	CURLMcode rc;
	if (c->busy)
		return luaL_error(L, "kombo easy handle is busy with another transfer");
	luaL_checkany(L, 4);
	kombo_easy_prepare(L, c, 3, lua_toboolean(L, 5));
	/* The scheduler finishes every transfer of a batch before their tasks
	 * run, and a prefetched page waits for its walk: as text it holds
	 * several times less memory than decoded, so it stays text until its
	 * task takes it. */
	c->decode = 0;
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, (void *)c);
	/* The entry before libcurl has the handle: what allocates may run a
	 * finalizer that raises (5.1, 5.3, LuaJIT), and a handle in the multi
	 * without its entry would finish for nobody, its task woken twice. */
	lua_rawgeti(L, LUA_REGISTRYINDEX, m->pending);
	lua_pushlightuserdata(L, c);
	lua_createtable(L, 3, 0);
	lua_pushvalue(L, 2);
	lua_rawseti(L, -2, 1);
	lua_pushvalue(L, 3);
	lua_rawseti(L, -2, 2);
	lua_pushvalue(L, 4);
	lua_rawseti(L, -2, 3);
	lua_rawset(L, -3);
	rc = curl_multi_add_handle(m->multi, c->easy);
	if (rc != CURLM_OK) {
		lua_pushlightuserdata(L, c);
		lua_pushnil(L);
		lua_rawset(L, -3); /* assigning nil allocates nothing */
		return luaL_error(L, "curl_multi_add_handle: %s", curl_multi_strerror(rc));
	}
	c->busy = 1;
	lua_pop(L, 1);
	return 0;
}

/* Moves what libcurl finished into completions (at -2, pending at -1),
 * numbered after the n already there; returns the new count. */
static int collect(lua_State *L, kb_multi *m, int n)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
		kb_easy *c = NULL;
		int nres;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		curl_multi_remove_handle(m->multi, msg->easy_handle);
		c->busy = 0;
		lua_createtable(L, 3, 0);                  /* entry */
		lua_pushlightuserdata(L, c);
		lua_rawget(L, -3);                         /* {easy, req, token} */
		lua_rawgeti(L, -1, 3);
		lua_rawseti(L, -3, 1);                     /* entry[1] = token */
		lua_pop(L, 1);
		nres = kombo_easy_finish(L, c, msg->data.result);
		if (nres == 1) {
			lua_rawseti(L, -2, 2);
		} else {
			lua_rawseti(L, -3, 3);
			lua_pop(L, 1);             /* the nil */
		}
		lua_rawseti(L, -3, ++n);                   /* completions[n] = entry */
		lua_pushlightuserdata(L, c);
		lua_pushnil(L);
		lua_rawset(L, -3);                         /* pending[c] = nil */
	}
	return n;
}

/* multi:perform(wait_ms) -> completions, running
 * Drives every transfer and returns an array of { token, response } or
 * { token, nil, failure } for the transfers that finished. Waits at most
 * wait_ms for activity (0: do not wait), and only when nothing had
 * finished already: an answer that came in while the tasks ran is theirs
 * now, not after whatever another transfer takes. */
static int l_perform(lua_State *L)
{
	kb_multi *m = check_multi(L, 1);
	int wait_ms = (int)luaL_optnumber(L, 2, 0);
	int n;
	CURLMcode rc;

	lua_newtable(L);                                   /* completions */
	lua_rawgeti(L, LUA_REGISTRYINDEX, m->pending);     /* pending */
	rc = curl_multi_perform(m->multi, &m->running);
	if (rc != CURLM_OK)
		return luaL_error(L, "curl_multi_perform: %s", curl_multi_strerror(rc));
	n = collect(L, m, 0);
	if (n == 0 && m->running > 0 && wait_ms > 0) {
		rc = curl_multi_poll(m->multi, NULL, 0, wait_ms, NULL);
		if (rc == CURLM_OK)
			rc = curl_multi_perform(m->multi, &m->running);
		if (rc != CURLM_OK)
			return luaL_error(L, "curl_multi_perform: %s", curl_multi_strerror(rc));
		collect(L, m, 0);
	}
	lua_pop(L, 1);
	lua_pushinteger(L, m->running);
	return 2;
}

/* multi:remove(easy[, ms]): abandons easy's transfer (a prefetch nobody
 * will read): libcurl closes its connection, the handle is free again.
 * With ms, a held transfer whose timeout ran out after ms counted: returns
 * nil and its timeout failure. */
static int l_remove(lua_State *L)
{
	kb_multi *m = check_multi(L, 1);
	kb_easy *c = kombo_easy_check(L, 2);
	int timed_out = !lua_isnoneornil(L, 3);
	double ms = timed_out ? luaL_checknumber(L, 3) : 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, m->pending);
	lua_pushlightuserdata(L, c);
	lua_rawget(L, -2);
	if (lua_isnil(L, -1))
		return 0; /* not this multi's, or already finished */
	lua_pop(L, 1);
	curl_multi_remove_handle(m->multi, c->easy);
	lua_pushlightuserdata(L, c);
	lua_pushnil(L);
	lua_rawset(L, -3);
	if (!timed_out) {
		kombo_easy_abandon(c);
		return 0;
	}
	kombo_easy_time_out(c, ms);
	return kombo_easy_finish(L, c, CURLE_OPERATION_TIMEDOUT);
}

static int l_close(lua_State *L)
{
	kb_multi *m = luaL_checkudata(L, 1, KOMBO_MULTI_MT);
	if (m->multi == NULL)
		return 0;
	/* Abandon what is still in flight: detach each easy handle so its
	 * handle can be used or closed again. */
	lua_rawgeti(L, LUA_REGISTRYINDEX, m->pending);
	lua_pushnil(L);
	while (lua_next(L, -2) != 0) {
		kb_easy *c = lua_touserdata(L, -2);
		if (c->easy != NULL)
			curl_multi_remove_handle(m->multi, c->easy);
		c->busy = 0;
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	curl_multi_cleanup(m->multi);
	m->multi = NULL;
	luaL_unref(L, LUA_REGISTRYINDEX, m->pending);
	m->pending = LUA_NOREF;
	return 0;
}

static int l_tostring(lua_State *L)
{
	kb_multi *m = luaL_checkudata(L, 1, KOMBO_MULTI_MT);
	lua_pushfstring(L, "kombo.multi (%s%p)", m->multi ? "" : "closed ", (void *)m);
	return 1;
}

void kombo_multi_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "add", l_add },
		{ "perform", l_perform },
		{ "remove", l_remove },
		KB_CLOSABLE(l_close, l_tostring),
		{ NULL, NULL },
	};
	static const luaL_Reg fns[] = {
		{ "multi", l_multi_new },
		{ NULL, NULL },
	};
	kb_newclass(L, KOMBO_MULTI_MT, methods);
	kb_setfuncs(L, fns, 0);
}
