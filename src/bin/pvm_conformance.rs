//! Runs PVM test vectors through polkavm in JAM mode and prints, per backend, `N passed, N failed`
//! and every failure with its reason.
//!
//! `pvm-conformance DIR_OR_FILE... [--backend interpreter|jit_generic|jit_linux]... [--isa NAME]
//! [--cost-model naive|full-l1|full-l2|full-l3]`
//!
//! Two formats are read:
//! - flat (the JAM PVM test vectors v0.4): initial registers, page map and memory, one run, the
//!   expected status, registers, pc, gas and memory;
//! - steps (polkavm's spectool, Graypaper 0.8.0): `initial-pc`, `initial-gas`, then a list of
//!   steps: `map`, `write`, `set-reg`, `run`, `assert`. A test may run several times: after a
//!   host call (`ecalli`) or a page fault, it changes registers or maps pages and runs again.
//!   `block-gas-costs` gives the cost of each basic block, which is checked against
//!   [`Module::block_gas_cost`].
//!
//! Backends: `interpreter`; `jit_generic`, the JIT in polkavm's generic sandbox (experimental in
//! polkavm, but it needs no userfaultfd); `jit_linux`, the JIT in polkavm's Linux sandbox, which
//! needs userfaultfd for dynamic paging (`sysctl vm.unprivileged_userfaultfd=1`).
//! Without `--backend`, every backend that works on this machine runs. Without `--cost-model`,
//! the JAM default (`full-l2`, Graypaper 0.8.0's). A vector that fails with `jam_v1` is run again
//! with `revive_v1`, the Graypaper's numbering through 0.7.2: if it passes there, the failure is
//! reported as due to that numbering, naming the opcodes.
//! Exit status: 0 when every failure is due to the old numbering only, 1 otherwise, 2 on bad usage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use polkavm_ffi::polkavm::program::{InstructionSet as _, ISA_JamV1, ISA_ReviveV1};
use polkavm_ffi::polkavm::{ArcBytes, ProgramBlob, ProgramParts};
use polkavm_ffi::{Backend, CostModel, Engine, EngineConfig, Instance, InstructionSet, JamConfig, Module, Reg, Sandbox, Status};
use serde_json::Value;

const USAGE: &str = "usage: pvm-conformance DIR_OR_FILE... [--backend interpreter|jit_generic|jit_linux]... [--isa jam_v1|revive_v1|latest32] [--cost-model naive|full-l1|full-l2|full-l3]
  jit_generic: the JIT in polkavm's generic sandbox (experimental in polkavm); jit_linux: its Linux sandbox (needs userfaultfd)
  default: every backend that works on this machine, jam_v1, full-l2 (Graypaper 0.8.0)";

#[derive(Clone, Copy, PartialEq, Eq)]
enum BackendChoice {
    Interpreter,
    JitGeneric,
    JitLinux,
}

impl BackendChoice {
    const ALL: [BackendChoice; 3] = [BackendChoice::Interpreter, BackendChoice::JitGeneric, BackendChoice::JitLinux];

    fn name(self) -> &'static str {
        match self {
            BackendChoice::Interpreter => "interpreter",
            BackendChoice::JitGeneric => "jit_generic",
            BackendChoice::JitLinux => "jit_linux",
        }
    }

    fn engine(self) -> polkavm_ffi::Result<Engine> {
        let (backend, sandbox) = match self {
            BackendChoice::Interpreter => (Backend::Interpreter, Sandbox::Auto),
            BackendChoice::JitGeneric => (Backend::Compiler, Sandbox::Generic),
            BackendChoice::JitLinux => (Backend::Compiler, Sandbox::Linux),
        };
        Engine::new(&EngineConfig { backend, sandbox, allow_dynamic_paging: true, ..EngineConfig::default() })
    }
}

struct MemoryChunk {
    address: u32,
    contents: Vec<u8>,
}

#[derive(Clone, Copy)]
struct PageRange {
    address: u32,
    length: u32,
    writable: bool,
}

impl PageRange {
    fn overlaps(&self, address: u32, length: usize) -> bool {
        u64::from(address) < u64::from(self.address) + u64::from(self.length) && u64::from(self.address) < u64::from(address) + length as u64
    }
}

