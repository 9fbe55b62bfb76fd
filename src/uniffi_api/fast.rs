//! Fast paths into a UniFFI [`Instance`] for the foreign faces' hot loops (the Python package
//! calls these through ctypes). A UniFFI call costs microseconds (a handle clone, a call status,
//! RustBuffers for enums and records); these take the object's handle as the foreign side holds
//! it, primitives only, and call the very same methods, so behaviour, errors and locking are the
//! UniFFI API's own. They are not part of the `pvm_*` C ABI and carry no stability promise.
//!
//! Each returns 0 on success (results through out-pointers) or -1 with the error kept for
//! `pvm_uniffi_error_kind` / `pvm_uniffi_error_message` on the calling thread.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::*;

thread_local! {
    static LAST_ERROR: RefCell<(u32, CString)> = RefCell::new((0, CString::default()));
    static FAILED: Cell<bool> = const { Cell::new(false) };
}

/// `PvmError`'s variants, numbered in declaration order: the foreign side maps the number back.
fn variant(error: &PvmError) -> u32 {
    match error {
        PvmError::InvalidArgument(_) => 0,
        PvmError::InvalidProgram(_) => 1,
        PvmError::Unsupported(_) => 2,
        PvmError::Setup(_) => 3,
        PvmError::Memory(_) => 4,
        PvmError::WrongState(_) => 5,
        PvmError::Panic(_) => 6,
        PvmError::HostAborted(_) => 7,
    }
}

#[cold]
#[inline(never)]
fn fail(error: PvmError) -> i32 {
    let message = CString::new(error.to_string().replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = (variant(&error), message));
    FAILED.with(|failed| failed.set(true));
    -1
}

/// Runs `body` on the instance behind `handle`, catching panics.
///
/// # Safety
/// `handle` is a live UniFFI `Instance` handle (an `Arc::into_raw` pointer) that the caller keeps
/// alive for the duration of the call.
#[inline(always)]
unsafe fn with_instance(handle: u64, body: impl FnOnce(&Instance) -> Result<()>) -> i32 {
    if handle == 0 || handle & 1 != 0 {
        return fail(PvmError::InvalidArgument("not a polkavm-ffi Instance handle".to_owned()));
    }
    let instance = &*(handle as *const Instance);
    match catch_unwind(AssertUnwindSafe(|| body(instance))) {
        Ok(Ok(())) => 0,
        Ok(Err(error)) => fail(error),
        Err(payload) => fail(PvmError::Panic(format!("internal error: polkavm-ffi panicked: {}", crate::error::panic_message(&*payload)))),
    }
}

/// Whether the last `pvm_uniffi_instance_reg` or `_gas` on this thread failed (each clears it
/// first, so a 0 from a successful call is never taken for a failure).
#[no_mangle]
pub extern "C" fn pvm_uniffi_failed() -> bool {
    FAILED.with(Cell::get)
}

/// The variant number (see `variant`) of this thread's last fast-path failure.
#[no_mangle]
pub extern "C" fn pvm_uniffi_error_kind() -> u32 {
    LAST_ERROR.with(|last| last.borrow().0)
}

/// The message of this thread's last fast-path failure; valid until the next failure on it.
#[no_mangle]
pub extern "C" fn pvm_uniffi_error_message() -> *const c_char {
    LAST_ERROR.with(|last| last.borrow().1.as_ptr())
}

/// `Instance::reg`, returned directly: on failure 0, with the error kept for
/// `pvm_uniffi_failed`, which the caller consults only when it gets 0.
///
/// # Safety
/// See `with_instance`.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_reg(handle: u64, reg: u32) -> u64 {
    FAILED.with(|failed| failed.set(false));
    let mut value = 0;
    with_instance(handle, |instance| {
        value = instance.reg(Reg::from_index(reg)?);
        Ok(())
    });
    value
}

/// `Instance::set_reg`.
///
/// # Safety
/// See `with_instance`.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_set_reg(handle: u64, reg: u32, value: u64) -> i32 {
    with_instance(handle, |instance| {
        instance.set_reg(Reg::from_index(reg)?, value);
        Ok(())
    })
}

/// `Instance::gas`, returned directly; see `pvm_uniffi_instance_reg` for failures.
///
/// # Safety
/// See `with_instance`.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_gas(handle: u64) -> i64 {
    FAILED.with(|failed| failed.set(false));
    let mut gas = 0;
    with_instance(handle, |instance| {
        gas = instance.gas();
        Ok(())
    });
    gas
}

/// `Instance::set_gas`.
///
/// # Safety
/// See `with_instance`.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_set_gas(handle: u64, gas: i64) -> i32 {
    with_instance(handle, |instance| {
        instance.set_gas(gas);
        Ok(())
    })
}

/// `Instance::run`: the result's fields through `out` as status, host call, fault address (u32
/// each) and the gas left.
///
/// # Safety
/// See `with_instance`; `out` is valid for one `FastRunResult` write.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_run(handle: u64, out: *mut FastRunResult) -> i32 {
    with_instance(handle, |instance| {
        let result = instance.run()?;
        *out = FastRunResult {
            status: result.status as u32,
            host_call: result.host_call,
            fault_address: result.fault_address,
            gas_remaining: result.gas_remaining,
        };
        Ok(())
    })
}

/// `RunResult` in plain C layout, for `pvm_uniffi_instance_run`.
#[repr(C)]
pub struct FastRunResult {
    pub status: u32,
    pub host_call: u32,
    pub fault_address: u32,
    pub gas_remaining: i64,
}
