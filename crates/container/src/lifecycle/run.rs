//! `run`: create, start, and in the foreground wait for the container,
//! forwarding signals to it and returning its exit code.

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::create::{create, CreateOptions};
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
    let state = create(&opts.create)?;
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
    let code = wait_forwarding(state.pid);
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
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, code)) if p == init => return Ok(code),
                Ok(WaitStatus::Signaled(p, s, _)) if p == init => return Ok(128 + s as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }
}
