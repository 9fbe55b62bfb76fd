//! UniFFI API: engines (backend, sandbox, workers).

use super::*;

/// Which backend runs the guest code. Unlike the core's `Backend` it has no `Auto`: that is
/// `None` in [`EngineConfig`], and [`Engine::backend`] reports the backend in use, never Auto.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Backend {
    /// The JIT ("recompiler"): guest code is compiled to native code and runs in a sandbox.
    Compiler,
    /// The interpreter: slower, but runs everywhere and needs no sandbox.
    Interpreter,
}

impl From<Backend> for crate::Backend {
    fn from(backend: Backend) -> Self {
        match backend {
            Backend::Compiler => crate::Backend::Compiler,
            Backend::Interpreter => crate::Backend::Interpreter,
        }
    }
}

/// Engine settings; every field has a default.
#[derive(Clone, Debug, uniffi::Record)]
pub struct EngineConfig {
    /// None: the JIT where this platform supports it, the interpreter otherwise.
    #[uniffi(default = None)]
    pub backend: Option<Backend>,
    /// None (or Auto): polkavm's choice (the Linux sandbox on Linux).
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
            backend: config.backend.map_or(defaults.backend, crate::Backend::from),
            sandbox: config.sandbox.unwrap_or(defaults.sandbox),
            worker_count: config.worker_count,
            allow_dynamic_paging: config.allow_dynamic_paging,
            core_pinning: config.core_pinning.unwrap_or(defaults.core_pinning),
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
