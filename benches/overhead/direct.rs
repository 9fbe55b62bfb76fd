//! The floor: polkavm 0.37 called directly, configured exactly as polkavm-ffi's defaults configure
//! it (backend, automatic sandbox, 2 workers, core pinning, no dynamic paging; sync gas metering,
//! 4 KiB pages, no aux data, not strict).

use polkavm::{ArcBytes, InterruptKind, ProgramBlob, ProgramCounter, RawInstance, Reg};

use crate::layers::{check_add, BackendKind, Export, Workloads, GAS};

pub struct Direct {
    engine: polkavm::Engine,
    module: polkavm::Module,
    instance: RawInstance,
    host_loop: ProgramCounter,
    sum: ProgramCounter,
    add: ProgramCounter,
    large_program: Vec<u8>,
}

pub fn engine(backend: BackendKind) -> polkavm::Engine {
    let mut config = polkavm::Config::new();
    config.set_backend(Some(match backend {
        BackendKind::Interpreter => polkavm::BackendKind::Interpreter,
        BackendKind::Compiler => polkavm::BackendKind::Compiler,
    }));
    config.set_sandbox(None);
    config.set_worker_count(2);
    config.set_allow_dynamic_paging(false);
    config.set_core_pinning(polkavm::CorePinning::PinToCore);
    polkavm::Engine::new(&config).expect("direct polkavm engine")
}

pub fn module(engine: &polkavm::Engine, blob: &[u8]) -> polkavm::Module {
    let mut config = polkavm::ModuleConfig::new();
    config.set_gas_metering(Some(polkavm::GasMeteringKind::Sync));
    config.set_step_tracing(false);
    config.set_dynamic_paging(false);
    config.set_page_size(0x1000);
    config.set_aux_data_size(0);
    config.set_strict(false);
    let blob = ProgramBlob::parse(ArcBytes::from(blob)).expect("direct polkavm parse");
    polkavm::Module::from_blob(engine, &config, blob).expect("direct polkavm module")
}

pub fn export_pc(module: &polkavm::Module, name: &str) -> ProgramCounter {
    module.exports().find(|export| export.symbol().as_bytes() == name.as_bytes()).expect("export").program_counter()
}

impl Direct {
    pub fn new(backend: BackendKind, test_program: &[u8], large_program: &[u8]) -> Direct {
        let engine = engine(backend);
        let module = module(&engine, test_program);
        let instance = module.instantiate().expect("direct polkavm instance");
        let (host_loop, sum, add) = (export_pc(&module, "host_loop"), export_pc(&module, "sum"), export_pc(&module, "add"));
        Direct { engine, module, instance, host_loop, sum, add, large_program: large_program.to_vec() }
    }
}

impl Workloads for Direct {
    fn name(&self) -> String {
        "polkavm direct (floor)".into()
    }

    fn call(&mut self, export: Export, n: u64) -> u64 {
        let pc = match export {
            Export::HostLoop => self.host_loop,
            Export::Sum => self.sum,
        };
        let instance = &mut self.instance;
        instance.prepare_call_untyped(pc, &[n]);
        instance.set_gas(GAS);
        loop {
            match instance.run().expect("run") {
                InterruptKind::Ecalli(_) => {
                    let value = instance.reg(Reg::A0);
                    instance.set_reg(Reg::A2, value);
                }
                InterruptKind::Finished => return instance.reg(Reg::A0),
                other => panic!("unexpected interrupt {other:?}"),
            }
        }
    }

    fn invocations(&mut self, n: u64) {
        for _ in 0..n {
            let mut instance = self.module.instantiate().expect("instance");
            instance.prepare_call_untyped(self.add, &[40, 2]);
            instance.set_gas(GAS);
            assert!(matches!(instance.run().expect("run"), InterruptKind::Finished));
            check_add(instance.reg(Reg::A0));
        }
    }

    fn loads(&mut self, n: u64) {
        for _ in 0..n {
            std::hint::black_box(module(&self.engine, &self.large_program));
        }
    }
}
