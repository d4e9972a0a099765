/* kombo.core.json_decode(s, null_as_nil, empty_array_mt, keys) -> value [, true] | nil, message
 *
 * The SDK's only JSON decoder. Objects and arrays become plain tables (an
 * empty array with the metatable empty_array_mt when one is given, so it
 * can be told from an empty object), null
 * the light userdata NULL (lua-cjson's null, so kombo.null), or with
 * null_as_nil a member left out or an array hole (a top-level null stays
 * NULL, so nil still means a refusal), numbers
 * written as integers that fit 64 bits integers (5.3+), other numbers
 * floats.
 *
 * simdjson takes valid JSON, fast (README "Performance"). What it refuses
 * goes to a small second parser with lua-cjson 2.1.0's grammar, so every
 * body lua-cjson accepts decodes, to the same values and in the same shape
 * whichever parser ran: invalid UTF-8 in strings passed through byte for
 * byte, integers past 64 bits as floats. Beyond lua-cjson, a \u escape of
 * a lone UTF-16 surrogate decodes to U+FFFD; simdjson refuses it, so such a
 * document takes the second parser. A refused document is returned as nil
 * and a message, never raised.
 *
 * keys, a list of strings (the API keys a client sent), adds true after the
 * value when a string of it, or a name in one of its objects, holds one of
 * them: a server may reflect a key escaped (\u0073k_..., \/ for a slash),
 * which no search of the text finds. A decoded string differs from the
 * bytes it came from only where the text has a backslash: a caller that
 * found neither a key nor one in the text need not pass keys. */
#include <simdjson.h>
#include <clocale>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

extern "C" {
#include "core.h"
int kombo_json_decode_lenient(lua_State *L);
int kombo_json_busy(lua_State *L, int index);
}
static_assert(KOMBO_JSON_PADDING >= simdjson::SIMDJSON_PADDING, "simdjson reads further ahead");

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

const char DECODER_MT[] = "kombo.json_decoder";

/* The registry holds the state's json_decode under this address, for
 * kombo_json_decode_buffer. */
const char DECODE_KEY = 0;

/* Buffers bigger than this are let go after the document that needed them,
 * so one huge response does not stay resident; a page of Kombo's largest
 * size fits. */
const size_t KEEP_BYTES = 4u << 20;

/* Object keys repeat in every item of a page. Pushing a key again interns
 * it again: Lua hashes every byte and walks a chain of its string table.
 * The shared decoder remembers the keys it pushed, their bytes here and
 * their Lua strings in a table (json_decode's third upvalue, so they stay
 * alive), and pushes a known key from that table, which skips the hash.
 * Open addressing; when half full it starts again empty, so keys that never
 * repeat (a map keyed by ids) cost a bounded table and a little time. The
 * table belongs to the decoder's global state; every coroutine of that
 * state may push its strings. Values are left out: most of them differ
 * from item to item, and caching them measured slower. */
const unsigned KEY_SLOTS = 256; /* a power of two */
const size_t KEY_MAX = 32;      /* longer keys are pushed as they come */

struct keys {
	unsigned used;
	unsigned char len[KEY_SLOTS]; /* 0: a free slot */
	char bytes[KEY_SLOTS][KEY_MAX];
};

/* One per Lua state, the upvalue of json_decode: the parser's buffers and
 * the padded copy of the input are reused from one response to the next. */
struct decoder {
	simdjson::dom::parser *parser;
	char *buf; /* the input, a NUL, and SIMDJSON_PADDING zero bytes */
	size_t cap;
	/* Set while a value is being built: a finalizer may decode again, and
	 * must not reuse the tape and buffer the outer decode reads. */
	bool busy;
	keys *known; /* the shared decoder's, made on its first decode */
};

void release(decoder *d)
{
	delete d->parser;
	d->parser = nullptr;
	std::free(d->buf);
	d->buf = nullptr;
	d->cap = 0;
}

/* The keys a decode looks for in the strings it decodes. A client keeps
 * its last few keys (attempts.lua); past SOUGHT_MAX the newest are sought. */
