//! Loading and validating `config.json`. Validation runs before anything is
//! created, so a bad bundle leaves nothing behind.

use std::collections::HashSet;
use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::Error;

/// Reads `config.json` from the bundle; a parse error names the field.
pub fn load(bundle: &Path) -> Result<Spec, Error> {
    let path = bundle.join("config.json");
    let data = std::fs::read(&path).map_err(|source| Error::ReadConfig {
        path: path.clone(),
        source,
    })?;
    parse(&data, path)
}

/// Parses `config.json`'s bytes; `path` names the file in errors.
pub fn parse(data: &[u8], path: std::path::PathBuf) -> Result<Spec, Error> {
    let de = &mut serde_json::Deserializer::from_slice(data);
    serde_path_to_error::deserialize(de).map_err(|e| Error::ParseConfig {
        path,
        field: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// Checks everything that can be checked without touching the system.
pub fn validate(spec: &Spec) -> Result<(), Error> {
    let v = spec.version();
    if !v.starts_with("1.") {
        return Err(Error::invalid(
            "ociVersion",
            format!("{v:?} is not a 1.x version"),
        ));
    }
    if spec.root().is_none() {
        return Err(Error::invalid("root", "is required"));
    }
    validate_process(spec)?;
    validate_namespaces(spec)?;
    validate_mounts(spec)?;
    validate_linux(spec)?;
    validate_hooks(spec)
}

fn validate_process(spec: &Spec) -> Result<(), Error> {
    let Some(p) = spec.process() else {
        return Err(Error::invalid(
            "process",
            "is required to create a container",
        ));
    };
    validate_process_fields(p)
}

/// The checks of `process`, shared with `exec`'s process.
pub(crate) fn validate_process_fields(p: &oci_spec::runtime::Process) -> Result<(), Error> {
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::invalid("process.args", "must name a program"));
    }
    if !p.cwd().is_absolute() {
        return Err(Error::invalid("process.cwd", "must be an absolute path"));
    }
    if p.exec_cpu_affinity().is_some() {
        return Err(Error::unsupported(
            "process.execCPUAffinity",
            "CPU affinity",
        ));
    }
    if p.apparmor_profile().as_ref().is_some_and(|s| !s.is_empty()) && lsm_enabled("apparmor") {
        return Err(Error::unsupported("process.apparmorProfile", "AppArmor"));
    }
    if p.selinux_label().as_ref().is_some_and(|s| !s.is_empty()) && lsm_enabled("selinux") {
        return Err(Error::unsupported("process.selinuxLabel", "SELinux"));
    }
    let mut seen = HashSet::new();
    for r in p.rlimits().iter().flatten() {
        let name = format!("{:?}", r.typ());
        if !seen.insert(name.clone()) {
            return Err(Error::invalid(
                "process.rlimits",
                format!("{name} appears twice"),
            ));
        }
        if r.soft() > r.hard() {
            return Err(Error::invalid(
                "process.rlimits",
                format!("{name}: soft limit above hard limit"),
            ));
        }
    }
    if let Some(io) = p.io_priority() {
        if !(0..=7).contains(&io.priority()) {
            return Err(Error::invalid(
                "process.ioPriority.priority",
                "must be 0 to 7",
            ));
        }
    }
    if let Some(s) = p.scheduler() {
        crate::plan::process::sched_attr(s)?;
    }
    Ok(())
}

/// True when the named LSM is active on this host. Labels for an LSM the
/// host does not run are ignored, as runc does.
fn lsm_enabled(name: &str) -> bool {
    match name {
        "apparmor" => std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.trim() == "Y"),
        _ => Path::new("/sys/fs/selinux/enforce").exists(),
    }
}

