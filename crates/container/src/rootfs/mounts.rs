//! Applying the `mounts` of the plan.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::resolve::{ensure, open_in_root};
use super::Root;
use crate::plan::mounts::{MountKind, MountStep};
use crate::plan::RootfsPlan;
use crate::spawn::{Step, StepResult};
use crate::sys::{self, MountAttr};

/// Applies every mount in order.
pub fn mount_all(
    root: &Root,
    plan: &RootfsPlan,
    in_userns: bool,
    new_cgroupns: bool,
) -> StepResult {
    for m in &plan.mounts {
        mount_one(root.fd.as_fd(), m, plan, in_userns, new_cgroupns)
            .step_with(|| format!("mounting /{}", m.dest.to_string_lossy()))?;
    }
    Ok(())
}

fn mount_one(
    root: BorrowedFd<'_>,
    m: &MountStep,
    plan: &RootfsPlan,
    in_userns: bool,
    new_cgroupns: bool,
) -> std::io::Result<()> {
    let target = ensure(root, &m.dest, m.file, m.no_symlinks)?;
    let mounted: OwnedFd = match &m.kind {
        MountKind::Bind { source, recursive } => bind(source, *recursive, m.flags, &target)?,
        MountKind::Fs {
            fstype,
            source,
            data,
        } => {
            let r = sys::mount(
                Some(source),
                &sys::fd_path(target.as_fd()),
                Some(fstype),
                m.flags,
                data.as_deref(),
            );
            match r {
                // sysfs needs a network namespace owned by the user
                // namespace; without one, bind the host's /sys, as runc does.
                Err(e)
                    if e.raw_os_error() == Some(libc::EPERM)
                        && fstype.as_bytes() == b"sysfs"
                        && in_userns =>
                {
                    bind(c"/sys", true, m.flags, &target)?
                }
                r => {
                    r?;
                    open_in_root(root, &m.dest, libc::O_PATH, m.no_symlinks)?
                }
            }
        }
        MountKind::Cgroup { data_ro } => cgroup(root, m, plan, *data_ro, &target, new_cgroupns)?,
    };
    for &p in &m.propagation {
        sys::mount(None, &sys::fd_path(mounted.as_fd()), None, p, None)?;
    }
    if let Some(attr) = m.recursive {
        sys::mount_setattr(mounted.as_fd(), true, attr)?;
    }
    Ok(())
}

/// Binds `source` onto `target` through a detached tree (open_tree +
/// move_mount), applying ro/nosuid/... to the tree before it is attached.
/// Returns the attached mount.
fn bind(
    source: &std::ffi::CStr,
    recursive: bool,
    flags: u64,
    target: &OwnedFd,
) -> std::io::Result<OwnedFd> {
    let rec = if recursive { sys::AT_RECURSIVE } else { 0 };
    let tree = sys::open_tree(libc::AT_FDCWD, source, sys::OPEN_TREE_CLONE | rec)?;
    let attr = attr_from_flags(flags);
    if attr != MountAttr::default() {
        sys::mount_setattr(tree.as_fd(), recursive, attr)?;
    }
    sys::move_mount(tree.as_fd(), target.as_fd())?;
    Ok(tree)
}

/// mount(2) flags of a bind as mount_setattr attributes.
pub fn attr_from_flags(flags: u64) -> MountAttr {
    let mut a = MountAttr::default();
    for (ms, attr) in [
        (libc::MS_RDONLY, sys::MOUNT_ATTR_RDONLY),
        (libc::MS_NOSUID, sys::MOUNT_ATTR_NOSUID),
        (libc::MS_NODEV, sys::MOUNT_ATTR_NODEV),
        (libc::MS_NOEXEC, sys::MOUNT_ATTR_NOEXEC),
        (libc::MS_NODIRATIME, sys::MOUNT_ATTR_NODIRATIME),
        (256, sys::MOUNT_ATTR_NOSYMFOLLOW),
    ] {
        if flags & ms != 0 {
            a.set |= attr;
        }
    }
    let atime = if flags & libc::MS_NOATIME != 0 {
        Some(sys::MOUNT_ATTR_NOATIME)
    } else if flags & libc::MS_STRICTATIME != 0 {
        Some(sys::MOUNT_ATTR_STRICTATIME)
    } else if flags & libc::MS_RELATIME != 0 {
        Some(sys::MOUNT_ATTR_RELATIME)
    } else {
        None
    };
    if let Some(t) = atime {
        a.set |= t;
        a.clr |= sys::MOUNT_ATTR_ATIME_MASK;
    }
    a
}

/// A `cgroup` mount: on a unified host the container's cgroup2 directory
/// (or a fresh cgroup2 mount inside a new cgroup namespace); on v1 and
/// hybrid hosts a tmpfs holding one bind of each hierarchy's container
/// directory, as runc lays it out.
fn cgroup(
    root: BorrowedFd<'_>,
    m: &MountStep,
    plan: &RootfsPlan,
    ro: bool,
    target: &OwnedFd,
    new_cgroupns: bool,
) -> std::io::Result<OwnedFd> {
    let bind_flags =
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | if ro { libc::MS_RDONLY } else { 0 };
    if plan.cgroup2_fs {
        if new_cgroupns {
            sys::mount(
                Some(c"cgroup2"),
                &sys::fd_path(target.as_fd()),
                Some(c"cgroup2"),
                m.flags,
                None,
            )?;
            return open_in_root(root, &m.dest, libc::O_PATH, false);
        }
        let (_, leaf) = plan
            .cgroup_leaves
            .first()
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ENOENT))?;
        return bind(leaf, false, bind_flags, target);
    }
    let tmpfs_flags =
        (m.flags & !libc::MS_RDONLY) | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    sys::mount(
        Some(c"tmpfs"),
        &sys::fd_path(target.as_fd()),
        Some(c"tmpfs"),
        tmpfs_flags,
        Some(c"mode=755"),
    )?;
    let dir = open_in_root(root, &m.dest, libc::O_PATH | libc::O_DIRECTORY, false)?;
    for (name, leaf) in &plan.cgroup_leaves {
        sys::mkdirat(dir.as_fd(), name, 0o755)?;
        let sub = sys::openat2(
            dir.as_fd(),
            name,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            sys::RESOLVE_BENEATH_STRICT,
        )?;
        bind(leaf, false, bind_flags, &sub)?;
    }
    if ro {
        let attr = MountAttr {
            set: sys::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        sys::mount_setattr(dir.as_fd(), false, attr)?;
    }
    Ok(dir)
}
