//! Feeds arbitrary bytes to the module loaders through the `pvm_*` C ABI and runs whatever loads,
//! with a small gas limit, on the interpreter and on the JIT (Linux sandbox).
//!
//! Input: one mode byte, then the payload.
//!   mode & 3 == 0: the payload is a program container, loaded as is;
//!   mode & 3 == 1: the payload is code (jump table + code), wrapped into a jam_v1 container
//!                  with fixed memory sizes, two imports and an export at pc 0, so that the
//!                  fuzzer spends its time in the code validators, compilers and interpreters;
//!   mode & 3 == 2: the payload is a Graypaper program blob, loaded by `pvm_module_new_jam`
//!                  (dynamic paging: the interpreter, and the JIT where userfaultfd is allowed);
//!                  the harness maps each page the guest faults on and resumes.
//!   mode & 4: async gas metering; mode & 8: strict loading; mode & 16: step tracing.
//! A panic anywhere aborts (libFuzzer's panic hook), so even panics the ABI would have caught
//! and turned into errors are reported as findings.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use polkavm_common::program::{
    BLOB_LEN_OFFSET, BLOB_LEN_SIZE, BLOB_MAGIC, SECTION_CODE_AND_JUMP_TABLE, SECTION_END_OF_FILE, SECTION_EXPORTS,
    SECTION_IMPORTS, SECTION_MEMORY_CONFIG, SECTION_RO_DATA,
};
use polkavm_common::writer::Writer;
use polkavm_ffi::c_api::*;

const GAS: i64 = 20_000;
const MAX_HOST_CALLS: u32 = 64;
const MAX_STEPS: u32 = 256;
const MAX_EXPORTS_RUN: u32 = 4;
const MAX_PAGES_MAPPED: u32 = 16;
const JAM_V1_BLOB_VERSION: u8 = 3;

struct Engines {
    static_paging: Vec<PvmEngine>,
    dynamic_paging: Vec<PvmEngine>,
}
// The engines are shared by design: the ABI documents engines as usable from any thread.
unsafe impl Send for Engines {}
unsafe impl Sync for Engines {}

fn engines() -> &'static Engines {
    static ENGINES: OnceLock<Engines> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let both = |allow_dynamic_paging| -> Vec<PvmEngine> {
            [PVM_BACKEND_INTERPRETER, PVM_BACKEND_COMPILER]
                .into_iter()
                .map(|backend| {
                    let config = PvmEngineConfig { backend, allow_dynamic_paging, ..pvm_engine_config_default() };
                    unsafe { pvm_engine_new_with_config(&config) }
                })
                .filter(|engine| !engine.is_null())
                .collect()
        };
        let engines = Engines { static_paging: both(0), dynamic_paging: both(1) };
        assert!(!engines.static_paging.is_empty() && !engines.dynamic_paging.is_empty(), "the interpreter is always available");
        eprintln!(
            "load_and_run: {} engines for containers, {} for JAM blobs (the JIT needs userfaultfd for those)",
            engines.static_paging.len(),
            engines.dynamic_paging.len()
        );
        engines
    })
}

fn section(writer: &mut Writer, kind: u8, build: impl FnOnce(&mut Writer)) {
    let mut contents = Vec::new();
    build(&mut Writer::new(&mut contents));
    writer.push_byte(kind);
    writer.push_bytes_with_length(&contents);
}

fn wrap_code(code_and_jump_table: &[u8]) -> Vec<u8> {
    let mut blob = Vec::new();
    let mut writer = Writer::new(&mut blob);
    writer.push_raw_bytes(&BLOB_MAGIC);
    writer.push_byte(JAM_V1_BLOB_VERSION);
    writer.push_raw_bytes(&[0; BLOB_LEN_SIZE]);
    section(&mut writer, SECTION_MEMORY_CONFIG, |writer| {
        writer.push_varint(4096);
        writer.push_varint(4096);
        writer.push_varint(8192);
    });
    section(&mut writer, SECTION_RO_DATA, |writer| writer.push_raw_bytes(&[1, 2, 3, 4]));
    section(&mut writer, SECTION_IMPORTS, |writer| {
        writer.push_varint(2);
        writer.push_raw_bytes(&0u32.to_le_bytes());
        writer.push_raw_bytes(&1u32.to_le_bytes());
        writer.push_raw_bytes(b"ab");
    });
    section(&mut writer, SECTION_EXPORTS, |writer| {
        writer.push_varint(1);
        writer.push_varint(0);
        writer.push_bytes_with_length(b"main");
    });
    section(&mut writer, SECTION_CODE_AND_JUMP_TABLE, |writer| writer.push_raw_bytes(code_and_jump_table));
    writer.push_raw_bytes(&[SECTION_END_OF_FILE]);
    let length = (blob.len() as u64).to_le_bytes();
    blob[BLOB_LEN_OFFSET..BLOB_LEN_OFFSET + BLOB_LEN_SIZE].copy_from_slice(&length);
    blob
}

