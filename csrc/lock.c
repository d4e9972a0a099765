/* The files a sync's state file needs (sync.lua), where Lua's io cannot:
 *
 * core.lock_file(path) -> lock | false | nil, message: an exclusive
 * flock(2) on path (created when missing), tried once without waiting;
 * false when another process holds it. Lua has no way to lock a file, and
 * a sync's state file shared by processes (overlapping cron runs) needs
 * one. The caller waits between tries in its driver's way (sync.lua), so
 * nothing here blocks.
 *
 * flock, not fcntl: fcntl's locks belong to the process, so a second lock
 * in the same process would succeed and closing any descriptor of the file
 * would drop them; flock's belong to the open file, which this object
 * owns.
 *
 * core.replace_file(path, text) -> true | nil, message: text written to a
 * new file beside path, synced to the disk, then renamed over it, so a
 * reader (or the machine after a power loss) finds the old text or the new
 * one, never part of either.
 * core.can_replace(path) -> true | nil, message: such a file made and
 * removed, to find a folder that takes none before anything is done.
 *
 * The state file's folder may be shared (/tmp): whoever can write it can
 * put a link where a file is opened, so no open here follows one. io.open
 * would write through a link to any file of the user's; the new file is
 * made by mkstemp instead (a fresh name, created exclusively, owner only),
 * which never reuses a file left there, a crash's or anyone's. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdlib.h>
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

/* The path argument at index 1, refused with a NUL (the system would read
 * another path). */
static const char *check_path(lua_State *L, size_t *len)
{
	const char *path = luaL_checklstring(L, 1, len);
	if (strlen(path) != *len)
		luaL_argerror(L, 1, "a path without NUL bytes");
	return path;
}

static int l_lock_file(lua_State *L)
{
	size_t len;
	const char *path = check_path(L, &len);
	kb_lock *k;
	/* The object first, so the descriptor is owned (closed by __gc) from
	 * the moment it exists, whatever raises after. */
	k = lua_newuserdata(L, sizeof *k);
	k->fd = -1;
	luaL_getmetatable(L, KOMBO_LOCK_MT);
	lua_setmetatable(L, -2);
	/* Not inherited by a child process, which would hold the lock on. */
	k->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
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

/* A new file "<path>.tmp.XXXXXX" beside path, open for writing, its name
 * in *name (memory the collector owns); -1 and errno when none can be
 * made. */
static int make_temp(lua_State *L, const char *path, size_t len, char **name)
{
	static const char SUFFIX[] = ".tmp.XXXXXX";
	*name = lua_newuserdata(L, len + sizeof SUFFIX);
	memcpy(*name, path, len);
	memcpy(*name + len, SUFFIX, sizeof SUFFIX);
	return mkstemp(*name);
}

/* The rename on the disk too. Best effort: the state is whole either way,
 * and some file systems cannot sync a folder. Nothing is allocated: the
 * file is in place already, so nothing may raise now. */
static void sync_folder(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
	int fd;
	if (n >= sizeof dir)
		return;
	if (n == 0)
		dir[n++] = '.';
	else
		memcpy(dir, path, n);
	dir[n] = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int l_replace_file(lua_State *L)
{
	size_t len, left;
	const char *path = check_path(L, &len);
	const char *text = luaL_checklstring(L, 2, &left);
	char *tmp;
	int err = 0;
	int fd = make_temp(L, path, len, &tmp);
	if (fd < 0)
		return fail(L, path, errno);
	while (left > 0 && !err) {
		ssize_t n = write(fd, text, left);
		if (n >= 0) {
			text += n;
			left -= (size_t)n;
		} else if (errno != EINTR) {
			err = errno;
		}
	}
	/* On the disk before it takes the old file's name: a machine that loses
	 * power after the rename would otherwise find the name on an empty
	 * file, where the old state was whole. */
	if (!err && fsync(fd) != 0)
		err = errno;
	if (close(fd) != 0 && !err)
		err = errno;
	if (!err && rename(tmp, path) != 0)
		err = errno;
	if (err) {
		unlink(tmp);
		return fail(L, path, err);
	}
	sync_folder(path);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_can_replace(lua_State *L)
{
	size_t len;
	const char *path = check_path(L, &len);
	char *tmp;
	int fd = make_temp(L, path, len, &tmp);
	if (fd < 0)
		return fail(L, path, errno);
	close(fd);
	unlink(tmp);
	lua_pushboolean(L, 1);
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
		{ "replace_file", l_replace_file },
		{ "can_replace", l_can_replace },
		{ NULL, NULL },
	};
	kb_newclass(L, KOMBO_LOCK_MT, methods);
	kb_setfuncs(L, fns, 0);
}
