//! The Task service's ttrpc methods: decoding requests, calling the
//! operations of `mod.rs`, encoding responses.

use containerd_shim::protos::events::task as ev;
use containerd_shim::protos::protobuf::MessageField;
use containerd_shim::protos::shim::shim as api;
use containerd_shim::protos::topics;
use containerd_shim::protos::types::empty::Empty;
use containerd_shim::{Task, TtrpcContext, TtrpcResult};

use super::Service;
use crate::error::Error;
use crate::process::Process;
use crate::stdio::{self, StdioPaths};

impl Task for Service {
    fn state(&self, _: &TtrpcContext, req: api::StateRequest) -> TtrpcResult<api::StateResponse> {
        Ok(self.with(|c| {
            let (id, bundle) = (c.id.clone(), c.bundle.to_string_lossy().into_owned());
            let p = c.process(&req.exec_id)?;
            Ok(api::StateResponse {
                id,
                bundle,
                pid: p.pid as u32,
                status: p.status.into(),
                stdin: p.stdio.stdin.clone(),
                stdout: p.stdio.stdout.clone(),
                stderr: p.stdio.stderr.clone(),
                terminal: p.stdio.terminal,
                exit_status: p.exit_code(),
                exited_at: p.exited_at(),
                exec_id: req.exec_id.clone(),
                ..Default::default()
            })
        })?)
    }

    fn create(
        &self,
        _: &TtrpcContext,
        req: api::CreateTaskRequest,
    ) -> TtrpcResult<api::CreateTaskResponse> {
        let pid = self.create_inner(&req)?;
        Ok(api::CreateTaskResponse {
            pid: pid as u32,
            ..Default::default()
        })
    }

    fn start(&self, _: &TtrpcContext, req: api::StartRequest) -> TtrpcResult<api::StartResponse> {
        let pid = self.start_inner(&req.exec_id)?;
        Ok(api::StartResponse {
            pid: pid as u32,
            ..Default::default()
        })
    }

    fn delete(
        &self,
        _: &TtrpcContext,
        req: api::DeleteRequest,
    ) -> TtrpcResult<api::DeleteResponse> {
        Ok(self.delete_inner(&req.exec_id)?)
    }

    fn pids(&self, _: &TtrpcContext, _: api::PidsRequest) -> TtrpcResult<api::PidsResponse> {
        let pid = self.with(|c| Ok(c.init.pid))?;
        let cg = berth_cgroups::Cgroup::of_process(pid)
            .map_err(|e| Error::Runtime(format!("finding the container's cgroups: {e}")))?;
        let processes = cg
            .procs()
            .into_iter()
            .map(|pid| containerd_shim::protos::types::task::ProcessInfo {
                pid: pid as u32,
                ..Default::default()
            })
            .collect();
        Ok(api::PidsResponse {
            processes,
            ..Default::default()
        })
    }

    fn pause(&self, _: &TtrpcContext, _: api::PauseRequest) -> TtrpcResult<Empty> {
        self.pause_resume(true)?;
        Ok(Empty::new())
    }

    fn resume(&self, _: &TtrpcContext, _: api::ResumeRequest) -> TtrpcResult<Empty> {
        self.pause_resume(false)?;
        Ok(Empty::new())
    }

    fn checkpoint(&self, _: &TtrpcContext, _: api::CheckpointTaskRequest) -> TtrpcResult<Empty> {
        Err(Error::Unsupported("checkpoint").into())
    }

    fn kill(&self, _: &TtrpcContext, req: api::KillRequest) -> TtrpcResult<Empty> {
        self.kill_inner(&req)?;
        Ok(Empty::new())
    }

    fn exec(&self, _: &TtrpcContext, req: api::ExecProcessRequest) -> TtrpcResult<Empty> {
        let id = self.with(|c| {
            if c.execs.contains_key(&req.exec_id) {
                return Err(Error::Precondition(format!(
                    "exec {:?} already exists",
                    req.exec_id
                )));
            }
            if c.init.exit.is_some() {
                return Err(Error::Precondition("the task has exited".into()));
            }
            let mut p = Process::new(StdioPaths {
                stdin: req.stdin.clone(),
                stdout: req.stdout.clone(),
                stderr: req.stderr.clone(),
                terminal: req.terminal,
            });
            p.spec = req
                .spec
                .as_ref()
                .map(|a| a.value.clone())
                .unwrap_or_default();
            c.execs.insert(req.exec_id.clone(), p);
            Ok(c.id.clone())
        })?;
        let e = ev::TaskExecAdded {
            container_id: id,
            exec_id: req.exec_id,
            ..Default::default()
        };
        self.inner
            .publish(topics::TASK_EXEC_ADDED_EVENT_TOPIC, Box::new(e));
        Ok(Empty::new())
    }

    fn resize_pty(&self, _: &TtrpcContext, req: api::ResizePtyRequest) -> TtrpcResult<Empty> {
        self.with(|c| {
            let p = c.process(&req.exec_id)?;
            match &p.io.console {
                Some(m) => stdio::resize(m, req.width, req.height),
                None => Err(Error::Precondition("the process has no terminal".into())),
            }
        })?;
        Ok(Empty::new())
    }

    fn close_io(&self, _: &TtrpcContext, req: api::CloseIORequest) -> TtrpcResult<Empty> {
        self.with(|c| {
            c.process(&req.exec_id)?.io.close_stdin();
            Ok(())
        })?;
        Ok(Empty::new())
    }

    fn update(&self, _: &TtrpcContext, req: api::UpdateTaskRequest) -> TtrpcResult<Empty> {
        self.with(|c| {
            let file = c.bundle.join("update-resources.json");
            let json = req
                .resources
                .as_ref()
                .map(|a| a.value.clone())
                .unwrap_or_default();
            std::fs::write(&file, json)
                .map_err(Error::io(format!("writing {}", file.display())))?;
            let r = c.runtime.update(&c.id, &file);
            let _ = std::fs::remove_file(&file);
            r
        })?;
        Ok(Empty::new())
    }

    fn wait(&self, _: &TtrpcContext, req: api::WaitRequest) -> TtrpcResult<api::WaitResponse> {
        Ok(self.wait_inner(&req.exec_id)?)
    }

    fn stats(&self, _: &TtrpcContext, _: api::StatsRequest) -> TtrpcResult<api::StatsResponse> {
        let pid = self.with(|c| Ok(c.init.pid))?;
        Ok(api::StatsResponse {
            stats: MessageField::some(crate::metrics::collect(pid)?),
            ..Default::default()
        })
    }

    fn connect(
        &self,
        _: &TtrpcContext,
        _: api::ConnectRequest,
    ) -> TtrpcResult<api::ConnectResponse> {
        let task_pid = self.with(|c| Ok(c.init.pid)).unwrap_or(0);
        Ok(api::ConnectResponse {
            shim_pid: std::process::id(),
            task_pid: task_pid as u32,
            ..Default::default()
        })
    }

    fn shutdown(&self, _: &TtrpcContext, _: api::ShutdownRequest) -> TtrpcResult<Empty> {
        // Only once the container has been deleted, as runc's shim.
        if self.inner.lock().is_none() {
            self.inner.exit.signal();
        }
        Ok(Empty::new())
    }
}