/// Runs from `pc` until the program stops for good (or the host-call/step budget is spent).
unsafe fn run_to_end(instance: PvmInstance, pc: u32) {
    if pvm_instance_prepare_call_args(instance, pc, [1u64, 2, 3].as_ptr(), 3) != 0 {
        return;
    }
    pvm_instance_set_gas(instance, GAS);
    let (mut host_calls, mut steps, mut pages) = (0, 0, 0);
    loop {
        let result = pvm_instance_run(instance);
        assert!(result.status <= PVM_STATUS_STEP, "unknown status {}", result.status);
        assert!(result.gas_remaining <= GAS, "gas grew: {}", result.gas_remaining);
        match result.status {
            PVM_STATUS_HOST if host_calls < MAX_HOST_CALLS => {
                host_calls += 1;
                let value = pvm_instance_get_reg(instance, PVM_REG_A0);
                pvm_instance_set_reg(instance, PVM_REG_A1, value.wrapping_add(result.host_call as u64));
            }
            PVM_STATUS_STEP if steps < MAX_STEPS => steps += 1,
            PVM_STATUS_FAULT if pages < MAX_PAGES_MAPPED => {
                pages += 1;
                let address = pvm_instance_fault_address(instance);
                if pvm_instance_map_pages(instance, address, 1, 1) != 0 {
                    break;
                }
            }
            _ => break,
        }
    }
    let mut regs = [0u64; PVM_REG_COUNT as usize];
    assert_eq!(pvm_instance_get_regs(instance, regs.as_mut_ptr()), 0);
    let mut word = [0u8; 8];
    let _ = pvm_instance_read_memory(instance, regs[PVM_REG_A0 as usize] as u32, word.as_mut_ptr(), 8);
    let _ = pvm_instance_get_pc(instance);
}

unsafe fn load(engine: PvmEngine, mode: u8, payload: &[u8], config: &PvmModuleConfig) -> PvmModule {
    match mode & 3 {
        1 => {
            let blob = wrap_code(payload);
            pvm_module_new_with_config(engine, blob.as_ptr(), blob.len(), config)
        }
        2 => {
            let jam = PvmJamConfig {
                gas_metering: config.gas_metering,
                step_tracing: config.step_tracing,
                ..pvm_jam_config_default()
            };
            pvm_module_new_jam(engine, payload.as_ptr(), payload.len(), &jam)
        }
        _ => pvm_module_new_with_config(engine, payload.as_ptr(), payload.len(), config),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else { return };
    let config = PvmModuleConfig {
        gas_metering: if mode & 4 != 0 { PVM_GAS_METERING_ASYNC } else { PVM_GAS_METERING_SYNC },
        strict: u32::from(mode & 8 != 0),
        step_tracing: u32::from(mode & 16 != 0),
        ..pvm_module_config_default()
    };
    let engines = if mode & 3 == 2 { &engines().dynamic_paging } else { &engines().static_paging };
    for &engine in engines {
        unsafe {
            let module = load(engine, mode, payload, &config);
            if module.is_null() {
                assert!(!std::ffi::CStr::from_ptr(pvm_last_error()).to_bytes().is_empty(), "a failed load must say why");
                continue;
            }
            let instance = pvm_instance_new(engine, module);
            if !instance.is_null() {
                let exports = pvm_module_exports_count(module).min(MAX_EXPORTS_RUN);
                for index in 0..exports {
                    run_to_end(instance, pvm_module_export_pc(module, index));
                }
                run_to_end(instance, 0);
                pvm_instance_reset(instance);
                pvm_instance_free(instance);
            }
            pvm_module_free(module);
        }
    }
});
