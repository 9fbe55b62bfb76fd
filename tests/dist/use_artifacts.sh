#!/usr/bin/env bash
# Installs and uses the release artifacts of one CPU as a user would, printing what each example
# prints. tests/dist/run.sh runs it on the build machine and in a Debian 11 root filesystem,
# tests/aarch64/run.sh in the arm64 root (cross compilers, programs run by qemu-aarch64).
#   tests/dist/use_artifacts.sh ARCH INPUTS     ARCH: x86_64 | aarch64; INPUTS: what run.sh prepared
# Needs python3 -m venv, cc, c++, pkg-config, cmake (and java on x86-64); runs from the repository's root.
set -euo pipefail
arch=$1 inputs=$2
dist=target/dist
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "use_artifacts: FAIL: $*" >&2; exit 1; }
repo=$PWD

if [ "$arch" = "$(uname -m)" ]; then
  run=() cc=cc cmake_args=()
  python3 -m venv "$work/venv"
else
  # Debian's arm64 python3 under qemu: no binfmt here, so every arm64 program is started through
  # qemu-aarch64, and pip (from Debian's pip wheel) is bootstrapped into the venv in-process.
  run=(qemu-aarch64) cc=aarch64-linux-gnu-gcc
  cmake_args=(-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++)
  qemu-aarch64 /usr/bin/python3 -m venv --without-pip "$work/venv"
  pip_wheel=$(ls /usr/share/python-wheels/pip-*.whl)
  qemu-aarch64 "$work/venv/bin/python" "$pip_wheel/pip" install --quiet --no-compile --no-index "$pip_wheel"
fi

# Python: the wheel into a fresh virtualenv (no index: the wheel needs nothing else), then the example
# and the smoke test, run from outside the repository so only the installed package can be imported.
wheel=$(ls $dist/polkavm_ffi-"$version"-py3-none-*_"$arch".whl)
"${run[@]}" "$work/venv/bin/python" -m pip install --quiet --no-compile --no-index "$wheel"
(cd "$work" && "${run[@]}" "$work/venv/bin/python" "$repo/examples/python/host_function.py" \
   && "${run[@]}" "$work/venv/bin/python" "$repo/tests/dist/smoke.py") | sed 's/^/python: /'

# C with pkg-config and C++ with find_package, from the unpacked SDK.
tar -xzf $dist/polkavm-ffi-"$version"-"$arch"-linux.tar.gz -C "$work"
sdk=$work/polkavm-ffi-$version-$arch-linux
export PKG_CONFIG_PATH=$sdk/lib/pkgconfig
[ "$(pkg-config --variable=libdir polkavm-ffi)" -ef "$sdk/lib" ] || fail "polkavm-ffi.pc does not point into $sdk"
# shellcheck disable=SC2046
$cc -std=c11 -Wall -Wextra -Werror -I"$inputs" $(pkg-config --cflags polkavm-ffi) examples/c/main.c -o "$work/c_example" \
  $(pkg-config --libs polkavm-ffi) -Wl,-rpath,"$(pkg-config --variable=libdir polkavm-ffi)"
"${run[@]}" "$work/c_example" | sed 's/^/c: /'
for static in OFF ON; do
  cmake -S examples/cpp -B "$work/cpp-$static" -DCMAKE_PREFIX_PATH="$sdk" -DPOLKAVM_FFI_STATIC=$static "${cmake_args[@]}" >/dev/null
  cmake --build "$work/cpp-$static" >/dev/null
  "${run[@]}" "$work/cpp-$static/pvm_cpp_example" "$inputs/sample_program.polkavm" | sed "s/^/c++ (static $static): /"
done

# Kotlin: the example's classes (compiled by run.sh against this jar) with plain java -cp, the
# native library coming from inside the jar. (No arm64 JVM here: tests/aarch64/run.sh checks
# instead that the jar's linux-aarch64 library is the one tested above.)
if [ "$arch" = x86_64 ]; then
  java -cp "$inputs/kotlin/classes:$dist/polkavm-ffi-$version.jar:$inputs/kotlin/lib/*" HostFunctionKt examples/sample_program.pvmasm \
    | sed 's/^/kotlin: /'
fi
