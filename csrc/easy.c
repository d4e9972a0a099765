/* The easy object ("kombo.easy"): one libcurl easy handle and its
 * buffers, kept across requests so consecutive requests share a kept-alive
 * connection and no per-request allocation is needed once warmed up.
 *
 * easy:perform(req) does one HTTP exchange and nothing else: no retries,
 * no waiting (that is policy.c's and the drivers' business). It returns a
 * response table, or nil and a classified failure table. */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "core.h"
#include "easy.h"
#include "failure.h"

/* CURLOPT_TIMEOUT_MS is a long; a larger double would not convert. */
#define MAX_TIMEOUT_MS 2147483647.0

/* Every buffer keeps KOMBO_JSON_PADDING bytes past its contents, so a body
 * decodes where it is. */
static int buf_append(kb_buf *b, const char *p, size_t n)
{
	if (b->len + n + KOMBO_JSON_PADDING > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *np;
		while (cap < b->len + n + KOMBO_JSON_PADDING)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL)
			return 0;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 1;
}

/* Buffers up to this size are kept for the next transfer; a page of
 * Kombo's default size fits, so a page walk reuses one buffer. */
#define KEEP_BYTES (1u << 20)

static void buf_trim(kb_buf *b)
{
	if (b->cap > KEEP_BYTES) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
	b->len = 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	kb_easy *c = ud;
	size_t len = size * n;
	if (c->max_body && c->body.len + len > c->max_body) {
		c->too_large = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return buf_append(&c->body, p, len) ? len : 0;
}

/* The code of a status line ("HTTP/1.1 101 ..." -> 101), 0 when it has
 * none. */
static int status_code(const char *p, size_t len)
{
	const char *sp = memchr(p, ' ', len);
	int code = 0, k;
	if (sp == NULL || (size_t)(p + len - sp) < 4)
		return 0;
	for (k = 1; k <= 3; k++) {
		if (sp[k] < '0' || sp[k] > '9')
			return 0;
		code = code * 10 + (sp[k] - '0');
	}
	return code;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	kb_easy *c = ud;
	size_t len = size * n;
	/* Every block counts (1xx answers too): a server cannot start the
	 * count again by sending status lines. */
	c->head_bytes += len;
	if (c->head_bytes > KOMBO_MAX_HEADER_BYTES) {
		c->too_large = 2;
		return 0;
	}
	if (c->head_state == HEAD_STATUS) {
		/* Only the final block describes the response. libcurl takes a
		 * 101 nobody asked for as final, with a body until the server
		 * closes: it is the answer, and what follows it is no HTTP. */
		int code = status_code(p, len);
		c->head.len = 0;
		c->length = -1;
		c->switched = code == 101;
		c->head_state = code >= 100 && code < 200 && !c->switched ? HEAD_INTERIM : HEAD_FINAL;
	} else if (c->head_state != HEAD_ENDED && (len == 2 ? memcmp(p, "\r\n", 2) == 0 : len == 1 && p[0] == '\n')) {
		c->head_state = c->head_state == HEAD_INTERIM ? HEAD_STATUS : HEAD_ENDED;
		if (c->switched) {
			buf_append(&c->head, p, len);
			return 0;
		}
	} else if (c->head_state != HEAD_ENDED && (p[0] == ' ' || p[0] == '\t')) {
		/* A folded line: obsolete, and no server of this API folds. */
		c->malformed = "a folded response header line";
		return 0;
	} else if (c->head_state == HEAD_FINAL && len > 15 && strncasecmp(p, "content-length:", 15) == 0) {
		/* Two lengths that differ: which one frames the body is a guess
		 * (libcurl takes the last), and the server answers so again. */
		char value[32], *end;
		long long v;
		size_t n = len - 15 < sizeof value - 1 ? len - 15 : sizeof value - 1;
		memcpy(value, p + 15, n); /* the line is not NUL-terminated */
		value[n] = '\0';
		v = strtoll(value, &end, 10);
		if (end != value && c->length >= 0 && v != c->length) {
			c->malformed = "two different Content-Length headers";
			return 0;
		}
		if (end != value)
			c->length = v;
	}
	return buf_append(&c->head, p, len) ? len : 0;
}

/* Opens the sockets libcurl asks for, to tell a process out of file
 * descriptors (a failure of its own, not a refused connection). */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	kb_easy *c = ud;
	curl_socket_t s;
	(void)purpose;
	s = socket(a->family, a->socktype, a->protocol);
	if (s == CURL_SOCKET_BAD && (errno == EMFILE || errno == ENFILE))
		c->fd_limit = 1;
	return s;
}

kb_easy *kombo_easy_check(lua_State *L, int idx)
{
	kb_easy *c = luaL_checkudata(L, idx, KOMBO_EASY_MT);
	if (c->easy == NULL)
		luaL_error(L, "attempt to use a closed kombo easy handle");
	return c;
}

static void set_str(lua_State *L, kb_easy *c, int opts, const char *field, CURLoption opt)
{
	lua_getfield(L, opts, field);
	if (!lua_isnil(L, -1))
		curl_easy_setopt(c->easy, opt, luaL_checkstring(L, -1));
	lua_pop(L, 1);
}