const int SOUGHT_MAX = 8;

struct sought {
	int count;
	const char *p[SOUGHT_MAX];
	size_t n[SOUGHT_MAX];
};

/* From the value at idx: a light userdata (one NUL-terminated key), a list
 * of strings, or anything else (none). Allocates nothing. */
void get_sought(lua_State *L, int idx, sought *k)
{
	k->count = 0;
	if (lua_islightuserdata(L, idx)) {
		k->p[0] = static_cast<const char *>(lua_touserdata(L, idx));
		k->n[0] = std::strlen(k->p[0]);
		k->count = k->n[0] > 0;
		return;
	}
	if (!lua_istable(L, idx))
		return;
	int last = (int)kb_rawlen(L, idx);
	for (int i = last > SOUGHT_MAX ? last - SOUGHT_MAX + 1 : 1; i <= last; i++) {
		lua_rawgeti(L, idx, i);
		size_t n;
		const char *p = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : nullptr;
		lua_pop(L, 1); /* the list keeps the string alive */
		if (p != nullptr && n > 0) {
			k->p[k->count] = p;
			k->n[k->count++] = n;
		}
	}
}

bool holds_key(const char *s, size_t len, const sought &k)
{
	for (int i = 0; i < k.count; i++)
		if (len >= k.n[i] && std::string_view(s, len).find(std::string_view(k.p[i], k.n[i])) != std::string_view::npos)
			return true;
	return false;
}

/* Whether a string of e, or a name in one of its objects, holds a key.
 * Its own pass over the parsed document, run only for a text that may
 * hold one: the build's loop stays as it is. */
bool holds(element e, const sought &k)
{
	switch (e.type()) {
	case element_type::OBJECT: {
		simdjson::dom::object o = e.get_object().value_unsafe();
		for (simdjson::dom::key_value_pair f : o)
			if (holds_key(f.key.data(), f.key.size(), k) || holds(f.value, k))
				return true;
		return false;
	}
	case element_type::ARRAY: {
		simdjson::dom::array a = e.get_array().value_unsafe();
		for (element v : a)
			if (holds(v, k))
				return true;
		return false;
	}
	case element_type::STRING: {
		std::string_view s = e.get_string().value_unsafe();
		return holds_key(s.data(), s.size(), k);
	}
	default:
		return false;
	}
}

struct builder {
	lua_State *L;
	bool drop_null;
	keys *known;  /* nullptr: push every key as it comes */
	int table;    /* stack index of the known keys' strings */
	int empty_mt; /* stack index of empty arrays' metatable, or 0 */
};

unsigned key_slot(const char *s, size_t len)
{
	unsigned h = (unsigned)len * 0x9E3779B1u;
	h ^= (unsigned char)s[0] * 0x85EBCA77u;
	h ^= (unsigned char)s[len / 2] * 0x27D4EB2Fu;
	h ^= (unsigned char)s[len - 1] * 0xC2B2AE3Du;
	return (h ^ h >> 15) & (KEY_SLOTS - 1);
}

void push_key(const builder &b, std::string_view s)
{
	keys *k = b.known;
	size_t n = s.size();
	if (k == nullptr || n == 0 || n > KEY_MAX) {
		lua_pushlstring(b.L, s.data(), n);
		return;
	}
	unsigned i = key_slot(s.data(), n);
	for (; k->len[i] != 0; i = (i + 1) & (KEY_SLOTS - 1)) {
		if (k->len[i] == n && std::memcmp(k->bytes[i], s.data(), n) == 0) {
			lua_rawgeti(b.L, b.table, (int)i + 1);
			return;
		}
	}
	if (k->used >= KEY_SLOTS / 2) {
		std::memset(k->len, 0, sizeof k->len);
		k->used = 0;
		i = key_slot(s.data(), n);
	}
	/* The slot is marked known only once the table holds its string: an
	 * error (out of memory) before that leaves it free. */
	lua_pushlstring(b.L, s.data(), n);
	lua_pushvalue(b.L, -1);
	lua_rawseti(b.L, b.table, (int)i + 1);
	std::memcpy(k->bytes[i], s.data(), n);
	k->len[i] = (unsigned char)n;
	k->used++;
}

