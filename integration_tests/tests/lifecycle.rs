//! Every command and status transition, with the error cases runc users
//! rely on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use berth_integration_tests::{assert_fails, parse_last_json, text, Env};
use serde_json::Value;

#[test]
fn create_start_kill_delete_walks_every_status() {
    let env = Env::new("walk");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "100"]).save();
    let id = env.id("c");
    let pid_file = env.dir.join("init.pid");
    let out = env.berth(&[
        "create",
        "--bundle",
        b.arg(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let s = env.state(&id);
    assert_eq!(s["status"], "created");
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["bundle"], b.arg());
    let pid = s["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    // The user's program has not run yet: init is still the runtime's code.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep");

    assert!(env.berth(&["start", &id]).status.success());
    assert_eq!(env.state(&id)["status"], "running");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");

    assert!(env.berth(&["kill", &id, "KILL"]).status.success());
    env.wait_status(&id, "stopped");
    assert_eq!(env.state(&id)["pid"], 0);
    let out = env.berth(&["delete", &id]);
    assert!(out.status.success(), "{}", text(&out));
    env.assert_gone(&id);
}

#[test]
fn start_twice_fails_and_leaves_container_running() {
    let env = Env::new("start2");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "100"]).save();
    let id = env.id("c");
    assert!(env.berth(&["create", "-b", b.arg(), &id]).status.success());
    assert!(env.berth(&["start", &id]).status.success());
    let out = env.berth(&["start", &id]);
    assert_fails(&out, "not created");
    assert_eq!(env.state(&id)["status"], "running");
    assert!(env.berth(&["delete", "--force", &id]).status.success());
    env.assert_gone(&id);
}

#[test]
fn delete_running_needs_force() {
    let env = Env::new("delrun");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "100"]).save();
    let id = env.id("c");
    assert!(env
        .berth(&["run", "-d", "-b", b.arg(), &id])
        .status
        .success());
    let out = env.berth(&["delete", &id]);
    assert_fails(&out, "--force");
    assert_eq!(env.state(&id)["status"], "running");
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    assert!(env.berth(&["delete", "--force", &id]).status.success());
    env.assert_gone(&id);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            s.contains(") Z ")
        }
    );
}

#[test]
fn delete_created_kills_it_like_runc() {
    let env = Env::new("delcreated");
    let b = env.bundle("b");
    let id = env.id("c");
    assert!(env.berth(&["create", "-b", b.arg(), &id]).status.success());
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let out = env.berth(&["delete", &id]);
    assert!(out.status.success(), "{}", text(&out));
    env.assert_gone(&id);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "init {pid} still alive: {stat}"
    );
}

