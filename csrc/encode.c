/* Encoding that must be exact and fast: percent-encoding of path segments,
 * query values and the next page's query, base64 for attachments (and
 * base64url decoding for webhook signatures), JSON strings, and the
 * header-value check that keeps CR/LF out of every request. Pure functions; the Lua bindings below
 * are thin. */
#include <string.h>
#include "core.h"

static const char HEX[] = "0123456789ABCDEF";

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

size_t kombo_pct_encode(const char *in, size_t len, char *out)
{
	size_t i, o = 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (unreserved(c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = HEX[c >> 4];
			out[o++] = HEX[c & 15];
		}
	}
	return o;
}

size_t kombo_b64_encode(const unsigned char *in, size_t len, char *out)
{
	static const char T[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i = 0, o = 0;
	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = T[v >> 18];
		out[o++] = T[(v >> 12) & 63];
		out[o++] = T[(v >> 6) & 63];
		out[o++] = T[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		out[o++] = T[v >> 18];
		out[o++] = T[(v >> 12) & 63];
		out[o++] = i + 1 < len ? T[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

static int b64url_sextet(char c)
{
	static const char URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *p = memchr(URL, c, sizeof URL - 1); /* not the NUL */
	return p ? (int)(p - URL) : -1;
}

long kombo_b64url_decode(const char *s, size_t len, unsigned char *out)
{
	size_t i, n = len, pad;
	unsigned bits = 0, have = 0;
	long o = 0;
	/* Padding only completes the last quad: one or two "=" at the end,
	 * exactly as many as the characters before them leave missing. */
	while (n > 0 && len - n < 2 && s[n - 1] == '=')
		n--;
	pad = len - n;
	if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0))
		return -1;
	for (i = 0; i < n; i++) {
		int v = b64url_sextet(s[i]);
		if (v < 0)
			return -1;
		bits = (bits << 6 | (unsigned)v) & 0xfff;
		have += 6;
		if (have >= 8) {
			have -= 8;
			out[o++] = (unsigned char)(bits >> have);
			bits &= (1u << have) - 1;
		}
	}
	/* The bits of the last character past the last byte are zero in the
	 * one canonical encoding. */
	return bits == 0 ? o : -1;
}

int kombo_header_value_ok(const char *s, size_t len)
{
	return memchr(s, '\r', len) == NULL && memchr(s, '\n', len) == NULL &&
	       memchr(s, '\0', len) == NULL;
}

size_t kombo_escape_segment(const char *in, size_t len, char *out)
{
	/* Dot segments would still be resolved by servers: encode them too. */
	if ((len == 1 && in[0] == '.') || (len == 2 && in[0] == '.' && in[1] == '.')) {
		memcpy(out, "%2E%2E", 3 * len);
		return 3 * len;
	}
	return kombo_pct_encode(in, len, out);
}

/* The length of the well-formed UTF-8 sequence (RFC 3629: no overlong
 * form, no surrogate, nothing past U+10FFFF) that starts at p, at most n
 * bytes long; 0 when none starts there. */
static size_t utf8_sequence(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t len, i;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0;
	/* The second byte's range is what rules out the overlong forms, the
	 * surrogates and what lies past U+10FFFF. */
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return len;
}

/* The letter of each byte's two-character escape inside a JSON string
 * (\n, \", ...); 0 for the others. */
static const char SHORT_ESCAPE[256] = {
	['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
};

/* What a byte takes inside a JSON string: itself, a two-character escape,
 * or \u00XX for the other control characters and DEL. */
static size_t json_byte_len(unsigned char c)
{
	if (SHORT_ESCAPE[c])
		return 2;
	return c < 0x20 || c == 0x7F ? 6 : 1;
}

size_t kombo_json_string_size(const char *in, size_t len, int as_is)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, size = 2;
	while (i < len) {
		size_t n = p[i] < 0x80 || as_is ? 1 : utf8_sequence(p + i, len - i);
		if (n == 0)
			return 0;
		size += n == 1 ? json_byte_len(p[i]) : n;
		i += n;
	}
	return size;
}

size_t kombo_json_string(const char *in, size_t len, char *out)
{
	static const char LOWER_HEX[] = "0123456789abcdef";
	size_t i, o = 0;
	out[o++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		size_t n = json_byte_len(c);
		if (n == 1) {
			out[o++] = (char)c;
		} else if (n == 2) {
			out[o++] = '\\';
			out[o++] = SHORT_ESCAPE[c];
		} else {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = LOWER_HEX[c >> 4];
			out[o + 5] = LOWER_HEX[c & 15];
			o += 6;
		}
	}
	out[o++] = '"';
	return o;
}

/* core.json_string(s [, as_is]) -> the JSON text of string s | nil when s
 * is not well-formed UTF-8 (a JSON text must be), unless as_is: then its
 * bytes go as they are. Its own scratch per call: an encode that a
 * finalizer runs while another is under way writes into neither's. */
static int l_json_string(lua_State *L)
{
	size_t len, size;
	const char *s = luaL_checklstring(L, 1, &len);
	char *out;
	if (len > (((size_t)-1) / 6) - 2)
		return luaL_error(L, "string too long");
	size = kombo_json_string_size(s, len, lua_toboolean(L, 2));
	if (size == 0) {
		lua_pushnil(L);
		return 1;
	}
	out = lua_newuserdata(L, size);
	lua_pushlstring(L, out, kombo_json_string(s, len, out));
	return 1;
}

/* core.escape(s) -> percent-encoded s (one path segment or query value). */
static int l_escape(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	char *out;
	if (len > (((size_t)-1) / 3))
		return luaL_error(L, "string too long");
	/* Scratch userdata rather than luaL_prepbuffsize: 5.1 lacks it. */
	out = lua_newuserdata(L, len * 3 + 1);
	lua_pushlstring(L, out, kombo_escape_segment(s, len, out));
	return 1;
}

/* core.b64encode(s) -> base64 text of s. */
static int l_b64encode(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	char *out;
	if (len > (((size_t)-1) / 4) - 3)
		return luaL_error(L, "string too long");
	out = lua_newuserdata(L, 4 * ((len + 2) / 3) + 1);
	lua_pushlstring(L, out, kombo_b64_encode((const unsigned char *)s, len, out));
	return 1;
}

/* core.header_value_ok(s) -> boolean */
int kombo_header_name_ok(const char *s, size_t len)
{
	size_t i;
	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", c) != NULL) || c == '\0')
			return 0;
	}
	return 1;
}

/* core.header_ok(name, value) -> true | nil, "name" | "value"
 * The one check every header passes before it is sent: the options of
 * kombo.new and of a call, what a before_request hook set, the API key. */
static int l_header_ok(lua_State *L)
{
	size_t nlen, vlen;
	const char *name = luaL_checklstring(L, 1, &nlen);
	const char *value = luaL_checklstring(L, 2, &vlen);
	if (!kombo_header_name_ok(name, nlen) || !kombo_header_value_ok(value, vlen)) {
		lua_pushnil(L);
		lua_pushstring(L, kombo_header_name_ok(name, nlen) ? "value" : "name");
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

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

void kombo_encode_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "escape", l_escape },
		{ "b64encode", l_b64encode },
		{ "header_ok", l_header_ok },
		{ "next_query", l_next_query },
		{ "json_string", l_json_string },
		{ NULL, NULL },
	};
	kb_setfuncs(L, fns, 0);
}
