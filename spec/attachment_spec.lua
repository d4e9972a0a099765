-- kombo.attachment with an integration's attachment restrictions, as the
-- /ats/actions/* reads return them: a file the integration would refuse
-- (too large, a content type it does not accept, a type it does not take)
-- fails before anything is read or sent, with an invalid_request error
-- that says which limit; what the integration leaves unknown is not checked.

package.path = "tools/?.lua;" .. package.path

local kombo = require("kombo")
local cjson = require("cjson")
local model = require("genlib.model")
local sandbox = require("support.sandbox")

local NULL = kombo.null

-- The documented example of GET /ats/actions/ats_create_candidate: CV at
-- most 10000000 bytes, PDF or Word; COVER_LETTER unknown limits; OTHER not
-- supported.
local CREATE_CANDIDATE
do -- the documents are large: only the example stays referenced
  for _, op in ipairs(model.load("reference").groups.ats) do
    if op.name == "get_create_candidate_action" then CREATE_CANDIDATE = op.example end
  end
end

local function temp_file(size, ext)
  local path = os.tmpname() .. (ext or ".pdf")
  local f = assert(io.open(path, "wb"))
  local chunk = ("%PDF-1.4 "):rep(1024)
  local left = size
  while left > 0 do
    local n = math.min(left, #chunk)
    f:write(chunk:sub(1, n))
    left = left - n
  end
  f:close()
  return path
end

describe("kombo.attachment with restrictions", function()
  local files = {}
  local function file(size, ext)
    local p = temp_file(size, ext)
    files[#files + 1] = p
    return p
  end
  teardown(function()
    for _, p in ipairs(files) do os.remove(p) end
  end)

  it("refuses a CV over the integration's limit, naming it", function()
    local path = file(10000001)
    local att, err = kombo.attachment(path, { name = "cv.pdf" }, CREATE_CANDIDATE)
    assert.is_nil(att)
    assert.equal("invalid_request", err.kind)
    assert.equal("too_large", err.reason)
    assert.equal("path", err.field)
    assert.equal("path: a file of at most 10000000 bytes for a CV (this integration's limit): cv.pdf has 10000001",
      err.message)
    assert.matches("^kombo: invalid request %(too_large%): path: a file of at most 10000000 bytes", tostring(err))
  end)

  it("takes a CV at the limit, and the restrictions in any of their wrappings", function()
    local path = file(10000000)
    for _, r in ipairs({ CREATE_CANDIDATE, CREATE_CANDIDATE.data, CREATE_CANDIDATE.data.attachment_restrictions }) do
      local att = assert(kombo.attachment(path, nil, r))
      assert.equal("CV", att.type)
      assert.equal("application/pdf", att.content_type)
      assert.equal(math.ceil(10000000 / 3) * 4, #att.data)
    end
  end)

  it("refuses a content type the integration does not accept for the type", function()
    local path = file(100, ".png")
    local _, err = kombo.attachment(path, nil, CREATE_CANDIDATE)
    assert.equal("content_type_not_accepted", err.reason)
    assert.equal("content_type", err.field)
    assert.equal("content_type: one of application/pdf, application/msword for a CV (what this integration"
      .. " accepts), got image/png", err.message)
    -- The type given in fields is the one checked.
    assert(kombo.attachment(path, { content_type = "application/msword" }, CREATE_CANDIDATE))
  end)

  it("refuses a type the integration does not support", function()
    local _, err = kombo.attachment(file(10), { type = "OTHER" }, CREATE_CANDIDATE)
    assert.equal("type_not_supported", err.reason)
    assert.equal("type", err.field)
    assert.matches("it takes no OTHER attachments", err.message, 1, true)
  end)

  it("checks nothing the integration leaves unknown", function()
    -- COVER_LETTER: max_file_size_bytes and accepted_mime_types are null.
    local types = CREATE_CANDIDATE.data.attachment_restrictions.types
    assert(kombo.attachment(file(12000000, ".png"), { type = "COVER_LETTER" }, {
      attachment_restrictions = { total_size_bytes = NULL, types = types },
    }))
    assert(kombo.attachment(file(10), nil, { data = { attachment_restrictions = NULL } }))
    assert(kombo.attachment(file(10), nil, {}))
  end)

  it("refuses a file larger than the total of all attachments", function()
    local _, err = kombo.attachment(file(2001), { type = "COVER_LETTER" }, { total_size_bytes = 2000,
      types = { COVER_LETTER = { is_supported = true, max_file_size_bytes = NULL, accepted_mime_types = NULL } } })
    assert.equal("too_large", err.reason)
    assert.matches("at most 2000 bytes (this integration's limit for all attachments together)", err.message, 1, true)
  end)

  it("refuses fields or restrictions of the wrong type, naming them", function()
    for _, c in ipairs({ { 5, nil, "fields" }, { { name = 3 }, nil, "fields.name" },
      { { type = "" }, nil, "fields.type" }, { nil, "CV", "restrictions" } }) do
      local ok, att, err = pcall(kombo.attachment, file(10), c[1], c[2])
      assert.is_true(ok, tostring(att))
      assert.is_nil(att)
      assert.equal("invalid_request", err.kind)
      assert.equal(c[3], err.field)
    end
  end)

  it("refuses a field it does not know, naming the closest one, before the restrictions", function()
    local no_cv = { types = { CV = { is_supported = false }, COVER_LETTER = { is_supported = true } } }
    for _, c in ipairs({
      { { typ = "COVER_LETTER" }, "fields.typ", "fields.typ: not a known field (did you mean type?)" },
      { { Type = "COVER_LETTER" }, "fields.Type", "fields.Type: not a known field (did you mean type?)" },
      { { content = "application/pdf" }, "fields.content",
        "fields.content: not a known field (did you mean content_type?)" },
      { { filename = "a.pdf", type = "COVER_LETTER" }, "fields.filename",
        "fields.filename: not a known field (name, content_type, type)" },
      { { type = "COVER_LETTER", "x" }, "fields.1", "fields.1: not a known field (name, content_type, type)" },
    }) do
      local att, err = kombo.attachment(file(10), c[1], no_cv)
      assert.is_nil(att)
      assert.equal("invalid_request", err.kind)
      assert.is_nil(err.reason)
      assert.equal(c[2], err.field)
      assert.equal(c[3], err.message)
    end
  end)

  it("takes a limit that is not a whole number, and skips accepted types that are not strings", function()
    -- Restrictions come straight from a decoded response: whatever it holds
    -- is a clear answer, never a raw error.
    local function cv(limits) return { types = { CV = limits } } end
    local _, err = kombo.attachment(file(2), nil, cv({ max_file_size_bytes = 1.5 }))
    assert.equal("too_large", err.reason)
    assert.equal("path: a file of at most 1.5 bytes for a CV (this integration's limit): "
      .. err.message:match("[^ ]+ has 2$"), err.message)
    assert(kombo.attachment(file(1), nil, cv({ max_file_size_bytes = 1.5 })))
    _, err = kombo.attachment(file(10, ".png"), nil, cv({ accepted_mime_types = { NULL, {}, 7, "application/pdf" } }))
    assert.equal("content_type_not_accepted", err.reason)
    assert.equal("content_type: one of application/pdf for a CV (what this integration accepts), got image/png",
      err.message)
    assert(kombo.attachment(file(10), nil, cv({ accepted_mime_types = { NULL, "application/pdf" } })))
    -- A list without a type in it leaves them unknown, as null does.
    assert(kombo.attachment(file(10, ".png"), nil, cv({ accepted_mime_types = { NULL } })))
  end)

  it("refuses a NUL in the path or a field: the file read would not be the one named", function()
    local secret = file(10, ".txt")
    local att, err = kombo.attachment(secret .. "\0/cv.pdf")
    assert.is_nil(att)
    assert.equal("invalid_request", err.kind)
    assert.equal("path", err.field)
    assert.equal("path: the path of a file to attach, a non-empty string without NUL", err.message)
    for _, k in ipairs({ "name", "content_type", "type" }) do
      att, err = kombo.attachment(secret, { [k] = "cv.pdf\0.txt" })
      assert.is_nil(att)
      assert.equal("fields." .. k, err.field)
      assert.equal("fields." .. k .. ": a non-empty string without NUL", err.message)
    end
  end)

  it("still reports a directory or a missing file first", function()
    local _, err = kombo.attachment("/tmp", nil, CREATE_CANDIDATE)
    assert.equal("path", err.field)
    assert.matches("not a directory", err.message, 1, true)
    _, err = kombo.attachment("/no/such/file.pdf", nil, CREATE_CANDIDATE)
    assert.matches("a readable file", err.message, 1, true)
  end)

  it("an oversized CV fails after the action read and before the upload: nothing else is sent", function()
    local sb = sandbox.start()
    local client = sb:client()
    sb:fault({ path = "/v1/ats/actions/ats_add_candidate_attachment", status = 200, body = cjson.encode({
      status = "success", data = { attachment_restrictions = { types = {
        CV = { is_supported = true, max_file_size_bytes = 5000, accepted_mime_types = { "application/pdf" } },
        COVER_LETTER = { is_supported = false }, OTHER = { is_supported = false } } } } }) })
    local limits = assert(client.ats:get_add_candidate_attachment_action())
    local cv, err = kombo.attachment(file(5001), { name = "jane.pdf" }, limits)
    if cv then assert(client.ats:add_candidate_attachment({ candidate_id = "C1", body = { attachment = cv } })) end
    assert.is_nil(cv)
    assert.equal("too_large", err.reason)
    assert.equal("path: a file of at most 5000 bytes for a CV (this integration's limit): jane.pdf has 5001",
      err.message)
    local list = sb:requests()
    assert.equal(1, #list)
    assert.equal("/v1/ats/actions/ats_add_candidate_attachment", list[1].path)
    client:close()
    sb:stop()
  end)
end)