/* Lua errors (out of memory) unwind through here with longjmp: every frame
 * below holds only pointers into the parser's tape, nothing to destroy. */
/* With drop_null, a null member of an object is left out and a null
 * element of an array leaves a hole, so the caller reads nil there. */
void push(const builder &b, element e)
{
	lua_State *L = b.L;
	bool drop_null = b.drop_null;
	switch (e.type()) {
	case element_type::OBJECT: {
		simdjson::dom::object o = e.get_object().value_unsafe();
		luaL_checkstack(L, 3, "JSON nested too deep");
		lua_createtable(L, 0, (int)o.size());
		for (simdjson::dom::key_value_pair f : o) {
			if (drop_null && f.value.type() == element_type::NULL_VALUE)
				continue;
			push_key(b, f.key);
			push(b, f.value);
			lua_rawset(L, -3);
		}
		break;
	}
	case element_type::ARRAY: {
		simdjson::dom::array a = e.get_array().value_unsafe();
		int i = 0;
		luaL_checkstack(L, 2, "JSON nested too deep");
		lua_createtable(L, (int)a.size(), 0);
		if (b.empty_mt != 0 && a.size() == 0) {
			lua_pushvalue(L, b.empty_mt);
			lua_setmetatable(L, -2);
		}
		for (element v : a) {
			++i;
			if (drop_null && v.type() == element_type::NULL_VALUE)
				continue;
			push(b, v);
			lua_rawseti(L, -2, i);
		}
		break;
	}
	case element_type::STRING: {
		std::string_view s = e.get_string().value_unsafe();
		lua_pushlstring(L, s.data(), s.size());
		break;
	}
	case element_type::INT64:
		kb_pushint64(L, e.get_int64().value_unsafe());
		break;
	case element_type::UINT64: /* above 2^63: no Lua integer holds it */
		lua_pushnumber(L, (lua_Number)e.get_uint64().value_unsafe());
		break;
	case element_type::DOUBLE:
		lua_pushnumber(L, (lua_Number)e.get_double().value_unsafe());
		break;
	case element_type::BOOL:
		lua_pushboolean(L, e.get_bool().value_unsafe());
		break;
	case element_type::NULL_VALUE:
		lua_pushlightuserdata(L, nullptr);
		break;
	}
}

/* ---- The second parser: lua-cjson 2.1.0's grammar (default settings),
 * building the values push() would. Beyond JSON, as lua-cjson: any byte
 * but NUL in strings (no UTF-8 check, control characters too); numbers as
 * strtod reads them (NaN, Infinity, hex, a leading + or 0, "1.", 1e400 as
 * inf); a NUL outside strings ends the text. Beyond lua-cjson: a lone
 * surrogate escape as U+FFFD. It reads the decoder's
 * NUL-terminated copy and decodes strings in place (an escape never gets
 * longer). Errors are Lua errors: the caller's lua_pcall returns them. */

/* simdjson's default depth: whatever simdjson takes, this takes too. */
const int MAX_DEPTH = 1024;

struct lenient {
	lua_State *L;
	const char *start;
	char *p;
	bool drop_null; /* as push()'s */
	int empty_mt;   /* as push()'s */
	const sought *keys;
	bool held;      /* a string decoded holds one of keys */
};

bool is_null(lua_State *L)
{
	return lua_type(L, -1) == LUA_TLIGHTUSERDATA && lua_touserdata(L, -1) == nullptr;
}

[[noreturn]] void fail(lenient *x, const char *what)
{
	luaL_error(x->L, "invalid JSON: %s at byte %d", what, (int)(x->p - x->start) + 1);
	std::abort(); /* not reached: luaL_error does not return */
}

