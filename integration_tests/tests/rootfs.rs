//! The container's filesystem: root, mounts, propagation, devices, masked
//! and read-only paths, sysctls, --no-pivot.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::fs;

use berth_integration_tests::{mount_lines, text, Env};
use serde_json::{json, Value};

const EROFS: i64 = libc::EROFS as i64;

#[test]
fn readonly_root_is_enforced_and_rw_root_is_writable() {
    let env = Env::new("rootro");
    let mut b = env.bundle("b");
    let w = env.check(&mut b, &["write", "/probe", "x"]);
    assert_eq!(w["errno"], EROFS);
    b.config["root"]["readonly"] = false.into();
    let w = env.check(&mut b, &["write", "/probe", "x"]);
    assert_eq!(w["ok"], true);
    assert_eq!(fs::read_to_string(b.rootfs().join("probe")).unwrap(), "x");
}

#[test]
fn root_path_is_relative_to_the_bundle_and_pivoted() {
    let env = Env::new("rootpath");
    let mut b = env.bundle("b");
    fs::rename(b.rootfs(), b.path.join("other")).unwrap();
    b.config["root"]["path"] = "other".into();
    let r = env.check(&mut b, &["report"]);
    let root = mount_lines(&r, "/");
    assert_eq!(root.len(), 1, "{root:?}");
    // Only the container's own mounts are visible: nothing of the host's /.
    assert!(
        !r["mountinfo"].as_str().unwrap().contains(" /work"),
        "host mounts leak in"
    );
}

#[test]
fn no_pivot_also_confines_the_root() {
    let env = Env::new("nopivot");
    let mut b = env.bundle("b");
    b.args(&["/bin/checker", "report"]).save();
    let id = env.id("c");
    let out = env.berth(&["run", "--no-pivot", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    let r = berth_integration_tests::parse_last_json(&out.stdout);
    assert_eq!(r["cwd"], "/");
    let s = env.check(&mut b, &["stat", "/bin/checker"]);
    assert_eq!(s["ok"], true);
}

#[test]
fn bind_mounts_with_options_and_files() {
    let env = Env::new("bind");
    let host = env.dir.join("hostdir");
    fs::create_dir_all(host.join("sub")).unwrap();
    fs::write(host.join("data"), "hello").unwrap();
    let file = env.dir.join("hostfile");
    fs::write(&file, "single").unwrap();
    let mut b = env.bundle("b");
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/mnt/ro", "type": "bind", "source": host, "options": ["rbind", "ro", "nosuid", "nodev"]}));
    mounts.push(json!({"destination": "/mnt/rw", "source": host, "options": ["bind"]}));
    mounts.push(json!({"destination": "/etc/single", "type": "bind", "source": file, "options": ["bind", "ro"]}));
    b.save();
    let r = env.check(&mut b, &["report"]);
    let ro = mount_lines(&r, "/mnt/ro");
    assert_eq!(ro.len(), 1);
    let opts = ro[0].split(' ').nth(5).unwrap();
    assert!(
        opts.contains("ro") && opts.contains("nosuid") && opts.contains("nodev"),
        "{opts}"
    );
    assert_eq!(
        env.check(&mut b, &["write", "/mnt/ro/data", "x"])["errno"],
        EROFS
    );
    assert_eq!(
        env.check(&mut b, &["write", "/mnt/rw/new", "x"])["ok"],
        true
    );
    assert_eq!(fs::read_to_string(host.join("new")).unwrap(), "x");
    let s = env.check(&mut b, &["stat", "/etc/single"]);
    assert_eq!(
        (s["kind"].as_str(), s["size"].as_u64()),
        (Some("file"), Some(6))
    );
}

#[test]
fn relative_bind_source_resolves_in_the_bundle() {
    let env = Env::new("bindrel");
    let mut b = env.bundle("b");
    fs::create_dir_all(b.path.join("shared")).unwrap();
    fs::write(b.path.join("shared/f"), "in-bundle").unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/shared", "type": "bind", "source": "shared", "options": ["bind"]}),
    );
    let s = env.check(&mut b, &["stat", "/shared/f"]);
    assert_eq!(s["size"], 9);
}

#[test]
fn tmpfs_options_reach_the_mount() {
    let env = Env::new("tmpfs");
    let mut b = env.bundle("b");
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "noexec", "nodev", "mode=1770", "size=1m", "noatime"]
    }));
    let r = env.check(&mut b, &["report"]);
    let l = mount_lines(&r, "/scratch");
    assert_eq!(l.len(), 1);
    let line = l[0];
    assert!(
        line.contains("nosuid") && line.contains("noexec") && line.contains("noatime"),
        "{line}"
    );
    assert!(
        line.contains("size=1024k") && line.contains("mode=1770"),
        "{line}"
    );
    let s = env.check(&mut b, &["stat", "/scratch"]);
    assert_eq!(s["mode"], 0o1770);
}

