//! TaskOOM events: a thread watches the container's memory cgroup (v1
//! eventfd or v2 memory.events, through `berth_cgroups`) from just before
//! start until the init process exits. It publishes under the task's
//! state lock, so a TaskOOM never precedes the TaskStart that Start
//! publishes while holding it.

use std::sync::Arc;

use containerd_shim::protos::events::task::TaskOOM;
use containerd_shim::protos::topics;

use crate::task::Inner;

pub fn watch(inner: Arc<Inner>, id: String, pid: i32) {
    let Ok(cg) = berth_cgroups::Cgroup::of_process(pid) else {
        return;
    };
    let Ok(Some(mut w)) = cg.oom_events() else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("oom".into())
        .spawn(move || loop {
            if crate::poll::readable(w.fd(), 1000) && w.fired() {
                let e = TaskOOM {
                    container_id: id.clone(),
                    ..Default::default()
                };
                let state = inner.lock();
                inner.publish(topics::TASK_OOM_EVENT_TOPIC, Box::new(e));
                drop(state);
            }
            // The init process is gone once its pid no longer answers.
            if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
                || inner.init_exited()
            {
                return;
            }
        });
}
