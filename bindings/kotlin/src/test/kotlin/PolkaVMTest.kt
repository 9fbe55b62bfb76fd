// Behaviour tests of the Kotlin bindings; the same tests exist for Python (bindings/python/tests)
// and Swift (bindings/swift/Tests).

import io.polkavm.ffi.*
import java.io.File
import org.junit.jupiter.api.Assertions.*
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource

const val GAS = 1_000_000L

class PolkaVMTest {
    companion object {
        val blob: ByteArray by lazy { assemble(File(System.getProperty("pvm.test.program")).readText()) }
    }

    private fun engine(backend: Backend) = Engine(EngineConfig(backend = backend))

    private fun newInstance(backend: Backend, config: ModuleConfig = ModuleConfig()) =
        Instance(Module(engine(backend), blob, config))

    private fun Instance.callRaw(export: String, args: List<Long>, gas: Long = GAS): RunResult {
        prepareCallExport(export, args.map { it.toULong() })
        setGas(gas)
        return run()
    }

    private fun List<ULong>.a0() = this[Reg.A0.ordinal].toLong()

    /** Counts host calls; optionally puts a value in A0. */
    class Recorder(private val a0: ULong? = null) : HostHandler {
        val numbers = mutableListOf<UInt>()
        override fun onHostCall(number: UInt, instance: Instance): ULong? {
            numbers.add(number)
            return a0
        }
    }

