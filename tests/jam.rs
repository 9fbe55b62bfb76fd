//! JAM mode: Graypaper program blobs, dynamic paging and the Graypaper's pc, on the interpreter
//! and on the JIT with polkavm's generic sandbox (the JIT configuration that works without
//! userfaultfd).

mod common;

use polkavm_ffi::polkavm::program::InstructionSet as _;
use polkavm_ffi::polkavm::{ArcBytes, ProgramBlob};
use polkavm_ffi::*;

/// The Graypaper blob of a program written in polkavm's assembly.
fn assemble(source: &str) -> Vec<u8> {
    let blob = ProgramBlob::parse(ArcBytes::from(common::assemble(source))).expect("container parses");
    graypaper_blob(&blob).expect("jam_v1 has a Graypaper encoding")
}

fn jam_engines() -> Vec<Engine> {
    let mut backends = vec![(Backend::Interpreter, Sandbox::Auto)];
    if cfg!(feature = "generic-sandbox") {
        backends.push((Backend::Compiler, Sandbox::Generic));
    }
    backends
        .into_iter()
        .map(|(backend, sandbox)| {
            Engine::new(&EngineConfig { backend, sandbox, allow_dynamic_paging: true, ..EngineConfig::default() })
                .expect("engine with dynamic paging")
        })
        .collect()
}

/// One gas per instruction, as the Graypaper through 0.7.2 (the JAM default is 0.8.0's model).
fn naive() -> JamConfig {
    JamConfig { cost_model: Some(CostModel::Naive), ..JamConfig::default() }
}

fn jam_instance(engine: &Engine, code: &[u8], config: &JamConfig) -> Instance {
    let module = Module::from_jam_code(engine, code, config).expect("module");
    Instance::new(&module).expect("instance")
}

fn start(vm: &mut Instance, pc: u32, gas: i64) -> RunResult {
    vm.set_next_pc(pc);
    vm.set_gas(gas);
    vm.run().expect("run")
}

/// `a2 = a0 + a1` and nothing after it: the Graypaper's implicit trap follows at pc 3.
const FALLS_OFF_THE_END: &str = "%isa = jam_v1\npub @main:\n    i32 a2 = a0 + a1\n";

#[test]
fn falling_off_the_end_panics_at_the_end_of_the_code() {
    let code = assemble(FALLS_OFF_THE_END);
    for engine in jam_engines() {
        let backend = engine.backend();
        let mut vm = jam_instance(&engine, &code, &naive());
        vm.set_reg(Reg::A0, 1);
        vm.set_reg(Reg::A1, 2);
        let result = start(&mut vm, 0, 10_000);
        assert_eq!(result.status, Status::Panic, "{backend:?}");
        assert_eq!(vm.reg(Reg::A2), 3, "{backend:?}");
        // One gas for the add, one for the implicit trap; the pc is the code's length.
        assert_eq!(result.gas_remaining, 9_998, "{backend:?}");
        assert_eq!(vm.graypaper_pc(), Some(3), "{backend:?}");
    }
}

fn parse_jam_v1(code: &[u8]) -> ProgramBlob {
    let mut parts = polkavm::ProgramParts::empty(InstructionSet::JamV1.raw());
    parts.code_and_jump_table = ArcBytes::from(code);
    ProgramBlob::from_parts(parts).expect("blob")
}

/// The pc of the first instruction of `code` (a jam_v1 Graypaper blob) matching `is_wanted`.
fn pc_of(code: &[u8], is_wanted: impl Fn(&polkavm::program::Instruction) -> bool) -> u32 {
    parse_jam_v1(code).instructions().find(|instruction| is_wanted(&instruction.kind)).expect("instruction present").offset.0
}

fn instruction_count(code: &[u8]) -> i64 {
    parse_jam_v1(code).instructions().count() as i64
}

const HALTS: &str = "%isa = jam_v1\npub @main:\n    a0 = 5\n    jump @done if a0 == 0\n    a1 = a0 + 1\n@done:\n    ret\n";

