//! The UniFFI API's errors carry the C ABI's `pvm_last_error` text for the same failure, and its
//! error kinds match the core's. (The bindings' own behaviour tests are in bindings/*/.)
#![cfg(feature = "uniffi")]

use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use polkavm_ffi::c_api::*;
use polkavm_ffi::uniffi_api::{self, Backend, EngineConfig, HostError, HostHandler, ModuleConfig, PvmError};

mod common;

use common::{scaled, TEST_PROGRAM};

fn last_error() -> String {
    unsafe { CStr::from_ptr(pvm_last_error()) }.to_str().unwrap().to_owned()
}

fn engine(backend: Backend) -> Arc<uniffi_api::Engine> {
    uniffi_api::Engine::new(EngineConfig {
        backend: Some(backend),
        sandbox: None,
        worker_count: 2,
        allow_dynamic_paging: false,
        core_pinning: None,
        default_cost_model: None,
    })
    .unwrap()
}

fn interpreter() -> Arc<uniffi_api::Engine> {
    engine(Backend::Interpreter)
}

fn module_config() -> ModuleConfig {
    ModuleConfig { gas_metering: None, step_tracing: false, dynamic_paging: false, page_size: 4096, aux_data_size: 0, strict: false, cost_model: None }
}

#[test]
fn bad_blobs_fail_with_the_c_abi_message() {
    let blob = uniffi_api::assemble(TEST_PROGRAM.to_owned()).unwrap();
    let engine = pvm_engine_new_interpreter();
    for bad in [Vec::new(), b"ELF\x7f....".to_vec(), blob[..20].to_vec()] {
        assert!(unsafe { pvm_module_new(engine, bad.as_ptr(), bad.len()) }.is_null());
        match uniffi_api::Module::new(interpreter(), bad, module_config()) {
            Err(PvmError::InvalidProgram(message)) => assert_eq!(message, last_error()),
            other => panic!("expected InvalidProgram, got {:?}", other.map(|_| ())),
        }
    }
    unsafe { pvm_engine_free(engine) };
}

#[test]
fn instance_misuse_fails_with_the_c_abi_message() {
    let blob = uniffi_api::assemble(TEST_PROGRAM.to_owned()).unwrap();
    let engine = pvm_engine_new_interpreter();
    let module = unsafe { pvm_module_new(engine, blob.as_ptr(), blob.len()) };
    let c_instance = unsafe { pvm_instance_new(engine, module) };
    let instance = uniffi_api::Instance::new(uniffi_api::Module::new(interpreter(), blob, module_config()).unwrap()).unwrap();

    assert_eq!(unsafe { pvm_instance_run(c_instance) }.status, PVM_STATUS_PANIC);
    let Err(PvmError::WrongState(message)) = instance.run() else { panic!("run without a call must fail") };
    assert_eq!(message, last_error());

    let args = [0u64; 10];
    assert_eq!(unsafe { pvm_instance_prepare_call_args(c_instance, 0, args.as_ptr(), 10) }, -1);
    let Err(PvmError::InvalidArgument(message)) = instance.prepare_call(0, args.to_vec()) else { panic!("10 arguments must fail") };
    assert_eq!(message, last_error());

    unsafe {
        pvm_instance_free(c_instance);
        pvm_module_free(module);
        pvm_engine_free(engine);
    }
}

struct Abort;

impl HostHandler for Abort {
    fn on_host_call(&self, number: u32, instance: Arc<uniffi_api::Instance>) -> Result<Option<u64>, HostError> {
        // A handler may use the instance it serves, but not run it.
        assert!(matches!(instance.run(), Err(PvmError::WrongState(_))));
        assert_eq!(instance.reg(polkavm_ffi::Reg::A0), 1);
        Err(HostError::Abort { reason: format!("no host call {number} here") })
    }
}

