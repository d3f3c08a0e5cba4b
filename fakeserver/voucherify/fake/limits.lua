--- Latency and Voucherify's rate limits, for the fake server.
--
-- Budgets, each optional, as Voucherify counts them (docs.voucherify.io, "Limits"):
--   rate_limit  `{ requests = N, per = S }`: every API call but the bulk ones
--   bulk        `{ requests = N, per = S }`: the bulk endpoints (routes added with
--               `{ bulk = true }`), counted apart from the others
--   cycle       `{ requests = N, per = S }` or N: the billing-cycle total (default
--               cycle 30 days); bulk calls are "not added to the billing cycle limit"
--
-- `rate_limit` and `bulk` are sliding windows: a request is let in when fewer
-- than N were let in during the last S seconds, less a `grace` (default 25 ms,
-- at most S/10) that absorbs the jitter between a client's send and our read, so
-- a client pacing itself at exactly N per S never sees a 429 while one that
-- sends N + 1 within S seconds (less the grace) does.  Any fixed window of S seconds is then within
-- the limit too, so a client that passes here passes a fixed-window server.
-- The cycle is a fixed window from start-up (or the last reset).  A refused
-- request takes nothing from any budget; unauthenticated ones are not counted.
--
-- Without a budget of its own, a call still gets the X-Rate-Limit-* headers,
-- as every answer of the real API does: those of a nominal budget
-- (`limits.NOMINAL`, the Organization plan's 2,000 calls a minute; bulk calls
-- apart), counted like a configured one but never refusing.
--
-- The times are the real clock, not the one tests freeze with /_fake/clock.
-- @module voucherify.fake.limits

local cqueues = require "cqueues"
local json = require "voucherify.json"

local limits = {}

limits.GRACE = 0.025
--- The budget the headers describe when none is configured (counted, never enforced).
limits.NOMINAL = { requests = 2000, per = 60 }
limits.CYCLE = 30 * 24 * 3600

--- The `X-Rate-Limit-Type` of each budget's 429.
limits.TYPES = { rate_limit = "api_calls", bulk = "bulk_api_calls", cycle = "api_calls_cycle" }

local DETAILS = {
  rate_limit = "API calls limit reached: %d per %.14g seconds",
  bulk = "Bulk API calls limit reached: %d per %.14g seconds",
  cycle = "API calls limit for the billing cycle reached: %d per %.14g seconds",
}

-- Epoch seconds for a monotonic time.  os.time() has whole seconds only, so
-- keep the least of (os.time() + 1 - monotime): never earlier than the true
-- epoch, and within a tick of it once a call lands just before one; a
-- client waiting until our X-Rate-Limit-Retry is then never early.
local offset = math.huge
local function epoch(mono)
  local bound = os.time() + 1 - cqueues.monotime()
  if bound < offset then offset = bound end
  return mono + offset
end

--- The real clock: `mono()` seconds (monotonic), `epoch(mono)` its epoch seconds.
limits.clock = { mono = cqueues.monotime, epoch = epoch }

---------------------------------------------------------------------------
-- Budgets: limit, remaining(now), take(now), frees_at(now)
---------------------------------------------------------------------------

-- A sliding window: the arrival times of the requests let in, oldest first.
local Window = {}
Window.__index = Window

local function window(spec, grace)
  local w = setmetatable({ limit = spec.requests, per = spec.per, times = {}, head = 1, tail = 0 }, Window)
  w:set_grace(grace)
  return w
end

function Window:set_grace(grace)
  self.span = self.per - math.min(grace, self.per / 10)
end

function Window:remaining(now)
  local times, cut = self.times, now - self.span
  while self.head <= self.tail and times[self.head] <= cut do
    times[self.head] = nil
    self.head = self.head + 1
  end
  return self.limit - (self.tail - self.head + 1)
end

function Window:take(now)
  self.tail = self.tail + 1
  self.times[self.tail] = now
end

-- When the oldest request leaves the window (S after it came, grace not
-- advertised), so one more may come; now when the window is empty.
function Window:frees_at(now)
  if self.head > self.tail then return now end
  return self.times[self.head] + self.per
end

-- The billing cycle: a fixed window.
local Cycle = {}
Cycle.__index = Cycle

local function cycle(spec, now)
  return setmetatable({ limit = spec.requests, per = spec.per, started = now, used = 0 }, Cycle)
end

function Cycle:remaining(now)
  if now >= self.started + self.per then
    self.started = self.started + math.floor((now - self.started) / self.per) * self.per
    self.used = 0
  end
  return self.limit - self.used
end

function Cycle:take()
  self.used = self.used + 1
end

function Cycle:frees_at()
  return self.started + self.per
end

function Cycle.set_grace() end

---------------------------------------------------------------------------
-- Settings
---------------------------------------------------------------------------

local function off(v) return v == false or v == json.null end

local function positive(v) return type(v) == "number" and v > 0 and v < math.huge end

