//! The shim binary's three roles (containerd's runtime v2 protocol):
//! `start` (spawn the long-lived shim, print its socket address),
//! `delete` (clean up after a shim that died), and serving the Task API.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex, PoisonError};

use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{
    api, util::write_address, Config, DeleteResponse, ExitSignal, Flags, Shim, StartOpts,
};

use crate::process::timestamp;
use crate::reaper::Reaper;
use crate::task::Service;

pub struct BerthShim {
    namespace: String,
    id: String,
    /// containerd's socket, from which the shim's own socket is derived.
    address: String,
    bundle: PathBuf,
    exit: Arc<ExitSignal>,
    reaper: Arc<Reaper>,
    exits: Mutex<Option<Receiver<(i32, i32)>>>,
}

impl Shim for BerthShim {
    type T = Service;

    fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        let (tx, rx) = channel();
        // Without a reaper the shim cannot tell exits apart: fatal.
        let reaper = match Reaper::start(tx) {
            Ok(r) => r,
            Err(e) => {
                log::error!("starting the reaper: {e}");
                std::process::abort();
            }
        };
        let bundle = if args.bundle.is_empty() {
            std::env::current_dir().unwrap_or_default()
        } else {
            PathBuf::from(&args.bundle)
        };
        BerthShim {
            namespace: args.namespace.clone(),
            id: args.id.clone(),
            address: args.address.clone(),
            bundle,
            exit: Arc::new(ExitSignal::default()),
            reaper,
            exits: Mutex::new(Some(rx)),
        }
    }

    fn start_shim(&mut self, opts: StartOpts) -> containerd_shim::Result<String> {
        // One shim per container: grouping by the container's own id.
        let grouping = opts.id.clone();
        let (_pid, address) = containerd_shim::spawn(opts, &grouping, Vec::new())?;
        write_address(&address)?;
        Ok(address)
    }

    fn delete_shim(&mut self) -> containerd_shim::Result<DeleteResponse> {
        let runtime =
            crate::options::saved_runtime(&self.bundle, &self.namespace, self.reaper.clone());
        if let Err(e) = runtime.delete(&self.id, true) {
            // Already gone is the usual case after a clean shutdown.
            log::warn!("deleting {} after the shim exited: {e}", self.id);
        }
        crate::options::unmount_rootfs(&self.bundle);
        // A shim that was killed left its socket behind.
        let socket = containerd_shim::socket_address(&self.address, &self.namespace, &self.id);
        let _ = std::fs::remove_file(socket.trim_start_matches("unix://"));
        Ok(api::DeleteResponse {
            pid: 0,
            exit_status: 128 + libc::SIGKILL as u32,
            exited_at: containerd_shim::protos::protobuf::MessageField::some(timestamp(
                std::time::SystemTime::now(),
            )),
            ..Default::default()
        })
    }

    fn wait(&mut self) {
        self.exit.wait();
    }

    fn create_task_service(&self, publisher: RemotePublisher) -> Service {
        let rx = self
            .exits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let (_, empty) = channel();
        Service::new(
            self.namespace.clone(),
            self.exit.clone(),
            publisher,
            self.reaper.clone(),
            rx.unwrap_or(empty),
        )
    }
}
