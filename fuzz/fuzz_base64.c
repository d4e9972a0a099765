/* libFuzzer harness for kombo_b64_encode (csrc/encode.c), which turns the
 * bytes of any file a caller attaches into the JSON body.
 *
 * Build and run (`make fuzz` does this for every harness):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I/usr/include/lua5.4 \
 *     fuzz/fuzz_base64.c csrc/encode.c -llua5.4 -o build/fuzz/fuzz_base64
 *   build/fuzz/fuzz_base64 fuzz/corpus/fuzz_base64 -max_total_time=30
 *
 * Checks: exactly 4*ceil(n/3) characters written into a buffer of exactly
 * that size, only the standard alphabet with "=" padding at the end only,
 * and a round trip through an independent decoder gives the input back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../csrc/core.h"

/* A reference decoder written for this check: table-free, one sextet at a
 * time, strict about padding. Returns the decoded length or aborts. */
static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static size_t reference_decode(const char *s, size_t n, unsigned char *out)
{
	size_t i, o = 0;
	if (n % 4 != 0)
		abort();
	for (i = 0; i < n; i += 4) {
		int v[4], k, pad = 0;
		unsigned long bits = 0;
		for (k = 0; k < 4; k++) {
			if (s[i + k] == '=') {
				/* Padding only in the last group, only in its last two
				 * places, and nothing but padding after it. */
				if (i + 4 != n || k < 2)
					abort();
				pad++;
				v[k] = 0;
			} else {
				if (pad)
					abort();
				v[k] = sextet(s[i + k]);
				if (v[k] < 0)
					abort();
			}
			bits = bits << 6 | (unsigned long)v[k];
		}
		/* Unused low bits of a padded group must be zero (canonical). */
		if ((pad == 1 && (bits & 0xff)) || (pad == 2 && (bits & 0xffff)))
			abort();
		out[o++] = (unsigned char)(bits >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(bits >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)bits;
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t want = 4 * ((size + 2) / 3), n, m;
	/* Exactly the documented size: one byte more written is caught. */
	char *enc = malloc(want ? want : 1);
	unsigned char *back = malloc(size ? size : 1);
	if (enc == NULL || back == NULL)
		abort();
	n = kombo_b64_encode(data, size, enc);
	if (n != want)
		abort();
	m = reference_decode(enc, n, back);
	if (m != size || memcmp(back, data, size) != 0)
		abort();
	free(enc);
	free(back);
	return 0;
}
