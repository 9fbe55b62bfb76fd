#!/usr/bin/env bash
# Instructions per host-call round trip on the interpreter from Swift, counted by valgrind's
# callgrind (exact, where wall-clock ratios on a shared machine move by tens of percent): the C ABI
# called straight from Swift (the floor), the package's run loop, and call() with a HostHandler.
# The host's valgrind runs pvm-bench (make bench-swift) with the Swift root's own loader and
# libraries. As in benches/instructions.sh, each runs at n and 2n host calls (a warm-up batch and a
# timed one each): (count(2n) - count(n)) / 2n is one host call.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind not found" >&2; exit 1; }
root=$(tests/rootfs/rootfs.sh path swift)
libraries=$root/usr/libexec/swift/lib/swift/linux:$root/usr/lib/x86_64-linux-gnu:$PWD/target/swift/prefix/lib
program=$PWD/target/programs/test_program.polkavm
n=1000

instructions() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$root/lib64/ld-linux-x86-64.so.2" --library-path "$libraries" \
    target/swift/bench/release/pvm-bench "$@" host_calls interpreter "$n2" "$program" "$program" 2>&1 | awk '/Collected :/ { print $4 }'
}

echo "| layer (interpreter) | instructions per host call | ratio to the Swift floor |"
echo "|---|---:|---:|"
floor=""
for layer in "C ABI from Swift (floor):--c-abi" "run loop (run, reg, setReg):" "call + HostHandler:--call"; do
  name=${layer%%:*} flag=${layer#*:}
  n2=$n small=$(instructions $flag)
  n2=$((2 * n)) large=$(instructions $flag)
  per_unit=$(( (large - small) / (2 * n) ))
  floor=${floor:-$per_unit}
  echo "| $name | $per_unit | $(python3 -c "print(f'{$per_unit / $floor:.2f}')") |"
done
