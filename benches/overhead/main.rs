//! `cargo bench`: polkavm-ffi against polkavm called directly, on both backends, in one run.
//!
//! Every scenario runs in interleaved rounds: each round takes one sample from every layer (in a
//! rotating order), so the floor and each layer see the same machine state; results are medians,
//! and ratios are medians of per-round ratios. Environment:
//!   PVM_BENCH_ROUNDS   rounds per scenario (default 11)
//!   PVM_BENCH_SCALE    multiplies every batch size (default 1; e.g. 0.1 for a smoke run)
//!   PVM_BENCH_ONLY     run only scenarios/backends whose "scenario/backend" contains this
//!   PVM_BENCH_RUNNERS  external runners, `name=command args;...` (see external.rs)
//!   PVM_BENCH_LAYER    run only the layers whose name contains this (for instruction counts under
//!                      valgrind, benches/instructions.sh; ratios are then against the first of them)
//!   PVM_BENCH_OUT      also write the results as markdown to this file

mod abi;
mod core;
mod direct;
mod external;
mod halt_pc;
mod layers;
mod programs;
mod rss;
mod stats;
mod threaded;

use std::fmt::Write as _;
use std::path::PathBuf;

use layers::{BackendKind, Layer, Scenario};

const LARGE_PROGRAM_BLOCKS: u32 = 5_000;
const RSS_COUNTS: [usize; 3] = [1, 10, 100];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

fn goal(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::HostCalls => "C ABI within 1.05",
        Scenario::Compute => "every layer within 1.02",
        _ => "",
    }
}

fn bench_scenario(
    report: &mut String,
    scenario: Scenario,
    backend: BackendKind,
    layers: &mut [Box<dyn Layer>],
    rounds: usize,
    scale: f64,
) {
    let n = ((scenario.batch(backend) as f64 * scale).round() as u64).max(1);
    for layer in layers.iter_mut() {
        layer.run(scenario, n);
    }
    let samples = stats::interleaved_rounds(rounds, layers.len(), |index| layers[index].run(scenario, n));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n### {} — {} (n = {n}, {rounds} rounds; time {})\n",
        scenario.name(),
        backend.name(),
        scenario.unit()
    );
    let _ = writeln!(out, "| layer | median | ratio to floor | goal |\n|---|---:|---:|---|");
    for (layer, layer_samples) in layers.iter().zip(&samples) {
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {} |",
            layer.name(),
            stats::format_ns(stats::median(layer_samples)),
            stats::median_ratio(layer_samples, &samples[0]),
            goal(scenario)
        );
    }
    if scenario == Scenario::Invocations {
        let per_second: Vec<String> = layers
            .iter()
            .zip(&samples)
            .map(|(layer, samples)| format!("{}: {:.0}/s", layer.name(), 1e9 / stats::median(samples)))
            .collect();
        let _ = writeln!(out, "\nInvocations per second: {}", per_second.join(", "));
    }
    print!("{out}");
    report.push_str(&out);
}

fn bench_memory(out: &mut String, only: &str) {
    let _ = writeln!(
        out,
        "\n### memory: N live instances, each having run add(40, 2)\n\n\
         | backend | layer | N | host peak RSS | workers' PSS |\n|---|---|---:|---:|---:|"
    );
    for backend in [BackendKind::Interpreter, BackendKind::Compiler] {
        if !format!("memory/{}", backend.name()).contains(only) {
            continue;
        }
        for count in RSS_COUNTS {
            for layer in ["direct", "core"] {
                let (host, workers) = rss::measure(layer, backend, count);
                let line = format!("| {} | {layer} | {count} | {host} kB | {workers} kB |", backend.name());
                println!("{line}");
                let _ = writeln!(out, "{line}");
            }
        }
    }
}

fn main() {
    let test_program = programs::test_program();
    if let Some(spec) = rss::is_child() {
        rss::child_main(&spec, &test_program);
        return;
    }
    let rounds: usize = env_or("PVM_BENCH_ROUNDS", 11);
    let scale: f64 = env_or("PVM_BENCH_SCALE", 1.0);
    let only: String = env_or("PVM_BENCH_ONLY", String::new());
    let only_layer: String = env_or("PVM_BENCH_LAYER", String::new());
    let large_program = programs::large_program(LARGE_PROGRAM_BLOCKS);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench");
    let (test_path, large_path) = programs::write_programs(&dir, &test_program, &large_program);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "Large program: {LARGE_PROGRAM_BLOCKS} basic blocks, {} bytes. Rounds: {rounds}, scale: {scale}.",
        large_program.len()
    );
    println!("{out}");
    for backend in [BackendKind::Interpreter, BackendKind::Compiler] {
        let scenarios: Vec<Scenario> = Scenario::ALL
            .into_iter()
            .filter(|scenario| format!("{}/{}", scenario.name(), backend.name()).contains(&only))
            .collect();
        if scenarios.is_empty() {
            continue;
        }
        let (test, large) = (test_program.clone(), large_program.clone());
        let mut layers: Vec<Box<dyn Layer>> = vec![Box::new(threaded::Threaded::new(move || {
            Box::new(direct::Direct::new(backend, &test, &large))
        }))];
        for style in [core::Style::RunLoop, core::Style::CallClosure] {
            let (test, large) = (test_program.clone(), large_program.clone());
            layers.push(Box::new(threaded::Threaded::new(move || Box::new(core::Core::new(style, backend, &test, &large)))));
        }
        let (test, large) = (test_program.clone(), large_program.clone());
        layers.push(Box::new(threaded::Threaded::new(move || Box::new(abi::Abi::new(backend, &test, &large)))));
        for runner in external::from_env(backend, &test_path, &large_path) {
            layers.push(Box::new(runner));
        }
        layers.retain(|layer| layer.name().contains(&only_layer));
        for scenario in scenarios {
            bench_scenario(&mut out, scenario, backend, &mut layers, rounds, scale);
        }
    }
    halt_pc::bench(&mut out, &test_program, rounds, scale, &only);
    bench_memory(&mut out, &only);
    if let Ok(path) = std::env::var("PVM_BENCH_OUT") {
        std::fs::write(&path, &out).expect("writing PVM_BENCH_OUT");
        println!("\nwrote {path}");
    }
}
