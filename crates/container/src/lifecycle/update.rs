//! `update`: change a live container's memory, cpu and pids limits and
//! record them in its state.

use std::path::{Path, PathBuf};

use berth_cgroups::{Cgroup, Resources};

use crate::state::Status;
use crate::{config, Error};

/// What to change: limits from the command line, and/or runc's
/// `-r FILE` (a runtime-spec `linux.resources` JSON; `-` for stdin is the
/// caller's business). Fields given on the command line win.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub resources_file: Option<PathBuf>,
    pub limits: Resources,
}

pub fn update(root: &Path, id: &str, opts: &UpdateOptions) -> Result<(), Error> {
    let (dir, mut state) = super::open(root, id)?;
    let status = state.status(&dir.path);
    if !matches!(status, Status::Created | Status::Running | Status::Paused) {
        return Err(Error::WrongStatus {
            id: id.into(),
            status,
            op: "update it: it is not running",
        });
    }
    let mut wanted = match &opts.resources_file {
        Some(path) => from_file(path)?,
        None => Resources::default(),
    };
    wanted = wanted.merged(&opts.limits);
    if state.cgroup.v2 && wanted != Resources::default() {
        return Err(Error::unsupported(
            "linux.resources",
            "memory, cpu and pids limits on a pure cgroup v2 host",
        ));
    }
    let next = state.resources.merged(&wanted);
    // Only what changed is written; the rest stays as the kernel has it.
    Cgroup::from_record(state.cgroup.clone()).apply_resources(&wanted)?;
    state.resources = next;
    dir.save(&state)
}

fn from_file(path: &Path) -> Result<Resources, Error> {
    let data = std::fs::read(path).map_err(|source| Error::ReadConfig {
        path: path.to_path_buf(),
        source,
    })?;
    let de = &mut serde_json::Deserializer::from_slice(&data);
    let r: oci_spec::runtime::LinuxResources =
        serde_path_to_error::deserialize(de).map_err(|e| Error::ParseConfig {
            path: path.to_path_buf(),
            field: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    config::unsupported_resources(&r)?;
    if r.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(Error::unsupported(
            "linux.resources.devices",
            "changing device rules with update",
        ));
    }
    Ok(super::create::resources_of(&r))
}
