# Sourced by benches/{python,kotlin}/interleaved.sh once they have defined `floor` and `package`
# (each runs that language's runner, the floor on the C ABI or the package, with the runner's
# arguments, and prints ns per unit): ROUNDS interleaved rounds (default 7) per backend of host-call
# round trips (the floor's loop, the package's run loop and call() with a HostHandler, HOST_CALLS a
# batch) and of single accessors (ACCESSOR_CALLS a batch); one line per round, then the medians and
# the medians of the per-round ratios to the floor (benches/medians.py).
P=target/programs/test_program.polkavm
for backend in interpreter compiler; do
  for round in $(seq "${ROUNDS:-7}"); do
    line="$backend $round floor=$(floor host_calls $backend "$HOST_CALLS" $P $P)"
    line="$line loop=$(package host_calls $backend "$HOST_CALLS" $P $P) call=$(package --call host_calls $backend "$HOST_CALLS" $P $P)"
    for accessor in reg set_reg gas set_gas; do
      line="$line $accessor-floor=$(floor $accessor $backend "$ACCESSOR_CALLS" $P $P) $accessor=$(package $accessor $backend "$ACCESSOR_CALLS" $P $P)"
    done
    echo "$line"
  done
done | tee /dev/stderr | python3 benches/medians.py