    @Test
    fun `the library loads from the jar's JNA platform folder`() {
        assertTrue(version().startsWith("polkavm-ffi "))
        val resource = PolkaVMTest::class.java.classLoader.getResource("linux-x86-64/libpolkavm_ffi.so")
        assertNotNull(resource, "the native library must be a classpath resource")
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `engine reports its backend`(backend: Backend) {
        assertEquals(backend, engine(backend).backend())
    }

    @Test
    fun `defaults pick a working engine`() {
        val vm = Instance(Module(Engine(), blob))
        assertEquals(Status.HALT, vm.callRaw("add", listOf(2, 3)).status)
        assertEquals(5UL, vm.reg(Reg.A0))
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `every status`(backend: Backend) {
        val vm = newInstance(backend)

        var result = vm.callRaw("add", listOf(40, 2))
        assertEquals(Status.HALT, result.status)
        assertEquals(42UL, vm.reg(Reg.A0))
        assertTrue(result.gasRemaining in 1 until GAS)
        assertEquals(result.gasRemaining, vm.gas())

        assertEquals(Status.PANIC, vm.callRaw("trap", listOf()).status)

        result = vm.callRaw("spin", listOf(), gas = 1000)
        assertEquals(Status.OUT_OF_GAS, result.status)
        assertTrue(result.gasRemaining <= 0)

        result = vm.callRaw("host", listOf(5))
        assertEquals(Status.HOST to 7u, result.status to result.hostCall)
        assertEquals(5UL, vm.reg(Reg.A0))
        vm.setReg(Reg.A1, 100UL)
        result = vm.run()
        assertEquals(Status.HOST to 8u, result.status to result.hostCall)
        assertEquals(Status.HALT, vm.run().status)
        assertEquals(105UL, vm.reg(Reg.A0))

        val stepping = newInstance(backend, ModuleConfig(stepTracing = true))
        assertEquals(Status.STEP, stepping.callRaw("add", listOf(1, 2)).status)
        val pcs = mutableSetOf(stepping.pc())
        var steps = 1
        while (true) {
            result = stepping.run()
            if (result.status != Status.STEP) break
            pcs.add(stepping.pc())
            steps++
        }
        assertEquals(Status.HALT, result.status)
        assertTrue(steps >= 2 && pcs.size >= 2)
        assertEquals(3UL, stepping.reg(Reg.A0))
    }

    @Test
    fun `fault reports the page and mapping pages fixes it`() {
        val engine = Engine(EngineConfig(backend = Backend.INTERPRETER, allowDynamicPaging = true))
        val vm = Instance(Module(engine, blob, ModuleConfig(dynamicPaging = true)))
        val result = vm.callRaw("load", listOf(0x20000))
        assertEquals(Status.FAULT to 0x20000u, result.status to result.faultAddress)
        assertEquals(0x20000u, vm.faultAddress())
        vm.mapPages(0x20000u, 4096u, true)
        vm.writeMemory(0x20004u, byteArrayOf(5, 0, 0, 0))
        assertEquals(Status.HALT, vm.callRaw("load", listOf(0x20004)).status)
        assertEquals(5UL, vm.reg(Reg.A0))
        val error = assertThrows<PvmException.Unsupported> { vm.sbrk(10u) }
        assertEquals("sbrk is not available with dynamic paging", error.message)
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `loops until out of gas`(backend: Backend) {
        val vm = newInstance(backend)
        assertEquals(Status.OUT_OF_GAS, vm.call("sum", listOf(10_000_000UL), Recorder(), 5000).result.status)
        val outcome = vm.call("sum", listOf(1000UL), Recorder(), GAS)
        assertEquals(Status.HALT, outcome.result.status)
        assertEquals(500500L, outcome.regs.a0())
    }

    @Test
    fun `gas metering can be disabled`() {
        val vm = newInstance(Backend.INTERPRETER, ModuleConfig(gasMetering = GasMetering.DISABLED))
        val result = vm.callRaw("sum", listOf(100), gas = 7)
        assertEquals(Status.HALT to 7L, result.status to result.gasRemaining)
        assertEquals(5050UL, vm.reg(Reg.A0))
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `registers and program counters`(backend: Backend) {
        val module = Module(engine(backend), blob)
        val vm = Instance(module)
        val values = List(13) { (it * 3 + 1).toULong() }
        vm.setRegs(values)
        assertEquals(values, vm.regs())
        assertEquals(values, Reg.entries.map { vm.reg(it) })
        vm.setReg(Reg.A5, ULong.MAX_VALUE)
        assertEquals(ULong.MAX_VALUE, vm.regs()[Reg.A5.ordinal])
        val error = assertThrows<PvmException.InvalidArgument> { vm.setRegs(values.take(12)) }
        assertEquals("set_regs needs 13 values, not 12", error.message)

        val hostPc = module.exportPc("host")
        vm.callRaw("host", listOf())
        assertEquals(hostPc, vm.pc())
        assertTrue(vm.nextPc()!! > hostPc)
        val outcome = vm.runWithRegs()
        assertEquals(Status.HOST, outcome.result.status)
        assertEquals(vm.regs(), outcome.regs)
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun memory(backend: Backend) {
        val module = Module(engine(backend), blob)
        val vm = Instance(module)
        val info = module.memoryInfo()
        assertEquals(4096u, info.pageSize)
        assertArrayEquals(byteArrayOf(1, 2, 3, 4), vm.readMemory(info.roDataAddress, 4u))
        assertArrayEquals(byteArrayOf(42, 0, 0, 0), vm.readMemory(info.rwDataAddress, 4u))

        assertEquals(Status.HALT, vm.callRaw("store", listOf(info.rwDataAddress.toLong() + 8, 0xDEADBEEF)).status)
        assertArrayEquals(byteArrayOf(0xEF.toByte(), 0xBE.toByte(), 0xAD.toByte(), 0xDE.toByte()), vm.readMemory(info.rwDataAddress + 8u, 4u))
        vm.writeMemory(info.rwDataAddress, byteArrayOf(7, 0, 0, 0))
        assertEquals(Status.HALT, vm.callRaw("load", listOf(info.rwDataAddress.toLong())).status)
        assertEquals(7UL, vm.reg(Reg.A0))

        // Without dynamic paging a guest access to read-only or unmapped memory traps...
        assertEquals(Status.PANIC, vm.callRaw("store", listOf(info.roDataAddress.toLong(), 1)).status)
        assertEquals(Status.PANIC, vm.callRaw("load", listOf(0)).status)
        // ...and a host access is an error.
        val error = assertThrows<PvmException.Memory> { vm.writeMemory(info.roDataAddress, byteArrayOf(1)) }
        assertTrue(error.message!!.startsWith("write of 1 bytes at 0x%08x failed".format(info.roDataAddress.toLong())), error.message)
        assertThrows<PvmException.Memory> { vm.readMemory(0u, 4u) }

        vm.reset()
        assertArrayEquals(ByteArray(12) { if (it == 0) 42 else 0 }, vm.readMemory(info.rwDataAddress, 12u))
        assertEquals(List(13) { 0UL }, vm.regs())
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `sbrk and heap size`(backend: Backend) {
        val module = Module(engine(backend), blob)
        val vm = Instance(module)
        val before = vm.heapSize()
        val top = vm.sbrk(100u)
        assertEquals(before + 100u, vm.heapSize())
        assertEquals(module.memoryInfo().heapBase + before + 100u, top)
        vm.writeMemory(top - 4u, byteArrayOf(9, 9, 9, 9))
        val error = assertThrows<PvmException.Memory> { vm.sbrk(UInt.MAX_VALUE) }
        assertTrue(error.message!!.contains("heap cannot grow that far"), error.message)
    }

    @Test
    fun `exports and imports`() {
        val module = Module(engine(Backend.INTERPRETER), blob)
        val exports = module.exports()
        assertEquals(listOf("add", "host", "host_loop", "load", "spin", "store", "sum", "trap"), exports.map { it.name }.sorted())
        assertEquals(exports.size, exports.map { it.pc }.toSet().size)
        for (export in exports) assertEquals(export.pc, module.exportPc(export.name))
        assertEquals(listOf<String>(), module.imports()) // the program calls host functions by number only
        val error = assertThrows<PvmException.InvalidArgument> { module.exportPc("nope") }
        assertEquals("no export named \"nope\"", error.message)
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `call dispatches host calls to the handler`(backend: Backend) {
        val vm = newInstance(backend)
        val recorder = Recorder()
        var outcome = vm.call("host_loop", listOf(25UL), recorder, GAS)
        assertEquals(Status.HALT, outcome.result.status)
        assertEquals(List(25) { 1u }, recorder.numbers)
        assertEquals(25L, outcome.regs.a0())
        assertTrue(outcome.result.gasRemaining in 1 until GAS)

        val info = Module(engine(backend), blob).memoryInfo()
        val host = object : HostHandler {
            override fun onHostCall(number: UInt, instance: Instance): ULong? {
                if (number == 7u) { // reads and writes registers and memory, leaves A0 alone
                    assertEquals(5UL, instance.reg(Reg.A0))
                    instance.writeMemory(info.rwDataAddress, byteArrayOf(0x11, 0x22))
                    val bytes = instance.readMemory(info.rwDataAddress, 2u)
                    instance.setReg(Reg.A1, (bytes[0].toULong() and 0xFFu) or ((bytes[1].toULong() and 0xFFu) shl 8))
                    return null
                }
                return 100UL // host call 8 returns its result in A0
            }
        }
        outcome = vm.call("host", listOf(5UL), host, GAS)
        assertEquals(Status.HALT, outcome.result.status)
        assertEquals(100L + 0x2211, outcome.regs.a0())
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `a handler that throws aborts the call`(backend: Backend) {
        val vm = newInstance(backend)
        val broken = object : HostHandler {
            override fun onHostCall(number: UInt, instance: Instance): ULong? = throw IllegalStateException("boom")
        }
        var error = assertThrows<PvmException.HostAborted> { vm.call("host_loop", listOf(3UL), broken, GAS) }
        assertEquals("host call 1 aborted: java.lang.IllegalStateException: boom", error.message)

        val stop = object : HostHandler {
            override fun onHostCall(number: UInt, instance: Instance): ULong? = throw HostException.Abort("quota exceeded")
        }
        error = assertThrows<PvmException.HostAborted> { vm.call("host_loop", listOf(3UL), stop, GAS) }
        assertEquals("host call 1 aborted: quota exceeded", error.message)

        // The instance is still usable afterwards.
        assertEquals(2L, vm.call("add", listOf(1UL, 1UL), Recorder(), GAS).regs.a0())
    }

    @Test
    fun `running from a handler is an error, not a deadlock`() {
        val vm = newInstance(Backend.INTERPRETER)
        val errors = mutableListOf<String>()
        val reentrant = object : HostHandler {
            override fun onHostCall(number: UInt, instance: Instance): ULong? {
                val attempts = listOf({ instance.run() }, { instance.call("add", listOf(1UL, 2UL), this, GAS) }, { instance.reset() })
                for (attempt in attempts) errors.add(assertThrows<PvmException.WrongState> { attempt() }.message!!)
                return null
            }
        }
        assertEquals(Status.HALT, vm.call("host_loop", listOf(1UL), reentrant, GAS).result.status)
        assertEquals(3, errors.size)
        assertTrue(errors.all { it.startsWith("instance is busy: run/call called re-entrantly") }, errors.toString())
    }

    @Test
    fun `bad blobs and arguments are errors`() {
        val engine = engine(Backend.INTERPRETER)
        assertEquals("blob is empty", assertThrows<PvmException.InvalidProgram> { Module(engine, byteArrayOf()) }.message)
        assertTrue(assertThrows<PvmException.InvalidProgram> { Module(engine, "ELF\u007f....".toByteArray()) }.message!!.contains("bad magic"))
        assertTrue(assertThrows<PvmException.InvalidProgram> { Module(engine, blob.copyOf(20)) }.message!!.contains("not a valid PolkaVM program"))
        assertTrue(assertThrows<PvmException.InvalidArgument> { Module(engine, blob, ModuleConfig(pageSize = 1000u)) }.message!!.contains("page size 1000 is invalid"))
        assertTrue(assertThrows<PvmException.Unsupported> { Module(engine, blob, ModuleConfig(dynamicPaging = true)) }.message!!.contains("allow_dynamic_paging"))
        assertTrue(assertThrows<PvmException.InvalidProgram> { assemble("this is not assembly") }.message!!.contains("assembly failed"))

        val vm = Instance(Module(engine, blob))
        assertTrue(assertThrows<PvmException.WrongState> { vm.run() }.message!!.startsWith("cannot run: no call prepared"))
        assertTrue(assertThrows<PvmException.InvalidArgument> { vm.prepareCall(0u, List(10) { 0UL }) }.message!!.startsWith("too many arguments: 10"))
        assertEquals("no export named \"nope\"", assertThrows<PvmException.InvalidArgument> { vm.call("nope", listOf(), Recorder(), GAS) }.message)
        // Every error is a PvmException, so one catch clause catches them all.
        assertTrue(assertThrows<PvmException> { vm.run() } is PvmException.WrongState)
    }

    /** The "program" bytes of a test vector in tests/vectors: its one byte array, `"program": [...]`. */
    private fun vectorProgram(suite: String, name: String): ByteArray {
        val text = File(System.getProperty("pvm.test.vectors"), "$suite/programs/$name.json").readText()
        val bytes = Regex("\"program\":\\s*\\[([^\\]]*)\\]").find(text)!!.groupValues[1]
        return bytes.split(",").map { it.trim().toInt().toByte() }.toByteArray()
    }

    @Test
    fun `the JAM default gives Graypaper 0_8_0 gas and naive is selectable`() {
        // inst_load_u8_nok of the Graypaper 0.8.0 vectors: a page fault at 0x20000 with 9975 gas left.
        val program = vectorProgram("gp-0.8.0-polkavm-spectool", "inst_load_u8_nok")
        val engine = Engine(EngineConfig(backend = Backend.INTERPRETER, allowDynamicPaging = true))
        for ((config, gas) in listOf(JamConfig() to 9975L, JamConfig(costModel = CostModel.FULL_L2_HIT) to 9975L,
                                     JamConfig(costModel = CostModel.NAIVE) to 9998L)) {
            val module = Module.newJam(engine, program, config)
            assertEquals(10000L - gas, module.blockGasCost(0u))
            val vm = Instance(module)
            vm.setNextPc(0u)
            vm.setGas(10000L)
            val result = vm.run()
            assertEquals(Triple(Status.FAULT, 0x20000u, gas), Triple(result.status, vm.faultAddress(), result.gasRemaining))
        }
        val naive = Engine(EngineConfig(backend = Backend.INTERPRETER, defaultCostModel = CostModel.NAIVE))
        assertEquals(CostModel.NAIVE, Module(naive, blob).costModel())
        assertEquals(CostModel.FULL_L1_HIT, Module(naive, blob, ModuleConfig(costModel = CostModel.FULL_L1_HIT)).costModel())
    }
}
