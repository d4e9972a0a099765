/* libFuzzer harness for kombo_b64url_decode (csrc/encode.c) and
 * kombo_signature_check (csrc/hmac.c), which read the X-Kombo-Signature
 * header of every webhook a receiver is sent.
 *
 * Build and run (`make fuzz` does this for every harness):
 *   make build/fuzz/fuzz_b64url
 *   build/fuzz/fuzz_b64url fuzz/corpus/fuzz_b64url -max_total_time=30
 *
 * Checks, for any input:
 * - decoding it either fails or gives bytes whose encoding (kombo_b64_encode
 *   in the url alphabet, padding dropped) is the input without its padding:
 *   only canonical encodings are accepted;
 * - the input's own encoding decodes back to it, padded and unpadded;
 * - the input split into body and key: the signature libcrypto computes is
 *   accepted, the same signature of another body is a mismatch, and the
 *   input itself as a header never crashes and is never accepted unless it
 *   is that signature. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/hmac.h>
#include "../csrc/core.h"

static size_t to_url(char *s, size_t n, int keep_pad)
{
	size_t i;
	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			s[i] = '-';
		else if (s[i] == '/')
			s[i] = '_';
	}
	if (!keep_pad)
		while (n > 0 && s[n - 1] == '=')
			n--;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = 3 * (size / 4) + 2, enc_cap = 4 * ((size + 2) / 3) + 1;
	unsigned char *dec = malloc(cap), *back = malloc(size + 3), mac[32];
	char *enc = malloc(enc_cap), sig[45];
	const char *text = (const char *)data;
	size_t n, unpadded, split, slen;
	long got;
	unsigned int mlen = 0;
	if (dec == NULL || back == NULL || enc == NULL)
		abort();

	got = kombo_b64url_decode(text, size, dec);
	if (got >= 0) {
		char *again = malloc(4 * (((size_t)got + 2) / 3) + 1);
		size_t in_len = size;
		if (again == NULL)
			abort();
		n = to_url(again, kombo_b64_encode(dec, (size_t)got, again), 0);
		while (in_len > 0 && text[in_len - 1] == '=')
			in_len--;
		if (n != in_len || memcmp(again, text, n) != 0)
			abort();
		free(again);
	}

	n = kombo_b64_encode(data, size, enc);
	if (kombo_b64url_decode(enc, to_url(enc, n, 1), back) != (long)size || memcmp(back, data, size) != 0)
		abort();
	unpadded = to_url(enc, n, 0);
	if (kombo_b64url_decode(enc, unpadded, back) != (long)size || memcmp(back, data, size) != 0)
		abort();

	split = size ? data[0] % (size + 1) : 0;
	if (HMAC(EVP_sha256(), data + split, (int)(size - split), data, split, mac, &mlen) == NULL || mlen != 32)
		abort();
	slen = to_url(sig, kombo_b64_encode(mac, 32, sig), 0);
	if (kombo_signature_check(data, split, sig, slen, data + split, size - split) != KOMBO_SIGNATURE_OK)
		abort();
	if (kombo_signature_check(data, split, sig, slen + 1, data + split, size - split) != KOMBO_SIGNATURE_OK)
		abort(); /* sig[slen] is the "=" of the padded encoding */
	if (kombo_signature_check((const unsigned char *)"x", 1, sig, slen, data + split, size - split) ==
	    KOMBO_SIGNATURE_OK && !(split == 1 && data[0] == 'x'))
		abort();
	if (kombo_signature_check(data, split, text, size, data + split, size - split) == KOMBO_SIGNATURE_OK &&
	    !(size == slen && memcmp(text, sig, slen) == 0) && !(size == slen + 1 && memcmp(text, sig, slen) == 0))
		abort();
	free(dec);
	free(back);
	free(enc);
	return 0;
}
