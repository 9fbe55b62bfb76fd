//! Writes a synthetic Doom guest for testing the Doom hosts without the real game: it imports
//! the functions polkavm's Doom guest imports, with the same signatures, and draws a known frame.
//!
//!   cargo run --release --example doom-test-guest -- OUT.polkavm
//!
//! `ext_initialize` asks `ext_rom_size` for the WAD's size, reads its first 4 bytes with
//! `ext_rom_read` and prints a line through `ext_stdout`. Each `ext_tick` draws a 64x40 BGRA
//! frame whose pixel i is the little-endian word `rom + tick * 0x00010307 + i * 0x01030507`
//! (mod 2^32; `rom` the WAD's first 4 bytes as a little-endian word, `tick` counted from 1),
//! hands it to `ext_output_video` and 64 samples of it to `ext_output_audio`. The guest keeps
//! its state below its stack pointer, so it does not depend on the memory layout.
//! `examples/doom/test.py` checks the hosts' screenshots against that formula.

use polkavm_common::program::{Instruction, InstructionSetKind, RawReg, Reg};
use polkavm_common::writer::ProgramBlobBuilder;

const WIDTH: i32 = 64;
const HEIGHT: i32 = 40;
/// The frame, then the state words, lie this far below the stack pointer.
const BASE_BELOW_SP: i32 = 16384;
const TICK: i32 = WIDTH * HEIGHT * 4;
const ROM_WORD: i32 = TICK + 4;
const MESSAGE: i32 = TICK + 8;

// Import indices (the ecalli numbers); deliberately not in the order a host might assume.
const STDOUT: i32 = 0;
const ROM_SIZE: i32 = 1;
const ROM_READ: i32 = 2;
const OUTPUT_VIDEO: i32 = 3;
const OUTPUT_AUDIO: i32 = 4;
const IMPORTS: [&[u8]; 5] = [b"ext_stdout", b"ext_rom_size", b"ext_rom_read", b"ext_output_video", b"ext_output_audio"];

fn r(reg: Reg) -> RawReg {
    reg.into()
}

fn main() {
    let out = std::env::args().nth(1).expect("usage: doom-test-guest OUT.polkavm");
    use Instruction as I;
    use Reg::*;
    let base = || I::add_imm_64(r(S0), r(SP), -BASE_BELOW_SP);
    let ret = I::jump_indirect(r(RA), 0);
    // Basic blocks: 0 ext_initialize, 1 ext_tick, 2 its fill loop, 3 after the loop, 4 ext_on_keychange.
    let mut code = vec![
        // ext_initialize
        base(),
        I::store_imm_indirect_u32(r(S0), TICK, 0),
        I::ecalli(ROM_SIZE),
        I::move_reg(r(S1), r(A0)),
        I::add_imm_64(r(A0), r(S0), ROM_WORD),
        I::load_imm(r(A1), 0),
        I::load_imm(r(A2), 4),
        I::ecalli(ROM_READ),
    ];
    // "synthetic doom\n" (15 bytes) below the state, then ext_stdout(message, 15).
    for (i, chunk) in b"synthetic doom\n\0".chunks(4).enumerate() {
        let word = u32::from_le_bytes(chunk.try_into().unwrap()) as i32;
        code.push(I::store_imm_indirect_u32(r(S0), MESSAGE + 4 * i as i32, word));
    }
    code.extend([
        I::add_imm_64(r(A0), r(S0), MESSAGE),
        I::load_imm(r(A1), 15),
        I::ecalli(STDOUT),
        ret,
        // ext_tick
        base(),
        I::load_indirect_u32(r(A3), r(S0), TICK),
        I::add_imm_32(r(A3), r(A3), 1),
        I::store_indirect_u32(r(A3), r(S0), TICK),
        I::load_indirect_u32(r(A4), r(S0), ROM_WORD),
        I::mul_imm_32(r(A5), r(A3), 0x0001_0307),
        I::add_32(r(A2), r(A4), r(A5)),
        I::move_reg(r(A0), r(S0)),
        I::load_imm(r(A1), WIDTH * HEIGHT),
        I::fallthrough,
        // the fill loop
        I::store_indirect_u32(r(A2), r(A0), 0),
        I::add_imm_32(r(A2), r(A2), 0x0103_0507),
        I::add_imm_64(r(A0), r(A0), 4),
        I::add_imm_32(r(A1), r(A1), -1),
        I::branch_not_eq_imm(r(A1), 0, 2),
        // after it: ext_output_video(frame, 64, 40), ext_output_audio(frame, 64)
        I::move_reg(r(A0), r(S0)),
        I::load_imm(r(A1), WIDTH),
        I::load_imm(r(A2), HEIGHT),
        I::ecalli(OUTPUT_VIDEO),
        I::move_reg(r(A0), r(S0)),
        I::load_imm(r(A1), 64),
        I::ecalli(OUTPUT_AUDIO),
        ret,
        // ext_on_keychange(key, pressed): nothing to do
        ret,
    ]);

    let mut builder = ProgramBlobBuilder::new(InstructionSetKind::JamV1);
    builder.set_stack_size(65536);
    for import in IMPORTS {
        builder.add_import(import);
    }
    builder.add_export_by_basic_block(0, b"ext_initialize");
    builder.add_export_by_basic_block(1, b"ext_tick");
    builder.add_export_by_basic_block(4, b"ext_on_keychange");
    builder.set_code(&code, &[]);
    std::fs::write(&out, builder.into_vec().expect("the guest builds")).expect("writing the guest");
}
