-- kombo inside real nginx (nginx-light + the Lua module, one worker): calls
-- go over cosockets without blocking the worker, pages iterate, failures
-- are classified, and phases without cosockets say so.
local cjson = require("cjson").new()
local socket = require("socket")
local sandbox = require("support.sandbox")
local nginx = require("support.nginx")

-- Shared by every location: the sandbox's coordinates and small helpers.
local INIT = [[
  KOMBO = { url = %q, key = %q, id = %q }
  function KOMBO.client(extra)
    local o = { api_key = KOMBO.key, integration_id = KOMBO.id, server_url = KOMBO.url }
    for k, v in pairs(extra or {}) do o[k] = v end
    return assert(require("kombo").new(o))
  end
  function KOMBO.reply(t) ngx.say(require("cjson").encode(t)) end
  function KOMBO.failure(err)
    return { ok = false, kind = err.kind, reason = err.reason, message = err.message }
  end
  function KOMBO.self_url(prefix)
    return "http://127.0.0.1:" .. ngx.var.server_port .. prefix
  end
  -- The integration's places taken in the dict kombo (keys "kombo:<id>:<k>").
  function KOMBO.places()
    local prefix, n = "kombo:" .. KOMBO.id .. ":", 0
    for _, key in ipairs(ngx.shared.kombo:get_keys(0)) do
      if key:sub(1, #prefix) == prefix and key:sub(#prefix + 1):match("^%%d+$") then n = n + 1 end
    end
    return n
  end
]]

-- A tags answer as the API shapes it, for locations standing in for it.
local TAGS_JSON = [[{"status":"success","data":{"results":[{"id":"t1","name":"one"},{"id":"t2","name":"two"}]}}]]

local LOCATIONS = {}
LOCATIONS["/tags"] = [[
  local drivers = require("kombo.drivers")
  local c = KOMBO.client()
  local tags, err = c.ats:get_tags()
  if not tags then return KOMBO.reply(KOMBO.failure(err)) end
  local again = assert(c.ats:get_tags())
  KOMBO.reply({ ok = true, n = #tags.data.results, n2 = #again.data.results,
    ngx_driver = drivers.current() == require("kombo.drivers.ngx") })
]]
LOCATIONS["/agent"] = [[
  local c = KOMBO.client({ headers = { ["user-agent"] = "recruiting-bot/2" } })
  local tags, err = c.ats:get_tags()
  if not tags then return KOMBO.reply(KOMBO.failure(err)) end
  -- an empty value: no User-Agent at all
  tags, err = c.ats:get_tags(nil, { headers = { ["user-agent"] = "" } })
  KOMBO.reply(tags and { ok = true } or KOMBO.failure(err))
]]
LOCATIONS["/pages"] = [[
  local c = KOMBO.client()
  local first, err = c.ats:get_applications({ page_size = 100 })
  if not first then return KOMBO.reply(KOMBO.failure(err)) end
  local pages, items, ids = 0, 0, {}
  for page in first:pages() do
    pages = pages + 1
    for _, a in ipairs(page.data.results) do
      items = items + 1
      ids[a.id] = true
    end
  end
  local distinct = 0
  for _ in pairs(ids) do distinct = distinct + 1 end
  KOMBO.reply({ ok = true, pages = pages, items = items, distinct = distinct })
]]
LOCATIONS["/slow"] = [[
  local t0 = ngx.now()
  local tags, err = KOMBO.client({ retries = { strategy = "none" } }).ats:get_tags()
  ngx.update_time()
  if not tags then return KOMBO.reply(KOMBO.failure(err)) end
  KOMBO.reply({ ok = true, took = ngx.now() - t0 })
]]
LOCATIONS["/refused"] = [[
  local c = KOMBO.client({ server_url = "http://127.0.0.1:" .. ngx.var.arg_port .. "/v1",
    retries = { strategy = "none" } })
  local tags, err = c.ats:get_tags()
  KOMBO.reply(tags and { ok = true } or KOMBO.failure(err))
]]
LOCATIONS["/timeout"] = [[
  local c = KOMBO.client({ timeout_ms = 300, retries = { strategy = "none" } })
  local tags, err = c.ats:get_tags()
  KOMBO.reply(tags and { ok = true } or KOMBO.failure(err))
]]
LOCATIONS["/too_large"] = [[
  local c = KOMBO.client({ max_response_bytes = 64, retries = { strategy = "none" } })
  local tags, err = c.ats:get_tags()
  KOMBO.reply(tags and { ok = true } or KOMBO.failure(err))
]]
LOCATIONS["/via_chunked"] = [[
  local c = KOMBO.client({ server_url = KOMBO.self_url("/chunked/v1") })
  local tags, err = c.ats:get_tags()
  if not tags then return KOMBO.reply(KOMBO.failure(err)) end
  KOMBO.reply({ ok = true, n = #tags.data.results })
]]
LOCATIONS["/via_close"] = [[
  local c = KOMBO.client({ server_url = KOMBO.self_url("/close/v1") })
  local tags, err = c.ats:get_tags()
  if not tags then return KOMBO.reply(KOMBO.failure(err)) end
  local m = require("kombo").meta(tags)
  KOMBO.reply({ ok = true, n = #tags.data.results, connection = m.headers.connection })
]]
-- The tags in two flushes: chunked, or (with `extra` turning chunking
-- off) delimited by closing the connection.
local function split_tags(extra)
  return { raw = string.format([[
      default_type application/json;%s
      content_by_lua_block {
        local body = %q
        ngx.print(body:sub(1, 20))
        ngx.flush(true)
        ngx.print(body:sub(21))
      }]], extra, TAGS_JSON) }
end
-- An answer written raw on the connection (`how` picks which), then
-- closed: what no well-behaved server sends.
local BROKEN_ANSWERS = {
  chunk_size = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
  chunk_ext = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\nabc\r\n0\r\n\r\n",
  negative_length = "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n{}",
  -- not broken: one length listed twice, as HTTP allows
  repeated_length = (function()
    local body = '{"status":"success","data":{"next":null,"results":[]}}'
    return ("HTTP/1.1 200 OK\r\nContent-Length: %d, %d\r\n\r\n%s"):format(#body, #body, body)
  end)(),
}
LOCATIONS["/broken/v1/ats/tags"] = { raw = ([[
      content_by_lua_block {
        local answers = %s
        local sock = assert(ngx.req.socket(true))
        sock:send(answers[ngx.var.http_x_how] or "")
        ngx.sleep(0.05)
        ngx.exit(444)
      }]]):format((function()
  local parts = {}
  -- single-quoted, escapes spelled out: nginx reads a Lua block's braces
  -- and quotes itself, and an escaped double quote confuses it
  for k, v in pairs(BROKEN_ANSWERS) do
    parts[#parts + 1] = ("%s = '%s'"):format(k, (v:gsub("\r", "\\r"):gsub("\n", "\\n")))
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end)()) }
LOCATIONS["/broken"] = [[
  local c = KOMBO.client({ server_url = KOMBO.self_url("/broken/v1"), retries = { strategy = "none" } })
  local ok, tags, err = pcall(c.ats.get_tags, c.ats, nil, { headers = { ["X-How"] = ngx.var.arg_how } })
  KOMBO.reply(ok and (tags and { ok = true } or KOMBO.failure(err)) or { raised = tostring(tags) })
]]
LOCATIONS["/hostile"] = [[
  KOMBO.reply(require("support.hostile").call("http://127.0.0.1:" .. ngx.var.arg_port .. "/v1"))
]]
LOCATIONS["/chunked/v1/ats/tags"] = split_tags("")
LOCATIONS["/close/v1/ats/tags"] = split_tags("\n      chunked_transfer_encoding off;")
LOCATIONS["/tls"] = [[
  local c = KOMBO.client({ server_url = "https://127.0.0.1:" .. ngx.var.arg_port .. "/tls/v1",
    verify_tls = ngx.var.arg_verify ~= "0", retries = { strategy = "none" } })
  local tags, err = c.ats:get_tags()
  if not tags then return KOMBO.reply(KOMBO.failure(err)) end
  KOMBO.reply({ ok = true, n = #tags.data.results })
]]
LOCATIONS["/dns"] = [[
  local c = KOMBO.client({ server_url = "https://kombo.invalid/v1", retries = { strategy = "none" } })
  local tags, err = c.ats:get_tags()
  KOMBO.reply(tags and { ok = true } or KOMBO.failure(err))
]]
LOCATIONS["/parity"] = [[
  local c = KOMBO.client({ retries = { strategy = "none" }, timeout_ms = 600,
    max_response_bytes = tonumber(ngx.var.arg_max) })
  assert(c.ats:get_users({ page_size = 1 }))
  local tags, err = c.ats:get_tags()
  if tags then return KOMBO.reply({ ok = true, n = #tags.data.results }) end
  local r = KOMBO.failure(err)
  r.status = err.status
  KOMBO.reply(r)
]]
LOCATIONS["/write"] = [[
  local c = KOMBO.client()
  local cand = assert(c.ats:get_candidates({ page_size = 1 })).data.results[1]
  local added, aerr = c.ats:add_candidate_tag({ candidate_id = cand.id, body = { tag = { name = "Überflieger" } } })
  if not added then return KOMBO.reply(KOMBO.failure(aerr)) end
  local removed, rerr = c.ats:remove_candidate_tag({ candidate_id = cand.id,
    body = { tag = { name = "Überflieger" } } })
  if not removed then return KOMBO.reply(KOMBO.failure(rerr)) end
  KOMBO.reply({ ok = true, id = cand.id })
]]
LOCATIONS["/repeated"] = [[
  local c = KOMBO.client({ retries = { strategy = "none" } })
  ngx.update_time()
  local t0 = ngx.now()
  local tags, err = c.ats:get_tags()
  ngx.update_time()
  if not tags then return KOMBO.reply(KOMBO.failure(err)) end
  local value = require("kombo").meta(tags).headers.r
  local parts = 0
  for _ in value:gmatch("[^,]+") do parts = parts + 1 end
  KOMBO.reply({ ok = true, took = ngx.now() - t0, parts = parts, head = value:sub(1, 10) })
]]
LOCATIONS["/read_write_read"] = [[
  local c = KOMBO.client({ retries = { strategy = "none" } })
  assert(c.ats:get_tags())
  local cand = assert(c.ats:get_candidates({ page_size = 1 })).data.results[1]
  local added, err = c.ats:add_candidate_tag({ candidate_id = cand.id, body = { tag = { name = "pooled" } } })
  if not added then return KOMBO.reply(KOMBO.failure(err)) end
  assert(c.ats:get_tags())
  KOMBO.reply({ ok = true })
]]
local TLS_LOCATIONS = {
  ["/tls/v1/ats/tags"] = ("ngx.print(%q)"):format(TAGS_JSON),
}
LOCATIONS["/phase"] = { raw = [[
      default_type text/plain;
      content_by_lua_block { ngx.say("body") }
      header_filter_by_lua_block {
        local kombo = require("kombo")
        local tags, err = KOMBO.client().ats:get_tags()
        local _, spawned = kombo.spawn(function() end):wait()
        local ran, run_errors = kombo.run()
        local mapped, map_err = kombo.map({ 1 }, function() return 1 end)
        ngx.header["X-Kombo-Mapped"] = tostring(mapped) .. " " .. map_err.field
        ngx.header["X-Kombo-Ok"] = tostring(tags ~= nil)
        ngx.header["X-Kombo-Error"] = err.kind .. " " .. err.field .. " " .. tostring(err):gsub("[\r\n]", " ")
        ngx.header["X-Kombo-Spawned"] = spawned.field .. " " .. spawned.message
        ngx.header["X-Kombo-Ran"] = tostring(ran) .. " " .. run_errors[1].field
      }]] }
-- Where the code can yield, by compat.yieldable, in each kind of place a
-- request handler reaches.
LOCATIONS["/yieldable"] = [[
  local yieldable = require("kombo.compat").yieldable
  local out = { handler = yieldable(), in_pcall = select(2, pcall(yieldable)),
    in_xpcall = select(2, xpcall(yieldable, debug.traceback)) }
  local p = newproxy(true)
  getmetatable(p).__gc = function() out.finalizer = yieldable() end
  p = nil -- luacheck: ignore 311
  collectgarbage()
  table.sort({ 3, 1, 2 }, function(a, b)
    if out.sort == nil then out.sort = yieldable() end
    return a < b
  end)
  -- (count hooks do not fire in compiled code)
  local function spin() for i = 1, 500 do out.n = i end end
  jit.off(spin)
  debug.sethook(function() if out.hook == nil then out.hook = yieldable() end end, "", 50)
  spin()
  debug.sethook()
  ngx.thread.wait(ngx.thread.spawn(function() out.light_thread = yieldable() end))
  local co = coroutine.create(function() out.coroutine = yieldable() end)
  coroutine.resume(co)
  out.after = yieldable()
  KOMBO.reply(out)
]]
-- Finalizers calling the SDK while a walk of the same client has its next
-- page in flight on a cosocket; one of them walks every page itself. A
-- debug hook and table.sort's comparator call it too.
LOCATIONS["/finalizer"] = [[
  local kombo = require("kombo")
  local c, other = KOMBO.client(), KOMBO.client()
  local inner = {}
  local function arm()
    local p = newproxy(true)
    getmetatable(p).__gc = function()
      local tags, err = c.ats:get_tags()
      local users = other.ats:get_users()
      local walked, werr = 0, nil
      local ok, e = pcall(function()
        for _ in assert(other.ats:get_applications({ page_size = 250 })):items() do walked = walked + 1 end
      end)
      if not ok then werr = tostring(e) end
      -- Refused, not raised: a raise here, even one a pcall catches, can
      -- corrupt the request's coroutines in OpenResty's LuaJIT.
      local _, spawned = kombo.spawn(function() end):wait()
      local _, waited = KOMBO.pending:wait()
      local ran, run_errors = kombo.run()
      local mapped, map_err = kombo.map({ 1 }, function() return 1 end)
      inner[#inner + 1] = { tags = tags and #tags.data.results, err = err and tostring(err),
        users = users and #users.data.results, walked = walked, walk_err = werr, spawned = tostring(spawned),
        waited = tostring(waited), ran = tostring(ran), run_error = run_errors and tostring(run_errors[1]),
        run_tasks = run_errors and #run_errors.tasks, mapped = tostring(mapped), map_error = tostring(map_err) }
    end
  end
  -- a task the finalizers find running, and cannot wait for
  KOMBO.pending = kombo.spawn(function() ngx.sleep(60) end)
  local walked, first = 0, assert(c.ats:get_applications({ page_size = 50 }))
  for _ in first:items() do
    walked = walked + 1
    if walked % 200 == 0 then arm(); collectgarbage() end
  end
  -- A walk begun here, its next pages in flight on cosockets, finished by
  -- a finalizer: by items(), and by page:next().
  local begun = assert(other.ats:get_applications({ page_size = 250 }))
  local rest, second = begun:items(), assert(begun:next())
  local continued, third = 0, nil
  rest()
  local p = newproxy(true)
  local late
  getmetatable(p).__gc = function()
    for _ in rest do continued = continued + 1 end
    third = second:next()
    late = assert(other.ats:get_applications({ page_size = 250 })):items()
  end
  p = nil -- luacheck: ignore 311
  collectgarbage()
  -- and a walk a finalizer began, finished here
  local finished = 0
  for _ in late do finished = finished + 1 end
  local sorted
  table.sort({ 3, 1, 2 }, function(a, b)
    if sorted == nil then local t = c.ats:get_tags(); sorted = t and #t.data.results or false end
    return a < b
  end)
  local hooked
  debug.sethook(function()
    if hooked == nil then hooked = false; local t = c.ats:get_jobs(); hooked = t and #t.data.results or false end
  end, "", 50)
  local function spin() for i = 1, 500 do walked = walked + 0 * i end end
  jit.off(spin)
  spin()
  debug.sethook()
  local after = assert(c.ats:get_tags())
  ngx.thread.kill(KOMBO.pending.co)
  KOMBO.reply({ walked = walked, inner = inner, sorted = sorted, hooked = hooked, after = #after.data.results,
    continued = continued, third = third and #third.data.results, finished = finished })
]]
-- A finalizer's write while every place in the shared dict is held (by a
-- worker that crashed, say): it cannot wait for one without holding up the
-- whole worker, so it goes over the cap at once.
LOCATIONS["/dict_finalizer"] = [[
  local dict = ngx.shared.kombo
  local prefix = "kombo:" .. KOMBO.id .. ":"
  for k = 1, 2 do dict:set(prefix .. k, "crashed worker", 30) end
  local c = KOMBO.client({ shared_dict = "kombo", max_in_flight_writes = 2 })
  local app = assert(c.ats:get_applications({ page_size = 1 })).data.results[1].id
  local out = {}
  local p = newproxy(true)
  getmetatable(p).__gc = function()
    local r, err = c.ats:add_application_note({ application_id = app,
      body = { content = "from a finalizer", content_type = "PLAIN_TEXT" } })
    out.status, out.err = r and r.status, err and tostring(err)
  end
  p = nil -- luacheck: ignore 311
  collectgarbage()
  out.held = { dict:get(prefix .. 1), dict:get(prefix .. 2) }
  out.tickets = dict:get(prefix .. "tickets")
  for k = 1, 2 do dict:delete(prefix .. k) end
  KOMBO.reply(out)
]]
-- A finalizer's write while a light thread's write holds the worker's one
-- place: it goes over the cap rather than block the worker on it.
LOCATIONS["/local_finalizer"] = [[
  local kombo = require("kombo")
  local c = KOMBO.client({ max_in_flight_writes = 1 })
  local app = assert(c.ats:get_applications({ page_size = 1 })).data.results[1].id
  local function note(text)
    return c.ats:add_application_note({ application_id = app, body = { content = text, content_type = "PLAIN_TEXT" } })
  end
  local held = kombo.spawn(function() return note("held") end)
  ngx.sleep(0.05)
  local out = {}
  local p = newproxy(true)
  getmetatable(p).__gc = function()
    local r, err = note("from a finalizer")
    out.status, out.err = r and r.status, err and tostring(err)
  end
  p = nil -- luacheck: ignore 311
  collectgarbage()
  local r = held:wait()
  out.held = r and r.status
  KOMBO.reply(out)
]]
LOCATIONS["/timer"] = [[
  local result
  local ok, terr = ngx.timer.at(0, function(premature)
    if premature then return end
    local tags, err = KOMBO.client().ats:get_tags()
    result = tags and { ok = true, n = #tags.data.results, phase = ngx.get_phase() } or KOMBO.failure(err)
  end)
  if not ok then return KOMBO.reply({ ok = false, message = terr }) end
  for _ = 1, 500 do
    if result then break end
    ngx.sleep(0.01)
  end
  KOMBO.reply(result or { ok = false, message = "timer did not finish" })
]]
LOCATIONS["/spawn"] = [[
  local drivers = require("kombo.drivers")
  local c = KOMBO.client({ retries = { strategy = "none" } })
  local counts = {}
  for i = 1, 3 do
    drivers.spawn(function()
      local tags = assert(c.ats:get_tags())
      counts[i] = #tags.data.results
    end)
  end
  ngx.update_time()
  local t0 = ngx.now()
  assert(drivers.run())
  ngx.update_time()
  local took = ngx.now() - t0
  local first = drivers.spawn(function() error("task failed on purpose") end)
  local fourth = drivers.spawn(function()
    counts[4] = #assert(c.ats:get_tags()).data.results
    return counts[4], "more"
  end)
  -- A thread that did not spawn `fourth` waits for it too.
  local other = drivers.spawn(function() return fourth:wait() end)
  drivers.spawn(function() error("and so did this one") end)
  local ran, failures = drivers.run()
  local n, more = fourth:wait()
  local other_n, other_more = other:wait()
  local none, err = first:wait()
  KOMBO.reply({ ok = true, counts = counts, took = took,
    ran = ran, failures = { tostring(failures[1]), tostring(failures[2]) }, nfailures = #failures,
    first_is_task_1 = failures.tasks[1] == first, waited = { n, more, other_n, other_more },
    failed_wait = { none == nil, err == failures[1] } })
]]

-- kombo.map's writes in a request: every note added, in order, under the
-- client's max_in_flight_writes (the place count is the worker's).
LOCATIONS["/map_writes"] = [[
  local kombo = require("kombo")
  local c = KOMBO.client({ max_in_flight_writes = 4 })
  local app = assert(c.ats:get_applications({ page_size = 1 })).data.results[1].id
  local list = {}
  for i = 1, tonumber(ngx.var.arg_n) do list[i] = "note " .. i end
  local results, errs = kombo.map(list, function(text)
    local r, err = c.ats:add_application_note({ application_id = app,
      body = { content = text, content_type = "PLAIN_TEXT" } })
    return r and r.status, err
  end, { concurrency = 20 })
  KOMBO.reply({ ok = results ~= nil, n = results and #results, status = results and results[1],
    err = errs and tostring(next(errs) and errs[next(errs)]) })
]]
-- Writes counted across workers in a lua_shared_dict: `held` places are
-- another worker's leases (expiring after `ttl` seconds), and with `stale`
-- a write killed while waiting its turn left its ticket marked (for
-- `stale` seconds); then n writes go. `took`: from then to their end.
LOCATIONS["/dict_writes"] = [[
  local kombo = require("kombo")
  local dict = ngx.shared.kombo
  local prefix = "kombo:" .. KOMBO.id .. ":"
  for k = 1, tonumber(ngx.var.arg_held) do
    dict:set(prefix .. k, "crashed worker", tonumber(ngx.var.arg_ttl))
  end
  ngx.update_time()
  local t0 = ngx.now()
  local stale, ticket = tonumber(ngx.var.arg_stale), nil
  if stale then
    ticket = dict:incr(prefix .. "tickets", 1, 0)
    dict:set(prefix .. "waiting:" .. ticket, true, stale)
  end
  ngx.sleep(tonumber(ngx.var.arg_pause or 0))
  local c = KOMBO.client({ shared_dict = "kombo" })
  local app = assert(c.ats:get_applications({ page_size = 1 })).data.results[1].id
  local list = {}
  for i = 1, tonumber(ngx.var.arg_n) do list[i] = i end
  local results, errs = kombo.map(list, function(i)
    local r, err = c.ats:add_application_note({ application_id = app,
      body = { content = "note " .. i, content_type = "PLAIN_TEXT" } })
    return r and r.status, err
  end)
  ngx.update_time()
  local bad, bad_err = kombo.new({ api_key = "k", shared_dict = "nope" })
  KOMBO.reply({ ok = results ~= nil, n = results and #results, keys = KOMBO.places(), took = ngx.now() - t0,
    behind = ticket and dict:get(prefix .. "tickets") - ticket,
    marked = ticket and dict:get(prefix .. "waiting:" .. ticket),
    err = errs and tostring(errs[next(errs)]), bad = bad == nil and bad_err.field .. ": " .. bad_err.message })
]]
-- A light thread killed while its write holds the only place: the next
-- write of the same request gets the place back, rather than wait forever.
LOCATIONS["/killed_write"] = [[
  local kombo = require("kombo")
  local c = KOMBO.client({ max_in_flight_writes = 1, retries = { strategy = "none" } })
  local app = assert(c.ats:get_applications({ page_size = 1 })).data.results[1].id
  local function note()
    return c.ats:add_application_note({ application_id = app, body = { content = "x", content_type = "PLAIN_TEXT" } })
  end
  local task = kombo.spawn(note)
  ngx.sleep(0.05)
  assert(ngx.thread.kill(task.co))
  local r, err = note()
  KOMBO.reply({ ok = r ~= nil, err = err and tostring(err), status = r and r.status,
    active = require("kombo.governor").state(KOMBO.id).active })
]]
-- A light thread killed while it waits for the only place, whose holder
-- lives on after its write: the place goes to the next waiter, not to the
-- dead one (which would keep it until the holder's thread ended).
LOCATIONS["/killed_waiter"] = [[
  local c = KOMBO.client({ max_in_flight_writes = 1, retries = { strategy = "none" } })
  local app = assert(c.ats:get_applications({ page_size = 1 })).data.results[1].id
  local function note(text)
    return c.ats:add_application_note({ application_id = app, body = { content = text, content_type = "PLAIN_TEXT" } })
  end
  local holder = ngx.thread.spawn(function()
    local r = note("holder")
    ngx.sleep(1.5)
    c.ats:get_tags({ page_size = 1 }) -- the marker: the holder's thread ends after it
    return r ~= nil
  end)
  ngx.sleep(0.05)
  local waiter = ngx.thread.spawn(function() return note("killed") end)
  ngx.sleep(0.05)
  assert(ngx.thread.kill(waiter))
  local next_one = ngx.thread.spawn(function() return note("next") ~= nil end)
  local _, held = ngx.thread.wait(holder)
  local _, wrote = ngx.thread.wait(next_one)
  KOMBO.reply({ held = held, wrote = wrote })
]]
-- A request that ends while its walk waits for a page (ngx.exit): nothing
-- of the walk may stay reachable once it is gone, its client included.
LOCATIONS["/walk_exit"] = [[
  WALKED = WALKED or setmetatable({}, { __mode = "k" })
  local c = KOMBO.client({ prefetch = ngx.var.arg_prefetch == "1" })
  WALKED[c] = true
  ngx.thread.spawn(function()
    for _ in assert(c.ats:get_tags({ page_size = 1 })):items() do end
  end)
  ngx.sleep(0.45) -- page 1 came at 0.3 s; the walk waits for page 2
  ngx.exit(200)
]]
LOCATIONS["/walked_left"] = [[
  collectgarbage()
  collectgarbage()
  local n = 0
  for _ in pairs(WALKED or {}) do n = n + 1 end
  KOMBO.reply({ left = n })
]]
-- A page kept past its request (in a global) and gone on with in another:
-- the page fetched ahead belongs to the first request's socket and
-- coroutine, so the second fetches it again.
LOCATIONS["/keep"] = [[
  local c = KOMBO.client()
  KEPT = assert(assert(c.ats:get_applications({ page_size = 5 })):next())
  KEPT_ITEMS = assert(c.ats:get_applications({ page_size = 5 })):items()
  KEPT_ITEMS()
  KOMBO.reply({ ok = true })
]]
LOCATIONS["/cont"] = [[
  local ok, p, err = pcall(KEPT.next, KEPT)
  local iok, item = pcall(KEPT_ITEMS)
  KOMBO.reply({ ok = ok and p ~= nil, n = ok and p and #p.data.results,
    err = not ok and tostring(p) or err and tostring(err),
    item = iok and type(item) == "table", item_err = not iok and tostring(item) or nil })
]]
-- A walk in the log phase, where nginx refuses cosockets and coroutines.
LOCATIONS["/log_walk"] = { raw = [[
      content_by_lua_block {
        ngx.ctx.first = assert(KOMBO.client().ats:get_applications({ page_size = 5 }))
        ngx.say("ok")
      }
      log_by_lua_block {
        local n = 0
        local ok, err = pcall(function() for _ in ngx.ctx.first:items() do n = n + 1 end end)
        LOG_WALK = { ok = ok, n = n, err = tostring(err) }
      }]] }
LOCATIONS["/log_walked"] = [[ KOMBO.reply(LOG_WALK or {}) ]]
-- Two requests of the worker at once (subrequests), each mapping writes.
LOCATIONS["/map_writes_twice"] = [[
  local twelve = { "/map_writes", { args = "n=12" } }
  local a, b = ngx.location.capture_multi({ twelve, twelve })
  ngx.print("[", a.body, ",", b.body, "]")
]]

-- For the describe block it is called in: a sandbox and nginx started
-- with `opts` (INIT pointing at the sandbox) and given to started(sandbox,
-- server), stopped at the end, the sandbox reset before each case.
local function serve(opts, started)
  local sb, server
  setup(function()
    sb = sandbox.start()
    opts.init = INIT:format(sb.url, sb.api_key, sb.integration_id)
    server = nginx.start(opts)
    started(sb, server)
  end)
  teardown(function()
    if server then server:stop() end
    if sb then sb:stop() end
  end)
  before_each(function() sb:reset() end)
end

-- GET path from nginx, which must answer 200 with a JSON object.
local function json_from(server, path)
  local status, body = server:get(path)
  assert.equal(200, status, body .. "\n" .. server:log():sub(-3000))
  local v = cjson.decode(body)
  assert(type(v) == "table", body)
  return v
end

describe("inside nginx (cosockets)", function()
  local sb, server
  serve({ http = "lua_shared_dict kombo 1m;", locations = LOCATIONS, tls_locations = TLS_LOCATIONS },
    function(s, n) sb, server = s, n end)

  local function get_json(path) return json_from(server, path) end

  it("calls an operation with the ngx driver over a kept-alive connection", function()
    local r = get_json("/tags")
    assert.is_true(r.ok, r.message)
    assert.is_true(r.ngx_driver)
    local _, want = sb:request("GET", "/ats/tags")
    assert.equal(#want.data.results, r.n)
    assert.equal(r.n, r.n2)
    local reqs = sb:requests(function(q)
      return q.path == "/v1/ats/tags" and (q.headers["user-agent"] or ""):match("^kombo%-lua/") ~= nil
    end)
    assert.equal(2, #reqs)
    assert.equal(reqs[1].connection, reqs[2].connection)
    local h = reqs[1].headers
    assert.equal("Bearer " .. sb.api_key, h.authorization)
    assert.equal("application/json", h.accept)
    assert.matches("^127%.0%.0%.1:%d+$", h.host)
    assert.is_nil(h["accept-encoding"])
    assert.is_nil(h.expect)
  end)

  it("sends a User-Agent given in headers instead of its own, once, and none for an empty one", function()
    local r = get_json("/agent")
    assert.is_true(r.ok, r.message)
    local reqs = sb:requests(function(q) return q.path == "/v1/ats/tags" end)
    assert.equal("recruiting-bot/2", reqs[#reqs - 1].headers["user-agent"])
    assert.is_nil(reqs[#reqs].headers["user-agent"])
  end)

  it("sends JSON bodies with POST and DELETE", function()
    local r = get_json("/write")
    assert.is_true(r.ok, r.message)
    local writes = sb:requests(function(q) return q.method ~= "GET" end)
    assert.equal(2, #writes)
    local body = '{"tag":{"name":"Überflieger"}}'
    for i, method in ipairs({ "POST", "DELETE" }) do
      local q = writes[i]
      assert.equal(method, q.method)
      assert.equal("/v1/ats/candidates/" .. r.id .. "/tags", q.path)
      assert.equal(body, q.body)
      assert.equal("application/json", q.headers["content-type"])
      assert.equal(tostring(#body), q.headers["content-length"])
      assert.is_nil(q.headers.expect)
    end
  end)

  it("iterates every page of get_applications", function()
    local r = get_json("/pages")
    assert.is_true(r.ok, r.message)
    -- What the blocking driver sees in plain Lua is the reference.
    local c = sb:client()
    local total, pages = 0, 0
    for p in assert(c.ats:get_applications({ page_size = 100 })):pages() do
      total, pages = total + #p.data.results, pages + 1
    end
    c:close()
    assert.is_true(pages > 3, "want several pages, have " .. pages)
    assert.equal(total, r.items)
    assert.equal(total, r.distinct)
    assert.equal(pages, r.pages)
  end)

  it("serves two requests whose upstream call takes 1 s in about 1 s, not 2", function()
    sb:fault({ path = "/v1/ats/tags", delay_ms = 1000, times = -1 })
    local t0 = socket.gettime()
    local a, b = server:send("/slow"), server:send("/slow")
    local sa, ba = server:receive(a)
    local sb2, bb = server:receive(b)
    local took = socket.gettime() - t0
    assert.equal(200, sa)
    assert.equal(200, sb2)
    local ra, rb = cjson.decode(ba), cjson.decode(bb)
    assert.is_true(ra.ok and rb.ok, ba .. bb)
    assert.is_true(ra.took >= 0.95 and rb.took >= 0.95, ba .. bb)
    assert.is_true(took >= 0.95, "both took " .. took .. " s")
    -- both upstream calls were at the sandbox before either was answered
    local reqs = sb:requests()
    assert.is_true(reqs[#reqs].at_ms < reqs[#reqs - 1].done_ms, "the two calls did not overlap")
  end)

  it("classifies a refused connection", function()
    local r = get_json("/refused?port=" .. sandbox.free_port())
    assert.is_false(r.ok)
    assert.equal("connection", r.kind)
    assert.equal("refused", r.reason)
  end)

  it("verifies TLS against lua_ssl_trusted_certificate", function()
    local r = get_json("/tls?port=" .. server.tls_port)
    assert.is_true(r.ok, r.message)
    assert.equal(2, r.n)
  end)

  it("fails TLS for a certificate of another name unless verify_tls is false", function()
    local r = get_json("/tls?port=" .. server.tls_port_wrong_name)
    assert.is_false(r.ok)
    assert.equal("connection", r.kind)
    assert.equal("certificate", r.reason)
    assert.matches("certificate", r.message)
    r = get_json("/tls?verify=0&port=" .. server.tls_port_wrong_name)
    assert.is_true(r.ok, r.message)
    assert.equal(2, r.n)
  end)

  it("classifies a name nginx cannot resolve", function()
    local r = get_json("/dns")
    assert.is_false(r.ok)
    assert.equal("connection", r.kind)
    assert.equal("dns", r.reason)
  end)

  -- Each broken answer the sandbox can give, seen through both drivers, on
  -- a kept-alive connection (a reset there before any answer looks like a
  -- connection the server closed while idle: both drivers send again on a
  -- fresh one).
  local PARITY = {
    { action = "reset_before_response" }, { action = "drop_mid_body" }, { action = "short_body" },
    { action = "truncated_json" }, { action = "non_json" }, { action = "html_502" }, { action = "empty_200" },
    { action = "json_not_object" }, { action = "invalid_utf8" }, { action = "redirect", location = "/elsewhere" },
    { action = "huge_body", size_bytes = 200000, max = 100000 }, { action = "huge_body", size_bytes = 50000 },
    { action = "trickle", chunk_bytes = 200, interval_ms = 10 }, { action = "no_headers" },
    -- a byte every 100 ms: each read sees one, the whole takes minutes;
    -- timeout_ms bounds the attempt, not the gap between two bytes
    { action = "trickle", chunk_bytes = 1, interval_ms = 100 },
    { status = 429, headers = { ["Retry-After"] = "1" } }, { status = 500 },
  }
  for _, case in ipairs(PARITY) do
    local name = case.action or ("status " .. case.status)
    if case.size_bytes then name = name .. " " .. case.size_bytes .. (case.max and " over the limit" or "") end
    if case.chunk_bytes then name = name .. " " .. case.chunk_bytes .. " bytes a time" end
    it("sees " .. name .. " as the libcurl driver does", function()
      local rule = { path = "/v1/ats/tags" }
      for k, v in pairs(case) do if k ~= "max" then rule[k] = v end end
      local function sends()
        local n = 0
        for _, q in ipairs(sb:requests()) do if q.path == "/v1/ats/tags" then n = n + 1 end end
        sb:clear_requests()
        return n
      end
      sb:clear_requests()
      sb:fault(rule)
      local r = get_json("/parity" .. (case.max and ("?max=" .. case.max) or ""))
      local ngx_sends = sends()
      sb:clear_faults()
      sb:fault(rule)
      local c = sb:client({ retries = { strategy = "none" }, timeout_ms = 600, max_response_bytes = case.max })
      assert(c.ats:get_users({ page_size = 1 }))
      local tags, err = c.ats:get_tags()
      c:close()
      local want = tags and { ok = true, n = #tags.data.results }
        or { ok = false, kind = err.kind, reason = err.reason, status = err.status }
      assert.same(want, { ok = r.ok, n = r.n, kind = r.kind, reason = r.reason, status = r.status })
      assert.equal(sends(), ngx_sends)
    end)
  end

  it("times out by timeout_ms", function()
    sb:fault({ path = "/v1/ats/tags", delay_ms = 2000 })
    local r = get_json("/timeout")
    assert.is_false(r.ok)
    assert.equal("timeout", r.kind)
    assert.equal("timeout", r.reason)
    -- one attempt, ended by the timeout rather than by the 2 s answer
    assert.equal(1, #sb:requests())
  end)

  it("joins 30,000 repeated response headers in one pass", function()
    -- 6 bytes a line: just under the 200 KB bound on the header blocks.
    -- The fastest of three runs of each: a busy machine slows single runs.
    local function fastest(count)
      local best
      for _ = 1, 3 do
        sb:fault({ path = "/v1/ats/tags", action = "repeated_header", header = "R", value = "x", count = count })
        local r = get_json("/repeated")
        assert.is_true(r.ok, r.message)
        if not best or r.took < best.took then best = r end
      end
      return best
    end
    local small, r = fastest(3000), fastest(30000)
    assert.equal(30000, r.parts)
    assert.equal("x, x, x, x", r.head)
    -- Ten times the headers: joining once costs about ten times as much,
    -- joining as they came (copying the value so far each time) a hundred.
    assert.is_true(r.took < 40 * math.max(small.took, 0.002),
      ("%.3f s for 30,000 against %.3f s for 3,000"):format(r.took, small.took))
  end)

  -- A location that must fail with kind decode, reason too_large.
  local function assert_too_large(path)
    local r = get_json(path)
    assert.is_false(r.ok)
    assert.equal("decode", r.kind)
    assert.equal("too_large", r.reason)
  end

  it("refuses header blocks over 200 KB as too_large", function()
    sb:fault({ path = "/v1/ats/tags", action = "repeated_header", header = "R", value = "x", count = 60000 })
    assert_too_large("/repeated")
  end)

  it("sends a write on a connection of its own and keeps the reads' pooled one", function()
    local r = get_json("/read_write_read")
    assert.is_true(r.ok, r.message)
    local conns = {}
    for i, q in ipairs(sb:requests(function(q) return q.path == "/v1/ats/tags" or q.method == "POST" end)) do
      conns[i] = q.connection
    end
    assert.equal(3, #conns)
    assert.are_not.equal(conns[1], conns[2])
    -- The pool hands back its most recent socket: the write's was not put there.
    assert.equal(conns[1], conns[3])
  end)

  it("refuses a body over max_response_bytes", function()
    assert_too_large("/too_large")
  end)

  it("reads chunked bodies", function()
    local r = get_json("/via_chunked")
    assert.is_true(r.ok, r.message)
    assert.equal(2, r.n)
  end)

  it("reads bodies delimited by the server closing the connection", function()
    local r = get_json("/via_close")
    assert.is_true(r.ok, r.message)
    assert.equal(2, r.n)
    assert.equal("close", r.connection)
  end)

  it("names the phase and suggests ngx.timer.at where cosockets are disabled", function()
    local status, body, headers = server:get("/phase")
    assert.equal(200, status)
    assert.equal("body\n", body)
    assert.equal("false", headers["x-kombo-ok"])
    assert.matches("^invalid_request phase kombo: invalid request in get_tags: phase: ", headers["x-kombo-error"])
    assert.matches("an HTTP call is not possible in nginx's header_filter phase", headers["x-kombo-error"], 1, true)
    assert.matches("ngx.timer.at", headers["x-kombo-error"], 1, true)
    assert.matches("^phase .*kombo.spawn is not possible in nginx's header_filter phase", headers["x-kombo-spawned"])
    assert.equal("nil phase", headers["x-kombo-ran"])
    assert.equal("nil phase", headers["x-kombo-mapped"])
  end)

  it("knows where the running code can yield: not in a finalizer, a hook or table.sort's comparator", function()
    assert.same({ handler = true, in_pcall = true, in_xpcall = true, finalizer = false, sort = false, hook = false,
      light_thread = true, coroutine = true, after = true, n = 500 }, get_json("/yieldable"))
  end)

  -- libcurl asks for compressed answers, the ngx driver does not: the
  -- sandbox's log tells which driver sent each request.
  it("answers a finalizer, a hook and a comparator calling the SDK mid-walk through libcurl, and the walk goes on",
    function()
      local r = get_json("/finalizer")
      local _, tags = sb:request("GET", "/ats/tags")
      local _, jobs = sb:request("GET", "/ats/jobs")
      local n_tags = #tags.data.results
      assert.equal(600, r.walked)
      assert.equal(3, #r.inner)
      for _, call in ipairs(r.inner) do
        assert.same({ tags = n_tags, users = call.users, walked = 600, spawned = call.spawned, waited = call.waited,
          ran = "nil", run_error = call.run_error, run_tasks = 0, mapped = "nil", map_error = call.map_error }, call)
        assert.is_true(call.users > 0)
        for what, message in pairs({ ["kombo.spawn"] = call.spawned, ["task:wait"] = call.waited,
          ["kombo.run"] = call.run_error, ["kombo.map"] = call.map_error }) do
          assert.matches("invalid request: call: code that can yield: " .. what .. " inside nginx waits by yielding",
            message, 1, true)
        end
      end
      assert.equal(n_tags, r.sorted)
      assert.equal(#jobs.data.results, r.hooked)
      assert.equal(n_tags, r.after)
      assert.equal(599, r.continued)
      assert.equal(100, r.third)
      assert.equal(600, r.finished)
      local function by_curl(q) return q.headers["accept-encoding"] ~= nil end
      local function by_kombo(q) return (q.headers["user-agent"] or ""):match("^kombo%-lua/") ~= nil end
      local curl, cosocket = {}, {}
      for _, q in ipairs(sb:requests(by_kombo)) do
        local list = by_curl(q) and curl or cosocket
        list[q.path] = (list[q.path] or 0) + 1
      end
      -- Over cosockets: the walk's 12 pages, the begun walk's first two
      -- (and the next ones the finalizer let go of, if they got there),
      -- the last 2 of the walk a finalizer began, and the last get_tags.
      -- Over libcurl, every call the finalizers, the comparator and the
      -- hook made: each walk of a finalizer 3 pages, the begun walk's last
      -- 2, its third page again for next(), and the first page of the walk
      -- a finalizer began.
      assert.is_true(cosocket["/v1/ats/applications"] >= 12 + 2 + 2)
      assert.same({ ["/v1/ats/applications"] = cosocket["/v1/ats/applications"], ["/v1/ats/tags"] = 1 }, cosocket)
      assert.same({ ["/v1/ats/applications"] = 3 * 3 + 2 + 1 + 1, ["/v1/ats/tags"] = 3 + 1, ["/v1/ats/users"] = 3,
        ["/v1/ats/jobs"] = 1 }, curl)
      assert.is_nil(server:log():find("yield across", 1, true))
    end)

  it("lets a finalizer's write go over the cap when a light thread's write holds the worker's place", function()
    sb:fault({ method = "POST", delay_ms = 300, times = 1 })
    assert.same({ status = "success", held = "success" }, get_json("/local_finalizer"))
    local notes = sb:requests(function(q) return q.method == "POST" end)
    assert.equal(2, #notes)
    assert.is_nil(notes[1].headers["accept-encoding"])      -- the light thread's, over a cosocket
    assert.is_not_nil(notes[2].headers["accept-encoding"])  -- the finalizer's, over libcurl
    assert.is_true(notes[2].at_ms < notes[1].done_ms, "the finalizer's write waited for the other")
  end)

  it("lets a finalizer's write go over the cap when every place in the shared dict is held", function()
    local r = get_json("/dict_finalizer")
    assert.same({ status = "success", held = { "crashed worker", "crashed worker" } }, r)
    local notes = sb:requests(function(q) return q.method == "POST" end)
    assert.equal(1, #notes)
    assert.is_not_nil(notes[1].headers["accept-encoding"]) -- libcurl's
  end)

  it("works from a timer", function()
    local r = get_json("/timer")
    assert.is_true(r.ok, r.message)
    assert.equal("timer", r.phase)
    local _, want = sb:request("GET", "/ats/tags")
    assert.equal(#want.data.results, r.n)
  end)

  it("keeps the writes of all the worker's requests under max_in_flight_writes, with kombo.map", function()
    sb:fault({ method = "POST", delay_ms = 50, times = -1 })
    local status, body = server:get("/map_writes_twice")
    assert.equal(200, status, body)
    local r = cjson.decode(body)
    for i = 1, 2 do
      assert.is_true(r[i].ok, r[i].err)
      assert.equal(12, r[i].n)
      assert.equal("success", r[i].status)
    end
    local writes, most, refused = sandbox.writes(sb:requests())
    assert.equal(24, #writes)
    assert.equal(0, refused)
    assert.equal(4, most)
    assert.equal(4, sandbox.max_overlap(writes))
  end)

  it("gives back the place of a light thread killed mid-write", function()
    sb:fault({ method = "POST", delay_ms = 300, times = -1 })
    local r = get_json("/killed_write")
    assert.is_true(r.ok, r.err)
    assert.equal("success", r.status)
    assert.equal(0, r.active)
    local writes = sandbox.writes(sb:requests())
    assert.equal(2, #writes)
  end)

  it("fails an answer with a malformed chunk size or Content-Length as malformed, never raising", function()
    for _, how in ipairs({ "chunk_size", "chunk_ext", "negative_length" }) do
      local r = get_json("/broken?how=" .. how)
      assert.is_nil(r.raised, how)
      assert.is_false(r.ok, how)
      assert.equal("malformed", r.reason, how)
    end
    assert.same({ ok = true }, get_json("/broken?how=repeated_length"))
  end)

  -- The same answers transport_spec gives libcurl's driver, the same outcome.
  local raw = require("support.raw")
  local hostile = require("support.hostile")
  for _, case in ipairs(hostile.CASES) do
    it(case.name, function()
      local upstream = raw.start(case.answers, case)
      local got = get_json("/hostile?port=" .. upstream.url:match(":(%d+)/"))
      local requests = #upstream:requests()
      upstream:stop()
      assert.same(case.expect, hostile.seen(case, got, requests))
    end)
  end

  it("goes on with a page kept from another request: fetched again, never a raw error", function()
    assert.is_true(get_json("/keep").ok)
    local r = get_json("/cont")
    assert.is_nil(r.err)
    assert.is_true(r.ok)
    assert.equal(5, r.n)
    assert.is_nil(r.item_err)
    assert.is_true(r.item)
  end)

  it("refuses a walk in the log phase with the phase's message, after the page in hand", function()
    local status = server:get("/log_walk")
    assert.equal(200, status)
    local r
    for _ = 1, 50 do
      r = get_json("/log_walked")
      if r.err then break end
      require("socket").sleep(0.02)
    end
    assert.is_false(r.ok)
    assert.equal(5, r.n)
    assert.matches("not possible in nginx's log phase", r.err, 1, true)
  end)

  it("leaves nothing of a walk whose request ended while it waited for a page", function()
    sb:fault({ path = "/v1/ats/tags", delay_ms = 300, times = -1 })
    for _, prefetch in ipairs({ "0", "1", "0", "1", "0" }) do server:get("/walk_exit?prefetch=" .. prefetch) end
    sb:clear_faults()
    -- nginx may keep the last ended request's Lua thread a while (for
    -- reuse), and with it that walk; every walk staying is the leak
    local r
    for _ = 1, 100 do
      r = get_json("/walked_left")
      if r.left <= 1 then break end
      require("socket").sleep(0.02)
    end
    assert.is_true(r.left <= 1, r.left .. " of 5 walks left")
  end)

  it("skips a waiter killed while it waited: the next write goes when the place comes back", function()
    sb:fault({ method = "POST", delay_ms = 300, times = -1 })
    local r = get_json("/killed_waiter")
    assert.is_true(r.held)
    assert.is_true(r.wrote)
    local order = {}
    for _, q in ipairs(sb:requests()) do
      if q.method == "POST" then order[#order + 1] = q.body:match('"content":"(%a+)"')
      elseif q.path == "/v1/ats/tags" then order[#order + 1] = "marker" end
    end
    -- the killed waiter sent nothing; the next write went before the
    -- holder's thread (which lives on) ended
    assert.same({ "holder", "next", "marker" }, order)
  end)

  it("counts writes across workers in a lua_shared_dict, whose places expire when their worker is gone", function()
    sb:fault({ method = "POST", delay_ms = 50, times = -1 })
    -- Another worker holds 26 of the 30 places: this one gets 4.
    local r = get_json("/dict_writes?held=26&ttl=60&n=12")
    assert.is_true(r.ok, r.err)
    assert.equal(12, r.n)
    assert.equal(26, r.keys) -- every place of this worker was given back
    assert.matches("shared_dict: the name of a lua_shared_dict", r.bad, 1, true)
    local writes, most, refused = sandbox.writes(sb:requests())
    assert.equal(12, #writes)
    assert.equal(0, refused)
    assert.equal(4, most)
    -- A crashed worker's places expire: after their lease, all 30 are free.
    sb:clear_requests()
    r = get_json("/dict_writes?held=30&ttl=0.05&pause=0.1&n=20")
    assert.is_true(r.ok, r.err)
    assert.equal(0, r.keys)
    writes, most = sandbox.writes(sb:requests())
    assert.equal(20, #writes)
    assert.equal(20, most)
  end)

  it("lets writes go when a write killed while waiting its turn in the dict left its ticket marked", function()
    -- Its mark holds every later write back until it lapses, free places or not.
    local r = get_json("/dict_writes?held=0&stale=0.3&n=6")
    assert.is_true(r.ok, r.err)
    assert.equal(6, r.n)
    assert.is_true(r.took >= 0.3, "the writes went " .. r.took .. " s after the mark")
    assert.is_true(r.behind >= 1, "no write waited behind the mark")
    assert.is_nil(r.marked)
    assert.equal(0, r.keys)
    local writes, _, refused = sandbox.writes(sb:requests())
    assert.equal(6, #writes)
    assert.equal(0, refused)
  end)

  it("spawns light threads that overlap, and run lists every task's error without raising", function()
    sb:fault({ path = "/v1/ats/tags", delay_ms = 300, times = -1 })
    sb:clear_requests()
    local r = get_json("/spawn")
    assert.is_true(r.ok)
    assert.is_true(r.counts[1] > 0 and r.counts[1] == r.counts[2] and r.counts[2] == r.counts[3])
    -- the three requests were all in the sandbox before the first answer
    local reqs = sb:requests()
    assert.is_true(reqs[3].at_ms < reqs[1].done_ms, "the light threads did not overlap")
    assert.equal(r.counts[1], r.counts[4])
    assert.is_nil(r.ran)
    assert.equal(2, r.nfailures)
    assert.matches("task failed on purpose", r.failures[1], 1, true)
    assert.matches("stack traceback", r.failures[1], 1, true)
    assert.matches("and so did this one", r.failures[2], 1, true)
    assert.is_true(r.first_is_task_1)
    -- task:wait in the thread that spawned the task and in another one.
    assert.same({ r.counts[1], "more", r.counts[1], "more" }, r.waited)
    assert.same({ true, true }, r.failed_wait)
  end)
end)

-- Two nginx workers writing to one integration at once. `/round` starts a
-- round of the dict `rounds`; a timer in every worker sees it, waits
-- until both workers have, then maps `n` notes (each naming its worker's
-- pid) with max_in_flight_writes = 4 and the round's shared_dict (none when
-- empty), and lists its outcome; `/round` answers with both lists.
local WORKERS_HTTP = [[
  lua_shared_dict kombo 1m;
  lua_shared_dict rounds 1m;
  init_worker_by_lua_block {
    local cjson = require("cjson")
    local seen = 0
    assert(ngx.timer.every(0.01, function(premature)
      local rounds = ngx.shared.rounds
      local round = rounds:get("round")
      if premature or not round or round == seen then return end
      seen = round
      local kombo = require("kombo")
      local name = rounds:get("shared_dict")
      local c = KOMBO.client({ max_in_flight_writes = 4, shared_dict = name ~= "" and name or nil })
      local app = assert(c.ats:get_applications({ page_size = 1 })).data.results[1].id
      local ready = "ready:" .. round
      rounds:incr(ready, 1, 0)
      for _ = 1, 2000 do
        if rounds:get(ready) >= 2 then break end
        ngx.sleep(0.005)
      end
      local pid = ngx.worker.pid()
      local list = {}
      for i = 1, rounds:get("n") do list[i] = i end
      local results, errs = kombo.map(list, function(i)
        local r, err = c.ats:add_application_note({ application_id = app,
          body = { content = "worker " .. pid .. " note " .. i, content_type = "PLAIN_TEXT" } })
        return r and r.status, err
      end)
      rounds:rpush("done:" .. round, cjson.encode({ pid = pid, ok = results ~= nil, n = results and #results,
        err = errs and tostring(errs[next(errs)]) }))
    end))
  }
]]
local WORKERS_LOCATIONS = {
  ["/round"] = [[
    local rounds = ngx.shared.rounds
    rounds:set("shared_dict", ngx.var.arg_dict or "")
    rounds:set("n", tonumber(ngx.var.arg_n))
    local done = "done:" .. rounds:incr("round", 1, 0)
    -- A cap, not a measure: a worker that never reports leaves one list.
    for _ = 1, 2000 do
      if rounds:llen(done) >= 2 then break end
      ngx.sleep(0.01)
    end
    local workers = {}
    while rounds:llen(done) > 0 do workers[#workers + 1] = require("cjson").decode(rounds:lpop(done)) end
    KOMBO.reply({ workers = workers, leases = KOMBO.places() })
  ]],
}

describe("inside nginx with two workers", function()
  local sb, server
  serve({ workers = 2, http = WORKERS_HTTP, locations = WORKERS_LOCATIONS }, function(s, n) sb, server = s, n end)

  -- A round of n writes from each worker, each held 100 ms at the sandbox.
  -- Checks that both workers wrote all theirs, every one answered 200 and
  -- none refused, and that the two workers' writes were at the sandbox at
  -- the same time (else the round shows nothing). Returns the writes
  -- by worker pid, and the most the sandbox had in flight at once.
  local function round(n, dict)
    sb:fault({ method = "POST", delay_ms = 100, times = -1 })
    local r = json_from(server, "/round?n=" .. n .. (dict and ("&dict=" .. dict) or ""))
    assert.equal(2, #r.workers, server:log():sub(-3000))
    assert.are_not.equal(r.workers[1].pid, r.workers[2].pid)
    assert.equal(0, r.leases) -- every place in the dict was given back
    local writes, most, refused = sandbox.writes(sb:requests())
    assert.equal(2 * n, #writes)
    assert.equal(0, refused)
    local by = {}
    for _, w in ipairs(r.workers) do
      assert.is_true(w.ok, w.err)
      assert.equal(n, w.n)
      by[w.pid] = {}
    end
    for _, q in ipairs(writes) do
      assert.equal(200, q.status)
      local mine = by[tonumber(cjson.decode(q.body).content:match("^worker (%d+) "))]
      mine[#mine + 1] = q
    end
    local a, b = by[r.workers[1].pid], by[r.workers[2].pid]
    assert.equal(n, #a)
    assert.equal(n, #b)
    local together = false
    for _, x in ipairs(a) do
      for _, y in ipairs(b) do
        if x.at_ms < y.done_ms and y.at_ms < x.done_ms then together = true end
      end
    end
    assert.is_true(together, "the two workers' writes were never at the sandbox at the same time: one worker's"
      .. " waited for all of the other's")
    return a, b, most
  end

  it("keeps both workers' writes of one integration under max_in_flight_writes together, with shared_dict", function()
    local a, b, most = round(12, "kombo")
    assert.equal(4, most)
    local both = {}
    for _, q in ipairs(a) do both[#both + 1] = q end
    for _, q in ipairs(b) do both[#both + 1] = q end
    assert.equal(4, sandbox.max_overlap(both))
  end)

  it("without shared_dict, each worker keeps max_in_flight_writes alone: together they go over it", function()
    local a, b, most = round(12)
    assert.equal(4, sandbox.max_overlap(a))
    assert.equal(4, sandbox.max_overlap(b))
    assert.is_true(most > 4, "at most " .. most .. " in flight")
  end)
end)
