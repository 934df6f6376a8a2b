//! `run`: create, start, and in the foreground wait for the container,
//! forwarding signals to it and returning its exit code.

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::create::{create_with_console, CreateOptions};
use crate::Error;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub create: CreateOptions,
    pub detach: bool,
    pub keep: bool,
}

/// Returns the container's exit code (128+signal when killed by one); 0
/// when detached.
pub fn run(opts: &RunOptions) -> Result<i32, Error> {
    let root = &opts.create.root;
    let id = &opts.create.id;
    if !opts.detach {
        // Init is our grandchild; create makes us a subreaper, so we
        // inherit it when the intermediate exits. All signals wait in the mask until the loop
        // below forwards them; the container resets its mask before exec.
        SigSet::all()
            .thread_block()
            .map_err(|e| Error::spawn("blocking signals")(e.into()))?;
    }
    // In the foreground without --console-socket, berth is the console
    // socket: a terminal, if the container has one, is relayed here.
    let pair = match (&opts.create.console_socket, opts.detach) {
        (None, false) => Some(super::terminal::console_pair()?),
        _ => None,
    };
    let (theirs, ours) = pair.map_or((None, None), |(a, b)| (Some(a), Some(b)));
    let state = create_with_console(&opts.create, theirs)?;
    let master = match &ours {
        Some(fd) => super::terminal::receive_master(fd)?,
        None => None,
    };
    if let Some(m) = &master {
        // Sized before the program runs, which may ask at once.
        super::terminal::copy_size(std::os::fd::AsFd::as_fd(m));
    }
    if let Err(e) = super::start::start(root, id) {
        if !opts.keep {
            let _ = super::delete::delete(root, id, true);
        }
        return Err(e);
    }
    if opts.detach {
        return Ok(0);
    }
    tracing::debug!("{id}: started");
    let code = match master {
        Some(m) => super::terminal::proxy(state.pid, m),
        None => wait_forwarding(state.pid),
    };
    tracing::debug!("{id}: exited");
    let _ = SigSet::all().thread_unblock();
    if !opts.keep {
        super::delete::delete(root, id, true)?;
    }
    code
}

/// Waits for `pid`, forwarding every signal but SIGCHLD to it and reaping
/// any other child that reaches us.
pub(super) fn wait_forwarding(pid: i32) -> Result<i32, Error> {
    let all = SigSet::all();
    let init = Pid::from_raw(pid);
    loop {
        let sig = all
            .wait()
            .map_err(|e| Error::spawn("waiting for signals")(e.into()))?;
        if sig != Signal::SIGCHLD {
            if sig != Signal::SIGURG {
                let _ = kill(init, sig);
            }
            continue;
        }
        if let Some(code) = reap_exited(pid) {
            return Ok(code);
        }
    }
}

/// Reaps every exited child; returns `pid`'s exit code (128+signal) once
/// it is among them.
pub(super) fn reap_exited(pid: i32) -> Option<i32> {
    let init = Pid::from_raw(pid);
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p == init => return Some(code),
            Ok(WaitStatus::Signaled(p, s, _)) if p == init => return Some(128 + s as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}
