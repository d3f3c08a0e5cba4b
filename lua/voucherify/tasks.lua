--- Many calls at once (`client:map`): the scheduler, and the one place that
-- knows "the current task".
--
-- In plain Lua each item runs in a coroutine (a task) as ordinary blocking-
-- looking code.  Where a call would block, the task yields to the scheduler
-- instead, which runs the others meanwhile:
-- * the libcurl transport starts the request on the client's multi handle
--   (csrc/multi.c) and calls `tasks.transfer`;
-- * `voucherify.clock.sleep` (retry waits, polling) calls `tasks.sleep`.
-- Both ask `tasks.current()` first; outside a task (or in a coroutine of the
-- caller's own inside one) everything blocks as before.  `tasks.running` is
-- the number of live tasks, so that the common case costs one comparison.
--
-- A source of transfers (the multi handle) has `wait(seconds)` -> ids done,
-- `collect(id)` -> raw, failure and `cancel(id)`.  The scheduler waits on
-- the sources its tasks wait on, or sleeps until the first timer.  Each map
-- resumes only its own tasks: a transfer of another map that ends meanwhile
-- is kept for that map's next step, so a map left with `break` (on LuaJIT,
-- where nothing tells us) never sends another request.
--
-- A map (or a prefetch group) stepped inside a task -- a nested map, an
-- iterator's prefetch -- never blocks: the enclosing task parks (yields to
-- its own scheduler, with the nested map's sources and first timer), so the
-- outer scheduler drives every source and wakes the parked task when one of
-- the nested map's transfers ends or its timer is due.
--
-- Inside nginx, with the cosocket transport, the tasks are light threads
-- (ngx.thread.spawn), which cosockets and ngx.sleep already yield.
-- @module voucherify.tasks

local runtime = require "voucherify.runtime"

local unpack = require("voucherify.compat").unpack

local tasks = {}

--- The number of live coroutine tasks (0: nothing to ask, the fast path).
tasks.running = 0

