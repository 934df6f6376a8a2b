use std::path::Path;

use anyhow::{bail, Context};
use berth_container::CreateOptions;

/// Maps liboci-cli's create flags onto the library's options.
pub fn options(root: &Path, c: &liboci_cli::Create) -> anyhow::Result<CreateOptions> {
    if c.preserve_fds < 0 {
        bail!("--preserve-fds must not be negative");
    }
    Ok(CreateOptions {
        root: root.to_path_buf(),
        id: c.container_id.clone(),
        bundle: c.bundle.clone(),
        pid_file: c.pid_file.clone(),
        no_pivot: c.no_pivot,
        no_new_keyring: c.no_new_keyring,
        console_socket: c.console_socket.clone(),
        preserve_fds: c.preserve_fds as u32,
        listen_fds: listen_fds(),
        notify_socket: std::env::var_os("NOTIFY_SOCKET").map(Into::into),
    })
}

/// Descriptors passed to us by socket activation: LISTEN_FDS counts them
/// when LISTEN_PID names this process (sd_listen_fds(3)).
fn listen_fds() -> u32 {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let n = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok());
    n.filter(|_| for_us).unwrap_or(0)
}

pub fn create(root: &Path, c: liboci_cli::Create) -> anyhow::Result<()> {
    let opts = options(root, &c)?;
    berth_container::create(&opts)
        .with_context(|| format!("creating container {:?}", c.container_id))?;
    Ok(())
}
