// The hot Instance methods go through JNA direct mapping (FastPath.kt, patched into the generated
// class by fast_methods.py): same results, errors and messages as the generated UniFFI methods
// they replace (kept as internal uniffi<Name>), checked side by side on twin instances. The same
// checks exist for Python (bindings/python/tests/test_fast_path.py).

import io.polkavm.ffi.*
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread
import org.junit.jupiter.api.Assertions.*
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource
import org.junit.jupiter.params.provider.ValueSource

class FastPathTest {
    companion object {
        // One engine per backend: polkavm pins a thread to a core for the first JIT engine that
        // runs on it, and host calls on a thread that runs several JIT engines get very slow.
        private val engines = Backend.entries.associateWith { Engine(EngineConfig(backend = it)) }
        private val HOT_METHODS = listOf("call", "gas", "prepareCall", "reg", "run", "setGas", "setReg")
    }

    private fun instance(backend: Backend) = Instance(Module(engines.getValue(backend), PolkaVMTest.blob))

    private fun twins(backend: Backend): Pair<Instance, Instance> {
        val module = Module(engines.getValue(backend), PolkaVMTest.blob)
        return Instance(module) to Instance(module)
    }

    /** The exception `block` throws, for comparing class and message. */
    private fun thrown(block: () -> Unit): Throwable = assertThrows<Throwable> { block() }

    private fun assertSameError(fast: Throwable, uniffi: Throwable) {
        assertEquals(uniffi.javaClass, fast.javaClass)
        assertEquals(uniffi.message, fast.message)
    }

    @Test
    fun `the hot methods are the fast ones`() {
        val methods = Instance::class.java.declaredMethods.map { it.name }
        for (name in HOT_METHODS) {
            val uniffiName = "uniffi" + name.replaceFirstChar { it.uppercase() }
            assertTrue(methods.any { it.startsWith(uniffiName) }, "no generated $uniffiName kept: $methods")
            assertTrue(methods.any { it == name || it.startsWith("$name-") }, "no $name: $methods")
        }
        // An error from run() comes from the fast path, and a handler is called from it, not from a UniFFI callback.
        val vm = instance(Backend.INTERPRETER)
        val error = assertThrows<PvmException.WrongState> { vm.run() }
        assertTrue(error.stackTrace.any { it.className == "io.polkavm.ffi.FastPath" }, error.stackTraceToString())
        var callers = listOf<String>()
        val handler = object : HostHandler {
            override fun onHostCall(number: UInt, instance: Instance): ULong? {
                callers = Thread.currentThread().stackTrace.map { it.className }
                return null
            }
        }
        vm.call("host_loop", listOf(1UL), handler, GAS)
        assertTrue("io.polkavm.ffi.FastPath" in callers, callers.toString())
        assertFalse(callers.any { it.contains("uniffiCallbackInterfaceHostHandler") }, callers.toString())
    }

