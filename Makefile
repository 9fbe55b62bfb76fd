# polkavm-ffi: one entry point for building, testing and installing. `make help` lists every
# target (each target's line ends with `## what it does`; `make lint` fails when one lacks it).

CARGO ?= cargo
PREFIX ?= /usr/local
RELEASE := target/release
LIB_SO := $(RELEASE)/libpolkavm_ffi.so
PROGRAMS := target/programs

.PHONY: all build header programs examples test test-rust lint help test-c test-c-valgrind
.PHONY: install julia-bindings test-cpp test-julia test-install examples-cpp examples-julia

all: build ## the same as build

build: ## the release library (.so, .a) and the command-line tools (pvm-assemble, pvm-conformance)
	$(CARGO) build --release --lib --bins

# Regenerates include/polkavm_ffi.h from src/c_api/ (cargo test fails while it is stale), and
# the Julia declarations from the header (test-julia fails while they are stale).
header: ## regenerate include/polkavm_ffi.h from src/c_api/ and the Julia declarations from it
	PVM_UPDATE_HEADER=1 $(CARGO) test --test header
	python3 bindings/julia/generate_bindings.py

# The shared test programs, assembled from tests/programs/*.pvmasm by polkavm's assembler, and the
# test program's code in the Graypaper's encoding (test_program.jam), for JAM mode.
programs: build ## assemble tests/programs/*.pvmasm into target/programs (and test_program.jam)
	mkdir -p $(PROGRAMS)
	for source in tests/programs/*.pvmasm; do \
	  $(RELEASE)/pvm-assemble $$source $(PROGRAMS)/$$(basename $$source .pvmasm).polkavm || exit 1; \
	done
	$(RELEASE)/pvm-assemble --graypaper tests/programs/test_program.pvmasm $(PROGRAMS)/test_program.jam

examples: build examples-cpp examples-julia examples-python examples-kotlin examples-swift examples-doom ## build the library and run every example on the embedded sample program
	$(MAKE) -C examples/c run

test: lint test-rust test-c test-c-valgrind test-cpp test-julia test-install test-conformance test-python test-kotlin test-swift test-doom test-sanitizers test-miri fuzz-smoke test-dist test-aarch64 ## every test suite: what CI runs on a clean clone
	@echo "make test: every suite passed"
	@echo "suites: $(words $^) passed, 0 failed"

test-rust: ## the Rust tests (core, C ABI from Rust, error contract, header drift, UniFFI, JAM)
	$(CARGO) test --release
	$(CARGO) test --release --no-default-features --test jam

lint: ## cargo clippy on every target with warnings as errors
	$(CARGO) clippy --release --all-targets -- -D warnings
	@undocumented=$$(grep -E '^[a-z][a-z0-9-]*:([^=]|$$)' Makefile | grep -v '## ' | cut -d: -f1); \
	  if [ -n "$$undocumented" ]; then echo "Makefile targets without a '## ' description: $$undocumented"; exit 1; fi

help: ## this list
	@grep -E '^[a-z][a-z0-9-]*:.*## ' Makefile | sed -E 's/^([a-z0-9-]+):.*## (.*)$$/\1\t\2/' | \
	  awk -F'\t' '{ printf "  %-20s %s\n", $$1, $$2 }'

C_BUILD := target/c-tests

test-c: programs ## the C suite (tests/c) against the shared library
	cmake -S tests/c -B $(C_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPVM_LIB_DIR=$(abspath $(RELEASE)) >/dev/null
	cmake --build $(C_BUILD) -j2
	cd $(C_BUILD) && ctest --output-on-failure

test-c-valgrind: test-c ## the C suite under valgrind (interpreter instances)
	PVM_TEST_INTERPRETER_ONLY=1 valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
	  --show-leak-kinds=definite,indirect,possible \
	  $(C_BUILD)/c_abi_test $(abspath $(PROGRAMS))

# The portable library: built against glibc 2.17 with cargo-zigbuild and ziglang (both from PyPI,
# installed into target/zig, not system-wide), without debug info, with the SONAME
# libpolkavm_ffi.so.1; packaging/check_glibc.sh fails it if it needs anything newer than 2.17.
# Julia 1.5 (Debian 11) and the release artifacts load this one.
ZIG_VENV := target/zig/venv
PORTABLE_GLIBC := 2.17
PORTABLE_SONAME := libpolkavm_ffi.so.1
PORTABLE_TARGET := x86_64-unknown-linux-gnu
PORTABLE := target/portable/$(PORTABLE_TARGET)/release
PORTABLE_SO := $(PORTABLE)/libpolkavm_ffi.so

.PHONY: portable-lib
$(ZIG_VENV)/installed:
	python3 -m venv $(ZIG_VENV)
	$(ZIG_VENV)/bin/pip install --quiet ziglang==0.17.1 cargo-zigbuild==0.24.1
	touch $@

portable-lib: $(ZIG_VENV)/installed ## the shared library built against glibc 2.17 (cargo-zigbuild) for old distributions
	PATH=$(abspath $(ZIG_VENV))/bin:$$PATH CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=debuginfo \
	  RUSTFLAGS="-C link-arg=-Wl,-soname,$(PORTABLE_SONAME)" \
	  $(CARGO) zigbuild --release --lib --target $(PORTABLE_TARGET).$(PORTABLE_GLIBC) --target-dir target/portable
	packaging/check_glibc.sh $(PORTABLE_GLIBC) $(PORTABLE_SO)
	# The static library's debug info comes from Rust's prebuilt standard library: strip it.
	strip --strip-debug $(PORTABLE)/libpolkavm_ffi.a

# --- aarch64 Linux ------------------------------------------------------------------------------
# polkavm's interpreter on ARM64 (its JIT is x86-64 only). The library is cross-built inside the
# arm64 root filesystem (tests/rootfs/rootfs.sh: Debian's rustc with its arm64 standard library)
# with cargo-zigbuild against glibc 2.17, like portable-lib; its tests run there under qemu-aarch64.
AARCH64_TARGET := aarch64-unknown-linux-gnu
AARCH64 := target/aarch64/$(AARCH64_TARGET)/release
ARM64_ROOT := tests/rootfs/rootfs.sh run arm64 --env CARGO_HOME=/mnt/repo/target/aarch64/cargo-home

.PHONY: aarch64-lib test-aarch64
aarch64-lib: $(ZIG_VENV)/installed ## the library (.so, .a) for aarch64 Linux, glibc 2.17, cross-built in the arm64 root filesystem
	$(ARM64_ROOT) --env PATH=/mnt/repo/$(ZIG_VENV)/bin:/usr/bin:/bin \
	  --env CARGO_ZIGBUILD_ZIG_PATH=/mnt/repo/$$(ls -d $(ZIG_VENV)/lib/python3*/site-packages/ziglang/zig) \
	  --env CARGO_ZIGBUILD_CACHE_DIR=/mnt/repo/target/aarch64/zigbuild-cache --env ZIG_GLOBAL_CACHE_DIR=/mnt/repo/target/aarch64/zig-cache \
	  --env CARGO_PROFILE_RELEASE_DEBUG=false --env CARGO_PROFILE_RELEASE_STRIP=debuginfo \
	  --env "RUSTFLAGS=-C link-arg=-Wl,-soname,$(PORTABLE_SONAME)" \
	  cargo zigbuild --release --lib --target $(AARCH64_TARGET).$(PORTABLE_GLIBC) --target-dir target/aarch64
	$(ARM64_ROOT) aarch64-linux-gnu-strip --strip-debug $(AARCH64)/libpolkavm_ffi.a
	packaging/check_glibc.sh $(PORTABLE_GLIBC) $(AARCH64)/libpolkavm_ffi.so