#[test]
fn the_graypaper_pc_after_a_halt_is_the_instruction_that_jumped_to_the_halt_address() {
    let code = assemble(HALTS);
    let ret_pc = pc_of(&code, |kind| matches!(kind, polkavm::program::Instruction::jump_indirect(..)));
    // Every instruction runs once: the branch is not taken and the block before @done falls through.
    let executed = instruction_count(&code);
    assert!(ret_pc > 0 && executed >= 4);
    for engine in jam_engines() {
        let backend = engine.backend();
        let tracked = JamConfig { halt_pc: true, ..naive() };
        for config in [tracked.clone(), JamConfig { step_tracing: true, ..tracked }] {
            let mut vm = jam_instance(&engine, &code, &config);
            vm.set_reg(Reg::RA, 0xffff_0000);
            let mut result = start(&mut vm, 0, 100);
            let mut steps = 0;
            while result.status == Status::Step {
                steps += 1;
                result = vm.run().unwrap();
            }
            assert_eq!(result.status, Status::Halt, "{backend:?} {config:?}");
            assert_eq!(vm.reg(Reg::A1), 6);
            assert_eq!(vm.graypaper_pc(), Some(ret_pc), "{backend:?} {config:?}");
            assert_eq!(result.gas_remaining, 100 - executed, "{backend:?}: one gas per instruction");
            assert_eq!(steps, if config.step_tracing { executed } else { 0 }, "{backend:?}: steps are visible only when asked for");
        }

        let mut untracked = jam_instance(&engine, &code, &JamConfig::default());
        untracked.set_reg(Reg::RA, 0xffff_0000);
        assert_eq!(start(&mut untracked, 0, 100).status, Status::Halt);
        assert_eq!(untracked.graypaper_pc(), None, "{backend:?}: polkavm alone does not know the pc of a halt");
    }
}

const LOADS_AND_STORES: &str = "%isa = jam_v1\npub @main:\n    a1 = u32 [a0]\n    u32 [a0 + 4] = a1\n    trap\n";

#[test]
fn page_faults_report_the_page_and_the_faulting_instruction_and_resume_once_mapped() {
    let code = assemble(LOADS_AND_STORES);
    let store_pc = pc_of(&code, |kind| matches!(kind, polkavm::program::Instruction::store_indirect_u32(..)));
    for engine in jam_engines() {
        let backend = engine.backend();
        let mut vm = jam_instance(&engine, &code, &JamConfig::default());
        vm.set_reg(Reg::A0, 0x2_0ffc);
        let result = start(&mut vm, 0, 100);
        assert_eq!((result.status, result.fault_address), (Status::Fault, 0x2_0000), "{backend:?}");
        assert_eq!(vm.fault_address(), Some(0x2_0000));
        assert_eq!(vm.graypaper_pc(), Some(0), "{backend:?}");

        vm.map_pages(0x2_0000, 0x1000, true).unwrap();
        vm.write_memory(0x2_0ffc, &[0x2a, 0, 0, 0]).unwrap();
        vm.protect_pages(0x2_0000, 0x1000, true).unwrap();
        assert_eq!(vm.write_memory(0x2_0ffc, &[1]).unwrap_err().kind(), ErrorKind::Memory, "{backend:?}: read-only for the host too");
        let result = vm.run().unwrap();
        assert_eq!((result.status, result.fault_address), (Status::Fault, 0x2_1000), "{backend:?}: the store crosses a page");
        assert_eq!(vm.reg(Reg::A1), 0x2a, "{backend:?}: the load completed");
        assert_eq!(vm.graypaper_pc(), Some(store_pc));

        vm.map_pages(0x2_1000, 0x1000, false).unwrap();
        assert_eq!(vm.run().unwrap().status, Status::Fault, "{backend:?}: the next page is read-only");
        vm.protect_pages(0x2_1000, 0x1000, false).unwrap();
        let result = vm.run().unwrap();
        assert_eq!(result.status, Status::Panic, "{backend:?}");
        assert_eq!(vm.read_memory(0x2_1000, 4).unwrap(), [0x2a, 0, 0, 0]);

        vm.free_pages(0x2_0000, 0x2000).unwrap();
        assert_eq!(vm.read_memory(0x2_0000, 1).unwrap_err().kind(), ErrorKind::Memory);
    }
}

