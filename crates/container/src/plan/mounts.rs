//! The mount plan: `mounts` from config.json turned into flags, data and
//! the steps the container's init applies, computed before fork.

use std::ffi::CString;
use std::path::{Component, Path, PathBuf};

use crate::sys::{self, MountAttr};

/// The mount(2) flags, propagation and recursive attributes one mount's
/// `options` ask for; whatever is not a known flag becomes fs data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: u64,
    pub clear: u64,
    pub propagation: Vec<u64>,
    pub recursive: Option<MountAttr>,
    pub data: Vec<String>,
}

/// Options that set or clear a mount(2) flag.
fn flag(opt: &str) -> Option<(bool, u64)> {
    use libc::*;
    let (set, f) = match opt {
        "acl" => (true, MS_POSIXACL),
        "noacl" => (false, MS_POSIXACL),
        "async" => (false, MS_SYNCHRONOUS),
        "sync" => (true, MS_SYNCHRONOUS),
        "atime" => (false, MS_NOATIME),
        "noatime" => (true, MS_NOATIME),
        "bind" => (true, MS_BIND),
        "rbind" => (true, MS_BIND | MS_REC),
        "defaults" => (true, 0),
        "dev" => (false, MS_NODEV),
        "nodev" => (true, MS_NODEV),
        "diratime" => (false, MS_NODIRATIME),
        "nodiratime" => (true, MS_NODIRATIME),
        "dirsync" => (true, MS_DIRSYNC),
        "exec" => (false, MS_NOEXEC),
        "noexec" => (true, MS_NOEXEC),
        "iversion" => (true, MS_I_VERSION),
        "noiversion" => (false, MS_I_VERSION),
        "lazytime" => (true, MS_LAZYTIME),
        "nolazytime" => (false, MS_LAZYTIME),
        "loud" => (false, MS_SILENT),
        "silent" => (true, MS_SILENT),
        "mand" => (true, MS_MANDLOCK),
        "nomand" => (false, MS_MANDLOCK),
        "relatime" => (true, MS_RELATIME),
        "norelatime" => (false, MS_RELATIME),
        "strictatime" => (true, MS_STRICTATIME),
        "nostrictatime" => (false, MS_STRICTATIME),
        "remount" => (true, MS_REMOUNT),
        "ro" => (true, MS_RDONLY),
        "rw" => (false, MS_RDONLY),
        "suid" => (false, MS_NOSUID),
        "nosuid" => (true, MS_NOSUID),
        "nosymfollow" => (true, 256), // MS_NOSYMFOLLOW
        "symfollow" => (false, 256),
        _ => return None,
    };
    Some((set, f))
}

/// `private`, `rshared`, ... as mount(2) propagation flags.
pub fn propagation_flag(opt: &str) -> Option<u64> {
    use libc::*;
    Some(match opt {
        "private" => MS_PRIVATE,
        "rprivate" => MS_PRIVATE | MS_REC,
        "shared" => MS_SHARED,
        "rshared" => MS_SHARED | MS_REC,
        "slave" => MS_SLAVE,
        "rslave" => MS_SLAVE | MS_REC,
        "unbindable" => MS_UNBINDABLE,
        "runbindable" => MS_UNBINDABLE | MS_REC,
        _ => return None,
    })
}

