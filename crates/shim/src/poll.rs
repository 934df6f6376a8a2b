//! Waiting for a descriptor to become readable, with a timeout.

use std::os::fd::{AsRawFd, BorrowedFd};

/// True when `fd` is readable (data, end-of-file or a notification)
/// within `ms` milliseconds.
pub fn readable(fd: BorrowedFd<'_>, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd that outlives the call.
    unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
}
