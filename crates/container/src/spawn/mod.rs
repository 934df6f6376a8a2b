//! The spawn path: from a plan to a container init waiting for `start`.
//!
//! Three processes take part (see [`crate::channel`] for the messages):
//! 1. the runtime (this module): forks the intermediate (straight into
//!    the v2 cgroup with clone3 where there is one), writes id maps, runs
//!    prestart/createRuntime hooks when init asks, and returns once init
//!    reports `Ready`;
//! 2. the intermediate ([`intermediate`]): moves itself into the v1
//!    cgroups (see [`berth_cgroups::JoinFds`] for why it is the one to do
//!    it), joins namespaces given by path,
//!    creates the user namespace, then the others, and forks init, which a
//!    new pid namespace requires; it exits right after;
//! 3. init ([`init`]): sets up the rootfs and the process, reports `Ready`,
//!    then blocks in accept(2) on `exec.sock` until `start`, runs
//!    startContainer hooks and execs the user's program.
//!
//! Nothing is re-executed: the children inherit the plan in memory.

mod console;
pub mod exec;
mod init;
mod intermediate;
mod listener;
mod process;

use std::os::fd::{AsFd, OwnedFd};

use berth_cgroups::{Cgroup, JoinFds};

use crate::channel::{Channel, Msg};
use crate::hooks::{self, HookPlan};
use crate::plan::Plan;
use crate::sys::{self, Forked};
use crate::Error;

/// An error inside a child, carried back to the runtime as text.
#[derive(Debug)]
pub(crate) struct StepError(pub String);

pub(crate) type StepResult<T = ()> = Result<T, StepError>;

/// Adds the step's name to a child-side failure.
pub(crate) trait Step<T> {
    fn step(self, what: &str) -> StepResult<T>;
    fn step_with(self, what: impl FnOnce() -> String) -> StepResult<T>;
}

impl<T, E: std::fmt::Display> Step<T> for Result<T, E> {
    fn step(self, what: &str) -> StepResult<T> {
        self.map_err(|e| StepError(format!("{what}: {e}")))
    }
    fn step_with(self, what: impl FnOnce() -> String) -> StepResult<T> {
        self.map_err(|e| StepError(format!("{}: {e}", what())))
    }
}

/// Descriptors the container's init keeps: the start gate and, with a
/// terminal, the console socket.
#[derive(Clone, Copy)]
pub struct InitFds<'a> {
    pub exec_listener: &'a OwnedFd,
    pub console: Option<&'a OwnedFd>,
    /// The sealed exec stub (`exec_stub`) the program is started through.
    pub exec_stub: &'a OwnedFd,
}

/// What the runtime needs from the caller while spawning.
pub struct SpawnInput<'a> {
    pub plan: &'a Plan,
    pub cgroup: &'a Cgroup,
    pub fds: InitFds<'a>,
    /// Deprecated prestart hooks, run just before createRuntime.
    pub prestart: &'a [HookPlan],
    pub create_runtime: &'a [HookPlan],
    /// Builds the state JSON (status "creating") for a given init pid.
    pub state_json: &'a dyn Fn(i32) -> Vec<u8>,
}

/// A spawned init, killed on drop unless [`Spawned::keep`] is called.
pub struct Spawned {
    pub pid: i32,
    pidfd: Option<OwnedFd>,
}

impl Spawned {
    pub fn keep(mut self) -> i32 {
        self.pidfd = None;
        self.pid
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(fd) = self.pidfd.take() {
            kill_and_wait(&fd);
            // The runtime is a subreaper during create, so the orphaned
            // init is its child by now: reap it rather than leave a zombie.
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(self.pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
        }
    }
}

/// Sends SIGKILL through a pidfd and waits (bounded) until the process is
/// gone, so that its cgroups can be removed afterwards.
fn kill_and_wait(pidfd: &OwnedFd) {
    let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
    let _ = sys::poll_readable(pidfd.as_fd(), 5000);
}

/// Runs the spawn path; on success init is waiting on `exec.sock`.
pub fn spawn(input: &SpawnInput<'_>) -> Result<Spawned, Error> {
    let (parent, child) = Channel::pair()?;
    let fds = input.fds;
    let join = input.cgroup.join_fds()?;
    let (forked, v2_joined) = fork_intermediate(&join)?;
    match forked {
        Forked::Child => {
            drop(parent);
            intermediate::main(input.plan, child, fds, &join)
        }
        Forked::Parent(ipid) => {
            drop(child);
            let result =
                v2_fallback(&join, v2_joined, ipid).and_then(|()| drive(input, &parent, ipid));
            if result.is_err() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(ipid),
                    nix::sys::signal::SIGKILL,
                );
            }
            reap(ipid);
            result
        }
    }
}

