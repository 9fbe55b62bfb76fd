use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What kind of failure an [`Error`] is: the same kinds in every face (UniFFI's `PvmError`
/// variants, the C ABI's `PVM_ERROR_*` from `pvm_last_error_kind`, C++'s `pvm::ErrorKind`). The
/// numbers are the C ABI's; 0 is `PVM_ERROR_NONE`, "no failure recorded".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorKind {
    /// An argument was out of range or otherwise unusable (register index, length, NULL buffer...).
    InvalidArgument = 1,
    /// The bytes given as a program are not a loadable program.
    InvalidProgram = 2,
    /// The requested configuration is not available on this machine or build.
    Unsupported = 3,
    /// polkavm could not create an engine, module or instance (sandbox, system limits).
    Setup = 4,
    /// A guest memory access requested by the host failed.
    Memory = 5,
    /// The call is not valid in the instance's current state (e.g. run before a call was prepared).
    WrongState = 6,
    /// polkavm (or this library) panicked; the panic was caught and the process is unharmed.
    Panic = 7,
    /// A host-call handler failed or asked to stop the run.
    HostAborted = 8,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::InvalidArgument,
        ErrorKind::InvalidProgram,
        ErrorKind::Unsupported,
        ErrorKind::Setup,
        ErrorKind::Memory,
        ErrorKind::WrongState,
        ErrorKind::Panic,
        ErrorKind::HostAborted,
    ];

    /// The kind's name as every face spells it: `InvalidArgument`, `WrongState`, ...
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "InvalidArgument",
            ErrorKind::InvalidProgram => "InvalidProgram",
            ErrorKind::Unsupported => "Unsupported",
            ErrorKind::Setup => "Setup",
            ErrorKind::Memory => "Memory",
            ErrorKind::WrongState => "WrongState",
            ErrorKind::Panic => "Panic",
            ErrorKind::HostAborted => "HostAborted",
        }
    }
}

/// The one error type of the core API: a kind and a human-readable message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// A host-call handler's failure, worded as every face words it: `host call 7 aborted: REASON`.
    pub fn host_aborted(host_call: u32, reason: impl fmt::Display) -> Self {
        Self::new(ErrorKind::HostAborted, format!("host call {host_call} aborted: {reason}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Runs `f`, turning a panic inside it (polkavm panics in a few calls under some
/// configurations) into an [`ErrorKind::Panic`] error naming `what` was being done.
pub(crate) fn catch_panic<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(Error::new(
            ErrorKind::Panic,
            format!("{what}: polkavm panicked: {}", panic_message(&*payload)),
        )),
    }
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_and_the_process_goes_on() {
        let error = catch_panic::<()>("freeing pages", || panic!("not implemented")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Panic);
        assert_eq!(error.message(), "freeing pages: polkavm panicked: not implemented");
        let error = catch_panic::<()>("sbrk", || panic!("{} pages", 3)).unwrap_err();
        assert_eq!(error.message(), "sbrk: polkavm panicked: 3 pages");
        assert_eq!(catch_panic("fine", || Ok(7)), Ok(7));
    }
}
