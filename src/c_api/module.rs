//! C ABI: modules (loading programs, exports, imports, memory layout).

use super::*;

/// Default module settings: sync gas metering, no step tracing, no dynamic paging, 4096-byte
/// pages, no aux data, not strict, the engine's cost model.
#[no_mangle]
pub extern "C" fn pvm_module_config_default() -> PvmModuleConfig {
    PvmModuleConfig {
        gas_metering: PVM_GAS_METERING_SYNC,
        step_tracing: 0,
        dynamic_paging: 0,
        page_size: 0x1000,
        aux_data_size: 0,
        strict: 0,
        reserved: [0; 1],
        cost_model: PVM_COST_MODEL_DEFAULT,
    }
}

pub(super) fn gas_metering(value: u32) -> Result<GasMetering> {
    match value {
        PVM_GAS_METERING_NONE => Ok(GasMetering::Disabled),
        PVM_GAS_METERING_SYNC => Ok(GasMetering::Sync),
        PVM_GAS_METERING_ASYNC => Ok(GasMetering::Async),
        other => Err(Error::invalid_argument(format!("unknown gas metering kind {other}"))),
    }
}

/// `None` for `PVM_COST_MODEL_DEFAULT`.
pub(super) fn cost_model(value: u32) -> Result<Option<CostModel>> {
    match value {
        PVM_COST_MODEL_DEFAULT => Ok(None),
        PVM_COST_MODEL_NAIVE => Ok(Some(CostModel::Naive)),
        PVM_COST_MODEL_FULL_L1_HIT => Ok(Some(CostModel::FullL1Hit)),
        PVM_COST_MODEL_FULL_L2_HIT => Ok(Some(CostModel::FullL2Hit)),
        PVM_COST_MODEL_FULL_L3_HIT => Ok(Some(CostModel::FullL3Hit)),
        other => Err(Error::invalid_argument(format!("unknown cost model {other}"))),
    }
}

fn module_config(config: &PvmModuleConfig) -> Result<ModuleConfig> {
    let gas_metering = gas_metering(config.gas_metering)?;
    if config.reserved != [0; 1] {
        return Err(Error::invalid_argument("reserved module config fields must be zero"));
    }
    Ok(ModuleConfig {
        gas_metering,
        step_tracing: flag(config.step_tracing, "step_tracing")?,
        dynamic_paging: flag(config.dynamic_paging, "dynamic_paging")?,
        page_size: config.page_size,
        aux_data_size: config.aux_data_size,
        strict: flag(config.strict, "strict")?,
        cost_model: cost_model(config.cost_model)?,
    })
}

/// Loads a PolkaVM program blob (`len` bytes at `blob`, copied) with the given settings. NULL on
/// failure: NULL engine or config, NULL blob with non-zero length, an empty, corrupt or truncated
/// blob, settings the engine cannot honour. Free with `pvm_module_free`.
///
/// # Safety
/// `engine` is NULL or a live engine handle.
/// `blob` is NULL or points to `len` readable bytes.
/// `config` is NULL or points to a readable `PvmModuleConfig`.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_new_with_config(
    engine: PvmEngine,
    blob: *const u8,
    len: usize,
    config: *const PvmModuleConfig,
) -> PvmModule {
    guard(std::ptr::null_mut(), || {
        let engine = engine_arg(engine)?;
        let config = caller_value(config, "config")?;
        let module = Module::new(engine, caller_slice(blob, len, "blob")?, &module_config(config)?)?;
        Ok(into_handle(MODULE_TAG, module))
    })
}

/// Loads a program blob with gas metering on. NULL on failure (see `pvm_module_new_with_config`).
///
/// # Safety
/// `engine` is NULL or a live engine handle.
/// `blob` is NULL or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_new(engine: PvmEngine, blob: *const u8, len: usize) -> PvmModule {
    pvm_module_new_with_config(engine, blob, len, &pvm_module_config_default())
}

/// Like `pvm_module_new`, plus step tracing: every run stops with `PVM_STATUS_STEP` after each
/// instruction.
///
/// # Safety
/// `engine` is NULL or a live engine handle.
/// `blob` is NULL or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_new_step(engine: PvmEngine, blob: *const u8, len: usize) -> PvmModule {
    let config = PvmModuleConfig { step_tracing: 1, ..pvm_module_config_default() };
    pvm_module_new_with_config(engine, blob, len, &config)
}

