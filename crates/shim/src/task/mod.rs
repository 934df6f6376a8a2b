//! The Task service (containerd's task API v2) for the one container this
//! shim supervises. Each call drives the runtime's command line
//! (`runtime.rs`); exits come from the reaper on a channel and are turned
//! into state and TaskExit events by one thread (`exits`).
//!
//! Ordering: calls that start a process (Start, exec's Start) hold the
//! state lock until their event is published, and the exit thread needs
//! that lock to record an exit, so TaskExit always follows TaskStart /
//! TaskExecStarted, and is published exactly once per process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use containerd_shim::protos::events::task as ev;
use containerd_shim::protos::protobuf::{MessageDyn, MessageField};
use containerd_shim::protos::shim::shim as api;
use containerd_shim::protos::topics;
use containerd_shim::protos::types::task::Status;
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{Context, ExitSignal};

use crate::error::Error;
use crate::process::Process;
use crate::reaper::Reaper;
use crate::runtime::Runtime;
use crate::stdio::{self, ConsoleSocket, StdioPaths};

/// The container: its runtime, bundle, init and exec'd processes.
pub struct Container {
    pub id: String,
    pub bundle: PathBuf,
    pub runtime: Runtime,
    pub init: Process,
    pub execs: HashMap<String, Process>,
    pub mounted_rootfs: bool,
}

impl Container {
    fn process(&mut self, exec_id: &str) -> Result<&mut Process, Error> {
        if exec_id.is_empty() {
            return Ok(&mut self.init);
        }
        self.execs
            .get_mut(exec_id)
            .ok_or_else(|| Error::NotFound(format!("exec {exec_id:?}")))
    }
}

pub struct Service {
    pub(crate) inner: Arc<Inner>,
}

pub struct Inner {
    pub namespace: String,
    pub exit: Arc<ExitSignal>,
    publisher: Mutex<RemotePublisher>,
    pub reaper: Arc<Reaper>,
    state: Mutex<Option<Container>>,
    cv: Condvar,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Option<Container>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Events are best effort: containerd may be restarting.
    pub(crate) fn publish(&self, topic: &str, event: Box<dyn MessageDyn>) {
        let p = self
            .publisher
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = p.publish(Context::default(), topic, &self.namespace, event) {
            log::warn!("publishing {topic}: {e}");
        }
    }

    /// True once the init process has exited (or the task is gone).
    pub fn init_exited(&self) -> bool {
        self.lock().as_ref().is_none_or(|c| c.init.exit.is_some())
    }

    /// Records the exit of `pid`, if it is one of ours, and publishes it.
    fn exited(&self, pid: i32, code: i32) {
        let mut guard = self.lock();
        let Some(c) = guard.as_mut() else { return };
        let id = c.id.clone();
        let found = if c.init.pid == pid {
            Some((String::new(), &mut c.init))
        } else {
            c.execs
                .iter_mut()
                .find(|(_, p)| p.pid == pid)
                .map(|(k, p)| (k.clone(), p))
        };
        let Some((exec_id, p)) = found else { return };
        p.exited(code);
        let event = ev::TaskExit {
            container_id: id.clone(),
            id: if exec_id.is_empty() { id } else { exec_id },
            pid: pid as u32,
            exit_status: p.exit_code(),
            exited_at: p.exited_at(),
            ..Default::default()
        };
        self.publish(topics::TASK_EXIT_EVENT_TOPIC, Box::new(event));
        self.cv.notify_all();
    }
}

