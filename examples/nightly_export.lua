-- The nightly export: every application and candidate changed since the
-- last run, appended to OUTPUT as JSON lines, deletions included:
--   {"type":"candidates","deleted":false,"item":{...}}
-- The first run exports everything, each later run what changed since.
--
--   lua5.4 examples/nightly_export.lua OUTPUT STATE_FILE
--
-- STATE_FILE keeps each model's watermark, and where a run that stopped
-- resumes: the next run continues there, so nothing is lost (the page that
-- was being written may come twice: load the lines by id). OUTPUT is
-- flushed before each save of that place, so what the state counts as
-- exported is out of this process even if it is killed then; a write that
-- fails (a full disk) ends the run with status 1 and nothing saved. Reads
-- KOMBO_API_KEY, KOMBO_INTEGRATION_ID and KOMBO_SERVER_URL (optional).

local kombo = require("kombo")
local cjson = require("cjson")

local output, state_file = arg[1], arg[2]
if not (output and state_file) then
  io.stderr:write("usage: nightly_export.lua OUTPUT STATE_FILE\n")
  os.exit(2)
end

local function stop(err)
  io.stderr:write("export stopped: ", tostring(err), "\n")
  os.exit(1)
end

local client = assert(kombo.from_env())
local out = assert(io.open(output, "ab"))
local counts = {}
for _, model in ipairs({ "applications", "candidates" }) do
  counts[model] = 0
  local sync = assert(client:sync("ats.get_" .. model, { page_size = 250 },
    { state_file = state_file, before_save = function() return out:flush() end }))
  local ok, err = sync:run(function(item)
    -- remote_deleted_at: a date-time when deleted, else null
    local line = cjson.encode({ type = model, deleted = type(item.remote_deleted_at) == "string", item = item })
    assert(out:write(line, "\n"))
    counts[model] = counts[model] + 1
  end)
  if not ok then stop(err) end
end
local closed, err = out:close()
if not closed then stop(err) end
client:close()
io.stderr:write(("%d application(s) and %d candidate(s) exported to %s\n")
  :format(counts.applications, counts.candidates, output))
