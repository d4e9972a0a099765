-- kombo.new: every bad option is nil, err naming the field; nothing raises.
local kombo = require("kombo")

local GOOD = { api_key = "k", integration_id = "i" }

local function with(over)
  local o = {}
  for k, v in pairs(GOOD) do o[k] = v end
  for k, v in pairs(over) do o[k] = v end
  return o
end

describe("kombo.new", function()
  it("returns a client with every operation and its alias", function()
    local client = assert(kombo.new(GOOD))
    for _, op in ipairs(require("kombo.operations").load("ats")) do
      assert.is_function(client.ats[op.name], op.name)
      assert.equal(client.ats[op.name], client.ats[op.alias])
    end
    client:close()
  end)

  it("exposes VERSION and null", function()
    assert.matches("^%d+%.%d+%.%d+$", kombo.VERSION)
    assert.equal(require("cjson").null, kombo.null)
  end)

  local cases = {
    { "not a table", "x", "opts" },
    { "missing api_key", { integration_id = "i" }, "api_key" },
    { "empty api_key", with({ api_key = "" }), "api_key" },
    { "api_key of wrong type", with({ api_key = 42 }), "api_key" },
    { "api_key with a newline", with({ api_key = "k\r\nX-Evil: 1" }), "api_key" },
    { "unknown option", with({ api_keey = "k" }), "api_keey" },
    { "unknown server", with({ server = "asia" }), "server" },
    { "server of wrong type", with({ server = 1 }), "server" },
    { "malformed server_url", with({ server_url = "ftp://x" }), "server_url" },
    { "server_url with a space", with({ server_url = "http://a b/v1" }), "server_url" },
    { "server_url without scheme", with({ server_url = "127.0.0.1:4010" }), "server_url" },
    { "negative timeout", with({ timeout_ms = -1 }), "timeout_ms" },
    { "zero timeout", with({ timeout_ms = 0 }), "timeout_ms" },
    { "string timeout", with({ timeout_ms = "5" }), "timeout_ms" },
    { "an empty integration_id (no X-Integration-Id would go)", with({ integration_id = "" }), "integration_id" },
    { "integration_id with CR", with({ integration_id = "a\rb" }), "integration_id" },
    { "integration_id with LF", with({ integration_id = "a\nb" }), "integration_id" },
    { "user_agent with LF", with({ user_agent = "ua\nX: y" }), "user_agent" },
    { "header value with LF", with({ headers = { ["X-A"] = "1\nX-B: 2" } }), "headers.X-A" },
    { "header name with a colon", with({ headers = { ["X-A: b"] = "1" } }), "headers" },
    { "an Authorization header (the key goes in api_key)",
      with({ headers = { Authorization = "Bearer k2" } }), "headers.Authorization" },
    { "a Transfer-Encoding header", with({ headers = { ["transfer-encoding"] = "chunked" } }),
      "headers.transfer-encoding" },
    { "an X-Integration-Id header (the integration goes in integration_id)",
      with({ headers = { ["X-Integration-ID"] = "other" } }), "headers.X-Integration-ID" },
    { "logger not a function", with({ logger = "print" }), "logger" },
    { "unknown hook", with({ hooks = { before = function() end } }), "hooks.before" },
    { "hook not a function", with({ hooks = { after_error = true } }), "hooks.after_error" },
    { "retries not a table", with({ retries = "none" }), "retries" },
    { "unknown retry strategy", with({ retries = { strategy = "sometimes" } }), "retries.strategy" },
    { "bad backoff exponent", with({ retries = { backoff = { exponent = 0.5 } } }), "retries.backoff.exponent" },
    { "a max_elapsed_time of 0 (every call would end before its first attempt)",
      with({ retries = { backoff = { max_elapsed_time = 0 } } }), "retries.backoff.max_elapsed_time" },
    { "verify_tls as a string", with({ verify_tls = "no" }), "verify_tls" },
    { "negative max_response_bytes", with({ max_response_bytes = -5 }), "max_response_bytes" },
    { "a ca_file with NUL (libcurl would read another path)", with({ ca_file = "/etc/ssl/x.pem\0.evil" }), "ca_file" },
    { "an empty ca_file", with({ ca_file = "" }), "ca_file" },
    -- pairs shows none of what __index gives, so no check would see it.
    { "options given through a metatable", setmetatable({}, { __index = with({ max_connections = "8" }) }), "opts" },
    { "options with a metatable beside their fields", setmetatable(with({}), { __index = { timeout_ms = "5" } }),
      "opts" },
    { "headers given through a metatable",
      with({ headers = setmetatable({}, { __index = { ["X-A"] = "1\nX-B: 2" } }) }), "headers" },
    { "hooks given through a metatable", with({ hooks = setmetatable({}, { __index = { before_request = 5 } }) }),
      "hooks" },
  }
  for _, case in ipairs(cases) do
    it("rejects " .. case[1], function()
      local ok, client, err = pcall(kombo.new, case[2])
      assert.is_true(ok, "kombo.new raised: " .. tostring(client))
      assert.is_nil(client)
      assert.equal("invalid_request", err.kind)
      assert.equal(case[3], err.field)
      assert.matches(case[3], tostring(err), 1, true)
    end)
  end

  for _, typo in ipairs({ { "timout_ms", "timeout_ms" }, { "timeout", "timeout_ms" }, { "retires", "retries" },
    { "nul_as_nil", "null_as_nil" } }) do
    it("suggests " .. typo[2] .. " for " .. typo[1], function()
      local client, err = kombo.new(with({ [typo[1]] = 5 }))
      assert.is_nil(client)
      assert.equal(typo[1], err.field)
      assert.matches("not a known option (did you mean " .. typo[2] .. "?)", err.message, 1, true)
    end)
  end

  it("never shows the API key in an option error", function()
    local _, err = kombo.new(with({ api_key = "secret-key\n" }))
    assert.not_matches("secret%-key", tostring(err))
    assert.not_matches("secret%-key", err.message)
  end)
end)

