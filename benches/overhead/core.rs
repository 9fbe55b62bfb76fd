//! polkavm-ffi's Rust core, two ways: the caller's own run loop, and `Instance::call` with a
//! host-call closure (what the UniFFI and C++ layers build on).

use polkavm_ffi::{Backend, Engine, EngineConfig, Instance, Module, ModuleConfig, Reg, Status};

use crate::layers::{check_add, BackendKind, Export, Workloads, GAS};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    RunLoop,
    CallClosure,
}

pub struct Core {
    style: Style,
    engine: Engine,
    module: Module,
    instance: Instance,
    host_loop: u32,
    sum: u32,
    add: u32,
    large_program: Vec<u8>,
}

pub fn engine(backend: BackendKind) -> Engine {
    let backend = match backend {
        BackendKind::Interpreter => Backend::Interpreter,
        BackendKind::Compiler => Backend::Compiler,
    };
    Engine::new(&EngineConfig { backend, ..EngineConfig::default() }).expect("core engine")
}

impl Core {
    pub fn new(style: Style, backend: BackendKind, test_program: &[u8], large_program: &[u8]) -> Core {
        let engine = engine(backend);
        let module = Module::new(&engine, test_program, &ModuleConfig::default()).expect("core module");
        let instance = Instance::new(&module).expect("core instance");
        let pc = |name| module.export_pc(name).expect("export");
        let (host_loop, sum, add) = (pc("host_loop"), pc("sum"), pc("add"));
        Core { style, engine, module, instance, host_loop, sum, add, large_program: large_program.to_vec() }
    }
}

impl Workloads for Core {
    fn name(&self) -> String {
        match self.style {
            Style::RunLoop => "core: run loop".into(),
            Style::CallClosure => "core: call + closure".into(),
        }
    }

    fn call(&mut self, export: Export, n: u64) -> u64 {
        let pc = match export {
            Export::HostLoop => self.host_loop,
            Export::Sum => self.sum,
        };
        let instance = &mut self.instance;
        match self.style {
            Style::RunLoop => {
                instance.prepare_call(pc, &[n]).expect("prepare");
                instance.set_gas(GAS);
                loop {
                    let result = instance.run().expect("run");
                    match result.status {
                        Status::Host => {
                            let value = instance.reg(Reg::A0);
                            instance.set_reg(Reg::A2, value);
                        }
                        Status::Halt => break,
                        other => panic!("unexpected status {other:?}"),
                    }
                }
            }
            Style::CallClosure => {
                let result = instance
                    .call(pc, &[n], GAS, |instance, _| {
                        let value = instance.reg(Reg::A0);
                        instance.set_reg(Reg::A2, value);
                        Ok(())
                    })
                    .expect("call");
                assert_eq!(result.status, Status::Halt);
            }
        }
        instance.reg(Reg::A0)
    }

    fn invocations(&mut self, n: u64) {
        for _ in 0..n {
            let mut instance = Instance::new(&self.module).expect("instance");
            match self.style {
                Style::RunLoop => {
                    instance.prepare_call(self.add, &[40, 2]).expect("prepare");
                    instance.set_gas(GAS);
                    assert_eq!(instance.run().expect("run").status, Status::Halt);
                }
                Style::CallClosure => {
                    let result = instance.call(self.add, &[40, 2], GAS, |_, _| Ok(())).expect("call");
                    assert_eq!(result.status, Status::Halt);
                }
            }
            check_add(instance.reg(Reg::A0));
        }
    }

    fn loads(&mut self, n: u64) {
        for _ in 0..n {
            std::hint::black_box(Module::new(&self.engine, &self.large_program, &ModuleConfig::default()).expect("load"));
        }
    }
}
