//! The `pvm_*` C ABI. Names, signatures, status codes, register numbers and struct layouts are a
//! contract with existing C and Julia users: add to it, never change it.
//!
//! Every function catches panics, checks its handles and arguments, and reports failure through
//! its return value plus a message for `pvm_last_error`.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::engine::{Backend, CorePinning, Engine, EngineConfig, Sandbox};
use crate::error::{panic_message, Error, Result};
use crate::instance::{Instance, Reg, RunResult, Status, MAX_ARGS, REG_COUNT};
use crate::jam::{InstructionSet, JamConfig};
use crate::module::{GasMetering, Module, ModuleConfig};

/// Version of this C ABI; grows when functions are added.
pub const PVM_ABI_VERSION: u32 = 1;

/// Run status: the program returned to the host.
pub const PVM_STATUS_HALT: u32 = 0;
/// Run status: the program trapped, or the run failed on the host side (see `pvm_last_error`).
pub const PVM_STATUS_PANIC: u32 = 1;
/// Run status: out of gas.
pub const PVM_STATUS_OOG: u32 = 2;
/// Run status: memory access violation (dynamic paging); see `pvm_instance_fault_address`.
pub const PVM_STATUS_FAULT: u32 = 3;
/// Run status: `ecalli`; the number is in `host_call`. Running again resumes after it.
pub const PVM_STATUS_HOST: u32 = 4;
/// Run status: one instruction executed (step-tracing modules).
pub const PVM_STATUS_STEP: u32 = 5;

pub const PVM_REG_RA: u32 = 0;
pub const PVM_REG_SP: u32 = 1;
pub const PVM_REG_T0: u32 = 2;
pub const PVM_REG_T1: u32 = 3;
pub const PVM_REG_T2: u32 = 4;
pub const PVM_REG_S0: u32 = 5;
pub const PVM_REG_S1: u32 = 6;
pub const PVM_REG_A0: u32 = 7;
pub const PVM_REG_A1: u32 = 8;
pub const PVM_REG_A2: u32 = 9;
pub const PVM_REG_A3: u32 = 10;
pub const PVM_REG_A4: u32 = 11;
pub const PVM_REG_A5: u32 = 12;
/// Number of registers.
pub const PVM_REG_COUNT: u32 = 13;

/// Returned where a program counter is expected but there is none.
pub const PVM_PC_NONE: u32 = u32::MAX;

/// Backend: the JIT where the platform supports it, the interpreter otherwise.
pub const PVM_BACKEND_AUTO: u32 = 0;
/// Backend: the JIT (polkavm's recompiler).
pub const PVM_BACKEND_COMPILER: u32 = 1;
/// Backend: the interpreter.
pub const PVM_BACKEND_INTERPRETER: u32 = 2;

/// Sandbox: polkavm's choice (Linux sandbox on Linux).
pub const PVM_SANDBOX_AUTO: u32 = 0;
/// Sandbox: separate worker processes; dynamic paging needs userfaultfd.
pub const PVM_SANDBOX_LINUX: u32 = 1;
/// Sandbox: in-process; experimental in polkavm (not production ready). Present when the library
/// is built with its default feature `generic-sandbox`; otherwise engine creation fails.
pub const PVM_SANDBOX_GENERIC: u32 = 2;

/// Core pinning of the host thread while it runs JIT code: pin to one core (polkavm's default).
pub const PVM_CORE_PINNING_CORE: u32 = 0;
/// Core pinning: pin to one CCX.
pub const PVM_CORE_PINNING_CCX: u32 = 1;
/// Core pinning: leave thread affinity alone.
pub const PVM_CORE_PINNING_DISABLED: u32 = 2;

/// Gas metering: none (runs never stop for gas).
pub const PVM_GAS_METERING_NONE: u32 = 0;
/// Gas metering: exact.
pub const PVM_GAS_METERING_SYNC: u32 = 1;
/// Gas metering: polkavm's asynchronous metering, accepted but run as `PVM_GAS_METERING_SYNC`:
/// polkavm 0.37's JIT never stops a looping guest under it, which would hang the host.
pub const PVM_GAS_METERING_ASYNC: u32 = 2;

/// Opaque engine object; use through `PvmEngine`.
pub struct PvmEngineObject(());
/// Opaque module object; use through `PvmModule`.
pub struct PvmModuleObject(());
/// Opaque instance object; use through `PvmInstance`.
pub struct PvmInstanceObject(());

/// An engine: backend, sandbox and worker pool. May be shared between threads.
pub type PvmEngine = *mut PvmEngineObject;
/// A loaded program. May be shared between threads.
pub type PvmModule = *mut PvmModuleObject;
/// A running copy of a module. May be moved between threads, never used by two at once.
pub type PvmInstance = *mut PvmInstanceObject;

