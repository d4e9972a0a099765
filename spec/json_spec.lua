-- The response decoder in the core: simdjson for valid JSON, a second
-- parser with lua-cjson's grammar for what simdjson refuses. Every document
-- lua-cjson accepts decodes to the same values, in one shape whichever
-- parser ran (integers stay integers); refusals are returned, never raised,
-- also when a finalizer decodes in the middle of a decode.
local core = require("kombo.core")
local cjson = require("cjson.safe")
local kombo = require("kombo")

local decode = core.json_decode
local has_integers = math.type ~= nil

local agree = require("support.values").agree

local AGREED = {
  { "an application-shaped page", [[{"status":"success","data":{"next":"eyJwIjoyfQ==","results":[
      {"id":"8Xi6iZrwusZqJmDGXs49GBmJ","remote_id":"32","outcome":"PENDING","rejection_reason_name":null,
       "remote_created_at":"2021-08-12T14:31:00.000Z","custom_fields":{},"remote_data":null,
       "current_stage":{"id":"5J4UeK2U6Rwp8QBdYfQMXqBj","name":"Interview","index":2},
       "candidate":{"first_name":"Ada","email_addresses":[{"email_address":"ada@example.com","type":"PERSONAL"}],
       "tags":[]},"interviews":[],"expected_salary":85000.5,"is_hired":false,"is_active":true}]}}]] },
  { "escapes and non-ASCII", [=["quote \" backslash \\ slash \/ tab \t newline \n \u00e9 \u65e5 \ud83d\ude00 Zoë"]=] },
  { "a NUL inside a string", [["a\u0000b"]] },
  { "empty object and array", [[{"o":{},"a":[],"n":[null,null]}]] },
  { "numbers", [=[[0,-1,1.5,-2.25e-3,1e3,1E+2,-0.0,9007199254740992,
      18446744073709551615,-9223372036854775808,1e-400,4.9e-324]]=] },
  { "scalars at the top", "12" }, { "a string at the top", [["s"]] }, { "true", "true" },
  { "whitespace around everything", " \n\t{ \"a\" : [ 1 , 2 ] } \r\n" },
  { "a duplicate key: the last one wins", [[{"a":1,"a":2}]] },
  { "nesting 200 deep", string.rep("[", 200) .. string.rep("]", 200) },
  { "nesting 1000 deep", string.rep('{"a":[', 500) .. string.rep("]}", 500) },
}

-- What lua-cjson 2.1.0 accepts beyond JSON; simdjson refuses all of it.
local LUA_CJSON_ONLY = {
  { "invalid UTF-8 in strings and keys", '{"caf\233":"\255\254 x \192\175","s":"\237\160\128"}' },
  { "integers past 64 bits", "[18446744073709551616,-9223372036854775809,123456789012345678901234567890]" },
  { "control characters in a string", '["tab\there\1"]' },
  { "numbers strtod reads", "[007,-01.5,+1,1.,1.e2,0x1F,-0X10,0x1p3,1e400,-1e400]" },
  { "NaN and Infinity, any case", "[NaN,-nan,Infinity,-Infinity,inf,INF,nan(123)]" },
  { "text after a NUL byte", '{"a":[1,2]}\0 anything' },
}

local REFUSED = {
  { "an empty body", "" }, { "an unfinished object", "{" }, { "a trailing comma", "[1,]" },
  { "text after the document", [[{"a":1} x]] }, { "an HTML error page", "<html>502</html>" },
  { "nesting 5000 deep", string.rep("[", 5000) .. string.rep("]", 5000) },
  { "a surrogate before a broken escape", [["\ud83d\u00"]] }, { "an unknown escape", [["\x41"]] },
  { "a NUL inside a string", '["a\0b"]' }, { "a fraction without digits", "[.5]" },
  { "an exponent without digits", "1e" }, { "an unfinished string", '"abc' },
  { "an unfinished invalid string", '{"a":"\255' }, { "a word", "[nul]" },
}

-- JSON.stringify writes a lone UTF-16 surrogate for a string cut inside an
-- emoji. simdjson and lua-cjson refuse it; the decoder gives U+FFFD.
local FFFD, GRIN = "\239\191\189", "\240\159\152\128"
local LONE_SURROGATES = {
  { "a high surrogate at the end", [["abc\ud83d"]], "abc" .. FFFD },
  { "a low surrogate", [["\udc00x"]], FFFD .. "x" },
  { "a high surrogate before an escape that is not a low one", [["\uD83D\u0041\n"]], FFFD .. "A\n" },
  { "a high surrogate before a pair", [["\ud83d\ud83d\ude00"]], FFFD .. GRIN },
  { "a low surrogate before a high one", [["\ude00\ud83d"]], FFFD .. FFFD },
}

