//! Device nodes and the /dev symlinks.

use std::os::fd::{AsFd, BorrowedFd};

use super::resolve::{ensure, split_parent};
use super::Root;
use crate::plan::rootfs::DeviceNode;
use crate::plan::RootfsPlan;
use crate::spawn::{Step, StepResult};
use crate::sys;

const LINKS: [(&std::ffi::CStr, &std::ffi::CStr); 4] = [
    (c"fd", c"/proc/self/fd"),
    (c"stdin", c"/proc/self/fd/0"),
    (c"stdout", c"/proc/self/fd/1"),
    (c"stderr", c"/proc/self/fd/2"),
];

/// Creates the default and configured devices and the standard links.
pub fn setup_dev(root: &Root, plan: &RootfsPlan, in_userns: bool) -> StepResult {
    for d in &plan.devices {
        create_device(root.fd.as_fd(), d, in_userns)
            .step_with(|| format!("creating device /{}", d.path.to_string_lossy()))?;
    }
    if !plan.setup_dev {
        return Ok(());
    }
    let dev = ensure(root.fd.as_fd(), c"dev", false, false).step("opening /dev")?;
    for (name, target) in LINKS {
        symlink(dev.as_fd(), target, name)
            .step_with(|| format!("linking /dev/{}", name.to_string_lossy()))?;
    }
    if std::path::Path::new("/proc/kcore").exists() {
        symlink(dev.as_fd(), c"/proc/kcore", c"core").step("linking /dev/core")?;
    }
    if plan.mounts.iter().any(|m| m.dest.as_bytes() == b"dev/pts") {
        // /dev/ptmx must be the new devpts instance's ptmx.
        let _ = nix::unistd::unlinkat(
            dev.as_fd(),
            c"ptmx",
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
        symlink(dev.as_fd(), c"pts/ptmx", c"ptmx").step("linking /dev/ptmx")?;
    }
    Ok(())
}

fn symlink(
    dir: BorrowedFd<'_>,
    target: &std::ffi::CStr,
    name: &std::ffi::CStr,
) -> std::io::Result<()> {
    match sys::symlinkat(target, dir, name) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        r => r,
    }
}

/// mknod where allowed; in a user namespace (no mknod) an empty file with
/// the host's device bound over it, as runc does. An existing entry is
/// left as it is.
fn create_device(root: BorrowedFd<'_>, d: &DeviceNode, in_userns: bool) -> std::io::Result<()> {
    let (parent, name) = split_parent(&d.path)?;
    let dir = ensure(root, &parent, false, false)?;
    if in_userns {
        let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW;
        match sys::openat2(
            dir.as_fd(),
            &name,
            flags,
            0o644,
            sys::RESOLVE_BENEATH_STRICT,
        ) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => return Ok(()),
            r => drop(r?),
        }
        let target = sys::openat2(
            dir.as_fd(),
            &name,
            libc::O_PATH,
            0,
            sys::RESOLVE_BENEATH_STRICT,
        )?;
        let tree = sys::open_tree(libc::AT_FDCWD, &d.host_path, sys::OPEN_TREE_CLONE)?;
        return sys::move_mount(tree.as_fd(), target.as_fd());
    }
    match sys::mknodat(dir.as_fd(), &name, d.mode, d.rdev) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => return Ok(()),
        r => r?,
    }
    sys::fchownat(dir.as_fd(), &name, d.uid, d.gid)
}
