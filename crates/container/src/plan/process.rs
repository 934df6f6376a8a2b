//! The container process's attributes, turned into syscall-ready values
//! before fork: argv/envp, exec candidates, ids, capability masks, rlimits,
//! scheduling, personality.

use std::ffi::CString;
use std::os::fd::AsFd;
use std::path::Path;
use std::str::FromStr;

use oci_spec::runtime::{
    Capabilities, IOPriorityClass, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, PosixRlimitType, Process, Scheduler,
};

use super::mounts::cstring;
use crate::sys::{self, CStringArray, SchedAttr};
use crate::Error;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The five capability sets as bit masks, clipped to what the kernel knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapMasks {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
    /// Highest capability number of the running kernel.
    pub last_cap: u32,
}

/// Everything the init needs to become the container's process.
#[derive(Debug, Clone)]
pub struct ProcessPlan {
    pub argv: CStringArray,
    pub envp: CStringArray,
    /// Paths to try for `args[0]`, in `$PATH` order.
    pub exec_candidates: Vec<CString>,
    /// For each candidate, the stub's arguments: a name, the candidate,
    /// then `args` (see `exec_stub`).
    pub stub_argv: Vec<CStringArray>,
    pub cwd: CString,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
    pub caps: CapMasks,
    pub no_new_privs: bool,
    pub rlimits: Vec<(u32, u64, u64)>,
    pub oom_score_adj: Option<i32>,
    pub ioprio: Option<(u32, u32)>,
    pub sched: Option<SchedAttr>,
    pub personality: Option<u64>,
    /// `linux.seccomp`, compiled; installed last before execve.
    pub seccomp: Option<berth_seccomp::Filter>,
}

impl ProcessPlan {
    /// `rootfs` is the host path of the container's root, used (safely,
    /// inside the root) to find `$HOME` in its /etc/passwd when unset.
    pub fn build(
        p: &Process,
        rootfs: &Path,
        personality: Option<LinuxPersonalityDomain>,
    ) -> Result<Self, Error> {
        let args = p.args().clone().unwrap_or_default();
        let mut env = p.env().clone().unwrap_or_default();
        let user = p.user();
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={}", home_dir(rootfs, user.uid())));
        }
        let path_var = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH)
            .to_string();
        let to_c = |v: &[String], what: &str| -> Result<Vec<CString>, Error> {
            v.iter().map(|s| cstring(s.as_str(), what)).collect()
        };
        let cwd = p.cwd().to_string_lossy().into_owned();
        let candidates = exec_candidates(&args[0], &path_var)?;
        let argv = to_c(&args, "process.args")?;
        let stub_argv = candidates
            .iter()
            .map(|c| {
                let mut v = Vec::with_capacity(argv.len() + 2);
                v.push(c"berth-exec".to_owned());
                v.push(c.clone());
                v.extend(argv.iter().cloned());
                CStringArray::new(v)
            })
            .collect();
        Ok(Self {
            exec_candidates: candidates,
            stub_argv,
            argv: CStringArray::new(argv),
            envp: CStringArray::new(to_c(&env, "process.env")?),
            cwd: cstring(cwd, "process.cwd")?,
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask(),
            caps: cap_masks(p)?,
            no_new_privs: p.no_new_privileges().unwrap_or(false),
            rlimits: p
                .rlimits()
                .iter()
                .flatten()
                .map(|r| (rlimit_resource(r.typ()), r.soft(), r.hard()))
                .collect(),
            oom_score_adj: p.oom_score_adj(),
            ioprio: p.io_priority().as_ref().map(|io| {
                let class = match io.class() {
                    IOPriorityClass::IoprioClassRt => 1,
                    IOPriorityClass::IoprioClassBe => 2,
                    IOPriorityClass::IoprioClassIdle => 3,
                };
                (class, io.priority() as u32)
            }),
            sched: p.scheduler().as_ref().map(sched_attr).transpose()?,
            personality: personality.map(|d| match d {
                LinuxPersonalityDomain::PerLinux => 0x0000,
                LinuxPersonalityDomain::PerLinux32 => 0x0008,
            }),
            seccomp: None,
        })
    }
}

/// `args[0]` with a slash is used as is; otherwise every `$PATH` entry is
/// a candidate, checked inside the container after pivot_root.
fn exec_candidates(arg0: &str, path_var: &str) -> Result<Vec<CString>, Error> {
    if arg0.contains('/') {
        return Ok(vec![cstring(arg0, "process.args[0]")?]);
    }
    path_var
        .split(':')
        .map(|d| if d.is_empty() { "." } else { d })
        .map(|d| {
            cstring(
                format!("{}/{arg0}", d.trim_end_matches('/')),
                "process.env PATH",
            )
        })
        .collect()
}

