-- Security promises, each shown against a real server: TLS verification
-- (a local `openssl s_server` with a certificate made at test time), no
-- header injection, path and query parameters that cannot change the
-- request, redirects that carry nothing to another host, and an API key that
-- shows up nowhere a user can see.
local kombo = require("kombo")
local core = require("kombo.core")
local socket = require("socket")
local sandbox = require("support.sandbox")

local NONE = { strategy = "none" }
local BRIEF = { backoff = { initial_interval = 5, max_interval = 20, exponent = 2, max_elapsed_time = 3000 },
  max_attempts = 4 }

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok, _, code = p:close()
  if type(ok) == "number" then code = ok; ok = code == 0 end -- Lua 5.1
  return ok == true or code == 0, out
end

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function mktemp_dir()
  local ok, out = sh("mktemp -d")
  assert(ok, out)
  return (out:gsub("%s+$", ""))
end

-- A self-signed certificate for 127.0.0.1 (as IP and DNS name) in dir.
local function make_cert(dir, name)
  local ok, out = sh(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
    .. " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout %s/%s.key -out %s/%s.crt")
    :format(dir, name, dir, name))
  if not ok then error("openssl could not make a certificate (Debian package openssl):\n" .. out, 0) end
  return dir .. "/" .. name .. ".crt", dir .. "/" .. name .. ".key"
end

-- `openssl s_server -WWW` serving files of dir over TLS on a free port.
local function start_tls_server(dir, cert, key)
  local port = sandbox.free_port()
  local ok, out = sh(("cd %s && { openssl s_server -quiet -WWW -accept 127.0.0.1:%d -cert %s -key %s"
    .. " >/dev/null 2>&1 </dev/null & echo $!; }"):format(quote(dir), port, quote(cert), quote(key)))
  assert(ok, out)
  local pid = assert(tonumber(out:match("(%d+)")))
  for _ = 1, 100 do
    local c = socket.connect("127.0.0.1", port)
    if c then c:close(); return port, pid end
    socket.sleep(0.05)
  end
  os.execute("kill " .. pid)
  error("openssl s_server did not start on port " .. port)
end

