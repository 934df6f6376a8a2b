//! Every raw syscall the runtime makes, as safe `io::Result` functions.
//! Nothing outside this module writes `unsafe` except where noted.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_int(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Wraps a freshly returned descriptor.
fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful syscall that creates a
    // descriptor, so it is open and owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

pub const RESOLVE_IN_ROOT: u64 = 0x10;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
/// A single name under a directory: no symlinks, no "..", no magic links.
pub const RESOLVE_BENEATH_STRICT: u64 =
    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

/// openat2(2) with `how.resolve`; the result is always close-on-exec.
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &CStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    // The kernel's `struct open_how` (libc's is non-exhaustive).
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve,
    };
    // SAFETY: `path` is NUL-terminated and `how` outlives the call; the size
    // passed is the size of the struct.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    check(fd).map(owned)
}

/// Plain openat(2) relative to `dir`, close-on-exec.
pub fn openat(dir: RawFd, path: &CStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    // SAFETY: `path` is NUL-terminated for the duration of the call.
    let fd = unsafe { libc::openat(dir, path.as_ptr(), flags | libc::O_CLOEXEC, mode) };
    check(fd as libc::c_long).map(owned)
}

/// mount(2).
pub fn mount(
    src: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> io::Result<()> {
    let p = |s: Option<&CStr>| s.map_or(ptr::null(), |s| s.as_ptr());
    // SAFETY: all pointers are NUL-terminated strings or NULL, valid for the call.
    let r = unsafe {
        libc::mount(
            p(src),
            target.as_ptr(),
            p(fstype),
            flags as libc::c_ulong,
            p(data).cast(),
        )
    };
    check_int(r).map(drop)
}

/// umount2(2).
pub fn umount2(target: &CStr, flags: i32) -> io::Result<()> {
    // SAFETY: `target` is NUL-terminated.
    check_int(unsafe { libc::umount2(target.as_ptr(), flags) }).map(drop)
}

pub const OPEN_TREE_CLONE: u32 = 1;
pub const AT_RECURSIVE: u32 = 0x8000;

/// open_tree(2): a detached copy of the mount tree at `path`.
pub fn open_tree(dir: RawFd, path: &CStr, flags: u32) -> io::Result<OwnedFd> {
    let flags = flags
        | libc::O_CLOEXEC as u32
        | if path.is_empty() {
            libc::AT_EMPTY_PATH as u32
        } else {
            0
        };
    // SAFETY: `path` is NUL-terminated; the call takes no other pointers.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, dir, path.as_ptr(), flags) };
    check(fd).map(owned)
}

/// move_mount(2) from one mount fd onto the object `to` refers to.
pub fn move_mount(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<()> {
    const F_EMPTY: u32 = 0x04;
    const T_EMPTY: u32 = 0x40;
    // SAFETY: both paths are the empty C string literal; fds are borrowed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            F_EMPTY | T_EMPTY,
        )
    };
    check(r).map(drop)
}

/// Attributes for [`mount_setattr`], as the kernel's `struct mount_attr`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountAttr {
    pub set: u64,
    pub clr: u64,
    pub propagation: u64,
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

/// mount_setattr(2) on the mount `fd` refers to.
pub fn mount_setattr(fd: BorrowedFd<'_>, recursive: bool, attr: MountAttr) -> io::Result<()> {
    #[repr(C)]
    struct Raw {
        set: u64,
        clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let raw = Raw {
        set: attr.set,
        clr: attr.clr,
        propagation: attr.propagation,
        userns_fd: 0,
    };
    let flags = libc::AT_EMPTY_PATH as u32 | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: the path is an empty literal, `raw` outlives the call and its
    // size is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &raw as *const Raw,
            std::mem::size_of::<Raw>(),
        )
    };
    check(r).map(drop)
}

/// pivot_root(2).
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> io::Result<()> {
    // SAFETY: both paths are NUL-terminated.
    let r = unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
    check(r).map(drop)
}

/// close_range(2); `cloexec` marks instead of closing.
pub fn close_range(first: u32, last: u32, cloexec: bool) -> io::Result<()> {
    let flags = if cloexec {
        libc::CLOSE_RANGE_CLOEXEC
    } else {
        0
    };
    // SAFETY: no pointers; closing descriptors this process owns is the intent.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) };
    check(r).map(drop)
}

