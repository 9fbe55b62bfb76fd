// The usage bindings/kotlin/README.md documents, as written there.

import io.polkavm.ffi.*
import org.junit.jupiter.api.Assertions.*
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class DocumentedUsageTest {
    class Host : HostHandler {
        override fun onHostCall(number: UInt, instance: Instance): ULong? {
            val a0 = instance.reg(Reg.A0)
            return a0 * a0 // the new A0 (ULong arithmetic wraps); null leaves the registers alone
        }
    }

    private val source = "%isa = jam_v1\npub @main:\n    ecalli 1\n    ret\n"

    @Test
    fun `quick start, gas and errors`() {
        val blob = assemble(source)
        val engine = Engine(EngineConfig(backend = Backend.INTERPRETER))
        val vm = Instance(Module(engine, blob))
        val outcome = vm.call("main", listOf(10UL), Host(), 1_000_000L)
        assertEquals("HALT 100", "${outcome.result.status} ${outcome.regs[Reg.A0.ordinal]}")
        assertEquals(0UL, vm.call("main", listOf(1UL shl 32), Host(), 1_000_000L).regs[Reg.A0.ordinal])

        val unmetered = Instance(Module(engine, blob, ModuleConfig(gasMetering = GasMetering.DISABLED)))
        assertEquals(9UL, unmetered.call("main", listOf(3UL), Host()).regs[Reg.A0.ordinal])
        assertThrows<PvmException.InvalidArgument> { vm.call("main", listOf(10UL), Host()) }

        val error = assertThrows<PvmException.InvalidProgram> { Module(engine, "not a program".toByteArray()) }
        assertEquals("blob is not a PolkaVM program: bad magic (expected \"PVM\\0\")", error.message)
    }

    @Test
    fun `JAM mode`() {
        val engine = Engine(EngineConfig(backend = Backend.INTERPRETER, allowDynamicPaging = true))
        Module.newJam(engine, graypaperBlob(assemble(source)), JamConfig()).use { module ->
            val vm = Instance(module)
            vm.setNextPc(0u)
            vm.setGas(100L)
            val result = vm.run()
            assertEquals(Status.HOST to 1u, result.status to result.hostCall)
        }
    }
}
