//! start, state, kill and delete: one call each.

use std::path::Path;

use anyhow::Context;

use crate::cli::Kill;

pub fn start(root: &Path, id: &str) -> anyhow::Result<()> {
    berth_container::start(root, id).with_context(|| format!("starting container {id:?}"))
}

pub fn state(root: &Path, id: &str) -> anyhow::Result<()> {
    let (s, status) = berth_container::state(root, id)?;
    println!("{}", serde_json::to_string_pretty(&s.spec_state(status))?);
    Ok(())
}

pub fn kill(root: &Path, k: &Kill) -> anyhow::Result<()> {
    let sig = berth_container::parse_signal(&k.signal)?;
    berth_container::kill(root, &k.container_id, sig, k.all)
        .with_context(|| format!("killing container {:?}", k.container_id))
}

pub fn pause(root: &Path, id: &str) -> anyhow::Result<()> {
    berth_container::pause(root, id).with_context(|| format!("pausing container {id:?}"))
}

pub fn resume(root: &Path, id: &str) -> anyhow::Result<()> {
    berth_container::resume(root, id).with_context(|| format!("resuming container {id:?}"))
}

pub fn delete(root: &Path, id: &str, force: bool) -> anyhow::Result<()> {
    berth_container::delete(root, id, force).with_context(|| format!("deleting container {id:?}"))
}
