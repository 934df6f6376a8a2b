//! Every exit of the shim's children, kept until claimed, so no exit
//! status is lost to a race between two waiters.
//!
//! The shim is a subreaper. The containerd-shim crate's signal thread
//! reaps every child (`waitpid(-1)`) and broadcasts the exits on its
//! monitor; the crate's own helpers (the rootfs mount) wait there too, so
//! the shim must not reap anything itself. This module subscribes once,
//! before any child exists, and files each exit: either claimed by a
//! caller blocked in [`Reaper::wait`] (runtime commands), or, for a pid
//! registered with [`Reaper::watch`] (container processes), sent on the
//! channel the task service reads. Exits nobody has asked for yet are
//! kept until someone does: a container process may exit before the
//! shim has read its pid file.
//!
//! The forwarding thread never takes the task service's locks: a service
//! call can wait here for a runtime command while holding them.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use containerd_shim::monitor::{monitor_subscribe, Subject, Topic};

/// Exits nobody claims (e.g. orphans re-parented to the shim) are kept up
/// to this many, oldest dropped first.
const MAX_UNCLAIMED: usize = 1024;

#[derive(Default)]
struct State {
    /// pid -> exit code, in reaping order.
    exits: HashMap<i32, i32>,
    order: Vec<i32>,
    watched: HashSet<i32>,
}

pub struct Reaper {
    state: Mutex<State>,
    cv: Condvar,
    exits_tx: Mutex<Sender<(i32, i32)>>,
}

impl Reaper {
    /// Subscribes to the crate's exit monitor and starts the filing
    /// thread. Watched exits go to `tx` as (pid, code), code being 128 +
    /// signal for a killed process.
    pub fn start(tx: Sender<(i32, i32)>) -> std::io::Result<Arc<Reaper>> {
        let sub = monitor_subscribe(Topic::Pid).map_err(std::io::Error::other)?;
        let reaper = Arc::new(Reaper {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            exits_tx: Mutex::new(tx),
        });
        let r = reaper.clone();
        std::thread::Builder::new()
            .name("exit-filer".into())
            .spawn(move || {
                for e in sub.rx.iter() {
                    if let Subject::Pid(pid) = e.subject {
                        r.record(pid, e.exit_code);
                    }
                }
            })?;
        Ok(reaper)
    }

    fn record(&self, pid: i32, code: i32) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.watched.remove(&pid) {
            drop(s);
            self.send(pid, code);
            return;
        }
        if s.order.len() >= MAX_UNCLAIMED {
            let old = s.order.remove(0);
            s.exits.remove(&old);
        }
        s.exits.insert(pid, code);
        s.order.push(pid);
        self.cv.notify_all();
    }

    fn send(&self, pid: i32, code: i32) {
        let tx = self.exits_tx.lock().unwrap_or_else(PoisonError::into_inner);
        // The receiver lives as long as the service: nothing to do if not.
        let _ = tx.send((pid, code));
    }

    fn take(s: &mut State, pid: i32) -> Option<i32> {
        let code = s.exits.remove(&pid)?;
        s.order.retain(|p| *p != pid);
        Some(code)
    }

    /// Blocks until child `pid` has exited; its exit code.
    pub fn wait(&self, pid: i32) -> i32 {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(code) = Self::take(&mut s, pid) {
                return code;
            }
            s = self.cv.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Sends the exit of `pid` on the channel, now if it has already been
    /// reaped, else when it is.
    pub fn watch(&self, pid: i32) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match Self::take(&mut s, pid) {
            Some(code) => {
                drop(s);
                self.send(pid, code);
            }
            None => {
                s.watched.insert(pid);
            }
        }
    }
}
