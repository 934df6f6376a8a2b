//! `linux.resources` on a pure cgroup v2 host. This machine is hybrid,
//! so these tests are ignored here and run inside the QEMU VM of
//! `hack/test-v2.sh` (part of `hack/test.sh` and CI), which boots with
//! cgroup v1 disabled and every controller enabled at the root.
//!
//! Each value lands in the unified file runc would write (converted from
//! runtime-spec's v1-shaped fields), shows inside the container's own
//! cgroup2 mount, and is enforced where that can be shown cheaply.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::fs;
use std::path::PathBuf;

use berth_integration_tests::limits::denied_device_bundle;
use berth_integration_tests::{assert_fails, stdout_lines, text, Env};
use serde_json::json;

/// The container's cgroup as the host sees it (the default path: the id
/// under the caller's cgroup).
fn leaf(id: &str) -> PathBuf {
    let own = fs::read_to_string("/proc/self/cgroup").unwrap();
    let path = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    PathBuf::from("/sys/fs/cgroup")
        .join(path.trim_start_matches('/'))
        .join(id)
}

fn read(id: &str, file: &str) -> String {
    fs::read_to_string(leaf(id).join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .trim()
        .to_string()
}

#[test]
#[ignore = "needs a pure cgroup v2 host: hack/test-v2.sh runs it in a VM"]
fn limits_land_in_the_unified_files_and_show_inside() {
    let env = Env::new("v2-files");
    let mut b = env.bundle("b");
    let r = &mut b.config["linux"]["resources"];
    r["memory"] = json!({"limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20});
    r["cpu"] = json!({"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000, "cpus": "0", "mems": "0"});
    r["pids"] = json!({"limit": 42});
    r["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4 << 20}]);
    r["unified"] = json!({"memory.high": "50331648"});
    b.args(&["/bin/sh", "-c", "cd /sys/fs/cgroup; cat memory.max memory.low memory.swap.max memory.high cpu.weight cpu.max cpu.max.burst cpuset.cpus pids.max hugetlb.2MB.max hugetlb.2MB.rsvd.max"]);
    b.save();
    let id = env.id("c");
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        stdout_lines(&out),
        [
            "67108864",
            "33554432",
            "33554432",
            "50331648",
            // cpu.shares 1024 -> cpu.weight, runc's conversion.
            "39",
            "50000 100000",
            "1000",
            "0",
            "42",
            "4194304",
            "4194304"
        ]
    );
    env.assert_gone(&id);
}

#[test]
#[ignore = "needs a pure cgroup v2 host: hack/test-v2.sh runs it in a VM"]
fn pids_and_memory_limits_are_enforced() {
    let env = Env::new("v2-enforce");
    berth_integration_tests::limits::assert_pids_limit_enforced(&env, "pids");
    berth_integration_tests::limits::assert_oom_killed(&env, "mem");
}

#[test]
#[ignore = "needs a pure cgroup v2 host: hack/test-v2.sh runs it in a VM"]
fn io_weight_and_throttles_land_in_io_files() {
    let env = Env::new("v2-io");
    // Any block device of the VM (its init sets up a loop device).
    let dev = fs::read_dir("/sys/block")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| fs::read_to_string(e.path().join("size")).is_ok_and(|s| s.trim() != "0"))
        .find_map(|e| fs::read_to_string(e.path().join("dev")).ok())
        .expect("a block device");
    let dev = dev.trim();
    let (major, minor) = dev.split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let mut b = env.bundle("b");
    b.config["linux"]["resources"]["blockIO"] = json!({
        "weight": 500,
        "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]
    });
    b.args(&["/bin/sh", "-c", "cat /sys/fs/cgroup/io.max; cat /sys/fs/cgroup/io.bfq.weight 2>/dev/null || cat /sys/fs/cgroup/io.weight"]);
    b.save();
    let id = env.id("c");
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    let got = stdout_lines(&out);
    assert_eq!(
        got[0],
        format!("{dev} rbps=1048576 wbps=max riops=max wiops=100")
    );
    // BFQ takes the weight as is; io.weight gets runc's conversion.
    assert!(
        got[1] == "default 500" || got[1] == "default 4950",
        "{got:?}"
    );
    env.assert_gone(&id);
}

#[test]
#[ignore = "needs a pure cgroup v2 host: hack/test-v2.sh runs it in a VM"]
fn update_changes_live_limits() {
    let env = Env::new("v2-update");
    let mut b = env.bundle("b");
    b.config["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
    b.config["linux"]["resources"]["pids"] = json!({"limit": 10});
    b.args(&["/bin/sleep", "1000"]);
    let id = env.id("c");
    env.run_detached(&b, &id);
    assert_eq!(read(&id, "memory.max"), (64u64 << 20).to_string());
    let out = env.berth(&[
        "update",
        "--memory",
        "128m",
        "--memory-swap",
        "192m",
        "--pids-limit",
        "20",
        "--cpu-share",
        "2048",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "40000",
        "--cpu-idle",
        "0",
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(read(&id, "memory.max"), (128u64 << 20).to_string());
    assert_eq!(read(&id, "memory.swap.max"), (64u64 << 20).to_string());
    assert_eq!(read(&id, "pids.max"), "20");
    assert_eq!(read(&id, "cpu.weight"), "79");
    assert_eq!(read(&id, "cpu.max"), "20000 40000");
    // Only the period: the quota in force goes with it into cpu.max.
    assert!(env
        .berth(&["update", "--cpu-period", "80000", &id])
        .status
        .success());
    assert_eq!(read(&id, "cpu.max"), "20000 80000");
    let r = env.dir.join("r.json");
    fs::write(&r, json!({"unified": {"pids.max": "7"}}).to_string()).unwrap();
    assert!(env
        .berth(&["update", "-r", r.to_str().unwrap(), &id])
        .status
        .success());
    assert_eq!(read(&id, "pids.max"), "7");
    fs::write(
        &r,
        json!({"memory": {"limit": 4096, "checkBeforeUpdate": true}}).to_string(),
    )
    .unwrap();
    assert_fails(
        &env.berth(&["update", "-r", r.to_str().unwrap(), &id]),
        "checkBeforeUpdate",
    );
    assert_eq!(read(&id, "memory.max"), (128u64 << 20).to_string());
    assert_fails(
        &env.berth(&["update", "--cpu-rt-runtime", "1000", &id]),
        "cpu.realtimeRuntime",
    );
    assert!(env.berth(&["delete", "-f", &id]).status.success());
    env.assert_gone(&id);
}

#[test]
#[ignore = "needs a pure cgroup v2 host: hack/test-v2.sh runs it in a VM"]
fn events_report_v2_stats_and_oom_kills() {
    let env = Env::new("v2-events");
    let mut b = env.bundle("b");
    b.config["linux"]["resources"]["memory"] = json!({"limit": 16 << 20, "swap": 16 << 20});
    b.config["linux"]["resources"]["pids"] = json!({"limit": 30});
    // The OOM comes when the test says so: the VM's speed varies.
    b.config["root"]["readonly"] = false.into();
    b.args(&[
        "/bin/sh",
        "-c",
        "until [ -e /tmp/go ]; do sleep 0.1; done; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 1",
    ]);
    let id = env.id("c");
    env.run_detached(&b, &id);
    let once = env.berth(&["events", "--stats", &id]);
    assert!(once.status.success(), "{}", text(&once));
    let v: serde_json::Value = serde_json::from_slice(&once.stdout).unwrap();
    assert_eq!(v["data"]["memory"]["usage"]["limit"], 16 << 20);
    assert!(v["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
    assert_eq!(v["data"]["pids"]["limit"], 30);
    assert!(v["data"]["pids"]["current"].as_u64().unwrap() >= 1);
    assert!(v["data"]["cpu"]["usage"]["total"].as_u64().unwrap() > 0);
    let out = std::thread::scope(|s| {
        let stream = s.spawn(|| env.berth(&["events", "--interval", "300ms", &id]));
        std::thread::sleep(std::time::Duration::from_millis(1000));
        fs::write(b.rootfs().join("tmp/go"), "").unwrap();
        stream.join().unwrap()
    });
    assert!(out.status.success(), "{}", text(&out));
    let kinds: Vec<String> = stdout_lines(&out)
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        kinds.iter().filter(|k| *k == "stats").count() >= 2,
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "oom"), "{kinds:?}");
    assert!(env.berth(&["delete", &id]).status.success());
    env.assert_gone(&id);
}

#[test]
#[ignore = "needs a pure cgroup v2 host: hack/test-v2.sh runs it in a VM"]
fn what_v2_cannot_express_is_refused_by_name() {
    let env = Env::new("v2-refused");
    for (i, (section, value, needle)) in [
        ("memory", json!({"swappiness": 10}), "memory.swappiness"),
        ("memory", json!({"kernel": 1 << 20}), "memory.kernel"),
        ("memory", json!({"swap": 1 << 20}), "memory.swap"),
        (
            "cpu",
            json!({"realtimeRuntime": 1000}),
            "cpu.realtimeRuntime",
        ),
        ("network", json!({"classID": 1}), "network"),
        ("blockIO", json!({"leafWeight": 100}), "blockIO.leafWeight"),
        ("unified", json!({"cgroup.procs": "1"}), "cgroup.procs"),
        (
            "unified",
            json!({"memory.nonexistent": "1"}),
            "memory.nonexistent",
        ),
        (
            "hugepageLimits",
            json!([{"pageSize": "4MB", "limit": 1}]),
            "hugetlb.4MB.max",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut b = env.bundle(&format!("b{i}"));
        b.config["linux"]["resources"][section] = value;
        env.create_fails(&b, &env.id(&format!("c{i}")), needle);
    }
}

#[test]
#[ignore = "needs a pure cgroup v2 host: hack/test-v2.sh runs it in a VM"]
fn controllers_pass_through_created_parents_but_not_foreign_ones() {
    let env = Env::new("v2-delegate");
    // Parents berth creates pass every controller down.
    let top = format!("{}-top", env.id("p"));
    let mut b = env.bundle("ours");
    b.config["linux"]["cgroupsPath"] = format!("/{top}/mid/c").into();
    b.config["linux"]["resources"]["memory"] = json!({"limit": 32 << 20});
    b.args(&["/bin/cat", "/sys/fs/cgroup/memory.max"]);
    b.save();
    let out = env.berth(&["run", "-b", b.arg(), &env.id("ours")]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout_lines(&out), [(32u64 << 20).to_string()]);
    assert!(!PathBuf::from("/sys/fs/cgroup").join(&top).exists());
    // A parent berth did not create and that delegates nothing: refused,
    // naming it, and left as it was.
    let foreign = PathBuf::from("/sys/fs/cgroup").join(format!("{}-foreign", env.id("p")));
    fs::create_dir(&foreign).unwrap();
    let mut b = env.bundle("foreign");
    let name = foreign.file_name().unwrap().to_str().unwrap().to_string();
    b.config["linux"]["cgroupsPath"] = format!("/{name}/c").into();
    b.config["linux"]["resources"]["memory"] = json!({"limit": 32 << 20});
    let id = env.id("foreign");
    b.save();
    let out = env.berth(&["create", "-b", b.arg(), &id]);
    let subtree = fs::read_to_string(foreign.join("cgroup.subtree_control")).unwrap();
    let left = foreign.join("c").exists();
    fs::remove_dir(&foreign).unwrap();
    assert_fails(&out, &format!("{name}/cgroup.subtree_control"));
    assert_eq!(subtree.trim(), "");
    assert!(!left, "the container's cgroup was left behind");
}

#[test]
#[ignore = "needs a pure cgroup v2 host: hack/test-v2.sh runs it in a VM"]
fn device_rules_are_enforced_by_the_bpf_program() {
    let env = Env::new("v2-devices");
    let b = denied_device_bundle(&env, "b", "");
    let id = env.id("c");
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout_lines(&out), ["null", "Operation not permitted"]);
    env.assert_gone(&id);
}

#[test]
#[ignore = "needs a pure cgroup v2 host: hack/test-v2.sh runs it in a VM"]
fn the_shim_reports_v2_metrics_and_oom_kills() {
    use berth_integration_tests::containerd::Ctd;
    let env = Env::new("v2-shim");
    let ctd = Ctd::start(&env, "v2shim");
    let events = ctd.events();
    let out = ctd.run("echo", &[], &["/bin/echo", "hello"]);
    assert_eq!(stdout_lines(&out), ["hello"], "{}", text(&out));
    ctd.sleeper("d", &["--memory-limit", "67108864"]);
    // cgroup v2 metrics (io.containerd.cgroups.v2.Metrics), as ctr prints them.
    let out = ctd.ctr(&["task", "metrics", "d"]);
    assert!(out.status.success(), "{}", text(&out));
    let m = String::from_utf8_lossy(&out.stdout).into_owned();
    let limit = m.lines().find(|l| l.starts_with("memory.usage_limit"));
    assert!(limit.is_some_and(|l| l.contains("67108864")), "{m}");
    assert!(m.lines().any(|l| l.starts_with("pids.current")), "{m}");
    ctd.remove("d");
    ctd.assert_oom_killed("oom");
    let seen = events.stop();
    let oom = seen
        .lines()
        .any(|l| l.contains("/tasks/oom") && l.contains("\"container_id\":\"oom\""));
    assert!(oom, "{seen}");
}
