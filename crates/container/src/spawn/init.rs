//! The container's init, from fork to execve. The order of the steps is
//! the order of [`run`]; each forced ordering says why.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use super::{console, process, InitFds};
use super::{Step, StepError, StepResult};
use crate::channel::{Channel, Msg};
use crate::hooks;
use crate::plan::Plan;
use crate::rootfs;
use crate::sys;

/// Entry point after the intermediate's fork. Never returns.
pub fn main(plan: &Plan, ch: &Channel, fds: InitFds<'_>) -> ! {
    let Err(e) = run(plan, ch, fds);
    let _ = ch.send(&Msg::Error(e.0));
    sys::exit_now(1)
}

fn run(plan: &Plan, ch: &Channel, fds: InitFds<'_>) -> StepResult<Infallible> {
    let exec_listener = fds.exec_listener;
    sys::prctl(libc::PR_SET_DUMPABLE, 0, 0).step("making init non-dumpable")?;
    close_other_fds(
        plan.preserve_fds,
        &[
            ch.as_fd().as_raw_fd(),
            exec_listener.as_raw_fd(),
            fds.exec_stub.as_raw_fd(),
            fds.console.map_or(-1, |c| c.as_raw_fd()),
        ],
    )?;
    sys::setsid().step("setsid")?;
    if plan.new_keyring {
        // Keys of the caller's session must not be reachable from inside.
        sys::join_new_session_keyring().step("creating a session keyring")?;
    }
    // Device nodes and mount points get exactly the modes the plan says.
    sys::umask(0);
    // The runtime must learn init's pid before init may talk to it.
    ch.expect("Go", |m| *m == Msg::Go)
        .map_err(|e| StepError(e.to_string()))?;

    let root = rootfs::prepare(&plan.rootfs)?;
    rootfs::mount_all(&root, &plan.rootfs, plan.ns.in_userns, plan.ns.new_cgroup)?;
    rootfs::setup_dev(&root, &plan.rootfs, plan.ns.in_userns)?;
    rootfs::ensure_cwd(&root, &plan.rootfs)?;
    if plan.pause_for_hooks() {
        // prestart/createRuntime run in the runtime, createContainer here:
        // all after the mounts and before pivot_root, as runtime-spec says.
        ch.send(&Msg::Hooks).step("asking for hooks")?;
        let Msg::HooksDone(state) = ch
            .expect("HooksDone", |m| matches!(m, Msg::HooksDone(_)))
            .map_err(|e| StepError(e.to_string()))?
        else {
            return Err(StepError("no state for hooks".into()));
        };
        hooks::run_all("createContainer", &plan.create_container_hooks, &state)
            .step("createContainer hooks")?;
    }
    // Sysctls go through the container's /proc before /proc/sys is made
    // read-only, and both before pivot_root while the root fd is at hand.
    rootfs::write_sysctls(&root, &plan.rootfs)?;
    rootfs::readonly_paths(&root, &plan.rootfs)?;
    rootfs::mask_paths(&root, &plan.rootfs)?;
    rootfs::enter(root, &plan.rootfs)?;
    // The pty comes from the container's own devpts, so after pivot_root;
    // /dev/console is mounted before the root may turn read-only.
    if let (Some(t), Some(socket)) = (&plan.terminal, fds.console) {
        console::setup(socket.as_fd(), t.size, true)?;
        let n = socket.as_raw_fd() as u32;
        let _ = sys::close_range(n, n, false);
    }
    rootfs::finish(&plan.rootfs)?;
    if let Some(h) = &plan.hostname {
        sys::sethostname(h.as_bytes()).step("sethostname")?;
    }
    if let Some(d) = &plan.domainname {
        sys::setdomainname(d.as_bytes()).step("setdomainname")?;
    }
    let p = &plan.process;
    let exe = process::take_on(p, ch)?;
    ch.send(&Msg::Ready).step("sending Ready")?;
    if plan.start_container_hooks.is_empty() {
        // Wait for start inside the exec stub, so that no process of the
        // created container runs the runtime's image (exec_stub.rs).
        // startContainer hooks need the runtime's code: then init waits.
        // The listener must survive into the stub, which closes it.
        sys::set_cloexec(exec_listener.as_fd(), false).step("passing the start socket")?;
        sys::reset_signals();
        let mut name = [0u8; 16];
        let argv0 = stub_wait_name(&mut name, exec_listener.as_raw_fd());
        let stub = fds.exec_stub.as_fd();
        let _refused = sys::execve_fd_argv0(stub, argv0, &p.stub_argv[exe], &p.envp);
        // A stub that cannot run (see exec_program): wait here instead.
        sys::set_cloexec(exec_listener.as_fd(), true).step("passing the start socket")?;
    }
    wait_for_start(plan, exec_listener, exe, fds.exec_stub)
}

/// `W<fd>` in `buf`, NUL-terminated, without allocating.
fn stub_wait_name(buf: &mut [u8; 16], fd: i32) -> &std::ffi::CStr {
    let mut digits = [0u8; 10];
    let mut n = fd.max(0) as u32;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf[0] = b'W';
    for i in 0..len {
        buf[1 + i] = digits[len - 1 - i];
    }
    buf[1 + len] = 0;
    std::ffi::CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"W")
}

/// Closes every descriptor except stdio, the preserved ones and `keep`
/// (negative entries mean "none"), so nothing of the host reaches the
/// container (CVE-2024-21626 class).
pub(super) fn close_other_fds(preserve: u32, keep: &[i32]) -> StepResult {
    let mut keep: Vec<u32> = keep.iter().filter_map(|&k| u32::try_from(k).ok()).collect();
    keep.sort_unstable();
    let mut next = 3 + preserve;
    for k in keep {
        if k > next {
            sys::close_range(next, k - 1, false).step("closing descriptors")?;
        }
        next = next.max(k + 1);
    }
    sys::close_range(next, u32::MAX, false).step("closing descriptors")
}

/// Blocks until `start` connects, reads the state it sends, runs the
/// startContainer hooks and executes the program. Failures are written
/// back on the connection, which `start` reports.
fn wait_for_start(
    plan: &Plan,
    listener: &OwnedFd,
    exe: usize,
    stub: &OwnedFd,
) -> StepResult<Infallible> {
    let conn = loop {
        match nix::sys::socket::accept4(
            listener.as_raw_fd(),
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        ) {
            Ok(fd) => break fd,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(StepError(format!("waiting for start: {e}"))),
        }
    };
    // SAFETY: accept4 just returned this descriptor and nothing else owns it.
    let mut conn = UnixStream::from(unsafe { OwnedFd::from_raw_fd(conn) });
    let _ = sys::close_range(
        listener.as_raw_fd() as u32,
        listener.as_raw_fd() as u32,
        false,
    );
    let mut state = Vec::new();
    let result = conn
        .read_to_end(&mut state)
        .step("reading the state from start")
        .and_then(|_| {
            hooks::run_all("startContainer", &plan.start_container_hooks, &state)
                .step("startContainer hooks")
        });
    if let Err(e) = result {
        let _ = conn.write_all(e.0.as_bytes());
        sys::exit_now(1);
    }
    sys::reset_signals();
    let p = &plan.process;
    let err = process::exec_program(stub.as_fd(), p, exe);
    let path = p.exec_candidates[exe].to_string_lossy();
    let _ = conn.write_all(format!("exec {path}: {err}").as_bytes());
    sys::exit_now(127)
}
