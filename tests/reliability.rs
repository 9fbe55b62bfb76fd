//! Reliability on both backends, through the core API and the `pvm_*` C ABI: handles shared
//! between threads, create/free loops with flat memory, guests that exhaust their gas, heap or
//! stack or fault at every class of address, and host handlers that fail, panic or re-enter.
//!
//! Which handles may cross threads (also stated in README.md and the C header):
//! - Engine and Module (`PvmEngine`, `PvmModule`): Send + Sync; share them freely.
//! - Instance (`PvmInstance`): Send, used by one thread at a time (every mutating method takes
//!   `&mut self`; C callers must not call into one instance from two threads at once).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

mod common;

use common::{assemble, c_engines, engine, engines, scaled, TEST_PROGRAM};
use polkavm_ffi::c_api::*;
use polkavm_ffi::*;

const HOSTILE_PROGRAM: &str = include_str!("programs/hostile.pvmasm");

fn module(engine: &Engine, source: &str) -> Module {
    Module::new(engine, &assemble(source), &ModuleConfig::default()).expect("module")
}

/// Runs an export to completion; host calls 7 and 8 (the test program's `host`) transform the
/// registers so that the result depends on the host having run.
fn host_call_handler(instance: &mut Instance, number: u32) -> Result<()> {
    match number {
        7 => {
            let a0 = instance.reg(Reg::A0);
            instance.set_reg(Reg::A1, a0.wrapping_mul(3).wrapping_add(1));
        }
        8 => {
            let a1 = instance.reg(Reg::A1);
            instance.set_reg(Reg::A1, a1 ^ 0x55);
        }
        1 | 3 => {}
        other => return Err(Error::new(ErrorKind::HostAborted, format!("unexpected host call {other}"))),
    }
    Ok(())
}

/// The work one thread does on its own instance; returns everything it observed.
fn workload(module: &Module, seed: u64) -> Vec<u64> {
    let mut instance = Instance::new(module).expect("instance");
    let mut observed = Vec::new();
    for i in 0..scaled(200, 6) {
        let value = seed * 1000 + i;
        let result = instance.call(module.export_pc("host").unwrap(), &[value], 1_000_000, host_call_handler).unwrap();
        assert_eq!(result.status, Status::Halt);
        observed.push(instance.reg(Reg::A0));
        let result = instance.call(module.export_pc("host_loop").unwrap(), &[i % 7], 1_000_000, host_call_handler).unwrap();
        assert_eq!(result.status, Status::Halt);
        observed.push(instance.reg(Reg::A0));
        let result = instance.call(module.export_pc("sum").unwrap(), &[value % 500], 1_000_000, host_call_handler).unwrap();
        observed.push(instance.reg(Reg::A0));
        observed.push(result.gas_remaining as u64);
    }
    observed
}

const THREADS: u64 = if cfg!(miri) { 3 } else { 6 };

#[test]
fn handles_that_may_cross_threads() {
    fn send_and_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_and_sync::<Engine>();
    send_and_sync::<Module>();
    send::<Instance>();
}

#[test]
fn one_engine_and_module_shared_by_many_threads_gives_single_threaded_results() {
    for engine in engines() {
        let module = module(&engine, TEST_PROGRAM);
        let expected: Vec<Vec<u64>> = (0..THREADS).map(|seed| workload(&module, seed)).collect();
        let threads: Vec<_> = (0..THREADS)
            .map(|seed| {
                let module = module.clone();
                std::thread::spawn(move || workload(&module, seed))
            })
            .collect();
        let actual: Vec<Vec<u64>> = threads.into_iter().map(|thread| thread.join().expect("thread")).collect();
        assert_eq!(actual, expected, "{:?}", engine.backend());
        assert_eq!(expected[1][0], ((1000u64 * 3 + 1) ^ 0x55) + 1000, "the host calls took effect");
    }
}

/// Engine and module handles of the C ABI, shared between threads as the header allows.
#[derive(Clone, Copy)]
struct SharedHandles(PvmEngine, PvmModule);
unsafe impl Send for SharedHandles {}
unsafe impl Sync for SharedHandles {}

/// An instance handle moved to another thread, which then is its only user (the header's rule).
struct MovedInstance(PvmInstance);
unsafe impl Send for MovedInstance {}

