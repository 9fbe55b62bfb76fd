// Caller-owned buffers (Buffers.kt) and framebuffers; the same tests exist for Python
// (bindings/python/tests/test_buffers.py). The guest (tests/programs/framebuffer.pvmasm) writes
// known pixels: word i = seed + i * 0x01030507.

import io.polkavm.ffi.*
import java.io.File
import java.nio.ByteBuffer
import org.junit.jupiter.api.Assertions.*
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource

class BuffersTest {
    companion object {
        const val SEED = 0x11223344L
        val blob: ByteArray by lazy {
            assemble(File(System.getProperty("pvm.test.program")).resolveSibling("framebuffer.pvmasm").readText())
        }

        /** The byte at `offset` of what the guest's `fill` writes. */
        fun filled(offset: Int): Byte = ((SEED + (offset / 4) * 0x01030507L) ushr (8 * (offset % 4))).toByte()
    }

    private fun filledInstance(backend: Backend): Pair<Instance, UInt> {
        val module = Module(Engine(EngineConfig(backend = backend)), blob)
        val vm = Instance(module)
        val base = module.memoryInfo().rwDataAddress
        vm.prepareCallExport("fill", listOf(base.toULong(), 16384uL, SEED.toULong()))
        vm.setGas(10_000_000)
        assertEquals(Status.HALT, vm.run().status)
        return vm to base
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `memory moves through direct and heap ByteBuffers`(backend: Backend) {
        val (vm, base) = filledInstance(backend)
        val want = ByteArray(4096) { filled(it) }
        for (buffer in listOf(ByteBuffer.allocateDirect(4096), ByteBuffer.allocate(4096))) {
            vm.readMemoryInto(base, buffer)
            assertEquals(0, buffer.position())
            assertArrayEquals(want, ByteArray(4096).also { buffer.duplicate().get(it) })
        }
        val direct = ByteBuffer.allocateDirect(64).apply { repeat(64) { put(it.toByte()) }; flip() }
        vm.writeMemoryFrom(base + 8192u, direct)
        assertArrayEquals(ByteArray(64) { it.toByte() }, vm.readMemory(base + 8192u, 64u))
        val sliced = ByteBuffer.allocateDirect(16).position(8)
        vm.readMemoryInto(base, sliced)
        assertArrayEquals(want.copyOf(8), ByteArray(8).also { sliced.duplicate().get(it) })

        val copied = assertThrows<PvmException.Memory> { vm.readMemory(0u, 16u) }
        val into = assertThrows<PvmException.Memory> { vm.readMemoryInto(0u, ByteBuffer.allocateDirect(16)) }
        assertEquals(copied.message, into.message)
    }

    @ParameterizedTest
    @EnumSource(Backend::class)
    fun `framebuffers convert to packed RGB24`(backend: Backend) {
        val (vm, base) = filledInstance(backend)
        // 0x11223344 little-endian: B=0x44, G=0x33, R=0x22.
        val pixel = Framebuffer(base, 1u, 1u, 4u, PixelFormat.BGRA32)
        assertArrayEquals(byteArrayOf(0x22, 0x33, 0x44), vm.readFramebufferRgb24(pixel))
        assertArrayEquals(byteArrayOf(0x44, 0x33, 0x22), vm.readFramebufferRgb24(pixel.copy(format = PixelFormat.RGBA32)))

        val bgra = Framebuffer(base, 10u, 7u, 48u, PixelFormat.BGRA32)
        val want = ByteArray(10 * 7 * 3) { i ->
            val p = i / 3
            filled((p / 10) * 48 + 4 * (p % 10) + 2 - i % 3)
        }
        assertArrayEquals(want, vm.readFramebufferRgb24(bgra))
        val direct = ByteBuffer.allocateDirect(want.size)
        vm.readFramebufferInto(bgra, direct)
        assertArrayEquals(want, ByteArray(want.size).also { direct.get(it) })

        val palette = Framebuffer(base, 13u, 5u, 17u, PixelFormat.PALETTE8)
        val rgb = vm.readFramebufferRgb24(palette)
        for (p in 0 until 13 * 5) {
            val index = filled(769 + (p / 13) * 17 + p % 13).toInt() and 0xff
            for (c in 0 until 3) assertEquals(filled(1 + 3 * index + c), rgb[3 * p + c], "pixel $p")
        }

        val error = assertThrows<PvmException.InvalidArgument> { vm.readFramebufferRgb24(bgra.copy(stride = 39u)) }
        assertEquals("stride 39 is below one row of 10 pixels (40 bytes)", error.message)
        assertThrows<PvmException.InvalidArgument> { vm.readFramebufferInto(bgra, ByteBuffer.allocateDirect(209)) }
        assertThrows<PvmException.InvalidArgument> { vm.readFramebufferInto(bgra, ByteBuffer.allocate(209)) }
    }
}
