# kombo-lua: build, test, lint, demo, install.
#
# Settings (override on the command line, e.g. `make test LUA_VERSION=5.1`,
# or `make test LUA=luajit`):
ifeq ($(notdir $(LUA)),luajit)
LUA_VERSION := 5.1
LUA_INCDIR  ?= /usr/include/luajit-2.1
BUILD       ?= build/luajit
endif
LUA_VERSION ?= 5.4
LUA         ?= lua$(LUA_VERSION)
LUA_INCDIR  ?= /usr/include/lua$(LUA_VERSION)
CURL_CFLAGS ?= $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   ?= $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
# Webhook signatures (csrc/hmac.c) use OpenSSL's libcrypto, which libcurl links too.
CRYPTO_CFLAGS ?= $(shell pkg-config --cflags libcrypto 2>/dev/null)
CRYPTO_LIBS   ?= $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)
# Folders LuaRocks found the libraries in (it passes them to `make rock`);
# empty, the compiler's own search, which also covers Debian's multiarch
# /usr/include/<triplet> where curl/curl.h lives.
CURL_INCDIR ?=
CURL_LIBDIR ?=
SIMDJSON_INCDIR ?=
SIMDJSON_LIBDIR ?=
CRYPTO_INCDIR ?=
CRYPTO_LIBDIR ?=
DEP_CPPFLAGS = $(addprefix -I,$(sort $(CURL_INCDIR) $(SIMDJSON_INCDIR) $(CRYPTO_INCDIR)))
DEP_LDFLAGS  = $(addprefix -L,$(sort $(CURL_LIBDIR) $(SIMDJSON_LIBDIR) $(CRYPTO_LIBDIR)))
CC          ?= cc
CXX         ?= c++
CFLAGS      ?= -O2 -g
CXXFLAGS    ?= -O2 -g
JSON_LIBS   ?= -lsimdjson -lstdc++
WARNFLAGS   ?= -Wall -Wextra -Werror=implicit-function-declaration
PREFIX      ?= /usr/local
LUA_LIBDIR  ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUA_SHAREDIR?= $(PREFIX)/share/lua/$(LUA_VERSION)
BINDIR      ?= $(PREFIX)/bin
BUSTED      ?= busted
BUSTED_ARGS ?=
# Where the compiled module goes; one folder per Lua version so builds never mix.
BUILD       ?= build/$(LUA_VERSION)