# The C suite (tests/c) and the Python package's suite with the default engine, under qemu-aarch64.
test-aarch64: aarch64-lib test-dist ## the C suite, the Python suite and the aarch64 artifacts under qemu-aarch64
	$(ARM64_ROOT) bash tests/aarch64/run.sh

# --- Release artifacts -----------------------------------------------------------------------------
# `make dist` writes target/dist/: per CPU a C SDK tarball (packaging/sdk.sh) and a manylinux wheel,
# the sdist, and the jar with its sources jar and pom. Every one carries the portable library
# (portable-lib, aarch64-lib): maturin (its zig support, glibc 2.17) builds the wheel's Python module,
# then packaging/wheel_with_library.sh puts the portable library in it. Nothing is published.
# `make test-dist` (tests/dist/run.sh) installs and uses each one here and on Debian 11.
DIST := target/dist
DIST_TOOLS := maturin==1.16.0 wheel==0.48.0
# STRIP=none: uniffi-bindgen reads the UniFFI metadata from the symbol table, which zig drops otherwise.
WHEEL_ENV := PATH=$(abspath $(ZIG_VENV))/bin:$$PATH CARGO_TARGET_DIR=$(abspath target/wheel) CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=none

.PHONY: dist test-dist
$(ZIG_VENV)/dist-installed: $(ZIG_VENV)/installed
	$(ZIG_VENV)/bin/pip install --quiet $(DIST_TOOLS)
	touch $@