/// What an `assert` step (or a flat vector's `expected-*` fields) expects after a run.
struct Expected {
    status: String,
    regs: [u64; 13],
    pc: u32,
    gas: i64,
    memory: Vec<MemoryChunk>,
    fault_address: Option<u32>,
    host_call: Option<u32>,
}

enum Step {
    Map(PageRange),
    /// A host write: it ignores page protection, as a test's setup does.
    Write(MemoryChunk),
    SetReg(Reg, u64),
    Run,
    Assert(Expected),
}

/// One test, in either format: the program, the state before the first run, and its steps.
struct Vector {
    name: String,
    program: Vec<u8>,
    initial_pc: u32,
    initial_gas: i64,
    steps: Vec<Step>,
    /// (pc, cost) of basic blocks, from the steps format's `block-gas-costs`.
    block_gas_costs: Vec<(u32, i64)>,
}

fn field<'a>(json: &'a Value, key: &str) -> Result<&'a Value, String> {
    json.get(key).ok_or_else(|| format!("missing field \"{key}\""))
}

fn unsigned(json: &Value, key: &str) -> Result<u64, String> {
    field(json, key)?.as_u64().ok_or_else(|| format!("\"{key}\" is not an unsigned integer"))
}

fn u32_field(json: &Value, key: &str) -> Result<u32, String> {
    u32::try_from(unsigned(json, key)?).map_err(|_| format!("\"{key}\" does not fit in 32 bits"))
}

fn i64_field(json: &Value, key: &str) -> Result<i64, String> {
    field(json, key)?.as_i64().ok_or_else(|| format!("\"{key}\" is not a 64-bit integer"))
}

fn str_field<'a>(json: &'a Value, key: &str) -> Result<&'a str, String> {
    field(json, key)?.as_str().ok_or_else(|| format!("\"{key}\" is not a string"))
}

fn array<'a>(json: &'a Value, key: &str) -> Result<&'a Vec<Value>, String> {
    field(json, key)?.as_array().ok_or_else(|| format!("\"{key}\" is not an array"))
}

fn bytes(values: &[Value], what: &str) -> Result<Vec<u8>, String> {
    values
        .iter()
        .map(|value| value.as_u64().and_then(|byte| u8::try_from(byte).ok()).ok_or_else(|| format!("{what} holds a non-byte")))
        .collect()
}

fn registers(json: &Value, key: &str) -> Result<[u64; 13], String> {
    let values: Vec<u64> = array(json, key)?
        .iter()
        .map(|value| value.as_u64().ok_or_else(|| format!("\"{key}\" holds a non-u64")))
        .collect::<Result<_, _>>()?;
    values.try_into().map_err(|_| format!("\"{key}\" does not hold 13 registers"))
}

fn memory_chunk(json: &Value, what: &str) -> Result<MemoryChunk, String> {
    Ok(MemoryChunk { address: u32_field(json, "address")?, contents: bytes(array(json, "contents")?, what)? })
}

fn memory(json: &Value, key: &str) -> Result<Vec<MemoryChunk>, String> {
    array(json, key)?.iter().map(|chunk| memory_chunk(chunk, key)).collect()
}

fn page_range(json: &Value) -> Result<PageRange, String> {
    Ok(PageRange {
        address: u32_field(json, "address")?,
        length: u32_field(json, "length")?,
        writable: field(json, "is-writable")?.as_bool().ok_or("\"is-writable\" is not a boolean")?,
    })
}

impl Vector {
    fn parse(path: &Path) -> Result<Vector, String> {
        let json = read_json(path)?;
        if json.get("steps").is_some() {
            Self::from_steps_json(&json)
        } else {
            Self::from_flat_json(&json)
        }
    }

