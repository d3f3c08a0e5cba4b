--- Where the fake server knowingly checks other than the OpenAPI spec says,
-- each with its reason.  Applied by scripts/openapi/schemas.lua to the
-- generated validation table only (the editor types follow the spec).
-- Each entry: `schema` (a component), `path` (keys inside its compacted form),
-- and `set` (keywords to add there) or `any_of` (the node becomes "the spec's
-- schema, or this one").
-- @module scripts.openapi.overrides

return {
  -- Order exports take `metadata.<key>` columns besides the listed fields
  -- (examples/export_orders.lua, spec/jobs_spec.lua); the spec's enum lists only "metadata".
  { schema = "ExportOrderFields", path = {}, any_of = { type = "string", lua_pattern = "^metadata%.[%w_%-]+$" } },
  -- An export made without `order` echoes `order = ""` (the spec's get-export example).
  { schema = "ExportOrderOrder", path = {}, any_of = { enum = { "" } } },
  { schema = "ExportCustomerOrder", path = {}, any_of = { enum = { "" } } },
  -- A filter condition's value: the schema "Any" is a list, but the spec's own
  -- export example gives one value (`conditions = { ["$more_than"] = 1000 }`).
  { schema = "Any", path = {}, any_of = { oneOf = { { type = "string" }, { type = "number" }, { type = "boolean" },
    { type = "object" } } } },
  -- The API takes at most 2000 orders per import (its reference says so; the schema has no maxItems).
  { schema = "OrdersImportCreateRequestBody", path = {}, set = { maxItems = 2000 } },
  -- The API refuses item quantities below 1 (its own 400 example: "Property
  -- .items[0].initial_quantity cannot be lower than 1"); the schema has no minimum.
  { schema = "OrderItem", path = { "properties", "quantity" }, set = { minimum = 1 } },
  { schema = "OrderItem", path = { "properties", "initial_quantity" }, set = { minimum = 1 } },
  -- The spec's own response examples (answers of the real API) give these as
  -- null where the schema says a plain type: a fake that answers as the API
  -- does must not fail the response check for them.
  { schema = "ExportScheduledBase", path = { "properties", "user_id" }, set = { nullable = true } },
  { schema = "RedeemableVoucher", path = { "properties", "additional_info" }, set = { nullable = true } },
  { schema = "RedeemableVoucher", path = { "properties", "category_id" }, set = { nullable = true } },
  { schema = "RedeemableVoucher", path = { "properties", "expiration_date" }, set = { nullable = true } },
  { schema = "RedeemableVoucher", path = { "properties", "gift" }, set = { nullable = true } },
  { schema = "RedeemableVoucher", path = { "properties", "loyalty_card" }, set = { nullable = true } },
  { schema = "RedeemableVoucher", path = { "properties", "redemption", "properties", "quantity" },
    set = { nullable = true } },
  { schema = "RedeemableVoucher", path = { "properties", "start_date" }, set = { nullable = true } },
  { schema = "RedeemableVoucher", path = { "properties", "validity_day_of_week" }, set = { nullable = true } },
  { schema = "RedeemableVoucher", path = { "properties", "validity_hours" }, set = { nullable = true } },
  { schema = "RedeemableVoucher", path = { "properties", "validity_timeframe" }, set = { nullable = true } },
}
