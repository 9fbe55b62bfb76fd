//! JAM mode: Graypaper program blobs (jump table, code and instruction bitmask, the Graypaper's
//! program encoding) loaded with dynamic paging, with the Graypaper's view of the program counter.

use polkavm::program::{InstructionSet as _, InstructionSetKind};
use polkavm::{ArcBytes, ProgramBlob, ProgramParts};

use crate::engine::Engine;
use crate::error::{catch_panic, Error, ErrorKind, Result};
use crate::instance::Instance;
use crate::module::{parse_container, CostModel, GasMetering, Module, ModuleConfig};

/// The instruction sets polkavm knows: how opcode bytes map to instructions. The numbers are the
/// C ABI's `PVM_ISA_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[repr(u32)]
pub enum InstructionSet {
    /// Graypaper 0.8.0's 64-bit PVM (polkavm's `jam_v1`): `unlikely` is opcode 2, no `sbrk`.
    JamV1 = 0,
    /// 64-bit, with the Graypaper's opcode numbering through 0.7.2 (which the JAM PVM test vectors
    /// v0.4 use): opcodes 102..111 (bit counting, sign/zero extension, byte reversal) are one
    /// higher than in `jam_v1`; polkavm's `revive_v1`.
    ReviveV1 = 1,
    /// polkavm's 32-bit instruction set (`latest32`), old numbering as well.
    Latest32 = 2,
    /// polkavm's newest 64-bit instruction set (`latest64`). Its code has no instruction bitmask,
    /// so the blob is polkavm's own encoding for it, loaded as it is.
    Latest64 = 3,
}

impl InstructionSet {
    pub const ALL: [InstructionSet; 4] =
        [InstructionSet::JamV1, InstructionSet::ReviveV1, InstructionSet::Latest32, InstructionSet::Latest64];

    /// polkavm's name for it: `jam_v1`, `revive_v1`, `latest32`, `latest64`.
    pub fn name(self) -> &'static str {
        self.raw().name()
    }

    pub fn from_name(name: &str) -> Option<InstructionSet> {
        Self::ALL.into_iter().find(|isa| isa.name() == name)
    }

    /// polkavm's own value for it.
    pub fn raw(self) -> InstructionSetKind {
        match self {
            InstructionSet::JamV1 => InstructionSetKind::JamV1,
            InstructionSet::ReviveV1 => InstructionSetKind::ReviveV1,
            InstructionSet::Latest32 => InstructionSetKind::Latest32,
            InstructionSet::Latest64 => InstructionSetKind::Latest64,
        }
    }
}

/// How to load a Graypaper program blob. Dynamic paging is always on: the host maps every page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JamConfig {
    pub isa: InstructionSet,
    pub gas_metering: GasMetering,
    /// Page size in bytes (the Graypaper's is 4096).
    pub page_size: u32,
    /// Sizes of polkavm's memory regions, which shape [`Module::memory_info`]; with dynamic paging
    /// nothing is mapped until the host maps it, so 0 (the default) is fine for JAM programs.
    pub ro_data_size: u32,
    pub rw_data_size: u32,
    pub stack_size: u32,
    pub aux_data_size: u32,
    /// Report the Graypaper pc after a halt too ([`Instance::graypaper_pc`]). polkavm forgets the
    /// pc on a halt, so this runs the program one instruction at a time internally (as polkavm's
    /// own test-vector tooling does): exact, but much slower. Off by default.
    pub halt_pc: bool,
    /// Stop with [`crate::Status::Step`] after every instruction.
    pub step_tracing: bool,
    /// The gas cost model. Default `Some(CostModel::FullL2Hit)`: Graypaper 0.8.0's, the version
    /// whose opcode table `jam_v1` is; `None` takes the engine's default. Graypaper 0.6.7–0.7.2
    /// (and the v0.4 test vectors) need [`CostModel::Naive`].
    pub cost_model: Option<CostModel>,
}

impl Default for JamConfig {
    fn default() -> Self {
        JamConfig {
            isa: InstructionSet::JamV1,
            gas_metering: GasMetering::Sync,
            page_size: 0x1000,
            ro_data_size: 0,
            rw_data_size: 0,
            stack_size: 0,
            aux_data_size: 0,
            halt_pc: false,
            step_tracing: false,
            cost_model: Some(CostModel::FullL2Hit),
        }
    }
}

impl Module {
    /// Loads a Graypaper program blob (`E(|j|) ⌢ E1(z) ⌢ E(|c|) ⌢ E_z(j) ⌢ E(c) ⌢ E(k)`) with
    /// dynamic paging. As the Graypaper says, the code is implicitly followed by traps and an
    /// opcode the instruction set does not know is a trap: both panic when executed, with the
    /// Graypaper's pc and gas, instead of being refused by polkavm's validator. For
    /// [`InstructionSet::Latest64`] the blob is polkavm's own encoding and is loaded unchanged.
    pub fn from_jam_code(engine: &Engine, code_blob: &[u8], config: &JamConfig) -> Result<Module> {
        if code_blob.is_empty() {
            return Err(Error::new(ErrorKind::InvalidProgram, "program blob is empty"));
        }
        let parse = |code_and_jump_table: ArcBytes| {
            let mut parts = ProgramParts::empty(config.isa.raw());
            parts.ro_data_size = config.ro_data_size;
            parts.rw_data_size = config.rw_data_size;
            parts.stack_size = config.stack_size;
            parts.code_and_jump_table = code_and_jump_table;
            catch_panic("parsing the program", || {
                ProgramBlob::from_parts(parts).map_err(|error| {
                    Error::new(
                        ErrorKind::InvalidProgram,
                        format!("blob is not a valid {} program: {error}", config.isa.name()),
                    )
                })
            })
        };
        let blob = parse(ArcBytes::from(code_blob))?;
        let blob = if config.isa.raw().is_legacy() { parse(ArcBytes::from(with_graypaper_traps(&blob, code_blob)))? } else { blob };
        let module_config = ModuleConfig {
            gas_metering: config.gas_metering,
            step_tracing: config.step_tracing,
            dynamic_paging: true,
            page_size: config.page_size,
            aux_data_size: config.aux_data_size,
            strict: false,
            cost_model: config.cost_model,
        };
        Module::from_program_blob_tracking_halt_pc(engine, blob, &module_config, config.halt_pc)
    }
}

/// Re-encodes a parsed legacy-ISA blob so that polkavm runs it as the Graypaper does: one trap
/// appended after the code (the first of the Graypaper's implicit ones, marked as an instruction
/// start), and every unknown opcode replaced by a trap. Program counters are unchanged.
fn with_graypaper_traps(blob: &ProgramBlob, original: &[u8]) -> Vec<u8> {
    const TRAP: u8 = 0;
    let isa = blob.isa();
    let mut code = blob.code().to_vec();
    for (offset, byte) in code.iter_mut().enumerate() {
        if is_instruction_start(blob.bitmask(), offset) && isa.opcode_from_raw(u32::from(*byte)).is_none() {
            *byte = TRAP;
        }
    }
    code.push(TRAP);
    let mut bitmask = vec![0; code.len().div_ceil(8)];
    for offset in (0..code.len() - 1).filter(|&offset| is_instruction_start(blob.bitmask(), offset)) {
        bitmask[offset / 8] |= 1 << (offset % 8);
    }
    bitmask[(code.len() - 1) / 8] |= 1 << ((code.len() - 1) % 8);
    let jump_table_entry_size = original[varint_length(original[0])];
    encode_graypaper_blob(blob, jump_table_entry_size, &code, &bitmask)
}

fn is_instruction_start(bitmask: &[u8], offset: usize) -> bool {
    bitmask[offset / 8] & (1 << (offset % 8)) != 0
}

/// The Graypaper program blob of a program in a bitmask-based instruction set (`jam_v1`,
/// `revive_v1`, `latest32`), e.g. one parsed from a `.polkavm` container made by polkavm's
/// assembler: what [`Module::from_jam_code`] loads. `None` for `latest64`, which has no bitmask.
pub fn graypaper_blob(blob: &ProgramBlob) -> Option<Vec<u8>> {
    if !blob.isa().is_legacy() {
        return None;
    }
    let largest_entry = blob.jump_table().iter().map(|pc| pc.0).max().unwrap_or(0);
    let entry_size = (32 - largest_entry.leading_zeros()).div_ceil(8).max(1) as u8;
    Some(encode_graypaper_blob(blob, entry_size, blob.code(), blob.bitmask()))
}

/// [`graypaper_blob`] of a `.polkavm` container, parsed with the checks [`Module::new`] makes;
/// an [`ErrorKind::Unsupported`] error for `latest64`.
pub fn graypaper_blob_of_container(container: &[u8]) -> Result<Vec<u8>> {
    let blob = parse_container(container)?;
    graypaper_blob(&blob).ok_or_else(|| {
        Error::new(
            ErrorKind::Unsupported,
            format!("{} programs have no Graypaper encoding (no instruction bitmask)", blob.isa().name()),
        )
    })
}

/// `E(|j|) ⌢ E1(z) ⌢ E(|c|) ⌢ E_z(j) ⌢ E(c) ⌢ E(k)` with `blob`'s jump table.
fn encode_graypaper_blob(blob: &ProgramBlob, jump_table_entry_size: u8, code: &[u8], bitmask: &[u8]) -> Vec<u8> {
    let jump_table = blob.jump_table();
    let mut encoded = Vec::with_capacity(code.len() + bitmask.len() + jump_table.len() as usize * 4 + 12);
    push_varint(&mut encoded, jump_table.len());
    encoded.push(jump_table_entry_size);
    push_varint(&mut encoded, code.len() as u32);
    for target in jump_table.iter() {
        encoded.extend_from_slice(&target.0.to_le_bytes()[..usize::from(jump_table_entry_size)]);
    }
    encoded.extend_from_slice(code);
    encoded.extend_from_slice(bitmask);
    encoded
}

/// Length in bytes of the varint (the Graypaper's natural-number encoding) starting with `first`.
fn varint_length(first: u8) -> usize {
    1 + first.leading_ones() as usize
}

fn push_varint(out: &mut Vec<u8>, value: u32) {
    let mut buffer = [0; polkavm_common::varint::MAX_VARINT_LENGTH];
    let length = polkavm_common::varint::write_varint(value, &mut buffer);
    out.extend_from_slice(&buffer[..length]);
}

impl Instance {
    /// The program counter as the Graypaper reports it after the last stop: the instruction that
    /// trapped, faulted, ran out of gas or made the host call, or after a halt the instruction that
    /// jumped to the halt address (known only for modules that step: [`JamConfig::halt_pc`] or
    /// step tracing). `None` before any run, or after a halt that was not tracked.
    pub fn graypaper_pc(&self) -> Option<u32> {
        self.pc().or_else(|| self.halted_at())
    }
}
