"""The Python benchmark runner, driven by `cargo bench` (benches/overhead/external.rs):

    python bench.py [--call] SCENARIO BACKEND N TEST_PROGRAM LARGE_PROGRAM

Sets up, warms up with one batch, times one batch of N and prints nanoseconds per unit (per host
call, per run, per invocation or per load) on its last line. Host calls are served by the
caller's own run loop (run, reg, set_reg per host call), or with --call by `Instance.call` and a
HostHandler (one foreign callback per host call). The scenarios `reg`, `set_reg`, `gas` and
`set_gas` time N single accessor calls (the enum constant looked up once, as in the floor) on
nonzero values: a 0 from `reg` or `gas` costs the package a second call, to tell it from a failure.
"""

import sys
import time

from polkavm_ffi import Backend, Engine, EngineConfig, HostHandler, Instance, Module, ModuleConfig, Reg, Status

GAS = 2**61
# Each UniFFI call costs microseconds: per-unit scenarios run smaller batches than the Rust
# layers' (the result is still time per unit); `compute` keeps N, its unit being the whole run.
BATCH_CAP = {"host_calls": 20000, "invocations": 500, "load": 10, "compute": None,
             "reg": None, "set_reg": None, "gas": None, "set_gas": None}


class CopyA0ToA2(HostHandler):
    def on_host_call(self, number, instance):
        instance.set_reg(Reg.A2, instance.reg(Reg.A0))
        return None


def run_loop(vm, pc, n):
    vm.prepare_call(pc, [n])
    vm.set_gas(GAS)
    while True:
        result = vm.run()
        if result.status == Status.HOST:
            vm.set_reg(Reg.A2, vm.reg(Reg.A0))
        elif result.status == Status.HALT:
            return vm.reg(Reg.A0)
        else:
            raise RuntimeError(f"unexpected status {result.status}")


def run_call(vm, name, n, handler):
    outcome = vm.call(name, [n], handler, GAS)
    if outcome.result.status != Status.HALT:
        raise RuntimeError(f"unexpected status {outcome.result.status}")
    return vm.reg(Reg.A0)


def time_workload(scenario, n, workloads):
    """The runner protocol: one warm-up batch, then one timed batch; prints nanoseconds per unit."""
    workload = workloads[scenario]
    per = n if scenario != "compute" else 1
    workload()
    start = time.perf_counter_ns()
    workload()
    elapsed = time.perf_counter_ns() - start
    print(f"{elapsed / per:.3f}")


def main():
    args = sys.argv[1:]
    use_call = args[0] == "--call"
    if use_call:
        args = args[1:]
    scenario, backend, n, test_path, large_path = args[0], args[1], int(args[2]), args[3], args[4]
    if BATCH_CAP[scenario] is not None:
        n = min(n, BATCH_CAP[scenario])
    engine = Engine(EngineConfig(backend=Backend.COMPILER if backend == "compiler" else Backend.INTERPRETER))
    test_blob = open(test_path, "rb").read()
    large_blob = open(large_path, "rb").read()
    module = Module(engine, test_blob, ModuleConfig())
    vm = Instance(module)
    handler = CopyA0ToA2()

    def host_calls():
        if use_call:
            a0 = run_call(vm, "host_loop", n, handler)
        else:
            a0 = run_loop(vm, module.export_pc("host_loop"), n)
        assert a0 == n, a0

    def compute():
        a0 = run_call(vm, "sum", n, handler) if use_call else run_loop(vm, module.export_pc("sum"), n)
        assert a0 == n * (n + 1) // 2, a0

    def invocations():
        add = module.export_pc("add")
        for _ in range(n):
            instance = Instance(module)
            if use_call:
                instance.call("add", [40, 2], handler, GAS)
            else:
                instance.prepare_call(add, [40, 2])
                instance.set_gas(GAS)
                assert instance.run().status == Status.HALT
            assert instance.reg(Reg.A0) == 42

    def load():
        for _ in range(n):
            Module(engine, large_blob, ModuleConfig())

    def reg():
        a0 = Reg.A0
        vm.set_reg(a0, 1)
        for _ in range(n):
            vm.reg(a0)

    def set_reg():
        a2 = Reg.A2
        for _ in range(n):
            vm.set_reg(a2, GAS)

    def gas():
        vm.set_gas(GAS)
        for _ in range(n):
            vm.gas()

    def set_gas():
        for _ in range(n):
            vm.set_gas(GAS)

    time_workload(scenario, n, {"host_calls": host_calls, "compute": compute, "invocations": invocations, "load": load,
                                "reg": reg, "set_reg": set_reg, "gas": gas, "set_gas": set_gas})


if __name__ == "__main__":
    main()
