-- The content handler of the private nginx (nginx_hostile/harness.lua):
-- GET /run?case=NAME&base=URL[&param=TEXT] runs the client side of that case
-- of nginx_hostile/cases.lua on the cosocket transport and answers with its
-- outcome as JSON.
-- luacheck: std luajit, globals ngx
local cases = require "nginx_hostile.cases"
local voucherify = require "voucherify"

local handler = {}

function handler.handle()
  local args = ngx.req.get_uri_args()
  local outcome = cases.run(args.case, voucherify, args.base, "ngx", args.param)
  ngx.header["Content-Type"] = "application/json"
  ngx.say(assert(voucherify.json.encode(outcome)))
end

return handler
