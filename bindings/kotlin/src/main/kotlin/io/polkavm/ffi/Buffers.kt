// Guest memory and framebuffers read into, and written from, buffers the caller owns. UniFFI
// moves ByteArrays by copying them; for a direct ByteBuffer these pass its address instead, so the
// library copies straight between it and guest memory. A heap ByteBuffer goes through the copying
// calls. The buffer's position and limit do not move: its remaining bytes are the ones used.
package io.polkavm.ffi

import com.sun.jna.Native
import com.sun.jna.Pointer
import java.lang.ref.Reference
import java.nio.ByteBuffer

private inline fun <T> ByteBuffer.withAddress(use: (address: ULong, length: UInt) -> T): T {
    val address = Pointer.nativeValue(Native.getDirectBufferPointer(this)) + position()
    try {
        return use(address.toULong(), remaining().toUInt())
    } finally {
        Reference.reachabilityFence(this)
    }
}

/** Fills `buffer`'s remaining bytes with guest memory at `address`. */
fun Instance.readMemoryInto(address: UInt, buffer: ByteBuffer) {
    if (buffer.isDirect) {
        buffer.withAddress { pointer, length -> readMemoryToPointer(address, pointer, length) }
    } else {
        buffer.duplicate().put(readMemory(address, buffer.remaining().toUInt()))
    }
}

/** Copies `buffer`'s remaining bytes into guest memory at `address`. */
fun Instance.writeMemoryFrom(address: UInt, buffer: ByteBuffer) {
    if (buffer.isDirect) {
        buffer.withAddress { pointer, length -> writeMemoryFromPointer(address, pointer, length) }
    } else {
        val bytes = ByteArray(buffer.remaining())
        buffer.duplicate().get(bytes)
        writeMemory(address, bytes)
    }
}

/** Writes the guest image `frame` as packed RGB24 (width × height × 3 bytes) into `buffer`'s remaining bytes. */
fun Instance.readFramebufferInto(frame: Framebuffer, buffer: ByteBuffer) {
    if (buffer.isDirect) {
        buffer.withAddress { pointer, length -> readFramebufferToPointer(frame, pointer, length) }
    } else {
        val rgb = readFramebufferRgb24(frame)
        if (rgb.size > buffer.remaining()) {
            throw PvmException.InvalidArgument(
                "the RGB24 buffer of ${buffer.remaining()} bytes is below the ${rgb.size} bytes a ${frame.width}x${frame.height} image needs"
            )
        }
        buffer.duplicate().put(rgb)
    }
}
