/* core.retry_policy(config): the `retries` option of kombo.new and of a
 * call, checked field by field and turned into the policy object that
 * policy.c's decide and timeout read. A wrong value is reported as the
 * field's path and what it should be, never raised.
 *
 *   core.retry_policy(config)        -> policy | nil, field, expected
 */
#include <stdio.h>
#include <string.h>
#include "core.h"
#include "policy.h"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Field paths are short; a longer unknown key is cut, never overflows. */
#define FIELD_MAX 96

static const char *const CONFIG_KEYS[] = {
	"strategy", "backoff", "retry_connection_errors", "retry_codes", "retry_writes", "max_attempts",
	NULL,
};
static const char *const BACKOFF_KEYS[] = {
	"initial_interval", "max_interval", "exponent", "max_elapsed_time", NULL,
};

static int invalid(lua_State *L, const char *field, const char *expected)
{
	lua_pushnil(L);
	lua_pushstring(L, field);
	lua_pushstring(L, expected);
	return 3;
}

/* 1 when every key of the table at t is in known; otherwise writes the
 * path of the first stranger into field. */
static int only_known_keys(lua_State *L, int t, const char *const *known, const char *prefix,
			   char *field)
{
	lua_pushnil(L);
	while (lua_next(L, t)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TSTRING) {
			const char *k = lua_tostring(L, -1);
			int j;
			for (j = 0; known[j] != NULL; j++)
				if (strcmp(k, known[j]) == 0)
					break;
			if (known[j] == NULL) {
				snprintf(field, FIELD_MAX, "%s.%s", prefix, k);
				lua_pop(L, 1);
				return 0;
			}
		} else {
			if (lua_type(L, -1) == LUA_TNUMBER)
				snprintf(field, FIELD_MAX, "%s[%.14g]", prefix, (double)lua_tonumber(L, -1));
			else
				snprintf(field, FIELD_MAX, "%s[%s]", prefix, luaL_typename(L, -1));
			lua_pop(L, 1);
			return 0;
		}
	}
	return 1;
}

/* Reads t[k] when present: a finite number >= min. 0 when it is not. */
static int number_field(lua_State *L, int t, const char *k, double min, double *out)
{
	int ok = 1;
	lua_getfield(L, t, k);
	if (!lua_isnil(L, -1)) {
		double v = (double)lua_tonumber(L, -1);
		ok = lua_type(L, -1) == LUA_TNUMBER && kb_is_finite(v) && v >= min;
		if (ok)
			*out = v;
	}
	lua_pop(L, 1);
	return ok;
}

static int boolean_field(lua_State *L, int t, const char *k, int *out)
{
	int ok = 1;
	lua_getfield(L, t, k);
	if (!lua_isnil(L, -1)) {
		ok = lua_type(L, -1) == LUA_TBOOLEAN;
		if (ok)
			*out = lua_toboolean(L, -1);
	}
	lua_pop(L, 1);
	return ok;
}

/* One retry_codes element (on top of the stack): 429 or "429" or "5XX". */
static int add_code(lua_State *L, kb_policy *p)
{
	if (lua_type(L, -1) == LUA_TNUMBER) {
		double v = (double)lua_tonumber(L, -1);
		int code = (int)v;
		if (!(v >= KOMBO_MIN_CODE && v <= KOMBO_MAX_CODE) || (double)code != v)
			return 0;
		p->codes[code] = 1;
		return 1;
	}
	if (lua_type(L, -1) == LUA_TSTRING) {
		size_t len;
		const char *s = lua_tolstring(L, -1, &len);
		int code, i;
		if (len != 3 || s[0] < '1' || s[0] > '5')
			return 0;
		if (kb_lower(s[1]) == 'x' && kb_lower(s[2]) == 'x') {
			for (i = 0; i < 100; i++)
				p->codes[(s[0] - '0') * 100 + i] = 1;
			return 1;
		}
		if (!is_digit(s[1]) || !is_digit(s[2]))
			return 0;
		code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
		p->codes[code] = 1;
		return 1;
	}
	return 0;
}

static int read_codes(lua_State *L, int t, kb_policy *p, char *field)
{
	int n, i, count = 0;
	lua_getfield(L, t, "retry_codes");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return 1;
	}
	strcpy(field, "retries.retry_codes");
	if (lua_type(L, -1) != LUA_TTABLE) {
		lua_pop(L, 1);
		return 0;
	}
	memset(p->codes, 0, sizeof p->codes);
	n = (int)kb_rawlen(L, -1);
	for (i = 1; i <= n; i++) {
		int ok;
		lua_rawgeti(L, -1, i);
		ok = add_code(L, p);
		lua_pop(L, 1);
		if (!ok) {
			snprintf(field, FIELD_MAX, "retries.retry_codes[%d]", i);
			lua_pop(L, 1);
			return 0;
		}
	}
	/* Keys other than 1..n would be silently ignored: refuse them. */
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pop(L, 1);
		count++;
	}
	lua_pop(L, 1);
	return count == n;
}

