//! The runtime config of an unpacked image, by the image-spec's
//! conversion rules, on top of `berth spec`'s defaults.

use std::collections::BTreeMap;

use oci_spec::image::ImageConfiguration;
use serde_json::{json, Value};

use crate::user::User;

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// config.json for `image` whose user resolved to `user`.
pub fn runtime_config(image: &ImageConfiguration, user: &User) -> Value {
    let mut spec = berth_container::spec_default::default_spec();
    let c = image.config().clone().unwrap_or_default();
    let mut args: Vec<String> = c.entrypoint().clone().unwrap_or_default();
    args.extend(c.cmd().clone().unwrap_or_default());
    if args.is_empty() {
        args.push("sh".into());
    }
    let mut env: Vec<String> = c.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.into());
    }
    let cwd = c
        .working_dir()
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    spec["root"] = json!({"path": "rootfs", "readonly": false});
    let p = &mut spec["process"];
    p["terminal"] = false.into();
    p["args"] = json!(args);
    p["env"] = json!(env);
    p["cwd"] = json!(cwd);
    p["user"] = json!({"uid": user.uid, "gid": user.gid});
    if !user.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(user.additional_gids);
    }
    spec["annotations"] = json!(annotations(image));
    spec
}

fn annotations(image: &ImageConfiguration) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    let c = image.config().clone().unwrap_or_default();
    for (k, v) in c.labels().clone().unwrap_or_default() {
        a.insert(k, v);
    }
    let oci = |k: &str| format!("org.opencontainers.image.{k}");
    a.insert(oci("os"), image.os().to_string());
    a.insert(oci("architecture"), image.architecture().to_string());
    if let Some(v) = image.variant() {
        a.insert(oci("variant"), v.clone());
    }
    if let Some(v) = image.author() {
        a.insert(oci("author"), v.clone());
    }
    if let Some(v) = image.created() {
        a.insert(oci("created"), v.clone());
    }
    if let Some(s) = c.stop_signal() {
        a.insert(oci("stopSignal"), s.clone());
    }
    if let Some(ports) = c.exposed_ports().as_ref().filter(|p| !p.is_empty()) {
        let mut ports = ports.clone();
        ports.sort();
        a.insert(oci("exposedPorts"), ports.join(","));
    }
    // The spec names no annotation for volumes (runtimes should mount
    // them); recorded so the user can.
    if let Some(v) = c.volumes().as_ref().filter(|v| !v.is_empty()) {
        let mut v = v.clone();
        v.sort();
        a.insert("io.berth.image.volumes".into(), v.join(","));
    }
    a
}
