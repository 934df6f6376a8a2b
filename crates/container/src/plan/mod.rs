//! Plans: everything the container's processes need, as plain data built
//! before fork. The child side only applies them.

pub mod mounts;
pub mod namespaces;
pub mod process;
pub mod rootfs;

use std::ffi::CString;
use std::path::Path;

use oci_spec::runtime::Spec;

use crate::hooks::HookPlan;
use crate::Error;
pub use namespaces::NsPlan;
pub use process::ProcessPlan;
pub use rootfs::RootfsPlan;

/// The whole plan for one container's init.
#[derive(Debug)]
pub struct Plan {
    pub ns: NsPlan,
    pub rootfs: RootfsPlan,
    pub process: ProcessPlan,
    pub hostname: Option<CString>,
    pub domainname: Option<CString>,
    /// prestart/createRuntime hooks exist: init pauses for the runtime.
    pub runtime_hooks: bool,
    pub create_container_hooks: Vec<HookPlan>,
    pub start_container_hooks: Vec<HookPlan>,
    /// Descriptors 3..3+N that pass into the container.
    pub preserve_fds: u32,
    /// Give the container its own session keyring (runc's default;
    /// `--no-new-keyring` turns it off).
    pub new_keyring: bool,
    /// `process.terminal`, with `consoleSize` as (rows, columns).
    pub terminal: Option<TerminalPlan>,
}

/// The container's terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalPlan {
    pub size: Option<(u16, u16)>,
}

impl TerminalPlan {
    /// From `process.terminal` and `process.consoleSize`.
    pub fn of(p: &oci_spec::runtime::Process) -> Option<Self> {
        let size = p.console_size().map(|b| {
            (
                b.height().min(u16::MAX as u64) as u16,
                b.width().min(u16::MAX as u64) as u16,
            )
        });
        (p.terminal() == Some(true)).then_some(Self { size })
    }
}

/// Options of `create` that shape the plan.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanFlags {
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub no_new_keyring: bool,
}

impl Plan {
    pub fn build(
        spec: &Spec,
        bundle: &Path,
        rootfs: &Path,
        flags: PlanFlags,
    ) -> Result<Self, Error> {
        let linux = spec.linux().as_ref();
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| Error::invalid("process", "is required"))?;
        let hooks = spec.hooks().as_ref();
        let list = |f: fn(&oci_spec::runtime::Hooks) -> &Option<Vec<oci_spec::runtime::Hook>>| {
            hooks
                .and_then(|h| f(h).as_ref())
                .map(|v| v.iter().map(HookPlan::from).collect())
                .unwrap_or_default()
        };
        let create_container_hooks = list(|h| h.create_container());
        let runtime_hooks = hooks.is_some_and(|h| {
            h.prestart().as_ref().is_some_and(|v| !v.is_empty())
                || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
        });
        let name = |v: &Option<String>, what| {
            v.as_ref()
                .filter(|s| !s.is_empty())
                .map(|s| mounts::cstring(s.as_str(), what))
                .transpose()
        };
        let mut process_plan = ProcessPlan::build(
            process,
            rootfs,
            linux
                .and_then(|l| l.personality().as_ref())
                .map(|p| p.domain()),
        )?;
        process_plan.seccomp = linux
            .and_then(|l| l.seccomp().as_ref())
            .map(berth_seccomp::Filter::compile)
            .transpose()?;
        Ok(Self {
            ns: NsPlan::build(linux)?,
            rootfs: RootfsPlan::build(spec, bundle, rootfs, flags.no_pivot)?,
            process: process_plan,
            hostname: name(spec.hostname(), "hostname")?,
            domainname: name(spec.domainname(), "domainname")?,
            runtime_hooks,
            create_container_hooks,
            start_container_hooks: list(|h| h.start_container()),
            preserve_fds: flags.preserve_fds,
            new_keyring: !flags.no_new_keyring,
            terminal: TerminalPlan::of(process),
        })
    }

    /// Whether init must stop before pivot_root for hooks (runtime ones
    /// run in the runtime, createContainer ones in init itself; both need
    /// the state, which the runtime sends).
    pub fn pause_for_hooks(&self) -> bool {
        self.runtime_hooks || !self.create_container_hooks.is_empty()
    }
}
