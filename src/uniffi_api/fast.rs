//! Fast paths into a UniFFI [`Instance`] for the foreign faces' hot loops (Python through ctypes,
//! Kotlin through JNA direct mapping, Swift directly). A UniFFI call costs microseconds (a handle clone, a call status,
//! RustBuffers for enums and records); these take the object's handle as the foreign side holds
//! it, primitives only, and call the very same methods, so behaviour, errors and locking are the
//! UniFFI API's own. They are not part of the `pvm_*` C ABI and carry no stability promise.
//!
//! Each returns 0 on success (results through out-pointers) or -1 with the error kept for
//! `pvm_uniffi_error_kind` / `pvm_uniffi_error_text` on the calling thread.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::*;

thread_local! {
    /// Kind and message of the last failure.
    static LAST_ERROR: RefCell<(u32, String)> = const { RefCell::new((0, String::new())) };
    static FAILED: Cell<bool> = const { Cell::new(false) };
}

/// The error's kind as the C ABI numbers it (`PVM_ERROR_*`, the core's `ErrorKind`).
fn kind(error: &PvmError) -> u32 {
    let kind = match error {
        PvmError::InvalidArgument(_) => ErrorKind::InvalidArgument,
        PvmError::InvalidProgram(_) => ErrorKind::InvalidProgram,
        PvmError::Unsupported(_) => ErrorKind::Unsupported,
        PvmError::Setup(_) => ErrorKind::Setup,
        PvmError::Memory(_) => ErrorKind::Memory,
        PvmError::WrongState(_) => ErrorKind::WrongState,
        PvmError::Panic(_) => ErrorKind::Panic,
        PvmError::HostAborted(_) => ErrorKind::HostAborted,
    };
    kind as u32
}

#[cold]
#[inline(never)]
fn fail(error: PvmError) -> i32 {
    LAST_ERROR.with(|last| *last.borrow_mut() = (kind(&error), error.to_string()));
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
    if !is_rust_handle(handle) {
        return fail(PvmError::InvalidArgument("not a polkavm-ffi Instance handle".to_owned()));
    }
    let instance = &*(handle as *const Instance);
    guarded(|| body(instance))
}

/// Whether `handle` can be a handle of an object implemented in Rust: UniFFI's are nonzero, and
/// odd ones are the foreign side's.
fn is_rust_handle(handle: u64) -> bool {
    handle != 0 && handle & 1 == 0
}

/// A run's result through `run`, returned (`FastRunResult::FAILED` on failure).
///
/// # Safety
/// See `with_instance`.
#[inline(always)]
unsafe fn returned(handle: u64, run: impl FnOnce(&Instance) -> Result<RunResult>) -> FastRunResult {
    let mut out = FastRunResult::FAILED;
    with_instance(handle, |instance| {
        out = run(instance)?.into();
        Ok(())
    });
    out
}

/// Runs `body`, catching panics: 0, or -1 with the error kept.
#[inline(always)]
fn guarded(body: impl FnOnce() -> Result<()>) -> i32 {
    match catch_unwind(AssertUnwindSafe(body)) {
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

/// The kind (`PVM_ERROR_*`) of this thread's last fast-path failure.
#[no_mangle]
pub extern "C" fn pvm_uniffi_error_kind() -> u32 {
    LAST_ERROR.with(|last| last.borrow().0)
}

/// The message of this thread's last fast-path failure as it is (UTF-8, `*len` bytes, NULs kept);
/// valid until the next failure on it.
///
/// # Safety
/// `len` is valid for one write.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_error_text(len: *mut usize) -> *const u8 {
    LAST_ERROR.with(|last| {
        let last = last.borrow();
        *len = last.1.len();
        last.1.as_ptr()
    })
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

/// `Instance::reg` into `out`: unlike `pvm_uniffi_instance_reg`, a success touches no thread-local
/// state, which costs a call in a shared library.
///
/// # Safety
/// See `with_instance`; `out` is valid for one write.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_read_reg(handle: u64, reg: u32, out: *mut u64) -> i32 {
    with_instance(handle, |instance| {
        *out = instance.reg(Reg::from_index(reg)?);
        Ok(())
    })
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

/// `Instance::gas` into `out`, as `pvm_uniffi_instance_read_reg` does.
///
/// # Safety
/// See `with_instance`; `out` is valid for one write.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_read_gas(handle: u64, out: *mut i64) -> i32 {
    with_instance(handle, |instance| {
        *out = instance.gas();
        Ok(())
    })
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
        *out = instance.run()?.into();
        Ok(())
    })
}

