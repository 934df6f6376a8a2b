//! `events`: the container's resource statistics, once (`--stats`) or
//! every interval, and the OOM kills in between, as runc prints them: one
//! JSON object per line, `{"type": "stats"|"oom", "id": ..., "data": ...}`.
//! The stream ends when the container stops. Statistics are the
//! cgroup's, plus the interfaces of the container's network namespace.

use std::path::Path;
use std::time::Duration;

use berth_cgroups::Cgroup;
use serde_json::{json, Value};

use crate::state::Status;
use crate::{sys, Error};

/// Calls `out` with each event; `once` prints one stats event and returns.
pub fn events(
    root: &Path,
    id: &str,
    interval: Duration,
    once: bool,
    out: &mut dyn FnMut(&Value) -> std::io::Result<()>,
) -> Result<(), Error> {
    let (dir, st) = super::open(root, id)?;
    let status = st.status(&dir.path);
    if !matches!(status, Status::Created | Status::Running | Status::Paused) {
        return Err(Error::WrongStatus {
            id: id.into(),
            status,
            op: "report its events: it is not running",
        });
    }
    let path = dir.path.clone();
    // The stream can last for the container's life: no lock meanwhile.
    drop(dir);
    let cgroup = Cgroup::from_record(st.cgroup.clone());
    let emit = |out: &mut dyn FnMut(&Value) -> std::io::Result<()>, v: Value| {
        out(&v).map_err(Error::io("writing events", "stdout"))
    };
    let stats = |cgroup: &Cgroup| -> Result<Value, Error> {
        let mut data = serde_json::to_value(cgroup.stats()?).unwrap_or_default();
        let ifaces = super::netdev::interfaces(st.pid);
        if !ifaces.is_empty() {
            data["network_interfaces"] = serde_json::to_value(ifaces).unwrap_or_default();
        }
        Ok(json!({"type": "stats", "id": id, "data": data}))
    };
    if once {
        return emit(out, stats(&cgroup)?);
    }
    let mut oom = cgroup.oom_events()?;
    let ms = interval.as_millis().clamp(1, i32::MAX as u128) as i32;
    loop {
        let readable = match &oom {
            Some(w) => sys::poll_readable(w.fd(), ms)
                .map_err(Error::io("waiting for OOM events", &path))?,
            None => {
                std::thread::sleep(interval);
                false
            }
        };
        if !matches!(
            st.status(&path),
            Status::Created | Status::Running | Status::Paused
        ) {
            return Ok(());
        }
        if !readable {
            emit(out, stats(&cgroup)?)?;
        } else if oom.as_mut().is_some_and(|w| w.fired()) {
            emit(out, json!({"type": "oom", "id": id}))?;
        }
    }
}
