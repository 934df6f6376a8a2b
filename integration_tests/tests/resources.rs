//! `linux.resources` on this hybrid host (v1 controllers): each value
//! lands in the right cgroup file, is visible inside, and is enforced
//! where that can be shown cheaply; what the host cannot apply is refused
//! by name. Pure cgroup v2: tests/cgroup_v2.rs, run in a VM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use berth_integration_tests::{stdout_lines, text, Env};
use serde_json::json;

#[test]
fn limits_land_in_the_cgroup_files_and_show_inside() {
    let env = Env::new("res-files");
    let mut b = env.bundle("b");
    b.config["linux"]["resources"]["memory"] =
        json!({"limit": 64 << 20, "reservation": 32 << 20, "swappiness": 10});
    b.config["linux"]["resources"]["cpu"] =
        json!({"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"});
    b.config["linux"]["resources"]["pids"] = json!({"limit": 42});
    b.args(&["/bin/sh", "-c", "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes memory/memory.swappiness cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpuset/cpuset.cpus pids/pids.max"]);
    b.save();
    let id = env.id("c");
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    let values = stdout_lines(&out);
    assert_eq!(
        values,
        ["67108864", "33554432", "10", "512", "50000", "100000", "0", "42"]
    );
    env.assert_gone(&id);
}

#[test]
fn pids_limit_is_enforced() {
    berth_integration_tests::limits::assert_pids_limit_enforced(&Env::new("res-pids"), "c");
}

#[test]
fn memory_limit_is_enforced_by_the_oom_killer() {
    berth_integration_tests::limits::assert_oom_killed(&Env::new("res-oom"), "c");
}

#[test]
fn more_v1_limits_land_in_their_files() {
    let env = Env::new("res-more");
    let mut b = env.bundle("b");
    b.config["linux"]["resources"]["memory"] =
        json!({"kernelTCP": 1 << 20, "useHierarchy": true, "disableOOMKiller": false});
    b.config["linux"]["resources"]["cpu"] = json!({
        "realtimePeriod": 1000000, "realtimeRuntime": 10000,
        "quota": 50000, "period": 100000, "burst": 20000, "idle": 1
    });
    b.args(&["/bin/sh", "-c", "cd /sys/fs/cgroup; cat memory/memory.kmem.tcp.limit_in_bytes memory/memory.use_hierarchy cpu/cpu.rt_period_us cpu/cpu.rt_runtime_us cpu/cpu.cfs_burst_us cpu/cpu.idle"]);
    b.save();
    let id = env.id("c");
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    let values = stdout_lines(&out);
    assert_eq!(values, ["1048576", "1", "1000000", "10000", "20000", "1"]);
    env.assert_gone(&id);
}

