#!/usr/bin/env bash
# Instructions per host-call round trip and per invocation on the interpreter, for every layer
# against polkavm called directly, counted by valgrind's callgrind: exact and repeatable, where
# wall-clock ratios on a shared machine move by tens of percent.
#
# Each layer runs in a process of its own at two batch sizes, n and 2n; every process does the
# same setup and one warm-up batch, so (count(2n) - count(n)) / 2n is the cost of one unit alone.
#
# Usage: benches/instructions.sh [extra cargo arguments, e.g. --no-default-features]
# With extra arguments the Rust layers (floor included) are built with them; the C program always
# uses the library `make build` builds.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
  echo "instructions.sh: valgrind not found; the instruction counts need valgrind's callgrind" >&2
  exit 1
fi

bench=$(cargo bench --bench overhead --no-run --message-format=json "$@" |
  python3 -c 'import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "overhead" and message.get("executable"):
        print(message["executable"])')
make -s bench-c programs >/dev/null
c_runner=target/bench/bench_c_abi
program=target/programs/test_program.polkavm

instructions() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | awk '/Collected :/ { print $4 }'
}

# scenario, its interpreter batch size in the bench (benches/overhead/layers.rs), n for callgrind
scenarios=("host_calls 50000 10000" "invocations 5000 1000")
layers=("polkavm direct (floor)" "core: run loop" "core: call + closure" "C ABI, called from Rust" "C program (benches/c)"
        "C program, pvm_instance_resume" "C program, pvm_instance_resume_read")

echo "| scenario | layer | instructions per unit | ratio to floor |"
echo "|---|---|---:|---:|"
for entry in "${scenarios[@]}"; do
  read -r scenario batch n <<<"$entry"
  floor=""
  for layer in "${layers[@]}"; do
    if [[ $layer == "C program"* ]]; then
      resume=()
      [[ $layer == *pvm_instance_resume ]] && resume=(--resume)
      [[ $layer == *pvm_instance_resume_read ]] && resume=(--resume-read)
      small=$(instructions "$c_runner" "${resume[@]}" "$scenario" interpreter "$n" "$program" "$program")
      large=$(instructions "$c_runner" "${resume[@]}" "$scenario" interpreter "$((2 * n))" "$program" "$program")
    else
      run() {
        PVM_BENCH_ONLY="$scenario/interpreter" PVM_BENCH_LAYER="$layer" PVM_BENCH_ROUNDS=1 \
          PVM_BENCH_SCALE=$(python3 -c "print($1 / $batch)") instructions "$bench"
      }
      small=$(run "$n")
      large=$(run "$((2 * n))")
    fi
    per_unit=$(python3 -c "print(round(($large - $small) / (2 * $n)))")
    floor=${floor:-$per_unit}
    echo "| $scenario | $layer | $per_unit | $(python3 -c "print(f'{$per_unit / $floor:.3f}')") |"
  done
done
