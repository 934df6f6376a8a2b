//! The three ABIs an x86_64 kernel takes syscalls from, and their syscall
//! numbers. A filter sees which one by `seccomp_data.arch` (i386 has its
//! own audit arch) and, for x32, by the x32 bit in the number.

use std::str::FromStr;

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

impl Abi {
    /// The number `name` has in this ABI, as the filter sees it.
    pub(crate) fn number(self, name: &str) -> Option<u32> {
        match self {
            Abi::X86_64 => syscalls::x86_64::Sysno::from_str(name)
                .ok()
                .map(|s| s.id() as u32),
            Abi::I386 => syscalls::x86::Sysno::from_str(name)
                .ok()
                .map(|s| s.id() as u32),
            Abi::X32 => match X32_OWN.iter().position(|n| *n == name) {
                Some(i) => Some(X32_SYSCALL_BIT | (512 + i as u32)),
                None => Abi::X86_64.number(name).map(|n| n | X32_SYSCALL_BIT),
            },
        }
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
}