/// `Instance::run` with the result returned: for ctypes, to which an out-pointer costs two
/// allocations a call. On failure the status is `FAILED`.
///
/// # Safety
/// See `with_instance`.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_run_result(handle: u64) -> FastRunResult {
    returned(handle, Instance::run)
}

/// `Instance::set_reg` with the value in two 32-bit halves: ctypes passes an int without a
/// declared type as a C int, the cheapest conversion it has.
///
/// # Safety
/// See `with_instance`.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_set_reg_halves(handle: u64, reg: u32, low: u32, high: u32) -> i32 {
    pvm_uniffi_instance_set_reg(handle, reg, u64::from(high) << 32 | u64::from(low))
}

/// `Instance::set_gas` with the gas in two 32-bit halves (two's complement), as
/// `pvm_uniffi_instance_set_reg_halves`.
///
/// # Safety
/// See `with_instance`.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_set_gas_halves(handle: u64, low: u32, high: u32) -> i32 {
    pvm_uniffi_instance_set_gas(handle, (u64::from(high) << 32 | u64::from(low)) as i64)
}

/// `Instance::prepare_call` (UniFFI passes `args` in a RustBuffer, a serialisation on each side).
///
/// # Safety
/// See `with_instance`; `args` is valid for `args_len` values (or NULL when it is 0).
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_prepare_call(handle: u64, pc: u32, args: *const u64, args_len: usize) -> i32 {
    with_instance(handle, |instance| {
        let args = if args_len == 0 { &[][..] } else { std::slice::from_raw_parts(args, args_len) };
        instance.prepare_call(pc, args.to_vec())
    })
}

/// `Instance::new`: a new instance of the module behind `module` (a UniFFI `Module` handle, borrowed),
/// returned as the handle UniFFI would give its foreign object; 0 on failure.
///
/// # Safety
/// `module` is a live UniFFI `Module` handle that the caller keeps alive for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_new(module: u64) -> u64 {
    if !is_rust_handle(module) {
        fail(PvmError::InvalidArgument("not a polkavm-ffi Module handle".to_owned()));
        return 0;
    }
    // The caller's handle, borrowed for the call (UniFFI would pass a clone for it to consume).
    let module: Arc<Module> = uniffi::Handle::from_raw_unchecked(module).into_arc_borrowed();
    let mut instance = 0;
    guarded(|| {
        instance = uniffi::Handle::from_arc(Instance::new(module)?).as_raw();
        Ok(())
    });
    instance
}

/// Frees an instance handle, as UniFFI's own free function does (without its call status).
///
/// # Safety
/// `handle` is a live UniFFI `Instance` handle that nothing uses afterwards.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_free(handle: u64) {
    if is_rust_handle(handle) {
        let instance: Arc<Instance> = uniffi::Handle::from_raw_unchecked(handle).into_arc();
        guarded(|| {
            drop(instance);
            Ok(())
        });
    }
}

/// `RunResult` in plain C layout, for `pvm_uniffi_instance_run`.
#[repr(C)]
pub struct FastRunResult {
    pub status: u32,
    pub host_call: u32,
    pub fault_address: u32,
    pub gas_remaining: i64,
}

/// `Instance::call` driven from the foreign side, for a handler called there directly (no
/// callback through UniFFI): `call`'s set-up and checks. `gas` counts only when `has_gas`.
/// Every successful begin must be followed by `pvm_uniffi_instance_call_end` on the same thread.
///
/// # Safety
/// See `with_instance`; `name` is valid for `name_len` bytes and `args` for `args_len` values
/// (either may be NULL when its length is 0).
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_call_begin(
    handle: u64,
    name: *const u8,
    name_len: usize,
    args: *const u64,
    args_len: usize,
    has_gas: bool,
    gas: i64,
) -> i32 {
    with_instance(handle, |instance| {
        let name = if name_len == 0 { &[][..] } else { std::slice::from_raw_parts(name, name_len) };
        let name = std::str::from_utf8(name).map_err(|_| PvmError::InvalidArgument("export name is not UTF-8".to_owned()))?;
        let args = if args_len == 0 { &[][..] } else { std::slice::from_raw_parts(args, args_len) };
        instance.call_begin(name, args, has_gas.then_some(gas))
    })
}

