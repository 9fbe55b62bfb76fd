//! What the JIT's busy-wait costs (README "Semantics", BENCHMARKS.md): while a JIT guest runs,
//! polkavm's Linux sandbox keeps the host thread spinning on its worker. Measures, on the
//! JIT and with the interpreter as the floor:
//! - the host thread's CPU time per second of wall time while a guest computes;
//! - a host-call round trip (the test program's `host_loop`), on an idle machine and with one
//!   CPU-bound thread per core competing for the cores, as medians of interleaved rounds.
//!
//! `cargo bench --bench busy_wait` (`make bench-busy-wait`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polkavm_ffi::{polkavm, Backend, Engine, EngineConfig, Instance, Module, ModuleConfig, Status};

const TEST_PROGRAM: &str = include_str!("../tests/programs/test_program.pvmasm");
const ROUNDS: usize = 7;
const HOST_CALLS: u64 = 20_000;

/// Nanoseconds this thread has spent on a CPU (the kernel's schedstat).
fn thread_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    text.split_whitespace().next().unwrap().parse().unwrap()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn instance(backend: Backend) -> (Module, Instance) {
    let engine = Engine::new(&EngineConfig { backend, ..EngineConfig::default() }).unwrap();
    let blob = polkavm::program::assemble(None, TEST_PROGRAM).unwrap();
    let module = Module::new(&engine, &blob, &ModuleConfig::default()).unwrap();
    let instance = Instance::new(&module).unwrap();
    (module, instance)
}

/// Host CPU time / wall time over one long `sum` run.
fn host_cpu_share(module: &Module, instance: &mut Instance, iterations: u64) -> (f64, Duration) {
    let sum = module.export_pc("sum").unwrap();
    let (cpu, wall) = (thread_cpu_ns(), Instant::now());
    let result = instance.call(sum, &[iterations], i64::MAX / 2, |_, _| Ok(())).unwrap();
    assert_eq!(result.status, Status::Halt);
    let wall = wall.elapsed();
    ((thread_cpu_ns() - cpu) as f64 / wall.as_nanos() as f64, wall)
}

/// Nanoseconds per host-call round trip.
fn round_trip_ns(module: &Module, instance: &mut Instance) -> f64 {
    let host_loop = module.export_pc("host_loop").unwrap();
    let start = Instant::now();
    let result = instance.call(host_loop, &[HOST_CALLS], i64::MAX / 2, |_, _| Ok(())).unwrap();
    assert_eq!(result.status, Status::Halt);
    start.elapsed().as_nanos() as f64 / HOST_CALLS as f64
}

/// One CPU-bound thread per core until dropped.
struct Load(Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>);

impl Load {
    fn start() -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        let threads = (0..cores)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                })
            })
            .collect();
        Load(stop, threads)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        for thread in self.1.drain(..) {
            thread.join().unwrap();
        }
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this once, briefly.
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let sum_iterations = if quick { 1_000_000 } else { 300_000_000 };
    let (jit_module, mut jit) = instance(Backend::Compiler);
    let (int_module, mut interpreter) = instance(Backend::Interpreter);

    let (share, wall) = host_cpu_share(&jit_module, &mut jit, sum_iterations);
    println!("JIT: host thread CPU time during a {wall:.2?} guest computation: {:.0}% of wall time", share * 100.0);
    let (share, wall) = host_cpu_share(&int_module, &mut interpreter, sum_iterations / 20);
    println!("interpreter (runs the guest on the host thread): {:.0}% over {wall:.2?}", share * 100.0);

    let rounds = if quick { 1 } else { ROUNDS };
    let mut rows = Vec::new();
    for (name, loaded) in [("idle machine", false), ("one CPU-bound thread per core", true)] {
        let _load = loaded.then(Load::start);
        let (mut jit_ns, mut int_ns) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            jit_ns.push(round_trip_ns(&jit_module, &mut jit));
            int_ns.push(round_trip_ns(&int_module, &mut interpreter));
        }
        rows.push((name, median(jit_ns), median(int_ns)));
    }
    println!("host-call round trip, medians of {rounds} interleaved rounds of {HOST_CALLS} calls:");
    println!("| machine | JIT | interpreter | JIT / interpreter |");
    println!("|---|---|---|---|");
    for (name, jit_ns, int_ns) in &rows {
        println!("| {name} | {:.2} µs | {:.2} µs | {:.2} |", jit_ns / 1000.0, int_ns / 1000.0, jit_ns / int_ns);
    }
    println!("JIT loaded / idle: {:.1}x; interpreter loaded / idle: {:.1}x", rows[1].1 / rows[0].1, rows[1].2 / rows[0].2);
}
