rockspec_format = "3.0"
package = "kombo-sandbox"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/kombo-lua/kombo-lua.git",
  tag = "v0.1.0",
}
description = {
  summary = "A Kombo-like ATS API server on libuv, for testing Kombo clients without an account",
  detailed = [[
kombo-sandbox serves Kombo's ATS endpoints and the general, connect and
assessment ones under /v1 over
seeded, reproducible data: cursor pagination, writes that show in later
lists, Kombo's auth and 400 validation envelopes, a record of every request
and faults injected on demand (statuses, delays, resets, truncated bodies).
It validates requests against its own copy of Kombo's OpenAPI document and
shares no code with the kombo SDK it is used to test.
]],
  license = "MIT",
  labels = { "kombo", "ats", "testing", "mock", "server" },
}
dependencies = {
  "lua >= 5.1, < 5.5",
  "luv",
  "lua-cjson >= 2.1.0",
}
-- Paths are from the repository's root: `luarocks make sandbox/kombo-sandbox-0.1.0-1.rockspec`
-- there, as `luarocks install` does in the fetched source. Not "builtin":
-- that type also copies a lua/ folder it finds there, which is the SDK's.
build = {
  type = "none",
  install = {
    lua = {
      kombo_sandbox = "sandbox/lua/kombo_sandbox/init.lua",
      ["kombo_sandbox.data"] = "sandbox/lua/kombo_sandbox/data.lua",
      ["kombo_sandbox.endpoints"] = "sandbox/lua/kombo_sandbox/endpoints.lua",
      ["kombo_sandbox.faults"] = "sandbox/lua/kombo_sandbox/faults.lua",
      ["kombo_sandbox.http"] = "sandbox/lua/kombo_sandbox/http.lua",
      ["kombo_sandbox.platform"] = "sandbox/lua/kombo_sandbox/platform.lua",
      ["kombo_sandbox.requests"] = "sandbox/lua/kombo_sandbox/requests.lua",
      ["kombo_sandbox.routes"] = "sandbox/lua/kombo_sandbox/routes.lua",
      ["kombo_sandbox.util"] = "sandbox/lua/kombo_sandbox/util.lua",
      ["kombo_sandbox.validate"] = "sandbox/lua/kombo_sandbox/validate.lua",
      ["kombo_sandbox.views"] = "sandbox/lua/kombo_sandbox/views.lua",
      ["kombo_sandbox.webhooks"] = "sandbox/lua/kombo_sandbox/webhooks.lua",
      ["kombo_sandbox.writes"] = "sandbox/lua/kombo_sandbox/writes.lua",
    },
    bin = { ["kombo-sandbox"] = "sandbox/bin/kombo-sandbox" },
  },
}
