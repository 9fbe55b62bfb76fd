//! Run PolkaVM programs from any language: a small core API over `polkavm`, the `pvm_*` C ABI
//! ([`c_api`]) and the UniFFI API, all with the same behaviour.

mod engine;
mod error;
mod instance;
mod module;

pub mod c_api;

pub use engine::{Backend, CorePinning, Engine, EngineConfig, Sandbox};
pub use error::{Error, ErrorKind, Result};
pub use instance::{Instance, Reg, RunResult, Status, MAX_ARGS, REG_COUNT};
pub use module::{Export, GasMetering, MemoryInfo, Module, ModuleConfig, PROGRAM_MAGIC};
pub use polkavm;
