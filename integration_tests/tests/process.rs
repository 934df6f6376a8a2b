//! The container process: args, env, cwd, user, capabilities,
//! no_new_privs, rlimits, oom_score_adj, I/O priority, scheduler,
//! personality.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use berth_integration_tests::{cap_bit, cap_mask, strings, Env};
use serde_json::json;

#[test]
fn args_env_cwd_and_home() {
    let env = Env::new("argsenv");
    let mut b = env.bundle("b");
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz", "EMPTY="]);
    b.config["process"]["cwd"] = "/home/u".into();
    let r = env.check(&mut b, &["report"]);
    let e = strings(&r["env"]);
    assert!(
        e.contains(&"FOO=bar baz") && e.contains(&"EMPTY=") && e.contains(&"PATH=/bin"),
        "{e:?}"
    );
    assert!(e.contains(&"HOME=/root"), "HOME from /etc/passwd: {e:?}");
    assert_eq!(r["cwd"], "/home/u");
    // A bare program name is looked up in the container's $PATH.
    b.config["process"]["args"] = json!(["checker", "exit", "7"]);
    b.save();
    let id = env.id("path");
    assert_eq!(
        env.berth(&["run", "-b", b.arg(), &id]).status.code(),
        Some(7)
    );
}

#[test]
fn missing_cwd_is_created_as_runc_does() {
    let env = Env::new("newcwd");
    let mut b = env.bundle("b");
    b.config["process"]["cwd"] = "/no/such/dir".into();
    let r = env.check(&mut b, &["report"]);
    assert_eq!(r["cwd"], "/no/such/dir");
    assert!(b.rootfs().join("no/such/dir").is_dir());
}

#[test]
fn cwd_that_is_a_file_fails_cleanly() {
    let env = Env::new("badcwd");
    let mut b = env.bundle("b");
    b.config["process"]["cwd"] = "/etc/passwd".into();
    b.save();
    let id = env.id("c");
    env.create_fails(&b, &id, "cwd");
}

#[test]
fn user_ids_groups_and_umask() {
    let env = Env::new("user");
    let mut b = env.bundle("b");
    b.config["process"]["user"] =
        json!({"uid": 1000, "gid": 1001, "additionalGids": [2000, 3000], "umask": 0o027});
    let r = env.check(&mut b, &["report"]);
    assert_eq!(r["uid"], json!([1000, 1000, 1000, 1000]));
    assert_eq!(r["gid"], json!([1001, 1001, 1001, 1001]));
    assert_eq!(r["groups"], json!([2000, 3000]));
    assert_eq!(r["umask"], "0027");
    let e = strings(&r["env"]);
    assert!(e.contains(&"HOME=/home/u"), "{e:?}");
    b.config["process"]["user"] = json!({"uid": 0, "gid": 0});
    assert_eq!(
        env.check(&mut b, &["report"])["umask"],
        "0022",
        "default umask"
    );
}

#[test]
fn capabilities_are_exactly_the_five_sets() {
    let env = Env::new("caps");
    let mut b = env.bundle("b");
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW", "CAP_SETUID"],
        "effective": ["CAP_KILL", "CAP_CHOWN"],
        "permitted": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"],
        "inheritable": ["CAP_NET_RAW", "CAP_CHOWN"],
        "ambient": ["CAP_NET_RAW"]
    });
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let r = env.check(&mut b, &["report"]);
    let c = &r["caps"];
    let bits = |names: &[&str]| names.iter().map(|n| cap_bit(n)).fold(0, |a, b| a | b);
    assert_eq!(
        cap_mask(&c["bounding"]),
        bits(&["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW", "CAP_SETUID"])
    );
    assert_eq!(
        cap_mask(&c["inheritable"]),
        bits(&["CAP_NET_RAW", "CAP_CHOWN"])
    );
    assert_eq!(cap_mask(&c["ambient"]), bits(&["CAP_NET_RAW"]));
    // After execve as uid 1000: permitted = effective = ambient.
    assert_eq!(cap_mask(&c["permitted"]), bits(&["CAP_NET_RAW"]));
    assert_eq!(cap_mask(&c["effective"]), bits(&["CAP_NET_RAW"]));
}

#[test]
fn root_keeps_effective_and_empty_sets_stay_empty() {
    let env = Env::new("caps-root");
    let mut b = env.bundle("b");
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_SYS_ADMIN"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]
    });
    let r = env.check(&mut b, &["report"]);
    let c = &r["caps"];
    // uid 0 gains its bounding set as permitted across execve (file
    // capabilities rules), but never inheritable or ambient ones.
    assert_eq!(
        cap_mask(&c["bounding"]),
        cap_bit("CAP_KILL") | cap_bit("CAP_SYS_ADMIN")
    );
    assert_eq!(
        cap_mask(&c["inheritable"]),
        0,
        "CVE-2022-29162: inheritable must stay empty"
    );
    assert_eq!(cap_mask(&c["ambient"]), 0);
}

#[test]
fn no_new_privileges_both_ways() {
    let env = Env::new("nnp");
    let mut b = env.bundle("b");
    assert_eq!(env.check(&mut b, &["report"])["no_new_privs"], "1");
    b.config["process"]["noNewPrivileges"] = false.into();
    assert_eq!(env.check(&mut b, &["report"])["no_new_privs"], "0");
}

#[test]
fn rlimits_are_set() {
    let env = Env::new("rlimits");
    let mut b = env.bundle("b");
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 900},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}
    ]);
    let r = env.check(&mut b, &["report"]);
    assert_eq!(r["rlimits"]["RLIMIT_NOFILE"], json!([512, 900]));
    assert_eq!(r["rlimits"]["RLIMIT_CORE"], json!([0, 0]));
    assert_eq!(r["rlimits"]["RLIMIT_NPROC"], json!([300, 400]));
}

#[test]
fn rlimit_above_the_host_hard_limit_fails_cleanly() {
    // This host lacks CAP_SYS_RESOURCE: raising a hard limit is EPERM.
    let env = Env::new("rlimit-high");
    let mut b = env.bundle("b");
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-pointer.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if lim.rlim_max == libc::RLIM_INFINITY {
        return;
    }
    b.config["process"]["rlimits"] =
        json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": lim.rlim_max + 1}]);
    b.save();
    let id = env.id("c");
    let caps = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = caps
        .lines()
        .find(|l| l.starts_with("CapBnd"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    if u64::from_str_radix(&bnd, 16).unwrap() & cap_bit("CAP_SYS_RESOURCE") != 0 {
        return;
    }
    env.create_fails(&b, &id, "setrlimit");
}

#[test]
fn oom_score_adj_io_priority_scheduler() {
    let env = Env::new("sched");
    let mut b = env.bundle("b");
    b.config["process"]["oomScoreAdj"] = 500.into();
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    let r = env.check(&mut b, &["report"]);
    assert_eq!(r["oom_score_adj"], "500");
    assert_eq!(r["ioprio"], (2 << 13) | 6);
    assert_eq!(r["sched"]["policy"], libc::SCHED_BATCH);
    assert_eq!(r["sched"]["nice"], 7);
}

#[test]
fn personality_linux32() {
    let env = Env::new("persona");
    let mut b = env.bundle("b");
    assert_eq!(env.check(&mut b, &["report"])["machine"], "x86_64");
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    assert_eq!(env.check(&mut b, &["report"])["machine"], "i686");
}
