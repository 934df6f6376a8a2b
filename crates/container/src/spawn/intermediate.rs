//! The intermediate process: namespaces, then the fork that makes init.

use std::os::fd::{AsFd, AsRawFd};

use berth_cgroups::JoinFds;

use super::{init, InitFds, Step, StepResult};
use crate::channel::{Channel, Msg};
use crate::plan::Plan;
use crate::sys::{self, Forked};

/// Entry point after the runtime's fork. Never returns.
pub fn main(plan: &Plan, ch: Channel, fds: InitFds<'_>, cgroups: &JoinFds) -> ! {
    match run(plan, &ch, fds, cgroups) {
        Ok(()) => sys::exit_now(0),
        Err(e) => {
            let _ = ch.send(&Msg::Error(e.0));
            sys::exit_now(1)
        }
    }
}

fn run(plan: &Plan, ch: &Channel, fds: InitFds<'_>, cgroups: &JoinFds) -> StepResult {
    sys::prctl(libc::PR_SET_DUMPABLE, 0, 0).step("making the process non-dumpable")?;
    // Into the cgroups first, while still in the host's namespaces and
    // before anything is forked or a cgroup namespace is made.
    cgroups
        .join_v1_self()
        .step("joining the container's cgroups")?;
    // The /proc/self files of a non-dumpable process belong to the host's
    // root, which a user namespace's root cannot open for writing: set
    // oom_score_adj now, and open the time offsets file now (the kernel
    // checks the opener's credentials), to write it once the namespace
    // exists.
    if let Some(adj) = plan.process.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .step("setting oom_score_adj")?;
    }
    let offsets_file = match plan.ns.time_offsets {
        Some(_) => Some(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/proc/self/timens_offsets")
                .step("opening time namespace offsets")?,
        ),
        None => None,
    };
    // Joined namespaces first (user first among them), while the process
    // still has the host's capabilities, then the new user namespace.
    for (fd, flag) in &plan.ns.joins {
        sys::setns(fd.as_fd(), *flag)
            .step_with(|| format!("joining namespace {flag:#x} (fd {})", fd.as_raw_fd()))?;
    }
    if plan.ns.new_user {
        sys::unshare(libc::CLONE_NEWUSER).step("creating the user namespace")?;
        ch.send(&Msg::UserNsReady).step("sending UserNsReady")?;
    }
    // The runtime has written the id maps (and, without clone3, joined
    // the v2 cgroup) before this.
    ch.expect("Continue", |m| *m == Msg::Continue)
        .map_err(|e| super::StepError(e.to_string()))?;
    if plan.ns.in_userns {
        become_ns_root()?;
    }
    sys::unshare(plan.ns.unshare).step("creating namespaces")?;
    if let (Some(mut file), Some(offsets)) = (offsets_file, &plan.ns.time_offsets) {
        std::io::Write::write_all(&mut file, offsets.as_bytes())
            .step("writing time namespace offsets")?;
    }
    match sys::fork().step("forking init")? {
        Forked::Child => init::main(plan, ch, fds),
        Forked::Parent(pid) => ch.send(&Msg::InitPid(pid)).step("sending InitPid"),
    }
}

/// Root inside the new user namespace, when the maps give it a root.
pub(super) fn become_ns_root() -> StepResult {
    for (what, res) in [
        ("setresgid(0)", sys::setresgid(0)),
        ("setresuid(0)", sys::setresuid(0)),
    ] {
        match res {
            Ok(()) => {}
            // No mapping for 0: init's own setresuid will pick the ids.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => {
                return Err(super::StepError(format!(
                    "{what} in the user namespace: {e}"
                )))
            }
        }
    }
    Ok(())
}
