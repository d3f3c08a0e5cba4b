# voucherify-lua: build, test, demo, install.
#
#   make            build the C core (build/voucherify/core.so)
#   make test       install missing Debian packages, build, lint, run every spec
#   make demo       run the examples against the bundled fake server
#   make install    install into $(DESTDIR)$(PREFIX) (default /usr/local)
#   make lint       luacheck
#   make check-memory  the C-core-heavy specs under valgrind memcheck
#   make fuzz       libFuzzer (clang, ASan, UBSan) on the JSON decoder and round trips
#   make bench      the library against its anchors (nginx on loopback, a plain libcurl loop, cjson),
#                   then throughput under a rate limit (fake server, Redis, nginx)

# `make LUA=luajit` builds the core against LuaJIT 2.1 (the Lua 5.1 API, as
# OpenResty runs it) into build/luajit/voucherify/core.so.
LUA_VERSION ?= 5.4
LUA         ?= lua$(LUA_VERSION)
PKG_CONFIG  ?= pkg-config
CC          ?= gcc
PREFIX      ?= /usr/local
DESTDIR     ?=

ifeq ($(LUA),luajit)
LUA_VERSION  = 5.1
LUA_CFLAGS  ?= $(shell $(PKG_CONFIG) --cflags luajit 2>/dev/null)
BUILD        = build/luajit
else
LUA_CFLAGS  ?= $(shell $(PKG_CONFIG) --cflags lua$(LUA_VERSION) 2>/dev/null)
BUILD        = build
endif
CURL_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
CURL_LIBS   ?= $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null || echo -lcurl)

CFLAGS  ?= -O2 -g
WARN     = -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
ALL_CFLAGS = $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden $(LUA_CFLAGS) $(CURL_CFLAGS)
LDFLAGS ?=

