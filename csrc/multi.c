/* The multi object ("kombo.multi"): runs several easy handles' transfers at once
 * on one libcurl multi handle, for kombo.spawn/run and event-loop drivers.
 * It never waits longer than the caller allows and never calls into Lua
 * while libcurl is running, so a driver can yield between calls. */
#include <curl/curl.h>
#include <string.h>
#include "easy.h"
#include "failure.h"

typedef struct {
	CURLM *multi;  /* NULL once closed */
	int pending;   /* registry ref: lightuserdata(easy) -> {easy, req, token} */
	int running;
	/* The transfer being handed over: read off libcurl, not yet among the
	 * completions. Set while an error (a finalizer's, raised by an
	 * allocation) can cut the handing over short; the next try takes it
	 * up again, so no transfer is lost between libcurl and its task. */
	kb_easy *current;
	CURLcode current_rc;
	int current_built; /* its answer was being built: build no more */
} kb_multi;

/* Errors one collection outlasts (each is a finalizer's, and a finalizer
 * runs once) before it leaves the rest for the next perform. */
#define MAX_CUT_SHORT 64

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

/* (multi, completions, pending): moves what libcurl finished into
 * completions as { token, response } or { token, nil, failure }, one
 * transfer at a time: m->current holds it from when it leaves libcurl to
 * when it is among the completions, so a raise in between loses nothing.
 * Run protected (collect). */
static int deliver(lua_State *L)
{
	kb_multi *m = lua_touserdata(L, 1);
	for (;;) {
		kb_easy *c = m->current;
		if (c == NULL) {
			int left;
			CURLMsg *msg = curl_multi_info_read(m->multi, &left);
			if (msg == NULL)
				return 0;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			curl_multi_remove_handle(m->multi, msg->easy_handle);
			c->busy = 0;
			m->current = c;
			m->current_rc = msg->data.result;
			m->current_built = 0;
		}
		lua_createtable(L, 3, 0);                  /* entry */
		lua_pushlightuserdata(L, c);
		lua_rawget(L, 3);                          /* {easy, req, token} */
		lua_rawgeti(L, -1, 3);
		lua_rawseti(L, -3, 1);                     /* entry[1] = token */
		lua_pop(L, 1);
		if (m->current_built) {
			/* An error cut its build short: the answer is gone, and
			 * the request may have done its work at the server. */
			kombo_push_failure(L, kombo_failure("other"),
					   "the answer was lost: an error (a finalizer's) was raised while it was read", 1);
			lua_rawseti(L, -3, 3);
			lua_pop(L, 1);             /* the nil */
		} else {
			m->current_built = 1;
			if (kombo_easy_finish(L, c, m->current_rc) == 1) {
				lua_rawseti(L, -2, 2);
			} else {
				lua_rawseti(L, -3, 3);
				lua_pop(L, 1);     /* the nil */
			}
		}
		lua_rawseti(L, 2, (int)kb_rawlen(L, 2) + 1);
		lua_pushlightuserdata(L, c);
		lua_pushnil(L);
		lua_rawset(L, 3);                          /* pending[c] = nil */
		m->current = NULL;
	}
}

/* Hands over what libcurl finished into completions (at 3, pending at 4).
 * The first error raised meanwhile goes to 5, for the caller to raise once
 * the completions are handed over; after a memory error, or past the
 * cap, what is left waits for the next perform. */
static void collect(lua_State *L, kb_multi *m)
{
	int tries;
	for (tries = 0; tries < MAX_CUT_SHORT; tries++) {
		int status;
		/* deliver, perform's upvalue: made once, so that pushing it
		 * allocates nothing that could raise before it runs. */
		lua_pushvalue(L, lua_upvalueindex(1));
		lua_pushlightuserdata(L, m);
		lua_pushvalue(L, 3);
		lua_pushvalue(L, 4);
		status = lua_pcall(L, 3, 0, 0);
		if (status == 0)
			return;
		if (lua_isnil(L, 5))
			lua_replace(L, 5);
		else
			lua_pop(L, 1);
		if (status == LUA_ERRMEM)
			return;
	}
}

