//! The interactive terminal of a foreground `run` or `exec` without a
//! console socket: berth is its own console socket, receives the pty
//! master, puts its terminal in raw mode and copies between the two,
//! resizing on SIGWINCH, until the process exits; then the terminal is
//! restored.

use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd::Pid;

use crate::{sys, Error};

/// A connected pair: one end is handed to the container as its console
/// socket, the other receives the master.
pub(super) fn console_pair() -> Result<(OwnedFd, OwnedFd), Error> {
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::spawn("creating the console socket")(e.into()))
}

/// The master sent over our end, if the process got a terminal (the
/// other end is closed by then, so this never blocks).
pub(super) fn receive_master(ours: &OwnedFd) -> Result<Option<OwnedFd>, Error> {
    let mut name = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        ours.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::spawn("receiving the pty master")(e.into()))?;
    for c in msg
        .cmsgs()
        .map_err(|e| Error::spawn("receiving the pty master")(e.into()))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: SCM_RIGHTS just installed this descriptor for us.
                return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
    }
    Ok(None)
}

/// Raw mode on a terminal, undone on drop.
struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    fn enter(fd: BorrowedFd<'_>) -> RawMode {
        let saved = tcgetattr(fd).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(fd, SetArg::TCSANOW, &raw);
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

pub(super) fn copy_size(master: BorrowedFd<'_>) {
    if let Some((rows, cols)) = sys::get_winsize(std::io::stdin().as_fd()) {
        let _ = sys::set_winsize(master, rows, cols);
    }
}

/// Copies stdin to the master and the master to stdout until `pid`
/// exits and its output is drained; returns its exit code. Signals must
/// be blocked already (they are read from a signalfd here).
pub(super) fn proxy(pid: i32, master: OwnedFd) -> Result<i32, Error> {
    let fail = |e: nix::Error| Error::spawn("relaying the terminal")(e.into());
    let stdin = std::io::stdin();
    let _raw = RawMode::enter(stdin.as_fd());
    copy_size(master.as_fd());
    let signals = SignalFd::with_flags(&SigSet::all(), SfdFlags::SFD_CLOEXEC).map_err(fail)?;
    let mut master_file = std::fs::File::from(master);
    let (mut stdin_open, mut master_open, mut exit) = (true, true, None);
    let mut buf = [0u8; 8192];
    while master_open {
        // Once the process is gone, only drain what it left behind.
        let timeout = if exit.is_some() {
            PollTimeout::from(100u16)
        } else {
            PollTimeout::NONE
        };
        let mut fds = vec![
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(master_file.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open && exit.is_none() {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
            Ok(0) => break,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(fail(e)),
        }
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        let (sig_ready, master_ready) = (ready(&fds[0]), ready(&fds[1]));
        let stdin_ready = fds.get(2).is_some_and(ready);
        drop(fds);
        if sig_ready {
            if let Ok(Some(info)) = signals.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGCHLD) => exit = exit.or(super::run::reap_exited(pid)),
                    Ok(Signal::SIGWINCH) => copy_size(master_file.as_fd()),
                    Ok(Signal::SIGURG) | Err(_) => {}
                    Ok(s) => drop(kill(Pid::from_raw(pid), s)),
                }
            }
        }
        if master_ready {
            match master_file.read(&mut buf) {
                Ok(0) | Err(_) => master_open = false,
                Ok(n) => {
                    let mut out = std::io::stdout();
                    let _ = out.write_all(&buf[..n]).and_then(|()| out.flush());
                }
            }
        }
        if stdin_ready {
            match std::io::stdin().lock().read(&mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => drop(master_file.write_all(&buf[..n])),
            }
        }
    }
    match exit {
        Some(code) => Ok(code),
        // The terminal closed first: wait for the exit itself.
        None => super::run::wait_forwarding(pid),
    }
}