    /// The flat format (v0.4): one run from the given state, then one assert that also covers
    /// every mapped byte.
    fn from_flat_json(json: &Value) -> Result<Vector, String> {
        let mut steps = Vec::new();
        for page in array(json, "initial-page-map")? {
            steps.push(Step::Map(page_range(page)?));
        }
        steps.extend(memory(json, "initial-memory")?.into_iter().map(Step::Write));
        for (reg, value) in Reg::ALL.into_iter().zip(registers(json, "initial-regs")?) {
            steps.push(Step::SetReg(reg, value));
        }
        steps.push(Step::Run);
        steps.push(Step::Assert(Expected {
            status: str_field(json, "expected-status")?.to_owned(),
            regs: registers(json, "expected-regs")?,
            pc: u32_field(json, "expected-pc")?,
            gas: i64_field(json, "expected-gas")?,
            memory: memory(json, "expected-memory")?,
            fault_address: json.get("expected-page-fault-address").map(|_| u32_field(json, "expected-page-fault-address")).transpose()?,
            host_call: None,
        }));
        Ok(Vector {
            name: str_field(json, "name")?.to_owned(),
            program: bytes(array(json, "program")?, "program")?,
            initial_pc: u32_field(json, "initial-pc")?,
            initial_gas: i64_field(json, "initial-gas")?,
            steps,
            block_gas_costs: Vec::new(),
        })
    }

    /// The steps format (polkavm's spectool).
    fn from_steps_json(json: &Value) -> Result<Vector, String> {
        let steps = array(json, "steps")?
            .iter()
            .map(|step| {
                let object = step.as_object().filter(|object| object.len() == 1).ok_or("a step is not a one-key object")?;
                let (kind, body) = object.iter().next().expect("one key");
                Ok(match kind.as_str() {
                    "map" => Step::Map(page_range(body)?),
                    "write" => Step::Write(memory_chunk(body, "write")?),
                    "set-reg" => Step::SetReg(
                        Reg::from_index(u32_field(body, "reg")?).map_err(|error| error.to_string())?,
                        unsigned(body, "value")?,
                    ),
                    "run" => Step::Run,
                    "assert" => Step::Assert(Expected {
                        status: str_field(body, "status")?.to_owned(),
                        regs: registers(body, "regs")?,
                        pc: u32_field(body, "pc")?,
                        gas: i64_field(body, "gas")?,
                        memory: memory(body, "memory")?,
                        fault_address: body.get("page-fault-address").map(|_| u32_field(body, "page-fault-address")).transpose()?,
                        host_call: body.get("hostcall").map(|_| u32_field(body, "hostcall")).transpose()?,
                    }),
                    other => return Err(format!("unknown step \"{other}\"")),
                })
            })
            .collect::<Result<_, String>>()?;
        let block_gas_costs = array(json, "block-gas-costs")?
            .iter()
            .map(|block| Ok((u32_field(block, "pc")?, i64_field(block, "cost")?)))
            .collect::<Result<_, String>>()?;
        Ok(Vector {
            name: str_field(json, "name")?.to_owned(),
            program: bytes(array(json, "program")?, "program")?,
            initial_pc: u32_field(json, "initial-pc")?,
            initial_gas: i64_field(json, "initial-gas")?,
            steps,
            block_gas_costs,
        })
    }

    /// Runs the steps and lists how the outcome differs from the expected one (empty: passed).
    /// `Err` when the program could not even be set up.
    fn run(&self, engine: &Engine, isa: InstructionSet, cost_model: Option<CostModel>) -> Result<Vec<String>, String> {
        let config = JamConfig { isa, halt_pc: true, cost_model: cost_model.or(JamConfig::default().cost_model), ..JamConfig::default() };
        let module = Module::from_jam_code(engine, &self.program, &config).map_err(|error| format!("load failed: {error}"))?;
        let mut differences = Vec::new();
        for &(pc, expected) in &self.block_gas_costs {
            match module.block_gas_cost(pc) {
                Some(cost) if cost == expected => {}
                cost => differences.push(format!(
                    "block at pc {pc} costs {}, expected {expected}",
                    cost.map_or("nothing (no block there)".to_owned(), |cost| cost.to_string())
                )),
            }
        }
        let mut vm = Instance::new(&module).map_err(|error| format!("instantiate failed: {error}"))?;
        vm.set_next_pc(self.initial_pc);
        vm.set_gas(self.initial_gas);
        let mut mapped: Vec<PageRange> = Vec::new();
        let mut last_status = None;
        let mut runs = 0;
        for step in &self.steps {
            match step {
                Step::Map(range) => {
                    vm.map_pages(range.address, range.length, range.writable).map_err(|error| error.to_string())?;
                    mapped.push(*range);
                }
                Step::Write(chunk) => {
                    let read_only: Vec<PageRange> = mapped
                        .iter()
                        .filter(|range| !range.writable && range.overlaps(chunk.address, chunk.contents.len()))
                        .copied()
                        .collect();
                    for range in &read_only {
                        vm.protect_pages(range.address, range.length, false).map_err(|error| error.to_string())?;
                    }
                    vm.write_memory(chunk.address, &chunk.contents).map_err(|error| error.to_string())?;
                    for range in &read_only {
                        vm.protect_pages(range.address, range.length, true).map_err(|error| error.to_string())?;
                    }
                }
                Step::SetReg(reg, value) => vm.set_reg(*reg, *value),
                Step::Run => {
                    runs += 1;
                    last_status = Some(vm.run().map_err(|error| format!("run {runs}: {error}"))?);
                }
                Step::Assert(expected) => {
                    let Some(result) = last_status else { return Err("an assert before any run".to_owned()) };
                    let prefix = if runs > 1 { format!("after run {runs}: ") } else { String::new() };
                    differences.extend(
                        compare(&mut vm, &result, expected, &mapped).into_iter().map(|difference| format!("{prefix}{difference}")),
                    );
                }
            }
        }
        Ok(differences)
    }

