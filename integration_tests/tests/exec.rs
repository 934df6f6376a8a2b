//! `exec`: a new process in a running container, with the container's
//! namespaces, cgroups and defaults, and each override observed inside.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use berth_integration_tests::{
    assert_fails, cap_bit, cap_mask, inherit_fd, parse_last_json, run_captured, strings, text,
    Bundle, Env,
};
use serde_json::{json, Value};

/// A running container with `sleep` as init; returns (id, init pid).
fn running(env: &Env, b: &mut Bundle) -> (String, i64) {
    b.args(&["/bin/sleep", "1000"]);
    let id = env.id("c");
    let pid = env.run_detached(b, &id);
    (id, pid)
}

fn exec_json(env: &Env, args: &[&str]) -> Value {
    let mut all = vec!["exec"];
    all.extend_from_slice(args);
    let out = env.berth(&all);
    assert!(out.status.success(), "{}", text(&out));
    parse_last_json(&out.stdout)
}

#[test]
fn exec_joins_every_namespace_and_cgroup_of_the_container() {
    let env = Env::new("exec-ns");
    let mut b = env.bundle("b");
    let (id, pid) = running(&env, &mut b);
    let r = exec_json(&env, &[&id, "/bin/checker", "report"]);
    for ns in ["cgroup", "ipc", "mnt", "net", "pid", "uts"] {
        let init = fs::read_link(format!("/proc/{pid}/ns/{ns}"))
            .unwrap()
            .display()
            .to_string();
        assert_eq!(r["namespaces"][ns], init.as_str(), "{ns}");
    }
    assert_ne!(r["pid"], 1, "not the container's init");
    // In the container's cgroup namespace, its own cgroup is the root.
    let cg = r["cgroup"].as_str().unwrap();
    assert!(cg.lines().all(|l| l.ends_with(":/")), "{cg}");
    assert_eq!(r["hostname"], "berth-test");
    assert_eq!(r["fds"], json!([0, 1, 2]));
}

#[test]
fn exec_inherits_the_container_process_and_applies_overrides() {
    let env = Env::new("exec-defaults");
    let mut b = env.bundle("b");
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=base", "KEEP=1"]);
    b.config["process"]["cwd"] = "/home/u".into();
    b.config["process"]["noNewPrivileges"] = false.into();
    let (id, _) = running(&env, &mut b);
    let r = exec_json(&env, &[&id, "checker", "report"]);
    let env_of = |r: &Value| {
        r["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        env_of(&r).contains(&"FOO=base".to_string()),
        "{:?}",
        env_of(&r)
    );
    assert_eq!(r["cwd"], "/home/u");
    assert_eq!(r["no_new_privs"], "0");
    assert_eq!(r["uid"][0], 0);

    let r = exec_json(
        &env,
        &[
            "-e",
            "FOO=over",
            "--env",
            "NEW=1",
            "--cwd",
            "/tmp",
            "--user",
            "1000:1001",
            "-g",
            "2000",
            "--cap",
            "CAP_NET_RAW",
            "--no-new-privs",
            &id,
            "checker",
            "report",
        ],
    );
    let e = env_of(&r);
    assert!(
        e.contains(&"FOO=over".into())
            && e.contains(&"NEW=1".into())
            && e.contains(&"KEEP=1".into()),
        "{e:?}"
    );
    assert!(!e.contains(&"FOO=base".into()));
    assert_eq!(r["cwd"], "/tmp");
    assert_eq!(
        (r["uid"][0].as_u64(), r["gid"][0].as_u64()),
        (Some(1000), Some(1001))
    );
    assert_eq!(r["groups"], json!([2000]));
    assert_eq!(r["no_new_privs"], "1");
    assert!(cap_mask(&r["caps"]["bounding"]) & cap_bit("CAP_NET_RAW") != 0);
}

#[test]
fn exec_with_a_process_file() {
    let env = Env::new("exec-file");
    let mut b = env.bundle("b");
    let (id, _) = running(&env, &mut b);
    let file = env.dir.join("process.json");
    fs::write(
        &file,
        serde_json::to_vec(&json!({
            "args": ["/bin/checker", "report"], "env": ["ONLY=this"], "cwd": "/home",
            "user": {"uid": 1000, "gid": 1000, "umask": 63},
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 77, "hard": 77}]
        }))
        .unwrap(),
    )
    .unwrap();
    let r = exec_json(&env, &["--process", file.to_str().unwrap(), &id]);
    let e = strings(&r["env"]);
    assert!(
        e.contains(&"ONLY=this") && !e.iter().any(|v| v.starts_with("PATH=")),
        "{e:?}"
    );
    assert_eq!(r["cwd"], "/home");
    assert_eq!(r["uid"][0], 1000);
    assert_eq!(r["umask"], "0077");
    assert_eq!(cap_mask(&r["caps"]["bounding"]), cap_bit("CAP_KILL"));
    assert_eq!(r["rlimits"]["RLIMIT_NOFILE"], json!([77, 77]));
}

