--- Long-running work the API does in the background: async actions and
-- exports.  The work itself is done at once; what tests see is the status
-- moving one step per GET, as a client polling the real API would:
--   async action: ENQUEUED -> IN_PROGRESS (progress 50) -> DONE | FAILED
--   export:       SCHEDULED -> IN_PROGRESS -> DONE (result.url) | ERROR
-- A test makes a job fail with POST /_fake/jobs/{id}/fail.
-- @module voucherify.fake.jobs

local json = require "voucherify.json"
local csv = require "voucherify.csv"
local api_error = require "voucherify.fake.api_error"
local state_mod = require "voucherify.fake.state"

local null = json.null

local jobs = {}

jobs.ASYNC_STEPS = { { "ENQUEUED", 0 }, { "IN_PROGRESS", 50 }, { "DONE", 100 } }
jobs.EXPORT_STEPS = { "SCHEDULED", "IN_PROGRESS", "DONE" }

local function token()
  local out = {}
  for i = 1, 32 do out[i] = ("%x"):format(math.random(0, 15)) end
  return table.concat(out)
end

--- Records an async action whose outcome is `result`; returns it (ENQUEUED).
-- `report`: the CSV of a report; when it finishes, `result.reports` lists its
-- link on the download listener (GET /v1/async-actions/{id}/report?token=...).
function jobs.async_action(state, type_, result, report)
  local now = state_mod.now(state)
  local action = {
    id = state.async_actions:new_id(), object = "async_action", type = type_,
    status = "ENQUEUED", progress = 0, created_at = now, updated_at = now,
    request_id = api_error.request_id(),
  }
  state.jobs[action.id] = { polls = 0, result = result, report = report, token = report and token() }
  return state.async_actions:insert(action)
end

--- Records a scheduled export of `exported_object`; returns it (SCHEDULED).
function jobs.export(state, exported_object, parameters)
  local exp = {
    id = state.exports:new_id(), object = "export", created_at = state_mod.now(state),
    status = "SCHEDULED", channel = "API", exported_object = exported_object,
    parameters = parameters, result = null, user_id = null,
  }
  state.jobs[exp.id] = { polls = 0, token = token() }
  return state.exports:insert(exp)
end

--- Marks a job to fail when it finishes; false when there is no such job.
function jobs.fail(state, id)
  local job = state.jobs[id]
  if not job then return false end
  job.fail = true
  return true
end

--- One poll of an async action: moves it a step on.  `download_base`: the
-- download listener's URL, for the links of reports.
function jobs.poll_async_action(state, action, download_base)
  if action.status == "DONE" or action.status == "FAILED" then return action end
  local job = state.jobs[action.id]
  job.polls = job.polls + 1
  local step = jobs.ASYNC_STEPS[math.min(job.polls, #jobs.ASYNC_STEPS)]
  action.status, action.progress = step[1], step[2]
  action.updated_at = state_mod.now(state)
  if action.status == "DONE" and action.result == nil then
    if job.fail then
      action.status = "FAILED"
      action.operation_status = "FAILED"
      action.result = { message = "The async action failed (as the test asked)." }
    else
      local r = job.result
      -- nothing done and something failed: the operation failed
      action.operation_status = (r.done_count == 0 and (r.failed_count or 0) > 0) and "FAILED" or "SUCCESS"
      if job.report then
        job.csv = job.report
        r.reports = json.array { ("%s/v1/async-actions/%s/report?token=%s"):format(download_base or "",
          action.id, job.token) }
      end
      action.result = r
    end
    action.processing_time = 0
  end
  return action
end

local function cell(record, field)
  local v = record[field]
  local key = field:match("^metadata%.(.+)$")
  if key then v = type(record.metadata) == "table" and record.metadata[key] or nil end
  if v == null then return "" end
  if type(v) == "table" then return json.encode(v) end
  return v
end

local function export_csv(state, exp)
  local fields = exp.parameters.fields
  local source = exp.exported_object == "order" and state.orders or state.customers
  local rows = {}
  for i, record in ipairs(source:sorted(exp.parameters.order or "-created_at")) do
    local row = {}
    for j, f in ipairs(fields) do row[j] = cell(record, f) end
    rows[i] = row
  end
  return csv.format(fields, rows)
end

--- One poll of an export: moves it a step on; when DONE it gets `result.url`
-- on the download listener (`download_base`) and its CSV is made.
function jobs.poll_export(state, exp, download_base)
  if exp.status == "DONE" or exp.status == "ERROR" then return exp end
  local job = state.jobs[exp.id]
  job.polls = job.polls + 1
  exp.status = jobs.EXPORT_STEPS[math.min(job.polls, #jobs.EXPORT_STEPS)]
  if exp.status == "DONE" and exp.result == null then
    if job.fail then
      exp.status = "ERROR"
      exp.result = { message = "The export failed (as the test asked)." }
    else
      job.csv = export_csv(state, exp)
      exp.result = { url = ("%s/v1/exports/%s?token=%s"):format(download_base, exp.id, job.token) }
    end
  end
  return exp
end

--- The CSV of a finished export, if `given_token` is its token.
-- @return csv text, or nil
function jobs.download(state, id, given_token)
  local job = state.jobs[id]
  if not job or not job.csv or given_token ~= job.token then return nil end
  return job.csv
end

return jobs
