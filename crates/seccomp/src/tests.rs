//! The compiled filter run through the interpreter in `sim`.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;

use crate::arch::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::sim::{run, Data};
use crate::{Error, Filter};

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const KILL_PROCESS: u32 = libc::SECCOMP_RET_KILL_PROCESS;

fn errno(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | e as u32
}

fn compile(v: serde_json::Value) -> Result<Filter, Error> {
    let spec: LinuxSeccomp = serde_json::from_value(v).unwrap();
    Filter::compile(&spec)
}

fn call(f: &Filter, nr: u32, args: [u64; 6]) -> u32 {
    run(
        &f.program,
        &Data {
            nr,
            arch: AUDIT_ARCH_X86_64,
            args,
        },
    )
}

fn nr(name: &str) -> u32 {
    crate::arch::Abi::X86_64.number(name).unwrap()
}

#[test]
fn actions_and_errno_per_rule() {
    let f = compile(json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["getpid"], "action": "SCMP_ACT_KILL"},
            {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["gettid"], "action": "SCMP_ACT_TRAP"},
            {"names": ["getuid"], "action": "SCMP_ACT_TRACE", "errnoRet": 5},
            {"names": ["getgid"], "action": "SCMP_ACT_LOG"},
            {"names": ["no_such_syscall"], "action": "SCMP_ACT_ALLOW"}
        ]
    }))
    .unwrap();
    let z = [0; 6];
    assert_eq!(call(&f, nr("read"), z), ALLOW);
    assert_eq!(call(&f, nr("write"), z), ALLOW);
    assert_eq!(call(&f, nr("mkdir"), z), errno(13));
    assert_eq!(call(&f, nr("rmdir"), z), errno(libc::EPERM));
    assert_eq!(call(&f, nr("getpid"), z), libc::SECCOMP_RET_KILL_THREAD);
    assert_eq!(call(&f, nr("getppid"), z), KILL_PROCESS);
    assert_eq!(call(&f, nr("gettid"), z), libc::SECCOMP_RET_TRAP);
    assert_eq!(call(&f, nr("getuid"), z), libc::SECCOMP_RET_TRACE | 5);
    assert_eq!(call(&f, nr("getgid"), z), libc::SECCOMP_RET_LOG);
    assert_eq!(call(&f, nr("close"), z), errno(38));
}

fn one_arg(op: &str, value: u64, value_two: Option<u64>) -> Filter {
    let mut arg = json!({"index": 1, "value": value, "op": op});
    if let Some(v) = value_two {
        arg["valueTwo"] = json!(v);
    }
    compile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "args": [arg]}]
    }))
    .unwrap()
}

#[test]
fn every_operator_on_64_bit_values() {
    const BIG: u64 = 0x1_0000_0005;
    // (op, value, valueTwo, [(argument, denied)])
    type Case = (&'static str, u64, Option<u64>, &'static [(u64, bool)]);
    let cases: [Case; 7] = [
        (
            "SCMP_CMP_EQ",
            BIG,
            None,
            &[(BIG, true), (5, false), (BIG + 1, false)],
        ),
        (
            "SCMP_CMP_NE",
            BIG,
            None,
            &[(BIG, false), (5, true), (0, true)],
        ),
        (
            "SCMP_CMP_LT",
            BIG,
            None,
            &[(5, true), (BIG - 1, true), (BIG, false), (u64::MAX, false)],
        ),
        (
            "SCMP_CMP_LE",
            BIG,
            None,
            &[(BIG, true), (BIG + 1, false), (0, true)],
        ),
        (
            "SCMP_CMP_GT",
            BIG,
            None,
            &[
                (BIG, false),
                (BIG + 1, true),
                (0x2_0000_0000, true),
                (6, false),
            ],
        ),
        (
            "SCMP_CMP_GE",
            BIG,
            None,
            &[(BIG, true), (BIG - 1, false), (u64::MAX, true)],
        ),
        (
            "SCMP_CMP_MASKED_EQ",
            0xff00_0000_00ff,
            Some(0x1200_0000_0034),
            &[
                (0x1200_0000_0034, true),
                (0x12ab_ffff_ff34, true),
                (0x1300_0000_0034, false),
                (0x1200_0000_0035, false),
            ],
        ),
    ];
    for (op, value, two, samples) in cases {
        let f = one_arg(op, value, two);
        for &(arg, denied) in samples {
            let want = if denied { errno(libc::EPERM) } else { ALLOW };
            assert_eq!(
                call(&f, nr("ioctl"), [0, arg, 0, 0, 0, 0]),
                want,
                "{op} {value:#x} on {arg:#x}"
            );
        }
    }
}

