//! The benchmark programs: the shared test program (its `host_loop`, `sum` and `add` exports)
//! and a generated large program for load times, both made by polkavm's assembler.

use std::path::PathBuf;

pub const TEST_PROGRAM_SOURCE: &str = include_str!("../../tests/programs/test_program.pvmasm");

pub fn test_program() -> Vec<u8> {
    polkavm::program::assemble(None, TEST_PROGRAM_SOURCE).expect("the test program assembles")
}

/// A program with `blocks` basic blocks: a chain of conditional branches, each block doing a
/// little arithmetic. `main(a0)` runs through all of them and returns a checksum in a0.
pub fn large_program(blocks: u32) -> Vec<u8> {
    let mut source = String::from("%isa = jam_v1\n%stack_size = 4096\npub @main:\n    a1 = 0\n");
    for block in 0..blocks {
        source.push_str(&format!(
            "@b{block}:\n    a1 = a1 + {}\n    a2 = a1 ^ a0\n    jump @b{} if a2 == {}\n",
            block % 97 + 1,
            block + 1,
            block * 7 + 3
        ));
    }
    source.push_str(&format!("@b{blocks}:\n    a0 = a1\n    ret\n"));
    polkavm::program::assemble(None, &source).expect("the large program assembles")
}

/// Where the external runners find the programs: written once per benchmark run.
pub fn write_programs(dir: &PathBuf, test_program: &[u8], large_program: &[u8]) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).expect("creating the benchmark directory");
    let test_path = dir.join("test_program.polkavm");
    let large_path = dir.join("large_program.polkavm");
    std::fs::write(&test_path, test_program).expect("writing the test program");
    std::fs::write(&large_path, large_program).expect("writing the large program");
    (test_path, large_path)
}
