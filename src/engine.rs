use std::sync::Arc;

use crate::error::{catch_panic, Error, ErrorKind, Result};
use crate::module::CostModel;

/// Which polkavm backend runs the guest code. The numbers are the C ABI's `PVM_BACKEND_*`.
/// (UniFFI has its own `Backend`, without `Auto`: see docs/design.md.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Backend {
    /// The compiler where this platform supports it, the interpreter otherwise.
    Auto = 0,
    /// The JIT ("recompiler"): guest code is compiled to native code and runs in a sandbox.
    Compiler = 1,
    /// The interpreter: slower, but runs everywhere and needs no sandbox.
    Interpreter = 2,
}

/// Which sandbox isolates JIT-compiled guest code (ignored by the interpreter). The numbers are
/// the C ABI's `PVM_SANDBOX_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[repr(u32)]
pub enum Sandbox {
    /// polkavm's choice: the Linux sandbox on Linux.
    Auto = 0,
    /// Separate, seccomp-locked worker processes. Dynamic paging needs userfaultfd with it.
    Linux = 1,
    /// In-process signal-handler based sandbox. polkavm marks it experimental (not production ready).
    Generic = 2,
}

/// How the host thread is pinned to CPU cores while it runs JIT code (Linux sandbox only).
/// polkavm's names; the numbers are the C ABI's `PVM_CORE_PINNING_*` (`CORE`, `CCX`, `DISABLED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[repr(u32)]
pub enum CorePinning {
    /// polkavm's default: pin to one core.
    PinToCore = 0,
    /// Pin to one CCX (a group of cores sharing a cache).
    PinToCcx = 1,
    /// Leave thread affinity alone.
    Disabled = 2,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    pub backend: Backend,
    pub sandbox: Sandbox,
    /// Sandbox worker processes kept ready for new instances; polkavm's default is 2.
    pub worker_count: u32,
    /// Must be true for modules that use dynamic paging (JAM mode). With the Linux sandbox this
    /// needs userfaultfd, which many systems deny to unprivileged processes.
    pub allow_dynamic_paging: bool,
    pub core_pinning: CorePinning,
    /// The cost model of modules that do not choose one; default [`CostModel::Naive`], polkavm's.
    pub default_cost_model: CostModel,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            backend: Backend::Auto,
            sandbox: Sandbox::Auto,
            worker_count: 2,
            allow_dynamic_paging: false,
            core_pinning: CorePinning::PinToCore,
            default_cost_model: CostModel::Naive,
        }
    }
}

/// What to do about a polkavm error `text` that names userfaultfd (empty for any other error).
pub(crate) fn userfaultfd_hint(text: &str) -> &'static str {
    if text.contains("userfaultfd") {
        "; dynamic paging with the Linux sandbox needs userfaultfd: allow it with \
         'sysctl -w vm.unprivileged_userfaultfd=1', or use the interpreter, or the generic sandbox \
         (experimental in polkavm)"
    } else {
        ""
    }
}

/// A polkavm engine: the backend, its sandbox and its worker pool. Cheap to clone (shared).
/// Shareable between threads.
#[derive(Clone)]
pub struct Engine {
    raw: Arc<polkavm::Engine>,
    config: EngineConfig,
}

impl Engine {
    pub fn new(config: &EngineConfig) -> Result<Engine> {
        let mut raw_config = polkavm::Config::new();
        raw_config.set_backend(match config.backend {
            Backend::Auto => None,
            Backend::Compiler => Some(polkavm::BackendKind::Compiler),
            Backend::Interpreter => Some(polkavm::BackendKind::Interpreter),
        });
        raw_config.set_sandbox(match config.sandbox {
            Sandbox::Auto => None,
            Sandbox::Linux => Some(polkavm::SandboxKind::Linux),
            Sandbox::Generic => Some(polkavm::SandboxKind::Generic),
        });
        if config.sandbox == Sandbox::Generic {
            if !cfg!(feature = "generic-sandbox") {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "the generic sandbox is not compiled in: build polkavm-ffi with its 'generic-sandbox' feature",
                ));
            }
            // polkavm refuses its generic sandbox unless experimental features are allowed.
            raw_config.set_allow_experimental(true);
        }
        raw_config.set_worker_count(config.worker_count as usize);
        raw_config.set_allow_dynamic_paging(config.allow_dynamic_paging);
        raw_config.set_core_pinning(match config.core_pinning {
            CorePinning::PinToCore => polkavm::CorePinning::PinToCore,
            CorePinning::PinToCcx => polkavm::CorePinning::PinToCcx,
            CorePinning::Disabled => polkavm::CorePinning::Disabled,
        });

        let raw = catch_panic("creating an engine", || {
            polkavm::Engine::new(&raw_config).map_err(|error| {
                let text = error.to_string();
                let kind = if text.contains("not supported") { ErrorKind::Unsupported } else { ErrorKind::Setup };
                Error::new(kind, format!("failed to create the engine: {text}{}", userfaultfd_hint(&text)))
            })
        })?;
        Ok(Engine { raw: Arc::new(raw), config: config.clone() })
    }

    /// The backend actually selected (never [`Backend::Auto`]).
    pub fn backend(&self) -> Backend {
        match self.raw.backend() {
            polkavm::BackendKind::Compiler => Backend::Compiler,
            polkavm::BackendKind::Interpreter => Backend::Interpreter,
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn raw(&self) -> &polkavm::Engine {
        &self.raw
    }
}
