//! From `linux.seccomp` to per-ABI rule tables, with runc's semantics:
//! unknown syscall names are skipped, a rule whose action equals the
//! default is dropped, several conditions on one argument make one rule
//! each (OR) while conditions on different arguments are ANDed, and
//! errnoRet defaults to EPERM for ERRNO and TRACE.

use std::collections::BTreeMap;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg,
    LinuxSeccompFilterFlag as Flag, LinuxSeccompOperator as Op,
};
use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};

use crate::arch::{Abi, Numbers};
use crate::{Error, Notify};

/// One rule of one syscall: conditions (none: always) and the return
/// value of the filter when they hold.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub conditions: Option<SeccompRule>,
    pub ret: u32,
}

/// Rules by syscall number, conditional rules first (in profile order),
/// then the first unconditional one: a syscall with both takes a
/// matching conditional rule's action and otherwise the unconditional one.
pub(crate) type Table = BTreeMap<u32, Vec<Rule>>;

#[derive(Debug)]
pub(crate) struct Profile {
    pub default: u32,
    /// Tables for the ABIs the profile lists; x86_64 is always there.
    pub tables: BTreeMap<Abi, Table>,
    /// Returned for syscalls numbered above every syscall the profile
    /// names in that ABI (runc's -ENOSYS stub): programs then fall back
    /// from syscalls newer than the profile as they would on an older
    /// kernel. None when the default action lets syscalls through.
    pub newer: Option<u32>,
    pub flags: libc::c_ulong,
    pub notify: Option<Notify>,
}

/// Returned for a syscall from an ABI the profile does not list.
pub(crate) const BAD_ARCH: u32 = libc::SECCOMP_RET_KILL_PROCESS;

