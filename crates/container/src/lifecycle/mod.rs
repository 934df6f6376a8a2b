//! One public function per runtime operation.

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod kill;
mod netdev;
mod notify;
pub mod pause;
pub mod query;
pub mod run;
pub mod start;
mod terminal;
pub mod update;

use std::os::fd::AsFd;

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::path::Path;

use berth_cgroups::Cgroup;

use crate::hooks::{self, HookPlan};
use crate::state::{ContainerState, StateDir, Status};
use crate::sys;
use crate::Error;

/// Loads a container's state under its lock; a directory without state
/// is a container whose create has not finished.
fn open(root: &Path, id: &str) -> Result<(StateDir, ContainerState), Error> {
    let dir = StateDir::open(root, id)?;
    match dir.load()? {
        Some(state) => Ok((dir, state)),
        None => Err(Error::WrongStatus {
            id: id.into(),
            status: Status::Creating,
            op: "operate on a container that is still being created",
        }),
    }
}

/// Kills whatever is left in the container's cgroup and the init, waiting
/// for each to be gone.
/// Kills the container's processes and waits for them: init, and when
/// the container shares a pid namespace (so init's death ends nothing
/// else), every process in its cgroup too, as runc does.
fn kill_all(state: &ContainerState, cgroup: &Cgroup, paused: bool) {
    let mut pids = if state.own_pid_ns {
        Vec::new()
    } else {
        cgroup.procs()
    };
    if state.pid > 0 && crate::state::process_alive(state.pid, state.start_time) {
        pids.push(state.pid);
    }
    let (fds, pids): (Vec<_>, Vec<_>) = pids
        .into_iter()
        .filter_map(|p| sys::pidfd_open(p).ok().map(|fd| (fd, p)))
        .unzip();
    for fd in &fds {
        let _ = sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
    }
    // Frozen processes cannot act on SIGKILL: thaw a paused container.
    if paused {
        let _ = cgroup.set_frozen(false);
    }
    for (fd, pid) in fds.iter().zip(pids) {
        let _ = sys::poll_readable(fd.as_fd(), 5000);
        // Reap it when it is our child (run, or a create that failed).
        let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
    }
}

/// Step 12 and 13 of the lifecycle: undo create (processes, cgroups, the
/// state directory), then run poststop hooks, whose failures only warn.
fn destroy(dir: StateDir, state: &ContainerState) -> Result<(), Error> {
    let cgroup = Cgroup::from_record(state.cgroup.clone());
    kill_all(state, &cgroup, dir.path.join(crate::state::PAUSED).exists());
    let cg = cgroup.remove();
    dir.remove()?;
    tracing::debug!("{}: destroyed", state.id);
    let poststop: Vec<HookPlan> = state.poststop.iter().map(HookPlan::from).collect();
    hooks::run_all_warn(
        "poststop",
        &poststop,
        &state.spec_state_json(Status::Stopped),
    );
    cg.map_err(Error::from)
}
