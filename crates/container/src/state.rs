//! The per-container state directory under `--root`.
//!
//! Layout of `<root>/<id>/`:
//! - `state.json`: [`ContainerState`], replaced atomically (write + rename);
//! - `exec.sock`: the start gate; it exists while the container is
//!   `created` and its init waits in accept(2);
//! - `paused`: present from `pause` to `resume`;
//! - the directory itself is `flock`ed by every command that changes the
//!   container, so two commands racing on one container run one at a time.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use berth_cgroups::CgroupRecord;
use nix::fcntl::{Flock, FlockArg};
use oci_spec::runtime::Hook;
use serde::{Deserialize, Serialize};

use crate::Error;

/// runtime-spec statuses, plus runc's `paused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What the runtime remembers about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub oci_version: String,
    pub id: String,
    /// Host pid of the container's init; 0 until it exists.
    pub pid: i32,
    /// Start time of that pid (clock ticks, /proc/<pid>/stat field 22),
    /// so a recycled pid is never mistaken for the container.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    pub cgroup: CgroupRecord,
    #[serde(default)]
    pub poststart: Vec<Hook>,
    #[serde(default)]
    pub poststop: Vec<Hook>,
    /// True when the container has its own pid namespace: killing init
    /// then ends every process in it, and nothing else in the cgroup
    /// (which may be shared) is touched.
    #[serde(default)]
    pub own_pid_ns: bool,
    /// The container's `process`, the base of every `exec` (as runc
    /// builds exec processes from it).
    #[serde(default)]
    pub process: Option<oci_spec::runtime::Process>,
    /// The memory, cpu and pids limits in force (from create, then
    /// `update`).
    #[serde(default)]
    pub resources: berth_cgroups::Resources,
    /// The caller's NOTIFY_SOCKET, when `start` proxies sd_notify.
    #[serde(default)]
    pub notify_socket: Option<PathBuf>,
    /// `linux.seccomp`, which exec'd processes get too (as with runc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
}

/// The state JSON of runtime-spec (plus runc's extra fields), as `state`
/// prints it and hooks receive it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub status: Status,
    pub pid: i32,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: &'a HashMap<String, String>,
}

impl ContainerState {
    /// The current status, read from the live system.
    pub fn status(&self, dir: &Path) -> Status {
        if self.pid == 0 {
            return Status::Creating;
        }
        if !process_alive(self.pid, self.start_time) {
            return Status::Stopped;
        }
        // Reading the freezer costs ~0.2 ms here: ask it only when
        // `pause` left its marker.
        if dir.join(PAUSED).exists()
            && berth_cgroups::Cgroup::from_record(self.cgroup.clone()).is_frozen()
        {
            Status::Paused
        } else if dir.join(EXEC_SOCK).exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// The runtime-spec view with a given status; the pid is reported
    /// only while the process exists.
    pub fn spec_state(&self, status: Status) -> SpecState<'_> {
        SpecState {
            oci_version: &self.oci_version,
            id: &self.id,
            status,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
            annotations: &self.annotations,
        }
    }

    pub fn spec_state_json(&self, status: Status) -> Vec<u8> {
        serde_json::to_vec(&self.spec_state(status)).unwrap_or_default()
    }
}

pub const EXEC_SOCK: &str = "exec.sock";
/// Present while the container is paused (written by `pause`).
pub const PAUSED: &str = "paused";
const STATE_FILE: &str = "state.json";

/// An open, locked container directory.
pub struct StateDir {
    pub id: String,
    pub path: PathBuf,
    _lock: Flock<File>,
}

