//! Child-side rootfs setup. Every path from the bundle is resolved inside
//! the rootfs with openat2(RESOLVE_IN_ROOT) and every mount is made onto a
//! verified descriptor, never a re-resolved path (CVE-2021-30465 class).

mod dev;
mod mounts;
mod paths;
mod resolve;

pub use dev::setup_dev;
pub use mounts::mount_all;
pub use paths::{mask_paths, readonly_paths, write_sysctls};

/// Creates `process.cwd` inside the rootfs when it is missing, as runc
/// does; init still verifies it after pivot_root.
pub fn ensure_cwd(root: &Root, plan: &RootfsPlan) -> StepResult {
    resolve::ensure(root.fd.as_fd(), &plan.cwd, false, false)
        .map(drop)
        .step_with(|| format!("creating cwd /{}", plan.cwd.to_string_lossy()))
}

use std::os::fd::{AsFd, OwnedFd};

use crate::plan::RootfsPlan;
use crate::spawn::{Step, StepResult};
use crate::sys;

/// The container's root, as an O_PATH descriptor of the bind-mounted rootfs.
pub struct Root {
    fd: OwnedFd,
}

/// Makes "/" a slave (or what `rootfsPropagation` asks) so nothing the
/// container mounts reaches the host, and bind-mounts the rootfs onto
/// itself so it is a mount point that pivot_root accepts.
pub fn prepare(plan: &RootfsPlan) -> StepResult<Root> {
    sys::mount(None, c"/", None, plan.root_propagation, None).step("setting propagation of /")?;
    sys::mount(
        Some(&plan.rootfs),
        &plan.rootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .step_with(|| format!("bind-mounting rootfs {:?}", plan.rootfs))?;
    let fd = sys::openat(
        libc::AT_FDCWD,
        &plan.rootfs,
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .step_with(|| format!("opening rootfs {:?}", plan.rootfs))?;
    Ok(Root { fd })
}

/// pivot_root into the rootfs (or, with `--no-pivot`, move it over "/"
/// and chroot), then detach the old root.
pub fn enter(root: Root, plan: &RootfsPlan) -> StepResult {
    sys::fchdir(root.fd.as_fd()).step("entering rootfs")?;
    if plan.no_pivot {
        sys::mount(Some(c"."), c"/", None, libc::MS_MOVE, None).step("moving rootfs to /")?;
        sys::chroot(c".").step("chroot")?;
        return sys::chdir(c"/").step("chdir /");
    }
    let old_root = sys::openat(libc::AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)
        .step("opening old root")?;
    sys::pivot_root(c".", c".").step("pivot_root")?;
    // The old root now sits on top of the new one. Make it a slave first
    // so that detaching it does not propagate the unmount to the host.
    sys::fchdir(old_root.as_fd()).step("entering old root")?;
    sys::mount(None, c".", None, libc::MS_SLAVE | libc::MS_REC, None)
        .step("making old root a slave")?;
    sys::umount2(c".", libc::MNT_DETACH).step("detaching old root")?;
    sys::chdir(c"/").step("chdir /")
}

/// After pivot: read-only root and `rootfsPropagation`.
pub fn finish(plan: &RootfsPlan) -> StepResult {
    if plan.readonly {
        let fd = sys::openat(libc::AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)
            .step("opening /")?;
        let ro = sys::MountAttr {
            set: sys::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        sys::mount_setattr(fd.as_fd(), false, ro).step("making / read-only")?;
    }
    if let Some(p) = plan.rootfs_propagation {
        sys::mount(None, c"/", None, p, None).step("setting rootfsPropagation")?;
    }
    Ok(())
}