#[test]
fn standard_mounts_have_their_types() {
    let env = Env::new("stdmounts");
    let mut b = env.bundle("b");
    let r = env.check(&mut b, &["report"]);
    for (path, fstype) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
        ("/sys/fs/cgroup", "tmpfs"),
    ] {
        let l = mount_lines(&r, path);
        assert_eq!(l.len(), 1, "{path}: {l:?}");
        assert_eq!(
            l[0].split(" - ").nth(1).unwrap().split(' ').next(),
            Some(fstype),
            "{path}"
        );
    }
    // The cgroup mount holds one read-only directory per host hierarchy.
    let memory = mount_lines(&r, "/sys/fs/cgroup/memory");
    assert_eq!(memory.len(), 1);
    assert!(memory[0].split(' ').nth(5).unwrap().starts_with("ro"));
}

#[test]
fn propagation_and_recursive_attributes() {
    let env = Env::new("prop");
    let host = env.dir.join("tree");
    fs::create_dir_all(host.join("sub")).unwrap();
    let mut b = env.bundle("b");
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/shared", "type": "tmpfs", "source": "tmpfs", "options": ["rshared"]}));
    mounts.push(json!({"destination": "/tree", "type": "bind", "source": host, "options": ["rbind", "rro", "rnosuid"]}));
    mounts.push(json!({"destination": "/tree/sub", "type": "tmpfs", "source": "tmpfs"}));
    b.config["linux"]["rootfsPropagation"] = "shared".into();
    let r = env.check(&mut b, &["report"]);
    let shared = mount_lines(&r, "/shared");
    assert!(shared[0].contains("shared:"), "{shared:?}");
    let root = mount_lines(&r, "/");
    assert!(root[0].contains("shared:"), "rootfsPropagation: {root:?}");
    let tree = mount_lines(&r, "/tree");
    let opts = tree[0].split(' ').nth(5).unwrap();
    assert!(opts.starts_with("ro") && opts.contains("nosuid"), "{opts}");
}

#[test]
fn default_devices_and_links() {
    let env = Env::new("devices");
    let mut b = env.bundle("b");
    for (dev, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let s = env.check(&mut b, &["stat", &format!("/dev/{dev}")]);
        assert_eq!(s["kind"], "char", "{dev}");
        assert_eq!(
            (s["major"].as_u64(), s["minor"].as_u64()),
            (Some(major), Some(minor)),
            "{dev}"
        );
        assert_eq!(s["mode"], 0o666, "{dev}");
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        let r = env.check(&mut b, &["readlink", &format!("/dev/{link}")]);
        assert_eq!(r["target"], target, "{link}");
    }
    assert_eq!(
        env.check(&mut b, &["open", "/dev/null", "w"])["ok"],
        true,
        "devices cgroup allows /dev/null"
    );
}

