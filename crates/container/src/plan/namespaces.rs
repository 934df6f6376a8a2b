//! Which namespaces to create and which to join, with the id maps and
//! time offsets that go with them.

use std::os::fd::OwnedFd;

use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespaceType};

use crate::Error;

/// The namespace part of the plan. Join fds are opened before fork so a
/// bad path fails before anything exists.
#[derive(Debug, Default)]
pub struct NsPlan {
    /// Namespaces to join, user first (entering it changes what the
    /// others may be joined with).
    pub joins: Vec<(OwnedFd, i32)>,
    /// CLONE_NEW* flags to unshare after the user namespace exists.
    pub unshare: i32,
    pub new_user: bool,
    pub new_pid: bool,
    pub new_cgroup: bool,
    /// True when the container runs in a user namespace (new or joined).
    pub in_userns: bool,
    pub uid_map: String,
    pub gid_map: String,
    /// Contents for /proc/self/timens_offsets.
    pub time_offsets: Option<String>,
}

pub fn clone_flag(t: LinuxNamespaceType) -> i32 {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

impl NsPlan {
    pub fn build(linux: Option<&Linux>) -> Result<Self, Error> {
        let mut plan = NsPlan::default();
        let nss = linux
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        let mut joins = Vec::new();
        for ns in &nss {
            let flag = clone_flag(ns.typ());
            match ns.path() {
                Some(path) => {
                    let fd = std::fs::File::open(path).map_err(|e| {
                        Error::invalid(
                            format!("linux.namespaces[{}].path", ns.typ()),
                            format!("{}: {e}", path.display()),
                        )
                    })?;
                    joins.push((OwnedFd::from(fd), flag));
                }
                None if flag == libc::CLONE_NEWUSER => plan.new_user = true,
                None => plan.unshare |= flag,
            }
        }
        joins.sort_by_key(|(_, f)| *f != libc::CLONE_NEWUSER);
        plan.in_userns = plan.new_user || joins.iter().any(|(_, f)| *f == libc::CLONE_NEWUSER);
        plan.joins = joins;
        plan.new_pid = plan.unshare & libc::CLONE_NEWPID != 0;
        plan.new_cgroup = plan.unshare & libc::CLONE_NEWCGROUP != 0;
        if let Some(l) = linux {
            plan.uid_map = id_map(l.uid_mappings().as_deref());
            plan.gid_map = id_map(l.gid_mappings().as_deref());
            plan.time_offsets = l.time_offsets().as_ref().map(|offsets| {
                let mut keys: Vec<_> = offsets.keys().collect();
                keys.sort();
                keys.iter()
                    .map(|k| {
                        let o = &offsets[*k];
                        format!(
                            "{k} {} {}\n",
                            o.secs().unwrap_or(0),
                            o.nanosecs().unwrap_or(0)
                        )
                    })
                    .collect()
            });
        }
        if let Some(t) = &plan.time_offsets {
            for line in t.lines() {
                let clock = line.split(' ').next().unwrap_or_default();
                if clock != "monotonic" && clock != "boottime" {
                    return Err(Error::invalid(
                        "linux.timeOffsets",
                        format!("unknown clock {clock:?}"),
                    ));
                }
            }
        }
        Ok(plan)
    }
}

/// uid_map/gid_map file contents.
pub fn id_map(m: Option<&[LinuxIdMapping]>) -> String {
    m.unwrap_or_default()
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_and_maps() {
        let l: Linux = serde_json::from_value(serde_json::json!({
            "namespaces": [{"type": "pid"}, {"type": "user"}, {"type": "time"}],
            "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "timeOffsets": {"monotonic": {"secs": 5, "nanosecs": 1}, "boottime": {"secs": 7}}
        }))
        .unwrap();
        let p = NsPlan::build(Some(&l)).unwrap();
        assert!(p.new_user && p.new_pid && p.in_userns);
        assert_eq!(p.unshare, libc::CLONE_NEWPID | libc::CLONE_NEWTIME);
        assert_eq!(p.uid_map, "0 100000 65536\n");
        assert_eq!(
            p.time_offsets.as_deref(),
            Some("boottime 7 0\nmonotonic 5 1\n")
        );
    }

    #[test]
    fn join_needs_existing_path() {
        let l: Linux = serde_json::from_value(serde_json::json!({
            "namespaces": [{"type": "network", "path": "/proc/self/ns/net"}, {"type": "ipc", "path": "/nonexistent"}]
        }))
        .unwrap();
        let err = NsPlan::build(Some(&l)).unwrap_err().to_string();
        assert!(err.contains("linux.namespaces[ipc].path"), "{err}");
    }
}
