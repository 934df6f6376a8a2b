//! Seccomp filters from runtime-spec's `linux.seccomp`, with the semantics
//! runc gives them through libseccomp, and no C library.
//!
//! seccompiler (rust-vmm) compiles the argument conditions of each rule;
//! this crate adds what it cannot express (`../shared/notes/crates.md`):
//! a different action and errno per rule in one filter, the i386 and x32
//! ABIs of an x86_64 kernel, NOTIFY with a listener, the filter flags, and
//! a binary search over syscall numbers instead of a linear scan (see
//! [`codegen`]). Compilation happens in the runtime before any fork;
//! [`install`] is one syscall and allocates nothing, so it can run last
//! in the container's init, just before execve.

mod arch;
mod codegen;
mod error;
mod install;
mod profile;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use oci_spec::runtime::LinuxSeccomp;

pub use error::Error;
pub use install::install;

/// A compiled filter, ready to install.
#[derive(Debug, Clone)]
pub struct Filter {
    program: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
    notify: Option<Notify>,
}

/// Where the listener of a filter with SCMP_ACT_NOTIFY rules goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub listener_path: PathBuf,
    pub metadata: String,
}

impl Filter {
    /// Validates and compiles `spec`. Unknown syscall names are skipped,
    /// as runc does; everything else that cannot be honoured is an error
    /// naming the field.
    pub fn compile(spec: &LinuxSeccomp) -> Result<Self, Error> {
        let profile = profile::Profile::from_spec(spec)?;
        let program = codegen::generate(&profile)?;
        Ok(Filter {
            program,
            flags: profile.flags,
            notify: profile.notify,
        })
    }

    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// The listener's destination when the filter has NOTIFY rules.
    pub fn notify(&self) -> Option<&Notify> {
        self.notify.as_ref()
    }
}
