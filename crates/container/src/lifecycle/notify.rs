//! The sd_notify proxy, as runc has it. With `NOTIFY_SOCKET` in the
//! runtime's environment, the container gets its own notify socket at
//! `/run/notify/notify.sock` (a read-only bind of `<state>/notify`);
//! `start` binds that socket before the program runs, forwards what the
//! container sends to the caller's socket, adds `MAINPID` to `READY=1`,
//! and returns once the container is ready or gone.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::{Mount, Spec};

use crate::state::{process_alive, StateDir};
use crate::Error;

const DIR: &str = "notify";
const SOCKET: &str = "notify/notify.sock";
const IN_CONTAINER_DIR: &str = "/run/notify";
const IN_CONTAINER: &str = "/run/notify/notify.sock";

/// Before planning: the process's `NOTIFY_SOCKET`.
pub(super) fn add_env(spec: &mut Spec) {
    if let Some(p) = spec.process_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
        env.push(format!("NOTIFY_SOCKET={IN_CONTAINER}"));
        p.set_env(Some(env));
    }
}

/// Once the state directory exists: the notify directory in it, and the
/// read-only bind that shows it inside the container.
pub(super) fn mount(state_dir: &Path) -> Result<Mount, Error> {
    let dir = state_dir.join(DIR);
    std::fs::create_dir(&dir).map_err(Error::io("creating", &dir))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .map_err(Error::io("chmod", &dir))?;
    let mut mount = Mount::default();
    mount.set_destination(PathBuf::from(IN_CONTAINER_DIR));
    mount.set_typ(Some("bind".into()));
    mount.set_source(Some(dir));
    mount.set_options(Some(
        ["bind", "nosuid", "noexec", "nodev", "ro"]
            .map(String::from)
            .to_vec(),
    ));
    Ok(mount)
}

/// At start, before the program runs: the container's notify socket,
/// writable by any of its users.
pub(super) fn bind(dir: &StateDir) -> Result<UnixDatagram, Error> {
    let path = dir.path.join(SOCKET);
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(dir.short_path(SOCKET))
        .map_err(Error::io("binding the notify socket", &path))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
        .map_err(Error::io("chmod", &path))?;
    Ok(sock)
}

/// Forwards the container's messages to `host` until one says READY=1
/// (sent with MAINPID first, as runc does) or the container is gone.
pub(super) fn forward_until_ready(
    sock: &UnixDatagram,
    host: &Path,
    pid: i32,
    start_time: u64,
) -> Result<(), Error> {
    let fail = Error::io("forwarding to NOTIFY_SOCKET", host);
    let out = UnixDatagram::unbound().map_err(Error::io("forwarding to NOTIFY_SOCKET", host))?;
    let addr = host_addr(host).map_err(Error::io("forwarding to NOTIFY_SOCKET", host))?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(Error::io("forwarding to NOTIFY_SOCKET", host))?;
    let mut buf = [0u8; 4096];
    loop {
        match sock.recv(&mut buf) {
            Ok(n) => {
                let msg = &buf[..n];
                let ready = msg.split(|&b| b == b'\n').any(|l| l == b"READY=1");
                let data = if ready {
                    [format!("MAINPID={pid}\n").as_bytes(), msg].concat()
                } else {
                    msg.to_vec()
                };
                out.send_to_addr(&data, &addr)
                    .map_err(|e| Error::io("forwarding to NOTIFY_SOCKET", host)(e))?;
                if ready {
                    return Ok(());
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if !process_alive(pid, start_time) {
                    return Ok(());
                }
            }
            Err(e) => return Err(fail(e)),
        }
    }
}

/// A path, or `@name` for the abstract namespace, as systemd allows.
fn host_addr(host: &Path) -> std::io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    match host.to_str().and_then(|s| s.strip_prefix('@')) {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
        None => SocketAddr::from_pathname(host),
    }
}
