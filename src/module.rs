use std::sync::Arc;

use polkavm::{ArcBytes, ProgramBlob};

use crate::engine::Engine;
use crate::error::{catch_panic, Error, ErrorKind, Result};

/// How gas is metered: not at all, precisely (`Sync`, stops exactly when gas runs out) or
/// cheaply (`Async`, may overrun a little before stopping). Both backends treat `Async` as
/// `Sync`: the interpreter always has, and polkavm 0.37's JIT never checks gas under `Async`
/// while the guest runs, so a guest that loops forever would never return to the host.
/// The numbers are the C ABI's `PVM_GAS_METERING_*` (`Disabled` is `PVM_GAS_METERING_NONE`:
/// `None` would clash with Python's `None` and Swift's `Optional.none` in the UniFFI bindings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[repr(u32)]
pub enum GasMetering {
    /// Not at all: runs never stop for gas.
    Disabled = 0,
    /// Exactly: the run stops when gas runs out.
    Sync = 1,
    /// polkavm's asynchronous metering, run as `Sync`: polkavm 0.37's JIT never stops a looping
    /// guest under it, which would hang the host.
    Async = 2,
}

/// How much each instruction costs: polkavm's gas cost models. Pick the one of your Graypaper
/// version: `Naive` for 0.6.7 through 0.7.2 (and the JAM PVM test vectors v0.4), `FullL2Hit` for
/// 0.8.0. polkavm's `CostModelKind`: `Simple(naive)` or `Full(CacheModel::…)`. The numbers are
/// the C ABI's `PVM_COST_MODEL_*` (whose 0, `PVM_COST_MODEL_DEFAULT`, is `None` in Rust).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[repr(u32)]
pub enum CostModel {
    /// One gas per instruction, charged per basic block (polkavm's default).
    Naive = 1,
    /// Graypaper 0.8.0's model (per basic block, from a pipeline simulation with memory-latency
    /// classes), with every memory access an L1 cache hit.
    FullL1Hit = 2,
    /// The same, with L2-hit memory latencies: what Graypaper 0.8.0 specifies.
    FullL2Hit = 3,
    /// The same, with L3-hit memory latencies.
    FullL3Hit = 4,
}

impl CostModel {
    pub const ALL: [CostModel; 4] = [CostModel::Naive, CostModel::FullL1Hit, CostModel::FullL2Hit, CostModel::FullL3Hit];

    /// `naive`, `full-l1-hit`, `full-l2-hit`, `full-l3-hit`: the names polkavm's
    /// `POLKAVM_DEFAULT_COST_MODEL` uses.
    pub fn name(self) -> &'static str {
        match self {
            CostModel::Naive => "naive",
            CostModel::FullL1Hit => "full-l1-hit",
            CostModel::FullL2Hit => "full-l2-hit",
            CostModel::FullL3Hit => "full-l3-hit",
        }
    }

    pub fn from_name(name: &str) -> Option<CostModel> {
        Self::ALL.into_iter().find(|model| model.name() == name)
    }

    /// polkavm's own value for it.
    pub fn raw(self) -> polkavm::CostModelKind {
        match self {
            CostModel::Naive => polkavm::CostModelKind::Simple(polkavm::CostModel::naive_ref()),
            CostModel::FullL1Hit => polkavm::CostModelKind::Full(polkavm::CacheModel::L1Hit),
            CostModel::FullL2Hit => polkavm::CostModelKind::Full(polkavm::CacheModel::L2Hit),
            CostModel::FullL3Hit => polkavm::CostModelKind::Full(polkavm::CacheModel::L3Hit),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleConfig {
    pub gas_metering: GasMetering,
    /// Stop with [`crate::Status::Step`] after every instruction.
    pub step_tracing: bool,
    /// Memory is mapped page by page by the host; unmapped accesses stop with a fault (JAM mode).
    pub dynamic_paging: bool,
    pub page_size: u32,
    pub aux_data_size: u32,
    /// Reject programs with invalid imports, jump table entries or exports at load time.
    pub strict: bool,
    /// `None` (the default): the engine's [`crate::EngineConfig::default_cost_model`].
    pub cost_model: Option<CostModel>,
}

impl Default for ModuleConfig {
    fn default() -> Self {
        ModuleConfig {
            gas_metering: GasMetering::Sync,
            step_tracing: false,
            dynamic_paging: false,
            page_size: 0x1000,
            aux_data_size: 0,
            strict: false,
            cost_model: None,
        }
    }
}

/// Where the program's memory regions lie, as polkavm lays them out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct MemoryInfo {
    pub ro_data_address: u32,
    pub ro_data_size: u32,
    pub rw_data_address: u32,
    pub rw_data_size: u32,
    pub stack_address_low: u32,
    pub stack_address_high: u32,
    pub heap_base: u32,
    pub max_heap_size: u32,
    pub aux_data_address: u32,
    pub aux_data_size: u32,
    pub page_size: u32,
}

/// An exported entry point: its symbol (raw bytes, normally UTF-8) and program counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    pub name: Vec<u8>,
    pub pc: u32,
}

