-- How sandbox records look on the wire: one function per result type, shaped
-- like the response schemas and examples of Kombo's OpenAPI document.

local util = require("kombo_sandbox.util")

local array, iso, null = util.array, util.iso, util.null

local _M = {}

local function _t(ms)
  if ms == nil then return null end
  return iso(ms)
end

local function _v(x)
  if x == nil then return null end
  return x
end

local function _location(loc)
  if not loc then return null end
  return { city = _v(loc.city), country = _v(loc.country), raw = _v(loc.raw), state = _v(loc.state),
    street_1 = _v(loc.street_1), street_2 = _v(loc.street_2), zip_code = _v(loc.zip_code) }
end

local function _emails(c)
  local list = array({ { email_address = c.email, type = "PRIVATE" } })
  for _, e in ipairs(c.extra_emails or {}) do
    list[#list + 1] = { email_address = e.email_address, type = e.type == "WORK" and "WORK" or "OTHER" }
  end
  return list
end

local function _phones(c)
  local list = array()
  if c.phone then list[1] = { phone_number = c.phone, type = "MOBILE" } end
  for _, p in ipairs(c.extra_phones or {}) do
    list[#list + 1] = { phone_number = p.phone_number, type = p.type == "WORK" and "WORK" or "OTHER" }
  end
  return list
end

local function _social(c)
  local list = array()
  if c.linkedin then list[1] = { link = c.linkedin, type = "LINKEDIN", username = null } end
  for _, url in ipairs(c.social_links or {}) do
    list[#list + 1] = { link = url, type = "OTHER", username = null }
  end
  return list
end

local function _tags(db, c)
  local list = array()
  for _, id in ipairs(c.tag_ids) do
    local t = db.tags.by_id[id]
    list[#list + 1] = { id = t.id, remote_id = t.remote_id, name = t.name }
  end
  return list
end

local function _stage_ref(db, app)
  local job = db.jobs.by_id[app.job_id]
  for i, s in ipairs(job.stages) do
    if s.id == app.stage_id then
      return { id = s.id, remote_id = s.remote_id, name = s.name, index = i - 1 }
    end
  end
  return null
end

local function _job_ref(db, id)
  local job = db.jobs.by_id[id]
  return { id = job.id, remote_id = job.remote_id, name = job.name }
end

local function _candidate_ref(db, id, full)
  local c = db.candidates.by_id[id]
  local out = { id = c.id, remote_id = c.remote_id, first_name = c.first_name, last_name = c.last_name,
    email_addresses = _emails(c) }
  if full then
    out.phone_numbers, out.social_media = _phones(c), _social(c)
    out.source = _v(c.source)
    out.remote_url = "https://ats.sandbox-company.example/people/" .. c.remote_id
    out.tags = _tags(db, c)
  end
  return out
end

local function _sqa(app)
  local list = array()
  for _, a in ipairs(app.screening_question_answers or {}) do
    list[#list + 1] = { answer = { content = a.answer }, question = { remote_id = a.question_id,
      title = a.question_id, type = "TEXT" } }
  end
  return list
end

--- A candidate as get_candidates and create_candidate return it.
function _M.candidate(db, c)
  local apps = array()
  for _, id in ipairs(c.app_ids) do
    local a = db.applications.by_id[id]
    apps[#apps + 1] = {
      id = a.id, remote_id = a.remote_id, outcome = a.outcome, rejection_reason_name = _v(a.rejection_reason_name),
      rejected_at = _t(a.rejected_at), remote_url = "https://ats.sandbox-company.example/applications/" .. a.remote_id,
      changed_at = _t(a.changed_at), remote_created_at = _t(a.remote_created_at),
      remote_updated_at = _t(a.remote_updated_at), current_stage = _stage_ref(db, a), job = _job_ref(db, a.job_id),
    }
  end
  return {
    id = c.id, remote_id = c.remote_id, first_name = c.first_name, last_name = c.last_name,
    company = _v(c.company), title = _v(c.title), confidential = c.confidential, source = _v(c.source),
    phone_numbers = _phones(c), email_addresses = _emails(c), social_media = _social(c),
    location = _location(c.location), custom_fields = {}, integration_fields = array(),
    remote_url = "https://ats.sandbox-company.example/people/" .. c.remote_id,
    remote_created_at = _t(c.remote_created_at), remote_updated_at = _t(c.remote_updated_at),
    remote_data = null, changed_at = _t(c.changed_at), remote_deleted_at = _t(c.remote_deleted_at),
    applications = apps, tags = _tags(db, c),
  }
end

--- An application as get_applications and create_application return it.
function _M.application(db, a)
  local interviews = array()
  for _, id in ipairs(a.interview_ids) do
    local iv = db.interviews.by_id[id]
    interviews[#interviews + 1] = { id = iv.id, remote_id = iv.remote_id, title = iv.title,
      starting_at = _t(iv.starting_at), ending_at = _t(iv.ending_at), location = _location(iv.location),
      canceled = iv.canceled }
  end
  local offers = array()
  for _, id in ipairs(a.offer_ids) do
    local o = db.offers.by_id[id]
    offers[#offers + 1] = { id = o.id, remote_id = o.remote_id, status = o.status }
  end
  return {
    id = a.id, remote_id = a.remote_id, outcome = a.outcome, rejection_reason_name = _v(a.rejection_reason_name),
    rejected_at = _t(a.rejected_at), current_stage_id = a.stage_id, job_id = a.job_id,
    candidate_id = a.candidate_id, screening_question_answers = _sqa(a), custom_fields = {},
    integration_fields = array(), remote_url = "https://ats.sandbox-company.example/applications/" .. a.remote_id,
    changed_at = _t(a.changed_at), remote_deleted_at = _t(a.remote_deleted_at),
    remote_created_at = _t(a.remote_created_at), remote_updated_at = _t(a.remote_updated_at),
    remote_data = null, candidate = _candidate_ref(db, a.candidate_id, true), current_stage = _stage_ref(db, a),
    job = _job_ref(db, a.job_id), interviews = interviews, offers = offers,
  }
end

--- A job with its stages and hiring team.
function _M.job(_, j)
  local stages = array()
  for i, s in ipairs(j.stages) do
    stages[i] = { id = s.id, remote_id = s.remote_id, name = s.name, remote_data = null, index = i - 1 }
  end
  local team = array()
  for i, m in ipairs(j.hiring_team) do
    team[i] = { id = m.user.id, remote_id = m.user.remote_id, first_name = m.user.first_name,
      last_name = m.user.last_name, email = m.user.email, hiring_team_roles = array({ m.role }) }
  end
  return {
    id = j.id, remote_id = j.remote_id, name = j.name, job_code = j.job_code, description = j.description,
    confidential = j.confidential, weekly_hours = j.weekly_hours, employment_type = j.employment_type,
    status = j.status, visibility = j.visibility, category = j.category, department = j.department,
    post_url = j.post_url, experience_level = j.experience_level, remote_work_status = j.remote_work_status,
    salary_amount = j.salary_amount, salary_amount_from = null, salary_amount_to = null,
    salary_currency = j.salary_currency, salary_period = j.salary_period, location = _location(j.location),
    custom_fields = {}, integration_fields = array(),
    remote_url = "https://ats.sandbox-company.example/jobs/" .. j.remote_id,
    opened_at = _t(j.opened_at), closed_at = _t(j.closed_at), remote_created_at = _t(j.remote_created_at),
    remote_updated_at = _t(j.remote_updated_at), contact_id = _v(j.contact_id), remote_data = null,
    changed_at = _t(j.changed_at), remote_deleted_at = _t(j.remote_deleted_at), stages = stages,
    screening_questions = array(), job_postings = array(), hiring_team = team,
  }
end

--- Tags, application stages and rejection reasons share one shape.
function _M.named(_, r)
  return { id = r.id, remote_id = r.remote_id, name = r.name, remote_data = null,
    changed_at = _t(r.changed_at), remote_deleted_at = _t(r.remote_deleted_at) }
end

function _M.skill(_, s)
  return { id = s.id, remote_id = s.remote_id, name = s.name, description = null,
    ordered_levels = s.ordered_levels and array(s.ordered_levels) or null, remote_data = null,
    changed_at = _t(s.changed_at), remote_deleted_at = _t(s.remote_deleted_at) }
end

function _M.user(_, u)
  return { id = u.id, remote_id = u.remote_id, first_name = u.first_name, last_name = u.last_name,
    email = u.email, status = u.status, remote_data = null, changed_at = _t(u.changed_at),
    remote_deleted_at = _t(u.remote_deleted_at) }
end

function _M.offer(db, o)
  local a = db.applications.by_id[o.application_id]
  return {
    id = o.id, remote_id = o.remote_id, status = o.status, employment_start_date = _t(o.employment_start_date),
    application_id = o.application_id, custom_fields = {}, integration_fields = array(),
    changed_at = _t(o.changed_at), remote_deleted_at = _t(o.remote_deleted_at),
    remote_created_at = _t(o.remote_created_at), remote_updated_at = _t(o.remote_updated_at), remote_data = null,
    application = { candidate = _candidate_ref(db, a.candidate_id, false), job = _job_ref(db, a.job_id) },
  }
end

function _M.interview(db, iv)
  local a = db.applications.by_id[iv.application_id]
  local users = array()
  for i, id in ipairs(iv.user_ids) do
    local u = db.users.by_id[id]
    users[i] = { id = u.id, remote_id = u.remote_id, first_name = u.first_name, last_name = u.last_name,
      email = u.email }
  end
  return {
    id = iv.id, remote_id = iv.remote_id, title = iv.title, starting_at = _t(iv.starting_at),
    ending_at = _t(iv.ending_at), location = _location(iv.location), application_id = iv.application_id,
    stage_id = iv.stage_id, canceled = iv.canceled, remote_created_at = _t(iv.remote_created_at),
    remote_updated_at = _t(iv.remote_updated_at), remote_data = null, changed_at = _t(iv.changed_at),
    remote_deleted_at = _t(iv.remote_deleted_at), users = users,
    application = { id = a.id, remote_id = a.remote_id, outcome = a.outcome,
      rejection_reason_name = _v(a.rejection_reason_name), candidate = _candidate_ref(db, a.candidate_id, false),
      job = _job_ref(db, a.job_id) },
  }
end

--- An attachment; `with_owner` adds application_id/candidate_id (the
-- candidate attachments list carries them, the application one does not).
function _M.attachment(a, with_owner)
  local out = { id = a.id, remote_id = _v(a.remote_id), type = a.type,
    data_url = "https://resources.sandbox-company.example/" .. a.id, file_name = a.file_name,
    content_type = a.content_type, remote_created_at = _t(a.remote_created_at),
    remote_updated_at = _t(a.remote_updated_at) }
  if with_owner then
    out.application_id = _v(a.application_id)
    out.candidate_id = a.candidate_id
  end
  return out
end

return _M