/* multi:perform(wait_ms, completions) -> raised
 * Drives every transfer and appends { token, response } or { token, nil,
 * failure } to completions for each transfer that finished, and returns
 * the first error an allocation raised while they were handed over (a
 * finalizer's), for the caller to raise after handing them on.
 * completions is the caller's, kept across calls: an answer is in it
 * from when it leaves libcurl, and nothing between here and the caller
 * has to allocate to keep it (a raise there would lose it). Waits at most
 * wait_ms for activity (0: do not wait), and only when nothing had
 * finished already: an answer that came in while the tasks ran is theirs
 * now, not after whatever another transfer takes. */
static int l_perform(lua_State *L)
{
	kb_multi *m = check_multi(L, 1);
	int wait_ms = (int)luaL_optnumber(L, 2, 0);
	size_t before;
	CURLMcode rc;

	luaL_checktype(L, 3, LUA_TTABLE);                  /* 3: completions */
	lua_settop(L, 3);
	before = kb_rawlen(L, 3);
	lua_rawgeti(L, LUA_REGISTRYINDEX, m->pending);     /* 4: pending */
	lua_pushnil(L);                                    /* 5: raised */
	rc = curl_multi_perform(m->multi, &m->running);
	if (rc != CURLM_OK)
		return luaL_error(L, "curl_multi_perform: %s", curl_multi_strerror(rc));
	collect(L, m);
	if (kb_rawlen(L, 3) == before && lua_isnil(L, 5) && m->running > 0 && wait_ms > 0) {
		rc = curl_multi_poll(m->multi, NULL, 0, wait_ms, NULL);
		if (rc == CURLM_OK)
			rc = curl_multi_perform(m->multi, &m->running);
		if (rc != CURLM_OK)
			return luaL_error(L, "curl_multi_perform: %s", curl_multi_strerror(rc));
		collect(L, m);
	}
	lua_pushvalue(L, 5);
	return 1;
}

/* multi:remove(easy[, ms]): abandons easy's transfer (a prefetch nobody
 * will read): libcurl closes its connection, the handle is free again.
 * With ms, a held transfer whose timeout ran out after ms counted: returns
 * nil and its timeout failure. The entry goes last: building the failure
 * allocates, and a raise there (a finalizer's) leaves it for a second
 * call to build again. */
static int l_remove(lua_State *L)
{
	kb_multi *m = check_multi(L, 1);
	kb_easy *c = kombo_easy_check(L, 2);
	int timed_out = !lua_isnoneornil(L, 3), pending, n = 0;
	double ms = timed_out ? luaL_checknumber(L, 3) : 0;
	lua_settop(L, 3);
	lua_rawgeti(L, LUA_REGISTRYINDEX, m->pending);
	pending = lua_gettop(L);
	lua_pushlightuserdata(L, c);
	lua_rawget(L, pending);
	if (lua_isnil(L, -1))
		return 0; /* not this multi's, or already finished */
	lua_pop(L, 1);
	if (m->current == c)
		m->current = NULL; /* left libcurl already, handed over to nobody now */
	else
		curl_multi_remove_handle(m->multi, c->easy); /* again: a no-op */
	if (timed_out) {
		kombo_easy_time_out(c, ms);
		n = kombo_easy_finish(L, c, CURLE_OPERATION_TIMEDOUT);
	} else {
		kombo_easy_abandon(c);
	}
	lua_pushlightuserdata(L, c);
	lua_pushnil(L);
	lua_rawset(L, pending);
	return n;
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
	m->current = NULL;
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
	luaL_getmetatable(L, KOMBO_MULTI_MT);
	lua_pushcfunction(L, deliver);
	lua_pushcclosure(L, l_perform, 1);
	lua_setfield(L, -2, "perform");
	lua_pop(L, 1);
}
