// Memory bandwidth through the Kotlin package, driven by benches/memory/run.py (`make bench-memory`):
//   java -cp ... MemoryBenchKt PROGRAM BACKEND ITERATIONS
// Prints "OPERATION MB/s" lines, each over ITERATIONS copies of a 640x400 BGRA frame (1,024,000
// bytes), after WARM_UP_NANOS of the same copies (see Bench.kt): the copying calls (ByteArray) and
// the caller-buffer ones (a direct ByteBuffer).

import io.polkavm.ffi.*
import java.io.File
import java.nio.ByteBuffer

const val FRAME = 640 * 400 * 4

fun main(args: Array<String>) {
    val (path, backend, count) = args
    val iterations = count.toInt()
    val engine = Engine(EngineConfig(backend = if (backend == "interpreter") Backend.INTERPRETER else Backend.COMPILER))
    val module = Module(engine, File(path).readBytes())
    val vm = Instance(module)
    val base = module.memoryInfo().rwDataAddress
    val bytes = ByteArray(FRAME) { 7 }
    val direct = ByteBuffer.allocateDirect(FRAME)
    val rgb = ByteBuffer.allocateDirect(640 * 400 * 3)
    val frame = Framebuffer(base, 640u, 400u, 640u * 4u, PixelFormat.BGRA32)
    val operations = listOf<Pair<String, () -> Unit>>(
        "readMemory (ByteArray)" to { vm.readMemory(base, FRAME.toUInt()) },
        "readMemoryInto (direct ByteBuffer)" to { vm.readMemoryInto(base, direct) },
        "writeMemory (ByteArray)" to { vm.writeMemory(base, bytes) },
        "writeMemoryFrom (direct ByteBuffer)" to { vm.writeMemoryFrom(base, direct) },
        "readFramebufferInto (direct ByteBuffer)" to { vm.readFramebufferInto(frame, rgb) },
    )
    for ((name, operation) in operations) {
        val warmUpEnd = System.nanoTime() + WARM_UP_NANOS / 4
        while (System.nanoTime() < warmUpEnd) operation()
        val start = System.nanoTime()
        repeat(iterations) { operation() }
        val seconds = (System.nanoTime() - start) / 1e9
        println("$name ${"%.1f".format(FRAME.toDouble() * iterations / seconds / 1e6)}")
    }
}
