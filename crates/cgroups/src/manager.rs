//! Creating, joining and removing a container's cgroups.

use std::fs;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{CgroupsPath, DeviceRule, Error, Layout, Mode};

/// A container's cgroup: one directory per hierarchy.
#[derive(Debug, Clone)]
pub struct Cgroup {
    record: CgroupRecord,
}

/// What is kept in the container's state so that later commands (delete,
/// kill) find the same directories and remove only those created.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CgroupRecord {
    /// (hierarchy name, leaf directory) for every hierarchy.
    pub leaves: Vec<(String, PathBuf)>,
    /// Directories this runtime created, parents before children.
    pub created: Vec<PathBuf>,
    /// True on a unified (pure v2) host.
    pub v2: bool,
}

impl Cgroup {
    /// Creates the container's directory in every hierarchy. On error,
    /// whatever was created is removed again.
    pub fn create(layout: &Layout, path: &CgroupsPath) -> Result<Self, Error> {
        let mut cg = Cgroup {
            record: CgroupRecord {
                v2: layout.mode == Mode::Unified,
                ..CgroupRecord::default()
            },
        };
        for h in &layout.hierarchies {
            let leaf = h.dir(&path.resolve(&h.caller));
            if let Err(e) = cg.make_dirs(&leaf, h.controllers.iter().any(|c| c == "cpuset")) {
                // Best effort: the error being returned is the one that matters.
                let _ = cg.remove();
                return Err(e);
            }
            if h.v2 {
                if let Err(e) = cg.delegate(&leaf) {
                    let _ = cg.remove();
                    return Err(e);
                }
            }
            cg.record.leaves.push((h.name.clone(), leaf));
        }
        Ok(cg)
    }

    /// cgroup v2: each directory this runtime created above `leaf` passes
    /// every controller it has on to its children, as runc does, so the
    /// leaf gets all that the nearest existing ancestor delegates. The
    /// leaf keeps its own `subtree_control` empty: it holds processes.
    fn delegate(&self, leaf: &Path) -> Result<(), Error> {
        for dir in self
            .record
            .created
            .iter()
            .filter(|d| leaf.starts_with(d) && *d != leaf)
        {
            let have = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
            let value: Vec<String> = have.split_whitespace().map(|c| format!("+{c}")).collect();
            if !value.is_empty() {
                write(&dir.join("cgroup.subtree_control"), &value.join(" "))?;
            }
        }
        Ok(())
    }

    /// The cgroups process `pid` is in, as seen from the caller's mounts
    /// (for a container another runtime created; nothing is recorded as
    /// created, so `remove` leaves it alone).
    pub fn of_process(pid: i32) -> Result<Self, Error> {
        let read = |p: String| {
            fs::read_to_string(&p).map_err(|source| Error::Read {
                path: p.into(),
                source,
            })
        };
        let layout = Layout::parse(
            &read("/proc/self/mountinfo".into())?,
            &read(format!("/proc/{pid}/cgroup"))?,
        )?;
        let leaves = layout
            .hierarchies
            .iter()
            .map(|h| (h.name.clone(), h.dir(&h.caller)))
            .collect();
        Ok(Cgroup {
            record: CgroupRecord {
                leaves,
                created: Vec::new(),
                v2: layout.mode == Mode::Unified,
            },
        })
    }

    /// Rebuilds the handle from a record kept in the container's state.
    pub fn from_record(record: CgroupRecord) -> Self {
        Self { record }
    }

    /// The record to keep in the container's state.
    pub fn record(&self) -> &CgroupRecord {
        &self.record
    }

    /// (hierarchy name, leaf directory) pairs.
    pub fn leaves(&self) -> &[(String, PathBuf)] {
        &self.record.leaves
    }