describe("server_url over plain http", function()
  local REMOTE = { "http://api.kombo.dev/v1", "http://192.0.2.1:8080/v1", "http://[2001:db8::1]/v1",
    "http://128.0.0.1/v1", "http://127.0.0.1.example.com/v1", "http://localhost.example.com/v1",
    "http://127.0.0.256/v1" }
  local LOOPBACK = { "http://127.0.0.1:4010/v1", "http://127.1.2.3/v1", "http://localhost:4010/v1",
    "http://LOCALHOST/v1", "http://[::1]:4010/v1" }

  it("is refused for a host that is not loopback, naming the field and allow_http", function()
    for _, url in ipairs(REMOTE) do
      local client, err = kombo.new(with({ server_url = url }))
      assert.is_nil(client, url)
      assert.equal("invalid_request", err.kind)
      assert.equal("server_url", err.field)
      assert.matches("allow_http = true", err.message, 1, true)
    end
  end)

  it("is taken for a loopback host, and for any host with allow_http = true; https always", function()
    for _, url in ipairs(LOOPBACK) do assert(kombo.new(with({ server_url = url }))):close() end
    for _, url in ipairs(REMOTE) do assert(kombo.new(with({ server_url = url, allow_http = true }))):close() end
    assert(kombo.new(with({ server_url = "https://api.kombo.dev/v1" }))):close()
    local _, err = kombo.new(with({ server_url = "http://192.0.2.1/v1", allow_http = "yes" }))
    assert.equal("allow_http", err.field)
  end)

  it("is refused per call under the client's allow_http, before anything is sent", function()
    local client = assert(kombo.new(with({ server_url = "http://127.0.0.1:9/v1" })))
    local _, err = client.general:check_api_key(nil, { server_url = "http://192.0.2.1/v1" })
    assert.equal("invalid_request", err.kind)
    assert.equal("server_url", err.field)
    assert.equal(0, err.attempts)
    client:close()
    -- With allow_http the call goes out: its error is the network's.
    client = assert(kombo.new(with({ server_url = "http://127.0.0.1:9/v1", allow_http = true })))
    _, err = client.general:check_api_key(nil, { server_url = "http://kombo.invalid/v1", timeout_ms = 5000,
      retries = { strategy = "none" } })
    assert.equal("connection", err.kind)
    assert.equal(1, err.attempts)
    client:close()
  end)
end)

describe("kombo.from_env", function()
  -- A child interpreter, since the environment is read at the call.
  local function child(env, code)
    local lua = os.getenv("KOMBO_LUA") or "lua5.4"
    local cmd = ("env -u KOMBO_API_KEY -u KOMBO_INTEGRATION_ID -u KOMBO_SERVER_URL -u KOMBO_SERVER %s "
      .. "LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='%s;;' %s -e %q 2>&1"):format(
      env, package.cpath:match("^[^;]*"), lua, code)
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    return out
  end

  it("takes the key, integration and server from KOMBO_* variables; opts win", function()
    local out = child("KOMBO_API_KEY=k1 KOMBO_INTEGRATION_ID=i1 KOMBO_SERVER_URL=http://127.0.0.1:9/v1", [[
      local c = assert(require("kombo").from_env({ integration_id = "i2" }))
      io.write(c._api_key, " ", c._integration_id, " ", c._base_url)]])
    assert.equal("k1 i2 http://127.0.0.1:9/v1", out)
  end)

  it("refuses KOMBO_SERVER_URL over plain http to a host that is not loopback, unless opts allow it", function()
    local out = child("KOMBO_API_KEY=k1 KOMBO_SERVER_URL=http://api.kombo.dev/v1", [[
      local kombo = require("kombo")
      local c, err = kombo.from_env()
      io.write(tostring(c), " ", err.field, " ", assert(kombo.from_env({ allow_http = true }))._base_url)]])
    assert.equal("nil server_url http://api.kombo.dev/v1", out)
  end)

  it("without KOMBO_API_KEY says which variable to set", function()
    local out = child("KOMBO_API_KEY=", [[
      local c, err = require("kombo").from_env()
      io.write(tostring(c), " ", err.field, " ", err.message)]])
    assert.matches("^nil api_key .*set KOMBO_API_KEY", out)
  end)

  it("with opts that are not a table says so instead of raising", function()
    local cases = {
      { "x", "opts: a table of options for kombo.new, or nil" },
      { setmetatable({}, { __index = { api_key = "k", max_connections = "8" } }),
        "opts: options for kombo.new in a plain table (this one has a metatable" },
    }
    for _, case in ipairs(cases) do
      local ok, c, err = pcall(kombo.from_env, case[1])
      assert.is_true(ok, tostring(c))
      assert.is_nil(c)
      assert.equal("opts", err.field)
      assert.equal("invalid_request", err.kind)
      assert.matches(case[2], err.message, 1, true)
    end
  end)
end)

