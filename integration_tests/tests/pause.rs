//! pause/resume (the v1 freezer on this host) and what a paused
//! container allows: kill, delete --force, exec only with --ignore-paused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::fs;
use std::time::{Duration, Instant};

use berth_integration_tests::{assert_fails, text, Bundle, Env};

fn counting(env: &Env) -> (Bundle, String) {
    let mut b = env.bundle("b");
    b.config["root"]["readonly"] = false.into();
    b.args(&[
        "/bin/sh",
        "-c",
        "while true; do echo x >> /tmp/count; sleep 0.02; done",
    ]);
    let id = env.id("c");
    env.run_detached(&b, &id);
    (b, id)
}

fn size(b: &Bundle) -> u64 {
    fs::metadata(b.rootfs().join("tmp/count"))
        .map(|m| m.len())
        .unwrap_or(0)
}

fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let env = Env::new("pause");
    let (b, id) = counting(&env);
    eventually("the loop runs", || size(&b) > 0);
    let out = env.berth(&["pause", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(env.state(&id)["status"], "paused");
    let frozen = size(&b);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(size(&b), frozen, "processes ran while paused");
    assert_fails(&env.berth(&["pause", &id]), "not running");
    assert!(env.berth(&["resume", &id]).status.success());
    assert_eq!(env.state(&id)["status"], "running");
    eventually("the loop runs again", || size(&b) > frozen);
    assert_fails(&env.berth(&["resume", &id]), "not paused");
}

#[test]
fn exec_into_a_paused_container_needs_ignore_paused() {
    let env = Env::new("pause-exec");
    let (b, id) = counting(&env);
    assert!(env.berth(&["pause", &id]).status.success());
    assert_fails(&env.berth(&["exec", &id, "/bin/true"]), "--ignore-paused");
    let pid_file = env.dir.join("exec.pid");
    let out = env.berth(&[
        "exec",
        "-d",
        "--ignore-paused",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "/bin/sh",
        "-c",
        "echo ran > /tmp/exec",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !b.rootfs().join("tmp/exec").exists(),
        "the exec'd process starts frozen"
    );
    assert!(env.berth(&["resume", &id]).status.success());
    eventually("the exec'd process runs after resume", || {
        b.rootfs().join("tmp/exec").exists()
    });
    // We are its subreaper (as a shim would be): reap it, or the
    // container's init could not finish exiting at delete.
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    berth_integration_tests::reap(pid);
}

#[test]
fn paused_container_can_be_killed_and_force_deleted() {
    let env = Env::new("pause-delete");
    let (_b, id) = counting(&env);
    assert!(env.berth(&["pause", &id]).status.success());
    assert!(
        env.berth(&["kill", &id, "USR1"]).status.success(),
        "kill is allowed while paused"
    );
    assert_fails(&env.berth(&["delete", &id]), "--force");
    let t = Instant::now();
    let out = env.berth(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", text(&out));
    // Guards against a hang on frozen processes, not a speed figure: the
    // same test runs in the emulated VM, five times slower than here.
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "delete waited on frozen processes"
    );
    env.assert_gone(&id);
}
