"""The hot Instance methods go through ctypes (polkavm_ffi._fast): same results, errors and
messages as the UniFFI methods they replace, checked side by side on twin instances."""

import threading

import pytest

import polkavm_ffi
from polkavm_ffi import Backend, Engine, EngineConfig, HostHandler, Instance, Module, ModuleConfig, PvmError, Reg, Status
from polkavm_ffi._fast import UNIFFI_METHODS

from test_polkavm_ffi import BACKENDS, GAS, TEST_PROGRAM

uniffi_reg, uniffi_set_reg = UNIFFI_METHODS["reg"], UNIFFI_METHODS["set_reg"]
uniffi_gas, uniffi_set_gas, uniffi_run = UNIFFI_METHODS["gas"], UNIFFI_METHODS["set_gas"], UNIFFI_METHODS["run"]


@pytest.fixture(scope="module")
def blob() -> bytes:
    return polkavm_ffi.assemble(TEST_PROGRAM.read_text())


def twins(blob, backend):
    module = Module(Engine(EngineConfig(backend=backend)), blob, ModuleConfig())
    return Instance(module), Instance(module)


def fields(result):
    return (result.status, result.gas_remaining, result.host_call, result.fault_address)


def test_the_hot_methods_are_the_fast_ones():
    for name in UNIFFI_METHODS:
        assert getattr(Instance, name).__module__ == "polkavm_ffi._fast", name
        assert getattr(Instance, name) is not UNIFFI_METHODS[name]
        assert getattr(Instance, name).__doc__ == UNIFFI_METHODS[name].__doc__


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_host_call_program_runs_the_same_through_both_paths(blob, backend):
    fast, slow = twins(blob, backend)
    for vm in (fast, slow):
        vm.prepare_call_export("host", [5])
    fast.set_gas(GAS)
    uniffi_set_gas(slow, GAS)
    assert fast.gas() == uniffi_gas(slow) == GAS
    trace = []
    while True:
        a, b = fast.run(), uniffi_run(slow)
        assert type(a) is type(b) and fields(a) == fields(b)
        trace.append(a.status)
        for reg in Reg:
            assert fast.reg(reg) == uniffi_reg(slow, reg)
        if a.status != Status.HOST:
            break
        fast.set_reg(Reg.A1, 100)
        uniffi_set_reg(slow, Reg.A1, 100)
    assert trace == [Status.HOST, Status.HOST, Status.HALT]
    assert fast.reg(Reg.A0) == 105
    assert fast.gas() == uniffi_gas(slow) < GAS


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_stop_reads_the_same(blob, backend):
    fast, slow = twins(blob, backend)
    for export, gas in (("trap", GAS), ("spin", 1000), ("add", GAS)):
        for vm in (fast, slow):
            vm.prepare_call_export(export, [40, 2])
        fast.set_gas(gas)
        uniffi_set_gas(slow, gas)
        assert fields(fast.run()) == fields(uniffi_run(slow)), export


def test_errors_are_the_uniffi_errors_with_the_same_messages(blob):
    fast, slow = twins(blob, Backend.INTERPRETER)
    with pytest.raises(PvmError.WrongState) as from_fast:
        fast.run()
    with pytest.raises(PvmError.WrongState) as from_uniffi:
        uniffi_run(slow)
    assert str(from_fast.value) == str(from_uniffi.value) and "no call prepared" in str(from_fast.value)
    # A 0 read right after a failure is a value, not the failure again.
    assert fast.reg(Reg.A3) == 0 and fast.gas() == 0


def test_arguments_the_fast_path_does_not_take_fail_as_the_uniffi_methods_do(blob):
    fast, slow = twins(blob, Backend.INTERPRETER)
    for bad in (-1, 1 << 64):
        with pytest.raises(Exception) as from_fast:
            fast.set_reg(Reg.A0, bad)
        with pytest.raises(Exception) as from_uniffi:
            uniffi_set_reg(slow, Reg.A0, bad)
        assert type(from_fast.value) is type(from_uniffi.value) and str(from_fast.value) == str(from_uniffi.value)
    with pytest.raises(Exception) as from_fast:
        fast.set_gas(1 << 63)
    with pytest.raises(Exception) as from_uniffi:
        uniffi_set_gas(slow, 1 << 63)
    assert type(from_fast.value) is type(from_uniffi.value)
    fast.set_reg(Reg.A0, (1 << 64) - 1)
    fast.set_gas(-(1 << 63))
    assert fast.reg(Reg.A0) == (1 << 64) - 1 and fast.gas() == -(1 << 63)


def test_a_handler_re_entering_run_gets_wrong_state_through_the_fast_path(blob):
    vm = Instance(Module(Engine(EngineConfig(backend=Backend.INTERPRETER)), blob, ModuleConfig()))
    seen = []

    class ReEnter(HostHandler):
        def on_host_call(self, number, instance):
            try:
                instance.run()
            except PvmError.WrongState as error:
                seen.append(str(error))
            instance.set_reg(Reg.A1, instance.reg(Reg.A0))
            return None

    outcome = vm.call("host", [21], ReEnter(), GAS)
    assert outcome.result.status == Status.HALT and vm.reg(Reg.A0) == 42
    assert len(seen) == 2 and all("busy" in message for message in seen)


@pytest.mark.parametrize("backend", BACKENDS)
def test_threads_with_their_own_instances_through_the_fast_path(blob, backend):
    module = Module(Engine(EngineConfig(backend=backend)), blob, ModuleConfig())
    errors = []

    def work(seed):
        vm = Instance(module)
        for i in range(200):
            vm.prepare_call_export("host_loop", [3])
            vm.set_gas(GAS)
            calls = 0
            while (result := vm.run()).status == Status.HOST:
                calls += 1
                vm.set_reg(Reg.A2, seed + i)
            if result.status != Status.HALT or vm.reg(Reg.A0) != 3 or calls != 3 or vm.reg(Reg.A2) != seed + i:
                errors.append((seed, i, result.status))

    threads = [threading.Thread(target=work, args=(seed * 1000,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
