//! The BPF program. Layout:
//!
//! ```text
//!   load arch; x86_64? -> X86_64 | i386 (if listed)? -> I386 | BAD_ARCH
//! X86_64: load nr; nr has the x32 bit? -> X32 (if listed) or BAD_ARCH
//!         [nr > newest named syscall? -> ENOSYS]   (runc's stub)
//!         binary search over the numbers that have rules
//!           leaf: rule blocks in order, each jumping to its action when
//!           its conditions hold, then the default
//! X32, I386: the same search over their own numbers
//! one RET per distinct return value
//! ```
//!
//! Conditional jumps always jump 0 or 1 instruction; anything further is
//! an unconditional `JA` with a 32-bit offset, so no tree size can overflow
//! BPF's 8-bit branch offsets. A syscall costs the arch checks, about
//! log2(n) compares and its own rules: about 25 instructions for a
//! 350-syscall profile where a linear filter would run up to 350 compares.
//! Argument conditions are seccompiler's rule blocks: a block falls
//! through when every condition holds and skips the one instruction after
//! it otherwise.

use std::collections::BTreeMap;

use seccompiler::sock_filter;

use crate::arch::{Abi, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::profile::{Profile, Rule, Table, BAD_ARCH};
use crate::Error;

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const BPF_JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;
const MAX_LEN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Label {
    Abi(Abi),
    Ret(u32),
    Node(usize),
}

enum Item {
    Ins(sock_filter),
    Jump(Label),
    Here(Label),
}

struct Asm {
    items: Vec<Item>,
    nodes: usize,
}

impl Asm {
    fn ins(&mut self, code: u16, k: u32, jt: u8, jf: u8) {
        self.items.push(Item::Ins(sock_filter { code, jt, jf, k }));
    }
    /// `if A <op> k goto target`, as a branch over a long jump.
    fn branch(&mut self, code: u16, k: u32, target: Label) {
        self.ins(code, k, 0, 1);
        self.items.push(Item::Jump(target));
    }
    fn jump(&mut self, target: Label) {
        self.items.push(Item::Jump(target));
    }
    fn here(&mut self, label: Label) {
        self.items.push(Item::Here(label));
    }
    fn node(&mut self) -> Label {
        self.nodes += 1;
        Label::Node(self.nodes)
    }
}

pub(crate) fn generate(p: &Profile) -> Result<Vec<libc::sock_filter>, Error> {
    let mut a = Asm {
        items: Vec::new(),
        nodes: 0,
    };
    let has = |abi| p.tables.contains_key(&abi);
    a.ins(BPF_LD_W_ABS, ARCH_OFFSET, 0, 0);
    a.branch(BPF_JEQ_K, AUDIT_ARCH_X86_64, Label::Abi(Abi::X86_64));
    if has(Abi::I386) {
        a.branch(BPF_JEQ_K, AUDIT_ARCH_I386, Label::Abi(Abi::I386));
    }
    a.jump(Label::Ret(BAD_ARCH));
    for (abi, table) in &p.tables {
        a.here(Label::Abi(*abi));
        if *abi != Abi::X32 {
            a.ins(BPF_LD_W_ABS, NR_OFFSET, 0, 0);
        }
        if *abi == Abi::X86_64 {
            let x32 = if has(Abi::X32) {
                Label::Abi(Abi::X32)
            } else {
                Label::Ret(BAD_ARCH)
            };
            a.branch(BPF_JGE_K, X32_SYSCALL_BIT, x32);
        }
        abi_section(&mut a, p, table);
    }
    let mut rets: Vec<u32> = Vec::new();
    for item in &a.items {
        if let Item::Jump(Label::Ret(v)) = item {
            if !rets.contains(v) {
                rets.push(*v);
            }
        }
    }
    for v in rets {
        a.here(Label::Ret(v));
        a.ins(BPF_RET_K, v, 0, 0);
    }
    resolve(a.items)
}

/// Search and leaves of one ABI; the accumulator holds the number.
fn abi_section(a: &mut Asm, p: &Profile, table: &Table) {
    let numbers: Vec<u32> = table.keys().copied().collect();
    if let (Some(enosys), Some(last)) = (p.newer, numbers.last()) {
        a.branch(BPF_JGT_K, *last, Label::Ret(enosys));
    }
    let mut leaves = BTreeMap::new();
    search(a, &numbers, table, p.default, &mut leaves);
    for (label, rules) in leaves.into_values() {
        a.here(label);
        leaf(a, rules, p.default);
    }
}

/// Binary search over sorted `numbers`; short runs are compared in turn
/// and end in the default. A syscall with one unconditional rule jumps to
/// its action at once.
fn search<'t>(
    a: &mut Asm,
    numbers: &[u32],
    table: &'t Table,
    default: u32,
    leaves: &mut BTreeMap<u32, (Label, &'t [Rule])>,
) {
    if numbers.len() <= 4 {
        for nr in numbers {
            let rules = table.get(nr).map_or(&[][..], |r| r.as_slice());
            let target = match rules {
                [Rule {
                    conditions: None,
                    ret,
                }] => Label::Ret(*ret),
                _ => {
                    let label = a.node();
                    leaves.insert(*nr, (label, rules));
                    label
                }
            };
            a.branch(BPF_JEQ_K, *nr, target);
        }
        a.jump(Label::Ret(default));
        return;
    }
    let mid = numbers.len() / 2;
    let right = a.node();
    a.branch(BPF_JGE_K, numbers[mid], right);
    search(a, &numbers[..mid], table, default, leaves);
    a.here(right);
    search(a, &numbers[mid..], table, default, leaves);
}

/// One syscall's rules in order, then the default.
fn leaf(a: &mut Asm, rules: &[Rule], default: u32) {
    for rule in rules {
        match &rule.conditions {
            Some(c) => {
                let block: Vec<sock_filter> = c.clone().into();
                for ins in block {
                    a.items.push(Item::Ins(ins));
                }
                a.jump(Label::Ret(rule.ret));
            }
            None => {
                a.jump(Label::Ret(rule.ret));
                return;
            }
        }
    }
    a.jump(Label::Ret(default));
}

/// Where each label sits: nodes by number, the few ABIs and return
/// values in small lists (a map keyed by label was most of the
/// compile time).
#[derive(Default)]
struct Positions {
    nodes: Vec<usize>,
    others: Vec<(Label, usize)>,
}

impl Positions {
    fn set(&mut self, l: Label, pc: usize) {
        match l {
            Label::Node(n) => {
                if self.nodes.len() <= n {
                    self.nodes.resize(n + 1, usize::MAX);
                }
                self.nodes[n] = pc;
            }
            other => self.others.push((other, pc)),
        }
    }

    fn get(&self, l: Label) -> Option<usize> {
        match l {
            Label::Node(n) => self.nodes.get(n).copied().filter(|p| *p != usize::MAX),
            other => self
                .others
                .iter()
                .find(|(k, _)| *k == other)
                .map(|(_, p)| *p),
        }
    }
}

/// Places labels and turns jumps into `JA` with offsets.
fn resolve(items: Vec<Item>) -> Result<Vec<libc::sock_filter>, Error> {
    let mut at = Positions::default();
    let mut pc = 0usize;
    for item in &items {
        match item {
            Item::Here(l) => at.set(*l, pc),
            _ => pc += 1,
        }
    }
    if pc > MAX_LEN {
        return Err(Error::TooLarge(pc));
    }
    let mut out = Vec::with_capacity(pc);
    for item in items {
        let ins = match item {
            Item::Here(_) => continue,
            Item::Ins(i) => i,
            Item::Jump(l) => {
                // Every label is placed, and after the jumps to it.
                let target = at
                    .get(l)
                    .filter(|t| *t > out.len())
                    .ok_or(Error::Internal("a jump without a later target"))?;
                sock_filter {
                    code: BPF_JA,
                    jt: 0,
                    jf: 0,
                    k: (target - out.len() - 1) as u32,
                }
            }
        };
        out.push(libc::sock_filter {
            code: ins.code,
            jt: ins.jt,
            jf: ins.jf,
            k: ins.k,
        });
    }
    Ok(out)
}