dist: build portable-lib aarch64-lib $(ZIG_VENV)/dist-installed ## the release artifacts in target/dist: C SDKs, wheels, sdist, jar (x86-64 and aarch64)
	rm -rf $(DIST) target/wheel/out
	packaging/sdk.sh x86_64 $(PORTABLE) $(DIST)
	packaging/sdk.sh aarch64 $(AARCH64) $(DIST)
	cd bindings/python && $(WHEEL_ENV) maturin build --quiet --release --zig --compatibility manylinux_2_17 \
	  --target $(PORTABLE_TARGET) --out $(abspath target/wheel/out)
	WHEEL_TOOL=$(ZIG_VENV)/bin/wheel packaging/wheel_with_library.sh target/wheel/out/*_x86_64.whl x86_64 $(PORTABLE_SO) $(DIST)
	WHEEL_TOOL=$(ZIG_VENV)/bin/wheel packaging/wheel_with_library.sh target/wheel/out/*_x86_64.whl aarch64 $(AARCH64)/libpolkavm_ffi.so $(DIST)
	cd bindings/python && $(WHEEL_ENV) maturin sdist --out $(abspath $(DIST))
	$(MVN) -q -f bindings/kotlin clean package source:jar-no-fork -DskipTests \
	  -Dpvm.lib.dir=$(abspath $(PORTABLE)) -Dpvm.lib.dir.aarch64=$(abspath $(AARCH64))
	cp bindings/kotlin/target/polkavm-ffi-$(VERSION).jar bindings/kotlin/target/polkavm-ffi-$(VERSION)-sources.jar $(DIST)/
	cp bindings/kotlin/pom.xml $(DIST)/polkavm-ffi-$(VERSION).pom
	ls -l $(DIST)

test-dist: dist programs ## install and use every x86-64 artifact here and on Debian 11 (glibc <= 2.17 checked)
	bash tests/dist/run.sh

# Install: shared and static libraries, both headers, pkg-config and CMake package files.
#   make install PREFIX=/opt/polkavm-ffi [DESTDIR=staging]
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
INSTALL_LIB := $(DESTDIR)$(PREFIX)/lib
INSTALL_CMAKE := $(INSTALL_LIB)/cmake/polkavm_ffi

install: build ## install libraries, headers, pkg-config and CMake files into PREFIX (DESTDIR works)
	install -d $(INSTALL_LIB)/pkgconfig $(INSTALL_CMAKE) $(DESTDIR)$(PREFIX)/include
	install -m 755 $(LIB_SO) $(INSTALL_LIB)/
	install -m 644 $(RELEASE)/libpolkavm_ffi.a $(INSTALL_LIB)/
	install -m 644 include/polkavm_ffi.h include/polkavm_ffi.hpp $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' packaging/polkavm-ffi.pc.in > $(INSTALL_LIB)/pkgconfig/polkavm-ffi.pc
	install -m 644 packaging/polkavm_ffiConfig.cmake $(INSTALL_CMAKE)/
	sed -e 's|@VERSION@|$(VERSION)|g' packaging/polkavm_ffiConfigVersion.cmake.in > $(INSTALL_CMAKE)/polkavm_ffiConfigVersion.cmake

# Installs into a temporary prefix and builds the C example with pkg-config and the C++ example
# with find_package(polkavm_ffi), as a user would.
test-install: programs ## install into a temporary prefix and build the C and C++ examples as a user would
	bash tests/install/run.sh

CPP_BUILD := target/cpp-tests

test-cpp: programs ## the C++ wrapper's GoogleTest suite (tests/cpp), including the error contract
	bash tests/cpp/setup.sh
	cmake -S tests/cpp -B $(CPP_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPVM_LIB_DIR=$(abspath $(RELEASE)) >/dev/null
	cmake --build $(CPP_BUILD) -j2
	cd $(CPP_BUILD) && ctest --output-on-failure

EXAMPLES_PREFIX := target/examples-prefix

SAMPLE_PROGRAM := $(PROGRAMS)/sample_program.polkavm

$(SAMPLE_PROGRAM): examples/sample_program.pvmasm build
	mkdir -p $(PROGRAMS)
	$(RELEASE)/pvm-assemble $< $@

examples-cpp: $(SAMPLE_PROGRAM) ## build and run the C++ example against an installed copy
	$(MAKE) --no-print-directory install PREFIX=$(abspath $(EXAMPLES_PREFIX)) >/dev/null
	cmake -S examples/cpp -B examples/cpp/build -DCMAKE_PREFIX_PATH=$(abspath $(EXAMPLES_PREFIX)) >/dev/null
	cmake --build examples/cpp/build
	examples/cpp/build/pvm_cpp_example $(SAMPLE_PROGRAM)

# Rewrites bindings/julia/PolkaVM/src/LibPolkaVM.jl from include/polkavm_ffi.h (run after `make header`).
julia-bindings: ## regenerate bindings/julia/PolkaVM/src/LibPolkaVM.jl from the header
	python3 bindings/julia/generate_bindings.py

# PolkaVM.jl on a real Julia: Debian 11's Julia 1.5.3, the oldest the package supports, in a root
# filesystem cached outside the clone (tests/rootfs), against the portable library. The tests run
# with the Test standard library directly (Pkg.test() needs the General registry); first,
# tests/julia_abi checks the declarations against the header, which a run cannot (a wrong
# signedness still runs). The package example runs without POLKAVM_FFI_LIB: there the package
# finds target/portable after target/release fails to load (it needs a newer glibc than Debian 11's).
JULIA_ROOT := tests/rootfs/rootfs.sh run julia --env JULIA_DEPOT_PATH=/mnt/repo/target/julia-depot --env JULIA_NUM_THREADS=2
JULIA := $(JULIA_ROOT) --env POLKAVM_FFI_LIB=/mnt/repo/$(PORTABLE_SO) julia

test-julia: programs examples-julia ## PolkaVM.jl's declarations against the header, then its tests and examples on Julia 1.5.3
	python3 tests/julia_abi/check_julia_abi.py $(PORTABLE_SO) target/julia-abi
	$(JULIA) --project=bindings/julia/PolkaVM bindings/julia/PolkaVM/test/runtests.jl

examples-julia: portable-lib $(SAMPLE_PROGRAM) ## the Julia examples on Julia 1.5.3 (tests/rootfs), against the portable library
	$(JULIA) examples/julia/ccall.jl /mnt/repo/$(PORTABLE_SO) $(SAMPLE_PROGRAM)
	$(JULIA_ROOT) julia --project=bindings/julia/PolkaVM examples/julia/polkavm.jl $(SAMPLE_PROGRAM)

# The PVM test vectors in tests/vectors (tests/vectors/*/PROVENANCE.md), each suite with its own
# opcode table and gas cost model, through the core (pvm-conformance), the C ABI (tests/conformance,
# C with json-c) and the UniFFI API (the Python package: bindings/python/tests/test_conformance.py),
# on every backend that works here. Any failure fails the target.
#   v0.4 (Graypaper 0.6.7-0.7.2): revive_v1 opcodes, naive gas;  0.8.0: jam_v1 opcodes, full-L2 gas.
CONFORMANCE_V04 := --isa revive_v1 --cost-model naive $(abspath tests/vectors/jam-pvm-v0.4)
CONFORMANCE_GP080 := --isa jam_v1 --cost-model full-l2 $(abspath tests/vectors/gp-0.8.0-polkavm-spectool)
CONFORMANCE_BUILD := target/conformance

