#!/usr/bin/env bash
# Kotlin against its floor, ROUNDS interleaved rounds (default 7) per backend: host-call round trips
# through JNA direct mapping on the C ABI (the floor), the package's run loop (run, reg, setReg) and
# call() with a HostHandler; then single accessors (reg, setReg, gas, setGas) against the C calls.
# After `make bench-kotlin programs`. Prints ns per host call or per accessor call, one line per
# round, then the medians and the medians of the per-round ratios to the floor.
set -e
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-7}
P=target/programs/test_program.polkavm
bench() { java -cp "benches/kotlin/target/classes:$(cat benches/kotlin/target/classpath.txt)" BenchKt "$@" | tail -1; }
for backend in interpreter compiler; do
  for round in $(seq "$ROUNDS"); do
    line="$backend $round floor=$(bench --floor host_calls $backend 2000 $P $P)"
    line="$line loop=$(bench host_calls $backend 2000 $P $P) call=$(bench --call host_calls $backend 2000 $P $P)"
    for accessor in reg set_reg gas set_gas; do
      line="$line $accessor-floor=$(bench --floor $accessor $backend 200000 $P $P) $accessor=$(bench $accessor $backend 200000 $P $P)"
    done
    echo "$line"
  done
done | tee /dev/stderr | python3 benches/medians.py