#[test]
fn a_handler_error_ends_the_call_and_frees_the_instance() {
    let blob = uniffi_api::assemble(TEST_PROGRAM.to_owned()).unwrap();
    let instance = uniffi_api::Instance::new(uniffi_api::Module::new(interpreter(), blob, module_config()).unwrap()).unwrap();
    let error = Arc::clone(&instance).call("host_loop".into(), vec![1], Arc::new(Abort), Some(1_000_000)).unwrap_err();
    assert!(matches!(&error, PvmError::HostAborted(message) if message == "host call 1 aborted: no host call 1 here"), "{error:?}");
    instance.prepare_call_export("add".into(), vec![2, 3]).unwrap();
    assert_eq!(instance.run().unwrap().status, polkavm_ffi::Status::Halt);
    assert_eq!(instance.reg(polkavm_ffi::Reg::A0), 5);
}

fn instance(engine: Arc<uniffi_api::Engine>) -> Arc<uniffi_api::Instance> {
    let blob = uniffi_api::assemble(TEST_PROGRAM.to_owned()).unwrap();
    uniffi_api::Instance::new(uniffi_api::Module::new(engine, blob, module_config()).unwrap()).unwrap()
}

/// Both backends, or only the interpreter under Miri (see `common::engines`).
fn engines() -> Vec<Arc<uniffi_api::Engine>> {
    if cfg!(miri) {
        return vec![engine(Backend::Interpreter)];
    }
    vec![engine(Backend::Interpreter), engine(Backend::Compiler)]
}

struct Panics;

impl HostHandler for Panics {
    fn on_host_call(&self, _number: u32, _instance: Arc<uniffi_api::Instance>) -> Result<Option<u64>, HostError> {
        panic!("handler bug");
    }
}

#[test]
fn a_panicking_handler_leaves_the_instance_usable() {
    for engine in engines() {
        let instance = instance(engine);
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            Arc::clone(&instance).call("host_loop".into(), vec![3], Arc::new(Panics), Some(1_000_000))
        }));
        assert!(panicked.is_err());
        // Every entry point works again: call, run, reset, and another thread's accessors.
        let outcome = Arc::clone(&instance).call("add".into(), vec![2, 3], Arc::new(Panics), Some(1_000_000)).unwrap();
        assert_eq!(outcome.regs[polkavm_ffi::Reg::A0 as usize], 5);
        instance.prepare_call_export("add".into(), vec![4, 5]).unwrap();
        assert_eq!(instance.run().unwrap().status, polkavm_ffi::Status::Halt);
        let shared = Arc::clone(&instance);
        assert_eq!(std::thread::spawn(move || shared.reg(polkavm_ffi::Reg::A0)).join().unwrap(), 9);
        instance.reset().unwrap();
        assert_eq!(instance.regs(), vec![0; 13]);
    }
}

/// Counts down with the guest: checks that it sees its own call's registers at every host call.
struct Countdown {
    next_a0: std::sync::Mutex<u64>,
}

impl HostHandler for Countdown {
    fn on_host_call(&self, _number: u32, instance: Arc<uniffi_api::Instance>) -> Result<Option<u64>, HostError> {
        let mut next = self.next_a0.lock().unwrap();
        assert_eq!(instance.reg(polkavm_ffi::Reg::A0), *next);
        *next -= 1;
        Ok(None)
    }
}

#[test]
fn threads_sharing_an_instance_take_turns() {
    for engine in engines() {
        let instance = instance(engine);
        let threads: Vec<_> = (0..4u64)
            .map(|thread| {
                let instance = Arc::clone(&instance);
                std::thread::spawn(move || {
                    for round in 0..scaled(50u64, 3) {
                        let n = 10 + thread * 7 + round % 5;
                        let handler = Arc::new(Countdown { next_a0: std::sync::Mutex::new(n) });
                        let outcome = Arc::clone(&instance).call("host_loop".into(), vec![n], handler, Some(1_000_000)).unwrap();
                        assert_eq!(outcome.regs[polkavm_ffi::Reg::A0 as usize], n);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }
}
