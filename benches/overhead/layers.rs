//! One benchmark workload, run through each layer: polkavm called directly (the floor), the
//! polkavm-ffi core, the C ABI called from Rust, and external runners (C, Python, Kotlin...).

/// Gas for benchmark runs: never the reason a run stops.
pub const GAS: i64 = i64::MAX / 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Interpreter,
    Compiler,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Interpreter => "interpreter",
            BackendKind::Compiler => "compiler",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// `host_loop(n)`: n `ecalli`s; the host reads A0, writes A2, resumes. Result: ns per host call.
    HostCalls,
    /// `sum(n)`: a loop of n iterations without host calls. Result: ns per run.
    Compute,
    /// n times: instantiate, prepare `add(40, 2)`, run, read A0, free. Result: ns per invocation.
    Invocations,
    /// n times: load (parse, validate, compile) the large program. Result: ns per load.
    Load,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [Scenario::HostCalls, Scenario::Compute, Scenario::Invocations, Scenario::Load];

    /// The name external runners receive as their first argument.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::HostCalls => "host_calls",
            Scenario::Compute => "compute",
            Scenario::Invocations => "invocations",
            Scenario::Load => "load",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Scenario::HostCalls => "per host call",
            Scenario::Compute => "per run",
            Scenario::Invocations => "per invocation",
            Scenario::Load => "per load",
        }
    }

    /// The batch size `n` of one sample.
    pub fn batch(self, backend: BackendKind) -> u64 {
        match (self, backend) {
            (Scenario::HostCalls, BackendKind::Interpreter) => 50_000,
            (Scenario::HostCalls, BackendKind::Compiler) => 10_000,
            (Scenario::Compute, BackendKind::Interpreter) => 2_000_000,
            (Scenario::Compute, BackendKind::Compiler) => 50_000_000,
            (Scenario::Invocations, BackendKind::Interpreter) => 5_000,
            (Scenario::Invocations, BackendKind::Compiler) => 1_000,
            (Scenario::Load, BackendKind::Interpreter) => 10,
            (Scenario::Load, BackendKind::Compiler) => 3,
        }
    }
}

/// A way of running the workloads. Each method runs one batch and returns nanoseconds per unit
/// (see [`Scenario::unit`]); setup (engine, module, instance) is not timed except where it is the
/// workload.
pub trait Layer {
    fn name(&self) -> String;
    fn run(&mut self, scenario: Scenario, n: u64) -> f64;
}

/// The test program's exports that the timed calls run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// `host_loop(n)`: n host calls; the host reads A0 and writes it to A2.
    HostLoop,
    /// `sum(n)`: 1 + 2 + ... + n in a loop.
    Sum,
}

/// The workloads as a Rust layer provides them; [`Layer::run`] times them and checks results.
pub trait Workloads {
    fn name(&self) -> String;
    /// Runs `export(n)` on the layer's instance, serving host calls; returns A0.
    fn call(&mut self, export: Export, n: u64) -> u64;
    /// n times: instantiate, prepare `add(40, 2)`, run, read A0 (passing it to [`check_add`]), free.
    fn invocations(&mut self, n: u64);
    /// n times: load the large program and free it.
    fn loads(&mut self, n: u64);
}

impl<T: Workloads> Layer for T {
    fn name(&self) -> String {
        Workloads::name(self)
    }

    fn run(&mut self, scenario: Scenario, n: u64) -> f64 {
        let start = std::time::Instant::now();
        let result = match scenario {
            Scenario::HostCalls => Some(self.call(Export::HostLoop, n)),
            Scenario::Compute => Some(self.call(Export::Sum, n)),
            Scenario::Invocations => {
                self.invocations(n);
                None
            }
            Scenario::Load => {
                self.loads(n);
                None
            }
        };
        let elapsed = start.elapsed().as_nanos() as f64;
        match (scenario, result) {
            (Scenario::HostCalls, Some(a0)) => assert_eq!(a0, n, "host_loop must return the number of host calls made"),
            (Scenario::Compute, Some(a0)) => assert_eq!(a0, n * (n + 1) / 2, "sum(n) must return 1 + 2 + ... + n"),
            _ => {}
        }
        if scenario == Scenario::Compute {
            elapsed
        } else {
            elapsed / n as f64
        }
    }
}

/// The check every layer makes on each invocation's result, so that no layer is fast by doing less.
pub fn check_add(a0: u64) {
    assert_eq!(a0, 42, "add(40, 2) must return 42");
}
