# kombo-lua: build, test, lint, demo, install.
#
# Settings (override on the command line, e.g. `make test LUA_VERSION=5.1`,
# or `make test LUA=luajit`):
ifeq ($(LUA),luajit)
LUA_VERSION := 5.1
LUA_INCDIR  ?= /usr/include/luajit-2.1
BUILD       ?= build/luajit
endif
LUA_VERSION ?= 5.4
LUA         ?= lua$(LUA_VERSION)
LUA_INCDIR  ?= /usr/include/lua$(LUA_VERSION)
CURL_CFLAGS ?= $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   ?= $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
CC          ?= cc
CFLAGS      ?= -O2 -g
WARNFLAGS   ?= -Wall -Wextra -Werror=implicit-function-declaration
PREFIX      ?= /usr/local
LUA_LIBDIR  ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUA_SHAREDIR?= $(PREFIX)/share/lua/$(LUA_VERSION)
BUSTED      ?= busted
BUSTED_ARGS ?=
# Where the compiled module goes; one folder per Lua version so builds never mix.
BUILD       ?= build/$(LUA_VERSION)

CSRC   := $(wildcard csrc/*.c)
CHDR   := $(wildcard csrc/*.h)
CORE   := $(BUILD)/kombo/core.so
LUASRC := $(shell find lua -name '*.lua')

.PHONY: all test lint demo examples install clean operations sandbox deps bench matrix check

all: $(CORE)

$(CORE): $(CSRC) $(CHDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARNFLAGS) -fPIC -fvisibility=hidden -I$(LUA_INCDIR) $(CURL_CFLAGS) \
		-shared -o $@ $(CSRC) $(CURL_LIBS)

test: $(CORE)
	KOMBO_LUA=$(LUA) tools/run-specs.sh $(BUSTED) --lua=$(LUA) --cpath='$(BUILD)/?.so' $(BUSTED_ARGS) spec

# The whole suite under every Lua version; ends with the summed totals.
MATRIX ?= 5.4 5.3 5.1 luajit
matrix:
	tools/matrix.sh $(MATRIX)

# What CI runs (after `make deps`): lint, then the matrix.
check: lint matrix

# Debian packages for building, testing and the demo (run as root).
# Plain `luajit` conflicts with libnginx-mod-http-lua; luajit2 does not.
DEB_PACKAGES = make gcc pkg-config libcurl4-openssl-dev openssl \
	lua5.4 liblua5.4-dev lua5.3 liblua5.3-dev lua5.1 liblua5.1-0-dev luajit2 libluajit2-5.1-dev \
	lua-cjson lua-luv lua-socket lua-busted lua-check luarocks \
	nginx-light libnginx-mod-http-lua neovim
deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES)

lint:
	luacheck $(wildcard lua spec examples tools bench) bin/kombo-sandbox

# Re-derive the operation table from Kombo's OpenAPI document.
OPENAPI ?= ../shared/reference/kombo-openapi.json
operations:
	$(LUA) tools/gen-operations.lua $(OPENAPI) > lua/kombo/operations.lua.tmp
	mv lua/kombo/operations.lua.tmp lua/kombo/operations.lua

# Start the sandbox in the foreground (Ctrl-C stops it).
sandbox:
	LUA_PATH='lua/?.lua;lua/?/init.lua;;' $(LUA) bin/kombo-sandbox $(SANDBOX_ARGS)

demo: $(CORE)
	LUA=$(LUA) BUILD=$(BUILD) sh tools/with-sandbox.sh $(LUA) examples/list_open_jobs.lua

# The performance benchmark (not part of `make test`); installs what it needs.
bench: $(CORE)
	LUA=$(LUA) BUILD=$(BUILD) bench/run.sh

install: $(CORE)
	install -d $(DESTDIR)$(LUA_LIBDIR)/kombo $(DESTDIR)$(LUA_SHAREDIR)/kombo
	install -m 755 $(CORE) $(DESTDIR)$(LUA_LIBDIR)/kombo/core.so
	cd lua && find kombo -name '*.lua' -exec install -D -m 644 {} $(DESTDIR)$(LUA_SHAREDIR)/{} \;

clean:
	rm -rf build
