use std::path::Path;

use anyhow::Context;
use berth_container::RunOptions;

pub fn run(root: &Path, r: liboci_cli::Run) -> anyhow::Result<u8> {
    // `run` takes create's flags plus its own.
    let create = liboci_cli::Create {
        bundle: r.bundle,
        console_socket: r.console_socket,
        pid_file: r.pid_file,
        no_pivot: r.no_pivot,
        no_new_keyring: r.no_new_keyring,
        preserve_fds: r.preserve_fds,
        container_id: r.container_id,
    };
    let opts = RunOptions {
        create: super::create::options(root, &create)?,
        detach: r.detach,
        keep: r.keep,
    };
    // --no-subreaper is accepted and has no effect: init is the runtime's
    // grandchild, which only a subreaper can wait for.
    let _ = r.no_subreaper;
    let code = berth_container::run(&opts)
        .with_context(|| format!("running container {:?}", create.container_id))?;
    Ok(code.clamp(0, 255) as u8)
}
