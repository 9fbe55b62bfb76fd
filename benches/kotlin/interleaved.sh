#!/usr/bin/env bash
# Kotlin against its floor, interleaved rounds (benches/rounds.sh): JNA direct mapping on the C ABI
# (the floor) against the package's run loop, call() with a HostHandler, and single accessors. Each
# round is a fresh JVM, warmed up for a second. After `make bench-kotlin programs`.
set -e
cd "$(dirname "$0")/../.."
runner() { java -cp "benches/kotlin/target/classes:$(cat benches/kotlin/target/classpath.txt)" BenchKt "$@" | tail -1; }
floor() { runner --floor "$@"; }
package() { runner "$@"; }
HOST_CALLS=2000 ACCESSOR_CALLS=200000
source benches/rounds.sh