/// The outcome of `pvm_instance_run`. 24 bytes: offsets 0, 8, 16.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PvmResult {
    /// One of `PVM_STATUS_*`.
    pub status: u32,
    /// Gas left after the run (negative after running out with some backends).
    pub gas_remaining: i64,
    /// The `ecalli` number when `status` is `PVM_STATUS_HOST`, otherwise 0.
    pub host_call: u32,
}

/// Where the program's memory regions lie. 7 x uint32_t, returned by value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PvmMemoryInfo {
    pub ro_data_address: u32,
    pub ro_data_size: u32,
    pub rw_data_address: u32,
    pub rw_data_size: u32,
    pub stack_address_low: u32,
    pub stack_address_high: u32,
    pub heap_base: u32,
}

/// Engine settings. Start from `pvm_engine_config_default()`, then change fields.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PvmEngineConfig {
    /// One of `PVM_BACKEND_*`.
    pub backend: u32,
    /// One of `PVM_SANDBOX_*` (JIT only).
    pub sandbox: u32,
    /// Sandbox worker processes kept ready for new instances (JIT only); default 2.
    pub worker_count: u32,
    /// Non-zero to allow modules with dynamic paging (JAM mode). With the Linux sandbox this
    /// needs userfaultfd (`sysctl vm.unprivileged_userfaultfd=1` for unprivileged processes).
    pub allow_dynamic_paging: u32,
    /// One of `PVM_CORE_PINNING_*` (JIT with the Linux sandbox only).
    pub core_pinning: u32,
    /// Must be zero; room for future settings.
    pub reserved: [u32; 3],
}

/// Module settings. Start from `pvm_module_config_default()`, then change fields.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PvmModuleConfig {
    /// One of `PVM_GAS_METERING_*`; default sync.
    pub gas_metering: u32,
    /// Non-zero: stop with `PVM_STATUS_STEP` after every instruction.
    pub step_tracing: u32,
    /// Non-zero: the host maps memory page by page; unmapped accesses stop with `PVM_STATUS_FAULT`.
    pub dynamic_paging: u32,
    /// Page size in bytes: a power of two, at least 4096; default 4096.
    pub page_size: u32,
    /// Size of the auxiliary data region in bytes; default 0.
    pub aux_data_size: u32,
    /// Non-zero: reject programs with invalid imports, exports or jump table entries.
    pub strict: u32,
    /// Must be zero; room for future settings.
    pub reserved: [u32; 2],
}

const _: () = {
    assert!(PVM_STATUS_HALT == Status::Halt as u32 && PVM_STATUS_PANIC == Status::Panic as u32);
    assert!(PVM_STATUS_OOG == Status::OutOfGas as u32 && PVM_STATUS_FAULT == Status::Fault as u32);
    assert!(PVM_STATUS_HOST == Status::Host as u32 && PVM_STATUS_STEP == Status::Step as u32);
    assert!(PVM_REG_COUNT as usize == REG_COUNT && PVM_REG_A5 == Reg::A5 as u32 && PVM_REG_RA == Reg::RA as u32);
};

const ENGINE_TAG: u64 = 0x5056_4d5f_454e_4731; // "PVM_ENG1"
const MODULE_TAG: u64 = 0x5056_4d5f_4d4f_4431; // "PVM_MOD1"
const INSTANCE_TAG: u64 = 0x5056_4d5f_494e_5331; // "PVM_INS1"
const FREED_TAG: u64 = 0x5056_4d5f_4652_4545; // "PVM_FREE"

/// What a handle points to. The tag catches NULL-adjacent mistakes in untyped bindings (a module
/// passed as an instance from Julia's `Ptr{Cvoid}`) and most double frees.
#[repr(C)]
struct Handle<T> {
    tag: u64,
    value: T,
}

fn into_handle<T, H>(tag: u64, value: T) -> *mut H {
    Box::into_raw(Box::new(Handle { tag, value })).cast()
}

#[inline(always)]
unsafe fn handle_ref<'a, T, H>(handle: *mut H, tag: u64, what: &str) -> Result<&'a mut T> {
    let handle = handle.cast::<Handle<T>>();
    if handle.is_null() || (*handle).tag != tag {
        return Err(bad_handle(handle.is_null(), what));
    }
    Ok(&mut (*handle).value)
}

// Error paths stay out of line so that the checks on the hot path (registers, gas, run) cost a
// few instructions and no stack frame.
#[cold]
#[inline(never)]
fn bad_handle(is_null: bool, what: &str) -> Error {
    if is_null {
        Error::invalid_argument(format!("{what} handle is NULL"))
    } else {
        Error::invalid_argument(format!("{what} handle is not a live {what} (already freed, or another kind of handle)"))
    }
}

