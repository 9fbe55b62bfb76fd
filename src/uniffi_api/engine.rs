//! UniFFI API: engines (backend, sandbox, workers).

use super::*;

/// Which backend runs the guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Backend {
    /// The JIT ("recompiler"): guest code is compiled to native code and runs in a sandbox.
    Compiler,
    /// The interpreter: slower, but runs everywhere and needs no sandbox.
    Interpreter,
}

/// Which sandbox isolates JIT-compiled guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Sandbox {
    /// Separate, seccomp-locked worker processes. Dynamic paging needs userfaultfd with it.
    Linux,
    /// In-process; polkavm marks it experimental (not production ready).
    Generic,
}

/// How the host thread is pinned to CPU cores while it runs JIT code (Linux sandbox only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CorePinning {
    PinToCore,
    PinToCcx,
    Disabled,
}

/// Engine settings; every field has a default.
#[derive(Clone, Debug, uniffi::Record)]
pub struct EngineConfig {
    /// None: the JIT where this platform supports it, the interpreter otherwise.
    #[uniffi(default = None)]
    pub backend: Option<Backend>,
    /// None: polkavm's choice (the Linux sandbox on Linux).
    #[uniffi(default = None)]
    pub sandbox: Option<Sandbox>,
    /// Sandbox worker processes kept ready for new instances.
    #[uniffi(default = 2)]
    pub worker_count: u32,
    /// Must be true for modules with dynamic paging. With the Linux sandbox this needs userfaultfd.
    #[uniffi(default = false)]
    pub allow_dynamic_paging: bool,
    /// None: pin to one core (polkavm's default).
    #[uniffi(default = None)]
    pub core_pinning: Option<CorePinning>,
    /// The gas cost model of modules that choose none. None: Naive (polkavm's default).
    #[uniffi(default = None)]
    pub default_cost_model: Option<crate::CostModel>,
}

impl From<&EngineConfig> for crate::EngineConfig {
    fn from(config: &EngineConfig) -> Self {
        let defaults = crate::EngineConfig::default();
        crate::EngineConfig {
            backend: match config.backend {
                None => crate::Backend::Auto,
                Some(Backend::Compiler) => crate::Backend::Compiler,
                Some(Backend::Interpreter) => crate::Backend::Interpreter,
            },
            sandbox: match config.sandbox {
                None => crate::Sandbox::Auto,
                Some(Sandbox::Linux) => crate::Sandbox::Linux,
                Some(Sandbox::Generic) => crate::Sandbox::Generic,
            },
            worker_count: config.worker_count,
            allow_dynamic_paging: config.allow_dynamic_paging,
            core_pinning: match config.core_pinning {
                None => defaults.core_pinning,
                Some(CorePinning::PinToCore) => crate::CorePinning::PinToCore,
                Some(CorePinning::PinToCcx) => crate::CorePinning::PinToCcx,
                Some(CorePinning::Disabled) => crate::CorePinning::Disabled,
            },
            default_cost_model: config.default_cost_model.unwrap_or(defaults.default_cost_model),
        }
    }
}

/// A polkavm engine: the backend, its sandbox and its worker pool. Shareable between threads.
#[derive(uniffi::Object)]
pub struct Engine {
    pub(super) core: crate::Engine,
}

#[uniffi::export]
impl Engine {
    #[uniffi::constructor(default(config))]
    pub fn new(config: EngineConfig) -> Result<Arc<Engine>> {
        Ok(Arc::new(Engine { core: crate::Engine::new(&(&config).into())? }))
    }

    /// The backend actually selected.
    pub fn backend(&self) -> Backend {
        match self.core.backend() {
            crate::Backend::Interpreter => Backend::Interpreter,
            crate::Backend::Compiler | crate::Backend::Auto => Backend::Compiler,
        }
    }
}
