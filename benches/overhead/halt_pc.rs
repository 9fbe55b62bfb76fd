//! What `JamConfig::halt_pc` costs. polkavm forgets the pc on a halt, so a module that reports it
//! runs one instruction at a time. Workload: `sum(n)` of the test program as a JAM program
//! (dynamic paging; the JIT with the generic sandbox, which needs no userfaultfd), run to its halt:
//! without halt_pc, with it, and, as the floor for stepping, polkavm itself with step tracing and a
//! loop that resumes after every step.

use std::fmt::Write as _;
use std::time::Instant;

use polkavm::{ArcBytes, InterruptKind, ProgramBlob, ProgramCounter};
use polkavm_ffi::{graypaper_blob, Backend, Engine, EngineConfig, Instance, JamConfig, Module, Reg, Sandbox, Status};

use crate::layers::{BackendKind, GAS};
use crate::stats;

/// A layer's way to run sum(n), returning a0.
type SumRunner<'a> = Box<dyn FnMut(u64) -> u64 + 'a>;

const HALT_ADDRESS: u64 = 0xffff_0000;

fn batch(backend: BackendKind) -> u64 {
    match backend {
        BackendKind::Interpreter => 20_000,
        BackendKind::Compiler => 2_000,
    }
}

fn check_sum(n: u64, a0: u64) {
    assert_eq!(a0, n * (n + 1) / 2, "sum(n) must return 1 + 2 + ... + n");
}

struct Direct {
    instance: polkavm::RawInstance,
    sum: ProgramCounter,
}

impl Direct {
    fn new(backend: BackendKind, container: &[u8]) -> Direct {
        let mut config = polkavm::Config::new();
        config.set_allow_dynamic_paging(true);
        match backend {
            BackendKind::Interpreter => {
                config.set_backend(Some(polkavm::BackendKind::Interpreter));
            }
            BackendKind::Compiler => {
                config.set_backend(Some(polkavm::BackendKind::Compiler));
                config.set_sandbox(Some(polkavm::SandboxKind::Generic));
                config.set_allow_experimental(true);
            }
        }
        let engine = polkavm::Engine::new(&config).expect("direct polkavm engine");
        let mut module_config = polkavm::ModuleConfig::new();
        module_config.set_gas_metering(Some(polkavm::GasMeteringKind::Sync));
        module_config.set_dynamic_paging(true);
        module_config.set_step_tracing(true);
        let blob = ProgramBlob::parse(ArcBytes::from(container)).expect("direct polkavm parse");
        let module = polkavm::Module::from_blob(&engine, &module_config, blob).expect("direct polkavm module");
        let sum = crate::direct::export_pc(&module, "sum");
        Direct { instance: module.instantiate().expect("direct polkavm instance"), sum }
    }

    fn sum(&mut self, n: u64) -> u64 {
        let instance = &mut self.instance;
        instance.set_next_program_counter(self.sum);
        instance.set_reg(polkavm::Reg::A0, n);
        instance.set_reg(polkavm::Reg::RA, HALT_ADDRESS);
        instance.set_gas(GAS);
        loop {
            match instance.run().expect("run") {
                InterruptKind::Step => continue,
                InterruptKind::Finished => return instance.reg(polkavm::Reg::A0),
                other => panic!("unexpected interrupt {other:?}"),
            }
        }
    }
}

struct Jam {
    instance: Instance,
    sum: u32,
}

impl Jam {
    fn new(engine: &Engine, code: &[u8], sum: u32, halt_pc: bool) -> Jam {
        let module = Module::from_jam_code(engine, code, &JamConfig { halt_pc, ..JamConfig::default() }).expect("JAM module");
        Jam { instance: Instance::new(&module).expect("JAM instance"), sum }
    }

    fn sum(&mut self, n: u64) -> u64 {
        let instance = &mut self.instance;
        instance.set_next_pc(self.sum);
        instance.set_reg(Reg::A0, n);
        instance.set_reg(Reg::RA, HALT_ADDRESS);
        instance.set_gas(GAS);
        assert_eq!(instance.run().expect("run").status, Status::Halt);
        instance.reg(Reg::A0)
    }
}

pub fn bench(out: &mut String, container: &[u8], rounds: usize, scale: f64, only: &str) {
    let blob = ProgramBlob::parse(ArcBytes::from(container)).expect("the test program parses");
    let code = graypaper_blob(&blob).expect("the test program has a Graypaper encoding");
    for backend in [BackendKind::Interpreter, BackendKind::Compiler] {
        if !format!("halt_pc/{}", backend.name()).contains(only) {
            continue;
        }
        if backend == BackendKind::Compiler && !cfg!(feature = "generic-sandbox") {
            println!("halt_pc/compiler skipped: built without the generic-sandbox feature");
            continue;
        }
        let config = match backend {
            BackendKind::Interpreter => EngineConfig { backend: Backend::Interpreter, ..EngineConfig::default() },
            BackendKind::Compiler => EngineConfig { backend: Backend::Compiler, sandbox: Sandbox::Generic, ..EngineConfig::default() },
        };
        let engine = Engine::new(&EngineConfig { allow_dynamic_paging: true, ..config }).expect("JAM engine");
        let mut direct = Direct::new(backend, container);
        // A Graypaper blob keeps the container's program counters.
        let sum = direct.sum.0;
        let mut untracked = Jam::new(&engine, &code, sum, false);
        let mut tracked = Jam::new(&engine, &code, sum, true);
        let mut layers: Vec<(&str, SumRunner)> = vec![
            ("polkavm direct, step tracing (floor)", Box::new(|n| direct.sum(n))),
            ("core, JAM module", Box::new(|n| untracked.sum(n))),
            ("core, JAM module with halt_pc", Box::new(|n| tracked.sum(n))),
        ];
        let n = ((batch(backend) as f64 * scale).round() as u64).max(1);
        for (_, run) in layers.iter_mut() {
            check_sum(n, run(n));
        }
        let samples = stats::interleaved_rounds(rounds, layers.len(), |index| {
            let start = Instant::now();
            let a0 = (layers[index].1)(n);
            let elapsed = start.elapsed().as_nanos() as f64;
            check_sum(n, a0);
            elapsed
        });
        let mut table = format!(
            "\n### halt_pc — {} (sum(n), n = {n}: ~{} instructions; {rounds} rounds; time per run)\n\n\
             | layer | median | ratio to floor |\n|---|---:|---:|\n",
            backend.name(),
            3 * n + 4
        );
        for ((name, _), layer_samples) in layers.iter().zip(&samples) {
            let _ = writeln!(
                table,
                "| {name} | {} | {:.3} |",
                stats::format_ns(stats::median(layer_samples)),
                stats::median_ratio(layer_samples, &samples[0])
            );
        }
        print!("{table}");
        out.push_str(&table);
    }
}