unsafe fn free_handle<T, H>(handle: *mut H, tag: u64, what: &str) -> Result<()> {
    handle_ref::<T, H>(handle, tag, what)?;
    let mut boxed = Box::from_raw(handle.cast::<Handle<T>>());
    boxed.tag = FREED_TAG;
    drop(boxed);
    Ok(())
}

unsafe fn engine_arg<'a>(handle: PvmEngine) -> Result<&'a mut Engine> {
    handle_ref(handle, ENGINE_TAG, "engine")
}

unsafe fn module_arg<'a>(handle: PvmModule) -> Result<&'a mut Module> {
    handle_ref(handle, MODULE_TAG, "module")
}

unsafe fn instance_arg<'a>(handle: PvmInstance) -> Result<&'a mut Instance> {
    handle_ref(handle, INSTANCE_TAG, "instance")
}

unsafe fn bytes<'a>(data: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    if len == 0 {
        Ok(&[])
    } else if data.is_null() {
        Err(Error::invalid_argument(format!("{what} is NULL but its length is {len}")))
    } else {
        Ok(std::slice::from_raw_parts(data, len))
    }
}

unsafe fn bytes_mut<'a>(data: *mut u8, len: usize, what: &str) -> Result<&'a mut [u8]> {
    if len == 0 {
        Ok(&mut [])
    } else if data.is_null() {
        Err(Error::invalid_argument(format!("{what} is NULL but its length is {len}")))
    } else {
        Ok(std::slice::from_raw_parts_mut(data, len))
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn set_last_error(message: &str) {
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = message);
}

/// Runs an ABI function body: a failure or a caught panic records its message and yields `on_error`.
#[inline(always)]
fn guard<T>(on_error: T, body: impl FnOnce() -> Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            record_error(error);
            on_error
        }
        Err(payload) => {
            record_panic(payload);
            on_error
        }
    }
}

#[cold]
#[inline(never)]
fn record_error(error: Error) {
    set_last_error(error.message());
}

#[cold]
#[inline(never)]
fn record_panic(payload: Box<dyn std::any::Any + Send>) {
    set_last_error(&format!("internal error: polkavm-ffi panicked: {}", panic_message(&*payload)));
}

fn status_flag(value: u32, what: &str) -> Result<bool> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(Error::invalid_argument(format!("{what} must be 0 or 1, not {value}"))),
    }
}

fn nth<'a, T>(items: &'a [T], index: u32, what: &str) -> Result<&'a T> {
    items
        .get(index as usize)
        .ok_or_else(|| Error::invalid_argument(format!("{what} {index} out of range (the module has {})", items.len())))
}

fn copy_name(name: &[u8], buf: *mut u8, buf_len: u32) -> Result<i32> {
    let out = unsafe { bytes_mut(buf, buf_len as usize, "buf")? };
    let count = name.len().min(out.len());
    out[..count].copy_from_slice(&name[..count]);
    Ok(name.len() as i32)
}

// ---------------------------------------------------------------------------------------------
// Library

/// The message of the last failure on this thread, as a NUL-terminated UTF-8 string; "" if none
/// has happened yet. Valid until the next `pvm_*` call on this thread. Successful calls do not
/// clear it: consult it only right after a call reported failure. Never NULL.
#[no_mangle]
pub extern "C" fn pvm_last_error() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

/// Empties this thread's last error, so that a call which reports failure only through it (the
/// `void` functions, or a result that can also be a real value, like 0 from
/// `pvm_instance_heap_size`) can be checked: clear, call, then test `pvm_last_error()[0]`.
#[no_mangle]
pub extern "C" fn pvm_clear_last_error() {
    LAST_ERROR.with(|slot| *slot.borrow_mut() = CString::default());
}

/// A static NUL-terminated string naming this library's and polkavm's versions. Never NULL.
#[no_mangle]
pub extern "C" fn pvm_version() -> *const c_char {
    concat!("polkavm-ffi ", env!("CARGO_PKG_VERSION"), " (polkavm 0.37)\0").as_ptr().cast()
}

/// `PVM_ABI_VERSION` of the library actually loaded.
#[no_mangle]
pub extern "C" fn pvm_abi_version() -> u32 {
    PVM_ABI_VERSION
}

// ---------------------------------------------------------------------------------------------
// Engine

/// Default engine settings: automatic backend and sandbox, 2 workers, no dynamic paging,
/// polkavm's core pinning.
#[no_mangle]
pub extern "C" fn pvm_engine_config_default() -> PvmEngineConfig {
    PvmEngineConfig {
        backend: PVM_BACKEND_AUTO,
        sandbox: PVM_SANDBOX_AUTO,
        worker_count: 2,
        allow_dynamic_paging: 0,
        core_pinning: PVM_CORE_PINNING_CORE,
        reserved: [0; 3],
    }
}

