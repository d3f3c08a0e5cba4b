--- Deterministic benchmark fixtures: a realistic 100-order list page
-- (~350 KB) and a single order, written as JSON by the library's encoder.
--   lua5.4 bench/fixtures.lua OUTDIR
-- The same seed always gives the same bytes.
local json = require "voucherify.json"

local fixtures = {}

-- a small LCG, so the output does not depend on the Lua version's math.random
local function rng(seed)
  local state = seed
  return function(n)
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n + 1
  end
end

local WORDS = { "Bouquet", "Romantic", "Roses", "Vase", "Boho", "Vintage", "Card", "Chocolate",
  "Box", "Candle", "Lavender", "Tulips", "Ceramic", "Mug", "Gift", "Wrap", "Orchid", "Basket",
  "Crème", "brûlée", "Ærø", "Zürich", "Kraków", "東京", "café", "naïve", "Ōsaka", "piñata" }

local function words(r, n)
  local out = {}
  for i = 1, n do out[i] = WORDS[r(#WORDS)] end
  return table.concat(out, " ")
end

local function id(r, prefix, n)
  local chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
  local out = {}
  for i = 1, n do
    local k = r(#chars)
    out[i] = chars:sub(k, k)
  end
  return prefix .. table.concat(out)
end

local function stamp(r)
  return ("2024-%02d-%02dT%02d:%02d:%02d.%03dZ"):format(r(12), r(28), r(24) - 1, r(60) - 1, r(60) - 1, r(1000) - 1)
end

function fixtures.order(r)
  local items = json.array()
  local amount = 0
  for i = 1, 2 + r(3) do
    local price = r(500) * 100
    local qty = r(4)
    local item = {
      object = "order_item", source_id = id(r, "sku_", 8), related_object = i % 2 == 0 and "sku" or "product",
      product_id = id(r, "prod_", 18), quantity = qty, amount = price * qty, price = price,
      discount_amount = r(3) == 1 and r(50) * 10 or 0, subtotal_amount = price * qty,
      product = { id = id(r, "prod_", 18), source_id = id(r, "p-", 6), name = words(r, 3),
        price = price, metadata = { color = json.array { words(r, 1) }, vendor = words(r, 1),
          weight = r(5000) / 100, fragile = r(2) == 1, origin = words(r, 2), batch = r(99999),
          description = words(r, 8) } },
      metadata = { gift_wrap = r(2) == 1, message = words(r, 5), line = i },
    }
    if i % 2 == 0 then
      item.sku = { id = id(r, "sku_", 18), source_id = id(r, "s-", 6), sku = words(r, 2), price = price,
        metadata = { size = ({ "S", "M", "L", "XL" })[r(4)] } }
    end
    amount = amount + price * qty
    items[i] = item
  end
  return {
    id = id(r, "ord_", 24), source_id = r(4) == 1 and json.null or id(r, "web-", 10),
    created_at = stamp(r), updated_at = r(3) == 1 and json.null or stamp(r),
    status = ({ "CREATED", "PAID", "CANCELED", "FULFILLED" })[r(4)],
    amount = amount, discount_amount = 0, items_discount_amount = 0, total_discount_amount = 0,
    total_amount = amount, applied_discount_amount = 0, items = items,
    metadata = { channel = ({ "web", "store", "app" })[r(3)], note = words(r, 6),
      tags = json.array { words(r, 1), words(r, 1) }, score = r(1000) / 7, gift = r(2) == 1,
      coupon = json.null, location_id = json.array { "L" .. r(9), "L" .. r(9) } },
    customer_id = id(r, "cust_", 24), referrer_id = json.null,
    customer = { id = id(r, "cust_", 24), object = "customer", source_id = id(r, "crm-", 12),
      name = words(r, 2), email = id(r, "", 10) .. "@example.com" },
    redemptions = { [id(r, "r_", 20)] = { date = stamp(r), related_object_type = "voucher",
      related_object_id = id(r, "v_", 20), stacked = json.array { id(r, "r_", 20) } } },
    object = "order",
  }
end

--- The list page: { object, data_ref, orders (n), total }.
function fixtures.list(n, seed)
  local r = rng(seed or 42)
  local orders = json.array()
  for i = 1, n do orders[i] = fixtures.order(r) end
  return { object = "list", data_ref = "orders", orders = orders, total = 20000 }
end

if arg and arg[0] and arg[0]:match("fixtures%.lua$") then
  local dir = assert(arg[1], "usage: fixtures.lua OUTDIR")
  local list = fixtures.list(100)
  local function write(name, value)
    local f = assert(io.open(dir .. "/" .. name, "wb"))
    f:write(assert(json.encode(value)))
    f:close()
  end
  write("orders.json", list)
  write("order.json", list.orders[1])
end

return fixtures
