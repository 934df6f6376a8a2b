use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Why an image cannot be read or unpacked.
#[derive(Debug, Error)]
pub enum Error {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{0}")]
    Read(String),
    #[error("{what}: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },
    #[error("blob {digest}: {reason}")]
    Blob { digest: String, reason: String },
    #[error("layer {layer}, entry {entry:?}: {reason}")]
    Entry {
        layer: String,
        entry: String,
        reason: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0} is not supported")]
    Unsupported(String),
}

impl Error {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { what, path, source }
    }

    pub(crate) fn blob(digest: impl ToString, reason: impl Into<String>) -> Error {
        Error::Blob {
            digest: digest.to_string(),
            reason: reason.into(),
        }
    }
}
