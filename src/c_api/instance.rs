//! C ABI: instances (registers, gas, runs, memory, heap).

use super::*;

/// A new instance of `module` (the engine must be the one the module was loaded with), with
/// gas 0 and no call prepared. NULL on failure. Free with `pvm_instance_free`.
///
/// # Safety
/// `engine` is NULL or a live engine handle.
/// `module` is NULL or a live module handle.
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
///
/// # Safety
/// `instance` is NULL or a live instance handle, used by no other thread during the call and
/// by nobody afterwards.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_free(instance: PvmInstance) {
    if !instance.is_null() {
        guard((), || free_handle::<Instance, _>(instance, INSTANCE_TAG, "instance"))
    }
}

/// Memory back to the module's initial image, registers to zero. Sets the last error on failure
/// (NULL or invalid handle).
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_reset(instance: PvmInstance) {
    guard((), || instance_arg(instance)?.reset())
}

/// Sets the gas available to the next run. NULL: ignored, with a last error.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_set_gas(instance: PvmInstance, gas: i64) {
    guard((), || {
        instance_arg(instance)?.set_gas(gas);
        Ok(())
    })
}

/// Gas left; 0 for a NULL or invalid handle.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_get_gas(instance: PvmInstance) -> i64 {
    guard(0, || Ok(instance_arg(instance)?.gas()))
}

/// Sets register `reg` (0..12, `PVM_REG_*`). Out of range or NULL: ignored, with a last error.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_set_reg(instance: PvmInstance, reg: u32, value: u64) {
    guard((), || {
        let reg = Reg::from_index(reg)?;
        instance_arg(instance)?.set_reg(reg, value);
        Ok(())
    })
}

/// Register `reg` (0..12, `PVM_REG_*`); 0 with a last error if out of range or NULL.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_get_reg(instance: PvmInstance, reg: u32) -> u64 {
    guard(0, || {
        let reg = Reg::from_index(reg)?;
        Ok(instance_arg(instance)?.reg(reg))
    })
}

/// Copies all 13 registers into `out` (`PVM_REG_COUNT` values, indexed by `PVM_REG_*`).
/// 0 ok, -1 on NULL handle or NULL `out`.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
/// `out` is NULL or points to `PVM_REG_COUNT` writable `uint64_t` values.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_get_regs(instance: PvmInstance, out: *mut u64) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        if out.is_null() {
            return Err(Error::invalid_argument("out is NULL"));
        }
        caller_slice_mut(out, REG_COUNT, "out")?.copy_from_slice(&instance.regs());
        Ok(0)
    })
}

/// Sets all 13 registers from `values` (`PVM_REG_COUNT` values). 0 ok, -1 on NULL handle or NULL
/// `values`.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
/// `values` is NULL or points to `PVM_REG_COUNT` readable `uint64_t` values.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_set_regs(instance: PvmInstance, values: *const u64) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        let values = caller_value(values.cast::<[u64; REG_COUNT]>(), "values")?;
        instance.set_regs(values);
        Ok(0)
    })
}

/// Program counter of the instruction where the last run stopped (the `ecalli`, the trapping
/// instruction...); `PVM_PC_NONE` if there is none (e.g. after a halt) or on a NULL handle.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_get_pc(instance: PvmInstance) -> u32 {
    guard(PVM_PC_NONE, || Ok(instance_arg(instance)?.pc().unwrap_or(PVM_PC_NONE)))
}

/// Where the next run starts; `PVM_PC_NONE` if nowhere (no call prepared, or the program halted
/// or trapped) or on a NULL handle.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_get_next_pc(instance: PvmInstance) -> u32 {
    guard(PVM_PC_NONE, || Ok(instance_arg(instance)?.next_pc().unwrap_or(PVM_PC_NONE)))
}

/// Sets the program counter where the next run starts. NULL: ignored, with a last error.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_set_pc(instance: PvmInstance, pc: u32) {
    guard((), || {
        instance_arg(instance)?.set_next_pc(pc);
        Ok(())
    })
}

/// Prepares a call to `pc` by polkavm's default ABI: registers zeroed, RA = the return-to-host
/// address, SP = the stack top, next pc = `pc`. Gas is left as it is. 0 ok, -1 on a NULL handle.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_prepare_call(instance: PvmInstance, pc: u32) -> i32 {
    pvm_instance_prepare_call_args(instance, pc, std::ptr::null(), 0)
}

/// Like `pvm_instance_prepare_call`, with `count` arguments (at most 9) placed in A0..A5, then
/// T0..T2. 0 ok, -1 on a NULL handle, NULL `args` with non-zero `count`, or too many arguments.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
/// `args` is NULL or points to `count` readable `uint64_t` values.
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
        if args.is_null() && count != 0 {
            return Err(Error::invalid_argument(format!("args is NULL but count is {count}")));
        }
        let args = caller_slice(args, count as usize, "args")?;
        instance.prepare_call(pc, args)?;
        Ok(0)
    })
}

