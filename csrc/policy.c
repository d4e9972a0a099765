/* The retry policy's decisions, without I/O. Every driver (blocking curl,
 * tasks, OpenResty, libuv) asks the same questions here: try this attempt
 * again or not, how long to wait first, how long the next attempt may take.
 * Nothing here reads a clock, sleeps or touches the network: the caller
 * hands in the attempt number, the elapsed time, the wall clock and a
 * random number, so every decision is a pure function of its inputs and
 * the specs are exact. What a failure is comes from failure.c's table, the
 * server's hints from hints.c, the configuration from retries.c.
 *
 *   policy:decide(t)                 -> delay_ms, reason | nil, reason
 *   policy:timeout(timeout, elapsed) -> timeout_ms | nil
 *   core.is_read(method)             -> boolean
 */
#include <stdio.h>
#include <string.h>
#include "core.h"
#include "failure.h"
#include "hints.h"
#include "policy.h"

/* t[k] as a number, or dflt when absent; anything else is misuse. */
static double opt_number(lua_State *L, int t, const char *k, double dflt)
{
	double v = dflt;
	lua_getfield(L, t, k);
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TNUMBER)
			luaL_error(L, "decide: %s must be a number", k);
		v = (double)lua_tonumber(L, -1);
		if (!kb_is_finite(v))
			luaL_error(L, "decide: %s must be finite", k);
	}
	lua_pop(L, 1);
	return v;
}

/* GET, HEAD and OPTIONS, in any case: the methods that cannot change
 * anything on the server. */
int kombo_is_read(const char *m)
{
	static const char *const READS[] = { "get", "head", "options" };
	size_t k, j, n = strlen(m);
	for (k = 0; k < 3; k++) {
		if (strlen(READS[k]) != n)
			continue;
		for (j = 0; j < n && kb_lower(m[j]) == READS[k][j]; j++)
			;
		if (j == n)
			return 1;
	}
	return 0;
}

static int final(lua_State *L, const char *reason)
{
	lua_pushnil(L);
	lua_pushstring(L, reason);
	return 2;
}

/* Values of a header sent more than once, at most this many, read. */
#define MAX_HEADER_VALUES 64

/* The value of header name, left on the stack (a header table's __index may
 * build a fresh string; keeping it on the stack keeps it alive). A list of
 * values is joined with ", ", as a header sent more than once is, so both
 * count alike (read_hint). NULL when absent or not text. */
static const char *header(lua_State *L, int h, const char *name, size_t *len)
{
	lua_getfield(L, h, name);
	if (lua_type(L, -1) == LUA_TTABLE) {
		int t = lua_gettop(L), i, n = 0;
		luaL_Buffer b;
		luaL_buffinit(L, &b);
		for (i = 1; i <= MAX_HEADER_VALUES; i++) {
			int type;
			lua_rawgeti(L, t, i);
			type = lua_type(L, -1);
			lua_pop(L, 1);
			if (type == LUA_TNIL)
				break;
			if (type != LUA_TSTRING && type != LUA_TNUMBER)
				continue;
			/* Nothing of ours above the buffer while it adds. */
			if (n++ > 0)
				luaL_addstring(&b, ", ");
			lua_rawgeti(L, t, i);
			lua_tostring(L, -1); /* a number as text, in place */
			luaL_addvalue(&b);
		}
		luaL_pushresult(&b);
	}
	if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
		return lua_tolstring(L, -1, len);
	return NULL;
}

enum { HINT_MS, HINT_RETRY_AFTER, HINT_RESET };

/* One value of a hint as a wait: its form (hints.h), 0 when it is none. */
static int parse_hint(int hint, const char *v, size_t len, double now_ms, double *delay)
{
	if (hint == HINT_MS)
		return kombo_parse_delay_ms(v, len, delay);
	if (hint == HINT_RETRY_AFTER)
		return kombo_parse_retry_after(v, len, now_ms, delay);
	return kombo_parse_ratelimit_reset(v, len, now_ms, delay);
}

static size_t part_end(const char *v, size_t len, size_t from)
{
	const char *comma = memchr(v + from, ',', len - from);
	return comma != NULL ? (size_t)(comma - v) : len;
}

/* A hint's value whole, else as the values of a header sent more than once
 * (joined with ", "), the longest wait of them. A part that is no value is
 * read again with the next: an HTTP-date holds a comma. */
static int read_hint(int hint, const char *v, size_t len, double now_ms, double *delay)
{
	size_t from, to;
	int form = parse_hint(hint, v, len, now_ms, delay);
	if (form)
		return form;
	for (from = 0; from < len; from = to + 1) {
		double d;
		int f;
		to = part_end(v, len, from);
		f = parse_hint(hint, v + from, to - from, now_ms, &d);
		if (!f && to < len) {
			size_t two = part_end(v, len, to + 1);
			if ((f = parse_hint(hint, v + from, two - from, now_ms, &d)))
				to = two;
		}
		if (f && (!form || d > *delay))
			form = f, *delay = d;
	}
	return form;
}