/// Sets the effective, permitted and inheritable sets in one capset(2).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
    // The kernel's capability structs (not in libc).
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let lo = |v: u64| v as u32;
    let hi = |v: u64| (v >> 32) as u32;
    let data = [
        Data {
            effective: lo(effective),
            permitted: lo(permitted),
            inheritable: lo(inheritable),
        },
        Data {
            effective: hi(effective),
            permitted: hi(permitted),
            inheritable: hi(inheritable),
        },
    ];
    // SAFETY: header and the two-element data array (version 3 layout)
    // outlive the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
    check(r).map(drop)
}

/// prctl(2) with integer arguments.
pub fn prctl(option: i32, arg2: u64, arg3: u64) -> io::Result<i32> {
    // SAFETY: every option used by this crate takes integer arguments only.
    let r = unsafe { libc::prctl(option, arg2, arg3, 0u64, 0u64) };
    check_int(r)
}

/// ioprio_set(2) for the calling process.
pub fn ioprio_set(class: u32, level: u32) -> io::Result<()> {
    const WHO_PROCESS: i32 = 1;
    let prio = (class << 13) | level;
    // SAFETY: integer arguments only.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, WHO_PROCESS, 0, prio) };
    check(r).map(drop)
}

/// The kernel's `struct sched_attr` (version 1, with util clamps).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

/// sched_setattr(2) for the calling thread.
pub fn sched_setattr(attr: &SchedAttr) -> io::Result<()> {
    let mut a = *attr;
    a.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `a` is a valid sched_attr whose size field matches its layout.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &a as *const SchedAttr, 0) };
    check(r).map(drop)
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a new anonymous session
/// keyring for the calling process.
pub fn join_new_session_keyring() -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: a NULL name asks for a new anonymous keyring; no other pointers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            ptr::null::<libc::c_char>(),
        )
    };
    check(r).map(drop)
}

/// Unlocks a pty master and opens its peer through the master itself
/// (TIOCGPTPEER: no path lookup). Returns the peer and the pty number.
pub fn pty_peer(master: BorrowedFd<'_>) -> io::Result<(OwnedFd, u32)> {
    let unlock: libc::c_int = 0;
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCSPTLCK reads an int, TIOCGPTN writes an unsigned int;
    // both pointers are valid for the call.
    unsafe {
        check_int(libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock))?;
        check_int(libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n))?;
    }
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes open flags by value and returns a new fd.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    Ok((owned(check_int(fd)? as libc::c_long), n))
}

/// TIOCSWINSZ.
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `ws` is a valid winsize for the call.
    check_int(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) }).map(drop)
}

/// TIOCGWINSZ: (rows, columns), or None when `fd` is not a terminal.
pub fn get_winsize(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `ws` is a valid out-pointer for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (r == 0).then_some((ws.ws_row, ws.ws_col))
}

/// Makes the terminal on `fd` the controlling terminal of this session.
pub fn set_controlling_tty(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument.
    check_int(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) }).map(drop)
}

/// dup2(2) onto a standard descriptor.
pub fn dup2(fd: BorrowedFd<'_>, target: RawFd) -> io::Result<()> {
    // SAFETY: replacing one of our own descriptor numbers is the intent.
    check_int(unsafe { libc::dup2(fd.as_raw_fd(), target) }).map(drop)
}

/// personality(2).
pub fn personality(persona: u64) -> io::Result<()> {
    // SAFETY: integer argument only.
    let r = unsafe { libc::personality(persona as libc::c_ulong) };
    check_int(r).map(drop)
}

/// pidfd_open(2).
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments only.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    check(fd).map(owned)
}

/// pidfd_send_signal(2).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: NULL siginfo is allowed; the fd is borrowed for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    check(r).map(drop)
}