#[test]
fn exec_exit_codes_and_errors() {
    let env = Env::new("exec-codes");
    let mut b = env.bundle("b");
    let (id, _) = running(&env, &mut b);
    let out = env.berth(&["exec", &id, "/bin/checker", "exit", "9"]);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    // Arguments after the id that start with '-' belong to the command.
    let out = env.berth(&["exec", &id, "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_fails(
        &env.berth(&["exec", &id, "/no/such/program"]),
        "no such executable",
    );
    assert_fails(&env.berth(&["exec", &id]), "command");
    // --tty in the foreground relays a terminal even when stdin is not one.
    let out = env.berth(&["exec", "--tty", &id, "sh", "-c", "tty; exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("/dev/pts/"),
        "{}",
        text(&out)
    );
    assert_fails(&env.berth(&["exec", "missing", "sh"]), "does not exist");
    assert!(env.berth(&["kill", &id, "KILL"]).status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.state(&id)["status"] != "stopped" {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_fails(&env.berth(&["exec", &id, "sh"]), "not running");
}

#[test]
fn exec_detached_with_pid_file() {
    let env = Env::new("exec-detach");
    let mut b = env.bundle("b");
    let (id, init) = running(&env, &mut b);
    let pid_file = env.dir.join("exec.pid");
    let out = env.berth(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "/bin/sleep",
        "1000",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // `exec -d` returns once the process is on its way: it may still be
    // in the exec stub (docs/security.md) for a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let cmd = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
        if cmd.starts_with("/bin/sleep") {
            break;
        }
        assert!(Instant::now() < deadline, "{cmd}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let ns = |p: i64| fs::read_link(format!("/proc/{p}/ns/pid")).unwrap();
    assert_eq!(ns(pid as i64), ns(init));
    let cgroup = |p: i64| fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
    assert_eq!(
        cgroup(pid as i64),
        cgroup(init),
        "in the container's cgroups"
    );
    // Deleting the container ends its exec'd processes with it. The
    // detached process is ours to reap (the test is a subreaper, like a
    // shim); until then the container's init cannot finish exiting, so
    // reap it while delete runs.
    let mut delete = env
        .command(&["delete", "-f", &id])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    // SAFETY: waitpid on one pid of our own, null status pointer.
    while unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) } == 0 {
        assert!(Instant::now() < deadline, "exec'd process survived delete");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(delete.wait().unwrap().success());
    assert!(Instant::now() < deadline, "delete waited for a timeout");
    env.assert_gone(&id);
}

#[test]
fn exec_forwards_signals_and_reports_them() {
    let env = Env::new("exec-signal");
    let mut b = env.bundle("b");
    let (id, _) = running(&env, &mut b);
    let mut child = env
        .command(&["exec", &id, "/bin/sleep", "1000"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own, not yet waited-for child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    assert_eq!(child.wait().unwrap().code(), Some(128 + libc::SIGTERM));
}

#[test]
fn exec_preserves_only_the_fds_asked_for() {
    let env = Env::new("exec-fds");
    let mut b = env.bundle("b");
    let (id, _) = running(&env, &mut b);
    let leak = fs::File::open("/etc/hostname").unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&leak);
    for (preserve, expect) in [("0", json!([0, 1, 2])), ("1", json!([0, 1, 2, 3]))] {
        let mut cmd = env.command(&[
            "exec",
            "--preserve-fds",
            preserve,
            &id,
            "/bin/checker",
            "report",
        ]);
        inherit_fd(&mut cmd, raw, &[3, 7]);
        let out = run_captured(cmd, &env.dir);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(
            parse_last_json(&out.stdout)["fds"],
            expect,
            "preserve {preserve}"
        );
    }
}

#[test]
fn exec_in_a_user_namespace_container() {
    let env = Env::new("exec-userns");
    let mut b = env.bundle("b");
    b.add_userns();
    let (id, pid) = running(&env, &mut b);
    let r = exec_json(&env, &["-u", "1000", &id, "/bin/checker", "report"]);
    let user = fs::read_link(format!("/proc/{pid}/ns/user"))
        .unwrap()
        .display()
        .to_string();
    assert_eq!(r["namespaces"]["user"], user.as_str());
    assert_eq!(r["uid"][0], 1000);
    let status = fs::read_to_string(format!("/proc/{}/status", pid)).unwrap();
    assert!(
        status.contains("100000"),
        "init's host uid is the mapped one"
    );
}