#[test]
fn conditions_on_different_args_and_same_arg_compose_like_runc() {
    let f = compile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 0, "value": 16, "op": "SCMP_CMP_EQ"},
                {"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 0xffffffffu64, "op": "SCMP_CMP_EQ"}]}
        ]
    }))
    .unwrap();
    let deny = errno(libc::EPERM);
    assert_eq!(call(&f, nr("socket"), [16, 0, 9, 0, 0, 0]), deny);
    assert_eq!(call(&f, nr("socket"), [16, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(call(&f, nr("socket"), [2, 0, 9, 0, 0, 0]), ALLOW);
    assert_eq!(call(&f, nr("personality"), [8, 0, 0, 0, 0, 0]), deny);
    assert_eq!(
        call(&f, nr("personality"), [0xffffffff, 0, 0, 0, 0, 0]),
        deny
    );
    assert_eq!(call(&f, nr("personality"), [0, 0, 0, 0, 0, 0]), ALLOW);
}

#[test]
fn conditional_rules_before_the_unconditional_one() {
    let f = compile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 0x7e020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]
    }))
    .unwrap();
    assert_eq!(call(&f, nr("clone"), [0x11, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(call(&f, nr("clone"), [0x20000, 0, 0, 0, 0, 0]), errno(22));
}

#[test]
fn other_abis_are_filtered_or_killed() {
    let profile = |arches: serde_json::Value| {
        compile(json!({
            "defaultAction": "SCMP_ACT_ALLOW", "architectures": arches,
            "syscalls": [{"names": ["ioctl", "mount"], "action": "SCMP_ACT_ERRNO"}]
        }))
        .unwrap()
    };
    let deny = errno(libc::EPERM);
    let x32_ioctl = X32_SYSCALL_BIT | 514;
    let x32_read = X32_SYSCALL_BIT;
    let i386 = |f: &Filter, nr| {
        run(
            &f.program,
            &Data {
                nr,
                arch: AUDIT_ARCH_I386,
                args: [0; 6],
            },
        )
    };
    let native = profile(json!(["SCMP_ARCH_X86_64"]));
    assert_eq!(call(&native, nr("ioctl"), [0; 6]), deny);
    assert_eq!(call(&native, x32_ioctl, [0; 6]), KILL_PROCESS);
    assert_eq!(call(&native, x32_read, [0; 6]), KILL_PROCESS);
    assert_eq!(
        call(&native, X32_SYSCALL_BIT | nr("ioctl"), [0; 6]),
        KILL_PROCESS
    );
    assert_eq!(i386(&native, 54), KILL_PROCESS);
    let all = profile(json!([
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_AARCH64"
    ]));
    assert_eq!(call(&all, x32_ioctl, [0; 6]), deny);
    assert_eq!(call(&all, x32_read, [0; 6]), ALLOW);
    assert_eq!(i386(&all, 54), deny, "i386 ioctl");
    assert_eq!(i386(&all, 21), deny, "i386 mount");
    assert_eq!(i386(&all, 16), ALLOW, "i386 16 is lchown, not ioctl");
    assert_eq!(
        run(
            &all.program,
            &Data {
                nr: 0,
                arch: 0xc00000b7,
                args: [0; 6]
            }
        ),
        KILL_PROCESS
    );
}

#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    let f = compile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read", "openat2"], "action": "SCMP_ACT_ALLOW"}]
    }))
    .unwrap();
    assert_eq!(call(&f, nr("openat2"), [0; 6]), ALLOW);
    assert_eq!(call(&f, nr("write"), [0; 6]), errno(libc::EPERM));
    assert_eq!(call(&f, nr("openat2") + 1, [0; 6]), errno(libc::ENOSYS));
    let allow = compile(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]}))
    .unwrap();
    assert_eq!(call(&allow, 400, [0; 6]), ALLOW);
}

#[test]
fn a_profile_of_docker_size_is_small_and_fast() {
    let names: Vec<String> = (0..450u32)
        .filter_map(|n| syscalls::x86_64::Sysno::new(n as usize).map(|s| s.name().to_string()))
        .filter(|n| !["ptrace", "mount", "kexec_load", "reboot"].contains(&n.as_str()))
        .take(350)
        .collect();
    let f = compile(json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": names, "action": "SCMP_ACT_ALLOW"},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
        ]
    }))
    .unwrap();
    assert!(f.len() < 4096, "{} instructions", f.len());
    // A binary search: no syscall runs more than a few dozen instructions.
    for n in 0..460 {
        let d = Data {
            nr: n,
            arch: AUDIT_ARCH_X86_64,
            args: [0; 6],
        };
        let steps = crate::sim::steps(&f.program, &d);
        assert!(steps <= 32, "syscall {n}: {steps} instructions");
    }
    assert_eq!(call(&f, nr("mount"), [0; 6]), errno(1));
    assert_eq!(call(&f, nr("read"), [0; 6]), ALLOW);
    assert_eq!(call(&f, nr("ptrace"), [0; 6]), errno(1));
}

#[test]
fn errors_name_the_field() {
    let err = |v| compile(v).unwrap_err().to_string();
    assert!(err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}))
    .contains("syscalls[0].errnoRet"));
    assert!(err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}))
        .contains("syscalls[0].args[0]"));
    assert!(err(json!({"defaultAction": "SCMP_ACT_NOTIFY"})).contains("defaultAction"));
    assert!(err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}))
    .contains("listenerPath"));
    assert!(err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["write"], "action": "SCMP_ACT_NOTIFY"}], "listenerPath": "/run/l.sock"}))
    .contains("write"));
    let ok = compile(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/l.sock",
        "listenerMetadata": "m", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
    )
    .unwrap();
    assert_eq!(ok.notify().unwrap().metadata, "m");
    assert!(ok.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0);
}
