//! The `pvm_*` C ABI. Names, signatures, status codes, register numbers and struct layouts are a
//! contract with existing C and Julia users: add to it, never change it.
//!
//! Every function catches panics, checks its handles and arguments, and reports failure through
//! its return value plus a kind and message for `pvm_last_error_kind` and `pvm_last_error`.
//!
//! # Safety
//!
//! One contract for every `unsafe` function here, stated once (and in the header's preamble)
//! rather than on each: a handle argument is NULL or a handle this library returned and that has
//! not been freed (a freed or wrong-kind handle is caught in most cases, but not guaranteed); a
//! pointer with a length is NULL with length 0, or valid for that many elements; an instance is
//! not used by two threads at once.
#![allow(clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::engine::{Backend, CorePinning, Engine, EngineConfig, Sandbox};
use crate::error::{panic_message, Error, ErrorKind, Result};
use crate::instance::{Instance, Reg, RunResult, Status, MAX_ARGS, REG_COUNT};
use crate::jam::{InstructionSet, JamConfig};
use crate::module::{CostModel, GasMetering, Module, ModuleConfig};

mod engine;
mod instance;
mod jam;
mod module;
#[cfg(feature = "doom")]
mod doom;

pub use engine::*;
pub use instance::*;
pub use jam::*;
pub use module::*;
#[cfg(feature = "doom")]
pub use doom::*;

/// Version of this C ABI; grows by one with every release that adds functions or constants
/// (nothing is ever removed or changed). 2 added `pvm_instance_resume`, 3 the gas cost model,
/// 4 `pvm_last_error_kind` and `PVM_ERROR_*`, 5 `pvm_instance_read_framebuffer` and
/// `PVM_PIXEL_FORMAT_*`, 6 `pvm_instance_resume_read`.
pub const PVM_ABI_VERSION: u32 = 6;

/// Error kind (`pvm_last_error_kind`): no failure recorded on this thread (none yet, or cleared).
pub const PVM_ERROR_NONE: u32 = 0;
/// Error kind: an argument was out of range or otherwise unusable (register index, NULL buffer...).
pub const PVM_ERROR_INVALID_ARGUMENT: u32 = 1;
/// Error kind: the bytes given as a program are not a loadable program.
pub const PVM_ERROR_INVALID_PROGRAM: u32 = 2;
/// Error kind: the requested configuration is not available on this machine, build or module.
pub const PVM_ERROR_UNSUPPORTED: u32 = 3;
/// Error kind: polkavm could not create an engine, module or instance (sandbox, system limits).
pub const PVM_ERROR_SETUP: u32 = 4;
/// Error kind: a guest memory access requested by the host failed.
pub const PVM_ERROR_MEMORY: u32 = 5;
/// Error kind: the call is not valid in the instance's current state (e.g. run before a call
/// was prepared).
pub const PVM_ERROR_WRONG_STATE: u32 = 6;
/// Error kind: polkavm (or this library) panicked; the panic was caught and the process is unharmed.
pub const PVM_ERROR_PANIC: u32 = 7;
/// Error kind: a host-call handler failed (used by wrappers that run handlers, such as C++'s).
pub const PVM_ERROR_HOST_ABORTED: u32 = 8;

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
/// No register: `pvm_instance_resume` sets nothing (ABI version 2).
pub const PVM_REG_NONE: u32 = u32::MAX;

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

/// Gas cost model: the default. In `PvmEngineConfig.default_cost_model`, polkavm's (naive); in
/// `PvmModuleConfig.cost_model` and `PvmJamConfig.cost_model`, the engine's default.
pub const PVM_COST_MODEL_DEFAULT: u32 = 0;
/// Gas cost model: one gas per instruction (Graypaper 0.6.7 through 0.7.2, the v0.4 test vectors).
pub const PVM_COST_MODEL_NAIVE: u32 = 1;
/// Gas cost model: Graypaper 0.8.0's, with every memory access an L1 cache hit.
pub const PVM_COST_MODEL_FULL_L1_HIT: u32 = 2;
/// Gas cost model: Graypaper 0.8.0's, with L2-hit memory latencies, as 0.8.0 specifies.
pub const PVM_COST_MODEL_FULL_L2_HIT: u32 = 3;
/// Gas cost model: Graypaper 0.8.0's, with L3-hit memory latencies.
pub const PVM_COST_MODEL_FULL_L3_HIT: u32 = 4;

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
    pub reserved: [u32; 2],
    /// One of `PVM_COST_MODEL_*`: the gas cost model of modules that do not choose one. Default
    /// `PVM_COST_MODEL_DEFAULT`, polkavm's naive model. Since `PVM_ABI_VERSION` 3 (a reserved field before).
    pub default_cost_model: u32,
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
    pub reserved: [u32; 1],
    /// One of `PVM_COST_MODEL_*`; default `PVM_COST_MODEL_DEFAULT`, the engine's default.
    /// Since `PVM_ABI_VERSION` 3 (a reserved field before).
    pub cost_model: u32,
}