impl MovedInstance {
    fn take(self) -> PvmInstance {
        self.0
    }
}

fn c_abi_workload(handles: SharedHandles, seed: u64) -> Vec<u64> {
    unsafe {
        let SharedHandles(engine, module) = handles;
        let instance = pvm_instance_new(engine, module);
        assert!(!instance.is_null());
        let host = pvm_module_export_pc(module, pvm_module_find_export(module, b"host".as_ptr(), 4) as u32);
        let mut observed = Vec::new();
        for i in 0..scaled(200u64, 6) {
            let value = seed * 1000 + i;
            assert_eq!(pvm_instance_prepare_call_args(instance, host, &value, 1), 0);
            pvm_instance_set_gas(instance, 1_000_000);
            loop {
                let result = pvm_instance_run(instance);
                match (result.status, result.host_call) {
                    (PVM_STATUS_HOST, 7) => {
                        let a0 = pvm_instance_get_reg(instance, PVM_REG_A0);
                        pvm_instance_set_reg(instance, PVM_REG_A1, a0.wrapping_mul(3).wrapping_add(1));
                    }
                    (PVM_STATUS_HOST, 8) => {
                        let a1 = pvm_instance_get_reg(instance, PVM_REG_A1);
                        pvm_instance_set_reg(instance, PVM_REG_A1, a1 ^ 0x55);
                    }
                    (PVM_STATUS_HALT, _) => break,
                    other => panic!("unexpected {other:?}"),
                }
            }
            observed.push(pvm_instance_get_reg(instance, PVM_REG_A0));
        }
        pvm_instance_free(instance);
        observed
    }
}

#[test]
fn c_abi_engine_and_module_shared_by_many_threads_gives_single_threaded_results() {
    let blob = assemble(TEST_PROGRAM);
    for engine in c_engines() {
        assert!(!engine.is_null());
        let module = unsafe { pvm_module_new(engine, blob.as_ptr(), blob.len()) };
        assert!(!module.is_null());
        let handles = SharedHandles(engine, module);
        let expected: Vec<Vec<u64>> = (0..THREADS).map(|seed| c_abi_workload(handles, seed)).collect();
        let threads: Vec<_> = (0..THREADS).map(|seed| std::thread::spawn(move || c_abi_workload(handles, seed))).collect();
        let actual: Vec<Vec<u64>> = threads.into_iter().map(|thread| thread.join().expect("thread")).collect();
        assert_eq!(actual, expected);
        assert_eq!(expected[0][5], ((5u64 * 3 + 1) ^ 0x55) + 5);
        unsafe {
            pvm_module_free(module);
            pvm_engine_free(engine);
        }
    }
}

#[test]
fn an_instance_moves_between_threads() {
    for engine in engines() {
        let module = module(&engine, TEST_PROGRAM);
        let add = module.export_pc("add").unwrap();
        let mut instance = Instance::new(&module).unwrap();
        instance.call(add, &[1, 2], 1000, host_call_handler).unwrap();
        let mut instance = std::thread::spawn(move || {
            instance.call(add, &[instance.reg(Reg::A0), 10], 1000, host_call_handler).unwrap();
            instance
        })
        .join()
        .unwrap();
        assert_eq!(instance.reg(Reg::A0), 13);
        instance.call(add, &[instance.reg(Reg::A0), 100], 1000, host_call_handler).unwrap();
        assert_eq!(instance.reg(Reg::A0), 113);
    }
}

#[test]
fn new_instances_reuse_the_jit_worker_pool() {
    // polkavm keeps idle workers per CPU core, so a thread that migrates between cores may find
    // another core's cache empty and start a worker; most instances must still reuse one.
    let engine = engine(Backend::Compiler);
    let module = module(&engine, TEST_PROGRAM);
    let add = module.export_pc("add").unwrap();
    let mut workers_seen = std::collections::HashSet::new();
    let mut reused = 0;
    for _ in 0..50 {
        let idle_before: Vec<u32> = engine.raw().idle_worker_pids();
        let mut instance = Instance::new(&module).unwrap();
        let pid = instance.raw().pid().expect("JIT instances with the Linux sandbox run in a worker process");
        reused += usize::from(idle_before.contains(&pid));
        workers_seen.insert(pid);
        assert_eq!(instance.call(add, &[2, 3], 1000, host_call_handler).unwrap().status, Status::Halt);
    }
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    assert!(reused >= 40, "only {reused} of 50 instances reused an idle worker");
    assert!(workers_seen.len() <= 2 * cores + 2, "50 instances in a row used {} worker processes", workers_seen.len());
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status.lines().find_map(|line| line.strip_prefix("VmRSS:")?.trim().strip_suffix("kB")?.trim().parse().ok()).unwrap()
}

