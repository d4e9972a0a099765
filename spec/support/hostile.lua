-- Answers no well-behaved server sends (served by support.raw), and what
-- every driver must make of each, by README's failure table:
-- transport_spec runs them through libcurl, ngx_spec through nginx's
-- cosockets (its location calls hostile.call there).
--
--   for _, case in ipairs(hostile.CASES) do
--     local server = raw.start(case.answers, case)
--     assert.same(case.expect, hostile.seen(case, hostile.call(server.url), #server:requests()))
--   end

local _M = {}

-- Upper and lower case: a header's name comes lower-cased.
_M.KEY = "sk_live_" .. ("AbC9"):rep(6)

local OK = '{"status":"success","data":{"ok":true}}'

-- A complete answer: the status line, header lines, then body (joined,
-- not formatted: Lua 5.1's %s stops at a NUL).
local function answer(status_line, lines, body)
  body = body or OK
  return status_line .. "\r\n" .. (lines or "") .. "Content-Length: " .. #body .. "\r\n\r\n" .. body
end

local function malformed(name, bytes)
  return { name = name, answers = { bytes }, expect = { kind = "decode", reason = "malformed", requests = 1 } }
end

local function cut(name, bytes)
  return { name = name, answers = { bytes }, expect = { kind = "connection", reason = "partial", requests = 3 } }
end

-- n header lines of a kilobyte each.
local function kilobytes(n)
  return ("X-Pad: " .. ("v"):rep(1015) .. "\r\n"):rep(n)
end

_M.CASES = {
  {
    name = "the key in a header's name and in the status line is redacted from the error's headers",
    answers = { answer("HTTP/1.1 403 no " .. _M.KEY .. ": x", "X-Echo-" .. _M.KEY .. ": 1\r\n", "{}") },
    expect = { kind = "api", status = 403, requests = 1, names = { "content-length", "x-echo-[REDACTED]" } },
  },
  {
    name = "the key in a header's name is redacted from kombo.meta's headers",
    answers = { answer("HTTP/1.1 200 OK", "X-Echo-" .. _M.KEY .. ": 1\r\n") },
    expect = { ok = true, status = 200, requests = 1, names = { "content-length", "x-echo-[REDACTED]" } },
  },
  {
    name = "headers past the bound with a status line among them every 100 are too_large, not retried",
    answers = { "HTTP/1.1 200 OK\r\n" .. (kilobytes(100) .. "HTTP/1.1 200 OK: again\r\n"):rep(4) },
    expect = { kind = "decode", reason = "too_large", requests = 1 },
  },
  {
    name = "1xx answers past the bound are too_large, not retried",
    answers = { ("HTTP/1.1 100 Continue\r\n" .. kilobytes(1) .. "\r\n"):rep(400) },
    expect = { kind = "decode", reason = "too_large", requests = 1 },
  },
  {
    name = "a status line among the headers keeps the Retry-After before it",
    answers = { answer("HTTP/1.1 503 Busy", "Retry-After: 1\r\nHTTP/1.1 200 OK: again\r\n", "{}"),
      answer("HTTP/1.1 200 OK") },
    expect = { ok = true, status = 200, requests = 2, delays = { 1000 } },
  },
  {
    name = "a repeated Retry-After waits the longest",
    answers = { answer("HTTP/1.1 503 Busy", "Retry-After: 0\r\nRetry-After: 1\r\n", "{}"), answer("HTTP/1.1 200 OK") },
    expect = { ok = true, status = 200, requests = 2, delays = { 1000 } },
  },
  malformed("a chunk size that is no number is malformed, not retried",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
  {
    name = "chunks ended by bare line feeds are read",
    answers = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" .. ("%x"):format(#OK) .. "\n" .. OK
      .. "\n0\n\n" },
    expect = { ok = true, status = 200, requests = 1 },
  },
  malformed("a chunk longer than its size is malformed, not retried",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n"),
  malformed("a Content-Length that is no number is malformed, not retried",
    "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}"),
  malformed("a negative Content-Length is malformed, not retried", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}"),
  malformed("a header line without a colon is malformed, not retried", answer("HTTP/1.1 200 OK", "No colon\r\n")),
  malformed("a folded first header line is malformed, not retried", answer("HTTP/1.1 200 OK", " X-Folded: 1\r\n")),
  malformed("a folded header line is malformed, not retried", answer("HTTP/1.1 200 OK", "X-A: a\r\n b\r\n")),
  malformed("a NUL in a header is malformed, not retried", answer("HTTP/1.1 200 OK", "X-A: a\0b\r\n")),
  malformed("a status line that is not HTTP is malformed, not retried", "hello\r\n\r\n"),
  cut("a status line and then the close is partial, retried", "HTTP/1.1 200 OK\r\n"),
  cut("headers cut off mid-line by the close are partial, retried",
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Le"),
  {
    name = "a Content-Encoding not asked for is content_encoding, not retried",
    answers = { answer("HTTP/1.1 200 OK", "Content-Encoding: gzip\r\n", "{}") },
    expect = { kind = "decode", reason = "content_encoding", requests = 1 },
  },
  {
    -- What a 503 says is its status and Retry-After, whatever its body's encoding.
    name = "a 503 whose body is in gzip is retried as any 503",
    answers = { answer("HTTP/1.1 503 Busy", "Retry-After: 1\r\nContent-Encoding: gzip\r\n",
      "\31\139\8\0\0\0\0\0\2\3\171\174\5\0\67\191\166\163\2\0\0\0"), answer("HTTP/1.1 200 OK") },
    expect = { ok = true, status = 200, requests = 2, delays = { 1000 } },
  },
  {
    name = "headers ended by bare line feeds are read",
    answers = { "HTTP/1.1 200 OK\nContent-Length: " .. #OK .. "\n\n" .. OK },
    expect = { ok = true, status = 200, requests = 1 },
  },
  malformed("a status code of four digits is malformed, not retried", answer("HTTP/1.1 2000 OK")),
  malformed("a NUL in the status line is malformed, not retried", answer("HTTP/1.1 200 O\0K")),
  {
    name = "a header line named like a status line is no header",
    answers = { answer("HTTP/1.1 200 OK", "HTTP/1.1 200 OK: again\r\n") },
    expect = { ok = true, status = 200, requests = 1, names = { "content-length" } },
  },
  {
    name = "trailers past the header bound are too_large, not retried",
    answers = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" .. ("%x"):format(#OK) .. "\r\n" .. OK
      .. "\r\n0\r\n" .. kilobytes(250) .. "\r\n" },
    expect = { kind = "decode", reason = "too_large", requests = 1 },
  },
  malformed("two different Content-Lengths are malformed, not retried",
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: " .. #OK .. "\r\n\r\n" .. OK),
  {
    name = "one header line longer than libcurl takes is too_large, not retried",
    -- just over the bound: its end comes in the piece of the socket that passes it
    answers = { answer("HTTP/1.1 200 OK", "X-Long: " .. ("v"):rep(102400) .. "\r\n") },
    expect = { kind = "decode", reason = "too_large", requests = 1 },
  },
  {
    name = "an unasked 101 ends the call at once as an api error, not retried",
    answers = { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" },
    hold = true,
    expect = { kind = "api", status = 101, requests = 1 },
  },
}

--- call(url) -> what one read through the running driver came to (plain
-- values, so nginx can send them as JSON).
function _M.call(url)
  local kombo = require("kombo")
  local delays = {}
  local client = assert(kombo.new({ api_key = _M.KEY, server_url = url, timeout_ms = 3000,
    retries = { max_attempts = 3, backoff = { initial_interval = 1, max_interval = 5 } },
    logger = function(_, message, fields)
      if message == "retrying" then delays[#delays + 1] = fields.delay_ms end
    end }))
  local res, err = client.general:check_api_key()
  client:close()
  local m = kombo.meta(res or err)
  local names = {}
  for name in pairs(m.headers or {}) do names[#names + 1] = name end
  table.sort(names)
  return { ok = res ~= nil, kind = err and err.kind, reason = err and err.reason, status = m.status, names = names,
    delays = delays }
end

--- seen(case, got, requests) -> the fields of got that case.expect names.
function _M.seen(case, got, requests)
  local delays = {}
  for i, d in ipairs(got.delays) do delays[i] = math.floor(d) end
  return { ok = got.ok or nil, kind = got.kind, reason = got.reason, status = got.status, requests = requests,
    names = case.expect.names and got.names, delays = case.expect.delays and delays }
end

return _M
