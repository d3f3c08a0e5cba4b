-- The markdown formatter of the manual (config.ld's `format`): discount, as
-- LDoc's own `format = "discount"` runs it, minus its smart punctuation.
-- LDoc turns `code` spans into <code> before discount sees them, so
-- SmartyPants would make `--lua-dir` read "&ndash;lua-dir" and `x^y` a
-- superscript: a copied command would fail.  A module, not a config.ld
-- function, because LDoc only takes a formatter by module name.
local discount = require "discount"

return function(text)
  return assert(discount.to_html(text, "nopants", "nosuperscript"))
end
