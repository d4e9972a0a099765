/* The retry and pagination policy of kombo.core: decisions without I/O.
 *
 * Every driver (blocking curl, tasks, OpenResty, libuv) asks the same
 * questions here: retry this attempt or not, how long to wait first, when to
 * give up, what query fetches the next page. Nothing in this file reads a
 * clock, sleeps or touches the network: the caller hands in the attempt
 * number, the elapsed time, the wall clock and a random number, so every
 * decision is a pure function of its inputs and the specs are exact.
 *
 *   core.retry_policy(config)        -> policy | nil, field, expected
 *   policy:decide(t)                 -> delay_ms, reason | nil, reason
 *   core.next_query(query, cursor)   -> query of the next page | nil
 *   core.parse_retry_after(v, now)   -> delay_ms | nil
 */
#include <stdio.h>
#include <string.h>
#include "core.h"
#include "failure.h"
#include "policy.h"

#define POLICY_MT "kombo.retry_policy"
#define MIN_CODE 100
#define MAX_CODE 599
/* attempt counts beyond 2^53 are not integers any more in a double. */
#define MAX_ATTEMPT 9007199254740992.0

typedef struct {
	int backoff; /* 0 when strategy is "none" */
	double initial_ms, max_interval_ms, exponent, max_elapsed_ms, max_attempts;
	int retry_connection_errors, retry_writes;
	unsigned char codes[MAX_CODE + 1]; /* codes[s]: status s is retryable */
} kb_policy;

static int is_finite(double v)
{
	return v - v == 0; /* false for NaN and both infinities */
}

/* ---- header value parsers: bytes in, no Lua ---------------------------- */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && is_ows(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_ows((*s)[*len - 1]))
		(*len)--;
}

int kombo_parse_decimal(const char *s, size_t len, double *out)
{
	size_t i = 0, fd = 0;
	double v = 0, frac = 0, scale = 1;
	trim(&s, &len);
	while (i < len && is_digit(s[i])) {
		if (v < KOMBO_POLICY_HUGE)
			v = v * 10 + (s[i] - '0');
		i++;
	}
	if (i == 0)
		return 0;
	if (i < len && s[i] == '.') {
		i++;
		/* Digits are summed as an integer and divided once, so "0.1" is
		 * as exact as a double allows; past 15 digits they cannot matter. */
		for (; i < len && is_digit(s[i]); i++, fd++) {
			if (fd < 15) {
				frac = frac * 10 + (s[i] - '0');
				scale *= 10;
			}
		}
		if (fd == 0)
			return 0;
	}
	if (i != len)
		return 0;
	v += frac / scale;
	*out = v > KOMBO_POLICY_HUGE ? KOMBO_POLICY_HUGE : v;
	return 1;
}

int kombo_parse_delay_ms(const char *s, size_t len, double *delay_ms)
{
	return kombo_parse_decimal(s, len, delay_ms);
}

/* A cursor over the bytes of one date. */
typedef struct {
	const char *s;
	size_t len, i;
} kb_cur;

static int lit(kb_cur *c, char ch)
{
	if (c->i < c->len && c->s[c->i] == ch) {
		c->i++;
		return 1;
	}
	return 0;
}

/* Between min and max digits, as an int. */
static int digits(kb_cur *c, int min, int max, int *out)
{
	int n = 0, v = 0;
	while (n < max && c->i < c->len && is_digit(c->s[c->i])) {
		v = v * 10 + (c->s[c->i] - '0');
		c->i++;
		n++;
	}
	*out = v;
	return n >= min;
}

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Index of the word at the cursor in names (case-insensitive; a name must
 * not be followed by another letter), or -1. */