impl Profile {
    pub(crate) fn from_spec(spec: &LinuxSeccomp) -> Result<Self, Error> {
        if !cfg!(target_arch = "x86_64") {
            return Err(Error::UnsupportedHost);
        }
        let default = ret_value(
            spec.default_action(),
            spec.default_errno_ret(),
            "defaultErrnoRet",
        )?;
        let mut tables = BTreeMap::from([(Abi::X86_64, Table::new())]);
        for arch in spec.architectures().iter().flatten() {
            match arch {
                Arch::ScmpArchX86 => tables.insert(Abi::I386, Table::new()),
                Arch::ScmpArchX32 => tables.insert(Abi::X32, Table::new()),
                // Other CPUs' syscalls cannot reach an x86_64 kernel.
                _ => None,
            };
        }
        if spec.default_action() == Action::ScmpActNotify {
            // Init's own last syscalls would wait for a listener that
            // does not exist yet.
            return Err(Error::invalid(
                "defaultAction",
                "SCMP_ACT_NOTIFY cannot be the default action",
            ));
        }
        let mut uses_notify = false;
        let numbers = Numbers::new();
        let mut unconditional: BTreeMap<(Abi, u32), Rule> = BTreeMap::new();
        for (i, call) in spec.syscalls().iter().flatten().enumerate() {
            let field = format!("syscalls[{i}]");
            let ret = ret_value(
                call.action(),
                call.errno_ret(),
                &format!("{field}.errnoRet"),
            )?;
            let conditions = conditions(call.args().as_deref().unwrap_or(&[]), &field)?;
            if ret == default {
                continue;
            }
            if call.action() == Action::ScmpActNotify {
                uses_notify = true;
                // The listener reaches the runtime through these two.
                if let Some(n) = call
                    .names()
                    .iter()
                    .find(|n| ["write", "sendmsg"].contains(&n.as_str()))
                {
                    return Err(Error::invalid(
                        format!("{field}.names"),
                        format!("SCMP_ACT_NOTIFY cannot apply to {n}"),
                    ));
                }
            }
            for name in call.names() {
                for (abi, table) in tables.iter_mut() {
                    let Some(nr) = numbers.get(*abi, name) else {
                        continue;
                    };
                    if conditions.is_empty() {
                        unconditional.entry((*abi, nr)).or_insert(Rule {
                            conditions: None,
                            ret,
                        });
                    }
                    for c in &conditions {
                        table.entry(nr).or_default().push(Rule {
                            conditions: Some(c.clone()),
                            ret,
                        });
                    }
                }
            }
        }
        for ((abi, nr), rule) in unconditional {
            if let Some(t) = tables.get_mut(&abi) {
                t.entry(nr).or_default().push(rule);
            }
        }
        let newer = match spec.default_action() {
            Action::ScmpActAllow | Action::ScmpActLog => None,
            _ => Some(libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        };
        Ok(Profile {
            default,
            tables,
            newer,
            flags: flags(spec, uses_notify)?,
            notify: notify(spec, uses_notify)?,
        })
    }
}

/// The filter's return value for an action and its errno.
fn ret_value(action: Action, errno: Option<u32>, field: &str) -> Result<u32, Error> {
    let data = |base: u32| match errno {
        Some(e) if e > 0xffff => Err(Error::invalid(field, format!("{e} is not an errno value"))),
        e => Ok(base | e.unwrap_or(libc::EPERM as u32)),
    };
    if errno.is_some() && !matches!(action, Action::ScmpActErrno | Action::ScmpActTrace) {
        return Err(Error::invalid(
            field,
            format!("only SCMP_ACT_ERRNO and SCMP_ACT_TRACE return an errno, not {action}"),
        ));
    }
    Ok(match action {
        Action::ScmpActKill | Action::ScmpActKillThread => libc::SECCOMP_RET_KILL_THREAD,
        Action::ScmpActKillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        Action::ScmpActTrap => libc::SECCOMP_RET_TRAP,
        Action::ScmpActErrno => data(libc::SECCOMP_RET_ERRNO)?,
        Action::ScmpActTrace => data(libc::SECCOMP_RET_TRACE)?,
        Action::ScmpActNotify => libc::SECCOMP_RET_USER_NOTIF,
        Action::ScmpActLog => libc::SECCOMP_RET_LOG,
        Action::ScmpActAllow => libc::SECCOMP_RET_ALLOW,
    })
}

/// The rules a syscall entry's args make: one rule with every condition,
/// or, when an argument is compared more than once, one rule per
/// condition (runc's reading of such profiles).
fn conditions(args: &[LinuxSeccompArg], field: &str) -> Result<Vec<SeccompRule>, Error> {
    let mut conds = Vec::with_capacity(args.len());
    for (j, a) in args.iter().enumerate() {
        let f = format!("{field}.args[{j}]");
        let index = u8::try_from(a.index())
            .ok()
            .filter(|i| *i <= 5)
            .ok_or_else(|| Error::invalid(&f, format!("index {} is not 0-5", a.index())))?;
        let (op, value) = match a.op() {
            Op::ScmpCmpNe => (SeccompCmpOp::Ne, a.value()),
            Op::ScmpCmpLt => (SeccompCmpOp::Lt, a.value()),
            Op::ScmpCmpLe => (SeccompCmpOp::Le, a.value()),
            Op::ScmpCmpEq => (SeccompCmpOp::Eq, a.value()),
            Op::ScmpCmpGe => (SeccompCmpOp::Ge, a.value()),
            Op::ScmpCmpGt => (SeccompCmpOp::Gt, a.value()),
            // value is the mask, valueTwo the datum.
            Op::ScmpCmpMaskedEq => (
                SeccompCmpOp::MaskedEq(a.value()),
                a.value_two().unwrap_or(0),
            ),
        };
        let c = SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
            .map_err(|e| Error::invalid(&f, e.to_string()))?;
        conds.push((index, c));
    }
    if conds.is_empty() {
        return Ok(Vec::new());
    }
    let mut seen = [0u8; 6];
    conds.iter().for_each(|(i, _)| seen[*i as usize] += 1);
    let rule = |c: Vec<SeccompCondition>| {
        SeccompRule::new(c).map_err(|e| Error::invalid(field, e.to_string()))
    };
    if seen.iter().any(|n| *n > 1) {
        conds.into_iter().map(|(_, c)| rule(vec![c])).collect()
    } else {
        Ok(vec![rule(conds.into_iter().map(|(_, c)| c).collect())?])
    }
}

fn flags(spec: &LinuxSeccomp, uses_notify: bool) -> Result<libc::c_ulong, Error> {
    let mut flags = 0;
    for f in spec.flags().iter().flatten() {
        flags |= match f {
            Flag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            Flag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            Flag::SeccompFilterFlagWaitKillableRecv => libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
            // One thread runs when the filter is installed; TSYNC changes
            // nothing, and the kernel refuses it together with a listener.
            Flag::SeccompFilterFlagTsync => 0,
        };
    }
    if uses_notify {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    } else if flags & libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 {
        return Err(Error::invalid(
            "flags",
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a SCMP_ACT_NOTIFY rule",
        ));
    }
    Ok(flags)
}

fn notify(spec: &LinuxSeccomp, uses_notify: bool) -> Result<Option<Notify>, Error> {
    match (uses_notify, spec.listener_path()) {
        (false, _) => Ok(None),
        (true, None) => Err(Error::invalid(
            "listenerPath",
            "SCMP_ACT_NOTIFY needs a listenerPath",
        )),
        (true, Some(p)) if !p.is_absolute() => Err(Error::invalid(
            "listenerPath",
            format!("{p:?} is not an absolute path"),
        )),
        (true, Some(p)) => Ok(Some(Notify {
            listener_path: p.clone(),
            metadata: spec.listener_metadata().clone().unwrap_or_default(),
        })),
    }
}
