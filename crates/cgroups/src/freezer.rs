//! Freezing and thawing a container's processes: the v1 freezer
//! controller where it is mounted (v1 and hybrid hosts, as runc), else
//! cgroup2's cgroup.freeze.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::{Cgroup, Error};

enum Freezer {
    V1(PathBuf),
    V2(PathBuf),
}

impl Cgroup {
    fn freezer(&self) -> Option<Freezer> {
        if let Some(dir) = self.v1_dir("freezer") {
            return Some(Freezer::V1(dir));
        }
        self.record()
            .leaves
            .iter()
            .find(|(n, _)| self.record().v2 || n == "unified")
            .map(|(_, dir)| Freezer::V2(dir.clone()))
    }

    /// Whether the container's processes are frozen.
    pub fn is_frozen(&self) -> bool {
        let read = |p: PathBuf| fs::read_to_string(p).unwrap_or_default();
        match self.freezer() {
            Some(Freezer::V1(d)) => read(d.join("freezer.state")).trim() == "FROZEN",
            Some(Freezer::V2(d)) => read(d.join("cgroup.freeze")).trim() == "1",
            None => false,
        }
    }

    /// Freezes or thaws every process in the container's cgroup and
    /// waits until the kernel reports it done (5 s at most).
    pub fn set_frozen(&self, frozen: bool) -> Result<(), Error> {
        let (file, value, done_file, done): (PathBuf, &str, PathBuf, &str) = match self.freezer() {
            Some(Freezer::V1(d)) => {
                let v = if frozen { "FROZEN" } else { "THAWED" };
                (d.join("freezer.state"), v, d.join("freezer.state"), v)
            }
            Some(Freezer::V2(d)) => {
                let (v, e) = if frozen {
                    ("1", "frozen 1")
                } else {
                    ("0", "frozen 0")
                };
                (d.join("cgroup.freeze"), v, d.join("cgroup.events"), e)
            }
            None => {
                return Err(Error::Devices(
                    "no freezer: neither the v1 freezer nor cgroup2 is mounted".into(),
                ))
            }
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // v1 may stay FREEZING while tasks are busy: write again.
            fs::write(&file, value).map_err(|source| Error::Write {
                path: file.clone(),
                value: value.into(),
                source,
            })?;
            let state = fs::read_to_string(&done_file).unwrap_or_default();
            if state.lines().any(|l| l.trim() == done) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Write {
                    path: file,
                    value: value.into(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the freezer did not settle",
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
