-- Rejects pending applications that were created more than N days ago, with
-- one rejection reason and an optional note to the candidate's record.
--
--   lua examples/reject_stale.lua DAYS REASON [--job JOB] [--note TEXT] [--dry-run]
--
-- REASON is a rejection reason id or name ("No response"; case does not
-- matter); an unknown one lists the reasons the ATS has. --job limits the
-- sweep to one job (an id or its exact name). Reads KOMBO_API_KEY,
-- KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL (optional). Exits 0 when every
-- stale application was rejected, 1 when some failed, 2 on bad arguments.

local kombo = require("kombo")

local function find_job(ats, wanted) -- by id, or by its name in any case
  local jobs = assert(ats:get_jobs({ ids = { wanted } })).data.results
  for job in assert(ats:get_jobs({ name_contains = wanted })):items() do jobs[#jobs + 1] = job end
  for _, job in ipairs(jobs) do if job.id == wanted or job.name:lower() == wanted:lower() then return job end end
end

local floor = math.floor

local function usage(message)
  io.stderr:write(message, "\n",
    "usage: reject_stale.lua DAYS REASON [--job JOB] [--note TEXT] [--dry-run]\n")
  os.exit(2)
end

local FLAGS = { ["--job"] = "job", ["--note"] = "note" }
local positional, flags = {}, {}
local i = 1
while i <= #arg do
  local key = FLAGS[arg[i]]
  if key then
    flags[key] = arg[i + 1] or usage(arg[i] .. " needs a value")
    i = i + 2
  elseif arg[i] == "--dry-run" then
    flags.dry_run = true
    i = i + 1
  else
    positional[#positional + 1] = arg[i]
    i = i + 1
  end
end
if #positional ~= 2 then usage("DAYS and REASON are required") end
local days = tonumber(positional[1])
if not days or days < 0 then usage("DAYS must be a number >= 0, got " .. positional[1]) end
local reason_arg = positional[2]

-- Days since 1970-01-01 of a civil UTC date (Howard Hinnant's algorithm), so
-- timestamps are compared in UTC whatever the local time zone is.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- Seconds since the epoch of an ISO 8601 UTC timestamp, or nil.
local function epoch(iso)
  if type(iso) ~= "string" then return nil end
  local y, mo, d, h, mi, s = iso:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if not y then
    y, mo, d = iso:match("^(%d+)-(%d+)-(%d+)$")
    if not y then return nil end
    h, mi, s = 0, 0, 0
  end
  return days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
end

local cutoff = os.time() - days * 86400

-- KOMBO_API_KEY, KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL from the environment.
local client = assert(kombo.from_env())

local reason
local names = {}
for r in assert(client.ats:get_rejection_reasons({ page_size = 250 })):items() do
  names[#names + 1] = r.name
  if r.id == reason_arg or (type(r.name) == "string" and r.name:lower() == reason_arg:lower()) then reason = r end
end
if not reason then
  usage(("no rejection reason %q; the ATS has: %s"):format(reason_arg, table.concat(names, ", ")))
end

local job_ids
if flags.job then
  local job = find_job(client.ats, flags.job) or usage(("no job with id or name %q"):format(flags.job))
  job_ids = { job.id }
end

-- The API filters by "created after" only; "older than" is checked here.
local stale = {}
local page = assert(client.ats:get_applications({ outcome = "PENDING", job_ids = job_ids, page_size = 250 }))
for app in page:items() do
  local created = epoch(app.remote_created_at)
  if created and created < cutoff then stale[#stale + 1] = app end
end

print(("%d pending application(s) created before %s; reason %q%s"):format(#stale,
  os.date("!%Y-%m-%dT%H:%M:%SZ", cutoff), reason.name, flags.dry_run and " (dry run)" or ""))

local rejected, failed = 0, 0
for _, app in ipairs(stale) do
  if flags.dry_run then
    print(("  would reject %s (created %s)"):format(app.id, app.remote_created_at))
  else
    local _, err = client.ats:reject_application({ application_id = app.id,
      body = { rejection_reason_id = reason.id, note = flags.note } })
    if err then
      failed = failed + 1
      io.stderr:write(("  %s: %s\n"):format(app.id, tostring(err)))
    else
      rejected = rejected + 1
      print(("  rejected %s (created %s)"):format(app.id, app.remote_created_at))
    end
  end
end

if not flags.dry_run then print(("%d rejected, %d failed"):format(rejected, failed)) end
client:close()
os.exit(failed == 0 and 0 or 1)
