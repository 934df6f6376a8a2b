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

/// Seccomp actions, operators, architectures and flags `linux.seccomp`
/// accepts (the ABIs other than x86_64's three are accepted and have no
/// effect: their syscalls cannot reach this kernel).
pub const SECCOMP_ACTIONS: [&str; 9] = [
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];
pub const SECCOMP_OPERATORS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];
pub const SECCOMP_ARCHS: [&str; 3] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
pub const SECCOMP_FLAGS: [&str; 4] = [
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
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
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true},
            "seccomp": {
                "enabled": true,
                "actions": SECCOMP_ACTIONS,
                "operators": SECCOMP_OPERATORS,
                "archs": SECCOMP_ARCHS,
                "knownFlags": SECCOMP_FLAGS,
                "supportedFlags": SECCOMP_FLAGS
            },
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

    /// What create checks before touching anything: validation, and the
    /// seccomp compilation of Plan::build.
    fn validates(v: Value) -> bool {
        serde_json::from_value::<oci_spec::runtime::Spec>(v).is_ok_and(|s| {
            let seccomp = s.linux().as_ref().and_then(|l| l.seccomp().as_ref());
            crate::config::validate(&s).is_ok()
                && seccomp.is_none_or(|p| berth_seccomp::Filter::compile(p).is_ok())
        })
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
    fn listed_seccomp_actions_operators_archs_and_flags_are_accepted() {
        let with = |seccomp: Value| {
            let mut v = base();
            v["linux"]["seccomp"] = seccomp;
            validates(v)
        };
        for action in SECCOMP_ACTIONS {
            let rule = json!([{"names": ["mkdir"], "action": action}]);
            let s = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rule,
                "listenerPath": "/run/agent.sock"});
            assert!(with(s), "{action}");
        }
        for op in SECCOMP_OPERATORS {
            let arg = json!([{"index": 0, "value": 1, "op": op}]);
            let s = json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": arg}]});
            assert!(with(s), "{op}");
        }
        let s = json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": SECCOMP_ARCHS,
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]});
        assert!(with(s));
        assert!(!with(json!({"defaultAction": "SCMP_ACT_FROBNICATE"})));
        assert!(!with(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]})
        ));
    }

    #[test]
    fn what_is_declared_missing_is_refused() {
        let mut v = base();
        v["mounts"] =
            json!([{"destination": "/x", "type": "bind", "source": "/", "options": ["idmap"]}]);
        assert!(!validates(v), "idmap mounts are declared disabled");
        let mut v = base();
        v["linux"]["intelRdt"] = json!({"closID": "x"});
        assert!(!validates(v), "intelRdt is declared disabled");
    }
}