#[test]
fn unknown_container_is_an_error_for_every_command() {
    let env = Env::new("unknown");
    for args in [
        vec!["state", "nope"],
        vec!["start", "nope"],
        vec!["kill", "nope", "KILL"],
        vec!["delete", "nope"],
        vec!["delete", "--force", "nope"],
    ] {
        let out = env.berth(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("does not exist"),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn invalid_ids_are_refused_before_anything_exists() {
    let env = Env::new("badid");
    let b = env.bundle("b");
    for id in ["../escape", "a/b", "..", ".", &"x".repeat(1100)] {
        let out = env.berth(&["create", "-b", b.arg(), id]);
        assert!(!out.status.success(), "{id} accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("invalid container id"),
            "{}",
            text(&out)
        );
    }
    assert!(!env.root.exists() || std::fs::read_dir(&env.root).unwrap().next().is_none());
    assert!(!env.dir.join("escape").exists());
}

#[test]
fn duplicate_id_is_refused() {
    let env = Env::new("dup");
    let b = env.bundle("b");
    let id = env.id("c");
    assert!(env.berth(&["create", "-b", b.arg(), &id]).status.success());
    let out = env.berth(&["create", "-b", b.arg(), &id]);
    assert_fails(&out, "already exists");
    assert_eq!(env.state(&id)["status"], "created");
}

#[test]
fn bad_config_names_the_field_and_leaves_nothing() {
    let env = Env::new("badcfg");
    type Mutate = fn(&mut Value);
    let cases: Vec<(&str, Mutate)> = vec![
        ("process.args", |c| {
            c["process"]["args"] = serde_json::json!([])
        }),
        ("linux.namespaces", |c| {
            c["linux"]["namespaces"] = serde_json::json!([{"type": "bogus"}])
        }),
        ("process.user.uid", |c| {
            c["process"]["user"]["uid"] = "root".into()
        }),
        ("mounts[0].destination", |c| {
            c["mounts"][0]["destination"] = "relative".into()
        }),
        ("root.path", |c| c["root"]["path"] = "missing-rootfs".into()),
        ("linux.resources.memory.kernel", |c| {
            c["linux"]["resources"]["memory"] = serde_json::json!({"kernel": 1 << 30})
        }),
    ];
    for (field, mutate) in cases {
        let mut b = env.bundle("b");
        mutate(&mut b.config);
        b.save();
        let id = env.id("c");
        let out = env.berth(&["create", "-b", b.arg(), &id]);
        assert!(!out.status.success(), "{field}: accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(field),
            "{field}: {}",
            text(&out)
        );
        env.assert_gone(&id);
        std::fs::remove_dir_all(&b.path).unwrap();
    }
}

#[test]
fn failure_inside_init_leaves_nothing() {
    let env = Env::new("initfail");
    let mut b = env.bundle("b");
    b.args(&["/bin/does-not-exist"]).save();
    let id = env.id("c");
    env.create_fails(&b, &id, "does-not-exist");
}

#[test]
fn run_returns_exit_code() {
    let env = Env::new("exitcode");
    let mut b = env.bundle("b");
    b.args(&["/bin/checker", "exit", "42"]).save();
    let id = env.id("c");
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert_eq!(out.status.code(), Some(42), "{}", text(&out));
    env.assert_gone(&id);
}

#[test]
fn run_reports_128_plus_signal_when_killed() {
    let env = Env::new("killed");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "100"]).save();
    let id = env.id("c");
    let mut child = env
        .command(&["run", "-b", b.arg(), &id])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    env.wait_status(&id, "running");
    assert!(env.berth(&["kill", &id, "9"]).status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(137));
    env.assert_gone(&id);
}

#[test]
fn run_forwards_signals_to_the_container() {
    let env = Env::new("forward");
    let mut b = env.bundle("b");
    b.args(&[
        "/bin/sh",
        "-c",
        "trap 'exit 42' TERM; echo ready > /tmp/ready; while true; do sleep 0.05; done",
    ]);
    b.config["root"]["readonly"] = false.into();
    b.save();
    let id = env.id("c");
    let mut child = env
        .command(&["run", "-b", b.arg(), &id])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let ready = b.rootfs().join("tmp/ready");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "container never became ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Signal the berth process itself, as a user pressing ^C would.
    // SAFETY: kill(2) with our own child's pid, which it still is (not
    // yet waited for).
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    assert_eq!(child.wait().unwrap().code(), Some(42));
    env.assert_gone(&id);
}

#[test]
fn run_detach_and_keep() {
    let env = Env::new("detach");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "100"]).save();
    let id = env.id("d");
    let out = env.berth(&["run", "--detach", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(env.state(&id)["status"], "running");
    assert!(env.berth(&["delete", "-f", &id]).status.success());

    let mut b = env.bundle("k");
    b.args(&["/bin/true"]).save();
    let id = env.id("k");
    let out = env.berth(&["run", "--keep", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(env.state(&id)["status"], "stopped");
    assert!(env.berth(&["delete", &id]).status.success());
    env.assert_gone(&id);
}

#[test]
fn kill_default_signal_and_names() {
    let env = Env::new("killsig");
    let mut b = env.bundle("b");
    b.args(&[
        "/bin/sh",
        "-c",
        "trap 'exit 3' TERM; trap 'exit 4' USR1; while true; do sleep 0.05; done",
    ])
    .save();
    for (sig, code) in [
        (None, 3),
        (Some("SIGUSR1"), 4),
        (Some("usr1"), 4),
        (Some("15"), 3),
    ] {
        let id = env.id(&format!("k{code}{}", sig.unwrap_or("def")));
        assert!(env.berth(&["create", "-b", b.arg(), &id]).status.success());
        assert!(env.berth(&["start", &id]).status.success());
        std::thread::sleep(Duration::from_millis(100));
        let mut args = vec!["kill", id.as_str()];
        args.extend(sig);
        let out = env.berth(&args);
        assert!(out.status.success(), "{}", text(&out));
        env.wait_status(&id, "stopped");
        assert!(env.berth(&["delete", &id]).status.success());
    }
    let id = env.id("bad");
    assert!(env.berth(&["create", "-b", b.arg(), &id]).status.success());
    let out = env.berth(&["kill", &id, "SIGNOPE"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown signal"));
}

#[test]
fn kill_stopped_container_is_an_error() {
    let env = Env::new("killstopped");
    let mut b = env.bundle("b");
    b.args(&["/bin/true"]).save();
    let id = env.id("c");
    assert!(env
        .berth(&["run", "--keep", "-b", b.arg(), &id])
        .status
        .success());
    let out = env.berth(&["kill", &id, "KILL"]);
    assert_fails(&out, "stopped");
}

#[test]
fn list_formats() {
    let env = Env::new("list");
    let out = env.berth(&["list", "--format", "json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "null");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "100"]).save();
    let (a, c) = (env.id("a"), env.id("c"));
    assert!(env.berth(&["create", "-b", b.arg(), &a]).status.success());
    assert!(env
        .berth(&["run", "-d", "-b", b.arg(), &c])
        .status
        .success());
    let out = env.berth(&["list", "-q"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{a}\n{c}\n"));
    let out = env.berth(&["list", "-f", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["status"], "created");
    assert_eq!(v[1]["status"], "running");
    let out = env.berth(&["list"]);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID ") && lines[0].contains("PID") && lines[0].ends_with("OWNER"),
        "{table}"
    );
    assert!(lines[1].starts_with(&a) && lines[1].contains("created") && lines[1].ends_with("root"));
    assert!(env.berth(&["list", "--format", "yaml"]).status.code() != Some(0));
}

#[test]
fn concurrent_starts_run_the_program_once() {
    let env = Env::new("race");
    let mut b = env.bundle("b");
    b.args(&["/bin/sh", "-c", "echo x >> /tmp/runs; sleep 100"]);
    b.config["root"]["readonly"] = false.into();
    b.save();
    let id = env.id("c");
    assert!(env.berth(&["create", "-b", b.arg(), &id]).status.success());
    let children: Vec<_> = (0..4)
        .map(|_| {
            env.command(&["start", &id])
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let ok = children
        .into_iter()
        .filter_map(|mut c| c.wait().ok())
        .filter(|s| s.success())
        .count();
    assert_eq!(ok, 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("tmp/runs")).unwrap(),
        "x\n"
    );
}

#[test]
fn concurrent_creates_of_one_id_make_one_container() {
    let env = Env::new("race-create");
    let b = env.bundle("b");
    let id = env.id("c");
    let children: Vec<_> = (0..4)
        .map(|_| {
            env.command(&["create", "-b", b.arg(), &id])
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let ok = children
        .into_iter()
        .filter_map(|mut c| c.wait().ok())
        .filter(|s| s.success())
        .count();
    assert_eq!(ok, 1);
    assert_eq!(env.state(&id)["status"], "created");
}

#[test]
fn spec_writes_runc_default_and_refuses_overwrite() {
    let env = Env::new("spec");
    let out = env.berth(&["spec", "--bundle", env.dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value =
        serde_json::from_slice(&std::fs::read(env.dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(v["process"]["terminal"], true);
    assert_eq!(v["root"]["path"], "rootfs");
    assert_eq!(v["linux"]["namespaces"].as_array().unwrap().len(), 6);
    let out = env.berth(&["spec", "--bundle", env.dir.to_str().unwrap()]);
    assert!(!out.status.success());
}

#[test]
fn version_prints_runc_style_lines() {
    let env = Env::new("version");
    let out = env.berth(&["--version"]);
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = s.lines().collect();
    assert!(lines[0].starts_with("berth version "), "{s}");
    assert!(lines[1].starts_with("commit: "), "{s}");
    assert!(lines[2].starts_with("spec: 1."), "{s}");
}

#[test]
fn json_log_lines_carry_level_msg_time() {
    let env = Env::new("jsonlog");
    let log = env.dir.join("log.json");
    let mut cmd = std::process::Command::new(berth_integration_tests::berth_bin());
    cmd.args([
        "--root",
        env.root.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "start",
        "missing",
    ]);
    let out = berth_integration_tests::run_captured(cmd, &env.dir);
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let line = parse_last_json(text.as_bytes());
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("does not exist"));
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
    // conmon's `=` forms and runc's flag order both parse.
    let mut cmd = std::process::Command::new(berth_integration_tests::berth_bin());
    cmd.args([
        &format!("--root={}", env.root.display()),
        "--log-format=json",
        &format!("--log={}", log.display()),
        "list",
        "-q",
    ]);
    let out = berth_integration_tests::run_captured(cmd, &env.dir);
    assert!(
        out.status.success(),
        "{}",
        berth_integration_tests::text(&out)
    );
}