fn engine_config(config: &PvmEngineConfig) -> Result<EngineConfig> {
    let backend = match config.backend {
        PVM_BACKEND_AUTO => Backend::Auto,
        PVM_BACKEND_COMPILER => Backend::Compiler,
        PVM_BACKEND_INTERPRETER => Backend::Interpreter,
        other => return Err(Error::invalid_argument(format!("unknown backend {other}"))),
    };
    let sandbox = match config.sandbox {
        PVM_SANDBOX_AUTO => Sandbox::Auto,
        PVM_SANDBOX_LINUX => Sandbox::Linux,
        PVM_SANDBOX_GENERIC => Sandbox::Generic,
        other => return Err(Error::invalid_argument(format!("unknown sandbox {other}"))),
    };
    let core_pinning = match config.core_pinning {
        PVM_CORE_PINNING_CORE => CorePinning::PinToCore,
        PVM_CORE_PINNING_CCX => CorePinning::PinToCcx,
        PVM_CORE_PINNING_DISABLED => CorePinning::Disabled,
        other => return Err(Error::invalid_argument(format!("unknown core pinning {other}"))),
    };
    if config.reserved != [0; 3] {
        return Err(Error::invalid_argument("reserved engine config fields must be zero"));
    }
    Ok(EngineConfig {
        backend,
        sandbox,
        worker_count: config.worker_count,
        allow_dynamic_paging: status_flag(config.allow_dynamic_paging, "allow_dynamic_paging")?,
        core_pinning,
    })
}

/// A new engine with the given settings, or NULL on failure (NULL `config`, an unknown value,
/// a backend or sandbox this machine cannot provide). Free with `pvm_engine_free`.
#[no_mangle]
pub unsafe extern "C" fn pvm_engine_new_with_config(config: *const PvmEngineConfig) -> PvmEngine {
    guard(std::ptr::null_mut(), || {
        let config = config.as_ref().ok_or_else(|| Error::invalid_argument("config is NULL"))?;
        let engine = Engine::new(&engine_config(config)?)?;
        Ok(into_handle(ENGINE_TAG, engine))
    })
}

/// A new engine with the JIT (recompiler) backend, or NULL on failure (e.g. a platform without it).
#[no_mangle]
pub extern "C" fn pvm_engine_new() -> PvmEngine {
    let config = PvmEngineConfig { backend: PVM_BACKEND_COMPILER, ..pvm_engine_config_default() };
    unsafe { pvm_engine_new_with_config(&config) }
}

/// A new engine with the interpreter backend, or NULL on failure.
#[no_mangle]
pub extern "C" fn pvm_engine_new_interpreter() -> PvmEngine {
    let config = PvmEngineConfig { backend: PVM_BACKEND_INTERPRETER, ..pvm_engine_config_default() };
    unsafe { pvm_engine_new_with_config(&config) }
}

/// The backend the engine uses (`PVM_BACKEND_COMPILER` or `PVM_BACKEND_INTERPRETER`); 0 for a NULL
/// or invalid handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_engine_backend(engine: PvmEngine) -> u32 {
    guard(0, || {
        Ok(match engine_arg(engine)?.backend() {
            Backend::Interpreter => PVM_BACKEND_INTERPRETER,
            _ => PVM_BACKEND_COMPILER,
        })
    })
}

/// Frees an engine. Modules and instances made from it stay usable. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn pvm_engine_free(engine: PvmEngine) {
    if !engine.is_null() {
        guard((), || free_handle::<Engine, _>(engine, ENGINE_TAG, "engine"))
    }
}

// ---------------------------------------------------------------------------------------------
// Module

/// Default module settings: sync gas metering, no step tracing, no dynamic paging, 4096-byte
/// pages, no aux data, not strict.
#[no_mangle]
pub extern "C" fn pvm_module_config_default() -> PvmModuleConfig {
    PvmModuleConfig {
        gas_metering: PVM_GAS_METERING_SYNC,
        step_tracing: 0,
        dynamic_paging: 0,
        page_size: 0x1000,
        aux_data_size: 0,
        strict: 0,
        reserved: [0; 2],
    }
}

fn gas_metering(value: u32) -> Result<GasMetering> {
    match value {
        PVM_GAS_METERING_NONE => Ok(GasMetering::None),
        PVM_GAS_METERING_SYNC => Ok(GasMetering::Sync),
        PVM_GAS_METERING_ASYNC => Ok(GasMetering::Async),
        other => Err(Error::invalid_argument(format!("unknown gas metering kind {other}"))),
    }
}

