-- Moves every pending application of a job that sits in one stage to the
-- job's next stage, and leaves a note on each saying so.
--
--   lua5.4 examples/move_stage.lua JOB STAGE [--note TEXT] [--dry-run]
--
-- JOB is a job id or a job's exact name ("Backend Engineer"); STAGE is a
-- stage id or a stage name of that job ("Initial Screening"). Case does not
-- matter in names. Reads KOMBO_API_KEY, KOMBO_INTEGRATION_ID and
-- KOMBO_SERVER_URL (optional; the sandbox's URL under `make examples`).
-- Exits 0 when every application was moved, 1 when some failed, 2 on bad
-- arguments.

local kombo = require("kombo")

local function find_job(ats, wanted) -- by id, or by its name in any case
  local jobs = assert(ats:get_jobs({ ids = { wanted } })).data.results
  for job in assert(ats:get_jobs({ name_contains = wanted })):items() do jobs[#jobs + 1] = job end
  for _, job in ipairs(jobs) do if job.id == wanted or job.name:lower() == wanted:lower() then return job end end
end

local function usage(message)
  io.stderr:write(message, "\n",
    "usage: move_stage.lua JOB STAGE [--note TEXT] [--dry-run]\n")
  os.exit(2)
end

local job_id, stage_arg, note, dry_run
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--note" then
    note = arg[i + 1] or usage("--note needs a text")
    i = i + 1
  elseif a == "--dry-run" then
    dry_run = true
  elseif not job_id then
    job_id = a
  elseif not stage_arg then
    stage_arg = a
  else
    usage("unexpected argument " .. a)
  end
  i = i + 1
end
if not (job_id and stage_arg) then usage("JOB and STAGE are required") end

-- KOMBO_API_KEY, KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL from the environment.
local client = assert(kombo.from_env())

local job = find_job(client.ats, job_id) or usage(("no job with id or name %q"):format(job_id))

-- The job's stages are in pipeline order; "next" means the following entry.
local from, to
for n, stage in ipairs(job.stages) do
  if stage.id == stage_arg or stage.name:lower() == stage_arg:lower() then
    from, to = stage, job.stages[n + 1]
  end
end
if not from then
  local names = {}
  for _, stage in ipairs(job.stages) do names[#names + 1] = stage.name end
  usage(("job %q has no stage %q; its stages: %s"):format(job.name, stage_arg, table.concat(names, ", ")))
end
if not to then usage(("%q is the last stage of %q; there is no next stage"):format(from.name, job.name)) end

-- Collect first, then write: moving changes which applications the filter
-- matches, and a listing should not shift under its own cursor.
local pending = {}
local page = assert(client.ats:get_applications({
  job_ids = { job.id }, current_stage_ids = { from.id }, outcomes = { "PENDING" }, page_size = 250,
}))
for app in page:items() do pending[#pending + 1] = app end

print(("%s: %d application(s) in %q -> %q%s"):format(job.name, #pending, from.name, to.name,
  dry_run and " (dry run)" or ""))

local text = note or ("Moved from %s to %s by move_stage.lua."):format(from.name, to.name)
local moved, failed = 0, 0
for _, app in ipairs(pending) do
  local who = app.candidate and app.candidate.first_name and (app.candidate.first_name .. " "
    .. app.candidate.last_name) or app.candidate_id
  if dry_run then
    print(("  would move %s (%s)"):format(app.id, who))
  else
    local _, err = client.ats:move_application_to_stage({ application_id = app.id, body = { stage_id = to.id } })
    local what = "not moved"
    if not err then
      -- Moved, it has left the stage: a second run would not find it to
      -- add the note, so the message says which of the two is missing.
      what = "moved, but no note added"
      _, err = client.ats:add_application_note({ application_id = app.id,
        body = { content = text, content_type = "PLAIN_TEXT" } })
    end
    if err then
      failed = failed + 1
      io.stderr:write(("  %s (%s) %s: %s\n"):format(app.id, who, what, tostring(err)))
    else
      moved = moved + 1
      print(("  moved %s (%s)"):format(app.id, who))
    end
  end
end

if not dry_run then print(("%d moved, %d failed"):format(moved, failed)) end
client:close()
os.exit(failed == 0 and 0 or 1)