/// Creates and frees a module and an instance per iteration (and runs the instance once), all
/// through the C ABI, and checks that memory stays flat after a warm-up.
#[test]
fn creating_and_freeing_100k_modules_and_instances_keeps_memory_flat() {
    let iterations: u64 = std::env::var("PVM_STRESS_ITERATIONS").ok().and_then(|value| value.parse().ok()).unwrap_or(100_000);
    let blob = assemble(TEST_PROGRAM);
    for engine in c_engines() {
        assert!(!engine.is_null());
        let warm_up = iterations / 10;
        let mut rss_after_warm_up = 0;
        for iteration in 0..iterations {
            if iteration == warm_up {
                rss_after_warm_up = rss_kb();
            }
            unsafe {
                let module = pvm_module_new(engine, blob.as_ptr(), blob.len());
                assert!(!module.is_null());
                let instance = pvm_instance_new(engine, module);
                assert!(!instance.is_null());
                let add = pvm_module_export_pc(module, pvm_module_find_export(module, b"add".as_ptr(), 3) as u32);
                let args = [iteration, 1];
                assert_eq!(pvm_instance_prepare_call_args(instance, add, args.as_ptr(), 2), 0);
                pvm_instance_set_gas(instance, 1000);
                assert_eq!(pvm_instance_run(instance).status, PVM_STATUS_HALT);
                assert_eq!(pvm_instance_get_reg(instance, PVM_REG_A0), iteration + 1);
                pvm_instance_free(instance);
                pvm_module_free(module);
            }
        }
        let growth = rss_kb().saturating_sub(rss_after_warm_up);
        assert!(growth < 4096, "RSS grew by {growth} kB over {} iterations", iterations - warm_up);
        unsafe { pvm_engine_free(engine) };
    }
}

/// Where `run` stopped and whether the instance is still fully usable afterwards.
fn run_export(instance: &mut Instance, export: &str, args: &[u64], gas: i64) -> RunResult {
    let pc = instance.module().export_pc(export).unwrap();
    instance.call(pc, args, gas, host_call_handler).expect("the run itself must not fail on the host side")
}

fn assert_still_usable(instance: &mut Instance, context: &str) {
    let info = instance.module().memory_info();
    let result = run_export(instance, "write", &[info.rw_data_address as u64 + 8, 0x1122_3344_5566_7788], 10_000);
    assert_eq!(result.status, Status::Halt, "{context}: the instance must still run");
    let result = run_export(instance, "read", &[info.rw_data_address as u64 + 8], 10_000);
    assert_eq!(result.status, Status::Halt, "{context}");
    assert_eq!(instance.reg(Reg::A0), 0x1122_3344_5566_7788, "{context}");
}

#[test]
fn guests_that_exhaust_gas_heap_or_stack_stop_with_the_right_status() {
    for engine in engines() {
        let backend = engine.backend();
        let module = module(&engine, HOSTILE_PROGRAM);
        let info = module.memory_info();
        let mut instance = Instance::new(&module).unwrap();

        let result = run_export(&mut instance, "spin", &[], 10_000);
        assert_eq!(result.status, Status::OutOfGas, "{backend:?}");
        assert!(result.gas_remaining <= 0, "{backend:?}: {}", result.gas_remaining);
        assert_still_usable(&mut instance, "after running out of gas");

        let result = run_export(&mut instance, "host_forever", &[], 10_000);
        assert_eq!(result.status, Status::OutOfGas, "{backend:?}: host calls do not stop gas metering");
        assert!(instance.reg(Reg::A0) > 10, "{backend:?}: the guest made many host calls first");
        assert_still_usable(&mut instance, "after host calls until out of gas");

        let result = run_export(&mut instance, "fill_heap", &[info.heap_base as u64], 10_000_000);
        assert_eq!(result.status, Status::Panic, "{backend:?}: running off the heap traps");
        assert_still_usable(&mut instance, "after running off the heap");
        let error = instance.sbrk(u32::MAX).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Memory, "{backend:?}: the host cannot grow the heap past its limit");
        assert_still_usable(&mut instance, "after a failed sbrk");

        let result = run_export(&mut instance, "fill_stack", &[], 10_000_000);
        assert_eq!(result.status, Status::Panic, "{backend:?}: running off the stack traps");
        let frames = instance.reg(Reg::A0);
        let stack_size = (info.stack_address_high - info.stack_address_low) as u64;
        assert_eq!(frames, stack_size / 256, "{backend:?}: the guest used exactly its whole stack");
        assert_still_usable(&mut instance, "after running off the stack");
    }
}

