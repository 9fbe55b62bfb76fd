use polkavm::{InterruptKind, MemoryProtection, ProgramCounter, RawInstance};

use crate::engine::userfaultfd_hint;
use crate::error::{catch_panic, Error, ErrorKind, Result};
use crate::module::Module;

/// The 13 PVM registers, numbered as in the C ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[repr(u32)]
pub enum Reg {
    RA = 0,
    SP = 1,
    T0 = 2,
    T1 = 3,
    T2 = 4,
    S0 = 5,
    S1 = 6,
    A0 = 7,
    A1 = 8,
    A2 = 9,
    A3 = 10,
    A4 = 11,
    A5 = 12,
}

pub const REG_COUNT: usize = 13;

/// The most arguments a call can take in registers (A0..A5, T0..T2).
pub const MAX_ARGS: usize = polkavm::Reg::ARG_REGS.len();

impl Reg {
    pub const ALL: [Reg; REG_COUNT] =
        [Reg::RA, Reg::SP, Reg::T0, Reg::T1, Reg::T2, Reg::S0, Reg::S1, Reg::A0, Reg::A1, Reg::A2, Reg::A3, Reg::A4, Reg::A5];

    #[inline]
    pub fn from_index(index: u32) -> Result<Reg> {
        match Self::ALL.get(index as usize) {
            Some(&reg) => Ok(reg),
            None => Err(Self::out_of_range(index)),
        }
    }

    #[cold]
    #[inline(never)]
    fn out_of_range(index: u32) -> Error {
        Error::invalid_argument(format!("register {index} out of range (0..12)"))
    }

    #[inline]
    fn raw(self) -> polkavm::Reg {
        // The same numbering, so this compiles to nothing.
        match self {
            Reg::RA => polkavm::Reg::RA,
            Reg::SP => polkavm::Reg::SP,
            Reg::T0 => polkavm::Reg::T0,
            Reg::T1 => polkavm::Reg::T1,
            Reg::T2 => polkavm::Reg::T2,
            Reg::S0 => polkavm::Reg::S0,
            Reg::S1 => polkavm::Reg::S1,
            Reg::A0 => polkavm::Reg::A0,
            Reg::A1 => polkavm::Reg::A1,
            Reg::A2 => polkavm::Reg::A2,
            Reg::A3 => polkavm::Reg::A3,
            Reg::A4 => polkavm::Reg::A4,
            Reg::A5 => polkavm::Reg::A5,
        }
    }
}

/// Why a run stopped. The numbers are the C ABI's status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[repr(u32)]
pub enum Status {
    /// The program returned to the host.
    Halt = 0,
    /// The program trapped (`trap`, an invalid instruction or jump, or a memory access violation
    /// without dynamic paging).
    Panic = 1,
    OutOfGas = 2,
    /// A memory access hit an unmapped or read-only page (dynamic paging only).
    Fault = 3,
    /// The program executed `ecalli`; running again resumes after it.
    Host = 4,
    /// One instruction was executed (step tracing only).
    Step = 5,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RunResult {
    pub status: Status,
    pub gas_remaining: i64,
    /// The `ecalli` number when `status` is [`Status::Host`], otherwise 0.
    pub host_call: u32,
    /// The address of the faulting page when `status` is [`Status::Fault`], otherwise 0.
    pub fault_address: u32,
}

/// A running copy of a module: its registers, memory and gas. It keeps its module (and engine)
/// alive. May be moved to another thread, but not used from two threads at once.
pub struct Instance {
    /// Boxed: polkavm's instance is large (704 bytes), and every move of an `Instance` would copy it.
    raw: Box<RawInstance>,
    module: Module,
    last_fault: Option<u32>,
    /// The pc of the last instruction a step reported since the call began (modules that step only).
    last_step_pc: Option<u32>,
    /// An entry point inside an instruction, set by the host on a JIT instance. polkavm's
    /// interpreter traps there at once; its JIT can hang, so runs from it trap here instead.
    entry_inside_instruction: Option<u32>,
    trapped_at_entry: bool,
    /// Set when a run failed on the host side with a call prepared: the JIT's sandbox worker died
    /// (killed, out of memory, a seccomp violation) or polkavm lost track of it. The instance
    /// cannot run again; this is the reason every later run, call or reset reports.
    unusable: Option<String>,
}

fn memory_error(what: &str, address: u32, length: u32, error: polkavm::MemoryAccessError) -> Error {
    Error::new(ErrorKind::Memory, format!("{what} of {length} bytes at 0x{address:08x} failed: {error}"))
}

impl Instance {
    pub fn new(module: &Module) -> Result<Instance> {
        let raw = catch_panic("creating an instance", || {
            module.raw().instantiate().map(Box::new).map_err(|error| {
                let text = error.to_string();
                Error::new(ErrorKind::Setup, format!("failed to create an instance: {text}{}", userfaultfd_hint(&text)))
            })
        })?;
        Ok(Instance { raw, module: module.clone(), last_fault: None, last_step_pc: None, entry_inside_instruction: None, trapped_at_entry: false, unusable: None })
    }

