#!/usr/bin/env bash
# Builds and runs tests/swift-consumer against bindings/swift published as a package is: a git
# repository with the package at its root and a version tag. Run inside the Swift root filesystem
# with PKG_CONFIG_PATH and LD_LIBRARY_PATH naming the installed library (make test-swift).
#   tests/swift-consumer/run.sh WORK_DIR
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mkdir -p "$1" && cd "$1" && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n 1)

# Same content, same commit: fixed names and dates keep the commit (and so SwiftPM's cached
# checkout and Package.resolved) the same until bindings/swift changes.
export GIT_AUTHOR_NAME=polkavm-ffi GIT_AUTHOR_EMAIL=polkavm-ffi@localhost GIT_AUTHOR_DATE=2000-01-01T00:00:00Z
export GIT_COMMITTER_NAME=polkavm-ffi GIT_COMMITTER_EMAIL=polkavm-ffi@localhost GIT_COMMITTER_DATE=2000-01-01T00:00:00Z
published="$work/git/swift"
rm -rf "$published"
mkdir -p "$published"
cp -r "$repo/bindings/swift/Package.swift" "$repo/bindings/swift/Sources" "$repo/bindings/swift/Tests" "$published/"
git -C "$published" init -q -b main
git -C "$published" add -A
git -C "$published" commit -q -m "PolkaVM $version"
git -C "$published" tag "$version"
# A new commit under the same tag: start from a fresh clone and resolution.
commit=$(git -C "$published" rev-parse HEAD)
if [ "$(cat "$work/commit" 2>/dev/null)" != "$commit" ]; then
  rm -rf "$work/build"
  echo "$commit" > "$work/commit"
fi

cd "$repo/tests/swift-consumer"
export POLKAVM_SWIFT_URL="file://$published"
trap 'rm -f Package.resolved' EXIT
rm -f Package.resolved
swift build --disable-dependency-cache --scratch-path "$work/build"
output=$("$work/build/debug/swift-consumer")
echo "$output"
[ "$(grep -c "= 42 with polkavm-ffi $version" <<<"$output")" -eq 2 ] || { echo "swift-consumer: unexpected output" >&2; exit 1; }
echo "swift-consumer: PolkaVM $version as a versioned git dependency builds and runs"
