//! sysctls, read-only paths and masked paths, applied through the rootfs
//! descriptor before pivot_root.

use std::os::fd::{AsFd, BorrowedFd};

use super::resolve::open_in_root;
use super::Root;
use crate::plan::RootfsPlan;
use crate::spawn::{Step, StepError, StepResult};
use crate::sys;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;

fn skip_missing(
    r: std::io::Result<std::os::fd::OwnedFd>,
) -> std::io::Result<Option<std::os::fd::OwnedFd>> {
    match r {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes each sysctl through the container's own /proc, which must
/// really be procfs (CVE-2019-16884 class).
pub fn write_sysctls(root: &Root, plan: &RootfsPlan) -> StepResult {
    for (rel, value) in &plan.sysctl {
        let what = || format!("writing sysctl /{}", rel.to_string_lossy());
        let fd = open_in_root(root.fd.as_fd(), rel, libc::O_WRONLY, true).step_with(what)?;
        if sys::fs_magic(fd.as_fd()).step_with(what)? != PROC_SUPER_MAGIC {
            return Err(StepError(format!("{}: not on procfs", what())));
        }
        sys::write_all(fd.as_fd(), value).step_with(what)?;
    }
    Ok(())
}

/// Binds each read-only path onto itself and makes the copy read-only,
/// recursively.
pub fn readonly_paths(root: &Root, plan: &RootfsPlan) -> StepResult {
    for rel in &plan.readonly_paths {
        let what = || format!("making /{} read-only", rel.to_string_lossy());
        let Some(fd) = skip_missing(open_in_root(root.fd.as_fd(), rel, libc::O_PATH, false))
            .step_with(what)?
        else {
            continue;
        };
        let tree = sys::open_tree(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            c"",
            sys::OPEN_TREE_CLONE | sys::AT_RECURSIVE,
        )
        .step_with(what)?;
        let ro = sys::MountAttr {
            set: sys::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        sys::mount_setattr(tree.as_fd(), true, ro).step_with(what)?;
        sys::move_mount(tree.as_fd(), fd.as_fd()).step_with(what)?;
    }
    Ok(())
}

/// Covers each masked path: directories with a read-only tmpfs, files with
/// the container's /dev/null, which must really be the null device
/// (CVE-2025-31133 class).
pub fn mask_paths(root: &Root, plan: &RootfsPlan) -> StepResult {
    if plan.masked.is_empty() {
        return Ok(());
    }
    let mut null = None;
    for rel in &plan.masked {
        let what = || format!("masking /{}", rel.to_string_lossy());
        let Some(fd) = skip_missing(open_in_root(root.fd.as_fd(), rel, libc::O_PATH, false))
            .step_with(what)?
        else {
            continue;
        };
        let st = sys::fstat(fd.as_fd()).step_with(what)?;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            sys::mount(
                Some(c"tmpfs"),
                &sys::fd_path(fd.as_fd()),
                Some(c"tmpfs"),
                libc::MS_RDONLY,
                None,
            )
            .step_with(what)?;
            continue;
        }
        if null.is_none() {
            null = Some(verified_null(root.fd.as_fd())?);
        }
        if let Some(n) = &null {
            let tree = sys::open_tree(
                std::os::fd::AsRawFd::as_raw_fd(n),
                c"",
                sys::OPEN_TREE_CLONE,
            )
            .step_with(what)?;
            sys::move_mount(tree.as_fd(), fd.as_fd()).step_with(what)?;
        }
    }
    Ok(())
}

fn verified_null(root: BorrowedFd<'_>) -> StepResult<std::os::fd::OwnedFd> {
    let fd = open_in_root(root, c"dev/null", libc::O_PATH, true)
        .step("opening /dev/null for masking")?;
    let st = sys::fstat(fd.as_fd()).step("checking /dev/null")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
        return Err(StepError(
            "/dev/null in the container is not the null device; refusing to mask with it".into(),
        ));
    }
    Ok(fd)
}
