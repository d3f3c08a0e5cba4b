--- CSV (RFC 4180): writing rows for customers:import_csv, and reading the
-- CSV an export downloads.
-- @module voucherify.csv

local csv = {}

local function field(v)
  if v == nil then return "" end
  v = tostring(v)
  if v:find('[,"\r\n]') or v:match("^%s") or v:match("%s$") then
    return '"' .. v:gsub('"', '""') .. '"'
  end
  return v
end

--- One CSV line (without the line break) from a list of values.
function csv.row(values, n)
  local out = {}
  for i = 1, n or #values do out[i] = field(values[i]) end
  return table.concat(out, ",")
end

--- A whole CSV text: a header line from `columns`, then one line per row.
-- A row is either a list of values in column order or a table keyed by column name.
function csv.format(columns, rows)
  local lines = { csv.row(columns) }
  for i, r in ipairs(rows) do
    local values = {}
    for j, name in ipairs(columns) do
      local v = r[name]
      if v == nil then v = r[j] end
      values[j] = v
    end
    lines[i + 1] = csv.row(values, #columns)
  end
  return table.concat(lines, "\r\n") .. "\r\n"
end

--- Parses CSV text into a list of rows (each a list of strings).
-- @return rows, or nil and a message naming the line of an unterminated quote
function csv.parse(text)
  local rows, row, i, n, line = {}, {}, 1, #text, 1
  if text:sub(1, 3) == "\239\187\191" then i = 4 end -- UTF-8 BOM
  while i <= n do
    local c = text:sub(i, i)
    local value
    if c == '"' then
      local parts, j = {}, i + 1
      while true do
        local q = text:find('"', j, true)
        if not q then return nil, ("unterminated quoted field on line %d"):format(line) end
        parts[#parts + 1] = text:sub(j, q - 1)
        if text:sub(q + 1, q + 1) == '"' then
          parts[#parts + 1] = '"'
          j = q + 2
        else
          i = q + 1
          break
        end
      end
      value = table.concat(parts)
      local _, breaks = value:gsub("\n", "")
      line = line + breaks
    else
      local e = text:find("[,\r\n]", i) or n + 1
      value = text:sub(i, e - 1)
      i = e
    end
    row[#row + 1] = value
    c = text:sub(i, i)
    if c == "," then
      i = i + 1
      if i > n then row[#row + 1] = "" end
    else
      if c == "\r" then i = i + 1 end
      if text:sub(i, i) == "\n" then i = i + 1 end
      rows[#rows + 1] = row
      row = {}
      line = line + 1
    end
  end
  if #row > 0 then rows[#rows + 1] = row end
  return rows
end

return csv