fn validate_namespaces(spec: &Spec) -> Result<(), Error> {
    let linux = spec.linux().as_ref();
    let nss = linux.and_then(|l| l.namespaces().as_ref());
    let mut seen = HashSet::new();
    for ns in nss.into_iter().flatten() {
        if !seen.insert(ns.typ()) {
            return Err(Error::invalid(
                "linux.namespaces",
                format!("{} appears twice", ns.typ()),
            ));
        }
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return Err(Error::invalid(
                    "linux.namespaces.path",
                    format!("{} is not absolute", p.display()),
                ));
            }
        }
    }
    let new = |t| {
        nss.into_iter()
            .flatten()
            .any(|n| n.typ() == t && n.path().is_none())
    };
    let has = |t| seen.contains(&t);
    let maps = linux.is_some_and(|l| l.uid_mappings().is_some() || l.gid_mappings().is_some());
    if new(LinuxNamespaceType::User) {
        let l = linux.ok_or_else(|| Error::invalid("linux", "is required"))?;
        if l.uid_mappings().as_ref().is_none_or(|m| m.is_empty())
            || l.gid_mappings().as_ref().is_none_or(|m| m.is_empty())
        {
            return Err(Error::invalid(
                "linux.uidMappings",
                "a new user namespace needs uidMappings and gidMappings",
            ));
        }
    } else if maps {
        return Err(Error::invalid(
            "linux.uidMappings",
            "mappings are only allowed with a new user namespace",
        ));
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !new(LinuxNamespaceType::Uts) {
        return Err(Error::invalid(
            "hostname",
            "setting the hostname needs a new uts namespace",
        ));
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !new(LinuxNamespaceType::Uts) {
        return Err(Error::invalid(
            "domainname",
            "setting the domainname needs a new uts namespace",
        ));
    }
    if linux.is_some_and(|l| l.time_offsets().is_some()) && !new(LinuxNamespaceType::Time) {
        return Err(Error::invalid(
            "linux.timeOffsets",
            "needs a new time namespace",
        ));
    }
    for (key, _) in linux
        .and_then(|l| l.sysctl().as_ref())
        .into_iter()
        .flatten()
    {
        sysctl_namespace(key).and_then(|t| {
            if has(t) {
                Ok(())
            } else {
                Err(Error::invalid(
                    format!("linux.sysctl.{key}"),
                    format!("needs a {t} namespace"),
                ))
            }
        })?;
    }
    Ok(())
}

/// The namespace a sysctl belongs to; anything not namespaced would change
/// the host and is refused, as runc does.
pub(crate) fn sysctl_namespace(key: &str) -> Result<LinuxNamespaceType, Error> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Ok(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Ok(LinuxNamespaceType::Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Ok(LinuxNamespaceType::Uts)
    } else {
        Err(Error::invalid(
            format!("linux.sysctl.{key}"),
            "is not namespaced: it would change the host",
        ))
    }
}

fn validate_mounts(spec: &Spec) -> Result<(), Error> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let field = format!("mounts[{i}]");
        if !m.destination().is_absolute() {
            return Err(Error::invalid(
                format!("{field}.destination"),
                "must be an absolute path",
            ));
        }
        if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
            return Err(Error::unsupported(
                format!("{field}.uidMappings"),
                "id-mapped mounts",
            ));
        }
        crate::plan::mounts::MountOptions::parse(m.options().as_deref().unwrap_or_default())
            .map_err(|reason| Error::Invalid {
                field: format!("{field}.options"),
                reason,
            })?;
    }
    Ok(())
}

fn validate_linux(spec: &Spec) -> Result<(), Error> {
    let Some(l) = spec.linux() else { return Ok(()) };
    // linux.seccomp is checked by compiling it, once, in Plan::build
    // (still before anything is created).
    if l.intel_rdt().is_some() {
        return Err(Error::unsupported("linux.intelRdt", "Intel RDT"));
    }
    if l.memory_policy().is_some() {
        return Err(Error::unsupported("linux.memoryPolicy", "a memory policy"));
    }
    if l.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(Error::unsupported(
            "linux.netDevices",
            "moving network devices",
        ));
    }
    if let Some(p) = l.personality() {
        if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
            return Err(Error::unsupported(
                "linux.personality.flags",
                "personality flags",
            ));
        }
    }
    if let Some(prop) = l.rootfs_propagation() {
        crate::plan::mounts::propagation_flag(prop).ok_or_else(|| {
            Error::invalid("linux.rootfsPropagation", format!("unknown value {prop:?}"))
        })?;
    }
    for (name, list) in [
        ("maskedPaths", l.masked_paths()),
        ("readonlyPaths", l.readonly_paths()),
    ] {
        if let Some(p) = list.iter().flatten().find(|p| !p.starts_with('/')) {
            return Err(Error::invalid(
                format!("linux.{name}"),
                format!("{p:?} is not absolute"),
            ));
        }
    }
    for (i, d) in l.devices().iter().flatten().enumerate() {
        if !d.path().is_absolute() {
            return Err(Error::invalid(
                format!("linux.devices[{i}].path"),
                "must be an absolute path",
            ));
        }
    }
    if let Some(r) = l.resources() {
        check_resources(r)?;
    }
    Ok(())
}