#[test]
fn fields_this_host_cannot_apply_are_refused_by_name() {
    let env = Env::new("res-refused");
    for (i, (section, value, needle)) in [
        // Linux 6.x accepts v1 kernel memory limits and ignores them.
        ("memory", json!({"kernel": 1 << 20}), "memory.kernel"),
        (
            "memory",
            json!({"limit": 32 << 20, "swap": 16 << 20}),
            "memory.swap",
        ),
        (
            "unified",
            json!({"memory.high": "1000000"}),
            "linux.resources.unified",
        ),
        // No net_cls/net_prio hierarchy is mounted here.
        ("network", json!({"classID": 1048577}), "network.classID"),
        (
            "network",
            json!({"priorities": [{"name": "lo", "priority": 1}]}),
            "network.priorities",
        ),
        // hugetlb lives only in the cgroup2 mount, whose root delegates nothing.
        (
            "hugepageLimits",
            json!([{"pageSize": "2MB", "limit": 4194304}]),
            "hugepageLimits",
        ),
        ("rdma", json!({"mlx5_0": {"hcaHandles": 1}}), "rdma"),
        // BFQ offers weights here, but no leaf weights.
        ("blockIO", json!({"leafWeight": 500}), "blockIO.leafWeight"),
        ("cpu", json!({"idle": 3}), "cpu.idle"),
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
fn update_changes_live_limits_and_records_them() {
    let env = Env::new("res-update");
    let mut b = env.bundle("b");
    b.config["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
    b.config["linux"]["resources"]["pids"] = json!({"limit": 10});
    b.args(&["/bin/sleep", "1000"]);
    let id = env.id("c");
    env.run_detached(&b, &id);
    let file = |ctrl: &str, name: &str| {
        let mem = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let base = mem
            .lines()
            .find_map(|l| {
                let mut p = l.splitn(3, ':');
                let (_, c, path) = (p.next()?, p.next()?, p.next()?);
                c.split(',')
                    .any(|x| x == ctrl)
                    .then(|| path.trim_end_matches('/').to_string())
            })
            .unwrap();
        std::fs::read_to_string(format!("/sys/fs/cgroup/{ctrl}{base}/{id}/{name}"))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        file("memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    let out = env.berth(&[
        "update",
        "--memory",
        "128m",
        "--pids-limit",
        "20",
        "--cpu-share",
        "256",
        "--cpu-quota",
        "-1",
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        file("memory", "memory.limit_in_bytes"),
        (128u64 << 20).to_string()
    );
    assert_eq!(file("pids", "pids.max"), "20");
    assert_eq!(file("cpu", "cpu.shares"), "256");
    assert_eq!(file("cpu", "cpu.cfs_quota_us"), "-1");
    let r = env.dir.join("resources.json");
    std::fs::write(
        &r,
        serde_json::to_vec(&json!({"pids": {"limit": 30}})).unwrap(),
    )
    .unwrap();
    assert!(env
        .berth(&["update", "-r", r.to_str().unwrap(), &id])
        .status
        .success());
    assert_eq!(file("pids", "pids.max"), "30");
    assert_eq!(
        file("memory", "memory.limit_in_bytes"),
        (128u64 << 20).to_string(),
        "untouched"
    );
    // Recorded in the container's state.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.root.join(&id).join("state.json")).unwrap())
            .unwrap();
    assert_eq!(state["resources"]["pids_limit"], 30);
    assert_eq!(state["resources"]["memory_limit"], 128 << 20);
    assert!(env
        .berth(&["update", "--cpu-idle", "1", "--cpu-rt-runtime", "5000", &id])
        .status
        .success());
    assert_eq!(file("cpu", "cpu.idle"), "1");
    assert_eq!(file("cpu", "cpu.rt_runtime_us"), "5000");
    berth_integration_tests::assert_fails(
        &env.berth(&["update", "--kernel-memory", "1m", &id]),
        "memory.kernel",
    );
    // This kernel schedules with BFQ: blkio.weight is blkio.bfq.weight.
    assert!(env
        .berth(&["update", "--blkio-weight", "500", &id])
        .status
        .success());
    assert_eq!(file("blkio", "blkio.bfq.weight"), "500");
    // checkBeforeUpdate: a limit below what the container uses is refused
    // and the limit in force stays.
    std::fs::write(
        &r,
        serde_json::to_vec(&json!({"memory": {"limit": 4096, "checkBeforeUpdate": true}})).unwrap(),
    )
    .unwrap();
    berth_integration_tests::assert_fails(
        &env.berth(&["update", "-r", r.to_str().unwrap(), &id]),
        "checkBeforeUpdate",
    );
    assert_eq!(
        file("memory", "memory.limit_in_bytes"),
        (128u64 << 20).to_string()
    );
    berth_integration_tests::assert_fails(
        &env.berth(&["update", "--memory", "lots", &id]),
        "--memory",
    );
    assert!(env.berth(&["kill", &id, "KILL"]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    berth_integration_tests::assert_fails(
        &env.berth(&["update", "--pids-limit", "5", &id]),
        "not running",
    );
}

#[test]
fn events_print_stats_and_oom_kills_until_the_container_stops() {
    let env = Env::new("res-events");
    let mut b = env.bundle("b");
    b.config["linux"]["resources"]["memory"] = json!({"limit": 16 << 20, "swap": 16 << 20});
    b.config["linux"]["resources"]["pids"] = json!({"limit": 30});
    b.args(&[
        "/bin/sh",
        "-c",
        "sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 0.5",
    ]);
    let id = env.id("c");
    env.run_detached(&b, &id);
    // Once: one stats event with the limits in force.
    let once = env.berth(&["events", "--stats", &id]);
    assert!(once.status.success(), "{}", text(&once));
    let v: serde_json::Value = serde_json::from_slice(&once.stdout).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["id"].as_str()),
        (Some("stats"), Some(id.as_str()))
    );
    assert_eq!(v["data"]["memory"]["usage"]["limit"], 16 << 20);
    assert_eq!(v["data"]["pids"]["limit"], 30);
    assert!(v["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
    assert!(v["data"]["cpu"]["usage"]["total"].as_u64().unwrap() > 0);
    // The container's own network namespace: its loopback only.
    let ifaces = v["data"]["network_interfaces"].as_array().unwrap();
    assert_eq!(ifaces.len(), 1, "{ifaces:?}");
    assert_eq!(ifaces[0]["name"], "lo");
    // Streaming: stats every 200 ms, the OOM kill of dd, then the end.
    let out = env.berth(&["events", "--interval", "200ms", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["type"].as_str()).collect();
    assert!(
        kinds.iter().filter(|k| **k == "stats").count() >= 2,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"oom"), "{kinds:?}");
    assert!(env.berth(&["delete", &id]).status.success());
    let gone = env.berth(&["events", "--stats", &id]);
    assert!(!gone.status.success());
}

#[test]
fn blkio_throttles_land_in_the_cgroup_files() {
    let env = Env::new("res-blkio");
    // A whole disk of this machine (throttles take disks, not partitions).
    let disk = std::fs::read_dir("/sys/block")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with("loop"))
        .find_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .expect("a block device");
    let (major, minor) = disk.trim().split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let mut b = env.bundle("b");
    b.config["linux"]["resources"]["blockIO"] = json!({
        "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]
    });
    b.args(&["/bin/sh", "-c", "cd /sys/fs/cgroup/blkio; cat blkio.throttle.read_bps_device blkio.throttle.write_iops_device"]);
    b.save();
    let id = env.id("c");
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{major}:{minor} 1048576\n{major}:{minor} 100\n")
    );
    env.assert_gone(&id);
}
