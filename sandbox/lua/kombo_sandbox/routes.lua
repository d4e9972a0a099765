-- The sandbox's endpoints: routing, the ATS list filters, cursor pagination
-- and the writes that change the seeded data (platform.lua has the general,
-- connect and assessment endpoints and the rest of ATS).
--
--   local status, payload = routes.handle(db, "GET", "/ats/tags", "page_size=5", nil)
--
-- `payload` is a Lua table for util.encode: a success document or Kombo's
-- error envelope. Cursors are base64 of "v1:<index of the last record
-- returned>:<hash of the filters>", so a page resumes after the last record
-- it showed and a cursor sent with other filters is refused.

local util = require("kombo_sandbox.util")
local views = require("kombo_sandbox.views")
local validate = require("kombo_sandbox.validate")
local endpoints = require("kombo_sandbox.endpoints")
local writes = require("kombo_sandbox.writes")

local array, null, split, parse_time = util.array, util.null, util.split, util.parse_time
local lower, format = string.lower, string.format
local tonumber, ipairs, pairs = tonumber, ipairs, pairs

local _M = {}

local TITLES = {
  ["PLATFORM.INPUT_INVALID"] = "The input is invalid.",
  ["PLATFORM.AUTHENTICATION_INVALID"] = "The API key is invalid.",
  ["PLATFORM.RATE_LIMIT_EXCEEDED"] = "You have exceeded the rate limit.",
  ["PLATFORM.UNKNOWN_ERROR"] = "An unknown error occurred.",
  ["PLATFORM.INTEGRATION_NOT_FOUND"] = "The integration was not found.",
  ["REMOTE.SERVICE_UNAVAILABLE"] = "The remote system is unavailable.",
  ["REMOTE.UNKNOWN_HTTP_ERROR"] = "The remote system returned an unexpected error.",
  ["REMOTE.INPUT_INVALID"] = "The remote system rejected the input.",
  ["INTEGRATION.PERMISSION_MISSING"] = "A permission is missing for this integration.",
  ["INTEGRATION.SETUP_SYNC_PENDING"] = "The integration's first sync has not finished yet.",
  ["ATS.JOB_CLOSED"] = "The job is closed.",
  ["ATS.APPLICATION_ALREADY_EXISTS"] = "The application already exists.",
}

-- What an injected status answers with when the rule brings no body.
local STATUS_CODES = {
  [400] = "PLATFORM.INPUT_INVALID", [401] = "PLATFORM.AUTHENTICATION_INVALID",
  [403] = "INTEGRATION.PERMISSION_MISSING", [404] = "PLATFORM.INPUT_INVALID",
  [429] = "PLATFORM.RATE_LIMIT_EXCEEDED", [500] = "PLATFORM.UNKNOWN_ERROR",
  [502] = "REMOTE.UNKNOWN_HTTP_ERROR", [503] = "REMOTE.SERVICE_UNAVAILABLE",
  [504] = "REMOTE.SERVICE_UNAVAILABLE",
}

--- Kombo's error envelope. `code` may be nil (JSON null).
function _M.envelope(code, message, title)
  return { status = "error", error = {
    code = code or null, title = title or (code and TITLES[code]) or null,
    message = message, log_url = null,
  } }
end

--- The envelope a bare injected status answers with.
function _M.status_envelope(status, code)
  code = code or STATUS_CODES[status] or (status >= 500 and "PLATFORM.UNKNOWN_ERROR") or null
  return _M.envelope(code ~= null and code or nil, format("The sandbox answered %d as a test asked it to.", status))
end

local function _err(status, code, message)
  return status, _M.envelope(code, message)
end
_M.err = _err

local function _invalid(field, expected)
  if expected == "required" then
    return _err(400, "PLATFORM.INPUT_INVALID", format("Invalid input: `%s` is required.", field))
  end
  return _err(400, "PLATFORM.INPUT_INVALID", format("Invalid input: `%s` must be %s.", field, expected))
end

-- Filters shared by every list endpoint, then one table per endpoint:
-- query name -> function(value, db) returning a predicate or nil, expected.
local function _in(field)
  return function(v)
    local set = split(v)
    return function(r) return set[r[field]] == true end
  end
