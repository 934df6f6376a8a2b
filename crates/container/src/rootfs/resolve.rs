//! Opening and creating paths strictly inside the rootfs.

use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use crate::sys;

/// Linux's own limit on symlinks followed in one lookup.
const MAX_LINKS: usize = 40;

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

/// Returns an O_PATH descriptor of `rel`, creating what is missing:
/// directories, and the last component as an empty file when `file`.
///
/// The walk goes one component at a time from descriptors it holds: a
/// symlink is read and its target walked inside the root (absolute
/// targets restart at the root, ".." never climbs above it), and every
/// new entry is created by name under a held parent. So neither a
/// planted symlink nor a concurrent rename can redirect creation out of
/// the rootfs.
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
    let mut stack = vec![open_in_root(
        root,
        c".",
        libc::O_PATH | libc::O_DIRECTORY,
        false,
    )?];
    let mut todo: VecDeque<Vec<u8>> = components(rel.to_bytes());
    let mut links = 0;
    while let Some(comp) = todo.pop_front() {
        if comp == b".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let name = cstr(&comp)?;
        let Some(parent) = stack.last() else { break };
        let parent = parent.as_fd();
        let fd = match open_entry(parent, &name) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                create(parent, &name, file && todo.is_empty())?;
                open_entry(parent, &name)?
            }
            Err(e) => return Err(e),
        };
        if sys::fstat(fd.as_fd())?.st_mode & libc::S_IFMT != libc::S_IFLNK {
            stack.push(fd);
            continue;
        }
        links += 1;
        if no_symlinks || links > MAX_LINKS {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target = nix::fcntl::readlinkat(parent, name.as_c_str())?;
        let target = target.as_bytes();
        if target.starts_with(b"/") {
            stack.truncate(1);
        }
        for c in components(target).into_iter().rev() {
            todo.push_front(c);
        }
    }
    match stack.len() {
        1 => open_in_root(root, c".", libc::O_PATH | libc::O_DIRECTORY, false),
        _ => stack
            .pop()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT)),
    }
}

/// The entry itself (a symlink is not followed), by one name.
fn open_entry(parent: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    sys::openat(
        std::os::fd::AsRawFd::as_raw_fd(&parent),
        name,
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
    )
}

fn create(parent: BorrowedFd<'_>, name: &CStr, file: bool) -> io::Result<()> {
    let r = if file {
        let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW;
        sys::openat2(parent, name, flags, 0o644, sys::RESOLVE_BENEATH_STRICT).map(drop)
    } else {
        sys::mkdirat(parent, name, 0o755)
    };
    match r {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        r => r,
    }
}

fn components(path: &[u8]) -> VecDeque<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
        .collect()
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
