//! `start`: release the init waiting on `exec.sock`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::hooks::{self, HookPlan};
use crate::state::{Status, EXEC_SOCK};
use crate::Error;

/// Runs the user's program of a `created` container, then the poststart
/// hooks. A failing startContainer or poststart hook stops and destroys
/// the container, as runtime-spec's lifecycle says.
pub fn start(root: &Path, id: &str) -> Result<(), Error> {
    let (dir, state) = super::open(root, id)?;
    let status = state.status(&dir.path);
    if status != Status::Created {
        return Err(Error::WrongStatus {
            id: id.into(),
            status,
            op: "start it: it is not created",
        });
    }
    let fail = |reason: String| Error::Start {
        id: id.into(),
        reason,
    };
    // The notify socket must exist before the program can send to it.
    let notify = match &state.notify_socket {
        Some(_) => Some(super::notify::bind(&dir)?),
        None => None,
    };
    let mut conn = UnixStream::connect(dir.short_path(EXEC_SOCK))
        .map_err(|e| fail(format!("connecting to init: {e}")))?;
    // From here on the container counts as running.
    std::fs::remove_file(dir.path.join(EXEC_SOCK))
        .map_err(Error::io("removing", dir.path.join(EXEC_SOCK)))?;
    conn.write_all(&state.spec_state_json(Status::Created))
        .map_err(|e| fail(format!("sending state to init: {e}")))?;
    conn.shutdown(std::net::Shutdown::Write)
        .map_err(|e| fail(e.to_string()))?;
    let mut reply = String::new();
    // EOF without a reply means init's descriptors closed at execve.
    conn.read_to_string(&mut reply)
        .map_err(|e| fail(format!("waiting for exec: {e}")))?;
    if !reply.is_empty() {
        let err = fail(reply.clone());
        if reply.starts_with("startContainer hooks") {
            super::destroy(dir, &state)?;
        }
        return Err(err);
    }
    let poststart: Vec<HookPlan> = state.poststart.iter().map(HookPlan::from).collect();
    if let Err(e) = hooks::run_all(
        "poststart",
        &poststart,
        &state.spec_state_json(Status::Running),
    ) {
        super::destroy(dir, &state)?;
        return Err(e);
    }
    // Waiting for READY=1 can take long: other commands may go ahead.
    drop(dir);
    if let (Some(sock), Some(host)) = (notify, &state.notify_socket) {
        super::notify::forward_until_ready(&sock, host, state.pid, state.start_time)?;
    }
    Ok(())
}
