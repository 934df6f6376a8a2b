use thiserror::Error;

/// Why a seccomp profile cannot be compiled or installed.
#[derive(Debug, Error)]
pub enum Error {
    #[error("linux.seccomp.{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("linux.seccomp: the filter needs {0} instructions, more than the kernel's 4096")]
    TooLarge(usize),
    #[error("seccomp filter generation: {0}")]
    Internal(&'static str),
    #[error("seccomp filters are only built for x86_64 hosts")]
    UnsupportedHost,
}

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