end

local function _after(field)
  return function(v)
    local t = parse_time(v)
    if not t then return nil, "an ISO 8601 date-time such as 2024-04-12T14:33:47.000Z" end
    return function(r) return r[field] ~= nil and r[field] > t end
  end
end

local function _contains(field)
  return function(v)
    v = lower(v)
    return function(r) return lower(r[field]):find(v, 1, true) ~= nil end
  end
end

local COMMON = { ids = _in("id"), remote_ids = _in("remote_id"), updated_after = _after("changed_at") }

local FILTERS = {
  get_applications = {
    outcome = function(v) return function(a) return a.outcome == v end end,
    outcomes = _in("outcome"), job_ids = _in("job_id"), current_stage_ids = _in("stage_id"),
    remote_created_after = _after("remote_created_at"),
    job_remote_ids = function(v, db)
      local set = split(v)
      return function(a) return set[db.jobs.by_id[a.job_id].remote_id] == true end
    end,
  },
  get_candidates = {
    email = function(v)
      v = lower(v)
      return function(c)
        if lower(c.email) == v then return true end
        for _, e in ipairs(c.extra_emails or {}) do
          if lower(e.email_address) == v then return true end
        end
        return false
      end
    end,
    job_ids = function(v, db)
      local set = split(v)
      return function(c)
        for _, id in ipairs(c.app_ids) do
          if set[db.applications.by_id[id].job_id] then return true end
        end
        return false
      end
    end,
    first_name = function(v) v = lower(v); return function(c) return lower(c.first_name) == v end end,
    last_name = function(v) v = lower(v); return function(c) return lower(c.last_name) == v end end,
  },
  get_jobs = {
    job_codes = _in("job_code"), statuses = _in("status"), employment_types = _in("employment_type"),
    visibilities = _in("visibility"), remote_created_after = _after("remote_created_at"),
    post_url = function(v) return function(j) return j.post_url == v end end,
    status = function(v) return function(j) return j.status == v end end,
    name_contains = _contains("name"),
  },
  get_skills = { name_contains = _contains("name") },
  get_users = {
    emails = function(v)
      local set = split(lower(v))
      return function(u) return set[lower(u.email)] == true end
    end,
  },
  get_interviews = {
    job_ids = function(v, db)
      local set = split(v)
      return function(iv) return set[db.applications.by_id[iv.application_id].job_id] == true end
    end,
  },
}