#[test]
fn guest_faults_at_every_address_class_trap_and_leave_the_host_unharmed() {
    for engine in engines() {
        let backend = engine.backend();
        let module = module(&engine, HOSTILE_PROGRAM);
        let info = module.memory_info();
        let mut instance = Instance::new(&module).unwrap();
        let unmapped = [
            ("null page", 0u32),
            ("end of the null region", 0xfff8),
            ("stack guard", info.stack_address_low - 8),
            ("above the stack", info.stack_address_high),
            ("past the heap", info.heap_base + 0x10_0000),
            ("top of the address space", 0xffff_fff8),
            ("read-only data straddling its end", info.ro_data_address + 4096 - 4),
        ];
        for (class, address) in unmapped {
            assert!(instance.read_memory(address, 8).is_err(), "{backend:?}: {class} 0x{address:x} must be unmapped");
            for export in ["read", "write"] {
                let result = run_export(&mut instance, export, &[address as u64, 7], 10_000);
                assert_eq!(result.status, Status::Panic, "{backend:?}: {export} at {class} (0x{address:x})");
                assert_still_usable(&mut instance, class);
            }
        }

        let result = run_export(&mut instance, "write", &[info.ro_data_address as u64, 7], 10_000);
        assert_eq!(result.status, Status::Panic, "{backend:?}: writing read-only data traps");
        assert_eq!(instance.read_memory(info.ro_data_address, 4).unwrap(), [1, 2, 3, 4], "{backend:?}: and changes nothing");
        let result = run_export(&mut instance, "read", &[info.ro_data_address as u64], 10_000);
        assert_eq!(result.status, Status::Halt, "{backend:?}: reading read-only data works");
        assert_eq!(instance.reg(Reg::A0) as u32, 0x0403_0201);
        assert_still_usable(&mut instance, "after writing read-only data");
    }
}

#[test]
fn guest_faults_through_the_c_abi() {
    let blob = assemble(HOSTILE_PROGRAM);
    for engine in c_engines() {
        unsafe {
            let module = pvm_module_new(engine, blob.as_ptr(), blob.len());
            let instance = pvm_instance_new(engine, module);
            assert!(!instance.is_null());
            let info = pvm_module_memory_info(module);
            let read = pvm_module_export_pc(module, pvm_module_find_export(module, b"read".as_ptr(), 4) as u32);
            for address in [0u64, info.ro_data_address as u64 + 4092, info.stack_address_low as u64 - 8, 0xffff_fff8] {
                assert_eq!(pvm_instance_prepare_call_args(instance, read, &address, 1), 0);
                pvm_instance_set_gas(instance, 10_000);
                assert_eq!(pvm_instance_run(instance).status, PVM_STATUS_PANIC, "0x{address:x}");
                // After a trap there is nothing to resume: running again is a defined error.
                assert_eq!(pvm_instance_run(instance).status, PVM_STATUS_PANIC);
                assert!(!std::ffi::CStr::from_ptr(pvm_last_error()).to_bytes().is_empty());
            }
            let address = info.rw_data_address as u64;
            assert_eq!(pvm_instance_prepare_call_args(instance, read, &address, 1), 0);
            pvm_instance_set_gas(instance, 10_000);
            assert_eq!(pvm_instance_run(instance).status, PVM_STATUS_HALT);
            assert_eq!(pvm_instance_get_reg(instance, PVM_REG_A0), 42);
            pvm_instance_free(instance);
            pvm_module_free(module);
            pvm_engine_free(engine);
        }
    }
}

