"""Summarises interleaved benchmark rounds (benches/*/interleaved.sh) read from stdin, one line a
round: `BACKEND ROUND key=ns ...`, where `floor` is the floor of `loop` and `call`, and `X-floor`
that of `X`. Prints per backend and key the median, its floor's, and the median of the per-round
ratios to the floor."""

import statistics
import sys

rounds = {}
for line in sys.stdin:
    backend, _, *fields = line.split()
    rounds.setdefault(backend, []).append({key: float(value) for key, value in (field.split("=") for field in fields)})
for backend, values in rounds.items():
    for name in values[0]:
        if name == "floor" or name.endswith("-floor"):
            continue
        floor = "floor" if name in ("loop", "call") else name + "-floor"
        median = statistics.median(v[name] for v in values)
        floor_median = statistics.median(v[floor] for v in values)
        ratio = statistics.median(v[name] / v[floor] for v in values)
        print(f"{backend} {name}: {median:.1f} ns against {floor_median:.1f} ns, ratio of medians "
              f"{median / floor_median:.2f}, median of per-round ratios {ratio:.2f}")