pub(crate) fn module_config(config: &PvmModuleConfig) -> Result<ModuleConfig> {
    let gas_metering = gas_metering(config.gas_metering)?;
    if config.reserved != [0; 2] {
        return Err(Error::invalid_argument("reserved module config fields must be zero"));
    }
    Ok(ModuleConfig {
        gas_metering,
        step_tracing: status_flag(config.step_tracing, "step_tracing")?,
        dynamic_paging: status_flag(config.dynamic_paging, "dynamic_paging")?,
        page_size: config.page_size,
        aux_data_size: config.aux_data_size,
        strict: status_flag(config.strict, "strict")?,
    })
}

/// Loads a PolkaVM program blob (`len` bytes at `blob`, copied) with the given settings. NULL on
/// failure: NULL engine or config, NULL blob with non-zero length, an empty, corrupt or truncated
/// blob, settings the engine cannot honour. Free with `pvm_module_free`.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_new_with_config(
    engine: PvmEngine,
    blob: *const u8,
    len: usize,
    config: *const PvmModuleConfig,
) -> PvmModule {
    guard(std::ptr::null_mut(), || {
        let engine = engine_arg(engine)?;
        let config = config.as_ref().ok_or_else(|| Error::invalid_argument("config is NULL"))?;
        let module = Module::new(engine, bytes(blob, len, "blob")?, &module_config(config)?)?;
        Ok(into_handle(MODULE_TAG, module))
    })
}

/// Loads a program blob with gas metering on. NULL on failure (see `pvm_module_new_with_config`).
#[no_mangle]
pub unsafe extern "C" fn pvm_module_new(engine: PvmEngine, blob: *const u8, len: usize) -> PvmModule {
    pvm_module_new_with_config(engine, blob, len, &pvm_module_config_default())
}

/// Like `pvm_module_new`, plus step tracing: every run stops with `PVM_STATUS_STEP` after each
/// instruction.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_new_step(engine: PvmEngine, blob: *const u8, len: usize) -> PvmModule {
    let config = PvmModuleConfig { step_tracing: 1, ..pvm_module_config_default() };
    pvm_module_new_with_config(engine, blob, len, &config)
}

/// Frees a module. Instances made from it stay usable. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_free(module: PvmModule) {
    if !module.is_null() {
        guard((), || free_handle::<Module, _>(module, MODULE_TAG, "module"))
    }
}

/// The module's memory layout; all zero for a NULL or invalid handle.
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
#[no_mangle]
pub unsafe extern "C" fn pvm_module_exports_count(module: PvmModule) -> u32 {
    guard(0, || Ok(module_arg(module)?.exports().len() as u32))
}

/// Copies at most `buf_len` bytes of export `index`'s name (not NUL-terminated) into `buf` and
/// returns the full name length. `buf` may be NULL when `buf_len` is 0 (to query the length).
/// -1 if there is no such export, or on a NULL handle, or NULL `buf` with non-zero `buf_len`.
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
#[no_mangle]
pub unsafe extern "C" fn pvm_module_export_pc(module: PvmModule, index: u32) -> u32 {
    guard(PVM_PC_NONE, || {
        let module = module_arg(module)?;
        let export = nth(module.exports(), index, "export")?;
        Ok(export.pc)
    })
}

/// Index of the export named by the `name_len` bytes at `name`; -1 if none (or NULL handle, or
/// NULL `name` with non-zero length).
#[no_mangle]
pub unsafe extern "C" fn pvm_module_find_export(module: PvmModule, name: *const u8, name_len: usize) -> i32 {
    guard(-1, || {
        let module = module_arg(module)?;
        let name = bytes(name, name_len, "name")?;
        module.exports().iter().position(|export| export.name == name).map(|index| index as i32).ok_or_else(|| {
            Error::invalid_argument(format!("no export named \"{}\"", String::from_utf8_lossy(name)))
        })
    })
}

/// Number of imports (host functions the program may call: `ecalli N` calls import N); 0 for a
/// NULL or invalid handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_imports_count(module: PvmModule) -> u32 {
    guard(0, || Ok(module_arg(module)?.imports().len() as u32))
}

/// Like `pvm_module_export_name`, for import `index`.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_import_name(module: PvmModule, index: u32, buf: *mut u8, buf_len: u32) -> i32 {
    guard(-1, || {
        let module = module_arg(module)?;
        let import = nth(module.imports(), index, "import")?;
        copy_name(import, buf, buf_len)
    })
}

// ---------------------------------------------------------------------------------------------
// Instance

/// A new instance of `module` (the engine must be the one the module was loaded with), with
/// gas 0 and no call prepared. NULL on failure. Free with `pvm_instance_free`.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_new(engine: PvmEngine, module: PvmModule) -> PvmInstance {
    guard(std::ptr::null_mut(), || {
        let engine = engine_arg(engine)?;
        let module = module_arg(module)?;
        if !std::ptr::eq(engine.raw(), module.engine().raw()) {
            return Err(Error::invalid_argument("the module was loaded with a different engine"));
        }
        Ok(into_handle(INSTANCE_TAG, Instance::new(module)?))
    })
}

