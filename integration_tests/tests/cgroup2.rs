//! The cgroup v2 paths, on this hybrid host: each berth command runs in
//! a private mount namespace whose /sys/fs/cgroup is the machine's
//! cgroup2 hierarchy alone, so berth sees a pure v2 layout. The v1
//! controllers stay bound to their v1 hierarchies, so resource limits are
//! not tested here (the VM tier of issue 4); placement, the device filter
//! program, freezing and cleanup are.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::process::{Command, Output};

use berth_integration_tests::limits::denied_device_bundle;
use berth_integration_tests::{berth_bin, run_captured, text, Env};

/// `berth --root ROOT ARGS` seeing only cgroup2.
fn berth_v2(env: &Env, args: &[&str]) -> Output {
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" \"$@\"")
        .arg(berth_bin())
        .arg("--root")
        .arg(&env.root)
        .args(args);
    run_captured(c, &env.dir)
}

#[test]
fn containers_run_with_the_device_filter_program() {
    let env = Env::new("v2-devices");
    let b = denied_device_bundle(
        &env,
        "b",
        "test -e /sys/fs/cgroup/cgroup.controllers && echo cgroup2",
    );
    let id = env.id("c");
    let out = berth_v2(&env, &["run", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "null\nOperation not permitted\ncgroup2\n"
    );
    env.assert_gone(&id);
}

#[test]
fn pause_and_resume_through_cgroup_freeze() {
    let env = Env::new("v2-freeze");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "30"]);
    b.save();
    let id = env.id("c");
    let out = berth_v2(&env, &["run", "-d", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    let status = |env: &Env| {
        let o = berth_v2(env, &["state", &id]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["status"].clone()
    };
    assert!(berth_v2(&env, &["pause", &id]).status.success());
    assert_eq!(status(&env), "paused");
    assert!(berth_v2(&env, &["resume", &id]).status.success());
    assert_eq!(status(&env), "running");
    let pid = status_pid(&env, &id);
    let del = berth_v2(&env, &["delete", "-f", &id]);
    assert!(del.status.success(), "{}", text(&del));
    berth_integration_tests::reap(pid);
    env.assert_gone(&id);
}

fn status_pid(env: &Env, id: &str) -> i32 {
    let o = berth_v2(env, &["state", id]);
    serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["pid"]
        .as_i64()
        .unwrap() as i32
}
