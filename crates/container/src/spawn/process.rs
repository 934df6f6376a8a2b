//! Process attributes applied by init: limits, ids, capabilities, cwd.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::{Step, StepError, StepResult};
use crate::channel::{Channel, Msg};
use crate::plan::ProcessPlan;
use crate::sys;

/// Everything init and exec'd processes do to become the container's
/// process, in order; returns the exec candidate to run. Bounding set
/// before the uid change (dropping needs CAP_SETPCAP); cwd after it, so
/// access is checked as the container's user; seccomp at its two points.
pub fn take_on(p: &ProcessPlan, ch: &Channel) -> StepResult<usize> {
    apply_limits(p)?;
    let early = install_seccomp(p, false)?;
    become_user(p)?;
    enter_cwd(p)?;
    set_caps(p)?;
    let exe = find_exec(p)?;
    let late = install_seccomp(p, true)?;
    send_listener(ch, early.or(late))?;
    Ok(exe)
}

/// rlimits, I/O priority, scheduler, personality and umask.
fn apply_limits(p: &ProcessPlan) -> StepResult {
    for &(res, soft, hard) in &p.rlimits {
        sys::setrlimit(res, soft, hard)
            .step_with(|| format!("setrlimit({res}, {soft}, {hard})"))?;
    }
    if let Some((class, level)) = p.ioprio {
        sys::ioprio_set(class, level).step("ioprio_set")?;
    }
    if let Some(attr) = &p.sched {
        sys::sched_setattr(attr).step("sched_setattr")?;
    }
    if let Some(persona) = p.personality {
        sys::personality(persona).step("personality")?;
    }
    sys::umask(p.umask.unwrap_or(0o022));
    Ok(())
}

/// Drops the bounding set, then changes groups, gid and uid while keeping
/// the permitted capabilities for [`set_caps`].
fn become_user(p: &ProcessPlan) -> StepResult {
    for cap in 0..=p.caps.last_cap {
        if p.caps.bounding & (1u64 << cap) == 0 {
            sys::prctl(libc::PR_CAPBSET_DROP, cap as u64, 0)
                .step_with(|| format!("dropping capability {cap} from the bounding set"))?;
        }
    }
    sys::prctl(libc::PR_SET_KEEPCAPS, 1, 0).step("PR_SET_KEEPCAPS")?;
    sys::setgroups(&p.groups).step("setgroups")?;
    sys::setresgid(p.gid).step_with(|| format!("setresgid({})", p.gid))?;
    sys::setresuid(p.uid).step_with(|| format!("setresuid({})", p.uid))?;
    sys::prctl(libc::PR_SET_KEEPCAPS, 0, 0).step("PR_SET_KEEPCAPS")?;
    Ok(())
}

/// Enters `process.cwd` and proves it lies inside the container's root.
fn enter_cwd(p: &ProcessPlan) -> StepResult {
    sys::chdir(&p.cwd).step_with(|| format!("chdir to cwd {:?}", p.cwd))?;
    match sys::cwd_reachable() {
        Ok(true) => Ok(()),
        _ => Err(StepError(format!(
            "cwd {:?} is outside the container's root",
            p.cwd
        ))),
    }
}

/// Sets effective, permitted and inheritable exactly, then ambient, then
/// no_new_privs.
fn set_caps(p: &ProcessPlan) -> StepResult {
    let c = &p.caps;
    sys::capset(c.effective, c.permitted, c.inheritable).step("capset")?;
    sys::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as u64,
        0,
    )
    .step("clearing ambient capabilities")?;
    for cap in 0..=c.last_cap {
        if c.ambient & (1u64 << cap) != 0 {
            sys::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as u64,
                cap as u64,
            )
            .step_with(|| format!("raising ambient capability {cap}"))?;
        }
    }
    if p.no_new_privs {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).step("PR_SET_NO_NEW_PRIVS")?;
    }
    Ok(())
}

/// Installs the seccomp filter at runc's two points. Without
/// no_new_privs the kernel requires CAP_SYS_ADMIN, so the filter goes in
/// before the ids and capabilities change (`late` false); with it, as
/// late as possible (`late` true), so the fewest of our own syscalls run
/// under the profile. Returns the NOTIFY listener, if the filter has one.
fn install_seccomp(p: &ProcessPlan, late: bool) -> StepResult<Option<OwnedFd>> {
    match &p.seccomp {
        Some(f) if late == p.no_new_privs => {
            berth_seccomp::install(f).step("installing the seccomp filter")
        }
        _ => Ok(None),
    }
}

/// Passes a NOTIFY listener to the runtime, which hands it to the agent.
fn send_listener(ch: &Channel, listener: Option<OwnedFd>) -> StepResult {
    match listener {
        Some(fd) => ch
            .send_fd(&Msg::SeccompListener, fd.as_fd())
            .step("sending the seccomp listener"),
        None => Ok(()),
    }
}

/// Executes candidate `exe` through the exec stub (see `exec_stub`).
/// Where the stub cannot run (a seccomp profile that refuses execveat, a
/// host whose `vm.memfd_noexec` forbids executable memfds) the program is
/// executed directly, as it was before the stub. Returns only on failure.
pub fn exec_program(stub: BorrowedFd<'_>, p: &ProcessPlan, exe: usize) -> std::io::Error {
    let err = sys::execve_fd(stub, &p.stub_argv[exe], &p.envp);
    match err.raw_os_error() {
        Some(libc::EPERM | libc::EACCES | libc::ENOSYS) => {
            sys::execve(&p.exec_candidates[exe], &p.argv, &p.envp)
        }
        _ => err,
    }
}

/// The index of the first exec candidate that exists and is executable
/// here. A file the stub would fail to execute for its format is refused
/// now, while the error can still reach the caller.
fn find_exec(p: &ProcessPlan) -> StepResult<usize> {
    if let Some(i) = p.exec_candidates.iter().position(|c| sys::executable(c)) {
        let c = &p.exec_candidates[i];
        if !sys::executable_format(c) {
            return Err(StepError(format!(
                "exec {:?}: exec format error",
                c.to_string_lossy()
            )));
        }
        return Ok(i);
    }
    let arg0 = p
        .argv
        .strings()
        .first()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    Err(StepError(if arg0.contains('/') {
        format!("exec {arg0:?}: no such executable file")
    } else {
        format!("exec {arg0:?}: executable file not found in $PATH")
    }))
}
