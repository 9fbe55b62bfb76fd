#!/usr/bin/env bash
# make test-aarch64, inside the arm64 root filesystem (tests/rootfs/rootfs.sh run arm64): the
# aarch64 library and artifacts under qemu-aarch64, where polkavm has no JIT.
#  1. The C suite (tests/c): the interpreter cases, and the JIT cases checking the documented error.
#  2. The Python package's suite on Debian's arm64 python3, interpreter and default engine: the cases
#     that ask for the JIT (ids or names with compiler or jit, and the JIT sandbox's
#     userfaultfd message) are deselected; tests/dist/smoke.py checks the JIT's error instead.
#  3. The aarch64 wheel, C SDK and jar, used like the x86-64 ones (tests/dist/use_artifacts.sh): the
#     interpreter prints exactly what it prints on the x86-64 build machine.
set -euo pipefail
lib=target/aarch64/aarch64-unknown-linux-gnu/release
dist=target/dist
inputs=target/dist-test
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "test-aarch64: FAIL: $*" >&2; exit 1; }

# --- 1. The C suite ------------------------------------------------------------------------------
mkdir -p "$work/lib"
cp "$lib/libpolkavm_ffi.so" "$work/lib/libpolkavm_ffi.so.1"
ln -s libpolkavm_ffi.so.1 "$work/lib/libpolkavm_ffi.so"
aarch64-linux-gnu-gcc -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude tests/c/c_abi_test.c \
  -L"$work/lib" -lpolkavm_ffi -lpthread -Wl,-rpath,"$work/lib" -o "$work/c_abi_test"
file_arch=$(od -An -tx1 -j18 -N2 "$work/c_abi_test" | tr -d ' ')
[ "$file_arch" = b700 ] || fail "c_abi_test is not an aarch64 ELF (e_machine $file_arch)"
qemu-aarch64 "$work/c_abi_test" target/programs | tee "$work/c.txt"
grep -q '^PASS engines$' "$work/c.txt" || fail "the engine tests (the JIT's documented error) did not pass"
! grep -q '\[jit\]' "$work/c.txt" || fail "a JIT case ran on aarch64"

# --- 2. The Python package's suite --------------------------------------------------------------
wheel=$(ls $dist/polkavm_ffi-"$version"-py3-none-*manylinux_2_17_aarch64*.whl)
qemu-aarch64 /usr/bin/python3 -m venv --without-pip "$work/venv"
pip_wheel=$(ls /usr/share/python-wheels/pip-*.whl)
qemu-aarch64 "$work/venv/bin/python" "$pip_wheel/pip" install --quiet --no-compile --no-index "$pip_wheel"
qemu-aarch64 "$work/venv/bin/python" -m pip install --quiet --no-compile "$wheel[test]"
(cd bindings/python/tests && qemu-aarch64 "$work/venv/bin/python" -m pytest -q -p no:cacheprovider -k 'not compiler and not jit and not userfaultfd')

# --- 3. The artifacts ---------------------------------------------------------------------------
tests/dist/use_artifacts.sh aarch64 "$inputs" | tee "$work/artifacts.txt"
# Every interpreter line and version line is what the x86-64 build machine printed; the JIT lines
# are the documented error.
interpreter_lines() { grep -vE '\[(jit|compiler)\]|default engine|from the wheel' "$1" | sort; }
diff -u <(interpreter_lines "$inputs/build-machine.txt" | grep -v '^kotlin: ') <(interpreter_lines "$work/artifacts.txt") \
  || fail "aarch64 printed other interpreter results than x86-64"
[ "$(grep -cE "\[(jit|compiler)\] unavailable here: .*the 'compiler' backend is not supported on this platform" "$work/artifacts.txt")" -eq 5 ] \
  || fail "not every face reported the JIT's documented error"
python3_unzip() { qemu-aarch64 /usr/bin/python3 -m zipfile "$@"; }
python3_unzip -e "$dist/polkavm-ffi-$version.jar" "$work/jar"
tar -xzf "$dist/polkavm-ffi-$version-aarch64-linux.tar.gz" -C "$work"
cmp "$work/jar/linux-aarch64/libpolkavm_ffi.so" "$work/polkavm-ffi-$version-aarch64-linux/lib/libpolkavm_ffi.so.1" \
  || fail "the jar's linux-aarch64/libpolkavm_ffi.so is not the SDK's library tested above"
echo "test-aarch64: passed (C suite, Python suite with the default engine, wheel, C SDK and jar under qemu-aarch64)"