-- Everything reachable from v as text: strings, numbers, table keys and
-- values, and what __tostring makes of objects that have one.
local function dump(v, out, seen)
  local t = type(v)
  if t == "table" then
    if seen[v] then return end
    seen[v] = true
    local mt = getmetatable(v)
    if type(mt) == "table" and mt.__tostring then out[#out + 1] = tostring(v) end
    for k, x in pairs(v) do
      dump(k, out, seen)
      dump(x, out, seen)
    end
  elseif t ~= "function" and t ~= "nil" then
    out[#out + 1] = tostring(v)
  end
end

describe("security", function()
  describe("TLS", function()
    local dir, cert, other_ca, port, pid

    setup(function()
      dir = mktemp_dir()
      local key
      cert, key = make_cert(dir, "server")
      other_ca = make_cert(dir, "other")
      assert(os.execute("mkdir -p " .. quote(dir .. "/v1/ats")))
      local f = assert(io.open(dir .. "/v1/ats/tags", "w"))
      f:write('{"status":"success","data":{"next":null,"results":[{"id":"T1","name":"tls","remote_id":null}]},'
        .. '"warnings":[]}')
      f:close()
      port, pid = start_tls_server(dir, cert, key)
    end)
    teardown(function()
      if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
      if dir then os.execute("rm -rf " .. quote(dir)) end
    end)

    local function client(opts)
      local o = { api_key = "k", integration_id = "i", server_url = "https://127.0.0.1:" .. port .. "/v1",
        timeout_ms = 3000, retries = BRIEF }
      for k, v in pairs(opts or {}) do o[k] = v end
      return assert(kombo.new(o))
    end

    local function get_tags(opts)
      local c = client(opts)
      local res, err = c.ats:get_tags()
      c:close()
      return res, err
    end

    it("refuses a self-signed certificate by default, as kind connection naming the certificate, once", function()
      local res, err = get_tags()
      assert.is_nil(res)
      assert.equal("connection", err.kind)
      assert.equal("certificate", err.reason)
      assert.matches("certificate", err.message)
      assert.matches("certificate", tostring(err))
      assert.equal(1, err.attempts) -- retrying cannot fix a certificate
    end)

    it("accepts it with the user's CA bundle (ca_file)", function()
      local res, err = get_tags({ ca_file = cert })
      assert.is_nil(err)
      assert.equal("success", res.status)
      assert.equal("T1", res.data.results[1].id)
    end)

    it("refuses it with a CA bundle that did not sign it", function()
      local res, err = get_tags({ ca_file = other_ca })
      assert.is_nil(res)
      assert.equal("connection", err.kind)
      assert.equal("certificate", err.reason)
    end)

    it("reports a CA bundle path that does not exist as kind connection", function()
      local res, err = get_tags({ ca_file = dir .. "/missing.crt" })
      assert.is_nil(res)
      assert.equal("connection", err.kind)
      assert.equal(1, err.attempts)
    end)

    it("accepts it only when verification is turned off by name (verify_tls = false)", function()
      local res, err = get_tags({ verify_tls = false })
      assert.is_nil(err)
      assert.equal("success", res.status)
    end)

    -- libcurl honours https_proxy, and by default hands the proxy's answer to
    -- CONNECT to the header callback as if it were the response's: its
    -- headers (a Retry-After, the proxy's own names) must not become the
    -- answer's. A proxy of one tunnel, in a child process.
    it("through an https_proxy, reads none of the proxy's CONNECT headers as the answer's", function()
      local files = require("support.files")
      local proxy_port = sandbox.free_port()
      local proxy = files.tmp(".lua")
      files.write(proxy, ([[
local socket = require("socket")
local server = assert(socket.bind("127.0.0.1", %d))
local c, first
repeat -- a connection that says nothing is the spec's probe
  c = assert(server:accept())
  c:settimeout(10)
  first = c:receive("*l")
until first
local target = first:match("^CONNECT (%%S+) ")
repeat local line = assert(c:receive("*l")) until line == ""
local host, port = target:match("^(.-):(%%d+)$")
local up = assert(socket.connect(host, tonumber(port)))
assert(c:send("HTTP/1.1 200 Connection established\r\nRetry-After: 99\r\nX-Proxy-Only: 1\r\n\r\n"))
c:settimeout(0); up:settimeout(0)
local open = true
while open do
  local ready = socket.select({ c, up }, nil, 10)
  if #ready == 0 then break end
  for _, s in ipairs(ready) do
    local data, err, partial = s:receive(65536)
    data = data or partial
    if data and #data > 0 then assert((s == c and up or c):send(data)) end
    if err == "closed" then open = false end
  end
end
c:close(); up:close()
]]):format(proxy_port))
      local ok, out = sh(("{ %s %s >/dev/null 2>&1 </dev/null & echo $!; }"):format(files.LUA, quote(proxy)))
      assert(ok, out)
      local proxy_pid = assert(tonumber(out:match("(%d+)")))
      for _ = 1, 100 do
        local probe = socket.connect("127.0.0.1", proxy_port)
        if probe then probe:close(); break end
        socket.sleep(0.05)
      end
      local got, code = files.run_lua(([[
local kombo = require("kombo")
local c = assert(kombo.new({ api_key = "k", integration_id = "i", server_url = %q, ca_file = %q,
  timeout_ms = 5000, retries = { strategy = "none" } }))
local res, err = c.ats:get_tags()
assert(res, tostring(err))
local names = {}
for name in pairs(kombo.meta(res).headers) do names[#names + 1] = name end
table.sort(names)
io.write(res.data.results[1].id, " ", table.concat(names, ","), "\n")
]]):format("https://127.0.0.1:" .. port .. "/v1", cert), nil,
        "https_proxy=http://127.0.0.1:" .. proxy_port .. " no_proxy= NO_PROXY= ")
      sh(("kill %d 2>/dev/null"):format(proxy_pid))
      os.remove(proxy)
      assert.equal(0, code, got)
      -- Through the tunnel: the answer of s_server behind it, its headers alone.
      assert.matches("^T1 ", got)
      assert.is_nil(got:find("x-proxy-only", 1, true), got)
      assert.is_nil(got:find("retry-after", 1, true), got)
    end)
  end)

  describe("with the sandbox", function()
    local sb = sandbox.fixture()

    local function new_client(opts)
      local o = { api_key = sb.api_key, integration_id = sb.integration_id, server_url = sb.url, retries = NONE }
      for k, v in pairs(opts or {}) do o[k] = v end
      return kombo.new(o) -- not sb:client: the specs here see kombo.new refuse
    end

    describe("CR, LF and NUL in header values", function()
      local BAD = { "a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\rX-Evil: 1", "a\0b" }

      it("are refused by kombo.new in integration_id, user_agent, headers and api_key", function()
        for _, v in ipairs(BAD) do
          for _, opts in ipairs({
            { integration_id = v }, { user_agent = v }, { headers = { ["X-Custom"] = v } }, { api_key = v },
            { headers = { [v] = "x" } },
          }) do
            local c, err = new_client(opts)
            assert.is_nil(c)
            assert.equal("invalid_request", err.kind)
          end
        end
        assert.same({}, sb:requests())
      end)

      it("are refused per call in integration_id, headers and header names, before anything is sent", function()
        local c = assert(new_client())
        -- The control: the same call with clean values reaches the server.
        assert(c.ats:get_tags(nil, { integration_id = "clean", headers = { ["X-Custom"] = "clean" } }))
        local reqs = sb:requests()
        assert.equal(1, #reqs)
        assert.equal("clean", reqs[1].headers["x-custom"])
        sb:clear_requests()
        for _, v in ipairs(BAD) do
          for _, opts in ipairs({
            { integration_id = v }, { headers = { ["X-Custom"] = v } }, { headers = { [v] = "x" } },
            { headers = { ["X-A: b\r\nX-C"] = "d" } }, { headers = { ["X Space"] = "d" } },
          }) do
            local res, err = c.ats:get_tags(nil, opts)
            assert.is_nil(res)
            assert.equal("invalid_request", err.kind)
            assert.equal(0, err.attempts)
            assert.equal("get_tags", err.operation)
          end
        end
        c:close()
        assert.same({}, sb:requests())
      end)

      it("are refused when an api_key function or a before_request hook produces them", function()
        local c = assert(new_client({ api_key = function() return "key\r\nX-Evil: 1" end }))
        local _, err = c.ats:get_tags()
        c:close()
        assert.equal("invalid_request", err.kind)
        assert.equal("api_key", err.field)

        local function inject(ex) ex.headers["X-Trace"] = "t\r\nX-Evil: 1" end
        c = assert(new_client({ hooks = { before_request = inject } }))
        _, err = c.ats:get_tags()
        c:close()
        assert.equal("invalid_request", err.kind)
        assert.equal("headers.X-Trace", err.field)
        assert.same({}, sb:requests())
      end)
    end)

    describe("path and query parameters", function()
      local IDS = { "../jobs", "..", ".", "a/../../v1/ats/jobs", "x?page_size=1", "x#frag", "%2E%2E", "%", "%zz",
        "a/b", "a b", "caf\195\169", "a;b=c" }

      it("are one percent-encoded segment: ../, ?, # and % cannot change the request", function()
        local c = assert(new_client())
        for _, id in ipairs(IDS) do
          local res, err = c.ats:get_application_attachments({ application_id = id })
          assert.is_nil(res)
          assert.equal("api", err.kind)
          assert.equal(404, err.status)
          -- The server decoded the segment back to exactly the id we gave.
          assert.matches("No application with id " .. id .. " exists", err.message, 1, true)
        end
        c:close()
        local reqs = sb:requests()
        assert.equal(#IDS, #reqs)
        for i, r in ipairs(reqs) do
          assert.equal("GET", r.method)
          assert.equal("/v1/ats/applications/" .. core.escape(IDS[i]) .. "/attachments", r.path)
          assert.equal("", r.query)
          assert.is_nil(r.path:find("[?#]"))
          assert.is_nil(r.path:find("/%.%.?/"))
          assert.equal(5, select(2, r.path:gsub("/", "/")))
        end
      end)

      it("encode &, =, ? and # in query values so no parameter can be added", function()
        local c = assert(new_client())
        assert(c.ats:get_candidates({ first_name = "a&page_size=1#x", last_name = "b?c=d" }))
        c:close()
        local r = sb:requests()[1]
        assert.equal("/v1/ats/candidates", r.path)
        assert.equal("first_name=a%26page_size%3D1%23x&last_name=b%3Fc%3Dd", r.query)
      end)
    end)

    describe("redirects", function()
      for _, status in ipairs({ 301, 302, 303, 307, 308 }) do
        it("a " .. status .. " to another host is returned as an error; nothing reaches that host", function()
          local other = sandbox.start()
          sb:fault({ path = "/v1/ats/tags", action = "redirect", status = status,
            location = other.url .. "/ats/tags" })
          local c = assert(new_client({ retries = BRIEF }))
          local res, err = c.ats:get_tags()
          c:close()
          local reached = other:requests()
          other:stop()
          assert.is_nil(res)
          assert.equal("api", err.kind)
          assert.equal(status, err.status)
          assert.equal(1, err.attempts)
          assert.equal(other.url .. "/ats/tags", err.headers["location"])
          assert.same({}, reached)
          assert.equal(1, #sb:requests())
        end)
      end
    end)
  end)

  describe("the API key", function()
    local SECRET = "sk_live_" .. ("Zq7"):rep(10)
    local sb

    setup(function() sb = sandbox.start({ api_key = SECRET }) end)
    teardown(function() sb:stop() end)

    it("appears in no log line, error, tostring, kombo.meta or hook argument on any path", function()
      local seen, levels, messages = {}, {}, {}
      local function capture(...)
        for i = 1, select("#", ...) do seen[#seen + 1] = (select(i, ...)) end
      end
      local function logger(level, message, fields)
        levels[level], messages[message] = true, true
        capture(level, message, fields)
      end
      local hooks = { before_request = capture, after_success = capture, after_error = capture }
      local function keep(res, err)
        capture(res, err, tostring(res), tostring(err), kombo.meta(res or err))
        return res, err
      end

      for _, key in ipairs({ SECRET, function() return SECRET end }) do
        sb:reset()
        local c = assert(kombo.new({ api_key = key, integration_id = sb.integration_id, server_url = sb.url,
          retries = BRIEF, timeout_ms = 2000, logger = logger, hooks = hooks }))
        capture(tostring(c))
        -- success
        keep(c.ats:get_tags())
        -- retried, then success
        sb:fault({ path = "/v1/ats/tags", status = 503 })
        keep(c.ats:get_tags())
        sb:fault({ path = "/v1/ats/jobs", status = 429, headers = { ["Retry-After"] = "0" } })
        keep(c.ats:get_jobs({ page_size = 1 }))
        -- retried, then giving up
        sb:fault({ path = "/v1/ats/users", status = 500, times = -1 })
        keep(c.ats:get_users())
        -- an API error, a decode error, a timeout, a refused request
        keep(c.ats:get_application_attachments({ application_id = "nope" }))
        sb:fault({ path = "/v1/ats/tags", action = "truncated_json" })
        keep(c.ats:get_tags())
        sb:fault({ path = "/v1/ats/tags", action = "no_headers" })
        keep(c.ats:get_tags(nil, { timeout_ms = 200, retries = NONE }))
        keep(c.ats:get_jobs({ status = "nope" }))
        -- a write, and a write that fails
        local job = c.ats:get_jobs({ status = "OPEN", page_size = 1 }).data.results[1].id
        keep(c.ats:create_candidate({ body = { candidate = { first_name = "K", last_name = "Ey",
          email_address = "key@example.com" }, application = { job_id = job } } }))
        sb:fault({ method = "POST", path = "/v1/ats/candidates", action = "reset_before_response" })
        keep(c.ats:create_candidate({ body = { candidate = { first_name = "K", last_name = "Ey",
          email_address = "key2@example.com" }, application = { job_id = job } } }))
        -- a page that fails mid-iteration raises the error object
        local page = keep(c.ats:get_applications({ page_size = 100 }))
        sb:fault({ path = "/v1/ats/applications", status = 500, times = -1 })
        local ok, perr = pcall(function() for _ in page:items() do end end)
        assert.is_false(ok)
        keep(nil, perr)
        c:close()
        -- a connection that never opens
        local refused = assert(kombo.new({ api_key = key, integration_id = "i", logger = logger, hooks = hooks,
          server_url = "http://127.0.0.1:" .. sandbox.free_port() .. "/v1", retries = BRIEF }))
        keep(refused.ats:get_tags())
        refused:close()
      end

      -- The key really was in play: the server received it on every request.
      local reqs = sb:requests()
      assert.is_true(#reqs > 5)
      for _, r in ipairs(reqs) do assert.equal("Bearer " .. SECRET, r.headers["authorization"]) end

      local text = {}
      dump(seen, text, {})
      local blob = table.concat(text, "\n")
      assert.is_true(levels.debug and levels.info and levels.warn, "not every log level was seen")
      assert.is_true(messages.retrying and messages["giving up"] and messages.failed)
      local kinds = { "API error", "connection error", "timeout", "invalid request", "response not understood" }
      for _, kind in ipairs(kinds) do assert.matches("kombo: " .. kind, blob, 1, true) end
      assert.is_nil(blob:find(SECRET, 1, true), "the API key leaked")
      assert.is_nil(blob:find(SECRET:sub(1, 16), 1, true), "part of the API key leaked")
    end)
  end)
end)
