//! Notice of the memory controller's OOM kills in a container's cgroup:
//! v1 through an eventfd registered on memory.oom_control, v2 through
//! inotify on memory.events (whose `oom` count the kernel bumps and
//! signals as a file modification).

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::stats::pairs;
use crate::{Cgroup, Error};

/// A descriptor that becomes readable when something may have happened,
/// and the way to tell whether it was an OOM.
#[derive(Debug)]
pub struct OomWatch {
    fd: OwnedFd,
    /// The container's memory cgroup.
    dir: PathBuf,
    v2: bool,
    /// v2: the `oom` count seen last.
    last: u64,
}

impl OomWatch {
    /// Poll this for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// After `fd` became readable: consumes the notification and says
    /// whether the container had OOM kills since the last call. Both
    /// notifications also fire for other reasons (v1: the cgroup being
    /// removed; v2: any change to memory.events).
    pub fn fired(&mut self) -> bool {
        // An eventfd's 8-byte count or a batch of inotify records; either
        // way the content does not matter, only that it is consumed.
        let mut buf = [0u8; 4096];
        // SAFETY: `buf` is writable for its whole length; the fd is ours.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if !self.v2 {
            // v1 signals when an OOM starts, before its kill is counted,
            // and when the cgroup is removed: a cgroup that is still
            // there had an OOM.
            return self.dir.join("memory.oom_control").exists();
        }
        let now = oom_count(&self.dir);
        let fired = now > self.last;
        self.last = self.last.max(now);
        fired
    }
}

/// The `oom` count of a v2 memory cgroup's memory.events (0 once it is
/// removed).
fn oom_count(dir: &Path) -> u64 {
    pairs(dir, "memory.events").get("oom").copied().unwrap_or(0)
}

fn check(r: i32, what: &'static str, path: &Path) -> Result<i32, Error> {
    if r < 0 {
        return Err(Error::Io {
            what,
            path: path.to_path_buf(),
            source: io::Error::last_os_error(),
        });
    }
    Ok(r)
}

impl Cgroup {
    /// A watch on the container's OOM kills; None without a memory
    /// controller for the container.
    pub fn oom_events(&self) -> Result<Option<OomWatch>, Error> {
        if self.record().v2 {
            let Some((_, dir)) = self.record().leaves.first() else {
                return Ok(None);
            };
            return v2_watch(dir);
        }
        let Some(dir) = self.v1_dir("memory") else {
            return Ok(None);
        };
        let what = "registering for OOM events";
        // SAFETY: plain integer arguments.
        let efd = check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) }, what, &dir)?;
        // SAFETY: eventfd just returned this descriptor; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(efd) };
        let io = |source| Error::Io {
            what,
            path: dir.clone(),
            source,
        };
        let control = fs::File::open(dir.join("memory.oom_control")).map_err(io)?;
        let line = format!("{} {}", fd.as_raw_fd(), control.as_raw_fd());
        fs::write(dir.join("cgroup.event_control"), line).map_err(io)?;
        let last = 0;
        Ok(Some(OomWatch {
            fd,
            dir,
            v2: false,
            last,
        }))
    }
}

fn v2_watch(dir: &Path) -> Result<Option<OomWatch>, Error> {
    let events = dir.join("memory.events");
    if !events.exists() {
        return Ok(None);
    }
    let what = "watching memory.events";
    // SAFETY: plain integer arguments.
    let ifd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
    let ifd = check(ifd, what, dir)?;
    // SAFETY: inotify_init1 just returned this descriptor to us.
    let fd = unsafe { OwnedFd::from_raw_fd(ifd) };
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(events.as_os_str()))
        .map_err(|e| Error::Io {
            what,
            path: events.clone(),
            source: e.into(),
        })?;
    // SAFETY: `c` is a NUL-terminated path that outlives the call.
    let wd = unsafe { libc::inotify_add_watch(ifd, c.as_ptr(), libc::IN_MODIFY) };
    check(wd, what, &events)?;
    let last = oom_count(dir);
    Ok(Some(OomWatch {
        fd,
        dir: dir.to_path_buf(),
        v2: true,
        last,
    }))
}
