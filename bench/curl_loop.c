/* The least any libcurl client can spend on sequential small requests: one
 * easy handle, one kept-alive connection, the benchmark's headers, each
 * body received into a buffer and checked for a 200, nothing else. Not a
 * contender: a reference that shows how much of the small-request time is
 * libcurl's and the round trips', whatever a client adds on top.
 *
 *   curl_loop URL CALLS */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
	char *p;
	size_t len, cap;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t len = size * n;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16384;
		while (cap < b->len + len)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (np == NULL)
			return 0;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	return len;
}

int main(int argc, char **argv)
{
	struct buf body = { NULL, 0, 0 };
	struct curl_slist *h = NULL;
	long calls, i, status = 0;
	CURL *e;
	if (argc != 3 || (calls = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: curl_loop URL CALLS\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	e = curl_easy_init();
	h = curl_slist_append(h, "Authorization: Bearer bench-key");
	h = curl_slist_append(h, "X-Integration-Id: bench");
	h = curl_slist_append(h, "Accept: application/json");
	curl_easy_setopt(e, CURLOPT_URL, argv[1]);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	for (i = 0; i < calls; i++) {
		body.len = 0;
		if (curl_easy_perform(e) != CURLE_OK ||
		    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200 ||
		    body.len == 0) {
			fprintf(stderr, "call %ld failed (status %ld)\n", i + 1, status);
			return 1;
		}
	}
	printf("calls %ld\n", calls);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	free(body.p);
	curl_global_cleanup();
	return 0;
}
