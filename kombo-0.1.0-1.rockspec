rockspec_format = "3.0"
package = "kombo"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/kombo-lua/kombo-lua.git",
  tag = "v0.1.0",
}
description = {
  summary = "Lua SDK for Kombo's unified API, with a C core over libcurl",
  detailed = [[
Every operation of Kombo's API (ATS, HRIS, assessment, connect and more) as
a Lua function taking and returning tables; cursor pagination on coroutines;
retries with backoff decided in C; blocking calls, concurrent tasks,
OpenResty and Neovim.
]],
  license = "MIT",
  labels = { "http", "api", "kombo", "ats", "libcurl" },
}
dependencies = {
  "lua >= 5.1, < 5.5",
  "lua-cjson >= 2.1.0",
}
-- Libraries only. LuaRocks looks for a library in lib/, lib/<multiarch>/
-- and lib64/ of /usr/local and /usr, which is where distributions put them,
-- but for a header only in include/, while Debian and Ubuntu keep
-- curl/curl.h in include/<multiarch>/ (which the compiler searches by
-- itself). A missing library stops LuaRocks with its name; `make headers`,
-- the first step of the build, names the package of a missing header.
external_dependencies = {
  CURL = { library = "curl" },
  SIMDJSON = { library = "simdjson" },
  CRYPTO = { library = "crypto" },
}
-- The Makefile builds kombo.core into build/rock/<interpreter>/ (never into
-- the source tree) and installs it with every module under lua/kombo/, and
-- the `kombo` command, into LuaRocks' folders: no file is listed here, so
-- none can be forgotten. LuaRocks puts a wrapper naming the interpreter and
-- the tree's module paths in front of what lands in BINDIR.
-- The sandbox server is a rock of its own: sandbox/kombo-sandbox-*.rockspec.
-- docs/ (the operation reference the command's help points to) and
-- library/ (the LuaLS annotations) go to the rock's own folder in the tree,
-- lib/luarocks/rocks-<version>/kombo/<version>/.
build = {
  type = "make",
  copy_directories = { "docs", "library" },
  build_target = "rock",
  install_target = "rock-install",
  variables = { -- for both passes
    LUA = "$(LUA)", LUA_INCDIR = "$(LUA_INCDIR)", CC = "$(CC)", CFLAGS = "$(CFLAGS)",
    CURL_INCDIR = "$(CURL_INCDIR)", CURL_LIBDIR = "$(CURL_LIBDIR)",
    SIMDJSON_INCDIR = "$(SIMDJSON_INCDIR)", SIMDJSON_LIBDIR = "$(SIMDJSON_LIBDIR)",
    CRYPTO_INCDIR = "$(CRYPTO_INCDIR)", CRYPTO_LIBDIR = "$(CRYPTO_LIBDIR)",
  },
  install_variables = { LUA_LIBDIR = "$(LIBDIR)", LUA_SHAREDIR = "$(LUADIR)", BINDIR = "$(BINDIR)" },
}