// Every constant set is the core enum's numbering: a mismatch fails the build.
const _: () = {
    assert!(PVM_STATUS_HALT == Status::Halt as u32 && PVM_STATUS_PANIC == Status::Panic as u32);
    assert!(PVM_STATUS_OOG == Status::OutOfGas as u32 && PVM_STATUS_FAULT == Status::Fault as u32);
    assert!(PVM_STATUS_HOST == Status::Host as u32 && PVM_STATUS_STEP == Status::Step as u32);

    assert!(PVM_REG_COUNT as usize == REG_COUNT);
    assert!(PVM_REG_RA == Reg::RA as u32 && PVM_REG_SP == Reg::SP as u32);
    assert!(PVM_REG_T0 == Reg::T0 as u32 && PVM_REG_T1 == Reg::T1 as u32 && PVM_REG_T2 == Reg::T2 as u32);
    assert!(PVM_REG_S0 == Reg::S0 as u32 && PVM_REG_S1 == Reg::S1 as u32);
    assert!(PVM_REG_A0 == Reg::A0 as u32 && PVM_REG_A1 == Reg::A1 as u32 && PVM_REG_A2 == Reg::A2 as u32);
    assert!(PVM_REG_A3 == Reg::A3 as u32 && PVM_REG_A4 == Reg::A4 as u32 && PVM_REG_A5 == Reg::A5 as u32);

    assert!(PVM_BACKEND_AUTO == Backend::Auto as u32 && PVM_BACKEND_COMPILER == Backend::Compiler as u32);
    assert!(PVM_BACKEND_INTERPRETER == Backend::Interpreter as u32);
    assert!(PVM_SANDBOX_AUTO == Sandbox::Auto as u32 && PVM_SANDBOX_LINUX == Sandbox::Linux as u32);
    assert!(PVM_SANDBOX_GENERIC == Sandbox::Generic as u32);
    assert!(PVM_CORE_PINNING_CORE == CorePinning::PinToCore as u32 && PVM_CORE_PINNING_CCX == CorePinning::PinToCcx as u32);
    assert!(PVM_CORE_PINNING_DISABLED == CorePinning::Disabled as u32);
    assert!(PVM_GAS_METERING_NONE == GasMetering::Disabled as u32 && PVM_GAS_METERING_SYNC == GasMetering::Sync as u32);
    assert!(PVM_GAS_METERING_ASYNC == GasMetering::Async as u32);
    assert!(PVM_ISA_JAM_V1 == InstructionSet::JamV1 as u32 && PVM_ISA_REVIVE_V1 == InstructionSet::ReviveV1 as u32);
    assert!(PVM_ISA_LATEST32 == InstructionSet::Latest32 as u32 && PVM_ISA_LATEST64 == InstructionSet::Latest64 as u32);
    assert!(PVM_COST_MODEL_NAIVE == CostModel::Naive as u32 && PVM_COST_MODEL_FULL_L1_HIT == CostModel::FullL1Hit as u32);
    assert!(PVM_COST_MODEL_FULL_L2_HIT == CostModel::FullL2Hit as u32 && PVM_COST_MODEL_FULL_L3_HIT == CostModel::FullL3Hit as u32);
    assert!(PVM_COST_MODEL_DEFAULT == 0);

    assert!(PVM_ERROR_INVALID_ARGUMENT == ErrorKind::InvalidArgument as u32);
    assert!(PVM_ERROR_INVALID_PROGRAM == ErrorKind::InvalidProgram as u32);
    assert!(PVM_ERROR_UNSUPPORTED == ErrorKind::Unsupported as u32 && PVM_ERROR_SETUP == ErrorKind::Setup as u32);
    assert!(PVM_ERROR_MEMORY == ErrorKind::Memory as u32 && PVM_ERROR_WRONG_STATE == ErrorKind::WrongState as u32);
    assert!(PVM_ERROR_PANIC == ErrorKind::Panic as u32 && PVM_ERROR_HOST_ABORTED == ErrorKind::HostAborted as u32);
    assert!(PVM_ERROR_NONE == 0 && ErrorKind::ALL.len() == 8);
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

/// The handle behind `handle` once its tag says it holds a live `T`. Only the tag is read: no
/// reference to the value is made here, so callers choose between shared and exclusive access.
///
/// # Safety
/// `handle` is NULL or points to memory that holds a `Handle<T>` or once held one (a freed handle
/// still reads, through its tag, as not live only while its memory is not reused).
#[inline(always)]
unsafe fn live_handle<T, H>(handle: *mut H, tag: u64, what: &str) -> Result<*mut Handle<T>> {
    let handle = handle.cast::<Handle<T>>();
    if handle.is_null() || (*handle).tag != tag {
        return Err(bad_handle(handle.is_null(), what));
    }
    Ok(handle)
}

/// Engines and modules may be used by several threads at once: they are only ever lent shared.
///
/// # Safety
/// As [`live_handle`], and the handle is not freed while the reference lives.
#[inline(always)]
unsafe fn shared_handle<'a, T, H>(handle: *mut H, tag: u64, what: &str) -> Result<&'a T> {
    Ok(&(*live_handle::<T, H>(handle, tag, what)?).value)
}

/// An instance is used by one thread at a time (the header's rule): it is lent exclusively.
///
/// # Safety
/// As [`live_handle`], and no other reference to the value lives at the same time.
#[inline(always)]
unsafe fn exclusive_handle<'a, T, H>(handle: *mut H, tag: u64, what: &str) -> Result<&'a mut T> {
    Ok(&mut (*live_handle::<T, H>(handle, tag, what)?).value)
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

/// # Safety
/// As [`exclusive_handle`]; the handle is not used again.
unsafe fn free_handle<T, H>(handle: *mut H, tag: u64, what: &str) -> Result<()> {
    let mut boxed = Box::from_raw(live_handle::<T, H>(handle, tag, what)?);
    boxed.tag = FREED_TAG;
    drop(boxed);
    Ok(())
}

/// # Safety
/// `handle` is NULL or a live engine handle.
unsafe fn engine_arg<'a>(handle: PvmEngine) -> Result<&'a Engine> {
    shared_handle(handle, ENGINE_TAG, "engine")
}

/// # Safety
/// `handle` is NULL or a live module handle.
unsafe fn module_arg<'a>(handle: PvmModule) -> Result<&'a Module> {
    shared_handle(handle, MODULE_TAG, "module")
}

/// # Safety
/// `handle` is NULL or an instance handle not yet freed, which no other thread uses meanwhile.
unsafe fn instance_arg<'a>(handle: PvmInstance) -> Result<&'a mut Instance> {
    exclusive_handle(handle, INSTANCE_TAG, "instance")
}

/// Every read of the caller's memory goes through here: `len` values at `data`, which may be
/// NULL only when `len` is 0.
///
/// # Safety
/// `data` is NULL or points to `len` initialised values that nobody writes while the slice lives.
unsafe fn caller_slice<'a, T>(data: *const T, len: usize, what: &str) -> Result<&'a [T]> {
    if len == 0 {
        Ok(&[])
    } else if data.is_null() {
        Err(Error::invalid_argument(format!("{what} is NULL but its length is {len}")))
    } else {
        Ok(std::slice::from_raw_parts(data, len))
    }
}

/// One value the caller passed by pointer (a config struct, a register array).
///
/// # Safety
/// As [`caller_slice`] with a length of 1.
unsafe fn caller_value<'a, T>(value: *const T, what: &str) -> Result<&'a T> {
    if value.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    Ok(&caller_slice(value, 1, what)?[0])
}

/// Every write to the caller's memory goes through here: `len` values at `data`, which may be
/// NULL only when `len` is 0.
///
/// # Safety
/// `data` is NULL or points to `len` writable values that nobody else accesses while the slice
/// lives.
unsafe fn caller_slice_mut<'a, T>(data: *mut T, len: usize, what: &str) -> Result<&'a mut [T]> {
    if len == 0 {
        Ok(&mut [])
    } else if data.is_null() {
        Err(Error::invalid_argument(format!("{what} is NULL but its length is {len}")))
    } else {
        Ok(std::slice::from_raw_parts_mut(data, len))
    }
}

/// One value the caller receives through a pointer (an out-parameter).
///
/// # Safety
/// As [`caller_slice_mut`] with a length of 1.
unsafe fn caller_value_mut<'a, T>(value: *mut T, what: &str) -> Result<&'a mut T> {
    if value.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    Ok(&mut caller_slice_mut(value, 1, what)?[0])
}

/// This thread's last failure: its `PVM_ERROR_*` kind and its message.
struct LastError {
    kind: u32,
    message: CString,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError { kind: PVM_ERROR_NONE, message: CString::default() });
}

fn set_last_error(kind: ErrorKind, message: &str) {
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = LastError { kind: kind as u32, message });
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
    set_last_error(error.kind(), error.message());
}

