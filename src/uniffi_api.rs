//! The UniFFI API behind the Python, Kotlin and Swift bindings: a thin face over the core
//! [`crate::Engine`], [`crate::Module`] and [`crate::Instance`], with the same semantics and
//! error messages as the C ABI.
//!
//! UniFFI calls cost microseconds each, so the API is coarse: bulk register and memory
//! transfers, runs that return the register file, and [`Instance::call`], which runs to
//! completion and dispatches every host call to a foreign [`HostHandler`].

use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::ErrorKind;
use crate::{MemoryInfo, Reg, RunResult, Status};

/// Every failure of the API. The text is the same message the C ABI gives in `pvm_last_error`.
#[derive(Debug, uniffi::Error)]
#[uniffi(flat_error)]
pub enum PvmError {
    /// An argument was out of range or otherwise unusable.
    InvalidArgument(String),
    /// The bytes given as a program are not a loadable program.
    InvalidProgram(String),
    /// The requested configuration is not available on this machine or build.
    Unsupported(String),
    /// polkavm could not create an engine, module or instance (sandbox, system limits).
    Setup(String),
    /// A guest memory access requested by the host failed.
    Memory(String),
    /// The call is not valid in the instance's current state.
    WrongState(String),
    /// polkavm panicked; the panic was caught and the process is unharmed.
    Panic(String),
    /// A host-call handler aborted the run.
    HostAborted(String),
}

impl std::fmt::Display for PvmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (PvmError::InvalidArgument(message)
        | PvmError::InvalidProgram(message)
        | PvmError::Unsupported(message)
        | PvmError::Setup(message)
        | PvmError::Memory(message)
        | PvmError::WrongState(message)
        | PvmError::Panic(message)
        | PvmError::HostAborted(message)) = self;
        f.write_str(message)
    }
}

impl std::error::Error for PvmError {}

impl From<crate::Error> for PvmError {
    fn from(error: crate::Error) -> Self {
        let message = error.message().to_owned();
        match error.kind() {
            ErrorKind::InvalidArgument => PvmError::InvalidArgument(message),
            ErrorKind::InvalidProgram => PvmError::InvalidProgram(message),
            ErrorKind::Unsupported => PvmError::Unsupported(message),
            ErrorKind::Setup => PvmError::Setup(message),
            ErrorKind::Memory => PvmError::Memory(message),
            ErrorKind::WrongState => PvmError::WrongState(message),
            ErrorKind::Panic => PvmError::Panic(message),
            ErrorKind::HostAborted => PvmError::HostAborted(message),
        }
    }
}

type Result<T> = std::result::Result<T, PvmError>;

/// What a [`HostHandler`] raises to abort the run; any other exception it raises aborts it too.
#[derive(Debug, uniffi::Error)]
pub enum HostError {
    Abort { reason: String },
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let HostError::Abort { reason } = self;
        f.write_str(reason)
    }
}

impl std::error::Error for HostError {}

/// Any other exception a handler raises: its one-line description (Kotlin adds its stack trace
/// on further lines, Python gives `repr(exception)`).
impl From<uniffi::UnexpectedUniFFICallbackError> for HostError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        let reason = error.reason.lines().next().unwrap_or_default().to_owned();
        HostError::Abort { reason }
    }
}

/// The library's and polkavm's versions, as `pvm_version` gives them.
#[uniffi::export]
pub fn version() -> String {
    let text = unsafe { std::ffi::CStr::from_ptr(crate::c_api::pvm_version()) };
    text.to_string_lossy().into_owned()
}

/// Assembles polkavm's text assembly (a `%isa = jam_v1` program) into a program blob.
#[uniffi::export]
pub fn assemble(source: String) -> Result<Vec<u8>> {
    crate::error::catch_panic("assembling", || {
        crate::polkavm::program::assemble(None, &source)
            .map_err(|error| crate::Error::new(ErrorKind::InvalidProgram, format!("assembly failed: {error}")))
    })
    .map_err(PvmError::from)
}

// ---------------------------------------------------------------------------------------------
// Engine

/// Which backend runs the guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Backend {
    /// The JIT ("recompiler"): guest code is compiled to native code and runs in a sandbox.
    Compiler,
    /// The interpreter: slower, but runs everywhere and needs no sandbox.
    Interpreter,
}

/// Which sandbox isolates JIT-compiled guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Sandbox {
    /// Separate, seccomp-locked worker processes. Dynamic paging needs userfaultfd with it.
    Linux,
    /// In-process; polkavm marks it experimental (not production ready).
    Generic,
}

