use std::path::Path;

use anyhow::Context;
use berth_container::RunOptions;

pub fn run(root: &Path, r: liboci_cli::Run) -> anyhow::Result<u8> {
    let create = super::create::options(
        root,
        &r.container_id,
        &r.bundle,
        r.pid_file.as_deref(),
        r.no_pivot,
        r.preserve_fds,
    )?;
    let opts = RunOptions {
        create,
        detach: r.detach,
        keep: r.keep,
        no_subreaper: r.no_subreaper,
    };
    let code = berth_container::run(&opts)
        .with_context(|| format!("running container {:?}", r.container_id))?;
    Ok(code.clamp(0, 255) as u8)
}
