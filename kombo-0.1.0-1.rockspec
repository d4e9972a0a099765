rockspec_format = "3.0"
package = "kombo"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/kombo-lua/kombo-lua.git",
  tag = "v0.1.0",
}
description = {
  summary = "Lua SDK for Kombo's unified ATS API, with a C core over libcurl",
  detailed = [[
Every ATS operation of Kombo's API as a Lua function taking and returning
tables; cursor pagination on coroutines; retries with backoff decided in C;
blocking calls, concurrent tasks, OpenResty and Neovim.
]],
  license = "MIT",
  labels = { "http", "api", "kombo", "ats", "libcurl" },
}
dependencies = {
  "lua >= 5.1, < 5.5",
  "lua-cjson >= 2.1.0",
}
external_dependencies = {
  CURL = { header = "curl/curl.h" },
  SIMDJSON = { header = "simdjson.h" },
}
build = {
  type = "builtin",
  modules = {
    ["kombo.core"] = {
      sources = {
        "csrc/core.c", "csrc/client.c", "csrc/clock.c", "csrc/encode.c",
        "csrc/multi.c", "csrc/policy.c", "csrc/failure.c",
        "csrc/json.cpp", -- C++ (simdjson); compiled by extension, C++17 or later
      },
      libraries = { "curl", "simdjson", "stdc++" },
      incdirs = { "$(CURL_INCDIR)", "$(SIMDJSON_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(SIMDJSON_LIBDIR)" },
    },
    ["kombo"] = "lua/kombo/init.lua",
    ["kombo.attempts"] = "lua/kombo/attempts.lua",
    ["kombo.client"] = "lua/kombo/client.lua",
    ["kombo.errors"] = "lua/kombo/errors.lua",
    ["kombo.meta"] = "lua/kombo/meta.lua",
    ["kombo.operations"] = "lua/kombo/operations.lua",
    ["kombo.page"] = "lua/kombo/page.lua",
    ["kombo.build"] = "lua/kombo/build.lua",
    ["kombo.schema"] = "lua/kombo/schema.lua",
    ["kombo.drivers"] = "lua/kombo/drivers/init.lua",
    ["kombo.drivers.curl"] = "lua/kombo/drivers/curl.lua",
    ["kombo.drivers.tasks"] = "lua/kombo/drivers/tasks.lua",
    ["kombo.drivers.ngx"] = "lua/kombo/drivers/ngx.lua",
    ["kombo.drivers.uv"] = "lua/kombo/drivers/uv.lua",
    -- The sandbox server (needs lua-luv, not a dependency of the SDK).
    ["kombo.sandbox"] = "lua/kombo/sandbox/init.lua",
    ["kombo.sandbox.data"] = "lua/kombo/sandbox/data.lua",
    ["kombo.sandbox.faults"] = "lua/kombo/sandbox/faults.lua",
    ["kombo.sandbox.http"] = "lua/kombo/sandbox/http.lua",
    ["kombo.sandbox.routes"] = "lua/kombo/sandbox/routes.lua",
    ["kombo.sandbox.util"] = "lua/kombo/sandbox/util.lua",
    ["kombo.sandbox.validate"] = "lua/kombo/sandbox/validate.lua",
    ["kombo.sandbox.views"] = "lua/kombo/sandbox/views.lua",
    ["kombo.sandbox.writes"] = "lua/kombo/sandbox/writes.lua",
  },
  install = {
    bin = { ["kombo-sandbox"] = "bin/kombo-sandbox" },
  },
}