    /// The opcodes of this program that `jam_v1` numbers differently from `revive_v1`.
    fn renumbered_opcodes(&self) -> Vec<String> {
        let mut parts = ProgramParts::empty(InstructionSet::JamV1.raw());
        parts.code_and_jump_table = ArcBytes::from(self.program.as_slice());
        let Ok(blob) = ProgramBlob::from_parts(parts) else { return Vec::new() };
        let mut found: Vec<String> = (0..blob.code().len())
            .filter(|&offset| blob.bitmask()[offset / 8] & (1 << (offset % 8)) != 0)
            .map(|offset| u32::from(blob.code()[offset]))
            .filter(|&raw| ISA_JamV1.opcode_from_raw(raw) != ISA_ReviveV1.opcode_from_raw(raw))
            .map(|raw| {
                let name = |opcode: Option<polkavm_ffi::polkavm::program::Opcode>| {
                    opcode.map_or("invalid".to_owned(), |opcode| format!("{opcode:?}"))
                };
                format!(
                    "{raw} (revive_v1: {}, jam_v1: {})",
                    name(ISA_ReviveV1.opcode_from_raw(raw)),
                    name(ISA_JamV1.opcode_from_raw(raw))
                )
            })
            .collect();
        found.sort();
        found.dedup();
        found
    }
}

/// How the state after a run differs from `expected`.
fn compare(vm: &mut Instance, result: &polkavm_ffi::RunResult, expected: &Expected, mapped: &[PageRange]) -> Vec<String> {
    let mut differences = Vec::new();
    let status = match result.status {
        Status::Halt => "halt",
        Status::Panic => "panic",
        Status::OutOfGas => "out-of-gas",
        Status::Fault => "page-fault",
        // "host" in v0.4, "ecalli" in the steps format.
        Status::Host if expected.status == "ecalli" => "ecalli",
        Status::Host => "host",
        Status::Step => "step",
    };
    if status != expected.status {
        differences.push(format!("status {status}, expected {}", expected.status));
    }
    for (reg, (&got, &want)) in Reg::ALL.iter().zip(vm.regs().iter().zip(&expected.regs)) {
        if got != want {
            differences.push(format!("r{} = 0x{got:x}, expected 0x{want:x}", *reg as u32));
        }
    }
    match vm.graypaper_pc() {
        Some(pc) if pc == expected.pc => {}
        pc => differences.push(format!("pc {}, expected {}", pc.map_or("none".to_owned(), |pc| pc.to_string()), expected.pc)),
    }
    if result.gas_remaining != expected.gas {
        differences.push(format!("gas {}, expected {}", result.gas_remaining, expected.gas));
    }
    if let Some(want) = expected.fault_address {
        match vm.fault_address() {
            Some(address) if address == want => {}
            address => differences.push(format!(
                "fault address {}, expected 0x{want:x}",
                address.map_or("none".to_owned(), |address| format!("0x{address:x}"))
            )),
        }
    }
    if let Some(want) = expected.host_call {
        if result.status != Status::Host || result.host_call != want {
            differences.push(format!("host call {}, expected {want}", result.host_call));
        }
    }
    differences.extend(memory_difference(vm, &expected.memory, mapped));
    differences
}