/// Frees an instance. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_free(instance: PvmInstance) {
    if !instance.is_null() {
        guard((), || free_handle::<Instance, _>(instance, INSTANCE_TAG, "instance"))
    }
}

/// Memory back to the module's initial image, registers to zero. Sets the last error on failure
/// (NULL or invalid handle).
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_reset(instance: PvmInstance) {
    guard((), || instance_arg(instance)?.reset())
}

/// Sets the gas available to the next run. NULL: ignored, with a last error.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_set_gas(instance: PvmInstance, gas: i64) {
    guard((), || {
        instance_arg(instance)?.set_gas(gas);
        Ok(())
    })
}

/// Gas left; 0 for a NULL or invalid handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_get_gas(instance: PvmInstance) -> i64 {
    guard(0, || Ok(instance_arg(instance)?.gas()))
}

/// Sets register `reg` (0..12, `PVM_REG_*`). Out of range or NULL: ignored, with a last error.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_set_reg(instance: PvmInstance, reg: u32, value: u64) {
    guard((), || {
        let reg = Reg::from_index(reg)?;
        instance_arg(instance)?.set_reg(reg, value);
        Ok(())
    })
}

/// Register `reg` (0..12, `PVM_REG_*`); 0 with a last error if out of range or NULL.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_get_reg(instance: PvmInstance, reg: u32) -> u64 {
    guard(0, || {
        let reg = Reg::from_index(reg)?;
        Ok(instance_arg(instance)?.reg(reg))
    })
}

/// Copies all 13 registers into `out` (`PVM_REG_COUNT` values, indexed by `PVM_REG_*`).
/// 0 ok, -1 on NULL handle or NULL `out`.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_get_regs(instance: PvmInstance, out: *mut u64) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        if out.is_null() {
            return Err(Error::invalid_argument("out is NULL"));
        }
        std::ptr::copy_nonoverlapping(instance.regs().as_ptr(), out, REG_COUNT);
        Ok(0)
    })
}

/// Sets all 13 registers from `values` (`PVM_REG_COUNT` values). 0 ok, -1 on NULL handle or NULL
/// `values`.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_set_regs(instance: PvmInstance, values: *const u64) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        let values = values.cast::<[u64; REG_COUNT]>().as_ref().ok_or_else(|| Error::invalid_argument("values is NULL"))?;
        instance.set_regs(values);
        Ok(0)
    })
}

/// Program counter of the instruction where the last run stopped (the `ecalli`, the trapping
/// instruction...); `PVM_PC_NONE` if there is none (e.g. after a halt) or on a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_get_pc(instance: PvmInstance) -> u32 {
    guard(PVM_PC_NONE, || Ok(instance_arg(instance)?.pc().unwrap_or(PVM_PC_NONE)))
}

/// Where the next run starts; `PVM_PC_NONE` if nowhere (no call prepared, or the program halted
/// or trapped) or on a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_get_next_pc(instance: PvmInstance) -> u32 {
    guard(PVM_PC_NONE, || Ok(instance_arg(instance)?.next_pc().unwrap_or(PVM_PC_NONE)))
}

/// Sets the program counter where the next run starts. NULL: ignored, with a last error.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_set_pc(instance: PvmInstance, pc: u32) {
    guard((), || {
        instance_arg(instance)?.set_next_pc(pc);
        Ok(())
    })
}

/// Prepares a call to `pc` by polkavm's default ABI: registers zeroed, RA = the return-to-host
/// address, SP = the stack top, next pc = `pc`. Gas is left as it is. 0 ok, -1 on a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_prepare_call(instance: PvmInstance, pc: u32) -> i32 {
    pvm_instance_prepare_call_args(instance, pc, std::ptr::null(), 0)
}

/// Like `pvm_instance_prepare_call`, with `count` arguments (at most 9) placed in A0..A5, then
/// T0..T2. 0 ok, -1 on a NULL handle, NULL `args` with non-zero `count`, or too many arguments.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_prepare_call_args(
    instance: PvmInstance,
    pc: u32,
    args: *const u64,
    count: u32,
) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        if count as usize > MAX_ARGS {
            return Err(Error::invalid_argument(format!("too many arguments: {count} (at most {MAX_ARGS})")));
        }
        let args = if count == 0 {
            &[][..]
        } else if args.is_null() {
            return Err(Error::invalid_argument(format!("args is NULL but count is {count}")));
        } else {
            std::slice::from_raw_parts(args, count as usize)
        };
        instance.prepare_call(pc, args)?;
        Ok(0)
    })
}

