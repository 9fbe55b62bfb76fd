//! UniFFI API: instances (registers, gas, runs, memory, host handlers).

use std::sync::{Condvar, PoisonError};
use std::thread::{self, ThreadId};

use super::*;

/// A run's outcome together with the register file where it stopped (indexed by `Reg` number).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RunOutcome {
    pub result: RunResult,
    pub regs: Vec<u64>,
}

/// Handles the host calls (`ecalli N`) of [`Instance::call`]; implemented in the foreign language.
#[uniffi::export(with_foreign)]
pub trait HostHandler: Send + Sync {
    /// Handles host call `number`. The handler may read and write `instance`'s registers, memory
    /// and gas (running, calling or resetting it raises WrongState). Returns the value to put in
    /// A0, or None to leave the registers as the handler set them. Raising an error aborts the
    /// call with HostAborted.
    fn on_host_call(&self, number: u32, instance: Arc<Instance>) -> std::result::Result<Option<u64>, HostError>;
}

pub(super) struct State {
    pub(super) core: crate::Instance,
    /// The thread whose `call` is running on this instance. Its handler may use the instance (but
    /// not run it); every other thread waits until the call ends.
    call_thread: Option<ThreadId>,
}

/// A running copy of a module: registers, memory and gas. Usable from any thread: while one
/// thread's `call` runs, other threads' calls on the instance wait until it ends (so a handler
/// must not wait for another thread that uses its instance).
#[derive(uniffi::Object)]
pub struct Instance {
    state: Mutex<State>,
    /// Signalled when a `call` ends.
    call_ended: Condvar,
}

/// The calling thread's id, cached: `thread::current()` costs two atomic operations a call, and
/// every host call of a `call` asks for it several times.
fn this_thread() -> ThreadId {
    thread_local! { static ID: ThreadId = thread::current().id(); }
    ID.with(|id| *id)
}

const BUSY: &str = "instance is busy: run/call called re-entrantly from a host-call handler";

/// Ends the `call` begun on this thread when dropped (also when a Rust handler panics).
struct CallScope<'a>(&'a Instance);

impl Drop for CallScope<'_> {
    fn drop(&mut self) {
        self.0.call_end();
    }
}

impl Instance {
    /// The instance, once no other thread's `call` is running on it.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // Only a panic with the lock held poisons it, and polkavm's panics are caught where they
        // happen (the core's calls, `run_core`), so the instance behind a poisoned lock is whole.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.call_thread.is_some() {
            let this_thread = this_thread();
            while state.call_thread.is_some_and(|owner| owner != this_thread) {
                state = self.call_ended.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
        }
        state
    }

    /// The instance for an operation that a running `call` forbids (running, preparing, resetting):
    /// only the call's own thread (its handler) can get here during a call.
    fn lock_idle(&self) -> Result<MutexGuard<'_, State>> {
        let state = self.lock();
        if state.call_thread.is_some() {
            return Err(PvmError::WrongState(BUSY.to_owned()));
        }
        Ok(state)
    }

    /// `call` up to its first run: prepares the call and makes this thread the call's owner, until
    /// `call_end`. The foreign faces' fast paths drive the rest themselves (`call_run`).
    pub(super) fn call_begin(&self, name: &str, args: &[u64], gas: Option<i64>) -> Result<()> {
        let mut state = self.lock_idle()?;
        if gas.is_none() && state.core.module().config().gas_metering != crate::GasMetering::Disabled {
            let message = "call needs gas: the module meters gas (GasMetering.DISABLED turns metering off)";
            return Err(PvmError::InvalidArgument(message.to_owned()));
        }
        state.core.prepare_call_export(name, args)?;
        if let Some(gas) = gas {
            state.core.set_gas(gas);
        }
        state.call_thread = Some(this_thread());
        Ok(())
    }

    /// Runs a call begun on this thread to its next stop (a host call, or the end).
    pub(super) fn call_run(&self) -> Result<RunResult> {
        let mut state = self.lock();
        if state.call_thread != Some(this_thread()) {
            return Err(PvmError::WrongState("no call begun on this thread".to_owned()));
        }
        Self::run_core(&mut state)
    }

    /// Ends the call begun on this thread, if any, and wakes the threads waiting for it.
    pub(super) fn call_end(&self) {
        let mut state = self.lock();
        if state.call_thread == Some(this_thread()) {
            state.call_thread = None;
            self.call_ended.notify_all();
        }
    }

    /// Runs the core instance; a polkavm panic becomes `PvmError::Panic`, as in the C ABI.
    fn run_core(state: &mut State) -> Result<RunResult> {
        Ok(crate::error::catch_panic("running", || state.core.run())?)
    }

    fn outcome(state: &State, result: RunResult) -> RunOutcome {
        RunOutcome { result, regs: state.core.regs().to_vec() }
    }

    fn dispatch_host_calls(self: &Arc<Self>, handler: &Arc<dyn HostHandler>) -> Result<RunOutcome> {
        loop {
            let result = {
                let mut state = self.lock();
                let result = Self::run_core(&mut state)?;
                if result.status != Status::Host {
                    return Ok(Self::outcome(&state, result));
                }
                result
            };
            // The lock is released here so that the handler can use this instance.
            match handler.on_host_call(result.host_call, Arc::clone(self)) {
                Ok(Some(value)) => self.lock().core.set_reg(Reg::A0, value),
                Ok(None) => {}
                Err(HostError::Abort { reason }) => {
                    return Err(PvmError::HostAborted(format!("host call {} aborted: {reason}", result.host_call)))
                }
            }
        }
    }
}

