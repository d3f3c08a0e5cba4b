-- Offline install from a checkout (Debian packages provide libcurl):
--   luarocks --lua-version=5.4 make --deps-mode=none CURL_INCDIR=/usr/include/x86_64-linux-gnu
-- or with the project's config, which sets the same things:
--   LUAROCKS_CONFIG=luarocks/config-5.4.lua luarocks --lua-version=5.4 make
rockspec_format = "3.0"
package = "voucherify-lua"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/voucherify-lua/voucherify-lua.git",
  tag = "v0.1.0",
}
description = {
  summary = "Voucherify API client (orders, customers, async actions, exports) with a C core",
  detailed = [[
    voucherify-lua talks to the Voucherify promotions API. A C module does HTTP
    with libcurl and converts JSON straight to Lua tables and back; a thin Lua
    layer gives client.orders and client.customers, structured errors, retries
    and pagination iterators. Ships an offline fake Voucherify server
    (voucherify-fake-server, needs lua-cqueues) for tests and demos.
  ]],
  license = "MIT",
  labels = { "voucherify", "api", "http", "json", "libcurl" },
}
dependencies = {
  "lua >= 5.1",
}
external_dependencies = {
  CURL = { header = "curl/curl.h", library = "curl" },
}
build = {
  type = "builtin",
  modules = {
    ["voucherify.core"] = {
      sources = {
        "csrc/core.c", "csrc/clock.c", "csrc/files.c", "csrc/http.c", "csrc/json.c",
        "csrc/json_decode.c", "csrc/json_encode.c", "csrc/multi.c",
      },
      defines = { "_POSIX_C_SOURCE=200809L" },
      libraries = { "curl" },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
    },
    ["voucherify"] = "lua/voucherify/init.lua",
    ["voucherify.argcheck"] = "lua/voucherify/argcheck.lua",
    ["voucherify.auth"] = "lua/voucherify/auth.lua",
    ["voucherify.client"] = "lua/voucherify/client.lua",
    ["voucherify.clock"] = "lua/voucherify/clock.lua",
    ["voucherify.compat"] = "lua/voucherify/compat.lua",
    ["voucherify.csv"] = "lua/voucherify/csv.lua",
    ["voucherify.cursors.date_cursor"] = "lua/voucherify/cursors/date_cursor.lua",
    ["voucherify.cursors.id_cursor"] = "lua/voucherify/cursors/id_cursor.lua",
    ["voucherify.cursors.page_number"] = "lua/voucherify/cursors/page_number.lua",
    ["voucherify.datetime"] = "lua/voucherify/datetime.lua",
    ["voucherify.endpoint"] = "lua/voucherify/endpoint.lua",
    ["voucherify.errors"] = "lua/voucherify/errors.lua",
    ["voucherify.fake.api_error"] = "fakeserver/voucherify/fake/api_error.lua",
    ["voucherify.fake.auth"] = "fakeserver/voucherify/fake/auth.lua",
    ["voucherify.fake.faults"] = "fakeserver/voucherify/fake/faults.lua",
    ["voucherify.fake.gzip"] = "fakeserver/voucherify/fake/gzip.lua",
    ["voucherify.fake.handlers.control"] = "fakeserver/voucherify/fake/handlers/control.lua",
    ["voucherify.fake.handlers.customers"] = "fakeserver/voucherify/fake/handlers/customers.lua",
    ["voucherify.fake.handlers.jobs"] = "fakeserver/voucherify/fake/handlers/jobs.lua",
    ["voucherify.fake.handlers.oauth"] = "fakeserver/voucherify/fake/handlers/oauth.lua",
    ["voucherify.fake.handlers.orders"] = "fakeserver/voucherify/fake/handlers/orders.lua",
    ["voucherify.fake.http"] = "fakeserver/voucherify/fake/http.lua",
    ["voucherify.fake.jobs"] = "fakeserver/voucherify/fake/jobs.lua",
    ["voucherify.fake.limits"] = "fakeserver/voucherify/fake/limits.lua",
    ["voucherify.fake.multipart"] = "fakeserver/voucherify/fake/multipart.lua",
    ["voucherify.fake.query"] = "fakeserver/voucherify/fake/query.lua",
    ["voucherify.fake.router"] = "fakeserver/voucherify/fake/router.lua",
    ["voucherify.fake.server"] = "fakeserver/voucherify/fake/server.lua",
    ["voucherify.fake.state"] = "fakeserver/voucherify/fake/state.lua",
    ["voucherify.fake.store"] = "fakeserver/voucherify/fake/store.lua",
    ["voucherify.files"] = "lua/voucherify/files.lua",
    ["voucherify.inflate"] = "lua/voucherify/inflate.lua",
    ["voucherify.json"] = "lua/voucherify/json.lua",
    ["voucherify.multipart"] = "lua/voucherify/multipart.lua",
    ["voucherify.oauth"] = "lua/voucherify/oauth.lua",
    ["voucherify.options"] = "lua/voucherify/options.lua",
    ["voucherify.pagination"] = "lua/voucherify/pagination.lua",
    ["voucherify.pipeline"] = "lua/voucherify/pipeline.lua",
    ["voucherify.poller"] = "lua/voucherify/poller.lua",
    ["voucherify.query"] = "lua/voucherify/query.lua",
    ["voucherify.rate_limit"] = "lua/voucherify/rate_limit.lua",
    ["voucherify.rate_limit.gcra"] = "lua/voucherify/rate_limit/gcra.lua",
    ["voucherify.rate_limit.local_store"] = "lua/voucherify/rate_limit/local_store.lua",
    ["voucherify.rate_limit.redis"] = "lua/voucherify/rate_limit/redis.lua",
    ["voucherify.rate_limit.shared_dict"] = "lua/voucherify/rate_limit/shared_dict.lua",
    ["voucherify.request"] = "lua/voucherify/request.lua",
    ["voucherify.resources.async_actions"] = "lua/voucherify/resources/async_actions.lua",
    ["voucherify.resources.customers"] = "lua/voucherify/resources/customers.lua",
    ["voucherify.resources.exports"] = "lua/voucherify/resources/exports.lua",
    ["voucherify.resources.orders"] = "lua/voucherify/resources/orders.lua",
    ["voucherify.response"] = "lua/voucherify/response.lua",
    ["voucherify.retry"] = "lua/voucherify/retry.lua",
    ["voucherify.runtime"] = "lua/voucherify/runtime.lua",
    ["voucherify.tasks"] = "lua/voucherify/tasks.lua",
    ["voucherify.transport"] = "lua/voucherify/transport/init.lua",
    ["voucherify.transport.curl"] = "lua/voucherify/transport/curl.lua",
    ["voucherify.transport.ngx"] = "lua/voucherify/transport/ngx.lua",
    ["voucherify.url"] = "lua/voucherify/url.lua",
  },
  install = {
    bin = { ["voucherify-fake-server"] = "fakeserver/bin/voucherify-fake-server" },
  },
}
