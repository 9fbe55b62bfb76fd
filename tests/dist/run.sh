#!/usr/bin/env bash
# make test-dist: proves the artifacts of `make dist` (target/dist) as their users would get them.
#  1. Every shipped ELF needs nothing newer than GLIBC_2.17, carries no debug info, and the library
#     is at most 5 MB; the wheel is tagged manylinux, the tarball has its SONAME links, the jar its
#     libraries and the pom what a public repository requires.
#  2. The sdist builds a working wheel from source with cargo.
#  3. tests/dist/use_artifacts.sh installs and uses every artifact on this machine and inside a
#     Debian 11 root filesystem (glibc 2.31, Python 3.9; tests/rootfs/rootfs.sh): same lines on both.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
dist=target/dist
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
inputs=target/dist-test
fail() { echo "test-dist: FAIL: $*" >&2; exit 1; }
rm -rf "$inputs"
mkdir -p "$inputs/unpacked"

# --- 1. What is shipped ---------------------------------------------------------------------------
sdk=$dist/polkavm-ffi-$version-x86_64-linux.tar.gz
jar=$dist/polkavm-ffi-$version.jar
for file in "$sdk" "$dist/polkavm-ffi-$version-aarch64-linux.tar.gz" "$jar" "$dist/polkavm-ffi-$version-sources.jar" \
            "$dist/polkavm-ffi-$version.pom" "$dist/polkavm_ffi-$version.tar.gz"; do
  [ -f "$file" ] || fail "make dist did not write $file"
done
for arch in x86_64 aarch64; do
  wheel=$(ls $dist/polkavm_ffi-"$version"-py3-none-*manylinux_2_17_$arch*.whl) || fail "no manylinux_2_17_$arch wheel in $dist"
  python3 -m zipfile -e "$wheel" "$inputs/unpacked/wheel-$arch"
  tar -xzf "$dist/polkavm-ffi-$version-$arch-linux.tar.gz" -C "$inputs/unpacked"