    /// The leaf directory of the v1 hierarchy that has `controller`.
    pub(crate) fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        self.record()
            .leaves
            .iter()
            .find(|(name, _)| name.split(',').any(|c| c == controller))
            .map(|(_, d)| d.clone())
    }

    fn make_dirs(&mut self, leaf: &Path, cpuset: bool) -> Result<(), Error> {
        let mut missing = Vec::new();
        let mut cur = leaf;
        while !cur.exists() {
            missing.push(cur.to_path_buf());
            cur = match cur.parent() {
                Some(p) => p,
                None => break,
            };
        }
        for dir in missing.into_iter().rev() {
            match fs::create_dir(&dir) {
                Ok(()) => self.record.created.push(dir.clone()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(Error::Create { path: dir, source }),
            }
            if cpuset {
                inherit_cpuset(&dir)?;
            }
        }
        Ok(())
    }

    /// Descriptors with which a new single-threaded process joins the
    /// container's cgroups cheaply; see [`JoinFds`].
    pub fn join_fds(&self) -> Result<JoinFds, Error> {
        let mut fds = JoinFds::default();
        for (name, leaf) in &self.record.leaves {
            let open = |path: PathBuf, write: bool| {
                fs::File::options()
                    .read(!write)
                    .write(write)
                    .custom_flags(libc::O_CLOEXEC | if write { 0 } else { libc::O_DIRECTORY })
                    .open(&path)
                    .map(OwnedFd::from)
                    .map_err(|source| Error::Read { path, source })
            };
            if self.record.v2 || name == "unified" {
                fds.v2_dir = Some(open(leaf.clone(), false)?);
                fds.v2_procs = Some(leaf.join("cgroup.procs"));
            } else {
                fds.v1_tasks.push(open(leaf.join("tasks"), true)?);
            }
        }
        Ok(fds)
    }

    /// Writes device rules, spec order first, then the defaults.
    pub fn apply_devices(&self, rules: &[DeviceRule]) -> Result<(), Error> {
        if rules.is_empty() {
            return Ok(());
        }
        if self.record.v2 {
            return self.apply_devices_v2(rules);
        }
        let Some((_, dir)) = self.record.leaves.iter().find(|(n, _)| n == "devices") else {
            return Err(Error::Devices(
                "the devices controller is not mounted".into(),
            ));
        };
        for rule in rules.iter().chain(DeviceRule::defaults().iter()) {
            rule.validate()?;
            write(&dir.join(rule.v1_file()), &rule.to_string())?;
        }
        Ok(())
    }

    /// cgroup v2: the rules as a device filter program attached to the
    /// container's directory (it stays attached when our descriptor
    /// closes, and goes with the directory).
    fn apply_devices_v2(&self, rules: &[DeviceRule]) -> Result<(), Error> {
        let Some((_, dir)) = self.record.leaves.first() else {
            return Err(Error::Devices("no cgroup2 directory".into()));
        };
        let all: Vec<DeviceRule> = rules
            .iter()
            .chain(DeviceRule::defaults().iter())
            .cloned()
            .collect();
        for rule in &all {
            rule.validate()?;
        }
        let fd = fs::File::open(dir).map_err(|source| Error::Io {
            what: "opening the cgroup for its device filter",
            path: dir.clone(),
            source,
        })?;
        crate::bpf_devices::attach(std::os::fd::AsFd::as_fd(&fd), &all).map(drop)
    }

    /// Pids in the container's cgroup (from the first hierarchy).
    pub fn procs(&self) -> Vec<i32> {
        let Some((_, leaf)) = self.record.leaves.first() else {
            return Vec::new();
        };
        fs::read_to_string(leaf.join("cgroup.procs"))
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Removes the directories this runtime created, deepest first. A
    /// directory whose last tasks are still exiting is retried briefly.
    pub fn remove(&self) -> Result<(), Error> {
        let mut first_err = None;
        for dir in self.record.created.iter().rev() {
            if let Err(e) = rmdir_retry(dir) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// How a new process joins the container's cgroups without the kernel's
/// global threadgroup lock, whose write side waits for an RCU grace
/// period (about 10 ms on an idle machine) on every `cgroup.procs` write:
/// - v1: the process writes "0" to each `tasks` file itself: a thread
///   moving itself skips that lock, and a single-threaded process moves
///   whole;
/// - v2: the process is created inside the cgroup with
///   clone3(CLONE_INTO_CGROUP) on `v2_dir`; where that fails, the
///   runtime writes its pid to `v2_procs` instead.
#[derive(Debug, Default)]
pub struct JoinFds {
    pub v1_tasks: Vec<OwnedFd>,
    pub v2_dir: Option<OwnedFd>,
    pub v2_procs: Option<PathBuf>,
}

impl JoinFds {
    /// Every descriptor held, for a process that closes all others.
    pub fn raw_fds(&self) -> Vec<i32> {
        use std::os::fd::AsRawFd;
        self.v1_tasks
            .iter()
            .chain(self.v2_dir.iter())
            .map(|f| f.as_raw_fd())
            .collect()
    }

    /// Moves the calling process into every cgroup, v2 included (through
    /// the directory descriptor, so it works from any mount namespace).
    /// For a process that must join last, e.g. into a frozen cgroup.
    pub fn join_all_self(&self) -> io::Result<()> {
        self.join_v1_self()?;
        if let Some(dir) = &self.v2_dir {
            use std::os::fd::AsRawFd;
            // SAFETY: the name is a NUL-terminated literal and `dir` is an
            // open directory descriptor we own.
            let fd = unsafe {
                libc::openat(
                    dir.as_raw_fd(),
                    c"cgroup.procs".as_ptr(),
                    libc::O_WRONLY | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: openat just returned this descriptor to us.
            let mut f = unsafe { <fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            f.write_all(b"0")?;
        }
        Ok(())
    }

    /// Moves the calling thread into every v1 cgroup. Meant for the new
    /// process itself, while it is single-threaded.
    pub fn join_v1_self(&self) -> io::Result<()> {
        for fd in &self.v1_tasks {
            let mut f = fs::File::from(fd.try_clone()?);
            f.write_all(b"0")?;
        }
        Ok(())
    }
}

fn rmdir_retry(dir: &Path) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(source) => {
                return Err(Error::Remove {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

/// A new v1 cpuset cgroup starts with empty cpus and mems, and no task can
/// join it until they are filled: copy them from the parent, as runc does.
fn inherit_cpuset(dir: &Path) -> Result<(), Error> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = fs::read_to_string(dir.join(file)).unwrap_or_default();
        if !own.trim().is_empty() {
            continue;
        }
        let value = fs::read_to_string(parent.join(file)).map_err(|source| Error::Read {
            path: parent.join(file),
            source,
        })?;
        write(&dir.join(file), value.trim())?;
    }
    Ok(())
}

fn write(path: &Path, value: &str) -> Result<(), Error> {
    fs::write(path, value).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })
}
