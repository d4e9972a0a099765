/* A page's next cursor, read off its raw bytes before the page is decoded,
 * so the blocking driver can request the page after it while this one is
 * built (lua/kombo/page.lua). Only a hint: the walk checks it against the
 * decoded data.next and drops a request made for one that differs.
 *
 * It reads the envelope's leading members only, {"...":..., "data":
 * {"...":..., "next": "cursor" | null, ...}, ...}, as the API and the
 * sandbox write them (next before results), and gives up (no hint) on
 * anything else: a cursor with an escape or a control character, a name
 * with an escape, a value it would have to read past SCAN_MAX bytes to
 * skip, text that is not JSON where it looks. */
#include <stddef.h>
#include <string.h>
#include "core.h"

/* Past this many bytes the scan gives up: a data object whose results come
 * before next is not worth reading twice. */
#define SCAN_MAX (64 * 1024)

typedef struct {
	const char *p, *end;
} scan;

static void space(scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int take(scan *s, char ch)
{
	space(s);
	if (s->p < s->end && *s->p == ch) {
		s->p++;
		return 1;
	}
	return 0;
}

/* A string at s->p (its opening quote) with no escape and no control
 * character: its characters' start and length; 0 otherwise. */
static int plain_string(scan *s, const char **at, size_t *n)
{
	const char *q;
	if (!take(s, '"'))
		return 0;
	for (q = s->p; q < s->end && *q != '"'; q++)
		if (*q == '\\' || (unsigned char)*q < 0x20)
			return 0;
	if (q >= s->end)
		return 0;
	*at = s->p;
	*n = (size_t)(q - s->p);
	s->p = q + 1;
	return 1;
}

/* Steps over one value of any kind. Brackets are counted, not matched:
 * the decode, not this, says whether the text is JSON. */
static int skip_value(scan *s)
{
	int depth = 0;
	space(s);
	do {
		if (s->p >= s->end)
			return 0;
		switch (*s->p) {
		case '"':
			for (s->p++; s->p < s->end && *s->p != '"'; s->p++)
				if (*s->p == '\\')
					s->p++;
			if (s->p >= s->end)
				return 0;
			s->p++;
			break;
		case '{':
		case '[':
			depth++;
			s->p++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return 0;
			depth--;
			s->p++;
			break;
		case ',':
		case ':':
			if (depth == 0)
				return 0;
			s->p++;
			break;
		default: /* a number, true, false, null, or space inside brackets */
			s->p++;
			while (depth == 0 && s->p < s->end && strchr(",}] \t\r\n", *s->p) == NULL)
				s->p++;
		}
	} while (depth > 0);
	return 1;
}

static int is_name(const char *at, size_t n, const char *name)
{
	return n == strlen(name) && memcmp(at, name, n) == 0;
}

/* Walks an object's members at s->p (past its '{') until `name`, leaving
 * s->p at its value; 0 when the object ends without it or the scan gives
 * up. */
static int find_member(scan *s, const char *name)
{
	const char *at;
	size_t n;
	if (take(s, '}'))
		return 0;
	for (;;) {
		if (!plain_string(s, &at, &n) || !take(s, ':'))
			return 0;
		if (is_name(at, n, name))
			return 1;
		if (!skip_value(s))
			return 0;
		if (!take(s, ','))
			return 0;
	}
}

const char *kombo_peek_next(const char *p, size_t len, size_t *n)
{
	scan s = { p, p + (len < SCAN_MAX ? len : SCAN_MAX) };
	const char *at;
	if (!take(&s, '{') || !find_member(&s, "data") || !take(&s, '{') || !find_member(&s, "next"))
		return NULL;
	space(&s);
	if (!plain_string(&s, &at, n) || *n == 0)
		return NULL;
	return at;
}

/* core.peek_next(body) -> cursor | nil: kombo_peek_next for a body a
 * driver hands over as a string (the tasks scheduler's). */
static int l_peek_next(lua_State *L)
{
	size_t len, n;
	const char *body = luaL_checklstring(L, 1, &len);
	const char *at = kombo_peek_next(body, len, &n);
	if (at == NULL)
		lua_pushnil(L);
	else
		lua_pushlstring(L, at, n);
	return 1;
}

void kombo_cursor_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "peek_next", l_peek_next },
		{ NULL, NULL },
	};
	kb_setfuncs(L, fns, 0);
}
