-- Fault injection for the sandbox: which request a rule hits, and how a hit
-- is answered (a status, a delay, or a broken exchange).
--
-- A rule: { method?, path? | path_prefix?, times?, once_per_query?, every?,
--   probability? + seed?, delay_ms?, status? + headers? + body? + code?,
--   action?, after_handler? } with action one of ACTIONS below
--   (repeated_header also takes header, count and value). Headers without
--   a status or an action are added to the real answer.
-- `times` counts hits (-1 = forever). It defaults to 1, or to forever when
-- the rule says which requests to hit (once_per_query, every, probability).
-- Rules are tried in order; the first that hits answers the request.

local util = require("kombo_sandbox.util")
local http = require("kombo_sandbox.http")

local floor, format, rep, sub, concat = math.floor, string.format, string.rep, string.sub, table.concat
local type, ipairs, pairs, next, tonumber, tostring, setmetatable = type, ipairs, pairs, next, tonumber, tostring,
  setmetatable

local _M = {}

local ACTIONS = {
  reset_before_response = true, drop_mid_body = true, short_body = true, truncated_json = true,
  non_json = true, html_502 = true, empty_200 = true, json_not_object = true, invalid_utf8 = true,
  huge_body = true, no_headers = true, trickle = true, redirect = true,
  close_after_response = true, repeated_header = true,
}
_M.ACTIONS = ACTIONS

-- Actions whose broken answer is made from the real response body.
local NEEDS_BODY = { drop_mid_body = true, short_body = true, truncated_json = true, trickle = true,
  close_after_response = true, repeated_header = true }

local Faults = {}
Faults.__index = Faults

--- An empty rule set.
function _M.new()
  return setmetatable({ rules = {} }, Faults)
end

local function _int(v, min)
  return type(v) == "number" and v == floor(v) and v >= min
end

-- Check and normalise one rule; nil, message when it makes no sense.
local function _rule(r)
  if type(r) ~= "table" then return nil, "a rule must be an object" end
  if r.action ~= nil and not ACTIONS[r.action] then return nil, "unknown action " .. tostring(r.action) end
  if r.status ~= nil and not (_int(r.status, 100) and r.status <= 599) then return nil, "status must be 100..599" end
  if r.delay_ms ~= nil and not _int(r.delay_ms, 0) then return nil, "delay_ms must be an integer >= 0" end
  if r.every ~= nil and not _int(r.every, 1) then return nil, "every must be an integer >= 1" end
  if r.times ~= nil and not _int(r.times, -1) then return nil, "times must be an integer >= -1" end
  if r.probability ~= nil and not (type(r.probability) == "number" and r.probability >= 0 and r.probability <= 1) then
    return nil, "probability must be from 0 to 1"
  end
  if r.action == "redirect" and type(r.location) ~= "string" then return nil, "redirect needs a location" end
  if r.action == "repeated_header" then
    local word = "^[%w-]+$"
    if type(r.header) ~= "string" or not r.header:match(word) then return nil, "repeated_header needs a header" end
    if not (_int(r.count, 1) and r.count <= 1000000) then return nil, "count must be 1..1000000" end
    if r.value ~= nil and not (type(r.value) == "string" and r.value:match(word)) then
      return nil, "value must be letters, digits and dashes"
    end
  end
  if r.headers ~= nil and type(r.headers) ~= "table" then return nil, "headers must be an object" end
  if r.status == nil and r.action == nil and r.delay_ms == nil and r.headers == nil then
    return nil, "a rule needs a status, an action, a delay_ms or headers"
  end
  local selective = r.once_per_query or r.every or r.probability
  local rule = {}
  for k, v in pairs(r) do
    -- JSON numbers arrive as floats; whole ones become integers so they print as "429".
    if type(v) == "number" and v == floor(v) then v = floor(v) end
    rule[k] = v
  end
  rule.times = r.times or (selective and -1 or 1)
  rule.method = r.method and r.method:upper()
  rule.seen, rule.hits, rule.queries = 0, 0, {}
  if r.probability then rule.rng = util.rng(r.seed or 1) end
  return rule
end

