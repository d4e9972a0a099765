-- Test helper: a real nginx with the Lua module (Debian's nginx-light +
-- libnginx-mod-http-lua) on a free loopback port, running this checkout's
-- kombo under LuaJIT with one worker (or `workers`).
--
--   local server = require("support.nginx").start({
--     init = "lua code run in init_by_lua_block",
--     locations = { ["/tags"] = "lua code for content_by_lua_block", ... },
--   })
--   local status, body = server:get("/tags")
--   server:stop()
--
-- With `tls_locations`, two more servers answer them over https with
-- self-signed certificates that lua_ssl_trusted_certificate trusts: one on
-- server.tls_port valid for 127.0.0.1 (also as a DNS name: nginx checks
-- names with X509_check_host, which ignores IP entries), one on
-- server.tls_port_wrong_name valid only for kombo.test (needs the
-- `openssl` command).
--
-- Missing binaries or modules raise with the Debian packages to install,
-- so the spec fails instead of silently skipping.

local socket = require("socket")

local format, concat = string.format, table.concat

local _M = {}

local MODULE_DIRS = { "/usr/lib/nginx/modules", "/usr/share/nginx/modules", "/usr/lib64/nginx/modules" }
local PACKAGES = "nginx-light libnginx-mod-http-lua luajit2 libluajit2-5.1-dev"
local LUAJIT_INCDIR = "/usr/include/luajit-2.1"

-- Runs cmd; true when it exited 0, and its output. The status is echoed
-- by the shell: popen's close() tells nothing on Lua 5.1 and LuaJIT.
local function _sh(cmd)
  local p = assert(io.popen("{ " .. cmd .. "; } 2>&1; echo \"kombo-rc=$?\""))
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("kombo%-rc=(%d+)%s*$"))
  return rc == 0, (out:gsub("kombo%-rc=%d+%s*$", ""))
end

local function _exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function _find_module(name)
  for _, dir in ipairs(MODULE_DIRS) do
    local path = dir .. "/" .. name
    if _exists(path) then return path end
  end
  error(format("nginx module %s not found in %s; install Debian packages: %s",
    name, concat(MODULE_DIRS, ", "), PACKAGES), 0)
end

local function _nginx_bin()
  local ok, out = _sh("command -v nginx || ls /usr/sbin/nginx")
  local path = ok and out:match("[^\n]+")
  if not path then error("nginx not found; install Debian packages: " .. PACKAGES, 0) end
  return path
end

-- n distinct free loopback ports (all held open until all are known).
local function _free_ports(n)
  local socks, ports = {}, {}
  for i = 1, n do
    socks[i] = assert(socket.bind("127.0.0.1", 0))
    local _, port = socks[i]:getsockname()
    ports[i] = tonumber(port)
  end
  for i = 1, n do socks[i]:close() end
  return (table.unpack or unpack)(ports) -- luacheck: ignore 143
end

--- The checkout's root (specs run from there).
function _M.root()
  local _, out = _sh("pwd")
  return (out:gsub("%s+$", ""))
end

--- Builds kombo.core for LuaJIT into build/luajit (make keeps it current);
-- returns the build folder.
function _M.build_luajit(root)
  if not _exists(LUAJIT_INCDIR .. "/lua.h") then
    error("LuaJIT headers not found in " .. LUAJIT_INCDIR .. "; install Debian packages: " .. PACKAGES, 0)
  end
  local ok, out = _sh(format("make -s -C '%s' LUA_VERSION=5.1 LUA=luajit LUA_INCDIR=%s BUILD=build/luajit",
    root, LUAJIT_INCDIR))
  if not ok then error("building kombo.core for LuaJIT failed:\n" .. out, 0) end
  return root .. "/build/luajit"
end

-- A self-signed certificate and key for subjectAltName `san`.
local function _make_cert(dir, name, san)
  local ok, out = _sh(format("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=%s' "
    .. "-addext 'subjectAltName=%s' -keyout '%s/%s.key' -out '%s/%s.crt'", name, san, dir, name, dir, name))
  if not ok then error("openssl could not make a test certificate (install Debian package openssl):\n" .. out, 0) end
  return dir .. "/" .. name .. ".crt", dir .. "/" .. name .. ".key"
