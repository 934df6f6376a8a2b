use std::path::Path;

use anyhow::{bail, Context};
use berth_container::{ExecArgs, ExecOptions, ExecProcess};

/// `exec`: liboci-cli's flags onto the library's options. Flags for
/// features that do not exist yet are refused, never ignored.
pub fn exec(root: &Path, e: liboci_cli::Exec) -> anyhow::Result<u8> {
    if e.cgroup.is_some() {
        bail!("exec --cgroup: choosing a sub-cgroup is not supported yet");
    }
    if e.preserve_fds < 0 {
        bail!("--preserve-fds must not be negative");
    }
    let process = match e.process {
        Some(path) => ExecProcess::File(path),
        None => ExecProcess::Args(ExecArgs {
            args: e.command,
            env: e.env,
            cwd: e.cwd,
            user: e.user,
            additional_gids: e.additional_gids,
            caps: e.cap,
            no_new_privs: e.no_new_privs,
            tty: e.tty,
            apparmor: e.apparmor,
            selinux_label: e.process_label,
        }),
    };
    let opts = ExecOptions {
        root: root.to_path_buf(),
        id: e.container_id.clone(),
        process,
        detach: e.detach,
        pid_file: e.pid_file,
        preserve_fds: e.preserve_fds as u32,
        console_socket: e.console_socket,
        ignore_paused: e.ignore_paused,
    };
    let code = berth_container::exec(&opts)
        .with_context(|| format!("exec in container {:?}", e.container_id))?;
    Ok(code.clamp(0, 255) as u8)
}
