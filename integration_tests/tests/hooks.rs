//! Hooks: when each runs, in which namespace, what state it sees, and
//! what its failure does (runtime-spec's lifecycle, not runc 1.1's).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use berth_integration_tests::{assert_fails, host_ns, text, Bundle, Env};
use serde_json::{json, Value};

/// A hook that appends its name to `order` and saves its stdin (the
/// state) and its mount namespace next to it.
fn recorder(name: &str, dir: &Path, shell: &str) -> Value {
    let d = dir.display();
    json!({
        "path": shell,
        "args": ["sh", "-c", format!("cat > {d}/{name}.json; readlink /proc/self/ns/mnt > {d}/{name}.mnt; echo {name} >> {d}/order")]
    })
}

fn hooked_bundle(env: &Env) -> Bundle {
    let mut b = env.bundle("b");
    b.config["root"]["readonly"] = false.into();
    b.args(&["/bin/sleep", "100"]);
    let host = b.rootfs().join("tmp");
    b.config["hooks"] = json!({
        "prestart": [recorder("prestart", &host, "/bin/sh")],
        "createRuntime": [recorder("createRuntime", &host, "/bin/sh")],
        "createContainer": [recorder("createContainer", &host, "/bin/sh")],
        "startContainer": [recorder("startContainer", Path::new("/tmp"), "/bin/sh")],
        "poststart": [recorder("poststart", &host, "/bin/sh")],
        "poststop": [recorder("poststop", &env.dir, "/bin/sh")]
    });
    b.save();
    b
}

fn read_state(dir: &Path, name: &str) -> Value {
    serde_json::from_slice(&fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap()
}

fn order(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn hooks_run_at_their_lifecycle_points_with_the_state() {
    let env = Env::new("hooks");
    let b = hooked_bundle(&env);
    let tmp = b.rootfs().join("tmp");
    let id = env.id("c");
    let out = env.berth(&["create", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        order(&tmp.join("order")),
        ["prestart", "createRuntime", "createContainer"]
    );
    let pid = env.state(&id)["pid"].clone();
    for name in ["prestart", "createRuntime", "createContainer"] {
        let s = read_state(&tmp, name);
        assert_eq!(s["status"], "creating", "{name}");
        assert_eq!(s["pid"], pid, "{name}");
        assert_eq!(s["id"], id.as_str());
        assert_eq!(s["bundle"], b.arg());
    }
    let container_mnt = fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .unwrap()
        .display()
        .to_string();
    let mnt = |n: &str| {
        fs::read_to_string(tmp.join(format!("{n}.mnt")))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        mnt("createRuntime"),
        host_ns("mnt"),
        "createRuntime runs in the runtime namespace"
    );
    assert_eq!(mnt("prestart"), host_ns("mnt"));
    assert_eq!(
        mnt("createContainer"),
        container_mnt,
        "createContainer runs in the container namespace"
    );

    assert!(env.berth(&["start", &id]).status.success());
    assert_eq!(
        order(&tmp.join("order")),
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart"
        ]
    );
    assert_eq!(read_state(&tmp, "startContainer")["status"], "created");
    assert_eq!(mnt("startContainer"), container_mnt);
    let post = read_state(&tmp, "poststart");
    assert_eq!(post["status"], "running");
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(
        comm.trim(),
        "sleep",
        "poststart runs after the program started"
    );

    assert!(env.berth(&["delete", "--force", &id]).status.success());
    let stop = read_state(&env.dir, "poststop");
    assert_eq!(stop["status"], "stopped");
    assert!(
        !env.root.join(&id).exists(),
        "poststop runs after the container is deleted"
    );
    env.assert_gone(&id);
}

#[test]
fn hook_args_env_and_argv0() {
    let env = Env::new("hookenv");
    let mut b = env.bundle("b");
    let out = env.dir.join("out");
    b.config["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["custom-argv0", "-c", format!("{{ tr '\\0' ' ' < /proc/$$/cmdline; echo; env | grep -v PWD; }} > {}", out.display()), "first"],
        "env": ["FOO=bar"]
    }]});
    b.save();
    let id = env.id("c");
    assert!(env.berth(&["create", "-b", b.arg(), &id]).status.success());
    let text = fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("custom-argv0 -c ") && lines[0].trim_end().ends_with(" first"),
        "{text}"
    );
    assert_eq!(
        &lines[1..],
        ["FOO=bar"],
        "the hook's env is exactly its own"
    );
}

