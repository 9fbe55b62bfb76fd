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

/// One engine per backend: the interpreter, then the JIT.
pub fn engines() -> Vec<Engine> {
    vec![engine(Backend::Interpreter), engine(Backend::Compiler)]
}
