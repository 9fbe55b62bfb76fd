//! The core Rust API, on both backends, against the shared test program.

mod common;

use common::{assemble, engines, TEST_PROGRAM};
use polkavm_ffi::*;

fn blob() -> Vec<u8> {
    assemble(TEST_PROGRAM)
}

fn instance(engine: &Engine, config: &ModuleConfig) -> Instance {
    let module = Module::new(engine, &blob(), config).expect("module");
    Instance::new(&module).expect("instance")
}

fn call(instance: &mut Instance, export: &str, args: &[u64]) -> RunResult {
    instance.prepare_call_export(export, args).unwrap();
    instance.set_gas(1_000_000);
    instance.run().unwrap()
}

#[test]
fn engines_report_their_backend() {
    let backends: Vec<Backend> = engines().iter().map(Engine::backend).collect();
    assert_eq!(backends, [Backend::Interpreter, Backend::Compiler]);
}

#[test]
fn every_status_on_both_backends() {
    for engine in engines() {
        let backend = engine.backend();
        let mut vm = instance(&engine, &ModuleConfig::default());

        let result = call(&mut vm, "add", &[40, 2]);
        assert_eq!(result.status, Status::Halt, "{backend:?}");
        assert_eq!(vm.reg(Reg::A0), 42);
        assert!(result.gas_remaining < 1_000_000 && result.gas_remaining > 0);

        assert_eq!(call(&mut vm, "trap", &[]).status, Status::Panic, "{backend:?}");

        vm.prepare_call_export("spin", &[]).unwrap();
        vm.set_gas(1000);
        let result = vm.run().unwrap();
        assert_eq!(result.status, Status::OutOfGas, "{backend:?}");
        assert!(result.gas_remaining <= 0);

        let result = call(&mut vm, "host", &[5]);
        assert_eq!((result.status, result.host_call), (Status::Host, 7), "{backend:?}");
        assert_eq!(vm.reg(Reg::A0), 5);
        vm.set_reg(Reg::A1, 100);
        let result = vm.run().unwrap();
        assert_eq!((result.status, result.host_call), (Status::Host, 8));
        assert_eq!(vm.run().unwrap().status, Status::Halt);
        assert_eq!(vm.reg(Reg::A0), 105);

        let mut stepping = instance(&engine, &ModuleConfig { step_tracing: true, ..ModuleConfig::default() });
        let result = call(&mut stepping, "add", &[1, 2]);
        assert_eq!(result.status, Status::Step, "{backend:?}");
        let mut steps = 1;
        while stepping.run().unwrap().status == Status::Step {
            steps += 1;
        }
        assert!(steps >= 2, "{backend:?}: {steps} steps");
        assert_eq!(stepping.reg(Reg::A0), 3);
    }
}

