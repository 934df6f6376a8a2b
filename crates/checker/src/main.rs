//! `berth-checker`: a static probe copied into test bundles. It reports,
//! as one JSON object on stdout, what a process sees from inside the
//! container, or performs one action and reports the result.
//!
//! Usage: `checker [report]`, `checker open PATH [r|w]`, `checker write
//! PATH DATA`, `checker exit CODE`, `checker sleep SECS`, `checker stat
//! PATH`, `checker readlink PATH`, `checker syscall x86_64|x32|i386 NR
//! [ARG...]` (a raw syscall through that ABI; killed by a seccomp filter,
//! it prints nothing and dies of SIGSYS), `checker spin NR COUNT` (the
//! mean cost of COUNT argument-less syscalls NR, in ns).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;

use serde_json::{json, Value};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cmd = args.get(1).map(String::as_str).unwrap_or("report");
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let out = match cmd {
        "report" => report(),
        "open" => open(&arg(2), &arg(3)),
        "write" => write(&arg(2), &arg(3)),
        "stat" => stat(&arg(2)),
        "notify" => notify(&arg(2)),
        "syscall" => syscall(&arg(2), &args[3.min(args.len())..]),
        "spin" => spin(
            arg(2).parse().unwrap_or(110),
            arg(3).parse().unwrap_or(1_000_000),
        ),
        "readlink" => {
            json!({"target": fs::read_link(arg(2)).ok().map(|p| p.display().to_string())})
        }
        #[allow(
            clippy::exit,
            reason = "the probe's job here is to exit with a given code"
        )]
        "exit" => std::process::exit(arg(2).parse().unwrap_or(1)),
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs_f64(
                arg(2).parse().unwrap_or(1.0),
            ));
            json!({"slept": true})
        }
        other => json!({"error": format!("unknown command {other}")}),
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{out}");
}

/// COUNT calls of syscall NR; the mean time per call.
fn spin(nr: i64, count: u32) -> Value {
    let start = std::time::Instant::now();
    for _ in 0..count {
        // SAFETY: an argument-less syscall chosen by the caller (getppid
        // in the benchmark); nothing is read or written through it.
        std::hint::black_box(unsafe { libc::syscall(nr) });
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(count.max(1));
    json!({"ns_per_call": ns})
}

/// One raw syscall: `{"ret": r}` or `{"ret": -1, "errno": e}`.
fn syscall(abi: &str, rest: &[String]) -> Value {
    let num = |s: &str| match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap_or(0),
        None => s.parse().unwrap_or(0),
    };
    let nr = rest.first().map_or(0, |s| num(s));
    let mut a = [0u64; 6];
    for (slot, s) in a.iter_mut().zip(rest.iter().skip(1)) {
        *slot = num(s);
    }
    let ret = match abi {
        "x86_64" | "x32" => {
            let nr = if abi == "x32" { nr | 0x4000_0000 } else { nr };
            // SAFETY: the probe makes exactly the syscall it is asked for,
            // with integer arguments; pointers in them are the caller's
            // business (tests pass none that matter).
            let r = unsafe { libc::syscall(nr as i64, a[0], a[1], a[2], a[3], a[4], a[5]) };
            if r < 0 {
                -(std::io::Error::last_os_error().raw_os_error().unwrap_or(1) as i64)
            } else {
                r
            }
        }
        "i386" => int80(nr as u32, a),
        other => return json!({"error": format!("unknown ABI {other}")}),
    };
    if ret < 0 {
        json!({"ret": -1, "errno": -ret})
    } else {
        json!({"ret": ret})
    }
}

/// A syscall through the i386 entry (`int 0x80`), up to five arguments
/// (ebp, the sixth, is LLVM's); returns -errno on failure.
fn int80(nr: u32, a: [u64; 6]) -> i64 {
    let ret: u32;
    // SAFETY: `int 0x80` enters the kernel's compat syscall path; ebx is
    // swapped in and out around it because LLVM reserves rbx.
    unsafe {
        std::arch::asm!(
            "xchg {b:e}, ebx",
            "int 0x80",
            "xchg {b:e}, ebx",
            b = inout(reg) a[0] as u32 => _,
            inlateout("eax") nr => ret,
            in("ecx") a[1] as u32,
            in("edx") a[2] as u32,
            in("esi") a[3] as u32,
            in("edi") a[4] as u32,
        );
    }
    i64::from(ret as i32)
}

fn errno_of(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}

fn open(path: &str, mode: &str) -> Value {
    let r = if mode == "w" {
        fs::OpenOptions::new().write(true).open(path)
    } else {
        fs::File::open(path)
    };
    match r {
        Ok(_) => json!({"ok": true}),
        Err(e) => json!({"ok": false, "errno": errno_of(&e)}),
    }
}

fn write(path: &str, data: &str) -> Value {
    match fs::write(path, data) {
        Ok(()) => json!({"ok": true}),
        Err(e) => json!({"ok": false, "errno": errno_of(&e)}),
    }
}

/// sd_notify(3): one datagram to $NOTIFY_SOCKET.
fn notify(msg: &str) -> Value {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return json!({"ok": false, "error": "no NOTIFY_SOCKET"});
    };
    let sent =
        std::os::unix::net::UnixDatagram::unbound().and_then(|s| s.send_to(msg.as_bytes(), path));
    match sent {
        Ok(_) => json!({"ok": true}),
        Err(e) => json!({"ok": false, "errno": errno_of(&e)}),
    }
}

