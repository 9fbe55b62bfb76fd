#!/usr/bin/env bash
# Python against its floor, ROUNDS interleaved rounds (default 7) per backend: host-call round trips
# through ctypes straight on the C ABI (the floor), the package's run loop (run, reg, set_reg) and
# call() with a HostHandler; then single accessors (reg, set_reg, gas, set_gas) against the C calls.
# After `make python-wheel programs`. Prints ns per host call or per accessor call, one line per
# round, then the medians and the medians of the per-round ratios to the floor.
set -e
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-7}
PY=target/python-venv/bin/python; P=target/programs/test_program.polkavm; B=benches/python
bench() { $PY $B/bench.py "$@" $P $P | tail -1; }
floor() { $PY $B/bench_ctypes.py "$@" $P $P | tail -1; }
for backend in interpreter compiler; do
  for round in $(seq "$ROUNDS"); do
    line="$backend $round floor=$(floor host_calls $backend 20000)"
    line="$line loop=$(bench host_calls $backend 20000) call=$(bench --call host_calls $backend 20000)"
    for accessor in reg set_reg gas set_gas; do
      line="$line $accessor-floor=$(floor $accessor $backend 100000) $accessor=$(bench $accessor $backend 100000)"
    done
    echo "$line"
  done
done | tee /dev/stderr | python3 benches/medians.py