--- Append rules (a list, or one rule). Returns the number of rules, or nil, message.
function Faults:add(rules)
  if type(rules) ~= "table" then return nil, "rules must be a list of rule objects" end
  if rules[1] == nil and next(rules) ~= nil then rules = { rules } end
  local checked = {}
  for i, r in ipairs(rules) do
    local rule, err = _rule(r)
    if not rule then return nil, format("rule %d: %s", i, err) end
    checked[i] = rule
  end
  for _, rule in ipairs(checked) do self.rules[#self.rules + 1] = rule end
  return #self.rules
end

--- Forget every rule.
function Faults:clear()
  self.rules = {}
end

--- The rules with how often each was seen and hit, for GET /_sandbox/faults.
function Faults:list()
  local out = util.array()
  for i, r in ipairs(self.rules) do
    local copy = {}
    for k, v in pairs(r) do
      if k ~= "rng" and k ~= "queries" then copy[k] = v end
    end
    out[i] = copy
  end
  return out
end

--- The rule that hits this request, if any (counting it as seen and hit).
function Faults:pick(method, path, query)
  for _, r in ipairs(self.rules) do
    local applies = r.times ~= 0
      and (not r.method or r.method == method)
      and (not r.path or r.path == path)
      and (not r.path_prefix or sub(path, 1, #r.path_prefix) == r.path_prefix)
    if applies then
      r.seen = r.seen + 1
      local hit = true
      if r.once_per_query then
        hit = not r.queries[query]
        r.queries[query] = true
      end
      if hit and r.every then hit = r.seen % r.every == 0 end
      if hit and r.rng then hit = r.rng:float() < r.probability end
      if hit then
        r.hits = r.hits + 1
        if r.times > 0 then r.times = r.times - 1 end
        return r
      end
    end
  end
  return nil
end

--- Does answering this rule need the real response (run the handler)?
function _M.needs_handler(rule, method)
  if rule.after_handler then return true end
  if rule.status == nil and rule.action == nil then return true end
  return NEEDS_BODY[rule.action] == true and method == "GET"
end

--- Does the rule change the answer (rather than only delaying it)?
function _M.alters(rule)
  return rule.status ~= nil or rule.action ~= nil
end

local JSON = "application/json; charset=utf-8"
local HTML = "text/html; charset=utf-8"

--- A copy of the headers `base` with the rule's added.
function _M.with_headers(rule, base)
  local h = {}
  for k, v in pairs(base) do h[k] = v end
  for k, v in pairs(rule.headers or {}) do h[k] = tostring(v) end
  return h
end

local function _headers(rule, content_type)
  return _M.with_headers(rule, { ["Content-Type"] = content_type })
end

-- Headers with an explicit Content-Length that need not match the body.
local function _raw_head(status, headers, length)
  local h = {}
  for k, v in pairs(headers) do h[k] = v end
  h["Content-Length"] = tostring(length)
  h["Connection"] = "close"
  return http.head(status, h)
end

local function _stream_huge(conn, size)
  local prefix, suffix = '{"status":"success","data":{"next":null,"results":[', "]}}"
  local item = '{"id":"HugeBodyPaddingRecord01","remote_id":"0","name":"padding"}'
  local items = 0
  if size >= #prefix + #suffix + #item then
    items = floor((size - #prefix - #suffix + 1) / (#item + 1))
  end
  local pad = size - #prefix - #suffix - (items > 0 and (items * (#item + 1) - 1) or 0)
  if pad < 0 then prefix, suffix, pad = "", "", size end
  conn:write(http.head(200, { ["Content-Type"] = JSON, ["Content-Length"] = tostring(size) }) .. prefix)
  local block_items = 1024
  local block = rep(item .. ",", block_items)
  local left = items
  local function pump(err)
    if err or conn.closed then return end
    if left <= 0 then
      conn:write(rep(" ", pad) .. suffix)
      conn:finish()
      return
    end
    local n = left < block_items and left or block_items
    left = left - n
    local piece = (n == block_items) and block or rep(item .. ",", n)
    if left == 0 then piece = sub(piece, 1, -2) end
    conn:write(piece, pump)
  end
  pump()
end

local function _trickle(conn, rule, status, headers, body)
  local h = {}
  for k, v in pairs(headers) do h[k] = v end
  h["Content-Length"] = tostring(#body)
  conn:write(http.head(status, h))
  local step = tonumber(rule.chunk_bytes) or 8
  local pos = 1
  local function tick()
    if conn.closed then return end
    if pos > #body then
      conn:finish()
      return
    end
    conn:write(sub(body, pos, pos + step - 1))
    pos = pos + step
    http.after(tonumber(rule.interval_ms) or 100, tick)
  end
  tick()
end

local HTML_PAGE = "<!DOCTYPE html>\n<html><head><title>%s</title></head><body><h1>%s</h1>"
  .. "<p>kombo-sandbox</p></body></html>\n"

--- Answer a request the way `rule` says. `status, headers, body` is the real
--- response (or a stand-in for writes whose handler did not run).
--- `envelope(status, code)` makes the default error body for an injected status.
function _M.answer(rule, conn, status, headers, body, envelope)
  local a = rule.action
  if a == nil then
    local s = rule.status
    local b = rule.body
    if b == nil then b = util.encode(envelope(s, rule.code)) end
    local ct = (rule.headers and (rule.headers["Content-Type"] or rule.headers["content-type"])) or JSON
    return conn:respond(s, _headers(rule, ct), b)
  end
  status = rule.status or status
  if a == "reset_before_response" then
    return conn:reset()
  elseif a == "no_headers" then
    return -- the request stays unanswered until the client gives up
  elseif a == "drop_mid_body" or a == "short_body" then
    local h = _headers(rule, headers["Content-Type"] or JSON)
    if a == "drop_mid_body" then
      conn:write(_raw_head(status, h, #body) .. sub(body, 1, floor(#body / 2)))
    else
      conn:write(_raw_head(status, h, #body + 1024) .. body)
    end
    return conn:close()
  elseif a == "truncated_json" then
    return conn:respond(status, _headers(rule, JSON), sub(body, 1, floor(#body / 2)))
  elseif a == "non_json" then
    return conn:respond(rule.status or 200, _headers(rule, HTML), format(HTML_PAGE, "Welcome", "Welcome"))
  elseif a == "html_502" then
    return conn:respond(rule.status or 502, _headers(rule, HTML), format(HTML_PAGE, "502 Bad Gateway", "Bad Gateway"))
  elseif a == "empty_200" then
    return conn:respond(rule.status or 200, _headers(rule, JSON), "")
  elseif a == "json_not_object" then
    return conn:respond(rule.status or 200, _headers(rule, JSON), "[1,2]")
  elseif a == "invalid_utf8" then
    local bad = '{"status":"success","data":{"next":null,"results":[{"id":"\255\254\253","name":"caf\195"}]}}'
    return conn:respond(rule.status or 200, _headers(rule, JSON), bad)
  elseif a == "huge_body" then
    return _stream_huge(conn, floor(tonumber(rule.size_bytes) or 8 * 1024 * 1024))
  elseif a == "trickle" then
    return _trickle(conn, rule, status, _headers(rule, headers["Content-Type"] or JSON), body)
  elseif a == "close_after_response" then
    -- The whole answer, promising keep-alive, then the connection closes:
    -- a server's idle timeout firing before the client's next request.
    local h = _headers(rule, headers["Content-Type"] or JSON)
    h["Content-Length"], h["Connection"] = tostring(#body), "keep-alive"
    conn:write(http.head(status, h) .. body)
    return conn:close()
  elseif a == "repeated_header" then
    -- The real answer with `header` sent `count` times, each with `value`
    -- or with its number (1..count).
    local h = _headers(rule, headers["Content-Type"] or JSON)
    local close = conn.current and conn.current.close
    h["Content-Length"], h["Connection"] = tostring(#body), close and "close" or "keep-alive"
    local lines = {}
    for i = 1, rule.count do lines[i] = rule.header .. ": " .. (rule.value or i) .. "\r\n" end
    conn:write(sub(http.head(status, h), 1, -3) .. concat(lines) .. "\r\n" .. body)
    return conn:finish()
  elseif a == "redirect" then
    local h = _headers(rule, "text/plain")
    h["Location"] = rule.location
    return conn:respond(rule.status or 302, h, "Found\n")
  end
  error("unhandled action " .. tostring(a))
end

return _M
