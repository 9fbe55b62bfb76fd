//! Run PolkaVM programs from any language: a small core API over `polkavm`, the `pvm_*` C ABI
//! ([`c_api`]) and the UniFFI API, all with the same behaviour.

/// The text of [`VERSION`], as a literal (the C ABI appends a NUL to it).
macro_rules! version_text {
    () => {
        concat!("polkavm-ffi ", env!("CARGO_PKG_VERSION"), " (polkavm 0.37)")
    };
}

mod engine;
mod error;
#[cfg(feature = "doom")]
mod framebuffer;
mod instance;
mod jam;
mod module;

pub mod c_api;
#[cfg(feature = "uniffi")]
pub mod uniffi_api;

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!("polkavm_ffi");

pub use engine::{Backend, CorePinning, Engine, EngineConfig, Sandbox};
pub use error::{Error, ErrorKind, Result};
#[cfg(feature = "doom")]
pub use framebuffer::{Framebuffer, PixelFormat};
pub use instance::{Instance, Reg, RunResult, Status, MAX_ARGS, REG_COUNT};
pub use jam::{graypaper_blob, graypaper_blob_of_container, InstructionSet, JamConfig};
pub use module::{CostModel, Export, GasMetering, MemoryInfo, Module, ModuleConfig, PROGRAM_MAGIC};
pub use polkavm;

/// This library's and polkavm's versions: `pvm_version()` in C, `version()` in the UniFFI bindings.
pub const VERSION: &str = version_text!();
