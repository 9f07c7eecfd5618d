# Thin wrapper around the CMake build. Every target installs missing Debian
# packages first (scripts/install-deps.sh), so a fresh Debian 12 machine works.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=
# Default limit for a test that sets no TIMEOUT of its own (seconds).
TEST_TIMEOUT ?= 300

.PHONY: all deps configure build run check unit integration bench soak fuzz fuzz-hv format format-check clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

configure: $(BUILD)/build.ninja

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

# Boot the hypervisor with its default domains; COM1 (the hypervisor log) on
# this terminal, COM2 on a Unix socket under run/ with a fresh admin token in
# run/admin.token, so build/tools/hvctl works from another terminal.
run: build
	./scripts/run-qemu.sh --iso $(BUILD)/hv.iso

# The whole suite: unit tests, then the QEMU integration tests.
check: build
	cd $(BUILD) && ctest --output-on-failure --no-tests=error --timeout $(TEST_TIMEOUT) -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure --no-tests=error --timeout $(TEST_TIMEOUT) -L unit -j $(JOBS)

integration: build
	cd $(BUILD) && ctest --output-on-failure --no-tests=error --timeout $(TEST_TIMEOUT) -L integration -j $(JOBS)

bench: build
	./scripts/bench.sh $(BUILD)

# netback killed 100 times under a TCP stream (docs/restart.md); not in check.
soak: build
	cmake --build $(BUILD) --target soak

# The libFuzzer campaigns over the decoders (FUZZ_SECONDS per target), then
# the hypercall fuzzer: at least FUZZ_HV_CALLS calls (default 10 million)
# from inside a guest, a new seed per run, the seed of any failure printed.
fuzz: build
	./scripts/fuzz.sh $(BUILD) $(FUZZ_SECONDS)
	./scripts/fuzz-hv.sh $(BUILD) $(FUZZ_HV_CALLS)

fuzz-hv: build
	./scripts/fuzz-hv.sh $(BUILD) $(FUZZ_HV_CALLS)

format:
	./scripts/format.sh fix

format-check:
	./scripts/format.sh check

clean:
	rm -rf $(BUILD)