-- `{ requests, per }` or "N/S"; with `default_per`, also N or "N" (and `per` may be left out)
local function budget_spec(name, v, default_per)
  if type(v) == "string" then
    local n, per = v:match("^%s*(%d+)%s*/%s*([%d.]+)%s*$")
    if not n and default_per then n, per = v:match("^%s*(%d+)%s*$"), default_per end
    v = { requests = tonumber(n), per = tonumber(per) }
  elseif type(v) == "number" and default_per then
    v = { requests = v, per = default_per }
  end
  if type(v) == "table" then
    local unknown = {}
    for k in pairs(v) do
      if k ~= "requests" and k ~= "per" then unknown[#unknown + 1] = tostring(k) end
    end
    if #unknown > 0 then
      table.sort(unknown)
      return nil, ("%s: unknown key(s) %s; expected { requests = N, per = seconds }"):format(
        name, table.concat(unknown, ", "))
    end
  end
  local requests = type(v) == "table" and math.tointeger(v.requests)
  local per = type(v) == "table" and (v.per == nil and default_per or v.per)
  if not (requests and requests > 0 and positive(per)) then
    return nil, ("%s: expected { requests = N, per = seconds }, \"N/SECONDS\"%s or null (N > 0)"):format(
      name, default_per and ", N" or "")
  end
  return { requests = requests, per = per }
end

local CHECKS = {
  latency = function(v) return type(v) == "number" and v >= 0 and v < math.huge and v or nil end,
  jitter = function(v) return type(v) == "number" and v >= 0 and v < math.huge and v or nil end,
  grace = function(v) return type(v) == "number" and v >= 0 and v < math.huge and v or nil end,
  rate_limit = function(v) return budget_spec("rate_limit", v) end,
  bulk = function(v) return budget_spec("bulk", v) end,
  cycle = function(v) return budget_spec("cycle", v, limits.CYCLE) end,
}
local BUDGETS = { "rate_limit", "bulk", "cycle" }

--- Checks settings (all optional): `latency`, `jitter`, `grace` (seconds, >= 0),
-- `rate_limit`, `bulk` (`{ requests, per }` or "N/SECONDS"), `cycle` (the same,
-- or N); `false` or `json.null` turns a budget off.  Numbers given as strings
-- (the command line's) are accepted.
-- @return the settings given, normalised (off budgets as false); or nil and why
function limits.check(settings)
  if type(settings) ~= "table" then return nil, "expected an object" end
  local out = {}
  for k, v in pairs(settings) do
    local check = CHECKS[k]
    if not check then return nil, "unknown setting " .. tostring(k) end
    if off(v) and (k == "rate_limit" or k == "bulk" or k == "cycle") then
      out[k] = false
    else
      if type(v) == "string" and (k == "latency" or k == "jitter" or k == "grace") then v = tonumber(v) end
      local value, why = check(v)
      if value == nil then return nil, why or (k .. ": expected seconds >= 0") end
      out[k] = value
    end
  end
  return out
end

---------------------------------------------------------------------------
-- The limiter
---------------------------------------------------------------------------

local Limits = {}
Limits.__index = Limits

--- A limiter with the start-up settings (see `check`; raises when invalid).
-- @tparam[opt] table settings
-- @tparam[opt] table clock `{ mono = f, epoch = f }`, default `limits.clock`
function limits.new(settings, clock)
  local self = setmetatable({ clock = clock or limits.clock }, Limits)
  self.defaults = assert(limits.check(settings or {}))
  self:reset()
  return self
end

--- Back to the start-up settings, with full budgets and every count at zero.
function Limits:reset()
  self.settings = { latency = 0, jitter = 0, grace = limits.GRACE }
  self.budgets = {}
  -- what the headers say when no budget is configured: counted, never enforced
  self.nominal = { api = window(limits.NOMINAL, 0), bulk = window(limits.NOMINAL, 0) }
  self.counts = { requests = 0, in_flight = 0, peak_in_flight = 0, too_many_requests = 0,
    rate_limit = 0, bulk = 0, cycle = 0 }
  assert(self:configure(self.defaults))
end

--- Changes the settings given (see `check`), keeping the others; a budget
-- given starts afresh.
-- @return true, or nil and why (nothing changed)
function Limits:configure(changes)
  local given, why = limits.check(changes)
  if not given then return nil, why end
  local now = self.clock.mono()
  for k, v in pairs(given) do self.settings[k] = v end
  for _, name in ipairs(BUDGETS) do
    local spec = given[name]
    if spec == false then
      self.budgets[name] = nil
    elseif spec then
      self.budgets[name] = name == "cycle" and cycle(spec, now) or window(spec, self.settings.grace)
    elseif given.grace and self.budgets[name] then
      self.budgets[name]:set_grace(given.grace)
    end
  end
  return true
end

-- the budgets a request of `kind` ("api" or "bulk") draws on, most fatal first,
-- and the one its headers describe
local function budgets_of(self, kind)
  local b = self.budgets
  if kind == "bulk" then return b.bulk and { "bulk" } or {}, "bulk" end
  return { "cycle", "rate_limit" }, b.rate_limit and "rate_limit" or "cycle"
end

local function verdict(self, name, now, refused, nominal)
  local budget = self.budgets[name] or nominal
  if not budget then return { now = now } end
  return { now = now, name = name, refused = refused, limit = budget.limit,
    remaining = math.max(0, budget:remaining(now)), frees_at = budget:frees_at(now) }
end

--- Lets one request of `kind` ("api" or "bulk") in, or refuses it.
-- @return a verdict for `headers` (`refused` is the budget's name when refused)
function Limits:admit(kind)
  local now = self.clock.mono()
  local names, shown = budgets_of(self, kind)
  for _, name in ipairs(names) do
    local budget = self.budgets[name]
    if budget and budget:remaining(now) <= 0 then
      self.counts[name] = self.counts[name] + 1
      self.counts.too_many_requests = self.counts.too_many_requests + 1
      return verdict(self, name, now, name)
    end
  end
  for _, name in ipairs(names) do
    local budget = self.budgets[name]
    if budget then budget:take(now) end
  end
  if not self.budgets[shown] then
    local nominal = self.nominal[kind] or self.nominal.api
    nominal:take(now)
    return verdict(self, "nominal", now, nil, nominal)
  end
  return verdict(self, shown, now)
end

--- The budget a request of `kind` would draw on, taking nothing (for answers
-- that do not reach the API: no credentials, a scripted fault).  With
-- `nominal`, the nominal budget when none is configured (see `limits.NOMINAL`).
function Limits:peek(kind, nominal)
  local _, shown = budgets_of(self, kind)
  if nominal and not self.budgets[shown] then
    return verdict(self, "nominal", self.clock.mono(), nil, self.nominal[kind] or self.nominal.api)
  end
  return verdict(self, shown, self.clock.mono())
end

--- Adds Voucherify's X-Rate-Limit-* headers for `v` (none when no budget
-- applies), and on a refusal `Retry-After` and `X-Rate-Limit-Type`.
-- @return headers
function Limits:headers(v, headers)
  if not v.name then return headers end
  headers["X-Rate-Limit-Limit"] = tostring(v.limit)
  headers["X-Rate-Limit-Remaining"] = tostring(v.remaining)
  headers["X-Rate-Limit-Retry"] = ("%d"):format(math.ceil(self.clock.epoch(v.frees_at)))
  if v.refused then
    -- whole seconds (RFC 9110 delay-seconds), rounded up: never too early
    headers["Retry-After"] = ("%d"):format(math.max(1, math.ceil(v.frees_at - v.now)))
    headers["X-Rate-Limit-Type"] = limits.TYPES[v.refused]
  end
  return headers
end

--- The `details` of a refusal's error body.
function Limits:details(v)
  local budget = self.settings[v.refused]
  return DETAILS[v.refused]:format(budget.requests, budget.per)
end

--- Seconds to hold a response: `latency`, plus or minus up to `jitter` (uniform).
function Limits:delay()
  local s = self.settings
  if s.jitter == 0 then return s.latency end
  return math.max(0, s.latency + (2 * math.random() - 1) * s.jitter)
end

--- Counts an API request read (call `leave` with what this returns once it is answered).
-- @return the counts it went into
function Limits:enter()
  local c = self.counts
  c.requests = c.requests + 1
  c.in_flight = c.in_flight + 1
  if c.in_flight > c.peak_in_flight then c.peak_in_flight = c.in_flight end
  return c
end

--- Counts an API request answered (or dropped), in the counts it entered
-- (a reset meanwhile started new ones, which it never went into).
function Limits.leave(_, counts)
  counts.in_flight = counts.in_flight - 1
end

--- The settings in force and the counts, for GET /_fake/limits (budgets that
-- are off are absent).
function Limits:report()
  local s, c, now = self.settings, self.counts, self.clock.mono()
  local out = { latency = s.latency, jitter = s.jitter, grace = s.grace,
    requests = c.requests, in_flight = c.in_flight, peak_in_flight = c.peak_in_flight,
    too_many_requests = { total = c.too_many_requests }, remaining = {} }
  for _, name in ipairs(BUDGETS) do
    local type_ = limits.TYPES[name]
    out.too_many_requests[type_] = c[name]
    if s[name] then
      out[name] = s[name]
      out.remaining[type_] = self.budgets[name]:remaining(now)
    end
  end
  return out
end

--- One line for the start-up banner, or nil when nothing is set.
function Limits:describe()
  local s, parts = self.settings, {}
  if s.latency > 0 or s.jitter > 0 then
    parts[#parts + 1] = ("latency %.14g s +/- %.14g"):format(s.latency, s.jitter)
  end
  for _, name in ipairs(BUDGETS) do
    if s[name] then
      parts[#parts + 1] = ("%s %d per %.14g s"):format(limits.TYPES[name], s[name].requests, s[name].per)
    end
  end
  return #parts > 0 and table.concat(parts, ", ") or nil
end

return limits
