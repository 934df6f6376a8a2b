//! The Berth runtime library: OCI bundles in, containers out.
//!
//! One public function per runtime operation lives in [`lifecycle`]; the
//! spawn path (the part that clones and sets up the container) is in
//! [`spawn`], whose module documentation lists the steps in run order.
//! Plans are built as plain data in [`plan`] before any process is
//! created, so the code that runs between fork and exec only applies them.

mod channel;
pub mod config;
mod error;
mod exec_stub;
pub mod features;
#[cfg(test)]
mod fuzz;
mod hooks;
pub mod id;
pub mod lifecycle;
mod plan;
mod resources;
mod rootfs;
mod spawn;
pub mod spec_default;
pub mod state;
mod sys;

pub use berth_cgroups::Resources;
pub use error::Error;
pub use lifecycle::{
    create::create, create::CreateOptions, delete::delete, events::events, exec::exec,
    exec::ExecArgs, exec::ExecOptions, exec::ExecProcess, kill::kill, kill::parse_signal,
    pause::pause, pause::resume, query::list, query::pids, query::state, run::run, run::RunOptions,
    start::start, update::update, update::UpdateOptions,
};
pub use state::{ContainerState, Status};

/// The runtime-spec version this runtime implements and writes into state.
pub const OCI_VERSION: &str = "1.2.0";
