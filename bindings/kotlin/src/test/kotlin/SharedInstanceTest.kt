// One instance shared by several threads: calls wait for each other and every result is right; and
// what else Kotlin users rely on beyond PolkaVMTest (optional gas). The same tests exist for Python
// (bindings/python/tests/test_threads.py, test_pythonic.py) and Swift.

import io.polkavm.ffi.*
import java.util.Collections
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.concurrent.thread
import org.junit.jupiter.api.Assertions.*
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource

class SharedInstanceTest {
    private fun newInstance(backend: Backend, config: ModuleConfig = ModuleConfig()) =
        Instance(Module(Engine(EngineConfig(backend = backend)), PolkaVMTest.blob, config))

    /** Checks that every host call of `host_loop(n)` sees its own call's registers: A0 = n, n-1, ... */
    class Countdown(var nextA0: ULong) : HostHandler {
        override fun onHostCall(number: UInt, instance: Instance): ULong? {
            check(instance.reg(Reg.A0) == nextA0) { "A0 ${instance.reg(Reg.A0)}, expected $nextA0" }
            nextA0--
            return null
        }
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `threads sharing an instance take turns`(backend: Backend) {
        val vm = newInstance(backend)
        val threads = 3
        val rounds = 25
        val failures = Collections.synchronizedList(mutableListOf<Throwable>())
        val checked = IntArray(threads)
        val done = AtomicBoolean(false)
        // Accessors from another thread wait for the running call: they never land inside one.
        val meddler = thread {
            try {
                while (!done.get()) {
                    vm.setReg(Reg.A0, 999UL)
                    check(vm.regs().size == 13)
                }
            } catch (error: Throwable) {
                failures.add(error)
            }
        }
        val callers = (0 until threads).map { index ->
            thread {
                try {
                    repeat(rounds) { round ->
                        val n = (2 + index + round % 3).toULong()
                        val handler = Countdown(n)
                        var outcome = vm.call("host_loop", listOf(n), handler, GAS)
                        assertEquals(n to 0UL, outcome.regs[Reg.A0.ordinal] to handler.nextA0)
                        outcome = vm.call("sum", listOf(n * 10UL), Countdown(0UL), GAS)
                        assertEquals(n * 10UL * (n * 10UL + 1UL) / 2UL, outcome.regs[Reg.A0.ordinal])
                        checked[index]++
                    }
                } catch (error: Throwable) {
                    failures.add(error)
                }
            }
        }
        callers.forEach { it.join() }
        done.set(true)
        meddler.join()
        assertEquals(listOf<Throwable>(), failures.toList())
        assertEquals(List(threads) { rounds }, checked.toList())
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `gas may be omitted only without metering`(backend: Backend) {
        val vm = newInstance(backend, ModuleConfig(gasMetering = GasMetering.DISABLED))
        assertEquals(5050UL, vm.call("sum", listOf(100UL), Countdown(0UL)).regs[Reg.A0.ordinal])
        val metered = newInstance(backend)
        val error = assertThrows<PvmException.InvalidArgument> { metered.call("sum", listOf(100UL), Countdown(0UL)) }
        assertEquals("call needs gas: the module meters gas (GasMetering.DISABLED turns metering off)", error.message)
        assertEquals(5050UL, metered.call("sum", listOf(100UL), Countdown(0UL), GAS).regs[Reg.A0.ordinal])
    }
}