local function _list(coll_name, view)
  return function(ctx)
    local db, q = ctx.db, ctx.q
    local preds = {}
    if q.include_deleted ~= "true" then
      preds[1] = function(r) return r.remote_deleted_at == nil end
    end
    local specific = FILTERS[ctx.op] or {}
    for _, k in ipairs(ctx.names) do
      local make = COMMON[k] or specific[k]
      if make then
        local pred, expected = make(q[k], db)
        if not pred then return _invalid(k, expected) end
        preds[#preds + 1] = pred
      end
    end
    local function match(r)
      for i = 1, #preds do
        if not preds[i](r) then return false end
      end
      return true
    end
    local size, hash, start = tonumber(q.page_size) or 100, util.filter_hash(q), 1
    if q.cursor then
      local text = util.b64decode(q.cursor)
      local idx, h = (text or ""):match("^v1:(%d+):(%x+)$")
      if not idx then return _invalid("cursor", "a cursor from a previous page's data.next") end
      if h ~= hash then
        return _invalid("cursor", "sent with the same filters as the request that returned it")
      end
      start = tonumber(idx) + 1
    end
    local items, results, last = db[coll_name].items, array(), nil
    local cache, version = db.cache, db.version
    local i = start
    while i <= #items and #results < size do
      local r = items[i]
      if match(r) then
        local c = cache[r]
        if not c or c[1] ~= version then
          c = { version, util.raw(util.encode(view(db, r))) }
          cache[r] = c
        end
        results[#results + 1] = c[2]
        last = i
      end
      i = i + 1
    end
    local nxt = null
    if #results == size then
      for j = i, #items do
        if match(items[j]) then
          nxt = util.b64encode("v1:" .. last .. ":" .. hash)
          break
        end
      end
    end
    return 200, { status = "success", data = { next = nxt, results = results } }
  end
end

-- The handler of each operation in endpoints.lua.
local HANDLERS = {
  get_applications = _list("applications", views.application),
  move_application_to_stage = writes.move_application_to_stage,
  add_application_result_link = writes.add_application_result_link,
  add_application_note = writes.add_application_note,
  get_application_attachments = writes.get_application_attachments,
  add_application_attachment = writes.add_application_attachment,
  reject_application = writes.reject_application,
  get_candidates = _list("candidates", views.candidate),
  create_candidate = writes.create_candidate,
  get_candidate_attachments = writes.get_candidate_attachments,
  add_candidate_attachment = writes.add_candidate_attachment,
  add_candidate_result_link = writes.add_candidate_result_link,
  add_candidate_tag = writes.add_candidate_tag,
  remove_candidate_tag = writes.remove_candidate_tag,
  get_tags = _list("tags", views.named),
  get_application_stages = _list("application_stages", views.named),
  get_jobs = _list("jobs", views.job),
  create_application = writes.create_application,
  get_users = _list("users", views.user),
  get_offers = _list("offers", views.offer),
  get_rejection_reasons = _list("rejection_reasons", views.named),
  get_interviews = _list("interviews", views.interview),
  import_tracked_application = writes.import_tracked_application,
  get_skills = _list("skills", views.skill),
}
-- The general, connect and assessment endpoints and the rest of ATS.
for name, handler in pairs(require("kombo_sandbox.platform").HANDLERS) do HANDLERS[name] = handler end

-- Routes: method, path pattern (captures are the path parameters in order),
-- operation name, handler; the pattern is the document's path with each
-- {parameter} one segment.
local ROUTES = {}
for i, e in ipairs(endpoints) do
  local method, path, name = e[1], e[2], e[3]
  local pattern = "^" .. path:gsub("[%%%-%.%+%*%?%[%]%^%$%(%)]", "%%%0"):gsub("{[^}]+}", "([^/]+)") .. "$"
  ROUTES[i] = { method, pattern, name, assert(HANDLERS[name], "no handler for " .. name) }
end
_M.ROUTES = ROUTES

--- The operation name a method and path (relative to /v1) belong to, or nil.
function _M.operation(method, path)
  for _, r in ipairs(ROUTES) do
    if r[1] == method and path:match(r[2]) then return r[3] end
  end
  return nil
end

--- Answer one API request. `path` is relative to /v1, `query` the raw query
--- string, `body` the raw body text (or "" / nil), `headers` the request's
--- (lower-case names; may be nil). Returns status, payload.
function _M.handle(db, method, path, query, body, headers)
  local route, captures, path_known
  for _, r in ipairs(ROUTES) do
    local caps = { path:match(r[2]) }
    if caps[1] ~= nil then
      path_known = true
      if r[1] == method then
        route, captures = r, caps
        break
      end
    end
  end
  if not route then
    if path_known then return _err(405, nil, "Method " .. method .. " is not allowed on " .. path .. ".") end
    return _err(404, nil, "No endpoint at " .. path .. ".")
  end
  local q, names = util.parse_query(query)
  local ok, field, expected = validate.query(route[3], q, names)
  if not ok then return _invalid(field, expected) end
  local decoded
  if body and body ~= "" then
    local err
    decoded, err = util.decode(body)
    if decoded == nil then
      return _err(400, "PLATFORM.INPUT_INVALID", "Invalid input: the body is not valid JSON (" .. tostring(err) .. ").")
    end
  end
  ok, field, expected = validate.body(route[3], decoded)
  if not ok then return _invalid(field, expected) end
  local params = {}
  for i, c in ipairs(captures) do params[i] = util.unescape(c) end
  if method ~= "GET" then
    -- Any write may change how other records look (a candidate's tags show
    -- on its applications), so every cached encoding goes stale.
    db.version = db.version + 1
  end
  return route[4]({ db = db, op = route[3], q = q, names = names, body = decoded, params = params,
    headers = headers or {}, now = util.now_ms(), err = _err, invalid = _invalid })
end


return _M
