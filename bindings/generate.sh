#!/usr/bin/env bash
# Generates the committed Swift sources from the UniFFI API (src/uniffi_api/), with the crate's own
# uniffi-bindgen reading the metadata of LIBRARY (default target/release/libpolkavm_ffi.so).
# They are committed because SwiftPM builds from the repository (docs/design.md, "Generated code").
#   bindings/generate.sh           rewrite bindings/swift/Sources
#   bindings/generate.sh --check   fail if those files differ from freshly generated ones
# (Python and Kotlin need nothing here: maturin generates the Python module when it builds the
# wheel, and bindings/kotlin's Maven build runs uniffi-bindgen at generate-sources.)
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
if [[ "${1:-}" == "--check" ]]; then check=true; fi
library="${LIBRARY:-target/release/libpolkavm_ffi.so}"
if [[ ! -f "$library" ]]; then
  echo "generate.sh: $library is missing: run 'make build' first" >&2
  exit 1
fi

fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
bindgen() {
  cargo run --quiet --features uniffi-cli --bin uniffi-bindgen -- \
    generate --no-format --library "$library" --language "$1" --out-dir "$fresh/$1"
}
bindgen swift
# Sources/PolkaVM/FastPath.swift calls the library with Instance's handle, which the generated
# class keeps fileprivate: it is made internal (the package's own), nothing else changes.
instance_handle='/^open class Instance: /,/^    fileprivate let handle: UInt64$/ s/^    fileprivate let handle: UInt64$/    internal let handle: UInt64/'
sed -i "$instance_handle" "$fresh/swift/PolkaVM.swift"
grep -q '^    internal let handle: UInt64$' "$fresh/swift/PolkaVM.swift" || { echo "generate.sh: Instance's handle not found" >&2; exit 1; }

# Where each generated file lives in the SwiftPM package.
declare -A places=(
  ["swift/PolkaVM.swift"]="bindings/swift/Sources/PolkaVM/PolkaVM.swift"
  ["swift/PolkaVMFFI.h"]="bindings/swift/Sources/PolkaVMFFI/PolkaVMFFI.h"
  ["swift/PolkaVMFFI.modulemap"]="bindings/swift/Sources/PolkaVMFFI/module.modulemap"
)

stale=0
for generated in "${!places[@]}"; do
  committed="${places[$generated]}"
  if [[ ! -f "$fresh/$generated" ]]; then
    echo "generate.sh: uniffi-bindgen did not produce $generated" >&2
    exit 1
  fi
  if $check; then
    if ! cmp -s "$fresh/$generated" "$committed"; then
      echo "stale: $committed differs from what uniffi-bindgen generates now" >&2
      stale=1
    fi
  else
    mkdir -p "$(dirname "$committed")"
    cp "$fresh/$generated" "$committed"
  fi
done
if $check; then
  if [[ $stale -ne 0 ]]; then
    echo "the generated bindings are stale: run 'make bindings' and commit the result" >&2
    exit 1
  fi
  echo "generated Swift bindings are up to date (${#places[@]} files)"
fi
