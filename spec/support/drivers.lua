-- Test helper for spec/drivers_spec.lua: runs one case's client code under
-- each driver and hands back what came of it as plain data.
--
--   local drivers = require("support.drivers")
--   for _, runner in ipairs(drivers.RUNNERS) do
--     runner.setup(); local out = runner.run(source, env); runner.teardown()
--   end
--
-- A case's source is a chunk of Lua called with (client, env): client(extra)
-- makes a kombo client for the sandbox at env.url with short retries
-- (extra: more kombo.new options), env is the case's data (JSON-safe). The
-- chunk returns what its last call returned (result or nil, err), and
-- optionally a JSON-safe table of its own findings. out is
-- { driver, ok, kind, reason, status, attempts, headers, n, extra } or
-- { error = message } when it raised outside busted.
--
-- run_case runs inside the target (busted's Lua, nginx, Neovim), so this
-- module loads nothing at the top but the standard library; what only the
-- spec's side needs is required when a runner starts.

local _M = {}

-- Retries short enough for a spec, long enough for a few attempts.
local FAST = { strategy = "backoff", retry_connection_errors = true,
  backoff = { initial_interval = 5, max_interval = 20, exponent = 2, max_elapsed_time = 300 } }

local function _driver_name(d)
  for _, name in ipairs({ "ngx", "tasks", "curl" }) do
    if package.loaded["kombo.drivers." .. name] == d then return name end
  end
  return "unknown"
end

--- Runs source in the current Lua state; see the top of the file.
-- No pcall here: a task on PUC Lua 5.1 cannot yield across one.
function _M.run_case(kombo, source, env)
  local clients = {}
  local function client(extra)
    local o = { api_key = env.api_key, integration_id = env.integration_id, server_url = env.url,
      retries = FAST, timeout_ms = 5000 }
    for k, v in pairs(extra or {}) do o[k] = v end
    local c = assert(kombo.new(o))
    clients[#clients + 1] = c
    return c
  end
  local chunk = assert((loadstring or load)("local client, env = ...\n" .. source, "=case")) -- luacheck: ignore 113
  local driver = _driver_name(require("kombo.drivers").current())
  local res, err, extra = chunk(client, env)
  for _, c in ipairs(clients) do c:close() end
  local m = kombo.meta(res or err) or {}
  local results = res and type(res.data) == "table" and res.data.results
  return {
    driver = driver, ok = res ~= nil, kind = err and err.kind, reason = err and err.reason,
    message = err and err.message, status = m.status, attempts = m.attempts, headers = m.headers,
    n = type(results) == "table" and #results or nil, extra = extra,
  }
end

--- sandbox_get(url, path) -> the decoded answer of the sandbox at url (a
-- client's server_url) to GET path, asked from a case running in nginx:
-- over a cosocket, as LuaSocket (support/sandbox.lua) would block the worker.
function _M.sandbox_get(url, path)
  local host, port = url:match("^http://([^:/]+):(%d+)")
  local sock = ngx.socket.tcp() -- luacheck: ignore 113
  sock:settimeout(5000)
  assert(sock:connect(host, tonumber(port)))
  assert(sock:send(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n"):format(path, host)))
  local text = assert(sock:receive("*a"))
  sock:close()
  local status, body = text:match("^HTTP/1%.%d (%d+).-\r\n\r\n(.*)$")
  assert(status == "200", text)
  return require("cjson").decode(body)
end

-- The runners: one per driver, each runs a case where that driver moves
-- the bytes. run(source, env) -> out; setup/teardown bracket a describe.

local function _noop() end

local blocking = { name = "blocking libcurl driver", driver = "curl", setup = _noop, teardown = _noop }
function blocking.run(source, env)
  return _M.run_case(require("kombo"), source, env)
end

local tasks = { name = "tasks driver (kombo.spawn + kombo.run)", driver = "tasks", setup = _noop, teardown = _noop }
function tasks.run(source, env)
  local kombo = require("kombo")
  local out
  kombo.spawn(function() out = _M.run_case(kombo, source, env) end)
  -- kombo.run raises a task's error, or returns nil and the errors.
  local done, errors = kombo.run()
  if done == nil and errors then error(errors[1], 0) end
  return out
end

-- nginx: one server for the describe; each case is POSTed to /case as
-- JSON and runs in that request's content handler, over cosockets.
local NGX_CASE = [[
  ngx.req.read_body()
  local cjson = require("cjson")
  local input = cjson.decode(ngx.req.get_body_data())
  local ok, out = pcall(require("support.drivers").run_case, require("kombo"), input.source, input.env)
  ngx.say(cjson.encode(ok and out or { error = tostring(out) }))
]]

local ngx_runner = { name = "OpenResty driver (cosockets in nginx)", driver = "ngx" }
function ngx_runner.setup()
  ngx_runner.server = require("support.nginx").start({
    locations = { ["/case"] = NGX_CASE },
    http = "  client_body_buffer_size 1m;",
  })
end
function ngx_runner.teardown()
  if ngx_runner.server then ngx_runner.server:stop() end
  ngx_runner.server = nil
end
function ngx_runner.run(source, env)
  local http, ltn12 = require("socket.http"), require("ltn12")
  local cjson = require("cjson").new()
  local server = ngx_runner.server
  local body = cjson.encode({ source = source, env = env })
  local chunks = {}
  local ok, status = http.request({
    url = server.url .. "/case", method = "POST",
    headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#body) },
    source = ltn12.source.string(body), sink = ltn12.sink.table(chunks),
  })
  local text = table.concat(chunks)
  if not ok or status ~= 200 then
    error(("nginx answered %s: %s\n%s"):format(tostring(status), text, server:log():sub(-3000)), 0)
  end
  return cjson.decode(text)
end

-- Neovim: one headless editor per case; the case runs in a kombo.spawn
-- task that the editor's libuv loop drives (drivers/uv.lua).
local NVIM_SCRIPT = [==[
local root = os.getenv("KOMBO_ROOT")
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. root .. "/spec/?.lua;" .. package.path
package.cpath = root .. "/build/luajit/?.so;" .. package.cpath
local encode = vim.json and vim.json.encode or vim.fn.json_encode
local decode = vim.json and vim.json.decode or vim.fn.json_decode
local out
local ok, err = pcall(function()
  local f = assert(io.open(os.getenv("KOMBO_IN"), "rb"))
  local input = decode(f:read("*a"))
  f:close()
  local kombo = require("kombo")
  kombo.spawn(function()
    local ran, r = pcall(require("support.drivers").run_case, kombo, input.source, input.env)
    out = ran and r or { error = tostring(r) }
  end)
  if not vim.wait(30000, function() return out ~= nil end, 5) then out = { error = "the case took over 30 s" } end
end)
if not ok then out = { error = tostring(err) } end
local f = assert(io.open(os.getenv("KOMBO_OUT"), "wb"))
f:write(encode(out))
f:close()
vim.cmd("qa!")
]==]

local _tmp = require("support.files").tmp

local _write = require("support.files").write

local nvim = { name = "Neovim driver (tasks on the editor's libuv loop)", driver = "tasks" }
function nvim.setup()
  local found = os.execute("command -v nvim >/dev/null 2>&1")
  assert(found == true or found == 0, "nvim not found; install Debian package: neovim") -- 5.1 returns 0
  local nginx = require("support.nginx") -- for its LuaJIT build of kombo.core
  nvim.root = nginx.root()
  nginx.build_luajit(nvim.root)
  nvim.script = _tmp(".lua")
  _write(nvim.script, NVIM_SCRIPT)
end
function nvim.teardown()
  if nvim.script then os.remove(nvim.script) end
  nvim.script = nil
end
function nvim.run(source, env)
  local cjson = require("cjson").new()
  local input, output = _tmp(".json"), _tmp(".json")
  _write(input, cjson.encode({ source = source, env = env }))
  os.execute(("KOMBO_ROOT='%s' KOMBO_IN='%s' KOMBO_OUT='%s' timeout 60 nvim --headless -u NONE -i NONE -n "
    .. "-c 'luafile %s' >/dev/null 2>&1"):format(nvim.root, input, output, nvim.script))
  os.remove(input)
  local f = io.open(output, "rb")
  assert(f, "Neovim wrote no result")
  local text = f:read("*a")
  f:close()
  os.remove(output)
  return cjson.decode(text)
end

_M.RUNNERS = { blocking, tasks, ngx_runner, nvim }

--- each(b, title, body): for every runner, a describe block named title
-- and the runner's name, the runner set up around body(runner). b holds
-- busted's describe, setup and teardown (a spec's globals, not this
-- module's).
function _M.each(b, title, body)
  for _, runner in ipairs(_M.RUNNERS) do
    b.describe(title .. runner.name, function()
      b.setup(function() runner.setup() end)
      b.teardown(function() runner.teardown() end)
      body(runner)
    end)
  end
end

return _M
