//! The error contract (`tests/error_contract.json`; format in docs/design.md, "Error contract"):
//! every case through the core Rust API (face "rust") and through the `pvm_*` C ABI (face "c"),
//! each giving the file's kind and message. A case of the file that a face does not run fails.

mod common;

use std::ffi::CStr;

use common::{assemble, TEST_PROGRAM};
use polkavm_ffi::c_api::*;
use polkavm_ffi::{Backend, Engine, EngineConfig, Error, ErrorKind, Instance, Module, ModuleConfig, Reg, Result};
use serde_json::Value;

struct Case {
    name: String,
    kind: String,
    message: String,
}

fn contract() -> Value {
    let text = include_str!("error_contract.json");
    serde_json::from_str(text).expect("tests/error_contract.json is valid JSON")
}

/// The cases that apply to `face`: all but those whose `only_in` leaves it out.
fn cases(face: &str) -> Vec<Case> {
    let contract = contract();
    let faces = contract["faces"].as_array().expect("faces");
    assert!(faces.iter().any(|known| known == face), "{face} is not one of the file's faces");
    let cases = contract["cases"].as_object().expect("cases is an object");
    assert!(!cases.is_empty());
    cases
        .iter()
        .filter(|(_, case)| match case.get("only_in") {
            None => true,
            Some(only_in) => only_in.as_array().expect("only_in is a list").iter().any(|known| known == face),
        })
        .map(|(name, case)| Case {
            name: name.clone(),
            kind: case["kind"].as_str().expect("kind").to_owned(),
            message: case["message"].as_str().expect("message").to_owned(),
        })
        .collect()
}

/// Runs every case of `face` through `run`, which returns the error the face reported, or None
/// when it has no code for the case.
fn check(face: &str, run: impl Fn(&str) -> Option<(String, String)>) {
    let mut failures = Vec::new();
    for case in cases(face) {
        match run(&case.name) {
            None => failures.push(format!("{}: the {face} face does not run this case", case.name)),
            Some((kind, message)) if (kind.as_str(), message.as_str()) != (case.kind.as_str(), case.message.as_str()) => {
                failures.push(format!("{}: expected {} {:?}, got {kind} {message:?}", case.name, case.kind, case.message))
            }
            Some(_) => {}
        }
    }
    assert!(failures.is_empty(), "error contract, face {face}:\n{}", failures.join("\n"));
}

#[test]
fn the_file_names_every_error_kind() {
    let contract = contract();
    let kinds: Vec<&str> = contract["kinds"].as_array().unwrap().iter().map(|kind| kind.as_str().unwrap()).collect();
    assert_eq!(kinds, ErrorKind::ALL.map(ErrorKind::name));
    for case in cases("rust").iter().chain(&cases("c")) {
        assert!(kinds.contains(&case.kind.as_str()), "{}: unknown kind {}", case.name, case.kind);
    }
}

// --- The core Rust API -----------------------------------------------------------------------------

fn interpreter(allow_dynamic_paging: bool) -> Engine {
    Engine::new(&EngineConfig { backend: Backend::Interpreter, allow_dynamic_paging, ..EngineConfig::default() }).unwrap()
}

fn core_case(name: &str) -> Option<Result<()>> {
    let engine = interpreter(false);
    let blob = assemble(TEST_PROGRAM);
    let module = Module::new(&engine, &blob, &ModuleConfig::default()).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    Some(match name {
        "run_without_call" => instance.run().map(drop),
        "register_out_of_range" => Reg::from_index(13).map(drop),
        "bad_blob" => Module::new(&engine, b"NOT A PROGRAM", &ModuleConfig::default()).map(drop),
        "empty_blob" => Module::new(&engine, b"", &ModuleConfig::default()).map(drop),
        "no_such_export" => module.export_pc("missing").map(drop),
        "too_many_arguments" => instance.prepare_call_export("add", &[0; 10]),
        "bad_page_size" => Module::new(&engine, &blob, &ModuleConfig { page_size: 1000, ..ModuleConfig::default() }).map(drop),
        "unmapped_memory" => instance.read_memory(0, 4).map(drop),
        "dynamic_paging_not_allowed" => {
            Module::new(&engine, &blob, &ModuleConfig { dynamic_paging: true, ..ModuleConfig::default() }).map(drop)
        }
        "heap_size_under_dynamic_paging" => {
            let config = ModuleConfig { dynamic_paging: true, ..ModuleConfig::default() };
            let module = Module::new(&interpreter(true), &blob, &config).unwrap();
            Instance::new(&module).unwrap().heap_size().map(drop)
        }
        "map_pages_without_dynamic_paging" => instance.map_pages(0x10000, 4096, true),
        "handler_failure" => {
            let pc = module.export_pc("host").unwrap();
            instance.call(pc, &[1], 10_000, |_, number| Err(Error::host_aborted(number, "boom"))).map(drop)
        }
        _ => return None,
    })
}

#[test]
fn the_core_api_keeps_the_error_contract() {
    check("rust", |name| {
        let error = core_case(name)?.expect_err(name);
        Some((error.kind().name().to_owned(), error.message().to_owned()))
    });
}