/// `E(0) E1(0) E(1)`, the code `[opcode]` and the bitmask `[1]`: one instruction and nothing else.
fn one_instruction(opcode: u8) -> Vec<u8> {
    vec![0, 0, 1, opcode, 1]
}

#[test]
fn an_opcode_the_instruction_set_does_not_know_panics_when_reached() {
    let unknown = 111; // reverse_byte in revive_v1, unassigned in jam_v1
    assert!(InstructionSet::JamV1.raw().opcode_from_raw(unknown as u32).is_none());
    for engine in jam_engines() {
        let mut vm = jam_instance(&engine, &one_instruction(unknown), &naive());
        let result = start(&mut vm, 0, 10);
        assert_eq!((result.status, result.gas_remaining), (Status::Panic, 9), "{:?}", engine.backend());
        assert_eq!(vm.graypaper_pc(), Some(0));

        let mut empty = jam_instance(&engine, &[0, 0, 0], &naive());
        let result = start(&mut empty, 0, 10);
        assert_eq!((result.status, result.gas_remaining), (Status::Panic, 9), "no code: the implicit trap at pc 0");
        assert_eq!(empty.graypaper_pc(), Some(0));
    }
}

#[test]
fn revive_v1_keeps_the_old_opcode_numbering() {
    let code = assemble("%isa = revive_v1\npub @main:\n    a0 = cpop a1\n    trap\n");
    for engine in jam_engines() {
        for (isa, expected) in [(InstructionSet::ReviveV1, 64), (InstructionSet::JamV1, 32)] {
            let mut vm = jam_instance(&engine, &code, &JamConfig { isa, ..JamConfig::default() });
            vm.set_reg(Reg::A1, u64::MAX);
            assert_eq!(start(&mut vm, 0, 10).status, Status::Panic);
            assert_eq!(vm.reg(Reg::A0), expected, "{:?} {isa:?}: opcode 102 counts bits of 64 or 32 bits", engine.backend());
        }
    }
    for isa in InstructionSet::ALL {
        assert_eq!(InstructionSet::from_name(isa.name()), Some(isa));
    }
}

#[test]
fn latest64_programs_load_in_polkavm_own_encoding() {
    let container = polkavm::program::assemble(None, "%isa = latest64\npub @main:\n    a0 = a0 + a1\n    ret\n").unwrap();
    let parts = polkavm::ProgramParts::from_bytes(ArcBytes::from(container.as_slice())).unwrap();
    let blob = ProgramBlob::from_parts(parts.clone()).unwrap();
    assert_eq!(graypaper_blob(&blob), None, "latest64 has no bitmask");
    for engine in jam_engines() {
        let config = JamConfig { isa: InstructionSet::Latest64, ..naive() };
        let mut vm = jam_instance(&engine, &parts.code_and_jump_table, &config);
        vm.set_regs(&[0xffff_0000, 0, 0, 0, 0, 0, 0, 40, 2, 0, 0, 0, 0]);
        assert_eq!(start(&mut vm, 0, 10).status, Status::Halt, "{:?}", engine.backend());
        assert_eq!(vm.reg(Reg::A0), 42);
    }
}

