# nginx-chat: build, run and test. The logic lives in scripts/*.sh; this file only wires targets.
#   make run    everything, nginx in the foreground (Ctrl-C stops all)
#   make test   lint, core unit tests, t/ integration tests, fuzzing, browser tests
#   make lint   clang-tidy on core (scripts/lint.sh)
#   make bench  the stack of make up, then bench/run.sh: throughput, latency and the ratios of the goals
#   make deb    the Debian package libnginx-mod-http-chat into build/deb/ (scripts/deb.sh)
# Ports: CHAT_PORT (8080), CHAT_PG_PORT (55432), CHAT_REDIS_PORT (56379).

CHAT_PORT       ?= 8080
CHAT_PG_PORT    ?= 55432
CHAT_REDIS_PORT ?= 56379
export CHAT_PORT CHAT_PG_PORT CHAT_REDIS_PORT

JOBS       ?= $(shell nproc)
BUILD_TYPE ?= RelWithDebInfo
CORE_LIB   := build/core/libchatcore.a
MODULE_SO  := build/nginx/objs/ngx_http_chat_module.so

.PHONY: all deps core module widget build tools db redis migrate seed up run down lint test bench deb clean

all: build

deps:
	@scripts/deps.sh

# CMake does its own dependency tracking: a no-op build takes a second.
core: deps
	@test -f build/core/CMakeCache.txt || cmake -S core -B build/core -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build build/core -j$(JOBS)

tools: core

module: core
	@scripts/build-module.sh

# The widget and the agent dashboard (TypeScript, esbuild) into widget/dist/.
widget: deps
	@scripts/widget.sh

build: core module widget

db: deps
	@scripts/db.sh start

redis: deps
	@scripts/redis.sh start

migrate: db core
	@scripts/migrate.sh

seed: migrate
	@scripts/seed.sh

up: build db redis migrate seed
	@scripts/nginx.sh start

run: build db redis migrate seed
	@scripts/run.sh

down:
	@scripts/down.sh

lint: core
	@scripts/lint.sh

test: build
	@scripts/test.sh

bench: up
	@bench/run.sh

deb: deps
	@scripts/deb.sh

clean: down
	rm -rf build "$$(readlink -f var)" var
