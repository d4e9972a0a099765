-- kombo: the Lua SDK for Kombo's unified ATS API.
--
--   local kombo = require("kombo")
--   local client = assert(kombo.new({ api_key = ..., integration_id = ... }))
--   local page = assert(client.ats:get_jobs({ status = "OPEN" }))
--
-- This file is the public entry point: construction, kombo.null,
-- kombo.meta, the attachment helper, tasks, and the version.

local client = require("kombo.client")
local meta = require("kombo.meta")
local core = require("kombo.core")
local cjson = require("cjson")
local drivers = require("kombo.drivers")

local _M = {
  VERSION = client.VERSION,
  --- JSON null, in results and in bodies you send.
  null = cjson.null,
}

--- kombo.new(opts) -> client | nil, err
_M.new = client.new

--- kombo.meta(result_or_err) -> { status, headers, attempts, elapsed_ms } | nil
_M.meta = meta.get

--- kombo.spawn(fn, ...): a task; operations inside it yield, not block
-- (inside nginx: a light thread of the request).
_M.spawn = drivers.spawn

--- kombo.run(): drive every spawned task to completion (plain Lua; inside
-- nginx it waits for the request's light threads).
_M.run = drivers.run

local CONTENT_TYPES = {
  pdf = "application/pdf", doc = "application/msword",
  docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  txt = "text/plain", rtf = "application/rtf", odt = "application/vnd.oasis.opendocument.text",
  png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", html = "text/html",
}

--- kombo.attachment(path, fields) -> attachment table | nil, err
-- Reads a file and returns { name, content_type, data (base64), type },
-- ready for the `attachment` body field. `fields` may set name,
-- content_type and type (default "CV").
function _M.attachment(path, fields)
  fields = fields or {}
  local f, ferr = io.open(path, "rb")
  if not f then
    return nil, require("kombo.errors").invalid("path", "a readable file (" .. tostring(ferr) .. ")")
  end
  local bytes = f:read("*a")
  f:close()
  local name = fields.name or path:match("([^/\\]+)$")
  local ext = (name:match("%.([%w]+)$") or ""):lower()
  return {
    name = name,
    content_type = fields.content_type or CONTENT_TYPES[ext] or "application/octet-stream",
    data = core.b64encode(bytes),
    type = fields.type or "CV",
  }
end

return _M
