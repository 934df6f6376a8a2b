//! runtime-spec's features document: what this build really supports,
//! built from the same tables the code uses.

use serde_json::{json, Value};

use crate::plan::mounts::KNOWN_OPTIONS;

/// Namespaces `linux.namespaces` accepts (all of Linux's).
pub const NAMESPACES: [&str; 8] = [
    "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time",
];

/// Hooks run at their runtime-spec lifecycle points.
pub const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// The features JSON (`berth features`).
pub fn features() -> Value {
    let mut caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    caps.sort();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::OCI_VERSION,
        "hooks": HOOKS,
        "mountOptions": KNOWN_OPTIONS,
        "linux": {
            "namespaces": NAMESPACES,
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {"enabled": false},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {"io.berth.version": env!("CARGO_PKG_VERSION")}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Value {
        json!({
            "ociVersion": "1.2.0", "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": []}
        })
    }

    fn validates(v: Value) -> bool {
        serde_json::from_value::<oci_spec::runtime::Spec>(v)
            .is_ok_and(|s| crate::config::validate(&s).is_ok())
    }

    #[test]
    fn listed_namespaces_hooks_and_capabilities_are_accepted() {
        for ns in NAMESPACES {
            let mut v = base();
            v["linux"]["namespaces"] = json!([{"type": ns}]);
            if ns == "user" {
                v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
                v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
            }
            assert!(validates(v), "{ns}");
        }
        for hook in HOOKS {
            let mut v = base();
            v["hooks"] = json!({hook: [{"path": "/bin/true"}]});
            assert!(validates(v), "{hook}");
        }
        let f = features();
        for cap in f["linux"]["capabilities"].as_array().unwrap() {
            let mut v = base();
            v["process"]["capabilities"] = json!({"bounding": [cap]});
            assert!(validates(v), "{cap}");
        }
    }

    #[test]
    fn what_is_declared_missing_is_refused() {
        let mut v = base();
        v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW"});
        assert!(!validates(v), "seccomp is declared disabled");
        let mut v = base();
        v["mounts"] =
            json!([{"destination": "/x", "type": "bind", "source": "/", "options": ["idmap"]}]);
        assert!(!validates(v), "idmap mounts are declared disabled");
        let mut v = base();
        v["linux"]["intelRdt"] = json!({"closID": "x"});
        assert!(!validates(v), "intelRdt is declared disabled");
    }
}