CORE    = $(BUILD)/voucherify/core.so
SOURCES = $(wildcard csrc/*.c)
HEADERS = $(wildcard csrc/*.h)
OBJECTS = $(patsubst csrc/%.c,$(BUILD)/obj/%.o,$(SOURCES))

INSTALL_LMOD = $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)
INSTALL_CMOD = $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)
INSTALL_BIN  = $(DESTDIR)$(PREFIX)/bin

BUSTED = $(LUA) /usr/bin/busted

.PHONY: all deps test spec lint demo install check-rock clean fuzz fuzz-deps bench bench-deps check-memory \
	openresty-example fake-server

all: $(CORE)

$(BUILD)/obj/%.o: csrc/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(CORE): $(OBJECTS)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -o $@ $(OBJECTS) $(CURL_LIBS)

deps:
	@sh scripts/ensure-deps.sh

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory spec
	@$(MAKE) --no-print-directory check-rock

BLACKHOLE = $(BUILD)/support/blackhole

$(BLACKHOLE): spec/support/blackhole.c
	@mkdir -p $(dir $@)
	$(CC) -O2 $(WARN) -o $@ $<

# spec/nginx_spec.lua: nginx's TLS handshakes made to complete without waiting (LD_PRELOAD)
TLS_AT_ONCE = $(BUILD)/support/tls_at_once.so

$(TLS_AT_ONCE): spec/nginx/tls_at_once.c
	@mkdir -p $(dir $@)
	$(CC) -O2 $(WARN) -fPIC -shared -o $@ $< -ldl

# spec/nginx_spec.lua runs the library inside nginx: it needs the LuaJIT build too
# Prints the failures (TAP) and closes with one line: "N passed, N failed".
spec: $(CORE) $(BLACKHOLE) $(TLS_AT_ONCE)
	@$(MAKE) --no-print-directory LUA=luajit all
	@$(BUSTED) -o TAP > $(BUILD)/spec.tap 2>&1; status=$$?; \
	  grep -v -e "^ok " -e "^# spec/" $(BUILD)/spec.tap; \
	  echo "$$(grep -c '^ok ' $(BUILD)/spec.tap) passed, $$(grep -c '^not ok ' $(BUILD)/spec.tap) failed"; \
	  exit $$status

# the fake server in the foreground: make fake-server PORT=8080
PORT ?= 8080
fake-server: deps
	@$(MAKE) --no-print-directory all
	$(LUA) fakeserver/bin/voucherify-fake-server --port $(PORT)

# examples/openresty against the fake server
openresty-example: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory LUA=luajit all
	@sh scripts/openresty-example.sh

# The specs that drive the C core hardest, under valgrind memcheck: no
# errors and no definitely lost bytes.
MEMORY_SPECS = spec/json_spec.lua spec/json_edge_spec.lua spec/client_spec.lua spec/orders_spec.lua \
	spec/customers_spec.lua spec/jobs_spec.lua spec/reliability_spec.lua spec/json_memory_spec.lua \
	spec/no_resend_spec.lua spec/hostile_transport_spec.lua spec/download_spec.lua spec/curl_transport_spec.lua \
	spec/map_spec.lua spec/prefetch_spec.lua spec/multi_transport_spec.lua spec/request_headers_spec.lua

check-memory: deps $(CORE) $(BLACKHOLE)
	@PACKAGES="valgrind" sh scripts/ensure-deps.sh
	valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite $(LUA) /usr/bin/busted -o TAP $(MEMORY_SPECS) > $(BUILD)/check-memory.log 2>&1 \
		|| { tail -n 60 $(BUILD)/check-memory.log; exit 1; }
	@grep -c "^ok" $(BUILD)/check-memory.log | sed 's/^/check-memory: clean, specs passed: /'


lint:
	luacheck --quiet lua fakeserver fakeserver/bin/voucherify-fake-server spec examples bench

demo: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/with-fake-server.sh $(LUA) examples/orders_demo.lua
	@echo
	@sh scripts/with-fake-server.sh $(LUA) examples/customers_sync.lua
	@echo
	@sh scripts/with-fake-server.sh $(LUA) examples/export_orders.lua $(BUILD)/orders-export.csv
	@echo
	@FAKE_SERVER_ARGS="--latency 0.05 --rate-limit 400/1" VOUCHERIFY_RATE=400/1 \
	  sh scripts/with-fake-server.sh $(LUA) examples/bulk_sync.lua

check-rock: $(CORE)
	@sh scripts/check-rock.sh

install: $(CORE)
	install -d $(INSTALL_LMOD)/voucherify/transport $(INSTALL_LMOD)/voucherify/resources \
		$(INSTALL_LMOD)/voucherify/cursors $(INSTALL_LMOD)/voucherify/rate_limit \
		$(INSTALL_LMOD)/voucherify/fake/handlers $(INSTALL_CMOD)/voucherify $(INSTALL_BIN)
	install -m 644 lua/voucherify/*.lua $(INSTALL_LMOD)/voucherify/
	install -m 644 lua/voucherify/transport/*.lua $(INSTALL_LMOD)/voucherify/transport/
	install -m 644 lua/voucherify/resources/*.lua $(INSTALL_LMOD)/voucherify/resources/
	install -m 644 lua/voucherify/cursors/*.lua $(INSTALL_LMOD)/voucherify/cursors/
	install -m 644 lua/voucherify/rate_limit/*.lua $(INSTALL_LMOD)/voucherify/rate_limit/
	install -m 644 fakeserver/voucherify/fake/*.lua $(INSTALL_LMOD)/voucherify/fake/
	install -m 644 fakeserver/voucherify/fake/handlers/*.lua $(INSTALL_LMOD)/voucherify/fake/handlers/
	install -m 755 $(CORE) $(INSTALL_CMOD)/voucherify/core.so
	install -m 755 fakeserver/bin/voucherify-fake-server $(INSTALL_BIN)/voucherify-fake-server

# --- fuzzing -------------------------------------------------------------
FUZZ_SECONDS ?= 30
FUZZ_CC      ?= clang
FUZZ_CFLAGS   = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -D_POSIX_C_SOURCE=200809L -Icsrc $(LUA_CFLAGS) $(CURL_CFLAGS)
LUA_STATIC   ?= $(shell $(PKG_CONFIG) --variable=libdir lua$(LUA_VERSION) 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)/liblua$(LUA_VERSION).a
FUZZERS       = $(BUILD)/fuzz/decode_fuzzer $(BUILD)/fuzz/roundtrip_fuzzer

fuzz-deps:
	@PACKAGES="clang libclang-rt-14-dev" sh scripts/ensure-deps.sh

$(BUILD)/fuzz/%: fuzz/%.c fuzz/fuzz_host.h $(SOURCES) $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(SOURCES) $(LUA_STATIC) $(CURL_LIBS) -lm -ldl

# Each target runs FUZZ_SECONDS from the seed corpus (copied, so the repo's stays small).
# A crash leaves its input in build/fuzz/ and fails: add it to spec/json_edge_spec.lua.
fuzz: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZERS)
	@bash scripts/fuzz.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

# --- benchmark -----------------------------------------------------------
BENCH_ROUNDS ?= 7
# BENCH_THROUGHPUT=0 skips the throughput part; BENCH_ONLY=codec runs the codec section (d) alone
BENCH_THROUGHPUT ?= 1

bench-deps:
	@PACKAGES="nginx lua-cjson liblua5.4-dev libcurl4-openssl-dev lua-cqueues redis-server lua-redis lua-socket \
	  libnginx-mod-http-lua libluajit2-5.1-dev" sh scripts/ensure-deps.sh

$(BUILD)/bench/curl_loop: bench/curl_loop.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L $(LUA_CFLAGS) $(CURL_CFLAGS) -o $@ $< \
		$(CURL_LIBS) -llua$(LUA_VERSION) -lm

# the construction floor: builds the tables from a pre-parsed tape (bench/run.lua, section d)
$(BUILD)/bench/floor.so: bench/floor.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -fPIC -shared $(LUA_CFLAGS) -o $@ $<

bench: bench-deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/curl_loop $(BUILD)/bench/floor.so
	@LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" $(LUA) bench/run.lua $(BUILD) $(BENCH_ROUNDS)
	@# throughput under a rate limit (BENCH_THROUGHPUT=0 skips it); its nginx loads the LuaJIT core
	@if [ "$(BENCH_THROUGHPUT)" != 0 ]; then \
	  $(MAKE) --no-print-directory LUA=luajit all && \
	  LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" $(LUA) bench/throughput.lua build/luajit; \
	fi

clean:
	rm -rf $(BUILD)
