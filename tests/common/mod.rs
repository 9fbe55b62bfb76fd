//! Helpers shared by the Rust integration tests (each test file includes this module).
#![allow(dead_code)] // each test file uses its own subset

use polkavm_ffi::{polkavm, Backend, Engine, EngineConfig};

pub const TEST_PROGRAM: &str = include_str!("../programs/test_program.pvmasm");

/// A program container assembled from polkavm's text assembly by polkavm's own assembler.
pub fn assemble(source: &str) -> Vec<u8> {
    polkavm::program::assemble(None, source).expect("program assembles")
}

pub fn engine(backend: Backend) -> Engine {
    Engine::new(&EngineConfig { backend, ..EngineConfig::default() }).expect("engine")
}

/// One engine per backend: the interpreter, then the JIT (only the interpreter under Miri, which
/// cannot run generated code or the JIT's sandbox).
pub fn engines() -> Vec<Engine> {
    if cfg!(miri) {
        return vec![engine(Backend::Interpreter)];
    }
    vec![engine(Backend::Interpreter), engine(Backend::Compiler)]
}

/// `engines()` through the C ABI.
pub fn c_engines() -> Vec<polkavm_ffi::c_api::PvmEngine> {
    use polkavm_ffi::c_api::{pvm_engine_new, pvm_engine_new_interpreter};
    if cfg!(miri) {
        return vec![pvm_engine_new_interpreter()];
    }
    vec![pvm_engine_new_interpreter(), pvm_engine_new()]
}

/// `normal`, or `under_miri` when the test runs under Miri (which executes about a thousand times
/// slower): iteration counts and gas budgets.
pub fn scaled<T>(normal: T, under_miri: T) -> T {
    if cfg!(miri) {
        under_miri
    } else {
        normal
    }
}
