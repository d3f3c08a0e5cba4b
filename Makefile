# voucherify-lua: build, test, demo, install.
#
#   make            build the C core (build/voucherify/core.so)
#   make test       install missing Debian packages, build, lint, run every spec
#   make demo       run the examples against the bundled fake server
#   make install    install into $(DESTDIR)$(PREFIX) (default /usr/local)
#   make lint       luacheck
#   make docs       the reference manual (LDoc) into doc/; make docs-check: doc/ is current, no LDoc warning
#   make types      editor types (types/) and the fake server's validation table from openapi/
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

.PHONY: all deps test spec lint demo install install-client install-fake check-rock clean fuzz fuzz-deps bench bench-deps check-memory \
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
	@$(MAKE) --no-print-directory types-check
	@$(MAKE) --no-print-directory docs-check
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
	spec/map_spec.lua spec/prefetch_spec.lua spec/multi_transport_spec.lua spec/request_headers_spec.lua \
	spec/select_spec.lua spec/lazy_headers_spec.lua spec/json_select_spec.lua spec/finalizer_reentry_spec.lua

check-memory: deps $(CORE) $(BLACKHOLE)
	@PACKAGES="valgrind" sh scripts/ensure-deps.sh
	valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite $(LUA) /usr/bin/busted -o TAP $(MEMORY_SPECS) > $(BUILD)/check-memory.log 2>&1 \
		|| { tail -n 60 $(BUILD)/check-memory.log; exit 1; }
	@grep -c "^ok" $(BUILD)/check-memory.log | sed 's/^/check-memory: clean, specs passed: /'


lint:
	luacheck --quiet lua fakeserver fakeserver/bin/voucherify-fake-server spec examples bench scripts/openapi

# every example of examples/expected.lua, each against its own fake server; fails when one
# exits non-zero or does not print what it should (spec/examples_spec.lua checks the same in make test)
demo: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory LUA=luajit all
	@LUA=$(LUA) OUT=$(BUILD) $(LUA) examples/run.lua

check-rock: $(CORE)
	@sh scripts/check-rock.sh

# Editor types (types/, LuaCATS) and the fake server's validation table
# (fakeserver/voucherify/fake/openapi_schemas.lua), generated from the OpenAPI spec.
OPENAPI_SPEC ?= openapi/voucherify-orders-customers.json
TYPES_GENERATED = types/voucherify.lua types/voucherify_shapes.lua fakeserver/voucherify/fake/openapi_schemas.lua
.PHONY: types types-check

types:
	@$(LUA) scripts/openapi/generate.lua --spec $(OPENAPI_SPEC)

# fails when a generated file differs from what `make types` would make now
types-check:
	@tmp=$$(mktemp -d) && $(LUA) scripts/openapi/generate.lua --spec $(OPENAPI_SPEC) --out $$tmp > /dev/null \
	  && for f in $(TYPES_GENERATED); do \
	    cmp -s $$f $$tmp/$$f || { echo "$$f is stale: run make types"; rm -rf $$tmp; exit 1; }; \
	  done; status=$$?; rm -rf $$tmp; [ $$status = 0 ] && echo "types: up to date"

# install = both rocks' files: install-client (voucherify-lua: the C core and
# lua/) and install-fake (voucherify-lua-fake: fakeserver/voucherify/ whole and
# the command; its rockspec runs this target with the rock's directories)
install: install-client install-fake

install-client: $(CORE)
	@cd lua && find voucherify -type f -name '*.lua' | while read -r f; do \
	  install -D -m 644 "$$f" "$(abspath $(INSTALL_LMOD))/$$f" || exit 1; done
	install -D -m 755 $(CORE) $(INSTALL_CMOD)/voucherify/core.so

install-fake:
	@cd fakeserver && find voucherify -type f -name '*.lua' | while read -r f; do \
	  install -D -m 644 "$$f" "$(abspath $(INSTALL_LMOD))/$$f" || exit 1; done
	install -D -m 755 fakeserver/bin/voucherify-fake-server $(INSTALL_BIN)/voucherify-fake-server

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

# --- reference manual ----------------------------------------------------
# make docs: the HTML reference (LDoc, config.ld) from the code's comments into doc/, which is
# committed: LuaRocks copies doc/ into the installed rock, where `luarocks doc voucherify-lua` opens it.
# make docs-check (CI): fails when doc/ is not what `make docs` writes now, and when LDoc warns about
# any module, the internal ones too (docs/internal.ld). LDoc may print a warning and still exit 0:
# every "file:line: message" line it prints fails the target.
.PHONY: docs docs-check docs-deps
LDOC_TESTKIT = $(if $(wildcard fakeserver/voucherify/testing.lua),-D testkit)

# LDoc under one Lua (lua-any would take 5.2 where installed): the same output on every machine
LDOC = lua5.1 /usr/bin/ldoc

docs-deps:
	@PACKAGES="lua5.1 lua-ldoc lua-discount" sh scripts/ensure-deps.sh

# $(call ldoc,CONFIG,OUTPUT DIR): runs LDoc, fails on any warning. `./?.lua` first: the configs'
# `format` is docs/ldoc_discount.lua (discount without smart punctuation), found from LDoc's directory
ldoc = rm -rf $(2) && mkdir -p $(2) $(BUILD) && \
	{ LUA_PATH="./?.lua;$${LUA_PATH:-;}" $(LDOC) --fatalwarnings $(LDOC_TESTKIT) -c $(1) -d $(CURDIR)/$(2) . > $(BUILD)/ldoc.log 2>&1; status=$$?; \
	  if grep -v -e '^reading configuration from ' -e '^changing to directory' -e '^output written to ' $(BUILD)/ldoc.log; then \
	    echo "LDoc ($(1)): the lines above must go"; exit 1; fi; \
	  [ $$status = 0 ] || { echo "LDoc ($(1)) failed"; exit 1; }; }

docs: docs-deps
	@$(call ldoc,config.ld,doc)
	@echo "reference manual: doc/index.html"

docs-check: docs-deps
	@$(call ldoc,docs/internal.ld,$(BUILD)/doc-internal)
	@$(call ldoc,config.ld,$(BUILD)/doc-check)
	@diff -r doc $(BUILD)/doc-check > $(BUILD)/doc-check.diff || \
	  { head -n 40 $(BUILD)/doc-check.diff; echo "doc/ is stale: run make docs and commit doc/"; exit 1; }
	@# smart punctuation (`--lua-dir` shown as an en dash) breaks copied commands: config.ld turns it off
	@! grep -rnE '&(ndash|mdash|hellip|[lr][sd]quo);' doc | head -n 5 | grep . || \
	  { echo "doc/ has smart punctuation: config.ld's format must be docs.ldoc_discount"; exit 1; }
	@echo "docs-check: doc/ is up to date, no LDoc warning, no smart punctuation"

clean:
	rm -rf $(BUILD)
