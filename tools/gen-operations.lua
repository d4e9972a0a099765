-- Generates everything derived from the documents in reference/:
--
--   lua/kombo/operations.lua          the groups (always loaded)
--   lua/kombo/operations/<group>.lua  each group's operations as data
--   lua/kombo/operations/shared.lua   schemas several groups share
--   lua/kombo/operations/cli/<group>.lua  what the kombo command adds: prose, result shapes
--   docs/operations.md                the operation reference
--   library/kombo.lua                 LuaLS (LuaCATS) annotations
--   lua/kombo/webhook_events.lua      the payload schema of each webhook event
--
-- Usage (or `make operations`):
--   lua5.4 tools/gen-operations.lua [--reference DIR] [--out DIR] [--check]
-- --reference defaults to reference/, --out to the checkout. --check writes
-- nothing and exits 1 when a committed file differs from what would be
-- written. Output is deterministic: a re-run over the same documents is
-- byte-identical (spec/generated_spec.lua checks it).
--
-- Which operations exist, and their groups and names, comes from the
-- documents alone (see tools/genlib/model.lua); nothing here lists them.

local root = (arg and arg[0] or ""):match("^(.*)/tools/[^/]+$") or "."
package.path = root .. "/tools/?.lua;" .. root .. "/lua/?.lua;" .. package.path

local model = require("genlib.model")
local luatable = require("genlib.luatable")
local docs = require("genlib.docs")
local annotations = require("genlib.annotations")
local webhooks = require("genlib.webhooks")
local cli = require("genlib.cli")

local function _usage()
  io.stderr:write("usage: gen-operations.lua [--reference DIR] [--out DIR] [--check]\n")
  os.exit(2)
end

local function _read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function _write(path, text)
  local dir = path:match("^(.*)/[^/]+$")
  if dir then os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'") end
  local tmp = path .. ".tmp"
  local f = assert(io.open(tmp, "wb"))
  f:write(text)
  f:close()
  assert(os.rename(tmp, path))
end

local function main(args)
  local reference, out, check = root .. "/reference", root, false
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--reference" and args[i + 1] then
      reference, i = args[i + 1], i + 2
    elseif a == "--out" and args[i + 1] then
      out, i = args[i + 1], i + 2
    elseif a == "--check" then
      check, i = true, i + 1
    else
      _usage()
    end
  end
  local ok, m = pcall(model.load, reference)
  if not ok then
    io.stderr:write("gen-operations: ", type(m) == "table" and m.message or tostring(m), "\n")
    os.exit(1)
  end
  local files = luatable.files(m)
  files["docs/operations.md"] = docs.text(m)
  files["library/kombo.lua"] = annotations.text(m)
  files["lua/kombo/webhook_events.lua"] = webhooks.text(m)
  for rel, text in pairs(cli.files(m)) do files[rel] = text end
  local names = model.sorted_keys(files)
  local stale = 0
  for _, rel in ipairs(names) do
    local path = out .. "/" .. rel
    if _read(path) ~= files[rel] then
      if check then
        io.stderr:write(rel, " is stale; run `make operations`\n")
        stale = stale + 1
      else
        _write(path, files[rel])
      end
    end
  end
  os.exit(stale == 0 and 0 or 1)
end

main(arg or {})