/// Runs from the next program counter until the program stops; see `PVM_STATUS_*`. A host-side
/// failure (NULL handle, no call prepared, a sandbox error) returns `PVM_STATUS_PANIC` with the
/// reason in `pvm_last_error`.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_run(instance: PvmInstance) -> PvmResult {
    guard(HOST_FAILURE, || Ok(instance_arg(instance)?.run()?.into()))
}

const HOST_FAILURE: PvmResult = PvmResult { status: PVM_STATUS_PANIC, gas_remaining: 0, host_call: 0 };

impl From<RunResult> for PvmResult {
    fn from(result: RunResult) -> Self {
        PvmResult { status: result.status as u32, gas_remaining: result.gas_remaining, host_call: result.host_call }
    }
}

/// Like `pvm_instance_run`, but tells a trap from a host-side failure: 0 when the program ran and
/// stopped (`*out` says why, as `pvm_instance_run` would), -1 when the run could not happen (NULL
/// handle or `out`, no call prepared, a sandbox error; `*out`, if not NULL, then holds
/// `PVM_STATUS_PANIC`) with the reason in `pvm_last_error`.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_run_checked(instance: PvmInstance, out: *mut PvmResult) -> i32 {
    if let Some(out) = out.as_mut() {
        *out = HOST_FAILURE;
    }
    guard(-1, || {
        let instance = instance_arg(instance)?;
        let out = out.as_mut().ok_or_else(|| Error::invalid_argument("out is NULL"))?;
        *out = instance.run()?.into();
        Ok(0)
    })
}

/// Address of the page whose access stopped the last run with `PVM_STATUS_FAULT`; 0 with a last
/// error if the last run did not fault, or on a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_fault_address(instance: PvmInstance) -> u32 {
    guard(0, || {
        instance_arg(instance)?
            .fault_address()
            .ok_or_else(|| Error::new(crate::ErrorKind::WrongState, "the last run did not stop with a fault"))
    })
}

/// Copies `len` bytes of guest memory at `addr` into `buf`. 0 ok, -1 if any byte is not readable,
/// or on a NULL handle, or NULL `buf` with non-zero `len`.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_read_memory(instance: PvmInstance, addr: u32, buf: *mut u8, len: u32) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        instance.read_memory_into(addr, bytes_mut(buf, len as usize, "buf")?)?;
        Ok(0)
    })
}

/// Copies `len` bytes from `data` into guest memory at `addr`. 0 ok, -1 if any byte is not
/// writable, or on a NULL handle, or NULL `data` with non-zero `len`.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_write_memory(instance: PvmInstance, addr: u32, data: *const u8, len: u32) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        instance.write_memory(addr, bytes(data, len as usize, "data")?)?;
        Ok(0)
    })
}

/// Grows the heap by `size` bytes (not pages) exactly as polkavm's `sbrk` does, and returns its
/// result: the new top of the heap (`sbrk(0)` returns the current top). 0 on failure (the heap
/// cannot grow that far, dynamic paging, NULL handle).
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_sbrk(instance: PvmInstance, size: u32) -> u32 {
    guard(0, || instance_arg(instance)?.sbrk(size))
}

/// Current heap size in bytes; 0 with a last error under dynamic paging or on a NULL handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_heap_size(instance: PvmInstance) -> u32 {
    guard(0, || instance_arg(instance)?.heap_size())
}

/// Size of a Doom framebuffer: 1 header byte, a 256-entry RGB palette, 320x200 palette indices.
#[cfg(feature = "doom")]
pub const PVM_DOOM_FRAMEBUFFER_SIZE: u32 = 1 + 768 + 320 * 200;
/// Size of the RGB24 image `pvm_instance_read_framebuffer_rgb24` writes.
#[cfg(feature = "doom")]
pub const PVM_DOOM_RGB24_SIZE: u32 = 320 * 200 * 3;

/// Reads a Doom framebuffer of `fb_size` bytes at `fb_addr` and writes it as 320x200 RGB24
/// (`PVM_DOOM_RGB24_SIZE` bytes) into `rgb`. 0 ok, -1 if `fb_size` or `rgb_len` is too small,
/// the memory is unreadable, or a pointer or handle is NULL.
#[cfg(feature = "doom")]
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
        let out = bytes_mut(rgb, rgb_len as usize, "rgb")?;
        let frame = instance.read_memory(fb_addr, PVM_DOOM_FRAMEBUFFER_SIZE)?;
        let (palette, pixels) = frame[1..].split_at(768);
        for (pixel, out) in pixels.iter().zip(out.chunks_exact_mut(3)) {
            let index = *pixel as usize * 3;
            out.copy_from_slice(&palette[index..index + 3]);
        }
        Ok(0)
    })
}

