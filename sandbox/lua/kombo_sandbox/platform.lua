-- The sandbox endpoints beyond the ATS records of data.lua: the general ones
-- (API key, integrations, their fields, forced syncs, passthrough, tools),
-- connect (links and the integrations made through them), assessment
-- (packages and orders) and the rest of ATS (roles, notes, the actions'
-- attachment restrictions, scheduling interviews).
--
-- Their state lives in db.platform, seeded on first use from the database's
-- seed with a generator of its own, so the ATS data stays what it was byte
-- for byte. Every handler takes routes.handle's context and returns status,
-- payload; bodies and queries have already passed the document's rules.

local util = require("kombo_sandbox.util")

local array, null, iso, split = util.array, util.null, util.iso, util.split
local format, concat, sort = string.format, table.concat, table.sort
local ipairs, pairs, tonumber, tostring = ipairs, pairs, tonumber, tostring

local _M = {}

local DAY = 86400000
local T0 = require("kombo_sandbox.data").T0

-- The integration every sandbox request names (spec/support/sandbox.lua).
_M.INTEGRATION_ID = "sandbox:integration"

local function _ok(payload, warnings)
  return 200, { status = "success", data = payload or {}, warnings = array(warnings or {}) }
end

local function _v(x)
  if x == nil then return null end
  return x
end

local function _t(ms)
  if ms == nil then return null end
  return iso(ms)
end

-- Seed ---------------------------------------------------------------------------

local TOOLS = {
  { id = "sandbox", label = "Kombo Sandbox", category = "ATS" },
  { id = "greenhouse", label = "Greenhouse", category = "ATS" },
  { id = "personio", label = "Personio", category = "HRIS" },
  { id = "factorial", label = "Factorial", category = "HRIS" },
  { id = "codility", label = "Codility", category = "ASSESSMENT" },
}