/// Recursive attributes (`rro`, `rnosuid`, ...) applied with mount_setattr(2).
fn recursive_attr(opt: &str) -> Option<(bool, u64)> {
    use sys::*;
    Some(match opt {
        "rro" => (true, MOUNT_ATTR_RDONLY),
        "rrw" => (false, MOUNT_ATTR_RDONLY),
        "rnosuid" => (true, MOUNT_ATTR_NOSUID),
        "rsuid" => (false, MOUNT_ATTR_NOSUID),
        "rnodev" => (true, MOUNT_ATTR_NODEV),
        "rdev" => (false, MOUNT_ATTR_NODEV),
        "rnoexec" => (true, MOUNT_ATTR_NOEXEC),
        "rexec" => (false, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (true, MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (false, MOUNT_ATTR_NODIRATIME),
        "rnosymfollow" => (true, MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (false, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// Recursive atime attributes replace the whole atime field.
fn recursive_atime(opt: &str) -> Option<u64> {
    use sys::*;
    Some(match opt {
        "rrelatime" => MOUNT_ATTR_RELATIME,
        "rnoatime" => MOUNT_ATTR_NOATIME,
        "rstrictatime" => MOUNT_ATTR_STRICTATIME,
        _ => return None,
    })
}

impl MountOptions {
    /// Parses one mount's options. Errors are for options this runtime
    /// knows it cannot honour yet.
    pub fn parse(opts: &[String]) -> Result<Self, String> {
        let mut o = MountOptions::default();
        for opt in opts {
            let opt = opt.as_str();
            if let Some((set, f)) = flag(opt) {
                if set {
                    o.flags |= f;
                    o.clear &= !f;
                } else {
                    o.flags &= !f;
                    o.clear |= f;
                }
            } else if let Some(p) = propagation_flag(opt) {
                o.propagation.push(p);
            } else if let Some((set, a)) = recursive_attr(opt) {
                let r = o.recursive.get_or_insert_with(MountAttr::default);
                if set {
                    r.set |= a;
                    r.clr &= !a;
                } else {
                    r.clr |= a;
                    r.set &= !a;
                }
            } else if let Some(a) = recursive_atime(opt) {
                let r = o.recursive.get_or_insert_with(MountAttr::default);
                r.clr |= sys::MOUNT_ATTR_ATIME_MASK;
                r.set = (r.set & !sys::MOUNT_ATTR_ATIME_MASK) | a;
            } else if matches!(opt, "idmap" | "ridmap") || opt.starts_with("idmap=") {
                return Err(format!("{opt:?}: id-mapped mounts are not supported yet"));
            } else if opt == "tmpcopyup" {
                return Err("\"tmpcopyup\" is not supported yet".into());
            } else {
                o.data.push(opt.to_string());
            }
        }
        Ok(o)
    }

    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }

    pub fn is_recursive_bind(&self) -> bool {
        self.is_bind() && self.flags & libc::MS_REC != 0
    }

    /// Flags for the bind remount that applies ro/nosuid/... to a bind.
    pub fn remount_flags(&self) -> u64 {
        self.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT)
    }

    pub fn data_string(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }
}

/// What kind of mount one step makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// Bind (recursive or not) of a host path.
    Bind { source: CString, recursive: bool },
    /// A filesystem mount (tmpfs, proc, sysfs, devpts, mqueue, ...).
    Fs {
        fstype: CString,
        source: CString,
        data: Option<CString>,
    },
    /// The container's cgroup hierarchies under one directory.
    Cgroup { data_ro: bool },
}

/// One entry of `mounts`, ready to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountStep {
    /// Destination relative to the rootfs, without the leading slash.
    pub dest: CString,
    pub kind: MountKind,
    /// mount(2) flags (for binds: applied by a remount after the bind).
    pub flags: u64,
    pub propagation: Vec<u64>,
    pub recursive: Option<MountAttr>,
    /// Create the destination as a file rather than a directory.
    pub file: bool,
    /// The destination must not be reached through a symlink (proc, sysfs).
    pub no_symlinks: bool,
}

/// Cleans a destination into a rootfs-relative path: `..` may not climb
/// above the root, and the result never starts with `/`.
pub fn relative_in_root(dest: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in dest.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

pub(crate) fn cstring(s: impl Into<Vec<u8>>, what: &str) -> Result<CString, crate::Error> {
    CString::new(s).map_err(|_| crate::Error::invalid(what, "contains a NUL byte"))
}

/// Builds the step for one `mounts` entry. `bundle` anchors relative
/// bind sources, as runc does.
pub fn step(
    m: &oci_spec::runtime::Mount,
    index: usize,
    bundle: &Path,
) -> Result<MountStep, crate::Error> {
    use std::os::unix::ffi::OsStrExt;
    let field = format!("mounts[{index}]");
    let opts =
        MountOptions::parse(m.options().as_deref().unwrap_or_default()).map_err(|reason| {
            crate::Error::Invalid {
                field: format!("{field}.options"),
                reason,
            }
        })?;
    let dest = relative_in_root(m.destination());
    let dest_c = cstring(dest.as_os_str().as_bytes(), &field)?;
    let typ = m.typ().as_deref().unwrap_or("");
    let source = m.source().clone().unwrap_or_default();
    let bind = opts.is_bind() || typ == "bind";
    let kind;
    let mut file = false;
    if bind {
        let src = if source.is_absolute() {
            source
        } else {
            bundle.join(source)
        };
        let meta = std::fs::metadata(&src).map_err(|e| {
            crate::Error::invalid(format!("{field}.source"), format!("{}: {e}", src.display()))
        })?;
        file = !meta.is_dir();
        kind = MountKind::Bind {
            source: cstring(src.as_os_str().as_bytes(), &field)?,
            recursive: opts.is_recursive_bind(),
        };
    } else if typ == "cgroup" || typ == "cgroup2" {
        kind = MountKind::Cgroup {
            data_ro: opts.flags & libc::MS_RDONLY != 0,
        };
    } else {
        if typ.is_empty() {
            return Err(crate::Error::invalid(
                format!("{field}.type"),
                "is required for a non-bind mount",
            ));
        }
        let data = opts.data_string().map(|d| cstring(d, &field)).transpose()?;
        kind = MountKind::Fs {
            fstype: cstring(typ, &field)?,
            source: cstring(source.as_os_str().as_bytes(), &field)?,
            data,
        };
    }
    Ok(MountStep {
        dest: dest_c,
        kind,
        flags: if bind {
            opts.remount_flags()
        } else {
            opts.flags & !libc::MS_REMOUNT
        },
        propagation: opts.propagation,
        recursive: opts.recursive,
        file,
        no_symlinks: matches!(typ, "proc" | "sysfs"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(o: &[&str]) -> MountOptions {
        MountOptions::parse(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn flags_data_and_propagation() {
        let o = parse(&["nosuid", "strictatime", "mode=755", "size=65536k", "rslave"]);
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(o.data_string().as_deref(), Some("mode=755,size=65536k"));
        assert_eq!(o.propagation, vec![libc::MS_SLAVE | libc::MS_REC]);
    }

    #[test]
    fn later_options_win() {
        let o = parse(&["ro", "rw", "rbind"]);
        assert_eq!(o.flags & libc::MS_RDONLY, 0);
        assert!(o.is_recursive_bind());
        assert_eq!(o.remount_flags(), 0);
    }

    #[test]
    fn recursive_attributes() {
        let o = parse(&["rro", "rnosuid", "rnoatime"]);
        let r = o.recursive.unwrap();
        assert_eq!(
            r.set,
            sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOATIME
        );
        assert_eq!(r.clr, sys::MOUNT_ATTR_ATIME_MASK);
    }

    #[test]
    fn unsupported_options() {
        assert!(MountOptions::parse(&["idmap".into()]).is_err());
        assert!(MountOptions::parse(&["tmpcopyup".into()]).is_err());
    }

    #[test]
    fn destinations_stay_in_root() {
        assert_eq!(
            relative_in_root(Path::new("/../../etc/x")),
            PathBuf::from("etc/x")
        );
        assert_eq!(
            relative_in_root(Path::new("/a/./b/../c")),
            PathBuf::from("a/c")
        );
    }
}

/// Every mount option this runtime understands (as flags, propagation or
/// recursive attributes), for `features`; a test keeps it honest.
pub const KNOWN_OPTIONS: &[&str] = &[
    "acl",
    "noacl",
    "async",
    "sync",
    "atime",
    "noatime",
    "bind",
    "rbind",
    "defaults",
    "dev",
    "nodev",
    "diratime",
    "nodiratime",
    "dirsync",
    "exec",
    "noexec",
    "iversion",
    "noiversion",
    "lazytime",
    "nolazytime",
    "loud",
    "silent",
    "mand",
    "nomand",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "remount",
    "ro",
    "rw",
    "suid",
    "nosuid",
    "nosymfollow",
    "symfollow",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rnosymfollow",
    "rsymfollow",
    "rrelatime",
    "rnoatime",
    "rstrictatime",
];

#[cfg(test)]
mod known_options {
    #[test]
    fn every_listed_option_is_understood() {
        for opt in super::KNOWN_OPTIONS {
            let o = super::MountOptions::parse(&[opt.to_string()]).unwrap();
            assert!(o.data.is_empty(), "{opt} would be passed as fs data");
        }
    }
}