    pub fn module(&self) -> &Module {
        &self.module
    }

    pub fn raw(&mut self) -> &mut RawInstance {
        &mut self.raw
    }

    #[inline]
    pub fn gas(&self) -> i64 {
        self.raw.gas()
    }

    #[inline]
    pub fn set_gas(&mut self, gas: i64) {
        self.raw.set_gas(gas)
    }

    #[inline]
    pub fn reg(&self, reg: Reg) -> u64 {
        self.raw.reg(reg.raw())
    }

    #[inline]
    pub fn set_reg(&mut self, reg: Reg, value: u64) {
        self.raw.set_reg(reg.raw(), value)
    }

    pub fn regs(&self) -> [u64; REG_COUNT] {
        Reg::ALL.map(|reg| self.reg(reg))
    }

    pub fn set_regs(&mut self, values: &[u64; REG_COUNT]) {
        for (reg, &value) in Reg::ALL.iter().zip(values) {
            self.set_reg(*reg, value);
        }
    }

    /// The program counter of the instruction that last stopped the run, if any.
    pub fn pc(&self) -> Option<u32> {
        match self.entry_inside_instruction {
            Some(pc) if self.trapped_at_entry => Some(pc),
            _ => self.raw.program_counter().map(|pc| pc.0),
        }
    }

    /// Where the next [`Instance::run`] starts, if anywhere.
    pub fn next_pc(&self) -> Option<u32> {
        self.raw.next_program_counter().map(|pc| pc.0)
    }

    pub fn set_next_pc(&mut self, pc: u32) {
        self.last_step_pc = None;
        self.raw.set_next_program_counter(ProgramCounter(pc));
        self.note_entry(pc);
    }

    fn note_entry(&mut self, pc: u32) {
        let is_jit = self.module.engine().backend() == crate::Backend::Compiler;
        self.entry_inside_instruction = (is_jit && self.module.is_inside_an_instruction(pc)).then_some(pc);
        self.trapped_at_entry = false;
    }

    /// After a halt, the pc of the instruction that jumped to the halt address, if the module
    /// steps (step tracing, or [`Module::tracks_halt_pc`]); polkavm itself does not keep it.
    pub fn halted_at(&self) -> Option<u32> {
        if self.raw.program_counter().is_none() && self.raw.next_program_counter().is_none() {
            self.last_step_pc
        } else {
            None
        }
    }

    /// The page address of the last [`Status::Fault`].
    pub fn fault_address(&self) -> Option<u32> {
        self.last_fault
    }

    /// Sets up a call by polkavm's default ABI: all registers zeroed, RA the return-to-host
    /// address, SP the stack top, A0.. (then T0..T2) the arguments, next pc = `pc`.
    pub fn prepare_call(&mut self, pc: u32, args: &[u64]) -> Result<()> {
        self.check_usable()?;
        if args.len() > MAX_ARGS {
            return Err(Error::invalid_argument(format!("too many arguments: {} (at most {MAX_ARGS})", args.len())));
        }
        self.last_step_pc = None;
        self.raw.prepare_call_untyped(ProgramCounter(pc), args);
        self.note_entry(pc);
        Ok(())
    }

    pub fn prepare_call_export(&mut self, name: &str, args: &[u64]) -> Result<()> {
        let pc = self.module.export_pc(name)?;
        self.prepare_call(pc, args)
    }