// --- The C ABI ---------------------------------------------------------------------------------

/// The C constants by the kind names of the file, written out rather than derived from the core.
const C_KINDS: [(u32, &str); 8] = [
    (PVM_ERROR_INVALID_ARGUMENT, "InvalidArgument"),
    (PVM_ERROR_INVALID_PROGRAM, "InvalidProgram"),
    (PVM_ERROR_UNSUPPORTED, "Unsupported"),
    (PVM_ERROR_SETUP, "Setup"),
    (PVM_ERROR_MEMORY, "Memory"),
    (PVM_ERROR_WRONG_STATE, "WrongState"),
    (PVM_ERROR_PANIC, "Panic"),
    (PVM_ERROR_HOST_ABORTED, "HostAborted"),
];

fn c_engine(allow_dynamic_paging: bool) -> PvmEngine {
    let config =
        PvmEngineConfig { backend: PVM_BACKEND_INTERPRETER, allow_dynamic_paging: allow_dynamic_paging as u32, ..pvm_engine_config_default() };
    let engine = unsafe { pvm_engine_new_with_config(&config) };
    assert!(!engine.is_null());
    engine
}

unsafe fn c_module(engine: PvmEngine, blob: &[u8], config: PvmModuleConfig) -> PvmModule {
    pvm_module_new_with_config(engine, blob.as_ptr(), blob.len(), &config)
}

/// Runs case `name` and says whether the call reported failure by its return value.
unsafe fn c_case(name: &str) -> Option<bool> {
    let engine = c_engine(false);
    let blob = assemble(TEST_PROGRAM);
    let module = c_module(engine, &blob, pvm_module_config_default());
    let instance = pvm_instance_new(engine, module);
    assert!(!instance.is_null());
    pvm_clear_last_error();
    let failed = match name {
        "run_without_call" => {
            let mut result = PvmResult::default();
            pvm_instance_run_checked(instance, &mut result) == -1
        }
        "register_out_of_range" => pvm_instance_get_reg(instance, 13) == 0 && *pvm_last_error() != 0,
        "bad_blob" => c_module(engine, b"NOT A PROGRAM", pvm_module_config_default()).is_null(),
        "empty_blob" => c_module(engine, b"", pvm_module_config_default()).is_null(),
        "no_such_export" => pvm_module_find_export(module, b"missing".as_ptr(), 7) == -1,
        "too_many_arguments" => {
            let add = pvm_module_export_pc(module, pvm_module_find_export(module, b"add".as_ptr(), 3) as u32);
            pvm_instance_prepare_call_args(instance, add, [0u64; 10].as_ptr(), 10) == -1
        }
        "bad_page_size" => c_module(engine, &blob, PvmModuleConfig { page_size: 1000, ..pvm_module_config_default() }).is_null(),
        "unmapped_memory" => pvm_instance_read_memory(instance, 0, [0u8; 4].as_mut_ptr(), 4) == -1,
        "dynamic_paging_not_allowed" => {
            c_module(engine, &blob, PvmModuleConfig { dynamic_paging: 1, ..pvm_module_config_default() }).is_null()
        }
        "heap_size_under_dynamic_paging" => {
            let paging_engine = c_engine(true);
            let paging_module = c_module(paging_engine, &blob, PvmModuleConfig { dynamic_paging: 1, ..pvm_module_config_default() });
            let paging_instance = pvm_instance_new(paging_engine, paging_module);
            assert!(!paging_instance.is_null());
            pvm_clear_last_error();
            let failed = pvm_instance_heap_size(paging_instance) == 0 && *pvm_last_error() != 0;
            pvm_instance_free(paging_instance);
            pvm_module_free(paging_module);
            pvm_engine_free(paging_engine);
            failed
        }
        "map_pages_without_dynamic_paging" => pvm_instance_map_pages(instance, 0x10000, 4096, 1) == -1,
        _ => return None,
    };
    pvm_instance_free(instance);
    pvm_module_free(module);
    pvm_engine_free(engine);
    Some(failed)
}

#[test]
fn the_c_abi_keeps_the_error_contract() {
    check("c", |name| {
        let failed = unsafe { c_case(name)? };
        assert!(failed, "{name}: the C function did not report failure by its return value");
        let kind = pvm_last_error_kind();
        let kind = C_KINDS.iter().find(|(value, _)| *value == kind).map_or(format!("PVM_ERROR {kind}"), |(_, name)| name.to_string());
        let message = unsafe { CStr::from_ptr(pvm_last_error()) }.to_str().unwrap().to_owned();
        Some((kind, message))
    });
}

#[test]
fn clearing_the_last_error_clears_its_kind() {
    unsafe {
        assert_eq!(c_case("bad_blob"), Some(true));
    }
    assert_eq!(pvm_last_error_kind(), PVM_ERROR_INVALID_PROGRAM);
    pvm_clear_last_error();
    assert_eq!((pvm_last_error_kind(), unsafe { *pvm_last_error() }), (PVM_ERROR_NONE, 0));
}
