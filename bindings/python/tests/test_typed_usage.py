"""The documented usage that `mypy --strict` checks (typed_usage.py) also runs and does what it says."""

import typed_usage


def test_the_documented_usage_runs():
    assert typed_usage.quick_start().regs[7] == 100
    errors = typed_usage.errors()
    assert len(errors) == 3 and errors[2] == "host call 1 aborted: quota exceeded"
    assert typed_usage.without_gas_metering() == 9
    assert typed_usage.shared_between_threads() == [0, 1, 4, 9]
    assert typed_usage.jam_mode() == 1
