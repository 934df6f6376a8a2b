//! runc command-line parity: ps, features, kill --all, and the exact call
//! shapes containerd's runc shim, conmon and buildah send
//! (shared/notes/engines.md).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_integration_tests::{berth_bin, parse_last_json, reap, run_captured, strings, text, Env};
use serde_json::{json, Value};

#[test]
fn ps_lists_the_container_processes() {
    let env = Env::new("ps");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "1000"]);
    let id = env.id("c");
    let init = env.run_detached(&b, &id);
    let pid_file = env.dir.join("exec.pid");
    assert!(env
        .berth(&[
            "exec",
            "-d",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
            "/bin/sleep",
            "999"
        ])
        .status
        .success());
    let exec: i64 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let out = env.berth(&["ps", "--format", "json", &id]);
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        json!([init, exec]),
        "{}",
        text(&out)
    );
    let out = env.berth(&["ps", &id, "-o", "pid,args"]);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].contains("PID")
            && lines[1].contains("sleep 1000")
            && lines[2].contains("sleep 999"),
        "{table}"
    );
    // Reap the detached exec'd process as delete ends it (we are its subreaper).
    let mut delete = env.command(&["delete", "-f", &id]).spawn().unwrap();
    // SAFETY: waitpid on our own child.
    unsafe { libc::waitpid(exec as i32, std::ptr::null_mut(), 0) };
    assert!(delete.wait().unwrap().success());
}