#[test]
fn malformed_blobs_are_clear_errors() {
    let engine = &jam_engines()[0];
    let cases: [(&[u8], &str); 5] = [
        (&[], "empty"),
        (&[0, 0, 5, 0], "truncated"),
        (&[0, 0, 1, 0, 0b10], "padded with non-zero bits"),
        (&[0, 9, 1, 0, 1], "entry size"),
        (&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], "jump table"),
    ];
    for (blob, what) in cases {
        let error = Module::from_jam_code(engine, blob, &JamConfig::default()).err().unwrap_or_else(|| panic!("{what}: loaded"));
        assert_eq!(error.kind(), ErrorKind::InvalidProgram, "{what}: {error}");
    }
    let error = Module::from_jam_code(engine, &one_instruction(0), &JamConfig { page_size: 100, ..JamConfig::default() })
        .err()
        .expect("bad page size");
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn the_generic_sandbox_is_there_exactly_when_its_feature_is() {
    let config = EngineConfig { backend: Backend::Compiler, sandbox: Sandbox::Generic, ..EngineConfig::default() };
    let compiled_in = cfg!(feature = "generic-sandbox");
    match Engine::new(&config) {
        Ok(engine) => {
            assert!(compiled_in, "generic sandbox available without its feature");
            assert_eq!(engine.backend(), Backend::Compiler);
        }
        Err(error) => {
            assert!(!compiled_in, "generic sandbox refused with its feature: {error:?}");
            assert_eq!(error.kind(), ErrorKind::Unsupported);
            assert!(error.message().contains("'generic-sandbox' feature"), "{}", error.message());
        }
    }
}

#[test]
fn dynamic_paging_with_the_linux_sandbox_fails_clearly_without_userfaultfd() {
    let config =
        EngineConfig { backend: Backend::Compiler, sandbox: Sandbox::Linux, allow_dynamic_paging: true, ..EngineConfig::default() };
    let outcome = Engine::new(&config)
        .and_then(|engine| Module::from_jam_code(&engine, &one_instruction(0), &JamConfig::default()))
        .and_then(|module| Instance::new(&module));
    let denied = std::fs::read_to_string("/proc/sys/vm/unprivileged_userfaultfd").is_ok_and(|value| value.trim() == "0");
    match outcome {
        Ok(mut vm) => {
            assert!(!denied, "instance created although userfaultfd is denied to the sandbox");
            assert_eq!(start(&mut vm, 0, 10).status, Status::Panic);
        }
        Err(error) => {
            let message = error.message();
            assert!(message.contains("userfaultfd"), "{message}");
            assert!(message.contains("vm.unprivileged_userfaultfd=1") && message.contains("generic sandbox"), "{message}");
        }
    }
}

#[test]
fn graypaper_blobs_keep_the_program_counters_of_the_container() {
    let container = polkavm::program::assemble(None, include_str!("programs/test_program.pvmasm")).unwrap();
    let blob = ProgramBlob::parse(ArcBytes::from(container.as_slice())).unwrap();
    let code = graypaper_blob(&blob).unwrap();
    let engine = &jam_engines()[0];
    let sum_pc = blob.exports().find(|export| export.symbol().as_bytes() == b"sum").unwrap().program_counter().0;
    let mut vm = jam_instance(engine, &code, &JamConfig::default());
    vm.set_regs(&[0xffff_0000, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0]);
    assert_eq!(start(&mut vm, sum_pc, 1000).status, Status::Halt);
    assert_eq!(vm.reg(Reg::A0), 55);
}

mod c_abi {
    use std::ffi::CStr;

    use polkavm_ffi::c_api::*;

    fn last_error() -> String {
        unsafe { CStr::from_ptr(pvm_last_error()) }.to_string_lossy().into_owned()
    }

    fn jam_engine() -> PvmEngine {
        let config = PvmEngineConfig { backend: PVM_BACKEND_INTERPRETER, allow_dynamic_paging: 1, ..pvm_engine_config_default() };
        let engine = unsafe { pvm_engine_new_with_config(&config) };
        assert!(!engine.is_null(), "{}", last_error());
        engine
    }

    const TRAP_AT_2: [u8; 6] = [0, 0, 2, 100, 0, 1]; // move_reg r0, r0 (2 bytes), then the implicit trap