fn assert_create_fails_and_cleans_up(env: &Env, b: &Bundle, needle: &str) {
    let id = env.id("c");
    let out = env.berth(&["create", "-b", b.arg(), &id]);
    assert!(!out.status.success(), "create succeeded");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(needle),
        "{}",
        text(&out)
    );
    env.assert_gone(&id);
    assert_eq!(
        read_state(&env.dir, "poststop")["status"],
        "stopped",
        "poststop runs after a failed create hook"
    );
}

#[test]
fn failing_create_runtime_hook_stops_and_destroys() {
    let env = Env::new("hookfail-cr");
    let mut b = env.bundle("b");
    b.config["hooks"] = json!({
        "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 3"]}],
        "poststop": [recorder("poststop", &env.dir, "/bin/sh")]
    });
    b.save();
    assert_create_fails_and_cleans_up(&env, &b, "broken");
}

#[test]
fn failing_create_container_hook_stops_and_destroys() {
    let env = Env::new("hookfail-cc");
    let mut b = env.bundle("b");
    b.config["hooks"] = json!({
        "createContainer": [{"path": "/bin/false"}],
        "poststop": [recorder("poststop", &env.dir, "/bin/sh")]
    });
    b.save();
    assert_create_fails_and_cleans_up(&env, &b, "createContainer");
}

#[test]
fn hook_timeout_is_enforced() {
    let env = Env::new("hooktimeout");
    let mut b = env.bundle("b");
    b.config["hooks"] = json!({
        "prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}],
        "poststop": [recorder("poststop", &env.dir, "/bin/sh")]
    });
    b.save();
    let t = Instant::now();
    assert_create_fails_and_cleans_up(&env, &b, "timed out");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn failing_start_container_hook_stops_and_destroys() {
    let env = Env::new("hookfail-sc");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "100"]);
    b.config["hooks"] = json!({
        "startContainer": [{"path": "/bin/false"}],
        "poststop": [recorder("poststop", &env.dir, "/bin/sh")]
    });
    b.save();
    let id = env.id("c");
    assert!(env.berth(&["create", "-b", b.arg(), &id]).status.success());
    let out = env.berth(&["start", &id]);
    assert_fails(&out, "startContainer");
    env.assert_gone(&id);
    assert_eq!(read_state(&env.dir, "poststop")["status"], "stopped");
}

#[test]
fn failing_poststart_hook_stops_and_destroys() {
    let env = Env::new("hookfail-ps");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "100"]);
    b.config["hooks"] = json!({
        "poststart": [{"path": "/bin/false"}],
        "poststop": [recorder("poststop", &env.dir, "/bin/sh")]
    });
    b.save();
    let id = env.id("c");
    assert!(env.berth(&["create", "-b", b.arg(), &id]).status.success());
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let out = env.berth(&["start", &id]);
    assert_fails(&out, "poststart");
    env.assert_gone(&id);
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "container still running"
    );
}

#[test]
fn failing_poststop_hook_only_warns() {
    let env = Env::new("hookfail-pstop");
    let mut b = env.bundle("b");
    b.args(&["/bin/true"]);
    b.config["hooks"] = json!({"poststop": [
        {"path": "/bin/false"},
        recorder("poststop", &env.dir, "/bin/sh")
    ]});
    b.save();
    let id = env.id("c");
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning"),
        "{}",
        text(&out)
    );
    assert_eq!(
        read_state(&env.dir, "poststop")["status"],
        "stopped",
        "later hooks still run"
    );
    env.assert_gone(&id);
}
