-- The sandbox endpoints that act on one record: the writes (stage moves,
-- rejections, notes, result links, attachments, tags, creating candidates and
-- applications, tracked imports) and the two attachment lists.
--
-- Every handler takes the request context built by routes.handle
-- ({ db, params, body, now, err, invalid }) and returns status, payload.
-- Bodies have already passed the operation's schema.

local util = require("kombo_sandbox.util")
local views = require("kombo_sandbox.views")
local data = require("kombo_sandbox.data")

local array, null, lower, format = util.array, util.null, string.lower, string.format
local ipairs, type, tostring = ipairs, type, tostring

local _M = {}

local function _ok(payload, warnings)
  return 200, { status = "success", data = payload or {}, warnings = array(warnings or {}) }
end

-- A live (not deleted) record by the id in the path, or the 404 answer.
local function _find(ctx, coll, what)
  local id = ctx.params[1]
  local rec = ctx.db[coll].by_id[id]
  if rec and rec.remote_deleted_at == nil then return rec end
  return nil, ctx.err(404, "PLATFORM.INPUT_INVALID", format("No %s with id %s exists.", what, tostring(id)))
end

local function _touch(rec, now)
  rec.changed_at, rec.remote_updated_at = now, now
end

local function _job_stage(job, stage_id)
  for _, s in ipairs(job.stages) do
    if s.id == stage_id then return s end
  end
  return nil
end

function _M.move_application_to_stage(ctx)
  local app, status, env = _find(ctx, "applications", "application")
  if not app then return status, env end
  local job = ctx.db.jobs.by_id[app.job_id]
  if not _job_stage(job, ctx.body.stage_id) then
    return ctx.err(400, "REMOTE.INPUT_INVALID", format("Stage %s is not a stage of the job %s.",
      tostring(ctx.body.stage_id), job.id))
  end
  app.stage_id = ctx.body.stage_id
  _touch(app, ctx.now)
  return _ok()
end

local function _result_link(ctx, coll, what)
  local rec, status, env = _find(ctx, coll, what)
  if not rec then return status, env end
  local b = ctx.body
  data.add(ctx.db.result_links, { id = ctx.db.rng:id(), [what .. "_id"] = rec.id, label = b.label, url = b.url,
    details = b.details, created_at = ctx.now })
  return _ok()
end

function _M.add_application_result_link(ctx)
  return _result_link(ctx, "applications", "application")
end

function _M.add_candidate_result_link(ctx)
  return _result_link(ctx, "candidates", "candidate")
end

function _M.add_application_note(ctx)
  local app, status, env = _find(ctx, "applications", "application")
  if not app then return status, env end
  data.add(ctx.db.notes, { id = ctx.db.rng:id(), application_id = app.id, content = ctx.body.content,
    content_type = ctx.body.content_type, created_at = ctx.now })
  return _ok()
end

