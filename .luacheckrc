std = "lua54"
max_line_length = 120
files["spec/"] = { std = "+busted" }
files["fakeserver/bin/voucherify-fake-server"] = { std = "lua54" }
exclude_files = { "build/" }
files["lua/voucherify/transport/ngx.lua"] = { read_globals = { "ngx" } }
files["examples/openresty/"] = { std = "luajit", globals = { "ngx" } }
files["spec/nginx/"] = { std = "luajit", globals = { "ngx" } }