/// Every mapped byte must equal the expected memory, zero where it lists nothing.
fn memory_difference(vm: &mut Instance, expected_memory: &[MemoryChunk], mapped: &[PageRange]) -> Option<String> {
    for chunk in expected_memory {
        let inside = mapped.iter().any(|range| {
            chunk.address >= range.address
                && u64::from(chunk.address) + chunk.contents.len() as u64 <= u64::from(range.address) + u64::from(range.length)
        });
        if !inside {
            return Some(format!("expected memory at 0x{:x} lies outside the mapped pages", chunk.address));
        }
    }
    for range in mapped {
        let got = match vm.read_memory(range.address, range.length) {
            Ok(got) => got,
            Err(error) => return Some(error.to_string()),
        };
        let mut expected = vec![0; range.length as usize];
        for chunk in expected_memory {
            if chunk.address >= range.address && chunk.address - range.address < range.length {
                let start = (chunk.address - range.address) as usize;
                expected[start..start + chunk.contents.len()].copy_from_slice(&chunk.contents);
            }
        }
        if let Some(offset) = got.iter().zip(&expected).position(|(got, expected)| got != expected) {
            let address = range.address + offset as u32;
            return Some(format!("memory at 0x{address:x} is 0x{:02x}, expected 0x{:02x}", got[offset], expected[offset]));
        }
    }
    None
}

enum Verdict {
    Passed,
    /// Fails with the chosen instruction set only because of the old opcode numbering.
    OldNumbering(String),
    Failed(String),
}

fn check(engine: &Engine, vector: &Vector, options: &Options) -> Verdict {
    let reason = match vector.run(engine, options.isa, options.cost_model) {
        Ok(differences) if differences.is_empty() => return Verdict::Passed,
        Ok(differences) => differences.join("; "),
        Err(error) => error,
    };
    if options.isa == InstructionSet::JamV1 {
        if let Ok(differences) = vector.run(engine, InstructionSet::ReviveV1, options.cost_model) {
            let renumbered = vector.renumbered_opcodes();
            if differences.is_empty() && !renumbered.is_empty() {
                return Verdict::OldNumbering(format!(
                    "fails with jam_v1 ({reason}); passes with revive_v1, which keeps the Graypaper's opcode \
                     numbering through 0.7.2: the program uses opcode {}",
                    renumbered.join(", ")
                ));
            }
        }
    }
    Verdict::Failed(reason)
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read it: {error}"))?;
    serde_json::from_str(&text).map_err(|error| format!("not JSON: {error}"))
}

/// A JSON file in a folder of vectors that is not one (the suite's `schema.json`, say).
fn is_other_json(path: &Path) -> bool {
    read_json(path).is_ok_and(|json| json.get("program").is_none())
}

/// The vectors in `path`: the file itself, or every `.json` file under the folder that looks like
/// a test vector.
fn collect_vectors(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|error| format!("cannot list {}: {error}", path.display()))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() || (path.extension().is_some_and(|extension| extension == "json") && !is_other_json(&path)) {
                collect_vectors(&path, out)?;
            }
        }
        Ok(())
    } else if path.is_file() {
        out.push(path.to_owned());
        Ok(())
    } else {
        Err(format!("{} does not exist", path.display()))
    }
}

struct Options {
    paths: Vec<PathBuf>,
    backends: Vec<BackendChoice>,
    isa: InstructionSet,
    /// `None`: the JAM default.
    cost_model: Option<CostModel>,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options { paths: Vec::new(), backends: Vec::new(), isa: InstructionSet::JamV1, cost_model: None };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--backend" => {
                let name = args.next().ok_or("--backend needs a name")?;
                for name in name.split(',') {
                    let backend = BackendChoice::ALL
                        .into_iter()
                        .find(|backend| backend.name() == name)
                        .ok_or_else(|| format!("unknown backend \"{name}\""))?;
                    options.backends.push(backend);
                }
            }
            "--isa" => {
                let name = args.next().ok_or("--isa needs a name")?;
                options.isa = InstructionSet::from_name(name)
                    .filter(|isa| *isa != InstructionSet::Latest64)
                    .ok_or_else(|| format!("unknown or bitmask-less instruction set \"{name}\""))?;
            }
            "--cost-model" => {
                let name = args.next().ok_or("--cost-model needs a name")?;
                // `full-l2` or polkavm's own `full-l2-hit`.
                let model = CostModel::from_name(name).or_else(|| CostModel::from_name(&format!("{name}-hit")));
                options.cost_model = Some(model.ok_or_else(|| format!("unknown cost model \"{name}\""))?);
            }
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            path => options.paths.push(PathBuf::from(path)),
        }
    }
    if options.paths.is_empty() {
        return Err("no test vector folder or file given".to_owned());
    }
    Ok(options)
}

