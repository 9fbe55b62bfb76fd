// The Kotlin benchmark runner, driven by `cargo bench` (benches/overhead/external.rs):
//   java -cp ... BenchKt [--call | --floor] SCENARIO BACKEND N TEST_PROGRAM LARGE_PROGRAM
// Sets up, warms up for a second (see WARM_UP_NANOS), times one batch of N and prints
// nanoseconds per unit on its last line. Host calls are served by the caller's run loop
// (run, reg, setReg per host call), or with --call by Instance.call and a HostHandler; --floor
// runs the same loops with JNA direct mapping on the C ABI (Floor.kt). Besides cargo bench's
// scenarios, `reg`, `set_reg`, `gas` and `set_gas` time N single accessor calls
// (benches/kotlin/interleaved.sh).

import io.polkavm.ffi.*
import java.io.File

const val GAS = 1L shl 61

/**
 * The JVM compiles a method only after it has run many times; until then every call through UniFFI
 * and JNA costs several times more (here a host-call round trip took ~200 µs after 1,500 round
 * trips and ~75 µs after 80,000). So the runner warms up for this long before it times, to report
 * what a long-running host sees.
 */
const val WARM_UP_NANOS = 1_000_000_000L
const val SETTLE_MILLIS = 500L

/** Calls through UniFFI cost microseconds: per-unit scenarios run smaller batches than Rust's. */
val BATCH_CAP = mapOf("host_calls" to 20000L, "invocations" to 500L, "load" to 5L)

class CopyA0ToA2 : HostHandler {
    override fun onHostCall(number: UInt, instance: Instance): ULong? {
        instance.setReg(Reg.A2, instance.reg(Reg.A0))
        return null
    }
}

fun runLoop(vm: Instance, pc: UInt, n: Long): Long {
    vm.prepareCall(pc, listOf(n.toULong()))
    vm.setGas(GAS)
    while (true) {
        val result = vm.run()
        when (result.status) {
            Status.HOST -> vm.setReg(Reg.A2, vm.reg(Reg.A0))
            Status.HALT -> return vm.reg(Reg.A0).toLong()
            else -> error("unexpected status ${result.status}")
        }
    }
}

fun main(arguments: Array<String>) {
    val mode = arguments[0].takeIf { it.startsWith("--") }
    val useCall = mode == "--call"
    val args = if (mode != null) arguments.drop(1) else arguments.toList()
    val scenario = args[0]
    val n = BATCH_CAP[scenario]?.let { minOf(it, args[2].toLong()) } ?: args[2].toLong()
    if (mode == "--floor") {
        return time(scenario, n, floorWorkload(scenario, n, args[1], File(args[3]).readBytes(), File(args[4]).readBytes()))
    }
    val backend = if (args[1] == "compiler") Backend.COMPILER else Backend.INTERPRETER
    val engine = Engine(EngineConfig(backend = backend))
    val module = Module(engine, File(args[3]).readBytes(), ModuleConfig())
    val largeProgram = File(args[4]).readBytes()
    val vm = Instance(module)
    val handler = CopyA0ToA2()

    fun call(export: String, n: Long): Long =
        if (useCall) {
            check(vm.call(export, listOf(n.toULong()), handler, GAS).result.status == Status.HALT)
            vm.reg(Reg.A0).toLong()
        } else {
            runLoop(vm, module.exportPc(export), n)
        }

    val workload: () -> Unit = when (scenario) {
        "host_calls" -> { { check(call("host_loop", n) == n) } }
        "compute" -> { { check(call("sum", n) == n * (n + 1) / 2) } }
        "invocations" -> { {
            val add = module.exportPc("add")
            repeat(n.toInt()) {
                val instance = Instance(module)
                if (useCall) {
                    instance.call("add", listOf(40UL, 2UL), handler, GAS)
                } else {
                    instance.prepareCall(add, listOf(40UL, 2UL))
                    instance.setGas(GAS)
                    check(instance.run().status == Status.HALT)
                }
                check(instance.reg(Reg.A0) == 42UL)
                instance.destroy()
            }
        } }
        "load" -> { { repeat(n.toInt()) { Module(engine, largeProgram, ModuleConfig()).destroy() } } }
        // The accessors read a non-zero A0 and gas (a 0 costs a second call, to tell it from a failure).
        "reg" -> { {
            vm.setReg(Reg.A0, 1UL)
            var sum = 0UL
            repeat(n.toInt()) { sum += vm.reg(Reg.A0) }
            check(sum == n.toULong())
        } }
        "set_reg" -> { { repeat(n.toInt()) { vm.setReg(Reg.A2, it.toULong()) } } }
        "gas" -> { {
            vm.setGas(1L)
            var sum = 0L
            repeat(n.toInt()) { sum += vm.gas() }
            check(sum == n)
        } }
        "set_gas" -> { { repeat(n.toInt()) { vm.setGas(it.toLong()) } } }
        else -> error("unknown scenario $scenario")
    }
    // Compute's workload is one long run with a few calls around it: warm those calls up with short runs.
    val warmUp = if (scenario == "compute") { { check(call("sum", 1) == 1L) } } else workload
    time(scenario, n, workload, warmUp)
}

/** Warms up (WARM_UP_NANOS), times one batch and prints nanoseconds per unit. */
fun time(scenario: String, n: Long, workload: () -> Unit, warmUp: () -> Unit = workload) {
    val warmUpStart = System.nanoTime()
    var warmUps = 0
    while (warmUps < 3 || System.nanoTime() - warmUpStart < WARM_UP_NANOS) {
        warmUp()
        warmUps++
    }
    workload()
    // The JIT compiler's threads keep compiling what the warm-up made hot; on a 2-core machine, where
    // a JIT run already keeps both cores busy (polkavm's host thread waits for its worker spinning),
    // they would take a core from the guest. Let them finish first.
    Thread.sleep(SETTLE_MILLIS)
    val start = System.nanoTime()
    workload()
    val elapsed = System.nanoTime() - start
    println("%.3f".format(elapsed.toDouble() / if (scenario == "compute") 1 else n))
}
