-- Test helper: an HTTP server in a child process that answers with bytes a
-- spec gives, however broken, and counts the requests it received.
--
--   local raw = require("support.raw")
--   local server = raw.start({ "HTTP/1.1 200 OK\r\n" })   -- the answers
--   server.url        -- "http://127.0.0.1:<port>/v1"
--   server:requests() -- the request lines received so far, in order
--   server:stop()
--
-- Request i gets answers[i] (the last one again past the end), then the
-- server closes the connection; with `hold = true` it waits for the client
-- to close it first, so no answer ends by the close. One connection at a
-- time, in $KOMBO_LUA (default lua5.4); a server left running exits after
-- a minute without a connection.

local socket = require("socket")

local _M = {}

local SERVER = [[
local socket = require("socket")
local answers, hold, log_path, port_path = %s, %s, %q, %q
local server = assert(socket.bind("127.0.0.1", 0))
server:settimeout(60)
local f = assert(io.open(port_path .. ".tmp", "w"))
local _, port = server:getsockname()
f:write(port); f:close()
os.rename(port_path .. ".tmp", port_path)
local n = 0
while true do
  local c = server:accept()
  if not c then break end
  c:settimeout(10)
  local line = c:receive("*l")
  local length = 0
  local h = line
  while h and h ~= "" do
    h = c:receive("*l")
    length = tonumber(h and h:lower():match("^content%%-length:%%s*(%%d+)")) or length
  end
  if line and (length == 0 or c:receive(length)) then
    n = n + 1
    local log = assert(io.open(log_path, "a"))
    log:write(line, "\n"); log:close()
    c:send(answers[n] or answers[#answers])
    if hold then repeat until not c:receive(1) end
  end
  c:close()
end
]]

local Server = {}
Server.__index = Server

function Server:requests()
  local lines, f = {}, io.open(self.log_path)
  if f then
    for l in f:lines() do lines[#lines + 1] = l end
    f:close()
  end
  return lines
end

function Server:stop()
  if self.pid then os.execute("kill " .. self.pid .. " 2>/dev/null") end
  self.pid = nil
  os.remove(self.log_path)
  os.remove(self.port_path)
  os.remove(self.script)
end

--- start(answers, { hold = true }?) -> a server (above)
function _M.start(answers, opts)
  local quoted = {}
  for i, a in ipairs(answers) do quoted[i] = ("%q"):format(a) end
  local base = os.tmpname()
  local s = setmetatable({ script = base, log_path = base .. ".log", port_path = base .. ".port" }, Server)
  local f = assert(io.open(s.script, "w"))
  f:write(SERVER:format("{ " .. table.concat(quoted, ", ") .. " }", tostring(opts and opts.hold or false),
    s.log_path, s.port_path))
  f:close()
  local lua = os.getenv("KOMBO_LUA") or "lua5.4"
  local p = assert(io.popen(lua .. " " .. s.script .. " >/dev/null 2>&1 & echo $!"))
  s.pid = assert(tonumber(p:read("*l")))
  p:close()
  for _ = 1, 500 do
    f = io.open(s.port_path)
    if f then
      s.url = "http://127.0.0.1:" .. f:read("*l") .. "/v1"
      f:close()
      return s
    end
    socket.sleep(0.01)
  end
  s:stop()
  error("the raw server did not start")
end

return _M
