//! The three ABIs an x86_64 kernel takes syscalls from, and their syscall
//! numbers. A filter sees which one by `seccomp_data.arch` (i386 has its
//! own audit arch) and, for x32, by the x32 bit in the number.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub(crate) const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Abi {
    X86_64,
    X32,
    I386,
}

/// The x32 syscalls whose arguments differ from x86_64's get their own
/// numbers, 512 and up, in this order (arch/x86/entry/syscalls/
/// syscall_64.tbl, ABI "x32"); the x86_64 numbers of these names are not
/// reachable from x32. Every other x32 number is the x86_64 one with the
/// x32 bit set.
const X32_OWN: [&str; 36] = [
    "rt_sigaction",
    "rt_sigreturn",
    "ioctl",
    "readv",
    "writev",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "execve",
    "ptrace",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "sigaltstack",
    "timer_create",
    "mq_notify",
    "kexec_load",
    "waitid",
    "set_robust_list",
    "get_robust_list",
    "vmsplice",
    "move_pages",
    "preadv",
    "pwritev",
    "rt_tgsigqueueinfo",
    "recvmmsg",
    "sendmmsg",
    "process_vm_readv",
    "process_vm_writev",
    "setsockopt",
    "getsockopt",
    "io_setup",
    "io_submit",
    "execveat",
    "preadv2",
    "pwritev2",
];

/// Past the highest syscall number of either table (both end below 512).
const TABLE_END: usize = 1024;

/// Name-to-number tables of the three ABIs, built once per compilation:
/// a profile names hundreds of syscalls, and the syscalls crate's own
/// lookup is a linear match over every name.
pub(crate) struct Numbers {
    x86_64: HashMap<&'static str, u32, Fnv>,
    i386: HashMap<&'static str, u32, Fnv>,
}

/// FNV-1a: syscall names are short and not attacker-chosen keys that
/// could flood a table, so SipHash's cost buys nothing here.
#[derive(Default, Clone, Copy)]
pub(crate) struct FnvHasher(u64);

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Fnv = BuildHasherDefault<FnvHasher>;

impl Numbers {
    pub(crate) fn new() -> Self {
        Numbers {
            // By number: the crate's iterator stops at the first gap in
            // the table and would miss the newest syscalls.
            x86_64: (0..TABLE_END)
                .filter_map(syscalls::x86_64::Sysno::new)
                .map(|s| (s.name(), s.id() as u32))
                .collect(),
            i386: (0..TABLE_END)
                .filter_map(syscalls::x86::Sysno::new)
                .map(|s| (s.name(), s.id() as u32))
                .collect(),
        }
    }

    /// The number `name` has in `abi`, as the filter sees it.
    pub(crate) fn get(&self, abi: Abi, name: &str) -> Option<u32> {
        match abi {
            Abi::X86_64 => self.x86_64.get(name).copied(),
            Abi::I386 => self.i386.get(name).copied(),
            Abi::X32 => match X32_OWN.iter().position(|n| *n == name) {
                Some(i) => Some(X32_SYSCALL_BIT | (512 + i as u32)),
                None => self.x86_64.get(name).map(|n| n | X32_SYSCALL_BIT),
            },
        }
    }
}

#[cfg(test)]
impl Abi {
    pub(crate) fn number(self, name: &str) -> Option<u32> {
        Numbers::new().get(self, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(Abi::X86_64.number("read"), Some(0));
        assert_eq!(Abi::X86_64.number("clone3"), Some(435));
        assert_eq!(Abi::I386.number("socketcall"), Some(102));
        assert_eq!(Abi::I386.number("clone"), Some(120));
        assert_eq!(Abi::X32.number("read"), Some(X32_SYSCALL_BIT));
        assert_eq!(Abi::X32.number("ioctl"), Some(X32_SYSCALL_BIT | 514));
        assert_eq!(Abi::X32.number("pwritev2"), Some(X32_SYSCALL_BIT | 547));
        assert_eq!(Abi::X86_64.number("no_such_call"), None);
        assert_eq!(Abi::X86_64.number("socketcall"), None);
    }
    #[test]
    fn the_newest_syscalls_are_known() {
        let n = Numbers::new();
        assert_eq!(n.get(Abi::X86_64, "file_setattr"), Some(469));
        assert!(n.get(Abi::I386, "file_setattr").is_some());
    }
}