static int opt_bool(lua_State *L, int opts, const char *field, int dflt)
{
	int v = dflt;
	lua_getfield(L, opts, field);
	if (!lua_isnil(L, -1)) {
		luaL_checktype(L, -1, LUA_TBOOLEAN);
		v = lua_toboolean(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

/* The Accept-Encoding line: the encodings this libcurl decodes, as
 * CURLOPT_ACCEPT_ENCODING "" lists them. libcurl formats that option into a
 * line of its own for every request, then copies the line into the request
 * byte by byte again; a line of the request's header list is copied once,
 * so the line goes out in the list (kombo_easy_prepare): on a small request
 * the second copy is a good part of libcurl's work. The option stays set:
 * it is what has libcurl decode what the server compressed. (The
 * User-Agent is one of the request's lines, attempts.lua's, as in every
 * driver.) */
static void set_accept(kb_easy *c)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	char *start = c->accept + sprintf(c->accept, "Accept-Encoding: "), *p = start;
	if (v->features & CURL_VERSION_LIBZ)
		p += sprintf(p, "deflate, gzip, ");
	if (v->features & CURL_VERSION_BROTLI)
		p += sprintf(p, "br, ");
#ifdef CURL_VERSION_ZSTD
	if (v->features & CURL_VERSION_ZSTD)
		p += sprintf(p, "zstd, ");
#endif
	if (p == start)
		c->accept[0] = '\0'; /* none: libcurl sends no such line either */
	else
		p[-2] = '\0'; /* the last ", " */
}

/* core.easy{ verify_tls=true, ca_file=, max_response_bytes= } */
static int l_easy_new(lua_State *L)
{
	kb_easy *c;
	int verify;
	if (lua_isnoneornil(L, 1))
		lua_newtable(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	/* Zeroed and owned by Lua before anything is acquired, so a failure
	 * half-way leaves a closed object that __gc handles. */
	c = lua_newuserdata(L, sizeof *c);
	memset(c, 0, sizeof *c);
	c->req_ref = LUA_NOREF;
	luaL_getmetatable(L, KOMBO_EASY_MT);
	lua_setmetatable(L, -2);

	c->easy = curl_easy_init();
	if (c->easy == NULL)
		return luaL_error(L, "curl_easy_init failed");
	c->max_body = (size_t)kb_optfield_number(L, 1, "max_response_bytes", 0);
	verify = opt_bool(L, 1, "verify_tls", 1);

	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(c->easy, CURLOPT_OPENSOCKETDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_ACCEPT_ENCODING, "");
	/* A proxy's answer to CONNECT is no block of the response. */
	curl_easy_setopt(c->easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	curl_easy_setopt(c->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c->easy, CURLOPT_TCP_NODELAY, 1L);
	/* Never follow redirects: the API does not redirect, and following one
	 * could carry the Authorization header to another host. */
	curl_easy_setopt(c->easy, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
	curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	set_str(L, c, 1, "ca_file", CURLOPT_CAINFO);
	set_accept(c);
	return 1;
}

static void release_request(kb_easy *c)
{
	curl_slist_free_all(c->headers);
	c->headers = NULL;
	c->escaped_key = NULL;
}

static struct curl_slist *append_line(lua_State *L, struct curl_slist *h, const char *line)
{
	struct curl_slist *nh = curl_slist_append(h, line);
	if (nh == NULL) {
		curl_slist_free_all(h);
		luaL_error(L, "out of memory");
	}
	return nh;
}

/* Sets the easy handle up for the request table at idx. Raises on misuse
 * (wrong types, CR/LF in a header) before anything is sent. The body string
 * is not copied: the caller keeps req alive until the transfer is done. A
 * held transfer (a page fetched ahead, whose caller may work for longer
 * than its timeout before reading it) runs without libcurl's timeout,
 * which would count that time: its caller counts c->timeout_ms itself. */
void kombo_easy_prepare(lua_State *L, kb_easy *c, int idx, int held)
{
	const char *method, *url, *body = NULL;
	const char *accept;
	size_t body_len = 0, i, n;
	double timeout;
	struct curl_slist *h = NULL;

	luaL_checktype(L, idx, LUA_TTABLE);
	lua_getfield(L, idx, "method");
	method = luaL_checkstring(L, -1);
	lua_getfield(L, idx, "url");
	url = luaL_checkstring(L, -1);
	lua_getfield(L, idx, "body");
	if (!lua_isnil(L, -1))
		body = luaL_checklstring(L, -1, &body_len);
	lua_pop(L, 3); /* the strings stay reachable through req */
	lua_getfield(L, idx, "timeout_ms");
	timeout = (double)luaL_checknumber(L, -1); /* the caller's: attempts.lua */
	lua_getfield(L, idx, "json");
	lua_getfield(L, idx, "null_as_nil");
	c->decode = !lua_toboolean(L, -2) ? 0 : lua_toboolean(L, -1) ? 2 : 1;
	lua_pop(L, 3);
	if (!(timeout >= 1))
		timeout = 1; /* also NaN */
	else if (timeout > MAX_TIMEOUT_MS)
		timeout = MAX_TIMEOUT_MS;
	c->timeout_ms = timeout;
	c->spent_ms = 0;

	release_request(c);
	accept = c->accept;
	lua_getfield(L, idx, "headers");
	if (!lua_isnil(L, -1)) {
		luaL_checktype(L, -1, LUA_TTABLE);
		n = kb_rawlen(L, -1);
		for (i = 1; i <= n; i++) {
			size_t len;
			const char *line;
			lua_rawgeti(L, -1, (int)i);
			line = luaL_checklstring(L, -1, &len);
			if (!kombo_header_value_ok(line, len)) {
				curl_slist_free_all(h);
				luaL_error(L, "header %d contains CR, LF or NUL", (int)i);
			}
			if (accept != NULL && strncasecmp(line, "Accept-Encoding:", 16) == 0)
				accept = NULL;
			h = append_line(L, h, line);
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	if (accept != NULL && accept[0] != '\0')
		h = append_line(L, h, accept);
	c->headers = h;

	c->body.len = 0;
	c->head.len = 0;
	c->head_bytes = 0;
	c->head_state = HEAD_STATUS;
	c->switched = 0;
	c->malformed = NULL;
	c->length = -1;
	c->too_large = 0;
	c->fd_limit = 0;
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, held ? 0L : (long)timeout);
	/* libcurl silently re-sends a request when a reused connection dies
	 * before any answer byte arrives. For a write the server may already
	 * have acted (it stored the record, then the connection dropped), so
	 * that hidden retry would create it twice behind the retry policy's
	 * back: writes go out on a connection of their own. */
	curl_easy_setopt(c->easy, CURLOPT_FRESH_CONNECT, kombo_is_read(method) ? 0L : 1L);
	if (body != NULL) {
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST,
				 strcmp(method, "POST") == 0 ? NULL : method);
	} else {
		curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST,
				 strcmp(method, "GET") == 0 ? NULL : method);
	}
}

size_t kombo_parse_headers(const char *p, size_t len, kombo_header_cb cb, void *ud)
{
	const char *end = p + len, *line = p;
	size_t count = 0;
	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *colon, *v, *ve;
		char name[KOMBO_HEADER_NAME_MAX];
		size_t nlen, k;
		if (eol == NULL)
			eol = end;
		colon = memchr(line, ':', (size_t)(eol - line));
		/* A status line holds whatever reason the server chose, colons
		 * too: no header of it. */
		if (eol - line >= 5 && memcmp(line, "HTTP/", 5) == 0)
			colon = NULL;
		if (colon != NULL && colon > line && (size_t)(colon - line) < sizeof name) {
			nlen = (size_t)(colon - line);
			for (k = 0; k < nlen; k++) {
				char ch = line[k];
				name[k] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
			}
			v = colon + 1;
			ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			cb(ud, name, nlen, v, (size_t)(ve - v));
			count++;
		}
		line = eol + 1;
	}
	return count;
}

/* Adds one header to the table on top of the stack. A repeated header's
 * values are gathered in a list and joined once by join_repeated, so many
 * repeats cost linear time, not a growing concatenation each. */
static void set_header(void *ud, const char *name, size_t nlen, const char *v, size_t vlen)
{
	lua_State *L = ud;
	lua_pushlstring(L, name, nlen);
	lua_pushvalue(L, -1);
	lua_rawget(L, -3);
	switch (lua_type(L, -1)) {
	case LUA_TNIL:
		lua_pop(L, 1);
		lua_pushlstring(L, v, vlen);
		lua_rawset(L, -3);
		break;
	case LUA_TSTRING:
		lua_createtable(L, 4, 0);
		lua_insert(L, -2);
		lua_rawseti(L, -2, 1);
		lua_pushlstring(L, v, vlen);
		lua_rawseti(L, -2, 2);
		lua_rawset(L, -3);
		break;
	default: /* already a list */
		lua_pushlstring(L, v, vlen);
		lua_rawseti(L, -2, (int)kb_rawlen(L, -2) + 1);
		lua_pop(L, 2);
		break;
	}
}

/* Replaces every list in the header table at t by its values joined with
 * ", ", as HTTP allows for a repeated header. */
static void join_repeated(lua_State *L, int t)
{
	lua_pushnil(L);
	while (lua_next(L, t) != 0) {
		if (lua_type(L, -1) == LUA_TTABLE) {
			luaL_Buffer b;
			int list = lua_gettop(L), i, n = (int)kb_rawlen(L, list);
			luaL_buffinit(L, &b);
			for (i = 1; i <= n; i++) {
				if (i > 1)
					luaL_addlstring(&b, ", ", 2);
				lua_rawgeti(L, list, i);
				luaL_addvalue(&b);
			}
			luaL_pushresult(&b);
			lua_replace(L, list);
			lua_pushvalue(L, list - 1);
			lua_insert(L, list); /* key, key, joined */
			lua_rawset(L, t);    /* an existing key: allowed during lua_next */
		} else {
			lua_pop(L, 1);
		}
	}
}

/* core.headers(block) -> a table of the block's headers by lower-case
 * name. A response carries its header block as one string (`head`) and
 * the table is made only when something reads the headers: most calls
 * never do, and for a small answer the table is a good part of its cost. */
static int l_headers(lua_State *L)
{
	size_t len;
	const char *p = luaL_checklstring(L, 1, &len);
	lua_newtable(L);
	kombo_parse_headers(p, len, set_header, L);
	join_repeated(L, lua_gettop(L));
	return 1;
}

/* A failed transfer as nil and a failure of the table in failure.c. */
static int push_failure(lua_State *L, kb_easy *c, CURLcode rc)
{
	const char *reason, *message;
	long req_size = 0;
	char limit[96];
	curl_easy_getinfo(c->easy, CURLINFO_REQUEST_SIZE, &req_size);
	if (c->malformed)
		snprintf(c->errbuf, sizeof c->errbuf, "%s", c->malformed);
	/* libcurl refuses a header line over CURL_MAX_HTTP_HEADER as out of
	 * memory (8.6 and later: too large): a line too large, as nginx's
	 * driver says. */
	if ((rc == CURLE_OUT_OF_MEMORY
#if LIBCURL_VERSION_NUM >= 0x080600
	     || rc == CURLE_TOO_LARGE
#endif
	     ) && c->head_state != HEAD_ENDED && !c->too_large)
		c->too_large = 3;
	message = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
	reason = kombo_curl_reason(rc, message, req_size > 0);
	if (c->too_large)
		reason = "too_large";
	else if (c->fd_limit)
		reason = "fd_limit";
	else if (c->malformed)
		reason = "malformed";
	else if (rc == CURLE_WRITE_ERROR)
		reason = "out_of_memory"; /* buf_append could not grow */
	if (c->too_large == 2) {
		snprintf(limit, sizeof limit, "response headers larger than %d bytes",
			 KOMBO_MAX_HEADER_BYTES);
		message = limit;
	} else if (c->too_large == 3) {
		snprintf(limit, sizeof limit, "a response header line longer than %d bytes", CURL_MAX_HTTP_HEADER);
		message = limit;
	} else if (c->too_large) {
		snprintf(limit, sizeof limit, "response larger than max_response_bytes (%.0f bytes)",
			 (double)c->max_body);
		message = limit;
	} else if (c->fd_limit)
		message = "no file descriptor left for a socket (raise ulimit -n, or lower max_connections)";
	return kombo_push_failure(L, kombo_failure(reason), message, req_size > 0);
}

/* What a response is built from: a handle's buffers (kombo_easy_finish)
 * or an answer taken off its handle (answer:build). */
typedef struct {
	kb_buf *body;
	const kb_buf *head;
	long status, connects;
	double total;
	int decode, reflects_key;
	const char *escaped_key;
} kb_view;

/* c's answer as build_response reads it. libcurl's figures are read now,
 * before anything is allocated: an allocation can run a finalizer that
 * closes the client, and the easy handle with it. */
static void view_of(kb_easy *c, kb_view *v)
{
	v->body = &c->body;
	v->head = &c->head;
	v->status = v->connects = 0;
	v->total = 0;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &v->status);
	curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &v->connects);
	curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME, &v->total);
	v->decode = c->decode;
	v->reflects_key = c->reflects_key;
	v->escaped_key = c->escaped_key;
}