/// Frees a module. Instances made from it stay usable. NULL is ignored.
///
/// # Safety
/// `module` is NULL or a live module handle.
/// No other thread uses the handle during the call, and nobody uses it afterwards.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_free(module: PvmModule) {
    if !module.is_null() {
        guard((), || free_handle::<Module, _>(module, MODULE_TAG, "module"))
    }
}

/// The module's memory layout; all zero for a NULL or invalid handle.
///
/// # Safety
/// `module` is NULL or a live module handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_memory_info(module: PvmModule) -> PvmMemoryInfo {
    guard(PvmMemoryInfo::default(), || {
        let info = module_arg(module)?.memory_info();
        Ok(PvmMemoryInfo {
            ro_data_address: info.ro_data_address,
            ro_data_size: info.ro_data_size,
            rw_data_address: info.rw_data_address,
            rw_data_size: info.rw_data_size,
            stack_address_low: info.stack_address_low,
            stack_address_high: info.stack_address_high,
            heap_base: info.heap_base,
        })
    })
}

/// Number of exports; 0 for a NULL or invalid handle.
///
/// # Safety
/// `module` is NULL or a live module handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_exports_count(module: PvmModule) -> u32 {
    guard(0, || Ok(module_arg(module)?.exports().len() as u32))
}

/// Copies at most `buf_len` bytes of export `index`'s name (not NUL-terminated) into `buf` and
/// returns the full name length. `buf` may be NULL when `buf_len` is 0 (to query the length).
/// -1 if there is no such export, or on a NULL handle, or NULL `buf` with non-zero `buf_len`.
///
/// # Safety
/// `module` is NULL or a live module handle.
/// `buf` is NULL or points to `buf_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_export_name(module: PvmModule, index: u32, buf: *mut u8, buf_len: u32) -> i32 {
    guard(-1, || {
        let module = module_arg(module)?;
        let export = nth(module.exports(), index, "export")?;
        copy_name(&export.name, buf, buf_len)
    })
}

/// Program counter of export `index`; `PVM_PC_NONE` if there is no such export or the handle is
/// NULL.
///
/// # Safety
/// `module` is NULL or a live module handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_export_pc(module: PvmModule, index: u32) -> u32 {
    guard(PVM_PC_NONE, || {
        let module = module_arg(module)?;
        let export = nth(module.exports(), index, "export")?;
        Ok(export.pc)
    })
}

/// The gas the basic block starting at `pc` costs under the module's cost model (charged when the
/// block is entered); -1 if no basic block starts at `pc`, or on a NULL handle.
/// Since `PVM_ABI_VERSION` 3.
///
/// # Safety
/// `module` is NULL or a live module handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_block_gas_cost(module: PvmModule, pc: u32) -> i64 {
    guard(-1, || {
        module_arg(module)?
            .block_gas_cost(pc)
            .ok_or_else(|| Error::invalid_argument(format!("no basic block starts at pc {pc}")))
    })
}

/// Index of the export named by the `name_len` bytes at `name`; -1 if none (or NULL handle, or
/// NULL `name` with non-zero length).
///
/// # Safety
/// `module` is NULL or a live module handle.
/// `name` is NULL or points to `name_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_find_export(module: PvmModule, name: *const u8, name_len: usize) -> i32 {
    guard(-1, || {
        let module = module_arg(module)?;
        let name = caller_slice(name, name_len, "name")?;
        module.exports().iter().position(|export| export.name == name).map(|index| index as i32).ok_or_else(|| {
            Error::invalid_argument(format!("no export named \"{}\"", String::from_utf8_lossy(name)))
        })
    })
}

/// Number of imports (host functions the program may call: `ecalli N` calls import N); 0 for a
/// NULL or invalid handle.
///
/// # Safety
/// `module` is NULL or a live module handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_imports_count(module: PvmModule) -> u32 {
    guard(0, || Ok(module_arg(module)?.imports().len() as u32))
}

/// Like `pvm_module_export_name`, for import `index`.
///
/// # Safety
/// `module` is NULL or a live module handle.
/// `buf` is NULL or points to `buf_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_import_name(module: PvmModule, index: u32, buf: *mut u8, buf_len: u32) -> i32 {
    guard(-1, || {
        let module = module_arg(module)?;
        let import = nth(module.imports(), index, "import")?;
        copy_name(import, buf, buf_len)
    })
}
