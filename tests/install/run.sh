#!/usr/bin/env bash
# `make install` into a temporary prefix, then build against it exactly as a user would: C with
# pkg-config (examples/c and consumer.c), C++ with find_package(polkavm_ffi) (examples/cpp), shared
# and static. Every binary must run and must load the installed library, not the build tree's.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
program="$root/target/programs/test_program.polkavm"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
# The examples' sample program, as a blob (C++) and as the C array examples/c embeds.
"$root/target/release/pvm-assemble" "$root/examples/sample_program.pvmasm" "$work/sample_program.polkavm"
"$root/target/release/pvm-assemble" --c-array sample_program "$root/examples/sample_program.pvmasm" "$work/sample_program.h"

fail() { echo "test-install: FAIL: $*" >&2; exit 1; }

make -C "$root" --no-print-directory install PREFIX="$prefix" >/dev/null
for file in lib/libpolkavm_ffi.so lib/libpolkavm_ffi.a include/polkavm_ffi.h include/polkavm_ffi.hpp \
            lib/pkgconfig/polkavm-ffi.pc lib/cmake/polkavm_ffi/polkavm_ffiConfig.cmake \
            lib/cmake/polkavm_ffi/polkavm_ffiConfigVersion.cmake; do
  [ -f "$prefix/$file" ] || fail "make install did not install $file"
done

# DESTDIR stages the files without changing the paths written into them.
make -C "$root" --no-print-directory install PREFIX=/opt/polkavm-ffi DESTDIR="$work/stage" >/dev/null
[ -f "$work/stage/opt/polkavm-ffi/lib/libpolkavm_ffi.so" ] || fail "DESTDIR install missing the library"
grep -qx 'prefix=/opt/polkavm-ffi' "$work/stage/opt/polkavm-ffi/lib/pkgconfig/polkavm-ffi.pc" \
  || fail "DESTDIR leaked into polkavm-ffi.pc"

uses_installed_library() {
  local deps
  deps=$(ldd "$1")
  grep -q "$prefix/lib/libpolkavm_ffi.so" <<<"$deps" || fail "$1 does not load $prefix/lib/libpolkavm_ffi.so: $deps"
}

# C, with pkg-config.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
version=$(pkg-config --modversion polkavm-ffi)
libdir=$(pkg-config --variable=libdir polkavm-ffi)
for source in "$root/tests/install/consumer.c" "$root/examples/c/main.c"; do
  binary="$work/c_$(basename "$(dirname "$source")")"
  # shellcheck disable=SC2046
  cc -I"$work" $(pkg-config --cflags polkavm-ffi) "$source" -o "$binary" $(pkg-config --libs polkavm-ffi) \
    -Wl,-rpath,"$libdir"
  uses_installed_library "$binary"
done
"$work/c_install" "$program" || fail "the pkg-config-built C consumer failed"
"$work/c_c" >/dev/null || fail "examples/c built with pkg-config failed"
echo "test-install: C built with pkg-config (polkavm-ffi $version) runs against $prefix"

# C++, with find_package(polkavm_ffi): the shared library, then the static one.
for static in OFF ON; do
  build="$work/cpp-static-$static"
  cmake -S "$root/examples/cpp" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -DPOLKAVM_FFI_STATIC=$static >/dev/null
  cmake --build "$build" >/dev/null
  if [ $static = OFF ]; then
    uses_installed_library "$build/pvm_cpp_example"
  elif grep -q libpolkavm_ffi <<<"$(ldd "$build/pvm_cpp_example")"; then
    fail "the static C++ build still loads libpolkavm_ffi.so"
  fi
  "$build/pvm_cpp_example" "$work/sample_program.polkavm" >/dev/null || fail "the C++ example (static=$static) failed"
done
echo "test-install: C++ built with find_package(polkavm_ffi), shared and static, runs against $prefix"

# A version request the package cannot meet must fail.
mkdir -p "$work/too-new"
cat > "$work/too-new/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(too_new NONE)
find_package(polkavm_ffi 99 REQUIRED)
CMAKE
if cmake -S "$work/too-new" -B "$work/too-new/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
  fail "find_package(polkavm_ffi 99) accepted version $version"
fi
echo "test-install: passed"