/* Pushes the body decoded, when it is the API's envelope (an object with
 * a status field); otherwise pushes nothing and returns 0: the body goes
 * to Lua as it came, for the error to carry. */
static int decoded_envelope(lua_State *L, const kb_view *v, const char *body)
{
	int n;
	/* The padding kombo_json_decode_buffer asks for is there, unwritten. */
	if (v->body->p != NULL)
		memset(v->body->p + v->body->len, 0, KOMBO_JSON_PADDING);
	/* A value that holds the key escaped comes with true after it: no
	 * envelope, so the body goes to Lua, as one that reflects it plainly. */
	n = kombo_json_decode_buffer(L, body, v->body->len, v->decode == 2, v->escaped_key);
	if (n == 1 && lua_type(L, -1) == LUA_TTABLE) {
		int envelope;
		lua_pushliteral(L, "status");
		lua_rawget(L, -2);
		envelope = !lua_isnil(L, -1);
		lua_pop(L, 1);
		if (envelope)
			return 1;
	}
	lua_pop(L, n);
	return 0;
}

/* The response table, built from the handle's buffers. Run protected:
 * taking a large body into Lua may run out of memory. A request that asked
 * for it (req.json) gets a 2xx envelope decoded straight from the buffer
 * as json, and body only when that is not what came (the caller decodes it
 * again for its error): a page never becomes a Lua string. */
