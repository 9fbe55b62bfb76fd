#!/usr/bin/env bash
# Python host-call round trips, 7 interleaved rounds per backend: ctypes straight on the C ABI (the
# floor), the package's own run loop (run, reg, set_reg), and call() with a HostHandler.
# After make python-wheel programs. Prints one line per round (ns per host call).
set -e
cd "$(dirname "$0")/../.."
PY=target/python-venv/bin/python; P=target/programs/test_program.polkavm; B=benches/python
for backend in interpreter compiler; do
  for round in 1 2 3 4 5 6 7; do
    printf "%s %s floor=%s loop=%s call=%s\n" $backend $round \
      "$($PY $B/bench_ctypes.py host_calls $backend 2000 $P $P | tail -1)" \
      "$($PY $B/bench.py host_calls $backend 2000 $P $P | tail -1)" \
      "$($PY $B/bench.py --call host_calls $backend 2000 $P $P | tail -1)"
  done
done