void skip_space(lenient *x)
{
	while (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r')
		x->p++;
}

/* Four hex digits, or -1; stops at the first other byte (the NUL too). */
long hex4(const char *s)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)s[i], lc = c | 0x20;
		if (c >= '0' && c <= '9')
			v = v << 4 | (c - '0');
		else if (lc >= 'a' && lc <= 'f')
			v = v << 4 | (lc - 'a' + 10);
		else
			return -1;
	}
	return v;
}

char *put_utf8(char *w, long c)
{
	if (c < 0x80) {
		*w++ = (char)c;
	} else if (c < 0x800) {
		*w++ = (char)(0xC0 | c >> 6);
		*w++ = (char)(0x80 | (c & 0x3F));
	} else if (c < 0x10000) {
		*w++ = (char)(0xE0 | c >> 12);
		*w++ = (char)(0x80 | (c >> 6 & 0x3F));
		*w++ = (char)(0x80 | (c & 0x3F));
	} else {
		*w++ = (char)(0xF0 | c >> 18);
		*w++ = (char)(0x80 | (c >> 12 & 0x3F));
		*w++ = (char)(0x80 | (c >> 6 & 0x3F));
		*w++ = (char)(0x80 | (c & 0x3F));
	}
	return w;
}

/* The string whose opening quote x->p is at, decoded in place and pushed. */
void lenient_string(lenient *x)
{
	char *out = ++x->p, *w = out;
	for (;;) {
		char c = *x->p;
		if (c == '"')
			break;
		if (c == '\0')
			fail(x, "unfinished string");
		if (c != '\\') {
			*w++ = c;
			x->p++;
			continue;
		}
		switch (x->p[1]) {
		case '"': case '\\': case '/': c = x->p[1]; break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u': {
			long u = hex4(x->p + 2), lo;
			if (u < 0)
				fail(x, "invalid \\u escape");
			if (u >= 0xD800 && u < 0xDC00 && x->p[6] == '\\' && x->p[7] == 'u' &&
			    (lo = hex4(x->p + 8)) >= 0xDC00 && lo < 0xE000) {
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
				x->p += 6;
			} else if (u >= 0xD800 && u < 0xE000) {
				/* A lone surrogate (JSON.stringify writes one for a
				 * string cut inside an emoji): refusing it would fail
				 * the whole response on every retry. */
				u = 0xFFFD;
			}
			w = put_utf8(w, u);
			x->p += 6;
			continue;
		}
		default:
			fail(x, "invalid escape");
		}
		*w++ = c;
		x->p += 2;
	}
	x->p++;
	if (!x->held && holds_key(out, (size_t)(w - out), *x->keys))
		x->held = true;
	lua_pushlstring(x->L, out, (size_t)(w - out));
}

/* lua-cjson reads numbers with '.' as the decimal point in any locale. */
double c_strtod(const char *s, char **end)
{
	static locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	return c ? strtod_l(s, end, c) : std::strtod(s, end);
}

void lenient_number(lenient *x)
{
	char *end;
	double v = c_strtod(x->p, &end);
	if (end == x->p)
		fail(x, "invalid number");
	/* Only digits (and a sign): an integer when it fits, as simdjson does. */
	bool neg = *x->p == '-';
	const char *q = x->p + (*x->p == '-' || *x->p == '+');
	bool whole = q < end;
	uint64_t m = 0;
	for (; whole && q < end; q++) {
		unsigned d = (unsigned)(*q - '0');
		if (d > 9 || m > (UINT64_MAX - d) / 10)
			whole = false;
		else
			m = m * 10 + d;
	}
	if (whole && m <= (neg ? (uint64_t)1 << 63 : (uint64_t)INT64_MAX))
		kb_pushint64(x->L, (int64_t)(neg ? 0 - m : m));
	else
		lua_pushnumber(x->L, (lua_Number)v);
	x->p = end;
}

bool starts_number(const char *p)
{
	int c = (unsigned char)p[0];
	if (c == '-' || c == '+' || (c >= '0' && c <= '9'))
		return true;
	/* lua-cjson hands inf... and nan..., in any case, to strtod too */
	return ((c | 0x20) == 'i' && (p[1] | 0x20) == 'n' && (p[2] | 0x20) == 'f') ||
	       ((c | 0x20) == 'n' && (p[1] | 0x20) == 'a' && (p[2] | 0x20) == 'n');
}

