//! Guest framebuffers converted to packed RGB24 for the host (feature `doom`).

use crate::error::{Error, Result};
use crate::instance::Instance;

/// How a guest lays out its pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[repr(u32)]
pub enum PixelFormat {
    /// 1 header byte, a 256-entry RGB palette (768 bytes), then rows of one palette index per
    /// pixel: the layout of the original `pvm_instance_read_framebuffer_rgb24`.
    Palette8 = 0,
    /// 4 bytes per pixel in the order B, G, R, A: little-endian 0xAARRGGBB words, what
    /// polkavm's Doom guest hands `ext_output_video` (and what SDL calls ARGB8888).
    Bgra32 = 1,
    /// 4 bytes per pixel in the order R, G, B, A.
    Rgba32 = 2,
}

pub const PALETTE_HEADER_SIZE: u32 = 1 + 256 * 3;
const READ_BATCH: usize = 64 * 1024;

impl PixelFormat {
    pub fn from_index(index: u32) -> Result<PixelFormat> {
        match index {
            0 => Ok(PixelFormat::Palette8),
            1 => Ok(PixelFormat::Bgra32),
            2 => Ok(PixelFormat::Rgba32),
            _ => Err(Error::invalid_argument(format!("pixel format {index} is unknown (0 palette8, 1 bgra32, 2 rgba32)"))),
        }
    }

    pub fn bytes_per_pixel(self) -> u32 {
        match self {
            PixelFormat::Palette8 => 1,
            PixelFormat::Bgra32 | PixelFormat::Rgba32 => 4,
        }
    }
}

/// Where a guest's image lies: `height` rows of `width` pixels, each row `stride` bytes after
/// the one before (for `Palette8`, counted from after the palette).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Framebuffer {
    pub address: u32,
    pub width: u32,
    pub height: u32,
    /// Bytes from the start of one row to the start of the next, at least `width` pixels.
    pub stride: u32,
    pub format: PixelFormat,
}

impl Framebuffer {
    /// Bytes of the packed RGB24 image: width × height × 3. Checks every size first.
    pub fn rgb24_size(&self) -> Result<usize> {
        let Framebuffer { address, width, height, stride, format } = *self;
        if width == 0 || height == 0 {
            return Err(Error::invalid_argument(format!("framebuffer is {width}x{height}: width and height must be non-zero")));
        }
        let row = u64::from(width) * u64::from(format.bytes_per_pixel());
        if u64::from(stride) < row {
            return Err(Error::invalid_argument(format!(
                "stride {stride} is below one row of {width} pixels ({row} bytes)"
            )));
        }
        let header = if format == PixelFormat::Palette8 { u64::from(PALETTE_HEADER_SIZE) } else { 0 };
        let extent = header + u64::from(stride) * u64::from(height - 1) + row;
        if u64::from(address) + extent > 1 << 32 {
            return Err(Error::invalid_argument(format!(
                "framebuffer of {extent} bytes at 0x{address:08x} runs past the end of the address space"
            )));
        }
        let size = u64::from(width) * u64::from(height) * 3;
        usize::try_from(size).map_err(|_| Error::invalid_argument(format!("an RGB24 image of {size} bytes is too large")))
    }
}

impl Instance {
    /// Reads the guest image `frame` and writes it as packed RGB24 (R, G, B per pixel, rows
    /// without padding) into the first `frame.rgb24_size()` bytes of `rgb`.
    pub fn read_framebuffer_rgb24(&mut self, frame: &Framebuffer, rgb: &mut [u8]) -> Result<()> {
        let size = frame.rgb24_size()?;
        if rgb.len() < size {
            return Err(Error::invalid_argument(format!(
                "the RGB24 buffer of {} bytes is below the {size} bytes a {}x{} image needs",
                rgb.len(),
                frame.width,
                frame.height
            )));
        }
        let mut palette = [0u8; 768];
        let mut pixels = frame.address;
        if frame.format == PixelFormat::Palette8 {
            self.read_memory_into(frame.address + 1, &mut palette)?;
            pixels += PALETTE_HEADER_SIZE;
        }
        // Rows are read in batches of about 64 KiB: each read is a system call on the JIT.
        let row_bytes = (frame.width * frame.format.bytes_per_pixel()) as usize;
        let stride = frame.stride as usize;
        let rows_per_read = (READ_BATCH / stride).clamp(1, frame.height as usize);
        let mut batch = vec![0u8; stride * (rows_per_read - 1) + row_bytes];
        for (index, out) in rgb[..size].chunks_mut(frame.width as usize * 3 * rows_per_read).enumerate() {
            let rows = out.len() / (frame.width as usize * 3);
            let batch = &mut batch[..stride * (rows - 1) + row_bytes];
            self.read_memory_into(pixels + (index * rows_per_read * stride) as u32, batch)?;
            for (y, out) in out.chunks_exact_mut(frame.width as usize * 3).enumerate() {
                let row = &batch[y * stride..y * stride + row_bytes];
                match frame.format {
                    PixelFormat::Palette8 => {
                        for (&index, out) in row.iter().zip(out.chunks_exact_mut(3)) {
                            let entry = index as usize * 3;
                            out.copy_from_slice(&palette[entry..entry + 3]);
                        }
                    }
                    PixelFormat::Bgra32 => pack_rgb24(row, out, |word| (word >> 16) & 0xff | word & 0xff00 | (word & 0xff) << 16),
                    PixelFormat::Rgba32 => pack_rgb24(row, out, |word| word & 0xff_ffff),
                }
            }
        }
        Ok(())
    }
}

/// Packs 4-byte pixels into RGB24: `rgb` turns a pixel's little-endian word into R | G << 8 |
/// B << 16. Four pixels at a time, as three word stores.
#[inline(always)]
fn pack_rgb24(row: &[u8], out: &mut [u8], rgb: impl Fn(u32) -> u32) {
    let word = |bytes: &[u8], at: usize| rgb(u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]));
    let mut source = row.chunks_exact(16);
    let mut target = out.chunks_exact_mut(12);
    for (source, target) in (&mut source).zip(&mut target) {
        let source: &[u8; 16] = source.try_into().unwrap();
        let target: &mut [u8; 12] = target.try_into().unwrap();
        let (a, b, c, d) = (word(source, 0), word(source, 4), word(source, 8), word(source, 12));
        let packed = [a | b << 24, b >> 8 | c << 16, c >> 16 | d << 8];
        for (target, packed) in target.chunks_exact_mut(4).zip(packed) {
            target.copy_from_slice(&packed.to_le_bytes());
        }
    }
    for (source, target) in source.remainder().chunks_exact(4).zip(target.into_remainder().chunks_exact_mut(3)) {
        target.copy_from_slice(&word(source, 0).to_le_bytes()[..3]);
    }
}
