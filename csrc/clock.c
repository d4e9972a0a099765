/* Clocks and the blocking sleep the plain-Lua drivers wait with. The
 * policy never calls these: it is handed the times it needs. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <time.h>
#include "core.h"

static double ms_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

double kombo_now_ms(void)
{
	return ms_of(CLOCK_MONOTONIC);
}

/* core.now_ms() -> monotonic milliseconds, for elapsed times */
static int l_now_ms(lua_State *L)
{
	lua_pushnumber(L, kombo_now_ms());
	return 1;
}

/* core.time_ms() -> wall-clock epoch milliseconds, for HTTP dates */
static int l_time_ms(lua_State *L)
{
	lua_pushnumber(L, ms_of(CLOCK_REALTIME));
	return 1;
}

/* core.sleep_ms(ms): blocks the calling thread; only the blocking driver
 * uses it. */
static int l_sleep_ms(lua_State *L)
{
	lua_Number ms = luaL_checknumber(L, 1);
	struct timespec ts;
	if (ms <= 0)
		return 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - (lua_Number)ts.tv_sec * 1000) * 1e6);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	return 0;
}

void kombo_clock_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "now_ms", l_now_ms },
		{ "time_ms", l_time_ms },
		{ "sleep_ms", l_sleep_ms },
		{ NULL, NULL },
	};
	kb_setfuncs(L, fns, 0);
}