#[test]
fn a_handler_error_ends_the_call_with_that_error() {
    for engine in engines() {
        let module = module(&engine, TEST_PROGRAM);
        let mut instance = Instance::new(&module).unwrap();
        let host = module.export_pc("host").unwrap();
        let error = instance
            .call(host, &[1], 10_000, |_, number| Err(Error::new(ErrorKind::HostAborted, format!("refused {number}"))))
            .unwrap_err();
        assert_eq!((error.kind(), error.message()), (ErrorKind::HostAborted, "refused 7"));
        let result = instance.call(host, &[5], 10_000, host_call_handler).unwrap();
        assert_eq!((result.status, instance.reg(Reg::A0)), (Status::Halt, ((5 * 3 + 1) ^ 0x55) + 5));
    }
}

#[test]
fn a_panicking_handler_unwinds_to_the_rust_caller_and_the_instance_survives() {
    for engine in engines() {
        let module = module(&engine, TEST_PROGRAM);
        let mut instance = Instance::new(&module).unwrap();
        let host = module.export_pc("host").unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| instance.call(host, &[1], 10_000, |_, _| panic!("handler bug"))));
        assert!(outcome.is_err(), "a Rust handler's panic is the Rust caller's to catch");
        let result = instance.call(host, &[5], 10_000, host_call_handler).unwrap();
        assert_eq!((result.status, instance.reg(Reg::A0)), (Status::Halt, ((5 * 3 + 1) ^ 0x55) + 5));
    }
}

#[test]
fn a_handler_that_reenters_its_instance_gets_a_defined_outcome() {
    for engine in engines() {
        let module = module(&engine, TEST_PROGRAM);
        let add = module.export_pc("add").unwrap();
        let host = module.export_pc("host").unwrap();
        let mut instance = Instance::new(&module).unwrap();

        // A nested call replaces the suspended one: the outer call then has nothing to resume.
        let error = instance
            .call(host, &[1], 10_000, |instance, _| {
                let inner = instance.call(add, &[20, 22], 10_000, host_call_handler)?;
                assert_eq!((inner.status, instance.reg(Reg::A0)), (Status::Halt, 42));
                Ok(())
            })
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::WrongState, "{}", error.message());

        // Resuming the suspended program from inside its own handler runs it on; the outer loop
        // then finds it finished.
        let mut nested_statuses = Vec::new();
        let outcome = instance.call(host, &[1], 10_000, |instance, _| {
            nested_statuses.push(instance.run()?.status);
            Ok(())
        });
        assert!(matches!(&outcome, Err(error) if error.kind() == ErrorKind::WrongState) || outcome.is_ok(), "{outcome:?}");
        assert_eq!(nested_statuses.first(), Some(&Status::Host));

        let result = instance.call(add, &[40, 2], 10_000, host_call_handler).unwrap();
        assert_eq!((result.status, instance.reg(Reg::A0)), (Status::Halt, 42));
    }
}