end

local function _location_lines(lines, locations)
  local names = {}
  for name in pairs(locations) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local code = locations[name]
    if type(code) == "table" then
      lines[#lines + 1] = format("    location = %s {\n%s\n    }", name, code.raw)
    else
      lines[#lines + 1] = format("    location = %s {\n      default_type application/json;\n"
        .. "      content_by_lua_block {\n%s\n      }\n    }", name, code)
    end
  end
end

-- A master started as root runs its workers as `nobody`, who cannot read a
-- checkout in a 0700 home (/root is one; Debian 12 makes every home so):
-- as root, the workers are the invoking user. Anyone else's master cannot
-- switch users, so its workers are already the invoking user and the
-- directive would only draw a warning.
local function _user_line()
  local ok, out = _sh("id -u && id -un && id -gn")
  local uid, name, group = out:match("^(%d+)\n([^\n]+)\n([^\n]+)")
  if ok and uid == "0" then return format("user %s %s;", name, group) end
  return nil
end

local function _conf(o)
  local lines = {
    format("worker_processes %d;", o.workers),
    "daemon off;",
    "master_process on;",
    format("pid %s/nginx.pid;", o.dir),
    format("error_log %s/error.log info;", o.dir),
    format("load_module %s;", o.ndk),
    format("load_module %s;", o.lua),
    "events { worker_connections 256; }",
    "http {",
    format("  access_log %s/access.log;", o.dir),
    format("  lua_package_path '%s/lua/?.lua;%s/lua/?/init.lua;%s/spec/?.lua;;';", o.root, o.root, o.root),
    format("  lua_package_cpath '%s/?.so;;';", o.build),
    "  lua_socket_log_errors off;",
  }
  -- Every temporary folder nginx may create, inside ours.
  for _, t in ipairs({ "client_body", "proxy", "fastcgi", "uwsgi", "scgi" }) do
    lines[#lines + 1] = format("  %s_temp_path %s/%s;", t, o.dir, t)
  end
  local user = _user_line()
  if user then table.insert(lines, 1, user) end
  for _, name in ipairs(o.env_names) do table.insert(lines, 1, format("env %s;", name)) end
  if o.http then lines[#lines + 1] = o.http end
  if o.tls_locations then
    local good_crt, good_key = _make_cert(o.dir, "ip", "IP:127.0.0.1,DNS:127.0.0.1")
    local other_crt, other_key = _make_cert(o.dir, "other", "DNS:kombo.test")
    local bundle = assert(io.open(o.dir .. "/trusted.crt", "wb"))
    for _, path in ipairs({ good_crt, other_crt }) do
      local f = assert(io.open(path, "rb"))
      bundle:write(f:read("*a"))
      f:close()
    end
    bundle:close()
    lines[#lines + 1] = format("  lua_ssl_trusted_certificate %s/trusted.crt;", o.dir)
    for _, srv in ipairs({ { o.tls_port, good_crt, good_key }, { o.tls_port_wrong_name, other_crt, other_key } }) do
      lines[#lines + 1] = format("  server {\n    listen 127.0.0.1:%d ssl;\n    ssl_certificate %s;\n"
        .. "    ssl_certificate_key %s;", srv[1], srv[2], srv[3])
      _location_lines(lines, o.tls_locations)
      lines[#lines + 1] = "  }"
    end
  end
  if o.init then
    lines[#lines + 1] = "  init_by_lua_block {"
    lines[#lines + 1] = o.init
    lines[#lines + 1] = "  }"
  end
  lines[#lines + 1] = format("  server {\n    listen 127.0.0.1:%d;", o.port)
  _location_lines(lines, o.locations)
  lines[#lines + 1] = "  }"
  lines[#lines + 1] = "}"
  return concat(lines, "\n") .. "\n"
end

local Server = {}
Server.__index = Server

--- The tail of nginx's error log, for failure messages.
function Server:log()
  local f = io.open(self.dir .. "/error.log", "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

local function _alive(pid)
  return (_sh("kill -0 " .. pid))
end

--- Sends raw HTTP on a new connection; returns the socket (not yet read).
function Server:send(path)
  local c = assert(socket.connect("127.0.0.1", self.port))
  c:settimeout(30)
  assert(c:send(format("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path)))
  return c
end

--- Reads a response sent by send(): status, body, headers (lower-case names).
function Server.receive(_, c)
  local line = assert(c:receive("*l"))
  local status = tonumber(line:match("^HTTP/%d%.%d (%d+)"))
  local length, chunked
  local headers = {}
  while true do
    local h = assert(c:receive("*l"))
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    name = name and name:lower()
    if name then headers[name] = value end
    if name == "content-length" then length = tonumber(value) end
    if name == "transfer-encoding" and value:lower():find("chunked", 1, true) then chunked = true end
  end
  local body
  if chunked then
    local parts = {}
    while true do
      local size = tonumber(assert(c:receive("*l")):match("^(%x+)"), 16)
      if size == 0 then break end
      parts[#parts + 1] = assert(c:receive(size))
      assert(c:receive("*l"))
    end
    body = concat(parts)
  elseif length then
    body = assert(c:receive(length))
  else
    body = c:receive("*a")
  end
  c:close()
  return status, body, headers
end

--- GET path from nginx: status, body, headers.
function Server:get(path)
  return self:receive(self:send(path))
end

function Server:stop()
  if not self.pid then return end
  _sh("kill -TERM " .. self.pid)
  local deadline = socket.gettime() + 10
  while _alive(self.pid) and socket.gettime() < deadline do socket.sleep(0.02) end
  if _alive(self.pid) then _sh("kill -KILL " .. self.pid) end
  self.pid = nil
  if not os.getenv("KOMBO_KEEP_NGINX") then _sh("rm -rf '" .. self.dir .. "'") end
end

--- start{ locations = { [path] = content lua code | { raw = directives } },
-- tls_locations = (the same shape), init = lua code,
-- http = extra http-level directives, workers = worker processes (1),
-- env = { NAME = value } for nginx and its workers' os.getenv } -> server
function _M.start(opts)
  local bin = _nginx_bin()
  local root = _M.root()
  local ok, dir = _sh("mktemp -d /tmp/kombo-nginx.XXXXXX")
  dir = ok and dir:match("[^\n]+")
  assert(dir, "mktemp failed")
  _sh("chmod 755 '" .. dir .. "'")
  local o = {
    dir = dir, root = root, build = _M.build_luajit(root),
    ndk = _find_module("ndk_http_module.so"), lua = _find_module("ngx_http_lua_module.so"),
    locations = opts.locations or {}, init = opts.init, http = opts.http,
    tls_locations = opts.tls_locations, env_names = {}, workers = opts.workers or 1,
  }
  local assign = {}
  for name, value in pairs(opts.env or {}) do
    o.env_names[#o.env_names + 1] = name
    assign[#assign + 1] = format("%s='%s'", name, (tostring(value):gsub("'", "'\\''")))
  end
  table.sort(o.env_names)
  o.port, o.tls_port, o.tls_port_wrong_name = _free_ports(3)
  local f = assert(io.open(dir .. "/nginx.conf", "wb"))
  f:write(_conf(o))
  f:close()
  local started, out = _sh(format("%s '%s' -p '%s' -c '%s/nginx.conf' >'%s/stderr.log' 2>&1 & echo $!",
    #assign > 0 and ("env " .. concat(assign, " ")) or "", bin, dir, dir, dir))
  local pid = started and tonumber(out:match("(%d+)"))
  assert(pid, "could not start nginx: " .. out)
  local server = setmetatable({ pid = pid, port = o.port, dir = dir, url = "http://127.0.0.1:" .. o.port,
    tls_port = o.tls_port, tls_port_wrong_name = o.tls_port_wrong_name }, Server)
  local deadline = socket.gettime() + 10
  while true do
    local c = socket.connect("127.0.0.1", o.port)
    if c then c:close() break end
    if not _alive(pid) or socket.gettime() > deadline then
      local log = server:log()
      local ef = io.open(dir .. "/stderr.log", "rb")
      if ef then log = log .. ef:read("*a"); ef:close() end
      server:stop()
      error("nginx did not start:\n" .. log, 0)
    end
    socket.sleep(0.02)
  end
  return server
end

return _M