/// Checks of `linux.resources` that need no host: device access strings.
/// Every other field is applied by berth_cgroups, which refuses by name
/// what the host cannot do.
pub(crate) fn check_resources(r: &oci_spec::runtime::LinuxResources) -> Result<(), Error> {
    for (i, d) in r.devices().iter().flatten().enumerate() {
        let access = d.access().as_deref().unwrap_or("rwm");
        if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
            return Err(Error::invalid(
                format!("linux.resources.devices[{i}].access"),
                format!("{access:?} is not a subset of \"rwm\""),
            ));
        }
    }
    Ok(())
}

fn validate_hooks(spec: &Spec) -> Result<(), Error> {
    let Some(h) = spec.hooks() else { return Ok(()) };
    let lists = [
        ("prestart", h.prestart()),
        ("createRuntime", h.create_runtime()),
        ("createContainer", h.create_container()),
        ("startContainer", h.start_container()),
        ("poststart", h.poststart()),
        ("poststop", h.poststop()),
    ];
    for (name, list) in lists {
        for (i, hook) in list.iter().flatten().enumerate() {
            if !hook.path().is_absolute() {
                return Err(Error::invalid(
                    format!("hooks.{name}[{i}].path"),
                    "must be an absolute path",
                ));
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(Error::invalid(
                    format!("hooks.{name}[{i}].timeout"),
                    "must be greater than zero",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
        })
    }

    #[test]
    fn accepts_minimal() {
        validate(&spec(base())).unwrap();
    }

    #[test]
    fn rejections_name_the_field() {
        type Mutate = fn(&mut serde_json::Value);
        let cases: Vec<(Mutate, &str)> = vec![
            (|v| v["ociVersion"] = "2.0".into(), "ociVersion"),
            (
                |v| v["process"]["args"] = serde_json::json!([]),
                "process.args",
            ),
            (|v| v["process"]["cwd"] = "rel".into(), "process.cwd"),
            (
                |v| v["linux"]["namespaces"] = serde_json::json!([{"type":"pid"},{"type":"pid"}]),
                "linux.namespaces",
            ),
            (
                |v| v["linux"]["namespaces"] = serde_json::json!([{"type":"user"}]),
                "linux.uidMappings",
            ),
            (
                |v| {
                    v["linux"]["resources"] =
                        serde_json::json!({"devices":[{"allow":true,"access":"rwx"}]})
                },
                "linux.resources.devices[0].access",
            ),
            (
                |v| v["linux"]["sysctl"] = serde_json::json!({"kernel.panic":"1"}),
                "linux.sysctl.kernel.panic",
            ),
            (
                |v| v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward":"1"}),
                "linux.sysctl.net.ipv4.ip_forward",
            ),
            (
                |v| {
                    v["hostname"] = "h".into();
                    v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}]);
                },
                "hostname",
            ),
            (
                |v| v["mounts"] = serde_json::json!([{"destination":"rel","type":"tmpfs"}]),
                "mounts[0].destination",
            ),
            (
                |v| {
                    v["mounts"] =
                        serde_json::json!([{"destination":"/x","type":"bind","options":["idmap"]}])
                },
                "mounts[0].options",
            ),
            (
                |v| {
                    v["process"]["rlimits"] =
                        serde_json::json!([{"type":"RLIMIT_NOFILE","soft":10,"hard":5}])
                },
                "process.rlimits",
            ),
        ];
        for (mutate, field) in cases {
            let mut v = base();
            mutate(&mut v);
            let err = validate(&spec(v)).expect_err(field).to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
    }

    #[test]
    fn empty_resources_pass() {
        let mut v = base();
        v["linux"]["resources"] =
            serde_json::json!({"memory": {}, "devices": [{"allow": false, "access": "rwm"}]});
        validate(&spec(v)).unwrap();
    }
}
