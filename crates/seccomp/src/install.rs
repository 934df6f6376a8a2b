//! Installing a compiled filter: one seccomp(2) call, nothing allocated.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use crate::Filter;

/// Installs `filter` on the calling thread. The caller has set
/// no_new_privs or holds CAP_SYS_ADMIN. Returns the listener when the
/// filter has NOTIFY rules (close-on-exec, as the kernel makes it).
/// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is dropped on kernels older than
/// 5.19, which refuse it (runtime-spec: applied where supported).
pub fn install(filter: &Filter) -> io::Result<Option<OwnedFd>> {
    match set_filter(filter, filter.flags) {
        Err(e)
            if e.raw_os_error() == Some(libc::EINVAL)
                && filter.flags & libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 =>
        {
            set_filter(
                filter,
                filter.flags & !libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
            )
        }
        r => r,
    }
}

fn set_filter(filter: &Filter, flags: libc::c_ulong) -> io::Result<Option<OwnedFd>> {
    let prog = libc::sock_fprog {
        len: filter.program.len() as libc::c_ushort,
        filter: filter.program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `filter.program`, which outlives the call;
    // the kernel copies the program and does not keep the pointer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    // SAFETY: with NEW_LISTENER the kernel returned a new descriptor that
    // nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(r as i32) }))
}
