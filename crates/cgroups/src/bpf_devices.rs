//! Device rules on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program,
//! emitted here and attached to the container's cgroup2 directory.
//!
//! Written by hand: the crates that load BPF need a newer compiler (aya)
//! or libbpf (C), and this program is a few dozen instructions
//! (`../shared/notes/crates.md`). The kernel calls it for every device
//! access with `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
//! u32 minor; }` (`access_type` = access << 16 | type) and allows the
//! access when it returns 1. Rules are tested from the last to the first,
//! so the last rule that matches decides, as with the v1 controller's
//! lists; no match denies. A rule matches when its type is `a` or the
//! device's, its major and minor are wildcards or equal, and the access
//! asked for is within the rule's.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::{DeviceRule, DeviceType, Error};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// One eBPF instruction.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const AND_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
const RSH_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
const MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const MOV_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const EXIT: u8 = 0x95;

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |a, c| {
        a | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    })
}

/// The program for `rules` (in the spec's order).
pub fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    // r2 = type, r3 = access, r4 = major, r5 = minor
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let mut checks: Vec<Vec<Insn>> = Vec::new();
        match rule.kind {
            DeviceType::All => {}
            DeviceType::Char => checks.push(vec![insn(JNE_K, 2, 0, 0, DEV_CHAR)]),
            DeviceType::Block => checks.push(vec![insn(JNE_K, 2, 0, 0, DEV_BLOCK)]),
        }
        let allowed = access_bits(&rule.access);
        if allowed != ACC_READ | ACC_WRITE | ACC_MKNOD {
            // Access asked for outside the rule's: not this rule.
            checks.push(vec![
                insn(MOV_X, 6, 3, 0, 0),
                insn(AND_K, 6, 0, 0, !allowed & 0xffff),
                insn(JNE_K, 6, 0, 0, 0),
            ]);
        }
        if let Some(m) = rule.major {
            checks.push(vec![insn(JNE_K, 4, 0, 0, m as i32)]);
        }
        if let Some(m) = rule.minor {
            checks.push(vec![insn(JNE_K, 5, 0, 0, m as i32)]);
        }
        // A rule that matches everything decides everything not decided
        // yet: nothing after it could run (the verifier refuses
        // unreachable instructions).
        let unconditional = checks.is_empty();
        let mut block: Vec<Insn> = checks.into_iter().flatten().collect();
        block.push(insn(MOV_K, 0, 0, 0, i32::from(rule.allow)));
        block.push(insn(EXIT, 0, 0, 0, 0));
        // Every failed check jumps past the end of this block.
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K {
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
        if unconditional {
            return p;
        }
    }
    p.push(insn(MOV_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a repr(C) prefix of union bpf_attr, fully
    // initialised, and outlives the call; the kernel reads that many bytes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *const T,
            std::mem::size_of::<T>(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Loads the program for `rules` and attaches it to the cgroup2
/// directory `cgroup` (alongside programs attached higher up).
pub fn attach(cgroup: BorrowedFd<'_>, rules: &[DeviceRule]) -> Result<OwnedFd, Error> {
    let insns = program(rules);
    let err = |what: &'static str| move |e: io::Error| Error::Devices(format!("{what}: {e}"));
    let mut log = vec![0u8; 1 << 16];
    let load = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: c"Apache-2.0".as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        ..Default::default()
    };
    let fd = bpf(BPF_PROG_LOAD, &load).map_err(|e| {
        let text = String::from_utf8_lossy(&log);
        Error::Devices(format!(
            "loading the device filter: {e}: {}",
            text.trim_end_matches('\0')
        ))
    })?;
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    let prog = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attach = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &attach).map_err(err("attaching the device filter"))?;
    Ok(prog)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `p` like the kernel would for one access.
    fn run(p: &[Insn], ty: i32, access: i32, major: i32, minor: i32) -> i64 {
        let ctx = [((access << 16) | ty) as i64, major as i64, minor as i64];
        let mut r = [0i64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0x0f) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = ctx[(i.off / 4) as usize] & 0xffff_ffff,
                AND_K => r[dst] &= i64::from(i.imm),
                RSH_K => r[dst] >>= i.imm,
                MOV_K => r[dst] = i64::from(i.imm),
                MOV_X => r[dst] = r[src],
                JNE_K => {
                    if r[dst] != i64::from(i.imm) {
                        pc += i.off as usize;
                    }
                }
                EXIT => return r[0],
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    fn rule(
        allow: bool,
        kind: DeviceType,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    #[test]
    fn last_matching_rule_decides() {
        let rules = [
            rule(false, DeviceType::All, None, None, "rwm"),
            rule(true, DeviceType::Char, Some(1), Some(3), "rwm"),
            rule(true, DeviceType::Char, Some(1), Some(5), "r"),
            rule(true, DeviceType::Block, Some(8), None, "rw"),
            rule(false, DeviceType::Block, Some(8), Some(1), "rwm"),
        ];
        let p = program(&rules);
        let rw = ACC_READ | ACC_WRITE;
        assert_eq!(run(&p, DEV_CHAR, rw, 1, 3), 1, "null");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 5), 1, "zero, read");
        assert_eq!(run(&p, DEV_CHAR, rw, 1, 5), 0, "zero, write");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 0), 1, "sda");
        assert_eq!(run(&p, DEV_BLOCK, ACC_MKNOD, 8, 0), 0, "sda mknod");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 1), 0, "sda1 denied last");
        assert_eq!(
            run(&p, DEV_CHAR, ACC_READ, 4, 0),
            0,
            "tty0 by the first rule"
        );
        assert_eq!(
            run(&program(&[]), DEV_CHAR, ACC_READ, 1, 3),
            0,
            "no rules: deny"
        );
        let all = program(&[rule(true, DeviceType::All, None, None, "rwm")]);
        assert_eq!(run(&all, DEV_BLOCK, rw | ACC_MKNOD, 259, 7), 1);
    }

    /// This process's cgroup2 directory (hybrid or unified host).
    fn own_cgroup2() -> std::path::PathBuf {
        let mount = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .find_map(|l| {
                let (pre, post) = l.split_once(" - ")?;
                post.starts_with("cgroup2 ")
                    .then(|| pre.split(' ').nth(4).map(String::from))?
            })
            .expect("a cgroup2 mount");
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("0::").map(String::from))
            .expect("a cgroup2 membership");
        std::path::Path::new(&mount).join(own.trim_start_matches('/'))
    }

    #[test]
    fn the_kernel_enforces_the_program() {
        use std::os::fd::AsFd;
        let dir = own_cgroup2().join(format!("berth-bpf-test-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let cg = std::fs::File::open(&dir).unwrap();
        let rules = [
            rule(false, DeviceType::All, None, None, "rwm"),
            rule(true, DeviceType::Char, Some(1), Some(3), "rwm"),
        ];
        let prog = attach(cg.as_fd(), &rules);
        let prog_err = prog.as_ref().err().map(|e| e.to_string());
        let status = prog.as_ref().ok().map(|_| {
            let args = libc::clone_args {
                flags: 0x2_0000_0000, // CLONE_INTO_CGROUP
                exit_signal: libc::SIGCHLD as u64,
                cgroup: cg.as_raw_fd() as u64,
                ..unsafe_zeroed()
            };
            // SAFETY: without CLONE_VM this is a fork; the child only makes
            // async-signal-safe syscalls and leaves with _exit.
            let pid = unsafe {
                libc::syscall(
                    libc::SYS_clone3,
                    &args as *const libc::clone_args,
                    std::mem::size_of::<libc::clone_args>(),
                )
            };
            if pid == 0 {
                // SAFETY: NUL-terminated paths; _exit never returns.
                unsafe {
                    let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
                    let zero = libc::open(c"/dev/zero".as_ptr(), libc::O_RDONLY);
                    let errno = *libc::__errno_location();
                    libc::_exit(
                        i32::from(null >= 0) | (i32::from(zero < 0 && errno == libc::EPERM) << 1),
                    );
                }
            }
            let mut status = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(pid as i32, &mut status, 0) };
            libc::WEXITSTATUS(status)
        });
        drop(prog);
        drop(cg);
        std::fs::remove_dir(&dir).unwrap();
        assert_eq!(
            status,
            Some(3),
            "null opens, zero is refused with EPERM ({prog_err:?})"
        );
    }

    fn unsafe_zeroed() -> libc::clone_args {
        // SAFETY: clone_args is plain integers; all-zero is valid.
        unsafe { std::mem::zeroed() }
    }
}
