"""What Python users expect beyond the shared behaviour: interrupts that reach the caller, clear
errors for handler results and register arguments, readable records, explicit gas metering."""

import inspect
import re
import os
import signal
import threading

import pytest

import polkavm_ffi
from polkavm_ffi import (
    Backend,
    GasMetering,
    HostHandler,
    Instance,
    JamConfig,
    ModuleConfig,
    PvmError,
    Reg,
    Status,
)

from test_polkavm_ffi import BACKENDS, GAS, Recorder, new_instance


class Raises(HostHandler):
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def on_host_call(self, number, instance):
        raise self.error


class Returns(HostHandler):
    def __init__(self, value) -> None:
        self.value = value

    def on_host_call(self, number, instance):
        return self.value


@pytest.fixture(scope="module")
def blob() -> bytes:
    from test_polkavm_ffi import TEST_PROGRAM

    return polkavm_ffi.assemble(TEST_PROGRAM.read_text())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(3)], ids=repr)
def test_interrupts_in_a_handler_reach_the_caller_as_themselves(blob, backend, error, capfd):
    vm = new_instance(blob, backend)
    with pytest.raises(type(error)) as raised:
        vm.call("host_loop", [5], Raises(error), GAS)
    assert raised.value is error
    assert "Exception ignored" not in capfd.readouterr().err
    vm.reset()
    assert vm.call("host_loop", [4], Recorder(), GAS).regs[Reg.A0.value] == 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_during_a_call_stops_it_at_the_next_host_call(blob, backend, capfd):
    vm = new_instance(blob, backend)

    class SlowStart(Recorder):
        def on_host_call(self, number, instance):
            if not self.numbers:  # Ctrl-C while the guest runs on
                threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
            return super().on_host_call(number, instance)

    handler = SlowStart()
    with pytest.raises(KeyboardInterrupt):
        vm.call("host_loop", [10**9], handler, 10**15)
    assert 1 <= len(handler.numbers) < 10**9
    assert "Exception ignored" not in capfd.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert vm.call("add", [1, 2], Recorder(), GAS).regs[Reg.A0.value] == 3


@pytest.mark.parametrize("value", [2**64, -1, 1.5, "7"], ids=repr)
def test_a_handler_result_that_does_not_fit_a0_is_named(blob, value):
    vm = new_instance(blob, Backend.INTERPRETER)
    message = f"host call 7 aborted: on_host_call returned {value!r}; it must return None or the new A0, an int in 0..2**64-1"
    with pytest.raises(PvmError.HostAborted, match=f"^{re.escape(message)}$"):
        vm.call("host", [0], Returns(value), GAS)
    # host(a0) returns a0 + a1 (a1 = 0) after its host calls
    assert vm.call("host", [0], Returns(2**64 - 1), GAS).regs[Reg.A0.value] == 2**64 - 1


def test_the_readme_handler_squares_a0_modulo_2_64(blob):
    vm = new_instance(blob, Backend.INTERPRETER)

    class Host(HostHandler):  # as in the README
        def on_host_call(self, number, instance):
            return instance.reg(Reg.A0) ** 2 % 2**64  # new A0 (wrapping, as the guest's arithmetic)

    # host(a0) makes host calls 7 and 8, then returns a0 + a1 (a1 = 0).
    outcome = vm.call("host", [2**33 + 1], Host(), GAS)
    assert outcome.regs[Reg.A0.value] == 2**35 + 1


def test_a_register_must_be_a_reg(blob):
    vm = new_instance(blob, Backend.INTERPRETER)
    with pytest.raises(TypeError, match=r"^expected a Reg such as Reg.A0, not int 7 \(use Reg\(7\) for register number 7\)$"):
        vm.reg(7)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^expected a Reg such as Reg.A0, not str 'a0'$"):
        vm.set_reg("a0", 1)  # type: ignore[arg-type]
    vm.set_reg(Reg(7), 5)
    assert vm.reg(Reg.A0) == 5


def test_records_show_their_fields(blob):
    module = polkavm_ffi.Module(polkavm_ffi.Engine(polkavm_ffi.EngineConfig(backend=Backend.INTERPRETER)), blob)
    add = next(export for export in module.exports() if export.name == "add")
    assert repr(add) == f"Export(name='add', pc={add.pc})"
    outcome = Instance(module).call("add", [1, 2], Recorder(), GAS)
    assert repr(outcome.result).startswith("RunResult(status=Status.HALT, gas_remaining=")
    assert repr(outcome).startswith("RunOutcome(result=RunResult(status=Status.HALT") and "regs=[" in repr(outcome)
    assert repr(ModuleConfig()) == (
        "ModuleConfig(gas_metering=GasMetering.SYNC, step_tracing=False, dynamic_paging=False, "
        "page_size=4096, aux_data_size=0, strict=False, cost_model=None)"
    )


@pytest.mark.parametrize("config", [ModuleConfig, JamConfig])
def test_gas_metering_is_explicit(config):
    assert config().gas_metering == GasMetering.SYNC
    assert inspect.signature(config).parameters["gas_metering"].default is GasMetering.SYNC
    with pytest.raises(TypeError, match="^gas_metering must be a GasMetering, not None: GasMetering.DISABLED turns metering off"):
        config(gas_metering=None)  # type: ignore[arg-type]
    assert config(gas_metering=GasMetering.DISABLED).gas_metering == GasMetering.DISABLED


@pytest.mark.parametrize("backend", BACKENDS)
def test_gas_may_be_omitted_only_without_metering(blob, backend):
    vm = new_instance(blob, backend, ModuleConfig(gas_metering=GasMetering.DISABLED))
    assert vm.call("sum", [100], Recorder()).regs[Reg.A0.value] == 5050
    metered = new_instance(blob, backend)
    with pytest.raises(PvmError.InvalidArgument, match=r"^call needs gas: the module meters gas \(GasMetering.DISABLED turns metering off\)$"):
        metered.call("sum", [100], Recorder())
    assert metered.call("sum", [100], Recorder(), GAS).regs[Reg.A0.value] == 5050


def test_help_describes_what_the_package_does():
    assert "gas" in Instance.call.__doc__ and "KeyboardInterrupt" in Instance.call.__doc__
    assert "other threads" in Instance.__doc__
