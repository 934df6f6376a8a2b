//! A classic-BPF interpreter for the instructions the generator emits, so
//! unit tests can run a compiled filter against chosen syscalls.

/// What the kernel hands a filter.
pub(crate) struct Data {
    pub nr: u32,
    pub arch: u32,
    pub args: [u64; 6],
}

impl Data {
    fn word(&self, offset: u32) -> u32 {
        match offset {
            0 => self.nr,
            4 => self.arch,
            o if (16..64).contains(&o) && o % 4 == 0 => {
                let arg = self.args[((o - 16) / 8) as usize];
                if (o - 16) % 8 == 0 {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
            o => panic!("load from offset {o}"),
        }
    }
}

/// Runs `prog` on `d` and returns the filter's return value.
pub(crate) fn run(prog: &[libc::sock_filter], d: &Data) -> u32 {
    exec(prog, d).0
}

/// How many instructions `prog` executes for `d`.
pub(crate) fn steps(prog: &[libc::sock_filter], d: &Data) -> usize {
    exec(prog, d).1
}

fn exec(prog: &[libc::sock_filter], d: &Data) -> (u32, usize) {
    let (mut a, mut pc, mut steps) = (0u32, 0usize, 0usize);
    loop {
        let i = prog[pc];
        pc += 1;
        steps += 1;
        let code = u32::from(i.code);
        match (code & 0x07, code & 0xf0) {
            (libc::BPF_LD, _) => a = d.word(i.k),
            (libc::BPF_ALU, libc::BPF_AND) => a &= i.k,
            (libc::BPF_RET, _) => return (i.k, steps),
            (libc::BPF_JMP, libc::BPF_JA) => pc += i.k as usize,
            (libc::BPF_JMP, op) => {
                let taken = match op {
                    libc::BPF_JEQ => a == i.k,
                    libc::BPF_JGT => a > i.k,
                    libc::BPF_JGE => a >= i.k,
                    libc::BPF_JSET => a & i.k != 0,
                    _ => panic!("jump op {op:#x}"),
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            (class, op) => panic!("instruction class {class:#x} op {op:#x}"),
        }
    }
}
