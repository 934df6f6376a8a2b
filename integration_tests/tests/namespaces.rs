//! Namespaces: each kind created new or joined by path, user namespaces
//! with their maps, time namespaces with their offsets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::time::Duration;

use berth_integration_tests::{host_ns, Env};
use serde_json::{json, Value};

const KINDS: [(&str, &str); 6] = [
    ("pid", "pid"),
    ("network", "net"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("mount", "mnt"),
    ("cgroup", "cgroup"),
];

#[test]
fn new_namespaces_differ_from_the_host() {
    let env = Env::new("ns-new");
    let mut b = env.bundle("b");
    let r = env.check(&mut b, &["report"]);
    for (_, link) in KINDS {
        assert_ne!(
            r["namespaces"][link],
            host_ns(link).as_str(),
            "{link} shared with host"
        );
    }
    assert_eq!(r["pid"], 1, "init is pid 1 of its pid namespace");
    // Namespaces not asked for are the host's.
    assert_eq!(r["namespaces"]["user"], host_ns("user").as_str());
    assert_eq!(r["namespaces"]["time"], host_ns("time").as_str());
    // cgroup namespace: the container's own cgroup is its root.
    assert!(
        r["cgroup"]
            .as_str()
            .unwrap()
            .lines()
            .all(|l| l.ends_with(":/")),
        "{}",
        r["cgroup"]
    );
}

#[test]
fn omitted_namespaces_are_shared_with_the_runtime() {
    let env = Env::new("ns-shared");
    let mut b = env.bundle("b");
    b.config["linux"]["namespaces"] = json!([{"type": "mount"}]);
    b.config["hostname"] = Value::Null;
    // Without its own network namespace sysfs cannot be mounted fresh.
    b.config["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    let r = env.check(&mut b, &["report"]);
    for link in ["net", "ipc", "uts", "cgroup"] {
        assert_eq!(r["namespaces"][link], host_ns(link).as_str(), "{link}");
    }
    assert_ne!(r["namespaces"]["mnt"], host_ns("mnt").as_str());
}

#[test]
fn namespaces_joined_by_path() {
    let env = Env::new("ns-join");
    let mut holder = env.bundle("holder");
    holder.args(&["/bin/sleep", "100"]);
    let pid = env.run_detached(&holder, &env.id("holder"));
    let link = |k: &str| ns_link(pid, k);

    let mut b = env.bundle("b");
    b.config["linux"]["namespaces"] = json!([
        {"type": "pid", "path": format!("/proc/{pid}/ns/pid")},
        {"type": "network", "path": format!("/proc/{pid}/ns/net")},
        {"type": "ipc", "path": format!("/proc/{pid}/ns/ipc")},
        {"type": "uts", "path": format!("/proc/{pid}/ns/uts")},
        {"type": "mount"},
        {"type": "cgroup", "path": format!("/proc/{pid}/ns/cgroup")}
    ]);
    b.config["hostname"] = Value::Null;
    let r = env.check(&mut b, &["report"]);
    for k in ["pid", "net", "ipc", "uts", "cgroup"] {
        assert_eq!(r["namespaces"][k], link(k).as_str(), "{k} not joined");
    }
    assert_ne!(r["namespaces"]["mnt"], link("mnt"));
    assert_ne!(r["pid"], 1, "joined pid namespace already has its init");
    assert_eq!(
        r["hostname"], "berth-test",
        "uts joined: the holder's hostname"
    );
}

#[test]
fn join_path_that_does_not_exist_fails_cleanly() {
    let env = Env::new("ns-badpath");
    let mut b = env.bundle("b");
    b.config["linux"]["namespaces"][1] =
        json!({"type": "network", "path": "/proc/999999999/ns/net"});
    b.save();
    let id = env.id("c");
    env.create_fails(&b, &id, "linux.namespaces[net].path");
}

/// The namespace link of kind `k` of process `pid`.
fn ns_link(pid: i64, k: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{k}"))
        .unwrap()
        .display()
        .to_string()
}

fn userns_bundle(env: &Env) -> berth_integration_tests::Bundle {
    let mut b = env.bundle("b");
    b.add_userns();
    b
}

#[test]
fn user_namespace_with_mappings() {
    let env = Env::new("ns-user");
    let mut b = userns_bundle(&env);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.config["process"]["oomScoreAdj"] = 300.into();
    let r = env.check(&mut b, &["report"]);
    assert_eq!(
        r["oom_score_adj"], "300",
        "set before entering the user namespace"
    );
    assert_ne!(r["namespaces"]["user"], host_ns("user").as_str());
    assert_eq!(
        r["uid_map"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(
        r["gid_map"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(r["uid"][0], 1000);
    assert_eq!(r["gid"][0], 1000);
    // Devices in a user namespace are bind mounts of the host's nodes.
    let null = env.check(&mut b, &["stat", "/dev/null"]);
    assert_eq!(
        (
            null["kind"].as_str(),
            null["major"].as_u64(),
            null["minor"].as_u64()
        ),
        (Some("char"), Some(1), Some(3))
    );
}

#[test]
fn user_namespace_without_mappings_is_invalid() {
    let env = Env::new("ns-user-nomap");
    let mut b = env.bundle("b");
    b.add_namespace("user");
    b.save();
    let id = env.id("c");
    env.create_fails(&b, &id, "uidMappings");
}

#[test]
fn time_namespace_with_offsets() {
    let env = Env::new("ns-time");
    let mut b = env.bundle("b");
    b.add_namespace("time");
    b.config["linux"]["timeOffsets"] =
        json!({"monotonic": {"secs": 86400, "nanosecs": 0}, "boottime": {"secs": 172800}});
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let r = env.check(&mut b, &["report"]);
    assert_ne!(r["namespaces"]["time"], host_ns("time").as_str());
    let inside = r["monotonic"].as_f64().unwrap();
    let host = now.tv_sec as f64;
    assert!(
        (inside - host - 86400.0).abs() < 30.0,
        "monotonic {inside} vs host {host}"
    );
    assert!(r["boottime"].as_f64().unwrap() > host + 172000.0);
    std::thread::sleep(Duration::from_millis(1));
}

#[test]
fn user_and_time_namespaces_joined_by_path() {
    let env = Env::new("ns-join-user");
    let mut holder = userns_bundle(&env);
    holder.add_namespace("time");
    holder.config["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 86400}});
    holder.args(&["/bin/sleep", "100"]);
    let pid = env.run_detached(&holder, &env.id("holder"));
    let link = |k: &str| ns_link(pid, k);

    let mut b = env.bundle("joiner");
    let nss = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    nss.push(json!({"type": "user", "path": format!("/proc/{pid}/ns/user")}));
    nss.push(json!({"type": "time", "path": format!("/proc/{pid}/ns/time")}));
    let r = env.check(&mut b, &["report"]);
    assert_eq!(r["namespaces"]["user"], link("user").as_str());
    assert_eq!(r["namespaces"]["time"], link("time").as_str());
    assert_eq!(
        r["uid_map"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(r["uid"][0], 0, "root of the joined user namespace");
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    assert!(
        r["monotonic"].as_f64().unwrap() > now.tv_sec as f64 + 86000.0,
        "offsets of the joined time namespace"
    );
}
