//! UniFFI API: instances (registers, gas, runs, memory, host handlers).

#[cfg(not(target_os = "linux"))]
use std::cell::Cell;
use std::cell::UnsafeCell;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, PoisonError};
use std::thread;
use std::time::Duration;

use super::membarrier;

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

/// The instance's core, borrowed: under the lock, on the thread whose `call` is running, or on the
/// thread the instance is biased to (see `Instance::lock`).
pub(super) struct State<'a> {
    /// The lock, if this borrow took it.
    guard: Option<MutexGuard<'a, u64>>,
    /// Whether this thread's own `call` is running.
    in_call: bool,
    /// The biased thread's busy flag, cleared when the borrow ends.
    biased: Option<&'a AtomicBool>,
    pub(super) core: &'a mut crate::Instance,
}

impl Drop for State<'_> {
    fn drop(&mut self) {
        if let Some(busy) = self.biased {
            busy.store(false, Ordering::Release);
        }
    }
}

/// A running copy of a module: registers, memory and gas. Usable from any thread: while one
/// thread's `call` runs, other threads' calls on the instance wait until it ends (so a handler
/// must not wait for another thread that uses its instance).
#[derive(uniffi::Object)]
pub struct Instance {
    /// Guards `core`, and holds the token (`this_thread`) of the thread whose `call` is running, or
    /// 0. While a call runs, only its thread uses `core`; every other thread waits until it ends.
    call_thread: Mutex<u64>,
    /// `call_thread`, written with it, read without the lock: a thread that finds its own token
    /// here is inside its own call and uses `core` without locking.
    call_owner: AtomicU64,
    /// The thread that created the instance, which uses `core` without the lock (an uncontended
    /// lock and unlock cost more than a register read through the C ABI), until another thread
    /// takes the lock and revokes this for good (`revoke_bias`); 0 once revoked, or where the
    /// revocation's membarrier is not available.
    bias: AtomicU64,
    /// Set by the biased thread while it uses `core` without the lock.
    bias_busy: AtomicBool,
    core: UnsafeCell<crate::Instance>,
    /// Signalled when a `call` ends.
    call_ended: Condvar,
}

// SAFETY: `core` is only reached through `Instance::lock` and `lock_mutex`, which hand it out to
// one thread at a time: under the mutex (having revoked the bias), to the thread whose call is
// running (the others wait for its end under the mutex), or to the biased thread (see `lock`).
unsafe impl Sync for Instance {}

