--- `make demo`: runs each example of examples/expected.lua against its own
-- fake server (scripts/with-fake-server.sh), shows what it prints as it
-- prints it, then checks that it exited 0 and printed what it must.  Exits 1
-- when an example failed; the others still run.
--
--   lua5.4 examples/run.lua [NAME...]     (from the checkout; default: all)
local examples = dofile("examples/expected.lua")

local LUA = os.getenv("LUA") or "lua5.4"
local OUT = os.getenv("OUT") or "build"
local ROOT = os.getenv("PWD") or "."

-- a shell word that stands for `s` exactly
local function quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local text = f:read("a")
  f:close()
  return text
end

local wanted = {}
for _, name in ipairs(arg) do wanted[name] = true end

local tmp = os.tmpname()
local failures = {}
for _, example in ipairs(examples) do
  if next(wanted) == nil or wanted[example.name] then
    local words = {}
    for i, word in ipairs(example.command) do
      words[i] = quote((word:gsub("%$LUA", LUA):gsub("%$OUT", OUT):gsub("%$ROOT", ROOT)))
    end
    local env = { "FAKE_SERVER_ARGS=" .. quote(example.server or "") }
    for k, v in pairs(example.env or {}) do env[#env + 1] = k .. "=" .. quote(v) end
    print(("== %s: %s"):format(example.name, table.concat(words, " ")))
    local with_server = example.server ~= false and "sh scripts/with-fake-server.sh " or ""
    -- tee shows the output as it comes; the exit status goes through a file (sh has no pipefail)
    os.execute(("{ env %s %s%s 2>&1; echo $? >%s.status; } | tee %s"):format(
      table.concat(env, " "), with_server, table.concat(words, " "), tmp, tmp))
    local output, status = "\n" .. read(tmp), read(tmp .. ".status"):match("%d+")
    local missing = {}
    for _, pattern in ipairs(example.expect) do
      if not output:find(pattern) then missing[#missing + 1] = ("%q"):format(pattern):gsub("\\\n", "\\n") end
    end
    if status ~= "0" or #missing > 0 then
      failures[#failures + 1] = ("%s: exit status %s%s"):format(example.name, tostring(status),
        #missing > 0 and ("; did not print " .. table.concat(missing, ", ")) or "")
    end
    print()
  end
end
os.remove(tmp)
os.remove(tmp .. ".status")
if #failures > 0 then
  io.stderr:write("make demo: ", #failures, " example(s) failed\n  ", table.concat(failures, "\n  "), "\n")
  os.exit(1)
end
print("make demo: every example ran and printed what it should")