-- coroutine -> task; weak both ways: a task lives as long as its map holds it
local by_co = setmetatable({}, { __mode = "kv" })
-- source -> { [id] = task waiting on that transfer }
local waiters = setmetatable({}, { __mode = "k" })
-- what a task yields to the scheduler (any other value is the caller's own yield)
local TOKEN = {}
-- the longest single wait (libcurl's own timeouts end every transfer anyway)
local MAX_WAIT = 60

-- LuaJIT's tables have no __gc (Lua 5.1): a proxy carries the finalizer
local GC_TABLES = _VERSION ~= "Lua 5.1"

local clock -- voucherify.clock, which requires this module: loaded at first use
local function now()
  clock = clock or require "voucherify.clock"
  return clock.now()
end

--- The task running now, or nil (outside any task, or in a coroutine of the
-- caller's own inside one: that one must block, it cannot yield to us).
function tasks.current()
  local co = coroutine.running()
  return co and by_co[co]
end

--- Inside a task: waits for the transfer `id` of `source`, yielding to the
-- scheduler meanwhile.
-- @return what `source:collect(id)` returns
function tasks.transfer(source, id)
  local task = tasks.current()
  local waiting = waiters[source]
  if not waiting then
    waiting = setmetatable({}, { __mode = "v" })
    waiters[source] = waiting
  end
  waiting[id] = task
  task.source, task.id = source, id
  coroutine.yield(TOKEN)
  task.source, task.id, task.woke = nil, nil, nil
  return source:collect(id)
end

--- Inside a task: sleeps `seconds`, while the other tasks run.
function tasks.sleep(seconds)
  local task = tasks.current()
  task.wake_at = now() + seconds
  coroutine.yield(TOKEN)
  task.wake_at = nil
end

-- ---------------------------------------------------------------------------
-- Coroutine tasks (plain Lua; any transport that is not the cosocket one)
-- ---------------------------------------------------------------------------

local Map = {}
Map.__index = Map

local function finish(task)
  local map = task.map
  if map.tasks[task] then
    map.tasks[task] = nil
    map.running = map.running - 1
    tasks.running = tasks.running - 1
  end
  by_co[task.co] = nil
end

local YIELDED = "voucherify: client:map: the function yielded outside the library"
  .. " (a coroutine.yield inside a task has no one to go to)"

-- Runs `task` until it waits, ends or raises.
local function resume(task, ...)
  local map = task.map
  local co = task.co
  local ok, a, b, c = coroutine.resume(co, ...)
  if not ok then
    finish(task)
    if map.failure == nil then map.failure = a == nil and "voucherify: client:map: error (nil)" or a end
  elseif coroutine.status(co) == "dead" then
    finish(task)
    if map.results then
      map.results[task] = { a, b, c }
    else
      local tail = map.tail + 1
      map.ready[tail] = { task.i, a, b, c }
      map.tail = tail
    end
  elseif a ~= TOKEN then
    finish(task)
    if map.failure == nil then map.failure = YIELDED end
  end
end

-- Starts `fn(...)` as a task of `map` (for its item `i`) and runs it until it waits.
local function spawn(map, i, fn, ...)
  local task = { map = map, i = i, co = coroutine.create(fn) }
  by_co[task.co] = task
  map.tasks[task] = true
  map.running = map.running + 1
  tasks.running = tasks.running + 1
  resume(task, ...)
  return task
end

-- Wakes `task` (its transfer ended, or the map it is parked on has work):
-- resumes it when its map is the one stepping (`map`), else queues it for
-- that map's next step; a map parked inside a task wakes that task in turn.
-- `woke` marks a wake not yet acted on (cleared when the task resumes): a
-- stale entry in `woken` is skipped, so a task never resumes while it waits
-- on something else.
local function wake(map, task)
  while true do
    local owner = task.map
    if owner == map then return resume(task) end
    task.woke = true
    local woken = owner.woken
    woken[#woken + 1] = task
    task = owner.parked
    if not task or task.woke then return end
  end
end

-- Hands the transfers `source` finished to their tasks: this map's resume
-- now, another map's wait for that map's next step.
local function deliver(map, source, done)
  local waiting = waiters[source]
  -- who waited on each id, taken before any task runs (a task resumed below
  -- may reuse the slot of a transfer cancelled meanwhile, under the same id)
  local owners = {}
  for k, id in ipairs(done) do
    local task = waiting and waiting[id]
    if task then
      waiting[id] = nil
      owners[k] = task
    else
      -- its task was dropped (its map collected): the transfer is nobody's;
      -- a finalizer may have cancelled it already
      pcall(source.cancel, source, id)
      owners[k] = false
    end
  end
  for k = 1, #done do
    local task = owners[k]
    -- (a task cancelled or closed meanwhile is skipped: its close dropped the transfer)
    if task and task.map.tasks[task] then wake(map, task) end
  end
end

-- Inside the task `task`, instead of waiting for `map`'s sources or timer:
-- parks `task` in its own scheduler until one of them is ready.
local function park(map, task, first_timer, sources)
  map.parked, task.child = task, map
  task.sources = sources
  if first_timer < math.huge then task.wake_at = first_timer end
  coroutine.yield(TOKEN)
  map.parked, task.child, task.sources, task.wake_at, task.woke = nil, nil, nil, nil, nil
end

-- One turn of the scheduler for `map`: resumes the tasks that can go on,
-- waiting (without spinning) until one can.
local function step(map)
  if #map.woken > 0 then
    local woken = map.woken
    map.woken = {}
    for _, task in ipairs(woken) do
      if task.woke and map.tasks[task] then resume(task) end
    end
    return
  end
  local t, first_timer, due, sources, nsources = now(), math.huge, {}, {}, 0
  for task in pairs(map.tasks) do
    local at, source = task.wake_at, task.source
    if at then
      if at <= t then due[#due + 1] = task elseif at < first_timer then first_timer = at end
    end
    if source and not sources[source] then
      sources[source] = true
      nsources = nsources + 1
      sources[nsources] = source
    end
    -- a task parked on a map of its own waits on that map's sources too
    local more = task.sources
    if more then
      for k = 1, #more do
        source = more[k]
        if not sources[source] then
          sources[source] = true
          nsources = nsources + 1
          sources[nsources] = source
        end
      end
    end
  end
  if #due > 0 then
    for _, task in ipairs(due) do
      if map.tasks[task] then resume(task) end
    end
    return
  end
  if nsources == 0 and first_timer == math.huge then
    map.failure = "voucherify: client:map: no task can go on (each waits on something outside the library)"
    return
  end
  local outer = tasks.running ~= 0 and tasks.current()
  if outer then
    -- a map inside a task (a nested map, an iterator's prefetch): let the enclosing scheduler wait
    for k = 1, nsources do sources[sources[k]] = nil end
    return park(map, outer, first_timer, sources)
  end
  local timeout = math.min(first_timer - t, MAX_WAIT)
  if nsources == 0 then
    clock.sleep(timeout)
    return
  end
  -- several sources (calls of several clients): poll them in turn
  if nsources > 1 then timeout = math.min(timeout, 0.005) end
  for k = 1, nsources do
    local source = sources[k]
    deliver(map, source, source:wait(k == 1 and timeout or 0))
  end
end

--- Cancels what is in flight and forgets the rest; the client stays usable.
-- Runs by itself when the loop ends, on `break` (Lua 5.4's to-be-closed
-- variable of the generic for) and when the map is garbage collected.
function Map:close()
  if self.closed then return end
  self.closed = true
  for task in pairs(self.tasks) do
    local source, id = task.source, task.id
    if source then
      local waiting = waiters[source]
      if waiting then waiting[id] = nil end
      pcall(source.cancel, source, id) -- fails only when the client was closed meanwhile
    end
    if task.child then task.child.parked = nil end
    finish(task)
    -- runs the task's pending to-be-closed variables (Lua 5.4)
    if coroutine.close then coroutine.close(task.co) end
  end
  self.ready, self.woken = {}, {}
end

Map.__close = Map.close
Map.__gc = Map.close

-- The generic for's step: the next item done, as `i, result, err, response`.
function Map:__call()
  if self.closed then return nil end
  while true do
    while self.running < self.concurrency and self.next <= self.n and self.failure == nil do
      local i = self.next
      self.next = i + 1
      spawn(self, i, self.fn, self.client, self.items[i], i)
    end
    local failure = self.failure
    if failure ~= nil then
      self:close()
      error(failure, 0)
    end
    local ready = self.ready
    local r = ready[self.head]
    if r then
      ready[self.head] = nil
      self.head = self.head + 1
      return r[1], r[2], r[3], r[4]
    end
    if self.running == 0 then
      self:close()
      return nil
    end
    step(self)
  end
end

-- ---------------------------------------------------------------------------
-- Light threads (inside nginx, with the cosocket transport)
-- ---------------------------------------------------------------------------

local Threads = {}
Threads.__index = Threads

local function ngx_thread()
  return rawget(_G, "ngx").thread
end

-- a light thread's body: its item's index, then pcall's outcome
local function run_item(fn, client, item, i)
  return i, pcall(fn, client, item, i)
end

--- Kills the light threads still running; the client stays usable.
function Threads:close()
  if self.closed then return end
  self.closed = true
  for _, thread in pairs(self.threads) do pcall(ngx_thread().kill, thread) end
  self.threads, self.order = {}, {}
end

Threads.__close = Threads.close
Threads.__gc = Threads.close

function Threads:__call()
  if self.closed then return nil end
  while self.running < self.concurrency and self.next <= self.n do
    local i = self.next
    self.next = i + 1
    local thread, err = ngx_thread().spawn(run_item, self.fn, self.client, self.items[i], i)
    if not thread then
      self:close()
      error("voucherify: client:map: cannot start a light thread: " .. tostring(err), 0)
    end
    self.threads[i] = thread
    self.running = self.running + 1
  end
  if self.running == 0 then
    self:close()
    return nil
  end
  local list, n = self.order, 0
  for _, thread in pairs(self.threads) do
    n = n + 1
    list[n] = thread
  end
  for k = n + 1, #list do list[k] = nil end
  local ok, i, called, result, err, response = ngx_thread().wait(unpack(list, 1, n))
  if not ok then
    self:close()
    error(i, 0)
  end
  self.threads[i] = nil
  self.running = self.running - 1
  if not called then
    self:close()
    error(result, 0)
  end
  return i, result, err, response
end

-- ---------------------------------------------------------------------------
-- Groups: background calls a caller collects one by one (iterators' prefetch)
-- ---------------------------------------------------------------------------

local Group = setmetatable({}, { __index = Map })
Group.__index = Group
Group.__gc = Map.close

--- Starts `fn(...)` in the background: it runs until its first wait, and its
-- request is handed to libcurl at once.
-- @return the future, for `get` and `cancel`
function Group:start(fn, ...)
  local task = spawn(self, nil, fn, ...)
  local source = task.source
  if source then deliver(self, source, source:wait(0)) end
  return task
end

--- The results of the future `task` (`fn`'s first three), running the
-- group's tasks until it is done; raises what `fn` raised.
function Group:get(task)
  local results = self.results
  while not results[task] do
    if self.failure ~= nil then
      local failure = self.failure
      self.failure = nil
      error(failure, 0)
    end
    if not self.tasks[task] then error("voucherify: tasks: get of a future that was cancelled", 2) end
    step(self)
  end
  local r = results[task]
  results[task] = nil
  return r[1], r[2], r[3]
end

--- Cancels the future `task` (its request is dropped if still in flight).
function Group:cancel(task)
  self.results[task] = nil
  if not self.tasks[task] then return end
  local source, id = task.source, task.id
  if source then
    local waiting = waiters[source]
    if waiting then waiting[id] = nil end
    pcall(source.cancel, source, id)
  end
  finish(task)
  if coroutine.close then coroutine.close(task.co) end
end

-- The same over light threads (inside nginx, with the cosocket transport).
local ThreadGroup = {}
ThreadGroup.__index = ThreadGroup

function ThreadGroup.start(_, fn, ...)
  local thread, err = ngx_thread().spawn(fn, ...)
  if not thread then error("voucherify: cannot start a light thread: " .. tostring(err), 0) end
  return thread
end

function ThreadGroup.get(_, thread)
  local ok, a, b, c = ngx_thread().wait(thread)
  if not ok then error(a, 0) end
  return a, b, c
end

function ThreadGroup.cancel(_, thread)
  pcall(ngx_thread().kill, thread)
end

function ThreadGroup.close() end

-- LuaJIT: tables have no __gc; a proxy's finalizer closes for the table
local function guard(t)
  if not GC_TABLES then
    local proxy = rawget(_G, "newproxy")(true)
    getmetatable(proxy).__gc = function() t:close() end
    t.guard = proxy
  end
  return t
end

--- A group of background calls: `start(fn, ...)` ->
-- future, `get(future)` -> its results, `cancel(future)`, `close()` (cancels
-- them all; also when the group is garbage collected).
-- Inside nginx (where light threads can run) they are light threads, else
-- coroutine tasks.
function tasks.group()
  if runtime.can_yield() then return setmetatable({}, ThreadGroup) end
  return guard(setmetatable({ tasks = {}, results = setmetatable({}, { __mode = "k" }), woken = {}, running = 0 },
    Group))
end

-- ---------------------------------------------------------------------------

--- Runs `fn(client, item, i)` for each item of `items`, at most `concurrency`
-- at once; see `Client:map` (arguments checked there).
-- @return the iterator object (a callable, also the generic for's closing value)
function tasks.map(client, items, fn, concurrency)
  local state = { client = client, items = items, n = #items, fn = fn, concurrency = concurrency,
    next = 1, running = 0 }
  if client.transports:pick().name == "ngx" then
    state.threads, state.order = {}, {}
    return guard(setmetatable(state, Threads))
  end
  -- ready: results not yet returned, a queue from head to tail
  state.tasks, state.ready, state.head, state.tail, state.woken = {}, {}, 1, 0, {}
  return guard(setmetatable(state, Map))
end

return tasks