    /// Runs from the next program counter until the program stops.
    #[inline(always)]
    pub fn run(&mut self) -> Result<RunResult> {
        let (status, host_call, fault_address) = self.run_until_stop()?;
        Ok(RunResult { status, gas_remaining: self.raw.gas(), host_call, fault_address })
    }

    /// [`Instance::run`] without reading the gas left: status, host call number and fault address.
    /// Reading the gas costs polkavm a backend dispatch, a noticeable share of a host-call round
    /// trip on the interpreter; hosts that do not need it at every stop use this.
    #[inline(always)]
    pub fn run_until_stop(&mut self) -> Result<(Status, u32, u32)> {
        if self.entry_inside_instruction.is_some() || self.unusable.is_some() {
            return self.run_blocked();
        }
        // The hot path (a host-call round trip) adds nothing here but the mapping below; panics are
        // caught by the faces (the C ABI's guard, the UniFFI face's `run_core`).
        let interrupt = match self.raw.run() {
            Ok(InterruptKind::Step) => self.after_step()?,
            Ok(interrupt) => interrupt,
            Err(error) => return Err(self.run_error(error)),
        };
        let (status, host_call, fault_address) = match interrupt {
            InterruptKind::Finished => (Status::Halt, 0, 0),
            InterruptKind::Trap => (Status::Panic, 0, 0),
            InterruptKind::NotEnoughGas => (Status::OutOfGas, 0, 0),
            InterruptKind::Ecalli(number) => (Status::Host, number, 0),
            InterruptKind::Step => (Status::Step, 0, 0),
            InterruptKind::Segfault(fault) => (Status::Fault, 0, fault.page_address),
        };
        self.last_fault = (status == Status::Fault).then_some(fault_address);
        Ok((status, host_call, fault_address))
    }

    #[cold]
    #[inline(never)]
    fn run_blocked(&mut self) -> Result<(Status, u32, u32)> {
        self.check_usable()?;
        self.trapped_at_entry = true;
        Ok((Status::Panic, 0, 0))
    }

    /// Fails once a run has left the instance unusable (see [`Instance::is_usable`]).
    fn check_usable(&self) -> Result<()> {
        match &self.unusable {
            None => Ok(()),
            Some(reason) => Err(Error::new(
                ErrorKind::WrongState,
                format!("the instance is unusable since a run failed ({reason}); free it and create a new instance"),
            )),
        }
    }

    /// False once a run failed on the host side (its JIT worker died): only freeing it is left.
    pub fn is_usable(&self) -> bool {
        self.unusable.is_none()
    }

