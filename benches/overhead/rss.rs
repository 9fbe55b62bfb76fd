//! Peak memory of N live instances, each having run once: measured in a fresh child process per
//! data point (peak RSS only grows), for polkavm direct and for the polkavm-ffi core. With the
//! JIT's Linux sandbox every live instance owns a worker process; those are counted separately
//! by their proportional set size (shared pages split between the processes sharing them).

use std::process::Command;

use polkavm::{InterruptKind, RawInstance};

use crate::layers::{BackendKind, GAS};

const CHILD_ENV: &str = "PVM_BENCH_RSS_CHILD";

fn status_kb(path: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or(0)
}

fn run_add(instance: &mut RawInstance, pc: polkavm::ProgramCounter) {
    instance.prepare_call_untyped(pc, &[40, 2]);
    instance.set_gas(GAS);
    assert!(matches!(instance.run().expect("run"), InterruptKind::Finished));
}

/// In the child: builds `count` live instances through `layer`, then prints
/// `host_peak_rss_kb workers_pss_kb`.
pub fn child_main(spec: &str, test_program: &[u8]) {
    let mut parts = spec.split(':');
    let (layer, backend, count) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let backend = if backend == "compiler" { BackendKind::Compiler } else { BackendKind::Interpreter };
    let count: usize = count.parse().unwrap();
    let mut pids = Vec::new();
    let keep: Box<dyn std::any::Any> = if layer == "direct" {
        let engine = crate::direct::engine(backend);
        let module = crate::direct::module(&engine, test_program);
        let pc = crate::direct::export_pc(&module, "add");
        let mut instances = Vec::new();
        for _ in 0..count {
            let mut instance = module.instantiate().expect("instance");
            run_add(&mut instance, pc);
            pids.extend(instance.pid());
            instances.push(instance);
        }
        Box::new((engine, module, instances))
    } else {
        let engine = crate::core::engine(backend);
        let module = polkavm_ffi::Module::new(&engine, test_program, &Default::default()).expect("module");
        let pc = module.export_pc("add").unwrap();
        let mut instances = Vec::new();
        for _ in 0..count {
            let mut instance = polkavm_ffi::Instance::new(&module).expect("instance");
            let result = instance.call(pc, &[40, 2], GAS, |_, _| Ok(())).expect("call");
            assert_eq!(result.status, polkavm_ffi::Status::Halt);
            pids.extend(instance.raw().pid());
            instances.push(instance);
        }
        Box::new((engine, module, instances))
    };
    let workers: u64 = pids.iter().map(|pid| status_kb(&format!("/proc/{pid}/smaps_rollup"), "Pss:")).sum();
    println!("{} {}", status_kb("/proc/self/status", "VmHWM:"), workers);
    drop(keep);
}

pub fn is_child() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// (host peak RSS kB, workers' PSS kB) for `count` live instances.
pub fn measure(layer: &str, backend: BackendKind, count: usize) -> (u64, u64) {
    let output = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, format!("{layer}:{}:{count}", backend.name()))
        .output()
        .expect("spawning the RSS child");
    assert!(output.status.success(), "RSS child failed: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut numbers = stdout.split_whitespace().map(|number| number.parse().unwrap());
    (numbers.next().unwrap(), numbers.next().unwrap())
}
