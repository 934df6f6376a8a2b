//! The container's terminal, set up inside it and handed out as runc
//! does: the pty master goes over the console socket with SCM_RIGHTS
//! (payload: the pty's name), so containerd, conmon and other runc
//! callers receive it unchanged.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use super::{Step, StepError, StepResult};
use crate::sys;

const PTMX_MAJOR: u32 = 5;
const PTMX_MINOR: u32 = 2;

/// Opens a pty from the container's /dev/ptmx, sizes it, binds it over
/// /dev/console when asked, sends the master to `socket`, and makes the
/// peer this process's stdio and controlling terminal. Runs after
/// pivot_root (or in an exec'd process), so every path is the container's.
pub fn setup(socket: BorrowedFd<'_>, size: Option<(u16, u16)>, mount_console: bool) -> StepResult {
    let master = sys::openat(
        libc::AT_FDCWD,
        c"/dev/ptmx",
        libc::O_RDWR | libc::O_NOCTTY,
        0,
    )
    .step("opening /dev/ptmx")?;
    let st = sys::fstat(master.as_fd()).step("checking /dev/ptmx")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR
        || libc::major(st.st_rdev) != PTMX_MAJOR
        || libc::minor(st.st_rdev) != PTMX_MINOR
    {
        return Err(StepError(
            "/dev/ptmx in the container is not the pty multiplexer".into(),
        ));
    }
    let (peer, n) = sys::pty_peer(master.as_fd()).step("opening the pty")?;
    if let Some((rows, cols)) = size {
        sys::set_winsize(master.as_fd(), rows, cols).step("setting the console size")?;
    }
    if mount_console {
        mount_dev_console(peer.as_fd())?;
    }
    let name = format!("/dev/pts/{n}");
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(name.as_bytes())],
        &cmsg,
        MsgFlags::empty(),
        None,
    )
    .step("sending the pty master to the console socket")?;
    drop(master);
    for target in 0..3 {
        sys::dup2(peer.as_fd(), target).step("making the pty stdio")?;
    }
    sys::set_controlling_tty(peer.as_fd()).step("making the pty the controlling terminal")
}

/// /dev/console becomes a bind of the pty, as runc sets it up.
fn mount_dev_console(peer: BorrowedFd<'_>) -> StepResult {
    let what = "mounting /dev/console";
    let open_path = || {
        sys::openat(
            libc::AT_FDCWD,
            c"/dev/console",
            libc::O_PATH | libc::O_NOFOLLOW,
            0,
        )
    };
    // Never opened for I/O: an existing node (even a device) is only
    // mounted over; a missing one is created as an empty file.
    let target = match open_path() {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW;
            drop(sys::openat(libc::AT_FDCWD, c"/dev/console", flags, 0o600).step(what)?);
            open_path().step(what)?
        }
        r => r.step(what)?,
    };
    if sys::fstat(target.as_fd()).step(what)?.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(StepError(format!("{what}: it is a symlink")));
    }
    let tree = sys::open_tree(peer.as_raw_fd(), c"", sys::OPEN_TREE_CLONE).step(what)?;
    sys::move_mount(tree.as_fd(), target.as_fd()).step(what)
}
