-- The reference manual (make docs, doc/) covers the public API: every client
-- option, every method of every resource and of the client is documented in
-- the code's own comments with an example (`@usage`), which is what LDoc
-- builds the manual from.  (`make docs-check` proves doc/ is what those
-- comments build now, with no LDoc warning.)
local voucherify = require "voucherify"
local process = require "support.process"

local read = process.read_file

-- The doc comment block (the `---` line and the `--` lines after it) that
-- documents `name` in `source`: the block holding `-- @function name`, or the
-- one right above `function name(`.
local function doc_block(source, name)
  local lines = {}
  for line in (source .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  for i, line in ipairs(lines) do
    local tagged = line:match("^%s*%-%- @function (%S+)%s*$") == name
    local defined = line:find("^function " .. name:gsub("%p", "%%%0") .. "%(") ~= nil
    if tagged or defined then
      local first, last = i, defined and i - 1 or i
      while first > 1 and not lines[first]:match("^%s*%-%-%-") do first = first - 1 end
      while not defined and lines[last + 1] and lines[last + 1]:match("^%s*%-%-") do last = last + 1 end
      return table.concat(lines, "\n", first, last)
    end
  end
  return nil
end

describe("the reference manual's source", function()
  local client = voucherify.new { app_id = "a", app_token = "b", base_url = "http://127.0.0.1:9" }

  it("documents every option voucherify.new takes, as a field of voucherify.options' `options` table", function()
    local ok, message = pcall(voucherify.new, { no_such_option = true })
    assert.is_false(ok)
    local known = assert(message:match("%(known: ([^)]*)%)"), message)
    local source = read("lua/voucherify/options.lua")
    local block = assert(source:match("\n(%-%-%- Every option of `voucherify.new`.-\n)[^%-]"))
    local count = 0
    for name in known:gmatch("[%w_]+") do
      count = count + 1
      assert.truthy(block:find("\n%-%- @field " .. name .. " "), "option not documented: " .. name)
    end
    assert.is_true(count >= 20)
  end)

  local RESOURCES = {
    { "orders", "Orders", "lua/voucherify/resources/orders.lua" },
    { "customers", "Customers", "lua/voucherify/resources/customers.lua" },
    { "async_actions", "AsyncActions", "lua/voucherify/resources/async_actions.lua" },
    { "exports", "Exports", "lua/voucherify/resources/exports.lua" },
  }
  for _, r in ipairs(RESOURCES) do
    local field, class, file = r[1], r[2], r[3]
    it(("documents every method of client.%s with an example"):format(field), function()
      local source = read(file)
      local methods = 0
      for name, v in pairs(getmetatable(client[field])) do
        if type(v) == "function" and not name:match("^__") then
          methods = methods + 1
          local block = doc_block(source, class .. ":" .. name)
          assert.truthy(block, ("%s:%s has no doc comment"):format(class, name))
          assert.truthy(block:find("@usage", 1, true), ("%s:%s has no @usage"):format(class, name))
        end
      end
      assert.is_true(methods >= 2)
    end)
  end

  it("documents the client's methods with an example", function()
    local source = read("lua/voucherify/client.lua")
    for _, name in ipairs { "request", "with", "map", "close" } do
      assert.is_function(client[name])
      local block = doc_block(source, "Client:" .. name)
      assert.truthy(block and block:find("@usage", 1, true), "Client:" .. name)
    end
  end)

  it("documents every function of the voucherify module with an example", function()
    local source = read("lua/voucherify/init.lua")
    for name, v in pairs(voucherify) do
      if type(v) == "function" then
        local block = doc_block(source, name)
        assert.truthy(block and block:find("@usage", 1, true), "voucherify." .. name)
      end
    end
  end)

  it("has a page per public module in doc/ (the manual luarocks doc opens)", function()
    local index = read("doc/index.html")
    for _, module in ipairs { "voucherify", "voucherify.client", "voucherify.options", "voucherify.errors",
      "voucherify.resources.orders", "voucherify.resources.customers", "voucherify.resources.async_actions",
      "voucherify.resources.exports", "voucherify.rate_limit" } do
      assert.truthy(index:find('href="modules/' .. module .. '.html"', 1, true), module)
    end
  end)
end)