CSRC   := $(wildcard csrc/*.c)
CHDR   := $(wildcard csrc/*.h)
# The JSON decoder is C++ (simdjson); everything else is C.
CXXSRC := csrc/json.cpp
CORE   := $(BUILD)/kombo/core.so
# kombo.core stays mapped once loaded. Closing a state unloads the C modules
# it loaded (the package library's own finalizer) and then may still run a
# user's finalizer that calls into kombo (LuaJIT runs the finalizers that
# finalizers create, after the unload): that call would jump into unmapped
# code. GNU ld, gold and lld all know the flag; musl never unloads anyway.
KEEP_LOADED := -Wl,-z,nodelete

.PHONY: all test lint demo examples readme install clean operations sandbox sandbox-requests deps bench \
	matrix check rock rock-install headers

all: $(CORE)

$(BUILD)/json.o: $(CXXSRC)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(CXXFLAGS) -Wall -Wextra -fPIC -fvisibility=hidden -I$(LUA_INCDIR) $(DEP_CPPFLAGS) \
		-c -o $@ $<

$(CORE): $(CSRC) $(CHDR) $(BUILD)/json.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARNFLAGS) -fPIC -fvisibility=hidden -I$(LUA_INCDIR) $(DEP_CPPFLAGS) $(CURL_CFLAGS) \
		$(CRYPTO_CFLAGS) -shared $(KEEP_LOADED) -o $@ $(CSRC) $(BUILD)/json.o $(DEP_LDFLAGS) $(CURL_LIBS) $(CRYPTO_LIBS) $(JSON_LIBS)

test: $(CORE)
	KOMBO_LUA=$(LUA) tools/run-specs.sh $(BUSTED) --lua=$(LUA) --cpath='$(BUILD)/?.so' $(BUSTED_ARGS) spec

# The whole suite under every Lua version; ends with the summed totals.
MATRIX ?= 5.4 5.3 5.1 luajit
matrix:
	tools/matrix.sh $(MATRIX)

# What CI runs (after `make deps`): lint, the C core under memcheck, the
# sanitizers and the fuzzers, then the matrix last, so the final line is the
# suite's totals.
check: lint valgrind asan fuzz
	$(MAKE) --no-print-directory matrix

# Debian packages for building, testing and the demo (run as root).
# Plain `luajit` conflicts with libnginx-mod-http-lua; luajit2 does not.
DEB_PACKAGES = make gcc g++ pkg-config libcurl4-openssl-dev libsimdjson-dev libssl-dev openssl \
	lua5.4 liblua5.4-dev lua5.3 liblua5.3-dev lua5.1 liblua5.1-0-dev luajit2 libluajit2-5.1-dev \
	lua-cjson lua-luv lua-socket lua-busted lua-check luarocks \
	nginx-light libnginx-mod-http-lua neovim \
	valgrind clang libclang-rt-14-dev
deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES)

lint:
	luacheck $(wildcard lua spec examples tools bench sandbox fuzz) sandbox/bin/kombo-sandbox bin/kombo

# Re-derive the operation table (lua/kombo/operations*), docs/operations.md
# and library/kombo.lua from the documents in reference/ (see reference/README.md).
OPENAPI ?= reference/kombo-openapi.json
operations:
	$(LUA) tools/gen-operations.lua --reference $(dir $(OPENAPI))

# The sandbox's own copy of the request rules, from the same document.
sandbox-requests:
	$(LUA) sandbox/tools/gen-requests.lua $(OPENAPI) > sandbox/lua/kombo_sandbox/requests.lua.tmp
	mv sandbox/lua/kombo_sandbox/requests.lua.tmp sandbox/lua/kombo_sandbox/requests.lua

# Start the sandbox in the foreground (Ctrl-C stops it). It finds its
# modules beside its script and needs none of the SDK's.
# On the README's port, so its server_url works as written.
SANDBOX_ARGS ?= --port 4010
sandbox:
	$(LUA) sandbox/bin/kombo-sandbox $(SANDBOX_ARGS)

demo: $(CORE)
	LUA=$(LUA) BUILD=$(BUILD) sh tools/with-sandbox.sh $(LUA) examples/list_open_jobs.lua

# Every example script, each against a freshly seeded sandbox.
WITH_SANDBOX = LUA=$(LUA) BUILD=$(BUILD) sh tools/with-sandbox.sh $(LUA)
examples: $(CORE)
	$(WITH_SANDBOX) examples/list_open_jobs.lua
	$(WITH_SANDBOX) examples/move_stage.lua "Backend Engineer" "Initial Screening"
	$(WITH_SANDBOX) examples/create_application.lua "Backend Engineer" examples/files/ada_lovelace_cv.pdf \
		Ada Lovelace ada.lovelace@example.com
	$(WITH_SANDBOX) examples/reject_stale.lua 30 "No response" --note "Closing stale file"
	rm -f $(BUILD)/nightly_export.jsonl $(BUILD)/nightly_export.state.json
	$(WITH_SANDBOX) examples/nightly_export.lua $(BUILD)/nightly_export.jsonl $(BUILD)/nightly_export.state.json
	$(WITH_SANDBOX) examples/integration_health.lua
	$(WITH_SANDBOX) bin/kombo ats get-jobs --statuses OPEN --all

# The operation reference is docs/operations.md, which `make operations` writes.
readme: operations

# The performance benchmark (not part of `make test`); installs what it needs.
bench: $(CORE)
	LUA=$(LUA) BUILD=$(BUILD) bench/run.sh

# The SDK: kombo.core and every module under lua/kombo/, found, not listed;
# and the `kombo` command into BINDIR, its first line naming $(LUA) (under
# LuaRocks the wrapper LuaRocks writes names the interpreter instead).
install: $(CORE)
	install -d $(DESTDIR)$(LUA_LIBDIR)/kombo $(DESTDIR)$(LUA_SHAREDIR)/kombo $(DESTDIR)$(BINDIR)
	install -m 755 $(CORE) $(DESTDIR)$(LUA_LIBDIR)/kombo/core.so
	cd lua && find kombo -name '*.lua' -exec install -D -m 644 {} $(DESTDIR)$(LUA_SHAREDIR)/{} \;
	sed '1s|.*|#!/usr/bin/env $(notdir $(LUA))|' bin/kombo > $(DESTDIR)$(BINDIR)/kombo.tmp
	chmod 755 $(DESTDIR)$(BINDIR)/kombo.tmp
	mv $(DESTDIR)$(BINDIR)/kombo.tmp $(DESTDIR)$(BINDIR)/kombo

# LuaRocks' entry points (build.type = "make" in kombo-*.rockspec). LuaRocks
# passes the interpreter (LUA=/usr/bin/lua5.4, /usr/bin/luajit, ...), the
# folders it found and, to rock-install, its own LIBDIR/LUADIR as
# LUA_LIBDIR/LUA_SHAREDIR. Each interpreter builds into its own folder under
# build/rock/, so a `luarocks make` leaves nothing in the source tree and
# versions never share an object file.
ROCK_BUILD = build/rock/$(notdir $(LUA))
rock: headers
	$(MAKE) --no-print-directory BUILD=$(ROCK_BUILD) all
rock-install:
	$(MAKE) --no-print-directory BUILD=$(ROCK_BUILD) install

# LuaRocks checks that the libraries exist, not their headers (which it
# would only look for outside the multiarch folders): say which package
# brings a missing header instead of leaving it to a compiler error.
CURL_HINT = curl/curl.h not found: install the headers of libcurl (Debian, Ubuntu: libcurl4-openssl-dev; \
	Fedora: libcurl-devel; Alpine: curl-dev) or pass CURL_INCDIR=<the folder holding curl/curl.h>
SIMDJSON_HINT = simdjson.h not found: install the headers of simdjson (Debian, Ubuntu: libsimdjson-dev; \
	Fedora: simdjson-devel; Alpine: simdjson-dev) or pass SIMDJSON_INCDIR=<the folder holding simdjson.h>
CRYPTO_HINT = openssl/hmac.h not found: install the headers of OpenSSL (Debian, Ubuntu: libssl-dev; \
	Fedora: openssl-devel; Alpine: openssl-dev) or pass CRYPTO_INCDIR=<the folder holding openssl/hmac.h>
headers:
	@echo '#include <curl/curl.h>' | $(CC) $(DEP_CPPFLAGS) $(CURL_CFLAGS) -E -x c - >/dev/null 2>&1 \
		|| { echo 'kombo: $(CURL_HINT)' >&2; exit 1; }
	@echo '#include <simdjson.h>' | $(CXX) -std=c++17 $(DEP_CPPFLAGS) -E -x c++ - >/dev/null 2>&1 \
		|| { echo 'kombo: $(SIMDJSON_HINT)' >&2; exit 1; }
	@echo '#include <openssl/hmac.h>' | $(CC) $(DEP_CPPFLAGS) $(CRYPTO_CFLAGS) -E -x c - >/dev/null 2>&1 \
		|| { echo 'kombo: $(CRYPTO_HINT)' >&2; exit 1; }

clean:
	rm -rf build

# ---- Reliability: memcheck, sanitizers, fuzzing (README "Reliability") ----
# Settings: VALGRIND_SPECS (the specs that drive the C core), CLANG,
# FUZZ_SECONDS (per harness), ASAN_FLAGS, FUZZ_FLAGS.
VALGRIND     ?= valgrind
VALGRIND_SPECS ?= spec/client_spec.lua spec/transport_spec.lua spec/retry_spec.lua \
	spec/pagination_spec.lua spec/policy_spec.lua spec/build_spec.lua \
	spec/faults_spec.lua spec/security_spec.lua spec/json_spec.lua spec/webhooks_spec.lua
CLANG        ?= clang
LUA_LIB      ?= -llua$(LUA_VERSION)
ASAN_BUILD   ?= build/asan
ASAN_CORE    := $(ASAN_BUILD)/kombo/core.so
ASAN_FLAGS   ?= -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
# The sanitizer build is check's second compiler: a warning either compiler
# gives fails it, so the core stays -Wall -Wextra clean under both.
ASAN_WERROR  ?= -Werror
FUZZ_SECONDS ?= 20
FUZZ_BUILD   ?= build/fuzz
FUZZ_FLAGS   ?= -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_HARNESSES := $(basename $(notdir $(wildcard fuzz/fuzz_*.c)))

.PHONY: valgrind asan fuzz reentry

# Finalizers acting on the SDK wherever the collector runs them, through
# calls and walks, blocking and in tasks, under every Lua of the matrix,
# inside nginx and inside Neovim (fuzz/reentry.lua). Not part of check: it
# takes several minutes.
reentry:
	fuzz/reentry.sh $(MATRIX) ngx nvim

# busted runs inside the interpreter valgrind watches (no --lua re-exec);
# the sandbox it starts is a separate process and is not traced. A definite
# leak or any memory error fails the run.
valgrind: $(CORE)
	@for f in $(VALGRIND_SPECS); do [ -f "$$f" ] || { echo "valgrind: no $$f (renamed? update VALGRIND_SPECS)" >&2; exit 1; }; done
	$(VALGRIND) --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 -q \
		$(LUA) $$(command -v $(BUSTED)) --cpath='$(BUILD)/?.so' $(BUSTED_ARGS) $(VALGRIND_SPECS)

# The core instrumented with ASan+UBSan. The interpreter is not, so the ASan
# runtime is preloaded into it, and into the child interpreters the specs
# start as well, since some of them load this core. The children run without
# ASan's quarantine of freed memory, so a spec that measures a child's memory
# sees what Lua and kombo hold, not what ASan keeps back. Lua's own
# allocations are not instrumented and are left alone: detect_leaks=0.
$(ASAN_BUILD)/json.o: $(CXXSRC)
	@mkdir -p $(dir $@)
	$(CLANG)++ -std=c++17 $(ASAN_FLAGS) -fno-sanitize=vptr -Wall -Wextra $(ASAN_WERROR) -fPIC -fvisibility=hidden -I$(LUA_INCDIR) -c -o $@ $<

$(ASAN_CORE): $(CSRC) $(CHDR) $(ASAN_BUILD)/json.o
	@mkdir -p $(dir $@)
	$(CLANG) $(ASAN_FLAGS) $(WARNFLAGS) $(ASAN_WERROR) -shared-libsan -fPIC -fvisibility=hidden -I$(LUA_INCDIR) $(CURL_CFLAGS) \
		$(CRYPTO_CFLAGS) -shared $(KEEP_LOADED) -o $@ $(CSRC) $(ASAN_BUILD)/json.o $(CURL_LIBS) $(CRYPTO_LIBS) $(JSON_LIBS)

asan: $(ASAN_CORE)
	LD_PRELOAD="$$($(CLANG) -print-file-name=libclang_rt.asan-x86_64.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	KOMBO_LUA="env ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:quarantine_size_mb=0 $(LUA)" \
		tools/run-specs.sh $(BUSTED) --lua=$(LUA) --cpath='$(ASAN_BUILD)/?.so' $(BUSTED_ARGS) spec

# Every fuzz/fuzz_*.c is a libFuzzer harness linked with the whole core.
$(FUZZ_BUILD)/json.o: $(CXXSRC)
	@mkdir -p $(dir $@)
	$(CLANG)++ -std=c++17 $(FUZZ_FLAGS) -fno-sanitize=vptr -I$(LUA_INCDIR) -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(CSRC) $(CHDR) $(FUZZ_BUILD)/json.o
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_FLAGS) -I$(LUA_INCDIR) $(CURL_CFLAGS) $(CRYPTO_CFLAGS) -o $@ $< $(CSRC) $(FUZZ_BUILD)/json.o \
		$(CURL_LIBS) $(CRYPTO_LIBS) $(JSON_LIBS) $(LUA_LIB)

# Runs each harness for FUZZ_SECONDS from its committed seeds in
# fuzz/corpus/<harness>/; new inputs go to $(FUZZ_BUILD)/corpus/<harness>/ so
# the committed corpus only changes by hand. A crash stops the run and
# leaves its input as $(FUZZ_BUILD)/<harness>-crash-*: turn it into a spec.
fuzz: $(addprefix $(FUZZ_BUILD)/,$(FUZZ_HARNESSES))
	@set -e; for h in $(FUZZ_HARNESSES); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$h; \
		if $(FUZZ_BUILD)/$$h -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/$$h- $(FUZZ_BUILD)/corpus/$$h fuzz/corpus/$$h \
			>$(FUZZ_BUILD)/$$h.log 2>&1; then \
			echo "fuzz: $$h: $$(grep -o 'stat::number_of_executed_units: *[0-9]*' $(FUZZ_BUILD)/$$h.log \
				| grep -o '[0-9]*$$') runs in $(FUZZ_SECONDS) s, no crash"; \
		else \
			tail -n 60 $(FUZZ_BUILD)/$$h.log; echo "fuzz: $$h FAILED"; exit 1; \
		fi; \
	done
