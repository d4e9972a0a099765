-- CSV as RFC 4180 writes it, read back for specs (the CLI's --output csv).
local _M = {}

-- RFC 4180: rows of fields, quoted fields may hold commas, quotes and CRLF.
function _M.parse(text)
  local rows, row, i = {}, {}, 1
  while i <= #text do
    local value
    if text:sub(i, i) == '"' then
      local parts = {}
      i = i + 1
      while true do
        local q = assert(text:find('"', i, true), "unterminated quoted field")
        parts[#parts + 1] = text:sub(i, q - 1)
        if text:sub(q + 1, q + 1) == '"' then
          parts[#parts + 1] = '"'
          i = q + 2
        else
          i = q + 1
          break
        end
      end
      value = table.concat(parts)
    else
      local j = text:find("[,\r]", i) or (#text + 1)
      value = text:sub(i, j - 1)
      assert(not value:find('[\n"]'), "bare quote or LF in unquoted field: " .. value)
      i = j
    end
    row[#row + 1] = value
    local sep = text:sub(i, i)
    if sep == "," then
      i = i + 1
    elseif sep == "\r" then
      assert(text:sub(i + 1, i + 1) == "\n", "CR without LF")
      rows[#rows + 1], row, i = row, {}, i + 2
    else
      assert(i > #text, "garbage after a quoted field")
    end
  end
  if #row > 0 then rows[#rows + 1] = row end
  return rows
end

return _M
