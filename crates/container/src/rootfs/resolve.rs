//! Opening and creating paths strictly inside the rootfs.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::sys;

/// Opens `rel` with every component resolved as if the rootfs were "/"
/// (absolute symlinks and ".." stay inside) and no magic links.
pub fn open_in_root(
    root: BorrowedFd<'_>,
    rel: &CStr,
    flags: i32,
    no_symlinks: bool,
) -> io::Result<OwnedFd> {
    let mut resolve = sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS;
    if no_symlinks {
        resolve |= sys::RESOLVE_NO_SYMLINKS;
    }
    let rel = if rel.is_empty() { c"." } else { rel };
    sys::openat2(root, rel, flags, 0, resolve)
}

/// Returns an O_PATH descriptor of `rel`, creating missing directories
/// (and the last component as an empty file when `file`). Each new entry
/// is created by name under a parent that was itself resolved inside the
/// root, so a symlink planted in the rootfs cannot redirect creation.
pub fn ensure(
    root: BorrowedFd<'_>,
    rel: &CStr,
    file: bool,
    no_symlinks: bool,
) -> io::Result<OwnedFd> {
    match open_in_root(root, rel, libc::O_PATH, no_symlinks) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        other => return other,
    }
    let bytes = rel.to_bytes();
    let comps: Vec<&[u8]> = bytes
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let mut parent = open_in_root(root, c".", libc::O_PATH | libc::O_DIRECTORY, false)?;
    for (i, comp) in comps.iter().enumerate() {
        let prefix = cstr(&comps[..=i].join(&b'/'))?;
        let last = i + 1 == comps.len();
        match open_in_root(root, &prefix, libc::O_PATH, no_symlinks) {
            Ok(fd) => {
                parent = fd;
                continue;
            }
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => return Err(e),
            Err(_) => {}
        }
        let name = cstr(comp)?;
        if last && file {
            let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW;
            match sys::openat2(
                parent.as_fd(),
                &name,
                flags,
                0o644,
                sys::RESOLVE_BENEATH_STRICT,
            ) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(e),
            }
        } else {
            match sys::mkdirat(parent.as_fd(), &name, 0o755) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(e),
            }
        }
        parent = open_in_root(root, &prefix, libc::O_PATH, no_symlinks)?;
    }
    Ok(parent)
}

/// Splits "a/b/c" into ("a/b", "c").
pub fn split_parent(rel: &CStr) -> io::Result<(CString, CString)> {
    let b = rel.to_bytes();
    match b.iter().rposition(|&c| c == b'/') {
        Some(i) => Ok((cstr(&b[..i])?, cstr(&b[i + 1..])?)),
        None => Ok((CString::default(), cstr(b)?)),
    }
}

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}
