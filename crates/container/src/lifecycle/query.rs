//! `state` and `list`: read-only views. They take no lock, so they never
//! wait behind a create; state.json is replaced atomically.

use std::path::Path;

use crate::state::{read_state, ContainerState, Status};
use crate::{id, Error};

/// A container's state and its live status.
pub fn state(root: &Path, id: &str) -> Result<(ContainerState, Status), Error> {
    id::validate(id)?;
    let dir = root.join(id);
    match read_state(&dir)? {
        Some(s) => {
            let status = s.status(&dir);
            Ok((s, status))
        }
        None if dir.is_dir() => Err(Error::WrongStatus {
            id: id.into(),
            status: Status::Creating,
            op: "report its state yet",
        }),
        None => Err(Error::NotFound(id.into())),
    }
}

/// Every container under `root`, sorted by id. Directories without a
/// state (a create in progress) are skipped.
pub fn list(root: &Path) -> Result<Vec<(ContainerState, Status)>, Error> {
    let mut out = Vec::new();
    for id in crate::state::list_ids(root)? {
        let dir = root.join(&id);
        if let Some(s) = read_state(&dir)? {
            let status = s.status(&dir);
            out.push((s, status));
        }
    }
    Ok(out)
}

/// Host pids of every process in the container's cgroup (`ps`).
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>, Error> {
    let (s, _) = state(root, id)?;
    let mut pids = berth_cgroups::Cgroup::from_record(s.cgroup).procs();
    pids.sort_unstable();
    Ok(pids)
}
