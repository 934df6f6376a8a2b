//! The filesystem part of the plan: rootfs, mounts, devices, masked and
//! read-only paths, sysctls, propagation.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use oci_spec::runtime::{Linux, LinuxDeviceType, Spec};

use super::mounts::{self, cstring, relative_in_root, MountKind, MountStep};
use crate::Error;

/// One device node to create inside the container's /dev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Path relative to the rootfs.
    pub path: CString,
    /// Host path to bind when mknod is not allowed (user namespace).
    pub host_path: CString,
    pub mode: u32,
    pub rdev: u64,
    pub uid: u32,
    pub gid: u32,
}

/// The filesystem plan.
#[derive(Debug, Clone)]
pub struct RootfsPlan {
    pub rootfs: CString,
    pub readonly: bool,
    /// Propagation set on "/" before any mount (default rslave).
    pub root_propagation: u64,
    /// `rootfsPropagation`, applied to the new root after pivot.
    pub rootfs_propagation: Option<u64>,
    pub mounts: Vec<MountStep>,
    pub devices: Vec<DeviceNode>,
    /// Create the /dev symlinks and default devices (false when /dev is a
    /// bind mount from the host).
    pub setup_dev: bool,
    pub masked: Vec<CString>,
    pub readonly_paths: Vec<CString>,
    /// (path under proc/sys, value).
    pub sysctl: Vec<(CString, Vec<u8>)>,
    pub no_pivot: bool,
    /// `process.cwd` relative to the rootfs; created when missing, as runc does.
    pub cwd: CString,
    /// (hierarchy name, host leaf directory) for `cgroup` mounts.
    pub cgroup_leaves: Vec<(CString, CString)>,
    /// Mount cgroup2 directly (unified host with a new cgroup namespace).
    pub cgroup2_fs: bool,
}

const DEFAULT_DEVICES: [(&str, u32, u32); 6] = [
    ("dev/null", 1, 3),
    ("dev/zero", 1, 5),
    ("dev/full", 1, 7),
    ("dev/random", 1, 8),
    ("dev/urandom", 1, 9),
    ("dev/tty", 5, 0),
];

impl RootfsPlan {
    pub fn build(spec: &Spec, bundle: &Path, rootfs: &Path, no_pivot: bool) -> Result<Self, Error> {
        let linux = spec.linux().as_ref();
        let mut steps = Vec::new();
        for (i, m) in spec.mounts().iter().flatten().enumerate() {
            steps.push(mounts::step(m, i, bundle)?);
        }
        let setup_dev = !steps
            .iter()
            .any(|s| s.dest.as_bytes() == b"dev" && matches!(s.kind, MountKind::Bind { .. }));
        let paths = |v: Option<&Vec<String>>, what: &str| -> Result<Vec<CString>, Error> {
            v.into_iter()
                .flatten()
                .map(|p| cstring(relative_in_root(Path::new(p)).as_os_str().as_bytes(), what))
                .collect()
        };
        let root_prop = linux
            .and_then(|l| l.rootfs_propagation().as_deref())
            .and_then(mounts::propagation_flag);
        let private = root_prop.is_some_and(|p| p & libc::MS_PRIVATE != 0);
        Ok(Self {
            rootfs: cstring(rootfs.as_os_str().as_bytes(), "root.path")?,
            readonly: spec
                .root()
                .as_ref()
                .and_then(|r| r.readonly())
                .unwrap_or(false),
            root_propagation: libc::MS_REC
                | if private {
                    libc::MS_PRIVATE
                } else {
                    libc::MS_SLAVE
                },
            rootfs_propagation: root_prop,
            mounts: steps,
            devices: if setup_dev {
                devices(linux)?
            } else {
                Vec::new()
            },
            setup_dev,
            masked: paths(
                linux.and_then(|l| l.masked_paths().as_ref()),
                "linux.maskedPaths",
            )?,
            readonly_paths: paths(
                linux.and_then(|l| l.readonly_paths().as_ref()),
                "linux.readonlyPaths",
            )?,
            sysctl: sysctls(linux)?,
            no_pivot,
            cwd: cstring(
                relative_in_root(
                    spec.process()
                        .as_ref()
                        .map(|p| p.cwd().as_path())
                        .unwrap_or(Path::new("/")),
                )
                .as_os_str()
                .as_bytes(),
                "process.cwd",
            )?,
            cgroup_leaves: Vec::new(),
            cgroup2_fs: false,
        })
    }
}

fn devices(linux: Option<&Linux>) -> Result<Vec<DeviceNode>, Error> {
    let mut out: Vec<DeviceNode> = Vec::new();
    for (i, d) in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = format!("linux.devices[{i}]");
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(Error::invalid(
                    format!("{field}.type"),
                    "\"a\" is not a device type",
                ))
            }
        };
        let rel = relative_in_root(d.path());
        out.push(DeviceNode {
            path: cstring(rel.as_os_str().as_bytes(), &field)?,
            host_path: cstring(d.path().as_os_str().as_bytes(), &field)?,
            mode: kind | (d.file_mode().unwrap_or(0o666) & 0o7777),
            rdev: libc::makedev(d.major() as u32, d.minor() as u32),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    for (path, major, minor) in DEFAULT_DEVICES {
        if out.iter().any(|d| d.path.as_bytes() == path.as_bytes()) {
            continue;
        }
        out.push(DeviceNode {
            path: cstring(path, "device")?,
            host_path: cstring(format!("/{path}"), "device")?,
            mode: libc::S_IFCHR | 0o666,
            rdev: libc::makedev(major, minor),
            uid: 0,
            gid: 0,
        });
    }
    Ok(out)
}

fn sysctls(linux: Option<&Linux>) -> Result<Vec<(CString, Vec<u8>)>, Error> {
    let mut keys: Vec<_> = linux
        .and_then(|l| l.sysctl().as_ref())
        .into_iter()
        .flatten()
        .collect();
    keys.sort();
    keys.into_iter()
        .map(|(k, v)| {
            crate::config::sysctl_namespace(k)?;
            if k.contains("..") || k.contains('/') {
                return Err(Error::invalid(
                    format!("linux.sysctl.{k}"),
                    "must be a dotted name",
                ));
            }
            let rel = format!("proc/sys/{}", k.replace('.', "/"));
            Ok((cstring(rel, "linux.sysctl")?, v.clone().into_bytes()))
        })
        .collect()
}
