//! The config.json that `spec` writes: runc's default, so that bundles and
//! habits carry over unchanged.

use serde_json::{json, Value};

/// runc's default configuration (terminal on, busybox-friendly `sh`),
/// except that the ambient set is left out: without inheritable
/// capabilities (empty since CVE-2022-29162) the kernel cannot raise
/// ambient ones, so runc's listing of them has no effect.
pub fn default_spec() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": crate::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "berth",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// runc's rootless variant of the default: a user namespace mapping
/// root to the caller, no network namespace (sysfs then comes from a
/// read-only rbind of the host's), no uid=/gid= mount options and no
/// resources.
pub fn rootless_spec(uid: u32, gid: u32) -> Value {
    let mut v = default_spec();
    let map = |id: u32| json!([{"containerID": 0, "hostID": id, "size": 1}]);
    v["linux"]["uidMappings"] = map(uid);
    v["linux"]["gidMappings"] = map(gid);
    if let Some(linux) = v["linux"].as_object_mut() {
        linux.remove("resources");
    }
    if let Some(ns) = v["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({"type": "user"}));
    }
    if let Some(mounts) = v["mounts"].as_array_mut() {
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            } else if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| {
                    o.as_str()
                        .is_some_and(|o| !o.starts_with("gid=") && !o.starts_with("uid="))
                });
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_spec_is_valid_with_a_terminal() {
        let v = super::default_spec();
        assert_eq!(v["process"]["terminal"], true);
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
        crate::config::validate(&spec).unwrap();
    }

    #[test]
    fn rootless_spec_is_valid() {
        let v = super::rootless_spec(1000, 1000);
        assert_eq!(v["linux"]["uidMappings"][0]["hostID"], 1000);
        assert!(v["linux"].get("resources").is_none());
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
        crate::config::validate(&spec).unwrap();
    }
}
