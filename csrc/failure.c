/* The failures one exchange can end in: the single table every driver
 * classifies into and the retry policy reads. A driver names a failure by
 * its reason; the table gives its kind (the error object's kind), whether
 * trying again could ever help, and whether the request can have reached
 * the server. libcurl's codes and nginx's socket errors are mapped here
 * too, so the blocking, tasks, OpenResty and Neovim drivers can never
 * disagree on what a failure is.
 *
 *   core.failure(reason, message, sent)          -> nil, failure
 *   core.socket_failure(stage, message, sent, got_bytes) -> nil, failure
 */
#include <string.h>
#include "core.h"
#include "failure.h"

enum { NOT_SENT = 0, MAY_BE_SENT = 1, AS_MEASURED = -1 };

static const kb_failure FAILURES[] = {
	/* reason             kind          final  sent */
	{ "refused",          "connection", 0, NOT_SENT },
	{ "dns",              "connection", 0, NOT_SENT },
	{ "tls",              "connection", 0, NOT_SENT },
	{ "send",             "connection", 0, NOT_SENT },
	{ "reset",            "connection", 0, AS_MEASURED },
	{ "partial",          "connection", 0, MAY_BE_SENT },
	{ "empty_reply",      "connection", 0, AS_MEASURED },
	{ "other",            "connection", 0, AS_MEASURED },
	{ "timeout",          "timeout",    0, AS_MEASURED },
	/* The peer or the CA bundle is wrong: the same every time. */
	{ "certificate",      "connection", 1, NOT_SENT },
	/* The URL itself is refused: too long, malformed, a bad port. */
	{ "bad_url",          "connection", 1, NOT_SENT },
	{ "unsupported_protocol", "connection", 1, NOT_SENT },
	/* The process has no descriptor left for a socket: waiting in this
	 * call frees none, and retrying would hide the leak. */
	{ "fd_limit",         "connection", 1, NOT_SENT },
	{ "out_of_memory",    "decode",     1, MAY_BE_SENT },
	{ "too_large",        "decode",     1, MAY_BE_SENT },
	{ "content_encoding", "decode",     1, MAY_BE_SENT },
	/* The answer is no HTTP (a bad length, chunk or header line): a server
	 * that answers so will answer so again. */
	{ "malformed",        "decode",     1, MAY_BE_SENT },
};

#define NFAILURES (sizeof FAILURES / sizeof FAILURES[0])

const kb_failure *kombo_failure(const char *reason)
{
	size_t i;
	for (i = 0; i < NFAILURES; i++)
		if (strcmp(FAILURES[i].reason, reason) == 0)
			return &FAILURES[i];
	return NULL;
}

static const struct {
	CURLcode code;
	const char *reason;
} CURL_REASONS[] = {
	{ CURLE_COULDNT_CONNECT, "refused" },
	{ CURLE_COULDNT_RESOLVE_HOST, "dns" },
	{ CURLE_COULDNT_RESOLVE_PROXY, "dns" },
	{ CURLE_SSL_CONNECT_ERROR, "tls" },
	{ CURLE_SSL_CIPHER, "tls" },
	{ CURLE_PEER_FAILED_VERIFICATION, "certificate" },
	{ CURLE_SSL_CERTPROBLEM, "certificate" },
	{ CURLE_SSL_CACERT_BADFILE, "certificate" },
	{ CURLE_SSL_ISSUER_ERROR, "certificate" },
	{ CURLE_OPERATION_TIMEDOUT, "timeout" },
	{ CURLE_SEND_ERROR, "send" },
	{ CURLE_GOT_NOTHING, "empty_reply" },
	{ CURLE_RECV_ERROR, "reset" },
	{ CURLE_PARTIAL_FILE, "partial" },
	{ CURLE_BAD_CONTENT_ENCODING, "content_encoding" },
	{ CURLE_OUT_OF_MEMORY, "out_of_memory" },
	{ CURLE_URL_MALFORMAT, "bad_url" },
	{ CURLE_UNSUPPORTED_PROTOCOL, "unsupported_protocol" },
};

/* libcurl's codes for an answer it could not read as HTTP. Once the
 * request is out they can mean nothing else; a chunk it could not read is
 * a receive error like a reset, told apart by libcurl's message. */