    @Test
    fun `prepareCall sets up as the UniFFI method`() {
        val (fast, slow) = twins(Backend.INTERPRETER)
        val pc = Module(engines.getValue(Backend.INTERPRETER), PolkaVMTest.blob).exportPc("add")
        for (args in listOf(listOf(), listOf(40UL, 2UL), listOf(ULong.MAX_VALUE), List(9) { ULong.MAX_VALUE - 1UL })) {
            fast.prepareCall(pc, args)
            slow.uniffiPrepareCall(pc, args)
            assertEquals(Reg.entries.map { slow.uniffiReg(it) }, Reg.entries.map { fast.reg(it) }, args.toString())
        }
        fast.prepareCall(pc)
        assertEquals(0UL, fast.reg(Reg.A0))
        assertEquals(pc, fast.nextPc())
        val tooMany = List(20) { 1UL }
        assertSameError(thrown { fast.prepareCall(pc, tooMany) }, thrown { slow.uniffiPrepareCall(pc, tooMany) })
        assertTrue(thrown { fast.prepareCall(pc, tooMany) } is PvmException)
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `a host-call program runs the same through both paths`(backend: Backend) {
        val (fast, slow) = twins(backend)
        for (vm in listOf(fast, slow)) vm.prepareCallExport("host", listOf(5UL))
        fast.setGas(GAS)
        slow.uniffiSetGas(GAS)
        assertEquals(GAS, fast.gas())
        assertEquals(GAS, slow.uniffiGas())
        val trace = mutableListOf<Status>()
        while (true) {
            val a = fast.run()
            assertEquals(slow.uniffiRun(), a)
            trace.add(a.status)
            for (reg in Reg.entries) assertEquals(slow.uniffiReg(reg), fast.reg(reg), reg.name)
            if (a.status != Status.HOST) break
            fast.setReg(Reg.A1, 100UL)
            slow.uniffiSetReg(Reg.A1, 100UL)
        }
        assertEquals(listOf(Status.HOST, Status.HOST, Status.HALT), trace)
        assertEquals(105UL, fast.reg(Reg.A0))
        assertEquals(slow.uniffiGas(), fast.gas())
        assertTrue(fast.gas() < GAS)
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `every stop reads the same`(backend: Backend) {
        val (fast, slow) = twins(backend)
        for ((export, gas) in listOf("trap" to GAS, "spin" to 1000L, "add" to GAS)) {
            for (vm in listOf(fast, slow)) vm.prepareCallExport(export, listOf(40UL, 2UL))
            fast.setGas(gas)
            slow.uniffiSetGas(gas)
            assertEquals(slow.uniffiRun(), fast.run(), export)
        }
    }

    @Test
    fun `errors are the UniFFI errors with the same messages`() {
        val (fast, slow) = twins(Backend.INTERPRETER)
        val fromFast = thrown { fast.run() }
        assertSameError(fromFast, thrown { slow.uniffiRun() })
        assertTrue(fromFast is PvmException.WrongState && "no call prepared" in fromFast.message!!)
        // A 0 read right after a failure is a value, not the failure again.
        assertEquals(0UL, fast.reg(Reg.A3))
        assertEquals(0L, fast.gas())
    }

    @Test
    fun `the whole range of register and gas values goes through`() {
        val vm = instance(Backend.INTERPRETER)
        for (value in listOf(0UL, 1UL, Long.MAX_VALUE.toULong() + 1UL, ULong.MAX_VALUE)) {
            vm.setReg(Reg.A5, value)
            assertEquals(value, vm.reg(Reg.A5))
            assertEquals(value, vm.uniffiReg(Reg.A5))
        }
        for (gas in listOf(Long.MIN_VALUE, -1L, 0L, Long.MAX_VALUE)) {
            vm.setGas(gas)
            assertEquals(gas, vm.gas())
            assertEquals(gas, vm.uniffiGas())
        }
    }

    @Test
    fun `a destroyed instance fails as through UniFFI, also when destroyed during a call`() {
        val (fast, slow) = twins(Backend.INTERPRETER)
        fast.destroy()
        slow.destroy()
        assertTrue(fast.uniffiIsDestroyed)
        assertSameError(thrown { fast.reg(Reg.A0) }, thrown { slow.uniffiReg(Reg.A0) })
        assertSameError(thrown { fast.setReg(Reg.A0, 1UL) }, thrown { slow.uniffiSetReg(Reg.A0, 1UL) })
        assertSameError(thrown { fast.gas() }, thrown { slow.uniffiGas() })
        assertSameError(thrown { fast.setGas(1L) }, thrown { slow.uniffiSetGas(1L) })
        assertSameError(thrown { fast.run() }, thrown { slow.uniffiRun() })
        assertSameError(thrown { fast.call("add", listOf(), Doubling(), GAS) }, thrown { slow.uniffiCall("add", listOf(), Doubling(), GAS) })
        assertTrue(thrown { fast.reg(Reg.A0) } is IllegalStateException)

        // Closing the instance from its own handler: the running call keeps it alive to the end.
        val vm = instance(Backend.INTERPRETER)
        val closer = object : HostHandler {
            override fun onHostCall(number: UInt, instance: Instance): ULong? {
                instance.close()
                instance.setReg(Reg.A2, instance.reg(Reg.A0))
                return null
            }
        }
        val outcome = vm.call("host_loop", listOf(3UL), closer, GAS)
        assertEquals(Status.HALT to 3UL, outcome.result.status to outcome.regs[Reg.A0.ordinal])
        assertEquals(1UL, outcome.regs[Reg.A2.ordinal])
        assertTrue(thrown { vm.reg(Reg.A0) } is IllegalStateException)
    }

    @Test
    fun `a handler re-entering run gets WrongState through the fast path`() {
        val vm = instance(Backend.INTERPRETER)
        val seen = mutableListOf<String>()
        val reenter = object : HostHandler {
            override fun onHostCall(number: UInt, instance: Instance): ULong? {
                seen.add(assertThrows<PvmException.WrongState> { instance.run() }.message!!)
                instance.setReg(Reg.A1, instance.reg(Reg.A0))
                return null
            }
        }
        val outcome = vm.call("host", listOf(21UL), reenter, GAS)
        assertEquals(Status.HALT, outcome.result.status)
        assertEquals(42UL, vm.reg(Reg.A0))
        assertEquals(2, seen.size)
        assertTrue(seen.all { "busy" in it }, seen.toString())
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `threads with their own instances through the fast path`(backend: Backend) {
        val module = Module(engines.getValue(backend), PolkaVMTest.blob)
        val errors = Collections.synchronizedList(mutableListOf<String>())
        val threads = (0 until 4).map { index ->
            thread {
                val seed = index.toULong() * 1000UL
                val vm = Instance(module)
                for (i in 0 until 50) {
                    vm.prepareCallExport("host_loop", listOf(3UL))
                    vm.setGas(GAS)
                    var calls = 0
                    var result = vm.run()
                    while (result.status == Status.HOST) {
                        calls++
                        vm.setReg(Reg.A2, seed + i.toULong())
                        result = vm.run()
                    }
                    if (result.status != Status.HALT || vm.reg(Reg.A0) != 3UL || calls != 3 || vm.reg(Reg.A2) != seed + i.toULong()) {
                        errors.add("$index $i ${result.status}")
                    }
                }
            }
        }
        threads.forEach { it.join() }
        assertEquals(listOf<String>(), errors)
    }

    /** Records each host call and the A0 it sees; doubles A0 but at host call 1 (host_loop's
     *  counter); throws `error` at host call `failAt`. */
    class Doubling(private val failAt: UInt? = null, private val error: Exception? = null) : HostHandler {
        val seen = mutableListOf<Pair<UInt, ULong>>()
        override fun onHostCall(number: UInt, instance: Instance): ULong? {
            seen.add(number to instance.reg(Reg.A0))
            if (number == failAt) throw error!!
            return if (number == 1u) null else instance.reg(Reg.A0) * 2UL
        }
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `call gives the outcome of the UniFFI call`(backend: Backend) {
        val (fast, slow) = twins(backend)
        val cases = listOf(Triple("host", listOf(5UL), GAS), Triple("host_loop", listOf(50UL), GAS), Triple("add", listOf(40UL, 2UL), GAS),
            Triple("spin", listOf(), 500L), Triple("trap", listOf(), GAS))
        for ((export, args, gas) in cases) {
            val a = Doubling()
            val b = Doubling()
            assertEquals(slow.uniffiCall(export, args, b, gas), fast.call(export, args, a, gas), export)
            assertEquals(b.seen, a.seen, export)
        }
    }

    @ParameterizedTest
    @ValueSource(strings = ["abort", "state", "multiline"])
    fun `call handler errors read as through UniFFI`(kind: String) {
        val error = when (kind) {
            "abort" -> HostException.Abort("no such service")
            "state" -> IllegalStateException("bad state")
            else -> IllegalArgumentException("bad\nvalue")
        }
        val (fast, slow) = twins(Backend.INTERPRETER)
        val fromFast = thrown { fast.call("host", listOf(1UL), Doubling(8u, error), GAS) }
        val fromUniffi = thrown { slow.uniffiCall("host", listOf(1UL), Doubling(8u, error), GAS) }
        assertSameError(fromFast, fromUniffi)
        assertTrue(fromFast is PvmException.HostAborted && fromFast.message!!.startsWith("host call 8 aborted: "), fromFast.message)
        // The call is over: the instance runs again.
        assertEquals(Status.HALT, fast.call("add", listOf(1UL, 2UL), Doubling(), GAS).result.status)
        assertEquals(3UL, fast.reg(Reg.A0))
    }

    @Test
    fun `call set-up errors read as through UniFFI`() {
        val (fast, slow) = twins(Backend.INTERPRETER)
        for ((export, gas) in listOf("no_such_export" to GAS, "with\u0000nul" to GAS, "add" to null, "add" to GAS)) {
            val args = if (export == "add" && gas != null) List(10) { 1UL } else listOf(1UL)
            val fromFast = thrown { fast.call(export, args, Doubling(), gas) }
            assertTrue(fromFast is PvmException, fromFast.toString())
            assertSameError(fromFast, thrown { slow.uniffiCall(export, args, Doubling(), gas) })
        }
    }

    @Test
    fun `another thread waits for a fast call to end`() {
        val vm = instance(Backend.INTERPRETER)
        val inHandler = CountDownLatch(1)
        val release = CountDownLatch(1)
        val seen = Collections.synchronizedList(mutableListOf<String>())
        val slowHandler = object : HostHandler {
            override fun onHostCall(number: UInt, instance: Instance): ULong? {
                instance.setReg(Reg.A1, 10UL)
                inHandler.countDown()
                release.await(5, TimeUnit.SECONDS)
                return null
            }
        }
        val reader = thread { inHandler.await(5, TimeUnit.SECONDS); seen.add(vm.reg(Reg.A0).toString()) }
        val caller = thread { seen.add(vm.call("host", listOf(7UL), slowHandler, GAS).result.status.toString()) }
        inHandler.await(5, TimeUnit.SECONDS)
        reader.join(300)
        assertTrue(reader.isAlive, "another thread's reg() did not wait for the call")
        release.countDown()
        caller.join(10_000)
        reader.join(10_000)
        assertEquals(listOf("17", "HALT"), seen.sorted())
    }
}