local function _integration(p, fields)
  p.integrations[fields.id] = fields
  p.integration_order[#p.integration_order + 1] = fields.id
  return fields
end

local function _seed(db)
  local rng = util.rng((db.seed or 1) + 104729)
  local p = {
    rng = rng, environment_id = rng:id(), customer_id = rng:id(),
    integrations = {}, integration_order = {}, syncs = {}, links = {},
    integration_fields = {}, custom_fields = {}, packages = {}, orders = {}, roles = {},
  }
  _integration(p, { id = _M.INTEGRATION_ID, tool = "sandbox", category = "ATS", status = "ACTIVE",
    setup_status = "COMPLETED", created_at = T0, organization = "Sandbox Company", origin_id = "sandbox-1",
    creator_email = "admin@sandbox-company.example" })
  -- Two more, so account-level reads have something to tell apart.
  _integration(p, { id = "personio:" .. rng:id(), tool = "personio", category = "HRIS", status = "ACTIVE",
    setup_status = "COMPLETED", created_at = T0 + 10 * DAY, organization = "Sandbox Company",
    origin_id = "sandbox-1", creator_email = "admin@sandbox-company.example" })
  _integration(p, { id = "greenhouse:" .. rng:id(), tool = "greenhouse", category = "ATS", status = "INVALID",
    setup_status = "COMPLETED", created_at = T0 + 20 * DAY, organization = "Sandbox Subsidiary",
    origin_id = "sandbox-2", creator_email = null })
  local fields = {
    { "ats_candidates", "first_name", "First name", "DEFAULT" },
    { "ats_candidates", "tax_id", "Tax ID", "DEFAULT" },
    { "ats_candidates", "custom.tshirt_size", "T-Shirt Size", "CUSTOM" },
    { "ats_jobs", "custom.cost_center", "Cost center", "CUSTOM" },
    { "ats_applications", "custom.referral_bonus", "Referral bonus", "CUSTOM" },
  }
  for i, f in ipairs(fields) do
    p.integration_fields[i] = { id = rng:id(), integration_id = _M.INTEGRATION_ID, model = f[1], key = f[2],
      label = f[3], type = f[4], is_passthrough_enabled = f[4] == "DEFAULT" }
  end
  local custom = {
    { "ats_candidates", "tshirt_size", "T-Shirt Size", "Map this to the candidate's t-shirt size", 3 },
    { "ats_jobs", "cost_center", "Cost center", null, 4 },
    { "ats_candidates", "unified_tax_id", null, null, nil },
  }
  for i, c in ipairs(custom) do
    p.custom_fields[i] = { id = rng:id(), integration_id = _M.INTEGRATION_ID, model = c[1], key = c[2],
      label = c[3], description = c[4], field = c[5] and p.integration_fields[c[5]] or nil }
  end
  p.packages = {
    { id = "pkg-typescript", type = "SKILLS_TEST", name = "TypeScript", description = "TypeScript coding skills",
      updated_at = T0 },
    { id = "pkg-culture", type = "BEHAVIORAL", name = "Culture add", description = "Values and ways of working",
      updated_at = T0 },
  }
  -- Assessment orders for the first seeded applications.
  local statuses = { "OPEN", "OPEN", "OPEN", "OPEN", "COMPLETED", "CANCELLED", "OPEN", "REJECTED" }
  for i, status in ipairs(statuses) do
    local app = db.applications.items[i * 7]
    p.orders[i] = { id = rng:id(), application_id = app.id, package_id = p.packages[(i % 2) + 1].id,
      status = status, created_at = T0 + i * DAY }
  end
  local roles = {
    { "Admin", "SYSTEM", "ADMIN" }, { "Recruiter", "SYSTEM", "RECRUITER" },
    { "Hiring Manager", "JOB", "HIRING_MANAGER" }, { "Interviewer", "JOB", "INTERVIEWER" },
    { "Coordinator", "JOB", "COORDINATOR" }, { "Sourcer", "SYSTEM", "SOURCER" },
    { "Legacy Approver", "JOB", null },
  }
  for i, r in ipairs(roles) do
    p.roles[i] = { id = rng:id(), remote_id = tostring(300 + i), remote_label = r[1], scope = r[2],
      unified_type = r[3], changed_at = T0 + i * DAY, remote_deleted_at = (i == #roles) and (T0 + 40 * DAY) or nil }
  end
  return p
end

local function _state(ctx)
  local p = ctx.db.platform
  if not p then
    p = _seed(ctx.db)
    ctx.db.platform = p
  end
  return p
end

-- Lists ---------------------------------------------------------------------------


-- One page of `records` (already filtered) as views; `extra` adds fields
-- to data (next_cursor for the integration lists).
local function _page(ctx, records, view, default_size, extra)
  local q = ctx.q
  local size, hash, start = tonumber(q.page_size) or default_size or 100, util.filter_hash(q), 1
  if q.cursor then
    local idx, h = (util.b64decode(q.cursor) or ""):match("^p1:(%d+):(%x+)$")
    if not idx then return ctx.invalid("cursor", "a cursor from a previous page's data.next") end
    if h ~= hash then return ctx.invalid("cursor", "sent with the same filters as the request that returned it") end
    start = tonumber(idx) + 1
  end
  local results = array()
  for i = start, math.min(#records, start + size - 1) do results[#results + 1] = view(records[i]) end
  local nxt = null
  if start + size - 1 < #records then nxt = util.b64encode("p1:" .. (start + size - 1) .. ":" .. hash) end
  local payload = { next = nxt, results = results }
  if extra then extra(payload) end
  return 200, { status = "success", data = payload }
end

-- Records that pass the common filters of the unified lists (ids,
-- remote_ids, updated_after, include_deleted) and `more`.
local function _filter(ctx, records, more)
  local q = ctx.q
  local ids, remote_ids = split(q.ids), split(q.remote_ids)
  local after = q.updated_after and util.parse_time(q.updated_after)
  if q.updated_after and not after then
    return nil, ctx.invalid("updated_after", "an ISO 8601 date-time such as 2024-04-12T14:33:47.000Z")
  end
  local out = {}
  for _, r in ipairs(records) do
    local keep = (q.include_deleted == "true" or r.remote_deleted_at == nil)
      and (not ids or ids[r.id]) and (not remote_ids or remote_ids[r.remote_id])
      and (not after or (r.changed_at and r.changed_at > after))
      and (not more or more(r))
    if keep then out[#out + 1] = r end
  end
  return out
end

-- General -------------------------------------------------------------------------

local HANDLERS = {}
_M.HANDLERS = HANDLERS

--- The integration with this id (a table of the seed's fields), or nil.
function _M.integration(db, id)
  return _state({ db = db }).integrations[id]
end

-- How long a forced sync runs unless the sandbox was started with
-- --sync-ms: long enough that asking again answers already_queued, short
-- enough to wait for its sync-finished webhook.
_M.SYNC_MS = 2000

--- The integration's last forced sync ({ id, type, at, ends }, ms), or nil.
function _M.sync(db, id)
  return _state({ db = db }).syncs[id]
end

function HANDLERS.check_api_key(ctx)
  local p = _state(ctx)
  return 200, { status = "success", data = { environment_id = p.environment_id, customer_id = p.customer_id } }
end

-- The integration a path or header names, or the 404 answer.
local function _find_integration(ctx, id)
  local i = _state(ctx).integrations[id]
  if i then return i end
  return nil, ctx.err(404, "PLATFORM.INTEGRATION_NOT_FOUND", format("No integration with id %s exists.", tostring(id)))
end

local READ_MODELS = {
  ATS = { { "ats_jobs", "Jobs" }, { "ats_candidates", "Candidates" }, { "ats_applications", "Applications" } },
  HRIS = { { "hris_employees", "Employees" }, { "hris_teams", "Groups" } },
  ASSESSMENT = { { "assessment_orders", "Orders" } },
}

local function _tool_ref(id)
  local label = id
  for _, t in ipairs(TOOLS) do
    if t.id == id then label = t.label end
  end
  local base = "https://storage.googleapis.com/kombo-assets/integrations/" .. id
  return { id = id, label = label, internal_label = null, logo_url = base .. "/logo.svg",
    icon_url = base .. "/icon.svg" }
end

local function _details(i)
  local models = array()
  for k, m in ipairs(READ_MODELS[i.category] or {}) do
    models[k] = { id = m[1], label = m[2], is_available = i.status == "ACTIVE", coverage_status = "SUPPORTED",
      scope_config_setting = "ENABLED", opted_out_by_customer = false,
      fields = array({ { id = "remote_id", is_available = true, coverage_status = "SUPPORTED",
        scope_config_setting = "ENABLED", opted_out_by_customer = false } }) }
  end
  return {
    id = i.id, tool = _tool_ref(i.tool), category = i.category, status = i.status, setup_status = i.setup_status,
    end_user = { organization_name = i.organization, creator_email = _v(i.creator_email), origin_id = _v(i.origin_id) },
    scope_config = { id = "sandbox-scopes", name = "Sandbox scopes" }, created_at = iso(i.created_at),
    beta = false, read_models = models,
  }
end

function HANDLERS.get_integration_details(ctx)
  local i, status, env = _find_integration(ctx, ctx.params[1])
  if not i then return status, env end
  return 200, { status = "success", data = _details(i) }
end

-- A sync stays queued in the sandbox (nothing runs it), so asking again
-- answers already_queued with the same sync_id, as Kombo does while one waits.
function HANDLERS.trigger_sync(ctx)
  local p = _state(ctx)
  local id = ctx.headers["x-integration-id"]
  local i, status, env = _find_integration(ctx, id)
  if not i then return status, env end
  if i.status ~= "ACTIVE" then
    return ctx.err(400, "INTEGRATION.INACTIVE", format("The integration %s is %s and cannot sync.", i.id, i.status))
  end
  local kind = (ctx.body and ctx.body.type) or "DELTA"
  -- One sync at a time per integration, as Kombo: a new one once the
  -- last has ended.
  local queued = p.syncs[i.id]
  if queued and ctx.now < queued.ends then
    return _ok({ already_queued = true, sync_id = queued.id, type = queued.type })
  end
  queued = { id = p.rng:id(), type = kind, at = ctx.now, ends = ctx.now + (ctx.db.sync_ms or _M.SYNC_MS) }
  p.syncs[i.id] = queued
  return _ok({ already_queued = false, sync_id = queued.id, type = kind })
end

-- The tool's answer is an echo of what it was sent, so a passthrough call
-- can be checked end to end.
function HANDLERS.send_passthrough_request(ctx)
  local b = ctx.body
  local tool, api = ctx.params[1], ctx.params[2]
  local query = {}
  local keys = {}
  for k in pairs(b.params or {}) do keys[#keys + 1] = k end
  sort(keys)
  for _, k in ipairs(keys) do query[#query + 1] = k .. "=" .. tostring(b.params[k]) end
  local url = "https://passthrough.sandbox-company.example/" .. tool .. "/" .. api .. b.path
    .. (#query > 0 and ("?" .. concat(query, "&")) or "")
  url = url:gsub("[^%w%-%._~:/%?#%[%]@!%$&'%(%)%*%+,;=%%]", function(c) return format("%%%02X", c:byte()) end)
  return _ok({
    url = url, status = 200, headers = { ["content-type"] = "application/json" },
    data = { method = b.method, path = b.path, headers = b.headers or {}, params = b.params or {},
      data = b.data == nil and null or b.data },
  })
end

local function _field_view(f)
  return { id = f.id, key = f.key, model = f.model, type = f.type, label = _v(f.label), is_writable = false,
    is_passthrough_enabled = f.is_passthrough_enabled }
end

local function _next_cursor(payload) payload.next_cursor = payload.next end

function HANDLERS.get_integration_fields(ctx)
  local i, status, env = _find_integration(ctx, ctx.params[1])
  if not i then return status, env end
  local list = {}
  for _, f in ipairs(_state(ctx).integration_fields) do
    if f.integration_id == i.id then list[#list + 1] = f end
  end
  return _page(ctx, list, _field_view, 100, _next_cursor)
end

function HANDLERS.update_integration_field(ctx)
  local i, status, env = _find_integration(ctx, ctx.params[1])
  if not i then return status, env end
  for _, f in ipairs(_state(ctx).integration_fields) do
    if f.integration_id == i.id and f.id == ctx.params[2] then
      if ctx.body.enable_passthrough ~= null then f.is_passthrough_enabled = ctx.body.enable_passthrough end
      return 200, { status = "success", data = _field_view(f) }
    end
  end
  return ctx.err(404, "PLATFORM.INPUT_INVALID", format("No integration field with id %s exists.", ctx.params[2]))
end

local function _custom_view(c)
  local f = c.field
  return { id = c.id, key = c.key, model = c.model, label = _v(c.label), description = _v(c.description),
    integration_field = f and { id = f.id, key = f.key, type = f.type, label = _v(f.label) } or null }
end

function HANDLERS.get_custom_fields(ctx)
  local i, status, env = _find_integration(ctx, ctx.params[1])
  if not i then return status, env end
  local list = {}
  for _, c in ipairs(_state(ctx).custom_fields) do
    if c.integration_id == i.id then list[#list + 1] = c end
  end
  return _page(ctx, list, _custom_view, 100, _next_cursor)
end

function HANDLERS.update_custom_field_mapping(ctx)
  local i, status, env = _find_integration(ctx, ctx.params[1])
  if not i then return status, env end
  local p = _state(ctx)
  for _, c in ipairs(p.custom_fields) do
    if c.integration_id == i.id and c.id == ctx.params[2] then
      local field_id = ctx.body.integration_field_id
      if field_id == null then
        c.field = nil
      else
        local found
        for _, f in ipairs(p.integration_fields) do
          if f.integration_id == i.id and f.id == field_id then found = f end
        end
        if not found then
          return ctx.invalid("body.integration_field_id", "the id of one of this integration's integration fields")
        end
        c.field = found
      end
      return 200, { status = "success", data = _custom_view(c) }
    end
  end
  return ctx.err(404, "PLATFORM.INPUT_INVALID", format("No custom field with id %s exists.", ctx.params[2]))
end

function HANDLERS.get_tools(ctx)
  local category = ctx.params[1]:upper()
  local tools = array()
  for _, t in ipairs(TOOLS) do
    if t.category == category then
      local base = "https://storage.googleapis.com/kombo-assets/integrations/" .. t.id
      local models = array()
      for k, m in ipairs(READ_MODELS[category] or {}) do
        models[k] = { id = m[1], label = m[2], coverage_status = "SUPPORTED",
          fields = array({ { id = "remote_id", coverage_status = "SUPPORTED" } }) }
      end
      tools[#tools + 1] = {
        id = t.id, label = t.label, internal_label = null,
        assets = { logo_url = base .. "/logo.svg", icon_url = base .. "/icon.svg",
          icon_black_url = base .. "/icon-black.svg" },
        connection_guide_url = "https://help.kombo.dev/hc/en-us/articles/" .. t.id,
        fast_track_details_markdown = null, paid_api_details_markdown = null, partner_only_details_markdown = null,
        coverage = { read_models = models, write_actions = array(), features = array() },
      }
    end
  end
  return 200, { status = "success", data = { tools = tools } }
end

-- Connect -------------------------------------------------------------------------

-- A link makes an integration right away, waiting for its setup; the token
-- in the link finds it.
function HANDLERS.create_connection_link(ctx)
  local p = _state(ctx)
  local b = ctx.body
  local token = p.rng:id() .. p.rng:id()
  local tool = b.integration_tool ~= nil and b.integration_tool ~= null and b.integration_tool or "sandbox"
  local category = b.integration_category or "ATS"
  local i = _integration(p, { id = tool .. ":" .. p.rng:id(), tool = tool, category = category, status = "ACTIVE",
    setup_status = "INCOMPLETE", created_at = ctx.now, organization = b.end_user_organization_name,
    origin_id = b.end_user_origin_id ~= null and b.end_user_origin_id or nil, creator_email = b.end_user_email,
    email = b.end_user_email })
  p.links[token] = i
  return 200, { status = "success", data = { link = "https://connect.kombo.dev/v1?token=" .. token } }
end

function HANDLERS.get_integration_by_token(ctx)
  local i = _state(ctx).links[ctx.params[1]]
  if not i then return ctx.err(404, "PLATFORM.INPUT_INVALID", "No connection link has this token.") end
  return 200, { status = "success", data = { id = i.id, tool = i.tool, setup_status = i.setup_status,
    end_user_organization_name = i.organization, end_user_email = _v(i.email), end_user_origin_id = _v(i.origin_id) } }
end

-- Assessment ----------------------------------------------------------------------

function HANDLERS.get_packages(ctx)
  local out = array()
  for k, pk in ipairs(_state(ctx).packages) do
    out[k] = { id = pk.id, type = pk.type, name = pk.name, description = pk.description,
      updated_at = _t(pk.updated_at) }
  end
  return 200, { status = "success", data = { packages = out } }
end

-- The packages given replace the ones there were.
function HANDLERS.set_packages(ctx)
  local p = _state(ctx)
  local seen, list = {}, {}
  for k, pk in ipairs(ctx.body.packages) do
    if seen[pk.id] then return ctx.invalid("body.packages[" .. k .. "].id", "an id no other package has") end
    seen[pk.id] = true
    list[k] = { id = pk.id, type = pk.type, name = pk.name, description = pk.description, updated_at = ctx.now }
  end
  p.packages = list
  return _ok()
end

local function _order_view(db, full)
  return function(o)
    local app = db.applications.by_id[o.application_id]
    local cand = db.candidates.by_id[app.candidate_id]
    local job = db.jobs.by_id[app.job_id]
    local team = array()
    for k, member in ipairs(job.hiring_team or {}) do
      team[k] = { remote_id = member.user.remote_id, email = member.user.email, first_name = member.user.first_name,
        last_name = member.user.last_name, hiring_team_roles = array({ member.role }) }
    end
    local loc = job.location
    local out = {
      id = o.id, package_id = o.package_id,
      candidate = { email = cand.email, first_name = cand.first_name, last_name = cand.last_name,
        phone = _v(cand.phone), remote_id = _v(cand.remote_id) },
      application = { remote_id = _v(app.remote_id) },
      job = { remote_id = _v(job.remote_id), name = _v(job.name), hiring_team = team,
        location = loc and { city = _v(loc.city), country = _v(loc.country), raw = _v(loc.raw), state = _v(loc.state),
          street_1 = _v(loc.street_1), street_2 = _v(loc.street_2), zip_code = _v(loc.zip_code) } or null },
    }
    if full then
      out.status = o.status
      out.job.job_code = _v(job.job_code)
      out.job.description = _v(job.description)
    end
    return out
  end
end

function HANDLERS.get_open_orders(ctx)
  local list = {}
  for _, o in ipairs(_state(ctx).orders) do
    if o.status == "OPEN" then list[#list + 1] = o end
  end
  return _page(ctx, list, _order_view(ctx.db, false), 100)
end

function HANDLERS.get_assessment_orders(ctx)
  local q = ctx.q
  local ids, statuses = split(q.ids), split(q.statuses)
  local after = q.created_after and util.parse_time(q.created_after)
  local list = {}
  for _, o in ipairs(_state(ctx).orders) do
    if (not ids or ids[o.id]) and (not statuses or statuses[o.status]) and (not after or o.created_at > after) then
      list[#list + 1] = o
    end
  end
  return _page(ctx, list, _order_view(ctx.db, true), 100)
end

-- A result moves an OPEN order to its status once; a finished order keeps it.
function HANDLERS.update_order_result(ctx)
  local order
  for _, o in ipairs(_state(ctx).orders) do
    if o.id == ctx.params[1] then order = o end
  end
  if not order then
    return ctx.err(404, "PLATFORM.INPUT_INVALID", format("No assessment order with id %s exists.", ctx.params[1]))
  end
  local b = ctx.body
  if b.status ~= order.status and order.status ~= "OPEN" then
    return ctx.invalid("body.status", format("%s: the order is %s already, and only an OPEN order changes status",
      b.status, order.status))
  end
  if (b.status == "COMPLETED" or b.status == "CANCELLED") and b.completed_at == nil then
    return ctx.invalid("body.completed_at", "a date-time when the status is COMPLETED or CANCELLED")
  end
  order.status, order.result_url, order.score, order.max_score = b.status, b.result_url, b.score, b.max_score
  order.completed_at = b.completed_at
  return _ok()
end

-- ATS -------------------------------------------------------------------------------

local function _role_view(r)
  return { id = r.id, remote_id = r.remote_id, remote_label = r.remote_label, scope = r.scope,
    unified_type = r.unified_type, changed_at = iso(r.changed_at), remote_deleted_at = _t(r.remote_deleted_at) }
end

function HANDLERS.get_roles(ctx)
  local scopes = split(ctx.q.scopes)
  local list, status, env = _filter(ctx, _state(ctx).roles, function(r) return not scopes or scopes[r.scope] end)
  if not list then return status, env end
  return _page(ctx, list, _role_view, 100)
end

-- Notes are the ones add_application_note and reject_application wrote.
local function _html(s)
  return "<p>" .. s:gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" })
    :gsub("\n", "<br>") .. "</p>"
end

function HANDLERS.get_notes(ctx)
  local db = ctx.db
  local records = {}
  for k, n in ipairs(db.notes.items) do
    local app = db.applications.by_id[n.application_id]
    records[k] = { id = n.id, remote_id = "note-" .. k, application_id = n.application_id,
      candidate_id = app and app.candidate_id, content = n.content, changed_at = n.created_at,
      created_at = n.created_at }
  end
  local cands, apps = split(ctx.q.candidate_ids), split(ctx.q.application_ids)
  local list, status, env = _filter(ctx, records, function(n)
    return (not cands or cands[n.candidate_id]) and (not apps or apps[n.application_id])
  end)
  if not list then return status, env end
  return _page(ctx, list, function(n)
    return { id = n.id, remote_id = n.remote_id, candidate_id = n.candidate_id, application_id = _v(n.application_id),
      title = null, content_html = _html(n.content), author_id = null, author = null, is_private = false,
      remote_created_at = iso(n.created_at), remote_updated_at = iso(n.created_at), changed_at = iso(n.changed_at),
      remote_deleted_at = null, remote_data = null }
  end, 100)
end

-- What the sandbox integration accepts as attachments: the actions' answer.
local CV_TYPES = { "application/pdf", "application/msword",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document" }

local function _restrictions(with_amounts)
  local function supported(max_bytes, types, min, max)
    local t = { is_supported = true, max_file_size_bytes = _v(max_bytes), accepted_mime_types = types and array(types)
      or null }
    if with_amounts then t.min_amount, t.max_amount = _v(min), _v(max) end
    return t
  end
  local r = { types = {
    CV = supported(10000000, CV_TYPES, 0, 1),
    COVER_LETTER = supported(nil, nil, 0, nil),
    OTHER = { is_supported = false },
  } }
  if with_amounts then r.total_size_bytes = 20000000 end
  return r
end

function HANDLERS.get_create_candidate_action()
  return 200, { status = "success", data = { attachment_restrictions = _restrictions(true) } }
end
HANDLERS.get_create_application_action = HANDLERS.get_create_candidate_action

function HANDLERS.get_add_application_attachment_action()
  return 200, { status = "success", data = { attachment_restrictions = _restrictions(false) } }
end
HANDLERS.get_add_candidate_attachment_action = HANDLERS.get_add_application_attachment_action

-- Scheduling: the interview joins get_interviews as the seeded ones do.
local function _interview_fields(ctx, iv)
  local b, db = ctx.body, ctx.db
  local start, stop = util.parse_time(b.start_time), util.parse_time(b.end_time)
  if not start then return ctx.invalid("body.start_time", "an ISO 8601 date-time such as 2024-04-12T14:33:47.000Z") end
  if not stop then return ctx.invalid("body.end_time", "an ISO 8601 date-time such as 2024-04-12T14:33:47.000Z") end
  if stop <= start then return ctx.invalid("body.end_time", "a time after start_time") end
  for k, id in ipairs(b.interviewer_user_ids) do
    if not db.users.by_id[id] then
      return ctx.invalid("body.interviewer_user_ids[" .. k .. "]", "the id of a user from get_users")
    end
  end
  if not db.users.by_id[b.organizer_user_id] then
    return ctx.invalid("body.organizer_user_id", "the id of a user from get_users")
  end
  iv.title, iv.starting_at, iv.ending_at = b.title, start, stop
  iv.location = b.location.type == "PHYSICAL" and { raw = b.location.address } or nil
  iv.user_ids = {}
  for k, id in ipairs(b.interviewer_user_ids) do iv.user_ids[k] = id end
  iv.remote_updated_at, iv.changed_at = ctx.now, ctx.now
  return nil
end

local function _application(ctx)
  local app = ctx.db.applications.by_id[ctx.params[1]]
  if app and app.remote_deleted_at == nil then return app end
  return nil, ctx.err(404, "PLATFORM.INPUT_INVALID", format("No application with id %s exists.", ctx.params[1]))
end

function HANDLERS.create_interview(ctx)
  local app, status, env = _application(ctx)
  if not app then return status, env end
  local db = ctx.db
  local iv = { id = db.rng:id(), remote_id = tostring(180000 + #db.interviews.items), application_id = app.id,
    stage_id = app.stage_id, canceled = false, remote_created_at = ctx.now }
  local s, e = _interview_fields(ctx, iv)
  if s then return s, e end
  db.interviews.items[#db.interviews.items + 1] = iv
  db.interviews.by_id[iv.id] = iv
  app.interview_ids[#app.interview_ids + 1] = iv.id
  return _ok()
end

function HANDLERS.update_interview(ctx)
  local app, status, env = _application(ctx)
  if not app then return status, env end
  local iv = ctx.db.interviews.by_id[ctx.body.interview_id]
  if not iv or iv.application_id ~= app.id or iv.remote_deleted_at then
    return ctx.err(404, "PLATFORM.INPUT_INVALID", format("Application %s has no interview with id %s.", app.id,
      tostring(ctx.body.interview_id)))
  end
  local s, e = _interview_fields(ctx, iv)
  if s then return s, e end
  return _ok()
end

return _M