/* A server hint for the wait after status, in the order of API.md; writes
 * its description into what. ratelimit-reset describes a quota window and is
 * sent on every response by some servers, so it only counts for a 429. */
static int server_hint(lua_State *L, int h, int status, double now_ms, double *delay,
		       char *what, size_t whatsz)
{
	const char *v;
	size_t len;
	int form;
	if ((v = header(L, h, "retry-after-ms", &len)) && read_hint(HINT_MS, v, len, now_ms, delay)) {
		snprintf(what, whatsz, "retry-after-ms %.0f ms", *delay);
		return 1;
	}
	if ((v = header(L, h, "retry-after", &len)) && (form = read_hint(HINT_RETRY_AFTER, v, len, now_ms, delay))) {
		if (form == 1)
			snprintf(what, whatsz, "Retry-After %.15g s", *delay / 1000.0);
		else
			snprintf(what, whatsz, "Retry-After date, %.0f ms", *delay);
		return 1;
	}
	if (status == 429 && (v = header(L, h, "ratelimit-reset", &len)) &&
	    read_hint(HINT_RESET, v, len, now_ms, delay)) {
		snprintf(what, whatsz, "ratelimit-reset %.0f ms", *delay);
		return 1;
	}
	return 0;
}

/* initial * exponent^(attempt-1), capped at max_interval. Exponentiation by
 * squaring: no libm, and a huge attempt number costs 53 steps at most;
 * an overflow to inf is capped like any large value (initial > 0 here, so
 * no 0 * inf). */
static double backoff_ms(const kb_policy *p, double attempt)
{
	double n = attempt - 1, base = p->exponent, f = 1, b;
	if (p->initial_ms == 0)
		return 0;
	while (n >= 1) {
		double half = (double)(unsigned long long)(n / 2);
		if (n - 2 * half >= 1)
			f *= base;
		base *= base;
		n = half;
	}
	b = p->initial_ms * f;
	return b < p->max_interval_ms ? b : p->max_interval_ms;
}

