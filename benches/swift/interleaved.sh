#!/usr/bin/env bash
# Swift host-call round trips, 7 interleaved rounds per backend: the C ABI called straight from
# Swift (pvm-bench --c-abi, the floor), the package's own run loop (run, reg, setReg), and call()
# with a HostHandler. After make bench-swift programs. Prints one line per round (ns per host
# call; N host calls a batch, default 50000), then per backend the medians and the median of the per-round ratios to the floor.
set -e
cd "$(dirname "$0")/../.."
P=$PWD/target/programs/test_program.polkavm; B=benches/swift/run.sh
rounds=${ROUNDS:-7} N=${N:-50000}
for backend in interpreter compiler; do
  for round in $(seq "$rounds"); do
    printf "%s %s floor=%s loop=%s call=%s\n" $backend $round \
      "$($B --c-abi host_calls $backend $N $P $P | tail -1)" \
      "$($B host_calls $backend $N $P $P | tail -1)" \
      "$($B --call host_calls $backend $N $P $P | tail -1)"
  done
done | tee /dev/stderr | python3 benches/medians.py