/// Forks the intermediate, straight into the v2 cgroup when there is one
/// and the kernel allows it. Returns whether it was placed there.
pub(super) fn fork_intermediate(join: &JoinFds) -> Result<(Forked, bool), Error> {
    if let Some(dir) = &join.v2_dir {
        match sys::fork_into_cgroup(dir.as_fd()) {
            Ok(f) => return Ok((f, true)),
            // Older kernels, or a cgroup that cannot take processes
            // directly: fork, and let the runtime write the pid.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(
                        libc::ENOSYS | libc::E2BIG | libc::EINVAL | libc::EOPNOTSUPP | libc::EBUSY
                    )
                ) => {}
            Err(e) => return Err(Error::spawn("clone3 into the container's cgroup")(e)),
        }
    }
    let f = sys::fork().map_err(Error::spawn("forking the intermediate process"))?;
    Ok((f, false))
}

/// Writes the intermediate's pid into the v2 cgroup when clone3 could
/// not place it there.
pub(super) fn v2_fallback(join: &JoinFds, joined: bool, ipid: i32) -> Result<(), Error> {
    match &join.v2_procs {
        Some(procs) if !joined => {
            std::fs::write(procs, ipid.to_string()).map_err(Error::io("joining cgroup", procs))
        }
        _ => Ok(()),
    }
}

/// The runtime's side of the handshake.
fn drive(input: &SpawnInput<'_>, ch: &Channel, ipid: i32) -> Result<Spawned, Error> {
    let plan = input.plan;
    if plan.ns.new_user {
        ch.expect("UserNsReady", |m| *m == Msg::UserNsReady)?;
        write_id_maps(ipid, &plan.ns.uid_map, &plan.ns.gid_map)?;
    }
    ch.send(&Msg::Continue)
        .map_err(Error::spawn("sending Continue"))?;
    let Msg::InitPid(pid) = ch.expect("InitPid", |m| matches!(m, Msg::InitPid(_)))? else {
        return Err(Error::ChildGone("InitPid"));
    };
    let pidfd = sys::pidfd_open(pid).map_err(Error::spawn("opening a pidfd for init"))?;
    let spawned = Spawned {
        pid,
        pidfd: Some(pidfd),
    };
    ch.send(&Msg::Go).map_err(Error::spawn("sending Go"))?;
    loop {
        let accept = |m: &Msg| matches!(m, Msg::Ready | Msg::Hooks | Msg::SeccompListener);
        match ch.expect_with_fd("Ready", accept)? {
            (Msg::SeccompListener, fd) => {
                let notify = plan.process.seccomp.as_ref().and_then(|f| f.notify());
                let (Some(notify), Some(fd)) = (notify, fd) else {
                    return Err(Error::ChildGone("the seccomp listener"));
                };
                listener::forward(notify, fd, pid, &(input.state_json)(pid))?;
            }
            (Msg::Hooks, _) => {
                let state = (input.state_json)(pid);
                hooks::run_all("prestart", input.prestart, &state)?;
                hooks::run_all("createRuntime", input.create_runtime, &state)?;
                ch.send(&Msg::HooksDone(state))
                    .map_err(Error::spawn("sending HooksDone"))?;
            }
            _ => return Ok(spawned),
        }
    }
}

fn write_id_maps(pid: i32, uid_map: &str, gid_map: &str) -> Result<(), Error> {
    for (file, map) in [("uid_map", uid_map), ("gid_map", gid_map)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, map).map_err(Error::io("writing user namespace map", path))?;
    }
    Ok(())
}

/// Reaps the intermediate process (it exits as soon as init exists).
pub(super) fn reap(pid: i32) {
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
}
