//! Seccomp profiles in real containers: the checker makes raw syscalls
//! through each ABI and reports the result, or dies of SIGSYS.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step is a failed test"
)]

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

use berth_integration_tests::{parse_last_json, text, Bundle, Env};
use serde_json::{json, Value};

/// Exit status of `run` for a container killed by SIGSYS.
const KILLED_BY_SIGSYS: i32 = 128 + libc::SIGSYS;
const GETPID: u64 = 39;

fn profile(b: &mut Bundle, seccomp: Value) {
    b.config["linux"]["seccomp"] = seccomp;
}

/// Runs `checker syscall ABI NR ARGS...` in a new container: the
/// checker's JSON, or None when it was killed by SIGSYS.
fn syscall(env: &Env, b: &mut Bundle, abi: &str, nr: u64, args: &[u64]) -> Option<Value> {
    let mut argv = vec![
        "/bin/checker".to_string(),
        "syscall".into(),
        abi.into(),
        nr.to_string(),
    ];
    argv.extend(args.iter().map(|a| format!("{a:#x}")));
    b.config["process"]["args"] = json!(argv);
    b.save();
    let out = env.berth(&["run", "-b", b.arg(), &env.id(&format!("s{nr}-{abi}"))]);
    match out.status.code() {
        Some(0) => Some(parse_last_json(&out.stdout)),
        Some(KILLED_BY_SIGSYS) => None,
        other => panic!("{abi} syscall {nr}: exit {other:?}: {}", text(&out)),
    }
}

fn errno(v: &Option<Value>) -> i64 {
    v.as_ref().expect("killed")["errno"].as_i64().unwrap_or(0)
}

/// Runs a shell script whose lines are checker calls; one JSON per line.
fn script(env: &Env, b: &mut Bundle, id: &str, sh: &str) -> Vec<Value> {
    b.args(&["/bin/sh", "-c", sh]);
    b.save();
    let out = env.berth(&["run", "-b", b.arg(), &env.id(id)]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_action_from_inside() {
    let env = Env::new("sc-actions");
    let mut b = env.bundle("b");
    // getpid ignores its arguments, so arg 0 picks the rule.
    let on = |v: u64, action: &str| {
        json!({"names": ["getpid"], "action": action,
            "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]})
    };
    let mut errno13 = on(1, "SCMP_ACT_ERRNO");
    errno13["errnoRet"] = 13.into();
    profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                "SECCOMP_FILTER_FLAG_TSYNC"],
            "syscalls": [
            errno13, on(2, "SCMP_ACT_ERRNO"), on(3, "SCMP_ACT_KILL"),
            on(4, "SCMP_ACT_KILL_PROCESS"), on(5, "SCMP_ACT_KILL_THREAD"),
            on(6, "SCMP_ACT_TRAP"), on(7, "SCMP_ACT_TRACE"), on(8, "SCMP_ACT_LOG")
        ]}),
    );
    assert_eq!(errno(&syscall(&env, &mut b, "x86_64", GETPID, &[1])), 13);
    assert_eq!(
        errno(&syscall(&env, &mut b, "x86_64", GETPID, &[2])),
        1,
        "EPERM by default"
    );
    for arg in [3, 4, 5, 6] {
        assert!(
            syscall(&env, &mut b, "x86_64", GETPID, &[arg]).is_none(),
            "rule {arg} must end the process with SIGSYS"
        );
    }
    // TRACE with no tracer attached: the kernel fails the call (ENOSYS).
    assert_eq!(errno(&syscall(&env, &mut b, "x86_64", GETPID, &[7])), 38);
    // LOG lets the call through (pid 1: init of a new pid namespace).
    for arg in [8, 9] {
        let v = syscall(&env, &mut b, "x86_64", GETPID, &[arg]).unwrap();
        assert_eq!(v["ret"], 1, "{v}");
    }
}

#[test]
fn every_operator_with_64_bit_values() {
    let env = Env::new("sc-ops");
    let big: u64 = 0x1_0000_0005;
    // (op, value, valueTwo, [(argument, denied)])
    type Case = (&'static str, u64, u64, Vec<(u64, bool)>);
    let cases: [Case; 7] = [
        ("SCMP_CMP_EQ", big, 0, vec![(big, true), (5, false)]),
        ("SCMP_CMP_NE", big, 0, vec![(big, false), (5, true)]),
        ("SCMP_CMP_LT", big, 0, vec![(big - 1, true), (big, false)]),
        ("SCMP_CMP_LE", big, 0, vec![(big, true), (big + 1, false)]),
        ("SCMP_CMP_GT", big, 0, vec![(big + 1, true), (big, false)]),
        ("SCMP_CMP_GE", big, 0, vec![(big, true), (5, false)]),
        (
            "SCMP_CMP_MASKED_EQ",
            0xff00_0000_00ff,
            0x1200_0000_0034,
            vec![(0x12ab_cdef_9934, true), (0x1300_0000_0034, false)],
        ),
    ];
    for (i, (op, value, two, samples)) in cases.iter().enumerate() {
        let mut b = env.bundle(&format!("b{i}"));
        let arg = json!({"index": 2, "value": value, "valueTwo": two, "op": op});
        profile(
            &mut b,
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33, "args": [arg]}]}),
        );
        let lines: Vec<String> = samples
            .iter()
            .map(|(a, _)| format!("/bin/checker syscall x86_64 39 0 0 {a:#x}"))
            .collect();
        let got = script(&env, &mut b, &format!("op{i}"), &lines.join("; "));
        for ((a, denied), v) in samples.iter().zip(&got) {
            let was_denied = v["errno"] == 33;
            assert_eq!(was_denied, *denied, "{op} {value:#x} on {a:#x}: {v}");
        }
    }
}