#[test]
fn features_describe_this_build() {
    let env = Env::new("features");
    let out = env.berth(&["features"]);
    assert!(out.status.success(), "{}", text(&out));
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(f["ociVersionMax"].as_str().unwrap().starts_with("1."));
    assert_eq!(f["linux"]["namespaces"].as_array().unwrap().len(), 8);
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    let actions = strings(&f["linux"]["seccomp"]["actions"]);
    assert!(actions.contains(&"SCMP_ACT_NOTIFY") && actions.contains(&"SCMP_ACT_KILL_PROCESS"));
    assert_eq!(
        strings(&f["linux"]["seccomp"]["archs"]),
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    );
    let opts = strings(&f["mountOptions"]);
    assert!(opts.contains(&"rro") && opts.contains(&"rbind") && !opts.contains(&"idmap"));
    assert!(f["linux"]["capabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("CAP_SYS_ADMIN")));
}

#[test]
fn kill_all_signals_every_process() {
    let env = Env::new("killall");
    let mut b = env.bundle("b");
    b.args(&["/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    let id = env.id("c");
    env.run_detached(&b, &id);
    std::thread::sleep(Duration::from_millis(200));
    let pids = |env: &Env| {
        serde_json::from_slice::<Value>(&env.berth(&["ps", "-f", "json", &id]).stdout).unwrap()
    };
    assert_eq!(pids(&env).as_array().unwrap().len(), 3);
    let out = env.berth(&["kill", "--all", &id, "KILL"]);
    assert!(out.status.success(), "{}", text(&out));
    env.wait_status(&id, "stopped");
    assert!(env.berth(&["delete", &id]).status.success());
    env.assert_gone(&id);
}

/// Runs berth with exactly `args` (no --root added by the harness).
fn raw(env: &Env, args: &[&str]) -> std::process::Output {
    let mut c = Command::new(berth_bin());
    c.args(args);
    run_captured(c, &env.dir)
}

#[test]
fn containerd_runc_shim_call_shapes() {
    let env = Env::new("shape-containerd");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "1000"]).save();
    let (root, bundle) = (env.root.to_str().unwrap(), b.arg());
    let log = format!("{bundle}/log.json");
    let id = env.id("c");
    let g = [
        "--root",
        root,
        "--log",
        log.as_str(),
        "--log-format",
        "json",
    ];
    let call = |rest: &[&str]| {
        let mut a = g.to_vec();
        a.extend_from_slice(rest);
        let out = raw(&env, &a);
        assert!(out.status.success(), "{a:?}: {}", text(&out));
        out
    };
    let pid_file = format!("{bundle}/init.pid");
    call(&[
        "create",
        "--bundle",
        bundle,
        "--pid-file",
        pid_file.as_str(),
        &id,
    ]);
    call(&["start", &id]);
    let init: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let process = env.dir.join("runc-process1");
    fs::write(&process, serde_json::to_vec(&json!({"args": ["/bin/sleep", "998"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]})).unwrap()).unwrap();
    let exec_pid = env.dir.join("exec.pid");
    call(&[
        "exec",
        "--process",
        process.to_str().unwrap(),
        "--detach",
        "--pid-file",
        exec_pid.to_str().unwrap(),
        &id,
    ]);
    let pids: Value =
        serde_json::from_slice(&call(&["ps", "--format", "json", &id]).stdout).unwrap();
    assert_eq!(pids.as_array().unwrap().len(), 2);
    call(&["kill", &id, "9"]);
    let exec: i32 = fs::read_to_string(&exec_pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: waitpid on our own child (we are its subreaper).
    unsafe { libc::waitpid(exec, std::ptr::null_mut(), 0) };
    env.wait_status(&id, "stopped");
    call(&["delete", &id]);
    reap(init);
    // A failing call leaves its error in the JSON log, where the shim reads it.
    let out = raw(&env, &[&g[..], &["delete", "--force", &id]].concat());
    assert!(!out.status.success());
    let last = parse_last_json(fs::read_to_string(&log).unwrap().as_bytes());
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().unwrap().contains("does not exist"));
}

#[test]
fn conmon_and_buildah_call_shapes() {
    let env = Env::new("shape-conmon");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "1000"]).save();
    let log = env.dir.join("log.json");
    let pid_file = env.dir.join("pid");
    // conmon: `=` forms, no --root (so the default /run/berth).
    let id = env.id("conmon");
    let log_arg = format!("--log={}", log.display());
    let out = raw(
        &env,
        &[
            "--log-format=json",
            &log_arg,
            "create",
            "--bundle",
            b.arg(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(raw(&env, &["--log-format=json", &log_arg, "start", &id])
        .status
        .success());
    let conmon_init: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(raw(&env, &["--log-format=json", &log_arg, "kill", &id])
        .status
        .success());
    assert!(raw(
        &env,
        &["--log-format=json", &log_arg, "delete", "--force", &id]
    )
    .status
    .success());
    reap(conmon_init);
    assert!(!std::path::Path::new("/run/berth").join(&id).exists());
    // buildah: no global flags at all.
    let id = env.id("buildah");
    assert!(raw(
        &env,
        &[
            "create",
            "--bundle",
            b.arg(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id
        ]
    )
    .status
    .success());
    assert!(raw(&env, &["start", &id]).status.success());
    let buildah_init: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let st: Value = serde_json::from_slice(&raw(&env, &["state", &id]).stdout).unwrap();
    assert_eq!(st["status"], "running");
    assert!(raw(&env, &["kill", &id, "KILL"]).status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while serde_json::from_slice::<Value>(&raw(&env, &["state", &id]).stdout).unwrap()["status"]
        != "stopped"
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(raw(&env, &["delete", &id]).status.success());
    reap(buildah_init);
    assert!(!std::path::Path::new("/run/berth").join(&id).exists());
}

#[test]
fn listen_fds_pass_through_when_they_are_ours() {
    let env = Env::new("listenfds");
    let mut b = env.bundle("b");
    b.args(&["/bin/checker", "report"]).save();
    let run = |pid_expr: &str, id: &str| {
        // `exec` keeps the shell's pid, so $$ is berth's own pid.
        let script = format!(
            "LISTEN_PID={pid_expr} LISTEN_FDS=1 exec {} --root {} run -b {} {id} 3</etc/hostname",
            berth_bin().display(),
            env.root.display(),
            b.arg()
        );
        let mut c = Command::new("/bin/sh");
        c.args(["-c", &script]);
        let out = run_captured(c, &env.dir);
        assert!(out.status.success(), "{}", text(&out));
        parse_last_json(&out.stdout)
    };
    let r = run("$$", &env.id("ours"));
    assert_eq!(r["fds"], json!([0, 1, 2, 3]));
    let e = strings(&r["env"]);
    assert!(
        e.contains(&"LISTEN_FDS=1") && e.contains(&"LISTEN_PID=1"),
        "{e:?}"
    );
    let r = run("1", &env.id("theirs"));
    assert_eq!(r["fds"], json!([0, 1, 2]), "LISTEN_PID of another process");
}

#[test]
fn rootless_spec_runs() {
    let env = Env::new("rootless-spec");
    let mut b = env.bundle("b");
    fs::remove_file(b.path.join("config.json")).unwrap();
    let out = env.berth(&["spec", "--rootless", "--bundle", b.arg()]);
    assert!(out.status.success(), "{}", text(&out));
    let mut spec: Value =
        serde_json::from_slice(&fs::read(b.path.join("config.json")).unwrap()).unwrap();
    let types: Vec<&str> = spec["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"user") && !types.contains(&"network"),
        "{types:?}"
    );
    assert_eq!(
        spec["linux"]["uidMappings"][0]["hostID"], 0,
        "the caller (root here)"
    );
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = json!(["/bin/checker", "report"]);
    b.config = spec;
    let r = env.run_json(&b, &env.id("c"));
    assert_eq!(
        r["uid_map"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", "0", "1"]
    );
}

#[test]
fn exec_lsm_labels_are_ignored_without_the_lsm() {
    if std::path::Path::new("/sys/fs/selinux/enforce").exists()
        || fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.trim() == "Y")
    {
        return;
    }
    let env = Env::new("exec-lsm");
    let mut b = env.bundle("b");
    b.args(&["/bin/sleep", "1000"]);
    let id = env.id("c");
    env.run_detached(&b, &id);
    let out = env.berth(&[
        "exec",
        "--apparmor",
        "p",
        "--process-label",
        "l",
        &id,
        "/bin/true",
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn notify_socket_is_proxied_until_ready() {
    let env = Env::new("notify");
    let host = env.dir.join("host-notify.sock");
    let listener = std::os::unix::net::UnixDatagram::bind(&host).unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut b = env.bundle("b");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.args(&["/bin/sh", "-c", "sleep 0.3; /bin/checker notify STATUS=starting; /bin/checker notify READY=1; exec sleep 1000"]).save();
    let id = env.id("c");
    let mut cmd = env.command(&["run", "-d", "-b", b.arg(), &id]);
    cmd.env("NOTIFY_SOCKET", &host);
    let t = Instant::now();
    let out = run_captured(cmd, &env.dir);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "run returned before READY=1"
    );
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let mut buf = [0u8; 256];
    let n = listener.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STATUS=starting");
    let n = listener.recv(&mut buf).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&buf[..n]),
        format!("MAINPID={pid}\nREADY=1")
    );
    // Inside, the socket is the container's own, on a read-only mount.
    let r = {
        let mut e = env.command(&["exec", &id, "/bin/checker", "report"]);
        e.env_remove("NOTIFY_SOCKET");
        parse_last_json(&run_captured(e, &env.dir).stdout)
    };
    let envs = strings(&r["env"]);
    assert!(
        envs.contains(&"NOTIFY_SOCKET=/run/notify/notify.sock"),
        "{envs:?}"
    );
    let m = berth_integration_tests::mount_lines(&r, "/run/notify");
    assert!(
        m.len() == 1 && m[0].split(' ').nth(5).unwrap().starts_with("ro"),
        "{m:?}"
    );
}

#[test]
fn runc_global_flags_are_accepted() {
    let env = Env::new("globals");
    let root = format!("--root={}", env.root.display());
    for flags in [
        vec!["--rootless", "auto"],
        vec!["--rootless=false"],
        vec!["--criu", "/usr/sbin/criu"],
        vec!["--debug"],
    ] {
        let mut args: Vec<&str> = flags.clone();
        args.extend([root.as_str(), "list", "-q"]);
        let out = raw(&env, &args);
        assert!(out.status.success(), "{flags:?}: {}", text(&out));
    }
    assert!(!raw(&env, &["--rootless", "maybe", &root, "list"])
        .status
        .success());
    let out = raw(&env, &[&root, "checkpoint", "x"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not supported yet"),
        "{}",
        text(&out)
    );
}
