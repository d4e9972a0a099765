/* The easy object's struct, shared with multi.c which runs several easy
 * handles at once. */
#ifndef KOMBO_EASY_H
#define KOMBO_EASY_H

#include <curl/curl.h>
#include "core.h"

/* A response's header blocks together may be this large; past it the
 * transfer ends as too_large. libcurl ends it at 300 KB, as a reset, and
 * passes on no line longer than CURL_MAX_HTTP_HEADER: this bound, that much
 * below, is always passed first. */
#define KOMBO_MAX_HEADER_BYTES (300 * 1024 - CURL_MAX_HTTP_HEADER)

/* Where a response's header blocks stand (kb_easy.head_state). */
enum { HEAD_STATUS, HEAD_INTERIM, HEAD_FINAL, HEAD_ENDED };

typedef struct {
	char *p;
	size_t len, cap;
} kb_buf;

typedef struct {
	CURL *easy;                   /* NULL once closed */
	struct curl_slist *headers;   /* of the request in flight */
	/* The Accept-Encoding line, sent with every request whose lines do not
	 * give one. */
	char accept[64];
	kb_buf body, head;            /* reused across requests */
	kb_buf spare;                 /* a body buffer an answer gave back */
	size_t max_body;              /* 0: no limit */
	size_t head_bytes;            /* of every header block so far */
	int head_state;               /* HEAD_STATUS: a status line comes next */
	int switched;                 /* the final block is a 101 */
	const char *malformed;        /* why on_header refused a line, or NULL */
	long long length;             /* the final block's Content-Length; -1 before one */
	int too_large;                /* 1: the body, 2: the headers, 3: one header line */
	int decode;                   /* req.json: 0 no, 1 yes, 2 with null_as_nil */
	int reflects_key;             /* the body holds the key sent: Lua decodes it */
	const char *escaped_key;      /* in headers: the key, for a body with an escape */
	int fd_limit;                 /* socket() found no descriptor left */
	int busy;                     /* added to a multi handle */
	int building;                 /* its answer is being made into Lua values */
	char errbuf[CURL_ERROR_SIZE];
	/* Every transfer runs on the handle's own multi handle (which keeps
	 * its connection alive): perform waits for it, start/pump/finish let
	 * the caller move it on. */
	CURLM *own;                   /* created by the first transfer */
	int started;                  /* in `own` until it ends or is cancelled */
	int done;                     /* the transfer has ended */
	CURLcode result;              /* its outcome, once done */
	double ended_ms;              /* when it ended, on core.now_ms's clock */
	/* start's transfer waits for its caller: it runs without libcurl's
	 * timeout, and its request's timeout counts only the time spent
	 * waiting for it (start's send, finish's wait). */
	double timeout_ms;            /* the request's, clamped */
	double spent_ms;              /* counted of it so far */
	double since_ms;              /* when start returned, on core.now_ms's clock */
	int req_ref;                  /* start's req, whose body libcurl reads */
	/* receive waited for start's transfer and left its answer unbuilt:
	 * finish builds it, without waiting again. */
	int received;
	double unwaited_ms;           /* finish's third value, as receive found it */
} kb_easy;

kb_easy *kombo_easy_check(lua_State *L, int idx);
void kombo_easy_prepare(lua_State *L, kb_easy *c, int idx, int held);
void kombo_easy_time_out(kb_easy *c, double ms);
int kombo_easy_finish(lua_State *L, kb_easy *c, CURLcode rc);
void kombo_easy_abandon(kb_easy *c);

#endif
