"""What the Python package's `Instance.call` (polkavm_ffi/_call.py: interrupts kept for the caller,
handler results checked) costs over the generated UniFFI method it wraps: per host call (host_loop)
and per invocation (add), on both backends; medians of interleaved rounds, CPU time of this thread.
    target/python-venv/bin/python benches/python/call_wrapper.py [rounds]
"""

import pathlib
import statistics
import sys
import time

from polkavm_ffi import Backend, Engine, EngineConfig, HostHandler, Instance, Module, assemble, _call

PROGRAM = pathlib.Path(__file__).resolve().parents[2] / "tests" / "programs" / "test_program.pvmasm"
HOST_CALLS = 1000
INVOCATIONS = 300


class Nothing(HostHandler):
    def on_host_call(self, number: int, instance: Instance) -> None:
        return None


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    blob = assemble(PROGRAM.read_text())
    for backend in (Backend.INTERPRETER, Backend.COMPILER):
        vm = Instance(Module(Engine(EngineConfig(backend=backend)), blob))
        calls = {"package": vm.call, "generated": lambda *args: _call._generated_call(vm, *args)}
        samples: dict = {(kind, unit): [] for kind in calls for unit in ("host call", "invocation")}
        for _ in range(rounds):
            for kind, call in calls.items():
                start = time.thread_time()
                call("host_loop", [HOST_CALLS], Nothing(), 10**9)
                samples[(kind, "host call")].append((time.thread_time() - start) / HOST_CALLS)
                start = time.thread_time()
                for _ in range(INVOCATIONS):
                    call("add", [1, 2], Nothing(), 10**9)
                samples[(kind, "invocation")].append((time.thread_time() - start) / INVOCATIONS)
        for unit in ("host call", "invocation"):
            package = statistics.median(samples[("package", unit)])
            generated = statistics.median(samples[("generated", unit)])
            print(f"{backend.name.lower():11} per {unit:10}: package {package * 1e6:7.2f} µs, "
                  f"generated {generated * 1e6:7.2f} µs, ratio {package / generated:.3f}")


if __name__ == "__main__":
    main()
