#!/usr/bin/env bash
# The Swift runner as `make bench` calls it (PVM_BENCH_RUNNERS): runs the pvm-bench built by
# `make bench-swift` inside the Swift root filesystem, the repository's paths in its arguments
# translated to /mnt/repo, where the root sees the repository.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
prefix=/mnt/repo/target/swift/prefix
exec "$repo/tests/rootfs/rootfs.sh" run swift --env LD_LIBRARY_PATH=$prefix/lib \
  /mnt/repo/target/swift/bench/release/pvm-bench "${@/#$repo//mnt/repo}"
