// The hot methods of Instance (reg, setReg, gas, setGas, run, prepareCall, and the loop of call) through JNA
// direct mapping of the library's pvm_uniffi_instance_* functions (src/uniffi_api/fast.rs). A
// UniFFI call costs microseconds from Kotlin (a handle clone, a call status Structure, RustBuffers
// for the Reg enum and the RunResult record); these take the handle the object holds and
// primitives only, and call the same Rust methods, so results, errors, messages and locking are
// those of the UniFFI methods they replace. bindings/kotlin/fast_methods.py makes the generated
// Instance call these, with its handle kept alive for the call.
package io.polkavm.ffi

import com.sun.jna.Native
import com.sun.jna.Pointer
import java.nio.ByteBuffer
import java.nio.ByteOrder

internal object FastPath {
    init {
        val library = System.getProperty("uniffi.component.polkavm_ffi.libraryOverride") ?: "polkavm_ffi"
        Native.register(FastPath::class.java, library)
    }

    @JvmStatic private external fun pvm_uniffi_instance_reg(handle: Long, reg: Int): Long
    @JvmStatic private external fun pvm_uniffi_instance_set_reg(handle: Long, reg: Int, value: Long): Int
    @JvmStatic private external fun pvm_uniffi_instance_gas(handle: Long): Long
    @JvmStatic private external fun pvm_uniffi_instance_set_gas(handle: Long, gas: Long): Int
    @JvmStatic private external fun pvm_uniffi_instance_run(handle: Long, out: ByteBuffer): Int
    @JvmStatic private external fun pvm_uniffi_instance_new(module: Long): Long
    @JvmStatic private external fun pvm_uniffi_instance_free(handle: Long)
    @JvmStatic private external fun pvm_uniffi_instance_prepare_call(handle: Long, pc: Int, args: LongArray, argsLength: Long): Int
    @JvmStatic private external fun pvm_uniffi_instance_call_begin(
        handle: Long, name: ByteArray, nameLength: Long, args: LongArray, argsLength: Long, hasGas: Boolean, gas: Long,
    ): Int
    @JvmStatic private external fun pvm_uniffi_instance_call_run(handle: Long, out: ByteBuffer): Int
    @JvmStatic private external fun pvm_uniffi_instance_call_end(handle: Long): Int
    @JvmStatic private external fun pvm_uniffi_instance_regs(handle: Long, out: ByteBuffer): Int
    // A C bool: only its low byte is defined, so it is read as a Byte.
    @JvmStatic private external fun pvm_uniffi_failed(): Byte
    @JvmStatic private external fun pvm_uniffi_error_kind(): Int
    @JvmStatic private external fun pvm_uniffi_error_text(length: LongArray): Pointer

    private const val REG_COUNT = 13

    /** FastRunResult (status, host call, fault address: u32 each; gas left: i64 at 16), or the 13 registers. */
    private val out = ThreadLocal.withInitial {
        ByteBuffer.allocateDirect(REG_COUNT * 8).order(ByteOrder.nativeOrder())
    }

    private val statuses = arrayOfNulls<Status>(Status.entries.maxOf { it.value.toInt() } + 1).also { table ->
        for (status in Status.entries) table[status.value.toInt()] = status
    }

    private val A0 = Reg.A0.value.toInt()
    private val HOST = Status.HOST.value.toInt()

    /** This thread's last failure as the PvmException the UniFFI method throws (kinds as the C ABI numbers them). */
    private fun error(): PvmException {
        val length = LongArray(1)
        val message = pvm_uniffi_error_text(length).getByteArray(0, length[0].toInt()).toString(Charsets.UTF_8)
        return when (pvm_uniffi_error_kind()) {
            1 -> PvmException.InvalidArgument(message)
            2 -> PvmException.InvalidProgram(message)
            3 -> PvmException.Unsupported(message)
            4 -> PvmException.Setup(message)
            5 -> PvmException.Memory(message)
            6 -> PvmException.WrongState(message)
            7 -> PvmException.Panic(message)
            else -> PvmException.HostAborted(message)
        }
    }

    private fun runResult(out: ByteBuffer) =
        RunResult(statuses[out.getInt(0)]!!, out.getLong(16), out.getInt(4).toUInt(), out.getInt(8).toUInt())

    /** A new instance's handle, which the Instance then owns. */
    fun newInstance(module: Module): Long = module.callWithBorrowedHandle {
        val handle = pvm_uniffi_instance_new(it)
        if (handle == 0L) throw error()
        handle
    }

    fun freeInstance(handle: Long) = pvm_uniffi_instance_free(handle)

    fun reg(handle: Long, reg: Reg): ULong {
        val value = pvm_uniffi_instance_reg(handle, reg.value.toInt())
        if (value == 0L && pvm_uniffi_failed() != 0.toByte()) throw error()
        return value.toULong()
    }

    fun setReg(handle: Long, reg: Reg, value: ULong) {
        if (pvm_uniffi_instance_set_reg(handle, reg.value.toInt(), value.toLong()) != 0) throw error()
    }

    fun gas(handle: Long): Long {
        val gas = pvm_uniffi_instance_gas(handle)
        if (gas == 0L && pvm_uniffi_failed() != 0.toByte()) throw error()
        return gas
    }

    fun setGas(handle: Long, gas: Long) {
        if (pvm_uniffi_instance_set_gas(handle, gas) != 0) throw error()
    }

    fun prepareCall(handle: Long, pc: UInt, args: List<ULong>) {
        val values = LongArray(args.size) { args[it].toLong() }
        if (pvm_uniffi_instance_prepare_call(handle, pc.toInt(), values, values.size.toLong()) != 0) throw error()
    }

    fun run(handle: Long): RunResult {
        val out = out.get()
        if (pvm_uniffi_instance_run(handle, out) != 0) throw error()
        return runResult(out)
    }

    /**
     * `Instance.call` with the handler called here, not through a UniFFI callback: the Rust side
     * begins the call (same checks, same busy state for other threads and for re-entry) and runs
     * it leg by leg. A handler's exceptions become the HostAborted that UniFFI would give.
     */
    fun call(instance: Instance, handle: Long, name: String, args: List<ULong>, handler: HostHandler, gas: Long?): RunOutcome {
        val encoded = name.toByteArray(Charsets.UTF_8)
        val values = LongArray(args.size) { args[it].toLong() }
        if (pvm_uniffi_instance_call_begin(handle, encoded, encoded.size.toLong(), values, values.size.toLong(), gas != null, gas ?: 0L) != 0) {
            throw error()
        }
        try {
            val out = out.get()
            while (true) {
                if (pvm_uniffi_instance_call_run(handle, out) != 0) throw error()
                if (out.getInt(0) != HOST) break
                val number = out.getInt(4).toUInt()
                val value = try {
                    handler.onHostCall(number, instance)
                } catch (error: HostException.Abort) {
                    throw PvmException.HostAborted("host call $number aborted: ${error.reason}")
                } catch (error: Exception) {
                    // What the UniFFI path reports for any other exception: the first line of its stack trace.
                    val reason = error.stackTraceToString().substringBefore('\n').removeSuffix("\r")
                    throw PvmException.HostAborted("host call $number aborted: $reason")
                }
                if (value != null && pvm_uniffi_instance_set_reg(handle, A0, value.toLong()) != 0) throw error()
            }
            val result = runResult(out)
            if (pvm_uniffi_instance_regs(handle, out) != 0) throw error()
            return RunOutcome(result, List(REG_COUNT) { out.getLong(it * 8).toULong() })
        } finally {
            pvm_uniffi_instance_call_end(handle)
        }
    }
}
