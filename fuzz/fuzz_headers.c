/* libFuzzer harness for kombo_parse_headers (csrc/easy.c): the bytes of a
 * response header block, exactly as a server chose them, before anything
 * else in kombo.core looks at them.
 *
 * Build and run (`make fuzz` does this for every harness):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I/usr/include/lua5.4 \
 *     fuzz/fuzz_headers.c csrc/easy.c csrc/encode.c -llua5.4 -lcurl -o build/fuzz/fuzz_headers
 *   build/fuzz/fuzz_headers fuzz/corpus/fuzz_headers -max_total_time=30
 *
 * Beyond "no crash", it checks what the Lua table built from the result
 * relies on: names are 1..127 lower-case bytes without colon or newline,
 * values point inside the block, hold no newline and carry no surrounding
 * whitespace or CR, and no line yields more than one header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../csrc/core.h"

typedef struct {
	const char *block;
	size_t len, count;
} seen;

static void on_header(void *ud, const char *name, size_t nlen, const char *v, size_t vlen)
{
	seen *s = ud;
	size_t k;
	if (nlen == 0 || nlen >= KOMBO_HEADER_NAME_MAX)
		abort();
	for (k = 0; k < nlen; k++)
		if ((name[k] >= 'A' && name[k] <= 'Z') || name[k] == ':' || name[k] == '\n')
			abort();
	if (v < s->block || v + vlen > s->block + s->len)
		abort();
	if (memchr(v, '\n', vlen) != NULL)
		abort();
	if (vlen > 0 && (v[0] == ' ' || v[0] == '\t' || v[vlen - 1] == ' ' || v[vlen - 1] == '\t' ||
			 v[vlen - 1] == '\r'))
		abort();
	s->count++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	seen s;
	size_t lines = 1, n;
	const char *p = (const char *)data;
	/* A copy of exactly size bytes, so reading past the end is caught. */
	char *block = malloc(size ? size : 1);
	if (block == NULL)
		return 0;
	memcpy(block, p, size);
	s.block = block;
	s.len = size;
	s.count = 0;
	n = kombo_parse_headers(block, size, on_header, &s);
	for (; p < (const char *)data + size; p++)
		lines += *p == '\n';
	if (n != s.count || n > lines)
		abort();
	free(block);
	return 0;
}
