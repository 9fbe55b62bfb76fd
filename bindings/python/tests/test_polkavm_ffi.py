"""Behaviour tests of the Python bindings, run against the installed wheel.

The same tests exist for Kotlin (bindings/kotlin/src/test) and Swift (bindings/swift/Tests).
"""

import gc
import json
import os
import pathlib
import signal
import sysconfig
import threading
import time
import typing

import pytest

import polkavm_ffi
from polkavm_ffi import (
    Backend,
    CostModel,
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
    Status,
)

TEST_PROGRAM = pathlib.Path(__file__).resolve().parents[3] / "tests" / "programs" / "test_program.pvmasm"
GAS = 1_000_000
BACKENDS = [Backend.INTERPRETER, Backend.COMPILER]


@pytest.fixture(scope="session")
def blob() -> bytes:
    return polkavm_ffi.assemble(TEST_PROGRAM.read_text())


def new_instance(blob: bytes, backend: Backend, config: ModuleConfig = ModuleConfig()) -> Instance:
    engine = Engine(EngineConfig(backend=backend))
    return Instance(Module(engine, blob, config))


def call(vm: Instance, export: str, args: list[int], gas: int = GAS):
    vm.prepare_call_export(export, args)
    vm.set_gas(gas)
    return vm.run()


class Recorder(HostHandler):
    """Counts host calls; optionally puts a value in A0."""

    def __init__(self, a0=None):
        self.numbers: list[int] = []
        self.a0 = a0

    def on_host_call(self, number: int, instance: Instance):
        self.numbers.append(number)
        return self.a0


def test_runs_against_the_installed_wheel():
    installed = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()
    package = pathlib.Path(polkavm_ffi.__file__).resolve().parent
    assert installed in package.parents
    assert (package / "py.typed").is_file()  # the type hints count for type checkers
    assert typing.get_type_hints(Instance.call)["return"] is polkavm_ffi.RunOutcome
    assert polkavm_ffi.version().startswith("polkavm-ffi ")


@pytest.mark.parametrize("backend", BACKENDS)
def test_engine_reports_its_backend(backend):
    assert Engine(EngineConfig(backend=backend)).backend() == backend


def test_defaults_pick_a_working_engine(blob):
    vm = Instance(Module(Engine(), blob))
    assert call(vm, "add", [2, 3]).status == Status.HALT
    assert vm.reg(Reg.A0) == 5


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_status(blob, backend):
    vm = new_instance(blob, backend)

    result = call(vm, "add", [40, 2])
    assert result.status == Status.HALT
    assert vm.reg(Reg.A0) == 42
    assert 0 < result.gas_remaining < GAS
    assert vm.gas() == result.gas_remaining

    assert call(vm, "trap", []).status == Status.PANIC

    result = call(vm, "spin", [], gas=1000)
    assert result.status == Status.OUT_OF_GAS
    assert result.gas_remaining <= 0

    result = call(vm, "host", [5])
    assert (result.status, result.host_call) == (Status.HOST, 7)
    assert vm.reg(Reg.A0) == 5
    vm.set_reg(Reg.A1, 100)
    result = vm.run()
    assert (result.status, result.host_call) == (Status.HOST, 8)
    assert vm.run().status == Status.HALT
    assert vm.reg(Reg.A0) == 105

    stepping = new_instance(blob, backend, ModuleConfig(step_tracing=True))
    assert call(stepping, "add", [1, 2]).status == Status.STEP
    pcs = {stepping.pc()}
    steps = 1
    while (result := stepping.run()).status == Status.STEP:
        pcs.add(stepping.pc())
        steps += 1
    assert result.status == Status.HALT
    assert steps >= 2 and len(pcs) >= 2
    assert stepping.reg(Reg.A0) == 3


