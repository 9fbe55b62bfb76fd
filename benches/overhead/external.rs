//! Runners in other languages (the C ABI from C, Python, Kotlin...), one process per sample so
//! that their samples interleave with the Rust layers' in the same rounds.
//!
//! Protocol: `COMMAND... SCENARIO BACKEND N TEST_PROGRAM LARGE_PROGRAM`; the runner sets up,
//! warms up with one batch, times one batch of N and prints nanoseconds per unit as its last
//! line of output. Runners come from `PVM_BENCH_RUNNERS`: `name=command args;name=command...`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::layers::{BackendKind, Layer, Scenario};

pub struct External {
    name: String,
    command: Vec<String>,
    backend: BackendKind,
    test_program: PathBuf,
    large_program: PathBuf,
}

pub fn from_env(backend: BackendKind, test_program: &Path, large_program: &Path) -> Vec<External> {
    let Ok(spec) = std::env::var("PVM_BENCH_RUNNERS") else { return Vec::new() };
    spec.split(';')
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| {
            let (name, command) = entry.split_once('=').expect("PVM_BENCH_RUNNERS entries are name=command");
            External {
                name: name.trim().to_owned(),
                command: command.split_whitespace().map(str::to_owned).collect(),
                backend,
                test_program: test_program.to_owned(),
                large_program: large_program.to_owned(),
            }
        })
        .collect()
}

impl Layer for External {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn run(&mut self, scenario: Scenario, n: u64) -> f64 {
        let output = Command::new(&self.command[0])
            .args(&self.command[1..])
            .args([scenario.name(), self.backend.name(), &n.to_string()])
            .arg(&self.test_program)
            .arg(&self.large_program)
            .output()
            .unwrap_or_else(|error| panic!("runner {}: {error}", self.name));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "runner {} failed ({}): {}{}",
            self.name,
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
        let last = stdout.lines().last().unwrap_or_default().trim();
        last.parse().unwrap_or_else(|_| panic!("runner {} printed {last:?}, not nanoseconds", self.name))
    }
}