describe("calling an operation", function()
  local client = assert(kombo.new({ api_key = "k", integration_id = "i", server_url = "http://127.0.0.1:9/v1" }))

  it("with a dot instead of a colon says so instead of dropping the filters", function()
    local res, err = client.ats.get_jobs({ status = "CLOSED" })
    assert.is_nil(res)
    assert.equal("invalid_request", err.kind)
    assert.equal("call", err.field)
    assert.matches("client.ats:get_jobs(params, opts)", err.message, 1, true)
    local _, werr = client.ats.create_candidate({ body = { candidate = {} } })
    assert.equal("call", werr.field)
  end)

  it("with options that are no table names opts", function()
    for _, opts in ipairs({ "x", 5, true }) do
      local res, err = client.ats:get_jobs({}, opts)
      assert.is_nil(res)
      assert.equal("opts", err.field)
      assert.equal("kombo: invalid request in get_jobs: opts: a table", tostring(err))
    end
  end)

  it("with options given through a metatable refuses them before sending", function()
    -- A header line the checks never saw would reach the wire.
    local opts = setmetatable({}, { __index = { integration_id = "i\r\nX-Evil: 1" } })
    local res, err = client.ats:get_tags({}, opts)
    assert.is_nil(res)
    assert.equal("invalid_request", err.kind)
    assert.equal("opts", err.field)
    assert.matches("a plain table (this one has a metatable", err.message, 1, true)
  end)

  it("in a group that does not exist raises, naming the closest group", function()
    for _, c in ipairs({ { "atz", "; did you mean ats?" }, { "hirs", "; did you mean hris?" },
      { "clsoe", "; did you mean close?" }, { "nothing_like_it", "" } }) do
      local ok, err = pcall(function() return client[c[1]]:get_jobs() end)
      assert.is_false(ok)
      assert.equal("kombo: client has no group or method " .. c[1] .. c[2] .. " (the groups: general, ats, hris,"
        .. " assessment, connect, lms, ai_apply, custom)", err:match("kombo: .*$"))
      -- Raised where the name was read: the caller's line, not the SDK's.
      assert.matches("client_spec.lua", err, 1, true)
    end
    -- The client's own fields read nil while unset.
    assert.is_nil(client._no_such_field)
    assert.is_nil(client[1])
  end)

  it("that does not exist raises, naming the closest one", function()
    local ok, err = pcall(function() return client.ats:get_job() end)
    assert.is_false(ok)
    assert.matches("client.ats has no operation get_job; did you mean get_jobs?", err, 1, true)
    ok, err = pcall(function() return client.general:nonsense_here() end)
    assert.is_false(ok)
    assert.matches("client.general has no operation nonsense_here", err, 1, true)
  end)
end)

describe("an error's text", function()
  local errors = require("kombo.errors")

  it("is one line: what failed where, then the API's own sentence untouched", function()
    local e = errors.new({ kind = "api", operation = "get_jobs", status = 503, attempts = 11,
      code = "PLATFORM.TEMPORARY", message = "Try again later, as the server asked it to." })
    assert.equal("kombo: API error in get_jobs (HTTP 503, 11 attempts): PLATFORM.TEMPORARY: "
      .. "Try again later, as the server asked it to.", tostring(e))
    assert.equal("kombo: invalid request in get_jobs: page_size: an integer",
      tostring(errors.invalid("page_size", "an integer", "get_jobs")))
  end)

  it("never starts with kombo: twice in the Neovim example", function()
    local plugin = require("support.files").read("examples/nvim/plugin/kombo_jobs.lua")
    assert.is_nil(plugin:find('"kombo: " .. tostring', 1, true))
  end)
end)