impl StateDir {
    /// Makes a new container directory; fails if the id is taken.
    pub fn create(root: &Path, id: &str) -> Result<Self, Error> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(root)
            .map_err(Error::io("creating state root", root))?;
        let path = root.join(id);
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(id.into()))
            }
            Err(e) => return Err(Error::io("creating state dir", path)(e)),
        }
        Self::lock(id, path)
    }

    /// Opens and locks the directory of an existing container.
    pub fn open(root: &Path, id: &str) -> Result<Self, Error> {
        crate::id::validate(id)?;
        let dir = Self::lock(id, root.join(id))?;
        // A concurrent delete may have removed it while we waited.
        if !dir.path.exists() {
            return Err(Error::NotFound(id.into()));
        }
        Ok(dir)
    }

    fn lock(id: &str, path: PathBuf) -> Result<Self, Error> {
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => Error::NotFound(id.into()),
                _ => Error::io("opening state dir", &path)(e),
            })?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io("locking state dir", &path)(e.into()))?;
        Ok(Self {
            id: id.into(),
            path,
            _lock: lock,
        })
    }

    /// Reads state.json; a directory without one is a container whose
    /// create has not finished (or crashed before writing it).
    pub fn load(&self) -> Result<Option<ContainerState>, Error> {
        read_state(&self.path)
    }

    /// Writes state.json atomically.
    pub fn save(&self, state: &ContainerState) -> Result<(), Error> {
        let data = serde_json::to_vec(state).map_err(|e| Error::StateCorrupt {
            path: self.path.join(STATE_FILE),
            source: e,
        })?;
        write_atomic(&self.path.join(STATE_FILE), &data, 0o600)
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<(), Error> {
        fs::remove_dir_all(&self.path).map_err(Error::io("removing state dir", &self.path))
    }

    /// `/proc/self/fd/N/<name>`: a path into this directory short enough
    /// for a unix socket address whatever the length of `--root` and id.
    pub fn short_path(&self, name: &str) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!(
            "/proc/self/fd/{}/{name}",
            self._lock.as_fd().as_raw_fd()
        ))
    }
}

/// Reads state.json of a container directory without locking it.
pub fn read_state(dir: &Path) -> Result<Option<ContainerState>, Error> {
    let path = dir.join(STATE_FILE);
    match fs::read(&path) {
        Ok(data) => serde_json::from_slice(&data)
            .map(Some)
            .map_err(|source| Error::StateCorrupt { path, source }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading state", path)(e)),
    }
}

/// Writes `data` to a temporary sibling and renames it over `path`.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), Error> {
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let res = (|| {
        let mut f = File::options()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        fs::rename(&tmp, path)
    })();
    res.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("writing", path)(e)
    })
}

/// Parses (state, starttime) from /proc/<pid>/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<(char, u64)> {
    // The command name may contain spaces and parentheses: split after
    // the last ')'. Fields from there: state is field 3, starttime 22.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// True when `pid` is still the process that started at `start_time` and
/// has not exited (zombies count as exited).
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    matches!(proc_stat(pid), Some((s, t)) if t == start_time && s != 'Z' && s != 'X')
}

/// The user name of a uid from the host's /etc/passwd, as runc reports
/// the owner of a container.
pub fn user_name(uid: u32) -> String {
    fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| format!("#{uid}"))
}

/// Every container id under `root` (directories only).
pub fn list_ids(root: &Path) -> Result<Vec<String>, Error> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("reading state root", root)(e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let line = "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_stat(line), Some(('S', 98765)));
    }

    #[test]
    fn own_process_is_alive() {
        let me = std::process::id() as i32;
        let (_, t) = proc_stat(me).unwrap();
        assert!(process_alive(me, t));
        assert!(!process_alive(me, t + 1));
    }

    #[test]
    fn lock_and_atomic_write() {
        let root = std::env::temp_dir().join(format!("berth-state-test-{}", std::process::id()));
        let d = StateDir::create(&root, "c1").unwrap();
        assert!(matches!(
            StateDir::create(&root, "c1"),
            Err(Error::Exists(_))
        ));
        write_atomic(&d.path.join("x"), b"1", 0o600).unwrap();
        assert_eq!(fs::read(d.path.join("x")).unwrap(), b"1");
        assert!(d.load().unwrap().is_none());
        d.remove().unwrap();
        fs::remove_dir(&root).unwrap();
    }
}
