//! `containerd-shim-berth-v2`: containerd's runtime v2 shim for berth
//! (runtime type `io.containerd.berth.v2`, task API v2). One shim per
//! container; synchronous code and threads, no async runtime. See
//! docs/containerd.md.

mod error;
mod metrics;
mod oom;
mod options;
mod process;
mod reaper;
mod runtime;
mod shim;
mod stdio;
mod task;

fn main() {
    // The crate reaps the children and reports exits on its monitor
    // (reaper.rs files them).
    containerd_shim::run::<shim::BerthShim>("io.containerd.berth.v2", None);
}