static int build_response(lua_State *L)
{
	static const char empty[KOMBO_JSON_PADDING + 1];
	const kb_view *v = lua_touserdata(L, 1);
	const char *body = v->body->p ? v->body->p : empty;
	long status = v->status;
	lua_createtable(L, 0, 6);
	lua_pushinteger(L, (lua_Integer)status);
	lua_setfield(L, -2, "status");
	lua_pushlstring(L, v->head->p ? v->head->p : "", v->head->len);
	lua_setfield(L, -2, "head");
	lua_pushinteger(L, (lua_Integer)v->body->len);
	lua_setfield(L, -2, "bytes");
	if (v->decode && !v->reflects_key && status >= 200 && status < 300 && decoded_envelope(L, v, body)) {
		lua_setfield(L, -2, "json");
	} else {
		lua_pushlstring(L, body, v->body->len);
		lua_setfield(L, -2, "body");
	}
	lua_pushboolean(L, v->connects == 0);
	lua_setfield(L, -2, "reused");
	lua_pushnumber(L, v->total * 1000.0);
	lua_setfield(L, -2, "elapsed_ms");
	return 1;
}

/* Looks in the body for the API key the request sent (its Authorization
 * line's credentials): a server may reflect it, and a 2xx body that does is
 * not decoded here, but handed to Lua, which redacts the decoded values.
 * strstr, not memmem: glibc's is vectorised, several times faster on a
 * page. It stops at a NUL, and so may a search for the key: no decoded
 * value holds a byte after one (JSON has no raw NUL; the lenient parser
 * ends the text at one outside strings and refuses one inside). A key
 * escaped (\u0073k_..., \/ for a slash) is found only decoded, and only a
 * body with a backslash can hold one: the decoder looks for it there. */