.PHONY: test-conformance
test-conformance: build python-wheel ## the PVM test vectors (tests/vectors) through the core, the C ABI and Python
	bash tests/conformance/setup.sh
	cmake -S tests/conformance -B $(CONFORMANCE_BUILD) -DCMAKE_BUILD_TYPE=Release -DPVM_LIB_DIR=$(abspath $(RELEASE)) >/dev/null
	cmake --build $(CONFORMANCE_BUILD) -j2
	$(RELEASE)/pvm-conformance $(CONFORMANCE_V04)
	$(RELEASE)/pvm-conformance $(CONFORMANCE_GP080)
	$(CONFORMANCE_BUILD)/conformance_runner $(CONFORMANCE_V04)
	$(CONFORMANCE_BUILD)/conformance_runner $(CONFORMANCE_GP080)
	cd bindings/python/tests && $(abspath $(PY_VENV))/bin/python -m pytest -q test_conformance.py

# The UniFFI bindings (src/uniffi_api/), generated by the crate's own uniffi-bindgen
# (docs/design.md, "Generated code"): the Swift sources are committed (SwiftPM builds from the
# repository); `make bindings` rewrites them and `bindings-check` fails when they are stale.
# Maven generates the Kotlin sources at generate-sources, maturin the Python module.
.PHONY: bindings bindings-check python-wheel test-python examples-python test-kotlin examples-kotlin test-swift
PY_VENV := target/python-venv
MVN ?= mvn -B --no-transfer-progress

