"""The hot Instance methods go through ctypes (polkavm_ffi._fast): same results, errors and
messages as the UniFFI methods they replace, checked side by side on twin instances."""

import threading

import pytest

import polkavm_ffi
from polkavm_ffi import Backend, Engine, EngineConfig, HostError, HostHandler, Instance, Module, ModuleConfig, PvmError, Reg, Status
from polkavm_ffi._fast import UNIFFI_METHODS

from test_polkavm_ffi import BACKENDS, GAS, TEST_PROGRAM

uniffi_reg, uniffi_set_reg = UNIFFI_METHODS["reg"], UNIFFI_METHODS["set_reg"]
uniffi_gas, uniffi_set_gas, uniffi_run = UNIFFI_METHODS["gas"], UNIFFI_METHODS["set_gas"], UNIFFI_METHODS["run"]


@pytest.fixture(scope="module")
def blob() -> bytes:
    return polkavm_ffi.assemble(TEST_PROGRAM.read_text())


# One engine per backend for the whole module: polkavm pins a thread to a core for the first JIT
# engine that runs on it, and host calls on a thread that runs several JIT engines get very slow.
ENGINES = {}


def engine(backend):
    if backend not in ENGINES:
        ENGINES[backend] = Engine(EngineConfig(backend=backend))
    return ENGINES[backend]


def twins(blob, backend):
    module = Module(engine(backend), blob, ModuleConfig())
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


def test_64_bit_values_cross_as_the_uniffi_methods_pass_them(blob):
    # The fast setters pass a value in two 32-bit halves: every edge of either half, both ways.
    fast, slow = twins(blob, Backend.INTERPRETER)
    for value in (0, 1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**63, 2**64 - 2, 2**64 - 1):
        fast.set_reg(Reg.T2, value)
        assert uniffi_reg(fast, Reg.T2) == fast.reg(Reg.T2) == value
        uniffi_set_reg(slow, Reg.T2, value)
        assert fast.reg(Reg.T2) == uniffi_reg(slow, Reg.T2)
    for gas in (0, 1, -1, 2**31, -(2**31), 2**32, -(2**32), -(2**32) - 1, 2**63 - 1, -(2**63)):
        fast.set_gas(gas)
        assert uniffi_gas(fast) == fast.gas() == gas


def test_prepared_calls_and_new_instances_are_the_uniffi_methods_own(blob):
    module = Module(engine(Backend.INTERPRETER), blob, ModuleConfig())
    fast = Instance(module)
    slow = Instance.__new__(Instance)
    UNIFFI_METHODS["__init__"](slow, module)
    pc = module.export_pc("add")
    for args in ([], [40, 2], (7,), [2**64 - 1] * 9):
        fast.prepare_call(pc, args)
        UNIFFI_METHODS["prepare_call"](slow, pc, list(args))
        assert [fast.reg(reg) for reg in Reg] == [uniffi_reg(slow, reg) for reg in Reg], args
    fast.prepare_call(pc)
    assert fast.reg(Reg.A0) == 0 and fast.next_pc() == pc
    # What the fast path does not take goes to the UniFFI method, which fails as it always did.
    for bad_pc, bad_args in ((-1, []), (2**32, []), (pc, [2**64]), (pc, [1] * 20), (pc, None)):
        with pytest.raises(Exception) as from_fast:
            fast.prepare_call(bad_pc, bad_args)
        with pytest.raises(Exception) as from_uniffi:
            UNIFFI_METHODS["prepare_call"](slow, bad_pc, bad_args)
        assert type(from_fast.value) is type(from_uniffi.value) and str(from_fast.value) == str(from_uniffi.value)
    with pytest.raises(Exception) as from_fast:
        Instance("not a module")
    with pytest.raises(Exception) as from_uniffi:
        UNIFFI_METHODS["__init__"](Instance.__new__(Instance), "not a module")
    assert type(from_fast.value) is type(from_uniffi.value) and str(from_fast.value) == str(from_uniffi.value)