static void look_for_key(kb_easy *c)
{
	static const char prefix[] = "Authorization: Bearer ";
	const size_t plen = sizeof prefix - 1;
	const struct curl_slist *l;
	c->reflects_key = 0;
	c->escaped_key = NULL;
	if (c->body.len == 0)
		return;
	for (l = c->headers; l != NULL; l = l->next) {
		if (strncasecmp(l->data, prefix, plen) != 0)
			continue;
		if (l->data[plen] == '\0')
			return;
		c->body.p[c->body.len] = '\0'; /* in the padding buf_append keeps */
		if (strstr(c->body.p, l->data + plen) != NULL)
			c->reflects_key = 1;
		else if (memchr(c->body.p, '\\', c->body.len) != NULL)
			c->escaped_key = l->data + plen;
		return;
	}
}

/* Ends a transfer: pushes the response, or nil and a failure. The handle
 * stays busy until its buffers have been read: building the Lua values
 * can run a finalizer that calls back into the SDK, which must then take
 * another handle rather than overwrite these buffers. */
/* build_response and detach, kept in the registry when the module loads:
 * pushing a C function allocates (5.1, LuaJIT), and an allocation can run
 * a finalizer that closes the client, and the handle with it, after its
 * transfer ended and before it is marked as building, which would lose
 * the answer. Fetching a kept value allocates nothing. */
static char build_key, detach_key;

static void push_kept(lua_State *L, void *key)
{
	lua_pushlightuserdata(L, key);
	lua_rawget(L, LUA_REGISTRYINDEX);
}

static void keep(lua_State *L, void *key, lua_CFunction fn)
{
	lua_pushlightuserdata(L, key);
	lua_pushcfunction(L, fn);
	lua_rawset(L, LUA_REGISTRYINDEX);
}

int kombo_easy_finish(lua_State *L, kb_easy *c, CURLcode rc)
{
	int status, n = 1;
	kb_view view;
	if (rc == CURLE_WRITE_ERROR && c->switched && !c->too_large)
		rc = CURLE_OK; /* on_header ended it after the 101's block */
	if (rc == CURLE_OK && c->head_state != HEAD_ENDED) {
		snprintf(c->errbuf, sizeof c->errbuf, "the connection closed inside the response headers");
		rc = CURLE_PARTIAL_FILE;
	}
	c->reflects_key = 0;
	c->escaped_key = NULL;
	if (rc == CURLE_OK && c->decode)
		look_for_key(c);
	if (rc != CURLE_OK) {
		release_request(c);
		n = push_failure(L, c, rc);
		c->busy = 0;
		buf_trim(&c->body);
		buf_trim(&c->head);
		return n;
	}
	push_kept(L, &build_key);
	c->busy = 1;
	c->building = 1;
	view_of(c, &view);
	lua_pushlightuserdata(L, &view);
	status = lua_pcall(L, 1, 1, 0);
	c->building = 0;
	release_request(c); /* escaped_key was read from it */
	c->busy = 0;
	buf_trim(&c->body);
	buf_trim(&c->head);
	if (status == LUA_ERRMEM) {
		lua_pop(L, 1);
		return kombo_push_failure(L, kombo_failure("out_of_memory"),
					  "not enough memory for the response", 1);
	}
	if (status != 0)
		return lua_error(L); /* a finalizer's own error, not the SDK's */
	return n;
}

/* One non-blocking pump of begin's transfer on the handle's own multi
 * handle: whatever can be sent or received now. Returns 1 once the
 * transfer has ended (c->result, c->ended_ms set). */
