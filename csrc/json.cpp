/* kombo.core.json_decode(s) -> value | nil, message
 *
 * Response bodies to Lua values with simdjson, which decodes Kombo's pages
 * in three quarters of lua-cjson's time (README "Performance"). Objects
 * and arrays become plain tables, null the light userdata NULL (lua-cjson's
 * null, so kombo.null), integers that fit 64 bits integers (5.3+), other
 * numbers floats. A refused document is returned as nil and simdjson's
 * message, never raised: lua/kombo/call.lua hands it to lua-cjson, which
 * accepts what simdjson will not (invalid UTF-8, numbers past 64 bits). */
#include <simdjson.h>
#include <cstdlib>
#include <cstring>
#include <new>

extern "C" {
#include <lua.h>
#include <lauxlib.h>
void kombo_json_open(lua_State *L);
}

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

const char DECODER_MT[] = "kombo.json_decoder";

/* Buffers bigger than this are let go after the document that needed them,
 * so one 50 MB response does not stay resident; a 470 KB page fits. */
const size_t KEEP_BYTES = 4u << 20;

/* One per Lua state, the upvalue of json_decode: the parser's buffers and
 * the padded copy of the input are reused from one response to the next. */
struct decoder {
	simdjson::dom::parser *parser;
	char *buf; /* the input and SIMDJSON_PADDING readable bytes after it */
	size_t cap;
};

void release(decoder *d)
{
	delete d->parser;
	d->parser = nullptr;
	std::free(d->buf);
	d->buf = nullptr;
	d->cap = 0;
}

/* Lua errors (out of memory) unwind through here with longjmp: every frame
 * below holds only pointers into the parser's tape, nothing to destroy. */
void push(lua_State *L, element e)
{
	switch (e.type()) {
	case element_type::OBJECT: {
		simdjson::dom::object o = e.get_object().value_unsafe();
		luaL_checkstack(L, 3, "JSON nested too deep");
		lua_createtable(L, 0, (int)o.size());
		for (simdjson::dom::key_value_pair f : o) {
			lua_pushlstring(L, f.key.data(), f.key.size());
			push(L, f.value);
			lua_rawset(L, -3);
		}
		break;
	}
	case element_type::ARRAY: {
		simdjson::dom::array a = e.get_array().value_unsafe();
		int i = 0;
		luaL_checkstack(L, 2, "JSON nested too deep");
		lua_createtable(L, (int)a.size(), 0);
		for (element v : a) {
			push(L, v);
			lua_rawseti(L, -2, ++i);
		}
		break;
	}
	case element_type::STRING: {
		std::string_view s = e.get_string().value_unsafe();
		lua_pushlstring(L, s.data(), s.size());
		break;
	}
	case element_type::INT64:
#if LUA_VERSION_NUM >= 503
		lua_pushinteger(L, (lua_Integer)e.get_int64().value_unsafe());
#else
		lua_pushnumber(L, (lua_Number)e.get_int64().value_unsafe());
#endif
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

int refuse(lua_State *L, const char *message)
{
	lua_pushnil(L);
	lua_pushstring(L, message);
	return 2;
}

int json_decode(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	decoder *d = static_cast<decoder *>(lua_touserdata(L, lua_upvalueindex(1)));
	if (len > SIZE_MAX - simdjson::SIMDJSON_PADDING)
		return refuse(L, "document too large");
	if (d->cap < len + simdjson::SIMDJSON_PADDING) {
		size_t cap = len + simdjson::SIMDJSON_PADDING;
		char *buf = static_cast<char *>(std::realloc(d->buf, cap));
		if (buf == nullptr)
			return refuse(L, "out of memory");
		d->buf = buf;
		d->cap = cap;
	}
	if (d->parser == nullptr) {
		d->parser = new (std::nothrow) simdjson::dom::parser();
		if (d->parser == nullptr)
			return refuse(L, "out of memory");
	}
	std::memcpy(d->buf, s, len);
	element root;
	simdjson::error_code err = d->parser->parse(d->buf, len, false).get(root);
	if (err) {
		if (d->cap > KEEP_BYTES)
			release(d);
		return refuse(L, simdjson::error_message(err));
	}
	push(L, root);
	if (d->cap > KEEP_BYTES)
		release(d);
	return 1;
}

int decoder_gc(lua_State *L)
{
	release(static_cast<decoder *>(lua_touserdata(L, 1)));
	return 0;
}

} // namespace

/* Adds json_decode to the module table on top of the stack. */
void kombo_json_open(lua_State *L)
{
	decoder *d = static_cast<decoder *>(lua_newuserdata(L, sizeof(decoder)));
	d->parser = nullptr;
	d->buf = nullptr;
	d->cap = 0;
	if (luaL_newmetatable(L, DECODER_MT)) {
		lua_pushcfunction(L, decoder_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	lua_pushcclosure(L, json_decode, 1);
	lua_setfield(L, -2, "json_decode");
}