local function _store_attachment(ctx, att, candidate_id, application_id)
  local ext = { CV = "CV", COVER_LETTER = "Cover Letter", OTHER = "Document" }
  return data.add(ctx.db.attachments, {
    id = ctx.db.rng:id(), remote_id = tostring(100000 + #ctx.db.attachments.items), type = att.type,
    file_name = att.name or (ext[att.type] or "Document") .. ".pdf",
    content_type = att.content_type or "application/octet-stream", data = att.data, data_url = att.data_url,
    candidate_id = candidate_id, application_id = application_id,
    remote_created_at = ctx.now, remote_updated_at = ctx.now,
  })
end

function _M.get_application_attachments(ctx)
  local app, status, env = _find(ctx, "applications", "application")
  if not app then return status, env end
  local results = array()
  for _, a in ipairs(ctx.db.attachments.items) do
    if a.application_id == app.id then results[#results + 1] = views.attachment(a, false) end
  end
  return _ok({ results = results })
end

function _M.add_application_attachment(ctx)
  local app, status, env = _find(ctx, "applications", "application")
  if not app then return status, env end
  _store_attachment(ctx, ctx.body.attachment, app.candidate_id, app.id)
  return _ok()
end

function _M.get_candidate_attachments(ctx)
  local cand, status, env = _find(ctx, "candidates", "candidate")
  if not cand then return status, env end
  local results = array()
  for _, a in ipairs(ctx.db.attachments.items) do
    if a.candidate_id == cand.id then results[#results + 1] = views.attachment(a, true) end
  end
  return _ok({ results = results })
end

function _M.add_candidate_attachment(ctx)
  local cand, status, env = _find(ctx, "candidates", "candidate")
  if not cand then return status, env end
  _store_attachment(ctx, ctx.body.attachment, cand.id, nil)
  return _ok()
end

function _M.reject_application(ctx)
  local app, status, env = _find(ctx, "applications", "application")
  if not app then return status, env end
  local reason = ctx.db.rejection_reasons.by_id[ctx.body.rejection_reason_id]
  if not reason or reason.remote_deleted_at then
    return ctx.invalid("body.rejection_reason_id", "the id of a rejection reason from get_rejection_reasons")
  end
  app.outcome, app.rejection_reason_name, app.rejected_at = "DECLINED", reason.name, ctx.now
  _touch(app, ctx.now)
  if type(ctx.body.note) == "string" then
    data.add(ctx.db.notes, { id = ctx.db.rng:id(), application_id = app.id, content = ctx.body.note,
      content_type = "PLAIN_TEXT", created_at = ctx.now })
  end
  return _ok()
end

function _M.add_candidate_tag(ctx)
  local cand, status, env = _find(ctx, "candidates", "candidate")
  if not cand then return status, env end
  local name = ctx.body.tag.name
  local tag
  for _, t in ipairs(ctx.db.tags.items) do
    if t.name == name and t.remote_deleted_at == nil then tag = t end
  end
  if not tag then
    tag = data.add(ctx.db.tags, { id = ctx.db.rng:id(), remote_id = tostring(100 + #ctx.db.tags.items + 1),
      name = name, changed_at = ctx.now })
  end
  for _, id in ipairs(cand.tag_ids) do
    if id == tag.id then return _ok(nil, { { message = "The candidate already has this tag." } }) end
  end
  cand.tag_ids[#cand.tag_ids + 1] = tag.id
  _touch(cand, ctx.now)
  return _ok()
end

function _M.remove_candidate_tag(ctx)
  local cand, status, env = _find(ctx, "candidates", "candidate")
  if not cand then return status, env end
  local name = ctx.body.tag.name
  for i, id in ipairs(cand.tag_ids) do
    if ctx.db.tags.by_id[id].name == name then
      table.remove(cand.tag_ids, i)
      _touch(cand, ctx.now)
      return _ok()
    end
  end
  return _ok(nil, { { message = "The candidate did not have this tag." } })
end

-- An open job by id, or the answer that refuses it.
local function _open_job(ctx, job_id, field)
  local job = ctx.db.jobs.by_id[job_id]
  if not job or job.remote_deleted_at then
    if field then return nil, ctx.invalid(field, "the id of a job from get_jobs") end
    return nil, ctx.err(404, "PLATFORM.INPUT_INVALID", format("No job with id %s exists.", tostring(job_id)))
  end
  if job.status ~= "OPEN" then
    return nil, ctx.err(400, "ATS.JOB_CLOSED", format("The job %s is %s and takes no applications.", job.id,
      job.status))
  end
  return job
end

local function _new_candidate(ctx, c, source)
  local db, now = ctx.db, ctx.now
  local social = {}
  for _, l in ipairs(c.social_links or {}) do social[#social + 1] = l.url end
  return data.add(db.candidates, {
    id = db.rng:id(), remote_id = tostring(20000 + #db.candidates.items + 1),
    first_name = c.first_name, last_name = c.last_name, company = c.company, title = c.title,
    confidential = false, source = type(source) == "table" and source.name or nil,
    email = c.email_address, extra_emails = c.additional_email_addresses, phone = c.phone_number,
    extra_phones = c.additional_phone_numbers, social_links = social,
    location = c.location and { city = c.location.city, country = c.location.country, state = c.location.state,
      zip_code = c.location.zip_code, raw = c.location.city and (c.location.city .. ", " .. c.location.country) },
    remote_created_at = now, remote_updated_at = now, changed_at = now, tag_ids = {}, app_ids = {},
  })
end

local function _new_application(ctx, cand, job, stage_id)
  local db = ctx.db
  local sqa = {}
  for _, a in ipairs(ctx.body.screening_question_answers or {}) do
    sqa[#sqa + 1] = { question_id = a.question_id, answer = a.answer }
  end
  local app = data.new_application(db, {
    id = db.rng:id(), remote_id = tostring(60000 + #db.applications.items + 1), outcome = "PENDING",
    stage_id = stage_id or job.stages[1].id, job_id = job.id, candidate_id = cand.id,
    screening_question_answers = sqa, remote_created_at = ctx.now, remote_updated_at = ctx.now,
    changed_at = ctx.now,
  })
  for _, att in ipairs(ctx.body.attachments or {}) do _store_attachment(ctx, att, cand.id, app.id) end
  return app
end

function _M.create_candidate(ctx)
  local b = ctx.body
  local job, status, env = _open_job(ctx, b.application.job_id, "body.application.job_id")
  if not job then return status, env end
  local stage_id = b.application.stage_id
  if stage_id ~= nil and not _job_stage(job, stage_id) then
    return ctx.invalid("body.application.stage_id", "a stage of the job " .. job.id)
  end
  local cand = _new_candidate(ctx, b.candidate, b.source)
  _new_application(ctx, cand, job, stage_id)
  return _ok(views.candidate(ctx.db, cand))
end

function _M.create_application(ctx)
  local job, status, env = _open_job(ctx, ctx.params[1])
  if not job then return status, env end
  local b = ctx.body
  if b.stage_id ~= nil and not _job_stage(job, b.stage_id) then
    return ctx.invalid("body.stage_id", "a stage of the job " .. job.id)
  end
  -- An existing candidate with the same email applies again instead of being duplicated.
  local email, cand = lower(b.candidate.email_address), nil
  for _, c in ipairs(ctx.db.candidates.items) do
    if c.remote_deleted_at == nil and lower(c.email) == email then cand = c end
  end
  if cand then
    for _, id in ipairs(cand.app_ids) do
      local a = ctx.db.applications.by_id[id]
      if a.job_id == job.id and a.remote_deleted_at == nil then
        return ctx.err(409, "ATS.APPLICATION_ALREADY_EXISTS", format(
          "The candidate %s already has the application %s for the job %s.", cand.id, a.id, job.id))
      end
    end
  else
    cand = _new_candidate(ctx, b.candidate, b.source)
  end
  local app = _new_application(ctx, cand, job, b.stage_id)
  -- This answer carries the whole candidate (without its applications) and
  -- no interviews or offers, unlike the list's applications.
  local out = views.application(ctx.db, app)
  out.candidate = views.candidate(ctx.db, cand)
  out.candidate.applications, out.interviews, out.offers = nil, nil, nil
  return _ok(out)
end

local SYSTEMS = { "erecruiter", "successfactors", "recruitee", "greenhouse", "onlyfy", "smartrecruiters" }

function _M.import_tracked_application(ctx)
  local b = ctx.body
  local imported, n = {}, 0
  for _, k in ipairs(SYSTEMS) do
    if b[k] ~= nil then imported[k], n = b[k], n + 1 end
  end
  if n ~= 1 then
    return ctx.invalid("body", "an object with exactly one of " .. table.concat(SYSTEMS, ", "))
  end
  local tracked_at = b.tracked_at
  if tracked_at ~= null and not util.parse_time(tracked_at) then
    return ctx.invalid("body.tracked_at", "an ISO 8601 date-time or null")
  end
  local rec = data.add(ctx.db.tracked_applications, { id = ctx.db.rng:id(), imported_id = imported,
    tracked_at = tracked_at ~= null and util.parse_time(tracked_at) or ctx.now })
  return _ok({ id = rec.id, tracked_at = util.iso(rec.tracked_at), imported_id = imported })
end

return _M