/// How the host thread is pinned to CPU cores while it runs JIT code (Linux sandbox only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CorePinning {
    PinToCore,
    PinToCcx,
    Disabled,
}

/// Engine settings; every field has a default.
#[derive(Clone, Debug, uniffi::Record)]
pub struct EngineConfig {
    /// None: the JIT where this platform supports it, the interpreter otherwise.
    #[uniffi(default = None)]
    pub backend: Option<Backend>,
    /// None: polkavm's choice (the Linux sandbox on Linux).
    #[uniffi(default = None)]
    pub sandbox: Option<Sandbox>,
    /// Sandbox worker processes kept ready for new instances.
    #[uniffi(default = 2)]
    pub worker_count: u32,
    /// Must be true for modules with dynamic paging. With the Linux sandbox this needs userfaultfd.
    #[uniffi(default = false)]
    pub allow_dynamic_paging: bool,
    /// None: pin to one core (polkavm's default).
    #[uniffi(default = None)]
    pub core_pinning: Option<CorePinning>,
}

impl From<&EngineConfig> for crate::EngineConfig {
    fn from(config: &EngineConfig) -> Self {
        let defaults = crate::EngineConfig::default();
        crate::EngineConfig {
            backend: match config.backend {
                None => crate::Backend::Auto,
                Some(Backend::Compiler) => crate::Backend::Compiler,
                Some(Backend::Interpreter) => crate::Backend::Interpreter,
            },
            sandbox: match config.sandbox {
                None => crate::Sandbox::Auto,
                Some(Sandbox::Linux) => crate::Sandbox::Linux,
                Some(Sandbox::Generic) => crate::Sandbox::Generic,
            },
            worker_count: config.worker_count,
            allow_dynamic_paging: config.allow_dynamic_paging,
            core_pinning: match config.core_pinning {
                None => defaults.core_pinning,
                Some(CorePinning::PinToCore) => crate::CorePinning::PinToCore,
                Some(CorePinning::PinToCcx) => crate::CorePinning::PinToCcx,
                Some(CorePinning::Disabled) => crate::CorePinning::Disabled,
            },
        }
    }
}

/// A polkavm engine: the backend, its sandbox and its worker pool. Shareable between threads.
#[derive(uniffi::Object)]
pub struct Engine {
    core: crate::Engine,
}

#[uniffi::export]
impl Engine {
    #[uniffi::constructor(default(config))]
    pub fn new(config: EngineConfig) -> Result<Arc<Engine>> {
        Ok(Arc::new(Engine { core: crate::Engine::new(&(&config).into())? }))
    }

    /// The backend actually selected.
    pub fn backend(&self) -> Backend {
        match self.core.backend() {
            crate::Backend::Interpreter => Backend::Interpreter,
            crate::Backend::Compiler | crate::Backend::Auto => Backend::Compiler,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Module

/// How gas is metered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum GasMetering {
    /// Not at all: runs never stop for gas.
    Disabled,
    /// Exactly: the run stops when gas runs out.
    Sync,
    /// polkavm's asynchronous metering, run as Sync: polkavm 0.37's JIT never stops a looping
    /// guest under it, which would hang the host.
    Async,
}

/// Module settings; every field has a default.
#[derive(Clone, Debug, uniffi::Record)]
pub struct ModuleConfig {
    /// None: Sync, exact metering.
    #[uniffi(default = None)]
    pub gas_metering: Option<GasMetering>,
    /// Stop with Status.STEP after every instruction.
    #[uniffi(default = false)]
    pub step_tracing: bool,
    /// The host maps memory page by page; unmapped accesses stop with Status.FAULT.
    #[uniffi(default = false)]
    pub dynamic_paging: bool,
    /// A power of two, at least 4096.
    #[uniffi(default = 4096)]
    pub page_size: u32,
    #[uniffi(default = 0)]
    pub aux_data_size: u32,
    /// Reject programs with invalid imports, jump table entries or exports at load time.
    #[uniffi(default = false)]
    pub strict: bool,
}

impl From<&ModuleConfig> for crate::ModuleConfig {
    fn from(config: &ModuleConfig) -> Self {
        crate::ModuleConfig {
            gas_metering: match config.gas_metering {
                None | Some(GasMetering::Sync) => crate::GasMetering::Sync,
                Some(GasMetering::Disabled) => crate::GasMetering::None,
                Some(GasMetering::Async) => crate::GasMetering::Async,
            },
            step_tracing: config.step_tracing,
            dynamic_paging: config.dynamic_paging,
            page_size: config.page_size,
            aux_data_size: config.aux_data_size,
            strict: config.strict,
        }
    }
}

/// An exported entry point.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Export {
    /// The symbol; bytes that are not UTF-8 are replaced by U+FFFD.
    pub name: String,
    pub pc: u32,
}

/// A loaded, validated (and for the JIT, compiled) program. Shareable between threads.
#[derive(uniffi::Object)]
pub struct Module {
    core: crate::Module,
}

#[uniffi::export]
impl Module {
    /// Loads a PolkaVM program container (a `.polkavm` blob).
    #[uniffi::constructor(default(config))]
    pub fn new(engine: Arc<Engine>, blob: Vec<u8>, config: ModuleConfig) -> Result<Arc<Module>> {
        Ok(Arc::new(Module { core: crate::Module::new(&engine.core, &blob, &(&config).into())? }))
    }

