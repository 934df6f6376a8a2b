//! The spawn-path items of the security checklist, each attacked with a
//! hostile bundle against a canary on the host.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};

use berth_integration_tests::{run_captured, text, Env};
use serde_json::json;

/// A host directory whose contents must never change.
fn canary(env: &Env) -> std::path::PathBuf {
    let c = env.dir.join("canary");
    fs::create_dir_all(&c).unwrap();
    fs::write(c.join("keep"), "host").unwrap();
    c
}

fn assert_canary_intact(c: &std::path::Path) {
    let names: Vec<_> = fs::read_dir(c)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["keep"], "host canary changed");
    assert_eq!(fs::read_to_string(c.join("keep")).unwrap(), "host");
}

#[test]
fn a_created_container_does_not_run_the_runtime_binary() {
    // Init waits for `start` inside the sealed exec stub: its exe is the
    // memfd, not the host's berth binary, for anyone in the container
    // who can read /proc/1/exe (CVE-2019-5736 class). Until that execve
    // init is non-dumpable (CVE-2016-9962 class); the stub runs with the
    // container's final credentials and holds only the start socket.
    let env = Env::new("dumpable");
    let mut b = env.bundle("b");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.save();
    let id = env.id("c");
    assert!(env.berth(&["create", "-b", b.arg(), &id]).status.success());
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        exe.to_string_lossy().starts_with("/memfd:berth-exec"),
        "init waits as {exe:?}"
    );
    let fds: Vec<_> = fs::read_dir(format!("/proc/{pid}/fd")).unwrap().collect();
    assert_eq!(fds.len(), 4, "stdio and the start socket only: {fds:?}");
    let out = env.berth(&["start", &id]);
    assert!(out.status.success(), "{}", text(&out));
    env.wait_status(&id, "stopped");
    assert!(env.berth(&["delete", &id]).status.success());
}

#[test]
fn no_host_descriptor_reaches_the_container() {
    let env = Env::new("fds");
    let mut b = env.bundle("b");
    b.args(&["/bin/checker", "report"]).save();
    let leak = fs::File::open("/etc/hostname").unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&leak);
    for (preserve, expect) in [(0, vec![0, 1, 2]), (1, vec![0, 1, 2, 3])] {
        let id = env.id(&format!("p{preserve}"));
        let mut cmd = env.command(&[
            "run",
            "--preserve-fds",
            &preserve.to_string(),
            "-b",
            b.arg(),
            &id,
        ]);
        berth_integration_tests::inherit_fd(&mut cmd, raw, &[3, 9]);
        let out = run_captured(cmd, &env.dir);
        assert!(out.status.success(), "{}", text(&out));
        let r = berth_integration_tests::parse_last_json(&out.stdout);
        assert_eq!(r["fds"], json!(expect), "preserve-fds {preserve}");
    }
}

#[test]
fn cwd_symlink_cannot_leave_the_rootfs() {
    let env = Env::new("cwd-escape");
    let c = canary(&env);
    let mut b = env.bundle("b");
    b.config["root"]["readonly"] = false.into();
    symlink(&c, b.rootfs().join("jump")).unwrap();
    b.config["process"]["cwd"] = "/jump".into();
    b.args(&["/bin/sh", "-c", "echo pwned > ./x; /bin/checker report"])
        .save();
    let id = env.id("c");
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    let r = berth_integration_tests::parse_last_json(&out.stdout);
    assert_eq!(
        r["cwd"],
        c.to_str().unwrap(),
        "the link resolves inside the container"
    );
    assert_canary_intact(&c);
    assert!(b
        .rootfs()
        .join(c.strip_prefix("/").unwrap())
        .join("x")
        .exists());
}

#[test]
fn cwd_through_a_proc_fd_link_is_refused() {
    // CVE-2024-21626 shape: cwd naming a descriptor of the runtime.
    let env = Env::new("cwd-fd");
    let mut b = env.bundle("b");
    for fd in ["3", "4", "5", "6", "7", "8"] {
        b.config["process"]["cwd"] = format!("/proc/self/fd/{fd}").into();
        b.save();
        let id = env.id(&format!("fd{fd}"));
        let out = env.berth(&["run", "-b", b.arg(), &id]);
        assert!(
            !out.status.success(),
            "cwd /proc/self/fd/{fd} accepted: {}",
            text(&out)
        );
        env.assert_gone(&id);
    }
}

#[test]
fn mount_destination_symlink_stays_in_rootfs() {
    let env = Env::new("mnt-escape");
    let c = canary(&env);
    let mut b = env.bundle("b");
    symlink(&c, b.rootfs().join("evil")).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs"}));
    mounts.push(json!({"destination": "/../../../../evil2", "type": "tmpfs", "source": "tmpfs"}));
    let r = env.check(&mut b, &["report"]);
    let inside = format!("{}/sub", c.display());
    assert_eq!(
        berth_integration_tests::mount_lines(&r, &inside).len(),
        1,
        "mount landed at the in-root target"
    );
    assert_eq!(berth_integration_tests::mount_lines(&r, "/evil2").len(), 1);
    assert_canary_intact(&c);
    assert!(!std::path::Path::new("/evil2").exists());
}

#[test]
fn proc_mount_onto_a_symlink_is_refused() {
    // CVE-2019-16884 class: procfs must land on a real directory.
    let env = Env::new("proc-link");
    let c = canary(&env);
    let b = env.bundle("b");
    fs::remove_dir(b.rootfs().join("proc")).unwrap();
    symlink(&c, b.rootfs().join("proc")).unwrap();
    let id = env.id("c");
    env.create_fails(&b, &id, "mounting /proc");
    assert_canary_intact(&c);
}

