//! C ABI functions whose inputs the C suite cannot easily make: programs with imports.

use polkavm_common::program::{Instruction, InstructionSetKind, Reg};
use polkavm_common::writer::ProgramBlobBuilder;
use polkavm_ffi::c_api::*;

/// Calls import 1 ("fetch"), then import 0 ("log"), then returns.
fn program_with_imports() -> Vec<u8> {
    let mut builder = ProgramBlobBuilder::new(InstructionSetKind::JamV1);
    builder.set_stack_size(4096);
    builder.add_import(b"log");
    builder.add_import(b"fetch");
    builder.add_export_by_basic_block(0, b"main");
    builder.set_code(
        &[Instruction::ecalli(1), Instruction::ecalli(0), Instruction::jump_indirect(Reg::RA.into(), 0)],
        &[],
    );
    builder.into_vec().unwrap()
}

fn import_name(module: PvmModule, index: u32) -> Option<String> {
    let mut buf = [0u8; 16];
    let len = unsafe { pvm_module_import_name(module, index, buf.as_mut_ptr(), buf.len() as u32) };
    (len >= 0).then(|| String::from_utf8(buf[..len as usize].to_vec()).unwrap())
}

#[test]
fn imports_name_the_host_calls() {
    let blob = program_with_imports();
    for engine in [pvm_engine_new_interpreter(), pvm_engine_new()] {
        unsafe {
            let module = pvm_module_new(engine, blob.as_ptr(), blob.len());
            assert!(!module.is_null());
            assert_eq!(pvm_module_imports_count(module), 2);
            assert_eq!(import_name(module, 0).as_deref(), Some("log"));
            assert_eq!(import_name(module, 1).as_deref(), Some("fetch"));
            assert_eq!(import_name(module, 2), None);

            let instance = pvm_instance_new(engine, module);
            assert_eq!(pvm_instance_prepare_call(instance, pvm_module_export_pc(module, 0)), 0);
            pvm_instance_set_gas(instance, 100);
            let mut called = Vec::new();
            let mut result = pvm_instance_run(instance);
            while result.status == PVM_STATUS_HOST {
                called.push(import_name(module, result.host_call).unwrap());
                result = pvm_instance_run(instance);
            }
            assert_eq!(result.status, PVM_STATUS_HALT);
            assert_eq!(called, ["fetch", "log"]);

            pvm_instance_free(instance);
            pvm_module_free(module);
            pvm_engine_free(engine);
        }
    }
}