#[test]
fn memory_reads_writes_and_faults() {
    for engine in engines() {
        let mut vm = instance(&engine, &ModuleConfig::default());
        let info = vm.module().memory_info();
        assert_eq!(vm.read_memory(info.ro_data_address, 4).unwrap(), [1, 2, 3, 4]);
        assert_eq!(vm.read_memory(info.rw_data_address, 4).unwrap(), [42, 0, 0, 0]);

        let result = call(&mut vm, "store", &[u64::from(info.rw_data_address) + 8, 0xdead_beef]);
        assert_eq!(result.status, Status::Halt);
        assert_eq!(vm.reg(Reg::A0), 0xdead_beef);
        assert_eq!(vm.read_memory(info.rw_data_address + 8, 4).unwrap(), 0xdead_beef_u32.to_le_bytes());

        vm.write_memory(info.rw_data_address, &7u32.to_le_bytes()).unwrap();
        assert_eq!(call(&mut vm, "load", &[u64::from(info.rw_data_address)]).status, Status::Halt);
        assert_eq!(vm.reg(Reg::A0), 7);

        // Without dynamic paging a write to read-only data or an unmapped address traps.
        assert_eq!(call(&mut vm, "store", &[u64::from(info.ro_data_address), 1]).status, Status::Panic);
        assert_eq!(call(&mut vm, "load", &[0]).status, Status::Panic);

        let error = vm.write_memory(info.ro_data_address, &[1]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Memory);
        assert!(vm.read_memory(0, 4).is_err());

        vm.reset().unwrap();
        assert_eq!(vm.read_memory(info.rw_data_address, 12).unwrap(), [42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(vm.regs(), [0; REG_COUNT]);
    }
}

#[test]
fn sbrk_grows_the_heap_as_polkavm_does() {
    for engine in engines() {
        let mut vm = instance(&engine, &ModuleConfig::default());
        let info = vm.module().memory_info();
        let before = vm.heap_size().unwrap();
        let top = vm.sbrk(100).unwrap();
        assert_eq!(vm.heap_size().unwrap(), before + 100);
        assert_eq!(top, info.heap_base + before + 100);
        vm.write_memory(top - 4, &[9, 9, 9, 9]).unwrap();
        assert!(vm.sbrk(u32::MAX).is_err());
    }
}

#[test]
fn registers_pc_and_bad_arguments() {
    for engine in engines() {
        let mut vm = instance(&engine, &ModuleConfig::default());
        let values: [u64; REG_COUNT] = std::array::from_fn(|index| index as u64 * 3 + 1);
        vm.set_regs(&values);
        assert_eq!(vm.regs(), values);
        assert_eq!(Reg::from_index(13).unwrap_err().message(), "register 13 out of range (0..12)");

        let error = vm.run().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::WrongState);

        assert!(vm.prepare_call(0, &[0; 10]).is_err());
        assert_eq!(vm.prepare_call_export("nope", &[]).unwrap_err().kind(), ErrorKind::InvalidArgument);

        let pc = vm.module().export_pc("host").unwrap();
        call(&mut vm, "host", &[]);
        assert_eq!(vm.pc(), Some(pc));
        assert!(vm.next_pc().unwrap() > pc);
        vm.set_next_pc(vm.module().export_pc("trap").unwrap());
        assert_eq!(vm.run().unwrap().status, Status::Panic);
    }
}

#[test]
fn bad_blobs_are_errors() {
    let engine = &engines()[0];
    let config = ModuleConfig::default();
    let cases: [(&[u8], &str); 3] =
        [(&[], "blob is empty"), (b"ELF\x7f....", "bad magic"), (&blob()[..20], "not a valid PolkaVM program")];
    for (bytes, message) in cases {
        let error = Module::new(engine, bytes, &config).err().expect("must fail");
        assert_eq!(error.kind(), ErrorKind::InvalidProgram);
        assert!(error.message().contains(message), "{error}");
    }
    let bad_page = ModuleConfig { page_size: 1000, ..ModuleConfig::default() };
    assert!(Module::new(engine, &blob(), &bad_page).is_err());
}

#[test]
fn call_dispatches_host_calls_and_stops_on_handler_errors() {
    for engine in engines() {
        let mut vm = instance(&engine, &ModuleConfig::default());
        let pc = vm.module().export_pc("host_loop").unwrap();
        let mut seen = 0;
        let result = vm
            .call(pc, &[25], 1_000_000, |_, number| {
                assert_eq!(number, 1);
                seen += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!((result.status, seen), (Status::Halt, 25));
        assert_eq!(vm.reg(Reg::A0), 25);

        let error = vm
            .call(pc, &[25], 1_000_000, |_, _| Err(Error::new(ErrorKind::HostAborted, "stop")))
            .unwrap_err();
        assert_eq!(error.message(), "stop");
    }
}

#[test]
fn dynamic_paging_faults_and_maps_pages() {
    let engine = Engine::new(&EngineConfig {
        backend: Backend::Interpreter,
        allow_dynamic_paging: true,
        ..EngineConfig::default()
    })
    .unwrap();
    let mut vm = instance(&engine, &ModuleConfig { dynamic_paging: true, ..ModuleConfig::default() });
    let result = call(&mut vm, "load", &[0x20000]);
    assert_eq!((result.status, result.fault_address), (Status::Fault, 0x20000));
    assert_eq!(vm.fault_address(), Some(0x20000));
    vm.map_pages(0x20000, 4096, true).unwrap();
    vm.write_memory(0x20004, &[5, 0, 0, 0]).unwrap();
    assert_eq!(call(&mut vm, "load", &[0x20004]).status, Status::Halt);
    assert_eq!(vm.reg(Reg::A0), 5);
    // polkavm panics (unimplemented) in these under dynamic paging: they must be errors instead.
    assert_eq!(vm.sbrk(10).unwrap_err().kind(), ErrorKind::Unsupported);
    assert_eq!(vm.heap_size().unwrap_err().kind(), ErrorKind::Unsupported);
}

#[test]
fn jit_dynamic_paging_explains_userfaultfd() {
    let config = EngineConfig { backend: Backend::Compiler, allow_dynamic_paging: true, ..EngineConfig::default() };
    match Engine::new(&config) {
        Ok(_) => eprintln!("this machine allows userfaultfd; nothing to explain"),
        Err(error) => {
            assert!(error.message().contains("vm.unprivileged_userfaultfd=1"), "{error}");
            assert!(error.message().contains("generic sandbox"), "{error}");
        }
    }
}

#[test]
fn freeing_in_any_order() {
    let engine = engines().pop().unwrap();
    let module = Module::new(&engine, &blob(), &ModuleConfig::default()).unwrap();
    let mut vm = Instance::new(&module).unwrap();
    drop(engine);
    drop(module);
    assert_eq!(call(&mut vm, "add", &[1, 1]).status, Status::Halt);
    assert_eq!(vm.reg(Reg::A0), 2);
}

#[test]
fn entering_inside_an_instruction_traps_on_both_backends() {
    // pc 1 lies inside `add`'s first instruction. polkavm's interpreter traps there without
    // charging gas; its JIT could hang on such entries in corrupted programs, so both must trap.
    for engine in engines() {
        let mut vm = instance(&engine, &ModuleConfig::default());
        for _ in 0..2 {
            vm.prepare_call(1, &[]).unwrap();
            vm.set_gas(1000);
            let result = vm.run().unwrap();
            assert_eq!((result.status, result.gas_remaining), (Status::Panic, 1000), "{:?}", engine.backend());
            assert_eq!((vm.pc(), vm.next_pc()), (Some(1), Some(1)), "{:?}", engine.backend());
        }
        assert_eq!(call(&mut vm, "add", &[1, 2]).status, Status::Halt);
        assert_eq!(vm.reg(Reg::A0), 3);
    }
}
