--- order_sync: a module of "your" code, the kind a shop would write: it
-- pushes a paid shop order to Voucherify and returns a short summary.  Its
-- spec (spec/order_sync_spec.lua) tests it against the fake Voucherify server
-- with voucherify.testing.
local order_sync = {}

--- Pushes `shop_order` (`number`, `email`, `lines` = { { sku =, qty =, cents = } })
-- as a PAID order, upserted by its number.
-- @param client a voucherify client
-- @tparam table shop_order the shop's order
-- @return `{ id =, number =, amount =, items = }`, or nil and the client's error
function order_sync.push(client, shop_order)
  local items, amount = {}, 0
  for i, line in ipairs(shop_order.lines) do
    items[i] = { source_id = line.sku, quantity = line.qty, price = line.cents, amount = line.qty * line.cents }
    amount = amount + line.qty * line.cents
  end
  local order, err = client.orders:create {
    source_id = shop_order.number,
    status = "PAID",
    amount = amount,
    items = items,
    customer = { source_id = shop_order.email, email = shop_order.email },
  }
  if not order then return nil, err end
  return { id = order.id, number = order.source_id, amount = order.amount, items = #items }
end

return order_sync