/// Runs from the next program counter until the program stops; see `PVM_STATUS_*`. A host-side
/// failure (NULL handle, no call prepared, a sandbox error) returns `PVM_STATUS_PANIC` with the
/// reason in `pvm_last_error`.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
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
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
/// `out` is NULL or points to a writable `PvmResult`.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_run_checked(instance: PvmInstance, out: *mut PvmResult) -> i32 {
    if !out.is_null() {
        *out = HOST_FAILURE;
    }
    guard(-1, || {
        let instance = instance_arg(instance)?;
        let out = caller_value_mut(out, "out")?;
        *out = instance.run()?.into();
        Ok(0)
    })
}

/// The host-call fast path: sets register `reg` to `value` (typically a host call's result in
/// `PVM_REG_A0`; `PVM_REG_NONE` sets nothing), then runs on, as `pvm_instance_set_reg` followed by
/// `pvm_instance_run_checked` would, in one call and without reading the gas left
/// (`pvm_instance_get_gas` gives it). Returns the status (`PVM_STATUS_*`, never negative), with the
/// host call number in `*host_call` when it is `PVM_STATUS_HOST` (`host_call` may be NULL), or -1
/// when the run could not happen (NULL handle, `reg` out of range, no call prepared, a sandbox
/// error) with the reason in `pvm_last_error`; a -1 for a bad `reg` runs nothing.
///
/// # Safety
/// `instance` is NULL or a live instance handle not used by another thread during the call;
/// `host_call` is NULL or valid for one `uint32_t` write.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_resume(instance: PvmInstance, reg: u32, value: u64, host_call: *mut u32) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        if reg != PVM_REG_NONE {
            instance.set_reg(Reg::from_index(reg)?, value);
        }
        let (status, number, _) = instance.run_until_stop()?;
        if let Some(host_call) = host_call.as_mut() {
            *host_call = number;
        }
        Ok(status as i32)
    })
}

/// `pvm_instance_resume` that also reads register `read_reg` into `*read_value` once the run
/// stops (whatever the status): a host-call round trip (write the result, run on, read the next
/// call's argument) in one call. `read_reg` is checked before anything runs (-1 when out of
/// range); on -1 `*read_value` is not written. Since `PVM_ABI_VERSION` 6.
///
/// # Safety
/// `instance` is NULL or a live instance handle not used by another thread during the call;
/// `read_value` is NULL or valid for one `uint64_t` write, `host_call` NULL or valid for one
/// `uint32_t` write.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_resume_read(
    instance: PvmInstance,
    write_reg: u32,
    value: u64,
    read_reg: u32,
    read_value: *mut u64,
    host_call: *mut u32,
) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        let read_reg = Reg::from_index(read_reg)?;
        if write_reg != PVM_REG_NONE {
            instance.set_reg(Reg::from_index(write_reg)?, value);
        }
        let (status, number, _) = instance.run_until_stop()?;
        if let Some(host_call) = host_call.as_mut() {
            *host_call = number;
        }
        if let Some(read_value) = read_value.as_mut() {
            *read_value = instance.reg(read_reg);
        }
        Ok(status as i32)
    })
}

/// Address of the page whose access stopped the last run with `PVM_STATUS_FAULT`; 0 with a last
/// error if the last run did not fault, or on a NULL handle.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
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
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
/// `buf` is NULL or points to `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_read_memory(instance: PvmInstance, addr: u32, buf: *mut u8, len: u32) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        instance.read_memory_into(addr, caller_slice_mut(buf, len as usize, "buf")?)?;
        Ok(0)
    })
}

/// Copies `len` bytes from `data` into guest memory at `addr`. 0 ok, -1 if any byte is not
/// writable, or on a NULL handle, or NULL `data` with non-zero `len`.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
/// `data` is NULL or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_write_memory(instance: PvmInstance, addr: u32, data: *const u8, len: u32) -> i32 {
    guard(-1, || {
        let instance = instance_arg(instance)?;
        instance.write_memory(addr, caller_slice(data, len as usize, "data")?)?;
        Ok(0)
    })
}

/// Grows the heap by `size` bytes (not pages) exactly as polkavm's `sbrk` does, and returns its
/// result: the new top of the heap (`sbrk(0)` returns the current top). 0 on failure (the heap
/// cannot grow that far, dynamic paging, NULL handle).
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_sbrk(instance: PvmInstance, size: u32) -> u32 {
    guard(0, || instance_arg(instance)?.sbrk(size))
}

/// Current heap size in bytes; 0 with a last error under dynamic paging or on a NULL handle.
///
/// # Safety
/// `instance` is NULL or a live instance handle that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn pvm_instance_heap_size(instance: PvmInstance) -> u32 {
    guard(0, || instance_arg(instance)?.heap_size())
}