#[test]
fn configured_devices_are_created_as_specified() {
    let env = Env::new("linuxdev");
    let mut b = env.bundle("b");
    b.config["linux"]["devices"] = json!([
        {"path": "/dev/myzero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o600, "uid": 1000, "gid": 2000},
        {"path": "/dev/sub/fifo", "type": "p", "major": 0, "minor": 0}
    ]);
    let s = env.check(&mut b, &["stat", "/dev/myzero"]);
    assert_eq!(
        (s["kind"].as_str(), s["major"].as_u64(), s["minor"].as_u64()),
        (Some("char"), Some(1), Some(5))
    );
    assert_eq!(
        (s["mode"].as_u64(), s["uid"].as_u64(), s["gid"].as_u64()),
        (Some(0o600), Some(1000), Some(2000))
    );
    // Mode 0600 for uid 1000: root without CAP_DAC_OVERRIDE gets EACCES
    // from the file mode, not EPERM from the devices cgroup.
    assert_eq!(
        env.check(&mut b, &["open", "/dev/myzero"])["errno"],
        libc::EACCES as i64
    );
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    assert_eq!(
        env.check(&mut b, &["open", "/dev/myzero"])["ok"],
        true,
        "linux.devices are allowed in the cgroup"
    );
    assert_eq!(
        env.check(&mut b, &["stat", "/dev/sub/fifo"])["kind"],
        "fifo"
    );
}

#[test]
fn device_cgroup_denies_what_is_not_allowed() {
    let env = Env::new("devdeny");
    let mut b = env.bundle("b");
    // /dev/kmsg (1:11) is not in the default allow list.
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/dev/kmsg", "type": "bind", "source": "/dev/kmsg", "options": ["bind"]}));
    assert_eq!(
        env.check(&mut b, &["open", "/dev/kmsg", "w"])["errno"],
        libc::EPERM as i64
    );
    b.config["linux"]["resources"]["devices"]
        .as_array_mut()
        .unwrap()
        .push(json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}));
    assert_eq!(env.check(&mut b, &["open", "/dev/kmsg", "w"])["ok"], true);
}

#[test]
fn masked_paths_hide_files_and_directories() {
    let env = Env::new("masked");
    let mut b = env.bundle("b");
    fs::create_dir_all(b.rootfs().join("secret-dir")).unwrap();
    fs::write(b.rootfs().join("secret-dir/key"), "k").unwrap();
    fs::write(b.rootfs().join("secret-file"), "s").unwrap();
    let masked = b.config["linux"]["maskedPaths"].as_array_mut().unwrap();
    masked.push("/secret-dir".into());
    masked.push("/secret-file".into());
    masked.push("/does/not/exist".into());
    let s = env.check(&mut b, &["stat", "/secret-dir/key"]);
    assert_eq!(s["ok"], false);
    let f = env.check(&mut b, &["stat", "/secret-file"]);
    assert_eq!(
        (f["kind"].as_str(), f["major"].as_u64(), f["minor"].as_u64()),
        (Some("char"), Some(1), Some(3))
    );
    // A default masked /proc file that this kernel has.
    let proc_file = ["/proc/kcore", "/proc/keys", "/proc/timer_list"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap();
    let k = env.check(&mut b, &["stat", proc_file]);
    assert_eq!(
        (k["kind"].as_str(), k["minor"].as_u64()),
        (Some("char"), Some(3)),
        "{proc_file}"
    );
    assert_eq!(
        env.check(&mut b, &["write", "/secret-dir/x", "x"])["errno"],
        EROFS
    );
}

#[test]
fn readonly_paths_are_read_only() {
    let env = Env::new("ropaths");
    let mut b = env.bundle("b");
    let w = env.check(&mut b, &["write", "/proc/sys/kernel/hostname", "x"]);
    assert_eq!(w["errno"], EROFS);
    b.config["root"]["readonly"] = false.into();
    fs::create_dir_all(b.rootfs().join("data")).unwrap();
    b.config["linux"]["readonlyPaths"]
        .as_array_mut()
        .unwrap()
        .push("/data".into());
    assert_eq!(
        env.check(&mut b, &["write", "/data/x", "x"])["errno"],
        EROFS
    );
    assert_eq!(env.check(&mut b, &["write", "/x", "x"])["ok"], true);
}

#[test]
fn sysctl_hostname_domainname() {
    let env = Env::new("sysctl");
    let mut b = env.bundle("b");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
    b.config["hostname"] = "inside".into();
    b.config["domainname"] = "example.test".into();
    b.args(&[
        "/bin/sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni; /bin/checker report",
    ]);
    let id = env.id("c");
    b.save();
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(&lines[..2], ["1", "1234"]);
    let r: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(r["hostname"], "inside");
    assert_eq!(r["domainname"], "example.test");
    let host_fwd = fs::read_to_string("/proc/sys/kernel/shmmni").unwrap();
    assert_ne!(host_fwd.trim(), "1234", "sysctl leaked to the host");
}

#[test]
fn non_namespaced_sysctl_is_refused() {
    let env = Env::new("sysctl-host");
    let mut b = env.bundle("b");
    b.config["linux"]["sysctl"] = json!({"kernel.panic": "5"});
    b.save();
    let id = env.id("c");
    env.create_fails(&b, &id, "kernel.panic");
}
