--- In-memory collections: records by id, an optional source_id index, and
-- creation order (a sequence number breaks ties between equal timestamps).
-- @module voucherify.fake.store

local store = {}

local Collection = {}
Collection.__index = Collection

--- A new empty collection.
-- @param prefix id prefix, e.g. "ord_"
function store.collection(prefix)
  return setmetatable({
    prefix = prefix,
    by_id = {},
    by_source_id = {},
    records = {},
    meta = setmetatable({}, { __mode = "k" }),
    seq = 0,
    version = 0, -- bumped by insert and remove (see `sorted`)
    sort_cache = {},
  }, Collection)
end

local ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

--- A fresh id: prefix plus 24 random alphanumerics.
function Collection:new_id()
  local out = {}
  for i = 1, 24 do
    local k = math.random(#ID_CHARS)
    out[i] = ID_CHARS:sub(k, k)
  end
  return self.prefix .. table.concat(out)
end

--- Looks a record up by id, then by source_id.
function Collection:find(id_or_source_id)
  return self.by_id[id_or_source_id] or self.by_source_id[id_or_source_id]
end

--- The record an upsert body names: by `id` (which must exist), else by `source_id`.
-- @return the record; nil when the body names none (create); false when its `id` is unknown
function Collection:upsert_target(body)
  if type(body.id) == "string" then return self.by_id[body.id] or false end
  if type(body.source_id) == "string" then return self.by_source_id[body.source_id] end
  return nil
end

--- Adds a new record (it must have `id`); remembers its insertion order.
function Collection:insert(record)
  self.seq = self.seq + 1
  self.version = self.version + 1
  self.by_id[record.id] = record
  self.records[#self.records + 1] = record
  self.meta[record] = { seq = self.seq }
  if type(record.source_id) == "string" then
    self.by_source_id[record.source_id] = record
  end
  return record
end

--- Keeps the source_id index right after a record's source_id changed.
function Collection:reindex(record, old_source_id)
  if old_source_id and self.by_source_id[old_source_id] == record then
    self.by_source_id[old_source_id] = nil
  end
  if type(record.source_id) == "string" then
    self.by_source_id[record.source_id] = record
  end
end

--- Removes a record.
function Collection:remove(record)
  self.version = self.version + 1
  self.by_id[record.id] = nil
  if record.source_id and self.by_source_id[record.source_id] == record then
    self.by_source_id[record.source_id] = nil
  end
  for i, r in ipairs(self.records) do
    if r == record then
      table.remove(self.records, i)
      break
    end
  end
end

--- Insertion sequence number of a record (stable tie-breaker).
function Collection:seq_of(record)
  return self.meta[record].seq
end

-- Sort keys: strings and numbers compare as themselves; null (json.null, nil
-- or anything else) sorts after every value, as a database's NULLS LAST.
local function key_less(va, vb)
  local ta, tb = type(va), type(vb)
  local a_null, b_null = ta ~= "string" and ta ~= "number", tb ~= "string" and tb ~= "number"
  if a_null or b_null then return b_null and not a_null end
  if ta ~= tb then return tostring(va) < tostring(vb) end
  return va < vb
end

--- All records sorted by `field` (a leading "-" means descending); ties keep
-- insertion order in the same direction; nulls come last ascending, first
-- descending.  The list is cached until a record is added, removed or has its
-- `field` changed, so callers must not modify it.
function Collection:sorted(field)
  local spec = field or "created_at"
  local desc = false
  if spec:sub(1, 1) == "-" then
    desc, field = true, spec:sub(2)
  else
    field = spec
  end
  local cached = self.sort_cache[spec]
  if cached and cached.version == self.version and #cached.list == #self.records then
    local list, keys, valid = cached.list, cached.keys, true
    for i = 1, #list do
      if list[i][field] ~= keys[i] then valid = false break end
    end
    if valid then return list end
  end
  local list = {}
  for i, r in ipairs(self.records) do list[i] = r end
  local meta = self.meta
  table.sort(list, function(a, b)
    local va, vb = a[field], b[field]
    if va ~= vb then
      if desc then return key_less(vb, va) end
      return key_less(va, vb)
    end
    if desc then return meta[a].seq > meta[b].seq end
    return meta[a].seq < meta[b].seq
  end)
  local keys = {}
  for i, r in ipairs(list) do keys[i] = r[field] end
  self.sort_cache[spec] = { version = self.version, list = list, keys = keys }
  return list
end

--- Number of records.
function Collection:count()
  return #self.records
end

return store
