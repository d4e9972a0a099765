/* luaopen_kombo_core: registers the C objects and functions of kombo.core
 * and nothing else. See README "Architecture". */
#include <curl/curl.h>
#include "core.h"
#include "easy.h"

__attribute__((visibility("default"))) int luaopen_kombo_core(lua_State *L)
{
	/* Reference-counted inside libcurl, so loading the module in several
	 * Lua states (nginx workers, Neovim) is safe; libcurl >= 7.84 makes it
	 * thread-safe too. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return luaL_error(L, "curl_global_init failed");
	lua_newtable(L);
	kombo_easy_open(L);
	kombo_encode_open(L);
	kombo_clock_open(L);
	kombo_multi_open(L);
	kombo_policy_open(L);
	kombo_retries_open(L);
	kombo_hints_open(L);
	kombo_failure_open(L);
	kombo_json_open(L);
	kombo_hmac_open(L);
	kombo_lock_open(L);
	kombo_cursor_open(L);
	lua_pushinteger(L, KOMBO_MAX_HEADER_BYTES);
	lua_setfield(L, -2, "max_header_bytes");
	lua_pushinteger(L, CURL_MAX_HTTP_HEADER);
	lua_setfield(L, -2, "max_header_line");
	lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
	lua_setfield(L, -2, "curl_version");
	return 1;
}