void lenient_value(lenient *x, int depth)
{
	lua_State *L = x->L;
	skip_space(x);
	char open = *x->p;
	if (open == '{' || open == '[') {
		char close = open == '{' ? '}' : ']';
		if (depth >= MAX_DEPTH)
			fail(x, "nesting too deep");
		luaL_checkstack(L, 3, "JSON nested too deep");
		lua_newtable(L);
		x->p++;
		skip_space(x);
		if (*x->p == close) {
			x->p++;
			if (open == '[' && x->empty_mt != 0) {
				lua_pushvalue(L, x->empty_mt);
				lua_setmetatable(L, -2);
			}
			return;
		}
		for (int i = 1;; i++) {
			if (open == '{') {
				skip_space(x);
				if (*x->p != '"')
					fail(x, "expected a string key");
				lenient_string(x);
				skip_space(x);
				if (*x->p != ':')
					fail(x, "expected ':'");
				x->p++;
				lenient_value(x, depth + 1);
				if (x->drop_null && is_null(L))
					lua_pop(L, 2);
				else
					lua_rawset(L, -3);
			} else {
				lenient_value(x, depth + 1);
				if (x->drop_null && is_null(L))
					lua_pop(L, 1);
				else
					lua_rawseti(L, -2, i);
			}
			skip_space(x);
			if (*x->p == close) {
				x->p++;
				return;
			}
			if (*x->p != ',')
				fail(x, open == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
			x->p++;
		}
	}
	if (open == '"') {
		lenient_string(x);
	} else if (std::strncmp(x->p, "true", 4) == 0) {
		lua_pushboolean(L, 1);
		x->p += 4;
	} else if (std::strncmp(x->p, "false", 5) == 0) {
		lua_pushboolean(L, 0);
		x->p += 5;
	} else if (std::strncmp(x->p, "null", 4) == 0) {
		lua_pushlightuserdata(L, nullptr);
		x->p += 4;
	} else if (starts_number(x->p)) {
		lenient_number(x);
	} else {
		fail(x, "expected a value");
	}
}

bool lenient_parse(lua_State *L, char *text, bool drop_null, int empty_mt, const sought &keys)
{
	lenient x = {L, text, text, drop_null, empty_mt, &keys, false};
	lenient_value(&x, 0);
	skip_space(&x);
	if (*x.p != '\0')
		fail(&x, "text after the value");
	return x.held;
}

/* ---- Decoding. All of it that may allocate Lua memory runs under one
 * lua_pcall: out of memory, the second parser's syntax errors and a
 * finalizer's error all come back as nil, message, never raised. */

decoder *new_decoder(lua_State *L)
{
	decoder *d = static_cast<decoder *>(lua_newuserdata(L, sizeof(decoder)));
	*d = decoder{nullptr, nullptr, 0, false, nullptr};
	luaL_getmetatable(L, DECODER_MT);
	lua_setmetatable(L, -2);
	return d;
}

/* Copies s[0..len) into the decoder's buffer, NUL-terminated and padded. */
void copy_in(lua_State *L, decoder *d, const char *s, size_t len)
{
	if (d->cap < len + 1 + simdjson::SIMDJSON_PADDING) {
		size_t cap = len + 1 + simdjson::SIMDJSON_PADDING;
		char *buf = static_cast<char *>(std::realloc(d->buf, cap));
		if (buf == nullptr)
			luaL_error(L, "out of memory");
		d->buf = buf;
		d->cap = cap;
	}
	std::memcpy(d->buf, s, len);
	/* simdjson's wide loads reach into the padding and branch on what they
	 * find past the end (masked off, but valgrind cannot tell): zeroed, the
	 * decode never depends on bytes nobody wrote. */
	std::memset(d->buf + len, 0, 1 + simdjson::SIMDJSON_PADDING);
}

/* (source, shared decoder or NULL, fast, drop_null, the shared decoder's
 * key strings or nil, length, empty arrays' metatable or nil, the keys
 * sought as get_sought reads them) -> value, whether a string of it holds
 * one of those keys. The source is a string, or a light
 * userdata pointing at length bytes followed by KOMBO_JSON_PADDING written
 * bytes, which simdjson reads where they are. With fast false, the second
 * parser alone. */
int decode_protected(lua_State *L)
{
	size_t len;
	const char *s;
	bool padded = lua_islightuserdata(L, 1);
	if (padded) {
		s = static_cast<const char *>(lua_touserdata(L, 1));
		len = static_cast<size_t>(lua_tointeger(L, 6));
	} else {
		s = lua_tolstring(L, 1, &len);
	}
	decoder *d = static_cast<decoder *>(lua_touserdata(L, 2));
	bool fast = lua_toboolean(L, 3), drop_null = lua_toboolean(L, 4);
	int empty_mt = lua_istable(L, 7) ? 7 : 0;
	bool own = d == nullptr || d->busy;
	/* The shared decoder is busy when a finalizer decodes while it builds a
	 * value: this decode gets a decoder of its own (its __gc frees it if
	 * anything below raises). */
	if (own)
		d = new_decoder(L);
	if (len > SIZE_MAX - 1 - simdjson::SIMDJSON_PADDING)
		return luaL_error(L, "document too large");
	/* Without room for the keys the decode goes on, pushing each key. */
	if (fast && !own && d->known == nullptr && !lua_isnil(L, 5)) {
		d->known = static_cast<keys *>(std::calloc(1, sizeof(keys)));
	}
	if (fast && d->parser == nullptr) {
		d->parser = new (std::nothrow) simdjson::dom::parser();
		if (d->parser == nullptr)
			return luaL_error(L, "out of memory");
	}
	d->busy = true;
	/* simdjson reads a padded source where it is; a string, and the
	 * second parser (which writes), need the padded NUL-terminated copy. */
	const char *text = s;
	if (!padded) {
		copy_in(L, d, s, len);
		text = d->buf;
	}
	sought keys;
	get_sought(L, 8, &keys);
	element root;
	bool held;
	if (fast && d->parser->parse(text, len, false).get(root) == simdjson::SUCCESS) {
		held = keys.count > 0 && holds(root, keys);
		push(builder{L, drop_null, own ? nullptr : d->known, 5, empty_mt}, root);
	} else {
		if (text != d->buf)
			copy_in(L, d, s, len);
		held = lenient_parse(L, d->buf, drop_null, empty_mt, keys);
	}
	if (own)
		release(d);
	lua_pushboolean(L, held);
	return 2;
}

/* Runs decode_protected (on the stack below the source) for the source at
 * index src (len: a light userdata's length), with the shared decoder's key
 * strings at index cache, empty arrays' metatable at index empty_mt and the
 * keys sought at index sought (0: none). Pushes the value (and true when it
 * holds a key sought) or nil and a message; returns how many. */
int decode(lua_State *L, decoder *shared, bool fast, bool drop_null, int cache, int src, size_t len,
	   int empty_mt = 0, int sought = 0)
{
	bool was_busy = shared != nullptr && shared->busy;
	lua_pushvalue(L, src);
	lua_pushlightuserdata(L, shared);
	lua_pushboolean(L, fast);
	lua_pushboolean(L, drop_null);
	if (cache != 0)
		lua_pushvalue(L, cache);
	else
		lua_pushnil(L);
	lua_pushinteger(L, static_cast<lua_Integer>(len));
	if (empty_mt != 0)
		lua_pushvalue(L, empty_mt);
	else
		lua_pushnil(L);
	if (sought != 0)
		lua_pushvalue(L, sought);
	else
		lua_pushnil(L);
	int status = lua_pcall(L, 8, 2, 0);
	if (shared != nullptr && !was_busy) {
		shared->busy = false;
		if (shared->cap > KEEP_BYTES)
			release(shared);
	}
	if (status == 0) {
		if (lua_toboolean(L, -1))
			return 2;
		lua_pop(L, 1);
		return 1;
	}
	if (lua_type(L, -1) != LUA_TSTRING) {
		lua_pop(L, 1);
		lua_pushliteral(L, "invalid JSON");
	}
	lua_pushnil(L);
	lua_insert(L, -2);
	return 2;
}

/* Upvalues: the shared decoder, decode_protected and the strings of the
 * decoder's known keys (made once, so nothing here allocates before the
 * lua_pcall). */
int json_decode(lua_State *L)
{
	luaL_checkstring(L, 1);
	bool drop_null = lua_toboolean(L, 2);
	if (!lua_isnoneornil(L, 3))
		luaL_checktype(L, 3, LUA_TTABLE);
	if (!lua_isnoneornil(L, 4))
		luaL_checktype(L, 4, LUA_TTABLE);
	lua_settop(L, 4);
	lua_pushvalue(L, lua_upvalueindex(2));
	return decode(L, static_cast<decoder *>(lua_touserdata(L, lua_upvalueindex(1))), true, drop_null,
		      lua_upvalueindex(3), 1, 0, lua_istable(L, 3) ? 3 : 0, lua_istable(L, 4) ? 4 : 0);
}

int decoder_gc(lua_State *L)
{
	decoder *d = static_cast<decoder *>(lua_touserdata(L, 1));
	release(d);
	std::free(d->known);
	d->known = nullptr;
	return 0;
}

} // namespace

