-- The `kombo` command (bin/kombo): any operation of the SDK from the shell.
--
--   kombo [options] GROUP OPERATION [--PARAMETER VALUE ...] [options]
--
-- Names come from the operation table: groups as the SDK has them (ats,
-- hris, ai_apply, ...), operations and parameters in kebab-case (get-jobs,
-- --page-size); the help texts are made from the same table and the prose
-- `make operations` writes beside it (lua/kombo/operations/cli/). Everything
-- is checked before a request goes out: a usage error exits 2, a call that
-- failed exits 1. README "Command line" is the user's contract.

local kombo = require("kombo")
local operations = require("kombo.operations")
local build = require("kombo.build")
local schema = require("kombo.schema")
local core = require("kombo.core")

local type, ipairs, pairs, next, tostring, tonumber, pcall = type, ipairs, pairs, next, tostring, tonumber, pcall
local getmetatable, setmetatable, error = getmetatable, setmetatable, error
local concat, sort = table.concat, table.sort

local _M = {}

-- Exit statuses (README "Command line").
local OK, FAILED, USAGE = 0, 1, 2

-- A person at a terminal waits seconds, not the library's five minutes.
local DEFAULT_MAX_TIME = 30
local MAX_SECONDS = 2147483 -- libcurl's millisecond timeouts are a C long

-- Help lines are cut here, so none wraps on a wide terminal.
local HELP_WIDTH = 100

local OUTPUTS = { "json", "jsonl", "csv" }

-- The tool's own options: name -> the word shown for its value (false for
-- a switch). An operation's parameter of the same name wins over these.
local OPTIONS = {
  all = false, help = false, version = false,
  output = "FORMAT", body = "JSON|@FILE|-", ["max-time"] = "SECONDS",
  ["api-key"] = "KEY", ["integration-id"] = "ID", ["server-url"] = "URL", server = "eu|us",
}
local OPTION_HELP = {
  { "all", "walk every page of a paginated operation" },
  { "output", "json, jsonl or csv (default json; jsonl with --all)" },
  { "body", "the request body: JSON text, @ and a file's path, or - for standard input" },
  { "max-time", "bound on each call, its retries and waits included (default " .. DEFAULT_MAX_TIME .. ")" },
  { "api-key", "the API key (default $KOMBO_API_KEY)" },
  { "integration-id", "the integration (default $KOMBO_INTEGRATION_ID)" },
  { "server-url", "the API's base URL (default $KOMBO_SERVER_URL)" },
  { "server", "Kombo's EU or US server (default $KOMBO_SERVER, else eu)" },
  { "help", "this text; `kombo GROUP --help`, `kombo GROUP OPERATION --help`" },
  { "version", "the SDK's version and the interpreter's" },
}

local function kebab(name) return (name:gsub("_", "-")) end
local function snake(name) return (name:gsub("-", "_")) end

-- A usage error: the message and the exit status, raised to main.
local Usage = {}
local function usage(message)
  error(setmetatable({ message = message }, Usage), 0)
end

-- Output that cannot be written (a full disk, a closed descriptor): the
-- message, raised to main, which exits 1.
local Unwritable = {}

-- `stream` whose writes raise when they fail, so a lost output is never
-- an exit status of 0.
local function checked(stream)
  local function check(ok, err)
    if not ok then error(setmetatable({ message = "cannot write the output: " .. tostring(err) }, Unwritable), 0) end
  end
  return {
    write = function(_, ...) check(stream:write(...)) end,
    flush = function() if stream.flush then check(stream:flush()) end end,
  }
end

local closest_note = build.did_you_mean

-- Operations -----------------------------------------------------------

local function find_group(word)
  local g = snake(word)
  if operations.load(g) then return g end
  usage(("no group %s%s; the groups are %s"):format(word, closest_note(g, operations.groups),
    concat(operations.groups, ", ")))
end

