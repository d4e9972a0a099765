-- A small HTTP/1.1 server on luv for the sandbox.
--
-- Many connections at once, keep-alive with Content-Length (and chunked
-- request bodies), pipelined and partial reads, `Expect: 100-continue`,
-- `Connection: close`. Requests on one connection are answered in order: the
-- next one is handed to the handler only when the current one is finished,
-- so a handler may answer late (timers) without blocking other connections.
--
--   local server = http.listen("127.0.0.1", 0, function(req, conn) ... end)
--   conn:respond(200, { ["Content-Type"] = "application/json" }, body)
--
-- Lower-level calls (conn:write, conn:finish, conn:close, conn:reset) let the
-- fault injector send broken answers.

local uv = require("luv")

local concat, format, lower, tonumber, pairs = table.concat, string.format, string.lower, tonumber, pairs
local setmetatable, tostring, pcall = setmetatable, tostring, pcall

local _M = {}

local MAX_HEAD = 64 * 1024
local MAX_BODY = 256 * 1024 * 1024

local REASONS = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [204] = "No Content",
  [301] = "Moved Permanently", [302] = "Found", [304] = "Not Modified",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [408] = "Request Timeout", [409] = "Conflict",
  [413] = "Payload Too Large", [422] = "Unprocessable Entity", [429] = "Too Many Requests",
  [431] = "Request Header Fields Too Large", [500] = "Internal Server Error",
  [501] = "Not Implemented", [502] = "Bad Gateway", [503] = "Service Unavailable",
  [504] = "Gateway Timeout",
}
_M.REASONS = REASONS

local Conn = {}
Conn.__index = Conn

