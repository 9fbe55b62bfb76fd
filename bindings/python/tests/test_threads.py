"""One instance shared by several threads: calls wait for each other, and every result is right.
(The same test exists for Kotlin and Swift.)"""

import threading

import pytest

import polkavm_ffi
from polkavm_ffi import Backend, Engine, EngineConfig, HostHandler, Instance, Module, Reg

from test_polkavm_ffi import BACKENDS, GAS, TEST_PROGRAM

THREADS = 3
ROUNDS = 40


class Countdown(HostHandler):
    """Checks that every host call of `host_loop(n)` sees its own call's registers: A0 = n, n-1, ..."""

    def __init__(self, n: int) -> None:
        self.next_a0 = n

    def on_host_call(self, number: int, instance: Instance) -> None:
        assert instance.reg(Reg.A0) == self.next_a0
        self.next_a0 -= 1
        return None


@pytest.mark.parametrize("backend", BACKENDS)
def test_threads_sharing_an_instance_take_turns(backend):
    blob = polkavm_ffi.assemble(TEST_PROGRAM.read_text())
    vm = Instance(Module(Engine(EngineConfig(backend=backend)), blob))
    failures: list = []
    checked = [0] * THREADS
    done = threading.Event()

    def caller(thread: int) -> None:
        try:
            for round in range(ROUNDS):
                n = 2 + thread + round % 3
                handler = Countdown(n)
                outcome = vm.call("host_loop", [n], handler, GAS)
                assert (outcome.regs[Reg.A0.value], handler.next_a0) == (n, 0)
                outcome = vm.call("sum", [n * 10], Countdown(0), GAS)
                assert outcome.regs[Reg.A0.value] == n * 10 * (n * 10 + 1) // 2
                checked[thread] += 1
        except BaseException as error:
            failures.append(error)

    def meddler() -> None:
        # Accessors from another thread wait for the running call: they never land inside one.
        try:
            while not done.is_set():
                vm.set_reg(Reg.A0, 999)
                assert len(vm.regs()) == 13
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=caller, args=(index,)) for index in range(THREADS)]
    other = threading.Thread(target=meddler)
    other.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    other.join()
    assert failures == []
    assert checked == [ROUNDS] * THREADS
