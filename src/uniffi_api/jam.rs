//! The UniFFI face of JAM mode ([`crate::jam`]): Graypaper program blobs loaded with dynamic
//! paging, and the Graypaper's pc. Pages are mapped with `Instance::map_pages` and friends.

use std::sync::Arc;

use super::{Engine, GasMetering, Instance, InstructionSet, Module, Result};

/// How to load a Graypaper program blob; every field has a default.
#[derive(Clone, Debug, uniffi::Record)]
pub struct JamConfig {
    /// None: JamV1.
    #[uniffi(default = None)]
    pub isa: Option<InstructionSet>,
    /// None: Sync, exact metering.
    #[uniffi(default = None)]
    pub gas_metering: Option<GasMetering>,
    /// A power of two, at least 4096 (the Graypaper's page size).
    #[uniffi(default = 4096)]
    pub page_size: u32,
    /// Sizes of polkavm's memory regions (they shape `Module.memory_info`); nothing is mapped
    /// until the host maps it, so 0 suits JAM programs.
    #[uniffi(default = 0)]
    pub ro_data_size: u32,
    #[uniffi(default = 0)]
    pub rw_data_size: u32,
    #[uniffi(default = 0)]
    pub stack_size: u32,
    #[uniffi(default = 0)]
    pub aux_data_size: u32,
    /// Also know the Graypaper pc after a halt (`Instance.graypaper_pc`). Runs the program one
    /// instruction at a time internally: exact, but much slower.
    #[uniffi(default = false)]
    pub halt_pc: bool,
    /// Stop with Status.STEP after every instruction.
    #[uniffi(default = false)]
    pub step_tracing: bool,
    /// The gas cost model. None: FullL2Hit, Graypaper 0.8.0's (the version whose opcode table
    /// JamV1 is). Graypaper 0.6.7–0.7.2 and the v0.4 test vectors need Naive.
    #[uniffi(default = None)]
    pub cost_model: Option<crate::CostModel>,
}

impl From<&JamConfig> for crate::JamConfig {
    fn from(config: &JamConfig) -> Self {
        crate::JamConfig {
            isa: config.isa.unwrap_or(InstructionSet::JamV1),
            gas_metering: config.gas_metering.unwrap_or(GasMetering::Sync),
            page_size: config.page_size,
            ro_data_size: config.ro_data_size,
            rw_data_size: config.rw_data_size,
            stack_size: config.stack_size,
            aux_data_size: config.aux_data_size,
            halt_pc: config.halt_pc,
            step_tracing: config.step_tracing,
            cost_model: config.cost_model.or(crate::JamConfig::default().cost_model),
        }
    }
}

#[uniffi::export]
impl Module {
    /// Loads a Graypaper program blob (jump table, code and instruction bitmask) with dynamic
    /// paging: nothing is mapped until `Instance.map_pages`. Running past the end of the code,
    /// or into an opcode the instruction set does not know, panics there, as the Graypaper says.
    /// The engine must allow dynamic paging.
    #[uniffi::constructor(default(config))]
    pub fn new_jam(engine: Arc<Engine>, code: Vec<u8>, config: JamConfig) -> Result<Arc<Module>> {
        Ok(Arc::new(Module { core: crate::Module::from_jam_code(&engine.core, &code, &(&config).into())? }))
    }
}

#[uniffi::export]
impl Instance {
    /// The pc as the Graypaper reports it after the last stop: the instruction that trapped,
    /// faulted, ran out of gas or made the host call; after a halt, the instruction that jumped
    /// to the halt address (known only with `JamConfig.halt_pc` or step tracing).
    pub fn graypaper_pc(&self) -> Option<u32> {
        self.lock().core.graypaper_pc()
    }
}

/// The Graypaper program blob of a `.polkavm` container in a bitmask-based instruction set
/// (`jam_v1`, `revive_v1`, `latest32`), e.g. one made by `assemble`: what `Module.new_jam` loads.
#[uniffi::export]
pub fn graypaper_blob(container: Vec<u8>) -> Result<Vec<u8>> {
    Ok(crate::graypaper_blob_of_container(&container)?)
}