/// The calling thread's token: nonzero, and no two live threads share one. On Linux its pthread
/// id (a call into libc that reads one register), elsewhere a number drawn on first use from a
/// thread-local (a thread-local costs a `__tls_get_addr` call in a shared library).
fn this_thread() -> u64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: pthread_self has no preconditions.
        unsafe { libc::pthread_self() as u64 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        thread_local! { static TOKEN: Cell<u64> = const { Cell::new(0) }; }
        TOKEN.with(|token| {
            if token.get() == 0 {
                token.set(NEXT.fetch_add(1, Ordering::Relaxed));
            }
            token.get()
        })
    }
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
    /// The core, once no other thread's `call` is running on it. Takes no lock on the thread
    /// whose call is running, nor on the thread the instance is biased to.
    #[inline(always)]
    pub(super) fn lock(&self) -> State<'_> {
        let (owner, bias) = (self.call_owner.load(Ordering::Relaxed), self.bias.load(Ordering::Relaxed));
        if owner | bias != 0 {
            let me = this_thread();
            if owner == me {
                // SAFETY: this thread's own call; the others wait for its end before using `core`.
                // No other borrow of `core` is alive on this thread (a handler runs between
                // borrows, never inside one).
                return State { guard: None, in_call: true, biased: None, core: unsafe { &mut *self.core.get() } };
            }
            if bias == me {
                // One side of a Dekker handshake with `revoke_bias`: busy, then the bias again. The
                // membarrier there stands in for this side's fence, which costs what a lock does.
                self.bias_busy.store(true, Ordering::Relaxed);
                compiler_fence(Ordering::SeqCst);
                if self.bias.load(Ordering::Relaxed) == me {
                    // SAFETY: a thread that takes the lock waits until `bias_busy` is clear.
                    let core = unsafe { &mut *self.core.get() };
                    return State { guard: None, in_call: false, biased: Some(&self.bias_busy), core };
                }
                self.bias_busy.store(false, Ordering::Release);
            }
        }
        self.lock_mutex()
    }

    /// The core under the lock, once no other thread's `call` is running on it.
    #[inline(never)]
    fn lock_mutex(&self) -> State<'_> {
        // Only a panic with the lock held poisons it, and polkavm's panics are caught where they
        // happen (the core's calls, `run_core`), so the instance behind a poisoned lock is whole.
        let mut guard = self.call_thread.lock().unwrap_or_else(PoisonError::into_inner);
        let (bias, me) = (self.bias.load(Ordering::Relaxed), this_thread());
        if bias != 0 && bias != me {
            self.revoke_bias();
        }
        while *guard != 0 && *guard != me {
            guard = self.call_ended.wait(guard).unwrap_or_else(PoisonError::into_inner);
        }
        let in_call = *guard != 0;
        // SAFETY: under the lock, the bias revoked (or this thread's), no other thread's call running.
        State { guard: Some(guard), in_call, biased: None, core: unsafe { &mut *self.core.get() } }
    }

    /// Ends the bias, for good; under the lock. After it, the biased thread no longer uses `core`
    /// without the lock.
    #[cold]
    #[inline(never)]
    fn revoke_bias(&self) {
        self.bias.store(0, Ordering::Relaxed);
        // Every thread passes a full barrier: the biased thread either sees the bias gone, or has
        // made its busy flag visible, and then it is waited for.
        membarrier::barrier();
        let mut spins = 0u32;
        while self.bias_busy.load(Ordering::Acquire) {
            // The biased thread may be in a long run: yield, then sleep.
            spins += 1;
            if spins < 100 {
                thread::yield_now();
            } else {
                thread::sleep(Duration::from_micros(100));
            }
        }
    }

    /// The instance for an operation that a running `call` forbids (running, preparing, resetting):
    /// only the call's own thread (its handler) can get here during a call.
    #[inline(always)]
    fn lock_idle(&self) -> Result<State<'_>> {
        Self::idle(self.lock())
    }

    /// `state`, unless this thread's call is running (its handler may not run, prepare or reset).
    #[inline(always)]
    fn idle(state: State<'_>) -> Result<State<'_>> {
        if state.in_call {
            return Err(PvmError::WrongState(BUSY.to_owned()));
        }
        Ok(state)
    }

    /// `call` up to its first run: prepares the call and makes this thread the call's owner, until
    /// `call_end`. The foreign faces' fast paths drive the rest themselves (`call_run`).
    pub(super) fn call_begin(&self, name: &str, args: &[u64], gas: Option<i64>) -> Result<()> {
        // Under the lock, so that no other thread's call can begin between the checks and this one.
        let mut state = Self::idle(self.lock_mutex())?;
        if gas.is_none() && state.core.module().config().gas_metering != crate::GasMetering::Disabled {
            let message = "call needs gas: the module meters gas (GasMetering.DISABLED turns metering off)";
            return Err(PvmError::InvalidArgument(message.to_owned()));
        }
        state.core.prepare_call_export(name, args)?;
        if let Some(gas) = gas {
            state.core.set_gas(gas);
        }
        if let Some(call_thread) = state.guard.as_mut() {
            **call_thread = this_thread();
            self.call_owner.store(**call_thread, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Runs a call begun on this thread to its next stop (a host call, or the end).
    pub(super) fn call_run(&self) -> Result<RunResult> {
        let mut state = self.lock();
        if !state.in_call {
            return Err(PvmError::WrongState("no call begun on this thread".to_owned()));
        }
        Self::run_core(&mut state)
    }

    /// Ends the call begun on this thread, if any, and wakes the threads waiting for it.
    pub(super) fn call_end(&self) {
        let mut call_thread = self.call_thread.lock().unwrap_or_else(PoisonError::into_inner);
        if *call_thread == this_thread() {
            *call_thread = 0;
            self.call_owner.store(0, Ordering::Relaxed);
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
        Ok(Arc::new(Instance {
            call_thread: Mutex::new(0),
            call_owner: AtomicU64::new(0),
            bias: AtomicU64::new(if membarrier::available() { this_thread() } else { 0 }),
            bias_busy: AtomicBool::new(false),
            core: UnsafeCell::new(core),
            call_ended: Condvar::new(),
        }))
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
        Self::run_core(&mut self.lock_idle()?)
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

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    fn biased(instance: &Instance) -> bool {
        instance.bias.load(Ordering::Relaxed) != 0
    }

    #[test]
    fn the_creating_thread_is_biased_until_another_thread_takes_the_lock() {
        let instance = test_instance();
        if !membarrier::available() {
            assert!(!biased(&instance));
            eprintln!("membarrier(2) is not available here: instances are never biased; the lock serves every thread");
            return;
        }
        assert_eq!(instance.bias.load(Ordering::Relaxed), this_thread());
        instance.set_reg(Reg::T0, 7);
        assert_eq!(instance.reg(Reg::T0), 7);
        assert!(biased(&instance), "the creating thread's own use keeps the bias");

        let other = Arc::clone(&instance);
        thread::spawn(move || other.set_reg(Reg::T1, other.reg(Reg::T0) + 1)).join().unwrap();
        assert!(!biased(&instance), "another thread's use revokes the bias");
        assert_eq!((instance.reg(Reg::T0), instance.reg(Reg::T1)), (7, 8));
        assert!(!instance.bias_busy.load(Ordering::Relaxed));
    }

    #[test]
    fn another_thread_waits_for_the_biased_threads_run() {
        // The biased thread runs `sum` without the lock; a thread that reads A0 meanwhile must wait
        // for the run's end and read the sum, never a partial one.
        let instance = test_instance();
        let n = 10_000_000u64;
        instance.prepare_call_export("sum".to_owned(), vec![n]).unwrap();
        instance.set_gas(i64::MAX);
        let started = Arc::new(Barrier::new(2));
        let reader = {
            let (instance, started) = (Arc::clone(&instance), Arc::clone(&started));
            thread::spawn(move || {
                started.wait();
                thread::sleep(Duration::from_millis(20));
                instance.reg(Reg::A0)
            })
        };
        started.wait();
        let result = instance.run().unwrap();
        assert_eq!(result.status, Status::Halt);
        assert_eq!(reader.join().unwrap(), n * (n + 1) / 2);
    }

    #[test]
    fn revocations_in_the_middle_of_the_biased_threads_work_leave_both_threads_their_values() {
        for round in 0..200u64 {
            let instance = test_instance();
            let joined = Arc::new(Barrier::new(2));
            let other = {
                let (instance, joined) = (Arc::clone(&instance), Arc::clone(&joined));
                thread::spawn(move || {
                    joined.wait();
                    for i in 0..100 {
                        instance.set_reg(Reg::T1, round * 1000 + i);
                        assert_eq!(instance.reg(Reg::T1), round * 1000 + i);
                    }
                })
            };
            for i in 0..300 {
                if i == 50 {
                    joined.wait();
                }
                instance.set_reg(Reg::T0, round * 1000 + i);
                assert_eq!(instance.reg(Reg::T0), round * 1000 + i);
            }
            other.join().unwrap();
            assert!(!biased(&instance) || !membarrier::available());
            assert_eq!((instance.reg(Reg::T0), instance.reg(Reg::T1)), (round * 1000 + 299, round * 1000 + 99));
        }
    }
}
