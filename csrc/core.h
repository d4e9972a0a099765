/* Prototypes shared between the C files of kombo.core. Nothing here is
 * exported from the shared object: the Makefile builds with
 * -fvisibility=hidden and only luaopen_kombo_core is marked visible. */
#ifndef KOMBO_CORE_H
#define KOMBO_CORE_H

#include <stddef.h>
#include "compat.h"

#define KOMBO_EASY_MT "kombo.easy"
#define KOMBO_ANSWER_MT "kombo.answer"
#define KOMBO_MULTI_MT "kombo.multi"

/* The methods of an object that owns a resource: close, which __gc and
 * __close (5.4's to-be-closed variables) call too, and __tostring. */
#define KB_CLOSABLE(close_fn, tostring_fn)                                            \
	{ "close", close_fn }, { "__gc", close_fn }, { "__close", close_fn },          \
	{ "__tostring", tostring_fn }

/* Each adds its functions to the module table on top of the stack. */
void kombo_easy_open(lua_State *L);
void kombo_encode_open(lua_State *L);
void kombo_clock_open(lua_State *L);
void kombo_multi_open(lua_State *L);
void kombo_policy_open(lua_State *L);
void kombo_retries_open(lua_State *L);
void kombo_hints_open(lua_State *L);
void kombo_failure_open(lua_State *L);
void kombo_json_open(lua_State *L); /* json.cpp, C++ for simdjson */

/* Bytes a buffer given to kombo_json_decode_buffer must have past its end,
 * written with anything (simdjson reads ahead and masks off what it read,
 * but memory nobody wrote makes valgrind see a branch on it; json.cpp
 * checks this is enough). */
#define KOMBO_JSON_PADDING 64

/* json_decode(s, drop_null) of the state's kombo.core on the len bytes at
 * p, which are followed by KOMBO_JSON_PADDING written bytes, without
 * copying them into a Lua string first. Pushes the value and returns 1, or
 * pushes nil and a message and returns 2. With key (NUL-terminated, not
 * empty), every string of the value is looked at for it, and a value that
 * holds it is pushed with true after it (2). */
int kombo_json_decode_buffer(lua_State *L, const char *p, size_t len, int drop_null, const char *key);
void kombo_hmac_open(lua_State *L);
void kombo_lock_open(lua_State *L);
void kombo_cursor_open(lua_State *L);

/* core.now_ms's clock: monotonic milliseconds (clock.c). */
double kombo_now_ms(void);

/* false for NaN and both infinities */
static inline int kb_is_finite(double v)
{
	return v - v == 0;
}

/* ASCII lower case, whatever the locale. */
static inline char kb_lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* 1 for GET, HEAD and OPTIONS in any case: requests that change nothing. */
int kombo_is_read(const char *method);

/* Percent-encode in[0..len) keeping only RFC 3986 unreserved characters.
 * out must hold 3*len bytes; returns the encoded length. */
size_t kombo_pct_encode(const char *in, size_t len, char *out);

/* kombo_pct_encode, and "." and ".." encoded as %2E so a path segment can
 * never be a dot segment. out must hold 3*len bytes. */
size_t kombo_escape_segment(const char *in, size_t len, char *out);

/* A JSON string: in[0..len) quoted, with '"', '\\', the control characters
 * and DEL escaped (as \n, \u001f, ...), every other byte as it is.
 * kombo_json_string_size is the length it takes, or 0 when in is not
 * well-formed UTF-8 and as_is is 0; kombo_json_string writes it to out,
 * which holds that many bytes, and returns it. */
size_t kombo_json_string_size(const char *in, size_t len, int as_is);
size_t kombo_json_string(const char *in, size_t len, char *out);

/* The query of the page after this one: q, "&" when q is not empty, then
 * "cursor=" and the percent-encoded cursor. out must hold
 * KOMBO_NEXT_QUERY_SIZE(qlen, clen) bytes; returns the length written. */
#define KOMBO_NEXT_QUERY_SIZE(qlen, clen) ((qlen) + 8 + 3 * (clen))
size_t kombo_next_query(const char *q, size_t qlen, const char *cur, size_t clen, char *out);

/* A page's data.next read off its raw JSON before the decode
 * (cursor.c): where the cursor's characters start in p[0..len), *n of
 * them, or NULL when the envelope's leading members do not give one
 * plainly. A hint, to be checked against the decoded value. */
const char *kombo_peek_next(const char *p, size_t len, size_t *n);

/* Standard base64 with padding; out must hold 4*((len+2)/3) bytes. */
size_t kombo_b64_encode(const unsigned char *in, size_t len, char *out);

/* Decodes base64url (RFC 4648, section 5) s[0..len), with or without its
 * "=" padding, into out, which must hold 3*(len/4)+2 bytes. Returns the
 * decoded length, or -1 when s is not the canonical encoding of any bytes:
 * a character outside the alphabet, padding misplaced or not what the length
 * needs, a length no encoding has, or unused bits that are not zero. */
long kombo_b64url_decode(const char *s, size_t len, unsigned char *out);

/* What kombo_signature_check found. */
enum { KOMBO_SIGNATURE_OK, KOMBO_SIGNATURE_MALFORMED, KOMBO_SIGNATURE_MISMATCH, KOMBO_SIGNATURE_FAILED };

/* Is sig[0..slen) the base64url HMAC-SHA256 of body[0..blen) under
 * key[0..klen)? Compares in constant time; KOMBO_SIGNATURE_FAILED when
 * libcrypto could not compute the HMAC. Pure: no Lua. */
int kombo_signature_check(const unsigned char *body, size_t blen, const char *sig, size_t slen,
			  const unsigned char *key, size_t klen);

/* 1 when s[0..len) may be sent as a header value: no CR, LF or NUL. */
int kombo_header_value_ok(const char *s, size_t len);

/* 1 when s[0..len) is a header name: an HTTP token (RFC 9110). */
int kombo_header_name_ok(const char *s, size_t len);

/* Header names this long or longer are skipped by kombo_parse_headers. */
#define KOMBO_HEADER_NAME_MAX 128

/* Receives one header: name lower-cased (not NUL-terminated, 1 to
 * KOMBO_HEADER_NAME_MAX-1 bytes, valid only during the call) and the value
 * with surrounding spaces, tabs and the CR trimmed (pointing into the block). */
typedef void (*kombo_header_cb)(void *ud, const char *name, size_t nlen, const char *value,
				size_t vlen);

/* Splits a response header block p[0..len) (the bytes libcurl handed over,
 * status line included) into headers, calling cb for each line that has a
 * name before a colon and is no status line (HTTP/...); other lines are
 * skipped. Pure: no Lua, no curl.
 * Returns how many headers cb received. */
size_t kombo_parse_headers(const char *p, size_t len, kombo_header_cb cb, void *ud);

#endif
