/* core.lock_file(path) -> lock | false | nil, message: an exclusive
 * flock(2) on path (created when missing), tried once without waiting;
 * false when another process holds it. Lua has no way to lock a file, and
 * a sync's state file shared by processes (overlapping cron runs) needs
 * one. The caller waits between tries in its driver's way (sync.lua), so
 * nothing here blocks.
 *
 * flock, not fcntl: fcntl's locks belong to the process, so a second lock
 * in the same process would succeed and closing any descriptor of the file
 * would drop them; flock's belong to the open file, which this object
 * owns. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include "core.h"

#define KOMBO_LOCK_MT "kombo.lock"

typedef struct {
	int fd; /* -1 once unlocked */
} kb_lock;

static int fail(lua_State *L, const char *path, int err)
{
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", path, strerror(err));
	return 2;
}

static int l_lock_file(lua_State *L)
{
	size_t len;
	const char *path = luaL_checklstring(L, 1, &len);
	kb_lock *k;
	if (strlen(path) != len)
		return luaL_argerror(L, 1, "a path without NUL bytes");
	/* The object first, so the descriptor is owned (closed by __gc) from
	 * the moment it exists, whatever raises after. */
	k = lua_newuserdata(L, sizeof *k);
	k->fd = -1;
	luaL_getmetatable(L, KOMBO_LOCK_MT);
	lua_setmetatable(L, -2);
	/* Not inherited by a child process, which would hold the lock on. */
	k->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (k->fd < 0)
		return fail(L, path, errno);
	if (flock(k->fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		close(k->fd);
		k->fd = -1;
		if (err != EWOULDBLOCK)
			return fail(L, path, err);
		lua_pushboolean(L, 0);
	}
	return 1;
}

/* lock:unlock(); also __gc, so a lock dropped without it is released. */
static int l_unlock(lua_State *L)
{
	kb_lock *k = luaL_checkudata(L, 1, KOMBO_LOCK_MT);
	if (k->fd >= 0) {
		close(k->fd);
		k->fd = -1;
	}
	return 0;
}

void kombo_lock_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "unlock", l_unlock },
		{ "__gc", l_unlock },
		{ NULL, NULL },
	};
	static const luaL_Reg fns[] = {
		{ "lock_file", l_lock_file },
		{ NULL, NULL },
	};
	kb_newclass(L, KOMBO_LOCK_MT, methods);
	kb_setfuncs(L, fns, 0);
}
