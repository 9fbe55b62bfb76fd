//! C ABI: framebuffers as RGB24 (feature `doom`).

use super::*;
use crate::framebuffer::{Framebuffer, PixelFormat, PALETTE_HEADER_SIZE};

/// Pixel format: 1 header byte, a 256-entry RGB palette (768 bytes), then rows of one palette
/// index per pixel (the layout `pvm_instance_read_framebuffer_rgb24` reads).
pub const PVM_PIXEL_FORMAT_PALETTE8: u32 = 0;
/// Pixel format: 4 bytes per pixel in the order B, G, R, A (little-endian 0xAARRGGBB words, what
/// SDL calls ARGB8888): polkavm's Doom guest's `ext_output_video` frames.
pub const PVM_PIXEL_FORMAT_BGRA32: u32 = 1;
/// Pixel format: 4 bytes per pixel in the order R, G, B, A.
pub const PVM_PIXEL_FORMAT_RGBA32: u32 = 2;

/// Size of the palette-indexed 320x200 framebuffer `pvm_instance_read_framebuffer_rgb24` reads:
/// 1 header byte, a 256-entry RGB palette, 320x200 palette indices.
pub const PVM_DOOM_FRAMEBUFFER_SIZE: u32 = 1 + 768 + 320 * 200;
/// Size of the RGB24 image `pvm_instance_read_framebuffer_rgb24` writes.
pub const PVM_DOOM_RGB24_SIZE: u32 = 320 * 200 * 3;

const _: () = {
    assert!(PVM_DOOM_FRAMEBUFFER_SIZE == PALETTE_HEADER_SIZE + 320 * 200);
    assert!(PVM_PIXEL_FORMAT_PALETTE8 == PixelFormat::Palette8 as u32);
    assert!(PVM_PIXEL_FORMAT_BGRA32 == PixelFormat::Bgra32 as u32 && PVM_PIXEL_FORMAT_RGBA32 == PixelFormat::Rgba32 as u32);
};

/// Reads the palette-indexed 320x200 framebuffer (`PVM_PIXEL_FORMAT_PALETTE8`) of `fb_size` bytes
/// at `fb_addr` and writes it as 320x200 RGB24 (`PVM_DOOM_RGB24_SIZE` bytes) into `rgb`. Only
/// that one layout; `pvm_instance_read_framebuffer` reads any size and format. 0 ok, -1 if
/// `fb_size` or `rgb_len` is too small, the memory is unreadable, or a pointer or handle is NULL.
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
        let frame = Framebuffer { address: fb_addr, width: 320, height: 200, stride: 320, format: PixelFormat::Palette8 };
        instance.read_framebuffer_rgb24(&frame, caller_slice_mut(rgb, rgb_len as usize, "rgb")?)?;
        Ok(0)
    })
}

/// Reads the guest image at `addr` — `height` rows of `width` pixels in `format`
/// (`PVM_PIXEL_FORMAT_*`), each row `stride` bytes after the one before (for
/// `PVM_PIXEL_FORMAT_PALETTE8` the rows start after the 769-byte header and palette) — and writes
/// it as packed RGB24 (R, G, B per pixel, no row padding: `width * height * 3` bytes) into `rgb`.
/// 0 ok; -1 if a size is zero or does not fit (`stride` below a row, the image past the end of
/// the address space, `rgb_len` below `width * height * 3`), the format is unknown, the memory
/// is unreadable, or a pointer or handle is NULL.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
/// `rgb` is NULL or points to `rgb_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_read_framebuffer(
    instance: PvmInstance,
    addr: u32,
    width: u32,
    height: u32,
    stride: u32,
    format: u32,
    rgb: *mut u8,
    rgb_len: u32,
) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        let frame = Framebuffer { address: addr, width, height, stride, format: PixelFormat::from_index(format)? };
        instance.read_framebuffer_rgb24(&frame, caller_slice_mut(rgb, rgb_len as usize, "rgb")?)?;
        Ok(0)
    })
}
