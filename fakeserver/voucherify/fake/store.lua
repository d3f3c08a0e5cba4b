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

--- All records sorted by `field` (a leading "-" means descending); ties keep
-- insertion order in the same direction.
function Collection:sorted(field)
  local desc = false
  if field and field:sub(1, 1) == "-" then
    desc, field = true, field:sub(2)
  end
  field = field or "created_at"
  local list = {}
  for i, r in ipairs(self.records) do list[i] = r end
  local meta = self.meta
  table.sort(list, function(a, b)
    local va, vb = a[field], b[field]
    if type(va) ~= type(vb) then va, vb = tostring(va), tostring(vb) end
    if va ~= vb then
      if desc then return va > vb end
      return va < vb
    end
    if desc then return meta[a].seq > meta[b].seq end
    return meta[a].seq < meta[b].seq
  end)
  return list
end

--- Number of records.
function Collection:count()
  return #self.records
end

return store