describe("core.json_decode", function()
  for _, case in ipairs(AGREED) do
    it("decodes " .. case[1] .. " as lua-cjson does", function()
      local want = assert(cjson.decode(case[2]))
      assert.same(want, decode(case[2]))
    end)

    -- A NUL after the document (lua-cjson's end of text) makes simdjson
    -- refuse it, so this is the second parser's value.
    it("decodes " .. case[1] .. " the same way with either parser", function()
      assert.is_true(agree(decode(case[2]), decode(case[2] .. "\0"), true))
    end)
  end

  for _, case in ipairs(LUA_CJSON_ONLY) do
    it("decodes " .. case[1] .. " as lua-cjson does", function()
      local want = assert(cjson.decode(case[2]))
      assert.is_true(agree(want, decode(case[2])))
    end)
  end

  it("gives null as kombo.null and empty arrays as empty tables", function()
    local v = decode([[{"a":null,"b":[],"c":[1,null,3]}]])
    assert.equal(kombo.null, v.a)
    assert.same({}, v.b)
    assert.equal(3, #v.c)
    assert.equal(kombo.null, v.c[2])
  end)

  it("marks an empty array, and nothing else, with the metatable it is given, with either parser", function()
    local mark = {}
    -- the NUL after the document sends it to the second parser
    for _, text in ipairs({ '{"a":[],"o":{},"n":[[],{}]}', '{"a":[],"o":{},"n":[[],{}]}\0' }) do
      local v = decode(text, false, mark)
      assert.equal(mark, getmetatable(v.a))
      assert.equal(mark, getmetatable(v.n[1]))
      assert.is_nil(getmetatable(v))
      assert.is_nil(getmetatable(v.o))
      assert.is_nil(getmetatable(v.n))
      assert.is_nil(getmetatable(v.n[2]))
      assert.is_nil(getmetatable(decode(text).a))
    end
    assert.equal(mark, getmetatable(decode("[]", false, mark)))
    local ok, err = pcall(decode, "[]", false, "mark")
    assert.is_false(ok)
    assert.matches("bad argument #3", err, 1, true)
  end)

  it("keeps integers as integers and fractions as floats", function()
    local v = decode([[{"page_size":250,"big":9223372036854775807,"x":2.5,"y":1.0}]])
    assert.equal(250, v.page_size)
    assert.equal(2.5, v.x)
    if has_integers then
      assert.equal("integer", math.type(v.page_size))
      assert.equal(math.maxinteger, v.big)
      assert.equal("float", math.type(v.y))
      -- exact past 2^53, where lua-cjson's floats round
      assert.equal(9007199254740993, decode("9007199254740993"))
      assert.equal(math.mininteger, decode("-9223372036854775808"))
    end
  end)

  it("keeps that shape when a body has invalid UTF-8", function()
    local body = '{"name":"caf\233 \255\254","ids":[7,9007199254740993,9223372036854775807,'
      .. '-9223372036854775808,-0,007],"big":123456789012345678901234567890,'
      .. '"below":-9223372036854775809,"x":2.5,"y":1.0,"ok":true,"none":null}'
    local v = assert(decode(body))
    assert.equal("caf\233 \255\254", v.name)
    assert.equal(1.2345678901234568e29, v.big)
    assert.equal(2.5, v.x)
    assert.is_true(v.ok)
    assert.equal(kombo.null, v.none)
    assert.is_true(agree(assert(cjson.decode(body)), v))
    if has_integers then
      local want = { 7, 9007199254740993, math.maxinteger, math.mininteger, 0, 7 }
      for i = 1, #want do
        assert.equal("integer", math.type(v.ids[i]))
        assert.equal(want[i], v.ids[i])
      end
      assert.equal("float", math.type(v.big))
      assert.equal("float", math.type(v.below))
      assert.equal("float", math.type(v.y))
      assert.equal(-9223372036854775809.0, v.below)
    end
  end)

  for _, case in ipairs(LONE_SURROGATES) do
    it("decodes " .. case[1] .. " as U+FFFD", function()
      assert.equal(case[3], decode(case[2]))
      assert.equal(case[3], decode(case[2] .. "\0"))
      local v = assert(decode('{"id":"a","k' .. case[2]:sub(2) .. ':[' .. case[2] .. ',"\\ud83d\\ude00",7]}'))
      assert.same({ id = "a", ["k" .. case[3]] = { case[3], GRIN, 7 } }, v)
    end)
  end

  for _, case in ipairs(REFUSED) do
    it("returns nil and a message for " .. case[1], function()
      local v, message = decode(case[2])
      assert.is_nil(v)
      assert.is_string(message)
    end)
  end

  it("says where a document it refuses goes wrong", function()
    assert.same({ nil, "invalid JSON: expected ',' or ']' at byte 4" }, { decode("[1 2]") })
    assert.same({ nil, "invalid JSON: invalid escape at byte 8" }, { decode('["\255", "\\x"]') })
  end)

  it("decodes a document after a refused one and after a large one", function()
    assert.is_nil(decode("{"))
    local big = '["' .. string.rep("x", 6 * 1024 * 1024) .. '"]'
    assert.equal(6 * 1024 * 1024, #decode(big)[1])
    assert.equal(6 * 1024 * 1024, #decode(big .. "\0")[1])
    assert.same({ a = { 1, 2 } }, decode([[{"a":[1,2]}]]))
  end)

  it("raises only for a non-string argument", function()
    assert.has_error(function() decode({}) end)
  end)

  -- The decoder pushes keys it has seen before from a table of its own:
  -- whatever it remembers, forgets or finds in a neighbouring slot, every
  -- key comes out as lua-cjson's.
  it("decodes keys it has seen, forgotten or confused with others as lua-cjson does", function()
    local names = { "", "a", "id", "abcde", "axcye", "abcdf", "bbcde", ("k"):rep(32), ("k"):rep(33),
      ("k"):rep(31) .. "j", "caf\195\169", "x\0y" }
    for i = 1, 300 do names[#names + 1] = ("key_%d_%s"):format(i, ("z"):rep(i % 40)) end
    local items = {}
    for i = 1, 6 do
      local fields = {}
      for j, name in ipairs(names) do
        local escaped = name:gsub("%z", "\\u0000")
        fields[j] = ('"%s":"%s%d"'):format(escaped, escaped, i)
      end
      items[i] = "{" .. table.concat(fields, ",") .. "}"
    end
    local body = "[" .. table.concat(items, ",") .. "]"
    local want = assert(cjson.decode(body))
    for round = 1, 3 do
      assert.same(want, decode(body), "round " .. round)
      collectgarbage()
    end
    -- a coroutine of the same state gets the same keys
    local co = coroutine.wrap(function() return decode(body) end)
    assert.same(want, co())
    for _, name in ipairs(names) do assert.equal(name .. "6", decode(body)[6][name]) end
  end)
end)

-- A page of 250 applications (300 KB) and the value it must decode
-- to, integers and floats as they are meant.
local function page()
  local items = {}
  for i = 1, 250 do
    items[i] = {
      id = ("app%021d"):format(i), remote_id = tostring(1000 + i),
      outcome = i % 3 == 0 and "HIRED" or kombo.null, rejection_reason_name = kombo.null,
      remote_created_at = "2025-01-02T03:04:05.000Z", changed_at = "2025-06-07T08:09:10.000Z",
      score = i * 1.5 + 0.25, attempts = i * 7919, stamp = 9007199254740000 + i,
      custom_fields = {}, integration_fields = {}, remote_data = kombo.null,
      candidate = {
        id = ("cand%020d"):format(i), first_name = "Zoë" .. i, last_name = "Lovelace",
        email_addresses = { { email_address = "ada" .. i .. "@example.com", type = "PRIVATE" } },
        phone_numbers = { { phone_number = "+1-541-754-" .. (1000 + i), type = "HOME" } },
        tags = { { id = "tag" .. i, remote_id = tostring(i), name = "High Potential" } },
      },
      current_stage = { id = "stage" .. i % 5, name = "Technical Interview", index = i % 5 },
      interviews = { {
        id = "iv" .. i, title = "Interview with Ada Lovelace", canceled = false,
        location = { city = "Berlin", country = "DE", street_1 = "Lohmühlenstraße 65", zip_code = "12435" },
      } },
      offers = { { id = "offer" .. i, status = "ACCEPTED" } },
      job = { id = "job" .. i % 7, remote_id = tostring(i % 7), name = "Backend Engineer" },
      remote_url = "https://app.greenhouse.io/applications/" .. (1000 + i),
      screening_question_answers = { {
        answer = { choice = "TypeScript" },
        question = { remote_id = "q" .. i, title = "Which is your primary programming language",
          type = "SINGLE_SELECT" },
      } },
    }
  end
  return { status = "success", data = { next = "eyJwIjoyfQ==", results = items } }
end

-- JSON for a value built from tables, strings that need no escapes,
-- integers, floats that are not whole, booleans and kombo.null.
local function encode(v)
  if type(v) == "table" then
    local parts = {}
    if next(v) == nil or v[1] ~= nil then
      for i = 1, #v do parts[i] = encode(v[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    for k, x in pairs(v) do parts[#parts + 1] = '"' .. k .. '":' .. encode(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif type(v) == "string" then
    return '"' .. v .. '"'
  elseif type(v) == "number" then
    return ("%.17g"):format(v)
  end
  return v == kombo.null and "null" or tostring(v)
end

-- A finalizer that runs on every collection cycle (it leaves a new object
-- with itself as __gc behind) and calls on_gc. Tables take __gc from 5.2
-- on; 5.1 and LuaJIT run it only for userdata: newproxy.
local function rearming_finalizer(on_gc)
  local state = { stopped = false }
  local function arm()
    local function gc()
      if state.stopped then return end
      arm()
      on_gc()
    end
    if newproxy then
      getmetatable(newproxy(true)).__gc = gc
    else
      setmetatable({}, { __gc = gc })
    end
  end
  arm()
  return function() state.stopped = true end
end

describe("core.json_decode with a finalizer that decodes too", function()
  local want = page()
  local body = encode(want)
  -- valid: decode(small) is simdjson's, decode(small .. "\0") the other's
  local small = '{"n":12345678901,"s":"nested","a":[1,2.5,null,true,"Zoë"]}'
  local small_want = { n = 12345678901, s = "nested", a = { 1, 2.5, kombo.null, true, "Zoë" } }
  local restore

  -- the collector always running: finalizers run often, mid-decode
  before_each(function() restore = require("support.gc").eager() end)
  after_each(function() restore() end)

  for _, case in ipairs({ { "simdjson's", body }, { "the second parser's", body .. "\0" } }) do
    it("builds " .. case[1] .. " value right while a finalizer decodes", function()
      assert.is_true(#body > 290 * 1024)
      -- What the finalizer decodes is checked after the loop: on LuaJIT a
      -- finalizer entering compiled code (agree's loops) while C code
      -- allocates can hang, with lua-cjson too.
      local decoding, runs, during, nested = false, 0, 0, {}
      local stop = rearming_finalizer(function()
        runs = runs + 1
        if decoding then during = during + 1 end
        nested[#nested + 1] = decode(small) or false
        nested[#nested + 1] = decode(small .. "\0") or false
      end)
      -- Until the finalizer has run inside decodes a few times, or has run
      -- often enough that it should have: a cycle comes once the heap has
      -- doubled, so the rounds it takes follow the heap earlier specs left.
      local rounds = 0
      repeat
        rounds = rounds + 1
        decoding = true
        local v, message = decode(case[2])
        decoding = false
        assert(v, message)
        assert.is_true(agree(want, v, true))
      until during >= 3 or runs >= 20 or rounds == 2000
      stop()
      assert.is_true(during >= 3, ("the finalizer ran %d times, %d during a decode"):format(runs, during))
      for _, v in ipairs(nested) do
        assert.is_true(agree(small_want, v, true))
      end
    end)
  end

  it("returns a finalizer's error raised while building, and decodes on", function()
    -- 5.4 only warns about an error in __gc; the others raise it where the
    -- collector ran: inside a decode, that comes back as nil, message.
    local decoding, runs, raised = false, 0, 0
    local stop = rearming_finalizer(function()
      runs = runs + 1
      if decoding then
        raised = raised + 1
        error("finalizer failed")
      end
    end)
    local refused, rounds = 0, 0
    while raised < 3 and runs < 20 and rounds < 2000 do -- as above
      rounds = rounds + 1
      decoding = true
      local ok, v, message = pcall(decode, body)
      decoding = false
      assert.is_true(ok, v)
      if v == nil then
        assert.matches("finalizer failed", message)
        refused = refused + 1
      else
        assert.is_true(agree(want, v, true))
      end
    end
    stop()
    assert.is_true(raised >= 3)
    if _VERSION ~= "Lua 5.4" then assert.is_true(refused > 0) end
    assert.is_true(agree(want, decode(body), true))
  end)
end)

describe("core.json_decode with keys to look for", function()
  local KEY = "sk_live_0123/4567"
  local keys = { "sk_old_key", KEY }
  -- a NUL outside strings ends the text for the second parser alone
  for _, parser in ipairs({ { "simdjson", "" }, { "the second parser", "\0" } }) do
    local name, tail = parser[1], parser[2]
    it("says a value whose string or name holds one, however escaped, holds it (" .. name .. ")", function()
      for _, text in ipairs({
        '{"a":["x \\u0073k_live_0123/4567 y"]}',
        '{"a":"sk_live_0123\\/4567"}',
        '{"a":{"\\u0073k_live_0123/4567":1}}',
        '"\\u0073k_old_key"',
      }) do
        local value, held = decode(text .. tail, false, nil, keys)
        assert.is_not_nil(value, text)
        assert.is_true(held, text)
      end
      for _, text in ipairs({ '{"a":"sk_live_0123\\/456"}', '{"a":1}', '"\\u0073k"' }) do
        local value, held = decode(text .. tail, false, nil, keys)
        assert.is_not_nil(value, text)
        assert.is_nil(held, text)
      end
    end)
  end
end)
