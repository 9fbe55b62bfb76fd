#!/usr/bin/env bash
# Python against its floor, interleaved rounds (benches/rounds.sh): ctypes straight on the C ABI
# (the floor) against the package's run loop, call() with a HostHandler, and single accessors.
# After `make python-wheel programs`.
set -e
cd "$(dirname "$0")/../.."
floor() { target/python-venv/bin/python benches/python/bench_ctypes.py "$@" | tail -1; }
package() { target/python-venv/bin/python benches/python/bench.py "$@" | tail -1; }
HOST_CALLS=20000 ACCESSOR_CALLS=100000
source benches/rounds.sh
