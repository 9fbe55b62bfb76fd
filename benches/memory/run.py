"""Memory bandwidth per face against memcpy in C, in interleaved rounds: `make bench-memory`.

    python3 run.py PROGRAM ROUNDS ITERATIONS NAME=COMMAND [NAME=COMMAND...]

Each round runs every runner once per backend, in a rotating order; a runner is a command that
takes PROGRAM BACKEND ITERATIONS and prints "OPERATION MB/s" lines (bench_memory.c,
bench_memory.py). The first runner must report "memcpy", the floor, and "read", its read of guest
memory. The table gives, per backend, face and operation, the median MB/s and the medians of the
per-round ratios to that round's memcpy and to its C read.
"""

import statistics
import subprocess
import sys


def main() -> None:
    program, rounds, iterations = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    runners = [entry.split("=", 1) for entry in sys.argv[4:]]
    rows = {}  # (backend, face, operation) -> [(MB/s, ratio)]
    for backend in ("jit", "interpreter"):
        for round in range(rounds):
            results = {}
            order = runners[round % len(runners):] + runners[: round % len(runners)]
            for name, command in order:
                output = subprocess.run(command.split() + [program, backend, iterations], check=True,
                                        capture_output=True, text=True).stdout
                for line in output.strip().splitlines():
                    operation, rate = line.rsplit(" ", 1)
                    results[(name, operation)] = float(rate)
            floor, c_read = results[(runners[0][0], "memcpy")], results[(runners[0][0], "read")]
            for (name, operation), rate in results.items():
                rows.setdefault((backend, name, operation), []).append((rate, rate / floor, rate / c_read))
    print(f"| backend | face | operation (1,024,000 bytes) | MB/s (median of {rounds}) | ratio to C memcpy | ratio to C read |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for (backend, name, operation), samples in rows.items():
        rate = statistics.median(s[0] for s in samples)
        to_memcpy = statistics.median(s[1] for s in samples)
        to_read = statistics.median(s[2] for s in samples)
        print(f"| {backend} | {name} | {operation} | {rate:,.0f} | {to_memcpy:.2f} | {to_read:.2f} |")


if __name__ == "__main__":
    main()
