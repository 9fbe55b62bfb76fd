//! C ABI: the Doom framebuffer helper (feature `doom`).

use super::*;

/// Size of a Doom framebuffer: 1 header byte, a 256-entry RGB palette, 320x200 palette indices.
pub const PVM_DOOM_FRAMEBUFFER_SIZE: u32 = 1 + 768 + 320 * 200;
/// Size of the RGB24 image `pvm_instance_read_framebuffer_rgb24` writes.
pub const PVM_DOOM_RGB24_SIZE: u32 = 320 * 200 * 3;

/// Reads a Doom framebuffer of `fb_size` bytes at `fb_addr` and writes it as 320x200 RGB24
/// (`PVM_DOOM_RGB24_SIZE` bytes) into `rgb`. 0 ok, -1 if `fb_size` or `rgb_len` is too small,
/// the memory is unreadable, or a pointer or handle is NULL.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
/// `rgb` is NULL or points to `rgb_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_read_framebuffer_rgb24(
    instance: PvmInstance,
    fb_addr: u32,
    fb_size: u32,
    rgb: *mut u8,
    rgb_len: u32,
) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        if fb_size < PVM_DOOM_FRAMEBUFFER_SIZE {
            return Err(Error::invalid_argument(format!("fb_size {fb_size} is below {PVM_DOOM_FRAMEBUFFER_SIZE}")));
        }
        if rgb_len < PVM_DOOM_RGB24_SIZE {
            return Err(Error::invalid_argument(format!("rgb_len {rgb_len} is below {PVM_DOOM_RGB24_SIZE}")));
        }
        let out = caller_slice_mut(rgb, rgb_len as usize, "rgb")?;
        let frame = instance.read_memory(fb_addr, PVM_DOOM_FRAMEBUFFER_SIZE)?;
        let (palette, pixels) = frame[1..].split_at(768);
        for (pixel, out) in pixels.iter().zip(out.chunks_exact_mut(3)) {
            let index = *pixel as usize * 3;
            out.copy_from_slice(&palette[index..index + 3]);
        }
        Ok(0)
    })
}
