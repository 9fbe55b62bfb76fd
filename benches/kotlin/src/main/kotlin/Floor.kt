// Kotlin's floor for the Kotlin runner (Bench.kt --floor): the same loops written with JNA direct
// mapping straight against the C ABI (`pvm_*`) of the library the jar ships, handles as Longs and
// results through a direct ByteBuffer, the cheapest way JNA calls C. `pvm_instance_run_checked`
// is `pvm_instance_run` with its PvmResult through a pointer (JNA returns structures by value
// only reflectively).

import com.sun.jna.Native
import java.nio.ByteBuffer
import java.nio.ByteOrder

object CAbi {
    init {
        Native.register(CAbi::class.java, "polkavm_ffi")
    }

    @JvmStatic external fun pvm_engine_new(): Long
    @JvmStatic external fun pvm_engine_new_interpreter(): Long
    @JvmStatic external fun pvm_module_new(engine: Long, blob: ByteArray, length: Long): Long
    @JvmStatic external fun pvm_module_free(module: Long)
    @JvmStatic external fun pvm_module_find_export(module: Long, name: ByteArray, length: Long): Int
    @JvmStatic external fun pvm_module_export_pc(module: Long, index: Int): Int
    @JvmStatic external fun pvm_instance_new(engine: Long, module: Long): Long
    @JvmStatic external fun pvm_instance_free(instance: Long)
    @JvmStatic external fun pvm_instance_prepare_call_args(instance: Long, pc: Int, args: LongArray, count: Int): Int
    @JvmStatic external fun pvm_instance_get_gas(instance: Long): Long
    @JvmStatic external fun pvm_instance_set_gas(instance: Long, gas: Long)
    @JvmStatic external fun pvm_instance_run_checked(instance: Long, out: ByteBuffer): Int
    @JvmStatic external fun pvm_instance_get_reg(instance: Long, reg: Int): Long
    @JvmStatic external fun pvm_instance_set_reg(instance: Long, reg: Int, value: Long)

    const val HALT = 0
    const val HOST = 4
    const val A0 = 7
    const val A2 = 9
}

/** The workload of `scenario` (as Bench.kt's) on the C ABI. */
fun floorWorkload(scenario: String, n: Long, backend: String, testBlob: ByteArray, largeBlob: ByteArray): () -> Unit {
    val engine = if (backend == "compiler") CAbi.pvm_engine_new() else CAbi.pvm_engine_new_interpreter()
    val module = CAbi.pvm_module_new(engine, testBlob, testBlob.size.toLong())
    val vm = CAbi.pvm_instance_new(engine, module)
    check(engine != 0L && module != 0L && vm != 0L)
    val out = ByteBuffer.allocateDirect(24).order(ByteOrder.nativeOrder())

    fun pcOf(name: String): Int {
        val bytes = name.toByteArray()
        val index = CAbi.pvm_module_find_export(module, bytes, bytes.size.toLong())
        check(index >= 0) { name }
        return CAbi.pvm_module_export_pc(module, index)
    }

    fun runLoop(pc: Int, n: Long): Long {
        check(CAbi.pvm_instance_prepare_call_args(vm, pc, longArrayOf(n), 1) == 0)
        CAbi.pvm_instance_set_gas(vm, GAS)
        while (true) {
            check(CAbi.pvm_instance_run_checked(vm, out) == 0)
            when (val status = out.getInt(0)) {
                CAbi.HOST -> CAbi.pvm_instance_set_reg(vm, CAbi.A2, CAbi.pvm_instance_get_reg(vm, CAbi.A0))
                CAbi.HALT -> return CAbi.pvm_instance_get_reg(vm, CAbi.A0)
                else -> error("unexpected status $status")
            }
        }
    }

    return when (scenario) {
        "host_calls" -> { { check(runLoop(pcOf("host_loop"), n) == n) } }
        "compute" -> { { check(runLoop(pcOf("sum"), n) == n * (n + 1) / 2) } }
        "invocations" -> { {
            val add = pcOf("add")
            repeat(n.toInt()) {
                val instance = CAbi.pvm_instance_new(engine, module)
                check(CAbi.pvm_instance_prepare_call_args(instance, add, longArrayOf(40, 2), 2) == 0)
                CAbi.pvm_instance_set_gas(instance, GAS)
                check(CAbi.pvm_instance_run_checked(instance, out) == 0 && out.getInt(0) == CAbi.HALT)
                check(CAbi.pvm_instance_get_reg(instance, CAbi.A0) == 42L)
                CAbi.pvm_instance_free(instance)
            }
        } }
        "load" -> { { repeat(n.toInt()) { CAbi.pvm_module_free(CAbi.pvm_module_new(engine, largeBlob, largeBlob.size.toLong())) } } }
        "reg" -> { {
            CAbi.pvm_instance_set_reg(vm, CAbi.A0, 1L)
            var sum = 0L
            repeat(n.toInt()) { sum += CAbi.pvm_instance_get_reg(vm, CAbi.A0) }
            check(sum == n)
        } }
        "set_reg" -> { { repeat(n.toInt()) { CAbi.pvm_instance_set_reg(vm, CAbi.A2, it.toLong()) } } }
        "gas" -> { {
            CAbi.pvm_instance_set_gas(vm, 1L)
            var sum = 0L
            repeat(n.toInt()) { sum += CAbi.pvm_instance_get_gas(vm) }
            check(sum == n)
        } }
        "set_gas" -> { { repeat(n.toInt()) { CAbi.pvm_instance_set_gas(vm, it.toLong()) } } }
        else -> error("unknown scenario $scenario")
    }
}