    pub fn memory_info(&self) -> MemoryInfo {
        self.core.memory_info()
    }

    pub fn exports(&self) -> Vec<Export> {
        let exports = self.core.exports().iter();
        exports.map(|export| Export { name: String::from_utf8_lossy(&export.name).into_owned(), pc: export.pc }).collect()
    }

    /// Import symbols by index: a guest's `ecalli N` calls import N.
    pub fn imports(&self) -> Vec<String> {
        self.core.imports().iter().map(|name| String::from_utf8_lossy(name).into_owned()).collect()
    }

    /// The program counter of the export called `name`.
    pub fn export_pc(&self, name: String) -> Result<u32> {
        Ok(self.core.export_pc(&name)?)
    }
}

// ---------------------------------------------------------------------------------------------
// Instance

/// A run's outcome together with the register file where it stopped (indexed by `Reg` number).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RunOutcome {
    pub result: RunResult,
    pub regs: Vec<u64>,
}

/// Handles the host calls (`ecalli N`) of [`Instance::call`]; implemented in the foreign language.
#[uniffi::export(with_foreign)]
pub trait HostHandler: Send + Sync {
    /// Handles host call `number`. The handler may read and write `instance`'s registers and
    /// memory (but not run it). Returns the value to put in A0, or None to leave the registers
    /// as the handler set them. Raising any exception aborts the call with HostAborted.
    fn on_host_call(&self, number: u32, instance: Arc<Instance>) -> std::result::Result<Option<u64>, HostError>;
}

struct State {
    core: crate::Instance,
    /// A `call` is running on this instance (its handler may be using it right now).
    in_call: bool,
}

/// A running copy of a module: registers, memory and gas. Usable from any thread; calls from
/// several threads at once are serialized.
#[derive(uniffi::Object)]
pub struct Instance {
    state: Mutex<State>,
}

const BUSY: &str = "instance is busy: run/call called re-entrantly from a host-call handler (or while another thread's call is running)";

impl Instance {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The core catches polkavm's panics, so a poisoned lock still holds a consistent instance.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The instance for an operation that a running `call` forbids (running, preparing, resetting).
    fn lock_idle(&self) -> Result<MutexGuard<'_, State>> {
        let state = self.lock();
        if state.in_call {
            return Err(PvmError::WrongState(BUSY.to_owned()));
        }
        Ok(state)
    }

    fn outcome(state: &State, result: RunResult) -> RunOutcome {
        RunOutcome { result, regs: state.core.regs().to_vec() }
    }

    fn dispatch_host_calls(self: &Arc<Self>, handler: &Arc<dyn HostHandler>) -> Result<RunOutcome> {
        loop {
            let result = {
                let mut state = self.lock();
                let result = state.core.run()?;
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
        Ok(Arc::new(Instance { state: Mutex::new(State { core, in_call: false }) }))
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
        Ok(self.lock_idle()?.core.run()?)
    }

    /// Like `run`, and returns the registers as the run left them.
    pub fn run_with_regs(&self) -> Result<RunOutcome> {
        let mut state = self.lock_idle()?;
        let result = state.core.run()?;
        Ok(Self::outcome(&state, result))
    }

    /// Calls export `name` with `args` and `gas`, and runs until the program stops for a reason
    /// other than a host call; each host call goes to `handler` first.
    pub fn call(self: Arc<Self>, name: String, args: Vec<u64>, handler: Arc<dyn HostHandler>, gas: i64) -> Result<RunOutcome> {
        {
            let mut state = self.lock_idle()?;
            state.core.prepare_call_export(&name, &args)?;
            state.core.set_gas(gas);
            state.in_call = true;
        }
        let outcome = self.dispatch_host_calls(&handler);
        self.lock().in_call = false;
        outcome
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

// JAM mode: Graypaper program blobs (kept in its own file).
#[path = "uniffi_jam.rs"]
mod jam;