#[test]
fn concurrent_instances_on_one_jit_engine_each_keep_their_own_memory() {
    let engine = engine(Backend::Compiler);
    let module = Arc::new(module(&engine, HOSTILE_PROGRAM));
    let rw = module.memory_info().rw_data_address as u64;
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let module = Arc::clone(&module);
            std::thread::spawn(move || {
                let mut instance = Instance::new(&module).unwrap();
                for i in 0..300u64 {
                    let value = thread << 32 | i;
                    assert_eq!(run_export(&mut instance, "write", &[rw + 16, value], 10_000).status, Status::Halt);
                    assert_eq!(run_export(&mut instance, "read", &[rw + 16], 10_000).status, Status::Halt);
                    assert_eq!(instance.reg(Reg::A0), value, "thread {thread} saw another instance's write");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
}

/// Found by the fuzzer (fuzz/): a latest64 container (from a mutated test program) whose exports
/// point inside instructions. polkavm 0.37's interpreter traps at such a pc at once; its JIT
/// spins forever at some of them (here `host_loop`, `load`, `sum` and `trap`), hanging the host
/// thread. Every export must end, on both backends, with the interpreter's status.
const LATEST64_EXPORTS_INSIDE_INSTRUCTIONS: &str = concat!(
    "50564d0002a600000000000000010690009000900002040102030403042a00000005350800036164640704686f73742c",
    "09686f73745f6c6f6f7016046c6f616406047370696e100573746f72651a0373756d050474726170064b000040c87df8",
    "320000280a070a08c8870732007a788077320080773200330859070cc878089577ff5207fa6487320033fffffeff0a01",
    "9588019577ff5207f864873200e94a559524554a5200",
);

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|index| u8::from_str_radix(&text[index..index + 2], 16).unwrap()).collect()
}

/// Runs every export on a thread of its own; a run that has not returned after 5 s is a hang.
fn statuses_of_every_export(engine: &Engine, blob: &[u8]) -> Vec<(String, std::result::Result<Status, &'static str>)> {
    let module = Module::new(engine, blob, &ModuleConfig::default()).expect("module");
    module
        .exports()
        .iter()
        .map(|export| {
            let name = String::from_utf8_lossy(&export.name).into_owned();
            let (sender, receiver) = std::sync::mpsc::channel();
            let (module, pc) = (module.clone(), export.pc);
            std::thread::spawn(move || {
                let mut instance = Instance::new(&module).unwrap();
                let _ = sender.send(instance.call(pc, &[1, 2, 3], 20_000, |_, _| Ok(())).map(|result| result.status));
            });
            let status = match receiver.recv_timeout(std::time::Duration::from_secs(5)) {
                Ok(Ok(status)) => Ok(status),
                Ok(Err(_)) => Err("error"),
                Err(_) => Err("hang: no return within 5 s"),
            };
            (name, status)
        })
        .collect()
}

#[test]
fn exports_inside_instructions_trap_on_both_backends_instead_of_hanging() {
    let blob = hex(LATEST64_EXPORTS_INSIDE_INSTRUCTIONS);
    let interpreter = statuses_of_every_export(&engine(Backend::Interpreter), &blob);
    assert!(interpreter.iter().all(|(_, status)| status.is_ok()), "{interpreter:?}");
    let jit = statuses_of_every_export(&engine(Backend::Compiler), &blob);
    assert_eq!(jit, interpreter, "the JIT must end every export as the interpreter does");
}

/// polkavm 0.37's JIT never checks gas under async metering while the guest runs (found by the
/// fuzzer): a guest that loops forever must still stop out of gas.
#[test]
fn a_guest_that_loops_forever_stops_out_of_gas_under_async_metering() {
    for engine in engines() {
        let config = ModuleConfig { gas_metering: GasMetering::Async, ..ModuleConfig::default() };
        let module = Module::new(&engine, &assemble(HOSTILE_PROGRAM), &config).unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let spin = module.export_pc("spin").unwrap();
        std::thread::spawn(move || {
            let mut instance = Instance::new(&module).unwrap();
            let _ = sender.send(instance.call(spin, &[], 100_000, host_call_handler).map(|result| result.status));
        });
        let status = receiver.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(status, Ok(Ok(Status::OutOfGas)), "{:?}", engine.backend());
    }
}

/// The header lets a program free its engine and module while another thread still runs an
/// instance made from them (an instance keeps both alive): the run finishes normally.
#[test]
fn freeing_the_engine_and_module_while_another_thread_runs_an_instance() {
    let blob = assemble(TEST_PROGRAM);
    for engine in c_engines() {
        unsafe {
            let module = pvm_module_new(engine, blob.as_ptr(), blob.len());
            let instance = pvm_instance_new(engine, module);
            assert!(!instance.is_null());
            let spin = pvm_module_export_pc(module, pvm_module_find_export(module, b"spin".as_ptr(), 4) as u32);
            assert_eq!(pvm_instance_prepare_call(instance, spin), 0);
            pvm_instance_set_gas(instance, scaled(20_000_000, 20_000));
            let (started_tx, started_rx) = std::sync::mpsc::channel();
            let moved = MovedInstance(instance);
            let runner = std::thread::spawn(move || {
                let instance = moved.take();
                started_tx.send(()).unwrap();
                let result = pvm_instance_run(instance);
                (result.status, pvm_instance_get_gas(instance))
            });
            started_rx.recv().unwrap();
            pvm_module_free(module);
            pvm_engine_free(engine);
            let (status, gas) = runner.join().unwrap();
            assert_eq!(status, PVM_STATUS_OOG);
            assert!(gas <= 0);
            pvm_instance_free(instance);
        }
    }
}