#[test]
fn conditions_and_across_arguments_or_within_one() {
    let env = Env::new("sc-andor");
    let mut b = env.bundle("b");
    profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 20, "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 21, "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]}),
    );
    let sh = "for a in '1 2' '1 0' '0 2'; do /bin/checker syscall x86_64 39 $a; done; \
              for a in 1 2 3; do /bin/checker syscall x86_64 110 $a; done";
    let got: Vec<i64> = script(&env, &mut b, "c", sh)
        .iter()
        .map(|v| v["errno"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(got, [20, 0, 0, 21, 21, 0]);
}

#[test]
fn other_abis_are_killed_unless_listed_then_filtered_by_their_numbers() {
    let env = Env::new("sc-abi");
    let deny_mkdir = json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]);
    let mut b = env.bundle("native");
    profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": deny_mkdir}),
    );
    // x32 mkdir (83 | x32 bit) and i386 getpid (20): not this profile's.
    assert!(syscall(&env, &mut b, "x32", 83, &[0]).is_none());
    assert!(syscall(&env, &mut b, "x32", GETPID, &[]).is_none());
    assert!(syscall(&env, &mut b, "i386", 20, &[]).is_none());
    assert_eq!(errno(&syscall(&env, &mut b, "x86_64", 83, &[0])), 13);

    let mut b = env.bundle("all");
    profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": deny_mkdir}),
    );
    // The deny rule holds in every ABI, by each ABI's own number (i386
    // mkdir is 39, x86_64's getpid); unfiltered calls go through.
    assert_eq!(errno(&syscall(&env, &mut b, "x32", 83, &[0])), 13);
    assert_eq!(errno(&syscall(&env, &mut b, "i386", 39, &[0])), 13);
    assert_eq!(syscall(&env, &mut b, "i386", 20, &[]).unwrap()["ret"], 1);
}

fn docker_like(b: &mut Bundle) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/seccomp-docker-like.json"
    );
    profile(
        b,
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap(),
    );
}

#[test]
fn a_docker_sized_profile_runs_a_shell_and_blocks_what_it_should() {
    let env = Env::new("sc-docker");
    let mut b = env.bundle("b");
    docker_like(&mut b);
    b.config["root"]["readonly"] = false.into();
    b.args(&[
        "/bin/sh",
        "-c",
        "echo hello > /tmp/f && cat /tmp/f && mkdir /tmp/d && touch /tmp/d/x && ls /tmp/d \
         && rm -r /tmp/d && id -u && uname -s && (sleep 0; echo sub) | cat && \
         ps -o pid,comm | wc -l | grep -q . && echo done",
    ]);
    b.save();
    let out = env.berth(&["run", "-b", b.arg(), &env.id("sh")]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello\nx\n0\nLinux\nsub\ndone\n"
    );
    let e = |v: Option<Value>| errno(&v);
    // Not in the allowlist: the default, EPERM.
    assert_eq!(e(syscall(&env, &mut b, "x86_64", 165, &[0, 0, 0, 0, 0])), 1); // mount
    assert_eq!(e(syscall(&env, &mut b, "x86_64", 272, &[0x2_0000])), 1); // unshare
    assert_eq!(e(syscall(&env, &mut b, "x86_64", 101, &[0])), 1); // ptrace
                                                                  // clone3 answers ENOSYS, so libcs fall back to clone.
    assert_eq!(e(syscall(&env, &mut b, "x86_64", 435, &[0, 0])), 38);
    // clone with a namespace flag: denied; personality: only the listed
    // personas; socket: everything but AF_VSOCK.
    assert_eq!(e(syscall(&env, &mut b, "x86_64", 56, &[0x2_0000])), 1);
    assert_eq!(e(syscall(&env, &mut b, "x86_64", 135, &[0x40_0000])), 1);
    assert!(syscall(&env, &mut b, "x86_64", 135, &[0xffff_ffff]).unwrap()["ret"].is_u64());
    assert_eq!(e(syscall(&env, &mut b, "x86_64", 41, &[40, 1, 0])), 1);
    assert!(syscall(&env, &mut b, "x86_64", 41, &[1, 1, 0]).unwrap()["ret"].is_u64());
    // The same profile through the other ABIs: i386 mount (21) and x32
    // mount are refused by the filter (this kernel has no x32 ABI: without
    // the filter the call would fail with ENOSYS, not EPERM).
    assert_eq!(e(syscall(&env, &mut b, "i386", 21, &[0, 0, 0])), 1);
    assert_eq!(e(syscall(&env, &mut b, "x32", 165, &[0, 0, 0])), 1);
    // A syscall newer than every name in the profile: ENOSYS (runc's stub).
    assert_eq!(e(syscall(&env, &mut b, "x86_64", 480, &[])), 38);
}