    /// Records a step's pc; where the steps are only there to track the halt pc, runs on past them.
    #[cold]
    #[inline(never)]
    fn after_step(&mut self) -> Result<InterruptKind> {
        let hidden_steps = self.module.tracks_halt_pc() && !self.module.config().step_tracing;
        loop {
            self.last_step_pc = self.raw.program_counter().map(|pc| pc.0);
            if !hidden_steps {
                return Ok(InterruptKind::Step);
            }
            match self.raw.run() {
                Ok(InterruptKind::Step) => continue,
                Ok(interrupt) => return Ok(interrupt),
                Err(error) => return Err(self.run_error(error)),
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn run_error(&mut self, error: polkavm::Error) -> Error {
        // polkavm fails a run either before it starts (no next pc) or in its backend ("execution
        // failed: ..."), which with the JIT means the sandbox worker is gone or in an unknown state.
        let text = error.to_string();
        if !text.starts_with("execution failed") {
            return Error::new(ErrorKind::WrongState, "cannot run: no call prepared (call prepare_call or set the next pc first)");
        }
        let reason = text.strip_prefix("execution failed: ").unwrap_or(&text).to_owned();
        let error = Error::new(ErrorKind::Setup, format!("run failed: {reason}; the instance is unusable, create a new one"));
        self.unusable = Some(reason);
        error
    }

    /// Prepares a call, sets the gas, and runs until the program stops for a reason other than
    /// a host call; each host call goes to `on_host_call(instance, number)` first. An error from
    /// the handler ends the call with that error.
    pub fn call(
        &mut self,
        pc: u32,
        args: &[u64],
        gas: i64,
        mut on_host_call: impl FnMut(&mut Instance, u32) -> Result<()>,
    ) -> Result<RunResult> {
        self.prepare_call(pc, args)?;
        self.set_gas(gas);
        loop {
            let result = self.run()?;
            if result.status != Status::Host {
                return Ok(result);
            }
            on_host_call(self, result.host_call)?;
        }
    }

    pub fn read_memory_into(&mut self, address: u32, buffer: &mut [u8]) -> Result<()> {
        let length = buffer.len() as u32;
        catch_panic("reading memory", || {
            self.raw.read_memory_into(address, buffer).map(|_| ()).map_err(|error| memory_error("read", address, length, error))
        })
    }

    pub fn read_memory(&mut self, address: u32, length: u32) -> Result<Vec<u8>> {
        let mut buffer = vec![0; length as usize];
        self.read_memory_into(address, &mut buffer)?;
        Ok(buffer)
    }

    pub fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<()> {
        let length = u32::try_from(data.len()).map_err(|_| Error::invalid_argument("write larger than 4 GiB"))?;
        catch_panic("writing memory", || {
            self.raw.write_memory(address, data).map_err(|error| memory_error("write", address, length, error))
        })
    }

    fn require_static_paging(&self, what: &str) -> Result<()> {
        if self.module.config().dynamic_paging {
            return Err(Error::new(ErrorKind::Unsupported, format!("{what} is not available with dynamic paging")));
        }
        Ok(())
    }

    /// Grows the heap by `size` bytes (polkavm's `sbrk`); returns polkavm's result: the new
    /// heap top. `sbrk(0)` returns the current heap top.
    pub fn sbrk(&mut self, size: u32) -> Result<u32> {
        self.require_static_paging("sbrk")?;
        catch_panic("sbrk", || match self.raw.sbrk(size) {
            Ok(Some(top)) => Ok(top),
            Ok(None) => Err(Error::new(ErrorKind::Memory, format!("sbrk({size}) failed: the heap cannot grow that far"))),
            Err(error) => Err(Error::new(ErrorKind::Memory, format!("sbrk({size}) failed: {error}"))),
        })
    }

    pub fn heap_size(&self) -> Result<u32> {
        self.require_static_paging("heap size")?;
        catch_panic("heap size", || Ok(self.raw.heap_size()))
    }

    /// Memory back to the module's initial image, registers to zero.
    pub fn reset(&mut self) -> Result<()> {
        self.check_usable()?;
        catch_panic("resetting", || {
            self.raw.reset_memory().map_err(|error| Error::new(ErrorKind::Memory, format!("reset failed: {error}")))
        })?;
        self.raw.clear_regs();
        self.last_fault = None;
        self.last_step_pc = None;
        Ok(())
    }

    fn require_dynamic_paging(&self, what: &str) -> Result<()> {
        if !self.module.config().dynamic_paging {
            return Err(Error::new(ErrorKind::Unsupported, format!("{what} needs a module with dynamic paging")));
        }
        Ok(())
    }

    /// Maps zeroed pages at `address` (page-aligned), `length` rounded up to whole pages.
    pub fn map_pages(&mut self, address: u32, length: u32, writable: bool) -> Result<()> {
        self.require_dynamic_paging("mapping pages")?;
        let protection = if writable { MemoryProtection::ReadWrite } else { MemoryProtection::Read };
        catch_panic("mapping pages", || {
            self.raw
                .zero_memory_with_memory_protection(address, length, protection)
                .map_err(|error| memory_error("mapping pages", address, length, error))
        })
    }

    /// Makes mapped pages read-only (`read_only`) or writable again.
    pub fn protect_pages(&mut self, address: u32, length: u32, read_only: bool) -> Result<()> {
        self.require_dynamic_paging("protecting pages")?;
        catch_panic("protecting pages", || {
            let result =
                if read_only { self.raw.protect_memory(address, length) } else { self.raw.unprotect_memory(address, length) };
            result.map_err(|error| memory_error("protecting pages", address, length, error))
        })
    }

    pub fn free_pages(&mut self, address: u32, length: u32) -> Result<()> {
        self.require_dynamic_paging("freeing pages")?;
        catch_panic("freeing pages", || {
            self.raw
                .free_pages(address, length)
                .map_err(|error| Error::new(ErrorKind::Memory, format!("freeing pages at 0x{address:08x} failed: {error}")))
        })
    }
}
