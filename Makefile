# phivault: `make run` builds and serves the bundled example policy on 127.0.0.1:8700;
# `make test` builds and runs every test. Both install missing Debian packages first.
BUILD   ?= build
DATA    ?= var/data
LISTEN  ?= 127.0.0.1:8700
POLICY  ?= policies/example.yaml
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build run test sanitize check fuzz bench clean

all: build

deps:
	@scripts/deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

run: build
	@scripts/run $(BUILD)/phivault $(DATA) $(LISTEN) $(POLICY)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Every test again, built with clang under AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer: any finding fails the test that met it.
sanitize:
	@scripts/deps sanitize
	@CC=clang cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPV_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS) -- --no-print-directory
	@cd $(BUILD)-asan && ctest --output-on-failure -j $(JOBS)

# Static checks: banned functions, clang-tidy and cppcheck, each with nothing to report.
check:
	@BUILD=$(BUILD) JOBS=$(JOBS) scripts/check

# Each libFuzzer target for FUZZ_SECONDS (default 60) on its seed corpus.
FUZZ_SECONDS ?= 60
fuzz:
	@BUILD_FUZZ=$(BUILD)-fuzz JOBS=$(JOBS) scripts/fuzz $(FUZZ_SECONDS)

# The benchmark: seeds its data sets (minutes), prints every figure of docs/performance.md.
bench:
	@BUILD=$(BUILD) bench/run

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz
