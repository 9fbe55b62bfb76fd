//! C ABI: JAM mode, Graypaper program blobs with dynamic paging.

use super::*;

/// Instruction set: Graypaper 0.8.0's 64-bit PVM (polkavm's `jam_v1`).
pub const PVM_ISA_JAM_V1: u32 = 0;
/// Instruction set: 64-bit with the Graypaper's opcode numbering through 0.7.2 (the v0.4 test
/// vectors'; opcodes 102..111 are one higher than in `jam_v1`): polkavm's `revive_v1`.
pub const PVM_ISA_REVIVE_V1: u32 = 1;
/// Instruction set: polkavm's 32-bit one (`latest32`).
pub const PVM_ISA_LATEST32: u32 = 2;
/// Instruction set: polkavm's newest 64-bit one (`latest64`); it has no instruction bitmask, so the
/// blob is polkavm's own code-and-jump-table encoding for it.
pub const PVM_ISA_LATEST64: u32 = 3;

/// How `pvm_module_new_jam` loads a Graypaper program blob. Start from `pvm_jam_config_default()`,
/// then change fields.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PvmJamConfig {
    /// One of `PVM_ISA_*`; default `PVM_ISA_JAM_V1`.
    pub isa: u32,
    /// One of `PVM_GAS_METERING_*`; default sync.
    pub gas_metering: u32,
    /// Page size in bytes: a power of two, at least 4096; default 4096 (the Graypaper's).
    pub page_size: u32,
    /// Sizes of polkavm's memory regions (they shape `pvm_module_memory_info`); with dynamic paging
    /// nothing is mapped until the host maps it, so the default 0 suits JAM programs.
    pub ro_data_size: u32,
    pub rw_data_size: u32,
    pub stack_size: u32,
    pub aux_data_size: u32,
    /// Non-zero: also know the Graypaper pc after a halt (`pvm_instance_get_graypaper_pc`). This
    /// runs the program one instruction at a time internally: exact, but much slower. Default 0.
    pub halt_pc: u32,
    /// Non-zero: stop with `PVM_STATUS_STEP` after every instruction. Default 0.
    pub step_tracing: u32,
    /// Must be zero; room for future settings.
    pub reserved: [u32; 2],
    /// One of `PVM_COST_MODEL_*`; default `PVM_COST_MODEL_FULL_L2_HIT`, Graypaper 0.8.0's (the
    /// version whose opcode table `jam_v1` is). Graypaper 0.6.7–0.7.2 and the v0.4 test vectors
    /// need `PVM_COST_MODEL_NAIVE`; `PVM_COST_MODEL_DEFAULT` takes the engine's default.
    /// Since `PVM_ABI_VERSION` 3 (a reserved field before, so 0 meant the engine's naive model).
    pub cost_model: u32,
}

/// Default JAM settings: `PVM_ISA_JAM_V1`, sync gas metering, 4096-byte pages, no memory regions,
/// no halt-pc tracking, no step tracing, Graypaper 0.8.0's gas (`PVM_COST_MODEL_FULL_L2_HIT`).
#[no_mangle]
pub extern "C" fn pvm_jam_config_default() -> PvmJamConfig {
    PvmJamConfig {
        isa: PVM_ISA_JAM_V1,
        gas_metering: PVM_GAS_METERING_SYNC,
        page_size: 0x1000,
        ro_data_size: 0,
        rw_data_size: 0,
        stack_size: 0,
        aux_data_size: 0,
        halt_pc: 0,
        step_tracing: 0,
        reserved: [0; 2],
        cost_model: PVM_COST_MODEL_FULL_L2_HIT,
    }
}