    #[test]
    fn jam_modules_load_run_and_report_the_graypaper_pc() {
        unsafe {
            let engine = jam_engine();
            let module = pvm_module_new_jam(engine, TRAP_AT_2.as_ptr(), TRAP_AT_2.len(), &pvm_jam_config_default());
            assert!(!module.is_null(), "{}", last_error());
            let vm = pvm_instance_new(engine, module);
            assert!(!vm.is_null(), "{}", last_error());
            assert_eq!(pvm_instance_get_graypaper_pc(vm), PVM_PC_NONE, "no run yet");
            assert_eq!(pvm_instance_map_pages(vm, 0x1_0000, 0x1000, 1), 0, "{}", last_error());
            assert_eq!(pvm_instance_write_memory(vm, 0x1_0000, [7u8].as_ptr(), 1), 0);
            assert_eq!(pvm_instance_protect_pages(vm, 0x1_0000, 0x1000, 1), 0);
            assert_eq!(pvm_instance_write_memory(vm, 0x1_0000, [8u8].as_ptr(), 1), -1, "read-only");
            pvm_instance_set_pc(vm, 0);
            pvm_instance_set_gas(vm, 2);
            let result = pvm_instance_run(vm);
            assert_eq!((result.status, result.gas_remaining), (PVM_STATUS_PANIC, 0));
            assert_eq!(pvm_instance_get_graypaper_pc(vm), 2);
            assert_eq!(pvm_instance_free_pages(vm, 0x1_0000, 0x1000), 0);
            let mut byte = 0u8;
            assert_eq!(pvm_instance_read_memory(vm, 0x1_0000, &mut byte, 1), -1, "freed");
            pvm_instance_free(vm);
            pvm_module_free(module);
            pvm_engine_free(engine);
        }
    }

    #[test]
    fn bad_jam_arguments_fail_with_a_message() {
        unsafe {
            let engine = jam_engine();
            let defaults = pvm_jam_config_default();
            let code = TRAP_AT_2.as_ptr();
            assert!(pvm_module_new_jam(engine, code, TRAP_AT_2.len(), std::ptr::null()).is_null());
            assert!(last_error().contains("config is NULL"), "{}", last_error());
            assert!(pvm_module_new_jam(std::ptr::null_mut(), code, TRAP_AT_2.len(), &defaults).is_null());
            assert!(last_error().contains("engine handle is NULL"), "{}", last_error());
            assert!(pvm_module_new_jam(engine, std::ptr::null(), 3, &defaults).is_null());
            assert!(pvm_module_new_jam(engine, code, TRAP_AT_2.len(), &PvmJamConfig { isa: 9, ..defaults }).is_null());
            assert!(last_error().contains("unknown instruction set 9"), "{}", last_error());
            assert!(pvm_module_new_jam(engine, code, TRAP_AT_2.len(), &PvmJamConfig { halt_pc: 2, ..defaults }).is_null());
            assert!(pvm_module_new_jam(engine, code, TRAP_AT_2.len(), &PvmJamConfig { reserved: [0, 1], ..defaults }).is_null());
            assert!(pvm_module_new_jam(engine, code, 2, &defaults).is_null(), "truncated blob");

            assert_eq!(pvm_instance_map_pages(std::ptr::null_mut(), 0, 0x1000, 1), -1);
            assert_eq!(pvm_instance_protect_pages(std::ptr::null_mut(), 0, 0x1000, 1), -1);
            assert_eq!(pvm_instance_free_pages(std::ptr::null_mut(), 0, 0x1000), -1);
            assert_eq!(pvm_instance_get_graypaper_pc(std::ptr::null_mut()), PVM_PC_NONE);

            let module = pvm_module_new_jam(engine, code, TRAP_AT_2.len(), &defaults);
            let vm = pvm_instance_new(engine, module);
            assert_eq!(pvm_instance_map_pages(vm, 0x1_0000, 0x1000, 2), -1);
            assert!(last_error().contains("writable must be 0 or 1"), "{}", last_error());
            assert_eq!(pvm_instance_map_pages(vm, 0x1_0001, 0x1000, 1), -1, "unaligned");
            pvm_instance_free(vm);
            pvm_module_free(module);

            let plain = pvm_engine_new_interpreter();
            assert!(pvm_module_new_jam(plain, code, TRAP_AT_2.len(), &defaults).is_null());
            assert!(last_error().contains("allow_dynamic_paging"), "{}", last_error());
            pvm_engine_free(plain);
            pvm_engine_free(engine);
        }
    }
}

