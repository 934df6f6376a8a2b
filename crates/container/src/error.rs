use std::io;
use std::path::PathBuf;

/// Errors of the runtime library. Each variant names the step that failed
/// and carries the object (id, path, field) it failed on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    #[error("reading {path}: {source}")]
    ReadConfig { path: PathBuf, source: io::Error },
    #[error("{path}: field {field}: {message}")]
    ParseConfig {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error("config field {field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("config field {field}: {reason} is not supported yet")]
    Unsupported { field: String, reason: String },
    #[error("container {0:?} already exists")]
    Exists(String),
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("container {id:?} is {status}: cannot {op}")]
    WrongStatus {
        id: String,
        status: crate::Status,
        op: &'static str,
    },
    #[error("state of container {id:?} at {path}: {source}")]
    State {
        id: String,
        path: PathBuf,
        source: io::Error,
    },
    #[error("state file {path} is corrupt: {source}")]
    StateCorrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::Error),
    #[error(transparent)]
    Seccomp(#[from] berth_seccomp::Error),
    #[error("{step}: {source}")]
    Spawn {
        step: &'static str,
        source: io::Error,
    },
    #[error("inside the container: {0}")]
    Child(String),
    #[error("container init exited before {0}")]
    ChildGone(&'static str),
    #[error("protocol error: expected {expected}, got {got}")]
    Protocol { expected: &'static str, got: String },
    #[error("{kind} hook {path}: {reason}")]
    Hook {
        kind: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("starting container {id:?}: {reason}")]
    Start { id: String, reason: String },
    #[error("signalling container {id:?}: {source}")]
    Signal { id: String, source: io::Error },
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { what, path, source }
    }

    pub(crate) fn spawn(step: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Error::Spawn { step, source }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Unsupported {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
