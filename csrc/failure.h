/* The table of failures (failure.c), shared by the transfer code and the
 * retry policy. */
#ifndef KOMBO_FAILURE_H
#define KOMBO_FAILURE_H

#include <curl/curl.h>
#include "compat.h"

typedef struct {
	const char *reason; /* a short stable word, err.reason */
	const char *kind;   /* err.kind: "connection", "timeout" or "decode" */
	int final;          /* 1: trying again can never succeed */
	int sent;           /* 0 never sent, 1 may have been, -1 as measured */
} kb_failure;

/* The entry for reason, or NULL when there is none. */
const kb_failure *kombo_failure(const char *reason);

/* The reason for a libcurl result other than CURLE_OK, its message and
 * whether the request was sent ("other" when the table has no entry). */
const char *kombo_curl_reason(CURLcode rc, const char *message, int sent);

/* The reason for an nginx socket error message at stage ("connect", "tls",
 * "send", "receive"); got_bytes tells whether part of the answer came. */
const char *kombo_socket_reason(const char *stage, const char *message, int got_bytes);

/* Pushes nil and the failure table { kind, reason, message, sent };
 * sent is used where the table says it is measured. Returns 2. */
int kombo_push_failure(lua_State *L, const kb_failure *f, const char *message, int sent);

#endif
