/* libFuzzer harness for the URL building of kombo.core: kombo_pct_encode,
 * kombo_escape_segment (path parameters, csrc/encode.c), kombo_next_query
 * (the next page's query, csrc/encode.c), kombo_header_value_ok and
 * kombo_header_name_ok. Their input is whatever a caller passes as an id
 * or a header, or a server sends as a cursor.
 *
 * Build and run (`make fuzz` does this for every harness):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I/usr/include/lua5.4 \
 *     fuzz/fuzz_encode.c csrc/encode.c -llua5.4 -o build/fuzz/fuzz_encode
 *   build/fuzz/fuzz_encode fuzz/corpus/fuzz_encode -max_total_time=30
 *
 * Checks: the output is only unreserved characters and %XX with upper-case
 * hex, decodes back to the input, is never a dot segment, fits the size the
 * callers allocate; the next query is the old one, one "&", "cursor=" and
 * the encoded cursor, so no parameter can be added; the header check
 * agrees with a byte-by-byte scan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../csrc/core.h"

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* lower-case hex is not what we emit */
}

/* Decodes enc into out, aborting on anything the encoder must not emit. */
static size_t strict_decode(const char *enc, size_t n, unsigned char *out)
{
	size_t i, o = 0;
	for (i = 0; i < n; i++) {
		if (enc[i] == '%') {
			int hi, lo;
			if (i + 2 >= n)
				abort();
			hi = hexval(enc[i + 1]);
			lo = hexval(enc[i + 2]);
			if (hi < 0 || lo < 0)
				abort();
			out[o++] = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (unreserved((unsigned char)enc[i])) {
			out[o++] = (unsigned char)enc[i];
		} else {
			abort();
		}
	}
	return o;
}

static void check_encoding(const char *in, size_t len, const char *enc, size_t n)
{
	unsigned char *back = malloc(n + 1);
	size_t m;
	if (back == NULL)
		abort();
	if (n > 3 * len)
		abort();
	m = strict_decode(enc, n, back);
	if (m != len || memcmp(back, in, len) != 0)
		abort();
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t n, qlen, clen, k;
	char *out = malloc(size ? 3 * size : 1), *nq; /* exactly what callers allocate */
	int bad = 0;
	if (out == NULL)
		return 0;

	n = kombo_pct_encode(s, size, out);
	check_encoding(s, size, out, n);

	n = kombo_escape_segment(s, size, out);
	check_encoding(s, size, out, n);
	if ((n == 1 && out[0] == '.') || (n == 2 && out[0] == '.' && out[1] == '.'))
		abort();

	for (k = 0; k < size; k++)
		bad |= s[k] == '\r' || s[k] == '\n' || s[k] == '\0';
	if (kombo_header_value_ok(s, size) != !bad)
		abort();
	/* A header name never holds what could end or split a header line. */
	if (kombo_header_name_ok(s, size) &&
	    (bad || memchr(s, ':', size) != NULL || memchr(s, ' ', size) != NULL || size == 0))
		abort();

	/* The first byte splits the rest into an (already encoded) query and a
	 * cursor. */
	if (size > 0) {
		const char *q = s + 1, *cur;
		size_t prefix;
		qlen = (size_t)data[0] % size; /* at most size - 1 */
		clen = size - 1 - qlen;
		cur = q + qlen;
		nq = malloc(KOMBO_NEXT_QUERY_SIZE(qlen, clen));
		if (nq == NULL)
			abort();
		n = kombo_next_query(q, qlen, cur, clen, nq);
		prefix = qlen + (qlen > 0) + 7;
		if (n > KOMBO_NEXT_QUERY_SIZE(qlen, clen) || n < prefix)
			abort();
		if (memcmp(nq, q, qlen) != 0 || (qlen > 0 && nq[qlen] != '&') ||
		    memcmp(nq + qlen + (qlen > 0), "cursor=", 7) != 0)
			abort();
		/* The encoded cursor adds no parameter: only unreserved and %XX. */
		check_encoding(cur, clen, nq + prefix, n - prefix);
		free(nq);
	}
	free(out);
	return 0;
}
