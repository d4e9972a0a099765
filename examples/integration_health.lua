-- A daily health check across integrations: does the API key work, is each
-- integration active and fully set up, and is its data fresh? An
-- integration none of whose records changed in the last --stale-hours
-- (default 24) gets a sync. Kombo syncs on its own schedule and advises
-- against forcing syncs routinely, so one is only asked for when the data
-- looks stale, and not again while it is queued.
--
--   lua5.4 examples/integration_health.lua [--stale-hours N] [--dry-run] [INTEGRATION_ID ...]
--
-- With no ids it checks KOMBO_INTEGRATION_ID. Reads KOMBO_API_KEY and
-- KOMBO_SERVER_URL (optional). Exits 0 when every integration is healthy
-- (a stale one that got its sync counts as healthy), 1 when the key does
-- not work, 2 when an integration needs someone's attention or on bad
-- arguments.

local kombo = require("kombo")

local function usage(message)
  io.stderr:write(message, "\n",
    "usage: integration_health.lua [--stale-hours N] [--dry-run] [INTEGRATION_ID ...]\n")
  os.exit(2)
end

local stale_hours, dry_run, ids = 24, false, {}
local i = 1
while i <= #arg do
  if arg[i] == "--stale-hours" then
    stale_hours = tonumber(arg[i + 1] or "") or usage("--stale-hours needs a number of hours")
    i = i + 2
  elseif arg[i] == "--dry-run" then
    dry_run, i = true, i + 1
  elseif arg[i]:sub(1, 2) == "--" then
    usage("unknown option " .. arg[i])
  else
    ids[#ids + 1], i = arg[i], i + 1
  end
end
if #ids == 0 then
  local id = os.getenv("KOMBO_INTEGRATION_ID")
  if not id or id == "" then usage("no integration: pass its id or set KOMBO_INTEGRATION_ID") end
  ids[1] = id
end

local client = assert(kombo.from_env())

-- 1. The key: everything else is pointless without it.
local key, kerr = client.general:check_api_key()
if not key then
  io.stderr:write("API key check failed: ", tostring(kerr), "\n")
  os.exit(1)
end
print(("API key ok (environment %s)"):format(key.data.environment_id))

-- The read that tells whether an integration's data moved lately: one
-- record changed since `since`, from a list of its category.
local FRESHNESS = {
  ATS = function(id, since)
    return client.ats:get_jobs({ updated_after = since, page_size = 1 }, { integration_id = id })
  end,
  HRIS = function(id, since)
    return client.hris:get_employees({ updated_after = since, page_size = 1 }, { integration_id = id })
  end,
}

local since = os.date("!%Y-%m-%dT%H:%M:%S.000Z", os.time() - math.floor(stale_hours * 3600))
local attention = 0

for _, id in ipairs(ids) do
  local problems, notes = {}, {}
  local details, err = client.general:get_integration_details({ integration_id = id })
  if not details then
    problems[#problems + 1] = err.status == 404 and "not found" or tostring(err)
  else
    local d = details.data
    notes[#notes + 1] = ("%s %s"):format(d.tool.label, d.category)
    if d.status ~= "ACTIVE" then
      problems[#problems + 1] = "status " .. d.status .. ": reconnect it (general:create_reconnection_link)"
    end
    if d.setup_status ~= "COMPLETED" then problems[#problems + 1] = "setup " .. d.setup_status end
    for _, model in ipairs(d.read_models) do
      if not model.is_available and d.status == "ACTIVE" then
        problems[#problems + 1] = model.label .. " not available"
      end
    end
    -- 2. Freshness, for the active ones a list can tell.
    local fresh = d.status == "ACTIVE" and FRESHNESS[d.category]
    if fresh then
      local page, ferr = fresh(id, since)
      if not page then
        problems[#problems + 1] = "could not read its data: " .. tostring(ferr)
      elseif #page.data.results > 0 then
        notes[#notes + 1] = "data fresh"
      elseif dry_run then
        notes[#notes + 1] = ("nothing changed in %g h (would sync)"):format(stale_hours)
      else
        -- 3. Stale: ask for one delta sync, unless one is queued already.
        local sync, serr = client.general:trigger_sync({ body = { type = "DELTA" } }, { integration_id = id })
        if not sync then
          problems[#problems + 1] = "stale and the sync failed: " .. tostring(serr)
        elseif sync.data.already_queued then
          notes[#notes + 1] = ("nothing changed in %g h; sync %s already queued"):format(stale_hours, sync.data.sync_id)
        else
          notes[#notes + 1] = ("nothing changed in %g h; sync %s queued"):format(stale_hours, sync.data.sync_id)
        end
      end
    end
  end
  if #problems > 0 then attention = attention + 1 end
  local said = table.concat(notes, "; ")
  if #problems > 0 then said = said .. (#notes > 0 and "; " or "") .. table.concat(problems, "; ") end
  print(("%-40s %-9s %s"):format(id, #problems > 0 and "ATTENTION" or "ok", said))
end

client:close()
print(("%d of %d integrations need attention"):format(attention, #ids))
os.exit(attention > 0 and 2 or 0)
