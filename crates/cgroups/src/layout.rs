//! Detecting the host's cgroup hierarchies from the mount table.

use std::path::PathBuf;

use crate::Error;

/// The three kinds of hosts a runtime meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only v1 hierarchies.
    Legacy,
    /// v1 controllers plus a cgroup2 mount (systemd's "hybrid" layout).
    Hybrid,
    /// A single cgroup2 hierarchy.
    Unified,
}

/// One mounted hierarchy and the caller's cgroup in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Name used for the per-hierarchy directory inside the container's
    /// `/sys/fs/cgroup`: the controller list ("cpu", "name=systemd" gives
    /// "systemd"), or "unified" for a cgroup2 mount on a hybrid host.
    pub name: String,
    /// Controllers of a v1 hierarchy, empty for cgroup2.
    pub controllers: Vec<String>,
    /// Mount point on the host.
    pub mount: PathBuf,
    /// Root of the mount inside the hierarchy (field 4 of mountinfo).
    pub mount_root: String,
    /// The caller's cgroup in this hierarchy, from /proc/self/cgroup.
    pub caller: String,
    /// True for a cgroup2 hierarchy.
    pub v2: bool,
}

/// All hierarchies of the host.
#[derive(Debug, Clone)]
pub struct Layout {
    pub mode: Mode,
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    /// Reads `/proc/self/mountinfo` and `/proc/self/cgroup`.
    pub fn detect() -> Result<Self, Error> {
        let read = |p: &str| {
            std::fs::read_to_string(p).map_err(|source| Error::Read {
                path: p.into(),
                source,
            })
        };
        Self::parse(&read("/proc/self/mountinfo")?, &read("/proc/self/cgroup")?)
    }

    /// Pure parser behind [`Layout::detect`], fed with the two files.
    pub fn parse(mountinfo: &str, proc_cgroup: &str) -> Result<Self, Error> {
        let mut hierarchies = Vec::new();
        for line in mountinfo.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 5 || post.len() < 3 {
                continue;
            }
            let (root, mount, fstype) = (pre[3], unescape(pre[4]), post[0]);
            match fstype {
                "cgroup" => {
                    let opts: Vec<&str> = post[2].split(',').collect();
                    let controllers: Vec<String> = opts
                        .iter()
                        .filter(|o| is_controller_option(o))
                        .map(|o| o.to_string())
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    let key = controllers.join(",");
                    let caller = caller_cgroup(proc_cgroup, |c| {
                        let mut c: Vec<&str> = c.split(',').collect();
                        c.sort_unstable();
                        let mut k: Vec<&str> = key.split(',').collect();
                        k.sort_unstable();
                        c == k
                    })
                    .ok_or_else(|| Error::CallerCgroup(key.clone()))?;
                    let name = key.trim_start_matches("name=").to_string();
                    hierarchies.push(Hierarchy {
                        name,
                        controllers,
                        mount: PathBuf::from(mount),
                        mount_root: root.to_string(),
                        caller,
                        v2: false,
                    });
                }
                "cgroup2" => {
                    let caller = caller_cgroup(proc_cgroup, |c| c.is_empty())
                        .ok_or_else(|| Error::CallerCgroup("cgroup2".into()))?;
                    hierarchies.push(Hierarchy {
                        name: "unified".into(),
                        controllers: Vec::new(),
                        mount: PathBuf::from(mount),
                        mount_root: root.to_string(),
                        caller,
                        v2: true,
                    });
                }
                _ => {}
            }
        }
        dedup_by_name(&mut hierarchies);
        let v1 = hierarchies.iter().any(|h| !h.v2);
        let v2 = hierarchies.iter().any(|h| h.v2);
        let mode = match (v1, v2) {
            (true, true) => Mode::Hybrid,
            (true, false) => Mode::Legacy,
            (false, true) => Mode::Unified,
            (false, false) => return Err(Error::NoHierarchy),
        };
        if mode == Mode::Unified {
            hierarchies.retain(|h| h.v2);
        }
        Ok(Self { mode, hierarchies })
    }
}

impl Hierarchy {
    /// Host directory of a cgroup given by its path from the hierarchy root.
    pub fn dir(&self, cgroup: &str) -> PathBuf {
        let root = self.mount_root.trim_matches('/');
        let rel = cgroup.trim_matches('/');
        let rel = match rel.strip_prefix(root) {
            Some(r) if !root.is_empty() => r.trim_start_matches('/'),
            _ => rel,
        };
        if rel.is_empty() {
            self.mount.clone()
        } else {
            self.mount.join(rel)
        }
    }
}

fn is_controller_option(o: &str) -> bool {
    !matches!(
        o,
        "rw" | "ro" | "nosuid" | "nodev" | "noexec" | "relatime" | "noatime" | "xattr"
    ) && !o.starts_with("release_agent=")
        && !o.starts_with("clone_children")
        && o != "noprefix"
        && o != "cpuset_v2_mode"
}

/// Finds the caller's path for the hierarchy whose controller field matches.
fn caller_cgroup(proc_cgroup: &str, matches: impl Fn(&str) -> bool) -> Option<String> {
    proc_cgroup.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrl, path) = (parts.next()?, parts.next()?, parts.next()?);
        matches(ctrl).then(|| path.to_string())
    })
}

fn dedup_by_name(h: &mut Vec<Hierarchy>) {
    let mut seen = std::collections::HashSet::new();
    h.retain(|x| seen.insert(x.name.clone()));
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MI: &str = "\
30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
34 30 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
";
    const HYBRID_PC: &str = "\
9:name=systemd:/
4:memory:/process_api/x
1:cpu:/
7:cpuacct,cpu:/a
0::/
";

    #[test]
    fn hybrid_host() {
        let l = Layout::parse(HYBRID_MI, HYBRID_PC).unwrap();
        assert_eq!(l.mode, Mode::Hybrid);
        let names: Vec<_> = l.hierarchies.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            ["cpu", "memory", "systemd", "unified", "cpu,cpuacct"]
        );
        assert_eq!(l.hierarchies[1].caller, "/process_api/x");
        assert_eq!(l.hierarchies[4].caller, "/a");
    }

    #[test]
    fn unified_host() {
        let mi = "34 30 0:30 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
        let l = Layout::parse(mi, "0::/user.slice/x\n").unwrap();
        assert_eq!(l.mode, Mode::Unified);
        assert_eq!(l.hierarchies[0].caller, "/user.slice/x");
    }

    #[test]
    fn dir_strips_mount_root() {
        let h = Hierarchy {
            name: "memory".into(),
            controllers: vec!["memory".into()],
            mount: "/sys/fs/cgroup/memory".into(),
            mount_root: "/outer".into(),
            caller: "/outer/me".into(),
            v2: false,
        };
        assert_eq!(
            h.dir("outer/me/c"),
            PathBuf::from("/sys/fs/cgroup/memory/me/c")
        );
        assert!(Layout::parse("", "").is_err());
    }
}