struct BackendReport {
    name: &'static str,
    passed: usize,
    old_numbering: Vec<(String, String)>,
    failed: Vec<(String, String)>,
    wall_time: Duration,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_options(&args) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("pvm-conformance: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut paths = Vec::new();
    for path in &options.paths {
        if let Err(message) = collect_vectors(path, &mut paths) {
            eprintln!("pvm-conformance: {message}");
            return ExitCode::from(2);
        }
    }
    let vectors: Vec<(PathBuf, Result<Vector, String>)> = paths
        .into_iter()
        .map(|path| {
            let vector = Vector::parse(&path);
            (path, vector)
        })
        .collect();
    let cost_model = options.cost_model.or(JamConfig::default().cost_model).map_or("the engine's", CostModel::name);
    println!(
        "{} test vectors from {} (isa {}, cost model {cost_model})",
        vectors.len(),
        options.paths.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(", "),
        options.isa.name()
    );

    let explicit = !options.backends.is_empty();
    let backends = if explicit { options.backends.clone() } else { BackendChoice::ALL.to_vec() };
    let mut reports = Vec::new();
    let mut unusable = false;
    for backend in backends {
        let engine = match backend.engine().and_then(|engine| probe(&engine).map(|()| engine)) {
            Ok(engine) => engine,
            Err(error) => {
                println!("{}: unavailable on this machine: {error}", backend.name());
                unusable |= explicit;
                continue;
            }
        };
        let started = Instant::now();
        let mut report =
            BackendReport { name: backend.name(), passed: 0, old_numbering: Vec::new(), failed: Vec::new(), wall_time: Duration::ZERO };
        for (path, vector) in &vectors {
            let verdict = match vector {
                Ok(vector) => check(&engine, vector, &options),
                Err(message) => Verdict::Failed(format!("unreadable test vector: {message}")),
            };
            let name = vector.as_ref().map_or_else(|_| path.display().to_string(), |vector| vector.name.clone());
            match verdict {
                Verdict::Passed => report.passed += 1,
                Verdict::OldNumbering(reason) => report.old_numbering.push((name, reason)),
                Verdict::Failed(reason) => report.failed.push((name, reason)),
            }
        }
        report.wall_time = started.elapsed();
        reports.push(report);
    }

    let mut all_explained = !unusable && !reports.is_empty();
    for report in &reports {
        for (name, reason) in report.failed.iter().chain(&report.old_numbering) {
            println!("  {} FAILED {name}: {reason}", report.name);
        }
        all_explained &= report.failed.is_empty();
    }
    println!("backend      passed  failed  (old opcode numbering only)  wall time");
    for report in &reports {
        println!(
            "{:<11} {:>7} {:>7}  {:>27}  {:.2} s",
            report.name,
            report.passed,
            report.failed.len() + report.old_numbering.len(),
            report.old_numbering.len(),
            report.wall_time.as_secs_f64()
        );
    }
    for report in &reports {
        println!("{}: {} passed, {} failed", report.name, report.passed, report.failed.len() + report.old_numbering.len());
    }
    if all_explained { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Creates a module and an instance with `engine`: where the JIT's Linux sandbox cannot use
/// userfaultfd, this is where it fails.
fn probe(engine: &Engine) -> polkavm_ffi::Result<()> {
    let trap_only = [0, 0, 1, 0, 1];
    let module = Module::from_jam_code(engine, &trap_only, &JamConfig::default())?;
    Instance::new(&module).map(drop)
}
