use std::io;
use std::path::PathBuf;

/// Errors of cgroup detection, placement and cleanup.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mount table could not be read.
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    /// No cgroup hierarchy is mounted.
    #[error("no cgroup filesystem is mounted")]
    NoHierarchy,
    /// The caller's own cgroup could not be found for a hierarchy.
    #[error("cannot find the caller's cgroup for hierarchy {0}")]
    CallerCgroup(String),
    /// `cgroupsPath` is not a form this runtime accepts.
    #[error("linux.cgroupsPath {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// Creating a cgroup directory failed.
    #[error("creating cgroup {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    /// Writing a cgroup control file failed.
    #[error("writing {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },
    /// Removing a cgroup directory failed.
    #[error("removing cgroup {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },
    /// A resource limit cannot be applied as given (`field` is the path
    /// under `linux.resources`).
    #[error("config field linux.resources.{field}: {reason}")]
    Resources { field: String, reason: String },
    /// A device rule cannot be expressed on this host.
    #[error("linux.resources.devices: {0}")]
    Devices(String),
    /// Something this host needs is not implemented yet.
    #[error("{0} is not supported yet")]
    Unsupported(String),
    /// Another operation on a cgroup file failed.
    #[error("{what} ({path}): {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}
