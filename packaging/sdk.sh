#!/usr/bin/env bash
# The C SDK tarball of one portable build: lib/ (the shared library with its SONAME symlinks, the
# static library, relocatable pkg-config and CMake files), include/, the licenses and a README.
#   packaging/sdk.sh ARCH LIBDIR OUTDIR      e.g. packaging/sdk.sh x86_64 target/portable/.../release target/dist
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: sdk.sh ARCH LIBDIR OUTDIR" >&2; exit 2; }
arch=$1 libdir=$2 outdir=$3
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
abi=$(sed -n 's/^#define PVM_ABI_VERSION \([0-9]*\)$/\1/p' "$root/include/polkavm_ffi.h")
soname=$(readelf -d "$libdir/libpolkavm_ffi.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libpolkavm_ffi.so.1 ] || { echo "sdk.sh: $libdir/libpolkavm_ffi.so has SONAME '$soname', not libpolkavm_ffi.so.1" >&2; exit 1; }

name=polkavm-ffi-$version-$arch-linux
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
sdk=$stage/$name
install -d "$sdk/lib/pkgconfig" "$sdk/lib/cmake/polkavm_ffi" "$sdk/include"
install -m 755 "$libdir/libpolkavm_ffi.so" "$sdk/lib/$soname.$abi"
ln -s "$soname.$abi" "$sdk/lib/$soname"
ln -s "$soname" "$sdk/lib/libpolkavm_ffi.so"
install -m 644 "$libdir/libpolkavm_ffi.a" "$sdk/lib/"
install -m 644 "$root/include/polkavm_ffi.h" "$root/include/polkavm_ffi.hpp" "$sdk/include/"
# pkg-config's ${pcfiledir} makes the .pc file relocatable; the CMake file finds its prefix itself.
sed -e 's|@PREFIX@|${pcfiledir}/../..|g' -e "s|@VERSION@|$version|g" "$root/packaging/polkavm-ffi.pc.in" \
  > "$sdk/lib/pkgconfig/polkavm-ffi.pc"
install -m 644 "$root/packaging/polkavm_ffiConfig.cmake" "$sdk/lib/cmake/polkavm_ffi/"
sed -e "s|@VERSION@|$version|g" "$root/packaging/polkavm_ffiConfigVersion.cmake.in" \
  > "$sdk/lib/cmake/polkavm_ffi/polkavm_ffiConfigVersion.cmake"
install -m 644 "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$sdk/"
install -m 644 "$root/packaging/sdk/README.md" "$sdk/README.md"

mkdir -p "$outdir"
tar -C "$stage" --owner=0 --group=0 --sort=name -czf "$outdir/$name.tar.gz" "$name"
echo "$outdir/$name.tar.gz"