impl Service {
    pub fn new(
        namespace: String,
        exit: Arc<ExitSignal>,
        publisher: RemotePublisher,
        reaper: Arc<Reaper>,
        exits: Receiver<(i32, i32)>,
    ) -> Self {
        let inner = Arc::new(Inner {
            namespace,
            exit,
            publisher: Mutex::new(publisher),
            reaper,
            state: Mutex::new(None),
            cv: Condvar::new(),
        });
        let i = inner.clone();
        let _ = std::thread::Builder::new()
            .name("exits".into())
            .spawn(move || {
                for (pid, code) in exits {
                    i.exited(pid, code);
                }
            });
        Service { inner }
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Container) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut guard = self.inner.lock();
        let c = guard
            .as_mut()
            .ok_or_else(|| Error::NotFound("container".into()))?;
        f(c)
    }

    pub(crate) fn create_inner(&self, req: &api::CreateTaskRequest) -> Result<i32, Error> {
        let mut guard = self.inner.lock();
        if guard.is_some() {
            return Err(Error::Precondition(format!(
                "task {} already exists",
                req.id
            )));
        }
        if !req.checkpoint.is_empty() {
            return Err(Error::Unsupported("restoring from a checkpoint"));
        }
        let bundle = PathBuf::from(&req.bundle);
        let runtime = crate::options::runtime(
            &bundle,
            &self.inner.namespace,
            req.options.as_ref(),
            self.inner.reaper.clone(),
        )?;
        let mounted = crate::options::mount_rootfs(&bundle, &req.rootfs)?;
        let paths = StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        let mut init = Process::new(paths.clone());
        let created = start_process(&self.inner.namespace, &req.id, &paths, |io, console| {
            runtime.create(&req.id, &bundle, console, io)
        });
        let (pid, io) = match created {
            Ok(v) => v,
            Err(e) => {
                // The runtime may have created it before the terminal
                // hand-off failed: nothing of it may outlive the error.
                let _ = runtime.delete(&req.id, true);
                if mounted {
                    crate::options::unmount_rootfs(&bundle);
                }
                return Err(e);
            }
        };
        self.inner.reaper.watch(pid);
        init.pid = pid;
        init.io = io;
        *guard = Some(Container {
            id: req.id.clone(),
            bundle,
            runtime,
            init,
            execs: HashMap::new(),
            mounted_rootfs: mounted,
        });
        let event = ev::TaskCreate {
            container_id: req.id.clone(),
            bundle: req.bundle.clone(),
            rootfs: req.rootfs.clone(),
            io: MessageField::some(ev::TaskIO {
                stdin: req.stdin.clone(),
                stdout: req.stdout.clone(),
                stderr: req.stderr.clone(),
                terminal: req.terminal,
                ..Default::default()
            }),
            pid: pid as u32,
            ..Default::default()
        };
        self.inner
            .publish(topics::TASK_CREATE_EVENT_TOPIC, Box::new(event));
        Ok(pid)
    }

    pub(crate) fn start_inner(&self, exec_id: &str) -> Result<i32, Error> {
        let mut guard = self.inner.lock();
        let c = guard
            .as_mut()
            .ok_or_else(|| Error::NotFound("container".into()))?;
        if exec_id.is_empty() {
            if c.init.status != Status::CREATED {
                return Err(Error::Precondition(
                    "the task is not in the created state".into(),
                ));
            }
            let pid = c.init.pid;
            // Watching from before the start: a program can be OOM-killed
            // within milliseconds, before a watch set up afterwards.
            crate::oom::watch(self.inner.clone(), c.id.clone(), pid);
            c.runtime.start(&c.id)?;
            c.init.status = Status::RUNNING;
            let event = ev::TaskStart {
                container_id: c.id.clone(),
                pid: pid as u32,
                ..Default::default()
            };
            self.inner
                .publish(topics::TASK_START_EVENT_TOPIC, Box::new(event));
            return Ok(pid);
        }
        let (id, bundle, runtime) = (c.id.clone(), c.bundle.clone(), c.runtime.clone());
        let p = c.process(exec_id)?;
        if p.status != Status::CREATED {
            return Err(Error::Precondition(format!(
                "exec {exec_id:?} was started already"
            )));
        }
        let spec_file = bundle.join(format!("exec-{exec_id}.json"));
        std::fs::write(&spec_file, &p.spec)
            .map_err(Error::io(format!("writing {}", spec_file.display())))?;
        let pid_file = bundle.join(format!("exec-{exec_id}.pid"));
        let started = start_process(&self.inner.namespace, &id, &p.stdio, |io, console| {
            runtime.exec(&id, &spec_file, &pid_file, console, io)
        });
        let _ = std::fs::remove_file(&spec_file);
        let _ = std::fs::remove_file(&pid_file);
        let (pid, io) = started?;
        self.inner.reaper.watch(pid);
        p.pid = pid;
        p.io = io;
        p.status = Status::RUNNING;
        let event = ev::TaskExecStarted {
            container_id: id,
            exec_id: exec_id.to_string(),
            pid: pid as u32,
            ..Default::default()
        };
        self.inner
            .publish(topics::TASK_EXEC_STARTED_EVENT_TOPIC, Box::new(event));
        Ok(pid)
    }

    pub(crate) fn delete_inner(&self, exec_id: &str) -> Result<api::DeleteResponse, Error> {
        let mut guard = self.inner.lock();
        let c = guard
            .as_mut()
            .ok_or_else(|| Error::NotFound("container".into()))?;
        if !exec_id.is_empty() {
            let p = c.process(exec_id)?;
            if p.status == Status::RUNNING {
                return Err(Error::Precondition(format!(
                    "exec {exec_id:?} is still running"
                )));
            }
            let resp = delete_response(p);
            c.execs.remove(exec_id);
            return Ok(resp);
        }
        if matches!(c.init.status, Status::RUNNING | Status::PAUSED) {
            return Err(Error::Precondition("the task is still running".into()));
        }
        // A created task was never started: the runtime kills its init.
        c.runtime.delete(&c.id, true)?;
        if c.init.exit.is_none() {
            let (g, _) = self
                .inner
                .cv
                .wait_timeout_while(guard, Duration::from_secs(5), |c| {
                    c.as_ref().is_some_and(|c| c.init.exit.is_none())
                })
                .unwrap_or_else(PoisonError::into_inner);
            guard = g;
        }
        let Some(c) = guard.take() else {
            return Err(Error::NotFound("container".into()));
        };
        if c.mounted_rootfs {
            crate::options::unmount_rootfs(&c.bundle);
        }
        let resp = delete_response(&c.init);
        let event = ev::TaskDelete {
            container_id: c.id.clone(),
            pid: resp.pid,
            exit_status: resp.exit_status,
            exited_at: resp.exited_at.clone(),
            id: c.id.clone(),
            ..Default::default()
        };
        self.inner
            .publish(topics::TASK_DELETE_EVENT_TOPIC, Box::new(event));
        Ok(resp)
    }

    pub(crate) fn kill_inner(&self, req: &api::KillRequest) -> Result<(), Error> {
        self.with(|c| {
            if req.exec_id.is_empty() {
                if c.init.exit.is_some() && !req.all {
                    return Err(Error::NotFound("process already finished".into()));
                }
                return c.runtime.kill(&c.id, req.signal, req.all);
            }
            let p = c.process(&req.exec_id)?;
            if p.exit.is_some() || p.pid == 0 {
                return Err(Error::NotFound("process already finished".into()));
            }
            let sig = nix::sys::signal::Signal::try_from(req.signal as i32)
                .map_err(|_| Error::InvalidArgument(format!("signal {}", req.signal)))?;
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.pid), sig)
                .map_err(|e| Error::io("signalling the exec process")(e.into()))
        })
    }

    pub(crate) fn wait_inner(&self, exec_id: &str) -> Result<api::WaitResponse, Error> {
        let mut guard = self.inner.lock();
        loop {
            let c = guard
                .as_mut()
                .ok_or_else(|| Error::NotFound("container".into()))?;
            let p = c.process(exec_id)?;
            if p.exit.is_some() {
                return Ok(api::WaitResponse {
                    exit_status: p.exit_code(),
                    exited_at: p.exited_at(),
                    ..Default::default()
                });
            }
            guard = self
                .inner
                .cv
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    pub(crate) fn pause_resume(&self, pause: bool) -> Result<(), Error> {
        self.with(|c| {
            if pause {
                c.runtime.pause(&c.id)?;
                c.init.status = Status::PAUSED;
            } else {
                c.runtime.resume(&c.id)?;
                c.init.status = Status::RUNNING;
            }
            Ok(c.id.clone())
        })
        .map(|id| {
            if pause {
                let e = ev::TaskPaused {
                    container_id: id,
                    ..Default::default()
                };
                self.inner
                    .publish(topics::TASK_PAUSED_EVENT_TOPIC, Box::new(e));
            } else {
                let e = ev::TaskResumed {
                    container_id: id,
                    ..Default::default()
                };
                self.inner
                    .publish(topics::TASK_RESUMED_EVENT_TOPIC, Box::new(e));
            }
        })
    }
}

/// Sets up a process's IO (a console socket with a terminal), runs the
/// runtime command that creates the process, and finishes the IO.
fn start_process(
    namespace: &str,
    id: &str,
    paths: &StdioPaths,
    run: impl FnOnce(crate::runtime::ProcIo, Option<&Path>) -> Result<i32, Error>,
) -> Result<(i32, stdio::IoState), Error> {
    if paths.terminal {
        let socket = ConsoleSocket::new()?;
        let pid = run(Default::default(), Some(&socket.path))?;
        let io = socket.finish(paths)?;
        return Ok((pid, io));
    }
    let (io, state) = stdio::open(paths, id, namespace)?;
    let pid = run(io, None)?;
    Ok((pid, state))
}

fn delete_response(p: &Process) -> api::DeleteResponse {
    api::DeleteResponse {
        pid: p.pid as u32,
        exit_status: p.exit_code(),
        exited_at: p.exited_at(),
        ..Default::default()
    }
}

mod rpc;