local function find_operation(group, word)
  local names = {}
  for _, op in ipairs(operations.load(group)) do
    if op.name == snake(word) or op.alias == word then return op end
    names[#names + 1] = kebab(op.name)
  end
  usage(("%s has no operation %s%s (kombo %s --help lists them)"):format(group, word,
    closest_note(kebab(word), names), group))
end

-- The operation's parameters, in order and by kebab-case flag name:
-- { name, where = "path" | "query", schema, list, boolean, required }.
local function parameters(op)
  local list, by_flag = {}, {}
  for _, p in ipairs(op.path_params or {}) do
    list[#list + 1] = { name = p, where = "path", schema = op.path_schemas and op.path_schemas[p] }
  end
  for _, q in ipairs(op.query or {}) do
    list[#list + 1] = { name = q.name, where = "query", schema = q.schema, list = q.list, boolean = q.boolean,
      required = q.required }
  end
  for _, p in ipairs(list) do by_flag[kebab(p.name)] = p end
  return list, by_flag
end

-- Help -----------------------------------------------------------------

local function cut(line)
  if #line <= HELP_WIDTH then return line end
  return line:sub(1, HELP_WIDTH - 3) .. "..."
end

local function columns(rows, out)
  local width = 0
  for _, r in ipairs(rows) do
    if #r[1] > width then width = #r[1] end
  end
  for _, r in ipairs(rows) do
    local line = "  " .. r[1] .. (" "):rep(width - #r[1] + 2) .. r[2]
    -- A list's few values are all shown, the column going on below itself.
    while r.wrap and #line > HELP_WIDTH and line:sub(1, HELP_WIDTH + 1):find(", ", width + 5, true) do
      local at = line:sub(1, HELP_WIDTH + 1):match("^.*(), ")
      out[#out + 1] = line:sub(1, at)
      line = (" "):rep(width + 4) .. line:sub(at + 2)
    end
    out[#out + 1] = cut(line)
    if r[3] then out[#out + 1] = cut("      " .. r[3]) end
  end
end

-- What the generator wrote for the command (lua/kombo/operations/cli/):
-- by operation name, { summary, params = { name = description }, body = {
-- field = description }, result }, result being where the response holds
-- arrays.
local function prose(group)
  return require("kombo.operations.cli." .. group)
end

local function option_rows()
  local rows = {}
  for _, o in ipairs(OPTION_HELP) do
    local value = OPTIONS[o[1]]
    rows[#rows + 1] = { "--" .. o[1] .. (value and (" " .. value) or ""), o[2] }
  end
  return rows
end

local function tool_help()
  local out = {
    "usage: kombo [options] GROUP OPERATION [--PARAMETER VALUE ...] [options]",
    "",
    "Calls one operation of Kombo's API and prints the result as JSON.",
    "",
    "groups:",
  }
  local rows = {}
  for _, g in ipairs(operations.groups) do
    rows[#rows + 1] = { g, #operations.load(g) .. " operations" }
  end
  columns(rows, out)
  out[#out + 1] = ""
  out[#out + 1] = "options:"
  columns(option_rows(), out)
  out[#out + 1] = ""
  out[#out + 1] = "exit status: 0 done; 1 the call failed (API, network) or its output could not be written;"
  out[#out + 1] = "2 a usage error (nothing was sent)"
  return concat(out, "\n") .. "\n"
end

local function group_help(group)
  local out = { "usage: kombo " .. group .. " OPERATION [--PARAMETER VALUE ...] [options]", "",
    "operations (--all walks the ones marked pages; `kombo " .. group .. " OPERATION --help` says more):" }
  local rows, texts = {}, prose(group)
  for _, op in ipairs(operations.load(group)) do
    local summary = texts[op.name] and texts[op.name].summary or (op.method .. " " .. op.path)
    rows[#rows + 1] = { kebab(op.name), summary .. (op.paginated and " (pages)" or "") }
  end
  columns(rows, out)
  return concat(out, "\n") .. "\n"
end

-- What a parameter's flag takes, in a few words.
local function takes(p)
  if p.boolean then return "true or false (the flag alone: true)" end
  local phrase = p.schema and schema.expected(p.schema) or "a string"
  if p.list then return phrase .. ", repeated or comma-separated" end
  return phrase
end

-- The word after a parameter's flag in the help.
local function metavar(p)
  if p.boolean then return " [true|false]" end
  if p.list then return " LIST" end
  local t = p.schema and p.schema.type
  if t == "integer" or t == "number" then return " N" end
  if p.schema and p.schema.format == "date-time" then return " DATE" end
  return " VALUE"
end

local function operation_help(group, op)
  local out = {
    ("usage: kombo %s %s [--PARAMETER VALUE ...]%s [options]"):format(group, kebab(op.name),
      op.body and " [--body JSON|@FILE|-]" or ""),
    "",
  }
  local text = prose(group)[op.name] or {}
  local described = text.params or {}
  if text.summary then out[#out + 1] = text.summary .. "." end
  out[#out + 1] = op.method .. " " .. op.path .. (op.paginated and "; cursor-paginated: --all walks every page" or "")
  local list = parameters(op)
  if #list > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "parameters (* required):"
    local rows = {}
    for _, p in ipairs(list) do
      local mark = (p.where == "path" or p.required) and " *" or ""
      rows[#rows + 1] = { "--" .. kebab(p.name) .. metavar(p) .. mark, takes(p), described[p.name], wrap = p.list }
    end
    columns(rows, out)
  end
  if op.body then
    out[#out + 1] = ""
    out[#out + 1] = "body fields (--body, * required):"
    local required, names, rows = {}, {}, {}
    for _, r in ipairs(op.body.required or {}) do required[r] = true end
    for name in pairs(op.body.properties or {}) do names[#names + 1] = name end
    sort(names)
    for _, name in ipairs(names) do
      rows[#rows + 1] = { name .. (required[name] and " *" or ""), schema.expected(op.body.properties[name]),
        text.body and text.body[name] }
    end
    if #rows == 0 then rows[1] = { "(any)", "an object" } end
    columns(rows, out)
  end
  out[#out + 1] = ""
  out[#out + 1] = "kombo --help lists the options; docs/operations.md has the fields of the result."
  return concat(out, "\n") .. "\n"
end

-- Arguments ------------------------------------------------------------

-- The flag's name and its inline value (--name=value), or nil for a word.
local function flag(word)
  if word == "-h" then return "help" end
  if word:sub(1, 2) ~= "--" or #word < 3 then return nil end
  local name, value = word:match("^%-%-([^=]+)=(.*)$")
  if name then return kebab(name), value end
  return kebab(word:sub(3)), nil
end

local function flag_names(by_flag, options)
  local names = {}
  for name in pairs(options or OPTIONS) do names[#names + 1] = "--" .. name end
  for name in pairs(by_flag or {}) do names[#names + 1] = "--" .. name end
  sort(names)
  return names
end

local function unknown_flag(name, by_flag, where)
  usage(("%s has no option --%s%s"):format(where, name, closest_note("--" .. name, flag_names(by_flag))))
end

-- One option of the tool into `o`; returns how many words it used.
local function take_option(o, name, inline, argv, i, options)
  local value = (options or OPTIONS)[name]
  if value == false then
    if inline ~= nil then usage("--" .. name .. " takes no value") end
    o[name] = true
    return 1
  end
  local v, used = inline, 1
  if v == nil then
    v, used = argv[i + 1], 2
    if v == nil then usage("--" .. name .. " needs a value: " .. value) end
  end
  if o[name] ~= nil then usage("--" .. name .. " given twice") end
  o[name] = v
  return used
end

-- A parameter's text as the value the operation's schema wants.
local function convert(p, text, flagname)
  if p.boolean then
    if text == "true" then return true elseif text == "false" then return false end
    usage(flagname .. ": true or false, got " .. text)
  end
  local t = p.schema and p.schema.type
  if t == "integer" or t == "number" then
    local n = tonumber(text)
    if n == nil then usage(flagname .. ": " .. schema.expected(p.schema) .. ", got " .. text) end
    return n
  end
  return text
end

-- One parameter into `params`; returns how many words it used.
local function take_parameter(params, p, inline, argv, i)
  local flagname = "--" .. kebab(p.name)
  local text, used = inline, 1
  if text == nil and p.boolean then
    local nxt = argv[i + 1]
    if nxt == "true" or nxt == "false" then text, used = nxt, 2 else text = "true" end
  elseif text == nil then
    text, used = argv[i + 1], 2
    if text == nil then usage(flagname .. " needs a value: " .. takes(p)) end
  end
  if p.list then
    local items = params[p.name] or {}
    for part in (text .. ","):gmatch("([^,]*),") do
      if part ~= "" then items[#items + 1] = part end
    end
    params[p.name] = items
  elseif params[p.name] ~= nil then
    usage(flagname .. " given twice (only list parameters repeat)")
  else
    params[p.name] = convert(p, text, flagname)
  end
  return used
end

-- argv -> { group, op, params, options } or a help text to print.
local function parse(argv)
  local o, i = {}, 1
  -- The tool's options, before GROUP or OPERATION.
  local function options()
    while argv[i] ~= nil and flag(argv[i]) do
      local name, inline = flag(argv[i])
      if OPTIONS[name] == nil then
        usage(("--%s before OPERATION: put an operation's parameters after its name%s")
          :format(name, closest_note("--" .. name, flag_names())))
      end
      i = i + take_option(o, name, inline, argv, i)
    end
  end
  options()
  if o.version then
    local jit = rawget(_G, "jit")
    return { text = ("kombo-lua %s (%s)\n"):format(kombo.VERSION, jit and jit.version or _VERSION) }
  end
  if argv[i] == nil then
    if o.help then return { text = tool_help() } end
    usage("GROUP and OPERATION are missing (kombo --help)")
  end
  local group = find_group(argv[i])
  i = i + 1
  options()
  if argv[i] == nil then
    if o.help then return { text = group_help(group) } end
    usage("OPERATION is missing after " .. group .. " (kombo " .. group .. " --help lists them)")
  end
  local op = find_operation(group, argv[i])
  i = i + 1
  local _, by_flag = parameters(op)
  local params = {}
  while argv[i] ~= nil do
    local name, inline = flag(argv[i])
    if not name then
      usage(("unexpected argument %d after %s %s: parameters are flags (--name value)")
        :format(i, group, kebab(op.name)))
    end
    local p = by_flag[name]
    if p then
      i = i + take_parameter(params, p, inline, argv, i)
    elseif OPTIONS[name] ~= nil then
      i = i + take_option(o, name, inline, argv, i)
    elseif op.body and op.body.properties and op.body.properties[snake(name)] ~= nil then
      usage(("%s has no option --%s: %s is a field of the request body; give the body as JSON with --body, "
        .. "e.g. --body '{\"%s\": ...}'"):format(kebab(op.name), name, snake(name), snake(name)))
    else
      unknown_flag(name, by_flag, kebab(op.name))
    end
  end
  if o.help then return { text = operation_help(group, op) } end
  return { group = group, op = op, params = params, options = o }
end

-- The body: JSON text, @path, or - for standard input.
local function read_body(spec, stdin)
  local text, where = spec, "--body"
  if spec == "-" then
    text, where = stdin:read("*a"), "--body - (standard input)"
  elseif spec:sub(1, 1) == "@" then
    local path = spec:sub(2)
    local f, err = io.open(path, "rb")
    if not f then usage("--body @" .. path .. ": " .. tostring(err)) end
    text = f:read("*a")
    f:close()
    where = "--body @" .. path
    if text == nil then usage(where .. ": not a readable file") end
  end
  -- An empty array keeps kombo.array's mark, so it goes out as [] where
  -- the schema does not say array ({"data":{"ids":[]}} of a passthrough).
  local value, err = core.json_decode(text or "", false, schema.ARRAY)
  if value == nil then usage(where .. ": not valid JSON (" .. tostring(err):gsub("^.-: ", "") .. ")") end
  return value
end

-- Output ---------------------------------------------------------------

-- JSON text of a decoded value; `shape` says where arrays are, so an
-- empty one is [] and not {}. Strings are printed as they came.
local function json(v, shape)
  return (assert(build.encode_json(v, shape, "result", true)))
end

local function field(shape, name)
  return shape and shape.properties and shape.properties[name]
end

-- What jsonl and csv print of one response, and the shape of each: a
-- page's data.results, else its data (each element when data is a list).
local function records(op, res, shape)
  local data = res.data
  if op.paginated then return data.results, (field(field(shape, "data"), "results") or {}).items end
  shape = field(shape, "data")
  if data == nil or data == kombo.null then return {} end
  if type(data) == "table" and next(data) ~= nil and schema.is_array(data) then return data, (shape or {}).items end
  return { data }, shape
end

-- RFC 4180: CRLF line ends;
-- a field holding a comma, quote, line break or edge space quoted.
local function csv_field(v, shape)
  if v == nil or v == kombo.null then return "" end
  if type(v) ~= "string" then v = json(v, shape) end
  if v:find('[,"\r\n]') or v:match("^%s") or v:match("%s$") then
    return '"' .. v:gsub('"', '""') .. '"'
  end
  return v
end

-- The columns: every top-level field of the first records seen, id first,
-- the rest sorted; a list of scalars gets one column, "value".
local function csv_columns(list)
  local set, names = {}, {}
  for _, r in ipairs(list) do
    if type(r) ~= "table" then return { false } end
    for k in pairs(r) do
      if type(k) == "string" and not set[k] then set[k] = true; names[#names + 1] = k end
    end
  end
  sort(names, function(a, b)
    if a == "id" or b == "id" then return a == "id" and b ~= "id" end
    return a < b
  end)
  return names
end

-- A writer per format: add(list of records), and finish() for json;
-- `shape` is the records' (where their arrays are).
local function writer(format, out, shape)
  if format == "jsonl" then
    return { add = function(list)
      for _, r in ipairs(list) do out:write(json(r, shape), "\n") end
    end }
  elseif format == "csv" then
    local cols
    return { add = function(list)
      if not cols then
        if #list == 0 then return end
        cols = csv_columns(list)
        local head = {}
        for i, c in ipairs(cols) do head[i] = csv_field(c or "value") end
        out:write(concat(head, ","), "\r\n")
      end
      for _, r in ipairs(list) do
        local row = {}
        for i, c in ipairs(cols) do
          local v, s = r, shape
          if c then
            v, s = nil, field(shape, c)
            if type(r) == "table" then v = r[c] end
          end
          row[i] = csv_field(v, s)
        end
        out:write(concat(row, ","), "\r\n")
      end
    end }
  end
  -- json over a walk: one array of every record, written as pages arrive.
  local first = true
  return {
    add = function(list)
      for _, r in ipairs(list) do
        out:write(first and "[" or ",", json(r, shape))
        first = false
      end
    end,
    finish = function() out:write(first and "[]\n" or "]\n") end,
  }
end

-- Is stderr a terminal? test(1) asks about the descriptor the shell
-- inherits, which is this process's own stderr.
local function stderr_is_terminal()
  local a, _, code = os.execute("test -t 2")
  if type(a) == "number" then return a == 0 end -- Lua 5.1: the status
  return a == true and (code == nil or code == 0)
end

-- Running --------------------------------------------------------------

local function max_time_ms(text)
  if text == nil then return DEFAULT_MAX_TIME * 1000 end
  local s = tonumber(text)
  if s == nil or s ~= s or s <= 0 or s > MAX_SECONDS then
    usage("--max-time: seconds, a number above 0 and at most " .. MAX_SECONDS .. ", got " .. text)
  end
  return math.ceil(s * 1000)
end

-- The options of kombo.from_env: the flags win over the environment.
local function client_options(o, op)
  local ms = max_time_ms(o["max-time"])
  if o["api-key"] == nil and (os.getenv("KOMBO_API_KEY") or "") == "" then
    usage("no API key: set KOMBO_API_KEY or pass --api-key")
  end
  if op.integration ~= false and o["integration-id"] == nil and (os.getenv("KOMBO_INTEGRATION_ID") or "") == "" then
    usage(op.name .. " needs an integration: set KOMBO_INTEGRATION_ID or pass --integration-id")
  end
  return {
    api_key = o["api-key"], integration_id = o["integration-id"], server_url = o["server-url"],
    server = o.server, timeout_ms = ms, retries = { backoff = { max_elapsed_time = ms } },
  }
end

local function check_output(o, op)
  local format = o.output or (o.all and "jsonl" or "json")
  for _, f in ipairs(OUTPUTS) do
    if f == format then
      if o.all and not op.paginated then
        usage("--all: " .. kebab(op.name) .. " is not paginated (kombo GROUP --help marks the ones that are)")
      end
      return format
    end
  end
  usage("--output: one of " .. concat(OUTPUTS, ", ") .. ", got " .. format .. closest_note(format, OUTPUTS))
end

-- An SDK error on stderr: one line per problem. The SDK redacts the key.
-- A parameter's problem as the flag that gave it, with what was given.
local function as_flag(e, params)
  if not (params and e.kind == "invalid_request" and e.field and e.field ~= "body") then return tostring(e) end
  local given = params[e.field]
  if given == nil then return tostring(e) end
  local expected = e.message:sub(#e.field + 3)
  if type(given) == "table" then given = concat(given, ",") end
  return ("kombo: --%s: %s, got %s"):format(kebab(e.field), expected, tostring(given))
end

-- `walked`: pages were printed before the failure, so the cursor it stopped
-- at is where another run goes on.
local function report(stderr, err, params, walked)
  if type(err) ~= "table" then
    stderr:write("kombo: ", tostring(err), "\n")
    return FAILED
  end
  local list = err.errors and #err.errors > 1 and err.errors or { err }
  for _, e in ipairs(list) do stderr:write(as_flag(e, params), "\n") end
  if walked and err.cursor ~= nil and err.kind ~= "invalid_request" then
    stderr:write("kombo: the walk stopped at cursor ", tostring(err.cursor),
      "; run the same command with --cursor ", tostring(err.cursor), " to go on from there\n")
  end
  return err.kind == "invalid_request" and USAGE or FAILED
end

local function walk(first, w, progress)
  local pages, items = 0, 0
  for p in first:pages() do
    local list = p.data.results
    w.add(list)
    pages, items = pages + 1, items + #list
    if progress and p.data.next ~= nil and p.data.next ~= kombo.null then
      progress(("kombo: page %d, %d items"):format(pages, items))
    end
  end
end

local function run(cmd, streams)
  local op, o = cmd.op, cmd.options
  local format = check_output(o, op)
  if o.body ~= nil then cmd.params.body = read_body(o.body, streams.stdin) end
  local client, err = kombo.from_env(client_options(o, op))
  if not client then return report(streams.stderr, err) end
  -- The flag names the integration for this call: an operation that needs
  -- none is sent it too, as the SDK sends a call's own integration_id.
  local call = o["integration-id"] and { integration_id = o["integration-id"] } or nil
  local res
  res, err = client[cmd.group][op.name](client[cmd.group], cmd.params, call)
  if not res then
    client:close()
    return report(streams.stderr, err, cmd.params)
  end
  local out, shape = streams.stdout, (prose(cmd.group)[op.name] or {}).result
  if format == "json" and not o.all then
    out:write(json(res, shape), "\n")
    client:close()
    return OK
  end
  local list
  list, shape = records(op, res, shape)
  local w = writer(format, out, shape)
  local ok = true
  if o.all then
    local terminal = streams.terminal
    if terminal == nil then terminal = stderr_is_terminal() end
    local shown = false
    local progress = terminal and function(text)
      streams.stderr:write("\r", text, "\27[K")
      shown = true
    end
    ok, err = pcall(walk, res, w, progress)
    if shown then streams.stderr:write("\r\27[K") end
    if not ok and getmetatable(err) == Unwritable then
      client:close()
      error(err, 0)
    end
  else
    w.add(list)
  end
  if w.finish and ok then w.finish() end
  client:close()
  if not ok then return report(streams.stderr, err, nil, true) end
  return OK
end

--- args(argv, options) -> words and options | nil, message: a script's
--- own command line, read the way kombo reads its options. `options` maps
--- each option's name (without the dashes; snake_case or kebab-case, the
--- flag is kebab-case either way) to false for a switch or to the word its
--- help shows for the value. The result holds the other words at 1..n and
--- each option given under its declared name (true for a switch); an
--- unknown option, a missing value or an option given twice is nil and a
--- message naming it (and the closest option), as is an argv or options
--- that is not as described. After "--" every word is one of the others,
--- dashes or not.
function _M.args(argv, options)
  local head = "kombo.cli.args(argv, options): "
  if type(argv) ~= "table" or type(options) ~= "table" then
    return nil, head .. "two tables, the words (arg) and the options"
  end
  for i, word in ipairs(argv) do
    if type(word) ~= "string" then
      return nil, head .. ("argv[%d] is a %s: the words are strings, as in arg"):format(i, type(word))
    end
  end
  -- By flag: the name as typed, kebab-case.
  local by_flag, declared = {}, {}
  for name, value in pairs(options) do
    if type(name) ~= "string" or name == "" then
      return nil, head .. "option names are non-empty strings, got a " .. type(name)
    end
    if value ~= false and type(value) ~= "string" then
      return nil, head .. ("options[%q] is a %s: false for a switch, or the word its value is shown as")
        :format(name, type(value))
    end
    local f = kebab(name)
    if declared[f] then
      return nil, head .. ("options %q and %q are both --%s: declare it once"):format(declared[f], name, f)
    end
    by_flag[f], declared[f] = value, name
  end
  local ok, result = pcall(function()
    local out, i = {}, 1
    while argv[i] ~= nil do
      local name, inline = flag(argv[i])
      if argv[i] == "--" then
        for j = i + 1, #argv do out[#out + 1] = argv[j] end
        break
      elseif name == nil then
        out[#out + 1] = argv[i]
        i = i + 1
      elseif by_flag[name] == nil then
        usage(("no option --%s%s"):format(name, closest_note("--" .. name, flag_names(nil, by_flag))))
      else
        i = i + take_option(out, name, inline, argv, i, by_flag)
      end
    end
    for f, name in pairs(declared) do
      if f ~= name then out[name], out[f] = out[f], nil end
    end
    return out
  end)
  if ok then return result end
  if getmetatable(result) == Usage then return nil, result.message end
  error(result, 0)
end

--- main(argv, streams) -> exit status. argv: the words after the command
--- name; streams (each optional): stdout, stderr, stdin (file handles) and
--- terminal (whether stderr is a terminal; found out when nil).
function _M.main(argv, streams)
  streams = streams or {}
  local s = {
    stdout = checked(streams.stdout or io.stdout), stderr = streams.stderr or io.stderr,
    stdin = streams.stdin or io.stdin, terminal = streams.terminal,
  }
  local ok, result = pcall(function()
    local cmd = parse(argv or {})
    local code = OK
    if cmd.text then s.stdout:write(cmd.text) else code = run(cmd, s) end
    s.stdout:flush()
    return code
  end)
  if ok then return result end
  local kind = getmetatable(result)
  if kind == Usage or kind == Unwritable then
    s.stderr:write("kombo: ", result.message, "\n")
    return kind == Usage and USAGE or FAILED
  end
  error(result, 0)
end

return _M