done
python3 -m zipfile -e "$jar" "$inputs/unpacked/jar"
mapfile -t elfs < <(find "$inputs/unpacked" -type f \( -name '*.so' -o -name '*.so.*' \) | sort)
[ ${#elfs[@]} -eq 6 ] || fail "expected the library in each SDK, wheel and jar folder (6), found: ${elfs[*]}"
packaging/check_glibc.sh 2.17 "${elfs[@]}"
for elf in "${elfs[@]}"; do
  ! readelf -S "$elf" | grep -q '\.debug_' || fail "$elf carries debug info"
  size=$(stat -c %s "$elf")
  [ "$size" -le $((5 * 1024 * 1024)) ] || fail "$elf is $size bytes, over 5 MB"
done
for arch in x86_64 aarch64; do
  lib=$inputs/unpacked/polkavm-ffi-$version-$arch-linux/lib
  ! readelf -S "$lib/libpolkavm_ffi.a" | grep -q '\.debug_info' || fail "$lib/libpolkavm_ffi.a carries debug info"
  [ "$(readlink "$lib/libpolkavm_ffi.so")" = libpolkavm_ffi.so.1 ] || fail "$lib/libpolkavm_ffi.so is not a link to libpolkavm_ffi.so.1"
  [ -f "$(readlink -f "$lib/libpolkavm_ffi.so.1")" ] || fail "$lib/libpolkavm_ffi.so.1 does not lead to the library"
  readelf -d "$lib/libpolkavm_ffi.so.1" | grep -q 'Library soname: \[libpolkavm_ffi\.so\.1\]' || fail "$lib: no SONAME libpolkavm_ffi.so.1"
  jna=$([ $arch = x86_64 ] && echo linux-x86-64 || echo linux-aarch64)
  cmp -s "$(readlink -f "$lib/libpolkavm_ffi.so.1")" "$inputs/unpacked/jar/$jna/libpolkavm_ffi.so" \
    || fail "the jar's $jna/libpolkavm_ffi.so is not the $arch SDK's library"
  cmp -s "$(readlink -f "$lib/libpolkavm_ffi.so.1")" "$(find "$inputs/unpacked/wheel-$arch" -name '*.so')" \
    || fail "the $arch wheel's library is not the $arch SDK's"
done
readelf -h "$inputs/unpacked/jar/linux-aarch64/libpolkavm_ffi.so" | grep -q 'Machine: *AArch64' || fail "linux-aarch64/ holds no AArch64 library"
python3 - "$inputs/unpacked/wheel-x86_64" "$dist/polkavm-ffi-$version.pom" <<'PY'
import email.parser, pathlib, sys, xml.etree.ElementTree as ET
wheel_dir, pom = pathlib.Path(sys.argv[1]), sys.argv[2]
info = next(wheel_dir.glob("*.dist-info"))
tags = [line.split(": ", 1)[1] for line in (info / "WHEEL").read_text().splitlines() if line.startswith("Tag: ")]
assert "py3-none-manylinux_2_17_x86_64" in tags, f"wheel tags {tags}"
metadata = email.parser.Parser().parsestr((info / "METADATA").read_text())
assert metadata["Requires-Python"] == ">=3.9", metadata["Requires-Python"]
ns = {"m": "http://maven.apache.org/POM/4.0.0"}
project = ET.parse(pom).getroot()
for field in ("name", "description", "url", "licenses/m:license/m:name", "scm/m:url", "scm/m:connection", "developers/m:developer/m:name"):
    element = project.find("m:" + field, ns)
    assert element is not None and element.text and element.text.strip(), f"the pom lacks {field}"
print(f"test-dist: wheel tags {', '.join(tags)}, Requires-Python {metadata['Requires-Python']}; the pom has what a public repository requires")
PY
for source in io/polkavm/ffi/polkavm_ffi.kt io/polkavm/ffi/FastPath.kt; do
  python3 -m zipfile -l "$dist/polkavm-ffi-$version-sources.jar" | grep -q "^$source " \
    || fail "the sources jar lacks $source"
done
! python3 -m zipfile -l "$dist/polkavm-ffi-$version-sources.jar" | grep -q '\.so ' || fail "the sources jar carries a library"

# --- 2. The sdist builds from source ----------------------------------------------------------------
# With this repository's cargo target folder, so that only the crate itself is compiled again.
python3 -m venv "$inputs/sdist-venv"
CARGO_TARGET_DIR=$root/target "$inputs/sdist-venv/bin/pip" install --quiet --no-cache-dir "$dist/polkavm_ffi-$version.tar.gz"
(cd "$inputs" && sdist-venv/bin/python "$root/tests/dist/smoke.py") | sed 's/^/sdist: /'

# --- 3. Used on this machine and on Debian 11 --------------------------------------------------------
# What the root filesystem cannot make itself: the sample program (assembled here), the Kotlin
# example compiled against the jar, and the jar's dependencies.
target/release/pvm-assemble examples/sample_program.pvmasm "$inputs/sample_program.polkavm"
target/release/pvm-assemble --c-array sample_program examples/sample_program.pvmasm "$inputs/sample_program.h"
MVN=${MVN:-mvn -B --no-transfer-progress}
$MVN -q install:install-file -Dfile="$jar" -DpomFile="$dist/polkavm-ffi-$version.pom"
$MVN -q -f examples/kotlin compile dependency:copy-dependencies -DexcludeArtifactIds=polkavm-ffi \
  -DoutputDirectory="$root/$inputs/kotlin/lib"
cp -r examples/kotlin/target/classes "$inputs/kotlin/classes"

tests/dist/use_artifacts.sh x86_64 "$inputs" > "$inputs/build-machine.txt"
tests/rootfs/rootfs.sh run bullseye tests/dist/use_artifacts.sh x86_64 "$inputs" > "$inputs/debian11.txt"
cat "$inputs/debian11.txt"
diff -u "$inputs/build-machine.txt" "$inputs/debian11.txt" || fail "Debian 11 printed other lines than this machine"
# The SDK's C example prints what the build tree's does (make -C examples/c run).
make --no-print-directory -s -C examples/c run | sed 's/^/c: /' | diff -u - <(grep '^c: ' "$inputs/debian11.txt") \
  || fail "the SDK's C example printed other lines than the build tree's"
for face in python c 'c++ (static OFF)' 'c++ (static ON)' kotlin; do
  grep -q "^$face: .*sum_of_squares" "$inputs/debian11.txt" || fail "$face printed no result on Debian 11"
done
echo "test-dist: passed (glibc <= 2.17; wheel, sdist, C SDK and jar used on this machine and on Debian 11 alike)"
