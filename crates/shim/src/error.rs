//! The shim's errors, and how they reach containerd (ttrpc status codes).

use containerd_shim::protos::ttrpc;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The runtime refused or failed; its own message.
    #[error("{0}")]
    Runtime(String),
    /// No such process in this shim.
    #[error("{0} not found")]
    NotFound(String),
    /// The request does not fit the process's state.
    #[error("{0}")]
    Precondition(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0} is not supported by containerd-shim-berth-v2")]
    Unsupported(&'static str),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}

impl From<Error> for ttrpc::Error {
    fn from(e: Error) -> Self {
        let code = match e {
            Error::NotFound(_) => ttrpc::Code::NOT_FOUND,
            Error::Precondition(_) => ttrpc::Code::FAILED_PRECONDITION,
            Error::InvalidArgument(_) => ttrpc::Code::INVALID_ARGUMENT,
            Error::Unsupported(_) => ttrpc::Code::UNIMPLEMENTED,
            Error::Runtime(_) | Error::Io { .. } => ttrpc::Code::UNKNOWN,
        };
        ttrpc::Error::RpcStatus(ttrpc::get_status(code, e.to_string()))
    }
}