fn jam_config(config: &PvmJamConfig) -> Result<JamConfig> {
    let isa = match config.isa {
        PVM_ISA_JAM_V1 => InstructionSet::JamV1,
        PVM_ISA_REVIVE_V1 => InstructionSet::ReviveV1,
        PVM_ISA_LATEST32 => InstructionSet::Latest32,
        PVM_ISA_LATEST64 => InstructionSet::Latest64,
        other => return Err(Error::invalid_argument(format!("unknown instruction set {other}"))),
    };
    if config.reserved != [0; 2] {
        return Err(Error::invalid_argument("reserved JAM config fields must be zero"));
    }
    Ok(JamConfig {
        isa,
        gas_metering: gas_metering(config.gas_metering)?,
        page_size: config.page_size,
        ro_data_size: config.ro_data_size,
        rw_data_size: config.rw_data_size,
        stack_size: config.stack_size,
        aux_data_size: config.aux_data_size,
        halt_pc: flag(config.halt_pc, "halt_pc")?,
        step_tracing: flag(config.step_tracing, "step_tracing")?,
        cost_model: cost_model(config.cost_model)?,
    })
}

/// Loads a Graypaper program blob (`len` bytes at `code`, copied: jump table, code and instruction
/// bitmask in the Graypaper's program encoding) with dynamic paging: no memory is mapped until
/// `pvm_instance_map_pages`. As the Graypaper says, running past the end of the code, or into an
/// opcode the instruction set does not know, panics at that pc. The engine must allow dynamic
/// paging. NULL on failure: NULL engine or config, NULL `code` with non-zero `len`, a malformed
/// blob, an unknown setting. Free with `pvm_module_free`; instantiate with `pvm_instance_new`.
///
/// # Safety
/// `engine` is NULL or a live engine handle.
/// `code` is NULL or points to `len` readable bytes.
/// `config` is NULL or points to a readable `PvmJamConfig`.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_new_jam(
    engine: PvmEngine,
    code: *const u8,
    len: usize,
    config: *const PvmJamConfig,
) -> PvmModule {
    guard(std::ptr::null_mut(), || {
        let engine = engine_arg(engine)?;
        let config = caller_value(config, "config")?;
        let module = Module::from_jam_code(engine, caller_slice(code, len, "code")?, &jam_config(config)?)?;
        Ok(into_handle(MODULE_TAG, module))
    })
}

/// Maps zeroed pages at `address` (page-aligned) covering `length` bytes (rounded up to whole
/// pages), writable if `writable` is 1, read-only if 0 (read-only for host writes too: map
/// writable, write, then `pvm_instance_protect_pages`). Dynamic-paging modules only. 0 ok, -1 on
/// failure (not page-aligned, no dynamic paging, `writable` not 0 or 1, NULL handle).
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_map_pages(instance: PvmInstance, address: u32, length: u32, writable: u32) -> i32 {
    guard(-1, || {
        let writable = flag(writable, "writable")?;
        instance_arg(instance)?.map_pages(address, length, writable)?;
        Ok(0)
    })
}

/// Makes mapped pages at `address` covering `length` bytes read-only (`read_only` 1) or writable
/// again (`read_only` 0). Dynamic-paging modules only. 0 ok, -1 on failure (unmapped or unaligned
/// pages, no dynamic paging, `read_only` not 0 or 1, NULL handle).
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_protect_pages(instance: PvmInstance, address: u32, length: u32, read_only: u32) -> i32 {
    guard(-1, || {
        let read_only = flag(read_only, "read_only")?;
        instance_arg(instance)?.protect_pages(address, length, read_only)?;
        Ok(0)
    })
}

/// Unmaps the pages at `address` covering `length` bytes; accessing them faults again. Dynamic-paging
/// modules only. 0 ok, -1 on failure (no dynamic paging, NULL handle).
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_free_pages(instance: PvmInstance, address: u32, length: u32) -> i32 {
    guard(-1, || {
        instance_arg(instance)?.free_pages(address, length)?;
        Ok(0)
    })
}

/// The program counter as the Graypaper reports it after the last run: the instruction that
/// trapped, faulted, ran out of gas, made the host call or stepped; after a halt, the instruction
/// that jumped to the halt address, known only for modules loaded with `halt_pc` or step tracing.
/// `PVM_PC_NONE` when unknown (before any run, an untracked halt) or on a NULL handle.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_get_graypaper_pc(instance: PvmInstance) -> u32 {
    guard(PVM_PC_NONE, || Ok(instance_arg(instance)?.graypaper_pc().unwrap_or(PVM_PC_NONE)))
}
