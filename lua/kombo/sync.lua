-- Incremental sync (client:sync, README "Incremental sync"): one paginated
-- read walked for what changed since the last completed run, its place
-- kept in a state file or a store, so a run that stops resumes there.
--
-- The state of one key (operation, integration, filters) is a JSON object:
--   watermark  the largest changed_at of the last completed run; the next
--              run asks for updated_after = watermark - overlap
--   resume     a walk in progress: the resume token of its next page
--   seen       the largest changed_at that walk's caller was given
--   started    when that walk started (_started)

require("kombo.compat").interpreted_module()
local core = require("kombo.core")
local attempts = require("kombo.attempts")
local build = require("kombo.build")
local compat = require("kombo.compat")
local drivers = require("kombo.drivers")
local errors = require("kombo.errors")
local meta = require("kombo.meta")
local operations = require("kombo.operations")
local page = require("kombo.page")
local schema = require("kombo.schema")

local type, pairs, ipairs, pcall, tostring, tonumber, error = type, pairs, ipairs, pcall, tostring, tonumber, error
local setmetatable, getmetatable = setmetatable, getmetatable
local floor = math.floor
local invalid = errors.invalid

local _M = {}

-- What io.open's third result is for a file that does not exist.
local ENOENT = 2

-- How long a save waits for another process's hold on the state file's
-- lock (a read-modify-write takes milliseconds: a longer hold is a process
-- stopped or hung), and the pause between tries.
local LOCK_WAIT_MS, LOCK_PAUSE_MS = 3000, 20

-- The longest overlap_ms: clocks that disagree and changes that become
-- visible late take minutes, and a longer overlap walks that much history
-- again on every run.
local MAX_OVERLAP_MS = 30 * 24 * 3600 * 1000

-- The parameters the sync sets itself.
local OWN = {
  updated_after = "set by the sync from its watermark; leave it out",
  include_deleted = "set by the sync (true, so deletions arrive); leave it out",
  cursor = "set by the sync; leave it out",
  resume = "set by the sync; leave it out",
}

-- Milliseconds since the epoch of an ISO 8601 date-time with a zone
-- ("2026-12-01T15:04:05.123Z", "+02:00"), or nil for anything else.
local function _ms(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se, frac, zone = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)%.?(%d*)(.*)$")
  if not y then return nil end
  local offset = 0
  if zone ~= "Z" then
    local sign, zh, zm = zone:match("^([+-])(%d%d):?(%d%d)$")
    if not sign or tonumber(zh) > 23 or tonumber(zm) > 59 then return nil end
    offset = (tonumber(zh) * 60 + tonumber(zm)) * 60000 * (sign == "-" and -1 or 1)
  end
  y, mo = tonumber(y), tonumber(mo)
  -- A date no calendar has ("9999-99-99T99:99:99Z") is no time: read as
  -- one, a watermark past every record would sync nothing, silently.
  local leap = y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)
  local month_days = mo == 2 and (leap and 29 or 28) or ((mo == 4 or mo == 6 or mo == 9 or mo == 11) and 30 or 31)
  if mo < 1 or mo > 12 or tonumber(d) < 1 or tonumber(d) > month_days or tonumber(h) > 23 or tonumber(mi) > 59
    or tonumber(se) > 60 then
    return nil
  end
  -- Days since 1970-01-01 in the proleptic Gregorian calendar, counting
  -- years from March so the leap day ends a year.
  if mo <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * ((mo + 9) % 12) + 2) / 5) + tonumber(d) - 1
  local days = era * 146097 + yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy - 719468
  local ms = frac ~= "" and floor(tonumber("0." .. frac) * 1000 + 0.5) or 0
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(se) * 1000 + ms - offset
end

-- The dates Kombo takes, and kombo.iso8601 writes, are of years 0001 to
-- 9999. A time outside them (a watermark near year 1 minus the overlap, a
-- Date of year 0) is sent as the nearest of them, which asks for the same
-- records, so no state or answer makes the arithmetic raise.
local FIRST_MS, LAST_MS = _ms("0001-01-01T00:00:00.000Z"), _ms("9999-12-31T23:59:59.999Z")