bindings: build ## regenerate the committed Swift sources with the crate's uniffi-bindgen
	bash bindings/generate.sh

bindings-check: build ## fail if the committed Swift sources differ from what uniffi-bindgen generates now
	bash bindings/generate.sh --check

# `pip install ./bindings/python` into a fresh virtualenv, as a user would (maturin builds the wheel).
python-wheel: ## pip install ./bindings/python into a fresh virtualenv (target/python-venv)
	rm -rf $(PY_VENV)
	python3 -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install --quiet './bindings/python[test]'

# Run from the tests' folder so that only the installed wheel can be imported; test_conformance.py
# runs in test-conformance. The documented usage and the examples must pass `mypy --strict`,
# against type stubs that match the installed module.
test-python: python-wheel ## the Python tests against the installed wheel (but the conformance vectors), and mypy --strict
	$(PY_VENV)/bin/python bindings/python/generate_stubs.py --check
	cd bindings/python/tests && $(abspath $(PY_VENV))/bin/mypy --strict typed_usage.py $(abspath examples/python)
	cd bindings/python/tests && $(abspath $(PY_VENV))/bin/python -m pytest -q --ignore=test_conformance.py

examples-python: python-wheel ## the Python example against the installed wheel
	$(PY_VENV)/bin/python examples/python/host_function.py

# The Doom hosts (examples/doom, C and Python). They need polkavm's Doom guest and a WAD (see
# examples/doom/README.md); test-doom runs both on a synthetic guest with the same imports and
# checks their screenshots pixel for pixel.
.PHONY: examples-doom test-doom
DOOM_TEST := target/doom-test

examples-doom: build ## build the C Doom host (examples/doom)
	$(MAKE) -C examples/doom

test-doom: examples-doom python-wheel ## both Doom hosts on a synthetic guest, screenshots checked pixel for pixel
	mkdir -p $(DOOM_TEST)
	$(CARGO) run --quiet --release --example doom-test-guest -- $(DOOM_TEST)/test_guest.polkavm
	$(PY_VENV)/bin/python examples/doom/test.py examples/doom/build/doom $(DOOM_TEST)/test_guest.polkavm $(DOOM_TEST)

test-kotlin: build ## the Kotlin tests (Maven; the bindings are generated at generate-sources)
	$(MVN) -f bindings/kotlin verify

# Installs the jar into the local Maven repository and runs the example with plain `java -cp`.
examples-kotlin: build ## install the Kotlin jar into ~/.m2 and run the Kotlin example
	$(MVN) -q -f bindings/kotlin install -DskipTests
	$(MVN) -q -f examples/kotlin compile exec:exec

# Swift runs inside a Debian trixie root filesystem with swiftlang 6.0 (tests/rootfs/rootfs.sh, built
# once and cached outside the clone; this repository is /mnt/repo there). The library is installed
# as a user installs it (`make install`, staged with DESTDIR and copied to the prefix the root sees)
# and SwiftPM finds it with pkg-config. SwiftPM's build folders and caches stay in target/swift.
SWIFT_DIR := target/swift
SWIFT_PREFIX := /mnt/repo/$(SWIFT_DIR)/prefix
SWIFT := tests/rootfs/rootfs.sh run swift --env HOME=/mnt/repo/$(SWIFT_DIR)/home \
  --env PKG_CONFIG_PATH=$(SWIFT_PREFIX)/lib/pkgconfig --env LD_LIBRARY_PATH=$(SWIFT_PREFIX)/lib

