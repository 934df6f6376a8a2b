//! Enforcement checks that hold on every cgroup version, shared by the
//! host tests (tests/resources.rs, tests/cgroup2.rs) and the pure v2 VM
//! tests (tests/cgroup_v2.rs).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test harness: a failed step is a failed test"
)]

use serde_json::json;

use crate::{text, Bundle, Env};

/// pids.limit 4: a shell forking eight children sees forks fail.
pub fn assert_pids_limit_enforced(env: &Env, name: &str) {
    let mut b = env.bundle(name);
    b.config["linux"]["resources"]["pids"] = json!({"limit": 4});
    b.args(&[
        "/bin/sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait",
    ]);
    b.config["root"]["readonly"] = false.into();
    b.save();
    let id = env.id(name);
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("fork"),
        "forks beyond pids.max must fail: {}",
        text(&out)
    );
    env.assert_gone(&id);
}

/// A 16 MiB memory (and memory+swap) limit: dd's 64 MiB buffer gets the
/// container OOM-killed, exit 137.
pub fn assert_oom_killed(env: &Env, name: &str) {
    let mut b = env.bundle(name);
    b.config["linux"]["resources"]["memory"] = json!({"limit": 16 << 20, "swap": 16 << 20});
    b.args(&[
        "/bin/dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64M",
        "count=1",
    ]);
    b.save();
    let id = env.id(name);
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert_eq!(out.status.code(), Some(137), "OOM-killed: {}", text(&out));
    env.assert_gone(&id);
}

/// A bundle whose image brings a node outside the default allow list
/// (/tmp/kmsg, 1:11): its script prints "null" after reading /dev/null
/// and "Operation not permitted" when opening the node fails, then runs
/// `then`.
pub fn denied_device_bundle(env: &Env, name: &str, then: &str) -> Bundle {
    let mut b = env.bundle(name);
    b.config["root"]["readonly"] = false.into();
    b.mknod_char("tmp/kmsg", 1, 11);
    let script = format!(
        "cat /dev/null && echo null; head -c1 /tmp/kmsg 2>&1 >/dev/null | grep -o 'Operation not permitted'; {then}"
    );
    b.args(&["/bin/sh", "-c", &script]);
    b.save();
    b
}