#[test]
fn the_filter_holds_for_exec_and_with_or_without_no_new_privileges() {
    let env = Env::new("sc-exec");
    for (i, nnp) in [true, false].into_iter().enumerate() {
        let mut b = env.bundle(&format!("b{i}"));
        profile(
            &mut b,
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9}]}),
        );
        // An unprivileged user without CAP_SYS_ADMIN: without
        // no_new_privs the filter must go in before the ids change.
        b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        b.config["process"]["noNewPrivileges"] = nnp.into();
        b.config["process"]["capabilities"] = json!({});
        let v = syscall(&env, &mut b, "x86_64", 110, &[]);
        assert_eq!(errno(&v), 9, "noNewPrivileges {nnp}");
        b.args(&["/bin/sleep", "10"]);
        let id = env.id(&format!("e{i}"));
        env.run_detached(&b, &id);
        let out = env.berth(&["exec", &id, "/bin/checker", "syscall", "x86_64", "110"]);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(parse_last_json(&out.stdout)["errno"], 9, "exec, nnp {nnp}");
        let report = env.berth(&["exec", &id, "/bin/checker", "report"]);
        assert_eq!(parse_last_json(&report.stdout)["seccomp"], "2");
        assert!(env.berth(&["delete", "-f", &id]).status.success());
    }
}

/// A seccomp agent: takes the one message the runtime sends to
/// `listenerPath` and answers one notification with `errno`.
fn agent(listener: UnixListener, errno: i32) -> std::thread::JoinHandle<(Value, i32)> {
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 65536];
        let mut space = [0u8; 64];
        let mut iov = [IoSliceMut::new(&mut buf)];
        // SAFETY: zeroed msghdr, then pointed at live buffers.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr().cast();
        msg.msg_iovlen = 1;
        msg.msg_control = space.as_mut_ptr().cast();
        msg.msg_controllen = space.len();
        // SAFETY: msg describes buffers that outlive the call.
        let n = unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        assert!(n > 0);
        // SAFETY: the kernel filled the control buffer; one SCM_RIGHTS
        // header carrying one descriptor comes first.
        let fd = unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            assert!(!c.is_null() && (*c).cmsg_type == libc::SCM_RIGHTS);
            OwnedFd::from_raw_fd(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>()))
        };
        let state: Value = serde_json::from_slice(&buf[..n as usize]).unwrap();
        // SAFETY: zeroed notification buffers of the kernel's layout.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: RECV fills `req` (blocks until the container calls).
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        let nr = req.data.nr;
        // SAFETY: zeroed response, then filled.
        let mut resp: libc::seccomp_notif_resp = unsafe { std::mem::zeroed() };
        resp.id = req.id;
        resp.error = -errno;
        // SAFETY: SEND reads `resp`.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        (state, nr)
    })
}

#[test]
fn notify_hands_the_listener_and_state_to_the_agent() {
    let env = Env::new("sc-notify");
    let path = env.dir.join("agent.sock");
    let handle = agent(UnixListener::bind(&path).unwrap(), libc::EROFS);
    let mut b = env.bundle("b");
    profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
            "listenerMetadata": "from-the-test",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let id = env.id("n");
    b.args(&["/bin/checker", "syscall", "x86_64", "83", "0"]);
    b.save();
    let out = env.berth(&["run", "-b", b.arg(), &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(parse_last_json(&out.stdout)["errno"], libc::EROFS);
    let (state, nr) = handle.join().unwrap();
    assert_eq!(nr, 83, "mkdir");
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "from-the-test");
    assert_eq!(state["state"]["id"], id.as_str());
    assert_eq!(state["state"]["status"], "creating");
    assert!(state["pid"].as_i64().unwrap() > 1);
}

#[test]
fn bad_profiles_are_refused_with_nothing_left() {
    let env = Env::new("sc-bad");
    let mut b = env.bundle("b");
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]}),
            "linux.seccomp.syscalls[0].errnoRet",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 7, "value": 0, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[0]",
        ),
        (json!({"defaultAction": "SCMP_ACT_BOGUS"}), "linux.seccomp"),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}),
            "listenerPath",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_SOMETIMES"}]}]}),
            "linux.seccomp",
        ),
    ];
    for (i, (seccomp, needle)) in cases.into_iter().enumerate() {
        profile(&mut b, seccomp);
        env.create_fails(&b, &env.id(&format!("bad{i}")), needle);
    }
}

#[test]
fn a_profile_refusing_execveat_still_starts_the_program() {
    // The exec stub is started with execveat; such a profile gets the
    // program executed directly instead.
    let env = Env::new("sc-execveat");
    let mut b = env.bundle("b");
    profile(
        &mut b,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["execveat"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    let v = syscall(&env, &mut b, "x86_64", GETPID, &[]).unwrap();
    assert_eq!(v["ret"], 1);
}
