//! The UniFFI API behind the Python, Kotlin and Swift bindings: a thin face over the core
//! [`crate::Engine`], [`crate::Module`] and [`crate::Instance`], with the same semantics and
//! error messages as the C ABI.
//!
//! UniFFI calls cost microseconds each, so the API is coarse: bulk register and memory
//! transfers, runs that return the register file, and [`Instance::call`], which runs to
//! completion and dispatches every host call to a foreign [`HostHandler`].

use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::ErrorKind;
// The core's plain enums and records are the UniFFI types too (they derive uniffi::Enum/Record
// under the `uniffi` feature): re-exported so that this module is the whole UniFFI API.
pub use crate::{CorePinning, GasMetering, InstructionSet, MemoryInfo, Reg, RunResult, Sandbox, Status};

mod buffers;
mod engine;
mod fast;
mod instance;
mod jam;
mod membarrier;
mod module;

pub use engine::*;
pub use instance::*;
pub use jam::*;
pub use module::*;

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
    crate::VERSION.to_owned()
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

/// An interpreter instance of tests/programs/test_program.pvmasm, for the unit tests.
#[cfg(test)]
fn test_instance() -> Arc<Instance> {
    Instance::new(test_module()).unwrap()
}

/// tests/programs/test_program.pvmasm on the interpreter, for the unit tests.
#[cfg(test)]
fn test_module() -> Arc<Module> {
    let config = EngineConfig {
        backend: Some(Backend::Interpreter),
        sandbox: None,
        worker_count: 2,
        allow_dynamic_paging: false,
        core_pinning: None,
        default_cost_model: None,
    };
    let blob = assemble(include_str!("../../tests/programs/test_program.pvmasm").to_owned()).unwrap();
    let module_config = ModuleConfig {
        gas_metering: None,
        step_tracing: false,
        dynamic_paging: false,
        page_size: 4096,
        aux_data_size: 0,
        strict: false,
        cost_model: None,
    };
    Module::new(Engine::new(config).unwrap(), blob, module_config).unwrap()
}