/// A loaded, validated (and for the JIT, compiled) program. Cheap to clone (shared).
/// Shareable between threads; it keeps its engine alive.
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    raw: polkavm::Module,
    blob: ProgramBlob,
    engine: Engine,
    config: ModuleConfig,
    /// Steps internally (even without step tracing) to know the pc of a halt; see `crate::JamConfig::halt_pc`.
    tracks_halt_pc: bool,
    exports: Vec<Export>,
    imports: Vec<Vec<u8>>,
    /// For JIT modules of instruction sets whose blobs carry no instruction bitmask (latest64):
    /// one built at load, in the same layout, for [`Module::is_inside_an_instruction`].
    built_bitmask: Option<Vec<u8>>,
}

/// `PVM\0`: the first bytes of every PolkaVM program container.
pub const PROGRAM_MAGIC: [u8; 4] = *b"PVM\0";

/// Parses a PolkaVM program container (a `.polkavm` blob), with the checks and messages every
/// face shares.
pub(crate) fn parse_container(blob: &[u8]) -> Result<ProgramBlob> {
    if blob.is_empty() {
        return Err(Error::new(ErrorKind::InvalidProgram, "blob is empty"));
    }
    if !blob.starts_with(&PROGRAM_MAGIC) {
        return Err(Error::new(ErrorKind::InvalidProgram, "blob is not a PolkaVM program: bad magic (expected \"PVM\\0\")"));
    }
    catch_panic("parsing the program", || {
        ProgramBlob::parse(ArcBytes::from(blob))
            .map_err(|error| Error::new(ErrorKind::InvalidProgram, format!("blob is not a valid PolkaVM program: {error}")))
    })
}

impl Module {
    /// Loads a PolkaVM program container (a `.polkavm` blob).
    pub fn new(engine: &Engine, blob: &[u8], config: &ModuleConfig) -> Result<Module> {
        Self::from_program_blob(engine, parse_container(blob)?, config)
    }

    /// Loads an already parsed program.
    pub fn from_program_blob(engine: &Engine, blob: ProgramBlob, config: &ModuleConfig) -> Result<Module> {
        Self::from_program_blob_tracking_halt_pc(engine, blob, config, false)
    }