static int l_decide(lua_State *L)
{
	const kb_policy *p = luaL_checkudata(L, 1, KOMBO_POLICY_MT);
	const kb_failure *f = NULL;
	const char *method;
	char what[128], reason[256];
	int status = 0, has_status = 0, sent = 1, read, hinted = 0;
	double attempt, elapsed, attempt_ms, now_ms, rnd, delay = 0, backoff;
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);

	lua_getfield(L, 2, "method");
	if (lua_type(L, -1) != LUA_TSTRING)
		return luaL_error(L, "decide: method must be a string");
	method = lua_tostring(L, -1); /* stays on the stack */
	read = kombo_is_read(method);
	attempt = opt_number(L, 2, "attempt", -1);
	if (attempt < 1)
		return luaL_error(L, "decide: attempt must be a number >= 1");
	if (attempt > KOMBO_MAX_ATTEMPT)
		attempt = KOMBO_MAX_ATTEMPT;
	attempt = (double)(unsigned long long)attempt;
	elapsed = opt_number(L, 2, "elapsed_ms", 0);
	/* How long the attempt just made took: the next one likely needs as
	 * much, and one that cannot finish inside the budget is not started. */
	attempt_ms = opt_number(L, 2, "attempt_ms", 0);
	if (attempt_ms < 0)
		attempt_ms = 0;
	/* Without a clock HTTP-dates and epoch resets cannot be resolved. */
	now_ms = opt_number(L, 2, "now_ms", -1);
	/* The midpoint when the caller has no random source. */
	rnd = opt_number(L, 2, "random", 0.5);
	if (rnd < 0 || rnd > 1)
		return luaL_error(L, "decide: random must be in [0, 1]");

	lua_getfield(L, 2, "status");
	if (!lua_isnil(L, -1)) {
		double v = (double)lua_tonumber(L, -1);
		if (lua_type(L, -1) != LUA_TNUMBER || !(v >= 0 && v <= 999) || (double)(int)v != v)
			return luaL_error(L, "decide: status must be an integer HTTP status");
		status = (int)v;
		has_status = 1;
	}
	lua_pop(L, 1);

	/* A failure is named by its reason in the table of failure.c. */
	lua_getfield(L, 2, "failure");
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) == LUA_TSTRING)
			f = kombo_failure(lua_tostring(L, -1));
		if (f == NULL)
			return luaL_error(L, "decide: failure must be nil or a failure reason");
	}
	lua_pop(L, 1);
	if (f == NULL && !has_status)
		return luaL_error(L, "decide: one of status or failure is required");

	/* Unknown means it may have been sent: only an explicit false makes a
	 * failed write safe to repeat. The table knows better for some. */
	lua_getfield(L, 2, "sent");
	if (!lua_isnil(L, -1)) {
		luaL_checktype(L, -1, LUA_TBOOLEAN);
		sent = lua_toboolean(L, -1);
	}
	lua_pop(L, 1);
	if (f != NULL && f->sent >= 0)
		sent = f->sent;

	if (!p->backoff)
		return final(L, "retries are off (strategy none)");

	if (f != NULL) {
		int timeout = strcmp(f->kind, "timeout") == 0;
		if (f->final) {
			snprintf(reason, sizeof reason, "%s cannot succeed on a second try", f->reason);
			return final(L, reason);
		}
		if (!p->retry_connection_errors) {
			snprintf(reason, sizeof reason, "%s and retry_connection_errors is off",
				 timeout ? "timeout" : "connection failed");
			return final(L, reason);
		}
		/* A write that may have reached the server may have run. */
		if (!read && sent && !p->retry_writes) {
			snprintf(reason, sizeof reason,
				 "%s after the request was sent; %.16s may have run and is retried only "
				 "with retry_writes",
				 timeout ? "timeout" : "connection failed", method);
			return final(L, reason);
		}
		if (timeout)
			snprintf(what, sizeof what, "%s", sent ? "timeout" : "timeout before the request was sent");
		else
			snprintf(what, sizeof what, "connection failed (%s) %s the request was sent", f->reason,
				 sent ? "after" : "before");
	} else {
		if (status < 400 || status > KOMBO_MAX_CODE || !p->codes[status]) {
			snprintf(reason, sizeof reason, "status %d is not retryable", status);
			return final(L, reason);
		}
		/* A 429 means the server refused before acting: safe for writes. */
		if (!read && status != 429 && !p->retry_writes) {
			snprintf(reason, sizeof reason,
				 "status %d on %.16s is not retried: writes retry only on 429 unless "
				 "retry_writes is set",
				 status, method);
			return final(L, reason);
		}
		snprintf(what, sizeof what, "status %d", status);
	}

	if (attempt >= p->max_attempts) {
		snprintf(reason, sizeof reason, "%s; giving up: max_attempts %.0f reached", what,
			 p->max_attempts);
		return final(L, reason);
	}

	/* Jitter within [backoff/2, backoff]: clients that failed together
	 * spread out, yet none waits less than half the backoff, so the
	 * growth of the schedule is kept. */
	backoff = backoff_ms(p, attempt) * (0.5 + 0.5 * rnd);
	lua_getfield(L, 2, "headers");
	if (f == NULL && lua_type(L, -1) == LUA_TTABLE) {
		char hint[64];
		if (server_hint(L, lua_gettop(L), status, now_ms, &delay, hint, sizeof hint)) {
			size_t wl = strlen(what);
			snprintf(what + wl, sizeof what - wl, ", %s", hint);
			hinted = 1;
		}
	}
	/* The backoff is the floor of every wait: a server that says "0" or
	 * a date in the past must not get a request storm. */
	if (!hinted || delay < backoff) {
		snprintf(reason, sizeof reason, "%s, backoff %.0f ms", what, backoff);
		delay = backoff;
	} else {
		snprintf(reason, sizeof reason, "%s", what);
	}
	if (elapsed + delay > p->max_elapsed_ms) {
		snprintf(reason, sizeof reason,
			 "%s; giving up: the wait of %.0f ms would pass max_elapsed_time %.15g ms", what,
			 delay, p->max_elapsed_ms);
		return final(L, reason);
	}
	if (elapsed + delay + attempt_ms > p->max_elapsed_ms) {
		snprintf(reason, sizeof reason,
			 "%s; giving up: the wait of %.0f ms and another attempt like this one (%.0f ms) "
			 "would pass max_elapsed_time %.15g ms",
			 what, delay, attempt_ms, p->max_elapsed_ms);
		return final(L, reason);
	}
	lua_pushnumber(L, delay);
	lua_pushstring(L, reason);
	return 2;
}

/* policy:timeout(timeout_ms, elapsed_ms) -> the attempt's timeout, clipped
 * to what is left of max_elapsed_time, or nil when nothing is left: a call
 * never outlives its budget by a whole attempt. */
static int l_timeout(lua_State *L)
{
	const kb_policy *p = luaL_checkudata(L, 1, KOMBO_POLICY_MT);
	double timeout = (double)luaL_checknumber(L, 2), elapsed = (double)luaL_checknumber(L, 3);
	double left = p->max_elapsed_ms - elapsed;
	if (p->backoff && left < timeout) {
		if (!(left >= 1)) {
			lua_pushnil(L);
			return 1;
		}
		timeout = left;
	}
	lua_pushnumber(L, timeout);
	return 1;
}

/* core.is_read(method) -> boolean (kombo_is_read) */
static int l_is_read(lua_State *L)
{
	lua_pushboolean(L, kombo_is_read(luaL_checkstring(L, 1)));
	return 1;
}

void kombo_policy_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "decide", l_decide },
		{ "timeout", l_timeout },
		{ "__tostring", kombo_policy_tostring },
		{ NULL, NULL },
	};
	static const luaL_Reg fns[] = {
		{ "is_read", l_is_read },
		{ NULL, NULL },
	};
	kb_newclass(L, KOMBO_POLICY_MT, methods);
	kb_setfuncs(L, fns, 0);
}