static int word(kb_cur *c, const char *const *names, int n)
{
	int k;
	for (k = 0; k < n; k++) {
		size_t wl = strlen(names[k]), j;
		if (c->len - c->i < wl)
			continue;
		for (j = 0; j < wl; j++)
			if (lower(c->s[c->i + j]) != names[k][j])
				break;
		if (j < wl)
			continue;
		if (c->i + wl < c->len && lower(c->s[c->i + wl]) >= 'a' && lower(c->s[c->i + wl]) <= 'z')
			continue;
		c->i += wl;
		return k;
	}
	return -1;
}

static const char *const DAYS[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
static const char *const LONG_DAYS[] = {
	"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
};
static const char *const MONTHS[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
};

static int month(kb_cur *c, int *m)
{
	int k = word(c, MONTHS, 12);
	*m = k + 1;
	return k >= 0;
}

static int time_of_day(kb_cur *c, int *h, int *mi, int *sec)
{
	/* 60 is a leap second; it is counted like :59 + 1 s. */
	return digits(c, 2, 2, h) && lit(c, ':') && digits(c, 2, 2, mi) && lit(c, ':') &&
	       digits(c, 2, 2, sec) && *h <= 23 && *mi <= 59 && *sec <= 60;
}

static int gmt(kb_cur *c)
{
	static const char *const Z[] = { "gmt" };
	return word(c, Z, 1) == 0;
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil), so no timegm or TZ is involved. */
static long days_from_civil(long y, int m, int d)
{
	long era, yoe, doy, doe;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int kombo_parse_http_date(const char *s, size_t len, double *epoch_s)
{
	static const int MDAYS[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	kb_cur c;
	int y = 0, m = 1, d = 0, h = 0, mi = 0, sec = 0, ok;
	trim(&s, &len);
	c.s = s;
	c.len = len;
	c.i = 0;
	if (word(&c, DAYS, 7) >= 0) {
		if (lit(&c, ',')) {
			/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
			ok = lit(&c, ' ') && digits(&c, 1, 2, &d) && lit(&c, ' ') && month(&c, &m) &&
			     lit(&c, ' ') && digits(&c, 4, 4, &y) && lit(&c, ' ') &&
			     time_of_day(&c, &h, &mi, &sec) && lit(&c, ' ') && gmt(&c);
		} else {
			/* asctime: Sun Nov  6 08:49:37 1994 (day padded with a space) */
			ok = lit(&c, ' ') && month(&c, &m) && lit(&c, ' ');
			if (ok)
				lit(&c, ' ');
			ok = ok && digits(&c, 1, 2, &d) && lit(&c, ' ') &&
			     time_of_day(&c, &h, &mi, &sec) && lit(&c, ' ') && digits(&c, 4, 4, &y);
		}
	} else if (word(&c, LONG_DAYS, 7) >= 0) {
		/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT. A two-digit year is
		 * read as 1970..2069: dates from these servers are near "now". */
		ok = lit(&c, ',') && lit(&c, ' ') && digits(&c, 1, 2, &d) && lit(&c, '-') &&
		     month(&c, &m) && lit(&c, '-') && digits(&c, 2, 2, &y) && lit(&c, ' ') &&
		     time_of_day(&c, &h, &mi, &sec) && lit(&c, ' ') && gmt(&c);
		y += y < 70 ? 2000 : 1900;
	} else {
		return 0;
	}
	if (!ok || c.i != c.len || d < 1 || d > MDAYS[m - 1] + (m == 2 && leap(y)))
		return 0;
	*epoch_s = (double)days_from_civil(y, m, d) * 86400.0 + h * 3600.0 + mi * 60.0 + sec;
	return 1;
}

static int have_clock(double now_ms)
{
	return is_finite(now_ms) && now_ms >= 0;
}

/* Which form Retry-After had: 0 none, 1 delay-seconds, 2 HTTP-date. */
static int retry_after(const char *s, size_t len, double now_ms, double *delay_ms)
{
	double v;
	if (kombo_parse_decimal(s, len, &v)) {
		*delay_ms = v * 1000.0;
		return 1;
	}
	if (have_clock(now_ms) && kombo_parse_http_date(s, len, &v)) {
		v = v * 1000.0 - now_ms;
		*delay_ms = v > 0 ? v : 0;
		return 2;
	}
	return 0;
}

int kombo_parse_retry_after(const char *s, size_t len, double now_ms, double *delay_ms)
{
	return retry_after(s, len, now_ms, delay_ms) != 0;
}

int kombo_parse_ratelimit_reset(const char *s, size_t len, double now_ms, double *delay_ms)
{
	double v;
	if (!kombo_parse_decimal(s, len, &v))
		return 0;
	if (v > 1e9) {
		if (!have_clock(now_ms))
			return 0;
		v = v * 1000.0 - now_ms;
		*delay_ms = v > 0 ? v : 0;
		return 1;
	}
	*delay_ms = v * 1000.0;
	return 1;
}

/* ---- core.retry_policy(config) ----------------------------------------- */

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
		ok = lua_type(L, -1) == LUA_TNUMBER && is_finite(v) && v >= min;
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
		if (!(v >= MIN_CODE && v <= MAX_CODE) || (double)code != v)
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
		if (lower(s[1]) == 'x' && lower(s[2]) == 'x') {
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
		if (!number_field(L, b, "max_elapsed_time", 0, &p->max_elapsed_ms))
			return invalid(L, "retries.backoff.max_elapsed_time", "a number >= 0 (ms)");
		if (!only_known_keys(L, b, BACKOFF_KEYS, "retries.backoff", field))
			return invalid(L, field,
				       "one of initial_interval, max_interval, exponent, max_elapsed_time");
	}
	lua_pop(L, 1);

	if (!number_field(L, 1, "max_attempts", 1, &p->max_attempts) || p->max_attempts > MAX_ATTEMPT ||
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
	luaL_getmetatable(L, POLICY_MT);
	lua_setmetatable(L, -2);
	return 1;
}

/* ---- policy:decide(t) -------------------------------------------------- */

/* t[k] as a number, or dflt when absent; anything else is misuse. */
static double opt_number(lua_State *L, int t, const char *k, double dflt)
{
	double v = dflt;
	lua_getfield(L, t, k);
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TNUMBER)
			luaL_error(L, "decide: %s must be a number", k);
		v = (double)lua_tonumber(L, -1);
		if (!is_finite(v))
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
		for (j = 0; j < n && lower(m[j]) == READS[k][j]; j++)
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

/* The value of header name, left on the stack (a header table's __index may
 * build a fresh string; keeping it on the stack keeps it alive). A list of
 * values counts by its first one. NULL when absent or not text. */
static const char *header(lua_State *L, int h, const char *name, size_t *len)
{
	lua_getfield(L, h, name);
	if (lua_type(L, -1) == LUA_TTABLE)
		lua_rawgeti(L, -1, 1);
	if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
		return lua_tolstring(L, -1, len);
	return NULL;
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
	if ((v = header(L, h, "retry-after-ms", &len)) && kombo_parse_delay_ms(v, len, delay)) {
		snprintf(what, whatsz, "retry-after-ms %.0f ms", *delay);
		return 1;
	}
	if ((v = header(L, h, "retry-after", &len)) && (form = retry_after(v, len, now_ms, delay))) {
		if (form == 1)
			snprintf(what, whatsz, "Retry-After %.15g s", *delay / 1000.0);
		else
			snprintf(what, whatsz, "Retry-After date, %.0f ms", *delay);
		return 1;
	}
	if (status == 429 && (v = header(L, h, "ratelimit-reset", &len)) &&
	    kombo_parse_ratelimit_reset(v, len, now_ms, delay)) {
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
	const kb_policy *p = luaL_checkudata(L, 1, POLICY_MT);
	const kb_failure *f = NULL;
	const char *method;
	char what[128], reason[256];
	int status = 0, has_status = 0, sent = 1, read, hinted = 0;
	double attempt, elapsed, now_ms, rnd, delay = 0, backoff;
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
	if (attempt > MAX_ATTEMPT)
		attempt = MAX_ATTEMPT;
	attempt = (double)(unsigned long long)attempt;
	elapsed = opt_number(L, 2, "elapsed_ms", 0);
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
		if (status < 400 || status > MAX_CODE || !p->codes[status]) {
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
	lua_pushnumber(L, delay);
	lua_pushstring(L, reason);
	return 2;
}

/* policy:timeout(timeout_ms, elapsed_ms) -> the attempt's timeout, clipped
 * to what is left of max_elapsed_time, or nil when nothing is left: a call
 * never outlives its budget by a whole attempt. */
static int l_timeout(lua_State *L)
{
	const kb_policy *p = luaL_checkudata(L, 1, POLICY_MT);
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

static int l_policy_tostring(lua_State *L)
{
	const kb_policy *p = luaL_checkudata(L, 1, POLICY_MT);
	char s[256];
	if (!p->backoff)
		snprintf(s, sizeof s, POLICY_MT " (none)");
	else
		snprintf(s, sizeof s,
			 POLICY_MT " (backoff %.15g..%.15g ms x%.15g, max_elapsed_time %.15g ms, "
				   "max_attempts %.0f%s%s)",
			 p->initial_ms, p->max_interval_ms, p->exponent, p->max_elapsed_ms, p->max_attempts,
			 p->retry_connection_errors ? "" : ", no connection retries",
			 p->retry_writes ? ", retry_writes" : "");
	lua_pushstring(L, s);
	return 1;
}

/* ---- pagination and the header parsers for Lua -------------------------- */

size_t kombo_next_query(const char *q, size_t qlen, const char *cur, size_t clen, char *out)
{
	size_t o = qlen;
	memcpy(out, q, qlen);
	if (qlen > 0)
		out[o++] = '&';
	memcpy(out + o, "cursor=", 7);
	o += 7;
	return o + kombo_pct_encode(cur, clen, out + o);
}

/* core.next_query(query, next_cursor): the page after this one, or nil when
 * next_cursor (nil, JSON null, "" or anything not a string) ends the list. */
static int l_next_query(lua_State *L)
{
	size_t qlen, clen;
	const char *q = luaL_optlstring(L, 1, "", &qlen);
	const char *cur;
	char *out;
	if (lua_type(L, 2) != LUA_TSTRING) {
		lua_pushnil(L);
		return 1;
	}
	cur = lua_tolstring(L, 2, &clen);
	if (clen == 0) {
		lua_pushnil(L);
		return 1;
	}
	if (clen > (((size_t)-1) - qlen - 16) / 3)
		return luaL_error(L, "cursor too long");
	/* Scratch userdata rather than luaL_prepbuffsize: 5.1 lacks it. */
	out = lua_newuserdata(L, KOMBO_NEXT_QUERY_SIZE(qlen, clen));
	lua_pushlstring(L, out, kombo_next_query(q, qlen, cur, clen, out));
	return 1;
}

/* core.parse_retry_after(value, now_ms) -> delay_ms | nil */
static int l_parse_retry_after(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	double now_ms = (double)luaL_optnumber(L, 2, -1), delay;
	if (kombo_parse_retry_after(s, len, now_ms, &delay))
		lua_pushnumber(L, delay);
	else
		lua_pushnil(L);
	return 1;
}

void kombo_policy_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "decide", l_decide },
		{ "timeout", l_timeout },
		{ "__tostring", l_policy_tostring },
		{ NULL, NULL },
	};
	static const luaL_Reg fns[] = {
		{ "retry_policy", l_retry_policy },
		{ "next_query", l_next_query },
		{ "parse_retry_after", l_parse_retry_after },
		{ "is_read", l_is_read },
		{ NULL, NULL },
	};
	kb_newclass(L, POLICY_MT, methods);
	kb_setfuncs(L, fns, 0);
}
