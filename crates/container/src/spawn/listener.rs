//! The seccomp agent hand-off: a filter with SCMP_ACT_NOTIFY rules gives
//! its process a listener descriptor, which goes back to the runtime over
//! the handshake and from there to the agent at `listenerPath`, as runc
//! sends it: one message on a unix stream socket, runtime-spec's
//! container process state as JSON (`fds: ["seccompFd"]`, `pid`,
//! `metadata`, `state`) with the descriptor attached (SCM_RIGHTS).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use berth_seccomp::Notify;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use crate::Error;

/// Sends `listener` and the process state to the agent. `state` is the
/// container's state JSON.
pub(crate) fn forward(
    notify: &Notify,
    listener: OwnedFd,
    pid: i32,
    state: &[u8],
) -> Result<(), Error> {
    let path = &notify.listener_path;
    let state: serde_json::Value = serde_json::from_slice(state).unwrap_or_default();
    let mut msg = serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "state": state,
    });
    if !notify.metadata.is_empty() {
        msg["metadata"] = notify.metadata.clone().into();
    }
    let body = msg.to_string();
    let stream =
        UnixStream::connect(path).map_err(Error::io("connecting to the seccomp agent", path))?;
    let fds = [listener.as_raw_fd()];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[std::io::IoSlice::new(body.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| Error::io("sending the seccomp listener", path)(e.into()))?;
    Ok(())
}