#[test]
fn memory_below_64_kib_always_panics_and_faulting_stores_change_nothing() {
    let code = assemble("%isa = jam_v1\npub @main:\n    u32 [a0] = a1\n    trap\n");
    for engine in jam_engines() {
        let backend = engine.backend();
        let mut vm = jam_instance(&engine, &code, &naive());
        assert_eq!(vm.map_pages(0, 0x1_0000, true).unwrap_err().kind(), ErrorKind::Memory, "the first 64 KiB cannot be mapped");
        vm.set_reg(Reg::A0, 0xfffc);
        assert_eq!(start(&mut vm, 0, 10).status, Status::Panic, "{backend:?}: below 2^16 is a panic, not a fault");

        let mut vm = jam_instance(&engine, &code, &naive());
        vm.map_pages(0x2_0000, 0x2000, true).unwrap();
        vm.protect_pages(0x2_1000, 0x1000, true).unwrap();
        vm.set_reg(Reg::A0, 0x2_0ffe);
        vm.set_reg(Reg::A1, 0x1122_3344);
        let result = start(&mut vm, 0, 10);
        assert_eq!((result.status, result.fault_address), (Status::Fault, 0x2_1000), "{backend:?}");
        assert_eq!(vm.read_memory(0x2_0ffc, 8).unwrap(), [0; 8], "{backend:?}: no partial store");
    }
}

/// `inst_load_u8_nok` of the Graypaper 0.8.0 vectors: a load from an unmapped page, one basic block.
const LOAD_U8_UNMAPPED: &str = "%isa = jam_v1\npub @main:\n    a0 = u8 [0x20000]\n";

#[test]
fn the_jam_default_charges_graypaper_0_8_0_gas_and_the_cost_model_is_selectable() {
    let code = assemble(LOAD_U8_UNMAPPED);
    for backend in [Backend::Interpreter, Backend::Compiler] {
        if backend == Backend::Compiler && !cfg!(feature = "generic-sandbox") {
            continue;
        }
        let sandbox = if backend == Backend::Compiler { Sandbox::Generic } else { Sandbox::Auto };
        for default_cost_model in [CostModel::Naive, CostModel::FullL2Hit] {
            let config = EngineConfig { backend, sandbox, allow_dynamic_paging: true, default_cost_model, ..EngineConfig::default() };
            let engine = Engine::new(&config).unwrap();
            // The block: the load (L2 latency 25 in 0.8.0's model) and the implicit trap after it.
            for (cost_model, block_cost) in [
                (JamConfig::default().cost_model, 25),
                (Some(CostModel::Naive), 2),
                (Some(CostModel::FullL1Hit), 4),
                (Some(CostModel::FullL3Hit), 37),
                (None, if default_cost_model == CostModel::Naive { 2 } else { 25 }),
            ] {
                let module = Module::from_jam_code(&engine, &code, &JamConfig { cost_model, ..JamConfig::default() }).unwrap();
                let what = format!("{backend:?}, engine default {default_cost_model:?}, module {cost_model:?}");
                assert_eq!(module.cost_model(), cost_model.unwrap_or(default_cost_model), "{what}");
                assert_eq!(module.block_gas_cost(0), Some(block_cost), "{what}");
                assert_eq!(module.block_gas_cost(1), None, "{what}: no block starts inside the load");
                let mut vm = Instance::new(&module).unwrap();
                let result = start(&mut vm, 0, 10_000);
                assert_eq!((result.status, vm.fault_address()), (Status::Fault, Some(0x2_0000)), "{what}");
                assert_eq!(result.gas_remaining, 10_000 - block_cost, "{what}: the block is charged at its entry");
            }
        }
    }
    assert_eq!(JamConfig::default().cost_model, Some(CostModel::FullL2Hit), "the JAM default follows jam_v1: Graypaper 0.8.0");
    for model in CostModel::ALL {
        assert_eq!(CostModel::from_name(model.name()), Some(model));
    }
}
