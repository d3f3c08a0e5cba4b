-- Run from this directory: lua5.4 /usr/bin/busted (plain `busted` may be Lua 5.1; see README.md)
local testing = require "voucherify.testing"
local json = require "voucherify.json"
local order_sync = require "order_sync"

describe("order_sync.push", function()
  local server, client

  setup(function()
    server = testing.start()              -- a fake Voucherify on a free port
    client = server:client { max_retries = 0 }
  end)
  teardown(function() server:stop() end)   -- also closes the client
  before_each(function() server:reset() end)

  local shop_order = { number = "shop-1001", email = "ada@example.com",
    lines = { { sku = "tea", qty = 2, cents = 450 }, { sku = "cup", qty = 1, cents = 1200 } } }

  it("sends one PAID order with the total and returns its summary", function()
    local summary = assert(order_sync.push(client, shop_order))
    assert.are.equal("shop-1001", summary.number)
    assert.are.equal(2100, summary.amount)
    assert.are.equal(2, summary.items)

    local sent = server:requests { method = "POST", path = "/v1/orders" }
    assert.are.equal(1, #sent)
    local body = json.decode(sent[1].body)
    assert.are.equal("PAID", body.status)
    assert.are.equal("ada@example.com", body.customer.email)
    -- and the API has it
    assert.are.equal(2100, assert(client.orders:get(summary.id)).amount)
  end)

  it("passes the API's error on", function()
    server:faults { { path = "/v1/orders", status = 503 } }
    local summary, err = order_sync.push(client, shop_order)
    assert.is_nil(summary)
    assert.are.equal("api", err.kind)
    assert.are.equal(503, err.status)
  end)
end)
