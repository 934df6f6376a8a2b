//! The spawn path of `exec`: a process that joins a running container.
//!
//! The runtime forks an intermediate (into the v2 cgroup with clone3
//! where there is one) that moves itself into the v1 cgroups, joins every
//! namespace of the container's init (user first) and forks the process,
//! which enters the pid namespace that way. That process sets its limits,
//! ids, cwd and capabilities and executes the program; the handshake
//! socket closes on execve, which tells the runtime it succeeded.
//! No rootfs work: joining the mount namespace puts the process at the
//! container's root.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use berth_cgroups::{Cgroup, JoinFds};

use super::{fork_intermediate, process, reap, v2_fallback, Step, StepError, StepResult};
use crate::channel::{Channel, Msg};
use crate::plan::{ProcessPlan, TerminalPlan};
use crate::sys::{self, Forked};
use crate::Error;

/// What `exec` needs to start its process.
pub struct ExecInput<'a> {
    pub process: &'a ProcessPlan,
    /// Namespaces of the container to join, user first.
    pub joins: &'a [(OwnedFd, i32)],
    pub in_userns: bool,
    pub cgroup: &'a Cgroup,
    pub preserve_fds: u32,
    /// Join the cgroups as the very last step before execve (the
    /// container is paused: an earlier join would freeze the setup).
    pub join_late: bool,
    /// With a terminal: its size and the console socket for the master.
    pub terminal: Option<(TerminalPlan, &'a OwnedFd)>,
    /// The container's state JSON, for a seccomp agent.
    pub state_json: &'a dyn Fn() -> Vec<u8>,
    /// The sealed exec stub (`exec_stub`) the program is started through.
    pub exec_stub: &'a OwnedFd,
}

/// Starts the process; returns its host pid once it has executed the
/// program.
pub fn spawn_exec(input: &ExecInput<'_>) -> Result<i32, Error> {
    let (parent, child) = Channel::pair()?;
    let join = input.cgroup.join_fds()?;
    let (forked, v2_joined) = if input.join_late {
        (
            sys::fork().map_err(Error::spawn("forking the intermediate process"))?,
            true,
        )
    } else {
        fork_intermediate(&join)?
    };
    match forked {
        Forked::Child => {
            drop(parent);
            let result = intermediate(input, &child, &join);
            if let Err(e) = result {
                let _ = child.send(&Msg::Error(e.0));
                sys::exit_now(1);
            }
            sys::exit_now(0)
        }
        Forked::Parent(ipid) => {
            drop(child);
            let result = v2_fallback(&join, v2_joined, ipid)
                .map_err(|e| (e, None))
                .and_then(|()| drive(&parent, input));
            if result.is_err() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(ipid),
                    nix::sys::signal::SIGKILL,
                );
            }
            reap(ipid);
            // Only now, with the intermediate gone, is a failed process our
            // child (we are its subreaper): reap it, for it lives in the
            // container's pid namespace, whose init cannot finish exiting
            // while a zombie of that namespace waits for a reaper.
            result.map_err(|(e, failed)| {
                if let Some(pid) = failed {
                    reap(pid);
                }
                e
            })
        }
    }
}

/// The runtime's side: the pid, then EOF (executed) or an error. A
/// process that failed is killed; its pid comes back with the error.
fn drive(ch: &Channel, input: &ExecInput<'_>) -> Result<i32, (Error, Option<i32>)> {
    ch.send(&Msg::Continue)
        .map_err(|e| (Error::spawn("sending Continue")(e), None))?;
    let Msg::InitPid(pid) = ch
        .expect("InitPid", |m| matches!(m, Msg::InitPid(_)))
        .map_err(|e| (e, None))?
    else {
        return Err((Error::ChildGone("InitPid"), None));
    };
    let err = loop {
        break match ch
            .recv_with_fd()
            .map_err(Error::spawn("reading the handshake"))
        {
            Ok(None) => return Ok(pid),
            // Joining a frozen cgroup last, it executes only once thawed.
            Ok(Some((Msg::Ready, _))) if input.join_late => return Ok(pid),
            Ok(Some((Msg::SeccompListener, Some(fd)))) => {
                let notify = input.process.seccomp.as_ref().and_then(|f| f.notify());
                match notify.map(|n| super::listener::forward(n, fd, pid, &(input.state_json)())) {
                    Some(Ok(())) => continue,
                    Some(Err(e)) => e,
                    None => Error::ChildGone("the seccomp listener"),
                }
            }
            Ok(Some((Msg::Error(e), _))) => Error::Child(e),
            Ok(Some((m, _))) => Error::Protocol {
                expected: "EOF at exec",
                got: format!("{m:?}"),
            },
            Err(e) => e,
        };
    };
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    Err((err, Some(pid)))
}

fn intermediate(input: &ExecInput<'_>, ch: &Channel, cgroups: &JoinFds) -> StepResult {
    sys::prctl(libc::PR_SET_DUMPABLE, 0, 0).step("making the process non-dumpable")?;
    if !input.join_late {
        cgroups
            .join_v1_self()
            .step("joining the container's cgroups")?;
    }
    // The runtime has joined us to the v2 cgroup (without clone3) by now.
    ch.expect("Continue", |m| *m == Msg::Continue)
        .map_err(|e| StepError(e.to_string()))?;
    for (fd, flag) in input.joins {
        sys::setns(fd.as_fd(), *flag)
            .step_with(|| format!("joining the container's namespace {flag:#x}"))?;
    }
    if input.in_userns {
        super::intermediate::become_ns_root()?;
    }
    match sys::fork().step("forking the process")? {
        Forked::Child => {
            let Err(e) = run(input, ch, cgroups);
            let _ = ch.send(&Msg::Error(e.0));
            sys::exit_now(127)
        }
        Forked::Parent(pid) => ch.send(&Msg::InitPid(pid)).step("sending InitPid"),
    }
}

/// The process itself, from fork to execve.
fn run(
    input: &ExecInput<'_>,
    ch: &Channel,
    cgroups: &JoinFds,
) -> StepResult<std::convert::Infallible> {
    let p = input.process;
    let console = input.terminal.map_or(-1, |(_, fd)| fd.as_raw_fd());
    let mut keep = vec![ch.as_fd().as_raw_fd(), console, input.exec_stub.as_raw_fd()];
    if input.join_late {
        keep.extend(cgroups.raw_fds());
    }
    super::init::close_other_fds(input.preserve_fds, &keep)?;
    if let Some((t, socket)) = input.terminal {
        // A new session, whose controlling terminal the pty becomes.
        sys::setsid().step("setsid")?;
        super::console::setup(socket.as_fd(), t.size, false)?;
        let n = socket.as_raw_fd() as u32;
        let _ = sys::close_range(n, n, false);
    }
    let exe = process::take_on(p, ch)?;
    if input.join_late {
        ch.send(&Msg::Ready).step("sending Ready")?;
        cgroups
            .join_all_self()
            .step("joining the container's cgroups")?;
    }
    sys::reset_signals();
    let err = process::exec_program(input.exec_stub.as_fd(), p, exe);
    let path = p.exec_candidates[exe].to_string_lossy();
    Err(StepError(format!("exec {path}: {err}")))
}