/// Waits until a pidfd becomes readable (its process exited) or the
/// timeout (ms, -1 for none) passes. Returns true when it exited.
pub fn poll_readable(fd: BorrowedFd<'_>, timeout_ms: i32) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: `pfd` is one valid pollfd that outlives the call.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        match check_int(r) {
            Ok(n) => return Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// What [`fork`] returns in each process.
pub enum Forked {
    Child,
    Parent(i32),
}

/// fork(2). The runtime is single-threaded, so the child may allocate.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: the runtime never starts threads, so the child inherits no
    // lock held by another thread.
    let pid = unsafe { libc::fork() };
    match check_int(pid)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// clone3(2) as a fork whose child starts inside the cgroup (v2) that
/// `cgroup` refers to (CLONE_INTO_CGROUP).
pub fn fork_into_cgroup(cgroup: BorrowedFd<'_>) -> io::Result<Forked> {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = libc::clone_args {
        flags: CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup.as_raw_fd() as u64,
    };
    // SAFETY: without CLONE_VM this behaves as fork(2): the child gets a
    // copy of the address space and continues here with return value 0.
    // The runtime is single-threaded, so no lock is held by another
    // thread. glibc's cached thread id in the child still names the
    // parent's thread; the child never uses pthread functions or raise()
    // (panics abort), and a stale tid could only make tgkill fail with
    // ESRCH, never signal another process.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match check(pid)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// _exit(2): leaves without running atexit handlers or flushing buffers
/// that belong to the parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// setns(2).
pub fn setns(fd: BorrowedFd<'_>, nstype: i32) -> io::Result<()> {
    // SAFETY: integer arguments; the fd is borrowed for the call.
    check_int(unsafe { libc::setns(fd.as_raw_fd(), nstype) }).map(drop)
}

/// unshare(2).
pub fn unshare(flags: i32) -> io::Result<()> {
    // SAFETY: integer argument only.
    check_int(unsafe { libc::unshare(flags) }).map(drop)
}

/// sethostname(2).
pub fn sethostname(name: &[u8]) -> io::Result<()> {
    // SAFETY: pointer and length describe `name`.
    check_int(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// setdomainname(2).
pub fn setdomainname(name: &[u8]) -> io::Result<()> {
    // SAFETY: pointer and length describe `name`.
    check_int(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// mkdirat(2).
pub fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated.
    check_int(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// mknodat(2).
pub fn mknodat(dir: BorrowedFd<'_>, name: &CStr, mode: u32, dev: u64) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated.
    check_int(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) }).map(drop)
}

/// symlinkat(2).
pub fn symlinkat(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: both strings are NUL-terminated.
    check_int(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}

/// fchownat(2) with AT_SYMLINK_NOFOLLOW.
pub fn fchownat(dir: BorrowedFd<'_>, name: &CStr, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated.
    let r = unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            name.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    check_int(r).map(drop)
}

/// fstat(2).
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    // SAFETY: zeroed is a valid bit pattern for the plain-data stat struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer for the call.
    check_int(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// The filesystem magic of the file `fd` refers to.
pub fn fs_magic(fd: BorrowedFd<'_>) -> io::Result<i64> {
    // SAFETY: zeroed is a valid bit pattern for the plain-data statfs struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer for the call.
    check_int(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) })?;
    Ok(st.f_type)
}

/// setgroups(2).
pub fn setgroups(groups: &[u32]) -> io::Result<()> {
    // SAFETY: pointer and length describe `groups`.
    check_int(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) }).map(drop)
}

/// setresgid(2) with all three ids equal.
pub fn setresgid(gid: u32) -> io::Result<()> {
    // SAFETY: integer arguments only. The raw syscall sets only this
    // thread's ids, which is right for a single-threaded process.
    check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

/// setresuid(2) with all three ids equal.
pub fn setresuid(uid: u32) -> io::Result<()> {
    // SAFETY: as for setresgid.
    check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

/// setrlimit(2).
pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` outlives the call.
    check_int(unsafe { libc::setrlimit(resource as _, &lim) }).map(drop)
}

/// umask(2).
pub fn umask(mask: u32) {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask) };
}

/// setsid(2).
pub fn setsid() -> io::Result<()> {
    // SAFETY: no arguments.
    check_int(unsafe { libc::setsid() }).map(drop)
}

/// chdir(2).
pub fn chdir(path: &CStr) -> io::Result<()> {
    // SAFETY: `path` is NUL-terminated.
    check_int(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

/// fchdir(2).
pub fn fchdir(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: integer argument only.
    check_int(unsafe { libc::fchdir(fd.as_raw_fd()) }).map(drop)
}

/// chroot(2).
pub fn chroot(path: &CStr) -> io::Result<()> {
    // SAFETY: `path` is NUL-terminated.
    check_int(unsafe { libc::chroot(path.as_ptr()) }).map(drop)
}

/// True when the current working directory lies inside the current root
/// (getcwd(3) reports "(unreachable)" otherwise).
pub fn cwd_reachable() -> io::Result<bool> {
    let mut buf = [0u8; 4096];
    // SAFETY: the buffer and its length are passed together.
    let r = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    check(r)?;
    Ok(buf[0] == b'/')
}

/// faccessat(2) for execute permission, with the effective ids.
pub fn executable(path: &CStr) -> bool {
    // SAFETY: `path` is NUL-terminated.
    let r = unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), libc::X_OK, libc::AT_EACCESS) };
    if r != 0 {
        return false;
    }
    // SAFETY: zeroed is a valid bit pattern for stat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer; `path` is NUL-terminated.
    let r = unsafe { libc::stat(path.as_ptr(), &mut st) };
    r == 0 && st.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// Resets every signal disposition to its default and unblocks all
/// signals, so the container's process starts clean (the runtime itself
/// ignores SIGPIPE and may block signals it forwards).
pub fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition; failures for
        // signal numbers reserved by libc are harmless and ignored.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: an empty, initialised set; NULL old-set pointer is allowed.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, ptr::null_mut());
    }
}

/// A NULL-terminated array of C strings for execve(2), built before fork.
#[derive(Debug, Clone)]
pub struct CStringArray {
    strings: Vec<CString>,
    ptrs: Vec<*const libc::c_char>,
}

impl CStringArray {
    pub fn new(strings: Vec<CString>) -> Self {
        let mut ptrs: Vec<_> = strings.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(ptr::null());
        Self { strings, ptrs }
    }

    pub fn as_ptr(&self) -> *const *const libc::c_char {
        self.ptrs.as_ptr()
    }

    pub fn strings(&self) -> &[CString] {
        &self.strings
    }
}

/// Whether `path` starts like something execve runs: an ELF image or a
/// `#!` script. Unreadable files (execute-only) get the benefit of the
/// doubt.
pub fn executable_format(path: &CStr) -> bool {
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    if fd < 0 {
        return true;
    }
    // SAFETY: a descriptor just opened, owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut head = [0u8; 4];
    // SAFETY: `head` is a valid 4-byte buffer.
    let n = unsafe { libc::read(fd.as_raw_fd(), head.as_mut_ptr().cast(), head.len()) };
    (n == 4 && head == *b"\x7fELF") || (n >= 2 && head.starts_with(b"#!"))
}

/// execve(2); returns only on failure.
pub fn execve(path: &CStr, argv: &CStringArray, envp: &CStringArray) -> io::Error {
    // SAFETY: `path` is NUL-terminated and both arrays are NULL-terminated
    // arrays of pointers into strings they own, alive for the call.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    io::Error::last_os_error()
}

/// execveat(2) of the program open at `fd` (AT_EMPTY_PATH); returns only
/// on failure.
pub fn execve_fd(fd: BorrowedFd<'_>, argv: &CStringArray, envp: &CStringArray) -> io::Error {
    // SAFETY: the empty path is NUL-terminated and both arrays are
    // NULL-terminated arrays of pointers into strings they own.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}

/// [`execve_fd`] with `argv[0]` replaced (one allocation, for the
/// pointer array).
pub fn execve_fd_argv0(
    fd: BorrowedFd<'_>,
    argv0: &CStr,
    argv: &CStringArray,
    envp: &CStringArray,
) -> io::Error {
    let mut ptrs: Vec<*const libc::c_char> = argv.ptrs.clone();
    if let Some(first) = ptrs.first_mut() {
        *first = argv0.as_ptr();
    }
    // SAFETY: as in `execve_fd`; `ptrs` is NULL-terminated (a copy of
    // `argv`'s) and points into `argv0` and `argv`, both alive here.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            ptrs.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}

/// Sets or clears FD_CLOEXEC.
pub fn set_cloexec(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let flag = if on { libc::FD_CLOEXEC } else { 0 };
    // SAFETY: integer arguments on a borrowed descriptor.
    check_int(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, flag) }).map(drop)
}

/// memfd_create(2), close-on-exec and sealable.
pub fn memfd_create(name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated; the flags are plain integers.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    // SAFETY: a new descriptor nobody else owns.
    check_int(fd).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Seals a memfd against every change, the seals included.
pub fn seal_all(fd: &OwnedFd) -> io::Result<()> {
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: integer arguments on a descriptor we own.
    check_int(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) }).map(drop)
}

/// Writes all of `buf` to `fd`, retrying on EINTR.
pub fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: pointer and length describe `buf`.
        let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        match check(n as libc::c_long) {
            Ok(n) => buf = &buf[n as usize..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Builds `/proc/self/fd/N` for mount(2) targets given by descriptor.
pub fn fd_path(fd: BorrowedFd<'_>) -> CString {
    // The formatted string has no interior NUL, so this cannot fail.
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default()
}