def test_fault_reports_the_page_and_mapping_pages_fixes_it(blob):
    engine = Engine(EngineConfig(backend=Backend.INTERPRETER, allow_dynamic_paging=True))
    vm = Instance(Module(engine, blob, ModuleConfig(dynamic_paging=True)))
    result = call(vm, "load", [0x20000])
    assert (result.status, result.fault_address) == (Status.FAULT, 0x20000)
    assert vm.fault_address() == 0x20000
    vm.map_pages(0x20000, 4096, True)
    vm.write_memory(0x20004, bytes([5, 0, 0, 0]))
    assert call(vm, "load", [0x20004]).status == Status.HALT
    assert vm.reg(Reg.A0) == 5
    with pytest.raises(PvmError.Unsupported, match="sbrk is not available with dynamic paging"):
        vm.sbrk(10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_loops_until_out_of_gas(blob, backend):
    vm = new_instance(blob, backend)
    outcome = vm.call("sum", [10_000_000], Recorder(), 5000)
    assert outcome.result.status == Status.OUT_OF_GAS
    # Enough gas: the same loop finishes with the right sum.
    outcome = vm.call("sum", [1000], Recorder(), GAS)
    assert outcome.result.status == Status.HALT
    assert outcome.regs[Reg.A0.value] == 500500


def test_gas_metering_can_be_disabled(blob):
    vm = new_instance(blob, Backend.INTERPRETER, ModuleConfig(gas_metering=GasMetering.DISABLED))
    result = call(vm, "sum", [100], gas=7)
    assert (result.status, result.gas_remaining) == (Status.HALT, 7)
    assert vm.reg(Reg.A0) == 5050


@pytest.mark.parametrize("backend", BACKENDS)
def test_registers_and_program_counters(blob, backend):
    module = Module(Engine(EngineConfig(backend=backend)), blob)
    vm = Instance(module)
    values = [index * 3 + 1 for index in range(13)]
    vm.set_regs(values)
    assert vm.regs() == values
    assert [vm.reg(reg) for reg in Reg] == values
    vm.set_reg(Reg.A5, 2**64 - 1)
    assert vm.regs()[Reg.A5.value] == 2**64 - 1
    with pytest.raises(PvmError.InvalidArgument, match="set_regs needs 13 values, not 12"):
        vm.set_regs(values[:12])

    host_pc = module.export_pc("host")
    call(vm, "host", [])
    assert vm.pc() == host_pc
    assert vm.next_pc() > host_pc
    outcome = vm.run_with_regs()
    assert outcome.result.status == Status.HOST and outcome.regs == vm.regs()


@pytest.mark.parametrize("backend", BACKENDS)
def test_memory(blob, backend):
    engine = Engine(EngineConfig(backend=backend))
    module = Module(engine, blob)
    vm = Instance(module)
    info = module.memory_info()
    assert info.page_size == 4096 and info.ro_data_size >= 4
    assert vm.read_memory(info.ro_data_address, 4) == bytes([1, 2, 3, 4])
    assert vm.read_memory(info.rw_data_address, 4) == bytes([42, 0, 0, 0])

    assert call(vm, "store", [info.rw_data_address + 8, 0xDEADBEEF]).status == Status.HALT
    assert vm.read_memory(info.rw_data_address + 8, 4) == (0xDEADBEEF).to_bytes(4, "little")
    vm.write_memory(info.rw_data_address, (7).to_bytes(4, "little"))
    assert call(vm, "load", [info.rw_data_address]).status == Status.HALT
    assert vm.reg(Reg.A0) == 7

    # Without dynamic paging a guest access to read-only or unmapped memory traps...
    assert call(vm, "store", [info.ro_data_address, 1]).status == Status.PANIC
    assert call(vm, "load", [0]).status == Status.PANIC
    # ...and a host access is an error.
    with pytest.raises(PvmError.Memory, match=f"write of 1 bytes at 0x{info.ro_data_address:08x} failed"):
        vm.write_memory(info.ro_data_address, b"\x01")
    with pytest.raises(PvmError.Memory):
        vm.read_memory(0, 4)

    vm.reset()
    assert vm.read_memory(info.rw_data_address, 12) == bytes([42] + [0] * 11)
    assert vm.regs() == [0] * 13


@pytest.mark.parametrize("backend", BACKENDS)
def test_sbrk_and_heap_size(blob, backend):
    engine = Engine(EngineConfig(backend=backend))
    module = Module(engine, blob)
    vm = Instance(module)
    before = vm.heap_size()
    top = vm.sbrk(100)
    assert vm.heap_size() == before + 100
    assert top == module.memory_info().heap_base + before + 100
    vm.write_memory(top - 4, bytes([9, 9, 9, 9]))
    with pytest.raises(PvmError.Memory, match="heap cannot grow that far"):
        vm.sbrk(2**32 - 1)


def test_exports_and_imports(blob):
    module = Module(Engine(EngineConfig(backend=Backend.INTERPRETER)), blob)
    exports = module.exports()
    assert sorted(export.name for export in exports) == ["add", "host", "host_loop", "load", "spin", "store", "sum", "trap"]
    assert len({export.pc for export in exports}) == len(exports)
    for export in exports:
        assert module.export_pc(export.name) == export.pc
    assert module.imports() == []  # the program calls host functions by number only
    with pytest.raises(PvmError.InvalidArgument, match='^no export named "nope"$'):
        module.export_pc("nope")


@pytest.mark.parametrize("backend", BACKENDS)
def test_call_dispatches_host_calls_to_the_handler(blob, backend):
    vm = new_instance(blob, backend)
    recorder = Recorder()
    outcome = vm.call("host_loop", [25], recorder, GAS)
    assert outcome.result.status == Status.HALT
    assert recorder.numbers == [1] * 25
    assert outcome.regs[Reg.A0.value] == 25
    assert 0 < outcome.result.gas_remaining < GAS

    info = Module(Engine(EngineConfig(backend=backend)), blob).memory_info()

    class Host(HostHandler):
        def on_host_call(self, number, instance):
            if number == 7:  # reads and writes registers and memory, leaves A0 alone
                assert instance.reg(Reg.A0) == 5
                instance.write_memory(info.rw_data_address, b"\x11\x22")
                instance.set_reg(Reg.A1, int.from_bytes(instance.read_memory(info.rw_data_address, 2), "little"))
                return None
            return 100  # host call 8 returns its result in A0

    outcome = vm.call("host", [5], Host(), GAS)
    assert outcome.result.status == Status.HALT
    assert outcome.regs[Reg.A0.value] == 100 + 0x2211


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_handler_that_raises_aborts_the_call(blob, backend):
    vm = new_instance(blob, backend)

    class Broken(HostHandler):
        def on_host_call(self, number, instance):
            raise ValueError("boom")

    with pytest.raises(PvmError.HostAborted, match=r"^host call 1 aborted: ValueError\('boom'\)$"):
        vm.call("host_loop", [3], Broken(), GAS)

    class Stop(HostHandler):
        def on_host_call(self, number, instance):
            raise HostError.Abort("quota exceeded")

    with pytest.raises(PvmError.HostAborted, match="^host call 1 aborted: quota exceeded$"):
        vm.call("host_loop", [3], Stop(), GAS)

    # The instance is still usable afterwards.
    assert vm.call("add", [1, 1], Recorder(), GAS).regs[Reg.A0.value] == 2


def test_running_from_a_handler_is_an_error_not_a_deadlock(blob):
    vm = new_instance(blob, Backend.INTERPRETER)
    errors = []

    class Reentrant(HostHandler):
        def on_host_call(self, number, instance):
            for attempt in (instance.run, lambda: instance.call("add", [1, 2], self, GAS), instance.reset):
                with pytest.raises(PvmError.WrongState) as error:
                    attempt()
                errors.append(str(error.value))
            return None

    assert vm.call("host_loop", [1], Reentrant(), GAS).result.status == Status.HALT
    assert len(errors) == 3
    assert all(message.startswith("instance is busy: run/call called re-entrantly") for message in errors)


def test_bad_blobs_and_arguments_are_errors(blob):
    engine = Engine(EngineConfig(backend=Backend.INTERPRETER))
    with pytest.raises(PvmError.InvalidProgram, match="^blob is empty$"):
        Module(engine, b"")
    with pytest.raises(PvmError.InvalidProgram, match="bad magic"):
        Module(engine, b"ELF\x7f....")
    with pytest.raises(PvmError.InvalidProgram, match="not a valid PolkaVM program"):
        Module(engine, blob[:20])
    with pytest.raises(PvmError.InvalidArgument, match="page size 1000 is invalid"):
        Module(engine, blob, ModuleConfig(page_size=1000))
    with pytest.raises(PvmError.Unsupported, match="needs an engine created with allow_dynamic_paging"):
        Module(engine, blob, ModuleConfig(dynamic_paging=True))
    with pytest.raises(PvmError.InvalidProgram, match="assembly failed"):
        polkavm_ffi.assemble("this is not assembly")

    vm = Instance(Module(engine, blob))
    with pytest.raises(PvmError.WrongState, match="^cannot run: no call prepared"):
        vm.run()
    with pytest.raises(PvmError.InvalidArgument, match="^too many arguments: 10"):
        vm.prepare_call(0, [0] * 10)
    with pytest.raises(PvmError.InvalidArgument, match='no export named "nope"'):
        vm.call("nope", [], Recorder(), GAS)
    with pytest.raises(ValueError, match="i64 requires"):
        vm.set_gas(2**63)
    # Every error is a PvmError, so one except clause catches them all.
    assert issubclass(PvmError.Memory, PvmError) and issubclass(PvmError, Exception)


def test_the_jam_default_gives_graypaper_0_8_0_gas_and_naive_is_selectable(blob):
    """inst_load_u8_nok of the Graypaper 0.8.0 vectors: one basic block, a load from an unmapped page."""
    vectors = pathlib.Path(__file__).resolve().parents[3] / "tests" / "vectors"
    vector = json.loads((vectors / "gp-0.8.0-polkavm-spectool" / "programs" / "inst_load_u8_nok.json").read_text())
    expected = vector["steps"][-1]["assert"]
    assert (expected["status"], expected["page-fault-address"], expected["gas"]) == ("page-fault", 0x20000, 9975)
    engine = Engine(EngineConfig(backend=Backend.INTERPRETER, allow_dynamic_paging=True))
    for config, gas in [
        (JamConfig(), expected["gas"]),
        (JamConfig(cost_model=CostModel.FULL_L2_HIT), expected["gas"]),
        (JamConfig(cost_model=CostModel.NAIVE), vector["initial-gas"] - 2),
    ]:
        module = Module.new_jam(engine, bytes(vector["program"]), config)
        assert module.block_gas_cost(0) == vector["initial-gas"] - gas
        vm = Instance(module)
        vm.set_next_pc(vector["initial-pc"])
        vm.set_gas(vector["initial-gas"])
        result = vm.run()
        assert (result.status, vm.fault_address(), result.gas_remaining) == (Status.FAULT, 0x20000, gas), config
    assert Module.new_jam(engine, bytes(vector["program"])).cost_model() == CostModel.FULL_L2_HIT
    naive_engine = Engine(EngineConfig(backend=Backend.INTERPRETER, allow_dynamic_paging=True, default_cost_model=CostModel.NAIVE))
    assert Module.new_jam(naive_engine, bytes(vector["program"])).cost_model() == CostModel.FULL_L2_HIT
    assert Module(naive_engine, blob).cost_model() == CostModel.NAIVE, "a module without a choice takes the engine's"
    assert Module(naive_engine, blob, ModuleConfig(cost_model=CostModel.FULL_L3_HIT)).cost_model() == CostModel.FULL_L3_HIT


def _children() -> set[int]:
    """This process's children (the JIT's sandbox workers), zombies included."""
    me, pids = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = pathlib.Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                pids.add(int(entry))
    return pids


def _jit_instance_and_worker(blob: bytes) -> tuple[Module, Instance, int]:
    """A JIT instance and its worker's pid (the engine keeps no idle workers)."""
    module = Module(Engine(EngineConfig(backend=Backend.COMPILER, worker_count=0)), blob, ModuleConfig())
    before = _children()
    vm = Instance(module)
    (worker,) = _children() - before
    return module, vm, worker


def test_a_dead_jit_worker_raises_within_a_second_and_leaves_the_engine_working(blob):
    fds, processes = len(os.listdir("/proc/self/fd")), _children()
    module, vm, worker = _jit_instance_and_worker(blob)
    vm.prepare_call_export("spin", [])
    vm.set_gas(2**62)
    killed_at = []

    def kill():
        os.kill(worker, signal.SIGKILL)
        killed_at.append(time.monotonic())

    killer = threading.Timer(0.2, kill)
    killer.start()
    with pytest.raises(PvmError.Setup, match=r"^run failed: worker process unexpectedly quit.*SIGKILL.*unusable"):
        vm.run()
    killer.join()
    assert time.monotonic() - killed_at[0] < 1.5
    for attempt in (vm.run, vm.reset, lambda: vm.prepare_call_export("add", [1, 2])):
        with pytest.raises(PvmError.WrongState, match=r"^the instance is unusable since a run failed \(.*SIGKILL"):
            attempt()
    fresh = Instance(module)
    assert fresh.call("add", [2, 3], Recorder(), GAS).regs[Reg.A0.value] == 5
    del vm, fresh, module
    gc.collect()
    assert _children() == processes
    assert len(os.listdir("/proc/self/fd")) == fds


def test_a_jit_worker_killed_in_a_host_call_fails_the_call(blob):
    _, vm, worker = _jit_instance_and_worker(blob)

    class Killer(HostHandler):
        def on_host_call(self, number, instance):
            os.kill(worker, signal.SIGKILL)
            while pathlib.Path(f"/proc/{worker}/stat").exists() and \
                    pathlib.Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                time.sleep(0.001)
            self.killed_at = time.monotonic()
            return None

    handler = Killer()
    with pytest.raises(PvmError.Setup, match="SIGKILL"):
        vm.call("host", [1], handler, GAS)
    assert time.monotonic() - handler.killed_at < 1.5
    with pytest.raises(PvmError.WrongState, match="unusable"):
        vm.call("add", [1, 2], Recorder(), GAS)