static int pump(kb_easy *c)
{
	CURLMsg *msg;
	int running = 1, left;
	if (c->done)
		return 1;
	if (curl_multi_perform(c->own, &running) != CURLM_OK) {
		c->result = CURLE_OUT_OF_MEMORY;
		running = 0;
	}
	if (running != 0)
		return 0;
	while ((msg = curl_multi_info_read(c->own, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			c->result = msg->data.result;
	c->done = 1;
	c->ended_ms = kombo_now_ms();
	return 1;
}

/* A held transfer whose timeout ran out after ms counted: it fails as
 * libcurl words its own timeout. */
void kombo_easy_time_out(kb_easy *c, double ms)
{
	snprintf(c->errbuf, sizeof c->errbuf, "Operation timed out after %.0f milliseconds with %lu bytes received",
		 ms, (unsigned long)c->body.len);
}

/* Waits for begin's transfer to move, until `until` (core.now_ms's clock).
 * Returns 0 once the transfer has ended: at `until` it timed out, after
 * c->spent_ms and what this wait, begun at `from`, adds. */
static int await(kb_easy *c, double from, double until)
{
	double now = kombo_now_ms(), left = until - now;
	if (left <= 0) {
		kombo_easy_time_out(c, c->spent_ms + now - from);
		c->result = CURLE_OPERATION_TIMEDOUT;
	} else if (curl_multi_poll(c->own, NULL, 0, left < 1000 ? (int)left + 1 : 1000, NULL) != CURLM_OK) {
		c->result = CURLE_OUT_OF_MEMORY;
	} else {
		return 1;
	}
	c->done = 1;
	c->ended_ms = kombo_now_ms();
	return 0;
}

/* Has the request (its header block at least) gone out? libcurl counts
 * what it sent of the current transfer's requests. */
static int request_sent(kb_easy *c)
{
	long sent = 0;
	curl_easy_getinfo(c->easy, CURLINFO_REQUEST_SIZE, &sent);
	return sent > 0;
}

/* Takes begin's transfer out of the multi handle: after it ended, or
 * cancelled (libcurl closes the connection of an unfinished transfer). */
static void stop_transfer(lua_State *L, kb_easy *c)
{
	curl_multi_remove_handle(c->own, c->easy);
	c->started = 0;
	luaL_unref(L, LUA_REGISTRYINDEX, c->req_ref);
	c->req_ref = LUA_NOREF;
}

/* Puts the request at index idx on the handle's own multi handle. Every
 * transfer of a handle runs there, blocking or not, so the handle has one
 * connection cache: a connection kept alive by one way of sending serves
 * the other. A transfer that outlives the call (start) holds on to req,
 * whose body libcurl reads. Returns 0 when libcurl could not take it (out
 * of memory), with nothing started. */
static int begin(lua_State *L, kb_easy *c, int idx, int outlives)
{
	if (c->busy)
		luaL_error(L, "kombo easy handle is busy with another transfer");
	kombo_easy_prepare(L, c, idx, outlives);
	if (c->own == NULL) {
		if ((c->own = curl_multi_init()) == NULL)
			return 0;
		/* One idle connection per handle: a write goes out on a fresh
		 * connection, and the one it replaces is closed rather than kept
		 * beside it. */
		curl_multi_setopt(c->own, CURLMOPT_MAXCONNECTS, 1L);
	}
	if (curl_multi_add_handle(c->own, c->easy) != CURLM_OK)
		return 0;
	if (outlives) {
		lua_pushvalue(L, idx);
		c->req_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	c->started = 1;
	c->busy = 1;
	c->done = 0;
	c->result = CURLE_OK;
	return 1;
}

/* Waits for begin's transfer to end, at most until `until`, then takes it
 * off the multi handle. */
static void wait_done(lua_State *L, kb_easy *c, double until)
{
	double from = kombo_now_ms();
	while (!pump(c) && await(c, from, until))
		;
	stop_transfer(L, c);
}

/* easy:perform(req) -> response | nil, failure */
static int l_perform(lua_State *L)
{
	kb_easy *c = kombo_easy_check(L, 1);
	if (!begin(L, c, 2, 0))
		return kombo_easy_finish(L, c, CURLE_OUT_OF_MEMORY);
	wait_done(L, c, HUGE_VAL); /* libcurl's timeout ends it */
	return kombo_easy_finish(L, c, c->result);
}

/* easy:start(req): sends req and returns at once, without waiting for the
 * answer. The transfer moves on whenever easy:pump() runs (the page walk
 * calls it as the caller iterates) and the kernel buffers what arrives in
 * between; easy:finish() waits for the rest. No thread: nothing runs
 * beside the caller, so nothing competes with it for its CPU. The caller
 * may work on its page for longer than the request's timeout before it
 * reads the answer: the timeout counts this send and finish's wait. */
static int l_start(lua_State *L)
{
	kb_easy *c = kombo_easy_check(L, 1);
	double from;
	if (!begin(L, c, 2, 1))
		return luaL_error(L, "libcurl could not start the transfer (out of memory)");
	/* Out before start returns, whoever pumps it later: on a connection
	 * not yet open that means its connect (and TLS handshake) first. */
	from = kombo_now_ms();
	while (!pump(c) && !request_sent(c) && await(c, from, from + c->timeout_ms))
		;
	c->since_ms = kombo_now_ms();
	c->spent_ms = c->since_ms - from;
	return 0;
}

/* easy:pump() -> true once start's transfer has ended: moves it on
 * without waiting. Never raises; false without a started transfer. */
static int l_pump(lua_State *L)
{
	kb_easy *c = luaL_checkudata(L, 1, KOMBO_EASY_MT);
	lua_pushboolean(L, c->easy != NULL && c->started && pump(c));
	return 1;
}

/* Waits for start's transfer, for what is left of its timeout, and
 * counts the ms nobody waited for it: since it ended, or, not ended yet,
 * since start returned. */
static void receive(lua_State *L, kb_easy *c)
{
	double now = kombo_now_ms();
	if (!c->started)
		luaL_error(L, "kombo easy handle has no started transfer");
	c->unwaited_ms = now - (c->done ? c->ended_ms : c->since_ms);
	wait_done(L, c, now + c->timeout_ms - c->spent_ms);
	c->received = 1;
}

/* An answer receive took off its handle: the handle's buffers and what
 * libcurl said of the transfer, built into Lua values by answer:build()
 * while the handle runs the next request on its connection. */
typedef struct {
	kb_buf body, head;
	kb_view view;                 /* what build reads: these buffers, escaped_key */
	double unwaited_ms;
	char *escaped_key;            /* a copy, or NULL */
	int building, built;
	/* The handle it came from, kept alive by owner_ref: its body buffer
	 * goes back there as the spare, for the handle's next answer. */
	kb_easy *owner;
	int owner_ref;
} kb_answer;

/* Lets go of what the answer holds (not while it is being built: the
 * build reads it, and the next release, its __gc at the latest, ends it). */
static void answer_release(lua_State *L, kb_answer *a)
{
	kb_easy *owner = a->owner;
	if (a->building)
		return;
	if (owner != NULL && owner->easy != NULL && owner->spare.p == NULL && a->body.cap <= KEEP_BYTES) {
		owner->spare = a->body;
		owner->spare.len = 0;
	} else {
		free(a->body.p);
	}
	free(a->head.p);
	free(a->escaped_key);
	memset(&a->body, 0, sizeof a->body);
	memset(&a->head, 0, sizeof a->head);
	a->escaped_key = NULL;
	a->view.escaped_key = NULL;
	a->built = 1; /* nothing left to build */
	a->owner = NULL;
	luaL_unref(L, LUA_REGISTRYINDEX, a->owner_ref);
	a->owner_ref = LUA_NOREF;
}

/* (handle) -> the next cursor, the answer | nothing. Run protected by
 * l_receive, with the handle marked building: an allocation here may run
 * a finalizer that closes the handle, which then leaves its buffers. */
static int detach(lua_State *L)
{
	kb_easy *c = lua_touserdata(L, 1);
	kb_answer *a;
	const char *at;
	size_t n;
	if (c->easy == NULL || c->body.p == NULL || (at = kombo_peek_next(c->body.p, c->body.len, &n)) == NULL)
		return 0;
	lua_pushlstring(L, at, n);
	a = lua_newuserdata(L, sizeof *a);
	memset(a, 0, sizeof *a);
	a->owner_ref = LUA_NOREF;
	luaL_getmetatable(L, KOMBO_ANSWER_MT);
	lua_setmetatable(L, -2);
	lua_pushvalue(L, 1);
	a->owner_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	look_for_key(c);
	if (c->easy == NULL || (c->escaped_key != NULL && (a->escaped_key = strdup(c->escaped_key)) == NULL))
		return 0;
	/* Nothing below allocates: the answer and the handle change at once. */
	view_of(c, &a->view);
	a->view.body = &a->body;
	a->view.head = &a->head;
	a->view.escaped_key = a->escaped_key;
	a->owner = c;
	a->body = c->body;
	a->head = c->head;
	c->body = c->spare;
	memset(&c->spare, 0, sizeof c->spare);
	memset(&c->head, 0, sizeof c->head);
	a->unwaited_ms = c->unwaited_ms;
	c->received = 0;
	c->busy = 0;
	release_request(c);
	return 2;
}

/* easy:receive() -> the answer's next cursor, the answer | nothing: waits
 * for start's transfer as finish does. For a 2xx to be decoded whose
 * next cursor the raw body gives plainly (cursor.c, a hint), the answer
 * leaves the handle, which is free at once for the next request, on the same
 * connection; answer:build() makes it what finish would have returned.
 * Otherwise the handle keeps it, and finish builds it. */
static int l_receive(lua_State *L)
{
	kb_easy *c = kombo_easy_check(L, 1);
	long status = 0;
	int ok;
	if (c->received)
		return luaL_error(L, "kombo easy handle's answer was received already");
	receive(L, c);
	if (c->result != CURLE_OK || c->head_state != HEAD_ENDED || !c->decode)
		return 0;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300)
		return 0;
	push_kept(L, &detach_key);
	lua_pushvalue(L, 1);
	c->building = 1;
	/* Out of memory, or a finalizer's error, in detach: no hint, and the
	 * answer stays on the handle for finish, whole. */
	ok = lua_pcall(L, 1, 2, 0) == 0;
	c->building = 0;
	if (!ok) {
		lua_pop(L, 1);
		return 0;
	}
	return lua_isnil(L, -1) ? 0 : 2;
}

/* answer:build() -> response | nil, failure; then the ms nobody waited for
 * it, as easy:finish() gives them. Once, and not after answer:close(). */
static int l_answer_build(lua_State *L)
{
	kb_answer *a = luaL_checkudata(L, 1, KOMBO_ANSWER_MT);
	int status;
	if (a->built)
		return luaL_error(L, "kombo answer was built or closed already");
	push_kept(L, &build_key);
	a->built = 1;
	a->building = 1;
	lua_pushlightuserdata(L, &a->view);
	status = lua_pcall(L, 1, 1, 0);
	a->building = 0;
	answer_release(L, a);
	if (status == LUA_ERRMEM) {
		lua_pop(L, 1);
		kombo_push_failure(L, kombo_failure("out_of_memory"), "not enough memory for the response", 1);
	} else if (status != 0) {
		return lua_error(L); /* a finalizer's own error, not the SDK's */
	} else {
		lua_pushnil(L);
	}
	lua_pushnumber(L, a->unwaited_ms);
	return 3;
}

static int l_answer_close(lua_State *L)
{
	kb_answer *a = luaL_checkudata(L, 1, KOMBO_ANSWER_MT);
	answer_release(L, a);
	return 0;
}

static int l_answer_tostring(lua_State *L)
{
	kb_answer *a = luaL_checkudata(L, 1, KOMBO_ANSWER_MT);
	lua_pushfstring(L, "kombo.answer (%p)", (void *)a);
	return 1;
}

/* easy:finish() -> response | nil, failure; then the ms nobody waited
 * for it (receive's). Receives first, if receive has not. */
static int l_finish(lua_State *L)
{
	kb_easy *c = kombo_easy_check(L, 1);
	double unwaited;
	if (!c->received)
		receive(L, c);
	c->received = 0;
	unwaited = c->unwaited_ms;
	if (kombo_easy_finish(L, c, c->result) == 1)
		lua_pushnil(L);
	lua_pushnumber(L, unwaited);
	return 3;
}

/* Lets go of a transfer that will never be finished: the request's
 * headers, the buffers, the busy mark. */
void kombo_easy_abandon(kb_easy *c)
{
	c->received = 0;
	release_request(c);
	buf_trim(&c->body);
	buf_trim(&c->head);
	c->busy = 0;
}

/* easy:cancel(): stops start's transfer, if any; its connection closes. */
static int l_cancel(lua_State *L)
{
	kb_easy *c = luaL_checkudata(L, 1, KOMBO_EASY_MT);
	if (c->started) {
		stop_transfer(L, c);
		kombo_easy_abandon(c);
	} else if (c->received) {
		kombo_easy_abandon(c);
	}
	return 0;
}

/* easy:busy() -> true while a transfer or its response is in progress:
 * a caller re-entering from a finalizer, hook or logger takes another. */
static int l_busy(lua_State *L)
{
	kb_easy *c = luaL_checkudata(L, 1, KOMBO_EASY_MT);
	lua_pushboolean(L, c->busy);
	return 1;
}

static int l_close(lua_State *L)
{
	kb_easy *c = luaL_checkudata(L, 1, KOMBO_EASY_MT);
	/* No error while busy: this is also __gc, and curl_easy_cleanup
	 * detaches a handle from its multi handle itself. */
	if (c->started)
		stop_transfer(L, c);
	c->received = 0;
	/* A build reads escaped_key in the request's headers: they go when it
	 * ends. */
	if (!c->building)
		release_request(c);
	if (c->own != NULL) {
		curl_multi_cleanup(c->own);
		c->own = NULL;
	}
	if (c->easy != NULL) {
		curl_easy_cleanup(c->easy);
		c->easy = NULL;
		c->busy = 0;
	}
	free(c->spare.p);
	memset(&c->spare, 0, sizeof c->spare);
	/* A finalizer run by the allocations of a build, closing the client:
	 * the build still reads the buffers, which go at the next close (the
	 * handle's __gc at the latest). */
	if (c->building)
		return 0;
	free(c->body.p);
	free(c->head.p);
	memset(&c->body, 0, sizeof c->body);
	memset(&c->head, 0, sizeof c->head);
	return 0;
}

static int l_tostring(lua_State *L)
{
	kb_easy *c = luaL_checkudata(L, 1, KOMBO_EASY_MT);
	lua_pushfstring(L, "kombo.easy (%s%p)", c->easy ? "" : "closed ", (void *)c);
	return 1;
}

/* core.release_memory(): hands memory the process freed back to the
 * system. glibc keeps freed heap pages for reuse below any block still in
 * use, so after a burst of large responses the process would stay at the
 * burst's peak; elsewhere this does nothing. */
static int l_release_memory(lua_State *L)
{
	(void)L;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	return 0;
}

void kombo_easy_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "perform", l_perform },
		{ "busy", l_busy },
		{ "start", l_start },
		{ "pump", l_pump },
		{ "receive", l_receive },
		{ "finish", l_finish },
		{ "cancel", l_cancel },
		KB_CLOSABLE(l_close, l_tostring),
		{ NULL, NULL },
	};
	static const luaL_Reg fns[] = {
		{ "easy", l_easy_new },
		{ "release_memory", l_release_memory },
		{ "headers", l_headers },
		{ NULL, NULL },
	};
	static const luaL_Reg answer_methods[] = {
		{ "build", l_answer_build },
		KB_CLOSABLE(l_answer_close, l_answer_tostring),
		{ NULL, NULL },
	};
	kb_newclass(L, KOMBO_EASY_MT, methods);
	kb_newclass(L, KOMBO_ANSWER_MT, answer_methods);
	kb_setfuncs(L, fns, 0);
	keep(L, &build_key, build_response);
	keep(L, &detach_key, detach);
}