--- The status line and header block of a response.
function _M.head(status, headers)
  local lines = { format("HTTP/1.1 %d %s", status, REASONS[status] or "Status") }
  for name, value in pairs(headers) do
    lines[#lines + 1] = name .. ": " .. value
  end
  lines[#lines + 1] = "\r\n"
  return concat(lines, "\r\n")
end

--- Queue bytes on the socket; `cb` (optional) runs once they are written
-- or the write failed (then with an error string).
function Conn:write(data, cb)
  if self.closed then
    if cb then cb("closed") end
    return false
  end
  local ok = self.tcp:write(data, function(err)
    if cb then cb(err) end
  end)
  if not ok and cb then cb("write failed") end
  return ok and true or false
end

--- Close the connection after what is queued has been written.
function Conn:close()
  if self.closed then return end
  self.closed = true
  self.server:_forget(self)
  local tcp = self.tcp
  tcp:read_stop()
  -- shutdown waits for queued writes, then the FIN goes out.
  local ok = tcp:shutdown(function()
    if not tcp:is_closing() then tcp:close() end
  end)
  if not ok and not tcp:is_closing() then tcp:close() end
end

--- Drop the connection at once, with a TCP reset where libuv can send one.
function Conn:reset()
  if self.closed then return end
  self.closed = true
  self.server:_forget(self)
  local tcp = self.tcp
  tcp:read_stop()
  if tcp.close_reset then
    local ok = pcall(tcp.close_reset, tcp)
    if ok then return end
  end
  if not tcp:is_closing() then tcp:close() end
end

--- The current request is answered: close if asked to, else go on with the
-- next pipelined request.
function Conn:finish(close)
  if self.closed then return end
  local req = self.current
  self.current = nil
  if close or (req and req.close) then
    self:close()
    return
  end
  self:_parse()
end

--- Send a whole response and finish the request. `headers` are written as
-- given; Content-Length and Connection are added.
function Conn:respond(status, headers, body, close)
  body = body or ""
  local req = self.current
  close = close or (req and req.close) or false
  local h = {}
  for k, v in pairs(headers or {}) do h[k] = v end
  h["Content-Length"] = tostring(#body)
  h["Connection"] = close and "close" or "keep-alive"
  self:write(_M.head(status, h) .. body)
  self:finish(close)
end

local function _bad_request(conn, status)
  conn.current = { close = true }
  conn:respond(status, { ["Content-Type"] = "text/plain" }, REASONS[status] .. "\n", true)
end

-- Parse one request head; nil when it is malformed.
local function _parse_head(text)
  local method, target, version = text:match("^(%u+) (%S+) HTTP/1%.(%d)\r\n")
  if not method then return nil end
  local headers = {}
  for line in text:gmatch("\r\n([^\r\n]*)") do
    if line ~= "" then
      local name, value = line:match("^([^:%s]+):%s*(.-)%s*$")
      if not name then return nil end
      name = lower(name)
      if headers[name] then headers[name] = headers[name] .. ", " .. value else headers[name] = value end
    end
  end
  local path, query = target:match("^([^?]*)%??(.*)$")
  local conn_hdr = lower(headers["connection"] or "")
  local close = conn_hdr:find("close", 1, true) ~= nil
  if version == "0" and not conn_hdr:find("keep-alive", 1, true) then close = true end
  return {
    method = method, target = target, path = path, query = query,
    headers = headers, close = close, version = "1." .. version,
  }
end

-- Decode a chunked body starting at `pos`; returns body, next position, or
-- nil when more bytes are needed, or false when it is malformed.
local function _dechunk(buf, pos)
  local parts = {}
  while true do
    local e = buf:find("\r\n", pos, true)
    if not e then return nil end
    local size = tonumber(buf:sub(pos, e - 1):match("^%x+"), 16)
    if not size then return false end
    pos = e + 2
    if size == 0 then
      -- Trailers end with an empty line.
      local te = buf:find("\r\n", pos, true)
      while te and te > pos do
        pos = te + 2
        te = buf:find("\r\n", pos, true)
      end
      if not te then return nil end
      return concat(parts), te + 2
    end
    if #buf < pos + size + 1 then return nil end
    parts[#parts + 1] = buf:sub(pos, pos + size - 1)
    pos = pos + size + 2
  end
end

-- Hand every complete request in the buffer to the handler, one at a time.
-- A handler that answers at once calls finish() from inside this loop; the
-- guard turns that into the next turn of the loop instead of a nested call,
-- so a thousand pipelined requests do not nest a thousand pcalls deep.
function Conn:_parse()
  if self.parsing then return end
  self.parsing = true
  self:_parse_loop()
  self.parsing = false
end

function Conn:_parse_loop()
  while not self.closed and not self.current do
    local buf = concat(self.pending)
    self.pending, self.pending_len = { buf }, #buf
    local req = self.partial
    local rest
    if not req then
      local s, e = buf:find("\r\n\r\n", 1, true)
      if not s then
        if #buf > MAX_HEAD then _bad_request(self, 431) end
        self.need = nil
        return
      end
      req = _parse_head(buf:sub(1, s + 1))
      if not req then return _bad_request(self, 400) end
      local te = lower(req.headers["transfer-encoding"] or "")
      if te:find("chunked", 1, true) then
        req.chunked = true
      else
        local cl = req.headers["content-length"]
        req.length = cl and tonumber(cl:match("^%d+$")) or 0
        if cl and not cl:match("^%d+$") then return _bad_request(self, 400) end
        if req.length > MAX_BODY then return _bad_request(self, 413) end
      end
      buf = buf:sub(e + 1)
      self.pending, self.pending_len = { buf }, #buf
      self.partial = req
    end
    if req.chunked then
      local body, pos = _dechunk(buf, 1)
      if body == false then return _bad_request(self, 400) end
      if not body then return self:_continue(req) end
      req.body, rest = body, buf:sub(pos)
    else
      if #buf < req.length then
        self.need = req.length
        return self:_continue(req)
      end
      req.body, rest = buf:sub(1, req.length), buf:sub(req.length + 1)
    end
    self.need = nil
    self.partial = nil
    self.pending, self.pending_len = { rest }, #rest
    self.current = req
    self.server.requests = self.server.requests + 1
    req.conn_id = self.id
    local ok, err = pcall(self.server.handler, req, self)
    if not ok then
      self.server.log("handler error: " .. tostring(err))
      if self.current == req then
        self:respond(500, { ["Content-Type"] = "text/plain" }, "internal sandbox error\n", true)
      end
    end
  end
end

-- A client that sent `Expect: 100-continue` waits for this before the body.
function Conn:_continue(req)
  if not req.continued and lower(req.headers["expect"] or "") == "100-continue" then
    req.continued = true
    self:write("HTTP/1.1 100 Continue\r\n\r\n")
  end
end

function Conn:_on_read(err, chunk)
  if self.closed then return end
  if err or not chunk then
    -- The client went away (or half-closed): nothing more can be answered.
    self.closed = true
    self.server:_forget(self)
    self.tcp:read_stop()
    if not self.tcp:is_closing() then self.tcp:close() end
    return
  end
  local pending = self.pending
  pending[#pending + 1] = chunk
  self.pending_len = self.pending_len + #chunk
  if self.pending_len > MAX_BODY + MAX_HEAD then return _bad_request(self, 413) end
  -- Large bodies arrive in many reads: join them only once they are complete.
  if self.need and self.pending_len < self.need then return end
  if not self.current then self:_parse() end
end

local Server = {}
Server.__index = Server

function Server:_forget(conn)
  if self.open[conn] then
    self.open[conn] = nil
    self.open_count = self.open_count - 1
  end
end

--- The ids of the open connections (a request's `conn_id`), ascending.
function Server:open_ids()
  local ids = {}
  for conn in pairs(self.open) do ids[#ids + 1] = conn.id end
  table.sort(ids)
  return ids
end

--- Stop listening and drop every connection.
function Server:close()
  if self.closed then return end
  self.closed = true
  if not self.tcp:is_closing() then self.tcp:close() end
  local conns = {}
  for conn in pairs(self.open) do conns[#conns + 1] = conn end
  for i = 1, #conns do conns[i]:reset() end
end

--- Listen on host:port (0 picks a free port). `handler(req, conn)` must
-- eventually answer with conn:respond (or the lower-level calls).
-- req = { method, target, path, query (raw), headers (lower-case), body, close, conn_id }.
function _M.listen(host, port, handler, opts)
  opts = opts or {}
  local tcp = uv.new_tcp()
  local ok, err = tcp:bind(host, port)
  if not ok then tcp:close(); return nil, err end
  local server = setmetatable({
    tcp = tcp, handler = handler, open = {}, open_count = 0,
    connections = 0, requests = 0,
    log = opts.log or function() end,
  }, Server)
  ok, err = tcp:listen(128, function(lerr)
    if lerr or server.closed then return end
    local client = uv.new_tcp()
    if not tcp:accept(client) then client:close(); return end
    pcall(client.nodelay, client, true)
    server.connections = server.connections + 1
    local conn = setmetatable({
      tcp = client, server = server, id = server.connections,
      pending = {}, pending_len = 0,
    }, Conn)
    server.open[conn] = true
    server.open_count = server.open_count + 1
    client:read_start(function(rerr, chunk) conn:_on_read(rerr, chunk) end)
  end)
  if not ok then tcp:close(); return nil, err end
  local addr = tcp:getsockname()
  server.port = addr and addr.port
  return server
end

--- Run `fn` after `ms` milliseconds on the luv loop.
function _M.after(ms, fn)
  local timer = uv.new_timer()
  timer:start(ms, 0, function()
    timer:close()
    fn()
  end)
  return timer
end


return _M