.PHONY: swift-prefix examples-swift
swift-prefix: build ## install the library where the Swift root filesystem sees it (target/swift/prefix)
	@tests/rootfs/rootfs.sh path swift >/dev/null || { echo "Swift: no Swift toolchain. The Swift root filesystem needs Linux, root, debootstrap and bubblewrap \
	  (apt-get install debootstrap bubblewrap); elsewhere install Swift 5.9+ and the library (make install), then 'swift test' in bindings/swift" >&2; exit 1; }
	rm -rf $(SWIFT_DIR)/stage
	$(MAKE) --no-print-directory install PREFIX=$(SWIFT_PREFIX) DESTDIR=$(abspath $(SWIFT_DIR)/stage) >/dev/null
	mkdir -p $(SWIFT_DIR)/prefix
	cp -R --remove-destination $(SWIFT_DIR)/stage$(SWIFT_PREFIX)/. $(SWIFT_DIR)/prefix/

# The package's suite (both backends), then tests/swift-consumer: a package that depends on
# bindings/swift by version from a git repository, as SwiftPM allows only without unsafeFlags.
test-swift: bindings-check swift-prefix ## swift build + swift test of bindings/swift (both backends) and the tests/swift-consumer package, in the Swift root filesystem
	$(SWIFT) swift build --package-path bindings/swift --scratch-path $(SWIFT_DIR)/bindings --build-tests
	$(SWIFT) swift test --package-path bindings/swift --scratch-path $(SWIFT_DIR)/bindings --skip-build
	$(SWIFT) bash tests/swift-consumer/run.sh $(SWIFT_DIR)/consumer

examples-swift: swift-prefix ## run the Swift example (examples/swift/host-function)
	$(SWIFT) swift build --package-path examples/swift/host-function --scratch-path $(SWIFT_DIR)/examples
	$(SWIFT) $(SWIFT_DIR)/examples/debug/host-function examples/sample_program.pvmasm

# --- Benchmarks, sanitizers and fuzzing (BENCHMARKS.md) -------------------------------------------
.PHONY: bench-memory
.PHONY: bench bench-c bench-instructions bench-busy-wait bench-kotlin bench-swift test-reliability test-sanitizers fuzz-build fuzz-seeds fuzz-smoke fuzz

BENCH_BUILD := target/bench
BENCH_RUNNERS := c=$(abspath $(BENCH_BUILD))/bench_c_abi;c (pvm_instance_resume)=$(abspath $(BENCH_BUILD))/bench_c_abi --resume
# The Python, Kotlin and Swift layers join when they are built (make python-wheel, bench-kotlin, bench-swift).
BENCH_PYTHON := $(abspath $(PY_VENV))/bin/python $(abspath benches/python/bench.py)
KOTLIN_CLASSPATH := benches/kotlin/target/classpath.txt
BENCH_KOTLIN = java -cp $(abspath benches/kotlin/target/classes):$(shell cat $(KOTLIN_CLASSPATH)) BenchKt
BENCH_PYTHON_CTYPES := $(abspath $(PY_VENV))/bin/python $(abspath benches/python/bench_ctypes.py)
BENCH_SWIFT := $(abspath benches/swift/run.sh)
BENCH_EXTRA_RUNNERS ?= $(if $(wildcard $(PY_VENV)/bin/python),;python (ctypes on the C ABI: floor)=$(BENCH_PYTHON_CTYPES);python=$(BENCH_PYTHON);python (call + HostHandler)=$(BENCH_PYTHON) --call)$(if $(wildcard $(KOTLIN_CLASSPATH)),;kotlin (JNA direct on the C ABI: floor)=$(BENCH_KOTLIN) --floor;kotlin=$(BENCH_KOTLIN);kotlin (call + HostHandler)=$(BENCH_KOTLIN) --call)$(if $(wildcard $(SWIFT_DIR)/bench/release/pvm-bench),;swift (C ABI: floor)=$(BENCH_SWIFT) --c-abi;swift=$(BENCH_SWIFT);swift (call + HostHandler)=$(BENCH_SWIFT) --call)

# The C ABI benchmark runner (benches/c), linked against the shared library as a C user would.
bench-c: build ## build the C ABI benchmark runner
	mkdir -p $(BENCH_BUILD)
	$(CC) -O2 -std=c11 -Wall -Wextra -Werror -Iinclude benches/c/bench_c_abi.c -L$(RELEASE) -lpolkavm_ffi \
	  -Wl,-rpath,$(abspath $(RELEASE)) -o $(BENCH_BUILD)/bench_c_abi

