/* Server hints for the wait before a retry: the Retry-After,
 * retry-after-ms and ratelimit-reset header values, HTTP-dates included.
 * Bytes in, numbers out: the parsers touch no Lua, so fuzz/fuzz_hints.c
 * calls them directly; policy.c reads them when it decides a wait.
 *
 *   core.parse_retry_after(v, now)   -> delay_ms | nil
 *   core.parse_http_date(v)          -> epoch_ms | nil
 */
#include <string.h>
#include "core.h"
#include "hints.h"

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
		if (v < KOMBO_HINTS_HUGE)
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
	*out = v > KOMBO_HINTS_HUGE ? KOMBO_HINTS_HUGE : v;
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
			if (kb_lower(c->s[c->i + j]) != names[k][j])
				break;
		if (j < wl)
			continue;
		if (c->i + wl < c->len && kb_lower(c->s[c->i + wl]) >= 'a' && kb_lower(c->s[c->i + wl]) <= 'z')
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
	return kb_is_finite(now_ms) && now_ms >= 0;
}

int kombo_parse_retry_after(const char *s, size_t len, double now_ms, double *delay_ms)
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

/* core.parse_http_date(value) -> epoch_ms | nil */
static int l_parse_http_date(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	double v;
	if (kombo_parse_http_date(s, len, &v))
		lua_pushnumber(L, v * 1000.0);
	else
		lua_pushnil(L);
	return 1;
}

void kombo_hints_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "parse_retry_after", l_parse_retry_after },
		{ "parse_http_date", l_parse_http_date },
		{ NULL, NULL },
	};
	kb_setfuncs(L, fns, 0);
}
