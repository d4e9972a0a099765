/* Webhook signatures: the HMAC-SHA256 of a body under the webhook's secret
 * (OpenSSL's libcrypto, which libcurl links already), compared in constant
 * time with the base64url value of a signature header. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "core.h"

#define SIGNATURE_BYTES 32
/* 43 characters unpadded, 44 with its one "=". */
#define SIGNATURE_MAX_CHARS 44

int kombo_signature_check(const unsigned char *body, size_t blen, const char *sig, size_t slen,
			  const unsigned char *key, size_t klen)
{
	unsigned char given[3 * (SIGNATURE_MAX_CHARS / 4) + 2];
	unsigned char want[EVP_MAX_MD_SIZE];
	unsigned int wlen = 0;
	/* A key of zero bytes still needs a pointer that is not NULL. */
	static const unsigned char none[1] = { 0 };
	if (slen > SIGNATURE_MAX_CHARS || kombo_b64url_decode(sig, slen, given) != SIGNATURE_BYTES)
		return KOMBO_SIGNATURE_MALFORMED;
	if (HMAC(EVP_sha256(), klen ? key : none, (int)klen, blen ? body : none, blen, want, &wlen) == NULL ||
	    wlen != SIGNATURE_BYTES)
		return KOMBO_SIGNATURE_FAILED;
	return CRYPTO_memcmp(given, want, SIGNATURE_BYTES) == 0 ? KOMBO_SIGNATURE_OK : KOMBO_SIGNATURE_MISMATCH;
}

/* core.signature_check(body, signature, secret)
 *   -> true | false, "malformed" | "mismatch" | "crypto_failed" */
static int l_signature_check(lua_State *L)
{
	static const char *const WHY[] = { NULL, "malformed", "mismatch", "crypto_failed" };
	size_t blen, slen, klen;
	const char *body = luaL_checklstring(L, 1, &blen);
	const char *sig = luaL_checklstring(L, 2, &slen);
	const char *key = luaL_checklstring(L, 3, &klen);
	int r;
	/* HMAC takes the key length as an int. */
	if (klen > 0x7fffffff)
		return luaL_argerror(L, 3, "secret too long");
	r = kombo_signature_check((const unsigned char *)body, blen, sig, slen, (const unsigned char *)key, klen);
	lua_pushboolean(L, r == KOMBO_SIGNATURE_OK);
	if (r == KOMBO_SIGNATURE_OK)
		return 1;
	lua_pushstring(L, WHY[r]);
	return 2;
}

void kombo_hmac_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "signature_check", l_signature_check },
		{ NULL, NULL },
	};
	kb_setfuncs(L, fns, 0);
}