local function _iso(ms)
  return build.iso8601((ms < FIRST_MS and FIRST_MS or ms > LAST_MS and LAST_MS or ms) / 1000)
end

-- The operation "group.name" (or its alias) names, or nil and the error.
local function _operation(name)
  local expected = 'an operation name such as "ats.get_applications"'
  if type(name) ~= "string" then return nil, invalid("name", expected) end
  local group, opname = name:match("^([%w_]+)%.([%w_]+)$")
  for _, op in ipairs(group and operations.load(group) or {}) do
    if op.name == opname or op.alias == opname then return op, group end
  end
  -- A typo of a whole name, or a name given without its group.
  local names, ungrouped = {}, {}
  for _, g in ipairs(operations.groups) do
    for _, op in ipairs(operations.load(g)) do
      names[#names + 1] = g .. "." .. op.name
      if op.name == name or op.alias == name then ungrouped[#ungrouped + 1] = g .. "." .. op.name end
    end
  end
  local best = #ungrouped > 0 and table.concat(ungrouped, " or ") or build.closest(name, names)
  return nil, invalid("name", "no operation " .. name .. (best and ("; did you mean " .. best .. "?") or "")
    .. " (docs/operations.md lists them all)")
end

local function _callable(store, method)
  local ok, fn = pcall(function() return store[method] end)
  return ok and (type(fn) == "function" or (type(fn) == "table" and getmetatable(fn) ~= nil))
end

local OPTIONS = { "state_file", "store", "overlap_ms", "before_save" }

-- opts split into the sync's own and the call options the rest are.
local function _options(opts)
  if type(opts) ~= "table" then
    return nil, invalid("opts", "a table with state_file (a path) or store (an object with get and set)")
  end
  if getmetatable(opts) ~= nil then return nil, invalid("opts", schema.PLAIN) end
  local own, call = {}, nil
  for k, v in pairs(opts) do
    if k == "state_file" or k == "store" or k == "overlap_ms" or k == "before_save" then
      own[k] = v
    else
      call = call or {}
      call[k] = v
    end
  end
  -- A misspelt option of the sync's own would otherwise be taken for a
  -- call option, and refused without the name it was meant to be.
  for k in pairs(call or {}) do
    local near = type(k) == "string" and build.closest(k, OPTIONS)
    if near then return nil, invalid("opts." .. k, "not a known option (did you mean " .. near .. "?)") end
  end
  if own.state_file ~= nil and own.store ~= nil then
    return nil, invalid("opts.store", "not with opts.state_file: the state lives in one of them")
  end
  if own.state_file == nil and own.store == nil then
    return nil, invalid("opts.state_file", "required: a file path, or opts.store (an object with get and set)")
  end
  if own.state_file ~= nil and (type(own.state_file) ~= "string" or own.state_file == "") then
    return nil, invalid("opts.state_file", "a non-empty file path")
  end
  -- The system reads a path up to its first NUL: another file.
  if own.state_file ~= nil and own.state_file:find("\0", 1, true) then
    return nil, invalid("opts.state_file", "a file path without NUL bytes")
  end
  if own.store ~= nil and not (_callable(own.store, "get") and _callable(own.store, "set")) then
    return nil, invalid("opts.store", "an object with get and set methods (store:get(key), store:set(key, value))")
  end
  local overlap = own.overlap_ms
  if overlap ~= nil and (type(overlap) ~= "number" or overlap ~= overlap or overlap < 0 or overlap > MAX_OVERLAP_MS
    or overlap % 1 ~= 0) then
    return nil, invalid("opts.overlap_ms", ("a whole number of milliseconds from 0 to %d (%d days)"):format(
      MAX_OVERLAP_MS, MAX_OVERLAP_MS / 86400000))
  end
  if own.before_save ~= nil and type(own.before_save) ~= "function" then
    return nil, invalid("opts.before_save", "a function, called before each save (e.g. to flush your output)")
  end
  return own, call
end

local Sync = {}
Sync.__index = Sync

--- client:sync(name, params, opts) -> sync | nil, err; `prepare` is the
--- client's check of a call's params and options.
function _M.new(client, name, params, opts, prepare, defaults)
  local op, group = _operation(name)
  if not op then return nil, group end
  name = group .. "." .. op.name
  if not op.paginated then
    return nil, invalid("name", name .. " does not page; client:sync walks paginated reads", op.name)
  end
  if not (build.takes(op, "updated_after") and build.takes(op, "include_deleted")) then
    return nil, invalid("name", name .. " takes no updated_after and include_deleted, so it cannot sync what changed",
      op.name)
  end
  local own, call = _options(opts)
  if not own then
    call.operation = op.name
    return nil, call
  end
  if params ~= nil and type(params) ~= "table" then return nil, invalid("params", "a table", op.name) end
  -- Copied by pairs below: what a metatable's __index gives would be lost.
  if params ~= nil and getmetatable(params) ~= nil then return nil, invalid("params", schema.PLAIN, op.name) end
  local own_params, filters = {}, {}
  for k, v in pairs(params or {}) do
    if OWN[k] then return nil, invalid(k, OWN[k], op.name) end
    own_params[k] = v
    if k ~= "page_size" then filters[k] = v end
  end
  -- The key names the filters as the request writes them (page_size aside:
  -- it changes no item), so equal filters share one state however given.
  local req, err = prepare(op, filters, call)
  if not req then return nil, err end
  local integration = (call and call.integration_id) or client._integration_id or ""
  return setmetatable({
    client = client, op = op, name = name, params = own_params, call = call, prepare = prepare,
    state_file = own.state_file, store = own.store, overlap_ms = own.overlap_ms or defaults.overlap_ms,
    before_save = own.before_save,
    key = ("kombo.sync|%s|%s|%s%s"):format(integration, name, req.path, req.query ~= "" and ("?" .. req.query) or ""),
  }, Sync)
end

local function _state_error(self, reason, message)
  return errors.new({ kind = "state", reason = reason, operation = self.op.name, attempts = 0, message = message })
end

local function _corrupt(self, where)
  return _state_error(self, "corrupt", where .. " does not hold the state client:sync writes; "
    .. "remove it to sync everything again")
end

-- Every key's state in the state file ({} when there is none yet).
local function _read_file(self)
  local path = self.state_file
  local f, msg, code = io.open(path, "rb")
  if not f then
    if code == ENOENT then return {} end
    return nil, _state_error(self, "read", tostring(msg))
  end
  local text, rerr = f:read("*a")
  f:close()
  if not text then return nil, _state_error(self, "read", path .. ": " .. tostring(rerr)) end
  if text == "" then return {} end
  local all = core.json_decode(text)
  if type(all) ~= "table" or all[1] ~= nil then return nil, _corrupt(self, path) end
  return all
end

-- Waits between tries for the lock: in the driver's way where the caller
-- can yield (a task, nginx), so the rest runs meanwhile.
local function _pause(ms)
  if compat.yieldable() then drivers.current().sleep(ms) else core.sleep_ms(ms) end
end

-- fn(self, ...) holding <state_file>.lock, left beside the file: each
-- read-modify-write of the file holds it, so processes that share the
-- file (overlapping runs) keep each other's keys.
local function _locked(self, fn, ...)
  local path = self.state_file .. ".lock"
  local deadline = core.now_ms() + LOCK_WAIT_MS
  local lock, msg = core.lock_file(path)
  while lock == false do
    if core.now_ms() >= deadline then
      return nil, _state_error(self, "locked", ("%s is held by another run with this state file (another process, or a"
        .. " lock of this one) for more than %d ms; run again when it has finished"):format(path, LOCK_WAIT_MS))
    end
    _pause(LOCK_PAUSE_MS)
    lock, msg = core.lock_file(path)
  end
  if not lock then return nil, _state_error(self, "write", tostring(msg)) end
  local res, err = fn(self, ...)
  lock:unlock()
  return res, err
end

-- The state file, once a state could be saved (a missing folder or no
-- permission is found out before the walk asks for any page).
local function _read_probed(self)
  local all, err = _read_file(self)
  if not all then return nil, err end
  local ok, msg = core.can_replace(self.state_file)
  if not ok then return nil, _state_error(self, "write", msg) end
  return all
end

-- This key's state: a table, {} when there is none.
function Sync:_load()
  local st, where
  if self.store then
    where = "the store's value for " .. self.key
    local ok, text = pcall(self.store.get, self.store, self.key)
    if not ok then return nil, _state_error(self, "read", "store:get raised: " .. tostring(text)) end
    -- nil, false and ngx.null (lua-resty-redis) are all "never set"
    if type(text) ~= "string" then return {} end
    st = core.json_decode(text)
    -- a JSON array is no state, as in a state file
    if type(st) == "table" and st[1] ~= nil then st = nil end
  else
    where = self.state_file
    local all, err = _locked(self, _read_probed)
    if not all then return nil, err end
    st = all[self.key] or {}
  end
  if type(st) ~= "table" or (st.watermark ~= nil and not _ms(st.watermark))
    or (st.seen ~= nil and not _ms(st.seen)) or (st.started ~= nil and not _ms(st.started))
    or (st.resume ~= nil and type(st.resume) ~= "table") then
    return nil, _corrupt(self, where)
  end
  return st
end

-- The state file written whole (core.replace_file): a reader, or the next
-- run after a crash, finds the old text or the new one, never part of
-- either. Called holding the lock, so no other process's save comes
-- between this read and this write.
local function _write_file(self, st)
  local all, err = _read_file(self)
  if not all then return nil, err end
  all[self.key] = st
  -- A cursor is the server's bytes: kept as they came, as the decoder reads them back.
  local text, eerr = build.encode_json(all, nil, "state", true)
  if not text then return nil, _state_error(self, "write", eerr.message) end
  local ok, msg = core.replace_file(self.state_file, text)
  if not ok then return nil, _state_error(self, "write", msg) end
  return true
end

function Sync:_save(st)
  if self.before_save then
    -- What fn did must last before a save says it was done: a failure
    -- here (raised, or nil/false and a message, as file:flush() answers)
    -- saves nothing.
    local ok, res, msg = pcall(self.before_save)
    if not ok or (not res and msg ~= nil) then
      local why = ok and msg or res
      local text = (type(why) == "string" or type(why) == "number") and tostring(why)
        or ("it " .. (ok and "returned" or "raised") .. " a " .. type(why) .. " (err.cause)")
      local err = _state_error(self, "before_save", "before_save failed, so nothing was saved: " .. text)
      -- What it raised or answered, as it was, for the caller's own checks.
      err.cause = why
      return nil, err
    end
  end
  if not self.store then return _locked(self, _write_file, st) end
  local text, eerr = build.encode_json(st, nil, "state", true)
  if not text then return nil, _state_error(self, "write", eerr.message) end
  -- ngx.shared answers false, err and lua-resty-redis nil, err on failure.
  local ok, res, err = pcall(self.store.set, self.store, self.key, text)
  if not ok then return nil, _state_error(self, "write", "store:set raised: " .. tostring(res)) end
  if res == false or (res == nil and err ~= nil) then
    return nil, _state_error(self, "write", "store:set failed: " .. tostring(err))
  end
  return true
end

-- The next run's watermark: the largest changed_at the caller was given,
-- but never past the walk's start (a record changed while the walk ran may
-- sit behind its cursor, and its changed_at is after the start), and never
-- behind the previous watermark. Nothing given: the previous one.
local function _watermark(prev, seen, started)
  if not seen then return prev end
  local w, t = seen, _ms(seen)
  local s = _ms(started)
  if s and s < t then w, t = started, s end
  local p = _ms(prev)
  if p and p >= t then return prev end
  return w
end

-- The error that ends a run, told plainly when Kombo has no data yet.
local function _failed(err)
  if type(err) == "table" and err.code == "INTEGRATION.SETUP_SYNC_PENDING" then
    err.reason = "setup_sync_pending"
    err.message = "the integration's first sync has not finished, so there is nothing to sync yet; "
      .. "nothing was saved, run again later (" .. tostring(err.message) .. ")"
  end
  return err
end

-- When a walk that asked at local_ms got its first page, for the cap on
-- its watermark: changed_at is Kombo's time, so a local clock ahead of
-- Kombo's would put the cap past changes the walk never delivered. The
-- earlier of the local clock and the answer's Date, whose whole second
-- is the earliest the answer may have been made.
local function _started(local_ms, first)
  local headers = (meta.get(first) or {}).headers
  local date = type(headers) == "table" and headers.date
  local server_ms = type(date) == "string" and core.parse_http_date(date)
  return _iso(server_ms and server_ms < local_ms and server_ms or local_ms)
end

-- A walk from the watermark (the first run's: of everything) -> its first
-- page, request and state | nil, err.
function Sync:_walk_from(watermark)
  local params = {}
  for k, v in pairs(self.params) do params[k] = v end
  params.include_deleted = true
  if watermark then params.updated_after = _iso(_ms(watermark) - self.overlap_ms) end
  local req, err = self.prepare(self.op, params, self.call)
  if not req then return nil, err end
  local asked = core.time_ms()
  local first, ferr = page.first(self.client, self.op, req)
  if not first then return nil, _failed(ferr) end
  return first, req, { watermark = watermark, started = _started(asked, first) }
end

--- for item in sync:items() -- every item changed since the last completed
--- run (deleted ones with remote_deleted_at set); a failure raises the
--- error object out of the loop, as page:items() does.
function Sync:items()
  if getmetatable(self) ~= Sync then
    error(invalid("call", "a method call with a colon: sync:items(), not sync.items()"), 0)
  end
  local st, err = self:_load()
  if not st then error(err, 0) end
  local first, req
  if st.resume then
    req = self.prepare(self.op, { resume = st.resume }, self.call)
    if not req then error(_corrupt(self, self.state_file or ("the store's value for " .. self.key)), 0) end
    first, err = page.first(self.client, self.op, req)
    -- A resume point Kombo refuses (its cursor expired, say) would fail
    -- every run alike: the walk starts again from the watermark, where
    -- items may come twice but none is lost.
    if not first and type(err) == "table" and err.status == 400 then
      attempts.log(self.client, "warn", "sync resume refused, walking again from the watermark", {
        operation = self.op.name, status = err.status, code = err.code, watermark = st.watermark,
      })
      st = { watermark = st.watermark }
    elseif not first then
      error(_failed(err), 0)
    end
  end
  if not st.resume then
    first, req, st = self:_walk_from(st.watermark)
    if not first then error(req, 0) end
  end
  -- walk: the loop's closing value, which cancels the prefetch of a walk
  -- left early (Lua 5.4), as page:items()'s does.
  local pages, _, _, walk = first:pages()
  local results = pages().data.results
  local i, n, done = 0, #results, false
  local seen, seen_ms = st.seen, _ms(st.seen)
  local cursor = first.data.next
  first = nil -- luacheck: ignore 311 (not kept alive through the walk)
  return function()
    while true do
      if i < n then
        i = i + 1
        local item = results[i]
        local t = type(item) == "table" and _ms(item.changed_at)
        if t and (not seen_ms or t > seen_ms) then seen, seen_ms = item.changed_at, t end
        return item
      end
      if done then return nil end
      -- The caller has had every item of this page: a later run starts
      -- after it.
      results = nil
      if type(cursor) == "string" then
        local ok, serr = self:_save({ watermark = st.watermark, started = st.started, seen = seen,
          resume = build.resume(self.op, req.filters, cursor) })
        if not ok then error(serr, 0) end
      end
      local ok, p = pcall(pages)
      if not ok then error(_failed(p), 0) end
      if not p then
        done = true
        local saved, serr = self:_save({ watermark = _watermark(st.watermark, seen, st.started) })
        if not saved then error(serr, 0) end
        return nil
      end
      results, cursor = p.data.results, p.data.next
      i, n = 0, #results
    end
  end, nil, nil, walk
end

--- sync:run(fn) -> true | nil, err: fn(item) for each item of sync:items();
--- what the walk or fn raised is returned instead of raised.
function Sync:run(fn)
  if getmetatable(self) ~= Sync then
    return nil, invalid("call", "a method call with a colon: sync:run(fn), not sync.run(fn)")
  end
  if type(fn) ~= "function" then return nil, invalid("fn", "a function, called with each item", self.op.name) end
  local ok, err = pcall(function()
    for item in self:items() do fn(item) end
  end)
  if ok then return true end
  return nil, err
end

return _M
