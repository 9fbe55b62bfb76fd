//! The `pvm_*` C ABI, called from Rust (no foreign-language cost: the ABI's own overhead).

use polkavm_ffi::c_api::*;

use crate::layers::{check_add, BackendKind, Export, Workloads, GAS};

pub struct Abi {
    engine: PvmEngine,
    module: PvmModule,
    instance: PvmInstance,
    host_loop: u32,
    sum: u32,
    add: u32,
    large_program: Vec<u8>,
}

fn export_pc(module: PvmModule, name: &str) -> u32 {
    unsafe {
        let index = pvm_module_find_export(module, name.as_ptr(), name.len());
        assert!(index >= 0, "export {name}");
        pvm_module_export_pc(module, index as u32)
    }
}

impl Abi {
    pub fn new(backend: BackendKind, test_program: &[u8], large_program: &[u8]) -> Abi {
        unsafe {
            let engine = match backend {
                BackendKind::Interpreter => pvm_engine_new_interpreter(),
                BackendKind::Compiler => pvm_engine_new(),
            };
            assert!(!engine.is_null());
            let module = pvm_module_new(engine, test_program.as_ptr(), test_program.len());
            assert!(!module.is_null());
            let instance = pvm_instance_new(engine, module);
            assert!(!instance.is_null());
            let (host_loop, sum, add) = (export_pc(module, "host_loop"), export_pc(module, "sum"), export_pc(module, "add"));
            Abi { engine, module, instance, host_loop, sum, add, large_program: large_program.to_vec() }
        }
    }

}

impl Drop for Abi {
    fn drop(&mut self) {
        unsafe {
            pvm_instance_free(self.instance);
            pvm_module_free(self.module);
            pvm_engine_free(self.engine);
        }
    }
}

impl Workloads for Abi {
    fn name(&self) -> String {
        "C ABI, called from Rust".into()
    }

    fn call(&mut self, export: Export, n: u64) -> u64 {
        let pc = match export {
            Export::HostLoop => self.host_loop,
            Export::Sum => self.sum,
        };
        unsafe {
            let instance = self.instance;
            assert_eq!(pvm_instance_prepare_call_args(instance, pc, &n, 1), 0);
            pvm_instance_set_gas(instance, GAS);
            loop {
                let result = pvm_instance_run(instance);
                match result.status {
                    PVM_STATUS_HOST => {
                        let value = pvm_instance_get_reg(instance, PVM_REG_A0);
                        pvm_instance_set_reg(instance, PVM_REG_A2, value);
                    }
                    PVM_STATUS_HALT => return pvm_instance_get_reg(instance, PVM_REG_A0),
                    other => panic!("unexpected status {other}"),
                }
            }
        }
    }

    fn invocations(&mut self, n: u64) {
        let args = [40u64, 2];
        for _ in 0..n {
            unsafe {
                let instance = pvm_instance_new(self.engine, self.module);
                assert!(!instance.is_null());
                assert_eq!(pvm_instance_prepare_call_args(instance, self.add, args.as_ptr(), 2), 0);
                pvm_instance_set_gas(instance, GAS);
                assert_eq!(pvm_instance_run(instance).status, PVM_STATUS_HALT);
                check_add(pvm_instance_get_reg(instance, PVM_REG_A0));
                pvm_instance_free(instance);
            }
        }
    }

    fn loads(&mut self, n: u64) {
        for _ in 0..n {
            unsafe {
                let module = pvm_module_new(self.engine, self.large_program.as_ptr(), self.large_program.len());
                assert!(!module.is_null());
                pvm_module_free(module);
            }
        }
    }
}
