"""The documented usage of the package (README.md, bindings/python/README.md), type-checked with
`mypy --strict` by `make test-python` and run by test_typed_usage.py."""

import threading
import typing

from polkavm_ffi import (
    Backend,
    Engine,
    EngineConfig,
    GasMetering,
    HostError,
    HostHandler,
    Instance,
    JamConfig,
    Module,
    ModuleConfig,
    PvmError,
    Reg,
    RunOutcome,
    Status,
    assemble,
    graypaper_blob,
)

SOURCE = """%isa = jam_v1
pub @main:
    ecalli 1
    ret
"""


class Host(HostHandler):
    def on_host_call(self, number: int, instance: Instance) -> typing.Optional[int]:
        if number != 1:
            raise HostError.Abort(f"no host call {number}")
        return instance.reg(Reg.A0) ** 2 % 2**64  # new A0; None leaves the registers as they are


def quick_start() -> RunOutcome:
    blob = assemble(SOURCE)
    vm = Instance(Module(Engine(EngineConfig(backend=Backend.INTERPRETER)), blob))
    outcome = vm.call("main", [10], Host(), 1_000_000)
    assert outcome.result.status == Status.HALT and outcome.regs[Reg.A0.value] == 100
    return outcome


def errors() -> typing.List[str]:
    engine = Engine(EngineConfig(backend=Backend.INTERPRETER))
    seen = []
    try:
        Module(engine, b"not a program")
    except PvmError.InvalidProgram as error:
        seen.append(str(error))
    vm = Instance(Module(engine, assemble(SOURCE)))
    try:
        vm.run()
    except PvmError.WrongState as error:
        seen.append(str(error))

    class Refuses(HostHandler):
        def on_host_call(self, number: int, instance: Instance) -> typing.Optional[int]:
            raise HostError.Abort("quota exceeded")

    try:
        vm.call("main", [], Refuses(), 1_000)
    except PvmError.HostAborted as error:
        seen.append(str(error))
    except PvmError as error:  # every other failure
        seen.append(f"unexpected {error!r}")
    return seen


def without_gas_metering() -> int:
    module = Module(Engine(), assemble(SOURCE), ModuleConfig(gas_metering=GasMetering.DISABLED))
    return Instance(module).call("main", [3], Host()).regs[Reg.A0.value]


def shared_between_threads() -> typing.List[int]:
    vm = Instance(Module(Engine(), assemble(SOURCE)))
    results: typing.List[int] = []

    def work(n: int) -> None:
        results.append(vm.call("main", [n], Host(), 1_000).regs[Reg.A0.value])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results)


def jam_mode() -> typing.Optional[int]:
    engine = Engine(EngineConfig(backend=Backend.INTERPRETER, allow_dynamic_paging=True))
    module = Module.new_jam(engine, graypaper_blob(assemble(SOURCE)), JamConfig(gas_metering=GasMetering.SYNC))
    vm = Instance(module)
    vm.set_next_pc(0)
    vm.set_gas(100)
    result = vm.run()
    return result.host_call if result.status == Status.HOST else None


if __name__ == "__main__":
    print(quick_start(), errors(), without_gas_metering(), shared_between_threads(), jam_mode())