/// Runs a call begun on this thread to its next stop, as `pvm_uniffi_instance_run` reports it.
///
/// # Safety
/// See `with_instance`; `out` is valid for one `FastRunResult` write.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_call_run(handle: u64, out: *mut FastRunResult) -> i32 {
    with_instance(handle, |instance| {
        *out = instance.call_run()?.into();
        Ok(())
    })
}

/// `pvm_uniffi_instance_call_run` with the result returned, as `pvm_uniffi_instance_run_result`.
///
/// # Safety
/// See `with_instance`.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_call_run_result(handle: u64) -> FastRunResult {
    returned(handle, Instance::call_run)
}

/// Ends the call begun on this thread (nothing if none was).
///
/// # Safety
/// See `with_instance`.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_call_end(handle: u64) -> i32 {
    with_instance(handle, |instance| {
        instance.call_end();
        Ok(())
    })
}

/// `Instance::regs` into `out` (13 values).
///
/// # Safety
/// See `with_instance`; `out` is valid for 13 writes.
#[no_mangle]
pub unsafe extern "C" fn pvm_uniffi_instance_regs(handle: u64, out: *mut u64) -> i32 {
    with_instance(handle, |instance| {
        std::ptr::copy_nonoverlapping(instance.regs().as_ptr(), out, crate::REG_COUNT);
        Ok(())
    })
}

impl FastRunResult {
    /// The status of a `*_result` call that failed.
    pub const FAILED: FastRunResult = FastRunResult { status: u32::MAX, host_call: 0, fault_address: 0, gas_remaining: 0 };
}