fn stat(path: &str) -> Value {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    match fs::symlink_metadata(path) {
        Ok(m) => {
            let ft = m.file_type();
            let kind = if ft.is_char_device() {
                "char"
            } else if ft.is_block_device() {
                "block"
            } else if ft.is_fifo() {
                "fifo"
            } else if ft.is_symlink() {
                "symlink"
            } else if ft.is_dir() {
                "dir"
            } else {
                "file"
            };
            let rdev = m.rdev();
            json!({"ok": true, "kind": kind, "mode": m.mode() & 0o7777, "uid": m.uid(), "gid": m.gid(),
                   "major": libc::major(rdev), "minor": libc::minor(rdev), "size": m.size()})
        }
        Err(e) => json!({"ok": false, "errno": errno_of(&e)}),
    }
}

/// Key/value lines of /proc/self/status.
fn status() -> BTreeMap<String, String> {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn report() -> Value {
    let st = status();
    let get = |k: &str| st.get(k).cloned().unwrap_or_default();
    let ids = |k: &str| -> Vec<u64> {
        get(k)
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect()
    };
    let mut ns = BTreeMap::new();
    for n in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
        if let Ok(t) = fs::read_link(format!("/proc/self/ns/{n}")) {
            ns.insert(n, t.display().to_string());
        }
    }
    json!({
        "pid": std::process::id(),
        "ppid": std::os::unix::process::parent_id(),
        "uid": ids("Uid"), "gid": ids("Gid"), "groups": ids("Groups"),
        "caps": {"inheritable": get("CapInh"), "permitted": get("CapPrm"), "effective": get("CapEff"),
                 "bounding": get("CapBnd"), "ambient": get("CapAmb")},
        "no_new_privs": get("NoNewPrivs"),
        "seccomp": get("Seccomp"),
        "seccomp": get("Seccomp"),
        "umask": get("Umask"),
        "rlimits": rlimits(),
        "namespaces": ns,
        "hostname": uname_field(|u| &u.nodename),
        "domainname": uname_field(|u| &u.domainname),
        "machine": uname_field(|u| &u.machine),
        "cwd": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
        "env": std::env::vars().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "mountinfo": fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
        "cgroup": fs::read_to_string("/proc/self/cgroup").unwrap_or_default(),
        "uid_map": fs::read_to_string("/proc/self/uid_map").unwrap_or_default(),
        "gid_map": fs::read_to_string("/proc/self/gid_map").unwrap_or_default(),
        "fds": fds(),
        "oom_score_adj": fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default().trim(),
        "sched": sched(),
        "ioprio": ioprio(),
        "session_keyring": session_keyring(),
        "monotonic": clock(libc::CLOCK_MONOTONIC),
        "boottime": clock(libc::CLOCK_BOOTTIME),
    })
}

fn uname_field(f: impl Fn(&libc::utsname) -> &[libc::c_char; 65]) -> String {
    // SAFETY: utsname is plain data; zeroed is valid and uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid out-pointer.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    let bytes: Vec<u8> = f(&u)
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn rlimits() -> BTreeMap<&'static str, [u64; 2]> {
    let all = [
        ("RLIMIT_CPU", libc::RLIMIT_CPU),
        ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
        ("RLIMIT_DATA", libc::RLIMIT_DATA),
        ("RLIMIT_STACK", libc::RLIMIT_STACK),
        ("RLIMIT_CORE", libc::RLIMIT_CORE),
        ("RLIMIT_RSS", libc::RLIMIT_RSS),
        ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
        ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
        ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
        ("RLIMIT_AS", libc::RLIMIT_AS),
        ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
        ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
        ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
        ("RLIMIT_NICE", libc::RLIMIT_NICE),
        ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
        ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
    ];
    all.iter()
        .map(|&(name, res)| {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: `l` is a valid out-pointer.
            unsafe { libc::getrlimit(res, &mut l) };
            (name, [l.rlim_cur, l.rlim_max])
        })
        .collect()
}

fn fds() -> Vec<i32> {
    // Collect first, then drop the directory's own descriptor from the list.
    let dir = fs::read_dir("/proc/self/fd");
    let mut v: Vec<i32> = dir
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.retain(|&fd| fs::read_link(format!("/proc/self/fd/{fd}")).is_ok());
    v.sort_unstable();
    v
}

fn sched() -> Value {
    // SAFETY: plain syscalls on the calling process.
    let policy = unsafe { libc::sched_getscheduler(0) };
    // SAFETY: as above; errno is not consulted.
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid out-pointer.
    unsafe { libc::sched_getparam(0, &mut param) };
    json!({"policy": policy, "nice": nice, "priority": param.sched_priority})
}

fn ioprio() -> i64 {
    // SAFETY: ioprio_get(IOPRIO_WHO_PROCESS, self) takes integers only.
    unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) }
}

/// The serial of the session keyring (KEYCTL_GET_KEYRING_ID, no create).
pub fn session_keyring() -> i64 {
    // SAFETY: integer arguments only.
    unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) }
}

fn clock(id: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}