#[test]
fn masking_refuses_a_fake_dev_null() {
    // CVE-2025-31133 class: /dev/null used for masking must be the device.
    let env = Env::new("fake-null");
    let mut b = env.bundle("b");
    b.config["mounts"].as_array_mut().unwrap().retain(|m| {
        m["destination"] != "/dev" && !m["destination"].as_str().unwrap().starts_with("/dev/")
    });
    fs::write(b.rootfs().join("dev/null"), "").unwrap();
    b.save();
    let id = env.id("c");
    env.create_fails(&b, &id, "not the null device");
}

#[test]
fn sysctl_writes_only_through_procfs() {
    let env = Env::new("fake-proc");
    let mut b = env.bundle("b");
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/proc");
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    fs::create_dir_all(b.rootfs().join("proc/sys/net/ipv4")).unwrap();
    fs::write(b.rootfs().join("proc/sys/net/ipv4/ip_forward"), "0").unwrap();
    b.save();
    let id = env.id("c");
    env.create_fails(&b, &id, "not on procfs");
}

#[test]
fn each_container_gets_its_own_session_keyring() {
    let env = Env::new("keyring");
    let mut b = env.bundle("b");
    b.args(&["/bin/checker", "report"]).save();
    // SAFETY: integer arguments only; asks for the session keyring's id.
    let own = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) };
    let ring = |extra: &[&str], id: &str| {
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-b", b.arg(), id]);
        let out = env.berth(&args);
        assert!(out.status.success(), "{}", text(&out));
        berth_integration_tests::parse_last_json(&out.stdout)["session_keyring"]
            .as_i64()
            .unwrap()
    };
    let a = ring(&[], &env.id("a"));
    let c = ring(&[], &env.id("c"));
    assert!(a > 0 && a != own && a != c, "own {own}, containers {a} {c}");
    assert_eq!(ring(&["--no-new-keyring"], &env.id("n")), own);
}

#[test]
fn the_runtime_binary_never_runs_inside_the_container() {
    // CVE-2019-5736: a program whose interpreter is /proc/self/exe would
    // run whatever binary the runtime's process was at execve. Through
    // the sealed exec stub that is the stub, which refuses to loop;
    // before, it was the host's berth binary ("berth version ...").
    let env = Env::new("selfexe");
    let mut b = env.bundle("b");
    let evil = b.rootfs().join("bin/evil");
    fs::write(&evil, "#!/proc/self/exe --version\n").unwrap();
    fs::set_permissions(&evil, fs::Permissions::from_mode(0o755)).unwrap();
    b.args(&["/bin/evil"]);
    b.save();
    let out = env.berth(&["run", "-b", b.arg(), &env.id("run")]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out));
    assert!(!text(&out).contains("berth version"), "{}", text(&out));

    b.args(&["/bin/sleep", "10"]);
    let id = env.id("exec");
    env.run_detached(&b, &id);
    let out = env.berth(&["exec", &id, "/bin/evil"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out));
    assert!(!text(&out).contains("berth version"), "{}", text(&out));
    assert!(env.berth(&["delete", "-f", &id]).status.success());
}

#[test]
fn a_program_of_unknown_format_is_refused_at_create() {
    let env = Env::new("format");
    let mut b = env.bundle("b");
    let junk = b.rootfs().join("bin/junk");
    fs::write(&junk, "not a program").unwrap();
    fs::set_permissions(&junk, fs::Permissions::from_mode(0o755)).unwrap();
    b.args(&["/bin/junk"]);
    env.create_fails(&b, &env.id("c"), "exec format error");
}

#[test]
fn sysfs_mount_onto_a_symlink_is_refused() {
    // The /sys half of the CVE-2019-16884 class.
    let env = Env::new("sys-link");
    let c = canary(&env);
    let b = env.bundle("b");
    fs::remove_dir(b.rootfs().join("sys")).unwrap();
    symlink(&c, b.rootfs().join("sys")).unwrap();
    env.create_fails(&b, &env.id("c"), "mounting /sys");
    assert_canary_intact(&c);
}

/// The bundle's mounts without the tmpfs on /dev (and what sits under
/// it), so the rootfs's own /dev is used.
fn without_dev_tmpfs(b: &mut berth_integration_tests::Bundle) {
    b.config["mounts"].as_array_mut().unwrap().retain(|m| {
        m["destination"] != "/dev" && !m["destination"].as_str().unwrap().starts_with("/dev/")
    });
}

#[test]
fn dev_console_symlink_is_refused() {
    // CVE-2025-52565 class: the pty is bound over /dev/console only if
    // that is not a symlink (here to a procfs file the mount would expose).
    let env = Env::new("console-link");
    let mut b = env.bundle("b");
    without_dev_tmpfs(&mut b);
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
    );
    symlink(
        "/proc/sys/kernel/core_pattern",
        b.rootfs().join("dev/console"),
    )
    .unwrap();
    b.config["process"]["terminal"] = true.into();
    b.save();
    let sock = berth_integration_tests::ConsoleSocket::new(&env.dir);
    let id = env.id("c");
    let out = env.berth(&["create", "--console-socket", sock.arg(), "-b", b.arg(), &id]);
    berth_integration_tests::assert_fails(&out, "symlink");
    env.assert_gone(&id);
}

#[test]
fn device_paths_stay_in_the_rootfs() {
    let env = Env::new("dev-escape");
    let c = canary(&env);
    let mut b = env.bundle("b");
    without_dev_tmpfs(&mut b);
    symlink(&c, b.rootfs().join("dev/evil")).unwrap();
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/evil/zero2", "type": "c", "major": 1, "minor": 5}]);
    // Created where the symlink leads inside the root, not on the host.
    let r = env.check(&mut b, &["stat", "/dev/evil/zero2"]);
    assert_eq!(r["kind"], "char", "{r}");
    assert_canary_intact(&c);
}
