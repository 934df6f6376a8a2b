//! Placing containers in their cgroups on this v1/hybrid host and
//! removing exactly what was created.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::fs;
use std::path::PathBuf;

use berth_integration_tests::{text, Env};
use serde_json::{json, Value};

/// The test process's own cgroup in a v1 hierarchy.
fn own(controller: &str) -> String {
    fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
        .find_map(|l| {
            let mut p = l.splitn(3, ':');
            let (_, c, path) = (p.next()?, p.next()?, p.next()?);
            c.split(',')
                .any(|x| x == controller)
                .then(|| path.to_string())
        })
        .unwrap()
}

fn line_for<'a>(report: &'a Value, controller: &str) -> &'a str {
    report["cgroup"]
        .as_str()
        .unwrap()
        .lines()
        .find(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|c| c.split(',').any(|x| x == controller))
        })
        .unwrap()
}

fn host_cgroupns(b: &mut berth_integration_tests::Bundle) {
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "cgroup");
}

#[test]
fn default_path_is_the_id_under_the_callers_cgroup() {
    let env = Env::new("cg-default");
    let mut b = env.bundle("b");
    host_cgroupns(&mut b);
    b.args(&["/bin/checker", "report"]).save();
    let id = env.id("c");
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    let r = berth_integration_tests::parse_last_json(&out.stdout);
    let mem = own("memory");
    let expect = |base: &str| format!("{}/{id}", base.trim_end_matches('/'));
    assert!(
        line_for(&r, "memory").ends_with(&format!(":{}", expect(&mem))),
        "{}",
        r["cgroup"]
    );
    assert!(
        line_for(&r, "pids").ends_with(&format!(":{}", expect(&own("pids")))),
        "{}",
        r["cgroup"]
    );
    env.assert_gone(&id);
}

#[test]
fn absolute_and_relative_cgroups_paths() {
    let env = Env::new("cg-paths");
    let mut b = env.bundle("b");
    host_cgroupns(&mut b);
    let top = env.id("top");
    b.config["linux"]["cgroupsPath"] = format!("/{top}/inner").into();
    let r = env.check(&mut b, &["report"]);
    assert!(
        line_for(&r, "pids").ends_with(&format!(":/{top}/inner")),
        "{}",
        r["cgroup"]
    );
    assert!(
        !PathBuf::from(format!("/sys/fs/cgroup/pids/{top}")).exists(),
        "created parents are removed too"
    );

    b.config["linux"]["cgroupsPath"] = format!("{top}/rel").into();
    let r = env.check(&mut b, &["report"]);
    let mem = own("memory");
    assert!(
        line_for(&r, "memory").ends_with(&format!("{}/{top}/rel", mem.trim_end_matches('/'))),
        "{}",
        r["cgroup"]
    );
    assert!(berth_integration_tests::cgroup_dirs_named(&top).is_empty());
}

#[test]
fn pre_existing_cgroup_is_not_removed() {
    let env = Env::new("cg-shared");
    let name = env.id("pod");
    let pod = PathBuf::from("/sys/fs/cgroup/pids").join(&name);
    fs::create_dir(&pod).unwrap();
    let mut b = env.bundle("b");
    host_cgroupns(&mut b);
    b.config["linux"]["cgroupsPath"] = format!("/{name}/ctr").into();
    let r = env.check(&mut b, &["report"]);
    assert!(line_for(&r, "pids").ends_with(&format!(":/{name}/ctr")));
    assert!(
        pod.exists(),
        "a cgroup the runtime did not create was removed"
    );
    assert!(!pod.join("ctr").exists());
    fs::remove_dir(&pod).unwrap();
    // Other hierarchies, where the runtime created /<name>, are clean.
    assert!(berth_integration_tests::cgroup_dirs_named(&name).is_empty());
}

#[test]
fn systemd_form_is_refused_clearly() {
    let env = Env::new("cg-systemd");
    let mut b = env.bundle("b");
    b.config["linux"]["cgroupsPath"] = "system.slice:berth:abc".into();
    b.save();
    let id = env.id("c");
    env.create_fails(&b, &id, "systemd");
}

#[test]
fn processes_left_in_the_cgroup_are_killed_on_delete() {
    // Without a pid namespace, a background child survives init; delete
    // must still empty and remove the cgroup.
    let env = Env::new("cg-orphans");
    let mut b = env.bundle("b");
    b.config["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "uts"}, {"type": "ipc"}]);
    b.config["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    b.args(&["/bin/sh", "-c", "sleep 100 & sleep 100"]).save();
    let id = env.id("c");
    assert!(env
        .berth(&["run", "-d", "-b", b.arg(), &id])
        .status
        .success());
    std::thread::sleep(std::time::Duration::from_millis(100));
    let procs = fs::read_to_string(format!(
        "/sys/fs/cgroup/pids{}/{id}/cgroup.procs",
        own("pids").trim_end_matches('/')
    ))
    .unwrap();
    assert!(procs.lines().count() >= 2, "{procs}");
    let out = env.berth(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", text(&out));
    env.assert_gone(&id);
}

#[test]
fn delete_spares_other_processes_of_a_shared_cgroup() {
    // A container with its own pid namespace in a cgroup that also holds
    // another process: delete kills the container, not its neighbour.
    let env = Env::new("cg-neighbour");
    let name = env.id("shared");
    let shared = PathBuf::from("/sys/fs/cgroup/cpu").join(&name);
    fs::create_dir(&shared).unwrap();
    let mut neighbour = std::process::Command::new("sleep")
        .arg("100")
        .spawn()
        .unwrap();
    fs::write(shared.join("cgroup.procs"), neighbour.id().to_string()).unwrap();
    let mut b = env.bundle("b");
    b.config["linux"]["cgroupsPath"] = format!("/{name}").into();
    b.args(&["/bin/sleep", "100"]);
    let id = env.id("c");
    env.run_detached(&b, &id);
    let out = env.berth(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let alive = neighbour.try_wait().unwrap().is_none();
    neighbour.kill().unwrap();
    neighbour.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    fs::remove_dir(&shared).unwrap();
    assert!(
        alive,
        "delete killed a process that was not the container's"
    );
    env.assert_gone(&name);
}