impl From<RunResult> for FastRunResult {
    fn from(result: RunResult) -> Self {
        FastRunResult {
            status: result.status as u32,
            host_call: result.host_call,
            fault_address: result.fault_address,
            gas_remaining: result.gas_remaining,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An interpreter instance of tests/programs/test_program.pvmasm, as the handle a foreign face holds.
    fn instance() -> (Arc<Instance>, u64) {
        let instance = test_instance();
        let handle = Arc::as_ptr(&instance) as u64;
        (instance, handle)
    }

    fn error_text() -> String {
        let mut len = 0;
        let text = unsafe { std::slice::from_raw_parts(pvm_uniffi_error_text(&mut len), len) };
        String::from_utf8(text.to_vec()).unwrap()
    }

    #[test]
    fn reads_and_errors_are_the_uniffi_methods_own() {
        let (instance, handle) = instance();
        let (mut value, mut gas) = (1, 1);
        unsafe {
            assert_eq!(pvm_uniffi_instance_set_reg(handle, Reg::A3 as u32, 77), 0);
            assert_eq!(pvm_uniffi_instance_set_gas(handle, -5), 0);
            assert_eq!(pvm_uniffi_instance_read_reg(handle, Reg::A3 as u32, &mut value), 0);
            assert_eq!(pvm_uniffi_instance_read_gas(handle, &mut gas), 0);
        }
        assert_eq!((value, gas), (instance.reg(Reg::A3), instance.gas()));
        assert_eq!((value, gas), (77, -5));

        let name = "bad\0name";
        let status = unsafe { pvm_uniffi_instance_call_begin(handle, name.as_ptr(), name.len(), std::ptr::null(), 0, true, 100) };
        assert_eq!(status, -1);
        let expected = instance.call_begin(name, &[], Some(100)).unwrap_err().to_string();
        assert_eq!(pvm_uniffi_error_kind(), ErrorKind::InvalidArgument as u32);
        assert_eq!(error_text(), expected);
        assert!(expected.contains('\0'));

        // A read out of range fails and leaves `out` alone, with the UniFFI face's error.
        value = 9;
        assert_eq!(unsafe { pvm_uniffi_instance_read_reg(handle, 13, &mut value) }, -1);
        assert_eq!(value, 9);
        assert_eq!(pvm_uniffi_error_kind(), ErrorKind::InvalidArgument as u32);
        assert_eq!(error_text(), Reg::from_index(13).unwrap_err().to_string());
        // A success leaves the last failure as it was.
        assert_eq!(unsafe { pvm_uniffi_instance_read_reg(handle, Reg::A3 as u32, &mut value) }, 0);
        assert_eq!(error_text(), Reg::from_index(13).unwrap_err().to_string());
    }

    #[test]
    fn halves_and_returned_results_match_the_methods() {
        let (instance, handle) = instance();
        for value in [0, 1, 0xFFFF_FFFF, 0x1_0000_0002, u64::MAX] {
            assert_eq!(unsafe { pvm_uniffi_instance_set_reg_halves(handle, Reg::T1 as u32, value as u32, (value >> 32) as u32) }, 0);
            assert_eq!(instance.reg(Reg::T1), value);
        }
        for gas in [0, 5, -1, i64::MIN, i64::MAX, -(1 << 40)] {
            assert_eq!(unsafe { pvm_uniffi_instance_set_gas_halves(handle, gas as u32, (gas >> 32) as u32) }, 0);
            assert_eq!(instance.gas(), gas);
        }
        assert_eq!(unsafe { pvm_uniffi_instance_set_reg_halves(handle, 13, 0, 0) }, -1);
        assert_eq!(error_text(), Reg::from_index(13).unwrap_err().to_string());

        instance.prepare_call_export("add".to_owned(), vec![40, 2]).unwrap();
        instance.set_gas(1000);
        let result = unsafe { pvm_uniffi_instance_run_result(handle) };
        assert_eq!((result.status, instance.reg(Reg::A0)), (Status::Halt as u32, 42));
        assert_eq!(result.gas_remaining, instance.gas());
        // Running a halted instance fails as the method does, with the FAILED status.
        let expected = instance.run().map(|_| ()).map_err(|error| error.to_string());
        let again = unsafe { pvm_uniffi_instance_run_result(handle) };
        match expected {
            Err(message) => assert_eq!((again.status, error_text()), (FastRunResult::FAILED.status, message)),
            Ok(()) => assert_ne!(again.status, FastRunResult::FAILED.status),
        }
        assert_eq!(unsafe { pvm_uniffi_instance_run_result(0) }.status, FastRunResult::FAILED.status);
        assert_eq!(unsafe { pvm_uniffi_instance_call_run_result(handle) }.status, FastRunResult::FAILED.status);
        assert_eq!(error_text(), PvmError::WrongState("no call begun on this thread".to_owned()).to_string());
    }

    #[test]
    fn new_instances_and_prepared_calls_are_the_methods_own() {
        let module = test_module();
        let handle = unsafe { pvm_uniffi_instance_new(Arc::as_ptr(&module) as u64) };
        assert_ne!(handle, 0);
        assert_eq!(Arc::strong_count(&module), 1, "the module handle is borrowed, not consumed");
        // The handle is UniFFI's: it frees the instance as it frees one it made itself.
        let instance: Arc<Instance> = unsafe { uniffi::Handle::from_raw_unchecked(handle).into_arc() };
        let add = module.export_pc("add".to_owned()).unwrap();
        let args = [40u64, 2];
        assert_eq!(unsafe { pvm_uniffi_instance_prepare_call(handle, add, args.as_ptr(), args.len()) }, 0);
        instance.set_gas(1000);
        assert_eq!((instance.run().unwrap().status, instance.reg(Reg::A0)), (Status::Halt, 42));
        assert_eq!(unsafe { pvm_uniffi_instance_prepare_call(handle, add, std::ptr::null(), 0) }, 0);
        assert_eq!((instance.reg(Reg::A0), instance.reg(Reg::A1)), (0, 0));

        let too_many = [1u64; 20];
        let expected = instance.prepare_call(add, too_many.to_vec()).unwrap_err().to_string();
        assert_eq!(unsafe { pvm_uniffi_instance_prepare_call(handle, add, too_many.as_ptr(), too_many.len()) }, -1);
        assert_eq!(error_text(), expected);
        let second = unsafe { pvm_uniffi_instance_new(Arc::as_ptr(&module) as u64) };
        let observer: Arc<Instance> = unsafe { uniffi::Handle::from_raw_unchecked(second).into_arc_borrowed() };
        assert_eq!(Arc::strong_count(&observer), 2);
        unsafe { pvm_uniffi_instance_free(second) };
        assert_eq!(Arc::strong_count(&observer), 1, "the free dropped the handle's reference");
        assert_eq!(unsafe { pvm_uniffi_instance_new(0) }, 0);
        assert_eq!((pvm_uniffi_error_kind(), error_text()), (ErrorKind::InvalidArgument as u32, "not a polkavm-ffi Module handle".to_owned()));
    }
}