/// The home directory of `uid` from the container's /etc/passwd, resolved
/// inside the rootfs; "/" when there is none, as runc does.
fn home_dir(rootfs: &Path, uid: u32) -> String {
    let lookup = || -> Option<String> {
        let root = std::fs::File::open(rootfs).ok()?;
        let fd = sys::openat2(
            root.as_fd(),
            c"etc/passwd",
            libc::O_RDONLY,
            0,
            sys::RESOLVE_IN_ROOT,
        )
        .ok()?;
        let text = std::io::read_to_string(std::fs::File::from(fd)).ok()?;
        passwd_home(&text, uid)
    };
    lookup().unwrap_or_else(|| "/".into())
}

fn passwd_home(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
    })
}

fn cap_masks(p: &Process) -> Result<CapMasks, Error> {
    // One read of /proc/sys/kernel/cap_last_cap, not a prctl per
    // capability as thread_all_supported() does.
    let last_cap = caps::runtime::procfs_all_supported(None)
        .unwrap_or_else(|_| caps::runtime::thread_all_supported())
        .iter()
        .map(|c| c.index() as u32)
        .max()
        .unwrap_or(40);
    let known = if last_cap >= 63 {
        u64::MAX
    } else {
        (1u64 << (last_cap + 1)) - 1
    };
    let mask = |set: &Option<Capabilities>| -> Result<u64, Error> {
        let mut m = 0u64;
        for c in set.iter().flatten() {
            let name = format!("CAP_{c}");
            let cap = caps::Capability::from_str(&name).map_err(|_| {
                Error::invalid("process.capabilities", format!("unknown capability {name}"))
            })?;
            m |= 1u64 << cap.index();
        }
        Ok(m & known)
    };
    let Some(c) = p.capabilities() else {
        return Ok(CapMasks {
            last_cap,
            ..CapMasks::default()
        });
    };
    let (permitted, inheritable) = (mask(c.permitted())?, mask(c.inheritable())?);
    let mut ambient = mask(c.ambient())?;
    // The kernel only raises an ambient capability that is both permitted
    // and inheritable. runc's own default spec lists ambient ones without
    // inheritable; like runc, warn and leave those out.
    let impossible = ambient & !(permitted & inheritable);
    if impossible != 0 {
        tracing::warn!(
            "process.capabilities.ambient: {impossible:#x} not in both permitted and inheritable; not raised"
        );
        ambient &= !impossible;
    }
    Ok(CapMasks {
        bounding: mask(c.bounding())?,
        effective: mask(c.effective())?,
        permitted,
        inheritable,
        ambient,
        last_cap,
    })
}

fn rlimit_resource(t: PosixRlimitType) -> u32 {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// `process.scheduler` as a sched_attr, validated per policy.
pub fn sched_attr(s: &Scheduler) -> Result<SchedAttr, Error> {
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => {
            return Err(Error::unsupported(
                "process.scheduler.policy",
                "SCHED_ISO (not in Linux)",
            ))
        }
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(Error::invalid(
            "process.scheduler.nice",
            "must be -20 to 19",
        ));
    }
    let priority = s.priority().unwrap_or(0);
    let realtime = policy == 1 || policy == 2;
    if realtime && !(1..=99).contains(&priority) || !realtime && priority != 0 {
        return Err(Error::invalid(
            "process.scheduler.priority",
            "must be 1 to 99 for SCHED_FIFO and SCHED_RR, and 0 otherwise",
        ));
    }
    if policy == 6 && (s.runtime().is_none() || s.deadline().is_none()) {
        return Err(Error::invalid(
            "process.scheduler",
            "SCHED_DEADLINE needs runtime and deadline",
        ));
    }
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    Ok(SchedAttr {
        policy,
        flags,
        nice,
        priority: priority as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..SchedAttr::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_follow_path() {
        let c = exec_candidates("sh", "/bin:/usr/bin/").unwrap();
        assert_eq!(
            c,
            vec![
                CString::new("/bin/sh").unwrap(),
                CString::new("/usr/bin/sh").unwrap()
            ]
        );
        assert_eq!(exec_candidates("./x", "/bin").unwrap().len(), 1);
    }

    #[test]
    fn home_from_passwd() {
        let pw = "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n";
        assert_eq!(passwd_home(pw, 1000).as_deref(), Some("/home/u"));
        assert_eq!(passwd_home(pw, 5), None);
    }

    #[test]
    fn caps_from_names() {
        let p: Process = serde_json::from_value(serde_json::json!({
            "cwd": "/", "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"]}
        }))
        .unwrap();
        let m = cap_masks(&p).unwrap();
        assert_eq!(
            m.bounding,
            (1 << caps::Capability::CAP_KILL.index()) | (1 << caps::Capability::CAP_CHOWN.index())
        );
        assert_eq!(m.effective, 1 << caps::Capability::CAP_KILL.index());
        assert_eq!(m.ambient, 0);
    }

    #[test]
    fn sched_rules() {
        let s: Scheduler =
            serde_json::from_value(serde_json::json!({"policy": "SCHED_FIFO", "priority": 0}))
                .unwrap();
        assert!(sched_attr(&s).is_err());
        let s: Scheduler =
            serde_json::from_value(serde_json::json!({"policy": "SCHED_BATCH", "nice": 5}))
                .unwrap();
        assert_eq!(sched_attr(&s).unwrap().policy, 3);
    }
}