def test_a_handler_re_entering_run_gets_wrong_state_through_the_fast_path(blob):
    vm = Instance(Module(engine(Backend.INTERPRETER), blob, ModuleConfig()))
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
    module = Module(engine(backend), blob, ModuleConfig())
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


class Doubling(HostHandler):
    """A0 doubled at every host call; raises what it is given at host call `fail_at`."""

    def __init__(self, fail_at=None, error=None, result=None):
        self.fail_at, self.error, self.result, self.numbers = fail_at, error, result, []

    def on_host_call(self, number, instance):
        self.numbers.append(number)
        if number == self.fail_at:
            raise self.error
        return self.result if self.result is not None else instance.reg(Reg.A0) * 2 % 2**64


@pytest.mark.parametrize("backend", BACKENDS)
def test_call_gives_the_outcome_of_the_uniffi_call(blob, backend):
    from polkavm_ffi._fast import UNIFFI_CALL, call as fast_call

    fast, slow = twins(blob, backend)
    for export, args, gas in (("host", [5], GAS), ("host_loop", [50], GAS), ("add", [40, 2], None), ("spin", [], 500), ("trap", [], GAS)):
        if gas is None:
            gas = GAS
        a_handler, b_handler = Doubling(), Doubling()
        a = fast_call(fast, export, args, a_handler, gas)
        b = UNIFFI_CALL(slow, export, args, b_handler, gas)
        assert (fields(a.result), a.regs) == (fields(b.result), b.regs), export
        assert a_handler.numbers == b_handler.numbers


@pytest.mark.parametrize("error", [HostError.Abort("no such service"), ValueError("bad\nvalue"), KeyError("k")])
def test_call_handler_errors_read_as_through_uniffi(blob, error):
    from polkavm_ffi._fast import UNIFFI_CALL, call as fast_call

    fast, slow = twins(blob, Backend.INTERPRETER)
    with pytest.raises(PvmError.HostAborted) as from_fast:
        fast_call(fast, "host", [1], Doubling(fail_at=8, error=error), GAS)
    with pytest.raises(PvmError.HostAborted) as from_uniffi:
        UNIFFI_CALL(slow, "host", [1], Doubling(fail_at=8, error=error), GAS)
    assert str(from_fast.value) == str(from_uniffi.value)
    assert str(from_fast.value).startswith("host call 8 aborted: ")
    # The call is over: the instance runs again, through both paths.
    assert fast.call("add", [1, 2], Doubling(), GAS).result.status == Status.HALT and fast.reg(Reg.A0) == 3


def test_call_set_up_errors_read_as_through_uniffi(blob):
    from polkavm_ffi._fast import UNIFFI_CALL, call as fast_call

    fast, slow = twins(blob, Backend.INTERPRETER)
    for export, gas in (("no_such_export", GAS), ("add", None), ("bad\0name", GAS)):
        with pytest.raises(PvmError) as from_fast:
            fast_call(fast, export, [1], Doubling(), gas)
        with pytest.raises(PvmError) as from_uniffi:
            UNIFFI_CALL(slow, export, [1], Doubling(), gas)
        assert type(from_fast.value) is type(from_uniffi.value) and str(from_fast.value) == str(from_uniffi.value)


def test_another_thread_waits_for_a_fast_call_to_end(blob):
    vm = Instance(Module(engine(Backend.INTERPRETER), blob, ModuleConfig()))
    in_handler, release, seen = threading.Event(), threading.Event(), []

    class Slow(HostHandler):
        def on_host_call(self, number, instance):
            instance.set_reg(Reg.A1, 10)
            in_handler.set()
            release.wait(5)
            return None

    reader = threading.Thread(target=lambda: (in_handler.wait(5), seen.append(vm.reg(Reg.A0))))
    reader.start()
    caller = threading.Thread(target=lambda: seen.append(vm.call("host", [7], Slow(), GAS).result.status))
    caller.start()
    in_handler.wait(5)
    reader.join(0.3)
    assert reader.is_alive(), "another thread's reg() did not wait for the call"
    release.set()
    caller.join(10)
    reader.join(10)
    assert sorted(map(str, seen)) == sorted(map(str, [Status.HALT, 17]))
