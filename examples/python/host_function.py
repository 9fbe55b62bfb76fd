"""A Python host for the sample program (examples/sample_program.pvmasm), on both backends.

The guest sums the squares 1..n and reports each term through host call 1 ("report": a0 = i,
a1 = running total); the host answers in a2 with a bonus to add (1 here). Run it with the
polkavm_ffi wheel installed (`make examples-python`):
    python examples/python/host_function.py [n]
"""

import pathlib
import sys

from polkavm_ffi import Backend, Engine, EngineConfig, HostHandler, Instance, Module, PvmError, Reg, Status, assemble

SAMPLE_PROGRAM = pathlib.Path(__file__).resolve().parents[1] / "sample_program.pvmasm"
REPORT = 1


class Host(HostHandler):
    def __init__(self) -> None:
        self.reports = 0

    def on_host_call(self, number: int, instance: Instance) -> None:
        if number != REPORT:
            raise ValueError(f"unknown host call {number}")
        self.reports += 1
        instance.set_reg(Reg.A2, 1)  # the bonus
        return None  # leave A0 as it is


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    blob = assemble(SAMPLE_PROGRAM.read_text())
    for backend in (Backend.INTERPRETER, Backend.COMPILER):
        try:
            engine = Engine(EngineConfig(backend=backend))
        except PvmError as error:  # the JIT exists on x86-64 only
            print(f"[{backend.name.lower()}] unavailable here: {error}")
            continue
        instance = Instance(Module(engine, blob))
        host = Host()
        outcome = instance.call("sum_of_squares", [n], host, 100_000)
        if outcome.result.status != Status.HALT:
            sys.exit(f"the guest stopped with {outcome.result.status}")
        total = outcome.regs[Reg.A0.value]
        assert total == n * (n + 1) * (2 * n + 1) // 6 + n
        print(f"[{backend.name.lower()}] sum_of_squares({n}) = {total} after {host.reports} host calls, "
              f"{outcome.result.gas_remaining} gas left")


if __name__ == "__main__":
    main()