# Memory bandwidth (1 MB, a 640x400 BGRA frame) per face against memcpy in C: the C ABI and, once
# built (make python-wheel, make bench-kotlin), Python's and Kotlin's copying and caller-buffer
# calls (benches/memory).
BENCH_MEMORY_ROUNDS ?= 11
bench-memory: programs ## memory bandwidth per face (1 MB reads and writes, framebuffers) against memcpy in C
	mkdir -p $(BENCH_BUILD)
	$(CC) -O2 -std=c11 -Wall -Wextra -Werror -Iinclude benches/memory/bench_memory.c -L$(RELEASE) -lpolkavm_ffi \
	  -Wl,-rpath,$(abspath $(RELEASE)) -o $(BENCH_BUILD)/bench_memory
	python3 benches/memory/run.py $(PROGRAMS)/framebuffer.polkavm $(BENCH_MEMORY_ROUNDS) 200 c=$(BENCH_BUILD)/bench_memory \
	  $(if $(wildcard $(PY_VENV)/bin/python),"python=$(PY_VENV)/bin/python benches/memory/bench_memory.py") \
	  $(if $(wildcard $(KOTLIN_CLASSPATH)),"kotlin=$(subst BenchKt,MemoryBenchKt,$(BENCH_KOTLIN))")

# The Kotlin runner (benches/kotlin), against the jar of bindings/kotlin installed into ~/.m2; with
# --floor the same loops through JNA direct mapping on the C ABI. benches/kotlin/interleaved.sh
# (after make bench-kotlin programs) compares the two in interleaved rounds.
bench-kotlin: build ## build the Kotlin benchmark runner
	$(MVN) -q -f bindings/kotlin install -DskipTests
	$(MVN) -q -f benches/kotlin package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt

# The Swift runner (benches/swift), built with optimisations inside the Swift root; benches/swift/run.sh
# runs it there (`benches/swift/run.sh costs BACKEND PROGRAM`: the cost of each call alone, beside the
# C ABI call and the generated UniFFI method; benches/swift/interleaved.sh: host-call round trips).
bench-swift: swift-prefix ## build the Swift benchmark runner (benches/swift)
	$(SWIFT) swift build -c release --package-path benches/swift/pvm-bench --scratch-path $(SWIFT_DIR)/bench

# Every layer against polkavm called directly, both backends, one run; results in $(BENCH_BUILD)/results.md.
bench: bench-c ## every layer against polkavm called directly, results in target/bench/results.md
	PVM_BENCH_RUNNERS="$(BENCH_RUNNERS)$(BENCH_EXTRA_RUNNERS)" PVM_BENCH_OUT=$(abspath $(BENCH_BUILD))/results.md \
	  $(CARGO) bench --bench overhead

# Instructions per host call and per invocation on the interpreter, every layer against the floor
# (valgrind's callgrind: exact where wall-clock ratios are noisy). BENCH_CARGO_ARGS=--no-default-features
# measures the Rust layers without the generic sandbox.
bench-instructions: bench-c ## instructions per host call and per invocation (callgrind), every layer
	benches/instructions.sh $(BENCH_CARGO_ARGS)

# Concurrency, 100k create/free, exhaustion and hostile guests/hosts, and JIT workers killed under
# runs (also part of test-rust).
test-reliability: ## concurrency, exhaustion, hostile guests and hosts, killed JIT workers (also part of test-rust)
	$(CARGO) test --release --test reliability --test worker_death

# Create/run/free cycles with JIT workers killed at random (PVM_STRESS_ITERATIONS, default 10,000).
# Not in `make test`: it can stall in polkavm's worker spawn (tests/worker_death.rs says how).
# What the JIT's busy-wait costs: host CPU while a guest runs, round trips on an idle and a loaded machine.
bench-busy-wait: ## what the JIT's busy-wait costs: host CPU time, round trips with and without load
	$(CARGO) bench --bench busy_wait

# The C and C++ suites built with AddressSanitizer and UBSan (the Rust library itself is not
# instrumented; valgrind covers the whole process: test-c-valgrind, and the C++ suite here).
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Miri (a pinned nightly with its miri component, installed by rustup) checks the thread tests
# for undefined behaviour: engine and module handles shared between threads through the C ABI,
# an instance moved between threads or freed after its engine, and threads sharing a UniFFI
# instance. Interpreter only: Miri cannot run JIT code.
MIRI_TOOLCHAIN := nightly-2026-05-20
MIRI_TESTS := --test reliability --test uniffi_api -- threads freeing_the_engine panicking_handler

