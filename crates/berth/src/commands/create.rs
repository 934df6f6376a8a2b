use std::path::Path;

use anyhow::{bail, Context};
use berth_container::CreateOptions;

/// Maps liboci-cli's create/run flags onto the library's options.
pub fn options(
    root: &Path,
    id: &str,
    bundle: &Path,
    pid_file: Option<&Path>,
    no_pivot: bool,
    preserve_fds: i32,
) -> anyhow::Result<CreateOptions> {
    if preserve_fds < 0 {
        bail!("--preserve-fds must not be negative");
    }
    Ok(CreateOptions {
        root: root.to_path_buf(),
        id: id.to_string(),
        bundle: bundle.to_path_buf(),
        pid_file: pid_file.map(Path::to_path_buf),
        no_pivot,
        preserve_fds: preserve_fds as u32,
    })
}

pub fn create(root: &Path, c: liboci_cli::Create) -> anyhow::Result<()> {
    let opts = options(
        root,
        &c.container_id,
        &c.bundle,
        c.pid_file.as_deref(),
        c.no_pivot,
        c.preserve_fds,
    )?;
    berth_container::create(&opts)
        .with_context(|| format!("creating container {:?}", c.container_id))?;
    Ok(())
}
