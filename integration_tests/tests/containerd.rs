//! The engine tier: containerd (from Debian) runs containers through
//! `containerd-shim-berth-v2` (`ctr --runtime io.containerd.berth.v2`).
//! Each test starts a private containerd (own root, state and sockets,
//! the CRI plugin disabled, its own namespace), imports a busybox image
//! built here with umoci and skopeo, and removes everything at the end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_integration_tests::containerd::{Ctd, IMAGE, RUNTIME};
use berth_integration_tests::{children_of, text, Env};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn run_echo_exit_codes_env_and_read_only_rootfs() {
    let env = Env::new("ctd-run");
    let ctd = Ctd::start(&env, "run");
    let out = ctd.run("echo", &[], &["/bin/echo", "hello from berth"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out), "hello from berth\n");
    let out = ctd.run("exit", &[], &["/bin/sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let out = ctd.run(
        "env",
        &["--env", "FOO=bar"],
        &["/bin/sh", "-c", "echo $FOO; id -u"],
    );
    assert_eq!(stdout(&out), "bar\n0\n", "{}", text(&out));
    let out = ctd.run(
        "ro",
        &["--read-only"],
        &["/bin/sh", "-c", "touch /x 2>&1; echo done"],
    );
    assert!(
        stdout(&out).contains("Read-only file system"),
        "{}",
        text(&out)
    );
    // The runtime's own message reaches the user.
    let out = ctd.run("missing", &[], &["/no/such/program"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("/no/such/program"), "{}", text(&out));
    assert!(ctd.ctr(&["containers", "ls", "-q"]).stdout.is_empty());
}

#[test]
fn stdin_and_terminal() {
    let env = Env::new("ctd-io");
    let ctd = Ctd::start(&env, "io");
    let mut child = ctd
        .command(&[
            "run",
            "--rm",
            "--runtime",
            RUNTIME,
            IMAGE,
            "cat",
            "/bin/cat",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // ctr can lose input written before its task starts (a client race).
    std::thread::sleep(Duration::from_millis(500));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"line one\nline two\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out), "line one\nline two\n");
    // A terminal: ctr needs one itself, so it runs under script(1), whose
    // terminal is given a size; ctr passes it on with ResizePty after the
    // start, so the container polls for it. ctr must stay in the
    // terminal's foreground process group (it sets the terminal raw, which
    // stops a background process with SIGTTOU): so `exec` and timeout's
    // --foreground, and script runs /bin/sh whatever $SHELL the caller has.
    let poll = r#"tty; i=0; while [ $i -lt 100 ]; do s=$(stty size); [ "$s" = "33 91" ] && break; i=$((i+1)); sleep 0.1; done; echo size $s"#;
    let ctr = format!(
        "stty rows 33 cols 91; exec timeout --foreground 60 ctr -a {} -n {} run --rm -t --runtime {RUNTIME} {IMAGE} tty /bin/sh -c '{poll}'",
        ctd.dir.join("c.sock").display(),
        ctd.ns
    );
    let out = Command::new("script")
        .args(["-qec", &ctr, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("/dev/pts/"), "{}", text(&out));
    assert!(stdout(&out).contains("size 33 91"), "{}", text(&out));
}

#[test]
fn detached_exec_pause_metrics_ps_and_kill() {
    let env = Env::new("ctd-detach");
    let ctd = Ctd::start(&env, "detach");
    ctd.sleeper("d", &["--memory-limit", "67108864"]);
    assert_eq!(ctd.status("d"), "RUNNING");
    let out = ctd.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "d",
        "/bin/sh",
        "-c",
        "echo in-exec; exit 5",
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert_eq!(stdout(&out), "in-exec\n");
    // Metrics come from the container's cgroups: the memory limit is there.
    let out = ctd.ctr(&["task", "metrics", "d"]);
    assert!(out.status.success(), "{}", text(&out));
    let m = stdout(&out);
    let limit = m.lines().find(|l| l.starts_with("memory.limit_in_bytes"));
    assert!(limit.is_some_and(|l| l.contains("67108864")), "{m}");
    assert!(m.contains("pids.current"), "{m}");
    let out = ctd.ctr(&["task", "ps", "d"]);
    let pid = ctd.task_pid("d");
    assert!(stdout(&out).contains(&pid.to_string()), "{}", text(&out));
    assert!(ctd.ctr(&["task", "pause", "d"]).status.success());
    assert_eq!(ctd.status("d"), "PAUSED");
    assert_eq!(freezer_state(pid), "FROZEN");
    assert!(ctd.ctr(&["task", "resume", "d"]).status.success());
    assert_eq!(ctd.status("d"), "RUNNING");
    // sleep as pid 1 ignores SIGTERM: stop it with KILL.
    assert!(ctd
        .ctr(&["task", "kill", "-s", "KILL", "d"])
        .status
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while ctd.status("d") != "STOPPED" {
        assert!(Instant::now() < deadline, "task did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ctd.ctr(&["task", "rm", "d"]).status.success());
    assert!(ctd.ctr(&["containers", "rm", "d"]).status.success());
    assert!(!Path::new("/run/containerd/berth")
        .join(&ctd.ns)
        .join("d")
        .exists());
}

/// The v1 freezer state of a process's cgroup (this host is hybrid).
fn freezer_state(pid: i32) -> String {
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = cg
        .lines()
        .find_map(|l| l.split_once(":freezer:").map(|(_, p)| p.to_string()))
        .unwrap();
    fs::read_to_string(format!("/sys/fs/cgroup/freezer{path}/freezer.state"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_killed_shim_is_cleaned_up_by_delete() {
    let env = Env::new("ctd-shimkill");
    let ctd = Ctd::start(&env, "shimkill");
    ctd.sleeper("k", &[]);
    let init = ctd.task_pid("k");
    let shim = ctd.shim_pid("k").expect("the shim of k");
    // SAFETY: kill(2) on the shim this test's containerd started.
    assert_eq!(unsafe { libc::kill(shim, libc::SIGKILL) }, 0);
    // containerd runs `containerd-shim-berth-v2 delete`, which deletes the
    // container through berth: its process is killed, its state and mounts go.
    let deadline = Instant::now() + Duration::from_secs(20);
    while Path::new("/run/containerd/berth")
        .join(&ctd.ns)
        .join("k")
        .exists()
    {
        assert!(Instant::now() < deadline, "berth state of k left behind");
        std::thread::sleep(Duration::from_millis(50));
    }
    let alive = |pid: i32| {
        fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
    };
    while alive(init) {
        assert!(
            Instant::now() < deadline,
            "the container's process survived"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    berth_integration_tests::reap(init);
    let rootfs = ctd
        .dir
        .join("state/io.containerd.runtime.v2.task")
        .join(&ctd.ns)
        .join("k/rootfs");
    assert!(!fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .contains(rootfs.to_str().unwrap()));
    let _ = ctd.ctr(&["containers", "rm", "k"]);
}

#[test]
fn many_execs_leak_neither_descriptors_nor_zombies() {
    let env = Env::new("ctd-leak");
    let ctd = Ctd::start(&env, "leak");
    ctd.sleeper("l", &[]);
    let shim = ctd.shim_pid("l").unwrap();
    let fds = || fs::read_dir(format!("/proc/{shim}/fd")).unwrap().count();
    let children = || children_of(shim as u32).len();
    let exec = |i: usize| {
        let id = format!("x{i}");
        let out = ctd.ctr(&["task", "exec", "--exec-id", &id, "l", "/bin/true"]);
        assert!(out.status.success(), "{}", text(&out));
    };
    for i in 0..5 {
        exec(i);
    }
    let (fd0, kids0) = (fds(), children());
    for i in 5..105 {
        exec(i);
    }
    assert!(fds() <= fd0, "descriptors grew: {fd0} -> {}", fds());
    assert_eq!(children(), kids0, "children (zombies) grew");
    ctd.remove("l");
}

#[test]
fn events_come_once_in_order_and_oom_kills_are_reported() {
    let env = Env::new("ctd-events");
    let ctd = Ctd::start(&env, "events");
    let events = ctd.events();
    let out = ctd.run("once", &[], &["/bin/true"]);
    assert!(out.status.success(), "{}", text(&out));
    ctd.assert_oom_killed("oom");
    let text = events.stop();
    let topics = |id: &str| -> Vec<String> {
        let needle = format!("\"container_id\":\"{id}\"");
        text.lines()
            .filter(|l| l.contains(&needle))
            .filter_map(|l| {
                l.split_whitespace()
                    .find(|w| w.starts_with("/tasks/"))
                    .map(String::from)
            })
            .collect()
    };
    assert_eq!(
        topics("once"),
        [
            "/tasks/create",
            "/tasks/start",
            "/tasks/exit",
            "/tasks/delete"
        ],
        "{text}"
    );
    let oom = topics("oom");
    assert!(oom.iter().any(|t| t == "/tasks/oom"), "{text}");
    assert_eq!(
        oom.iter().filter(|t| *t == "/tasks/exit").count(),
        1,
        "{text}"
    );
}

#[test]
fn file_and_binary_log_uris() {
    let env = Env::new("ctd-logs");
    let ctd = Ctd::start(&env, "logs");
    let file = ctd.dir.join("out.log");
    let uri = format!("file://{}", file.display());
    let out = ctd.run(
        "f",
        &["--log-uri", &uri],
        &["/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fs::read_to_string(&file).unwrap(), "to-stdout\nto-stderr\n");
    // A binary logger: stdout on fd 3, stderr on fd 4, ready when fd 5 closes.
    let logger = ctd.dir.join("logger.sh");
    let got = ctd.dir.join("logger.out");
    fs::write(
        &logger,
        format!(
            "#!/bin/sh\nexec 5>&-\n{{ echo \"id=$CONTAINER_ID ns=$CONTAINER_NAMESPACE args=$*\"; cat <&3; cat <&4; }} > {}.tmp\nmv {0}.tmp {0}\n",
            got.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&logger, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let uri = format!("binary://{}?level=debug", logger.display());
    let out = ctd.run(
        "b",
        &["--log-uri", &uri],
        &["/bin/sh", "-c", "echo out-line; echo err-line >&2"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !got.exists() {
        assert!(Instant::now() < deadline, "the logger wrote nothing");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        fs::read_to_string(&got).unwrap(),
        format!("id=b ns={} args=level debug\nout-line\nerr-line\n", ctd.ns)
    );
}

#[test]
fn many_containers_leave_no_shim_mount_or_socket() {
    let env = Env::new("ctd-many");
    let ctd = Ctd::start(&env, "many");
    for i in 0..30 {
        let out = ctd.run(&format!("m{i}"), &[], &["/bin/true"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while (0..30).any(|i| ctd.shim_pid(&format!("m{i}")).is_some()) {
        assert!(Instant::now() < deadline, "shims outlived their containers");
        std::thread::sleep(Duration::from_millis(50));
    }
    let state = ctd.dir.join("state");
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        !mounts.contains(state.to_str().unwrap()),
        "rootfs mounts left"
    );
    let root = Path::new("/run/containerd/berth").join(&ctd.ns);
    assert!(
        fs::read_dir(&root).map_or(true, |d| d.count() == 0),
        "berth state left"
    );
}
