//! UniFFI API: modules (loading programs, exports).

use super::*;

/// Module settings; every field has a default.
#[derive(Clone, Debug, uniffi::Record)]
pub struct ModuleConfig {
    /// None: Sync, exact metering.
    #[uniffi(default = None)]
    pub gas_metering: Option<GasMetering>,
    /// Stop with Status.STEP after every instruction.
    #[uniffi(default = false)]
    pub step_tracing: bool,
    /// The host maps memory page by page; unmapped accesses stop with Status.FAULT.
    #[uniffi(default = false)]
    pub dynamic_paging: bool,
    /// A power of two, at least 4096.
    #[uniffi(default = 4096)]
    pub page_size: u32,
    #[uniffi(default = 0)]
    pub aux_data_size: u32,
    /// Reject programs with invalid imports, jump table entries or exports at load time.
    #[uniffi(default = false)]
    pub strict: bool,
    /// The gas cost model. None: the engine's `default_cost_model`.
    #[uniffi(default = None)]
    pub cost_model: Option<crate::CostModel>,
}

impl From<&ModuleConfig> for crate::ModuleConfig {
    fn from(config: &ModuleConfig) -> Self {
        crate::ModuleConfig {
            gas_metering: config.gas_metering.unwrap_or(GasMetering::Sync),
            step_tracing: config.step_tracing,
            dynamic_paging: config.dynamic_paging,
            page_size: config.page_size,
            aux_data_size: config.aux_data_size,
            strict: config.strict,
            cost_model: config.cost_model,
        }
    }
}

/// An exported entry point.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Export {
    /// The symbol; bytes that are not UTF-8 are replaced by U+FFFD.
    pub name: String,
    pub pc: u32,
}

/// A loaded, validated (and for the JIT, compiled) program. Shareable between threads.
#[derive(uniffi::Object)]
pub struct Module {
    pub(super) core: crate::Module,
}

#[uniffi::export]
impl Module {
    /// Loads a PolkaVM program container (a `.polkavm` blob).
    #[uniffi::constructor(default(config))]
    pub fn new(engine: Arc<Engine>, blob: Vec<u8>, config: ModuleConfig) -> Result<Arc<Module>> {
        Ok(Arc::new(Module { core: crate::Module::new(&engine.core, &blob, &(&config).into())? }))
    }

    pub fn memory_info(&self) -> MemoryInfo {
        self.core.memory_info()
    }

    pub fn exports(&self) -> Vec<Export> {
        let exports = self.core.exports().iter();
        exports.map(|export| Export { name: String::from_utf8_lossy(&export.name).into_owned(), pc: export.pc }).collect()
    }

    /// Import symbols by index: a guest's `ecalli N` calls import N.
    pub fn imports(&self) -> Vec<String> {
        self.core.imports().iter().map(|name| String::from_utf8_lossy(name).into_owned()).collect()
    }

    /// The program counter of the export called `name`.
    pub fn export_pc(&self, name: String) -> Result<u32> {
        Ok(self.core.export_pc(&name)?)
    }

    /// The cost model this module's gas follows (its own, or its engine's default).
    pub fn cost_model(&self) -> crate::CostModel {
        self.core.cost_model()
    }

    /// The gas the basic block starting at `pc` costs under the module's cost model, charged when
    /// the block is entered; None if no basic block starts at `pc`.
    pub fn block_gas_cost(&self, pc: u32) -> Option<i64> {
        self.core.block_gas_cost(pc)
    }
}
