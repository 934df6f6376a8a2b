//! `update`: change a live container's resource limits and record them
//! in its state.

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
    complete_pairs(&mut wanted, &state.resources);
    let cgroup = Cgroup::from_record(state.cgroup.clone());
    check_before_update(&cgroup, &state.resources, &wanted)?;
    let next = state.resources.merged(&wanted);
    // Only what changed is written; the rest stays as the kernel has it.
    cgroup.apply_resources(&wanted)?;
    state.resources = next;
    dir.save(&state)
}

/// Values written together on cgroup v2 (memory.swap.max is memory+swap
/// minus the limit; cpu.max holds quota and period): a change to one half
/// takes the other from what is in force, as runc's update does.
fn complete_pairs(wanted: &mut Resources, current: &Resources) {
    if wanted.memory_swap.is_some() && wanted.memory_limit.is_none() {
        wanted.memory_limit = current.memory_limit;
    }
    if wanted.cpu_quota.is_some() != wanted.cpu_period.is_some() {
        wanted.cpu_quota = wanted.cpu_quota.or(current.cpu_quota);
        wanted.cpu_period = wanted.cpu_period.or(current.cpu_period);
    }
}

/// memory.checkBeforeUpdate: a new limit below what the container uses
/// now is refused instead of sending it to the OOM killer.
fn check_before_update(
    cgroup: &Cgroup,
    current: &Resources,
    wanted: &Resources,
) -> Result<(), Error> {
    let check = wanted.check_before_update.or(current.check_before_update) == Some(true);
    let Some(limit) = wanted.memory_limit.filter(|&l| l > 0 && check) else {
        return Ok(());
    };
    match cgroup.memory_usage() {
        Some(usage) if usage > limit as u64 => Err(Error::invalid(
            "linux.resources.memory.limit",
            format!(
                "{limit} bytes is below the current usage of {usage} bytes (checkBeforeUpdate)"
            ),
        )),
        _ => Ok(()),
    }
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
    config::check_resources(&r)?;
    if r.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(Error::unsupported(
            "linux.resources.devices",
            "changing device rules with update",
        ));
    }
    Ok(crate::resources::of(&r))
}
