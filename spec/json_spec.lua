-- The response decoder in the core (simdjson): the same Lua values as
-- lua-cjson for every document both accept, integers kept as integers,
-- and refusals returned (never raised) so lua-cjson can take them over.
local core = require("kombo.core")
local cjson = require("cjson.safe")
local kombo = require("kombo")

local decode = core.json_decode
local has_integers = math.type ~= nil

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
      18446744073709551615]]=] },
  { "scalars at the top", "12" }, { "a string at the top", [["s"]] }, { "true", "true" },
  { "whitespace around everything", " \n\t{ \"a\" : [ 1 , 2 ] } \r\n" },
  { "a duplicate key: the last one wins", [[{"a":1,"a":2}]] },
  { "nesting 200 deep", string.rep("[", 200) .. string.rep("]", 200) },
}

local REFUSED = {
  { "an empty body", "" }, { "an unfinished object", "{" }, { "a trailing comma", "[1,]" },
  { "text after the document", [[{"a":1} x]] }, { "an HTML error page", "<html>502</html>" },
  { "nesting 5000 deep", string.rep("[", 5000) .. string.rep("]", 5000) },
}

describe("core.json_decode", function()
  for _, case in ipairs(AGREED) do
    it("decodes " .. case[1] .. " as lua-cjson does", function()
      local want = assert(cjson.decode(case[2]))
      assert.same(want, decode(case[2]))
    end)
  end

  it("gives null as kombo.null and empty arrays as empty tables", function()
    local v = decode([[{"a":null,"b":[],"c":[1,null,3]}]])
    assert.equal(kombo.null, v.a)
    assert.same({}, v.b)
    assert.equal(3, #v.c)
    assert.equal(kombo.null, v.c[2])
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

  for _, case in ipairs(REFUSED) do
    it("returns nil and a message for " .. case[1], function()
      local v, message = decode(case[2])
      assert.is_nil(v)
      assert.is_string(message)
    end)
  end

  it("returns what lua-cjson accepts and it does not (invalid UTF-8, numbers past 64 bits) as refused", function()
    for _, text in ipairs({ '"caf\195"', '{"id":"\255\254"}', "123456789012345678901234567890" }) do
      local v, message = decode(text)
      assert.is_nil(v)
      assert.is_string(message)
      assert.is_not_nil(cjson.decode(text))
    end
  end)

  it("decodes a document after a refused one and after a large one", function()
    assert.is_nil(decode("{"))
    local big = '["' .. string.rep("x", 6 * 1024 * 1024) .. '"]'
    assert.equal(6 * 1024 * 1024, #decode(big)[1])
    assert.same({ a = { 1, 2 } }, decode([[{"a":[1,2]}]]))
  end)

  it("raises only for a non-string argument", function()
    assert.has_error(function() decode({}) end)
  end)
end)
