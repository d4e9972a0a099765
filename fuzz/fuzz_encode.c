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
 * agrees with a byte-by-byte scan; a JSON string is quoted, holds no raw
 * control character, quote or backslash, unescapes back to the input,
 * takes exactly the size computed for it, and is refused exactly when a
 * decoder of code points (written apart from the one in encode.c) finds
 * the input not well-formed UTF-8. */
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

/* Well-formed UTF-8 by decoding code points: the shortest form, no
 * surrogate, nothing past U+10FFFF. */
static int utf8_ok(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned long cp;
		size_t len, k;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xE0) == 0xC0)
			len = 2, cp = p[i] & 0x1F;
		else if ((p[i] & 0xF0) == 0xE0)
			len = 3, cp = p[i] & 0x0F;
		else if ((p[i] & 0xF8) == 0xF0)
			len = 4, cp = p[i] & 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3F);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return 0;
		i += len;
	}
	return 1;
}

/* Unescapes the JSON string j (quotes included) into out, aborting on
 * anything the encoder must not write. */
static size_t json_unescape(const char *j, size_t n, unsigned char *out)
{
	size_t i, o = 0;
	if (n < 2 || j[0] != '"' || j[n - 1] != '"')
		abort();
	for (i = 1; i + 1 < n; i++) {
		unsigned char c = (unsigned char)j[i];
		if (c < 0x20 || c == 0x7F || c == '"')
			abort();
		if (c != '\\') {
			out[o++] = c;
			continue;
		}
		if (i + 2 >= n)
			abort();
		c = (unsigned char)j[++i];
		if (c == 'u') {
			int hi, lo;
			if (i + 4 >= n || j[i + 1] != '0' || j[i + 2] != '0')
				abort();
			hi = j[i + 3] - '0';
			lo = j[i + 4] >= 'a' ? j[i + 4] - 'a' + 10 : j[i + 4] - '0';
			if (hi < 0 || hi > 7 || lo < 0 || lo > 15)
				abort();
			out[o++] = (unsigned char)(hi * 16 + lo);
			i += 4;
		} else {
			const char *from = strchr("\"\\bfnrt", c), *to = "\"\\\b\f\n\r\t";
			if (c == '\0' || from == NULL)
				abort();
			out[o++] = (unsigned char)to[from - "\"\\bfnrt"];
		}
	}
	return o;
}

static void check_json_string(const char *s, size_t size)
{
	size_t n = kombo_json_string_size(s, size, 0), raw = kombo_json_string_size(s, size, 1), m;
	char *j;
	unsigned char *back;
	if ((n != 0) != utf8_ok((const unsigned char *)s, size) || raw == 0 || raw > 6 * size + 2 ||
	    (n != 0 && n != raw))
		abort();
	j = malloc(raw);
	back = malloc(size + 1);
	if (j == NULL || back == NULL)
		abort();
	if (kombo_json_string(s, size, j) != raw)
		abort();
	m = json_unescape(j, raw, back);
	if (m != size || memcmp(back, s, size) != 0)
		abort();
	free(j);
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
	check_json_string(s, size);

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