    pub(crate) fn from_program_blob_tracking_halt_pc(
        engine: &Engine,
        blob: ProgramBlob,
        config: &ModuleConfig,
        tracks_halt_pc: bool,
    ) -> Result<Module> {
        if !config.page_size.is_power_of_two() || config.page_size < 0x1000 {
            return Err(Error::invalid_argument(format!(
                "page size {} is invalid: it must be a power of two, at least 4096",
                config.page_size
            )));
        }
        if config.dynamic_paging && !engine.config().allow_dynamic_paging {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "dynamic paging needs an engine created with allow_dynamic_paging",
            ));
        }
        let mut raw_config = polkavm::ModuleConfig::new();
        raw_config.set_gas_metering(match config.gas_metering {
            GasMetering::Disabled => None,
            GasMetering::Sync | GasMetering::Async => Some(polkavm::GasMeteringKind::Sync),
        });
        raw_config.set_step_tracing(config.step_tracing || tracks_halt_pc);
        raw_config.set_dynamic_paging(config.dynamic_paging);
        raw_config.set_page_size(config.page_size);
        raw_config.set_aux_data_size(config.aux_data_size);
        raw_config.set_strict(config.strict);
        let cost_model = config.cost_model.unwrap_or(engine.config().default_cost_model);
        raw_config.set_cost_model(Some(cost_model.raw()));

        let exports = blob
            .exports()
            .map(|export| Export { name: export.symbol().as_bytes().to_vec(), pc: export.program_counter().0 })
            .collect();
        let imports = blob
            .imports()
            .iter()
            .map(|import| import.map(|symbol| symbol.as_bytes().to_vec()).unwrap_or_default())
            .collect();

        let raw = catch_panic("loading the program", || {
            polkavm::Module::from_blob(engine.raw(), &raw_config, blob.clone()).map_err(|error| match error {
                polkavm::CompileError::ValidationFailed(message) => {
                    Error::new(ErrorKind::InvalidProgram, format!("program failed validation: {message}"))
                }
                polkavm::CompileError::Error(error) if error.to_string().contains("AVX2") => Error::new(
                    ErrorKind::Unsupported,
                    format!("failed to load the program with cost model {}: {error}", cost_model.name()),
                ),
                polkavm::CompileError::Error(error) => Error::new(ErrorKind::Setup, format!("failed to load the program: {error}")),
            })
        })?;

        let built_bitmask = (blob.bitmask().is_empty() && engine.backend() == crate::Backend::Compiler).then(|| {
            let mut bitmask = vec![0u8; blob.code().len().div_ceil(8)];
            for instruction in blob.instructions() {
                if let Some(byte) = bitmask.get_mut(instruction.offset.0 as usize / 8) {
                    *byte |= 1 << (instruction.offset.0 % 8);
                }
            }
            bitmask
        });

        Ok(Module {
            inner: Arc::new(ModuleInner {
                raw,
                blob,
                engine: engine.clone(),
                config: config.clone(),
                tracks_halt_pc,
                exports,
                imports,
                built_bitmask,
            }),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub fn config(&self) -> &ModuleConfig {
        &self.inner.config
    }

    /// The cost model this module's gas follows (its own, or its engine's default).
    pub fn cost_model(&self) -> CostModel {
        self.inner.config.cost_model.unwrap_or(self.inner.engine.config().default_cost_model)
    }

    /// The gas the basic block starting at `pc` costs under this module's cost model, charged when
    /// the block is entered; `None` if no basic block starts at `pc`.
    pub fn block_gas_cost(&self, pc: u32) -> Option<i64> {
        catch_panic("computing a block's gas cost", || Ok(self.inner.raw.calculate_gas_cost_for(polkavm::ProgramCounter(pc))))
            .ok()
            .flatten()
    }

    /// Whether runs step internally to record the pc of a halt ([`crate::Instance::graypaper_pc`]).
    pub fn tracks_halt_pc(&self) -> bool {
        self.inner.tracks_halt_pc
    }

    pub fn raw(&self) -> &polkavm::Module {
        &self.inner.raw
    }

    pub fn memory_info(&self) -> MemoryInfo {
        let map = self.inner.raw.memory_map();
        MemoryInfo {
            ro_data_address: map.ro_data_address(),
            ro_data_size: map.ro_data_size(),
            rw_data_address: map.rw_data_address(),
            rw_data_size: map.rw_data_size(),
            stack_address_low: map.stack_address_low(),
            stack_address_high: map.stack_address_high(),
            heap_base: map.heap_base(),
            max_heap_size: map.max_heap_size(),
            aux_data_address: map.aux_data_address(),
            aux_data_size: map.aux_data_size(),
            page_size: map.page_size(),
        }
    }

    pub fn exports(&self) -> &[Export] {
        &self.inner.exports
    }

    /// Import symbols by index: a guest's `ecalli N` calls import N. An unreadable symbol is empty.
    pub fn imports(&self) -> &[Vec<u8>] {
        &self.inner.imports
    }

    /// Whether `pc` lies inside the code but not at the start of an instruction.
    pub(crate) fn is_inside_an_instruction(&self, pc: u32) -> bool {
        let bitmask = self.inner.built_bitmask.as_deref().unwrap_or(self.inner.blob.bitmask());
        let index = pc as usize;
        index < self.inner.blob.code().len() && bitmask.get(index / 8).is_some_and(|byte| byte & (1 << (index % 8)) == 0)
    }

    pub fn export_pc(&self, name: &str) -> Result<u32> {
        self.inner
            .exports
            .iter()
            .find(|export| export.name == name.as_bytes())
            .map(|export| export.pc)
            .ok_or_else(|| Error::invalid_argument(format!("no export named \"{name}\"")))
    }
}
