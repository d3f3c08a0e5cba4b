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

-- Every page of the manual, generated: doc/ as `make docs` wrote it (`make
-- docs-check` proves it is what the sources build now).
local function manual_pages()
  local pages = {}
  for path in process.output("find doc -name '*.html' | LC_ALL=C sort"):gmatch("[^\n]+") do
    pages[#pages + 1] = path
  end
  return pages
end

describe("the reference manual (doc/)", function()
  -- What discount's smart punctuation makes of `--`, `---`, `...`, quotes and `^`.
  local SMART = { "&ndash;", "&mdash;", "&hellip;", "&lsquo;", "&rsquo;", "&ldquo;", "&rdquo;",
    "<sup>", "\u{2013}", "\u{2014}", "\u{2026}", "\u{2018}", "\u{2019}", "\u{201C}", "\u{201D}" }

  -- The spans of `html` a reader copies: <code> and <pre> elements.
  local function code_spans(html)
    local spans = {}
    for tag in ("code pre"):gmatch("%a+") do
      for span in html:gmatch("<" .. tag .. "[^>]*>(.-)</" .. tag .. ">") do spans[#spans + 1] = span end
    end
    return spans
  end

  it("shows code as written: no dash, ellipsis or quote turned typographic (a copied command works)", function()
    local pages, options = manual_pages(), 0
    assert.is_true(#pages >= 10)
    for _, path in ipairs(pages) do
      local html = read(path)
      for _, span in ipairs(code_spans(html)) do
        for _, smart in ipairs(SMART) do
          assert.falsy(span:find(smart, 1, true), ("%s: %s in code: %s"):format(path, smart, span:sub(1, 200)))
        end
        for _ in span:gmatch("%-%-%a") do options = options + 1 end
      end
      -- outside code too, nothing that reads as a mangled `--option`
      local mangled = html:match("&[nm]dash;[%w_]") or html:match("\u{2013}[%w_]") or html:match("\u{2014}[%w_]")
      assert.falsy(mangled, ("%s: %s"):format(path, tostring(mangled)))
    end
    -- the check looks at real commands: the OpenResty topic's among them
    assert.is_true(options >= 5)
    local openresty = read("doc/topics/openresty.md.html")
    assert.truthy(openresty:find("<code>--lua-dir=/usr</code>", 1, true))
    assert.truthy(openresty:find("--deps-mode=none voucherify-lua-0.1.0-1.rockspec", 1, true))
  end)

  it("has no code span broken across lines (LDoc marks a later span of the line inside it: `<code>` shows)", function()
    local broken = {}
    for _, path in ipairs(manual_pages()) do
      local n = 0
      for line in read(path):gmatch("[^\n]*&lt;/?code&gt;[^\n]*") do
        n = n + 1
        if n == 1 then broken[#broken + 1] = path .. ": " .. line:sub(1, 160) end
      end
    end
    assert.are.same({}, broken)
  end)

  it("lists the topics by title, not by file name", function()
    local index = read("doc/index.html")
    local topics = 0
    for _, file in ipairs { "rate_limits.md", "concurrency.md", "retries.md", "openresty.md" } do
      local href = ("topics/%s.html"):format(file):gsub("%p", "%%%0")
      local text = index:match('<td class="name"[^>]*><a href="' .. href .. '">([^<]*)</a>')
      assert.truthy(text, file)
      assert.are_not.equal(file, text)
      topics = topics + 1
    end
    assert.are.equal(4, topics)
  end)

  -- The entries of a module's page: `<a name = "...">` anchors, one per function, method and table.
  local function entries_of(module)
    local html = assert(read("doc/modules/" .. module .. ".html"), "no page for " .. module)
    local entries = {}
    for name in html:gmatch('<a name = "([^"]+)"></a>') do entries[name] = true end
    return entries
  end

  -- The names of `t`'s functions, each prefixed with `prefix` (metamethods left out).
  local function functions_of(t, prefix)
    local names = {}
    for name, v in pairs(t) do
      if type(v) == "function" and not name:match("^__") then names[#names + 1] = prefix .. name end
    end
    return names
  end

  local function assert_entries(module, names, at_least)
    local entries, missing = entries_of(module), {}
    for _, name in ipairs(names) do
      if not entries[name] then missing[#missing + 1] = name end
    end
    table.sort(missing)
    assert.are.same({}, missing, module .. ": functions the manual lacks")
    assert.is_true(#names >= at_least, module)
  end

  -- LDoc drops, without a warning, a block it cannot parse (a `--verbose` code
  -- span opening it did): the page must have an entry for every public function.
  it("has an entry for every public function of the library's modules", function()
    local client = voucherify.new { app_id = "a", app_token = "b", base_url = "http://127.0.0.1:9" }
    assert_entries("voucherify", functions_of(voucherify, ""), 3)
    assert_entries("voucherify.rate_limit", functions_of(voucherify.rate_limit, ""), 3)
    assert_entries("voucherify.json", functions_of(voucherify.json, ""), 4)
    assert_entries("voucherify.client", functions_of(getmetatable(client).__index, "Client:"), 4)
    for field, class in pairs { orders = "Orders", customers = "Customers", async_actions = "AsyncActions",
      exports = "Exports" } do
      assert_entries("voucherify.resources." .. field, functions_of(getmetatable(client[field]), class .. ":"), 2)
    end
    client:close()
  end)

  it("has an entry for every public function of voucherify.testing", function()
    local testing = require "voucherify.testing"
    local names = functions_of(testing, "")
    -- the server's methods, from a real server's metatable
    local server = testing.start()
    local ok, err = pcall(function()
      for _, name in ipairs(functions_of(getmetatable(server).__index, "Server:")) do names[#names + 1] = name end
    end)
    server:stop()
    assert(ok, err)
    assert_entries("voucherify.testing", names, 20)
  end)
end)

describe("the editor types (types/voucherify.lua) and the manual", function()
  local library = read("types/voucherify.lua")

  -- The `@field` names of the doc comment `-- @table name` in `source`.
  local function manual_fields(source, name)
    local block = assert(source:match("\n%-%- @table " .. name .. "\n(.-)\n[^%-]"), "no @table " .. name)
    local fields = {}
    for field in block:gmatch("%-%- @field ([%w_]+)") do fields[#fields + 1] = field end
    assert.is_true(#fields >= 4, name)
    return fields
  end

  -- The field names of `---@class name` in the types, with those of its parent classes.
  local function class_fields(name, into)
    into = into or {}
    local header, inside
    for line in library:gmatch("[^\n]+") do
      local class, rest = line:match("^%-%-%-@class ([%w_%.]+)(.*)$")
      if class then
        inside = class == name
        if inside then header = rest end
      elseif inside and line:match("^%-%-%-@field ") then
        into[line:match("^%-%-%-@field ([%w_]+)")] = true
      else
        inside = false
      end
    end
    assert.truthy(header, "no class " .. name)
    for parent in (header:match("^:%s*(.*)$") or ""):gmatch("[%w_%.]+") do class_fields(parent, into) end
    return into
  end

  local function assert_covers(class, fields, what)
    local have, missing = class_fields(class), {}
    for _, field in ipairs(fields) do
      if not have[field] then missing[#missing + 1] = field end
    end
    assert.are.same({}, missing, ("%s lacks fields of %s"):format(class, what))
  end

  it("give the error, response, on_response info and page info classes every field the manual lists", function()
    assert_covers("voucherify.error", manual_fields(read("lua/voucherify/errors.lua"), "Error"), "Error")
    local client_source = read("lua/voucherify/client.lua")
    assert_covers("voucherify.response", manual_fields(client_source, "Response"), "Response")
    assert_covers("voucherify.response_info", manual_fields(client_source, "ResponseInfo"), "ResponseInfo")
    assert_covers("voucherify.page_info", manual_fields(client_source, "PageInfo"), "PageInfo")
    assert_covers("voucherify.rate_limit_options", manual_fields(read("lua/voucherify/rate_limit.lua"), "options"),
      "the rate_limit option")
  end)

  it("give the options class every option voucherify.new takes", function()
    local _, message = pcall(voucherify.new, { no_such_option = true })
    local known = {}
    for name in assert(tostring(message):match("%(known: ([^)]*)%)")):gmatch("[%w_]+") do known[#known + 1] = name end
    assert.is_true(#known >= 20)
    assert_covers("voucherify.options", known, "voucherify.new")
  end)

  it("give `select` to the params of every call that takes it, and to no other", function()
    local client = voucherify.new { app_id = "a", app_token = "b", base_url = "http://127.0.0.1:9" }
    local calls = {
      { "voucherify.orders_list_params", "orders", "list" },
      { "voucherify.orders_each_params", "orders", "each" },
      { "voucherify.orders_each_params", "orders", "pages" },
      { "voucherify.customers_list_params", "customers", "list" },
      { "voucherify.customers_each_params", "customers", "each" },
      { "voucherify.customers_each_params", "customers", "pages" },
      { "voucherify.activity_params", "customers", "activity", "cust_1" },
      { "voucherify.activity_each_params", "customers", "each_activity", "cust_1" },
      { "voucherify.activities_params", "customers", "activities", "cust_1" },
      { "voucherify.redeemables_params", "customers", "redeemables", "cust_1" },
      { "voucherify.redeemables_each_params", "customers", "each_redeemable", "cust_1" },
    }
    for _, c in ipairs(calls) do
      local class, resource, method, id = c[1], c[2], c[3], c[4]
      -- a bad `select` raises before any request when the call takes it; an unknown parameter raises otherwise
      local args = { { select = { 1 } } }
      if id then table.insert(args, 1, id) end
      local ok, err = pcall(client[resource][method], client[resource], table.unpack(args))
      assert.is_false(ok, method)
      local takes = not tostring(err):find("unknown parameter 'select'", 1, true)
      assert.are.equal(takes, class_fields(class).select == true,
        ("%s:%s (%s): %s"):format(resource, method, class, err))
    end
    client:close()
  end)
end)