static int curl_malformed(CURLcode rc, const char *message)
{
	return rc == CURLE_WEIRD_SERVER_REPLY || rc == CURLE_BAD_FUNCTION_ARGUMENT ||
	       rc == CURLE_UNSUPPORTED_PROTOCOL || (rc == CURLE_RECV_ERROR && strstr(message, "chunk") != NULL);
}

const char *kombo_curl_reason(CURLcode rc, const char *message, int sent)
{
	size_t i;
	if (sent && curl_malformed(rc, message))
		return "malformed";
	for (i = 0; i < sizeof CURL_REASONS / sizeof CURL_REASONS[0]; i++)
		if (CURL_REASONS[i].code == rc)
			return CURL_REASONS[i].reason;
	return "other";
}

/* nginx's socket errors are text ("connection refused", "timeout",
 * "no resolver defined to resolve ..."): the first pattern found in the
 * message, for the stage it happened in, names the reason. */
static const struct {
	const char *stage; /* NULL: any stage */
	const char *pattern;
	const char *reason;
} SOCKET_REASONS[] = {
	{ NULL, "timeout", "timeout" },
	{ NULL, "too many open files", "fd_limit" },
	{ NULL, "Too many open files", "fd_limit" },
	{ "connect", "refused", "refused" },
	{ "connect", "resol", "dns" },
	{ "connect", "host name", "dns" },
	{ "tls", "certificate", "certificate" },
	{ "receive", "reset", "reset" },
};

/* What a socket error at stage means when no pattern matched. */
static const char *socket_default(const char *stage, int got_bytes)
{
	if (strcmp(stage, "connect") == 0)
		return "refused";
	if (strcmp(stage, "tls") == 0)
		return "tls";
	if (strcmp(stage, "send") == 0)
		return "send";
	return got_bytes ? "partial" : "empty_reply";
}

const char *kombo_socket_reason(const char *stage, const char *message, int got_bytes)
{
	size_t i;
	for (i = 0; i < sizeof SOCKET_REASONS / sizeof SOCKET_REASONS[0]; i++) {
		const char *s = SOCKET_REASONS[i].stage;
		if ((s == NULL || strcmp(s, stage) == 0) && strstr(message, SOCKET_REASONS[i].pattern))
			return SOCKET_REASONS[i].reason;
	}
	return socket_default(stage, got_bytes);
}

int kombo_push_failure(lua_State *L, const kb_failure *f, const char *message, int sent)
{
	if (f->sent != AS_MEASURED)
		sent = f->sent;
	lua_pushnil(L);
	lua_createtable(L, 0, 4);
	lua_pushstring(L, f->kind);
	lua_setfield(L, -2, "kind");
	lua_pushstring(L, f->reason);
	lua_setfield(L, -2, "reason");
	lua_pushstring(L, message);
	lua_setfield(L, -2, "message");
	lua_pushboolean(L, sent);
	lua_setfield(L, -2, "sent");
	return 2;
}

static const kb_failure *check_reason(lua_State *L, int idx)
{
	const char *reason = luaL_checkstring(L, idx);
	const kb_failure *f = kombo_failure(reason);
	if (f == NULL)
		luaL_argerror(L, idx, lua_pushfstring(L, "unknown failure reason '%s'", reason));
	return f;
}

/* core.failure(reason, message, sent) -> nil, failure */
static int l_failure(lua_State *L)
{
	const kb_failure *f = check_reason(L, 1);
	return kombo_push_failure(L, f, luaL_checkstring(L, 2), lua_toboolean(L, 3));
}

/* core.socket_failure(stage, message, sent, got_bytes) -> nil, failure
 * The message is prefixed with the stage, as the driver's log shows it. */
static int l_socket_failure(lua_State *L)
{
	const char *stage = luaL_checkstring(L, 1);
	const char *message = luaL_checkstring(L, 2);
	const char *reason = kombo_socket_reason(stage, message, lua_toboolean(L, 4));
	lua_pushfstring(L, "%s: %s", stage, message);
	return kombo_push_failure(L, kombo_failure(reason), lua_tostring(L, -1), lua_toboolean(L, 3));
}

/* core.failure_final(reason) -> boolean: can a second try never help? */
static int l_failure_final(lua_State *L)
{
	lua_pushboolean(L, check_reason(L, 1)->final);
	return 1;
}

void kombo_failure_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "failure", l_failure },
		{ "socket_failure", l_socket_failure },
		{ "failure_final", l_failure_final },
		{ NULL, NULL },
	};
	kb_setfuncs(L, fns, 0);
}