// ---------------------------------------------------------------------------------------------
// JAM: Graypaper program blobs with dynamic paging

/// Instruction set: the current Graypaper's 64-bit PVM (polkavm's `jam_v1`).
pub const PVM_ISA_JAM_V1: u32 = 0;
/// Instruction set: 64-bit with an older Graypaper's opcode numbering (0.5.x; opcodes 102..111
/// are one higher than in `jam_v1`): polkavm's `revive_v1`.
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
    pub reserved: [u32; 3],
}

/// Default JAM settings: `PVM_ISA_JAM_V1`, sync gas metering, 4096-byte pages, no memory regions,
/// no halt-pc tracking, no step tracing.
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
        reserved: [0; 3],
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
    if config.reserved != [0; 3] {
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
        halt_pc: status_flag(config.halt_pc, "halt_pc")?,
        step_tracing: status_flag(config.step_tracing, "step_tracing")?,
    })
}

/// Loads a Graypaper program blob (`len` bytes at `code`, copied: jump table, code and instruction
/// bitmask in the Graypaper's program encoding) with dynamic paging: no memory is mapped until
/// `pvm_instance_map_pages`. As the Graypaper says, running past the end of the code, or into an
/// opcode the instruction set does not know, panics at that pc. The engine must allow dynamic
/// paging. NULL on failure: NULL engine or config, NULL `code` with non-zero `len`, a malformed
/// blob, an unknown setting. Free with `pvm_module_free`; instantiate with `pvm_instance_new`.
#[no_mangle]
pub unsafe extern "C" fn pvm_module_new_jam(
    engine: PvmEngine,
    code: *const u8,
    len: usize,
    config: *const PvmJamConfig,
) -> PvmModule {
    guard(std::ptr::null_mut(), || {
        let engine = engine_arg(engine)?;
        let config = config.as_ref().ok_or_else(|| Error::invalid_argument("config is NULL"))?;
        let module = Module::from_jam_code(engine, bytes(code, len, "code")?, &jam_config(config)?)?;
        Ok(into_handle(MODULE_TAG, module))
    })
}

/// Maps zeroed pages at `address` (page-aligned) covering `length` bytes (rounded up to whole
/// pages), writable if `writable` is 1, read-only if 0 (read-only for host writes too: map
/// writable, write, then `pvm_instance_protect_pages`). Dynamic-paging modules only. 0 ok, -1 on
/// failure (not page-aligned, no dynamic paging, `writable` not 0 or 1, NULL handle).
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_map_pages(instance: PvmInstance, address: u32, length: u32, writable: u32) -> i32 {
    guard(-1, || {
        let writable = status_flag(writable, "writable")?;
        instance_arg(instance)?.map_pages(address, length, writable)?;
        Ok(0)
    })
}

/// Makes mapped pages at `address` covering `length` bytes read-only (`read_only` 1) or writable
/// again (`read_only` 0). Dynamic-paging modules only. 0 ok, -1 on failure (unmapped or unaligned
/// pages, no dynamic paging, `read_only` not 0 or 1, NULL handle).
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_protect_pages(instance: PvmInstance, address: u32, length: u32, read_only: u32) -> i32 {
    guard(-1, || {
        let read_only = status_flag(read_only, "read_only")?;
        instance_arg(instance)?.protect_pages(address, length, read_only)?;
        Ok(0)
    })
}

/// Unmaps the pages at `address` covering `length` bytes; accessing them faults again. Dynamic-paging
/// modules only. 0 ok, -1 on failure (no dynamic paging, NULL handle).
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
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_get_graypaper_pc(instance: PvmInstance) -> u32 {
    guard(PVM_PC_NONE, || Ok(instance_arg(instance)?.graypaper_pc().unwrap_or(PVM_PC_NONE)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_error() -> String {
        unsafe { CStr::from_ptr(pvm_last_error()) }.to_str().unwrap().to_owned()
    }

    #[test]
    fn a_panic_never_crosses_the_boundary() {
        assert_eq!(guard(-1, || -> Result<i32> { panic!("boom") }), -1);
        assert_eq!(last_error(), "internal error: polkavm-ffi panicked: boom");
        assert_eq!(guard(-1, || Ok(5)), 5);
    }

    #[test]
    fn last_error_is_per_thread() {
        set_last_error("main thread");
        std::thread::spawn(|| {
            assert_eq!(last_error(), "");
            set_last_error("other thread");
        })
        .join()
        .unwrap();
        assert_eq!(last_error(), "main thread");
    }

    #[test]
    fn messages_with_nul_bytes_are_kept() {
        set_last_error("bad\0name");
        assert_eq!(last_error(), "bad\\0name");
    }
}