/* Adds json_decode to the module table on top of the stack. */
void kombo_json_open(lua_State *L)
{
	if (luaL_newmetatable(L, DECODER_MT)) {
		lua_pushcfunction(L, decoder_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
	new_decoder(L);
	lua_pushcfunction(L, decode_protected);
	lua_createtable(L, KEY_SLOTS, 0);
	lua_pushcclosure(L, json_decode, 3);
	lua_pushlightuserdata(L, const_cast<char *>(&DECODE_KEY));
	lua_pushvalue(L, -2);
	lua_rawset(L, LUA_REGISTRYINDEX);
	lua_setfield(L, -2, "json_decode");
}

int kombo_json_decode_buffer(lua_State *L, const char *p, size_t len, int drop_null, const char *key)
{
	luaL_checkstack(L, 14, "decoding a response");
	int top = lua_gettop(L);
	lua_pushlightuserdata(L, const_cast<char *>(&DECODE_KEY));
	lua_rawget(L, LUA_REGISTRYINDEX); /* top+1: json_decode */
	lua_getupvalue(L, top + 1, 1);    /* top+2: the shared decoder */
	lua_getupvalue(L, top + 1, 3);    /* top+3: its key strings */
	lua_pushlightuserdata(L, const_cast<char *>(p));
	if (key != nullptr)
		lua_pushlightuserdata(L, const_cast<char *>(key));
	else
		lua_pushnil(L);                   /* top+5: the key sought */
	lua_getupvalue(L, top + 1, 2);    /* decode_protected */
	int n = decode(L, static_cast<decoder *>(lua_touserdata(L, top + 2)), true, drop_null != 0, top + 3,
		       top + 4, len, 0, key != nullptr ? top + 5 : 0);
	for (int i = 0; i < 5; i++)
		lua_remove(L, top + 1);
	return n;
}

/* For fuzz/fuzz_json.c (not in the module): json_decode with the second
 * parser alone, and whether the shared decoder of the json_decode at index
 * is marked busy. */
int kombo_json_decode_lenient(lua_State *L)
{
	luaL_checkstring(L, 1);
	bool drop_null = lua_toboolean(L, 2);
	lua_settop(L, 1);
	lua_pushcfunction(L, decode_protected);
	return decode(L, nullptr, false, drop_null, 0, 1, 0);
}

int kombo_json_busy(lua_State *L, int index)
{
	if (lua_getupvalue(L, index, 1) == nullptr)
		return 0;
	int busy = static_cast<decoder *>(lua_touserdata(L, -1))->busy;
	lua_pop(L, 1);
	return busy;
}
