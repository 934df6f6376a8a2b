//! `pause` and `resume`: freeze and thaw the container's processes.

use std::path::Path;

use berth_cgroups::Cgroup;

use crate::state::{Status, PAUSED};
use crate::Error;

/// Freezes a created or running container (status `paused`).
pub fn pause(root: &Path, id: &str) -> Result<(), Error> {
    let (dir, state) = super::open(root, id)?;
    let status = state.status(&dir.path);
    if !matches!(status, Status::Created | Status::Running) {
        return Err(Error::WrongStatus {
            id: id.into(),
            status,
            op: "pause it: it is not running",
        });
    }
    Cgroup::from_record(state.cgroup).set_frozen(true)?;
    let marker = dir.path.join(PAUSED);
    std::fs::write(&marker, b"").map_err(Error::io("writing", marker))
}

/// Thaws a paused container.
pub fn resume(root: &Path, id: &str) -> Result<(), Error> {
    let (dir, state) = super::open(root, id)?;
    let status = state.status(&dir.path);
    if status != Status::Paused {
        return Err(Error::WrongStatus {
            id: id.into(),
            status,
            op: "resume it: it is not paused",
        });
    }
    Cgroup::from_record(state.cgroup).set_frozen(false)?;
    let marker = dir.path.join(PAUSED);
    std::fs::remove_file(&marker).map_err(Error::io("removing", marker))
}
