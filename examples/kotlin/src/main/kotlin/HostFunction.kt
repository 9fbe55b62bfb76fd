// A Kotlin host for the sample program (examples/sample_program.pvmasm), on both backends.
//
// The guest sums the squares 1..n and reports each term through host call 1 ("report": a0 = i,
// a1 = running total); the host answers in a2 with a bonus to add (1 here). Run it with
// `make examples-kotlin`, or `java -cp CLASSPATH HostFunctionKt SAMPLE.pvmasm [n]`.

import io.polkavm.ffi.*
import java.io.File
import kotlin.system.exitProcess

const val REPORT = 1u

class Host : HostHandler {
    var reports = 0

    override fun onHostCall(number: UInt, instance: Instance): ULong? {
        if (number != REPORT) throw IllegalArgumentException("unknown host call $number")
        reports++
        instance.setReg(Reg.A2, 1UL) // the bonus
        return null // leave A0 as it is
    }
}

fun main(args: Array<String>) {
    val blob = assemble(File(args.getOrElse(0) { "../sample_program.pvmasm" }).readText())
    val n = args.getOrNull(1)?.toULong() ?: 10UL
    for (backend in listOf(Backend.INTERPRETER, Backend.COMPILER)) {
        val instance = Instance(Module(Engine(EngineConfig(backend = backend)), blob))
        val host = Host()
        val outcome = instance.call("sum_of_squares", listOf(n), host, 100_000)
        if (outcome.result.status != Status.HALT) {
            System.err.println("the guest stopped with ${outcome.result.status}")
            exitProcess(1)
        }
        val total = outcome.regs[Reg.A0.ordinal]
        check(total == n * (n + 1UL) * (2UL * n + 1UL) / 6UL + n)
        println("[${backend.name.lowercase()}] sum_of_squares($n) = $total after ${host.reports} host calls, ${outcome.result.gasRemaining} gas left")
    }
}
