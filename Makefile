# polkavm-ffi: one entry point for building, testing and installing.
#   make examples   build the library and run every example on the embedded sample program
#   make test       run every test suite (what CI runs)
#   make install PREFIX=DIR

CARGO ?= cargo
PREFIX ?= /usr/local
RELEASE := target/release
LIB_SO := $(RELEASE)/libpolkavm_ffi.so
PROGRAMS := target/programs

.PHONY: all build header programs examples test test-rust test-c test-c-valgrind

all: build

build:
	$(CARGO) build --release --lib --bins

# Regenerates include/polkavm_ffi.h from src/c_api.rs (cargo test fails while it is stale).
header:
	PVM_UPDATE_HEADER=1 $(CARGO) test --test header

# The shared test programs, assembled from tests/programs/*.pvmasm by polkavm's assembler.
programs: build
	mkdir -p $(PROGRAMS)
	for source in tests/programs/*.pvmasm; do \
	  $(RELEASE)/pvm-assemble $$source $(PROGRAMS)/$$(basename $$source .pvmasm).polkavm || exit 1; \
	done

examples: build
	$(MAKE) -C examples/c run

test: test-rust test-c test-c-valgrind

test-rust:
	$(CARGO) test --release

C_BUILD := target/c-tests

test-c: programs
	cmake -S tests/c -B $(C_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPVM_LIB_DIR=$(abspath $(RELEASE)) >/dev/null
	cmake --build $(C_BUILD) -j2
	cd $(C_BUILD) && ctest --output-on-failure

test-c-valgrind: test-c
	valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
	  --show-leak-kinds=definite,indirect,possible --suppressions=tests/c/valgrind.supp \
	  $(C_BUILD)/c_abi_test $(abspath $(PROGRAMS))
