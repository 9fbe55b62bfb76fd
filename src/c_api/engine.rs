//! C ABI: engines (backend, sandbox, workers).

use super::*;

/// Default engine settings: automatic backend and sandbox, 2 workers, no dynamic paging,
/// polkavm's core pinning, polkavm's (naive) cost model.
#[no_mangle]
pub extern "C" fn pvm_engine_config_default() -> PvmEngineConfig {
    PvmEngineConfig {
        backend: PVM_BACKEND_AUTO,
        sandbox: PVM_SANDBOX_AUTO,
        worker_count: 2,
        allow_dynamic_paging: 0,
        core_pinning: PVM_CORE_PINNING_CORE,
        reserved: [0; 2],
        default_cost_model: PVM_COST_MODEL_DEFAULT,
    }
}

fn engine_config(config: &PvmEngineConfig) -> Result<EngineConfig> {
    let backend = match config.backend {
        PVM_BACKEND_AUTO => Backend::Auto,
        PVM_BACKEND_COMPILER => Backend::Compiler,
        PVM_BACKEND_INTERPRETER => Backend::Interpreter,
        other => return Err(Error::invalid_argument(format!("unknown backend {other}"))),
    };
    let sandbox = match config.sandbox {
        PVM_SANDBOX_AUTO => Sandbox::Auto,
        PVM_SANDBOX_LINUX => Sandbox::Linux,
        PVM_SANDBOX_GENERIC => Sandbox::Generic,
        other => return Err(Error::invalid_argument(format!("unknown sandbox {other}"))),
    };
    let core_pinning = match config.core_pinning {
        PVM_CORE_PINNING_CORE => CorePinning::PinToCore,
        PVM_CORE_PINNING_CCX => CorePinning::PinToCcx,
        PVM_CORE_PINNING_DISABLED => CorePinning::Disabled,
        other => return Err(Error::invalid_argument(format!("unknown core pinning {other}"))),
    };
    if config.reserved != [0; 2] {
        return Err(Error::invalid_argument("reserved engine config fields must be zero"));
    }
    Ok(EngineConfig {
        backend,
        sandbox,
        worker_count: config.worker_count,
        allow_dynamic_paging: flag(config.allow_dynamic_paging, "allow_dynamic_paging")?,
        core_pinning,
        default_cost_model: cost_model(config.default_cost_model)?.unwrap_or(CostModel::Naive),
    })
}

/// A new engine with the given settings, or NULL on failure (NULL `config`, an unknown value,
/// a backend or sandbox this machine cannot provide). Free with `pvm_engine_free`.
///
/// # Safety
/// `config` is NULL or points to a readable `PvmEngineConfig`.
#[no_mangle]
pub unsafe extern "C" fn pvm_engine_new_with_config(config: *const PvmEngineConfig) -> PvmEngine {
    guard(std::ptr::null_mut(), || {
        let config = caller_value(config, "config")?;
        let engine = Engine::new(&engine_config(config)?)?;
        Ok(into_handle(ENGINE_TAG, engine))
    })
}

/// A new engine with the JIT (recompiler) backend, or NULL on failure (e.g. a platform without it).
#[no_mangle]
pub extern "C" fn pvm_engine_new() -> PvmEngine {
    let config = PvmEngineConfig { backend: PVM_BACKEND_COMPILER, ..pvm_engine_config_default() };
    unsafe { pvm_engine_new_with_config(&config) }
}

/// A new engine with the interpreter backend, or NULL on failure.
#[no_mangle]
pub extern "C" fn pvm_engine_new_interpreter() -> PvmEngine {
    let config = PvmEngineConfig { backend: PVM_BACKEND_INTERPRETER, ..pvm_engine_config_default() };
    unsafe { pvm_engine_new_with_config(&config) }
}

/// The backend the engine uses (`PVM_BACKEND_COMPILER` or `PVM_BACKEND_INTERPRETER`); 0 for a NULL
/// or invalid handle.
///
/// # Safety
/// `engine` is NULL or a live engine handle.
#[no_mangle]
pub unsafe extern "C" fn pvm_engine_backend(engine: PvmEngine) -> u32 {
    guard(0, || {
        Ok(match engine_arg(engine)?.backend() {
            Backend::Interpreter => PVM_BACKEND_INTERPRETER,
            _ => PVM_BACKEND_COMPILER,
        })
    })
}

/// Frees an engine. Modules and instances made from it stay usable. NULL is ignored.
///
/// # Safety
/// `engine` is NULL or a live engine handle.
/// No other thread uses the handle during the call, and nobody uses it afterwards.
#[no_mangle]
pub unsafe extern "C" fn pvm_engine_free(engine: PvmEngine) {
    if !engine.is_null() {
        guard((), || free_handle::<Engine, _>(engine, ENGINE_TAG, "engine"))
    }
}