#[uniffi::export]
impl Instance {
    #[uniffi::constructor]
    pub fn new(module: Arc<Module>) -> Result<Arc<Instance>> {
        let core = crate::Instance::new(&module.core)?;
        Ok(Arc::new(Instance { state: Mutex::new(State { core, call_thread: None }), call_ended: Condvar::new() }))
    }

    pub fn gas(&self) -> i64 {
        self.lock().core.gas()
    }

    pub fn set_gas(&self, gas: i64) {
        self.lock().core.set_gas(gas)
    }

    pub fn reg(&self, reg: Reg) -> u64 {
        self.lock().core.reg(reg)
    }

    pub fn set_reg(&self, reg: Reg, value: u64) {
        self.lock().core.set_reg(reg, value)
    }

    /// All 13 registers, indexed by `Reg` number.
    pub fn regs(&self) -> Vec<u64> {
        self.lock().core.regs().to_vec()
    }

    /// Sets all 13 registers, indexed by `Reg` number.
    pub fn set_regs(&self, values: Vec<u64>) -> Result<()> {
        let values: [u64; crate::REG_COUNT] = values.as_slice().try_into().map_err(|_| {
            PvmError::InvalidArgument(format!("set_regs needs {} values, not {}", crate::REG_COUNT, values.len()))
        })?;
        self.lock().core.set_regs(&values);
        Ok(())
    }

    /// The program counter of the instruction that last stopped the run, if any.
    pub fn pc(&self) -> Option<u32> {
        self.lock().core.pc()
    }

    /// Where the next run starts, if anywhere.
    pub fn next_pc(&self) -> Option<u32> {
        self.lock().core.next_pc()
    }

    pub fn set_next_pc(&self, pc: u32) -> Result<()> {
        self.lock_idle()?.core.set_next_pc(pc);
        Ok(())
    }

    /// The page address of the last Fault.
    pub fn fault_address(&self) -> Option<u32> {
        self.lock().core.fault_address()
    }

    /// Sets up a call: registers zeroed, RA the return-to-host address, SP the stack top,
    /// A0.. (then T0..T2) the arguments, next pc = `pc`.
    #[uniffi::method(default(args = []))]
    pub fn prepare_call(&self, pc: u32, args: Vec<u64>) -> Result<()> {
        Ok(self.lock_idle()?.core.prepare_call(pc, &args)?)
    }

    #[uniffi::method(default(args = []))]
    pub fn prepare_call_export(&self, name: String, args: Vec<u64>) -> Result<()> {
        Ok(self.lock_idle()?.core.prepare_call_export(&name, &args)?)
    }

    /// Runs from the next program counter until the program stops.
    pub fn run(&self) -> Result<RunResult> {
        Self::run_core(&mut *self.lock_idle()?)
    }

    /// Like `run`, and returns the registers as the run left them.
    pub fn run_with_regs(&self) -> Result<RunOutcome> {
        let mut state = self.lock_idle()?;
        let result = Self::run_core(&mut state)?;
        Ok(Self::outcome(&state, result))
    }

    /// Calls export `name` with `args` and `gas`, and runs until the program stops for a reason
    /// other than a host call; each host call goes to `handler` first. `gas` may be left out
    /// (None) only when the module does not meter gas.
    #[uniffi::method(default(gas = None))]
    pub fn call(self: Arc<Self>, name: String, args: Vec<u64>, handler: Arc<dyn HostHandler>, gas: Option<i64>) -> Result<RunOutcome> {
        self.call_begin(&name, &args, gas)?;
        let _call = CallScope(&self);
        self.dispatch_host_calls(&handler)
    }

    pub fn read_memory(&self, address: u32, length: u32) -> Result<Vec<u8>> {
        Ok(self.lock().core.read_memory(address, length)?)
    }

    pub fn write_memory(&self, address: u32, data: Vec<u8>) -> Result<()> {
        Ok(self.lock().core.write_memory(address, &data)?)
    }

    /// Grows the heap by `size` bytes; returns the new heap top. `sbrk(0)` returns the current top.
    pub fn sbrk(&self, size: u32) -> Result<u32> {
        Ok(self.lock().core.sbrk(size)?)
    }

    pub fn heap_size(&self) -> Result<u32> {
        Ok(self.lock().core.heap_size()?)
    }

    /// Memory back to the module's initial image, registers to zero.
    pub fn reset(&self) -> Result<()> {
        Ok(self.lock_idle()?.core.reset()?)
    }

    /// Maps zeroed pages at `address` (page-aligned), `length` rounded up to whole pages
    /// (dynamic paging only).
    pub fn map_pages(&self, address: u32, length: u32, writable: bool) -> Result<()> {
        Ok(self.lock().core.map_pages(address, length, writable)?)
    }

    /// Makes mapped pages read-only (`read_only`) or writable again (dynamic paging only).
    pub fn protect_pages(&self, address: u32, length: u32, read_only: bool) -> Result<()> {
        Ok(self.lock().core.protect_pages(address, length, read_only)?)
    }

    /// Unmaps pages (dynamic paging only).
    pub fn free_pages(&self, address: u32, length: u32) -> Result<()> {
        Ok(self.lock().core.free_pages(address, length)?)
    }
}
