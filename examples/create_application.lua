-- Creates an application for a job: a candidate plus their CV read from disk.
--
--   lua examples/create_application.lua JOB CV_FILE FIRST_NAME LAST_NAME EMAIL
--       [--phone NUMBER] [--stage STAGE_ID] [--source NAME]
--
-- JOB is a job id or a job's exact name. The CV goes up base64-encoded as the application's CV attachment; its
-- content type follows the file extension (.pdf, .docx, ...). Reads
-- KOMBO_API_KEY, KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL (optional).
-- Prints the new application's id; exits 1 when Kombo refuses it (e.g. the
-- job is closed or the candidate already applied), 2 on bad arguments.

local kombo = require("kombo")

-- The job with this id, else the one with this name (in any case).
local function find_job(ats, wanted)
  local by_id = assert(ats:get_jobs({ ids = { wanted } })).data.results[1]
  if by_id then return by_id end
  for job in assert(ats:get_jobs({ name_contains = wanted })):items() do
    if job.name:lower() == wanted:lower() then return job end
  end
end

local function usage(message)
  io.stderr:write(message, "\n", "usage: create_application.lua JOB CV_FILE FIRST_NAME LAST_NAME EMAIL",
    " [--phone NUMBER] [--stage STAGE_ID] [--source NAME]\n")
  os.exit(2)
end

-- The command line, read as the kombo command reads its options.
local flags, problem = require("kombo.cli").args(arg, { phone = "NUMBER", stage = "STAGE_ID", source = "NAME" })
if not flags then usage(problem) end
if #flags ~= 5 then usage("expected 5 arguments, got " .. #flags) end
local job_id, cv_path, first_name, last_name, email = flags[1], flags[2], flags[3], flags[4], flags[5]

local cv, cv_err = kombo.attachment(cv_path, { type = "CV" })
if not cv then usage(tostring(cv_err)) end

-- KOMBO_API_KEY, KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL from the environment.
local client = assert(kombo.from_env())

local body = {
  candidate = { first_name = first_name, last_name = last_name, email_address = email, phone_number = flags.phone },
  attachments = { cv },
  source = { name = flags.source or "kombo-lua create_application.lua" },
  stage_id = flags.stage,
}

local job = find_job(client.ats, job_id) or usage(("no job with id or name %q"):format(job_id))

local result, err = client.ats:create_application({ job_id = job.id, body = body })
client:close()
if not result then
  io.stderr:write(tostring(err), "\n")
  if err.kind == "invalid_request" then os.exit(2) end
  os.exit(1)
end

local app = result.data
local stage = app.current_stage ~= kombo.null and app.current_stage and app.current_stage.name or "-"
print(("created application %s for %s %s (candidate %s) on job %s, stage %s, CV %s (%d bytes base64)")
  :format(app.id, first_name, last_name, app.candidate_id, app.job_id, stage, cv.name, #cv.data))
for _, w in ipairs(result.warnings or {}) do
  io.stderr:write("warning: ", tostring(w.message), "\n")
end
