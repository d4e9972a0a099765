-- Request handlers for examples/nginx/nginx.conf: kombo-lua called from
-- nginx request handlers and timers, where it uses cosockets.

local kombo = require("kombo")
local cjson = require("cjson.safe").new()

local ngx = ngx -- luacheck: ignore 113
local os_getenv, tostring, type, pcall = os.getenv, tostring, type, pcall

local _M = {}

local TAGS_KEY, REFRESH_S = "tags", 300

-- One client per worker: kombo.new does no I/O, and the client keeps
-- nothing per request.
local client, client_err

local function _client()
  if not client and not client_err then
    client, client_err = kombo.new({
      api_key = os_getenv("KOMBO_API_KEY"),
      integration_id = os_getenv("KOMBO_INTEGRATION_ID"),
      server_url = os_getenv("KOMBO_SERVER_URL"),
    })
  end
  return client, client_err
end

local function _reply(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(value))
end

-- API failures become 502 (the API answered) or 504 (it could not be reached).
local function _fail(err)
  ngx.log(ngx.ERR, tostring(err))
  local status = 500
  if type(err) == "table" then
    if err.kind == "api" or err.kind == "decode" then status = 502 end
    if err.kind == "connection" or err.kind == "timeout" then status = 504 end
    return _reply(status, { error = err.kind, message = err.message })
  end
  return _reply(status, { error = "internal", message = tostring(err) })
end

function _M.open_jobs()
  local c, cerr = _client()
  if not c then return _fail(cerr) end
  local first, err = c.ats:get_jobs({ statuses = { "OPEN" }, page_size = 100 })
  if not first then return _fail(err) end
  local jobs = {}
  -- items() raises the error object if a later page fails.
  local ok, ierr = pcall(function()
    for job in first:items() do jobs[#jobs + 1] = { id = job.id, name = job.name } end
  end)
  if not ok then return _fail(ierr) end
  _reply(200, { count = #jobs, jobs = jobs })
end

function _M.overview()
  local c, cerr = _client()
  if not c then return _fail(cerr) end
  local jobs_t = ngx.thread.spawn(function() return c.ats:get_jobs({ page_size = 1 }) end)
  local users_t = ngx.thread.spawn(function() return c.ats:get_users({ page_size = 5 }) end)
  local _, jobs, jerr = ngx.thread.wait(jobs_t)
  local _, users, uerr = ngx.thread.wait(users_t)
  if not jobs then return _fail(jerr) end
  if not users then return _fail(uerr) end
  local names = {}
  for i, u in ipairs(users.data.results) do names[i] = u.email end
  _reply(200, { first_job = jobs.data.results[1] and jobs.data.results[1].name, users = names })
end

function _M.cached_tags()
  local cached = ngx.shared.kombo_cache:get(TAGS_KEY)
  if not cached then return _reply(503, { error = "warming_up", message = "tags not fetched yet" }) end
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cached)
end

local function _refresh(premature)
  if premature then return end
  local c, cerr = _client()
  if not c then return ngx.log(ngx.ERR, "kombo: ", tostring(cerr)) end
  local tags, err = c.ats:get_tags({ page_size = 250 })
  if not tags then return ngx.log(ngx.WARN, "kombo: tag refresh failed: ", tostring(err)) end
  local names = {}
  for i, t in ipairs(tags.data.results) do names[i] = t.name end
  ngx.shared.kombo_cache:set(TAGS_KEY, cjson.encode({ tags = names }))
end

--- init_worker phase: no cosockets here, so the first fetch runs in a timer.
function _M.init_worker()
  local ok, err = ngx.timer.at(0, _refresh)
  if not ok then ngx.log(ngx.ERR, "kombo: cannot start the tag timer: ", err) end
  ok, err = ngx.timer.every(REFRESH_S, _refresh)
  if not ok then ngx.log(ngx.ERR, "kombo: cannot start the tag timer: ", err) end
end

return _M
