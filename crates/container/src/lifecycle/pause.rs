//! `pause` and `resume`: freeze and thaw the container's processes.

use std::path::Path;

use berth_cgroups::Cgroup;

use crate::state::Status;
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
    Ok(Cgroup::from_record(state.cgroup).set_frozen(true)?)
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
    Ok(Cgroup::from_record(state.cgroup).set_frozen(false)?)
}