#[cold]
#[inline(never)]
fn record_panic(payload: Box<dyn std::any::Any + Send>) {
    set_last_error(ErrorKind::Panic, &format!("internal error: polkavm-ffi panicked: {}", panic_message(&*payload)));
}

/// A `uint32_t` flag of the ABI (a config field or argument) as a bool: only 0 and 1 are accepted.
fn flag(value: u32, what: &str) -> Result<bool> {
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

/// Copies as much of `name` as fits into `buf` (no NUL added); returns the full length.
///
/// # Safety
/// As [`caller_slice_mut`] for `buf_len` bytes at `buf`.
unsafe fn copy_name(name: &[u8], buf: *mut u8, buf_len: u32) -> Result<i32> {
    let out = caller_slice_mut(buf, buf_len as usize, "buf")?;
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
    LAST_ERROR.with(|slot| slot.borrow().message.as_ptr())
}

/// The kind of the last failure on this thread (one of `PVM_ERROR_*`), the same kind the
/// Python, Kotlin and Swift bindings raise for it; `PVM_ERROR_NONE` if none has happened yet or
/// since `pvm_clear_last_error`. Like `pvm_last_error`, successful calls leave it as it is.
/// (Since ABI version 4.)
#[no_mangle]
pub extern "C" fn pvm_last_error_kind() -> u32 {
    LAST_ERROR.with(|slot| slot.borrow().kind)
}

/// Empties this thread's last error, so that a call which reports failure only through it (the
/// `void` functions, or a result that can also be a real value, like 0 from
/// `pvm_instance_heap_size`) can be checked: clear, call, then test `pvm_last_error()[0]`.
#[no_mangle]
pub extern "C" fn pvm_clear_last_error() {
    LAST_ERROR.with(|slot| *slot.borrow_mut() = LastError { kind: PVM_ERROR_NONE, message: CString::default() });
}

/// A static NUL-terminated string naming this library's and polkavm's versions. Never NULL.
#[no_mangle]
pub extern "C" fn pvm_version() -> *const c_char {
    concat!(version_text!(), "\0").as_ptr().cast()
}

/// `PVM_ABI_VERSION` of the library actually loaded.
#[no_mangle]
pub extern "C" fn pvm_abi_version() -> u32 {
    PVM_ABI_VERSION
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
        assert_eq!(pvm_last_error_kind(), PVM_ERROR_PANIC);
        assert_eq!(guard(-1, || Ok(5)), 5);
    }

    #[test]
    fn last_error_is_per_thread() {
        set_last_error(ErrorKind::Memory, "main thread");
        std::thread::spawn(|| {
            assert_eq!((last_error().as_str(), pvm_last_error_kind()), ("", PVM_ERROR_NONE));
            set_last_error(ErrorKind::Setup, "other thread");
        })
        .join()
        .unwrap();
        assert_eq!((last_error().as_str(), pvm_last_error_kind()), ("main thread", PVM_ERROR_MEMORY));
        pvm_clear_last_error();
        assert_eq!((last_error().as_str(), pvm_last_error_kind()), ("", PVM_ERROR_NONE));
    }

    #[test]
    fn messages_with_nul_bytes_are_kept() {
        set_last_error(ErrorKind::InvalidArgument, "bad\0name");
        assert_eq!(last_error(), "bad\\0name");
    }
}
