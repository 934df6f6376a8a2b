//! `delete`: destroy a container and run its poststop hooks.

use std::path::Path;

use crate::state::{StateDir, Status};
use crate::Error;

/// Deletes a stopped container. A `created` one is killed first, as runc
/// does (containerd relies on it); a running one only with `force`.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<(), Error> {
    let dir = StateDir::open(root, id)?;
    let Some(state) = dir.load()? else {
        // We hold the lock, so no create is in progress: this directory
        // is what a crashed create left behind.
        return dir.remove();
    };
    let status = state.status(&dir.path);
    if matches!(status, Status::Running | Status::Paused) && !force {
        return Err(Error::WrongStatus {
            id: id.into(),
            status,
            op: "delete it without --force",
        });
    }
    super::destroy(dir, &state)
}