.PHONY: test-miri
test-miri: ## the thread tests of the C ABI and the UniFFI API under Miri (interpreter backend)
	@if rustup toolchain install $(MIRI_TOOLCHAIN) --profile minimal --component miri,rust-src >/dev/null; then \
	  $(CARGO) +$(MIRI_TOOLCHAIN) miri test --features uniffi $(MIRI_TESTS); \
	else \
	  echo "test-miri: SKIPPED: rustup could not install $(MIRI_TOOLCHAIN) with miri; the same tests ran natively in test-rust"; \
	fi

test-sanitizers: programs ## the C and C++ suites under AddressSanitizer and UBSan, and C++ under valgrind
	cmake -S tests/c -B $(C_BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DPVM_LIB_DIR=$(abspath $(RELEASE)) \
	  -DCMAKE_C_FLAGS="$(SANITIZE)" -DCMAKE_CXX_FLAGS="$(SANITIZE)" -DCMAKE_EXE_LINKER_FLAGS="$(SANITIZE)" >/dev/null
	cmake --build $(C_BUILD)-asan -j2
	cd $(C_BUILD)-asan && $(SANITIZER_ENV) ctest --output-on-failure
	bash tests/cpp/setup.sh
	cmake -S tests/cpp -B $(CPP_BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DPVM_LIB_DIR=$(abspath $(RELEASE)) \
	  -DCMAKE_CXX_FLAGS="$(SANITIZE)" -DCMAKE_EXE_LINKER_FLAGS="$(SANITIZE)" >/dev/null
	cmake --build $(CPP_BUILD)-asan -j2
	cd $(CPP_BUILD)-asan && $(SANITIZER_ENV) ctest --output-on-failure
	cmake -S tests/cpp -B $(CPP_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPVM_LIB_DIR=$(abspath $(RELEASE)) >/dev/null
	cmake --build $(CPP_BUILD) -j2
	# The JIT's sandbox workers cannot start under valgrind: the valgrind pass runs the interpreter
	# instances of the suite (the ASan pass above ran both backends).
	valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
	  --show-leak-kinds=definite,indirect,possible \
	  $(CPP_BUILD)/cpp_wrapper_test --gtest_filter='-*/Compiler:DeadWorker.*'

# The coverage-guided fuzzer (fuzz/): libFuzzer via the libfuzzer-sys crate, built on stable Rust
# with SanitizerCoverage; seeds are assembled from tests/programs and fuzz/seeds.
FUZZ_DIR := target/fuzz
FUZZ_BIN := $(FUZZ_DIR)/x86_64-unknown-linux-gnu/release/load_and_run
FUZZ_RUSTFLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing
FUZZ_FLAGS := -max_len=4096 -timeout=10 -rss_limit_mb=4096 -artifact_prefix=$(FUZZ_DIR)/artifacts/ -print_final_stats=1
FUZZ_SECONDS ?= 3600

fuzz-build: ## build the libFuzzer harness (fuzz/)
	cd fuzz && RUSTFLAGS="$(FUZZ_RUSTFLAGS)" $(CARGO) build --release --target x86_64-unknown-linux-gnu \
	  --target-dir $(abspath $(FUZZ_DIR))

fuzz-seeds: build ## assemble the fuzzer's seed programs
	mkdir -p $(FUZZ_DIR)/programs
	for source in tests/programs/*.pvmasm fuzz/seeds/*.pvmasm; do \
	  $(RELEASE)/pvm-assemble $$source $(FUZZ_DIR)/programs/$$(basename $$source .pvmasm).polkavm || exit 1; \
	done
	python3 fuzz/make_seeds.py $(FUZZ_DIR)/seeds $(FUZZ_DIR)/programs/*.polkavm

# A short bounded pass for CI: 60 s from the seeds; any crash, hang or leak fails it.
fuzz-smoke: fuzz-build fuzz-seeds ## a bounded 60 s fuzzing pass from the seeds (part of make test)
	mkdir -p $(FUZZ_DIR)/smoke-corpus $(FUZZ_DIR)/artifacts
	$(FUZZ_BIN) $(FUZZ_DIR)/smoke-corpus $(FUZZ_DIR)/seeds -max_total_time=60 $(FUZZ_FLAGS)

# A long run (FUZZ_SECONDS) that keeps its corpus in $(FUZZ_DIR)/corpus.
fuzz: fuzz-build fuzz-seeds ## a long fuzzing run (FUZZ_SECONDS, default 3600) keeping its corpus
	mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	$(FUZZ_BIN) $(FUZZ_DIR)/corpus $(FUZZ_DIR)/seeds -max_total_time=$(FUZZ_SECONDS) $(FUZZ_FLAGS)
