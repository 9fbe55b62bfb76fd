//! UniFFI API: guest memory and framebuffers read into, and written from, buffers the caller
//! owns. UniFFI moves byte arrays by copying them through a RustBuffer; these methods take the
//! address of the caller's buffer instead. The language wrappers (Python's `read_memory_into`,
//! Kotlin's `ByteBuffer` overloads) pass buffers they hold pinned for the call.

use super::*;

unsafe fn buffer_mut<'a>(pointer: u64, length: u32) -> Result<&'a mut [u8]> {
    if length == 0 {
        Ok(&mut [])
    } else if pointer == 0 {
        Err(PvmError::InvalidArgument(format!("buffer is NULL but its length is {length}")))
    } else {
        Ok(std::slice::from_raw_parts_mut(pointer as usize as *mut u8, length as usize))
    }
}

#[uniffi::export]
impl Instance {
    /// Unsafe: copies `length` bytes of guest memory at `address` to the host memory at
    /// `pointer`, which must be writable for `length` bytes. Use a wrapper that takes a buffer
    /// (Python: `read_memory_into`; Kotlin: `readMemoryInto(address, ByteBuffer)`).
    pub fn read_memory_to_pointer(&self, address: u32, pointer: u64, length: u32) -> Result<()> {
        let buffer = unsafe { buffer_mut(pointer, length)? };
        Ok(self.lock().core.read_memory_into(address, buffer)?)
    }

    /// Unsafe: copies `length` bytes from the host memory at `pointer`, which must be readable
    /// for `length` bytes, into guest memory at `address`. Use a wrapper that takes a buffer
    /// (Python: `write_memory_from`; Kotlin: `writeMemoryFrom(address, ByteBuffer)`).
    pub fn write_memory_from_pointer(&self, address: u32, pointer: u64, length: u32) -> Result<()> {
        let buffer = unsafe { buffer_mut(pointer, length)? };
        Ok(self.lock().core.write_memory(address, buffer)?)
    }
}

#[cfg(feature = "doom")]
#[uniffi::export]
impl Instance {
    /// The guest image `frame` as packed RGB24: R, G, B per pixel, rows without padding
    /// (width × height × 3 bytes).
    pub fn read_framebuffer_rgb24(&self, frame: crate::Framebuffer) -> Result<Vec<u8>> {
        let mut rgb = vec![0; frame.rgb24_size()?];
        self.lock().core.read_framebuffer_rgb24(&frame, &mut rgb)?;
        Ok(rgb)
    }

    /// Unsafe: like `read_framebuffer_rgb24`, writing the image to the host memory at `pointer`,
    /// which must be writable for `length` bytes (at least width × height × 3). Use a wrapper
    /// that takes a buffer (Python: `read_framebuffer_into`; Kotlin: `readFramebufferInto`).
    pub fn read_framebuffer_to_pointer(&self, frame: crate::Framebuffer, pointer: u64, length: u32) -> Result<()> {
        let buffer = unsafe { buffer_mut(pointer, length)? };
        Ok(self.lock().core.read_framebuffer_rgb24(&frame, buffer)?)
    }
}