static const char CODES_EXPECTED[] =
	"an array of status codes 100..599 or strings like \"429\" or \"5XX\"";

/* Validates config (at index 1, a table) into p; on a bad value pushes
 * nil, field, expected and returns 3, else returns 0. */
static int read_config(lua_State *L, kb_policy *p)
{
	char field[FIELD_MAX];
	lua_getfield(L, 1, "strategy");
	if (!lua_isnil(L, -1)) {
		const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		if (strcmp(s, "backoff") == 0)
			p->backoff = 1;
		else if (strcmp(s, "none") == 0)
			p->backoff = 0;
		else
			return invalid(L, "retries.strategy", "\"backoff\" or \"none\"");
	}
	lua_pop(L, 1);

	lua_getfield(L, 1, "backoff");
	if (!lua_isnil(L, -1)) {
		int b = lua_gettop(L);
		if (lua_type(L, b) != LUA_TTABLE)
			return invalid(L, "retries.backoff", "a table");
		if (!number_field(L, b, "initial_interval", 0, &p->initial_ms))
			return invalid(L, "retries.backoff.initial_interval", "a number >= 0 (ms)");
		if (!number_field(L, b, "max_interval", 0, &p->max_interval_ms))
			return invalid(L, "retries.backoff.max_interval", "a number >= 0 (ms)");
		if (!number_field(L, b, "exponent", 1, &p->exponent))
			return invalid(L, "retries.backoff.exponent", "a number >= 1");
		/* 0 would end every call before its first attempt. */
		if (!number_field(L, b, "max_elapsed_time", 0, &p->max_elapsed_ms) || p->max_elapsed_ms <= 0)
			return invalid(L, "retries.backoff.max_elapsed_time", "a number > 0 (ms)");
		if (!only_known_keys(L, b, BACKOFF_KEYS, "retries.backoff", field))
			return invalid(L, field,
				       "one of initial_interval, max_interval, exponent, max_elapsed_time");
	}
	lua_pop(L, 1);

	if (!number_field(L, 1, "max_attempts", 1, &p->max_attempts) || p->max_attempts > KOMBO_MAX_ATTEMPT ||
	    p->max_attempts != (double)(unsigned long long)p->max_attempts)
		return invalid(L, "retries.max_attempts", "a whole number >= 1");
	if (!boolean_field(L, 1, "retry_connection_errors", &p->retry_connection_errors))
		return invalid(L, "retries.retry_connection_errors", "a boolean");
	if (!boolean_field(L, 1, "retry_writes", &p->retry_writes))
		return invalid(L, "retries.retry_writes", "a boolean");
	if (!read_codes(L, 1, p, field))
		return invalid(L, field, CODES_EXPECTED);
	if (!only_known_keys(L, 1, CONFIG_KEYS, "retries", field))
		return invalid(L, field,
			       "one of strategy, backoff, retry_connection_errors, retry_codes, retry_writes, "
			       "max_attempts");
	return 0;
}

static int l_retry_policy(lua_State *L)
{
	kb_policy p, *ud;
	memset(&p, 0, sizeof p);
	p.backoff = 1;
	p.initial_ms = 500;
	p.max_interval_ms = 60000;
	p.exponent = 1.5;
	/* A cron script against a dead server gives up within a minute (the
	 * attempt cap), and a rate-limited one still waits out a Retry-After
	 * of a minute or two (the time budget). README "Retries". */
	p.max_elapsed_ms = 300000;
	p.max_attempts = 10;
	p.retry_connection_errors = 1;
	p.retry_writes = 0;
	p.codes[429] = p.codes[500] = p.codes[502] = p.codes[503] = p.codes[504] = 1;
	if (lua_isnoneornil(L, 1)) {
		lua_settop(L, 0);
		lua_newtable(L);
	}
	if (lua_type(L, 1) != LUA_TTABLE)
		return invalid(L, "retries", "a table");
	lua_settop(L, 1);
	if (read_config(L, &p))
		return 3;
	ud = lua_newuserdata(L, sizeof *ud);
	*ud = p;
	luaL_getmetatable(L, KOMBO_POLICY_MT);
	lua_setmetatable(L, -2);
	return 1;
}

int kombo_policy_tostring(lua_State *L)
{
	const kb_policy *p = luaL_checkudata(L, 1, KOMBO_POLICY_MT);
	char s[256];
	if (!p->backoff)
		snprintf(s, sizeof s, KOMBO_POLICY_MT " (none)");
	else
		snprintf(s, sizeof s,
			 KOMBO_POLICY_MT " (backoff %.15g..%.15g ms x%.15g, max_elapsed_time %.15g ms, "
				   "max_attempts %.0f%s%s)",
			 p->initial_ms, p->max_interval_ms, p->exponent, p->max_elapsed_ms, p->max_attempts,
			 p->retry_connection_errors ? "" : ", no connection retries",
			 p->retry_writes ? ", retry_writes" : "");
	lua_pushstring(L, s);
	return 1;
}

void kombo_retries_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "retry_policy", l_retry_policy },
		{ NULL, NULL },
	};
	kb_setfuncs(L, fns, 0);
}
